#include "core/duration.hpp"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <string>

namespace concur {

std::optional<Millis> parse_duration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  double scale = 1000.0;
  std::string_view num = text;
  auto ends_with = [&](std::string_view suf) {
    return num.size() > suf.size() && num.substr(num.size() - suf.size()) == suf;
  };
  if (ends_with("ms")) { scale = 1.0; num.remove_suffix(2); }
  else if (ends_with("s")) { scale = 1000.0; num.remove_suffix(1); }
  else if (ends_with("m")) { scale = 60000.0; num.remove_suffix(1); }
  else if (ends_with("h")) { scale = 3600000.0; num.remove_suffix(1); }
  // Plain decimal only: digits with at most one '.'. strtod alone would also take "0x10",
  // "1e3", "inf" or a leading sign, none of which a user means as a duration.
  std::string s(num);
  size_t digits = 0, dots = 0;
  for (char ch : s) {
    if (std::isdigit(static_cast<unsigned char>(ch))) ++digits;
    else if (ch == '.') ++dots;
    else return std::nullopt;
  }
  if (digits == 0 || dots > 1) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(v) || v < 0 || v * scale > 1e15) return std::nullopt;
  return Millis(static_cast<long long>(std::llround(v * scale)));
}

}  // namespace concur
