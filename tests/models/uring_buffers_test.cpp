// The uring model's provided-buffer ring running dry (issue 14: at 10,000 connections 2,048
// buffers ran out and multishot recvs ended with ENOBUFS). CONCUR_URING_BUFFERS shrinks the ring
// to two 64-byte buffers so that 64 clients sending at once provoke the same shortage in
// milliseconds: every byte must still be echoed, in order, to the right client.
#include <gtest/gtest.h>

#include <cstdlib>

#include "models/uring/buffer_ring.hpp"
#include "services/echo.hpp"
#include "support/model_available.hpp"
#include "support/model_server.hpp"
#include "support/net.hpp"

namespace concur::test {
namespace {

using namespace std::chrono_literals;

// GetParam(): the ring's shape (CONCUR_URING_BUFFERS): incremental buffers where the kernel has
// them (6.12+), and whole buffers as on older kernels.
class UringBuffers : public ::testing::TestWithParam<const char*> {};

TEST_P(UringBuffers, RingRunningDryLosesNoBytesAndEveryRecvComesBack) {
  SKIP_IF_MODEL_UNAVAILABLE("uring");
  ::setenv("CONCUR_URING_BUFFERS", GetParam(), 1);  // read when the server's loop starts
  EchoService echo(true);
  ModelServer server("uring", echo, {"echo-server", "--quiet"});
  std::vector<TestClient> clients;
  std::string got;
  try {
    clients.emplace_back(server.port());
    clients[0].send_all("probe");
    got = clients[0].recv_exact(5, 5s);
  } catch (const std::exception& e) {
    got = std::string("<") + e.what() + ">";
  }
  ::unsetenv("CONCUR_URING_BUFFERS");
  ASSERT_EQ(got, "probe") << "uring with a " << GetParam() << " buffer ring does not echo; " << server.describe();

  constexpr int kClients = 64;
  constexpr size_t kBytes = 2000;  // 32 full buffers' worth per client, all in flight at once
  uint64_t shortages_before = uring_buffer_shortages();
  for (int i = 1; i < kClients; ++i) clients.emplace_back(server.port());
  std::vector<std::string> payloads;
  for (int i = 0; i < kClients; ++i) {
    payloads.push_back(random_bytes(kBytes, static_cast<uint32_t>(i + 1)));
    clients[i].send_all(payloads.back());  // fits the socket buffers: no reader needed yet
  }
  for (int i = 0; i < kClients; ++i) EXPECT_EQ(clients[i].recv_exact(kBytes, 5s), payloads[i]) << "client " << i;
  EXPECT_GT(uring_buffer_shortages(), shortages_before) << "the tiny ring never ran dry: the test proves nothing";
  // Recvs re-armed after the shortage keep working: a second round trip on every connection.
  for (int i = 0; i < kClients; ++i) clients[i].send_all("again");
  for (int i = 0; i < kClients; ++i) EXPECT_EQ(clients[i].recv_exact(5, 5s), "again") << "client " << i;
}

INSTANTIATE_TEST_SUITE_P(Shapes, UringBuffers, ::testing::Values("2x64", "2x64whole"),
                         [](const auto& info) { return std::string(info.param).find("whole") != std::string::npos ? "whole" : "incremental"; });

}  // namespace
}  // namespace concur::test
