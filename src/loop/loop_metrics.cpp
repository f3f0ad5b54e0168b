#include "loop/loop_metrics.hpp"

#include <cstring>
#include <stdexcept>

namespace concur::loop_metrics {

namespace {

struct Backend {
  const char* name;
  Series* series;
};

// Never destroyed (reachable from the static table below, so not a leak): a static Series would
// unregister its probe after the registry is gone at exit, and a scrape may run until then.
Series* make(const char* name) {
  auto& r = metrics::registry();
  Series* s = new Series{
      r.counter("concur_loop_wakeups_total", "Event loop wake-ups (returns from the wait), by loop backend.",
                {{"backend", name}}),
      {},
      {}};
  s->busy_probe = r.probe(metrics::Type::counter, "concur_loop_busy_seconds_total",
                          "Time event loops spent working between waits (callbacks, timers, posted tasks), by "
                          "loop backend.",
                          {{"backend", name}}, [s] { return static_cast<double>(s->busy_ns.value()) / 1e9; });
  return s;
}

}  // namespace

Series& for_backend(const char* backend) {
  static Backend table[] = {{"select", make("select")}, {"poll", make("poll")}, {"epoll", make("epoll")},
                            {"uring", make("uring")}};
  for (Backend& b : table)
    if (std::strcmp(b.name, backend) == 0) return *b.series;
  throw std::logic_error(std::string("loop_metrics: unknown backend ") + backend);
}

}  // namespace concur::loop_metrics
