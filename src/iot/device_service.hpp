#pragma once
// One simulated device of homework 10 (SPEC §3 device) as a StreamService: a client that sends
// "Register" (newline optional) gets one reading line per interval, the first at once, until it
// leaves; whatever it sends after Register is ignored. A client that has not registered within
// the registration timeout is closed. A registrant that stops reading is dropped by the
// connection layer once its pending output passes the server's max_queue (the device's
// --max-pending), so it never delays the others; that drop is logged even with --quiet.
//
// Thread contract: the callbacks of one device's clients run on the device server's one loop
// thread; `stats` is touched only there.
#include <random>
#include <string>

#include "core/duration.hpp"
#include "iot/reading.hpp"
#include "services/service.hpp"

namespace concur::iot {

struct DeviceStats {
  uint64_t sent = 0;  // readings handed to registrants
  int clients = 0;    // connected now
};

struct DeviceSettings {
  Millis interval{3000};
  Millis register_timeout{30000};
  size_t max_pending = 64 * 1024;
  bool quiet = false;  // no per-client log lines
};

class DeviceService final : public StreamService {
 public:
  // `rng` is shared by every device of a fleet (one thread).
  DeviceService(std::string name, const KindSpec& spec, DeviceSettings settings, std::mt19937_64& rng)
      : name_(std::move(name)), spec_(spec), settings_(settings), rng_(rng) {}

  void on_open(Conn& c) override;
  void on_data(Conn& c, std::string_view bytes) override;
  void on_peer_closed(Conn& c) override;
  void on_timeout(Conn& c) override;
  void on_close(Conn& c) override;

  const std::string& name() const { return name_; }
  const DeviceStats& stats() const { return stats_; }

  struct Client;

 private:
  void send_reading(Conn& c, Client& cl);
  void drop(Conn& c, Client& cl, const char* why);

  const std::string name_;
  const KindSpec& spec_;
  const DeviceSettings settings_;
  std::mt19937_64& rng_;
  DeviceStats stats_;
};

}  // namespace concur::iot
