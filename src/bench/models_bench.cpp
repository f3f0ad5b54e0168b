#include "bench/models_bench.hpp"

#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "bench/echo_load.hpp"
#include "core/child_process.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "models/model.hpp"

namespace concur {
namespace {

using namespace std::chrono_literals;

// Descriptors the load generator needs besides its connections (poller, pipes to the server,
// stdio, the reserve the server keeps, ...).
constexpr int kSpareDescriptors = 64;

// The first `n` CPUs this process may run on: the server gets the first, the load generator the
// others, so that they never compete (as bench/run_echo.sh does with taskset). Empty with fewer
// than two.
std::vector<int> first_cpus(size_t n) {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> out;
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return out;
  for (int c = 0; c < CPU_SETSIZE && out.size() < n; ++c)
    if (CPU_ISSET(c, &set)) out.push_back(c);
  if (out.size() < 2) out.clear();
  return out;
}

// Pins the calling thread (and the threads it starts later) to these CPUs.
void pin_calling_thread(const std::vector<int>& cpus) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int cpu : cpus) CPU_SET(cpu, &set);
  ::sched_setaffinity(0, sizeof set, &set);
}
// The same for one CPU, allocation-free: it runs in a forked child before exec.
void pin_calling_thread(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  ::sched_setaffinity(0, sizeof set, &set);
}

// An echo-server started from this binary: waits for its listening line; SIGTERM (then SIGKILL)
// and reaped when done, so no run leaves a server behind.
class ServerChild {
 public:
  ServerChild(const std::vector<std::string>& argv, int cpu) {
    child_ = spawn_piped(argv, {}, [cpu] {
      if (cpu >= 0) pin_calling_thread(cpu);
    });
    std::string buf;
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      while (auto line = take_line(buf)) {
        if (int p = port_from_listening_line(*line)) {
          port_ = p;
          return;
        }
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (!read_more(child_.out, buf, std::max(left, 1ms))) break;
    }
  }
  ~ServerChild() { stop(); }
  ServerChild(const ServerChild&) = delete;
  ServerChild& operator=(const ServerChild&) = delete;

  int port() const { return port_; }
  pid_t pid() const { return child_.pid; }
  // The server's first stderr line (why it did not start), once it has exited.
  std::string failure() {
    std::string err;
    while (read_more(child_.err, err, 500ms)) {
    }
    stop();
    auto nl = err.find('\n');
    std::string first = err.substr(0, nl);
    if (first.rfind("concur: ", 0) == 0) first.erase(0, 8);
    return first.empty() ? "did not start" : first;
  }
  void stop() {
    if (child_.pid <= 0) return;
    ::kill(child_.pid, SIGTERM);
    if (!wait_exit(child_.pid, 10s)) {
      ::kill(child_.pid, SIGKILL);
      wait_exit(child_.pid, 5s);
    }
    child_.pid = -1;
    for (int fd : {child_.in, child_.out, child_.err})
      if (fd >= 0) ::close(fd);
    child_.in = child_.out = child_.err = -1;
  }

 private:
  PipedChild child_;
  int port_ = 0;
};

double extra_of(const BenchReport& r, const std::string& key, double fallback = 0) {
  for (const auto& [k, v] : r.extra)
    if (k == key) return v;
  return fallback;
}

double per_second(const BenchReport& r) { return r.seconds > 0 ? static_cast<double>(r.ops) / r.seconds : 0; }
double us_at(const BenchReport& r, double q) { return static_cast<double>(r.latency.percentile(q)) / 1000.0; }

ModelRow run_one(const ModelInfo& m, int connections, const ModelsBenchOptions& o, int server_cpu,
                 long reference_pss, const std::string& label) {
  ModelRow row;
  row.model = m.name;
  row.connections = connections;
  if (m.max_connections && static_cast<size_t>(connections) > m.max_connections) {
    row.skipped = fmt::format("holds at most {} clients", m.max_connections);
    return row;
  }
  std::vector<std::string> argv = {self_executable(), "echo-server", "--quiet", "--port", "0", "--bind",
                                   "127.0.0.1",       "--model",     m.name,    "--max-queue", "16777216"};
  if (m.one_client_per_worker) argv.insert(argv.end(), {"--workers", std::to_string(connections)});
  ServerChild server(argv, server_cpu);
  if (!server.port()) {
    row.skipped = "cannot run here: " + server.failure();
    return row;
  }
  LoadOptions lo = o.load;
  lo.port = server.port();
  lo.host = "127.0.0.1";
  lo.connections = connections;
  lo.server_pid = server.pid();
  lo.server_children = m.forks;
  lo.progress_label = label;
  if (connections > 5000) lo.sources = std::max(lo.sources, 4);  // ephemeral ports per source address
  try {
    row.report = run_echo_load(lo);
  } catch (const std::exception& e) {
    row.skipped = std::string("failed: ") + e.what();
    row.report.errors = 1;
    return row;
  }
  server.stop();
  double cpu = extra_of(row.report, "server_cpu_seconds", -1);
  if (row.report.ops && cpu >= 0) row.cpu_us_per_rt = cpu * 1e6 / static_cast<double>(row.report.ops);
  double pss = extra_of(row.report, "server_pss_kib", -1);
  if (pss >= 0) row.kib_per_conn = (pss - static_cast<double>(reference_pss)) / connections;
  return row;
}

