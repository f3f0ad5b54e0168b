// The room without any transport: members are plain recorders (services/chat_room).
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "services/chat_room.hpp"

namespace concur::chat {
namespace {

class Recorder final : public ChatMember {
 public:
  bool deliver(const ChatMessage& m) override {
    std::lock_guard lock(mu);
    got.emplace_back(m.text());
    return accept;
  }
  std::vector<std::string> messages() {
    std::lock_guard lock(mu);
    return got;
  }
  std::mutex mu;
  std::vector<std::string> got;
  bool accept = true;
};

TEST(ChatRoom, MessageHasTextAndLine) {
  ChatMessage m("[a]hi");
  EXPECT_EQ(m.text(), "[a]hi");
  EXPECT_EQ(m.line(), "[a]hi\n");
}

TEST(ChatRoom, BroadcastReachesEveryoneButTheSender) {
  ChatRoom room;
  auto a = std::make_shared<Recorder>(), b = std::make_shared<Recorder>(), c = std::make_shared<Recorder>();
  ASSERT_EQ(room.join("a", a).status, ChatRoom::JoinStatus::joined);
  ASSERT_EQ(room.join("b", b).status, ChatRoom::JoinStatus::joined);
  ASSERT_EQ(room.join("c", c).status, ChatRoom::JoinStatus::joined);
  EXPECT_EQ(room.broadcast(a.get(), ChatMessage("[a]hi")), 2u);
  EXPECT_TRUE(a->messages().empty());
  EXPECT_EQ(b->messages(), std::vector<std::string>{"[a]hi"});
  EXPECT_EQ(c->messages(), std::vector<std::string>{"[a]hi"});
  c->accept = false;  // over its bound: counted as not delivered
  EXPECT_EQ(room.broadcast(a.get(), ChatMessage("[a]again")), 1u);
}

TEST(ChatRoom, IdsAreUniqueIgnoringAsciiCase) {
  ChatRoom room;
  auto a = std::make_shared<Recorder>(), b = std::make_shared<Recorder>();
  ASSERT_EQ(room.join("Bob", a).status, ChatRoom::JoinStatus::joined);
  auto r = room.join("bob", b);
  EXPECT_EQ(r.status, ChatRoom::JoinStatus::taken);
  EXPECT_EQ(r.holder, "Bob");
  EXPECT_EQ(room.join("Bob", a).status, ChatRoom::JoinStatus::already_member);
  EXPECT_TRUE(room.leave(*a));
  EXPECT_FALSE(room.leave(*a));
  EXPECT_EQ(room.join("bob", b).status, ChatRoom::JoinStatus::joined);  // free again
  EXPECT_EQ(room.ids(), std::vector<std::string>{"bob"});
}

TEST(ChatRoom, FullRoomRefuses) {
  ChatRoom room(2);
  auto a = std::make_shared<Recorder>(), b = std::make_shared<Recorder>(), c = std::make_shared<Recorder>();
  EXPECT_EQ(room.join("a", a).status, ChatRoom::JoinStatus::joined);
  EXPECT_EQ(room.join("b", b).status, ChatRoom::JoinStatus::joined);
  EXPECT_EQ(room.join("c", c).status, ChatRoom::JoinStatus::full);
  room.leave(*a);
  EXPECT_EQ(room.join("c", c).status, ChatRoom::JoinStatus::joined);
}

TEST(ChatRoom, MemberThatLeftGetsNothingNew) {
  ChatRoom room;
  auto a = std::make_shared<Recorder>(), b = std::make_shared<Recorder>();
  room.join("a", a);
  room.join("b", b);
  room.leave(*b);
  room.broadcast(a.get(), ChatMessage("[a]x"));
  EXPECT_TRUE(b->messages().empty());
  EXPECT_EQ(room.size(), 1u);
}

TEST(ChatRoom, FiftyThreadsRaceForOneIdExactlyOneWins) {
  ChatRoom room;
  std::vector<std::shared_ptr<Recorder>> members;
  for (int i = 0; i < 50; ++i) members.push_back(std::make_shared<Recorder>());
  std::atomic<int> winners{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < 50; ++i)
    threads.emplace_back([&, i] {
      while (!go.load()) std::this_thread::yield();
      if (room.join(i % 2 ? "Same" : "same", members[i]).status == ChatRoom::JoinStatus::joined) ++winners;
    });
  go = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(winners.load(), 1);
  EXPECT_EQ(room.size(), 1u);
}

// Fan-out from several threads while others join and leave: no lost member, no crash, and
// (under TSan) no data race. Each sender's messages reach a stable member in order.
TEST(ChatRoom, ConcurrentFanOutWithChurn) {
  ChatRoom room;
  auto watcher = std::make_shared<Recorder>();
  room.join("watcher", watcher);
  constexpr int kSenders = 3, kPerSender = 300;
  std::vector<std::shared_ptr<Recorder>> senders;
  for (int s = 0; s < kSenders; ++s) {
    senders.push_back(std::make_shared<Recorder>());
    room.join("s" + std::to_string(s), senders.back());
  }
  std::atomic<bool> stop{false};
  std::thread churn([&] {
    for (int i = 0; !stop.load() && i < 5000; ++i) {
      auto m = std::make_shared<Recorder>();
      room.join("churn" + std::to_string(i % 7), m);
      room.leave(*m);
    }
  });
  std::vector<std::thread> threads;
  for (int s = 0; s < kSenders; ++s)
    threads.emplace_back([&, s] {
      for (int i = 0; i < kPerSender; ++i)
        room.broadcast(senders[s].get(), ChatMessage("[s" + std::to_string(s) + "]" + std::to_string(i)));
    });
  for (auto& t : threads) t.join();
  stop = true;
  churn.join();
  auto got = watcher->messages();
  ASSERT_EQ(got.size(), static_cast<size_t>(kSenders * kPerSender));
  std::vector<int> next(kSenders, 0);
  for (const auto& m : got) {
    int s = m[2] - '0';
    EXPECT_EQ(m.substr(4), std::to_string(next[s]++));
  }
}

// A fake of the other servers: records claims and releases, answers as told.
class FakeRemote final : public RemoteIds {
 public:
  std::optional<Claim> claim(std::string_view id, Done done) override {
    claims.emplace_back(id);
    if (defer) {
      pending = std::move(done);
      return std::nullopt;
    }
    return answer;
  }
  void release(std::string_view id) override { releases.emplace_back(id); }
  std::vector<std::string> claims, releases;
  Claim answer{true, {}};
  bool defer = false;
  Done pending;
};

class Evictable final : public ChatMember {
 public:
  bool deliver(const ChatMessage&) override { return true; }
  void evict(std::string_view text) override { evicted = std::string(text); }
  std::string evicted;
};

TEST(ChatRoom, FederatedBridgeHearsEveryoneAndHoldsNoId) {
  ChatRoom room(2);
  FakeRemote remote;
  auto bridge = std::make_shared<Recorder>();
  room.federate(bridge, &remote);
  auto a = std::make_shared<Recorder>(), b = std::make_shared<Recorder>();
  ASSERT_EQ(room.join("a", a).status, ChatRoom::JoinStatus::joined);
  ASSERT_EQ(room.join("b", b).status, ChatRoom::JoinStatus::joined);  // the bridge takes no slot
  EXPECT_EQ(room.size(), 2u);
  EXPECT_EQ(room.ids(), (std::vector<std::string>{"a", "b"}));
  room.broadcast(a.get(), ChatMessage("[a]hi"));
  EXPECT_EQ(bridge->messages(), std::vector<std::string>{"[a]hi"});
  room.broadcast(bridge.get(), ChatMessage("[remote]yo"));  // from another server: not back to it
  EXPECT_EQ(bridge->messages().size(), 1u);
  EXPECT_EQ(a->messages().back(), "[remote]yo");
}

TEST(ChatRoom, ClaimGoesToTheOtherServersAndLeaveReleases) {
  ChatRoom plain;
  auto at_once = plain.claim("x", nullptr);
  ASSERT_TRUE(at_once);
  EXPECT_TRUE(at_once->ok);  // not federated: nothing to ask

  ChatRoom room;
  FakeRemote remote;
  room.federate(std::make_shared<Recorder>(), &remote);
  auto a = std::make_shared<Recorder>();
  room.join("Alice", a);
  remote.answer = {false, "ALICE"};
  auto r = room.claim("Alice", nullptr);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->ok);
  EXPECT_EQ(r->holder, "ALICE");
  EXPECT_TRUE(room.leave(*a));
  EXPECT_EQ(remote.releases, std::vector<std::string>{"Alice"});
}

TEST(ChatRoom, EvictRemovesTheHolderAndTellsIt) {
  ChatRoom room;
  FakeRemote remote;
  room.federate(std::make_shared<Recorder>(), &remote);
  auto a = std::make_shared<Evictable>();
  room.join("bob", a);
  EXPECT_TRUE(room.evict("BOB", "ID taken"));
  EXPECT_EQ(a->evicted, "ID taken");
  EXPECT_EQ(room.size(), 0u);
  EXPECT_FALSE(room.evict("bob", "again"));
}


TEST(ChatRoom, ReplayGivesANewMemberTheLastMessages) {
  ChatRoom room;
  room.keep_history(3, 2);
  auto a = std::make_shared<Recorder>();
  room.join("a", a);
  for (const char* t : {"[a]1", "[a]2", "[a]3", "[a]4"}) room.broadcast(a.get(), ChatMessage(t));
  room.broadcast(nullptr, ChatMessage("error: a notice"), false);  // not history
  auto b = std::make_shared<Recorder>();
  room.join("b", b);
  EXPECT_EQ(b->messages(), (std::vector<std::string>{"[a]3", "[a]4"}));
}

TEST(ChatRoom, AResumingMemberGetsWhatItMissedOnceAndAGapPastTheHistory) {
  ChatRoom room;
  room.keep_history(3, 0, true);
  auto a = std::make_shared<Recorder>();
  room.join("a", a);
  for (int i = 1; i <= 5; ++i) room.broadcast(a.get(), ChatMessage("[a]" + std::to_string(i)));
  auto b = std::make_shared<Recorder>();
  room.join("b", b, {true, 3, room.epoch()});  // had 1..3; 4 and 5 are kept
  EXPECT_EQ(b->messages(), (std::vector<std::string>{"offsets " + room.epoch() + " 5", "[a]4", "[a]5"}));
  auto c = std::make_shared<Recorder>();
  room.join("c", c, {true, 1, room.epoch()});  // had 1; 2 was trimmed
  EXPECT_EQ(c->messages(), (std::vector<std::string>{"offsets " + room.epoch() + " 5",
                                                     "error: history gap: 1 messages lost", "[a]3", "[a]4", "[a]5"}));
  auto d = std::make_shared<Recorder>();
  room.join("d", d, {true, 7, "0123456789abcdef"});  // an offset of an earlier run
  EXPECT_EQ(d->messages(), (std::vector<std::string>{"offsets " + room.epoch() + " 5",
                                                     "error: history gap: the server restarted"}));
  auto e = std::make_shared<Recorder>();
  room.join("e", e, {true, 5, room.epoch()});  // up to date: nothing but where it stands
  EXPECT_EQ(e->messages().size(), 1u);
}
}  // namespace
}  // namespace concur::chat
