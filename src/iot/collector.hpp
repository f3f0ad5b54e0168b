#pragma once
// The collector of homework 10 (SPEC §3 collect): one thread, one EventLoop (src/loop, epoll), any
// number of devices. Each device is a watched descriptor with one loop timer (connect timeout,
// reconnect delay or offline check); the loop's queued task at the end of each iteration writes
// that pass's lines.
//
// For every device: a non-blocking connect, then "Register" (sent without a newline, as the
// lecture's Python devices expect), then readings. Bytes are reassembled into lines
// (LineAssembler); each valid reading becomes `<asctime>: <reading>\n`; all lines gathered in
// one loop pass go to the sink as one batch (one write()), so the file only ever holds whole lines.
//
// Faults: a device that is down, drops, or stays silent for `offline_after` is logged and
// reconnected with jittered backoff (Backoff) while the others keep flowing. A malformed or
// over-long reading goes to stderr, never to the sink; so does a reading under another device
// name than the connection's first reading. Those reports are rate-limited per device (the first
// 5 of every 10 s, then one summary line), and a logged line is cut at 200 bytes. When the sink fails (disk full), lines
// wait in a bounded backlog and the write is retried every second (per sink: a failing database
// or broker never holds up data.txt).
//
// A sink that follows data.txt (issue 21: SQLite, MQTT) gets only lines data.txt took, each
// batch with its end offset in the file (write_at), and keeps its own cursor. While it keeps up,
// its lines wait in memory (at most max_backlog bytes); once it falls behind — a failed write, no
// room, more than max_backlog waiting — the memory is dropped and it catches up by reading
// data.txt from its cursor (LogReader), a chunk per loop pass, until it is at the end again. At
// start each such sink resumes from the cursor it stored (checked: resume_from). Its lag
// (readings, bytes) is a metric, and logged once a minute while it is behind.
//
// Thread contract: construct, then run() on one thread; stop through the StopSource.
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/duration.hpp"
#include "core/endpoint.hpp"
#include "core/stop.hpp"
#include "iot/reading_sink.hpp"

namespace concur::iot {

struct CollectOptions {
  std::vector<Endpoint> devices;
  uint64_t count = 0;       // stop after this many lines (0: no limit)
  uint64_t per_device = 0;  // stop once every device gave this many lines (0: no limit)
  Millis duration{0};       // stop after this long (0: no limit)
  Millis offline_after{15000};
  Millis backoff_initial{500};
  Millis backoff_cap{5000};
  bool quiet = false;                  // no reading lines on stdout
  size_t max_backlog = 16u << 20;      // bytes kept while the sink fails; oldest lines go first
  Millis retry_every{1000};            // how often a failing sink is tried again
  // A sink that follows data.txt (ReadingSink::follows_log) and has no cursor yet starts at the
  // end of the existing file; with backfill, at its beginning (issue 21; docs/design.md says why).
  bool backfill = false;
  // --out-max-size: the first sink (data.txt, a regular file) past this many bytes is rotated
  // (data.txt -> data.txt.1, the older parts one up) and a new one begun; 0: never. At most
  // out_keep rotated parts are kept — more while a following sink has not taken them yet.
  uint64_t out_max_size = 0;
  unsigned out_keep = 5;
};

struct SinkStats {
  const ReadingSink* sink = nullptr;  // whose stats these are
  std::string name;                   // its name() ("data.txt", "mqtt://host:port")
  uint64_t stored = 0;  // lines this sink took
  uint64_t lost = 0;    // lines dropped from its full backlog, or unwritten at exit
  // A sink that follows data.txt: where it is, and how far behind (lines, bytes) at the end.
  bool follows = false;
  uint64_t position = 0, lag_lines = 0, lag_bytes = 0;
};

struct CollectStats {
  uint64_t stored = 0;     // lines the first sink (data.txt) took
  uint64_t malformed = 0;  // readings reported on stderr and not stored
  uint64_t misnamed = 0;   // readings under another name than the connection's first (not stored)
  uint64_t lost = 0;       // lines dropped from a full backlog, or unwritten at exit, over all sinks
  uint64_t reconnects = 0;
  std::vector<SinkStats> sinks;  // in the order the sinks were given

  // The stats of `sink`, asked by the sink itself or its name (not by its place among the
  // sinks). Throws std::out_of_range for a sink the collector was not given.
  const SinkStats& of(const ReadingSink* sink) const {
    for (const SinkStats& s : sinks)
      if (s.sink == sink) return s;
    throw std::out_of_range("CollectStats::of: not one of the collector's sinks");
  }
  const SinkStats& of(std::string_view name) const {
    for (const SinkStats& s : sinks)
      if (s.name == name) return s;
    throw std::out_of_range("CollectStats::of: no sink named " + std::string(name));
  }
};

class Collector {
 public:
  // `uniform01` feeds the backoff jitter (tests pin it); empty: a seeded PRNG.
  Collector(CollectOptions opts, ReadingSink& sink, const StopSource& stop, std::function<double()> uniform01 = {});
  // Every reading goes to every sink (data.txt first, then --db, --mqtt), each with its own backlog.
  Collector(CollectOptions opts, std::vector<ReadingSink*> sinks, const StopSource& stop,
            std::function<double()> uniform01 = {});
  ~Collector();
  Collector(const Collector&) = delete;
  Collector& operator=(const Collector&) = delete;

  // Runs until a limit is reached or the stop source fires; stores what is pending.
  // Returns 0, or 1 when some lines could not be stored (said on stderr).
  int run();
  const CollectStats& stats() const { return stats_; }

 private:
  struct Impl;
  CollectStats stats_;  // before impl_: Impl points into it
  std::unique_ptr<Impl> impl_;
};

}  // namespace concur::iot
