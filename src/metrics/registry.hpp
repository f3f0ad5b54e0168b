#pragma once
// Process-wide metrics (issue 22): counters, gauges and histograms whose label sets are fixed when
// they are registered (never a label per client: the number of series is bounded by the code, not
// by the traffic), and probes that compute a value when /metrics is scraped. exposition.hpp turns
// a Registry into Prometheus text; metrics/endpoint.hpp serves it for `--metrics`.
//
// Hot-path cost: Counter::add is one relaxed fetch_add on a cache line striped by thread (16
// cells, summed at scrape time), so epoll workers or connection threads counting the same bytes
// do not bounce one line between cores. No lock, no allocation. Until enable() — a command given
// --metrics calls it before it serves — add() is a relaxed load and a branch not taken.
//
// Thread contract: registering (start-up, locked) and scraping are safe from any thread. A
// registered Counter/Gauge/Histogram is never removed, so a hot path may keep its reference in a
// static. A Probe is removed when it is destroyed (its callback may refer to an object that dies).
#include "core/thread_annotations.hpp"
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace concur::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

// ---- on/off ------------------------------------------------------------------------------------
inline std::atomic<bool> g_enabled{false};
inline bool enabled() { return g_enabled.load(std::memory_order_relaxed); }
// Any thread; before serving, so that nothing counted early is lost.
inline void enable() { g_enabled.store(true, std::memory_order_relaxed); }

// ---- the value types -----------------------------------------------------------------------------
inline constexpr unsigned kStripes = 16;
namespace detail {
// 0: not assigned yet; else the stripe + 1. Constant-initialised and inline, so reading it is one
// TLS load in every file (callgrind: an out-of-line call here was 6 of the ~17 instructions a
// hook cost).
inline thread_local unsigned t_stripe = 0;
unsigned assign_stripe();  // the slow path, once per thread
}  // namespace detail
// The calling thread's cell index (assigned round-robin on first use).
inline unsigned this_thread_stripe() {
  unsigned s = detail::t_stripe;
  if (s == 0) [[unlikely]] s = detail::assign_stripe();
  return s - 1;
}

// Monotonic. Never goes down.
class Counter {
 public:
  void add(uint64_t n = 1) {
    if (enabled()) cells_[this_thread_stripe()].v.fetch_add(n, std::memory_order_relaxed);
  }
  uint64_t value() const;

 private:
  struct alignas(64) Cell {
    std::atomic<uint64_t> v{0};
  };
  Cell cells_[kStripes];
};

// Up and down; one atomic (changes are per connection or per state change, not per byte), and
// not gated by enable(): a state set before the endpoint starts must still be there.
class Gauge {
 public:
  void set(int64_t v) { v_.store(v, std::memory_order_relaxed); }
  void add(int64_t d = 1) { v_.fetch_add(d, std::memory_order_relaxed); }
  void sub(int64_t d = 1) { v_.fetch_sub(d, std::memory_order_relaxed); }
  int64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> v_{0};
};

// Fixed upper bounds (seconds, bytes...), counted per bucket; +Inf is implicit. observe() is a
// few relaxed atomics: for per-commit or per-request latencies, not per byte.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  const std::vector<double>& bounds() const { return bounds_; }
  // Per-bucket (not cumulative) counts, bounds().size() + 1 of them (the last: above every bound).
  std::vector<uint64_t> counts() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<double> sum_{0.0};
};

// Default latency buckets: 100 µs … 10 s.
std::vector<double> latency_buckets();

// ---- the registry --------------------------------------------------------------------------------
enum class Type { counter, gauge, histogram };
const char* type_name(Type t);

class Registry;

// A value computed at scrape time (on the endpoint's thread: `fn` must be thread-safe and quick).
// Unregisters when destroyed; movable.
class Probe {
 public:
  Probe() = default;
  Probe(Probe&& o) noexcept : reg_(std::exchange(o.reg_, nullptr)), id_(o.id_) {}
  Probe& operator=(Probe&& o) noexcept;
  ~Probe() { reset(); }
  void reset();

 private:
  friend class Registry;
  Probe(Registry* r, uint64_t id) : reg_(r), id_(id) {}
  Registry* reg_ = nullptr;
  uint64_t id_ = 0;
};

class Registry {
 public:
  // Register (or find, when name and labels were registered before: the same object is returned).
  // A name reused with another type, help-less or with other label names is a programming error:
  // std::logic_error. Names and label names are checked against Prometheus's grammar.
  Counter& counter(std::string_view name, std::string_view help, const Labels& labels = {});
  Gauge& gauge(std::string_view name, std::string_view help, const Labels& labels = {});
  Histogram& histogram(std::string_view name, std::string_view help, std::vector<double> bounds,
                       const Labels& labels = {});
  // A gauge or a counter whose value `fn` reads from where it is kept already.
  [[nodiscard]] Probe probe(Type type, std::string_view name, std::string_view help, const Labels& labels,
                            std::function<double()> fn);

  // Prometheus text exposition format 0.0.4, every family in registration order.
  std::string render() const;

 private:
  friend class Probe;
  struct Series {
    Labels labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
    std::function<double()> fn;  // a probe
    uint64_t probe_id = 0;
  };
  struct Family {
    std::string name, help;
    Type type;
    std::vector<std::string> label_names;
    std::vector<std::unique_ptr<Series>> series;
  };
  Series& find_or_add(std::string_view name, std::string_view help, Type type, const Labels& labels, bool probe) CONCUR_REQUIRES(mu_);
  void remove_probe(uint64_t id);

  mutable Mutex mu_;
  std::vector<std::unique_ptr<Family>> families_ CONCUR_GUARDED_BY(mu_);
  uint64_t next_probe_ CONCUR_GUARDED_BY(mu_) = 1;
};

// The process's registry, which --metrics serves. Lives until exit (never destroyed, so that a
// static reference to a series stays valid in threads that outlive main()).
Registry& registry();

}  // namespace concur::metrics
