// The models with a fixed set of workers (SPEC §2): prefork (N children each blocking in
// accept(), a dead one replaced, none left behind) and pool (N threads each blocking in accept();
// client N+1 waits in the backlog). The echo/hello/fault matrices cover them like every model;
// this file pins what only they do.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <latch>
#include <regex>
#include <set>
#include <thread>

#include "services/counter.hpp"
#include "services/echo.hpp"
#include "support/model_server.hpp"
#include "support/net.hpp"
#include "support/process.hpp"

namespace concur::test {
namespace {

using namespace std::chrono_literals;

bool alive(pid_t pid) {
  // A live process, not a zombie waiting to be reaped (by us or by init once the parent is gone).
  auto stat = std::filesystem::path("/proc") / std::to_string(pid) / "stat";
  std::string content;
  if (FILE* f = std::fopen(stat.c_str(), "r")) {
    char buf[512];
    size_t n = std::fread(buf, 1, sizeof buf, f);
    content.assign(buf, n);
    std::fclose(f);
  }
  auto rp = content.rfind(')');
  return rp != std::string::npos && rp + 2 < content.size() && content[rp + 2] != 'Z';
}

// With both workers busy, a third client is connected (in the backlog) but not served until one
// of the first two leaves.
void expect_third_client_waits_for_a_free_worker(int port) {
  TestClient a(port), b(port);
  a.send_all("a");
  b.send_all("b");
  ASSERT_EQ(a.recv_exact(1, 5s), "a");
  ASSERT_EQ(b.recv_exact(1, 5s), "b");
  TestClient c(port);  // connect() succeeds: the kernel completes the handshake into the backlog
  c.send_all("c");
  EXPECT_TRUE(c.silent_for(400ms)) << "a third client was served by two workers";
  b.send_all("b2");  // the busy workers keep serving their own clients meanwhile
  EXPECT_EQ(b.recv_exact(2, 5s), "b2");
  a.close();
  EXPECT_EQ(c.recv_exact(1, 5s), "c") << "the waiting client was not served once a worker was free";
}

TEST(PoolModel, ClientBeyondTheWorkersWaitsInTheBacklogUntilOneIsFree) {
  EchoService service(true);
  ServerConfig cfg;
  cfg.workers = 2;
  ModelServer server("pool", service, {"echo-server", "--quiet"}, cfg);
  ASSERT_TRUE(server.in_process());
  expect_third_client_waits_for_a_free_worker(server.port());
}

TEST(PoolModel, CounterWithMutexGivesExactMultiples) {
  constexpr uint64_t kIncrements = 100000;
  CounterService service(SyncMode::mutex, kIncrements, true);
  ServerConfig cfg;
  cfg.workers = 4;
  ModelServer server("pool", service, {"counter-server", "--quiet"}, cfg);
  std::vector<std::string> got(4);
  std::latch go(4);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&, i] {
      go.arrive_and_wait();
      try {
        TestClient c(server.port());
        got[i] = c.recv_until_eof(20s).value_or("<no close>");
      } catch (const std::exception& e) {
        got[i] = e.what();
      }
    });
  for (auto& t : threads) t.join();
  std::vector<uint64_t> v;
  for (const auto& s : got) v.push_back(std::strtoull(s.c_str(), nullptr, 10));
  std::sort(v.begin(), v.end());
  EXPECT_EQ(v, (std::vector<uint64_t>{kIncrements, 2 * kIncrements, 3 * kIncrements, 4 * kIncrements}))
      << got[0] << " " << got[1] << " " << got[2] << " " << got[3];
}

TEST(PoolBinary, CounterServerRunsOnAPoolAndStopsCleanly) {
  Server server({"counter-server", "--port", "0", "--model", "pool", "--workers", "3", "--increments", "1000",
                 "--quiet"});
  EXPECT_NE(server.listening_line.find("model=pool"), std::string::npos) << server.listening_line;
  for (uint64_t k = 1; k <= 3; ++k) {
    TestClient c(server.port);
    EXPECT_EQ(c.recv_until_eof(10s).value_or("<no close>"), std::to_string(k * 1000)) << "client " << k;
  }
  pid_t pid = server.proc.pid();
  server.proc.signal(SIGTERM);
  EXPECT_EQ(server.proc.wait(10s), 0) << "no clean stop; stderr: " << server.proc.read_all_stderr(100ms);
  EXPECT_FALSE(alive(pid));
}

