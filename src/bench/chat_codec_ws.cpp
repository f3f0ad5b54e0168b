// concur chat-server --web: members over WebSocket (RFC 6455), the same room and messages as
// the line codec, one text frame per message.
#include <cstdint>

#include "bench/chat_codec.hpp"
#include "core/error.hpp"
#include "core/log.hpp"

namespace concur {

std::unique_ptr<ChatCodec> make_ws_codec();

namespace {

// A client WebSocket text frame (RFC 6455 §5.2). The mask key is zero: still a valid masked
// frame for the server (which must unmask), without spending the load generator's CPU on XOR.
void append_ws_frame(Buffer& out, std::string_view payload) {
  char head[14];
  size_t n = payload.size(), h = 0;
  head[h++] = static_cast<char>(0x81);
  if (n < 126) {
    head[h++] = static_cast<char>(0x80 | n);
  } else if (n <= 0xffff) {
    head[h++] = static_cast<char>(0x80 | 126);
    head[h++] = static_cast<char>(n >> 8);
    head[h++] = static_cast<char>(n & 0xff);
  } else {
    head[h++] = static_cast<char>(0x80 | 127);
    for (int i = 7; i >= 0; --i) head[h++] = static_cast<char>((static_cast<uint64_t>(n) >> (i * 8)) & 0xff);
  }
  for (int i = 0; i < 4; ++i) head[h++] = 0;
  out.append(std::string_view(head, h));
  out.append(payload);
}

// Takes whole server frames (unmasked) from `in`, calling on_text for each text payload; returns
// bytes consumed.
template <typename F>
size_t take_ws_frames(std::string_view in, F&& on_text) {
  size_t pos = 0;
  for (;;) {
    if (in.size() - pos < 2) return pos;
    auto b = [&](size_t i) { return static_cast<uint8_t>(in[pos + i]); };
    uint64_t len = b(1) & 0x7f;
    size_t head = 2;
    if (len == 126) {
      if (in.size() - pos < 4) return pos;
      len = (uint64_t{b(2)} << 8) | b(3);
      head = 4;
    } else if (len == 127) {
      if (in.size() - pos < 10) return pos;
      len = 0;
      for (int i = 0; i < 8; ++i) len = (len << 8) | b(2 + i);
      head = 10;
    }
    if (in.size() - pos - head < len) return pos;
    if ((b(0) & 0x0f) == 1) on_text(in.substr(pos + head, len));
    else if ((b(0) & 0x0f) == 8) throw SysError("the server closed a WebSocket member", ECONNRESET);
    pos += head + len;
  }
}

class WsCodec final : public ChatCodec {
 public:
  std::string mode() const override { return "chat (concur chat-server, WebSocket)"; }
  // The upgrade and the join in one write: the server takes the bytes after the head.
  bool join(ChatLoadMember& x, int i, const Endpoint& to) override {
    x.out.append(fmt::format("GET /ws HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                             "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
                             to.to_string()));
    append_ws_frame(x.out, fmt::format("[m{}]", i));
    x.upgrading = true;
    return i == 0;
  }
  void message(ChatLoadMember& x, int i, std::string_view body) override {
    append_ws_frame(x.out, fmt::format("[m{}]{}", i, body));
  }
  void take(ChatLoadMember& x, int i, const Events& ev) override {
    if (x.upgrading) {
      size_t end = x.in.find("\r\n\r\n");
      if (end == std::string::npos) return;
      if (x.in.rfind("HTTP/1.1 101 ", 0) != 0)
        throw SysError(fmt::format("member {}: no WebSocket upgrade: {}", i, x.in.substr(0, x.in.find('\r'))), EPROTO);
      x.in.erase(0, end + 4);
      x.upgrading = false;
    }
    x.in.erase(0, take_ws_frames(x.in, [&](std::string_view text) { take_chat_message(i, text, ev); }));
  }
};

}  // namespace

std::unique_ptr<ChatCodec> make_ws_codec() { return std::make_unique<WsCodec>(); }

}  // namespace concur
