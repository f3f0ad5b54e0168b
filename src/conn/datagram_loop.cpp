#include "conn/datagram_loop.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <functional>
#include <vector>

#include "conn/conn_metrics.hpp"
#include "core/error.hpp"
#include "loop/event_loop.hpp"

namespace concur {

namespace {

class SocketSink final : public DatagramSink {
 public:
  SocketSink(int fd, EventLoop& loop) : fd_(fd), mailbox_(loop.mailbox()) {}
  void send_to(const Endpoint& to, std::string_view bytes) override {
    // EAGAIN (buffer full), ECONNREFUSED (an earlier ICMP error) and the like: the datagram is lost,
    // as UDP allows; the loop goes on.
    ssize_t n;
    while ((n = ::sendto(fd_, bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL, to.sa(), to.len())) < 0 &&
           errno == EINTR) {
    }
    if (n >= 0) conn_metrics::datagram_sent(static_cast<size_t>(n));
  }

  // The handle holds the mailbox, not the loop: a post after the loop is gone is only destroyed
  // with it (the loop runs its mailbox's tasks, and only while it runs, so `this` is alive then).
  Post poster() override {
    return [mb = mailbox_, this](Task task) { mb->post([this, task = std::move(task)] { task(*this); }); };
  }

 private:
  int fd_;
  std::shared_ptr<Mailbox> mailbox_;
};

}  // namespace

void run_datagram_loop(int udp_fd, DatagramService& service, const StopSource& stop, Millis tick) {
  EventLoop loop(EventLoop::Backend::poll);
  SocketSink sink(udp_fd, loop);
  std::vector<char> buf(64 * 1024);
  auto read_batch = [&](const Ready&) {
    // A bounded batch, so that ticks and the stop request are never starved by a flood.
    for (int i = 0; i < 256; ++i) {
      Endpoint from;
      iovec iov{buf.data(), buf.size()};
      msghdr msg{};
      msg.msg_name = from.sa();
      msg.msg_namelen = from.capacity();
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      ssize_t n = ::recvmsg(udp_fd, &msg, MSG_DONTWAIT | MSG_TRUNC);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        continue;  // EINTR, or an ICMP error reported for an earlier send: not fatal
      }
      from.set_len(msg.msg_namelen);
      size_t got = std::min(static_cast<size_t>(n), buf.size());
      bool truncated = (msg.msg_flags & MSG_TRUNC) != 0 || static_cast<size_t>(n) > buf.size();
      conn_metrics::datagram_received(got);
      service.on_datagram(sink, from, std::string_view(buf.data(), got), truncated);
    }
  };
  std::string why;
  if (!loop.watch(udp_fd, true, false, read_batch, &why)) throw SysError("cannot watch the UDP socket: " + why, EINVAL);
  std::function<void()> on_tick = [&] {
    service.on_tick(sink);
    loop.run_after(tick, on_tick);  // measured from the end of this tick, as before
  };
  loop.run_after(tick, on_tick);
  loop.run(stop);
  loop.unwatch(udp_fd);
}

const std::vector<std::string>& datagram_models() {
  static const std::vector<std::string> names = {"thread", "poll"};
  return names;
}

}  // namespace concur
