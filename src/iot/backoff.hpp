#pragma once
// Reconnect delays: 0.5 s doubling to 5 s (SPEC §3 collect). Each delay is drawn from
// [base × (1 − jitter), base], so the spec's numbers stay upper bounds while many devices dropped
// together do not come back in lockstep (hocuspocus#175, nanotube#32). Pure: the random source
// is injected, so tests pin the sequence.
#include <functional>

#include "core/duration.hpp"

namespace concur::iot {

class Backoff {
 public:
  // `uniform01` returns a value in [0, 1).
  Backoff(Millis initial, Millis cap, double jitter, std::function<double()> uniform01);

  // A `uniform01` of its own: a PRNG seeded from std::random_device, held by the function (copies
  // share it). Not a thread_local engine: that is static TLS, 2.5 KiB that glibc zeroes on every
  // thread's stack when it starts — a page of RSS per client in the thread model (issue 24).
  static std::function<double()> seeded_uniform01();

  // The delay before the next attempt; grows the base for the one after.
  Millis next();
  // After a success: the next failure starts from `initial` again.
  void reset() { base_ = initial_; attempts_ = 0; }
  int attempts() const { return attempts_; }
  Millis base() const { return base_; }

 private:
  Millis initial_, cap_;
  double jitter_;
  std::function<double()> uniform01_;
  Millis base_;
  int attempts_ = 0;
};

}  // namespace concur::iot
