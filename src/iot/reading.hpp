#pragma once
// Homework 10's readings (SPEC §3 device/collect), pure: no I/O, no clock.
//
//   env    (Device1, port 7001, every 3 s): "Device1: Temp=<0..40>, Humid=<0..100>, lilum=<70..150>"
//   health (Device2, port 7002, every 5 s): "Device2: Heartbeat=<40..140>, Steps=<2000..6000>, Cal=<1000..4000>"
//
// Ranges are inclusive; "lilum" is spelled as in the assignment. The collector accepts any line
// of the grammar `<name>: <Key>=<integer>` followed by `, <Key>=<integer>` any number of times,
// at most kMaxReading bytes; everything else is reported, never stored. One connection speaks
// for one device: the <name> of its first valid reading is pinned, and a later reading on that
// connection under another name is reported and not stored (a new connection pins afresh).
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "core/duration.hpp"

namespace concur::iot {

inline constexpr size_t kMaxReading = 1024;  // bytes, without the line terminator

enum class DeviceKind { env, health };

struct FieldSpec {
  std::string_view key;
  int lo;  // inclusive
  int hi;  // inclusive
};

struct KindSpec {
  DeviceKind kind;
  std::string_view kind_name;     // "env" | "health"
  std::string_view default_name;  // "Device1" | "Device2"
  uint16_t default_port;          // 7001 | 7002
  Millis default_interval;        // 3 s | 5 s
  std::vector<FieldSpec> fields;
};

const KindSpec& kind_spec(DeviceKind kind);
std::optional<DeviceKind> parse_kind(std::string_view text);

// One reading line without its "\n", every field drawn uniformly from its inclusive range.
std::string make_reading(std::string_view device_name, const KindSpec& spec, std::mt19937_64& rng);

struct Field {
  std::string_view key;
  int64_t value;
};
struct ParsedReading {
  std::string_view name;
  std::vector<Field> fields;
};

// Checks a line (terminator already removed) against the reading grammar. The views point into
// `line`. On failure returns nullopt and, if `why` is given, says what is wrong.
std::optional<ParsedReading> parse_reading(std::string_view line, std::string* why = nullptr);

// Device names: 1..64 printable ASCII characters, no ':' and no leading/trailing space.
bool valid_device_name(std::string_view name);

}  // namespace concur::iot
