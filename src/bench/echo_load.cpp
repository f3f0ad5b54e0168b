// `concur bench echo` and `concur bench hold`: echo load (closed loop or a fixed offered rate) and
// idle-connection holding, on the project's EventLoop. Echo splits its connections over N loops
// on N threads (--threads) and merges their counts and histograms when they are done.
#include "bench/echo_load.hpp"

#include <sched.h>
#include <sys/socket.h>

#include <cstring>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "bench/load_link.hpp"
#include "core/buffer.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "loop/event_loop.hpp"

namespace concur {

int default_load_threads() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  int cpus = CPU_COUNT(&set);
  // Up to two CPUs (or pinned to one): the server needs the other, and a second generator thread
  // would only compete with it. Beyond that, half of them, at most 4.
  return cpus <= 2 ? 1 : std::min(4, cpus / 2);
}

namespace {

using Clock = EventLoop::Clock;
using namespace std::chrono_literals;

std::string random_payload(size_t n) {
  std::mt19937_64 rng(42);
  std::string p(n, '\0');
  for (auto& c : p) c = static_cast<char>(rng());
  return p;
}

class EchoShard;

struct EchoConn {
  EchoShard* shard = nullptr;
  LoadLink link;  // plain, or TLS (--tls)
  Buffer out;
  std::deque<Clock::time_point> sent;  // send time of each message not yet fully echoed
  size_t rx_off = 0;                   // bytes of the current message already echoed
  bool dead = false;
  bool want_out = false;
  bool prime_sent = false;  // its priming message (the one before the clock starts) is out
};

// What every shard shares; fixed before any thread starts.
struct EchoPlan {
  std::string payload;
  int pipeline = 1;
  Clock::time_point start, measure_from, end;
  const tls::ClientContext* tls = nullptr;  // --tls: one context for every shard; each SSL stays on its shard's thread
  std::string host, where;                  // what the server's certificate is checked against; its address
};

// One event loop with its share of the connections and its own counts: nothing is shared
// between shards while they run (the progress snapshot aside), so N threads scale.
class EchoShard {
 public:
  EchoShard(const EchoPlan& plan, double rate, size_t connections) : plan_(plan), rate_(rate) {
    conns_.reserve(connections);  // never reallocated: each watch holds a pointer to its EchoConn
  }
  EchoShard(const EchoShard&) = delete;
  EchoShard& operator=(const EchoShard&) = delete;

  EventLoop& loop() { return loop_; }
  BenchReport& report() { return r_; }
  uint64_t missed() const { return missed_; }
  // --tls: the protocol and cipher of a connection that made its handshake ("" if none did).
  std::string tls_in_use() const {
    for (const auto& c : conns_)
      if (!c.dead && !c.link.tls_in_use().empty()) return c.link.tls_in_use();
    return "";
  }

  // Loop thread, before run(): a connected socket joins this shard.
  void add(FileDesc fd) {
    conns_.emplace_back();
    EchoConn& c = conns_.back();
    c.shard = this;
    c.link = plan_.tls ? LoadLink(std::move(fd), *plan_.tls, plan_.host, plan_.where) : LoadLink(std::move(fd));
    std::string why;
    if (!loop_.watch(c.link.fd(), true, false, &EchoShard::on_ready, &c, &why))
      throw SysError("cannot watch a connection: " + why, EINVAL);
    // TLS: the handshake starts now, with the priming message queued behind it. The server's
    // --tls-handshake-timeout runs from its accept(): a generator that connected thousands
    // before starting any handshake would see the last ones cut off.
    if (plan_.tls) send_prime(c);
  }

  // Loop thread, between connects: one look at what has arrived (handshakes, priming echoes).
  void poll_once() {
    auto timer = loop_.run_after(0ms, [this] { loop_.quit(); });
    loop_.run();
    loop_.cancel_timer(timer);  // a priming echo may have quit first: the timer must not end a later run
  }

