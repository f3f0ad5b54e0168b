#pragma once
// A minimal WebSocket client for tests (RFC 6455): the handshake, masked text frames out, frames
// in. Independent of the server's code (no wslay), so the two check each other.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "support/net.hpp"

namespace concur::test {

// Sends `request` (a whole HTTP request) and returns everything the server answers before it closes.
std::string http_exchange(int port, const std::string& request, Ms timeout = Ms(5000));
// GET `target` with a Host header; the whole answer.
std::string http_get(int port, const std::string& target, Ms timeout = Ms(5000));

class WsClient {
 public:
  // Connects and upgrades at `path`; `origin` empty sends no Origin header. Check ok() / answer().
  explicit WsClient(int port, const std::string& path = "/ws", const std::string& origin = {});
  bool ok() const { return ok_; }
  const std::string& answer() const { return answer_; }  // the server's handshake answer head

  void send_text(std::string_view text);
  void send_frame(uint8_t opcode, std::string_view payload, bool fin = true);
  // The next text message; nullopt on timeout, or when the server closed (then close_code() is set).
  std::optional<std::string> recv_text(Ms timeout = Ms(5000));
  // The next frame of any kind: {opcode, payload}.
  std::optional<std::pair<uint8_t, std::string>> recv_frame(Ms timeout = Ms(5000));
  // Ping, and wait for the pong: everything sent before it has been handled by the server (its
  // reads are in order), e.g. a join has been relayed to the members already in the room.
  bool sync(Ms timeout = Ms(5000));
  std::optional<uint16_t> close_code() const { return close_code_; }
  int fd() const { return conn_.fd(); }

 private:
  TestClient conn_;
  std::string buf_;
  std::vector<std::string> pending_text_;  // text frames that arrived while sync() waited
  std::string answer_;
  bool ok_ = false;
  std::optional<uint16_t> close_code_;
};

}  // namespace concur::test
