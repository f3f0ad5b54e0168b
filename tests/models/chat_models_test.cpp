// The chat room under every stream model that can share a room (the registry's can_share_a_room:
// thread, select, poll, epoll — also with two workers —, uring, coro), over real loopback sockets, in-process so
// that ASan and TSan see the service and the model together.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <latch>
#include <map>
#include <mutex>
#include <thread>

#include "core/socket.hpp"
#include "services/chat_tcp.hpp"
#include "support/in_process_server.hpp"
#include "support/model_available.hpp"
#include "support/net.hpp"

namespace concur::test {
namespace {

using namespace std::chrono_literals;
using chat::ChatSettings;
using chat::ChatStreamService;

struct ModelCase {
  std::string model;
  int workers = 1;
  std::string label() const { return workers > 1 ? model + "_w" + std::to_string(workers) : model; }
};

void PrintTo(const ModelCase& c, std::ostream* os) { *os << c.label(); }

std::vector<ModelCase> chat_models() {
  std::vector<ModelCase> out;
  for (const ModelInfo& m : model_registry()) {
    if (!can_share_a_room(m)) continue;
    out.push_back({m.name});
    if (m.has_workers) out.push_back({m.name, 2});  // fan-out across event-loop threads
  }
  return out;
}

// A line client that has joined as `id`.
std::unique_ptr<TestClient> joined(int port, const std::string& id) {
  auto c = std::make_unique<TestClient>(port);
  c->send_all("[" + id + "]\n");
  return c;
}

class ChatModels : public ::testing::TestWithParam<ModelCase> {
 protected:
  void SetUp() override { SKIP_IF_MODEL_UNAVAILABLE(GetParam().model); }
  void start(ChatSettings st = {}, ServerConfig cfg = {}) {
    st.quiet = true;
    cfg.workers = GetParam().workers;
    st.max_queue = cfg.max_queue;
    service_ = std::make_unique<ChatStreamService>(st);
    server_ = std::make_unique<InProcessServer>(GetParam().model, *service_, cfg);
  }
  void TearDown() override {
    server_.reset();  // stops the model before the service goes
    service_.reset();
  }
  int port() const { return server_->port(); }
  // Waits until the room has n members (joins are processed asynchronously).
  bool members(size_t n, Ms timeout = 5s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (service_->room().size() == n) return true;
      std::this_thread::sleep_for(2ms);
    }
    return service_->room().size() == n;
  }
  bool has_member(const std::string& id, Ms timeout = 5s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto ids = service_->room().ids();
      if (std::find(ids.begin(), ids.end(), id) != ids.end()) return true;
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(2ms);
    }
  }
  std::unique_ptr<TestClient> join(const std::string& id) {
    auto c = joined(port(), id);
    EXPECT_TRUE(has_member(id)) << id << " did not join; the model threw: " << server_->error();
    return c;
  }

  std::unique_ptr<ChatStreamService> service_;
  std::unique_ptr<InProcessServer> server_;
};

TEST_P(ChatModels, SeedThreePersonSession) {
  start();
  auto a = join("전창완");
  auto b = join("윤재석");
  EXPECT_EQ(a->recv_line(), "[윤재석]");
  auto c = join("김대희");
  EXPECT_EQ(a->recv_line(), "[김대희]");
  EXPECT_EQ(b->recv_line(), "[김대희]");

  c->send_all("[김대희] 점심 뭐 드실까요?\n");
  EXPECT_EQ(a->recv_line(), "[김대희] 점심 뭐 드실까요?");
  EXPECT_EQ(b->recv_line(), "[김대희] 점심 뭐 드실까요?");
  b->send_all("맘스터치 어떠세요?\n");  // no prefix: the server adds the sender's
  EXPECT_EQ(a->recv_line(), "[윤재석]맘스터치 어떠세요?");
  EXPECT_EQ(c->recv_line(), "[윤재석]맘스터치 어떠세요?");
  EXPECT_TRUE(b->silent_for(150ms));  // never back to the sender
  EXPECT_TRUE(c->silent_for(1ms));

  a->send_all("[전창완]quit\n");
  EXPECT_EQ(a->recv_until_eof(), "");  // closed, and nothing more sent to it
  EXPECT_TRUE(members(2));
  b->send_all("[윤재석] 좋습니다. 가시죠\n");
  EXPECT_EQ(c->recv_line(), "[윤재석] 좋습니다. 가시죠");
}

