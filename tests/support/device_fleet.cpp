#include "support/device_fleet.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <vector>

#include "support/ports.hpp"
#include "support/sqlite_db.hpp"
#include "support/text_file.hpp"

namespace concur::test {

std::unique_ptr<Process> start_device_fleet(int n, const std::string& interval, const std::string& list) {
  for (int attempt = 0; attempt < 4; ++attempt) {
    int base = free_port_range(n);
    auto fleet = std::make_unique<Process>(std::vector<std::string>{
        concur_binary(), "device", "--fleet", std::to_string(n), "--port", std::to_string(base), "--interval", interval, "--quiet"});
    bool up = true;
    for (int i = 0; i < n && up; ++i) up = fleet->read_line(3000ms).has_value();
    if (!up) continue;  // lost a race for a port: another range
    std::ofstream f(list);
    for (int i = 0; i < n; ++i) f << loopback(base + i) << "\n";
    return fleet;
  }
  return nullptr;
}

std::map<std::string, size_t> lines_per_device(const std::string& text) {
  std::map<std::string, size_t> n;
  for (const auto& line : split_lines(text)) {
    size_t a = line.find(": ");
    size_t b = a == std::string::npos ? a : line.find(": ", a + 2);
    if (b == std::string::npos) {
      ADD_FAILURE() << "not a data.txt line: " << line;
      continue;
    }
    ++n[line.substr(a + 2, b - a - 2)];
  }
  return n;
}

std::map<std::string, size_t> db_readings_per_device(const std::string& db) {
  std::map<std::string, size_t> n;
  for (const auto& row : sqlite_rows(db, "SELECT device, count(*) FROM readings GROUP BY device")) {
    size_t bar = row.rfind('|');
    if (bar == std::string::npos) {
      ADD_FAILURE() << row;
      continue;
    }
    size_t rows = std::stoul(row.substr(bar + 1));
    EXPECT_EQ(rows % 3, 0u) << row << ": a reading stored in part";
    n[row.substr(0, bar)] = rows / 3;
  }
  return n;
}

}  // namespace concur::test
