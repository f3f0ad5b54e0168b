#include "iot/backoff.hpp"

#include <algorithm>
#include <cmath>

namespace concur::iot {

Backoff::Backoff(Millis initial, Millis cap, double jitter, std::function<double()> uniform01)
    : initial_(initial), cap_(std::max(cap, initial)), jitter_(jitter), uniform01_(std::move(uniform01)),
      base_(initial) {}

Millis Backoff::next() {
  double u = uniform01_ ? std::clamp(uniform01_(), 0.0, 1.0) : 0.5;
  double factor = 1.0 - jitter_ * u;  // (1 - j, 1]
  auto delay = Millis(static_cast<long long>(std::llround(static_cast<double>(base_.count()) * factor)));
  base_ = std::min(base_ * 2, cap_);
  ++attempts_;
  return std::max(delay, Millis(1));
}

}  // namespace concur::iot
