// `concur bench chat`: group-chat fan-out against concur chat-server or Redis pub/sub, with the
// same members, senders, line size and flow control, so the two are compared like for like. Runs
// on the project's EventLoop: joining, the warm-up and the measured run are timers on one loop.
#include <sys/socket.h>

#include <charconv>
#include <cstring>
#include <unordered_map>

#include "bench/chat_codec.hpp"
#include "bench/echo_load.hpp"
#include "core/buffer.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "loop/event_loop.hpp"

namespace concur {
namespace {

using Clock = EventLoop::Clock;
using namespace std::chrono_literals;

uint64_t now_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count());
}

// The stamped text every sender sends: "<sender> <t_ns> xxxx…", padded to `size` bytes.
std::string stamped(int sender, uint64_t t, size_t size) {
  std::string s = fmt::format("{} {} ", sender, t);
  if (s.size() < size) s.append(size - s.size(), 'x');
  return s;
}

// Parses "<sender> <t_ns> ..." out of a delivered payload.
bool parse_stamp(std::string_view p, int& sender, uint64_t& t) {
  auto sp = p.find(' ');
  if (sp == std::string_view::npos) return false;
  auto sp2 = p.find(' ', sp + 1);
  if (sp2 == std::string_view::npos) return false;
  auto a = std::from_chars(p.data(), p.data() + sp, sender);
  auto b = std::from_chars(p.data() + sp + 1, p.data() + sp2, t);
  return a.ec == std::errc() && b.ec == std::errc();
}

}  // namespace

