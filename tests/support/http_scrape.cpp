#include "support/http_scrape.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <sstream>
#include <thread>

#include "support/net.hpp"

namespace concur::test {

HttpReply http_fetch(int port, const std::string& path, Ms timeout) {
  HttpReply reply;
  TestClient c(port);
  c.send_all("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  auto raw = c.recv_until_eof(timeout);
  if (!raw) return reply;
  // "HTTP/1.1 200 OK\r\n…\r\n\r\nbody"
  if (raw->rfind("HTTP/1.1 ", 0) != 0 || raw->size() < 12) return reply;
  reply.status = std::stoi(raw->substr(9, 3));
  if (auto end = raw->find("\r\n\r\n"); end != std::string::npos) reply.body = raw->substr(end + 4);
  return reply;
}

int wait_metrics_port(Process& proc, Ms timeout) {
  auto line = proc.wait_for_line("metrics on ", timeout);
  if (!line) return 0;
  auto colon = line->rfind(':');
  return colon == std::string::npos ? 0 : std::stoi(line->substr(colon + 1));
}

std::optional<double> sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 && line[series.size()] == ' ')
      return std::stod(line.substr(series.size() + 1));
  }
  return std::nullopt;
}

std::optional<double> wait_sample(int port, const std::string& series, const std::function<bool(double)>& want,
                                  Ms timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::optional<double> last;
  for (;;) {
    HttpReply r = http_fetch(port, "/metrics");
    if (r.status == 200) last = sample(r.body, series);
    if (last && want(*last)) return last;
    if (std::chrono::steady_clock::now() >= deadline) return last;
    std::this_thread::sleep_for(Ms(50));
  }
}

}  // namespace concur::test
