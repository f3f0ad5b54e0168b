#include "iot/device_server.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "core/buffer.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/socket.hpp"
#include "core/sys.hpp"
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
}  // namespace


using Clock = EventLoop::Clock;

struct DeviceServer::Client {
  Admission place;  // given back after fd closes
  FileDesc fd;
  int device = 0;
  Endpoint peer;
  RegisterMatcher reg;
  bool registered = false;
  bool want_out = false;
  Buffer out;
  uint64_t gen = 0;
  Clock::time_point due{};
  // The client's one pending timer (registration timeout, then the next reading), cancelled when
  // it is replaced or the client goes: a flood of clients that connect and leave queues nothing.
  EventLoop::TimerId timer = TimerQueue::kNoTimer;
};

struct DeviceServer::Slot {
  enum class Type { none, stop, listener, client } type = Type::none;
  int device = -1;
  std::unique_ptr<Client> client;
};

DeviceServer::DeviceServer(DeviceOptions opts, const StopSource& stop)
    : opts_(std::move(opts)), spec_(kind_spec(opts_.kind)), stop_(stop),
      rng_(std::random_device{}()), reserve_(::open("/dev/null", O_RDONLY | O_CLOEXEC)) {
  device_series();  // its series show from the first scrape
  int n = opts_.fleet > 0 ? opts_.fleet : 1;
  devices_.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    Device d;
    d.name = opts_.fleet > 0 ? opts_.name + "-" + std::to_string(i + 1) : opts_.name;
    Endpoint at = opts_.bind;
    at.set_port(static_cast<uint16_t>(opts_.bind.port() + (opts_.bind.port() ? i : 0)));
    d.listener = tcp_listen(at);
    d.accepting = std::make_unique<Listener>(d.listener.get(), gate_, reserve_);
    d.at = local_endpoint(d.listener.get());
    devices_.push_back(std::move(d));
  }
}

DeviceServer::~DeviceServer() = default;

void DeviceServer::run() {
  auto slot_for = [this](int fd) -> Slot& {
    if (static_cast<size_t>(fd) >= slots_.size()) slots_.resize(static_cast<size_t>(fd) + 1024);
    return slots_[static_cast<size_t>(fd)];
  };
  std::string why;
  for (size_t i = 0; i < devices_.size(); ++i) {
    int fd = devices_[i].listener.get();
    Slot& s = slot_for(fd);
    s.type = Slot::Type::listener;
    s.device = static_cast<int>(i);
    if (!loop_.watch(fd, true, false, &DeviceServer::on_ready, this, &why)) throw SysError("cannot watch " + devices_[i].at.to_string() + ": " + why, EINVAL);
  }

  loop_.run(stop_);

  // Stop: hand over what is queued (best effort, non-blocking) and close every client.
  for (Slot& s : slots_) {
    if (s.type != Slot::Type::client || !s.client) continue;
    s.client->out.flush_to(s.client->fd.get());
    s.client.reset();
    s.type = Slot::Type::none;
  }
}

void DeviceServer::on_ready(void* self, const Ready& r) {
  auto& ds = *static_cast<DeviceServer*>(self);
  if (static_cast<size_t>(r.fd) >= ds.slots_.size()) return;
  Slot& s = ds.slots_[static_cast<size_t>(r.fd)];
  switch (s.type) {
    case Slot::Type::listener: ds.accept_ready(s.device); break;
    case Slot::Type::client: ds.on_client(r.fd, r.in, r.out, r.err); break;
    case Slot::Type::stop:
    case Slot::Type::none: break;
  }
}

void DeviceServer::accept_ready(int device) {
  Device& d = devices_[static_cast<size_t>(device)];
  // An accept() failure is reported by the gate (rate-limited): out of descriptors, the pending
  // client was refused through the reserve descriptor, so the loop does not spin.
  d.accepting->accept_pending([&](FileDesc client, const Endpoint& peer, Admission place) {
    int fd = client.get();
    // Bound what the kernel holds for a registrant too: with autotuning a stalled reader could
    // park megabytes per connection in the send buffer before our own bound is ever reached.
    int sndbuf = static_cast<int>(std::min<size_t>(std::max<size_t>(opts_.max_pending, 4096), 1u << 22));
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    auto c = std::make_unique<Client>();
    c->place = std::move(place);
    c->fd = std::move(client);
    c->device = device;
    c->peer = peer;
    c->gen = next_gen_++;
    std::string why;
    if (!loop_.watch(fd, true, false, &DeviceServer::on_ready, this, &why)) {
      errf("concur: {}: cannot watch a client: {}", d.name, why);
      return;  // c closes fd
    }
    if (static_cast<size_t>(fd) >= slots_.size()) slots_.resize(static_cast<size_t>(fd) + 1024);
    c->timer = loop_.run_after(opts_.register_timeout, [this, fd, gen = c->gen] { on_timer(fd, gen); });
    ++d.clients;
    if (!opts_.quiet) outf("{}: connected by {}", d.name, peer.seed_format());
    Slot& s = slots_[static_cast<size_t>(fd)];
    s.type = Slot::Type::client;
    s.device = device;
    s.client = std::move(c);
  });
  gate_.tick();
}

