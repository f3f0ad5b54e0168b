// chat-server --redis-tls: one room over a TLS redis-server (Debian's is built with TLS), started
// by the test with a throw-away certificate; a CA that does not sign it fails with a clear line.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/installed.hpp"
#include "support/net.hpp"
#include "support/ports.hpp"
#include "support/process.hpp"
#include "support/redis_sentinel.hpp"
#include "support/redis_server.hpp"
#include "support/temp_dir.hpp"
#include "support/tls_peer.hpp"
#include "support/usage_error.hpp"

namespace concur::test {
namespace {

struct TlsRedis {
  TlsRedis()
      : cert(make_test_cert(dir, "redis")),
        tls_port(free_port()),
        redis({"--tls-port", std::to_string(tls_port), "--tls-cert-file", cert.cert, "--tls-key-file", cert.key,
               "--tls-ca-cert-file", cert.cert, "--tls-auth-clients", "no"}) {}
  std::string address() const { return "127.0.0.1:" + std::to_string(tls_port); }
  TempDir dir;
  TestCert cert;
  int tls_port;
  RedisServer redis;
};

std::vector<std::string> instance(const TlsRedis& r, std::vector<std::string> tls) {
  std::vector<std::string> a = {"chat-server", "--port", "0", "--bind", "127.0.0.1", "--redis", r.address(),
                                "--redis-tls"};
  a.insert(a.end(), tls.begin(), tls.end());
  return a;
}

TEST(ChatRedisTls, TwoInstancesShareARoomOverTls) {
  ASSERT_TRUE(have_redis_server()) << not_installed("redis-server");
  TlsRedis r;
  Server a(instance(r, {"--redis-tls-ca", r.cert.cert}));
  Server b(instance(r, {"--redis-tls-ca", r.cert.cert, "--model", "epoll"}));
  ASSERT_TRUE(a.proc.wait_for_line("redis: connected to " + r.address(), Ms(5000)));
  ASSERT_TRUE(b.proc.wait_for_line("redis: connected to " + r.address(), Ms(5000)));
  TestClient alice(a.port), bob(b.port);
  alice.send_all("[alice]\n");
  ASSERT_TRUE(a.proc.wait_for_line("):[alice]"));
  bob.send_all("[bob]\n");
  ASSERT_TRUE(b.proc.wait_for_line("):[bob]"));
  EXPECT_EQ(alice.recv_line(), "[bob]");
  alice.send_all("over tls\n");
  std::optional<std::string> got;
  while ((got = bob.recv_line()) && *got == "[alice]") {
  }
  EXPECT_EQ(got, "[alice]over tls");
  bob.send_all("[bob]back\n");
  EXPECT_EQ(alice.recv_line(), "[bob]back");
  // The room's log went through the same link.
  EXPECT_EQ(r.redis.command({"XLEN", "concur:lobby:log"}).value_or("0"), "4");
}

TEST(ChatRedisTls, ACaThatDoesNotSignRedisIsAClearErrorAndRetried) {
  ASSERT_TRUE(have_redis_server()) << not_installed("redis-server");
  TlsRedis r;
  TempDir other;
  TestCert stranger = make_test_cert(other, "stranger");
  Server a(instance(r, {"--redis-tls-ca", stranger.cert}));
  EXPECT_TRUE(a.proc.wait_for_line("redis: cannot reach " + r.address() + " (cannot connect to " + r.address() +
                                       ": tls: certificate verify failed",
                                   Ms(5000)));
  // Local chat goes on without Redis. Carol comes once alice has joined (else alice, joining
  // after her, would not be told of her: each connection has its own thread).
  TestClient alice(a.port);
  alice.send_all("[alice]\n");
  ASSERT_TRUE(a.proc.wait_for_line("):[alice]"));
  TestClient carol(a.port);
  carol.send_all("[carol]\n");
  EXPECT_EQ(alice.recv_line(), "[carol]");
}

// Sentinel over TLS (sentinels, master and replica all TLS, replicating over it): the sentinels
// are asked over TLS, the master they name is reached over TLS, and after the master is killed
// the room follows the failover to the replica's TLS port.
TEST(ChatRedisTls, SentinelsAndTheMasterTheyNameOverTlsFollowAFailover) {
  ASSERT_TRUE(have_redis_server()) << not_installed("redis-server");
  TempDir dir;
  TestCert cert = make_test_cert(dir, "redis");
  SentinelGroup g("mymaster", SentinelTls{cert.cert, cert.key});
  ASSERT_TRUE(g.ready()) << "the sentinels never knew each other";
  auto old_master = g.master_port();
  ASSERT_TRUE(old_master);
  std::vector<std::string> args = {"chat-server", "--port", "0", "--bind", "127.0.0.1", "--redis-sentinel",
                                   g.tls_sentinels(), "--redis-master", "mymaster", "--redis-tls", "--redis-tls-ca", cert.cert};
  Server a(args), b(args);
  const std::string at = "master mymaster (sentinels) at 127.0.0.1:";
  ASSERT_TRUE(a.proc.wait_for_line("redis: connected to " + at + std::to_string(*old_master), Ms(8000)));
  ASSERT_TRUE(b.proc.wait_for_line("redis: connected to " + at + std::to_string(*old_master), Ms(8000)));
  TestClient alice(a.port), bob(b.port);
  alice.send_all("[alice]\n");
  ASSERT_TRUE(a.proc.wait_for_line("):[alice]"));
  bob.send_all("[bob]\n");
  ASSERT_TRUE(b.proc.wait_for_line("):[bob]"));
  EXPECT_EQ(alice.recv_line(), "[bob]");

  g.master().kill();
  ASSERT_TRUE(wait_until([&] { auto p = g.master_port(); return p && *p != *old_master; }, Ms(30000)))
      << "no failover within 30 s";
  EXPECT_EQ(g.master_port(), g.replica_tls_port());
  ASSERT_TRUE(a.proc.wait_for_line("redis: reconnected to " + at + std::to_string(g.replica_tls_port()), Ms(15000)));
  ASSERT_TRUE(b.proc.wait_for_line("redis: reconnected to " + at + std::to_string(g.replica_tls_port()), Ms(15000)));
  alice.send_all("after the failover\n");
  std::optional<std::string> got;
  while ((got = bob.recv_line(Ms(5000))) && got->rfind("[alice]after", 0) != 0) {
  }
  EXPECT_EQ(got, "[alice]after the failover");
}

TEST(ChatRedisTls, OptionsThatNeedEachOtherAreUsageErrors) {
  for (std::vector<std::string> bad : {std::vector<std::string>{"--redis", "127.0.0.1:1", "--redis-tls-ca", "x.pem"},
                                       {"--redis", "127.0.0.1:1", "--redis-tls", "--redis-tls-key", "k.pem"}}) {
    std::vector<std::string> argv = {concur_binary(), "chat-server", "--port", "0"};
    argv.insert(argv.end(), bad.begin(), bad.end());
    Process p(argv);
    EXPECT_TRUE(is_usage_error(p, "--redis-tls")) << bad.back();
  }
}

}  // namespace
}  // namespace concur::test
