// `concur bench chat`: group-chat fan-out against concur chat-server or Redis pub/sub, with the
// same members, senders, line size and flow control, so the two are compared like for like. Runs
// on the project's EventLoop: joining, the warm-up and the measured run are timers on one loop.
#include <sys/socket.h>

#include <charconv>
#include <cstring>
#include <unordered_map>

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

struct Member {
  FileDesc rx;            // receives deliveries (concur: the member's socket; redis: its SUBSCRIBE socket)
  FileDesc tx;            // redis senders only: the PUBLISH socket (a subscriber cannot publish)
  Buffer out;             // pending bytes for the socket that sends (rx for concur, tx for redis)
  std::string in;         // unparsed received bytes on rx
  std::string tx_in;      // unparsed replies on tx (redis)
  int inflight = 0;
  bool want_out = false;
  bool ready = false;     // joined (concur) / subscribed (redis)
  bool upgrading = false; // web: the HTTP 101 answer has not arrived yet
};

// A client WebSocket text frame (RFC 6455 §5.2). The mask key is zero: still a valid masked
// frame for the server (which must unmask), without spending the load generator's CPU on XOR.
void append_ws_frame(Buffer& out, std::string_view payload) {
  char head[14];
  size_t n = payload.size(), h = 0;
  head[h++] = static_cast<char>(0x81);
  if (n < 126) {
    head[h++] = static_cast<char>(0x80 | n);
  } else if (n <= 0xffff) {
    head[h++] = static_cast<char>(0x80 | 126);
    head[h++] = static_cast<char>(n >> 8);
    head[h++] = static_cast<char>(n & 0xff);
  } else {
    head[h++] = static_cast<char>(0x80 | 127);
    for (int i = 7; i >= 0; --i) head[h++] = static_cast<char>((static_cast<uint64_t>(n) >> (i * 8)) & 0xff);
  }
  for (int i = 0; i < 4; ++i) head[h++] = 0;
  out.append(std::string_view(head, h));
  out.append(payload);
}

// Takes whole server frames (unmasked) from `in`, calling on_text for each text payload; returns
// bytes consumed.
template <typename F>
size_t take_ws_frames(std::string_view in, F&& on_text) {
  size_t pos = 0;
  for (;;) {
    if (in.size() - pos < 2) return pos;
    auto b = [&](size_t i) { return static_cast<uint8_t>(in[pos + i]); };
    uint64_t len = b(1) & 0x7f;
    size_t head = 2;
    if (len == 126) {
      if (in.size() - pos < 4) return pos;
      len = (uint64_t{b(2)} << 8) | b(3);
      head = 4;
    } else if (len == 127) {
      if (in.size() - pos < 10) return pos;
      len = 0;
      for (int i = 0; i < 8; ++i) len = (len << 8) | b(2 + i);
      head = 10;
    }
    if (in.size() - pos - head < len) return pos;
    if ((b(0) & 0x0f) == 1) on_text(in.substr(pos + head, len));
    else if ((b(0) & 0x0f) == 8) throw SysError("the server closed a WebSocket member", ECONNRESET);
    pos += head + len;
  }
}

// Extracts complete RESP frames of the form *N followed by N bulk strings or integers. Calls
// on_push with the elements of each array; returns bytes consumed. Integers (":n") at top level
// (PUBLISH replies) are consumed and ignored.
template <typename F>
size_t parse_resp(std::string_view buf, F&& on_push) {
  size_t pos = 0;
  for (;;) {
    size_t p = pos;
    if (p >= buf.size()) return pos;
    auto read_line = [&](size_t& at) -> std::optional<std::string_view> {
      auto e = buf.find("\r\n", at);
      if (e == std::string_view::npos) return std::nullopt;
      std::string_view l = buf.substr(at, e - at);
      at = e + 2;
      return l;
    };
    char kind = buf[p];
    if (kind == ':' || kind == '+' || kind == '-') {
      if (!read_line(p)) return pos;
      pos = p;
      continue;
    }
    if (kind != '*') throw SysError("unexpected reply from redis", EPROTO);
    auto head = read_line(p);
    if (!head) return pos;
    int n = std::atoi(std::string(head->substr(1)).c_str());
    std::vector<std::string_view> items;
    for (int i = 0; i < n; ++i) {
      if (p >= buf.size()) return pos;
      if (buf[p] == ':') {
        auto l = read_line(p);
        if (!l) return pos;
        items.push_back(l->substr(1));
        continue;
      }
      auto l = read_line(p);
      if (!l) return pos;
      size_t len = static_cast<size_t>(std::atoll(std::string(l->substr(1)).c_str()));
      if (p + len + 2 > buf.size()) return pos;
      items.push_back(buf.substr(p, len));
      p += len + 2;
    }
    on_push(items);
    pos = p;
  }
}

}  // namespace

