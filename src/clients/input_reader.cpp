#include "clients/input_reader.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>

#include "core/stop.hpp"

namespace concur {

bool InputReader::read_some() {
  if (eof_) return false;
  char tmp[16384];
  for (;;) {
    ssize_t n = ::read(fd_, tmp, sizeof tmp);
    if (n > 0) {
      buf_.append(tmp, static_cast<size_t>(n));
      return true;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    eof_ = true;  // 0 = end of input; EBADF/EIO (no stdin, terminal gone) end it too
    return false;
  }
}

std::optional<InputReader::Line> InputReader::next_line() {
  for (;;) {
    size_t nl = buf_.find('\n');
    if (discarding_) {
      if (nl == std::string::npos) {
        buf_.clear();
        return std::nullopt;
      }
      buf_.erase(0, nl + 1);
      discarding_ = false;
      continue;
    }
    if (nl == std::string::npos) {
      if (buf_.size() > max_) {  // an over-long line: hand out its head, drop the rest
        Line l{buf_.substr(0, max_), true};
        buf_.clear();
        discarding_ = true;
        return l;
      }
      if (eof_ && !buf_.empty()) {
        Line l{std::move(buf_), false};
        buf_.clear();
        if (!l.text.empty() && l.text.back() == '\r') l.text.pop_back();
        return l;
      }
      return std::nullopt;
    }
    Line l{buf_.substr(0, nl), false};
    buf_.erase(0, nl + 1);
    if (!l.text.empty() && l.text.back() == '\r') l.text.pop_back();
    if (l.text.size() > max_) {
      l.text.resize(max_);
      l.too_long = true;
    }
    return l;
  }
}

std::optional<InputReader::Line> InputReader::read_line(int stop_fd) {
  for (;;) {
    if (auto l = next_line()) return l;
    if (eof_) return std::nullopt;
    if (stop_fd >= 0) {  // a read() blocked on a terminal would ignore SIGINT (SA_RESTART)
      if (!wait_ready_or_stop(fd_, POLLIN, stop_fd)) return std::nullopt;
    }
    if (!read_some()) return next_line();
  }
}

void ensure_stdin_open() {
  if (::fcntl(STDIN_FILENO, F_GETFD) >= 0 || errno != EBADF) return;
  int fd = ::open("/dev/null", O_RDONLY);  // the lowest free descriptor: 0
  if (fd > STDIN_FILENO) ::close(fd);
}

}  // namespace concur