  // Loop thread: one message on every connection, then the loop runs until each has come back or
  // `deadline` passes; returns how many did (or failed). A server that accepts late (pool and prefork workers
  // start after the listening line; process forks per client) is then serving every connection
  // before the clock starts, so the warm-up and the measured window see the same server.
  size_t prime(Clock::time_point deadline) {
    for (auto& c : conns_)
      if (!c.prime_sent) send_prime(c);
    if (primed_ < conns_.size()) {
      auto timer = loop_.run_at(deadline, [this] { loop_.quit(); });
      loop_.run();
      loop_.cancel_timer(timer);
    }
    priming_ = false;
    return primed_;
  }

  // Loop thread, before run(): the first messages, the offer ticks and the end of the run.
  // Closed loop: every connection keeps `pipeline` messages in flight. Fixed offered load
  // (--rate): one message at a time per connection, started at this shard's share of the rate on
  // whichever of its connections are idle; an offer that finds every one busy is not made up
  // later (counted as missed), so the server sees a steady rate, never a catch-up burst.
  void arm() {
    if (rate_ > 0) {
      for (auto& c : conns_)
        if (c.sent.empty()) idle_.push_back(&c);  // one still unprimed joins when it answers
      tick();
    } else {
      for (auto& c : conns_) {
        for (int k = 0; k < plan_.pipeline; ++k) send_one(c, plan_.start);
        flush(c);
      }
    }
    loop_.run_at(plan_.end, [this] { loop_.quit(); });
  }

 private:
  static void on_ready(void* ctx, const Ready& ev) {
    auto* c = static_cast<EchoConn*>(ctx);
    c->shard->ready(*c, ev);
  }

  void tick() {
    offer(Clock::now());
    loop_.run_after(1ms, [this] { tick(); });
  }

  void offer(Clock::time_point now) {
    auto due = static_cast<uint64_t>(rate_ * std::chrono::duration<double>(now - plan_.start).count());
    while (offered_ < due) {
      ++offered_;
      if (idle_.empty()) {
        if (now >= plan_.measure_from && now < plan_.end) ++missed_;
        continue;
      }
      EchoConn& c = *idle_.front();
      idle_.pop_front();
      if (c.dead) continue;
      send_one(c, now);
      flush(c);
    }
  }

  void send_prime(EchoConn& c) {
    priming_ = true;
    c.prime_sent = true;
    send_one(c, Clock::now());
    flush(c);
  }

  void send_one(EchoConn& c, Clock::time_point now) {
    c.out.append(plan_.payload);
    c.sent.push_back(now);
  }

  void fail(EchoConn& c) {
    c.dead = true;
    ++r_.errors;
    loop_.unwatch(c.link.fd());
    if (priming_ && ++primed_ == conns_.size()) loop_.quit();  // nothing more to wait for from it
  }

  void flush(EchoConn& c) {
    if (c.link.flush(c.out) < 0) return fail(c);
    bool want = c.link.wait_for_output(c.out);
    if (want != c.want_out) {
      loop_.modify(c.link.fd(), true, want);
      c.want_out = want;
    }
  }

