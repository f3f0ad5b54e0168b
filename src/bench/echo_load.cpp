// `concur bench echo` and `concur bench hold`: closed-loop echo load and idle-connection holding,
// both on one epoll loop of their own.
#include "bench/echo_load.hpp"

#include <sys/socket.h>

#include <cstring>
#include <unordered_map>
#include <deque>
#include <random>

#include "core/buffer.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "loop/poller.hpp"

namespace concur {
namespace {

using Clock = std::chrono::steady_clock;

struct EchoConn {
  FileDesc fd;
  Buffer out;
  std::deque<Clock::time_point> sent;  // send time of each message not yet fully echoed
  size_t rx_off = 0;                   // bytes of the current message already echoed
  bool dead = false;
  bool want_out = false;
};

std::string random_payload(size_t n) {
  std::mt19937_64 rng(42);
  std::string p(n, '\0');
  for (auto& c : p) c = static_cast<char>(rng());
  return p;
}

std::vector<EchoConn> open_all(const LoadOptions& o, Poller& poller, const Endpoint& to) {
  std::vector<EchoConn> conns(static_cast<size_t>(o.connections));
  for (int i = 0; i < o.connections; ++i) {
    conns[i].fd = connect_spread(to, i, o.sources);
    std::string why;
    if (!poller.add(conns[i].fd.get(), true, false, &why)) throw SysError("cannot watch a connection: " + why, EINVAL);
    if (o.progress && i % 1000 == 999) progress_line(true, fmt::format("connected {}/{}", i + 1, o.connections));
  }
  return conns;
}

}  // namespace

BenchReport run_echo_load(const LoadOptions& o) {
  Endpoint to = Endpoint::parse(o.host, static_cast<uint16_t>(o.port));
  auto poller = make_epoll_poller();
  auto conns = open_all(o, *poller, to);
  std::unordered_map<int, size_t> by_fd;
  for (size_t i = 0; i < conns.size(); ++i) by_fd[conns[i].fd.get()] = i;
  const std::string payload = random_payload(o.size);

  BenchReport r;
  r.mode = "echo";
  r.unit = "round-trips";
  r.connections = o.connections;
  r.size = o.size;
  r.pipeline = o.pipeline;

  auto flush = [&](EchoConn& c) {
    long n = c.out.flush_to(c.fd.get());
    if (n < 0) {
      c.dead = true;
      ++r.errors;
      poller->remove(c.fd.get());
      return;
    }
    bool want = !c.out.empty();
    if (want != c.want_out) {
      poller->update(c.fd.get(), true, want);
      c.want_out = want;
    }
  };
  auto send_one = [&](EchoConn& c, Clock::time_point now) {
    c.out.append(payload);
    c.sent.push_back(now);
  };

  auto start = Clock::now();
  auto measure_from = start + o.warmup;
  auto end = measure_from + o.duration;
  // Closed loop: every connection keeps `pipeline` messages in flight. Fixed offered load
  // (--rate): one message at a time per connection, started at `rate` per second in all on
  // whichever connections are idle; an offer that finds every connection busy is not made up
  // later (counted as missed), so the server sees a steady rate, never a catch-up burst.
  const bool paced = o.rate > 0;
  std::deque<size_t> idle;
  uint64_t offered = 0, missed = 0;
  for (size_t i = 0; i < conns.size(); ++i) {
    if (paced) {
      idle.push_back(i);
      continue;
    }
    for (int k = 0; k < o.pipeline; ++k) send_one(conns[i], start);
    flush(conns[i]);
  }
  auto offer = [&](Clock::time_point now) {
    auto due = static_cast<uint64_t>(o.rate * std::chrono::duration<double>(now - start).count());
    while (offered < due) {
      ++offered;
      if (idle.empty()) {
        if (now >= measure_from && now < end) ++missed;
        continue;
      }
      EchoConn& c = conns[idle.front()];
      idle.pop_front();
      if (c.dead) continue;
      send_one(c, now);
      flush(c);
    }
  };
  std::optional<ProcStats> cpu0;
  bool measuring = false;
  auto next_progress = start + std::chrono::seconds(1);
  std::vector<Ready> ready;
  std::vector<char> rx(256 * 1024);  // not thread_local: that would cost every thread of the binary
  char* buf = rx.data();
  for (;;) {
    auto now = Clock::now();
    if (!measuring && now >= measure_from) {
      measuring = true;
      cpu0 = read_server_stats(o.server_pid, o.server_children);
    }
    if (now >= end) break;
    if (paced) offer(now);
    if (o.progress && now >= next_progress) {
      next_progress += std::chrono::seconds(1);
      double secs = std::chrono::duration<double>(now - measure_from).count();
      progress_line(true, measuring ? fmt::format("{}{:.0f} s  {:.0f} round-trips/s  p99 {:.1f} us  errors {}",
                                                  o.progress_label, secs,
                                                  static_cast<double>(r.ops) / std::max(secs, 0.001),
                                                  static_cast<double>(r.latency.percentile(0.99)) / 1000.0, r.errors)
                                      : o.progress_label + "warming up");
    }
    poller->wait(paced ? 1 : 10, ready);
    for (const Ready& ev : ready) {
      EchoConn& c = conns[by_fd[ev.fd]];
      if (c.dead) continue;
      if (ev.in || ev.err) {
        ssize_t n = ::recv(c.fd.get(), buf, rx.size(), MSG_DONTWAIT);
        if (n <= 0) {
          if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
          c.dead = true;
          ++r.errors;
          poller->remove(c.fd.get());
          continue;
        }
        auto t = Clock::now();
        size_t off = 0;
        while (off < static_cast<size_t>(n)) {
          size_t take = std::min(static_cast<size_t>(n) - off, o.size - c.rx_off);
          if (std::memcmp(buf + off, payload.data() + c.rx_off, take) != 0 || c.sent.empty()) {
            c.dead = true;  // a wrong byte: the echo is not verified
            ++r.errors;
            poller->remove(c.fd.get());
            break;
          }
          off += take;
          c.rx_off += take;
          if (t >= measure_from) r.verified_bytes += take;
          if (c.rx_off == o.size) {
            c.rx_off = 0;
            if (c.sent.front() >= measure_from && t < end) {
              r.latency.record(static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(t - c.sent.front()).count()));
              ++r.ops;
            }
            c.sent.pop_front();
            if (paced) idle.push_back(by_fd[ev.fd]);
            else send_one(c, t);
          }
        }
      }
      if (!c.dead) flush(c);
    }
  }
  progress_line(o.progress, "");
  r.seconds = std::chrono::duration<double>(o.duration).count();
  add_server_cpu(r, cpu0, o.server_pid, o.server_children);
  // Memory while every connection is still open (they close when this function returns).
  if (auto mem = read_server_stats(o.server_pid, o.server_children)) {
    r.extra.emplace_back("server_rss_kib", static_cast<double>(mem->rss_kib));
    r.extra.emplace_back("server_pss_kib", static_cast<double>(mem->pss_kib));
  }
  if (paced) {
    r.extra.emplace_back("offered_per_second", o.rate);
    r.extra.emplace_back("offers_missed", static_cast<double>(missed));
  }
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
  auto before = read_proc_stats(o.server_pid);
  auto poller = make_epoll_poller();
  auto conns = open_all(o, *poller, to);
  // Give the server a moment to accept the tail of the backlog before measuring it.
  auto settle_until = Clock::now() + std::chrono::milliseconds(500);
  std::vector<Ready> ready;
  while (Clock::now() < settle_until) poller->wait(50, ready);
  auto held = read_proc_stats(o.server_pid);

