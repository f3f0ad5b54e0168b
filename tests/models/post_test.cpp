// Conn::post (issue 19): a task posted from a thread that owns no connection runs on the
// connection's owner thread, in order, under every model; a task posted to a connection that has
// ended never runs. The client is idle while the tasks are posted, so a model that does not wake
// the owner fails with a timeout.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "models/model.hpp"
#include "support/in_process_server.hpp"
#include "support/model_available.hpp"
#include "support/net.hpp"

namespace concur::test {
namespace {

using namespace std::chrono_literals;

// On "P<n>\n" a thread of its own posts n tasks to the connection; each answers whether it ran on
// the thread that ran on_open. On "K\n" the connection is kept for post_to_kept().
class Poster final : public StreamService {
 public:
  ~Poster() override {
    std::lock_guard lock(mu_);
    for (auto& t : threads_) t.join();
  }
  void on_open(Conn& c) override {
    c.context() = std::this_thread::get_id();
    c.send("ready\n");
  }
  void on_data(Conn& c, std::string_view bytes) override {
    if (bytes.size() >= 2 && bytes[0] == 'P') {
      int n = std::stoi(std::string(bytes.substr(1)));
      std::shared_ptr<Conn> conn = c.shared();
      std::lock_guard lock(mu_);
      threads_.emplace_back([conn, n] {
        for (int i = 0; i < n; ++i)
          conn->post([i](Conn& owned) {
            bool on_owner = std::any_cast<std::thread::id>(owned.context()) == std::this_thread::get_id();
            owned.send("task " + std::to_string(i) + (on_owner ? " on owner\n" : " on ANOTHER thread\n"));
          });
      });
    } else if (bytes == "K\n") {
      std::lock_guard lock(mu_);
      kept_ = c.shared();
      c.send("kept\n");
    }
  }
  void on_close(Conn&) override { closed_.fetch_add(1); }

  void post_to_kept() {
    std::lock_guard lock(mu_);
    kept_->post([this](Conn&) { ran_after_close_.fetch_add(1); });
  }
  int closed() const { return closed_.load(); }
  int ran_after_close() const { return ran_after_close_.load(); }

 private:
  std::mutex mu_;
  std::vector<std::thread> threads_;  // guarded by mu_
  std::shared_ptr<Conn> kept_;        // guarded by mu_
  std::atomic<int> closed_{0}, ran_after_close_{0};
};

// Every model that serves in this process. (A forking model serves in children, and fork() from
// a threaded test process is unsafe — TSan refuses it: the registry's forks. Their clients run
// serve_blocking, the thread model's path, which this covers.)
std::vector<std::string> in_process_models() {
  std::vector<std::string> out;
  for (const ModelInfo& m : model_registry())
    if (!m.forks) out.push_back(m.name);
  return out;
}

class Post : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { SKIP_IF_MODEL_UNAVAILABLE(GetParam()); }
};

TEST_P(Post, TasksFromAnotherThreadRunOnTheOwnerInOrder) {
  Poster service;
  InProcessServer server(GetParam(), service);
  TestClient c(server.port());
  ASSERT_EQ(c.recv_line(5s), "ready") << "the model threw: " << server.error();
  c.send_all("P50\n");
  for (int i = 0; i < 50; ++i) ASSERT_EQ(c.recv_line(3s), "task " + std::to_string(i) + " on owner");
}

INSTANTIATE_TEST_SUITE_P(EveryModel, Post, ::testing::ValuesIn(in_process_models()),
                         [](const auto& info) { return info.param; });

class PostAfterEnd : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { SKIP_IF_MODEL_UNAVAILABLE(GetParam()); }
};

TEST_P(PostAfterEnd, ATaskPostedToAnEndedConnectionNeverRuns) {
  Poster service;
  InProcessServer server(GetParam(), service);
  {
    TestClient c(server.port());
    ASSERT_EQ(c.recv_line(5s), "ready") << "the model threw: " << server.error();
    c.send_all("K\n");
    ASSERT_EQ(c.recv_line(3s), "kept");
  }
  for (int i = 0; i < 2500 && service.closed() == 0; ++i) std::this_thread::sleep_for(2ms);
  ASSERT_EQ(service.closed(), 1);
  service.post_to_kept();
  // Another client's traffic makes the owner loop go round (and would run a stray task).
  TestClient d(server.port());
  ASSERT_EQ(d.recv_line(5s), "ready");
  d.send_all("P1\n");
  ASSERT_EQ(d.recv_line(3s), "task 0 on owner");
  EXPECT_EQ(service.ran_after_close(), 0);
}

INSTANTIATE_TEST_SUITE_P(InProcessModels, PostAfterEnd, ::testing::ValuesIn(in_process_models()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace concur::test