TEST_P(ChatModels, MessageMerelyContainingQuitIsRelayed) {
  start();
  auto a = join("a");
  auto b = join("b");
  a->recv_line();
  b->send_all("[b]I will quit tomorrow\n[b] quit\n[b]quit!\n");
  EXPECT_EQ(a->recv_line(), "[b]I will quit tomorrow");
  EXPECT_EQ(a->recv_line(), "[b] quit");
  EXPECT_EQ(a->recv_line(), "[b]quit!");
  EXPECT_EQ(service_->room().size(), 2u);
}

TEST_P(ChatModels, HundredLinesInOneWriteArriveAsHundredMessages) {
  start();
  auto a = join("a");
  auto b = join("b");
  a->recv_line();
  std::string burst;
  for (int i = 0; i < 100; ++i) burst += "[b]line " + std::to_string(i) + "\n";
  b->send_all(burst);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(a->recv_line(), "[b]line " + std::to_string(i)) << i;
  EXPECT_TRUE(a->silent_for(100ms));
}

TEST_P(ChatModels, LineSentByteByByteArrivesAsOneMessage) {
  start();
  auto a = join("a");
  TestClient b(port());
  for (char ch : std::string("[b]\r\n[b]hello\n")) {  // the join too: still a line join
    b.send_all(std::string_view(&ch, 1));
    std::this_thread::sleep_for(3ms);
  }
  EXPECT_EQ(a->recv_line(), "[b]");
  EXPECT_EQ(a->recv_line(), "[b]hello");
  a->send_all("hi b\n");
  EXPECT_EQ(b.recv_line(), "[a]hi b");  // a line client gets lines
}

TEST_P(ChatModels, FiftyClientsRacingForOneIdExactlyOneWins) {
  start();
  constexpr int kClients = 50;
  std::vector<std::unique_ptr<TestClient>> cs;
  for (int i = 0; i < kClients; ++i) cs.push_back(std::make_unique<TestClient>(port()));
  std::latch go(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i)
    threads.emplace_back([&, i] {
      go.arrive_and_wait();
      cs[i]->send_all(i % 2 ? "[Same]\n" : "[same]\n");
    });
  for (auto& t : threads) t.join();
  int refused = 0;
  std::vector<bool> done(kClients, false);
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (refused < kClients - 1 && std::chrono::steady_clock::now() < deadline) {
    for (int i = 0; i < kClients; ++i) {
      if (done[i]) continue;
      if (auto line = cs[i]->recv_line(5ms)) {
        EXPECT_NE(line->find("is taken"), std::string::npos) << *line;
        done[i] = true;
        ++refused;
      }
    }
  }
  EXPECT_EQ(refused, kClients - 1);
  EXPECT_TRUE(members(1));
  int winner = -1;
  for (int i = 0; i < kClients; ++i)
    if (!done[i]) winner = i;
  ASSERT_GE(winner, 0);
  auto other = join("other");
  EXPECT_EQ(cs[winner]->recv_line(), "[other]");
}

TEST_P(ChatModels, ImpersonationIsRefusedAndNotRelayed) {
  start();
  auto a = join("alice");
  auto b = join("bob");
  a->recv_line();
  b->send_all("[alice]I am alice, honest\n");
  auto err = b->recv_line();
  ASSERT_TRUE(err);
  EXPECT_EQ(err->rfind("error: ", 0), 0u);
  EXPECT_NE(err->find("alice"), std::string::npos);
  EXPECT_TRUE(a->silent_for(150ms));
  b->send_all("[bob]sorry\n");  // still a member
  EXPECT_EQ(a->recv_line(), "[bob]sorry");
}

TEST_P(ChatModels, SixtyFourKiBLineClosesOnlyItsSender) {
  start();
  auto a = join("a");
  auto b = join("b");
  auto c = join("c");
  a->recv_line();
  a->recv_line();
  b->recv_line();
  std::thread flood([&] {
    try {
      c->send_all(std::string(64 * 1024, 'x'));
    } catch (...) {
    }
  });
  auto rest = c->recv_until_eof();
  flood.join();
  ASSERT_TRUE(rest);
  EXPECT_EQ(*rest, "error: line too long\n");
  EXPECT_TRUE(members(2));
  a->send_all("still here?\n");
  EXPECT_EQ(b->recv_line(), "[a]still here?");
  EXPECT_TRUE(a->silent_for(50ms));  // none of the 64 KiB was relayed
}

