// chat-server --redis: several instances of one room over a real redis-server (SPEC §4 "Chat rooms
// over Redis"). Every test starts its own Redis on a free port and its own instances, and plays
// members with real TCP and UDP clients.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "core/endpoint.hpp"
#include "core/socket.hpp"
#include "conn/datagram_loop.hpp"
#include "models/model.hpp"
#include "support/installed.hpp"
#include "support/model_available.hpp"
#include "support/net.hpp"
#include "support/process.hpp"
#include "support/redis_server.hpp"
#include "support/usage_error.hpp"
#include "support/ws_client.hpp"

namespace concur::test {
namespace {

using Clock = std::chrono::steady_clock;

// One chat-server of the room; waits until its bridge is connected (unless told not to).
struct Instance {
  explicit Instance(const RedisServer& redis, std::vector<std::string> extra = {}, bool wait = true)
      : srv(args(redis.address(), std::move(extra))) {
    if (wait) connected = srv.proc.wait_for_line("redis: connected", Ms(5000)).has_value();
  }
  static std::vector<std::string> args(const std::string& redis, std::vector<std::string> extra) {
    std::vector<std::string> a = {"chat-server", "--port", "0", "--bind", "127.0.0.1", "--redis", redis};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  Server srv;
  bool connected = false;
};

// A TCP line client that sent its join.
std::unique_ptr<TestClient> connect_join(const Instance& in, const std::string& id) {
  auto c = std::make_unique<TestClient>(in.srv.port);
  c->send_all("[" + id + "]\n");
  return c;
}

// A TCP line member whose join has completed: its server logged the join, so the other servers
// agreed on the ID and the room heard it (joins in a federated room take a round trip to Redis).
std::unique_ptr<TestClient> member(Instance& in, const std::string& id) {
  auto c = connect_join(in, id);
  EXPECT_TRUE(in.srv.proc.wait_for_line("):[" + id + "]")) << id << " did not join";
  return c;
}

// Joins `id` on `in`, retrying while another server still holds it; true once accepted.
bool join_eventually(const Instance& in, const std::string& id, Ms within, std::unique_ptr<TestClient>& out) {
  auto deadline = Clock::now() + within;
  while (Clock::now() < deadline) {
    auto c = connect_join(in, id);
    // A refused join is answered with an error and closed; an accepted one stays silent.
    auto line = c->recv_line(Ms(400));
    if (!line) {
      out = std::move(c);
      return true;
    }
    std::this_thread::sleep_for(Ms(200));
  }
  return false;
}

// A member hears the room from the moment its join reached its server. A join announced about then
// (logged just before it is broadcast, or still on its way from another server through Redis) may
// therefore reach it: `racing` lists such joins, which may come first, each at most once.
template <typename Next>
std::optional<std::string> next_skipping(Next next, std::vector<std::string> racing) {
  while (auto line = next()) {
    auto it = std::find(racing.begin(), racing.end(), *line);
    if (it == racing.end()) return line;
    racing.erase(it);
  }
  return std::nullopt;
}
std::optional<std::string> next_line(TestClient& c, std::vector<std::string> racing) {
  return next_skipping([&] { return c.recv_line(); }, std::move(racing));
}
std::optional<std::string> next_datagram(UdpPeer& p, std::vector<std::string> racing) {
  return next_skipping([&] { return p.recv(); }, std::move(racing));
}

#define REQUIRE_REDIS() ASSERT_TRUE(have_redis_server()) << not_installed("redis-server")

TEST(ChatRedis, TwoInstancesAreOneRoomAndNothingEchoes) {
  REQUIRE_REDIS();
  RedisServer redis;
  Instance a(redis), b(redis);
  ASSERT_TRUE(a.connected && b.connected);
  auto alice = member(a, "alice");
  auto carol = member(a, "carol");
  EXPECT_EQ(alice->recv_line(), "[carol]");
  auto bob = member(b, "bob");
  EXPECT_EQ(alice->recv_line(), "[bob]");
  EXPECT_EQ(next_line(*carol, {"[alice]"}), "[bob]");
  alice->send_all("hello bob\n");
  EXPECT_EQ(next_line(*bob, {"[alice]", "[carol]"}), "[alice]hello bob");
  EXPECT_EQ(carol->recv_line(), "[alice]hello bob");
  bob->send_all("[bob]hi alice\n");
  EXPECT_EQ(alice->recv_line(), "[bob]hi alice");
  EXPECT_EQ(carol->recv_line(), "[bob]hi alice");
  // Never back to the sender, never twice.
  EXPECT_TRUE(alice->silent_for(Ms(300)));
  EXPECT_TRUE(bob->silent_for(Ms(10)));
  EXPECT_TRUE(carol->silent_for(Ms(10)));
  // Remote messages are not logged as a local member's; the seed's lines stay for local ones.
  a.srv.proc.signal(SIGTERM);
  EXPECT_EQ(a.srv.proc.wait(), 0);
  std::string log = a.srv.proc.read_all_stdout();
  EXPECT_NE(log.find(":[alice]hello bob"), std::string::npos);
  EXPECT_EQ(log.find("hi alice"), std::string::npos);
}

TEST(ChatRedis, ThreeInstancesKeepEachSendersOrder) {
  REQUIRE_REDIS();
  RedisServer redis;
  Instance a(redis), b(redis), c(redis, {"--model", "epoll"});
  ASSERT_TRUE(a.connected && b.connected && c.connected);
  auto x = member(a, "x");
  auto y = member(b, "y");
  auto z = member(c, "z");
  // y and z join on two other instances: their joins reach x in the order Redis got them, which
  // need not be the order the test made them (each instance claims the ID first). Both, once.
  std::vector<std::string> joins{x->recv_line().value_or("(nothing)"), x->recv_line().value_or("(nothing)")};
  std::sort(joins.begin(), joins.end());
  ASSERT_EQ(joins, (std::vector<std::string>{"[y]", "[z]"}));
  // x joined before y, but its join goes a -> Redis -> b and may reach b after y joined there, even
  // after z's join (c -> Redis -> b): "[x]" may come at most once, anywhere before x's first message.
  auto first_y = y->recv_line();
  bool x_join_pending = first_y != "[x]";
  if (!x_join_pending) first_y = y->recv_line();
  ASSERT_EQ(first_y, "[z]");
  constexpr int kN = 300;
  std::string burst_x, burst_y;
  for (int i = 0; i < kN; ++i) {
    burst_x += "x" + std::to_string(i) + "\n";
    burst_y += "y" + std::to_string(i) + "\n";
  }
  x->send_all(burst_x);
  y->send_all(burst_y);
  // z gets both senders' messages, each sender's in the order sent, interleaved somehow.
  int next_x = 0, next_y = 0;
  std::vector<std::string> racing = {"[x]", "[y]"};
  for (int i = 0; i < 2 * kN; ++i) {
    auto line = next_line(*z, racing);
    racing.clear();
    ASSERT_TRUE(line) << "after " << i << " lines";
    if (line->starts_with("[x]")) EXPECT_EQ(*line, "[x]x" + std::to_string(next_x++));
    else EXPECT_EQ(*line, "[y]y" + std::to_string(next_y++));
  }
  EXPECT_EQ(next_x, kN);
  EXPECT_EQ(next_y, kN);
  for (int i = 0; i < kN; ++i) {
    std::vector<std::string> maybe_join;
    if (i == 0 && x_join_pending) maybe_join.push_back("[x]");
    ASSERT_EQ(next_line(*y, maybe_join), "[x]x" + std::to_string(i));
  }
  EXPECT_TRUE(z->silent_for(Ms(200)));
}

TEST(ChatRedis, IdsAreUniqueAcrossInstancesAndFreedOnLeave) {
  REQUIRE_REDIS();
  RedisServer redis;
  Instance a(redis), b(redis);
  ASSERT_TRUE(a.connected && b.connected);
  auto alice = member(a, "Alice");
  auto other = connect_join(b, "ALICE");
  auto err = other->recv_line();
  ASSERT_TRUE(err);
  EXPECT_TRUE(err->starts_with("error: ")) << *err;
  EXPECT_NE(err->find("Alice"), std::string::npos) << "names the holder's spelling: " << *err;
  EXPECT_TRUE(other->recv_until_eof());
  ASSERT_TRUE(b.srv.proc.wait_for_line("ID 'ALICE' is taken on another server"));
  // The lease: in Redis, held by a's instance for at most 15 s.
  auto ttl = redis.command({"PTTL", "concur:lobby:id:alice"});
  ASSERT_TRUE(ttl);
  EXPECT_GT(std::stol(*ttl), 5000);
  EXPECT_LE(std::stol(*ttl), 15000);
  // Quit releases it everywhere at once.
  alice->send_all("[Alice]quit\n");
  ASSERT_TRUE(alice->recv_until_eof());
  std::unique_ptr<TestClient> again;
  EXPECT_TRUE(join_eventually(b, "alice", Ms(2000), again));
  // A disconnect too.
  again->close();
  std::unique_ptr<TestClient> third;
  EXPECT_TRUE(join_eventually(a, "alice", Ms(2000), third));
}

TEST(ChatRedis, RaceForOneIdHasExactlyOneWinner) {
  REQUIRE_REDIS();
  RedisServer redis;
  Instance a(redis), b(redis, {"--model", "epoll"});
  ASSERT_TRUE(a.connected && b.connected);
  for (int round = 0; round < 20; ++round) {
    std::string id = "racer" + std::to_string(round);
    TestClient ca(a.srv.port), cb(b.srv.port);
    std::thread ta([&] { ca.send_all("[" + id + "]\n"); });
    cb.send_all("[" + id + "]\n");
    ta.join();
    // The loser gets an error; the winner hears nothing (not even the loser's join).
    std::optional<std::string> ra, rb;
    auto deadline = Clock::now() + Ms(2000);
    while (!ra && !rb && Clock::now() < deadline) {
      ra = ca.recv_line(Ms(20));
      if (!ra) rb = cb.recv_line(Ms(20));
    }
    if (ra) rb = cb.recv_line(Ms(100));
    else ra = ca.recv_line(Ms(100));
    int errors = (ra && ra->starts_with("error:")) + (rb && rb->starts_with("error:"));
    EXPECT_EQ(errors, 1) << id << ": " << ra.value_or("-") << " / " << rb.value_or("-");
    EXPECT_FALSE(ra && !ra->starts_with("error:")) << *ra;
    EXPECT_FALSE(rb && !rb->starts_with("error:")) << *rb;
  }
}

TEST(ChatRedis, KilledInstanceFreesItsIdsWhenTheLeaseRunsOut) {
  REQUIRE_REDIS();
  RedisServer redis;
  // A short lease keeps the test fast; the default (15 s) is pinned by IdsAreUnique… above.
  Instance a(redis, {"--redis-lease", "1.5s"}), b(redis);
  ASSERT_TRUE(a.connected && b.connected);
  auto dave = member(a, "dave");
  auto bob = member(b, "bob");
  ASSERT_EQ(dave->recv_line(), "[bob]");
  // Renewed: still held well after one lease.
  std::this_thread::sleep_for(Ms(2000));
  auto taken = connect_join(b, "dave");
  auto err = taken->recv_line();
  ASSERT_TRUE(err && err->starts_with("error: ")) << err.value_or("-");
  a.srv.proc.signal(SIGKILL);
  a.srv.proc.wait();
  auto t0 = Clock::now();
  std::unique_ptr<TestClient> again;
  ASSERT_TRUE(join_eventually(b, "dave", Ms(5000), again));
  EXPECT_LT(Clock::now() - t0, Ms(3000));
  EXPECT_EQ(bob->recv_line(), "[dave]");
}

TEST(ChatRedis, GarbageOnTheChannelIsDroppedAndCounted) {
  REQUIRE_REDIS();
  RedisServer redis;
  Instance a(redis);
  ASSERT_TRUE(a.connected);
  auto alice = member(a, "alice");
  ASSERT_TRUE(alice->silent_for(Ms(100)));
  for (std::string junk : {std::string("hello"), std::string("[mallory]hi"),
                           std::string("concur1 00000000000000aa 1 [mallory]\x1b[2Jowned"),
                           std::string("concur1 00000000000000aa 2 no prefix")})
    redis.command({"PUBLISH", "concur:lobby:chat", junk});
  ASSERT_TRUE(a.srv.proc.wait_for_line("that is not concur's (1 so far)"));
  EXPECT_TRUE(alice->silent_for(Ms(300)));
  // A well-formed envelope from another instance is delivered, once, even if published twice.
  std::string good = "concur1 00000000000000bb 7 [mallory]hi";
  redis.command({"PUBLISH", "concur:lobby:chat", good});
  redis.command({"PUBLISH", "concur:lobby:chat", good});
  EXPECT_EQ(alice->recv_line(), "[mallory]hi");
  EXPECT_TRUE(alice->silent_for(Ms(300)));
  // Other rooms are other channels.
  redis.command({"PUBLISH", "concur:other:chat", "concur1 00000000000000bb 8 [mallory]elsewhere"});
  EXPECT_TRUE(alice->silent_for(Ms(300)));
}

TEST(ChatRedis, TcpAndUdpInstancesShareOneRoom) {
  REQUIRE_REDIS();
  RedisServer redis;
  Instance t(redis), u(redis, {"--transport", "udp", "--model", "poll"});
  ASSERT_TRUE(t.connected && u.connected);
  auto alice = member(t, "alice");
  UdpPeer bob(u.srv.port);
  bob.send("[bob]");
  EXPECT_EQ(alice->recv_line(), "[bob]");
  ASSERT_TRUE(u.srv.proc.wait_for_line(":[bob]"));
  alice->send_all("hi bob\n");
  EXPECT_EQ(next_datagram(bob, {"[alice]"}), "[alice]hi bob");
  bob.send("[bob]hi alice");
  EXPECT_EQ(alice->recv_line(), "[bob]hi alice");
  // A UDP join of an ID held on the TCP instance is refused (and reported to the joiner when the
  // reply is no larger than what it sent).
  UdpPeer impostor(u.srv.port);
  impostor.send("[ALICE]" + std::string(100, ' '));
  ASSERT_TRUE(u.srv.proc.wait_for_line("ID 'ALICE' is taken on another server"));
  EXPECT_TRUE(alice->silent_for(Ms(300)));
  auto taken = connect_join(t, "BOB");
  auto err = taken->recv_line();
  ASSERT_TRUE(err && err->starts_with("error: ")) << err.value_or("-");
}

TEST(ChatRedis, StalledRedisNeverDelaysLocalChatAndChatResumes) {
  REQUIRE_REDIS();
  RedisServer redis;
  Instance a(redis), b(redis);
  ASSERT_TRUE(a.connected && b.connected);
  auto alice = member(a, "alice");
  auto carol = member(a, "carol");
  ASSERT_EQ(alice->recv_line(), "[carol]");
  auto bob = member(b, "bob");
  ASSERT_EQ(alice->recv_line(), "[bob]");
  ASSERT_EQ(next_line(*carol, {"[alice]"}), "[bob]");

  redis.stall();
  // Local chat on a: every round trip stays fast while Redis is frozen, also after the outage is
  // noticed, and a new member can join. A round trip that waited for Redis would wait for the
  // whole stall (the outage is noticed after 1.5 s); 750 ms leaves room for a loaded machine.
  for (int i = 0; i < 30; ++i) {
    auto t0 = Clock::now();
    alice->send_all("during " + std::to_string(i) + "\n");
    ASSERT_EQ(carol->recv_line(Ms(1000)), "[alice]during " + std::to_string(i));
    EXPECT_LT(Clock::now() - t0, Ms(750)) << "message " << i;
    std::this_thread::sleep_for(Ms(70));
  }
  ASSERT_TRUE(a.srv.proc.wait_for_line("redis: lost", Ms(3000)));
  auto t0 = Clock::now();
  auto dave = member(a, "dave");
  EXPECT_EQ(alice->recv_line(Ms(1000)), "[dave]");
  EXPECT_LT(Clock::now() - t0, Ms(750));

  redis.resume();
  ASSERT_TRUE(a.srv.proc.wait_for_line("redis: reconnected", Ms(6000)));
  ASSERT_TRUE(b.srv.proc.wait_for_line("redis: reconnected", Ms(6000)));
  // Cross-instance chat works again; what a said meanwhile reached bob at most once each.
  alice->send_all("after\n");
  std::vector<std::string> got;
  while (auto line = bob->recv_line(Ms(2000))) {
    got.push_back(*line);
    if (*line == "[alice]after") break;
  }
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.back(), "[alice]after");
  for (size_t i = 0; i < got.size(); ++i)
    for (size_t j = i + 1; j < got.size(); ++j) EXPECT_NE(got[i], got[j]) << "delivered twice";
  bob->send_all("back\n");
  std::optional<std::string> line;
  while ((line = dave->recv_line(Ms(2000))) && *line != "[bob]back") {
  }
  EXPECT_EQ(line, "[bob]back");
}

TEST(ChatRedis, RedisRestartedOnTheSamePortIsRejoined) {
  REQUIRE_REDIS();
  RedisServer redis;
  Instance a(redis), b(redis, {"--transport", "udp", "--model", "thread"});
  ASSERT_TRUE(a.connected && b.connected);
  auto alice = member(a, "alice");
  auto carol = member(a, "carol");
  ASSERT_EQ(alice->recv_line(), "[carol]");
  UdpPeer bob(b.srv.port);
  bob.send("[bob]");
  ASSERT_EQ(alice->recv_line(), "[bob]");
  ASSERT_EQ(next_line(*carol, {"[alice]"}), "[bob]");
  ASSERT_TRUE(b.srv.proc.wait_for_line(":[bob]"));

  redis.kill();
  ASSERT_TRUE(a.srv.proc.wait_for_line("redis: lost", Ms(3000)));
  ASSERT_TRUE(b.srv.proc.wait_for_line("redis: lost", Ms(3000)));
  alice->send_all("alone\n");
  EXPECT_EQ(carol->recv_line(Ms(500)), "[alice]alone");
  // Logged once per outage, not once per retry.
  std::this_thread::sleep_for(Ms(1500));
  redis.restart();
  auto t0 = Clock::now();
  ASSERT_TRUE(a.srv.proc.wait_for_line("redis: reconnected", Ms(6000)));
  ASSERT_TRUE(b.srv.proc.wait_for_line("redis: reconnected", Ms(6000)));
  EXPECT_LT(Clock::now() - t0, Ms(5500));
  // The IDs are claimed again in the fresh Redis, and chat crosses again.
  EXPECT_TRUE(wait_until([&] { return redis.command({"GET", "concur:lobby:id:alice"}).has_value(); }, Ms(2000)));
  EXPECT_TRUE(wait_until([&] { return redis.command({"GET", "concur:lobby:id:bob"}).has_value(); }, Ms(2000)));
  alice->send_all("hello again\n");
  std::optional<std::string> got;
  while ((got = bob.recv(Ms(2000))) && *got != "[alice]hello again") {
  }
  EXPECT_EQ(got, "[alice]hello again");
  bob.send("[bob]welcome back");
  std::optional<std::string> line;
  while ((line = alice->recv_line(Ms(2000))) && *line != "[bob]welcome back") {
  }
  EXPECT_EQ(line, "[bob]welcome back");
  a.srv.proc.signal(SIGTERM);
  ASSERT_EQ(a.srv.proc.wait(), 0);
  std::string log = a.srv.proc.read_all_stdout();
  auto count = [&](const std::string& what) {
    size_t n = 0;
    for (size_t at = log.find(what); at != std::string::npos; at = log.find(what, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("redis: lost"), 1u) << "one line per outage, not one per retry:\n" << log;
  EXPECT_EQ(count("redis: reconnected"), 1u);
  EXPECT_EQ(count("cannot reach"), 0u);
}

TEST(ChatRedis, BadOptionsAndPasswords) {
  REQUIRE_REDIS();
  for (std::string bad : {"localhost", "127.0.0.1:", "127.0.0.1:99999", "::1:6379"}) {
    Process p({concur_binary(), "chat-server", "--port", "0", "--redis", bad});
    EXPECT_TRUE(is_usage_error(p, "--redis")) << bad;
  }
  RedisServer redis({"--requirepass", "s3cret"});
  {
    Process p({"/usr/bin/env", "REDISCLI_AUTH=wrong", concur_binary(), "chat-server", "--port", "0", "--redis",
               redis.address()});
    EXPECT_EQ(p.wait(), 1);
    std::string err = p.read_all_stderr();
    EXPECT_NE(err.find("WRONGPASS"), std::string::npos) << err;
  }
  {
    Process p({concur_binary(), "chat-server", "--port", "0", "--redis", redis.address()});
    EXPECT_EQ(p.wait(), 1);
    EXPECT_NE(p.read_all_stderr().find("NOAUTH"), std::string::npos);
  }
  Process ok({"/usr/bin/env", "REDISCLI_AUTH=s3cret", concur_binary(), "chat-server", "--port", "0", "--bind",
              "127.0.0.1", "--redis", redis.address()});
  ASSERT_TRUE(ok.wait_for_line("listening on"));
  EXPECT_TRUE(ok.wait_for_line("redis: connected"));
  ok.signal(SIGTERM);
  EXPECT_EQ(ok.wait(), 0);
}

TEST(ChatRedis, UnreachableAtStartIsNotFatal) {
  REQUIRE_REDIS();
  RedisServer redis;
  std::string addr = redis.address();
  redis.kill();
  Server a({"chat-server", "--port", "0", "--bind", "127.0.0.1", "--redis", addr});
  ASSERT_TRUE(a.proc.wait_for_line("redis: cannot reach " + addr));
  auto alice = std::make_unique<TestClient>(a.port);
  alice->send_all("[alice]\n");
  ASSERT_TRUE(a.proc.wait_for_line(":[alice]"));
  auto bob = std::make_unique<TestClient>(a.port);
  bob->send_all("[bob]\n");
  EXPECT_EQ(alice->recv_line(), "[bob]");
  bob->send_all("local\n");
  EXPECT_EQ(alice->recv_line(), "[bob]local");
  // Redis appears: the instance connects and claims the IDs its members took meanwhile.
  redis.restart();
  ASSERT_TRUE(a.proc.wait_for_line("redis: connected", Ms(6000)));
  EXPECT_TRUE(wait_until([&] { return redis.command({"GET", "concur:lobby:id:bob"}).has_value(); }, Ms(2000)));
}

TEST(ChatRedis, PublishBufferIsBoundedWhileRedisStalls) {
  REQUIRE_REDIS();
  RedisServer redis;
  // --quiet: 2 KB log lines would fill the stdout pipe this test does not read meanwhile.
  Instance a(redis, {"--max-queue", "65536", "--rate", "0", "--quiet"});
  ASSERT_TRUE(a.connected);
  auto alice = connect_join(a, "alice");
  std::this_thread::sleep_for(Ms(200));
  auto carol = connect_join(a, "carol");
  ASSERT_EQ(alice->recv_line(), "[carol]");
  redis.stall();
  std::string line = std::string(2000, 'x') + "\n";
  for (int i = 0; i < 100; ++i) {
    alice->send_all(line);
    ASSERT_TRUE(carol->recv_line(Ms(2000)));  // local members get every one
  }
  EXPECT_TRUE(a.srv.proc.wait_for_line("redis: publish buffer full", Ms(2000)));
  redis.resume();
  EXPECT_TRUE(a.srv.proc.wait_for_line("messages were dropped", Ms(8000)));
}

TEST(ChatRedis, MemberWhoseIdWentElsewhereIsEvicted) {
  REQUIRE_REDIS();
  RedisServer redis;
  // What a reconnect after a long outage can find: the lease of a local member's ID held by another
  // instance. Played here by overwriting the lease; the next renewal (every 0.5 s) sees it.
  Instance t(redis, {"--redis-lease", "1.5s"}), u(redis, {"--redis-lease", "1.5s", "--transport", "udp"});
  ASSERT_TRUE(t.connected && u.connected);
  auto alice = member(t, "alice");
  auto carol = member(t, "carol");
  ASSERT_EQ(alice->recv_line(), "[carol]");
  UdpPeer bob(u.srv.port);
  bob.send("[bob]");
  ASSERT_TRUE(u.srv.proc.wait_for_line(":[bob]"));
  ASSERT_EQ(alice->recv_line(), "[bob]");
  ASSERT_EQ(next_line(*carol, {"[alice]"}), "[bob]");
  redis.command({"SET", "concur:lobby:id:alice", "00000000000000ff ALICE", "PX", "60000"});
  redis.command({"SET", "concur:lobby:id:bob", "00000000000000ff BOB", "PX", "60000"});
  auto err = alice->recv_line(Ms(3000));
  ASSERT_TRUE(err && err->starts_with("error: ")) << err.value_or("-");
  EXPECT_NE(err->find("ALICE"), std::string::npos) << *err;
  EXPECT_TRUE(alice->recv_until_eof());
  EXPECT_TRUE(t.srv.proc.wait_for_line("redis: ID 'alice' is held on another server"));
  std::optional<std::string> reply;
  while ((reply = bob.recv(Ms(3000))) && !reply->starts_with("error: ")) {
  }
  ASSERT_TRUE(reply) << "bob was not told";
  EXPECT_NE(reply->find("BOB"), std::string::npos) << *reply;
  // The lease stays with its holder; the others chat on.
  EXPECT_EQ(redis.command({"GET", "concur:lobby:id:alice"}), "00000000000000ff ALICE");
  carol->send_all("still here\n");
  EXPECT_TRUE(carol->silent_for(Ms(100)));
  // bob's next datagram is a stranger's: it joins again under that ID and is refused.
  bob.send("[bob]hello?");
  EXPECT_TRUE(u.srv.proc.wait_for_line("ID 'bob' is taken on another server"));
}

// Browser members (chat-server --web) are members of the federated room like any other: their IDs
// are claimed on the other servers, and their messages cross both ways.
TEST(ChatRedis, BrowserMembersClaimTheirIdsAcrossInstances) {
  REQUIRE_REDIS();
  RedisServer redis;
  // The web listening line comes right after the TCP one, before the bridge connects.
  Instance a(redis, {"--web", "0"}, false), b(redis);
  auto web_line = a.srv.proc.wait_for_line("(http, web)");
  ASSERT_TRUE(web_line);
  int web_port = std::stoi(web_line->substr(web_line->rfind(':') + 1));  // stoi stops at the space
  ASSERT_TRUE(a.srv.proc.wait_for_line("redis: connected", Ms(5000)));
  ASSERT_TRUE(b.connected);
  auto bob = member(b, "bob");
  // "[BOB]" is held on b: the browser is refused, with the holder's spelling, and closed.
  WsClient taken(web_port);
  ASSERT_TRUE(taken.ok()) << taken.answer();
  taken.send_text("[BOB]");
  auto err = taken.recv_text(Ms(10000));
  ASSERT_TRUE(err) << "no refusal";
  EXPECT_TRUE(err->starts_with("error: ")) << *err;
  EXPECT_NE(err->find("bob"), std::string::npos) << *err;
  EXPECT_TRUE(a.srv.proc.wait_for_line("ID 'BOB' is taken on another server"));
  // A free ID joins everywhere; text sent with the join waits for the claim and then crosses.
  WsClient web(web_port);
  ASSERT_TRUE(web.ok()) << web.answer();
  web.send_text("[web]");
  web.send_text("[web]hi bob");
  EXPECT_EQ(bob->recv_line(), "[web]");
  EXPECT_EQ(bob->recv_line(), "[web]hi bob");
  bob->send_all("[bob]hi web\n");
  // bob's own join may reach this instance after the browser joined (it crosses Redis): skip it.
  auto got = web.recv_text();
  if (got == std::optional<std::string>("[bob]")) got = web.recv_text();
  EXPECT_EQ(got, "[bob]hi web");
  // The lease is in Redis while the browser is there.
  auto holder = redis.command({"GET", "concur:lobby:id:web"});
  ASSERT_TRUE(holder);
  EXPECT_NE(holder->find("web"), std::string::npos) << *holder;
}

// Every chat model and transport behind the same bridge: "transport:model".
class ChatRedisModels : public ::testing::TestWithParam<std::string> {};

TEST_P(ChatRedisModels, JoinsAndMessagesCrossBothWays) {
  REQUIRE_REDIS();
  std::string transport = GetParam().substr(0, GetParam().find(':'));
  std::string model = GetParam().substr(GetParam().find(':') + 1);
  if (transport == "tcp") SKIP_IF_MODEL_UNAVAILABLE(model);
  RedisServer redis;
  Instance x(redis, {"--transport", transport, "--model", model}), y(redis);
  ASSERT_TRUE(x.connected && y.connected);
  auto alice = member(y, "alice");
  if (transport == "udp") {
    UdpPeer bob(x.srv.port);
    bob.send("[bob]");
    EXPECT_EQ(alice->recv_line(), "[bob]");
    ASSERT_TRUE(x.srv.proc.wait_for_line(":[bob]"));
    alice->send_all("hi\n");
    EXPECT_EQ(next_datagram(bob, {"[alice]"}), "[alice]hi");
    bob.send("[bob]yo");
    EXPECT_EQ(alice->recv_line(), "[bob]yo");
    EXPECT_FALSE(bob.recv(Ms(200)));
  } else {
    auto bob = member(x, "bob");
    EXPECT_EQ(alice->recv_line(), "[bob]");
    alice->send_all("hi\n");
    EXPECT_EQ(next_line(*bob, {"[alice]"}), "[alice]hi");
    bob->send_all("yo\n");
    EXPECT_EQ(alice->recv_line(), "[bob]yo");
    EXPECT_TRUE(bob->silent_for(Ms(200)));
  }
  EXPECT_TRUE(alice->silent_for(Ms(10)));
}

// TCP: every model chat-server takes (the registry's can_share_a_room). UDP: the names its one
// datagram loop answers to (datagram_models(); not registry rows).
std::vector<std::string> redis_cases() {
  std::vector<std::string> out;
  for (const auto& m : model_names(can_share_a_room)) out.push_back("tcp:" + m);
  for (const std::string& m : datagram_models()) out.push_back("udp:" + m);
  return out;
}

INSTANTIATE_TEST_SUITE_P(All, ChatRedisModels, ::testing::ValuesIn(redis_cases()),
                         [](const auto& info) {
                           std::string n = info.param;
                           n[n.find(':')] = '_';
                           return n;
                         });

}  // namespace
}  // namespace concur::test
