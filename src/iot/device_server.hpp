#pragma once
// The IoT device simulator of homework 10 (SPEC §3 device), or a fleet of them in one process.
//
// One thread, one EventLoop (epoll) and its timers: every device is a listening socket; a client
// that sends "Register" (newline optional) gets one reading line per interval, the first at
// once, until it leaves. Several clients may register with one device. A client that stops
// reading is dropped once its pending output passes `max_pending`, so it never delays the others.
// A client that has not registered within `register_timeout` is closed.
//
// Thread contract: construct, then run() on one thread; stop through the StopSource.
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/endpoint.hpp"
#include "core/fd.hpp"
#include "core/stop.hpp"
#include "conn/accept_gate.hpp"
#include "conn/listener.hpp"
#include "conn/server_config.hpp"
#include "iot/reading.hpp"
#include "loop/event_loop.hpp"

namespace concur {
class Buffer;
}  // namespace concur

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
    std::string name;
    FileDesc listener;
    std::unique_ptr<Listener> accepting;  // on `listener`, through the server's gate
    Endpoint at;
    uint64_t sent = 0;  // readings handed to registrants
    int clients = 0;
  };
  const std::vector<Device>& devices() const { return devices_; }

  // Serves until the stop source fires, then flushes what it can and closes every client.
  void run();

 private:
  struct Client;
  struct Slot;
  void accept_ready(int device);
  void on_client(int fd, bool in, bool out, bool err);
  static void on_ready(void* self, const Ready& r);
  void on_timer(int fd, uint64_t gen);
  void send_reading(Client& c);
  // Closes a client; `warn` logs it on stderr even with --quiet.
  void drop(int fd, const char* why, bool warn = false);
  void update_interest(Client& c);

  DeviceOptions opts_;
  const KindSpec& spec_;
  const StopSource& stop_;
  EventLoop loop_{EventLoop::Backend::epoll};
  std::mt19937_64 rng_;
  // Before the devices and clients, which refer to them: destroyed after those.
  FileDesc reserve_;  // EMFILE trick for all listeners
  ServerConfig gate_cfg_;  // no --max-clients here: each device serves as descriptors allow
  AcceptGate gate_{gate_cfg_};
  std::vector<Device> devices_;
  std::vector<Slot> slots_;  // indexed by descriptor
  uint64_t next_gen_ = 1;
};

}  // namespace concur::iot
