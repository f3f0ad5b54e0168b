#include "bench/load_common.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.hpp"
#include "core/log.hpp"
#include "core/socket.hpp"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

namespace concur {

FileDesc connect_spread(const Endpoint& to, int i, int sources) {
  FileDesc fd(::socket(to.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw_errno("socket");
  if (sources > 1 && to.family() == AF_INET) {
    int one = 1;
    ::setsockopt(fd.get(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    Endpoint src = Endpoint::parse("127.0.0." + std::to_string(1 + i % sources), 0);
    if (::bind(fd.get(), src.sa(), src.len()) < 0) throw_errno("cannot bind source " + src.ip());
  }
  int rc;
  do rc = ::connect(fd.get(), to.sa(), to.len());
  while (rc < 0 && errno == EINTR);
  if (rc < 0) throw_errno("cannot connect to " + to.to_string());
  set_nodelay(fd.get());
  set_nonblocking(fd.get());
  return fd;
}

namespace {

// Fields 3.. of /proc/PID/stat (after the command name); empty if the process is gone.
std::vector<std::string> stat_fields(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string content((std::istreambuf_iterator<char>(stat)), {});
  auto rp = content.rfind(')');
  std::vector<std::string> out;
  if (rp == std::string::npos || rp + 2 > content.size()) return out;
  std::istringstream rest(content.substr(rp + 2));
  for (std::string f; rest >> f;) out.push_back(f);
  return out;
}

double ticks_to_seconds(unsigned long long ticks) {
  return static_cast<double>(ticks) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// Field n (1-based, as proc(5) numbers them) of stat_fields(), as a number.
unsigned long long stat_number(const std::vector<std::string>& f, size_t n) {
  return n >= 3 && n - 3 < f.size() ? std::strtoull(f[n - 3].c_str(), nullptr, 10) : 0;
}

long kib_field(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return std::stol(line.substr(key.size()));
  return 0;
}

// CPU time of every thread of pid to the nanosecond (/proc/PID/task/*/schedstat, first field),
// or -1 where schedstat is missing. utime+stime in /proc/PID/stat count whole clock ticks (10 ms)
// per process, too coarse when a hundred children each use a few milliseconds.
double precise_cpu_seconds(int pid) {
  std::error_code ec;
  double ns = 0;
  bool any = false;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    std::ifstream in(it->path() / "schedstat");
    unsigned long long run_ns = 0;
    if (in >> run_ns) {
      ns += static_cast<double>(run_ns);
      any = true;
    }
  }
  return any ? ns / 1e9 : -1;
}

std::vector<int> children_of(int pid) {
  std::vector<int> out;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc", ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] < '0' || name[0] > '9') continue;
    int child = std::atoi(name.c_str());
    auto f = stat_fields(child);
    if (f.size() > 1 && f[0] != "Z" && std::atoi(f[1].c_str()) == pid) out.push_back(child);
  }
  return out;
}

}  // namespace

std::optional<ProcStats> read_proc_stats(int pid) {
  if (pid <= 0) return std::nullopt;
  auto f = stat_fields(pid);
  if (f.size() < 13) return std::nullopt;
  ProcStats s;
  double precise = precise_cpu_seconds(pid);
  s.cpu_seconds = precise >= 0 ? precise : ticks_to_seconds(stat_number(f, 14) + stat_number(f, 15));
  std::string dir = "/proc/" + std::to_string(pid);
  s.rss_kib = kib_field(dir + "/status", "VmRSS:");
  s.hwm_kib = kib_field(dir + "/status", "VmHWM:");
  std::ifstream rollup(dir + "/smaps_rollup");
  for (std::string line; std::getline(rollup, line);) {
    auto field = [&](std::string_view key) { return line.rfind(key, 0) == 0 ? std::stol(line.substr(key.size())) : 0; };
    s.pss_kib += field("Pss:");
    s.uss_kib += field("Private_Clean:") + field("Private_Dirty:");
  }
  return s;
}

std::optional<ProcStats> read_server_stats(int pid, bool children) {
  auto s = read_proc_stats(pid);
  if (!s || !children) return s;
  s->cpu_seconds += ticks_to_seconds(stat_number(stat_fields(pid), 16) + stat_number(stat_fields(pid), 17));
  for (int child : children_of(pid)) {
    if (auto c = read_proc_stats(child)) {
      s->cpu_seconds += c->cpu_seconds;
      s->rss_kib += c->rss_kib;
      s->pss_kib += c->pss_kib;
      s->hwm_kib += c->hwm_kib;
      s->uss_kib += c->uss_kib;
      s->children_uss_kib += c->uss_kib;
    }
  }
  return s;
}

void print_report(const BenchReport& r, bool json) {
  double rate = r.seconds > 0 ? static_cast<double>(r.ops) / r.seconds : 0;
  auto us = [&](double q) { return static_cast<double>(r.latency.percentile(q)) / 1000.0; };
  if (json) {
    std::string extra;
    for (auto& [k, v] : r.extra) extra += fmt::format(", \"{}\": {:.3f}", k, v);
    if (!r.tls.empty()) extra += fmt::format(", \"tls\": \"{}\"", r.tls);  // plain runs print as they always did
    outf("{{\"mode\": \"{}\", \"connections\": {}, \"size\": {}, \"pipeline\": {}, \"seconds\": {:.3f}, "
         "\"{}\": {}, \"per_second\": {:.1f}, \"p50_us\": {:.1f}, \"p99_us\": {:.1f}, \"p999_us\": {:.1f}, "
         "\"max_us\": {:.1f}, \"errors\": {}, \"verified_bytes\": {}{}}}",
         r.mode, r.connections, r.size, r.pipeline, r.seconds, r.unit == "round-trips" ? "roundtrips" : r.unit == "deliveries" ? "deliveries" : "verified",
         r.ops, rate, us(0.5), us(0.99), us(0.999), static_cast<double>(r.latency.max()) / 1000.0, r.errors,
         r.verified_bytes, extra);
    return;
  }
  outf("bench {}: {} connections, {}-byte messages, pipeline {}, {:.1f} s measured", r.mode, r.connections, r.size,
       r.pipeline, r.seconds);
  if (!r.tls.empty()) outf("  over TLS: {}", r.tls);
  if (r.mode == "hold") {
    outf("  held {:.1f} s, then verified echoing: {} of {}", r.seconds, r.ops, r.connections);
  } else {
    outf("  {}/s: {:.0f}   ({} in all)", r.unit, rate, r.ops);
    outf("  latency: p50 {:.1f} us   p99 {:.1f} us   p99.9 {:.1f} us   max {:.1f} us", us(0.5), us(0.99), us(0.999),
         static_cast<double>(r.latency.max()) / 1000.0);
  }
  outf("  errors: {}   verified bytes: {}", r.errors, r.verified_bytes);
  for (auto& [k, v] : r.extra) outf("  {}: {:.3f}", k, v);
}

std::optional<ProcStats> read_proc_stats(const std::vector<int>& pids) {
  ProcStats sum;
  for (int pid : pids) {
    auto s = read_proc_stats(pid);
    if (!s) return std::nullopt;
    sum.cpu_seconds += s->cpu_seconds;
    sum.rss_kib += s->rss_kib;
    sum.hwm_kib += s->hwm_kib;
  }
  return sum;
}

void add_server_cpu(BenchReport& r, const std::optional<ProcStats>& before, const std::vector<int>& server_pids) {
  auto after = read_proc_stats(server_pids);
  if (!after || !before) return;
  double cpu = after->cpu_seconds - before->cpu_seconds;
  r.extra.emplace_back("server_cpu_seconds", cpu);
  if (r.ops) r.extra.emplace_back("server_cpu_ms_per_million", cpu * 1000.0 * 1e6 / static_cast<double>(r.ops));
}

void add_server_cpu(BenchReport& r, const std::optional<ProcStats>& before, int server_pid, bool children) {
  auto after = read_server_stats(server_pid, children);
  if (!after || !before) return;
  double cpu = after->cpu_seconds - before->cpu_seconds;
  r.extra.emplace_back("server_cpu_seconds", cpu);
  if (r.ops) r.extra.emplace_back("server_cpu_ms_per_million", cpu * 1000.0 * 1e6 / static_cast<double>(r.ops));
}

void progress_line(bool enabled, const std::string& text) {
  if (!enabled) return;
  std::fprintf(stderr, "\r\033[K%s", escape_for_terminal(text).c_str());
  std::fflush(stderr);
}

}  // namespace concur
