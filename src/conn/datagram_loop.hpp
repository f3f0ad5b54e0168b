#pragma once
// Serves a DatagramService on a bound UDP socket until the stop source fires: one thread, an
// EventLoop (poll backend) watching the socket, on_tick as a loop timer. Datagrams are read with recvmsg(MSG_TRUNC) into a 64 KiB buffer,
// so one larger than that is reported as truncated instead of being silently cut; on_tick runs
// about every `tick`. Replies go out with sendto(MSG_DONTWAIT): a full socket buffer drops the
// datagram (UDP may drop any datagram) rather than stall the loop. Tasks posted through the
// sink (DatagramSink::poster) run on the loop thread as they arrive.
#include <string>
#include <vector>

#include "core/duration.hpp"
#include "core/stop.hpp"
#include "services/service.hpp"

namespace concur {

void run_datagram_loop(int udp_fd, DatagramService& service, const StopSource& stop, Millis tick = Millis(1000));

// The --model names a datagram server answers to, both this one loop (UDP has no connections to
// give threads or loops to): "thread", the seed's homework 8 (one thread receives and relays
// every datagram), and "poll", homework 9's select() loop. They are not registry rows.
const std::vector<std::string>& datagram_models();

}  // namespace concur
