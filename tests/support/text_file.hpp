#pragma once
// Reading what a command wrote: a whole file, and text as lines.
#include <chrono>
#include <string>
#include <vector>

namespace concur::test {

// The file's bytes ("" when it cannot be read).
std::string slurp(const std::string& path);
// Lines without their '\n'; a last line without one counts too.
std::vector<std::string> split_lines(const std::string& text);
// Lines in the file now.
size_t line_count(const std::string& path);
// Polls until the file holds at least `n` lines (true) or `timeout` passes (false).
bool wait_for_file_lines(const std::string& path, size_t n, std::chrono::milliseconds timeout);

}  // namespace concur::test
