#pragma once
// The IoT device simulator of homework 10 (SPEC §3 device), or a fleet of them in one process.
//
// Every device is a listening socket with a DeviceService (iot/device_service.hpp) of its own;
// all of them are served by one reactor loop (epoll) on one thread, through the connection
// lifecycle of every other server: one admission gate, StreamConn, its timers, its output bound
// (--max-pending is the connection's max_queue) and its send buffer bound.
//
// Thread contract: construct, then run() on one thread; stop through the StopSource.
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/endpoint.hpp"
#include "core/fd.hpp"
#include "core/stop.hpp"
#include "conn/server_config.hpp"
#include "iot/device_service.hpp"
#include "iot/reading.hpp"

namespace concur::iot {

struct DeviceOptions {
  DeviceKind kind = DeviceKind::env;
  std::string name;              // the device's name; with a fleet, the prefix of "<name>-<i>"
  Millis interval{3000};
  Endpoint bind;                 // address and first port P
  int fleet = 0;                 // 0: one device; N: N devices on P … P+N-1
  bool quiet = false;            // no per-client log lines
  size_t max_pending = 64 * 1024;
  Millis register_timeout{30000};
};

class DeviceServer {
 public:
  // Binds every listener. Throws SysError ("cannot bind 0.0.0.0:7001: Address already in use").
  DeviceServer(DeviceOptions opts, const StopSource& stop);
  ~DeviceServer();
  DeviceServer(const DeviceServer&) = delete;
  DeviceServer& operator=(const DeviceServer&) = delete;

  struct Device {
    FileDesc listener;
    Endpoint at;
    std::unique_ptr<DeviceService> service;
    const std::string& name() const { return service->name(); }
    uint64_t sent() const { return service->stats().sent; }  // after run(), or on its thread
  };
  const std::vector<Device>& devices() const { return devices_; }

  // Serves until the stop source fires, then flushes what it can and closes every client.
  void run();

 private:
  DeviceOptions opts_;
  const StopSource& stop_;
  std::mt19937_64 rng_;
  ServerConfig server_;  // no --max-clients here: each device serves as descriptors allow
  std::vector<Device> devices_;
};

}  // namespace concur::iot
