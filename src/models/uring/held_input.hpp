#pragma once
// Input flow control of the uring model. A multishot recv keeps reading until its cancel lands,
// so bytes can arrive after the model decided to pause a connection (its output reached the
// high-water mark). Those bytes are never dropped: they are held here and handed to the service,
// in order, once the output drains; the end of input waits behind them.
#include <cstddef>
#include <string>
#include <string_view>

namespace concur {

class StreamConn;
class StreamService;

class HeldInput {
 public:
  // What the connection's multishot recv should do now (see recv_step).
  enum class Recv { keep, cancel, arm };

  // Output queued in the connection plus `in_flight` bytes of a send the kernel has not finished
  // reached the connection's high-water mark: input pauses, so TCP slows a client that does not read.
  static bool backlogged(const StreamConn& c, size_t in_flight);

  // Bytes the kernel delivered: to the service now, or held behind earlier held bytes or while
  // output is backlogged.
  void receive(StreamConn& c, StreamService& service, std::string_view bytes, size_t in_flight);
  // End of input: the service hears it now, or after the held bytes.
  void receive_eof(StreamConn& c, StreamService& service);
  // Hands held bytes to the service (in order) while the backlog allows, then a held end of input.
  void deliver(StreamConn& c, StreamService& service, size_t in_flight);

  // Paused (backlogged, or bytes still held): cancel an armed recv. Flowing, nothing held, input
  // open and no end held: arm one again (it also ends on ENOBUFS or when the kernel ends it).
  Recv recv_step(const StreamConn& c, size_t in_flight, bool armed, bool cancelling) const;

 private:
  bool holding_bytes() const { return off_ < bytes_.size(); }
  std::string bytes_;
  size_t off_ = 0;
  bool eof_ = false;
};

}  // namespace concur
