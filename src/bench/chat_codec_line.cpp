// concur chat-server over TCP: a member joins with "[m<i>]\n" and sends "[m<i>]<text>\n"; what it
// receives is lines (SPEC §3 chat-server). Also: the codec table (make_chat_codec).
#include <cstdlib>

#include "bench/chat_codec.hpp"
#include "core/error.hpp"
#include "core/log.hpp"

namespace concur {

std::unique_ptr<ChatCodec> make_line_codec();
std::unique_ptr<ChatCodec> make_ws_codec();
std::unique_ptr<ChatCodec> make_resp_codec();

std::unique_ptr<ChatCodec> make_chat_codec(const std::string& target) {
  if (target == "concur") return make_line_codec();
  if (target == "web") return make_ws_codec();
  if (target == "redis") return make_resp_codec();
  throw UsageError("--target: expected concur, web or redis, got '" + target + "'");
}

void take_chat_message(int i, std::string_view message, const ChatCodec::Events& ev) {
  if (message.rfind("error:", 0) == 0) throw SysError(fmt::format("member {} got '{}'", i, message), EPROTO);
  auto rb = message.find(']');
  if (rb == std::string_view::npos) return;
  std::string_view id = message.substr(1, rb - 1), text = message.substr(rb + 1);
  if (text.empty() && i == 0 && id.size() > 1) ev.joined(std::atoi(std::string(id.substr(1)).c_str()));
  ev.delivered(text);
}

namespace {

class LineCodec final : public ChatCodec {
 public:
  std::string mode() const override { return "chat (concur chat-server)"; }
  bool join(ChatLoadMember& x, int i, const Endpoint&) override {
    x.out.append(fmt::format("[m{}]\n", i));
    return i == 0;  // the observer joins first: nobody's join notice tells it is in
  }
  void message(ChatLoadMember& x, int i, std::string_view body) override { x.out.append(fmt::format("[m{}]{}\n", i, body)); }
  void take(ChatLoadMember& x, int i, const Events& ev) override {
    size_t start = 0, nl;
    while ((nl = x.in.find('\n', start)) != std::string::npos) {
      std::string_view line(x.in.data() + start, nl - start);
      start = nl + 1;
      take_chat_message(i, line, ev);
    }
    x.in.erase(0, start);
  }
};

}  // namespace

std::unique_ptr<ChatCodec> make_line_codec() { return std::make_unique<LineCodec>(); }

}  // namespace concur