std::vector<std::string> prefork_args(int workers) {
  return {"echo-server", "--model", "prefork", "--workers", std::to_string(workers), "--port", "0",
          "--bind",      "127.0.0.1", "--quiet"};
}

TEST(PreforkModel, ClientBeyondTheWorkersWaitsInTheBacklogUntilOneIsFree) {
  Server server(prefork_args(2));
  expect_third_client_waits_for_a_free_worker(server.port);
}

TEST(PreforkModel, StartsNChildrenAndReplacesOneThatIsKilled) {
  Server server(prefork_args(3));
  pid_t parent = server.proc.pid();
  ASSERT_TRUE(wait_until([&] { return child_pids(parent).size() == 3; }, 5s))
      << "children: " << child_pids(parent).size();
  auto before = child_pids(parent);
  {
    // The parent holds no client: the children accept and serve. Closed again at once: a held
    // client would keep one of the three workers busy, so the third client below would wait.
    TestClient c(server.port);
    c.send_all("one");
    ASSERT_EQ(c.recv_exact(3, 5s), "one");
  }
  pid_t victim = before.front();
  ASSERT_EQ(::kill(victim, SIGKILL), 0);
  EXPECT_TRUE(server.proc.wait_for_stderr("was killed by signal 9", 10s))
      << "no log line for the dead worker; stderr: " << server.proc.read_all_stderr(100ms);
  std::vector<pid_t> now;
  ASSERT_TRUE(wait_until([&] {
    now = child_pids(parent);
    return now.size() == 3 && std::find(now.begin(), now.end(), victim) == now.end();
  }, 10s)) << "the dead worker " << victim << " was not replaced; children now: " << now.size()
           << ", stderr: " << server.proc.read_all_stderr(100ms);
  EXPECT_EQ(count_zombie_children(parent), 0);
  // Service continues, on the old workers and the new one alike.
  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<TestClient>(server.port));
    clients.back()->send_all("k" + std::to_string(i));
  }
  for (int i = 0; i < 3; ++i) EXPECT_EQ(clients[i]->recv_exact(2, 5s), "k" + std::to_string(i));
}

TEST(PreforkModel, SigtermStopsEveryChildAndExitsZeroWithNoneLeftBehind) {
  Server server(prefork_args(4));
  pid_t parent = server.proc.pid();
  ASSERT_TRUE(wait_until([&] { return child_pids(parent).size() == 4; }, 5s));
  auto kids = child_pids(parent);
  // One child is busy with a client at the stop: it closes that client and exits too.
  TestClient busy(server.port);
  busy.send_all("b");
  ASSERT_EQ(busy.recv_exact(1, 5s), "b");
  server.proc.signal(SIGTERM);
  auto code = server.proc.wait(5s);
  EXPECT_EQ(code, 0) << server.proc.read_all_stderr(200ms);
  EXPECT_TRUE(busy.recv_until_eof(3s).has_value()) << "the busy child did not close its client";
  for (pid_t k : kids) EXPECT_TRUE(wait_until([&] { return !alive(k); }, 3s)) << "child " << k << " outlived the stop";
  EXPECT_EQ(server.proc.read_all_stderr(200ms).find("replacing"), std::string::npos)
      << "children stopped at shutdown were 'replaced'";
}

TEST(PreforkModel, ChildrenDieWithAParentThatIsKilled) {
  Server server(prefork_args(2));
  pid_t parent = server.proc.pid();
  ASSERT_TRUE(wait_until([&] { return child_pids(parent).size() == 2; }, 5s));
  auto kids = child_pids(parent);
  server.proc.signal(SIGKILL);  // no chance to clean up: the children must not keep the port
  server.proc.wait(5s);
  for (pid_t k : kids) EXPECT_TRUE(wait_until([&] { return !alive(k); }, 3s)) << "child " << k << " was left behind";
}

TEST(PreforkModel, MaxClientsCountsAcrossChildren) {
  Server server({"echo-server", "--model", "prefork", "--workers", "4", "--max-clients", "2", "--port", "0", "--bind",
                 "127.0.0.1", "--quiet"});
  TestClient a(server.port), b(server.port);
  a.send_all("a");
  b.send_all("b");
  ASSERT_EQ(a.recv_exact(1, 5s), "a");
  ASSERT_EQ(b.recv_exact(1, 5s), "b");
  TestClient extra(server.port);
  EXPECT_EQ(extra.recv_line(5s).value_or("<nothing>"), "error: server full");
}

}  // namespace
}  // namespace concur::test