TEST_P(ChatModels, MemberThatStopsReadingIsDroppedWhileOthersKeepChatting) {
  ServerConfig cfg;
  cfg.max_queue = 64 * 1024;
  ChatSettings st;
  st.rate = 0;  // this test floods on purpose
  start(st, cfg);
  // The slow member shrinks its receive buffer and never reads.
  FileDesc slow(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int small = 4096;
  ::setsockopt(slow.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  Endpoint to = Endpoint::parse("127.0.0.1", static_cast<uint16_t>(port()));
  ASSERT_EQ(::connect(slow.get(), to.sa(), to.len()), 0);
  ASSERT_EQ(::send(slow.get(), "[slow]\n", 7, MSG_NOSIGNAL), 7);
  ASSERT_TRUE(members(1));
  auto reader = join("reader");
  auto sender = join("sender");
  // The reader hears the sender's join. The slow member's join may come first: it counts as a
  // member before its join is announced, and with --workers the reader may join on another loop
  // in between (seen once under TSan).
  auto first = reader->recv_line();
  if (first == std::optional<std::string>("[slow]")) first = reader->recv_line();
  ASSERT_EQ(first, std::optional<std::string>("[sender]"));

  const std::string body(2000, 'z');
  int sent = 0;
  bool dropped = false;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!dropped && sent < 4000 && std::chrono::steady_clock::now() < deadline) {
    std::string batch;
    for (int i = 0; i < 20; ++i) batch += std::to_string(sent + i) + body + "\n";
    sender->send_all(batch);
    for (int i = 0; i < 20; ++i) {
      auto line = reader->recv_line(5s);
      ASSERT_TRUE(line) << "reader stalled at message " << sent + i;
      ASSERT_EQ(*line, "[sender]" + std::to_string(sent + i) + body);
    }
    sent += 20;
    dropped = service_->room().size() == 2;
  }
  EXPECT_TRUE(dropped) << "the slow member was not dropped after " << sent << " messages";
  EXPECT_EQ(service_->room().ids(), (std::vector<std::string>{"reader", "sender"}));
  reader->send_all("[reader]ok\n");
  EXPECT_EQ(sender->recv_line(), "[reader]ok");
}

TEST_P(ChatModels, ChurnWhileOthersChat) {
  start();
  constexpr int kChatters = 3, kMessages = 100, kChurners = 5, kRounds = 10;  // 50 short-lived clients
  std::vector<std::unique_ptr<TestClient>> chatters;
  for (int i = 0; i < kChatters; ++i) chatters.push_back(join("chatter" + std::to_string(i)));
  std::atomic<bool> failed{false};
  std::vector<std::thread> churn;
  for (int t = 0; t < kChurners; ++t)
    churn.emplace_back([&, t] {
      for (int r = 0; r < kRounds; ++r) {
        try {
          std::string id = "churn" + std::to_string(t) + "_" + std::to_string(r);
          TestClient c(port());
          c.send_all("[" + id + "]\n[" + id + "]passing through\n");
          if (r % 3 == 0) c.send_all("[" + id + "]quit\n");
          else if (r % 3 == 1) c.recv_some(5ms);
          // r % 3 == 2: vanish without a word
        } catch (...) {
          failed = true;
        }
      }
    });
  std::vector<std::thread> talk;
  std::vector<std::map<int, int>> next(kChatters);  // per receiver: sender -> next expected number
  for (int i = 0; i < kChatters; ++i)
    talk.emplace_back([&, i] {
      for (int m = 0; m < kMessages; ++m) chatters[i]->send_all("[chatter" + std::to_string(i) + "]" + std::to_string(m) + "\n");
    });
  for (auto& t : talk) t.join();
  for (int i = 0; i < kChatters; ++i) {
    int got = 0;
    while (got < (kChatters - 1) * kMessages) {
      auto line = chatters[i]->recv_line(10s);
      ASSERT_TRUE(line) << "chatter" << i << " received only " << got;
      if (line->rfind("[chatter", 0) != 0 || line->size() <= 10) continue;  // churn traffic, joins
      int from = (*line)[8] - '0';
      ASSERT_NE(from, i) << "echoed back to its sender";
      EXPECT_EQ(line->substr(10), std::to_string(next[i][from]++)) << *line;
      ++got;
    }
  }
  for (auto& t : churn) t.join();
  EXPECT_FALSE(failed);
  EXPECT_TRUE(members(kChatters));
}

TEST_P(ChatModels, ReusedDescriptorNeverGetsADepartedMembersTraffic) {
  start();
  auto a = join("alice");
  for (int round = 0; round < 5; ++round) {
    {
      auto b = join("bob");
      EXPECT_EQ(a->recv_line(), "[bob]");
    }  // bob vanishes; his descriptor number is free for the next connection
    ASSERT_TRUE(members(1));
    TestClient eve(port());  // connected, not joined: must get nothing
    a->send_all("[alice]for members only " + std::to_string(round) + "\n");
    EXPECT_TRUE(eve.silent_for(100ms));
    eve.send_all("[eve" + std::to_string(round) + "]\n");
    EXPECT_EQ(a->recv_line(), "[eve" + std::to_string(round) + "]");
    a->send_all("hi eve\n");
    EXPECT_EQ(eve.recv_line(), "[alice]hi eve");
  }
}

TEST_P(ChatModels, MaxClientsAnswersServerFull) {
  ServerConfig cfg;
  cfg.max_clients = 3;
  start({}, cfg);
  auto a = join("a");
  auto b = join("b");
  auto c = join("c");
  EXPECT_EQ(a->recv_line(), "[b]");
  EXPECT_EQ(a->recv_line(), "[c]");
  TestClient d(port());
  EXPECT_EQ(d.recv_until_eof(), "error: server full\n");
  c->send_all("[c]quit\n");
  c->recv_until_eof();
  ASSERT_TRUE(members(2));
  // The model frees the slot right after the connection is gone.
  bool admitted = false;
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!admitted && std::chrono::steady_clock::now() < deadline) {
    TestClient e(port());
    e.send_all("[e]\n");
    admitted = !e.recv_line(100ms).has_value();  // refused clients hear "server full" at once
    if (admitted) EXPECT_EQ(a->recv_line(), "[e]");
    else std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(admitted);
}

TEST_P(ChatModels, HttpProbeGetsOneLineAndIsClosed) {
  start();
  auto a = join("a");
  TestClient probe(port());
  probe.send_all("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  auto answer = probe.recv_until_eof();
  ASSERT_TRUE(answer);
  EXPECT_NE(answer->find("not an HTTP server"), std::string::npos);
  EXPECT_EQ(std::count(answer->begin(), answer->end(), '\n'), 1);
  EXPECT_TRUE(a->silent_for(50ms));
}

// Homework 8/9 clients: send "[ID]" with no newline, then "[ID]text" chunks; print what they
// receive, which must carry no newline either.
TEST_P(ChatModels, RawClientLikeTheHomework) {
  start();
  auto a = join("alice");
  TestClient k(port());
  k.send_all("[kim]");
  EXPECT_TRUE(members(2));  // after the 200 ms of silence
  EXPECT_EQ(a->recv_line(), "[kim]");
  k.send_all("[kim]안녕하세요");
  EXPECT_EQ(a->recv_line(), "[kim]안녕하세요");
  a->send_all("hello kim\n");
  EXPECT_EQ(k.recv_exact(std::string("[alice]hello kim").size()), "[alice]hello kim");
  EXPECT_TRUE(k.silent_for(100ms));  // no newline follows
  TestClient lee(port());
  lee.send_all("[lee][lee]joined and talking");  // join and first message in one chunk
  EXPECT_EQ(a->recv_line(), "[lee]");
  EXPECT_EQ(a->recv_line(), "[lee]joined and talking");
  EXPECT_EQ(k.recv_exact(std::string("[lee][lee]joined and talking").size()), "[lee][lee]joined and talking");
  k.send_all("[kim]quit");
  EXPECT_EQ(k.recv_until_eof(), "");
  EXPECT_TRUE(members(2));
}

TEST_P(ChatModels, ConnectionThatDoesNotJoinIsClosedAfterTheJoinTimeout) {
  ChatSettings st;
  st.join_timeout = 300ms;
  start(st);
  TestClient silent(port());
  TestClient partial(port());
  partial.send_all("[ab");
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(silent.recv_until_eof(3s), "error: join timeout: send [ID] first\n");
  EXPECT_EQ(partial.recv_until_eof(3s), "error: join timeout: send [ID] first\n");
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 250ms);
}

TEST_P(ChatModels, FloodIsSlowedThenDisconnected) {
  ChatSettings st;
  st.rate = 2;
  st.burst = 5;
  start(st);
  auto a = join("a");
  auto b = join("b");
  a->recv_line();
  std::string flood;
  for (int i = 0; i < 30; ++i) flood += std::to_string(i) + "\n";
  b->send_all(flood);
  // b may hear a's join: a counts as a member before its join is announced, and with --workers b
  // may join on another loop in between (seen once under TSan).
  std::string heard = b->recv_until_eof().value_or("");
  if (heard.rfind("[a]\n", 0) == 0) heard.erase(0, 4);
  EXPECT_EQ(heard, "error: slow down\nerror: too many messages, disconnected\n");
  for (int i = 0; i < 5; ++i) EXPECT_EQ(a->recv_line(), "[b]" + std::to_string(i));
  EXPECT_TRUE(members(1));
}

INSTANTIATE_TEST_SUITE_P(Chat, ChatModels, ::testing::ValuesIn(chat_models()),
                         [](const ::testing::TestParamInfo<ModelCase>& p) { return p.param.label(); });

}  // namespace
}  // namespace concur::test
