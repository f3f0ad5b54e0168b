// The Collector in-process, against a device played by the test and a sink in memory: batches
// are whole lines, and lines refused by a failing sink are kept and stored once, in order.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <mutex>
#include <thread>

#include "core/endpoint.hpp"
#include "core/socket.hpp"
#include "core/stop.hpp"
#include "iot/collector.hpp"

namespace concur::iot {
namespace {

using namespace std::chrono_literals;

class MemorySink final : public ReadingSink {
 public:
  int write_lines(std::string_view lines) override {
    std::lock_guard lock(mu_);
    if (failures_left_ > 0) {
      --failures_left_;
      ++refused_;
      return ENOSPC;
    }
    batches_.emplace_back(lines);
    return 0;
  }
  const std::string& name() const override { return name_; }
  void fail_next(int n) {
    std::lock_guard lock(mu_);
    failures_left_ = n;
  }
  std::vector<std::string> batches() {
    std::lock_guard lock(mu_);
    return batches_;
  }
  int refused() {
    std::lock_guard lock(mu_);
    return refused_;
  }

 private:
  std::mutex mu_;
  std::string name_ = "memory";
  std::vector<std::string> batches_;
  int failures_left_ = 0;
  int refused_ = 0;
};

FileDesc accept_one(int listener) {
  pollfd p{listener, POLLIN, 0};
  if (::poll(&p, 1, 3000) <= 0) return {};
  return FileDesc(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
}

void send_all(int fd, std::string_view s) {
  while (!s.empty()) {
    ssize_t n = ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
    ASSERT_GT(n, 0);
    s.remove_prefix(static_cast<size_t>(n));
  }
}

std::string recv_some(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 3000) <= 0) return {};
  char buf[64];
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

std::vector<std::string> readings_of(const std::vector<std::string>& batches) {
  std::vector<std::string> out;
  for (const auto& b : batches) {
    EXPECT_FALSE(b.empty());
    EXPECT_EQ(b.back(), '\n') << "batch ends mid-line";
    size_t start = 0;
    for (size_t nl; (nl = b.find('\n', start)) != std::string::npos; start = nl + 1) {
      std::string line = b.substr(start, nl - start);
      size_t sep = line.find(": Dev");
      EXPECT_NE(sep, std::string::npos) << line;
      if (sep != std::string::npos) out.push_back(line.substr(sep + 2));
    }
  }
  return out;
}

struct Rig {
  Rig(uint64_t count, MemorySink& sink) : listener(tcp_listen(Endpoint::parse("127.0.0.1", 0))) {
    CollectOptions o;
    o.devices.push_back(Endpoint::parse("127.0.0.1", local_endpoint(listener.get()).port()));
    o.count = count;
    o.quiet = true;
    o.retry_every = Millis(20);
    collector = std::make_unique<Collector>(o, sink, stop, [] { return 0.5; });
    thread = std::thread([this] { rc = collector->run(); });
  }
  ~Rig() {
    stop.request();
    join();
  }
  // Waits for run() to return (a limit reached, or stop requested).
  void join() {
    if (thread.joinable()) thread.join();
  }
  FileDesc listener;
  StopSource stop;
  std::unique_ptr<Collector> collector;
  std::thread thread;
  int rc = -1;
};

TEST(IotCollector, SplitAndMergedReadingsComeOutAsWholeLinesInOrder) {
  MemorySink sink;
  Rig rig(4, sink);
  FileDesc dev = accept_one(rig.listener.get());
  ASSERT_TRUE(dev);
  EXPECT_EQ(recv_some(dev.get()), "Register");
  send_all(dev.get(), "Dev: A=1\nDev: A=2\nDev: A");
  std::this_thread::sleep_for(20ms);
  send_all(dev.get(), "=3\nnot a reading\nDev: A=4\n");
  rig.join();
  EXPECT_EQ(rig.rc, 0);
  EXPECT_EQ(readings_of(sink.batches()), (std::vector<std::string>{"Dev: A=1", "Dev: A=2", "Dev: A=3", "Dev: A=4"}));
  EXPECT_EQ(rig.collector->stats().stored, 4u);
  EXPECT_EQ(rig.collector->stats().of("memory").stored, 4u);  // by the sink's name, not its place
  EXPECT_THROW(rig.collector->stats().of("data.txt"), std::out_of_range);
  EXPECT_EQ(rig.collector->stats().malformed, 1u);
}

TEST(IotCollector, LinesRefusedByTheSinkAreRetriedAndStoredOnceInOrder) {
  MemorySink sink;
  sink.fail_next(3);
  Rig rig(6, sink);
  FileDesc dev = accept_one(rig.listener.get());
  ASSERT_TRUE(dev);
  recv_some(dev.get());
  for (int i = 1; i <= 6; ++i) {
    send_all(dev.get(), "Dev: A=" + std::to_string(i) + "\n");
    std::this_thread::sleep_for(10ms);
  }
  rig.join();
  EXPECT_EQ(rig.rc, 0);
  EXPECT_GE(sink.refused(), 1);
  EXPECT_EQ(readings_of(sink.batches()),
            (std::vector<std::string>{"Dev: A=1", "Dev: A=2", "Dev: A=3", "Dev: A=4", "Dev: A=5", "Dev: A=6"}));
}

TEST(IotCollector, StopWithASinkThatNeverRecoversReportsLostLines) {
  MemorySink sink;
  sink.fail_next(1 << 30);
  Rig rig(0, sink);
  FileDesc dev = accept_one(rig.listener.get());
  ASSERT_TRUE(dev);
  recv_some(dev.get());
  send_all(dev.get(), "Dev: A=1\nDev: A=2\n");
  std::this_thread::sleep_for(100ms);
  rig.stop.request();
  rig.join();
  EXPECT_EQ(rig.rc, 1);
  EXPECT_EQ(rig.collector->stats().lost, 2u);
  EXPECT_TRUE(sink.batches().empty());
}

// A failing sink never stops the others: the good one gets every line at once, the failing one
// keeps its own backlog, and stop reports only its lines as lost.
TEST(IotCollector, AFailingSinkNeverHoldsUpTheOthers) {
  MemorySink good, bad;
  bad.fail_next(1 << 30);
  FileDesc listener = tcp_listen(Endpoint::parse("127.0.0.1", 0));
  CollectOptions o;
  o.devices.push_back(Endpoint::parse("127.0.0.1", local_endpoint(listener.get()).port()));
  o.quiet = true;
  o.retry_every = Millis(20);
  StopSource stop;
  Collector collector(o, std::vector<ReadingSink*>{&bad, &good}, stop, [] { return 0.5; });
  int rc = -1;
  std::thread run([&] { rc = collector.run(); });
  FileDesc dev = accept_one(listener.get());
  ASSERT_TRUE(dev);
  recv_some(dev.get());
  for (int i = 1; i <= 5; ++i) send_all(dev.get(), "Dev: A=" + std::to_string(i) + "\n");
  for (int spin = 0; spin < 300 && readings_of(good.batches()).size() < 5; ++spin) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(readings_of(good.batches()),
            (std::vector<std::string>{"Dev: A=1", "Dev: A=2", "Dev: A=3", "Dev: A=4", "Dev: A=5"}));
  stop.request();
  run.join();
  EXPECT_EQ(rc, 1);
  ASSERT_EQ(collector.stats().sinks.size(), 2u);
  EXPECT_EQ(collector.stats().of(&bad).lost, 5u);
  EXPECT_EQ(collector.stats().of(&good).stored, 5u);
  EXPECT_EQ(collector.stats().of(&good).lost, 0u);
}

}  // namespace
}  // namespace concur::iot
