#pragma once
// One log line per burst instead of one per event. A flood of like events (connections refused
// beyond FD_SETSIZE, clients dropped for lack of memory) must not turn the log into a second
// flood: the first event of a burst is logged in full, the rest are counted and summed up in one
// line when the burst is over (a quiet second) or every 10 s while it lasts.
//
// Thread-safe. Logging never throws: under memory pressure a line that cannot be formatted is
// left out rather than taking the caller down.
#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>

namespace concur {

class BurstLog {
 public:
  using Clock = std::chrono::steady_clock;
  // `what` names the counted events in the summary line, e.g. "connections refused: descriptor
  // beyond select()'s FD_SETSIZE".
  explicit BurstLog(std::string what, Clock::duration quiet = std::chrono::seconds(1),
                    Clock::duration window = std::chrono::seconds(10));
  ~BurstLog();  // sums up an open burst
  BurstLog(const BurstLog&) = delete;
  BurstLog& operator=(const BurstLog&) = delete;

  // Records one event; the first of a burst logs first_line() on stderr.
  void hit(const std::function<std::string()>& first_line);
  // Writes the summary line of a burst that is over (or whose window is full); `force` ends any
  // open burst. Owners call it from their loops, at least every second while active().
  void flush(bool force = false);
  bool active() const;
  // Events since this log was created (for tests and summaries).
  size_t total() const;

 private:
  void summarize(Clock::time_point now);  // mu_ held

  const std::string what_;
  const Clock::duration quiet_, window_;
  mutable std::mutex mu_;
  bool active_ = false;
  bool first_logged_ = false;  // the burst's first line made it out
  size_t counted_ = 0;  // events after the first line or the last summary
  size_t total_ = 0;
  Clock::time_point since_{}, last_{};
};

}  // namespace concur