std::string json_row(const ModelRow& r) {
  if (!r.skipped.empty() && r.report.ops == 0)
    return fmt::format("{{\"model\": \"{}\", \"connections\": {}, \"skipped\": \"{}\"}}", r.model, r.connections,
                       escape_for_terminal(r.skipped));
  return fmt::format(
      "{{\"model\": \"{}\", \"connections\": {}, \"server_cpu_us_per_roundtrip\": {:.3f}, "
      "\"roundtrips_per_second\": {:.1f}, \"p50_us\": {:.1f}, \"p99_us\": {:.1f}, \"kib_per_connection\": {:.1f}, "
      "\"offers_missed\": {:.0f}, \"errors\": {}}}",
      r.model, r.connections, r.cpu_us_per_rt, per_second(r.report), us_at(r.report, 0.5), us_at(r.report, 0.99),
      r.kib_per_conn, extra_of(r.report, "offers_missed"), r.report.errors);
}

std::string load_description(const ModelsBenchOptions& o) {
  std::string how = o.load.rate > 0 ? fmt::format("fixed offered load of {:.0f} round-trips/s", o.load.rate)
                                    : std::string("closed loop (each echo starts the next message)");
  return fmt::format("{}-byte echo, {}, {:.1f} s measured after {:.1f} s warm-up", o.load.size, how,
                     std::chrono::duration<double>(o.load.duration).count(),
                     std::chrono::duration<double>(o.load.warmup).count());
}

}  // namespace

void require_descriptors_for(int connections) {
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
    ::getrlimit(RLIMIT_NOFILE, &rl);
  }
  auto need = static_cast<rlim_t>(connections) + kSpareDescriptors;
  if (rl.rlim_cur != RLIM_INFINITY && need > rl.rlim_cur)
    throw UsageError(fmt::format("--connections: {} connections need about {} descriptors, more than this process "
                                 "may open ({}; see ulimit -n)",
                                 connections, static_cast<unsigned long long>(need),
                                 static_cast<unsigned long long>(rl.rlim_cur)));
}

ModelsBenchResult run_models_bench(const ModelsBenchOptions& o) {
  std::vector<const ModelInfo*> chosen;
  for (const auto& name : o.models) {
    const ModelInfo* m = find_model(name);
    if (!m) {
      std::vector<std::string> all;
      for (const auto& info : model_registry()) all.push_back(info.name);
      throw UsageError(fmt::format("--models: '{}' is not a model (models: {})", name, fmt::join(all, ", ")));
    }
  }
  for (const auto& m : model_registry())
    if (o.models.empty() || std::find(o.models.begin(), o.models.end(), m.name) != o.models.end())
      chosen.push_back(&m);
  require_descriptors_for(o.load.connections);

  ModelsBenchResult result;
  ModelsBenchOptions opts = o;
  // Decided before pinning: default_load_threads() counts the CPUs this process may use.
  result.generator_threads = opts.load.threads = o.load.threads > 0 ? o.load.threads : default_load_threads();
  auto cpus = first_cpus(1 + static_cast<size_t>(opts.load.threads));
  int server_cpu = -1;
  cpu_set_t saved;
  ::sched_getaffinity(0, sizeof saved, &saved);
  if (!cpus.empty()) {
    server_cpu = cpus[0];
    pin_calling_thread(std::vector<int>(cpus.begin() + 1, cpus.end()));
    result.pinned = true;
    result.generator_cpus = static_cast<int>(cpus.size()) - 1;
  }
  {
    // Memory per connection is measured against an idle single-process server.
    ServerChild reference({self_executable(), "echo-server", "--quiet", "--port", "0", "--bind", "127.0.0.1",
                           "--model", "iterative"},
                          server_cpu);
    if (reference.port())
      if (auto s = read_proc_stats(reference.pid())) result.reference_pss_kib = s->pss_kib;
  }
  int i = 0;
  for (const ModelInfo* m : chosen) {
    ++i;
    std::string label = fmt::format("[{}/{}] {}: ", i, chosen.size(), m->name);
    progress_line(o.load.progress, label + "starting");
    if (m->concurrent) result.rows.push_back(run_one(*m, o.load.connections, opts, server_cpu, result.reference_pss_kib, label));
    else result.alone.push_back(run_one(*m, 1, opts, server_cpu, result.reference_pss_kib, label));
  }
  progress_line(o.load.progress, "");
  ::sched_setaffinity(0, sizeof saved, &saved);
  return result;
}