BenchReport run_chat_load(const LoadOptions& o) {
  std::unique_ptr<ChatCodec> codec = make_chat_codec(o.target);
  const bool on_tx = codec->sends_on_tx();
  // Federated servers: member i joins server i mod k, so the members are split evenly.
  std::vector<Endpoint> servers = {Endpoint::parse(o.host, static_cast<uint16_t>(o.port))};
  for (int p : o.extra_ports) servers.push_back(Endpoint::parse(o.host, static_cast<uint16_t>(p)));
  std::vector<int> pids = {o.server_pid};
  pids.insert(pids.end(), o.extra_pids.begin(), o.extra_pids.end());
  EventLoop loop;
  const int n = o.connections;
  if (n < 2) throw UsageError("--connections: chat needs at least 2 members (an observer and a sender)");
  const int senders = o.senders > 0 ? std::min(o.senders, n - 1) : n - 1;  // members 1..senders send
  std::vector<ChatLoadMember> m(static_cast<size_t>(n));
  // Joining ends when every member is connected and ready (or after join_limit): the loop quits.
  int connected = 0, joined = 0;
  bool joining = true, join_timed_out = false;
  auto mark_ready = [&](ChatLoadMember& x) {
    if (!x.ready) ++joined;
    x.ready = true;
    if (joining && connected == n && joined == n) {
      joining = false;
      loop.quit();
    }
  };

  BenchReport r;
  r.mode = codec->mode();
  r.unit = "deliveries";
  r.connections = n;
  r.size = o.size;
  r.pipeline = o.pipeline;

  // --tls (concur, web): every member's one connection; Redis's two stay plain (rejected before).
  std::shared_ptr<tls::ClientContext> tls_ctx = client_tls_context(o.tls);
  auto sending_fd = [&](ChatLoadMember& x) { return on_tx ? x.tx.get() : x.rx.fd(); };
  auto flush = [&](ChatLoadMember& x) {
    int fd = sending_fd(x);
    long sent = on_tx ? x.out.flush_to(fd) : x.rx.flush(x.out);
    if (sent < 0) throw SysError("the server closed a member's connection", ECONNRESET);
    bool want = on_tx ? !x.out.empty() : x.rx.wait_for_output(x.out);
    if (want != x.want_out) {
      loop.modify(fd, true, want);
      x.want_out = want;
    }
  };
  auto send_line = [&](int i) {
    codec->message(m[i], i, stamped(i, now_ns(), codec->body_size(o.size)));
    ++m[i].inflight;
  };

  bool measuring = false;
  Clock::time_point measure_from{}, end{};
  // One delivered payload at member i.
  auto delivered = [&](int i, std::string_view payload) {
    int sender = -1;
    uint64_t t = 0;
    if (!parse_stamp(payload, sender, t) || sender == i) return;  // join notices; redis echoes to self
    uint64_t now = now_ns();
    if (measuring && Clock::now() < end) {
      ++r.ops;
      r.verified_bytes += payload.size();
      r.latency.record(now > t ? now - t : 0);
    }
    if (i == 0 && sender > 0 && sender < n) {  // the observer paces the senders
      ChatLoadMember& s = m[sender];
      --s.inflight;
      while (s.inflight < o.pipeline && Clock::now() < end) send_line(sender);
      flush(s);
    }
  };
  auto on_readable = [&](int i, bool is_tx) {
    ChatLoadMember& x = m[static_cast<size_t>(i)];
    int fd = is_tx ? x.tx.get() : x.rx.fd();
    ChatCodec::Events ev{
        [&](std::string_view payload) { delivered(i, payload); },
        [&](int who) {
          if (who > 0 && who < n) mark_ready(m[who]);
        },
        [&] { mark_ready(x); }};
    char buf[256 * 1024];
    for (;;) {
      ssize_t got = is_tx ? ::recv(fd, buf, sizeof buf, MSG_DONTWAIT) : x.rx.recv(buf, sizeof buf);
      if (got == 0) throw SysError(fmt::format("the server closed member {}", i), ECONNRESET);
      if (got < 0) {
        if (errno == EAGAIN || errno == EINTR) {
          // TLS: the read may have been what a waiting write (the handshake's) needed.
          if (!is_tx && x.rx.tls() && !x.out.empty()) flush(x);
          break;
        }
        throw_errno(fmt::format("member {}", i));
      }
      if (is_tx) {
        x.tx_in.append(buf, static_cast<size_t>(got));
        codec->take_tx(x);
      } else {
        x.in.append(buf, static_cast<size_t>(got));
        codec->take(x, i, ev);
      }
    }
  };

  auto watch = [&](int fd, int i, bool tx) {
    std::string why;
    bool ok = loop.watch(fd, true, false, [&, i, tx](const Ready& ev) {
      ChatLoadMember& x = m[static_cast<size_t>(i)];
      if (ev.in || ev.err || (ev.out && !tx && x.rx.read_waits_for_output())) on_readable(i, tx);
      if (ev.out) flush(x);
    }, &why);
    if (!ok) throw SysError("cannot watch: " + why, EINVAL);
  };

  // Join everyone; the observer (member 0) first, so that it sees every later join. Members
  // connect 64 at a time with a look at the replies in between (a zero-delay timer runs after
  // one non-blocking wait), so the observer's join notices never pile up unread.
  // TLS: the observer's join leaves only once its handshake is over, a round trip after it
  // connects; a member that joined before it would be a join notice it never sees. So with TLS
  // the observer connects alone, and the others once its join has been sent.
  std::function<void()> connect_some = [&] {
    if (tls_ctx && connected == 1 && !m[0].out.empty()) {
      loop.run_after(1ms, connect_some);
      return;
    }
    const int batch = tls_ctx && connected == 0 ? 1 : 64;
    for (int stop = std::min(n, connected + batch); connected < stop; ++connected) {
      const int i = connected;
      const Endpoint& to = servers[static_cast<size_t>(i) % servers.size()];
      FileDesc fd = connect_spread(to, i, o.sources);
      m[i].rx = tls_ctx ? LoadLink(std::move(fd), *tls_ctx, o.host, to.to_string()) : LoadLink(std::move(fd));
      watch(m[i].rx.fd(), i, false);
      bool ready = codec->join(m[i], i, to);
      if (on_tx) {
        if (i >= 1 && i <= senders) {
          m[i].tx = connect_spread(to, i, o.sources);
          watch(m[i].tx.get(), i, true);
        }
      } else {
        flush(m[i]);
      }
      if (ready) mark_ready(m[i]);
    }
    if (connected < n) loop.run_after(0ms, connect_some);
  };
  // Every join is announced to every member already in: joining N members is N²/2 notices. Plain
  // TCP coalesces them (5,000 members join in about 10 s on the 2-core machine); over TLS each is
  // a record of its own, sealed and opened apart, 2-3x that. So 20 s, or 4 µs per notice with TLS.
  const auto join_limit = std::max<std::chrono::milliseconds>(
      20s, tls_ctx ? std::chrono::milliseconds(int64_t{2} * n * n / 1000) : 0ms);
  auto join_deadline = loop.run_after(join_limit, [&] {
    join_timed_out = true;
    loop.quit();
  });
  connect_some();
  if (joining) loop.run();
  if (join_timed_out)
    throw SysError(fmt::format("members did not all join within {} s", join_limit.count() / 1000), ETIMEDOUT);
  loop.cancel_timer(join_deadline);

  auto start = Clock::now();
  measure_from = start + o.warmup;
  end = measure_from + o.duration;
  for (int s = 1; s <= senders; ++s) {
    for (int k = 0; k < o.pipeline; ++k) send_line(s);
    flush(m[s]);
  }
  std::optional<ProcStats> cpu0;
  loop.run_at(measure_from, [&] {
    measuring = true;
    cpu0 = read_proc_stats(pids);
  });
  loop.run_at(end, [&] { loop.quit(); });
  std::function<void()> show = [&] {
    auto now = Clock::now();
    double secs = std::chrono::duration<double>(now - measure_from).count();
    progress_line(true, measuring ? fmt::format("{:.0f} s  {:.0f} deliveries/s  p99 {:.1f} us", secs,
                                                static_cast<double>(r.ops) / std::max(secs, 0.001),
                                                static_cast<double>(r.latency.percentile(0.99)) / 1000.0)
                                    : std::string("warming up"));
    loop.run_after(1s, show);
  };
  if (o.progress) loop.run_after(1s, show);
  loop.run();
  progress_line(o.progress, "");
  r.seconds = std::chrono::duration<double>(o.duration).count();
  add_server_cpu(r, cpu0, pids);
  r.extra.emplace_back("senders", senders);
  if (tls_ctx) r.tls = m[0].rx.tls_in_use();
  return r;
}

}  // namespace concur
