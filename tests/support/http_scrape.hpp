#pragma once
// A test's view of a --metrics endpoint: one HTTP GET with bounded waits, the port from the
// "metrics on" line, and the value of one series in Prometheus text.
#include <functional>
#include <optional>
#include <string>

#include "support/process.hpp"

namespace concur::test {

struct HttpReply {
  int status = 0;  // 0: no (complete) answer within the timeout
  std::string body;
};

// GET `path` from 127.0.0.1:port (HTTP/1.1, Connection: close), reading until the server closes.
HttpReply http_fetch(int port, const std::string& path, Ms timeout = Ms(3000));

// Reads `proc`'s stdout until its "metrics on <ip>:<port>" line; the port, or 0 when none came.
int wait_metrics_port(Process& proc, Ms timeout = Ms(10000));

// The value of the sample named exactly `series` ("name" or "name{a=\"b\"}", labels as rendered)
// in exposition text; nullopt when there is no such line.
std::optional<double> sample(const std::string& text, const std::string& series);

// Scrapes /metrics until sample(series) satisfies `want` or the time is up; the last value seen
// (nullopt when never present). Polling is the only signal a counter has.
std::optional<double> wait_sample(int port, const std::string& series, const std::function<bool(double)>& want,
                                  Ms timeout = Ms(5000));

}  // namespace concur::test
