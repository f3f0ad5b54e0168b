#include "metrics/registry.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "metrics/exposition.hpp"

namespace concur::metrics {

namespace {
std::atomic<unsigned> g_next_stripe{0};
}  // namespace

unsigned detail::assign_stripe() {
  t_stripe = g_next_stripe.fetch_add(1, std::memory_order_relaxed) % kStripes + 1;
  return t_stripe;
}

uint64_t Counter::value() const {
  uint64_t sum = 0;
  for (const Cell& c : cells_) sum += c.v.load(std::memory_order_relaxed);
  return sum;
}

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  if (!std::is_sorted(bounds_.begin(), bounds_.end()) ||
      std::adjacent_find(bounds_.begin(), bounds_.end()) != bounds_.end())
    throw std::logic_error("histogram bounds must be strictly increasing");
  counts_ = std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1);
}

void Histogram::observe(double v) {
  if (!enabled()) return;
  // Bucket i counts bounds[i-1] < v <= bounds[i] (Prometheus's `le`: less than or equal).
  size_t i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::counts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  for (size_t i = 0; i < out.size(); ++i) out[i] = counts_[i].load(std::memory_order_relaxed);
  return out;
}

std::vector<double> latency_buckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

const char* type_name(Type t) {
  switch (t) {
    case Type::counter: return "counter";
    case Type::gauge: return "gauge";
    case Type::histogram: return "histogram";
  }
  return "untyped";
}

Probe& Probe::operator=(Probe&& o) noexcept {
  if (this != &o) {
    reset();
    reg_ = std::exchange(o.reg_, nullptr);
    id_ = o.id_;
  }
  return *this;
}

void Probe::reset() {
  if (reg_) std::exchange(reg_, nullptr)->remove_probe(id_);
}

Registry::Series& Registry::find_or_add(std::string_view name, std::string_view help, Type type,
                                        const Labels& labels, bool probe) {
  if (!valid_metric_name(name)) throw std::logic_error(fmt::format("metric name '{}' is not valid", name));
  if (help.empty()) throw std::logic_error(fmt::format("metric {} has no help text", name));
  for (const auto& [n, v] : labels)
    if (!valid_label_name(n) || (type == Type::histogram && n == "le"))
      throw std::logic_error(fmt::format("metric {}: label name '{}' is not valid", name, n));
  auto it = std::find_if(families_.begin(), families_.end(), [&](const auto& f) { return f->name == name; });
  Family* fam;
  if (it == families_.end()) {
    auto f = std::make_unique<Family>();
    f->name = name;
    f->help = help;
    f->type = type;
    for (const auto& l : labels) f->label_names.push_back(l.first);
    fam = f.get();
    families_.push_back(std::move(f));
  } else {
    fam = it->get();
    bool same_names = fam->label_names.size() == labels.size();
    for (size_t i = 0; same_names && i < labels.size(); ++i) same_names = fam->label_names[i] == labels[i].first;
    if (fam->type != type || !same_names)
      throw std::logic_error(fmt::format("metric {} registered again with another type or other labels", name));
    if (!probe)
      for (auto& s : fam->series)
        if (!s->probe_id && s->labels == labels) return *s;
  }
  fam->series.push_back(std::make_unique<Series>());
  fam->series.back()->labels = labels;
  return *fam->series.back();
}

Counter& Registry::counter(std::string_view name, std::string_view help, const Labels& labels) {
  MutexLock lock(mu_);
  Series& s = find_or_add(name, help, Type::counter, labels, false);
  if (!s.counter) s.counter = std::make_unique<Counter>();
  return *s.counter;
}

Gauge& Registry::gauge(std::string_view name, std::string_view help, const Labels& labels) {
  MutexLock lock(mu_);
  Series& s = find_or_add(name, help, Type::gauge, labels, false);
  if (!s.gauge) s.gauge = std::make_unique<Gauge>();
  return *s.gauge;
}

Histogram& Registry::histogram(std::string_view name, std::string_view help, std::vector<double> bounds,
                               const Labels& labels) {
  MutexLock lock(mu_);
  Series& s = find_or_add(name, help, Type::histogram, labels, false);
  if (!s.histogram) s.histogram = std::make_unique<Histogram>(std::move(bounds));
  else if (s.histogram->bounds() != bounds)
    throw std::logic_error(fmt::format("histogram {} registered again with other buckets", name));
  return *s.histogram;
}

Probe Registry::probe(Type type, std::string_view name, std::string_view help, const Labels& labels,
                      std::function<double()> fn) {
  if (type == Type::histogram) throw std::logic_error("a probe is a counter or a gauge");
  MutexLock lock(mu_);
  Series& s = find_or_add(name, help, type, labels, true);
  s.fn = std::move(fn);
  s.probe_id = next_probe_++;
  return Probe(this, s.probe_id);
}

void Registry::remove_probe(uint64_t id) {
  MutexLock lock(mu_);  // waits for a scrape that may be calling the probe right now
  for (auto& f : families_)
    std::erase_if(f->series, [id](const auto& s) { return s->probe_id == id; });
}

std::string Registry::render() const {
  std::string out;
  MutexLock lock(mu_);
  for (const auto& f : families_) {
    if (f->series.empty()) continue;
    write_header(out, f->name, f->help, f->type);
    for (const auto& s : f->series) {
      if (s->histogram) write_histogram(out, f->name, s->labels, s->histogram->bounds(), s->histogram->counts(), s->histogram->sum());
      else if (s->counter) write_sample(out, f->name, s->labels, std::to_string(s->counter->value()));
      else if (s->gauge) write_sample(out, f->name, s->labels, std::to_string(s->gauge->value()));
      else if (s->fn) write_sample(out, f->name, s->labels, format_value(s->fn()));
    }
  }
  return out;
}

Registry& registry() {
  static Registry& r = *new Registry();  // never destroyed: threads may count after main() returns
  return r;
}

}  // namespace concur::metrics
