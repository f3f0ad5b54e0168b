#pragma once
// Lines typed by the user (or piped in) for the interactive clients. Reads the descriptor with
// plain read() and keeps its own buffer, so one object serves both a blocking prompt ("ID: ")
// and a poll() loop without losing the bytes that the prompt read ahead. The descriptor is left
// blocking: stdin's file description is shared with the shell, and poll() says when a read() will
// not block.
#include <cstddef>
#include <optional>
#include <string>

namespace concur {

class InputReader {
 public:
  // Lines longer than max_line bytes are cut: the first max_line bytes come back with
  // `too_long` set and the rest up to the next newline is discarded.
  explicit InputReader(int fd, size_t max_line = 64 * 1024) : fd_(fd), max_(max_line) {}

  struct Line {
    std::string text;  // without "\n" / "\r\n"
    bool too_long = false;
  };

  int fd() const { return fd_; }
  bool eof() const { return eof_; }

  // One read() into the buffer. Returns false (and eof() turns true) at end of input or on an
  // error other than EINTR/EAGAIN.
  bool read_some();
  // The next buffered line, if any. After end of input an unterminated tail is a line too.
  std::optional<Line> next_line();
  // Blocks until a line is available or the input ends; also returns nullopt (with eof() still
  // false) once `stop_fd` (an eventfd such as StopSource::fd(), or -1) turns readable.
  std::optional<Line> read_line(int stop_fd = -1);

 private:
  int fd_;
  size_t max_;
  std::string buf_;
  bool eof_ = false;
  bool discarding_ = false;  // inside the discarded rest of an over-long line
};

// With stdin closed (`<&-`), descriptor 0 would go to the next socket or eventfd opened and be
// read as input: put /dev/null there instead, so the input simply ends.
void ensure_stdin_open();

}  // namespace concur
