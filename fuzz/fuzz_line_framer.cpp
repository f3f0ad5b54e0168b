// Fuzzes LineFramer: whatever the bytes and however TCP splits them, the lines are the same,
// none is longer than the limit, none contains '\n', and an over-long line stops the framer.
#include <cstdint>
#include <string>
#include <vector>

#include "core/line_framer.hpp"

namespace {
struct Result {
  std::vector<std::string> lines;
  bool too_long = false;
};
Result run(std::string_view bytes, size_t max, size_t piece) {
  concur::LineFramer f(max);
  Result r;
  for (size_t off = 0; off < bytes.size() && !r.too_long; off += piece) {
    auto st = f.feed(bytes.substr(off, piece), [&](std::string_view l) { r.lines.emplace_back(l); });
    r.too_long = st == concur::LineFramer::Status::too_long;
  }
  return r;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  size_t max = 1 + data[0] % 64;
  size_t piece = 1 + data[1] % 17;
  std::string_view bytes(reinterpret_cast<const char*>(data) + 2, size - 2);
  Result whole = run(bytes, max, bytes.size() + 1);
  Result split = run(bytes, max, piece);
  if (whole.too_long != split.too_long || whole.lines != split.lines) __builtin_trap();
  for (const auto& l : whole.lines)
    if (l.size() > max || l.find('\n') != std::string::npos) __builtin_trap();
  return 0;
}
