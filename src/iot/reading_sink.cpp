#include "iot/reading_sink.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "core/error.hpp"
#include "core/sys.hpp"

namespace concur::iot {

namespace {

// Offset just past the last '\n' of a regular file of `size` bytes (0 when it has none), read
// backwards in blocks; -1 when the file cannot be read.
off_t end_of_last_line(const std::string& path, off_t size) {
  FileDesc rd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!rd) return -1;
  char buf[65536];
  off_t end = size;
  while (end > 0) {
    off_t start = end > static_cast<off_t>(sizeof buf) ? end - static_cast<off_t>(sizeof buf) : 0;
    ssize_t n;
    do n = ::pread(rd.get(), buf, static_cast<size_t>(end - start), start);
    while (n < 0 && errno == EINTR);
    if (n != end - start) {
      if (n >= 0) errno = EIO;  // the file shrank under us
      return -1;
    }
    for (ssize_t i = n; i > 0; --i)
      if (buf[i - 1] == '\n') return start + i;
    end = start;
  }
  return 0;
}

}  // namespace

Batch Batch::stamped_now(std::string_view whole_lines) {
  Batch b;
  double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  size_t start = 0;
  while (start < whole_lines.size()) {
    size_t nl = whole_lines.find('\n', start);
    if (nl == std::string_view::npos) break;  // whole lines only
    std::string_view line = whole_lines.substr(start, nl - start);
    size_t sep = line.find(": ");  // asctime has no ": "
    if (sep == std::string_view::npos) {
      b.text.append(line).push_back('\n');
      b.times.push_back(now);
      b.drop_index();
    } else {
      b.add(line.substr(0, sep), line.substr(sep + 2), now);
    }
    start = nl + 1;
  }
  return b;
}

void Batch::add(std::string_view stamp, std::string_view reading, double unix_time, const ParsedReading& p) {
  text.append(stamp).append(": ").append(reading).push_back('\n');
  times.push_back(unix_time);
  if (!indexed_) return;
  const char* base = reading.data();
  auto inside = [&](std::string_view v) { return v.data() >= base && v.data() + v.size() <= base + reading.size(); };
  if (reading.size() > kMaxReading || stamp.size() + 2 > UINT16_MAX || !inside(p.name) || p.fields.size() > UINT16_MAX)
    return drop_index();  // not a parse of this reading: next() parses the text instead
  parsed_.push_back({static_cast<uint16_t>(stamp.size() + 2), static_cast<uint16_t>(p.name.size()),
                     static_cast<uint16_t>(p.fields.size())});
  for (const Field& f : p.fields) {
    if (!inside(f.key)) return drop_index();
    fields_.push_back({static_cast<uint16_t>(f.key.data() - base), static_cast<uint16_t>(f.key.size()), f.value});
  }
}

void Batch::add(std::string_view stamp, std::string_view reading, double unix_time) {
  if (auto p = parse_reading(reading)) return add(stamp, reading, unix_time, *p);
  text.append(stamp).append(": ").append(reading).push_back('\n');
  times.push_back(unix_time);
  drop_index();
}

void Batch::add_raw(std::string_view line, double unix_time) {
  text.append(line).push_back('\n');
  times.push_back(unix_time);
  drop_index();
}

void Batch::drop_index() {
  indexed_ = false;
  parsed_.clear();
  fields_.clear();
}

void Batch::append(const Batch& more) {
  text += more.text;
  times.insert(times.end(), more.times.begin(), more.times.end());
  if (!indexed_) return;
  if (!more.indexed_) return drop_index();
  parsed_.insert(parsed_.end(), more.parsed_.begin(), more.parsed_.end());
  fields_.insert(fields_.end(), more.fields_.begin(), more.fields_.end());
}

void Batch::clear() {
  text.clear();
  times.clear();
  parsed_.clear();
  fields_.clear();
  indexed_ = true;
}

size_t Batch::drop_oldest(size_t max_bytes) {
  size_t cut = 0, dropped = 0;
  while (text.size() - cut > max_bytes) {
    size_t nl = text.find('\n', cut);
    cut = nl == std::string::npos ? text.size() : nl + 1;
    ++dropped;
  }
  if (!dropped) return 0;
  text.erase(0, cut);
  times.erase(times.begin(), times.begin() + static_cast<std::ptrdiff_t>(dropped));
  if (indexed_) {
    size_t nfields = 0;
    for (size_t k = 0; k < dropped; ++k) nfields += parsed_[k].fields;
    parsed_.erase(parsed_.begin(), parsed_.begin() + static_cast<std::ptrdiff_t>(dropped));
    fields_.erase(fields_.begin(), fields_.begin() + static_cast<std::ptrdiff_t>(nfields));
  }
  return dropped;
}

