#pragma once
// How `concur bench chat` members speak to a target, one codec per target: concur chat-server's
// lines (chat_codec_line.cpp), the same room over WebSocket (--target web, chat_codec_ws.cpp) and
// Redis pub/sub (--target redis, chat_codec_resp.cpp). The load loop (chat_load.cpp) is the same
// for all: it connects, joins, paces the senders and measures; a codec only frames and parses.
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "bench/load_link.hpp"
#include "core/buffer.hpp"
#include "core/endpoint.hpp"
#include "core/fd.hpp"

namespace concur {

struct ChatLoadMember {
  LoadLink rx;            // receives deliveries (concur: the member's socket, plain or TLS; redis: its SUBSCRIBE socket)
  FileDesc tx;            // redis senders only: the PUBLISH socket (a subscriber cannot publish)
  Buffer out;             // pending bytes for the socket that sends (rx for concur, tx for redis)
  std::string in;         // unparsed received bytes on rx
  std::string tx_in;      // unparsed replies on tx (redis)
  int inflight = 0;
  bool want_out = false;
  bool ready = false;     // joined (concur) / subscribed (redis)
  bool upgrading = false; // web: the HTTP 101 answer has not arrived yet
};

class ChatCodec {
 public:
  virtual ~ChatCodec() = default;
  // What a report calls the run ("chat (redis pub/sub)").
  virtual std::string mode() const = 0;
  // Senders publish on a second connection (a Redis subscriber cannot publish).
  virtual bool sends_on_tx() const { return false; }
  // The payload size for a message of `size` bytes on the wire (a line's newline is one of them).
  virtual size_t body_size(size_t size) const { return size > 0 ? size - 1 : 0; }

  // What arriving on a member's receiving connection means for the load loop.
  struct Events {
    std::function<void(std::string_view payload)> delivered;  // a message's payload (or a join's: empty)
    std::function<void(int member)> joined;                   // the observer saw member's join
    std::function<void()> ready;                              // this member may be counted as joined
  };

  // Appends what member `i` sends to join once connected to `to` (into x.out, or written now
  // when nothing else is sent on that connection). True when the member is ready at once.
  virtual bool join(ChatLoadMember& x, int i, const Endpoint& to) = 0;
  // Appends one message from member `i` carrying `body` to x.out.
  virtual void message(ChatLoadMember& x, int i, std::string_view body) = 0;
  // Parses x.in (received on rx by member `i`), calling `ev`; erases what it used.
  virtual void take(ChatLoadMember& x, int i, const Events& ev) = 0;
  // Parses x.tx_in (replies on tx); erases what it used.
  virtual void take_tx(ChatLoadMember& x) { x.tx_in.clear(); }
};

// "concur" (the default), "web" or "redis"; anything else is a UsageError naming --target.
std::unique_ptr<ChatCodec> make_chat_codec(const std::string& target);

// concur chat-server's own framing, shared by the line and WebSocket codecs: `[m<i>]<text>` where
// a text-less message is a join notice (seen by the observer, member 0). Throws on `error: …`.
void take_chat_message(int i, std::string_view message, const ChatCodec::Events& ev);

}  // namespace concur
