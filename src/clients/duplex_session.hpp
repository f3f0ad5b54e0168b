#pragma once
// A full-duplex terminal session over one socket, shared by `pair-chat` and `chat-client`:
// input lines go out while received messages are printed, in one EventLoop (poll backend) over
// the input, the socket and the stop eventfd — neither direction ever waits for the other. Input and output go
// through a SessionIo: plain lines (PipeIo), or a line editor on a terminal (TerminalEditor),
// which prints received text above the line being typed.
//
// - The socket is non-blocking; outgoing bytes wait in a queue and stdin is not read while the
//   queue holds more than max_queue bytes, so a peer that does not read stalls only our input,
//   never our printing (no write-write deadlock between two sessions).
// - Received text: TCP lines are printed as they complete; an unterminated tail (the seed's
//   Python peers send no newline) is printed after `partial_quiet`. UDP: one datagram, one
//   message. Every message goes through escape_for_terminal (RELIABILITY #6).
// - What an input line sends, and what end of input does, is the command's choice (Action).
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "clients/session_io.hpp"
#include "clients/received_text.hpp"
#include "core/duration.hpp"
#include "core/endpoint.hpp"
#include "core/fd.hpp"
#include "core/socket.hpp"
#include "core/stop.hpp"
#include "loop/event_loop.hpp"
#include "tls/tls_stream.hpp"

namespace concur {

struct SessionAction {
  enum class Then {
    stay,        // keep going
    half_close,  // once the queue is sent: shutdown(SHUT_WR), keep printing until the peer closes
    leave,       // once the queue is sent (bounded wait): close and end the session
  };
  bool send = false;
  std::string payload;  // TCP: bytes; UDP: one datagram
  std::string echo;     // printed on stdout when not empty (e.g. "-> hello")
  Then then = Then::stay;
};

struct SessionOptions {
  Transport transport = Transport::tcp;
  Endpoint peer;                 // for messages
  std::string recv_prefix;       // printed before every received message ("<- ")
  std::string closed_line;       // printed when the peer closes the connection ("peer left")
  // Applied to each received message after escaping (colours on a terminal); none: unchanged.
  std::function<std::string(std::string)> decorate;
  std::string farewell;          // sent best-effort on SIGINT/SIGTERM (e.g. "[ID]quit")
  size_t max_input_line = 65535; // longer input lines are refused with a note on stderr
  size_t max_queue = 1 << 20;    // stop reading input while more than this waits to be sent
  Millis partial_quiet{50};      // an unterminated received tail is printed after this
  Millis leave_wait{1000};       // leaving: how long to wait for the queue to drain / the peer to close
};

class DuplexSession {
 public:
  using LineHandler = std::function<SessionAction(std::string_view line)>;
  using EofHandler = std::function<SessionAction()>;

  // `sock` is a connected TCP or UDP socket (made non-blocking here).
  DuplexSession(FileDesc sock, SessionIo& io, SessionOptions opts, LineHandler on_line, EofHandler on_eof,
                StopSource& stop);

  // The TCP socket speaks TLS through `s` (its handshake is over: start_client_tls).
  void use_tls(std::unique_ptr<tls::Stream> s) { tls_ = std::move(s); }

  // Queues bytes (TCP) or one datagram (UDP) to send first, e.g. the join message.
  void queue(std::string payload);

  // Runs until the peer closes, an action leaves, or stop is requested. Returns the exit code
  // (0). Throws SysError when a UDP peer was never reachable ("cannot connect to …").
  int run();

 private:
  enum class State { open, half_closing, half_closed, leaving, shut_leaving };

  void advance();  // the work that needs no waiting; sets the loop's interests and timers
  void finish();   // the session is over: leave the loop
  void apply(SessionAction a);
  bool flush_queue();  // false: the peer is gone (message printed)
  // Reads what is there. Returns false when the session is over.
  bool read_socket();
  void print_message(std::string_view text);
  void peer_gone(int err);
  void send_farewell();
  // The socket's recv()/send() (or TLS's), and the end of our sending (close_notify first).
  ssize_t recv_some(char* buf, size_t cap);
  ssize_t send_some(const char* data, size_t n);
  void shut_write();

  FileDesc sock_;
  std::unique_ptr<tls::Stream> tls_;  // declared after sock_: gone before the socket closes
  SessionIo& io_;
  SessionOptions o_;
  LineHandler on_line_;
  EofHandler on_eof_;
  StopSource& stop_;

  std::deque<std::string> out_;
  size_t out_front_off_ = 0;  // bytes of out_.front() already sent (TCP)
  size_t out_bytes_ = 0;
  StreamText text_;
  bool tail_timer_ = false;
  std::chrono::steady_clock::time_point tail_due_{};
  std::chrono::steady_clock::time_point leave_due_{};
  State state_ = State::open;
  bool input_done_ = false;
  bool got_datagram_ = false;
  bool done_ = false;
  EventLoop* loop_ = nullptr;  // while run() runs
  bool input_watched_ = false;
  std::optional<EventLoop::TimerId> tail_timer_id_, leave_timer_id_;
};

}  // namespace concur
