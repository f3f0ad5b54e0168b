#pragma once
// The timer an event-loop model keeps for its AcceptGate: while refusals are being counted
// (AcceptGate::needs_tick), tick the gate once a second so that a burst's summary line comes out
// after a quiet second; no timer at all otherwise. Loop thread only.
#include <chrono>

#include "conn/accept_gate.hpp"
#include "loop/event_loop.hpp"

namespace concur {

class GateTicker {
 public:
  GateTicker(AcceptGate& gate, EventLoop& loop) : gate_(gate), loop_(loop) {}
  // Call after anything that may have counted a refusal (an accept, a refused or dropped client).
  void arm() {
    if (armed_ || !gate_.needs_tick()) return;
    armed_ = true;
    loop_.run_after(std::chrono::seconds(1), [this] {
      armed_ = false;
      gate_.tick();
      arm();
    });
  }

 private:
  AcceptGate& gate_;
  EventLoop& loop_;
  bool armed_ = false;
};

}  // namespace concur
