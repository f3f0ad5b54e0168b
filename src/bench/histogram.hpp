#pragma once
// Latency histogram with bounded relative error (log-linear buckets, like HdrHistogram with 2
// significant digits): constant memory, O(1) record, percentiles within ~1 % of the true value.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace concur {

class Histogram {
 public:
  Histogram();
  void record(uint64_t value_ns);
  void merge(const Histogram& other);
  uint64_t count() const { return count_; }
  uint64_t max() const { return max_; }
  uint64_t min() const { return count_ ? min_ : 0; }
  double mean() const { return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0.0; }
  // Value at quantile q in [0,1] (an upper bound of the bucket, clamped to the max seen).
  uint64_t percentile(double q) const;

  static constexpr int kSubBits = 7;  // 128 sub-buckets per power of two: < 1 % error

 private:
  static size_t index_of(uint64_t v);
  static uint64_t upper_of(size_t index);
  std::vector<uint64_t> buckets_;
  uint64_t count_ = 0, sum_ = 0, max_ = 0, min_ = UINT64_MAX;
};

}  // namespace concur
