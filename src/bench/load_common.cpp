#include "bench/load_common.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

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

std::optional<ProcStats> read_proc_stats(int pid) {
  if (pid <= 0) return std::nullopt;
  ProcStats s;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string content((std::istreambuf_iterator<char>(stat)), {});
  auto rp = content.rfind(')');
  if (rp == std::string::npos) return std::nullopt;
  std::istringstream rest(content.substr(rp + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  s.cpu_seconds = static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) s.rss_kib = std::stol(line.substr(6));
    if (line.rfind("VmHWM:", 0) == 0) s.hwm_kib = std::stol(line.substr(6));
  }
  return s;
}

void print_report(const BenchReport& r, bool json) {
  double rate = r.seconds > 0 ? static_cast<double>(r.ops) / r.seconds : 0;
  auto us = [&](double q) { return static_cast<double>(r.latency.percentile(q)) / 1000.0; };
  if (json) {
    std::string extra;
    for (auto& [k, v] : r.extra) extra += fmt::format(", \"{}\": {:.3f}", k, v);
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

void add_server_cpu(BenchReport& r, const std::optional<ProcStats>& before, int server_pid) {
  auto after = read_proc_stats(server_pid);
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
