#include "iot/reading.hpp"

#include <charconv>

namespace concur::iot {

namespace {

const KindSpec kEnv{DeviceKind::env, "env", "Device1", 7001, Millis(3000),
                    {{"Temp", 0, 40}, {"Humid", 0, 100}, {"lilum", 70, 150}}};
const KindSpec kHealth{DeviceKind::health, "health", "Device2", 7002, Millis(5000),
                       {{"Heartbeat", 40, 140}, {"Steps", 2000, 6000}, {"Cal", 1000, 4000}}};

bool is_key_start(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
bool is_key_char(char c) { return is_key_start(c) || (c >= '0' && c <= '9'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }


}  // namespace

const KindSpec& kind_spec(DeviceKind kind) { return kind == DeviceKind::env ? kEnv : kHealth; }

std::optional<DeviceKind> parse_kind(std::string_view text) {
  if (text == "env") return DeviceKind::env;
  if (text == "health") return DeviceKind::health;
  return std::nullopt;
}

bool valid_device_name(std::string_view name) {
  if (name.empty() || name.size() > 64 || name.front() == ' ' || name.back() == ' ') return false;
  for (char c : name)
    if (c < 0x20 || c > 0x7e || c == ':') return false;
  return true;
}

std::string make_reading(std::string_view device_name, const KindSpec& spec, std::mt19937_64& rng) {
  std::string out;
  out.reserve(device_name.size() + 48);
  out.append(device_name).append(": ");
  bool first = true;
  for (const auto& f : spec.fields) {
    if (!first) out.append(", ");
    first = false;
    std::uniform_int_distribution<int> dist(f.lo, f.hi);
    out.append(f.key).append("=").append(std::to_string(dist(rng)));
  }
  return out;
}

std::optional<ParsedReading> parse_reading(std::string_view line, std::string* why) {
  auto bad = [why](std::string_view text) -> std::optional<ParsedReading> {
    if (why) *why = std::string(text);
    return std::nullopt;
  };
  if (line.size() > kMaxReading) return bad("longer than 1024 bytes");
  size_t colon = line.find(": ");
  if (colon == std::string_view::npos) return bad("no '<name>: ' prefix");
  ParsedReading r;
  r.name = line.substr(0, colon);
  if (!valid_device_name(r.name)) return bad("bad device name");
  size_t i = colon + 2;
  for (;;) {
    size_t key_start = i;
    if (i >= line.size() || !is_key_start(line[i])) return bad("expected <Key>=<integer>");
    while (i < line.size() && is_key_char(line[i])) ++i;
    std::string_view key = line.substr(key_start, i - key_start);
    if (i >= line.size() || line[i] != '=') return bad("expected '=' after a key");
    ++i;
    size_t num_start = i;
    if (i < line.size() && line[i] == '-') ++i;
    size_t digits = i;
    while (i < line.size() && is_digit(line[i])) ++i;
    if (i == digits) return bad("expected an integer value");
    int64_t value = 0;
    auto [p, ec] = std::from_chars(line.data() + num_start, line.data() + i, value);
    if (ec != std::errc() || p != line.data() + i) return bad("integer out of range");
    r.fields.push_back({key, value});
    if (i == line.size()) return r;
    if (line.substr(i, 2) != ", ") return bad("expected ', ' between fields");
    i += 2;
  }
}

}  // namespace concur::iot
