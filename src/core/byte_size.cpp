#include "core/byte_size.hpp"

#include <cctype>

namespace concur {

std::optional<uint64_t> parse_byte_size(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0 || digits > 19) return std::nullopt;
  uint64_t value = 0;
  for (size_t k = 0; k < digits; ++k) value = value * 10 + static_cast<uint64_t>(text[k] - '0');
  std::string_view unit = text.substr(digits);
  unsigned shift = 0;
  auto is = [&](std::string_view a, std::string_view b, std::string_view c, std::string_view d) {
    return unit == a || unit == b || unit == c || unit == d;
  };
  if (unit.empty() || unit == "B" || unit == "b") shift = 0;
  else if (is("K", "k", "KB", "KiB")) shift = 10;
  else if (is("M", "m", "MB", "MiB")) shift = 20;
  else if (is("G", "g", "GB", "GiB")) shift = 30;
  else if (is("T", "t", "TB", "TiB")) shift = 40;
  else return std::nullopt;
  constexpr uint64_t kMax = uint64_t{1} << 62;
  if (value > (kMax >> shift)) return std::nullopt;
  return value << shift;
}

}  // namespace concur
