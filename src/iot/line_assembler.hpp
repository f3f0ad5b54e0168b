#pragma once
// Reassembles reading lines from a TCP byte stream, pure (no I/O). Readings split across
// segments are joined; several readings in one segment come out one by one. A line ends in "\n"
// ("\r\n" accepted). A line longer than the limit is reported once and skipped up to its "\n",
// and the stream goes on with the next line: its tail is never spliced onto the next reading
// (RELIABILITY #3; rsyslog PR #3638, Vector#262).
#include <cstddef>
#include <string>
#include <string_view>

namespace concur::iot {

class LineAssembler {
 public:
  explicit LineAssembler(size_t max_line) : max_(max_line) {}

  // Calls on_line(std::string_view) for every whole line (terminator removed) and
  // on_too_long(size_t bytes_so_far) once per over-long line, as soon as it exceeds the limit.
  template <typename OnLine, typename OnTooLong>
  void feed(std::string_view bytes, OnLine&& on_line, OnTooLong&& on_too_long) {
    while (!bytes.empty()) {
      size_t nl = bytes.find('\n');
      std::string_view piece = bytes.substr(0, nl);  // npos: the whole rest
      if (skipping_) {
        if (nl == std::string_view::npos) return;
        skipping_ = false;
        bytes.remove_prefix(nl + 1);
        continue;
      }
      if (nl == std::string_view::npos) {
        // +1: a trailing '\r' may still turn out to be part of the terminator.
        if (pending_.size() + piece.size() > max_ + 1) {
          on_too_long(pending_.size() + piece.size());
          pending_.clear();
          skipping_ = true;
          return;
        }
        pending_.append(piece);
        return;
      }
      bytes.remove_prefix(nl + 1);
      std::string_view line = piece;
      if (!pending_.empty()) {
        pending_.append(piece);
        line = pending_;
      }
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.size() > max_) on_too_long(line.size());
      else on_line(line);
      pending_.clear();
    }
  }

  // Bytes of an unfinished line held back.
  size_t pending() const { return pending_.size(); }
  void reset() {
    pending_.clear();
    skipping_ = false;
  }

 private:
  size_t max_;
  std::string pending_;
  bool skipping_ = false;
};

// What a collector sends first to a device it connects to (SPEC §3).
inline constexpr std::string_view kRegister = "Register";

// The device side of "Register" (newline optional, SPEC §3): fed what a new client sends,
// byte by byte or all at once.
class RegisterMatcher {
 public:
  enum class State { waiting, registered, refused };
  // Consumes bytes until the state is decided. After `registered`, whatever followed
  // "Register[\r]\n" is ignored by the caller.
  State feed(std::string_view bytes);
  State state() const { return state_; }

 private:
  std::string seen_;
  State state_ = State::waiting;
};

}  // namespace concur::iot
