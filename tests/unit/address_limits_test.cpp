// Per-address admission (conn/address_limits.hpp) and the gate that applies it: counts, the
// connect rate, loopback exempt by default only, IPv6 by /64, and the place given back once.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <chrono>

#include "conn/accept_gate.hpp"
#include "conn/address_limits.hpp"
#include "conn/server_config.hpp"

namespace concur {
namespace {

using namespace std::chrono_literals;

Endpoint at(const char* ip, uint16_t port = 4000) { return Endpoint::parse(ip, port); }

TEST(AddressLimits, CountsConnectionsPerAddressAndGivesThemBack) {
  AddressLimitSettings s;
  s.max_per_ip = 2;
  AddressLimits l(s);
  uint32_t a, b, c, other;
  EXPECT_EQ(l.enter(at("203.0.113.7"), a), AddressLimits::Verdict::admitted);
  EXPECT_EQ(l.enter(at("203.0.113.7", 4001), b), AddressLimits::Verdict::admitted);
  EXPECT_EQ(l.enter(at("203.0.113.7", 4002), c), AddressLimits::Verdict::too_many);
  EXPECT_EQ(c, AddressLimits::kNoSlot);
  EXPECT_EQ(l.enter(at("203.0.113.8"), other), AddressLimits::Verdict::admitted);
  l.leave(a);
  EXPECT_EQ(l.enter(at("203.0.113.7", 4003), c), AddressLimits::Verdict::admitted);
  EXPECT_EQ(l.live(), 3u);
}

TEST(AddressLimits, IPv6CountsByItsSlash64AndMappedIPv4AsIPv4) {
  AddressLimitSettings s;
  s.max_per_ip = 1;
  AddressLimits l(s);
  uint32_t x;
  EXPECT_EQ(l.enter(at("2001:db8:1:2::1"), x), AddressLimits::Verdict::admitted);
  EXPECT_EQ(l.enter(at("2001:db8:1:2:ffff::9"), x), AddressLimits::Verdict::too_many);  // same /64
  EXPECT_EQ(l.enter(at("2001:db8:1:3::1"), x), AddressLimits::Verdict::admitted);        // next /64
  EXPECT_EQ(l.enter(at("198.51.100.1"), x), AddressLimits::Verdict::admitted);
  EXPECT_EQ(l.enter(at("::ffff:198.51.100.1"), x), AddressLimits::Verdict::too_many);
}

TEST(AddressLimits, ConnectRateAllowsABurstThenRefillsAtTheRate) {
  AddressLimitSettings s;
  s.rate = 2;
  s.burst = 5;
  AddressLimits l(s);
  auto t = AddressLimits::Clock::now();
  uint32_t x;
  for (int i = 0; i < 5; ++i) EXPECT_EQ(l.enter(at("203.0.113.7"), x, t), AddressLimits::Verdict::admitted) << i;
  EXPECT_EQ(l.enter(at("203.0.113.7"), x, t), AddressLimits::Verdict::too_fast);
  EXPECT_EQ(l.enter(at("203.0.113.9"), x, t), AddressLimits::Verdict::admitted);  // another address
  EXPECT_EQ(l.enter(at("203.0.113.7"), x, t + 400ms), AddressLimits::Verdict::too_fast);  // 0.8 of a token
  EXPECT_EQ(l.enter(at("203.0.113.7"), x, t + 500ms), AddressLimits::Verdict::admitted);
  EXPECT_EQ(l.enter(at("203.0.113.7"), x, t + 500ms), AddressLimits::Verdict::too_fast);
}

TEST(AddressLimits, DefaultsSpareLoopbackAnExplicitValueDoesNot) {
  ServerConfig defaults;
  AddressLimits d(address_limits_of(defaults));
  uint32_t x;
  for (int i = 0; i < 40; ++i) EXPECT_EQ(d.enter(at("127.0.0.1"), x), AddressLimits::Verdict::admitted);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(d.enter(at("203.0.113.7"), x), AddressLimits::Verdict::admitted);
  EXPECT_EQ(d.enter(at("203.0.113.7"), x), AddressLimits::Verdict::too_fast);  // 2/s after a burst of 5

  ServerConfig explicit_limit;
  explicit_limit.max_per_ip = 3;
  AddressLimits e(address_limits_of(explicit_limit));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(e.enter(at("127.0.0.1"), x), AddressLimits::Verdict::admitted);
  EXPECT_EQ(e.enter(at("127.0.0.1"), x), AddressLimits::Verdict::too_many);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(e.enter(at("::1"), x, {}), i < 3 ? AddressLimits::Verdict::admitted
                                                                        : AddressLimits::Verdict::too_many);

  ServerConfig scrapes;  // the --metrics port: none
  scrapes.counted = false;
  EXPECT_FALSE(address_limits_of(scrapes).any());
}

TEST(AcceptGate, APlaceRefusedForItsAddressTakesNoPlaceAndALeavingOneFreesBoth) {
  ServerConfig cfg;
  cfg.max_per_ip = 1;
  cfg.max_clients = 10;
  AcceptGate gate(cfg);
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  FileDesc first(sv[0]), keep(sv[1]);
  Admission p = gate.admit(first, at("127.0.0.1"));
  EXPECT_TRUE(p);
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  FileDesc second(sv[0]), peer(sv[1]);
  Admission q = gate.admit(second, at("127.0.0.1", 4001));
  EXPECT_FALSE(q);
  EXPECT_FALSE(second);  // told and closed
  char buf[128] = {};
  ssize_t n = ::recv(peer.get(), buf, sizeof buf - 1, 0);
  EXPECT_EQ(std::string(buf, n > 0 ? static_cast<size_t>(n) : 0), "error: too many connections from your address\n");
  EXPECT_EQ(gate.live(), 1u);
  p.release();
  EXPECT_EQ(gate.live(), 0u);
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  FileDesc third(sv[0]), peer3(sv[1]);
  EXPECT_TRUE(gate.admit(third, at("127.0.0.1", 4002)));
}

}  // namespace
}  // namespace concur