  // Hold: any event on an idle connection is the server dropping it.
  auto start = Clock::now();
  auto end = start + o.duration;
  std::unordered_map<int, size_t> by_fd;
  for (size_t i = 0; i < conns.size(); ++i) by_fd[conns[i].fd.get()] = i;
  while (Clock::now() < end) {
    poller->wait(100, ready);
    for (const Ready& ev : ready) {
      EchoConn& c = conns[by_fd[ev.fd]];
      if (!c.dead) {
        c.dead = true;
        ++r.errors;
        poller->remove(ev.fd);
      }
    }
    progress_line(o.progress, fmt::format("holding {} connections, {} dropped", o.connections, r.errors));
  }
  // Verify: every connection that survived must still echo.
  const std::string probe = random_payload(o.size);
  size_t pending = 0;
  for (auto& c : conns) {
    if (c.dead) continue;
    c.out.append(probe);
    if (c.out.flush_to(c.fd.get()) < 0) {
      c.dead = true;
      ++r.errors;
      continue;
    }
    ++pending;
  }
  std::vector<std::string> got(conns.size());
  auto verify_end = Clock::now() + std::chrono::seconds(10) + std::chrono::milliseconds(o.connections);
  char buf[65536];
  while (pending > 0 && Clock::now() < verify_end) {
    poller->wait(100, ready);
    for (const Ready& ev : ready) {
      size_t i = by_fd[ev.fd];
      EchoConn& c = conns[i];
      if (c.dead) continue;
      ssize_t n = ::recv(ev.fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n <= 0) {
        if (n < 0 && errno == EAGAIN) continue;
        c.dead = true;
        ++r.errors;
        --pending;
        poller->remove(ev.fd);
        continue;
      }
      got[i].append(buf, static_cast<size_t>(n));
      if (got[i].size() >= probe.size()) {
        --pending;
        poller->remove(ev.fd);
        if (got[i] == probe) {
          ++r.ops;
          r.verified_bytes += probe.size();
        } else {
          ++r.errors;
        }
        c.dead = true;  // done with it
      }
    }
  }
  r.errors += pending;  // no answer in time
  r.seconds = std::chrono::duration<double>(o.duration).count();
  if (before && held) {
    r.extra.emplace_back("server_rss_kib_before", static_cast<double>(before->rss_kib));
    r.extra.emplace_back("server_rss_kib_holding", static_cast<double>(held->rss_kib));
    r.extra.emplace_back("server_rss_kib_per_connection",
                         static_cast<double>(held->rss_kib - before->rss_kib) / std::max(1, o.connections));
  }
  progress_line(o.progress, "");
  return r;
}

}  // namespace concur
