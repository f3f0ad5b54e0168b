#include "iot/device_service.hpp"

#include <any>
#include <chrono>

#include "core/log.hpp"
#include "iot/line_assembler.hpp"
#include "metrics/registry.hpp"

namespace concur::iot {

namespace {
// --metrics (issue 22): no label per device — a fleet is thousands of them.
struct DeviceSeries {
  metrics::Counter& sent;
  metrics::Gauge& registrants;
  metrics::Counter& slow;
};
DeviceSeries& device_series() {
  static DeviceSeries& s = []() -> DeviceSeries& {
    auto& r = metrics::registry();
    return *new DeviceSeries{
        r.counter("concur_device_readings_sent_total", "Reading lines handed to registered clients."),
        r.gauge("concur_device_registrants", "Clients registered with this process's devices now."),
        r.counter("concur_device_slow_registrants_dropped_total",
                  "Registered clients dropped for not reading (pending output past --max-pending)."),
    };
  }();
  return s;
}
using Clock = std::chrono::steady_clock;
}  // namespace

// Per-client state, in Conn::context.
struct DeviceService::Client {
  std::string who;  // "('ip', port)"
  RegisterMatcher reg;
  bool registered = false;
  Clock::time_point due{};     // of the next reading
  const char* why = nullptr;   // how it ended, for the log; unset: the connection was reset
};

namespace {
DeviceService::Client* client_of(Conn& c) { return std::any_cast<DeviceService::Client>(&c.context()); }
}  // namespace

void DeviceService::on_open(Conn& c) {
  Client cl;
  cl.who = c.peer().seed_format();
  c.context() = std::move(cl);
  ++stats_.clients;
  device_series();  // its series show from the first client at the latest
  if (!settings_.quiet) outf("{}: connected by {}", name_, c.peer().seed_format());
  c.set_timer(settings_.register_timeout);
}

void DeviceService::on_data(Conn& c, std::string_view bytes) {
  Client* cl = client_of(c);
  if (!cl || cl->registered) return;  // after Register, whatever a client sends is ignored
  auto st = cl->reg.feed(bytes);
  if (st == RegisterMatcher::State::refused) {
    c.send("error: expected Register\n");
    drop(c, *cl, "sent something other than Register");
  } else if (st == RegisterMatcher::State::registered) {
    cl->registered = true;
    device_series().registrants.add();
    if (!settings_.quiet) outf("{}: Register from {}", name_, cl->who);
    cl->due = Clock::now();
    send_reading(c, *cl);
  }
}

void DeviceService::on_peer_closed(Conn& c) {
  if (Client* cl = client_of(c)) drop(c, *cl, "left");
}

void DeviceService::on_timeout(Conn& c) {
  Client* cl = client_of(c);
  if (!cl) return;
  if (!cl->registered) drop(c, *cl, "did not register in time");
  else send_reading(c, *cl);
}

void DeviceService::send_reading(Conn& c, Client& cl) {
  std::string line = make_reading(name_, spec_, rng_);
  line.push_back('\n');
  if (!c.send(line)) return;  // past --max-pending: the connection layer drops it (on_close logs)
  ++stats_.sent;
  device_series().sent.add();
  // Next reading one interval after this one's due time; a loop that fell behind does not burst.
  auto now = Clock::now();
  cl.due += settings_.interval;
  if (cl.due <= now) cl.due = now + settings_.interval;
  c.set_timer(std::chrono::ceil<Millis>(cl.due - now));
}

void DeviceService::drop(Conn& c, Client& cl, const char* why) {
  if (!cl.why) cl.why = why;
  c.set_timer(Millis(0));
  c.close();
}

void DeviceService::on_close(Conn& c) {
  Client* cl = client_of(c);
  if (!cl) return;
  --stats_.clients;
  if (cl->registered) device_series().registrants.sub();
  if (c.overflowed()) {
    // A registrant cut off for not reading is worth a line even with --quiet.
    device_series().slow.add();
    errf("concur: {}: dropped {}: not reading (output limit reached)", name_, cl->who);
  } else if (!settings_.quiet) {
    outf("{}: {} {}", name_, cl->who, cl->why ? cl->why : "connection reset");
  }
  c.context().reset();
}

}  // namespace concur::iot