bool Batch::next(Cursor& at, ParsedReading& r, double& unix_time) const {
  while (at.line < times.size()) {
    size_t nl = text.find('\n', at.offset);
    std::string_view line(text.data() + at.offset, nl - at.offset);
    unix_time = times[at.line];
    bool valid = true;
    if (indexed_) {
      const LineAt& la = parsed_[at.line];
      std::string_view reading = line.substr(la.reading);
      r.name = reading.substr(0, la.name_len);
      r.fields.clear();
      for (size_t k = 0; k < la.fields; ++k) {
        const FieldAt& f = fields_[at.field + k];
        r.fields.push_back({reading.substr(f.key, f.key_len), f.value});
      }
      at.field += la.fields;
    } else {
      size_t sep = line.find(": ");  // asctime has no ": "
      auto p = sep == std::string_view::npos ? std::nullopt : parse_reading(line.substr(sep + 2));
      if (p) r = std::move(*p);
      valid = p.has_value();
    }
    at.offset = nl + 1;
    ++at.line;
    if (valid) return true;
  }
  return false;
}

std::string ReadingSink::describe(int err) const { return std::strerror(err); }

FileSink::FileSink(std::string path, bool fsync) : path_(std::move(path)), fsync_(fsync) {
  fd_.reset(::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
  if (!fd_) throw_errno("cannot open " + path_);
  struct stat st {};
  if (::fstat(fd_.get(), &st) < 0) throw_errno("cannot stat " + path_);
  regular_ = S_ISREG(st.st_mode);
  size_ = regular_ ? st.st_size : 0;
  if (regular_ && size_ > 0) {
    // A crash (SIGKILL between the pages of one write) or a full disk can leave a last line
    // without its newline. Cut it off before appending, as Redis does with a truncated AOF tail:
    // sealing it with a newline instead would keep a malformed line in the file for good.
    off_t keep = end_of_last_line(path_, size_);
    if (keep < 0) throw_errno("cannot read the end of " + path_);
    if (keep < size_) {
      if (::ftruncate(fd_.get(), keep) < 0) throw_errno("cannot cut the torn last line of " + path_);
      dropped_ = static_cast<uint64_t>(size_ - keep);
      size_ = keep;
    }
  }
}

int FileSink::write_lines(std::string_view lines) {
  if (lines.empty()) return 0;
  // size_ is where this batch starts (O_APPEND; this process is the file's only writer), so a
  // failed batch can be cut back off without an lseek() per pass.
  size_t done = 0;
  while (done < lines.size()) {
    ssize_t n = sys::write(fd_.get(), lines.data() + done, lines.size() - done);
    if (n > 0) {
      done += static_cast<size_t>(n);  // a short write: the next call says why (ENOSPC, EFBIG) or finishes
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    int err = n < 0 ? errno : EIO;
    if (done > 0 && regular_) {
      // Undo the partial batch: no torn line stays behind. If even that fails, learn the real
      // size again (the next open cuts the torn line off).
      if (::ftruncate(fd_.get(), size_) < 0) {
        struct stat st {};
        if (::fstat(fd_.get(), &st) == 0) size_ = st.st_size;
      }
    }
    return err;
  }
  if (regular_) size_ += static_cast<off_t>(done);
  // The lines are in the file even if fsync fails: count it, but do not make the caller retry
  // (a retry would store them twice).
  if (fsync_) sync();
  return 0;
}

int FileSink::reopen() {
  FileDesc fresh(::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
  if (!fresh) return errno;
  struct stat st {};
  if (::fstat(fresh.get(), &st) < 0) return errno;
  sync();  // what the old file holds is durable before the sinks move on to the new one
  fd_ = std::move(fresh);
  regular_ = S_ISREG(st.st_mode);
  size_ = regular_ ? st.st_size : 0;
  return 0;
}

void FileSink::sync() {
  if (::fsync(fd_.get()) < 0 && errno != EINVAL) ++sync_errors_;  // EINVAL: a pipe or /dev/full
}

}  // namespace concur::iot
