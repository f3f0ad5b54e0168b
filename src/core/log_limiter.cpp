#include "core/log_limiter.hpp"

#include <fmt/format.h>

#include "core/log.hpp"

namespace concur {

LogLimiter::~LogLimiter() {
  if (!what_.empty()) flush(true);
}

bool LogLimiter::window_over(Clock::time_point now) const {
  return now >= end_ || (quiet_.count() > 0 && now - last_ >= quiet_);
}

LogLimiter::Verdict LogLimiter::admit(Clock::time_point now) {
  Verdict v{false};
  if (window_over(now)) {
    v.suppressed = take_suppressed(now, true, &v.window_s);
    start_ = now;
    end_ = now + window_;
    logged_ = 0;
  }
  last_ = now;
  if (logged_ < burst_) {
    ++logged_;
    v.log = true;
  } else {
    ++suppressed_;
  }
  return v;
}

uint64_t LogLimiter::take_suppressed(Clock::time_point now, bool force, double* window_s) {
  if (suppressed_ == 0 || (!force && !window_over(now))) return 0;
  if (window_s) *window_s = std::chrono::duration<double>((now < end_ ? now : end_) - start_).count();
  taken_had_logged_ = logged_ > 0;
  uint64_t n = suppressed_;
  suppressed_ = 0;
  return n;
}

void LogLimiter::hit(const std::function<std::string()>& first_line) {
  auto now = Clock::now();
  std::lock_guard lock(mu_);
  ++total_;
  Verdict v = admit(now);
  if (v.suppressed) summarize(v.suppressed, v.window_s);
  if (v.log) {
    try {
      err_line(first_line());
    } catch (...) {  // could not even format it: it is summed up with the rest
      --logged_;
      ++suppressed_;
    }
  }
  pending_.store(suppressed_ > 0, std::memory_order_release);
}

void LogLimiter::flush(bool force) {
  if (!pending_.load(std::memory_order_acquire)) return;  // nothing to sum up: no lock, no write
  auto now = Clock::now();
  std::lock_guard lock(mu_);
  double window_s = 0;
  if (uint64_t n = take_suppressed(now, force, &window_s)) summarize(n, window_s);
  pending_.store(suppressed_ > 0, std::memory_order_release);
}

void LogLimiter::summarize(uint64_t n, double window_s) {
  try {
    errf("concur: {}{} {} in the last {:.1f} s", n, taken_had_logged_ ? " more" : "", what_, window_s);
  } catch (...) {
  }
}

bool LogLimiter::active() const { return pending_.load(std::memory_order_acquire); }

uint64_t LogLimiter::total() const {
  std::lock_guard lock(mu_);
  return total_;
}

std::string log_excerpt(std::string_view bytes, size_t max_bytes) {
  std::string out;
  size_t i = 0;
  // Character by character (a UTF-8 lead byte and its continuation bytes together), so the cut
  // never splits a character or an escape; escaping is not length-preserving ("\x1b" is 4 bytes).
  while (i < bytes.size()) {
    auto c = static_cast<unsigned char>(bytes[i]);
    size_t n = c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (n > bytes.size() - i) n = bytes.size() - i;
    std::string piece = escape_for_terminal(bytes.substr(i, n));
    if (out.size() + piece.size() > max_bytes) break;
    out += piece;
    i += n;
  }
  if (i < bytes.size()) out += fmt::format("... ({} bytes)", bytes.size());
  return out;
}

std::string thousands(uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace concur
