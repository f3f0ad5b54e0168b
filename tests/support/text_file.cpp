#include "support/text_file.hpp"

#include <fstream>
#include <sstream>
#include <thread>

namespace concur::test {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

size_t line_count(const std::string& path) { return split_lines(slurp(path)).size(); }

bool wait_for_file_lines(const std::string& path, size_t n, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (line_count(path) >= n) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return line_count(path) >= n;
}

}  // namespace concur::test
