// Redis pub/sub as the peer of a chat room: every member SUBSCRIBEs to "room" on its receiving
// connection; senders PUBLISH on a second one (a subscribed connection cannot publish).
#include <cstdlib>
#include <optional>
#include <vector>

#include "bench/chat_codec.hpp"
#include "core/error.hpp"
#include "core/log.hpp"

namespace concur {

std::unique_ptr<ChatCodec> make_resp_codec();

namespace {

// Extracts complete RESP frames of the form *N followed by N bulk strings or integers. Calls
// on_push with the elements of each array; returns bytes consumed. Integers (":n") at top level
// (PUBLISH replies) are consumed and ignored.
template <typename F>
size_t parse_resp(std::string_view buf, F&& on_push) {
  size_t pos = 0;
  for (;;) {
    size_t p = pos;
    if (p >= buf.size()) return pos;
    auto read_line = [&](size_t& at) -> std::optional<std::string_view> {
      auto e = buf.find("\r\n", at);
      if (e == std::string_view::npos) return std::nullopt;
      std::string_view l = buf.substr(at, e - at);
      at = e + 2;
      return l;
    };
    char kind = buf[p];
    if (kind == ':' || kind == '+' || kind == '-') {
      if (!read_line(p)) return pos;
      pos = p;
      continue;
    }
    if (kind != '*') throw SysError("unexpected reply from redis", EPROTO);
    auto head = read_line(p);
    if (!head) return pos;
    int n = std::atoi(std::string(head->substr(1)).c_str());
    std::vector<std::string_view> items;
    for (int i = 0; i < n; ++i) {
      if (p >= buf.size()) return pos;
      if (buf[p] == ':') {
        auto l = read_line(p);
        if (!l) return pos;
        items.push_back(l->substr(1));
        continue;
      }
      auto l = read_line(p);
      if (!l) return pos;
      size_t len = static_cast<size_t>(std::atoll(std::string(l->substr(1)).c_str()));
      if (p + len + 2 > buf.size()) return pos;
      items.push_back(buf.substr(p, len));
      p += len + 2;
    }
    on_push(items);
    pos = p;
  }
}

class RespCodec final : public ChatCodec {
 public:
  std::string mode() const override { return "chat (redis pub/sub)"; }
  bool sends_on_tx() const override { return true; }
  size_t body_size(size_t size) const override { return size; }
  // SUBSCRIBE is all the receiving connection ever sends: written at once.
  bool join(ChatLoadMember& x, int, const Endpoint&) override {
    x.out.append("*2\r\n$9\r\nSUBSCRIBE\r\n$4\r\nroom\r\n");
    x.out.flush_to(x.rx.fd());
    x.out.clear();
    return false;  // ready once the subscribe reply arrives
  }
  void message(ChatLoadMember& x, int, std::string_view body) override {
    x.out.append(fmt::format("*3\r\n$7\r\nPUBLISH\r\n$4\r\nroom\r\n${}\r\n{}\r\n", body.size(), body));
  }
  void take(ChatLoadMember& x, int, const Events& ev) override {
    size_t used = parse_resp(x.in, [&](const std::vector<std::string_view>& items) {
      if (items.size() == 3 && items[0] == "message") ev.delivered(items[2]);
      else if (items.size() == 3 && items[0] == "subscribe") ev.ready();
    });
    x.in.erase(0, used);
  }
  void take_tx(ChatLoadMember& x) override { x.tx_in.erase(0, parse_resp(x.tx_in, [](auto&) {})); }
};

}  // namespace

std::unique_ptr<ChatCodec> make_resp_codec() { return std::make_unique<RespCodec>(); }

}  // namespace concur
