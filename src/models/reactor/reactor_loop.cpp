#include "models/reactor/reactor_loop.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <thread>

#include "core/error.hpp"
#include "core/log.hpp"
#include "models/conn_driver.hpp"

namespace concur {

ReactorLoop::ReactorLoop(std::unique_ptr<Poller> poller, int listen_fd, StreamService& service,
                         const ServerConfig& cfg, AcceptGate& gate, const StopSource& stop)
    : poller_(std::move(poller)),
      listen_fd_(listen_fd),
      acceptor_(listen_fd),
      service_(service),
      cfg_(cfg),
      gate_(gate),
      stop_(stop),
      mailbox_(std::make_shared<Mailbox>()) {
  mailbox_->efd.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!mailbox_->efd) throw_errno("eventfd");
  std::string why;
  if (!poller_->add_listener(listen_fd_, &why) || !poller_->add(stop_.fd(), true, false, &why) ||
      !poller_->add(mailbox_->efd.get(), true, false, &why))
    throw SysError("cannot start event loop: " + why, EINVAL);
}

void ReactorLoop::run() {
  std::vector<Ready> ready;
  while (!stop_.requested()) {
    poller_->wait(next_timeout(), ready);
    for (const Ready& r : ready) {
      try {
        if (r.fd == listen_fd_) accept_ready();
        else if (r.fd == mailbox_->efd.get()) drain_mailbox();
        else if (r.fd != stop_.fd()) on_event(r);
      } catch (const std::bad_alloc&) {
        drop(r.fd);  // that client's work could not get memory: drop it, not the server
      }
    }
    fire_timers();
    gate_.tick();
    if (!listening_ && Clock::now() >= accept_paused_until_) {
      poller_->update(listen_fd_, true, false);
      listening_ = true;
    }
  }
  close_all();
}

void ReactorLoop::accept_ready() {
  for (int i = 0; i < 64; ++i) {  // bounded: accepting must not starve established clients
    FileDesc client;
    Endpoint peer;
    auto r = acceptor_.accept(client, peer);
    if (r == Acceptor::Result::again) return;
    if (r == Acceptor::Result::accepted) {
      if (gate_.admit(client, peer)) open_conn(std::move(client), peer);
      continue;
    }
    gate_.report(r);
    if (r == Acceptor::Result::error) {
      // Unknown accept failure: stop watching the listener briefly instead of spinning on it.
      poller_->update(listen_fd_, false, false);
      listening_ = false;
      accept_paused_until_ = Clock::now() + std::chrono::milliseconds(100);
    }
    return;
  }
}

void ReactorLoop::open_conn(FileDesc fd, const Endpoint& peer) {
  int raw = fd.get();
  std::string why;
  if (!poller_->add(raw, true, false, &why)) {
    // select() beyond FD_SETSIZE: in a flood that is every new client, so one line per burst.
    gate_.refuse(fd, peer, gate_.refusals(), why);
    gate_.leave();
    return;
  }
  std::shared_ptr<StreamConn> conn;
  try {
    conn = std::make_shared<StreamConn>(std::move(fd), peer, cfg_.max_queue);
    std::weak_ptr<StreamConn> weak = conn;
    conn->attach([mb = mailbox_, weak] {
      {
        std::lock_guard lock(mb->mu);
        mb->ready.push_back(weak);
        if (mb->ready.size() > 1) return;  // the batch's wake-up is already on its way
      }
      uint64_t one = 1;
      [[maybe_unused]] ssize_t n = ::write(mb->efd.get(), &one, sizeof one);
    });
    conns_[raw].conn = conn;
  } catch (const std::bad_alloc&) {
    poller_->remove(raw);
    if (conn) {  // the descriptor moved into it
      gate_.tell_full(raw);
      conn->shut();
    }
    gate_.refuse(fd, peer, memory_refusals(), "out of memory");
    gate_.leave();
    return;
  }
  Entry& e = conns_[raw];
  service_.on_open(*e.conn);  // a bad_alloc here reaches run(), which drops this client
  after(e);
}

