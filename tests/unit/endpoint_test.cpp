// Endpoint: numeric IPv4/IPv6 parsing for --bind/--host, HOST:PORT for --device, and the formats
// the logs use ("127.0.0.1:2500", "[::1]:2500", and the seed's "('127.0.0.1', 2500)").
#include "core/endpoint.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include "core/error.hpp"

namespace concur {
namespace {

TEST(Endpoint, ParsesIpv4) {
  Endpoint e = Endpoint::parse("127.0.0.1", 2500);
  EXPECT_EQ(e.family(), AF_INET);
  EXPECT_EQ(e.ip(), "127.0.0.1");
  EXPECT_EQ(e.port(), 2500);
  EXPECT_EQ(e.len(), sizeof(sockaddr_in));
  EXPECT_EQ(e.to_string(), "127.0.0.1:2500");
}

TEST(Endpoint, ParsesIpv6WithAndWithoutBrackets) {
  Endpoint a = Endpoint::parse("::1", 80);
  Endpoint b = Endpoint::parse("[::1]", 80);
  EXPECT_EQ(a.family(), AF_INET6);
  EXPECT_EQ(a.ip(), "::1");
  EXPECT_EQ(a.to_string(), "[::1]:80");
  EXPECT_TRUE(a == b);
}

TEST(Endpoint, LocalhostMeansIpv4Loopback) {
  EXPECT_EQ(Endpoint::parse("localhost", 1).ip(), "127.0.0.1");
}

TEST(Endpoint, EmptyHostMeansAnyAddressAsTheSeedsEmptyString) {
  Endpoint e = Endpoint::parse("", 9000);
  EXPECT_EQ(e.ip(), "0.0.0.0");
  EXPECT_EQ(e.port(), 9000);
}

TEST(Endpoint, RejectsNonNumericHostNamingIt) {
  for (const char* bad : {"1.2.3", "example.com", "256.0.0.1", "::g", "[::1", "127.0.0.1 "}) {
    try {
      Endpoint::parse(bad, 1);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
    }
  }
}

TEST(Endpoint, SeedFormatIsPythonTuple) {
  EXPECT_EQ(Endpoint::parse("127.0.0.1", 61163).seed_format(), "('127.0.0.1', 61163)");
  EXPECT_EQ(Endpoint::parse("::1", 5).seed_format(), "('::1', 5)");
}

TEST(Endpoint, HostPortParsesV4V6AndLocalhost) {
  auto a = Endpoint::parse_host_port("127.0.0.1:7001");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->to_string(), "127.0.0.1:7001");
  auto b = Endpoint::parse_host_port("[::1]:7002");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->to_string(), "[::1]:7002");
  auto c = Endpoint::parse_host_port("localhost:65535");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->to_string(), "127.0.0.1:65535");
}

TEST(Endpoint, HostPortRejectsMalformed) {
  for (const char* bad : {"127.0.0.1", ":80", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:+1",
                          "127.0.0.1:80x", "127.0.0.1:123456", "::1:80", "[::1]80", "[::1]:", "[::1", "host.example:80",
                          "", ":", "1.2.3:80"}) {
    EXPECT_FALSE(Endpoint::parse_host_port(bad).has_value()) << "accepted '" << bad << "'";
  }
}

TEST(Endpoint, FromSockaddrRoundTrips) {
  Endpoint e = Endpoint::parse("10.1.2.3", 4242);
  Endpoint f = Endpoint::from_sockaddr(e.sa(), e.len());
  EXPECT_TRUE(e == f);
  EXPECT_EQ(f.to_string(), "10.1.2.3:4242");
  Endpoint g = Endpoint::parse("fe80::1", 1);
  EXPECT_TRUE(Endpoint::from_sockaddr(g.sa(), g.len()) == g);
}

TEST(Endpoint, EqualityAndHashFollowAddressAndPort) {
  EndpointHash h;
  Endpoint a = Endpoint::parse("127.0.0.1", 1000);
  Endpoint b = Endpoint::parse("127.0.0.1", 1000);
  Endpoint c = Endpoint::parse("127.0.0.1", 1001);
  Endpoint d = Endpoint::parse("127.0.0.2", 1000);
  EXPECT_TRUE(a == b);
  EXPECT_EQ(h(a), h(b));
  EXPECT_FALSE(a == c);
  EXPECT_FALSE(a == d);
  EXPECT_FALSE(a == Endpoint::parse("::ffff:127.0.0.1", 1000));
}

TEST(Endpoint, SetPortChangesOnlyThePort) {
  Endpoint e = Endpoint::parse("::1", 1);
  e.set_port(65535);
  EXPECT_EQ(e.to_string(), "[::1]:65535");
  Endpoint v4 = Endpoint::parse("1.2.3.4", 1);
  v4.set_port(0);
  EXPECT_EQ(v4.to_string(), "1.2.3.4:0");
}

TEST(Endpoint, DefaultIsEmptyAndPrintsSafely) {
  Endpoint e;
  EXPECT_EQ(e.len(), 0u);
  EXPECT_EQ(e.port(), 0);
  EXPECT_EQ(e.ip(), "?");
}

}  // namespace
}  // namespace concur
