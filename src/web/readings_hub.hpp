#pragma once
// collect --web: the readings the dashboard shows, kept in memory per device (the last
// kPerDevice readings, for the charts' "last minutes" and GET /readings.json), as JSON.
//
// A reading as JSON is the MQTT sink's shape (SPEC §4): {"time": <unix s>, "device": "<name>",
// "<field>": <number>, ...}, so a script reads both the same way.
//
// Thread contract: add() runs on the collector's thread, the queries on the web server's thread;
// every method locks.
#include "core/thread_annotations.hpp"
#include <cstddef>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace concur::web {

std::string json_string(std::string_view s);  // quoted and escaped

struct StoredReading {
  double time = 0;  // Unix seconds of receipt
  std::vector<std::pair<std::string, double>> fields;
};
std::string reading_json(std::string_view device, const StoredReading& r);

class ReadingsHub {
 public:
  static constexpr size_t kPerDevice = 1200;     // 1 h at the env device's 3 s
  static constexpr size_t kMaxDevices = 10000;   // a fleet beyond that is not a dashboard
  static constexpr size_t kMaxAnswer = 1000;     // readings in one /readings.json answer

  // Keeps one reading (in time order per device; an older one than the newest is still kept in
  // place). False when the device table is full.
  bool add(std::string_view device, StoredReading r);

  // The readings of `device` newer than `since`, oldest first, at most kMaxAnswer: a JSON array.
  // A script pages forward with since = the last time it got.
  std::string readings_json(std::string_view device, double since) const;
  // {"type":"history","device":...,"readings":[...]} for every device: what a new dashboard gets.
  // At most `per_device` of the newest readings of each device.
  std::vector<std::string> history_messages(size_t per_device = kPerDevice) const;
  std::vector<std::string> devices() const;
  size_t size(std::string_view device) const;

 private:
  mutable Mutex mu_;
  std::map<std::string, std::deque<StoredReading>, std::less<>> by_device_ CONCUR_GUARDED_BY(mu_);
};

}  // namespace concur::web
