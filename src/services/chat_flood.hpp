#pragma once
// Per-member message rate limit (SPEC §3 "abuse limits"): a token bucket of `burst` messages
// refilled at `rate` per second. Pure: the caller passes the time, so tests need no sleeping.
//
// A message over the limit is dropped. The first drop of an episode is answered with
// "error: slow down"; the episode ends when the bucket has refilled completely (the member went
// quiet for burst/rate seconds). A member that keeps sending through a whole episode until `burst`
// more messages were dropped is disconnected. The defaults (100/s, burst 500) never touch a
// person typing, or pasting a few hundred lines.
#include <algorithm>
#include <chrono>
#include <cstddef>

namespace concur::chat {

class FloodGuard {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Verdict { pass, warn, drop, disconnect };

  // rate <= 0 disables the limit.
  FloodGuard(double rate, size_t burst)
      : rate_(rate), burst_(static_cast<double>(std::max<size_t>(burst, 1))), tokens_(burst_) {}

  Verdict on_message(Clock::time_point now) {
    if (rate_ <= 0) return Verdict::pass;
    if (started_) {
      double gained = std::chrono::duration<double>(now - last_).count() * rate_;
      if (gained > 0) tokens_ = std::min(burst_, tokens_ + gained);
    }
    started_ = true;
    last_ = now;
    if (tokens_ >= burst_) dropped_ = 0;  // a full bucket ends the episode
    if (tokens_ >= 1) {
      tokens_ -= 1;
      return Verdict::pass;
    }
    ++dropped_;
    if (static_cast<double>(dropped_) > burst_) return Verdict::disconnect;
    return dropped_ == 1 ? Verdict::warn : Verdict::drop;
  }

 private:
  double rate_;
  double burst_;
  double tokens_;
  size_t dropped_ = 0;
  bool started_ = false;
  Clock::time_point last_{};
};

}  // namespace concur::chat
