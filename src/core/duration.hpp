#pragma once
// Durations on the command line: seconds, possibly fractional ("0.5"), or with a unit
// ("500ms", "3s", "2m", "1h").
#include <chrono>
#include <optional>
#include <string_view>

namespace concur {

using Millis = std::chrono::milliseconds;

// A duration in seconds, for messages ("retried in 0.5 s").
inline double seconds_of(Millis m) { return static_cast<double>(m.count()) / 1000.0; }

std::optional<Millis> parse_duration(std::string_view text);

}  // namespace concur
