#pragma once
#include "bench/load_common.hpp"

namespace concur {

// N connections, each keeping `pipeline` messages of `size` random bytes in flight; every echoed
// byte is compared with what was sent. Latency is per message, send to last echoed byte.
BenchReport run_echo_load(const LoadOptions& o);

// Opens N connections, holds them idle for the duration (any drop is an error), then checks that
// each one still echoes. With a server PID, reports the server's RSS per held connection.
BenchReport run_hold_load(const LoadOptions& o);

// Group-chat fan-out: N members join (concur chat-server lines, or Redis SUBSCRIBE/PUBLISH);
// senders stamp each line with its send time; every delivery is timed at its receiver. Each sender
// keeps `pipeline` lines in flight, counted back by an observer member that only listens.
BenchReport run_chat_load(const LoadOptions& o);

}  // namespace concur