void ReactorLoop::drop(int fd) {
  auto it = conns_.find(fd);
  if (it == conns_.end()) return;  // the listener or the mailbox: nobody to drop
  StreamConn& c = *it->second.conn;
  drop_for_memory(c);
  poller_->remove(fd);
  try {
    retire(c, service_);
  } catch (const std::bad_alloc&) {
    c.shut();  // on_close could not finish; the descriptor at least goes
  }
  gate_.leave();
  conns_.erase(it);
}

void ReactorLoop::on_event(const Ready& r) {
  auto it = conns_.find(r.fd);
  if (it == conns_.end()) return;
  Entry& e = it->second;
  StreamConn& c = *e.conn;
  if (r.in || r.err) {
    if (c.wants_read()) pump_input(c, service_);
    else if (r.err) c.mark_broken();
  }
  after(e);  // also flushes when r.out
}

void ReactorLoop::drain_mailbox() {
  uint64_t v;
  [[maybe_unused]] ssize_t n = ::read(mailbox_->efd.get(), &v, sizeof v);
  std::vector<std::weak_ptr<StreamConn>> batch;
  {
    std::lock_guard lock(mailbox_->mu);
    batch.swap(mailbox_->ready);
  }
  for (auto& weak : batch) {
    auto conn = weak.lock();
    if (!conn || conn->fd() < 0) continue;
    auto it = conns_.find(conn->fd());
    if (it != conns_.end() && it->second.conn == conn) after(it->second);
  }
}

void ReactorLoop::after(Entry& e) {
  StreamConn& c = *e.conn;
  int fd = c.fd();
  if (c.settle() == StreamConn::State::finished) {
    // Out of the poller before the descriptor is closed: with --workers, another loop's accept()
    // may be handed the same number the moment it is closed.
    poller_->remove(fd);
    retire(c, service_);
    gate_.leave();
    conns_.erase(fd);  // e is gone from here on
    return;
  }
  bool in = c.wants_read(), out = c.wants_write();
  if (in != e.in || out != e.out) {
    poller_->update(fd, in, out);
    e.in = in;
    e.out = out;
  }
  if (c.timer_armed() && c.timer_due() != e.timer) {
    e.timer = c.timer_due();
    timers_.push({e.timer, fd});
  }
}

void ReactorLoop::fire_timers() {
  auto now = Clock::now();
  while (!timers_.empty() && timers_.top().first <= now) {
    auto [due, fd] = timers_.top();
    timers_.pop();
    auto it = conns_.find(fd);
    if (it == conns_.end()) continue;
    Entry& e = it->second;
    // Stale items (timer replaced, or fd reused by a newer connection) no longer match.
    if (!e.conn->timer_armed() || e.conn->timer_due() != due || e.timer != due) continue;
    e.conn->disarm_timer();
    e.timer = {};
    try {
      {
        StreamConn::CallbackScope scope(*e.conn);
        service_.on_timeout(*e.conn);
      }
      after(e);
    } catch (const std::bad_alloc&) {
      drop(fd);
    }
  }
}

int ReactorLoop::next_timeout() const {
  Clock::time_point due = Clock::time_point::max();
  if (!timers_.empty()) due = timers_.top().first;
  if (!listening_ && accept_paused_until_ < due) due = accept_paused_until_;
  if (gate_.needs_tick()) due = std::min(due, Clock::now() + std::chrono::seconds(1));
  if (due == Clock::time_point::max()) return -1;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(due - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left) + 1;
}

void ReactorLoop::close_all() {
  for (auto& [fd, e] : conns_) {
    poller_->remove(fd);
    e.conn->settle();  // last chance to write what is queued
    retire(*e.conn, service_);
    gate_.leave();
  }
  conns_.clear();
}

void run_reactor(std::unique_ptr<Poller> (*make)(), int workers, int listen_fd, StreamService& service,
                 const ServerConfig& cfg, const StopSource& stop) {
  AcceptGate gate(cfg);
  if (workers < 1) workers = 1;
  std::vector<std::unique_ptr<ReactorLoop>> loops;
  for (int i = 0; i < workers; ++i)
    loops.push_back(std::make_unique<ReactorLoop>(make(), listen_fd, service, cfg, gate, stop));
  std::vector<std::thread> threads;
  for (int i = 1; i < workers; ++i) threads.emplace_back([&loop = *loops[i]] { loop.run(); });
  loops[0]->run();
  for (auto& t : threads) t.join();
}

}  // namespace concur
