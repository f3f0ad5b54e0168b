#pragma once
// `concur bench models`: the Stevens table (UNIX Network Programming vol. 1, ch. 30) for today's
// kernel. Starts echo-server under every registered model as a child process of this one, drives
// each with the same echo load, and reports per model: server CPU per round-trip (children
// included for the forking models), round-trips/s, p50/p99 and memory per connection.
#include <string>
#include <vector>

#include "bench/load_common.hpp"

namespace concur {

// The offered load of `bench models` unless --rate says otherwise: light enough that every
// concurrent model keeps up on one core at 100 connections, so CPU per round-trip is the
// headline (it is the same work for every model; rt/s and latency are secondary).
constexpr double kModelsDefaultRate = 5000;

struct ModelsBenchOptions {
  LoadOptions load;                 // connections, size, duration, warmup, rate, progress
  std::vector<std::string> models;  // empty: every registered model
  std::string svg;                  // write a chart here ("" = none)
  bool json = false;
};

struct ModelRow {
  std::string model;
  int connections = 0;
  std::string skipped;  // why the model did not run ("" = it ran)
  BenchReport report;
  double cpu_us_per_rt = 0;     // server CPU (all its processes) per round-trip
  double kib_per_conn = 0;      // (server PSS under load - idle reference server PSS) / connections
};

struct ModelsBenchResult {
  std::vector<ModelRow> rows;   // concurrent models, registry order
  std::vector<ModelRow> alone;  // one client at a time (iterative), reported separately
  long reference_pss_kib = 0;   // an idle iterative server: the baseline of memory per connection
  bool pinned = false;          // server on one CPU, load generator on the next ones
  int generator_threads = 1;    // event loops (threads) of the load generator
  int generator_cpus = 1;       // CPUs the load generator was pinned to (when pinned)
  std::string command;          // the command line, for the report
};

// Throws UsageError for a connection count beyond the descriptor limit or an unknown model.
ModelsBenchResult run_models_bench(const ModelsBenchOptions& o);
void print_models_table(const ModelsBenchResult& r, const ModelsBenchOptions& o);
void write_models_svg(const ModelsBenchResult& r, const ModelsBenchOptions& o, const std::string& path);

// Raises the soft descriptor limit to the hard one and checks that `connections` sockets (plus
// the few this process needs itself) fit; a UsageError naming --connections otherwise.
void require_descriptors_for(int connections);

}  // namespace concur
