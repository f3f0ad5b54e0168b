#include "web/readings_hub.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace concur::web {

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '"') out += "\\\"";
    else if (c == '\\') out += "\\\\";
    else if (c < 0x20 || c == 0x7f) out += fmt::format("\\u{:04x}", c);
    else out.push_back(ch);
  }
  out.push_back('"');
  return out;
}

std::string reading_json(std::string_view device, const StoredReading& r) {
  std::string out = fmt::format("{{\"time\":{:.3f},\"device\":{}", r.time, json_string(device));
  for (const auto& [k, v] : r.fields) out += fmt::format(",{}:{}", json_string(k), v);
  out.push_back('}');
  return out;
}

bool ReadingsHub::add(std::string_view device, StoredReading r) {
  // Milliseconds, as the JSON says: a script that pages with since = the last time it was given
  // must not get that reading again because the stored time had more digits.
  r.time = std::round(r.time * 1000.0) / 1000.0;
  MutexLock lock(mu_);
  auto it = by_device_.find(device);
  if (it == by_device_.end()) {
    if (by_device_.size() >= kMaxDevices) return false;
    it = by_device_.emplace(std::string(device), std::deque<StoredReading>{}).first;
  }
  auto& q = it->second;
  if (q.empty() || q.back().time <= r.time) {
    q.push_back(std::move(r));
  } else {  // from the database's history, or a clock step: keep time order
    auto pos = std::upper_bound(q.begin(), q.end(), r.time, [](double t, const StoredReading& x) { return t < x.time; });
    q.insert(pos, std::move(r));
  }
  while (q.size() > kPerDevice) q.pop_front();
  return true;
}

std::string ReadingsHub::readings_json(std::string_view device, double since) const {
  MutexLock lock(mu_);
  std::string out = "[";
  auto it = by_device_.find(device);
  if (it != by_device_.end()) {
    size_t n = 0;
    for (const auto& r : it->second) {
      if (r.time <= since) continue;
      if (n == kMaxAnswer) break;
      if (n++) out.push_back(',');
      out += reading_json(device, r);
    }
  }
  out.push_back(']');
  return out;
}

std::vector<std::string> ReadingsHub::history_messages(size_t per_device) const {
  MutexLock lock(mu_);
  std::vector<std::string> out;
  for (const auto& [device, q] : by_device_) {
    std::string m = fmt::format("{{\"type\":\"history\",\"device\":{},\"readings\":[", json_string(device));
    bool first = true;
    size_t skip = q.size() > per_device ? q.size() - per_device : 0;
    for (const auto& r : q) {
      if (skip) {
        --skip;
        continue;
      }
      if (!first) m.push_back(',');
      first = false;
      m += reading_json(device, r);
    }
    m += "]}";
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<std::string> ReadingsHub::devices() const {
  MutexLock lock(mu_);
  std::vector<std::string> out;
  for (const auto& [d, q] : by_device_) out.push_back(d);
  return out;
}

size_t ReadingsHub::size(std::string_view device) const {
  MutexLock lock(mu_);
  auto it = by_device_.find(device);
  return it == by_device_.end() ? 0 : it->second.size();
}

}  // namespace concur::web