BenchReport run_chat_load(const LoadOptions& o) {
  const bool redis = o.target == "redis";
  const bool web = o.target == "web";  // concur chat-server --web: members over WebSocket
  // Federated servers: member i joins server i mod k, so the members are split evenly.
  std::vector<Endpoint> servers = {Endpoint::parse(o.host, static_cast<uint16_t>(o.port))};
  for (int p : o.extra_ports) servers.push_back(Endpoint::parse(o.host, static_cast<uint16_t>(p)));
  std::vector<int> pids = {o.server_pid};
  pids.insert(pids.end(), o.extra_pids.begin(), o.extra_pids.end());
  EventLoop loop;
  const int n = o.connections;
  if (n < 2) throw UsageError("--connections: chat needs at least 2 members (an observer and a sender)");
  const int senders = o.senders > 0 ? std::min(o.senders, n - 1) : n - 1;  // members 1..senders send
  std::vector<Member> m(static_cast<size_t>(n));
  // Joining ends when every member is connected and ready (or after 20 s): the loop quits.
  int connected = 0, joined = 0;
  bool joining = true, join_timed_out = false;
  auto mark_ready = [&](Member& x) {
    if (!x.ready) ++joined;
    x.ready = true;
    if (joining && connected == n && joined == n) {
      joining = false;
      loop.quit();
    }
  };

  BenchReport r;
  r.mode = redis ? "chat (redis pub/sub)" : web ? "chat (concur chat-server, WebSocket)" : "chat (concur chat-server)";
  r.unit = "deliveries";
  r.connections = n;
  r.size = o.size;
  r.pipeline = o.pipeline;

  auto sending_fd = [&](Member& x) { return redis ? x.tx.get() : x.rx.get(); };
  auto flush = [&](Member& x) {
    int fd = sending_fd(x);
    if (x.out.flush_to(fd) < 0) throw SysError("the server closed a member's connection", ECONNRESET);
    bool want = !x.out.empty();
    if (want != x.want_out) {
      loop.modify(fd, true, want);
      x.want_out = want;
    }
  };
  auto send_line = [&](int i) {
    Member& x = m[i];
    std::string body = stamped(i, now_ns(), redis ? o.size : o.size - 1);
    if (redis) {
      x.out.append(fmt::format("*3\r\n$7\r\nPUBLISH\r\n$4\r\nroom\r\n${}\r\n{}\r\n", body.size(), body));
    } else if (web) {
      append_ws_frame(x.out, fmt::format("[m{}]{}", i, body));
    } else {
      x.out.append(fmt::format("[m{}]{}\n", i, body));
    }
    ++x.inflight;
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
      Member& s = m[sender];
      --s.inflight;
      while (s.inflight < o.pipeline && Clock::now() < end) send_line(sender);
      flush(s);
    }
  };
  auto on_readable = [&](int i, bool is_tx) {
    Member& x = m[static_cast<size_t>(i)];
    int fd = is_tx ? x.tx.get() : x.rx.get();
    char buf[256 * 1024];
    for (;;) {
      ssize_t got = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (got == 0) throw SysError(fmt::format("the server closed member {}", i), ECONNRESET);
      if (got < 0) {
        if (errno == EAGAIN || errno == EINTR) break;
        throw_errno(fmt::format("member {}", i));
      }
      std::string& in = is_tx ? x.tx_in : x.in;
      in.append(buf, static_cast<size_t>(got));
      if (is_tx) {  // PUBLISH replies: integers, discarded
        in.erase(0, parse_resp(in, [](auto&) {}));
      } else if (redis) {
        size_t used = parse_resp(in, [&](const std::vector<std::string_view>& items) {
          if (items.size() == 3 && items[0] == "message") delivered(i, items[2]);
          else if (items.size() == 3 && items[0] == "subscribe") mark_ready(x);
        });
        in.erase(0, used);
      } else {
        auto on_message = [&](std::string_view line) {
          if (line.rfind("error:", 0) == 0) throw SysError(fmt::format("member {} got '{}'", i, line), EPROTO);
          auto rb = line.find(']');
          if (rb != std::string_view::npos) {
            std::string_view id = line.substr(1, rb - 1), text = line.substr(rb + 1);
            if (text.empty() && i == 0 && id.size() > 1) {  // a join notice seen by the observer
              int who = std::atoi(std::string(id.substr(1)).c_str());
              if (who > 0 && who < n) mark_ready(m[who]);
            }
            delivered(i, text);
          }
        };
        if (web) {
          if (x.upgrading) {
            size_t end = in.find("\r\n\r\n");
            if (end == std::string::npos) continue;
            if (in.rfind("HTTP/1.1 101 ", 0) != 0)
              throw SysError(fmt::format("member {}: no WebSocket upgrade: {}", i, in.substr(0, in.find('\r'))), EPROTO);
            in.erase(0, end + 4);
            x.upgrading = false;
          }
          in.erase(0, take_ws_frames(in, on_message));
          continue;
        }
        size_t start = 0, nl;
        while ((nl = in.find('\n', start)) != std::string::npos) {
          std::string_view line(in.data() + start, nl - start);
          start = nl + 1;
          on_message(line);
        }
        in.erase(0, start);
      }
    }
  };

  auto watch = [&](int fd, int i, bool tx) {
    std::string why;
    bool ok = loop.watch(fd, true, false, [&, i, tx](const Ready& ev) {
      if (ev.in || ev.err) on_readable(i, tx);
      if (ev.out) flush(m[static_cast<size_t>(i)]);
    }, &why);
    if (!ok) throw SysError("cannot watch: " + why, EINVAL);
  };

  // Join everyone; the observer (member 0) first, so that it sees every later join. Members
  // connect 64 at a time with a look at the replies in between (a zero-delay timer runs after
  // one non-blocking wait), so the observer's join notices never pile up unread.
  std::function<void()> connect_some = [&] {
    for (int stop = std::min(n, connected + 64); connected < stop; ++connected) {
      const int i = connected;
      const Endpoint& to = servers[static_cast<size_t>(i) % servers.size()];
      m[i].rx = connect_spread(to, i, o.sources);
      watch(m[i].rx.get(), i, false);
      if (redis) {
        m[i].out.append("*2\r\n$9\r\nSUBSCRIBE\r\n$4\r\nroom\r\n");
        m[i].out.flush_to(m[i].rx.get());
        m[i].out.clear();
        if (i >= 1 && i <= senders) {
          m[i].tx = connect_spread(to, i, o.sources);
          watch(m[i].tx.get(), i, true);
        }
      } else if (web) {  // the upgrade and the join in one write: the server takes bytes after the head
        m[i].out.append(fmt::format("GET /ws HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
                                    to.to_string()));
        append_ws_frame(m[i].out, fmt::format("[m{}]", i));
        m[i].upgrading = true;
        flush(m[i]);
        if (i == 0) mark_ready(m[0]);
      } else {
        m[i].out.append(fmt::format("[m{}]\n", i));
        flush(m[i]);
        if (i == 0) mark_ready(m[0]);
      }
    }
    if (connected < n) loop.run_after(0ms, connect_some);
  };
  auto join_deadline = loop.run_after(20s, [&] {
    join_timed_out = true;
    loop.quit();
  });
  connect_some();
  if (joining) loop.run();
  if (join_timed_out) throw SysError("members did not all join within 20 s", ETIMEDOUT);
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
  return r;
}

}  // namespace concur
