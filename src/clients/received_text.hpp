#pragma once
// Turns what a chat peer sends into messages to print. Pure: no I/O, no clock.
//
// concur peers send lines ("text\n"); the seed's Python programs send each message as a bare
// chunk with no newline. StreamText prints complete lines at once and keeps an unfinished tail
// until the caller decides it is a message of its own (flush(), after a short quiet period), so
// both kinds of peer read naturally and a line split across TCP segments is not torn in two.
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace concur {

using TextSink = std::function<void(std::string_view)>;

class StreamText {
 public:
  // A tail longer than max_pending bytes is emitted in pieces of that size (memory stays bounded).
  explicit StreamText(size_t max_pending = 64 * 1024) : max_(max_pending) {}

  // Emits every complete line in pending + bytes ("\n" and a "\r" before it removed).
  void feed(std::string_view bytes, const TextSink& emit);
  // Emits the unfinished tail, if any, as one message.
  void flush(const TextSink& emit);
  bool has_pending() const { return !pending_.empty(); }

 private:
  size_t max_;
  std::string pending_;
};

// One datagram = one message; newlines inside it separate lines (a trailing one is dropped).
void split_datagram(std::string_view datagram, const TextSink& emit);

}  // namespace concur