  void ready(EchoConn& c, const Ready& ev) {
    if (c.dead) return;
    // TLS: a read may be what the handshake waits for before the first write can go on (it
    // then returns EAGAIN with no bytes: the flush below follows), or may itself wait for output.
    if (ev.in || ev.err || (ev.out && c.link.read_waits_for_output())) {
      ssize_t n = c.link.recv(rx_.data(), rx_.size());
      if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
          if (!c.link.tls()) return;
        } else {
          return fail(c);
        }
      } else {
        received(c, rx_.data(), static_cast<size_t>(n), Clock::now());
      }
    }
    if (!c.dead) flush(c);
  }

  // Checks echoed bytes against the payload; each completed message is one round-trip.
  void received(EchoConn& c, const char* buf, size_t n, Clock::time_point t) {
    const size_t size = plan_.payload.size();
    size_t off = 0;
    while (off < n) {
      size_t take = std::min(n - off, size - c.rx_off);
      if (c.sent.empty() || std::memcmp(buf + off, plan_.payload.data() + c.rx_off, take) != 0)
        return fail(c);  // a wrong byte: the echo is not verified
      off += take;
      c.rx_off += take;
      if (!priming_ && t >= plan_.measure_from) r_.verified_bytes += take;
      if (c.rx_off < size) continue;
      c.rx_off = 0;
      if (priming_) {
        c.sent.pop_front();
        if (++primed_ == conns_.size()) loop_.quit();
        continue;
      }
      if (c.sent.front() >= plan_.measure_from && t < plan_.end) {
        r_.latency.record(static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(t - c.sent.front()).count()));
        ++r_.ops;
      }
      c.sent.pop_front();
      if (rate_ > 0) idle_.push_back(&c);
      else send_one(c, t);
    }
  }

  const EchoPlan& plan_;
  const double rate_;  // this shard's share of --rate (0: closed loop)
  EventLoop loop_;
  std::vector<EchoConn> conns_;
  std::deque<EchoConn*> idle_;
  uint64_t offered_ = 0, missed_ = 0;
  bool priming_ = false;
  size_t primed_ = 0;
  BenchReport r_;
  std::vector<char> rx_ = std::vector<char>(256 * 1024);  // per shard, not thread_local (every thread would pay)
};

// The progress line over all shards: each publishes a snapshot once a second, shard 0 prints.
class ProgressBoard {
 public:
  explicit ProgressBoard(size_t shards) : slots_(shards) {}
  void publish(size_t shard, const BenchReport& r) {
    std::lock_guard lock(mu_);
    slots_[shard].ops = r.ops;
    slots_[shard].errors = r.errors;
    slots_[shard].latency = r.latency;
  }
  BenchReport merged() {
    std::lock_guard lock(mu_);
    BenchReport out;
    for (const auto& s : slots_) {
      out.ops += s.ops;
      out.errors += s.errors;
      out.latency.merge(s.latency);
    }
    return out;
  }

 private:
  struct Slot {
    uint64_t ops = 0, errors = 0;
    Histogram latency;
  };
  std::mutex mu_;
  std::vector<Slot> slots_;
};

// A timer every second from `first`, calling fn; loop thread.
void every_second(EventLoop& loop, Clock::time_point first, std::function<void()> fn) {
  loop.run_at(first, [&loop, first, fn] {
    fn();
    every_second(loop, first + 1s, fn);
  });
}

}  // namespace

