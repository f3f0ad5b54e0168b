#include "iot/reading_sink.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "core/error.hpp"
#include "core/sys.hpp"

namespace concur::iot {

namespace {

// Last byte of a regular file, or -1 when empty or unreadable.
int last_byte(const std::string& path, off_t size) {
  if (size <= 0) return -1;
  FileDesc rd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!rd) return -1;
  char c = 0;
  ssize_t n;
  do n = ::pread(rd.get(), &c, 1, size - 1);
  while (n < 0 && errno == EINTR);
  return n == 1 ? static_cast<unsigned char>(c) : -1;
}

}  // namespace

FileSink::FileSink(std::string path, bool fsync) : path_(std::move(path)), fsync_(fsync) {
  fd_.reset(::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
  if (!fd_) throw_errno("cannot open " + path_);
  struct stat st {};
  if (::fstat(fd_.get(), &st) < 0) throw_errno("cannot stat " + path_);
  regular_ = S_ISREG(st.st_mode);
  if (regular_ && st.st_size > 0) {
    int last = last_byte(path_, st.st_size);
    if (last >= 0 && last != '\n') {
      if (int err = write_lines("\n")) throw SysError("cannot seal the torn last line of " + path_, err);
      sealed_ = true;
    }
  }
}

int FileSink::write_lines(std::string_view lines) {
  if (lines.empty()) return 0;
  off_t before = -1;
  if (regular_) before = ::lseek(fd_.get(), 0, SEEK_END);
  size_t done = 0;
  while (done < lines.size()) {
    ssize_t n = sys::write(fd_.get(), lines.data() + done, lines.size() - done);
    if (n > 0) {
      done += static_cast<size_t>(n);  // a short write: the next call says why (ENOSPC, EFBIG) or finishes
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    int err = n < 0 ? errno : EIO;
    if (done > 0 && before >= 0) {
      // Undo the partial batch: no torn line stays behind. If even that fails, the next open seals it.
      [[maybe_unused]] int rc = ::ftruncate(fd_.get(), before);
    }
    return err;
  }
  // The lines are in the file even if fsync fails: count it, but do not make the caller retry
  // (a retry would store them twice).
  if (fsync_) sync();
  return 0;
}

void FileSink::sync() {
  if (::fsync(fd_.get()) < 0 && errno != EINVAL) ++sync_errors_;  // EINVAL: a pipe or /dev/full
}

}  // namespace concur::iot
