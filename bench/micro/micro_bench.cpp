// Google Benchmark micro-benchmarks of the hot pure pieces: line framing, buffer append/consume,
// histogram recording, a metrics counter hook (off and on, one and two threads).
// Run: build/release/bench/micro_bench
#include <benchmark/benchmark.h>

#include <string>

#include "bench/histogram.hpp"
#include "core/buffer.hpp"
#include "core/line_framer.hpp"
#include "metrics/registry.hpp"

static void BM_LineFramer_64ByteLines(benchmark::State& state) {
  std::string chunk;
  for (int i = 0; i < 64; ++i) chunk += std::string(63, 'a') + "\n";
  concur::LineFramer framer(4096);
  size_t lines = 0;
  for (auto _ : state) {
    framer.feed(chunk, [&](std::string_view l) { lines += l.size() > 0; });
  }
  benchmark::DoNotOptimize(lines);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * chunk.size()));
}
BENCHMARK(BM_LineFramer_64ByteLines);

static void BM_Buffer_AppendConsume(benchmark::State& state) {
  concur::Buffer buf;
  std::string msg(static_cast<size_t>(state.range(0)), 'x');
  for (auto _ : state) {
    buf.append(msg);
    buf.consume(msg.size());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * msg.size()));
}
BENCHMARK(BM_Buffer_AppendConsume)->Arg(64)->Arg(4096);

static void BM_Histogram_Record(benchmark::State& state) {
  concur::Histogram h;
  uint64_t v = 1;
  for (auto _ : state) {
    h.record(v);
    v = v * 6364136223846793005ULL + 1442695040888963407ULL;
    v >>= 40;
  }
  benchmark::DoNotOptimize(h.count());
}
BENCHMARK(BM_Histogram_Record);

// The cost of one counting hook on the hot path (conn_metrics::received and sent are one each):
// without --metrics (a relaxed load and a branch) and with it (a relaxed add on the thread's
// stripe), also from two threads at once (epoll --workers 2: no shared cache line bounces).
static void BM_MetricsCounter_Add(benchmark::State& state) {
  static concur::metrics::Registry r;
  static concur::metrics::Counter& c = r.counter("bench_total", "Bench.");
  if (state.range(0)) concur::metrics::enable();
  for (auto _ : state) c.add(64);
  benchmark::DoNotOptimize(c.value());
}
BENCHMARK(BM_MetricsCounter_Add)->Arg(0)->Arg(1)->ArgName("enabled");
BENCHMARK(BM_MetricsCounter_Add)->Arg(1)->ArgName("enabled")->Threads(2);

BENCHMARK_MAIN();
