#pragma once
// The one rate limiter for log lines: reports a peer (or a flood of clients) can trigger at will
// must not become a second flood. Without it one device sending random bytes made 43 MB of stderr
// in 40 s, and a flood beyond select()'s FD_SETSIZE wrote a line per refused client (issue 13).
//
// The rules (the kernel's printk_ratelimit, rsyslog's "message repeated N times"): an event opens
// a window when none is open; the first `burst` events of a window are logged in full, the rest
// only counted; the window ends `window` after it opened or, with `quiet` > 0, after that long
// without an event (the burst is over); the count of an ended window is reported once, in one
// summary line.
//
// Two ways to use it:
// - The owner logs (per-device reports in the collector): admit() says whether to log an event
//   and hands over the previous window's count, take_suppressed() the count of a window that
//   ended meanwhile (or, forced, the running one at exit). Pure: the caller passes the time.
//   One owner thread.
// - It logs itself (refusals shared by every thread of a server): hit() logs an event's line on
//   stderr when admitted, flush() writes the summary
//   `concur: <N>[ more] <what> in the last <S> s` of a window that is over. Any thread (locked).
//   Logging never throws: under memory pressure a line that cannot be formatted is counted
//   instead.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

namespace concur {

class LogLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  using Millis = std::chrono::milliseconds;

  // The owner logs: `burst` events in full per `window` (and per quiet-ended burst, quiet > 0).
  explicit LogLimiter(unsigned burst = 5, Millis window = std::chrono::seconds(10), Millis quiet = Millis(0))
      : burst_(burst), window_(window), quiet_(quiet) {}
  // It logs itself; `what` names the counted events in the summary line, e.g. "clients refused
  // for the same reason". Sums up an open window when destroyed.
  LogLimiter(std::string what, unsigned burst, Millis window, Millis quiet)
      : what_(std::move(what)), burst_(burst), window_(window), quiet_(quiet) {}
  // Self-logging, one line per burst: its first event, then a count when a quiet second ends
  // it (or every 10 s while it lasts).
  static LogLimiter per_burst(std::string what) {
    return LogLimiter(std::move(what), 1, std::chrono::seconds(10), std::chrono::seconds(1));
  }
  ~LogLimiter();
  LogLimiter(const LogLimiter&) = delete;
  LogLimiter& operator=(const LogLimiter&) = delete;

  // ---- the owner logs (one thread) ----
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

  // ---- it logs itself (any thread) ----
  // Records one event at Clock::now(); logs first_line() when admitted, after the summary of a
  // window that ended unnoticed.
  void hit(const std::function<std::string()>& first_line);
  // Writes the summary of a window that is over; `force`: also of the running one. Owners call
  // it at least every second while active().
  void flush(bool force = false);
  // A summary is still to be written (of events recorded with hit(); an owner asks
  // has_suppressed()). Lock-free, and so is flush() when it is false.
  bool active() const;
  // Events since this limiter was created.
  uint64_t total() const;

 private:
  bool window_over(Clock::time_point now) const;
  void summarize(uint64_t n, double window_s);  // mu_ held

  const std::string what_;  // empty: the owner logs
  const unsigned burst_;
  const Millis window_, quiet_;
  Clock::time_point start_{};
  Clock::time_point end_{};  // no window yet: every event opens one
  Clock::time_point last_{};  // the latest event (for `quiet`)
  unsigned logged_ = 0;       // events of this window logged in full
  uint64_t suppressed_ = 0;
  bool taken_had_logged_ = false;  // the window take_suppressed() last counted logged a line
  uint64_t total_ = 0;
  mutable std::mutex mu_;  // only the self-logging methods lock
  // suppressed_ > 0, for active() and flush() to read without the lock: servers ask after every
  // accept, and locking writes the limiter's page. In the process model each such write after a
  // fork left the child a private copy of that page (4 KiB per client, issue 24).
  std::atomic<bool> pending_{false};
};

// `bytes` as a log line may show it: escaped for the terminal (escape_for_terminal) and cut so the
// escaped text stays within `max_bytes` (never inside a UTF-8 character or an escape), then
// "... (N bytes)" naming the full size.
std::string log_excerpt(std::string_view bytes, size_t max_bytes = 200);

// 61900 -> "61,900": counts in log lines people read.
std::string thousands(uint64_t n);

}  // namespace concur
