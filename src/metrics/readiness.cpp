#include "core/thread_annotations.hpp"
#include "metrics/readiness.hpp"

#include <algorithm>
#include <mutex>

namespace concur::metrics {

namespace {
struct Check {
  uint64_t id;
  std::string name;
  bool ok;
  std::string why;
};

// Checks change state rarely (a link going up or down): one mutex is plenty.
struct Checks {
  Mutex mu;
  std::vector<Check> list CONCUR_GUARDED_BY(mu);
  uint64_t next_id CONCUR_GUARDED_BY(mu) = 1;
};

Checks& checks() {
  static Checks& c = *new Checks();  // never destroyed: flags may die after main() returns
  return c;
}

template <typename F>
void with_check(uint64_t id, F&& f) {
  Checks& c = checks();
  MutexLock lock(c.mu);
  for (Check& k : c.list)
    if (k.id == id) f(k);
}
}  // namespace

ReadyFlag::ReadyFlag(std::string name, std::string why) {
  Checks& c = checks();
  MutexLock lock(c.mu);
  id_ = c.next_id++;
  c.list.push_back(Check{id_, std::move(name), false, std::move(why)});
}

ReadyFlag::~ReadyFlag() {
  Checks& c = checks();
  MutexLock lock(c.mu);
  std::erase_if(c.list, [this](const Check& k) { return k.id == id_; });
}

void ReadyFlag::ready() {
  with_check(id_, [](Check& k) {
    k.ok = true;
    k.why.clear();
  });
}

void ReadyFlag::not_ready(std::string why) {
  with_check(id_, [&](Check& k) {
    k.ok = false;
    k.why = std::move(why);
  });
}

ReadyVerdict readiness() {
  ReadyVerdict v;
  Checks& c = checks();
  MutexLock lock(c.mu);
  for (const Check& k : c.list)
    if (!k.ok) v.failing.emplace_back(k.name, k.why);
  v.ready = v.failing.empty();
  return v;
}

std::string readiness_text(const ReadyVerdict& v) {
  if (v.ready) return "ready\n";
  std::string out;
  for (const auto& [name, why] : v.failing) out += name + ": " + why + "\n";
  return out;
}

}  // namespace concur::metrics
