#include "support/ws_client.hpp"

#include <chrono>
#include <random>

namespace concur::test {

std::string http_exchange(int port, const std::string& request, Ms timeout) {
  TestClient c(port);
  c.send_all(request);
  return c.recv_until_eof(timeout).value_or("");
}

std::string http_get(int port, const std::string& target, Ms timeout) {
  return http_exchange(port, "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) + "\r\n\r\n",
                       timeout);
}

WsClient::WsClient(int port, const std::string& path, const std::string& origin) : conn_(port) {
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                    "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
  if (!origin.empty()) req += "Origin: " + origin + "\r\n";
  conn_.send_all(req + "\r\n");
  auto deadline = std::chrono::steady_clock::now() + Ms(5000);
  while (buf_.find("\r\n\r\n") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    std::string more = conn_.recv_some(Ms(1000));
    if (more.empty()) break;
    buf_ += more;
  }
  size_t end = buf_.find("\r\n\r\n");
  if (end == std::string::npos) return;
  answer_ = buf_.substr(0, end + 4);
  buf_.erase(0, end + 4);
  ok_ = answer_.rfind("HTTP/1.1 101 ", 0) == 0 &&
        answer_.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") != std::string::npos;
}

void WsClient::send_frame(uint8_t opcode, std::string_view payload, bool fin) {
  static thread_local std::mt19937 rng(12345);
  std::string f;
  f.push_back(static_cast<char>((fin ? 0x80 : 0) | opcode));
  size_t n = payload.size();
  if (n < 126) {
    f.push_back(static_cast<char>(0x80 | n));
  } else if (n <= 0xffff) {
    f.push_back(static_cast<char>(0x80 | 126));
    f.push_back(static_cast<char>(n >> 8));
    f.push_back(static_cast<char>(n & 0xff));
  } else {
    f.push_back(static_cast<char>(0x80 | 127));
    for (int i = 7; i >= 0; --i) f.push_back(static_cast<char>((static_cast<uint64_t>(n) >> (i * 8)) & 0xff));
  }
  char mask[4];
  for (char& m : mask) m = static_cast<char>(rng());
  f.append(mask, 4);
  for (size_t i = 0; i < n; ++i) f.push_back(static_cast<char>(payload[i] ^ mask[i % 4]));
  conn_.send_all(f);
}

void WsClient::send_text(std::string_view text) { send_frame(1, text); }

std::optional<std::pair<uint8_t, std::string>> WsClient::recv_frame(Ms timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (buf_.size() >= 2) {
      auto b = [&](size_t i) { return static_cast<uint8_t>(buf_[i]); };
      uint8_t opcode = b(0) & 0x0f;
      uint64_t len = b(1) & 0x7f;
      size_t head = 2;
      if (len == 126 && buf_.size() >= 4) len = (uint64_t{b(2)} << 8) | b(3), head = 4;
      else if (len == 127 && buf_.size() >= 10) {
        len = 0;
        for (int i = 0; i < 8; ++i) len = (len << 8) | b(2 + i);
        head = 10;
      }
      bool head_ok = !((b(1) & 0x7f) == 126 && head != 4) && !((b(1) & 0x7f) == 127 && head != 10);
      if (head_ok && buf_.size() >= head + len) {
        std::string payload = buf_.substr(head, len);
        buf_.erase(0, head + len);
        return std::make_pair(opcode, std::move(payload));
      }
    }
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return std::nullopt;
    std::string more = conn_.recv_some(std::chrono::duration_cast<Ms>(deadline - now));
    if (more.empty()) return std::nullopt;
    buf_ += more;
  }
}

bool WsClient::sync(Ms timeout) {
  send_frame(9, "sync");
  while (auto f = recv_frame(timeout)) {
    if (f->first == 10 && f->second == "sync") return true;
    if (f->first == 1) pending_text_.push_back(std::move(f->second));
  }
  return false;
}

std::optional<std::string> WsClient::recv_text(Ms timeout) {
  if (!pending_text_.empty()) {
    std::string t = std::move(pending_text_.front());
    pending_text_.erase(pending_text_.begin());
    return t;
  }
  for (;;) {
    auto f = recv_frame(timeout);
    if (!f) return std::nullopt;
    if (f->first == 1) return std::move(f->second);
    if (f->first == 8) {
      const std::string& p = f->second;
      close_code_ = p.size() >= 2 ? static_cast<uint16_t>((static_cast<uint8_t>(p[0]) << 8) | static_cast<uint8_t>(p[1])) : 1005;
      send_frame(8, p.substr(0, 2));  // answer the close, as a browser does
      return std::nullopt;
    }
  }
}

}  // namespace concur::test