void print_models_table(const ModelsBenchResult& r, const ModelsBenchOptions& o) {
  if (o.json) {
    std::vector<std::string> rows, alone;
    for (const auto& row : r.rows) rows.push_back(json_row(row));
    for (const auto& row : r.alone) alone.push_back(json_row(row));
    outf("{{\"connections\": {}, \"size\": {}, \"rate\": {:.1f}, \"seconds\": {:.3f}, \"pinned\": {}, "
         "\"reference_pss_kib\": {}, \"models\": [{}], \"one_client_at_a_time\": [{}], \"generator_threads\": {}}}",
         o.load.connections, o.load.size, o.load.rate, std::chrono::duration<double>(o.load.duration).count(),
         r.pinned ? "true" : "false", r.reference_pss_kib, fmt::join(rows, ", "), fmt::join(alone, ", "),
         r.generator_threads);
    return;
  }
  outf("bench models: {} connections, {}", o.load.connections, load_description(o));
  std::string threads = r.generator_threads > 1 ? fmt::format(" ({} threads)", r.generator_threads) : "";
  if (!r.pinned) outf("server and load generator{} share the CPUs (fewer than two available)", threads);
  else if (r.generator_cpus > 1) outf("server pinned to one CPU, load generator{} to {} others", threads, r.generator_cpus);
  else outf("server pinned to one CPU, load generator{} to another", threads);
  if (o.load.rate > 0)
    outf("headline: server CPU us per round-trip at the same offered load for every model (rt/s and latency are "
         "secondary)");
  outf("");
  auto header = [] {
    outf("{:<10} {:>16} {:>14} {:>10} {:>10} {:>13} {:>7}", "model", "server CPU us/rt", "round-trips/s", "p50 us",
         "p99 us", "KiB per conn", "errors");
  };
  std::vector<std::string> skipped;
  auto print_rows = [&](const std::vector<ModelRow>& rows) {
    for (const auto& row : rows) {
      if (!row.skipped.empty() && row.report.ops == 0) {
        skipped.push_back(fmt::format("{} ({})", row.model, row.skipped));
        continue;
      }
      outf("{:<10} {:>16.1f} {:>14.0f} {:>10.1f} {:>10.1f} {:>13.1f} {:>7}", row.model, row.cpu_us_per_rt,
           per_second(row.report), us_at(row.report, 0.5), us_at(row.report, 0.99), row.kib_per_conn,
           row.report.errors);
    }
  };
  header();
  print_rows(r.rows);
  if (!r.alone.empty()) {
    outf("");
    outf("one client at a time (1 connection; the others would wait in the backlog):");
    header();
    print_rows(r.alone);
  }
  for (const auto& s : skipped) outf("not run: {}", escape_for_terminal(s));
  if (o.load.rate > 0) {
    for (const auto& row : r.rows) {
      double missed = extra_of(row.report, "offers_missed");
      if (missed > 0)
        outf("note: {} could not keep up with the offered load ({:.0f} offers found every connection busy)", row.model,
             missed);
    }
  }
  outf("server CPU: run time of the server's threads and, for process/prefork, its children; KiB per conn: server PSS "
       "under load minus an idle iterative server ({} KiB), divided by the connections",
       r.reference_pss_kib);
}

void write_models_svg(const ModelsBenchResult& r, const ModelsBenchOptions& o, const std::string& path) {
  std::vector<const ModelRow*> rows;
  for (const auto& row : r.rows)
    if (row.report.ops) rows.push_back(&row);
  for (const auto& row : r.alone)
    if (row.report.ops) rows.push_back(&row);
  double max_cpu = 0;
  for (const auto* row : rows) max_cpu = std::max(max_cpu, row->cpu_us_per_rt);
  if (max_cpu <= 0) max_cpu = 1;
  const int bar_x = 110, bar_w = 420, row_h = 26, top = 56;
  const int height = top + row_h * static_cast<int>(rows.size()) + 30;
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"760\" height=\"{}\" font-family=\"sans-serif\" "
      "font-size=\"13\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      "<text x=\"10\" y=\"22\" font-size=\"15\" font-weight=\"bold\">Server CPU per echo round-trip (µs), "
      "{} connections</text>\n<text x=\"10\" y=\"42\" fill=\"#555\">{}</text>\n",
      height, o.load.connections, load_description(o));
  int y = top;
  for (const auto* row : rows) {
    int w = static_cast<int>(bar_w * row->cpu_us_per_rt / max_cpu);
    bool alone = row->connections == 1 && o.load.connections != 1;
    svg += fmt::format("<text x=\"10\" y=\"{}\">{}{}</text>\n", y + 17, row->model, alone ? " (1 conn)" : "");
    svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"/>\n", bar_x, y + 4,
                       std::max(w, 1), row_h - 8, alone ? "#bbb" : "#4a7fb5");
    svg += fmt::format("<text x=\"{}\" y=\"{}\">{:.1f} µs · {:.0f} rt/s · p99 {:.0f} µs</text>\n", bar_x + w + 6,
                       y + 17, row->cpu_us_per_rt, per_second(row->report), us_at(row->report, 0.99));
    y += row_h;
  }
  svg += "</svg>\n";
  std::ofstream out(path);
  out << svg;
  if (!out) throw SysError("cannot write " + path, errno);
}

}  // namespace concur
