#pragma once
// Move-only owner of one file descriptor. close() is never retried on EINTR (on Linux the
// descriptor is already gone), and the destructor never throws.
#include <utility>

namespace concur {

class FileDesc {
 public:
  FileDesc() noexcept = default;
  explicit FileDesc(int fd) noexcept : fd_(fd) {}
  FileDesc(FileDesc&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  FileDesc& operator=(FileDesc&& o) noexcept {
    if (this != &o) reset(std::exchange(o.fd_, -1));
    return *this;
  }
  FileDesc(const FileDesc&) = delete;
  FileDesc& operator=(const FileDesc&) = delete;
  ~FileDesc() { reset(); }

  int get() const noexcept { return fd_; }
  bool valid() const noexcept { return fd_ >= 0; }
  explicit operator bool() const noexcept { return valid(); }
  int release() noexcept { return std::exchange(fd_, -1); }
  void reset(int fd = -1) noexcept;

 private:
  int fd_ = -1;
};

// Sets O_NONBLOCK (throws SysError on failure).
void set_nonblocking(int fd, bool on = true);

}  // namespace concur
