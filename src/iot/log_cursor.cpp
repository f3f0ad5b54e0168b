#include "iot/log_cursor.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include <fmt/format.h>

#include "core/error.hpp"

namespace concur::iot {

std::string log_file_id(std::string_view first_line) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a, 64 bits
  for (char c : first_line) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return fmt::format("fnv1a64:{:016x}", h);
}

double stamp_seconds(std::string_view asctime) {
  thread_local std::string last;
  thread_local double last_value = -1;
  if (!last.empty() && asctime == last) return last_value;
  std::string text(asctime);
  std::tm tm{};
  const char* end = ::strptime(text.c_str(), "%a %b %e %H:%M:%S %Y", &tm);
  double v = -1;
  if (end && *end == '\0') {
    tm.tm_isdst = -1;  // the local zone says (an hour repeated at the end of summer time: its first)
    std::time_t t = std::mktime(&tm);
    if (t != static_cast<std::time_t>(-1)) v = static_cast<double>(t);
  }
  last = std::move(text);
  last_value = v;
  return v;
}

LogReader::LogReader(std::string path) : path_(std::move(path)) {
  fd_.reset(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd_) throw_errno("cannot open " + path_);
}

off_t LogReader::size() const {
  struct stat st {};
  return ::fstat(fd_.get(), &st) == 0 ? st.st_size : -1;
}

namespace {

// pread until `n` bytes or the end; the bytes read, -1 on an error.
ssize_t pread_full(int fd, char* buf, size_t n, off_t at) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd, buf + done, n - done, at + static_cast<off_t>(done));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -1;
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  return static_cast<ssize_t>(done);
}

}  // namespace

std::string LogReader::file_id() const {
  char buf[4096];
  std::string first;
  for (off_t at = 0;; at += static_cast<off_t>(sizeof buf)) {
    ssize_t n = pread_full(fd_.get(), buf, sizeof buf, at);
    if (n <= 0) return {};
    std::string_view got(buf, static_cast<size_t>(n));
    size_t nl = got.find('\n');
    if (nl != std::string_view::npos) {
      first.append(got.substr(0, nl + 1));
      return log_file_id(first);
    }
    first.append(got);
    if (first.size() > (1u << 20)) return log_file_id(first);  // not a line file: any stable answer
  }
}

bool LogReader::at_line_start(uint64_t offset) const {
  if (offset == 0) return true;
  char c = 0;
  return pread_full(fd_.get(), &c, 1, static_cast<off_t>(offset - 1)) == 1 && c == '\n';
}

uint64_t LogReader::read(uint64_t from, uint64_t end, size_t max_bytes, Batch& into) {
  if (end <= from) return from;
  size_t want = static_cast<size_t>(std::min<uint64_t>(end - from, max_bytes));
  for (;;) {
    buf_.resize(want);
    ssize_t n = pread_full(fd_.get(), buf_.data(), want, static_cast<off_t>(from));
    if (n <= 0) return from;
    std::string_view got(buf_.data(), static_cast<size_t>(n));
    size_t last_nl = got.rfind('\n');
    if (last_nl == std::string_view::npos) {
      // One line longer than max_bytes (not the collector's: it writes at most 1 KiB readings):
      // read further until its end, or give up at the end of what is there.
      if (static_cast<uint64_t>(n) < end - from && want < (64u << 20)) {
        want = static_cast<size_t>(std::min<uint64_t>(end - from, want * 2));
        continue;
      }
      return from;
    }
    got = got.substr(0, last_nl + 1);
    size_t start = 0;
    while (start < got.size()) {
      size_t nl = got.find('\n', start);
      std::string_view line = got.substr(start, nl - start);
      size_t sep = line.find(": ");  // asctime has no ": "
      if (sep == std::string_view::npos) {
        into.add_raw(line, -1);  // not a reading line: kept as it is, skipped by next()
      } else {
        into.add(line.substr(0, sep), line.substr(sep + 2), stamp_seconds(line.substr(0, sep)));
      }
      start = nl + 1;
    }
    return from + got.size();
  }
}

uint64_t LogReader::count_lines(uint64_t from, uint64_t end) const {
  uint64_t lines = 0;
  char buf[65536];
  while (from < end) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(end - from, sizeof buf));
    ssize_t n = pread_full(fd_.get(), buf, want, static_cast<off_t>(from));
    if (n <= 0) break;
    for (const char* p = buf; (p = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(buf + n - p)))); ++p)
      ++lines;
    from += static_cast<uint64_t>(n);
  }
  return lines;
}

Resume resume_from(const std::optional<LogPosition>& stored, const LogReader& log, uint64_t size,
                   const std::string& file_id, bool backfill, const std::string& sink_name) {
  auto fresh = [&](std::string why) {
    Resume r{backfill ? 0 : size, {}};
    if (size == 0) {
      if (!why.empty()) r.note = fmt::format("concur: {}: {}; {} is empty: starting at its beginning", sink_name, why, log.path());
      return r;
    }
    r.note = fmt::format("concur: {}: {}; {}", sink_name, why.empty() ? "new to " + log.path() : why,
                         backfill ? fmt::format("--backfill: taking its {} bytes from the beginning", size)
                                  : fmt::format("starting at its end ({} bytes not taken; --backfill takes them)", size));
    return r;
  };
  if (!stored) return fresh("");
  if (stored->offset == 0) return Resume{0, {}};  // nothing taken yet: any file is right
  if (stored->file_id != file_id)
    return fresh(fmt::format("its cursor ({} at byte {}) is from another file than {} ({}), not trusted", stored->file_id,
                             stored->offset, log.path(), file_id.empty() ? "empty" : file_id));
  if (stored->offset > size) {
    Resume r{size, fmt::format("concur: {}: its cursor (byte {}) is past the end of {} ({} bytes: a torn tail was cut, or "
                               "the file lost its last lines); clamped to the end",
                               sink_name, stored->offset, log.path(), size)};
    return r;
  }
  if (!log.at_line_start(stored->offset))
    return fresh(fmt::format("its cursor (byte {}) is not at the start of a line of {}, not trusted", stored->offset, log.path()));
  return Resume{stored->offset, {}};
}

}  // namespace concur::iot