BenchReport run_echo_load(const LoadOptions& o, std::vector<BenchReport>* per_thread) {
  Endpoint to = Endpoint::parse(o.host, static_cast<uint16_t>(o.port));
  const int threads = std::clamp(o.threads > 0 ? o.threads : default_load_threads(), 1, std::max(1, o.connections));
  EchoPlan plan;
  plan.payload = random_payload(o.size);
  plan.pipeline = o.pipeline;
  std::shared_ptr<tls::ClientContext> tls_ctx = client_tls_context(o.tls);  // nullptr without --tls
  plan.tls = tls_ctx.get();
  plan.host = o.host;
  plan.where = to.to_string();

  // Every loop is made here, so this thread is each one's loop thread until its run() starts.
  std::vector<std::unique_ptr<EchoShard>> shards;
  for (int k = 0; k < threads; ++k) {
    size_t share = static_cast<size_t>(o.connections / threads + (k < o.connections % threads ? 1 : 0));
    shards.push_back(std::make_unique<EchoShard>(plan, o.rate / threads, share));
  }
  for (int i = 0; i < o.connections; ++i) {
    shards[static_cast<size_t>(i % threads)]->add(connect_spread(to, i, o.sources));
    if (tls_ctx && i % 64 == 63)  // handshakes go on while more connect (see EchoShard::add)
      for (auto& s : shards) s->poll_once();
    if (o.progress && i % 1000 == 999) progress_line(true, fmt::format("connected {}/{}", i + 1, o.connections));
  }

  // Every connection answers once before the clock starts (bounded: a server that never serves
  // some of them, e.g. a pool with fewer workers, is then measured as it is).
  auto prime_deadline = Clock::now() + 5s + std::chrono::milliseconds(o.connections);
  size_t primed = 0;
  progress_line(o.progress, "waiting for every connection to echo once");
  for (auto& s : shards) primed += s->prime(prime_deadline);
  plan.start = Clock::now();
  plan.measure_from = plan.start + o.warmup;
  plan.end = plan.measure_from + o.duration;
  for (auto& s : shards) s->arm();

  // Shard 0 (this thread) takes the server's CPU reading when measuring starts and prints progress.
  std::optional<ProcStats> cpu0;
  EventLoop& main_loop = shards[0]->loop();
  main_loop.run_at(plan.measure_from, [&] { cpu0 = read_server_stats(o.server_pid, o.server_children); });
  ProgressBoard board(shards.size());
  if (o.progress) {
    for (size_t k = 1; k < shards.size(); ++k)
      every_second(shards[k]->loop(), plan.start + 950ms, [&board, &shards, k] { board.publish(k, shards[k]->report()); });
    every_second(main_loop, plan.start + 1s, [&] {
      board.publish(0, shards[0]->report());
      auto now = Clock::now();
      if (now < plan.measure_from) return progress_line(true, o.progress_label + "warming up");
      BenchReport all = board.merged();
      double secs = std::chrono::duration<double>(now - plan.measure_from).count();
      progress_line(true, fmt::format("{}{:.0f} s  {:.0f} round-trips/s  p99 {:.1f} us  errors {}", o.progress_label,
                                      secs, static_cast<double>(all.ops) / std::max(secs, 0.001),
                                      static_cast<double>(all.latency.percentile(0.99)) / 1000.0, all.errors));
    });
  }

  std::vector<std::thread> workers;
  std::vector<std::exception_ptr> failed(shards.size());
  for (size_t k = 1; k < shards.size(); ++k)
    workers.emplace_back([&, k] {
      try {
        shards[k]->loop().run();
      } catch (...) {
        failed[k] = std::current_exception();
      }
    });
  try {
    main_loop.run();
  } catch (...) {
    failed[0] = std::current_exception();
    for (size_t k = 1; k < shards.size(); ++k) shards[k]->loop().quit();
  }
  for (auto& w : workers) w.join();
  for (auto& e : failed)
    if (e) std::rethrow_exception(e);
  progress_line(o.progress, "");

  BenchReport r;
  r.mode = "echo";
  r.unit = "round-trips";
  r.connections = o.connections;
  r.size = o.size;
  r.pipeline = o.pipeline;
  r.seconds = std::chrono::duration<double>(o.duration).count();
  if (tls_ctx) r.tls = shards[0]->tls_in_use();
  uint64_t missed = 0;
  for (auto& s : shards) {
    const BenchReport& part = s->report();
    r.ops += part.ops;
    r.errors += part.errors;
    r.verified_bytes += part.verified_bytes;
    r.latency.merge(part.latency);
    missed += s->missed();
    if (per_thread) per_thread->push_back(part);
  }
  add_server_cpu(r, cpu0, o.server_pid, o.server_children);
  // Memory while every connection is still open (they close when the shards are destroyed).
  if (auto mem = read_server_stats(o.server_pid, o.server_children)) {
    r.extra.emplace_back("server_rss_kib", static_cast<double>(mem->rss_kib));
    r.extra.emplace_back("server_pss_kib", static_cast<double>(mem->pss_kib));
  }
  if (o.rate > 0) {
    r.extra.emplace_back("offered_per_second", o.rate);
    r.extra.emplace_back("offers_missed", static_cast<double>(missed));
  }
  if (threads > 1) r.extra.emplace_back("generator_threads", threads);
  if (primed < static_cast<size_t>(o.connections))
    r.extra.emplace_back("connections_silent_at_start", static_cast<double>(static_cast<size_t>(o.connections) - primed));
  return r;
}

