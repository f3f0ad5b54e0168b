#include "models/reactor/reactor_loop.hpp"

#include <fcntl.h>

#include <thread>

#include "core/error.hpp"
#include "core/log.hpp"
#include "conn/conn_driver.hpp"
#include "core/stop.hpp"

namespace concur {

ReactorLoop::ReactorLoop(std::unique_ptr<Poller> poller, int listen_fd, StreamService& service,
                         const ServerConfig& cfg, AcceptGate& gate, const StopSource& stop)
    : ReactorLoop(std::move(poller), std::vector<Port>{{listen_fd, &service}}, cfg, gate, stop) {}

ReactorLoop::ReactorLoop(std::unique_ptr<Poller> poller, const std::vector<Port>& ports, const ServerConfig& cfg,
                         AcceptGate& gate, const StopSource& stop)
    : loop_(std::move(poller)), cfg_(cfg), gate_(gate), stop_(stop) {
  if (ports.size() > 1) reserve_ = FileDesc(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  ports_.reserve(ports.size());
  for (const Port& p : ports) {
    auto listener = ports.size() > 1 ? std::make_unique<Listener>(p.listen_fd, gate, reserve_)
                                     : std::make_unique<Listener>(p.listen_fd, gate);
    ports_.push_back({p.listen_fd, std::move(listener), p.service});
  }
  loop_.set_wake_handler([](void* self, uint64_t id) { static_cast<ReactorLoop*>(self)->flush(id); }, this);
}

void ReactorLoop::run() {
  for (size_t i = 0; i < ports_.size(); ++i) watch_listener(i);
  loop_.run(stop_);
  close_all();
}

void ReactorLoop::watch_listener(size_t port) {
  std::string why;
  if (!loop_.watch_listener(ports_[port].fd, [this, port](const Ready&) { accept_ready(port); }, &why))
    throw SysError("cannot watch the listening socket " + local_endpoint(ports_[port].fd).to_string() + ": " + why,
                   EINVAL);
}

void ReactorLoop::accept_ready(size_t port) {
  Listening& l = ports_[port];
  Listener::Pass pass = l.listener->accept_pending([this, &l](FileDesc client, const Endpoint& peer, Admission place) {
    open_conn(std::move(client), peer, std::move(place), *l.service);
  });
  if (pass != Listener::Pass::drained) ticker_.arm();
  if (pass == Listener::Pass::failed) {
    // Unknown accept failure: stop watching the listener briefly instead of spinning on it.
    loop_.unwatch(l.fd);
    loop_.run_after(std::chrono::milliseconds(100), [this, port] { watch_listener(port); });
  }
}

void ReactorLoop::open_conn(FileDesc fd, const Endpoint& peer, Admission place, StreamService& service) {
  int raw = fd.get();
  std::shared_ptr<StreamConn> conn;
  Entry* e = nullptr;
  try {
    conn = std::make_shared<StreamConn>(std::move(fd), peer, cfg_.max_queue, std::move(place));
    e = &conns_[conn->id()];
    e->conn = conn;
    e->loop = this;
    e->service = &service;
    std::string why;
    if (!loop_.watch(raw, true, false, &ReactorLoop::ready_thunk, e, &why)) {
      // select() beyond FD_SETSIZE: in a flood that is every new client, so one line per burst.
      conns_.erase(conn->id());
      gate_.tell_full(raw);
      retire_socket(*conn);
      gate_.refuse(fd, peer, gate_.refusals(), why);  // fd moved into conn: counts and logs only
      ticker_.arm();
      return;
    }
    // A wake-up queues only the id (flush() finds the entry): nothing allocated per connection
    // or per wake-up.
    conn->attach(loop_.waker(), conn->id());
  } catch (const std::bad_alloc&) {
    if (conn) {  // the descriptor moved into it
      conns_.erase(conn->id());
      loop_.unwatch(raw);
      gate_.tell_full(raw);
      retire_socket(*conn);
    }
    gate_.refuse(fd, peer, memory_refusals(), "out of memory");
    ticker_.arm();
    return;
  }
  guarded(conn->id(), [&] {
    call_open(*e->conn, service);
    after(*e);
  });
}

void ReactorLoop::ready_thunk(void* entry, const Ready& r) {
  Entry& e = *static_cast<Entry*>(entry);
  e.loop->on_ready(e, r);
}

void ReactorLoop::on_ready(Entry& e, const Ready& r) {
  guarded(e.conn->id(), [&] {
    StreamConn& c = *e.conn;
    if (input_ready(c, r.in || r.err, r.out)) {
      if (c.wants().read) pump_input(c, *e.service);
      else if (r.err) mark_broken(c);
    }
    after(e);  // also flushes when r.out
  });
}

void ReactorLoop::flush(uint64_t id) {
  auto it = conns_.find(id);
  if (it != conns_.end()) guarded(id, [&] { after(it->second); });
}

void ReactorLoop::drop(uint64_t id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Entry& e = it->second;
  StreamConn& c = *e.conn;
  drop_for_memory(c);
  loop_.unwatch(c.fd());
  cancel_timer(e);
  retire(c, *e.service);
  conns_.erase(it);
  ticker_.arm();
}

void ReactorLoop::after(Entry& e) {
  StreamConn& c = *e.conn;
  int fd = c.fd();
  if (c.settle() == StreamConn::State::finished) {
    // Out of the loop before the descriptor is closed: with --workers, another loop's accept()
    // may be handed the same number the moment it is closed.
    loop_.unwatch(fd);
    cancel_timer(e);
    retire(c, *e.service);
    conns_.erase(c.id());  // e is gone from here on
    return;
  }
  StreamConn::Wants w = c.wants();
  if (w.read != e.in || w.write != e.out) {
    loop_.modify(fd, w.read, w.write);
    e.in = w.read;
    e.out = w.write;
  }
  sync_timer(e, w.timer);
}

// Lazy extension (nginx's event timers, libuv's uv_timer_again): an idle timeout is pushed back
// on every message, so moving the queued timer each time would cost a heap entry per message
// (and, without a cancel, a pending timer per message until it fires). Instead the connection
// keeps one timer. A due time that moves later changes nothing here: the timer fires early and
// on_timer() queues it again for the due time then in force. Only a due time that moves earlier
// replaces it. A disarmed connection keeps its timer too; it does nothing when it fires.
void ReactorLoop::sync_timer(Entry& e, std::optional<Clock::time_point> due) {
  if (!due) return;
  if (e.timer != TimerQueue::kNoTimer) {
    if (e.timer_queued <= *due) return;
    loop_.cancel_timer(e.timer);
  }
  e.timer_queued = *due;
  e.timer = loop_.run_at(e.timer_queued, [this, id = e.conn->id()] { on_timer(id); });
}

void ReactorLoop::cancel_timer(Entry& e) {
  if (e.timer != TimerQueue::kNoTimer) loop_.cancel_timer(e.timer);
  e.timer = TimerQueue::kNoTimer;
}

void ReactorLoop::on_timer(uint64_t id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Entry& e = it->second;
  StreamConn& c = *e.conn;
  e.timer = TimerQueue::kNoTimer;
  auto due = c.wants().timer;
  if (!due) return;  // disarmed since it was queued
  guarded(id, [&] {
    if (*due > Clock::now()) {
      sync_timer(e, due);  // pushed back since: queue it again for the due time in force
      return;
    }
    call_timeout(c, *e.service);
    after(e);
  });
}

void ReactorLoop::close_all() {
  for (auto& [id, e] : conns_) {
    loop_.unwatch(e.conn->fd());
    e.conn->settle();  // last chance to write what is queued
    retire(*e.conn, *e.service);
  }
  conns_.clear();
  for (const Listening& l : ports_) loop_.unwatch(l.fd);
  gate_.tick();
}

void run_reactor(std::unique_ptr<Poller> (*make)(), int workers, int listen_fd, StreamService& service,
                 const ServerConfig& cfg, const StopSource& stop) {
  AcceptGate gate(cfg);
  if (workers < 1) workers = 1;
  std::vector<std::unique_ptr<ReactorLoop>> loops;
  for (int i = 0; i < workers; ++i)
    loops.push_back(std::make_unique<ReactorLoop>(make(), listen_fd, service, cfg, gate, stop));
  std::vector<std::thread> threads;
  {
    StopSignalsBlocked quiet;  // stop signals stay with this thread; every loop watches the stop fd
    for (int i = 1; i < workers; ++i) threads.emplace_back([&loop = *loops[i]] { loop.run(); });
  }
  loops[0]->run();
  for (auto& t : threads) t.join();
}

}  // namespace concur
