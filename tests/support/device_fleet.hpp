#pragma once
// A fleet of simulated devices for collector tests (`concur device --fleet N`, consecutive ports),
// and what a test counts in what the collector stored: lines per device in data.txt text, readings
// per device in its SQLite database (three rows a reading, one per field).
#include <map>
#include <memory>
#include <string>

#include "support/process.hpp"

namespace concur::test {

// N devices sending a reading every `interval` ("10ms"), listening from a free port range; their
// addresses written to `list` (one HOST:PORT a line, for --device-list). nullptr when no range
// could be had after a few tries.
std::unique_ptr<Process> start_device_fleet(int n, const std::string& interval, const std::string& list);

// Lines per device of data.txt text ("<asctime>: <device>: <fields>"); a line of another shape
// is a test failure.
std::map<std::string, size_t> lines_per_device(const std::string& text);

// Readings per device in the collector's database; a reading stored in part is a test failure.
std::map<std::string, size_t> db_readings_per_device(const std::string& db);

}  // namespace concur::test
