#include "core/buffer.hpp"

#include <cerrno>
#include <cstring>

#include "core/sys.hpp"

namespace concur {

void Buffer::append(std::string_view bytes) {
  char* p = prepare(bytes.size());
  if (!bytes.empty()) std::memcpy(p, bytes.data(), bytes.size());
  commit(bytes.size());
}

void Buffer::consume(size_t n) {
  read_ += n < size() ? n : size();
  if (read_ == write_) read_ = write_ = 0;
}

char* Buffer::prepare(size_t n) {
  if (data_.size() - write_ >= n) return data_.data() + write_;
  size_t live = size();
  if (read_ > 0 && data_.size() - live >= n) {  // enough room once consumed space is reclaimed
    std::memmove(data_.data(), data_.data() + read_, live);
  } else {
    std::vector<char> bigger(std::max(data_.size() * 2, live + n));
    if (live) std::memcpy(bigger.data(), data_.data() + read_, live);
    data_.swap(bigger);
  }
  read_ = 0;
  write_ = live;
  return data_.data() + write_;
}

long Buffer::flush_to(int fd) {
  size_t total = 0;
  while (!empty()) {
    ssize_t n = sys::send(fd, data(), size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      consume(static_cast<size_t>(n));
      total += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    return n < 0 ? -errno : -EPIPE;
  }
  return static_cast<long>(total);
}

}  // namespace concur
