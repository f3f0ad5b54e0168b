// Fault injection through the syscall seam (core/sys.hpp, as fmt's posix-mock): EINTR, EAGAIN,
// short writes and ECONNRESET on the send path, first on Buffer alone, then on whole servers.
#include <gtest/gtest.h>

#include <cerrno>
#include <random>
#include <thread>

#include "core/buffer.hpp"
#include "core/sys.hpp"
#include "models/model.hpp"
#include "services/echo.hpp"
#include "support/in_process_server.hpp"
#include "support/net.hpp"

namespace concur {
namespace {

// Swaps in one entry of the seam for the life of the object.
class ScopedSend {
 public:
  explicit ScopedSend(decltype(sys::Calls::send) fn) : saved_(sys::calls.send) { sys::calls.send = fn; }
  ~ScopedSend() { sys::calls.send = saved_; }

 private:
  decltype(sys::Calls::send) saved_;
};

// A socket that takes at most 3 bytes per call and interrupts every other call.
std::atomic<int> g_calls{0};
ssize_t stingy_send(int fd, const void* b, size_t n, int flags) {
  int k = g_calls.fetch_add(1);
  if (k % 2 == 0) {
    errno = EINTR;
    return -1;
  }
  return ::send(fd, b, std::min<size_t>(n, 3), flags);
}

ssize_t reset_send(int, const void*, size_t, int) {
  errno = ECONNRESET;
  return -1;
}

ssize_t full_send(int, const void*, size_t, int) {
  errno = EAGAIN;
  return -1;
}

struct SocketPair {
  int a = -1, b = -1;
  SocketPair() {
    int sv[2];
    ::socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    a = sv[0];
    b = sv[1];
  }
  ~SocketPair() {
    ::close(a);
    ::close(b);
  }
  std::string drain() {
    std::string got;
    char buf[4096];
    ssize_t n;
    while ((n = ::recv(b, buf, sizeof buf, MSG_DONTWAIT)) > 0) got.append(buf, static_cast<size_t>(n));
    return got;
  }
};

TEST(SysSeam, BufferFlushSurvivesEintrAndShortWrites) {
  SocketPair p;
  Buffer buf;
  buf.append("hello, interrupted world");
  ScopedSend inject(stingy_send);
  long n = buf.flush_to(p.a);
  EXPECT_EQ(n, 24);
  EXPECT_TRUE(buf.empty());
  EXPECT_EQ(p.drain(), "hello, interrupted world");
}

TEST(SysSeam, BufferFlushKeepsBytesOnEagain) {
  SocketPair p;
  Buffer buf;
  buf.append("later");
  {
    ScopedSend inject(full_send);
    EXPECT_EQ(buf.flush_to(p.a), 0);
    EXPECT_EQ(buf.view(), "later");  // nothing lost: retried when writable
  }
  EXPECT_EQ(buf.flush_to(p.a), 5);
  EXPECT_EQ(p.drain(), "later");
}

TEST(SysSeam, BufferFlushReportsConnectionReset) {
  SocketPair p;
  Buffer buf;
  buf.append("x");
  ScopedSend inject(reset_send);
  EXPECT_EQ(buf.flush_to(p.a), -ECONNRESET);
}

// A whole echo server whose every send is short and every other one interrupted still returns
// every byte in order, under each model that writes through the seam.
class SeamEcho : public ::testing::TestWithParam<std::string> {};

TEST_P(SeamEcho, ShortWritesAndEintrLoseNothing) {
  EchoService service(true);
  std::mt19937 rng(7);
  std::string payload(20000, '\0');
  for (auto& c : payload) c = static_cast<char>(rng());
  ScopedSend inject(stingy_send);  // installed before the server thread starts, removed after it ends
  std::string got;
  {
    test::InProcessServer server(GetParam(), service);
    test::TestClient client(server.port());
    client.send_in_pieces(payload, 1000);
    got = client.recv_exact(payload.size(), std::chrono::milliseconds(10000));
  }
  EXPECT_EQ(got.size(), payload.size());
  EXPECT_TRUE(got == payload);
}

// The models that write with send(2) in this process (not the forking ones, not io_uring's ring).
std::vector<std::string> seam_models() {
  return model_names([](const ModelInfo& m) { return !m.forks && !m.completion_io; });
}

INSTANTIATE_TEST_SUITE_P(Models, SeamEcho, ::testing::ValuesIn(seam_models()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace concur
