#pragma once
// Rate-limited logging for reports a peer can trigger at will (malformed input, refused
// connections): the first `burst` events of a window are logged in full, the rest are only
// counted, and the count is reported once when the window is over — the kernel's printk_ratelimit
// and rsyslog's "message repeated N times". Without it one device sending random bytes made 43 MB
// of stderr in 40 s (issue 13). Pure: the caller passes the time and does the logging.
//
// Thread contract: one owner thread.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace concur {

class LogLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  explicit LogLimiter(unsigned burst = 5, std::chrono::milliseconds interval = std::chrono::seconds(10))
      : burst_(burst), interval_(interval) {}

  struct Verdict {
    bool log;                 // log this event in full
    uint64_t suppressed = 0;  // events of the previous window left unlogged: report them first
    double window_s = 0;      // how long that window was, in seconds
  };
  // One event at `now`.
  Verdict admit(Clock::time_point now);

  // Events suppressed in a window that is over by `now` (0 when none, or the window still runs);
  // with `force`, also those of the running window (at exit). Resets the count it returns;
  // `window_s` gets the window's length so far.
  uint64_t take_suppressed(Clock::time_point now, bool force, double* window_s);

  bool has_suppressed() const { return suppressed_ > 0; }

 private:
  unsigned burst_;
  std::chrono::milliseconds interval_;
  Clock::time_point start_{};
  Clock::time_point end_{};  // no window yet: every event opens one
  unsigned logged_ = 0;
  uint64_t suppressed_ = 0;
};

// `bytes` as a log line may show it: escaped for the terminal (escape_for_terminal) and cut so the
// escaped text stays within `max_bytes` (never inside a UTF-8 character or an escape), then
// "... (N bytes)" naming the full size.
std::string log_excerpt(std::string_view bytes, size_t max_bytes = 200);

// 61900 -> "61,900": counts in log lines people read.
std::string thousands(uint64_t n);

}  // namespace concur
