#include "core/log_limiter.hpp"

#include <fmt/format.h>

#include "core/log.hpp"

namespace concur {

namespace {

double seconds_between(LogLimiter::Clock::time_point a, LogLimiter::Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace

LogLimiter::Verdict LogLimiter::admit(Clock::time_point now) {
  Verdict v{false};
  if (now >= end_) {
    v.suppressed = take_suppressed(now, true, &v.window_s);
    start_ = now;
    end_ = now + interval_;
    logged_ = 0;
  }
  if (logged_ < burst_) {
    ++logged_;
    v.log = true;
  } else {
    ++suppressed_;
  }
  return v;
}

uint64_t LogLimiter::take_suppressed(Clock::time_point now, bool force, double* window_s) {
  if (suppressed_ == 0 || (!force && now < end_)) return 0;
  if (window_s) *window_s = seconds_between(start_, now < end_ ? now : end_);
  uint64_t n = suppressed_;
  suppressed_ = 0;
  return n;
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
