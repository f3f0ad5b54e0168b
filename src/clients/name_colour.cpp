#include "clients/name_colour.hpp"

#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace concur {

namespace {
// Foreground colours readable on dark and light backgrounds alike (no black, white or grey).
constexpr std::array<std::string_view, 12> kPalette = {"31", "32", "33", "34", "35", "36",
                                                       "91", "92", "93", "94", "95", "96"};
// Longest "[ID]" worth looking at: 32 bytes of ID, each escaped as at most "\u202e" (6 bytes).
constexpr size_t kMaxTag = 2 + 32 * 6;
}  // namespace

bool colour_wanted(bool no_color_option) {
  if (no_color_option) return false;
  const char* nc = std::getenv("NO_COLOR");
  if (nc && *nc) return false;
  const char* term = std::getenv("TERM");
  if (!term || !*term || std::strcmp(term, "dumb") == 0) return false;  // shows escapes as text
  return ::isatty(STDOUT_FILENO);
}

std::string_view name_colour(std::string_view id) {
  uint32_t h = 2166136261u;  // FNV-1a: stable across runs, machines and builds
  for (char c : id) {
    h ^= static_cast<unsigned char>(c);
    h *= 16777619u;
  }
  return kPalette[h % kPalette.size()];
}

std::string colour_chat_line(std::string_view line) {
  if (line.empty() || line[0] != '[') return std::string(line);
  size_t close = line.find(']');
  if (close == std::string_view::npos || close < 2 || close > kMaxTag) return std::string(line);
  std::string_view id = line.substr(1, close - 1);
  std::string out = "\x1b[";
  out += name_colour(id);
  out += 'm';
  out += line.substr(0, close + 1);
  out += "\x1b[0m";
  out += line.substr(close + 1);
  return out;
}

}  // namespace concur
