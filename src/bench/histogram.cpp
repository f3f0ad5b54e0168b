#include "bench/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace concur {

namespace {
constexpr uint64_t kSub = uint64_t{1} << Histogram::kSubBits;
}

Histogram::Histogram() : buckets_((64 - kSubBits + 1) * kSub, 0) {}

// Values below kSub map to themselves; above, each power of two [2^k, 2^(k+1)) is split into
// kSub equal buckets.
size_t Histogram::index_of(uint64_t v) {
  if (v < kSub) return static_cast<size_t>(v);
  int msb = 63 - std::countl_zero(v);
  int shift = msb - kSubBits;
  uint64_t sub = (v >> shift) - kSub;  // 0..kSub-1
  return static_cast<size_t>((static_cast<uint64_t>(shift) + 1) * kSub + sub);
}

uint64_t Histogram::upper_of(size_t index) {
  if (index < kSub) return index;
  uint64_t shift = index / kSub - 1;
  uint64_t sub = index % kSub;
  return ((kSub + sub + 1) << shift) - 1;
}

void Histogram::record(uint64_t v) {
  ++buckets_[index_of(v)];
  ++count_;
  sum_ += v;
  max_ = std::max(max_, v);
  min_ = std::min(min_, v);
}

void Histogram::merge(const Histogram& o) {
  for (size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += o.buckets_[i];
  count_ += o.count_;
  sum_ += o.sum_;
  max_ = std::max(max_, o.max_);
  min_ = std::min(min_, o.min_);
}

uint64_t Histogram::percentile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
  if (rank == 0) rank = 1;
  uint64_t seen = 0;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= rank) return std::min(upper_of(i), max_);
  }
  return max_;
}

}  // namespace concur
