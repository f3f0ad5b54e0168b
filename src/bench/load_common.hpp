#pragma once
// Pieces shared by the load generators behind `concur bench`: connecting many sockets (spread
// over several 127.0.0.x source addresses), reading a server's CPU and memory from /proc, and
// printing the report as text or JSON.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bench/histogram.hpp"
#include "clients/tls_client.hpp"
#include "core/endpoint.hpp"
#include "core/fd.hpp"

namespace concur {

struct LoadOptions {
  std::string host = "127.0.0.1";
  int port = 2500;
  int connections = 100;
  size_t size = 64;
  int pipeline = 1;
  std::chrono::milliseconds duration{5000};
  std::chrono::milliseconds warmup{1000};
  int sources = 1;          // source addresses 127.0.0.1 .. 127.0.0.<sources>
  int server_pid = 0;       // for CPU and RSS figures
  bool server_children = false;  // the server's child processes count as the server (process, prefork)
  double rate = 0;          // echo: round-trips/s offered in all (0: closed loop, as fast as echoes return)
  int threads = 0;          // echo: event loops (threads) the connections are split over; 0: default_load_threads()
  std::string progress_label;  // prefix of the progress line
  bool json = false;
  bool progress = false;    // live progress line (on a terminal)
  std::string target = "concur";  // chat: "concur" or "redis"
  int senders = 0;          // chat: 0 = every member but the observer
  std::vector<int> extra_ports;  // chat: members are split round-robin over port + these (federated servers)
  std::vector<int> extra_pids;   // more server processes whose CPU counts (the other servers, Redis)
  ClientTlsOptions tls;          // echo, chat (concur, web): --tls, --tls-ca, --tls-insecure
};

// Blocking connect from source address index i (IP_BIND_ADDRESS_NO_PORT keeps ports plentiful);
// the returned socket is non-blocking with TCP_NODELAY.
FileDesc connect_spread(const Endpoint& to, int i, int sources);

struct ProcStats {
  double cpu_seconds = 0;   // run time of its live threads (schedstat), else utime + stime
  long rss_kib = 0;         // VmRSS
  long hwm_kib = 0;         // VmHWM
  long pss_kib = 0;         // Pss (smaps_rollup): shared pages divided among the processes sharing them
  long uss_kib = 0;         // Private_Clean + Private_Dirty (smaps_rollup): pages no other process maps
  long children_uss_kib = 0;  // read_server_stats with children: uss_kib summed over the children only
};
std::optional<ProcStats> read_proc_stats(int pid);
// The server as a whole: with `children`, its CPU includes its live child processes and those it
// has reaped (cutime/cstime), and its memory is summed over them (RSS and PSS; PSS does not count
// the pages a forked child shares with its parent twice). children_uss_kib is the children's
// private memory alone: unlike PSS it does not move when unrelated processes map the same libc.
std::optional<ProcStats> read_server_stats(int pid, bool children);
// The sum over several processes (nullopt if any cannot be read).
std::optional<ProcStats> read_proc_stats(const std::vector<int>& pids);

struct BenchReport {
  std::string mode;
  std::string unit;  // "round-trips" or "deliveries"
  int connections = 0;
  size_t size = 0;
  int pipeline = 0;
  double seconds = 0;
  uint64_t ops = 0;
  Histogram latency;
  uint64_t errors = 0;
  uint64_t verified_bytes = 0;
  std::string tls;  // --tls: the protocol and cipher the connections use ("TLSv1.3 TLS_AES_256_GCM_SHA384")
  std::vector<std::pair<std::string, double>> extra;  // e.g. server_cpu_ms_per_million
};

void print_report(const BenchReport& r, bool json);

// Adds the server's CPU seconds since `before` (and per million operations) to the report.
void add_server_cpu(BenchReport& r, const std::optional<ProcStats>& before, int server_pid, bool children = false);
void add_server_cpu(BenchReport& r, const std::optional<ProcStats>& before, const std::vector<int>& server_pids);

// Live progress line on stderr, rewritten in place; only when enabled.
void progress_line(bool enabled, const std::string& text);

}  // namespace concur
