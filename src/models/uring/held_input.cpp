#include "models/uring/held_input.hpp"

#include <algorithm>

#include "conn/conn_driver.hpp"
#include "conn/stream_conn.hpp"

namespace concur {

bool HeldInput::backlogged(const StreamConn& c, size_t in_flight) {
  return c.wants(in_flight).backlogged;
}

void HeldInput::receive(StreamConn& c, StreamService& service, std::string_view bytes, size_t in_flight) {
  if (!holding_bytes() && !backlogged(c, in_flight)) call_data(c, service, bytes);
  else bytes_.append(bytes);
}

void HeldInput::receive_eof(StreamConn& c, StreamService& service) {
  if (holding_bytes()) eof_ = true;
  else call_peer_closed(c, service);
}

void HeldInput::deliver(StreamConn& c, StreamService& service, size_t in_flight) {
  // 64 KiB at a time, re-checking the backlog: a service answering every chunk pauses us again.
  while (holding_bytes() && c.wants().input && !backlogged(c, in_flight)) {
    size_t n = std::min<size_t>(64 * 1024, bytes_.size() - off_);
    call_data(c, service, std::string_view(bytes_).substr(off_, n));
    off_ += n;
  }
  if (holding_bytes() && c.wants().input) return;
  bytes_.clear();
  off_ = 0;
  if (eof_ && c.wants().input) {
    eof_ = false;
    call_peer_closed(c, service);
  }
}

HeldInput::Recv HeldInput::recv_step(const StreamConn& c, size_t in_flight, bool armed, bool cancelling) const {
  StreamConn::Wants w = c.wants(in_flight);
  bool paused = w.backlogged || holding_bytes();
  if (paused && armed && !cancelling) return Recv::cancel;
  if (!paused && !armed && !eof_ && w.input) return Recv::arm;
  return Recv::keep;
}

}  // namespace concur
