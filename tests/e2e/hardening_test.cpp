// Memory bounds under garbage (RELIABILITY #4, issue "Hardening"): unbounded input without a
// newline must cost a server a bounded amount of memory, and everyone else keeps being served.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <regex>
#include <thread>

#include "core/endpoint.hpp"
#include "core/socket.hpp"
#include "models/model.hpp"
#include "support/model_available.hpp"
#include "support/net.hpp"
#include "support/ports.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/text_file.hpp"

namespace concur::test {
namespace {

// Streams up to `limit` bytes of newline-free garbage until the peer stops taking them; returns
// how many bytes went out.
size_t stream_garbage(int fd, size_t limit, Ms budget) {
  std::string junk(64 * 1024, 'A');
  size_t sent = 0;
  auto end = std::chrono::steady_clock::now() + budget;
  while (sent < limit && std::chrono::steady_clock::now() < end) {
    ssize_t n = ::send(fd, junk.data(), std::min(junk.size(), limit - sent), MSG_NOSIGNAL);
    if (n <= 0) break;  // the server closed on us: exactly what it should do
    sent += static_cast<size_t>(n);
  }
  return sent;
}

// Every model chat-server takes (the registry's can_share_a_room).
class HardeningChat : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { SKIP_IF_MODEL_UNAVAILABLE(GetParam()); }
};

TEST_P(HardeningChat, TenGarbageStreamsKeepRssBoundedAndOthersChatting) {
  Server server({"chat-server", "--port", "0", "--bind", "127.0.0.1", "--quiet", "--model", GetParam()});
  TestClient alice(server.port), bob(server.port);
  alice.send_all("[alice]\n");
  bob.send_all("[bob]\n");
  // Both are members once a message from one reaches the other (under the thread model the two
  // joins are handled by two threads in either order, so the join notice is no signal).
  bool linked = false;
  for (int attempt = 0; attempt < 25 && !linked; ++attempt) {
    alice.send_all("[alice]ping\n");
    for (auto l = bob.recv_line(Ms(200)); l && !linked; l = bob.recv_line(Ms(50))) linked = *l == "[alice]ping";
  }
  ASSERT_TRUE(linked) << "alice and bob never reached each other";
  while (bob.recv_line(Ms(100))) {
  }
  long before = status_kib(server.proc.pid(), "VmRSS");

  std::vector<std::thread> floods;
  std::atomic<size_t> total{0};
  for (int i = 0; i < 10; ++i) {
    floods.emplace_back([&, i] {
      TestClient c(server.port);
      c.send_all("[junk" + std::to_string(i) + "]\n");
      total += stream_garbage(c.fd(), 100u << 20, Ms(5000));
    });
  }
  // While the garbage flows, the members keep talking.
  for (int k = 0; k < 20; ++k) {
    alice.send_all("[alice]hello " + std::to_string(k) + "\n");
    auto line = bob.recv_line(Ms(5000));
    ASSERT_TRUE(line) << "bob stopped hearing alice while garbage streamed";
    // Join notices of the junk members may come first; skip them.
    while (line && (line->rfind("[junk", 0) == 0 || *line == "[alice]ping")) line = bob.recv_line(Ms(5000));
    ASSERT_EQ(*line, "[alice]hello " + std::to_string(k));
  }
  for (auto& t : floods) t.join();
  long after = status_kib(server.proc.pid(), "VmRSS");
  // Every garbage stream was cut off at the 4096-byte line limit: far less than 10 x 100 MB
  // went in, and the server grew by less than 16 MiB.
  EXPECT_LT(total.load(), size_t{10} * (100u << 20));
  EXPECT_LT(after - before, 16 * 1024) << "RSS went from " << before << " KiB to " << after << " KiB";
  alice.send_all("[alice]still here\n");
  auto line = bob.recv_line(Ms(5000));
  while (line && line->rfind("[junk", 0) == 0) line = bob.recv_line(Ms(5000));
  EXPECT_EQ(line, "[alice]still here");
}

INSTANTIATE_TEST_SUITE_P(Models, HardeningChat, ::testing::ValuesIn(model_names(can_share_a_room)),
                         [](const auto& info) { return info.param; });

// A fake device that answers Register with 100 MB of garbage without a newline.
TEST(HardeningCollect, GarbageDeviceCostsBoundedMemoryAndNeverReachesTheFile) {
  FileDesc listener = tcp_listen(Endpoint::parse("127.0.0.1", 0));
  set_nonblocking(listener.get(), false);
  int bad_port = local_endpoint(listener.get()).port();
  std::atomic<size_t> sent{0};
  std::thread fake([&] {
    int fd = ::accept(listener.get(), nullptr, nullptr);
    if (fd < 0) return;
    char reg[64];
    [[maybe_unused]] ssize_t r = ::recv(fd, reg, sizeof reg, 0);
    sent = stream_garbage(fd, 100u << 20, Ms(8000));
    ::close(fd);
  });
  Server good({"device", "--kind", "env", "--port", "0", "--bind", "127.0.0.1", "--interval", "0.05"});
  TempDir dir;
  std::string out = dir.file("data.txt");
  Process collector(concur_args({"collect", "--device", loopback(good.port), "--device", loopback(bad_port), "--out", out,
                                 "--quiet", "--duration", "4s"}));
  // Growth, not an absolute size: a sanitizer build starts at tens of MB before doing anything.
  std::this_thread::sleep_for(Ms(100));
  long base = status_kib(collector.pid(), "VmRSS"), peak = base;
  for (int i = 0; i < 30 && collector.running(); ++i) {
    peak = std::max(peak, status_kib(collector.pid(), "VmRSS"));
    std::this_thread::sleep_for(Ms(100));
  }
  auto rc = collector.wait(Ms(15000));
  fake.join();
  ASSERT_TRUE(rc);
  EXPECT_EQ(*rc, 0);
  EXPECT_LT(peak - base, 32 * 1024) << "collector RSS grew from " << base << " KiB to " << peak << " KiB while "
                                     << sent.load() << " bytes of garbage arrived";
  static const std::regex re(R"(^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}: Device1: Temp=\d+, Humid=\d+, lilum=\d+$)");
  auto lines = split_lines(slurp(out));
  for (const auto& line : lines)
    EXPECT_TRUE(std::regex_match(line, re)) << "unexpected line in the data file: " << line.substr(0, 80);
  EXPECT_GT(lines.size(), 5u) << "the good device must keep being collected";
}

}  // namespace
}  // namespace concur::test
