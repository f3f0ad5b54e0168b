#pragma once
#include "bench/load_common.hpp"

namespace concur {

// N connections, each keeping `pipeline` messages of `size` random bytes in flight (or, with a
// rate, one message at a time offered at that rate in all); every echoed byte is compared with
// what was sent. Latency is per message, send to last echoed byte. The connections are split
// round-robin over `threads` event loops, one thread each; their counts and histograms are merged
// into the report, and each one's own part is appended to `per_thread` when given.
BenchReport run_echo_load(const LoadOptions& o, std::vector<BenchReport>* per_thread = nullptr);

// Generator threads when --threads is not given: 1 with at most two usable CPUs (the server
// needs the other; pinned with taskset -c N that is one), else half the CPUs, at most 4.
int default_load_threads();

// Opens N connections, holds them idle for the duration (any drop is an error), then checks that
// each one still echoes. With a server PID, reports the server's RSS per held connection.
BenchReport run_hold_load(const LoadOptions& o);

// Group-chat fan-out: N members join (concur chat-server lines, or Redis SUBSCRIBE/PUBLISH);
// senders stamp each line with its send time; every delivery is timed at its receiver. Each sender
// keeps `pipeline` lines in flight, counted back by an observer member that only listens.
BenchReport run_chat_load(const LoadOptions& o);

}  // namespace concur
