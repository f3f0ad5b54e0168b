#pragma once
// Splits a byte stream into lines. Pure: no I/O, so it is tested and fuzzed without sockets.
// A line ends in "\n"; a "\r" right before it is dropped ("\r\n" accepted). A line longer than
// max_line bytes (terminator excluded) is an error: the framer stops and reports it, because the
// caller's policy (close, as SPEC says for chat) decides what happens next.
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace concur {

class LineFramer {
 public:
  explicit LineFramer(size_t max_line = 4096) : max_(max_line) {}

  enum class Status { ok, too_long };
  // Calls on_line for every complete line in bytes (plus what was pending). Stops at the first
  // over-long line and returns too_long; the framer then stays failed.
  Status feed(std::string_view bytes, const std::function<void(std::string_view)>& on_line);

  // Bytes of an unfinished line held back.
  std::string_view pending() const { return pending_; }
  size_t max_line() const { return max_; }
  bool failed() const { return failed_; }

 private:
  size_t max_;
  std::string pending_;
  bool failed_ = false;
};

}  // namespace concur