BenchReport run_hold_load(const LoadOptions& o) {
  Endpoint to = Endpoint::parse(o.host, static_cast<uint16_t>(o.port));
  BenchReport r;
  r.mode = "hold";
  r.unit = "verified connections";
  r.connections = o.connections;
  r.size = o.size;
  r.pipeline = 1;
  // A server may still be setting up after its `listening on` line (pool and prefork start their
  // workers then): "before" is its size once that has stopped changing (5 x 50 ms alike, 5 s at
  // most), so that per connection means what the connections added.
  auto before = read_server_stats(o.server_pid, o.server_children);
  auto settle_by = Clock::now() + 5s;
  for (int same = 0; before && same < 5 && Clock::now() < settle_by;) {
    std::this_thread::sleep_for(50ms);
    auto now = read_server_stats(o.server_pid, o.server_children);
    if (!now) break;
    same = now->rss_kib == before->rss_kib && now->pss_kib == before->pss_kib ? same + 1 : 0;
    before = now;
  }

  // Until verifying, any event on an idle connection that is not TLS's own (the handshake, a
  // session ticket) is the server dropping it; while verifying, each connection must echo the
  // probe back whole. With --tls every connection's handshake is finished before the hold, so
  // the server's size while holding includes what its TLS sessions cost.
  EventLoop loop;
  std::shared_ptr<tls::ClientContext> tls_ctx = client_tls_context(o.tls);  // nullptr without --tls
  const std::string where = to.to_string();
  const std::string probe = random_payload(o.size);
  std::vector<LoadLink> links(static_cast<size_t>(o.connections));
  std::vector<Buffer> outs(links.size());
  std::vector<std::string> got(links.size());
  std::vector<bool> shaken(links.size());  // its TLS handshake is over (counted once)
  bool verifying = false;
  size_t pending = 0, handshaken = 0;
  auto done_with = [&](size_t i) {
    loop.unwatch(links[i].fd());
    if (verifying && --pending == 0) loop.quit();
  };
  // Sends what waits (a TLS handshake goes on inside); then the write interest it needs.
  auto flush = [&](size_t i) {
    if (links[i].flush(outs[i]) < 0) {
      ++r.errors;
      done_with(i);
      return false;
    }
    loop.modify(links[i].fd(), true, links[i].wait_for_output(outs[i]));
    return true;
  };
  auto ready = [&](size_t i, const Ready& rd) {
    if (rd.out && !flush(i)) return;
    char buf[65536];
    ssize_t n = links[i].recv(buf, sizeof buf);  // also advances a TLS handshake
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (tls_ctx && !shaken[i] && !links[i].tls_in_use().empty()) {
        shaken[i] = true;
        if (++handshaken == links.size() && !verifying) loop.quit();
      }
      loop.modify(links[i].fd(), true, links[i].wait_for_output(outs[i]));
      return;
    }
    if (!verifying || n <= 0) {
      ++r.errors;
      return done_with(i);
    }
    got[i].append(buf, static_cast<size_t>(n));
    if (got[i].size() < probe.size()) return;
    if (got[i] == probe) {
      ++r.ops;
      r.verified_bytes += probe.size();
    } else {
      ++r.errors;
    }
    done_with(i);
  };
  for (size_t i = 0; i < links.size(); ++i) {
    FileDesc fd = connect_spread(to, static_cast<int>(i), o.sources);
    links[i] = tls_ctx ? LoadLink(std::move(fd), *tls_ctx, o.host, where) : LoadLink(std::move(fd));
    std::string why;
    if (!loop.watch(links[i].fd(), true, false, [&ready, i](const Ready& rd) { ready(i, rd); }, &why))
      throw SysError("cannot watch a connection: " + why, EINVAL);
    if (tls_ctx) {
      // The ClientHello now (a read starts the handshake): the server's --tls-handshake-timeout
      // runs from its accept().
      ready(i, Ready{links[i].fd(), false, false, false});
      if (i % 64 == 63) {  // and the handshakes go on while more connect
        auto t = loop.run_after(0ms, [&] { loop.quit(); });
        loop.run();
        loop.cancel_timer(t);
      }
    }
    if (o.progress && i % 1000 == 999) progress_line(true, fmt::format("connected {}/{}", i + 1, o.connections));
  }
  if (tls_ctx && handshaken < links.size()) {  // every handshake done (bounded), then the hold
    progress_line(o.progress, "finishing the TLS handshakes");
    auto t = loop.run_after(10s + std::chrono::milliseconds(o.connections), [&] { loop.quit(); });
    loop.run();
    loop.cancel_timer(t);
    if (handshaken < links.size())
      r.extra.emplace_back("tls_handshakes_unfinished", static_cast<double>(links.size() - handshaken));
  }
  for (auto& l : links)
    if (l.valid() && !l.tls_in_use().empty()) {
      r.tls = l.tls_in_use();
      break;
    }
  // Give the server a moment to accept the tail of the backlog before measuring it.
  loop.run_after(500ms, [&] { loop.quit(); });
  loop.run();
  auto held = read_server_stats(o.server_pid, o.server_children);

  // Hold.
  auto end = Clock::now() + o.duration;
  loop.run_at(end, [&] { loop.quit(); });
  std::function<void()> show = [&] {
    progress_line(o.progress, fmt::format("holding {} connections, {} dropped", o.connections, r.errors));
    if (Clock::now() + 100ms < end) loop.run_after(100ms, show);
  };
  if (o.progress) show();
  loop.run();

  // Verify: every connection that survived must still echo.
  verifying = true;
  for (size_t i = 0; i < links.size(); ++i) {
    if (!loop.watching(links[i].fd())) continue;
    outs[i].append(probe);
    ++pending;
    if (!flush(i)) continue;  // counted and unwatched (pending went back down)
  }
  if (pending > 0) {
    auto verify_timeout = loop.run_after(10s + std::chrono::milliseconds(o.connections), [&] { loop.quit(); });
    loop.run();
    loop.cancel_timer(verify_timeout);
  }
  r.errors += pending;  // no answer in time
  r.seconds = std::chrono::duration<double>(o.duration).count();
  if (before && held) {
    r.extra.emplace_back("server_rss_kib_before", static_cast<double>(before->rss_kib));
    r.extra.emplace_back("server_rss_kib_holding", static_cast<double>(held->rss_kib));
    r.extra.emplace_back("server_rss_kib_per_connection",
                         static_cast<double>(held->rss_kib - before->rss_kib) / std::max(1, o.connections));
    // PSS splits shared pages between the processes that map them: with --server-children (one
    // process per client) it is what a client costs, where summed RSS counts libc once per child.
    r.extra.emplace_back("server_pss_kib_before", static_cast<double>(before->pss_kib));
    r.extra.emplace_back("server_pss_kib_holding", static_cast<double>(held->pss_kib));
    r.extra.emplace_back("server_pss_kib_per_connection",
                         static_cast<double>(held->pss_kib - before->pss_kib) / std::max(1, o.connections));
    if (o.server_children)  // the children's own pages: what a forked client (process, prefork) adds
      r.extra.emplace_back("server_children_uss_kib_per_connection",
                           static_cast<double>(held->children_uss_kib - before->children_uss_kib) /
                               std::max(1, o.connections));
  }
  progress_line(o.progress, "");
  return r;
}

}  // namespace concur
