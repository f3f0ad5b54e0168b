#include "iot/backoff.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>

namespace concur::iot {

Backoff::Backoff(Millis initial, Millis cap, double jitter, std::function<double()> uniform01)
    : initial_(initial), cap_(std::max(cap, initial)), jitter_(jitter), uniform01_(std::move(uniform01)),
      base_(initial) {}

std::function<double()> Backoff::seeded_uniform01() {
  auto rng = std::make_shared<std::mt19937_64>(std::random_device{}());
  return [rng] { return std::uniform_real_distribution<double>(0.0, 1.0)(*rng); };
}

Millis Backoff::next() {
  double u = uniform01_ ? std::clamp(uniform01_(), 0.0, 1.0) : 0.5;
  double factor = 1.0 - jitter_ * u;  // (1 - j, 1]
  auto delay = Millis(static_cast<long long>(std::llround(static_cast<double>(base_.count()) * factor)));
  base_ = std::min(base_ * 2, cap_);
  ++attempts_;
  return std::max(delay, Millis(1));
}

}  // namespace concur::iot
