// Rooms that lose nothing (issue 20): the room's log in Redis, recovery after a cut-off, the gap
// told when history is gone, and --replay. Every test starts its own redis-server, its own
// instances and, where one instance is cut off, a TCP relay it owns between that instance and Redis.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "support/installed.hpp"
#include "support/net.hpp"
#include "support/process.hpp"
#include "support/redis_sentinel.hpp"
#include "support/redis_server.hpp"
#include "support/tcp_relay.hpp"
#include "support/usage_error.hpp"

namespace concur::test {
namespace {

using Clock = std::chrono::steady_clock;

// One chat-server of the room, reaching Redis at `redis` (directly or through a relay).
// `link`: how it finds Redis ({"--redis", ADDRESS} or the sentinel options).
std::unique_ptr<Server> room_server_via(std::vector<std::string> link, std::vector<std::string> extra = {}) {
  std::vector<std::string> a = {"chat-server", "--port", "0", "--bind", "127.0.0.1", "--rate", "0", "--quiet"};
  a.insert(a.end(), link.begin(), link.end());
  a.insert(a.end(), extra.begin(), extra.end());
  auto s = std::make_unique<Server>(a);
  EXPECT_TRUE(s->proc.wait_for_line("redis: connected", Ms(5000))) << "no link to Redis";
  return s;
}

std::unique_ptr<Server> room_server(const std::string& redis, std::vector<std::string> extra = {}) {
  return room_server_via({"--redis", redis}, std::move(extra));
}

std::string via(const TcpRelay& relay) { return "127.0.0.1:" + std::to_string(relay.port()); }

// A member whose join its server has confirmed (it answers a message of another member).
std::unique_ptr<TestClient> join(const Server& s, const std::string& id) {
  auto c = std::make_unique<TestClient>(s.port);
  c->send_all("[" + id + "]\n");
  return c;
}

// The next line that is not a join announcement.
std::optional<std::string> next_message(TestClient& c, Ms timeout = Ms(5000)) {
  while (auto line = c.recv_line(timeout))
    if (!(line->front() == '[' && line->back() == ']')) return line;
  return std::nullopt;
}

uint64_t room_offset(RedisServer& redis) {
  auto v = redis.command({"HGET", "concur:lobby:meta", "offset"});
  return v ? std::stoull(*v) : 0;
}

// alice on a, bob on b, and one message across: both links carry the room.
struct TwoMembers {
  std::unique_ptr<TestClient> alice, bob;
};
TwoMembers connected_pair(Server& a, Server& b) {
  TwoMembers m;
  m.alice = join(a, "alice");
  m.bob = join(b, "bob");
  // Retried until the room is whole: a join takes a round trip to Redis.
  bool across = false;
  for (int i = 0; i < 50 && !across; ++i) {
    m.alice->send_all("ping " + std::to_string(i) + "\n");
    auto got = next_message(*m.bob, Ms(200));
    across = got && got->starts_with("[alice]ping");
  }
  EXPECT_TRUE(across) << "alice and bob never heard each other";
  while (next_message(*m.bob, Ms(200))) {
  }
  return m;
}

std::string numbered(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "m%03d", i);
  return buf;
}

#define REQUIRE_REDIS() ASSERT_TRUE(have_redis_server()) << not_installed("redis-server")

TEST(ChatRedisHistory, CutOffInstanceGetsEveryMessageOnceInOrderAfterTheHeal) {
  REQUIRE_REDIS();
  RedisServer redis;
  TcpRelay relay(redis.port());
  auto a = room_server(redis.address());
  auto b = room_server(via(relay));
  auto m = connected_pair(*a, *b);

  relay.cut();
  ASSERT_TRUE(b->proc.wait_for_line("redis: lost", Ms(3000)));
  uint64_t base = room_offset(redis);
  std::string burst;
  for (int i = 1; i <= 500; ++i) burst += numbered(i) + "\n";
  m.alice->send_all(burst);
  ASSERT_TRUE(wait_until([&] { return room_offset(redis) >= base + 500; }, Ms(5000))) << room_offset(redis);
  ASSERT_TRUE(m.bob->silent_for(Ms(200))) << "b heard the room while cut off";

  relay.heal();
  ASSERT_TRUE(b->proc.wait_for_line("redis: reconnected", Ms(8000)));
  auto deadline = Clock::now() + Ms(2000);
  for (int i = 1; i <= 500; ++i) {
    auto left = std::chrono::duration_cast<Ms>(deadline - Clock::now());
    auto line = m.bob->recv_line(std::max(left, Ms(1)));
    ASSERT_EQ(line, "[alice]" + numbered(i)) << "message " << i << " within 2 s of the reconnect";
  }
  // Nothing twice, and live chat goes on after the recovered part.
  m.alice->send_all("end\n");
  EXPECT_EQ(m.bob->recv_line(), "[alice]end");
  EXPECT_TRUE(b->proc.wait_for_line("redis: caught up 500 messages", Ms(2000)));
  EXPECT_TRUE(m.bob->silent_for(Ms(300)));
}

TEST(ChatRedisHistory, CutLongerThanTheHistoryTellsTheGapThenChatGoesOn) {
  REQUIRE_REDIS();
  RedisServer redis;
  TcpRelay relay(redis.port());
  auto a = room_server(redis.address(), {"--history", "50"});
  auto b = room_server(via(relay), {"--history", "50"});
  auto m = connected_pair(*a, *b);

  relay.cut();
  ASSERT_TRUE(b->proc.wait_for_line("redis: lost", Ms(3000)));
  uint64_t base = room_offset(redis);
  std::string burst;
  for (int i = 1; i <= 500; ++i) burst += numbered(i) + "\n";
  m.alice->send_all(burst);
  ASSERT_TRUE(wait_until([&] { return room_offset(redis) >= base + 500; }, Ms(5000)));
  // Trimmed to about 50 (MAXLEN ~): the log keeps the newest `kept`, the rest is gone for b.
  uint64_t kept = std::stoull(redis.command({"XLEN", "concur:lobby:log"}).value_or("0"));
  ASSERT_GE(kept, 50u);
  ASSERT_LT(kept, 500u);
  uint64_t lost = 500 - kept;

  relay.heal();
  ASSERT_TRUE(b->proc.wait_for_line("redis: reconnected", Ms(8000)));
  EXPECT_EQ(m.bob->recv_line(Ms(3000)), "error: history gap: " + std::to_string(lost) + " messages lost");
  for (uint64_t i = lost + 1; i <= 500; ++i)
    ASSERT_EQ(m.bob->recv_line(Ms(3000)), "[alice]" + numbered(static_cast<int>(i)));
  m.alice->send_all("still here\n");
  EXPECT_EQ(m.bob->recv_line(), "[alice]still here");
  EXPECT_TRUE(b->proc.wait_for_line("messages were no longer in Redis (--history 50)", Ms(2000)));
}

TEST(ChatRedisHistory, RedisRestartedWithoutPersistenceIsToldToMembers) {
  REQUIRE_REDIS();
  RedisServer redis;
  auto a = room_server(redis.address());
  auto b = room_server(redis.address());
  auto m = connected_pair(*a, *b);
  std::string epoch = redis.command({"HGET", "concur:lobby:meta", "epoch"}).value_or("");
  ASSERT_EQ(epoch.size(), 16u);

  redis.kill();
  ASSERT_TRUE(a->proc.wait_for_line("redis: lost", Ms(3000)));
  redis.restart();
  ASSERT_TRUE(a->proc.wait_for_line("redis: reconnected", Ms(8000)));
  // The position read before subscribing again tells it, just before the link counts as up.
  ASSERT_TRUE(b->proc.wait_for_line("redis: Redis lost room lobby's history", Ms(8000)));
  ASSERT_TRUE(b->proc.wait_for_line("redis: reconnected", Ms(2000)));
  EXPECT_EQ(next_message(*m.bob, Ms(3000)), "error: history gap: Redis lost the room's history");
  EXPECT_EQ(next_message(*m.alice, Ms(3000)), "error: history gap: Redis lost the room's history");
  // A new epoch, and chat across goes on in it.
  bool across = false;
  for (int i = 0; i < 30 && !across; ++i) {
    m.alice->send_all("again " + std::to_string(i) + "\n");
    auto got = next_message(*m.bob, Ms(300));
    across = got && got->starts_with("[alice]again");
  }
  EXPECT_TRUE(across);
  std::string fresh = redis.command({"HGET", "concur:lobby:meta", "epoch"}).value_or("");
  EXPECT_EQ(fresh.size(), 16u);
  EXPECT_NE(fresh, epoch);
  EXPECT_TRUE(m.bob->silent_for(Ms(300))) << "told more than once";
}

TEST(ChatRedisHistory, JunkInTheRoomsLogIsDroppedAndCountedNeverDelivered) {
  REQUIRE_REDIS();
  RedisServer redis;
  TcpRelay relay(redis.port());
  auto a = room_server(redis.address());
  auto b = room_server(via(relay));
  auto m = connected_pair(*a, *b);

  relay.cut();
  ASSERT_TRUE(b->proc.wait_for_line("redis: lost", Ms(3000)));
  uint64_t base = room_offset(redis);
  m.alice->send_all("one\n");
  ASSERT_TRUE(wait_until([&] { return room_offset(redis) >= base + 1; }, Ms(3000)));
  redis.command({"XADD", "concur:lobby:log", "*", "foo", "bar"});
  redis.command({"XADD", "concur:lobby:log", "*", "o", "999", "m", "[mallory]\x1b[2Jowned"});
  redis.command({"XADD", "concur:lobby:log", "*", "o", "x", "m", "concur1 00000000000000aa 1 [mallory]hi"});
  m.alice->send_all("two\n");
  ASSERT_TRUE(wait_until([&] { return room_offset(redis) >= base + 2; }, Ms(3000)));

  relay.heal();
  ASSERT_TRUE(b->proc.wait_for_line("redis: reconnected", Ms(8000)));
  EXPECT_EQ(m.bob->recv_line(Ms(3000)), "[alice]one");
  EXPECT_EQ(m.bob->recv_line(Ms(3000)), "[alice]two");
  m.alice->send_all("three\n");
  EXPECT_EQ(m.bob->recv_line(), "[alice]three");
  EXPECT_TRUE(m.bob->silent_for(Ms(300)));
  EXPECT_TRUE(b->proc.wait_for_line("dropped a message on concur:lobby:log that is not concur's (1 so far)", Ms(1000)));
}

TEST(ChatRedisHistory, AWedgedSubscriptionIsFoundByThePositionCheck) {
  REQUIRE_REDIS();
  RedisServer redis;
  TcpRelay relay(redis.port());
  auto a = room_server(redis.address());
  auto b = room_server(via(relay));
  auto m = connected_pair(*a, *b);
  ASSERT_EQ(relay.connections(), 2);
  // b's second connection is its subscription: it stops carrying anything, while the commands
  // connection keeps answering, so the link looks healthy.
  relay.freeze_one(1);
  m.alice->send_all("one\n");
  m.alice->send_all("two\n");
  EXPECT_EQ(m.bob->recv_line(Ms(4000)), "[alice]one");
  EXPECT_EQ(m.bob->recv_line(Ms(1000)), "[alice]two");
  EXPECT_TRUE(b->proc.wait_for_line("redis: caught up 2 messages", Ms(1000)));
}

TEST(ChatRedisHistory, HistoryZeroIsPlainPubSub) {
  REQUIRE_REDIS();
  RedisServer redis;
  auto a = room_server(redis.address(), {"--history", "0"});
  auto b = room_server(redis.address(), {"--history", "0"});
  auto m = connected_pair(*a, *b);
  EXPECT_FALSE(redis.command({"HGET", "concur:lobby:meta", "epoch"}).has_value());
  EXPECT_EQ(redis.command({"EXISTS", "concur:lobby:log"}), "0");
}

// Sentinel (one master, one replica, three sentinels): the master is killed -9 during steady chat.
// Chat across the instances resumes within 10 s of the failover; every message arrives at most
// once and in order, and any that did not arrive is told to the member as a gap.
TEST(ChatRedisHistory, SentinelFailoverDuringSteadyChatResumesAndTellsWhatWasLost) {
  REQUIRE_REDIS();
  SentinelGroup g;
  ASSERT_TRUE(g.ready()) << "the sentinels never knew each other";
  std::vector<std::string> link = {"--redis-sentinel", g.sentinels(), "--redis-master", "mymaster"};
  auto a = room_server_via(link);
  auto b = room_server_via(link);
  auto m = connected_pair(*a, *b);
  int old_master = g.master().port();
  ASSERT_EQ(g.master_port(), old_master);

  // alice talks every 50 ms throughout; bob's lines are read beside.
  std::vector<std::string> got;
  int sent = 0;
  auto talk = [&](Ms for_how_long) {
    auto until = Clock::now() + for_how_long;
    while (Clock::now() < until) {
      m.alice->send_all("n" + std::to_string(++sent) + "\n");
      while (auto line = m.bob->recv_line(Ms(50))) got.push_back(*line);
    }
  };
  talk(Ms(1000));
  g.master().kill();
  Clock::time_point switched{};
  auto deadline = Clock::now() + Ms(30000);
  while (Clock::now() < deadline) {
    talk(Ms(200));
    if (auto p = g.master_port(); p && *p != old_master) {
      switched = Clock::now();
      break;
    }
  }
  ASSERT_NE(switched, Clock::time_point{}) << "no failover within 30 s";
  // From the failover on: a message alice sends reaches bob within 10 s.
  int first_after = sent + 1;
  bool resumed = false;
  while (Clock::now() < switched + Ms(10000) && !resumed) {
    talk(Ms(200));
    for (const auto& line : got)
      if (line.starts_with("[alice]n") && std::stoi(line.substr(8)) >= first_after) resumed = true;
  }
  ASSERT_TRUE(resumed) << "chat did not resume within 10 s of the failover";
  m.alice->send_all("last\n");
  while (auto line = m.bob->recv_line(Ms(3000))) {
    got.push_back(*line);
    if (*line == "[alice]last") break;
  }
  ASSERT_EQ(got.back(), "[alice]last");
  // At most once, in order; a hole only after a gap line.
  int prev = 0;
  bool told = false;
  for (const auto& line : got) {
    if (line.starts_with("error: history gap")) {
      told = true;
      continue;
    }
    if (!line.starts_with("[alice]n")) continue;
    int n = std::stoi(line.substr(8));
    ASSERT_GT(n, prev) << "twice or out of order: " << line;
    if (n != prev + 1) {
      EXPECT_TRUE(told) << "messages " << prev + 1 << ".." << n - 1 << " lost silently";
    }
    prev = n;
  }
  EXPECT_TRUE(b->proc.wait_for_line("redis: reconnected to master mymaster (sentinels) at 127.0.0.1:" +
                                        std::to_string(g.replica().port()),
                                    Ms(1000)));
}

TEST(ChatHistory, ANewMemberGetsTheLastMessagesWithReplay) {
  Server s({"chat-server", "--port", "0", "--model", "epoll", "--replay", "3", "--rate", "0"});
  auto alice = join(s, "alice");
  ASSERT_TRUE(s.proc.wait_for_line(":[alice]"));
  for (int i = 1; i <= 5; ++i) alice->send_all(numbered(i) + "\n");
  ASSERT_TRUE(s.proc.wait_for_line("]" + numbered(5)));
  auto carol = join(s, "carol");
  EXPECT_EQ(carol->recv_line(), "[alice]m003");
  EXPECT_EQ(carol->recv_line(), "[alice]m004");
  EXPECT_EQ(carol->recv_line(), "[alice]m005");
  alice->send_all("live\n");
  EXPECT_EQ(carol->recv_line(), "[alice]live");
  EXPECT_EQ(alice->recv_line(), "[carol]");
  EXPECT_TRUE(carol->silent_for(Ms(200)));
}

TEST(ChatHistory, ReplayOverUdpAndWithoutReplayNothing) {
  Server u({"chat-server", "--port", "0", "--transport", "udp", "--replay", "2"});
  UdpPeer alice(u.port);
  alice.send("[alice]");
  ASSERT_TRUE(u.proc.wait_for_line(":[alice]"));
  alice.send("[alice]one");
  alice.send("[alice]two");
  alice.send("[alice]three");
  ASSERT_TRUE(u.proc.wait_for_line("]three"));
  UdpPeer bob(u.port);
  bob.send("[bob]");
  EXPECT_EQ(bob.recv(), "[alice]two");
  EXPECT_EQ(bob.recv(), "[alice]three");

  Server plain({"chat-server", "--port", "0", "--model", "epoll"});
  auto a = join(plain, "alice");
  ASSERT_TRUE(plain.proc.wait_for_line(":[alice]"));
  a->send_all("before\n");
  ASSERT_TRUE(plain.proc.wait_for_line("]before"));
  auto c = join(plain, "carol");
  EXPECT_TRUE(c->silent_for(Ms(300))) << "the lecture's server replays nothing";
}

TEST(ChatHistory, ReplayBeyondTheHistoryIsAUsageError) {
  Process p({concur_binary(), "chat-server", "--port", "0", "--replay", "5", "--history", "2"});
  EXPECT_TRUE(is_usage_error(p, "--replay"));
}

}  // namespace
}  // namespace concur::test