void DeviceServer::on_client(int fd, bool in, bool out, bool err) {
  Client& c = *slots_[static_cast<size_t>(fd)].client;
  if (out && c.out.flush_to(fd) < 0) return drop(fd, "write failed");
  if (in || err) {
    char buf[4096];
    ssize_t n;
    do n = sys::recv(fd, buf, sizeof buf, 0);
    while (n < 0 && errno == EINTR);
    if (n == 0) return drop(fd, "left");
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return update_interest(c);
      return drop(fd, "connection reset");
    }
    if (!c.registered) {
      auto st = c.reg.feed(std::string_view(buf, static_cast<size_t>(n)));
      if (st == RegisterMatcher::State::refused) {
        static constexpr std::string_view kRefusal = "error: expected Register\n";
        [[maybe_unused]] ssize_t w = sys::send(fd, kRefusal.data(), kRefusal.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        return drop(fd, "sent something other than Register");
      }
      if (st == RegisterMatcher::State::registered) {
        c.registered = true;
        device_series().registrants.add();
        c.gen = next_gen_++;
        loop_.cancel_timer(c.timer);  // the registration timeout; send_reading() queues the next
        c.timer = TimerQueue::kNoTimer;
        Device& d = devices_[static_cast<size_t>(c.device)];
        if (!opts_.quiet) outf("{}: Register from {}", d.name, c.peer.seed_format());
        c.due = Clock::now();
        send_reading(c);
        if (!slots_[static_cast<size_t>(fd)].client) return;  // dropped
      }
    }
    // After Register, whatever a client sends is read and ignored.
  }
  update_interest(c);
}

void DeviceServer::update_interest(Client& c) {
  bool want = !c.out.empty();
  if (want != c.want_out) {
    c.want_out = want;
    loop_.modify(c.fd.get(), true, want);
  }
}

void DeviceServer::on_timer(int fd, uint64_t gen) {
  if (static_cast<size_t>(fd) >= slots_.size()) return;
  Slot& s = slots_[static_cast<size_t>(fd)];
  if (s.type != Slot::Type::client || !s.client || s.client->gen != gen) return;
  s.client->timer = TimerQueue::kNoTimer;  // this one, fired
  if (!s.client->registered) return drop(fd, "did not register in time");
  send_reading(*s.client);
}

void DeviceServer::send_reading(Client& c) {
  Device& d = devices_[static_cast<size_t>(c.device)];
  std::string line = make_reading(d.name, spec_, rng_);
  line.push_back('\n');
  int fd = c.fd.get();
  if (c.out.size() + line.size() > opts_.max_pending) return drop(fd, "not reading (output limit reached)", true);
  c.out.append(line);
  ++d.sent;
  device_series().sent.add();
  if (c.out.flush_to(fd) < 0) return drop(fd, "write failed");
  update_interest(c);
  // Next reading one interval after this one's due time; a loop that fell behind does not burst.
  auto now = Clock::now();
  c.due += opts_.interval;
  if (c.due <= now) c.due = now + opts_.interval;
  c.timer = loop_.run_at(c.due, [this, fd, gen = c.gen] { on_timer(fd, gen); });
}

void DeviceServer::drop(int fd, const char* why, bool warn) {
  Slot& s = slots_[static_cast<size_t>(fd)];
  if (!s.client) return;
  Device& d = devices_[static_cast<size_t>(s.client->device)];
  if (s.client->registered) device_series().registrants.sub();
  if (warn) device_series().slow.add();
  // A registrant cut off for not reading is worth a line even with --quiet.
  if (warn)
    errf("concur: {}: dropped {}: {}", d.name, s.client->peer.seed_format(), why);
  else if (!opts_.quiet)
    outf("{}: {} {}", d.name, s.client->peer.seed_format(), why);
  loop_.unwatch(fd);
  if (s.client->timer != TimerQueue::kNoTimer) loop_.cancel_timer(s.client->timer);
  --d.clients;
  s.client.reset();  // closes fd
  s.type = Slot::Type::none;
}

}  // namespace concur::iot
