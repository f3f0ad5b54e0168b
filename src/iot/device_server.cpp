#include "iot/device_server.hpp"

#include <algorithm>

#include "conn/accept_gate.hpp"
#include "core/socket.hpp"
#include "loop/poller.hpp"
#include "models/reactor/reactor_loop.hpp"

namespace concur::iot {

DeviceServer::DeviceServer(DeviceOptions opts, const StopSource& stop)
    : opts_(std::move(opts)), stop_(stop), rng_(std::random_device{}()) {
  server_.max_queue = opts_.max_pending;
  // One collector polls a whole fleet from one address: per-address limits would cut it off at
  // the 17th device. A device serves whoever asks, as descriptors allow.
  server_.max_per_ip = 0;
  server_.connect_rate = 0.0;
  // Bound what the kernel holds for a registrant too: with autotuning a stalled reader could
  // park megabytes per connection in the send buffer before our own bound is ever reached.
  server_.send_buffer = static_cast<int>(std::min<size_t>(std::max<size_t>(opts_.max_pending, 4096), 1u << 22));
  DeviceSettings settings;
  settings.interval = opts_.interval;
  settings.register_timeout = opts_.register_timeout;
  settings.max_pending = opts_.max_pending;
  settings.quiet = opts_.quiet;
  const KindSpec& spec = kind_spec(opts_.kind);
  int n = opts_.fleet > 0 ? opts_.fleet : 1;
  devices_.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    Device d;
    std::string name = opts_.fleet > 0 ? opts_.name + "-" + std::to_string(i + 1) : opts_.name;
    Endpoint at = opts_.bind;
    at.set_port(static_cast<uint16_t>(opts_.bind.port() + (opts_.bind.port() ? i : 0)));
    d.listener = tcp_listen(at);
    d.at = local_endpoint(d.listener.get());
    d.service = std::make_unique<DeviceService>(std::move(name), spec, settings, rng_);
    devices_.push_back(std::move(d));
  }
}

DeviceServer::~DeviceServer() = default;

void DeviceServer::run() {
  std::vector<ReactorLoop::Port> ports;
  ports.reserve(devices_.size());
  for (const Device& d : devices_) ports.push_back({d.listener.get(), d.service.get()});
  AcceptGate gate(server_);
  ReactorLoop loop(make_epoll_poller(), ports, server_, gate, stop_);
  loop.run();
}

}  // namespace concur::iot
