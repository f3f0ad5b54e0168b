#include "clients/duplex_session.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/error.hpp"
#include "core/log.hpp"
#include "core/sys.hpp"
#include "loop/event_loop.hpp"

namespace concur {

namespace {
using Clock = std::chrono::steady_clock;

bool would_block(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS; }
}  // namespace

DuplexSession::DuplexSession(FileDesc sock, SessionIo& io, SessionOptions opts, LineHandler on_line,
                             EofHandler on_eof, StopSource& stop)
    : sock_(std::move(sock)),
      io_(io),
      o_(std::move(opts)),
      on_line_(std::move(on_line)),
      on_eof_(std::move(on_eof)),
      stop_(stop) {
  set_nonblocking(sock_.get());
}

void DuplexSession::queue(std::string payload) {
  out_bytes_ += payload.size();
  out_.push_back(std::move(payload));
}

void DuplexSession::print_message(std::string_view text) {
  std::string line = o_.recv_prefix + escape_for_terminal(text);
  io_.print(o_.decorate ? o_.decorate(std::move(line)) : line);
}

void DuplexSession::apply(SessionAction a) {
  if (!a.echo.empty()) io_.print(a.echo);
  if (a.send) queue(std::move(a.payload));
  using Then = SessionAction::Then;
  if (a.then == Then::half_close && o_.transport == Transport::tcp) {
    state_ = State::half_closing;
  } else if (a.then != Then::stay) {
    state_ = State::leaving;
    leave_due_ = Clock::now() + o_.leave_wait;
  }
}

void DuplexSession::peer_gone(int err) {
  text_.flush([this](std::string_view t) { print_message(t); });
  tail_timer_ = false;
  done_ = true;
  if (state_ == State::leaving || state_ == State::shut_leaving) return;  // we said goodbye first
  if (err == EPROTO && tls_) io_.print(o_.closed_line + " (tls: " + tls_->failure() + ")");
  else if (err) io_.print(o_.closed_line + " (" + std::strerror(err) + ")");
  else io_.print(o_.closed_line);
}

ssize_t DuplexSession::recv_some(char* buf, size_t cap) {
  return tls_ ? tls_->read(buf, cap) : sys::recv(sock_.get(), buf, cap, 0);
}

ssize_t DuplexSession::send_some(const char* data, size_t n) {
  if (!tls_) return sys::send(sock_.get(), data, n, MSG_NOSIGNAL);
  long w = tls_->write(std::string_view(data, n));
  if (w == 0) {
    errno = EAGAIN;  // TLS's "would block" (the socket, or a post-handshake message to read)
    return -1;
  }
  return w;
}

void DuplexSession::shut_write() {
  if (tls_) tls_->close_notify();
  ::shutdown(sock_.get(), SHUT_WR);
}

bool DuplexSession::read_socket() {
  char buf[65536];
  const bool udp = o_.transport == Transport::udp;
  auto print = [this](std::string_view t) { print_message(t); };
  for (int round = 0; round < 16; ++round) {  // bounded, so input keeps its turn under a flood
    ssize_t r = recv_some(buf, sizeof buf);
    if (r > 0 || (r == 0 && udp)) {
      std::string_view got(buf, static_cast<size_t>(r));
      if (udp) {
        got_datagram_ = true;
        split_datagram(got, print);
        continue;
      }
      text_.feed(got, print);
      if (!text_.has_pending()) {
        tail_timer_ = false;
      } else if (!tail_timer_) {
        tail_timer_ = true;
        tail_due_ = Clock::now() + o_.partial_quiet;
      }
      continue;
    }
    if (r == 0) {
      peer_gone(0);
      return false;
    }
    int err = errno;
    if (err == EINTR) continue;
    if (would_block(err)) return true;
    if (udp && err == ECONNREFUSED && !got_datagram_) throw SysError("cannot connect to " + o_.peer.to_string(), err);
    peer_gone(err);
    return false;
  }
  return true;
}

bool DuplexSession::flush_queue() {
  const bool udp = o_.transport == Transport::udp;
  while (!out_.empty()) {
    std::string& front = out_.front();
    ssize_t r = udp ? sys::send(sock_.get(), front.data(), front.size(), MSG_NOSIGNAL)
                    : send_some(front.data() + out_front_off_, front.size() - out_front_off_);
    if (r >= 0) {
      size_t sent = udp ? front.size() : static_cast<size_t>(r);
      out_front_off_ += sent;
      out_bytes_ -= sent;
      if (out_front_off_ >= front.size()) {
        out_.pop_front();
        out_front_off_ = 0;
      }
      continue;
    }
    int err = errno;
    if (err == EINTR) continue;
    if (would_block(err)) return true;
    if (udp && err == EMSGSIZE) {
      io_.print_error(fmt::format("concur: a message of {} bytes does not fit in one datagram; not sent", front.size()));
      out_bytes_ -= front.size();
      out_.pop_front();
      continue;
    }
    if (udp && err == ECONNREFUSED && !got_datagram_) throw SysError("cannot connect to " + o_.peer.to_string(), err);
    // The peer is gone. What it sent before leaving may still wait in our receive buffer.
    if (!udp && !read_socket()) return false;
    peer_gone(err);
    return false;
  }
  return true;
}

void DuplexSession::send_farewell() {
  if (o_.farewell.empty()) return;
  if (state_ == State::half_closed || state_ == State::shut_leaving) return;
  try {
    if (o_.transport == Transport::tcp && (!flush_queue() || !out_.empty())) return;  // never mid-line
    [[maybe_unused]] ssize_t r = send_some(o_.farewell.data(), o_.farewell.size());
  } catch (const SysError&) {
    // leaving anyway
  }
}

// One pass over everything that does not wait: buffered input lines, end of input, the send
// queue, the leave and tail deadlines; then the loop's interest in the socket and the input, and
// the timers, are set to match. Called after every callback, so the order of work is the one
// the poll() loop had.
void DuplexSession::advance() {
  if (done_) return;
  // Input already buffered (typed ahead, or held back while the queue was full).
  while (state_ == State::open && out_bytes_ <= o_.max_queue) {
    auto line = io_.next_line();
    if (!line) break;
    if (line->too_long || line->text.size() > o_.max_input_line) {
      io_.print_error(fmt::format("concur: input line too long (max {} bytes); not sent", o_.max_input_line));
      continue;
    }
    apply(on_line_(line->text));
  }
  if (state_ == State::open && io_.eof() && !input_done_ && out_bytes_ <= o_.max_queue) {
    input_done_ = true;
    apply(on_eof_());
  }
  if (!out_.empty() && !flush_queue()) return finish();

  auto now = Clock::now();
  if (out_.empty() && state_ == State::half_closing) {
    shut_write();
    state_ = State::half_closed;
  }
  if (state_ == State::leaving && (out_.empty() || now >= leave_due_)) {
    if (o_.transport == Transport::udp || !out_.empty()) return finish();
    shut_write();  // then wait (bounded) for the peer to close
    state_ = State::shut_leaving;
    leave_due_ = now + o_.leave_wait;
  }
  if (state_ == State::shut_leaving && now >= leave_due_) return finish();
  if (tail_timer_ && now >= tail_due_) {
    if (!read_socket()) return finish();  // bytes that raced the timer join their line first
    if (tail_timer_ && Clock::now() >= tail_due_) {
      tail_timer_ = false;
      text_.flush([this](std::string_view t) { print_message(t); });
    }
  }

  loop_->modify(sock_.get(), true, !out_.empty());
  const bool want_input = state_ == State::open && !input_done_ && !io_.eof() && out_bytes_ <= o_.max_queue;
  if (want_input) io_.want_input();
  if (input_watched_) loop_->modify(io_.input_fd(), want_input, false);
  auto arm = [this](std::optional<EventLoop::TimerId>& id, Clock::time_point due) {
    if (id) loop_->cancel_timer(*id);
    id = loop_->run_at(due, [this] { advance(); });
  };
  if (tail_timer_) arm(tail_timer_id_, tail_due_);
  if (state_ == State::leaving || state_ == State::shut_leaving) arm(leave_timer_id_, leave_due_);
}

void DuplexSession::finish() {
  done_ = true;
  loop_->quit();
}

int DuplexSession::run() {
  if (!flush_queue()) return 0;
  // poll(), not epoll: stdin may be a regular file (`< lines.txt`), which epoll refuses.
  EventLoop loop(EventLoop::Backend::poll);
  loop_ = &loop;
  loop.watch(sock_.get(), true, false, [this](const Ready& r) {
    if ((r.in || r.err) && !read_socket()) return finish();
    if (r.out && !flush_queue()) return finish();
    advance();
  });
  // stdin stays blocking (its file description is shared with the shell): it is read only once
  // per readiness report, which poll() gives for this loop alone.
  input_watched_ = loop.watch(io_.input_fd(), false, false, [this](const Ready&) {
    io_.read_some();
    advance();
  });
  if (io_.event_fd() >= 0) {
    loop.watch(io_.event_fd(), true, false, [this](const Ready&) {
      io_.on_event();  // a terminal resize
      advance();
    });
  }
  advance();
  if (!done_) loop.run(stop_);
  if (!done_ && stop_.requested()) send_farewell();
  text_.flush([this](std::string_view t) { print_message(t); });  // an unterminated tail still shows when we leave
  loop_ = nullptr;
  return 0;
}

}  // namespace concur
