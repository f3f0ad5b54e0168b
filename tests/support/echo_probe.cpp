#include "support/echo_probe.hpp"

#include "support/net.hpp"

namespace concur::test {

bool echoes(int port, const std::string& msg, Ms timeout) {
  try {
    TestClient c(port);
    c.send_all(msg);
    return c.recv_exact(msg.size(), timeout) == msg;
  } catch (const std::exception&) {
    return false;
  }
}

::testing::AssertionResult serves_echo(Server& server) {
  if (echoes(server.port, "probe")) return ::testing::AssertionSuccess();
  std::optional<int> status = server.proc.wait(Ms(300));  // one that is dying has its status in a moment
  return ::testing::AssertionFailure() << "the server does not echo a probe ("
                                       << (status ? "it exited with status " + std::to_string(*status) : "still running")
                                       << "); stderr: " << server.proc.read_all_stderr(Ms(300));
}

}  // namespace concur::test
