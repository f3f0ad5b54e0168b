#include "core/burst_log.hpp"

#include "core/log.hpp"

namespace concur {

BurstLog::BurstLog(std::string what, Clock::duration quiet, Clock::duration window)
    : what_(std::move(what)), quiet_(quiet), window_(window) {}

BurstLog::~BurstLog() { flush(true); }

void BurstLog::hit(const std::function<std::string()>& first_line) {
  auto now = Clock::now();
  std::lock_guard lock(mu_);
  ++total_;
  if (active_ && now - last_ >= quiet_) summarize(now);  // the previous burst ended unnoticed
  if (active_) {
    ++counted_;
    last_ = now;
    if (now - since_ >= window_) {  // a long flood: one summary per window
      summarize(now);
      first_logged_ = true;
      active_ = true;
      since_ = now;
    }
    return;
  }
  active_ = true;
  counted_ = 0;
  since_ = last_ = now;
  try {
    err_line(first_line());
    first_logged_ = true;
  } catch (...) {
    first_logged_ = false;  // could not even format it: it is summed up with the rest
    ++counted_;
  }
}

void BurstLog::flush(bool force) {
  auto now = Clock::now();
  std::lock_guard lock(mu_);
  if (!active_) return;
  if (force || now - last_ >= quiet_) {
    summarize(now);
  } else if (now - since_ >= window_) {
    summarize(now);
    active_ = true;
    since_ = now;
  }
}

void BurstLog::summarize(Clock::time_point now) {
  active_ = false;
  if (counted_ == 0) return;
  double secs = std::chrono::duration<double>(now - since_).count();
  try {
    errf("concur: {}{} {} in the last {:.1f} s", counted_, first_logged_ ? " more" : "", what_, secs);
  } catch (...) {
  }
  counted_ = 0;
}

bool BurstLog::active() const {
  std::lock_guard lock(mu_);
  return active_;
}

size_t BurstLog::total() const {
  std::lock_guard lock(mu_);
  return total_;
}

}  // namespace concur
