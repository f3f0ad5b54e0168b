#include "iot/mqtt_sink.hpp"

#include <fcntl.h>
#include <mosquitto.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <stdexcept>
#include <unordered_map>

#include "core/fd.hpp"
#include "core/log.hpp"
#include "core/log_limiter.hpp"
#include "iot/reading.hpp"
#include "link/broker_link.hpp"

namespace concur::iot {

namespace {

using SteadyClock = std::chrono::steady_clock;


}  // namespace

std::string mqtt_topic(std::string_view prefix, std::string_view device) {
  std::string t;
  t.reserve(prefix.size() + 1 + device.size());
  append_mqtt_topic(t, prefix, device);
  return t;
}

std::string mqtt_payload(std::string_view reading, double unix_time) {
  auto r = parse_reading(reading);
  return r ? mqtt_payload(*r, unix_time) : std::string();
}

std::string mqtt_payload(const ParsedReading& reading, double unix_time) {
  std::string p;
  append_mqtt_payload(p, reading, unix_time);
  return p;
}

void append_mqtt_payload(std::string& p, const ParsedReading& r, double unix_time) {
  p.append("{\"time\": ");
  // {:.3f}, without fmt's arbitrary-precision path (format_dragon, a few % of the sink's CPU) for
  // the usual time: whole milliseconds (data.txt stamps are whole seconds), printed as integers.
  double ms = unix_time * 1000.0;
  if (!std::signbit(ms) && ms < 9e15 && ms == std::floor(ms)) {
    auto whole = static_cast<uint64_t>(ms);
    {
      fmt::format_int i(whole / 1000);
      p.append(i.data(), i.size());
    }
    char frac[4] = {'.', char('0' + whole / 100 % 10), char('0' + whole / 10 % 10), char('0' + whole % 10)};
    p.append(frac, sizeof frac);
  } else {
    fmt::format_to(std::back_inserter(p), "{:.3f}", unix_time);
  }
  p.append(", \"device\": \"");
  for (char c : r.name) {  // printable ASCII (valid_device_name): only these two need escaping
    if (c == '"' || c == '\\') p.push_back('\\');
    p.push_back(c);
  }
  p.push_back('"');
  for (const Field& f : r.fields) {
    p.append(", \"").append(f.key).append("\": ");
    fmt::format_int v(f.value);
    p.append(v.data(), v.size());
  }
  p.push_back('}');
}

void append_mqtt_topic(std::string& t, std::string_view prefix, std::string_view device) {
  t.append(prefix).push_back('/');
  for (char c : device) t.push_back(c == '+' || c == '#' || c == '/' ? '_' : c);
}

std::string mqtt_cursor_text(const LogPosition& at, std::string_view log_path) {
  return fmt::format(
      "# concur collect --mqtt: the end of the last line of the log the broker acknowledged (PUBACK)\n"
      "log {}\nfile_id {}\noffset {}\n",
      log_path, at.file_id, at.offset);
}

std::optional<LogPosition> parse_mqtt_cursor(std::string_view text, std::string* why) {
  auto bad = [&](std::string w) -> std::optional<LogPosition> {
    if (why) *why = std::move(w);
    return std::nullopt;
  };
  std::optional<std::string> id;
  std::optional<uint64_t> offset;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) return bad("its last line is not whole");
    std::string_view line = text.substr(start, nl - start);
    start = nl + 1;
    if (line.empty() || line.front() == '#') continue;
    size_t sp = line.find(' ');
    std::string_view key = line.substr(0, sp), value = sp == std::string_view::npos ? "" : line.substr(sp + 1);
    if (key == "log") continue;
    if (key == "file_id") {
      if (value.size() != 24 || value.substr(0, 8) != "fnv1a64:" || value.find_first_not_of("0123456789abcdef", 8) != std::string_view::npos)
        return bad("its file_id is not fnv1a64:<16 hex digits>");
      id = std::string(value);
    } else if (key == "offset") {
      if (value.empty() || value.size() > 19 || value.find_first_not_of("0123456789") != std::string_view::npos)
        return bad("its offset is not a number");
      offset = std::stoull(std::string(value));
    } else {
      return bad(fmt::format("it has a line '{}'", log_excerpt(line)));
    }
  }
  if (!id || !offset) return bad(!id && !offset ? "it has no file_id and no offset" : !id ? "it has no file_id" : "it has no offset");
  return LogPosition{*id, *offset};
}

namespace {

// Writes `text` to `path` atomically: path.tmp, fsync, rename. 0 or the errno.
int replace_file(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  FileDesc fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) return errno;
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::unlink(tmp.c_str());
      return err;
    }
    done += static_cast<size_t>(n);
  }
  // Before the rename: after a power cut the file holds the old cursor or the new one, never an
  // empty file (which would not be trusted and so skip readings).
  if (::fsync(fd.get()) != 0 || ::close(fd.release()) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return err;
  }
  return 0;
}

link::LinkSettings mqtt_link_settings(const MqttOptions& o, const std::string& name) {
  link::LinkSettings l;
  l.ready_name = "mqtt " + name;
  l.ready_initially = "not connected to the broker yet";
  l.backoff_initial = o.backoff_initial;
  l.backoff_cap = o.backoff_cap;
  l.jitter = 0.2;
  l.connect_timeout = o.connect_timeout;
  l.reply_timeout = Millis(0);  // libmosquitto's keepalive (mosquitto_loop_misc) watches the broker
  return l;
}

}  // namespace

// Everything that touches libmosquitto; made with the sink (its link's /readyz check registers at
// once) and used on the sink's thread only. The link's life is a link::BrokerLink; this is its
// LinkProtocol.
struct MqttSink::Client final : link::LinkProtocol {
  explicit Client(MqttSink& s) : sink(s), loop(s.loop_), link(mqtt_link_settings(s.opts_, s.name()), *this) {}

  MqttSink& sink;
  EventLoop& loop;
  mosquitto* mosq = nullptr;
  link::BrokerLink link;  // down → connecting → up → draining; back-off, connect timeout, /readyz
  EventLoop::TimerId link_timer = TimerQueue::kNoTimer;  // at link.next_due()
  SteadyClock::time_point link_timer_due{};
  EventLoop::TimerId drain_timer = TimerQueue::kNoTimer;
  int watched = -1;  // the broker socket the loop watches, and with which interest
  bool watched_out = false;
  unsigned inflight = 0;  // published, PUBACK not yet received
  Batch current;          // the batch being published, taken whole from the queue
  Batch::Cursor at;       // the next reading of `current` to publish
  bool have_current = false;
  ParsedReading reading;  // the one at `at` (its fields' storage reused)
  ParsedReading peeked;   // batch_done_yet()'s
  std::string payload, topic;  // pump()'s, reused (libmosquitto copies both)
  uint64_t dropped_at_outage = 0;
  bool closing = false;  // our own DISCONNECT: not an outage
  LogLimiter bad_publish{3, std::chrono::seconds(10)};

  // The batches taken and not yet wholly acknowledged, oldest first: the cursor moves to a
  // batch's end once it and all before it are (PUBACKs come in order on one connection; after a
  // reconnect libmosquitto sends the unacknowledged again, in order, so this is only a guard).
  struct Pending {
    std::optional<LogPosition> at;  // nullopt: from write_batch (no cursor)
    size_t outstanding = 0;         // published, PUBACK not yet received
    bool all_published = false;
  };
  std::deque<Pending> pending;
  uint64_t first_seq = 0;                      // the sequence number of pending.front()
  std::unordered_map<int, uint64_t> mid_batch;  // message id -> the sequence number of its batch
  std::optional<LogPosition> acked;            // the cursor: what the file should say
  bool cursor_dirty = false;
  int cursor_error = 0;                        // the last failure to write the file (said once)
  std::string tls_error;                       // libmosquitto's last error log line (OpenSSL's reason)
  bool tls_kicked = false;                     // this attempt's TLS handshake was started (ready())

  const std::string& label() const { return sink.name(); }

  // ---- LinkProtocol ----
  void open() override {
    tls_kicked = false;
    int rc = mosquitto_connect_async(mosq, sink.opts_.host.c_str(), sink.opts_.port, sink.opts_.keepalive_s);
    if (rc != MOSQ_ERR_SUCCESS) link.lost(SteadyClock::now(), "cannot connect (" + describe(rc) + ")");
  }

  void on_down(const link::LinkDown& d) override {
    if (!d.first_of_outage) return;
    if (sink.follows_log())
      errf("concur: {}: {}; readings wait in {} (its cursor file {}) and the broker is retried in {:.1f} s (backoff up to {:.0f} s)",
           label(), d.why, sink.opts_.log_path, sink.opts_.cursor_path, seconds_of(d.retry_in), seconds_of(sink.opts_.backoff_cap));
    else
      errf("concur: {}: {}; readings are queued (up to {} of them) and the broker is retried in {:.1f} s (backoff up to {:.0f} s)",
           label(), d.why, thousands(sink.opts_.max_queue), seconds_of(d.retry_in), seconds_of(sink.opts_.backoff_cap));
    dropped_at_outage = sink.dropped();
  }

  void on_up(const link::LinkUp& u) override {
    uint64_t dropped = sink.dropped() - dropped_at_outage;
    sink.overflow_said_again();
    if (u.first) errf("concur: {}: connected{}; publishing with QoS 1", label(), sink.opts_.tls ? " over TLS" : "");
    else if (u.ended_outage)
      errf("concur: {}: connected again; publishing resumes{}", label(),
           dropped ? fmt::format(" ({} oldest readings were dropped while the broker was unreachable)", thousands(dropped))
                   : std::string());
  }

  std::string timeout_reason(Millis) const override { return "connect timed out"; }

  // One timer for the link: the next attempt, or the connect deadline.
  void arm_link_timer() {
    SteadyClock::time_point due = link.next_due();
    if (link_timer != TimerQueue::kNoTimer && due == link_timer_due) return;
    cancel(link_timer);
    if (due == SteadyClock::time_point::max()) return;
    link_timer_due = due;
    link_timer = loop.run_at(due, [this] {
      link_timer = TimerQueue::kNoTimer;
      link.poll(SteadyClock::now());
      after_event();
    });
  }

  void cancel(EventLoop::TimerId& id) {
    if (id != TimerQueue::kNoTimer) loop.cancel_timer(id);
    id = TimerQueue::kNoTimer;
  }

  // After anything happened on the loop (readiness, a timer, a wake-up from the collector): end
  // when closing and done, publish what is queued, and watch the broker socket as it is now
  // (libmosquitto opens a new one on every reconnect; poll() needs no more than its number).
  void after_event() {
    batch_done_yet();
    OffThreadSink::Closing closing = sink.closing();
    if (closing.asked) {
      link.stop();  // connected: draining, until all is sent or drain_until; else no more attempts
      bool all_sent = closing.waiting == 0 && unpublished_in_current() == 0 && inflight == 0;
      if (all_sent || !link.can_send() || SteadyClock::now() >= closing.drain_until) return loop.quit();
      if (drain_timer == TimerQueue::kNoTimer) drain_timer = loop.run_at(closing.drain_until, [this] { after_event(); });
    }
    pump();
    arm_link_timer();
    int sock = mosquitto_socket(mosq);
    // While a TLS handshake runs, want_write is also true for the CONNECT packet queued behind it,
    // which is not sent before the handshake ends: once the handshake is started, wait for the
    // broker's answer only (or the socket would be writable, and the loop spin, until it comes).
    bool handshaking = sink.opts_.tls && !link.can_send() && tls_kicked;
    bool out = sock >= 0 && mosquitto_want_write(mosq) && !handshaking;
    if (sock != watched) {
      if (watched >= 0) loop.unwatch(watched);
      watched = -1;
      if (sock >= 0 && loop.watch(sock, true, out, &Client::ready_thunk, this)) watched = sock;
      watched_out = out;
    } else if (sock >= 0 && out != watched_out) {
      loop.modify(sock, true, out);
      watched_out = out;
    }
  }

  static void ready_thunk(void* self, const Ready& r) { static_cast<Client*>(self)->ready(r); }
  void ready(const Ready& r) {
    // TLS: libmosquitto advances its non-blocking handshake (SSL_connect) only from its read path
    // (mosquitto_loop() does it on writability, which loop_write does not): the first writable
    // socket of an attempt — the TCP connect done — starts it, or the ClientHello is never sent.
    bool kick = sink.opts_.tls && r.out && !tls_kicked && !link.can_send();
    if (kick) tls_kicked = true;
    int rc = MOSQ_ERR_SUCCESS;
    if (r.in || r.err || kick) rc = mosquitto_loop_read(mosq, 1);
    if (rc == MOSQ_ERR_SUCCESS && mosquitto_socket(mosq) >= 0 && mosquitto_want_write(mosq)) rc = mosquitto_loop_write(mosq, 1);
    // A failed TLS handshake returns from mosquitto_loop_read with the socket closed but without
    // the disconnect callback: the loss is reported here (once: lost() ignores a link already down).
    if (rc != MOSQ_ERR_SUCCESS && mosquitto_socket(mosq) < 0) on_disconnect(rc);
    after_event();
  }

  // Keepalive PINGREQ and its timeout, and the cursor file while it moved, once a second.
  void tick() {
    if (mosquitto_socket(mosq) >= 0) mosquitto_loop_misc(mosq);
    write_cursor();
    after_event();
    loop.run_after(std::chrono::seconds(1), [this] { tick(); });
  }

  std::string describe(int rc) {
    if (rc == MOSQ_ERR_ERRNO) return std::strerror(errno);
    if (rc == MOSQ_ERR_EAI) return "cannot resolve the host name";
    if (rc == MOSQ_ERR_TLS) {
      std::string why = tls_error.empty() ? "TLS handshake failed" : "TLS: " + tls_error;
      tls_error.clear();
      if (why.find("certificate verify failed") != std::string::npos)
        why += " (is --mqtt-ca the CA that signed the broker's certificate, for this host name?)";
      return why;
    }
    return mosquitto_strerror(rc);
  }

  // libmosquitto's own log: only its errors are kept, to name a TLS failure's reason
  // ("OpenSSL Error[0]: error:0A000086:SSL routines::certificate verify failed").
  void on_log(int level, const char* text) {
    if (!(level & MOSQ_LOG_ERR) || !text) return;
    std::string_view t(text);
    if (t.rfind("OpenSSL Error", 0) == 0) {
      // "...: error:0A000086:SSL routines::certificate verify failed": the reason after the last "::" or ':'.
      size_t cut = t.rfind("::");
      cut = cut == std::string_view::npos ? t.rfind(':') : cut + 1;
      if (cut != std::string_view::npos && cut + 1 < t.size()) t = t.substr(cut + 1);
    } else if (t.rfind("Error: ", 0) == 0) {
      t.remove_prefix(7);
    }
    if (tls_error.empty()) tls_error = log_excerpt(t);  // the first error is the cause
  }

  // ---- the cursor ----
  // A batch's readings are all handed to libmosquitto: its end counts once they are acknowledged.
  void batch_published() {
    if (!pending.empty()) pending.back().all_published = true;
    settle();
  }

  // The batch being published has no reading left (pump() finds out only when it looks for the
  // next one): its end may count now, before close() ends the loop.
  void batch_done_yet() {
    if (!have_current || pending.empty() || pending.back().all_published) return;
    Batch::Cursor peek = at;
    double t = 0;
    if (!current.next(peek, peeked, t)) batch_published();
  }

  void settle() {
    while (!pending.empty() && pending.front().all_published && pending.front().outstanding == 0) {
      if (pending.front().at) {
        acked = std::move(pending.front().at);
        cursor_dirty = true;
        sink.cursor_.store(acked->offset, std::memory_order_relaxed);
        MutexLock lock(sink.durable_mu_);
        sink.durable_ = acked;
      }
      pending.pop_front();
      ++first_seq;
    }
  }

  void write_cursor() {
    if (!cursor_dirty || !acked || sink.opts_.cursor_path.empty()) return;
    int err = replace_file(sink.opts_.cursor_path, mqtt_cursor_text(*acked, sink.opts_.log_path));
    if (err == 0) {
      if (cursor_error) errf("concur: {}: writing its cursor file {} works again", label(), sink.opts_.cursor_path);
      cursor_error = 0;
      cursor_dirty = false;
      return;
    }
    if (err != cursor_error)
      errf("concur: {}: cannot write its cursor file {}: {}; retried every second (a restart meanwhile publishes "
           "again from the older cursor)",
           label(), sink.opts_.cursor_path, std::strerror(err));
    cursor_error = err;
  }

  void on_connect(int rc) {
    if (rc != 0) {  // the broker answered but refused (bad credentials, ...); the socket closes next
      errf("concur: {}: the broker refused the connection: {}", label(), mosquitto_connack_string(rc));
      link.report_next_loss();  // say the retry once more
      return;
    }
    link.connected(SteadyClock::now());  // on_up
  }

  void on_disconnect(int rc) {
    if (closing) return;
    bool was = link.can_send();
    std::string why = describe(rc);
    link.lost(SteadyClock::now(), was ? "connection to the broker lost (" + why + ")" : "cannot connect (" + why + ")");
  }

  void on_publish(int mid) {
    if (inflight) --inflight;
    sink.count_delivered();
    auto it = mid_batch.find(mid);
    if (it == mid_batch.end()) return;
    uint64_t seq = it->second;
    mid_batch.erase(it);
    if (seq >= first_seq && seq - first_seq < pending.size()) {
      Pending& p = pending[static_cast<size_t>(seq - first_seq)];
      if (p.outstanding) --p.outstanding;
    }
    settle();
  }

  // Hands queued readings to libmosquitto while fewer than `window` await their PUBACK.
  void pump() {
    while (link.can_send() && inflight < sink.opts_.window) {
      double time = 0;
      if (!have_current || !current.next(at, reading, time)) {  // parsed by the collector, skipped if not valid
        if (have_current) batch_published();
        std::optional<LogPosition> pos;
        have_current = sink.take(current, &pos);
        if (!have_current) return;
        at = {};
        pending.push_back(Pending{std::move(pos), 0, false});
        continue;
      }
      payload.clear();
      append_mqtt_payload(payload, reading, time);
      topic.clear();
      append_mqtt_topic(topic, sink.opts_.topic_prefix, reading.name);
      int mid = 0;
      int rc = mosquitto_publish(mosq, &mid, topic.c_str(), static_cast<int>(payload.size()), payload.data(), 1, false);
      if (!refused_before_queueing(rc)) {
        // A QoS 1 message is in libmosquitto's queue from here on, even when its first send failed
        // (EPIPE: the broker just went away): it is sent again after the reconnect and acknowledged
        // then, so it counts as in flight.
        ++inflight;
        mid_batch[mid] = first_seq + pending.size() - 1;
        ++pending.back().outstanding;
        if (rc != MOSQ_ERR_SUCCESS) return;  // the connection is broken: the loop notices and reconnects
        continue;
      }
      sink.count_dropped();
      if (bad_publish.admit(SteadyClock::now()).log)
        errf("concur: {}: cannot publish to {}: {}; reading dropped", label(), topic, describe(rc));
    }
  }

  // mosquitto_publish (2.0) checks its arguments first and then queues a QoS 1 message whatever
  // happens to the send; these are the errors of the checks, where nothing was queued.
  static bool refused_before_queueing(int rc) {
    switch (rc) {
      case MOSQ_ERR_INVAL:
      case MOSQ_ERR_NOMEM:
      case MOSQ_ERR_PAYLOAD_SIZE:
      case MOSQ_ERR_MALFORMED_UTF8:
      case MOSQ_ERR_OVERSIZE_PACKET:
      case MOSQ_ERR_QOS_NOT_SUPPORTED:
      case MOSQ_ERR_NOT_SUPPORTED: return true;
      default: return false;
    }
  }

  size_t unpublished_in_current() const { return have_current ? current.lines() - at.line : 0; }
};

MqttSink::MqttSink(MqttOptions opts)
    : OffThreadSink(fmt::format("mqtt{}://{}:{}", opts.tls ? "s" : "", opts.host, opts.port),
                    opts.cursor_path.empty() ? opts.max_queue : opts.follow_queue, "the broker"),
      opts_(std::move(opts)),
      own_client_(std::make_unique<Client>(*this)) {
  static const int init = mosquitto_lib_init();  // once per process; thread-safe static
  if (init != MOSQ_ERR_SUCCESS) throw std::runtime_error("cannot initialise libmosquitto: " + std::string(mosquitto_strerror(init)));
  // The client is made and configured here, before the thread starts (which then owns it), so
  // that options libmosquitto refuses (a TLS file it cannot read) end the command at once.
  Client& c = *own_client_;
  c.mosq = mosquitto_new(nullptr, true, &c);  // clean session, random client id
  if (!c.mosq) throw std::runtime_error(fmt::format("{}: cannot create an MQTT client: {}", name(), std::strerror(errno)));
  auto refuse = [&](const std::string& why) {
    mosquitto_destroy(c.mosq);
    c.mosq = nullptr;
    throw std::runtime_error(fmt::format("{}: {}", name(), why));
  };
  if (!opts_.username.empty())
    mosquitto_username_pw_set(c.mosq, opts_.username.c_str(), opts_.password.empty() ? nullptr : opts_.password.c_str());
  mosquitto_max_inflight_messages_set(c.mosq, opts_.window);
  mosquitto_connect_callback_set(c.mosq, [](mosquitto*, void* p, int rc) { static_cast<Client*>(p)->on_connect(rc); });
  mosquitto_disconnect_callback_set(c.mosq, [](mosquitto*, void* p, int rc) { static_cast<Client*>(p)->on_disconnect(rc); });
  mosquitto_publish_callback_set(c.mosq, [](mosquitto*, void* p, int mid) { static_cast<Client*>(p)->on_publish(mid); });
  // libmosquitto formats a debug line for every packet sent or received (malloc, vsnprintf,
  // free: two a reading) whenever a log callback is set; ours only keeps the reason of a failed
  // TLS handshake, so plain TCP sets none.
  if (opts_.tls)
    mosquitto_log_callback_set(c.mosq, [](mosquitto*, void* p, int level, const char* text) { static_cast<Client*>(p)->on_log(level, text); });
  if (opts_.tls) {
    auto opt = [](const std::string& v) { return v.empty() ? nullptr : v.c_str(); };
    // No password callback: an encrypted key is refused (libmosquitto would prompt on the terminal).
    // No --mqtt-ca: the system's CAs (Debian's hashed /etc/ssl/certs).
    int rc = mosquitto_tls_set(c.mosq, opt(opts_.ca), opts_.ca.empty() ? "/etc/ssl/certs" : nullptr, opt(opts_.cert), opt(opts_.key),
                               [](char*, int, int, void*) { return 0; });
    if (rc != MOSQ_ERR_SUCCESS)
      refuse(fmt::format("cannot use the TLS files (--mqtt-ca {}{}{}): {}", opts_.ca.empty() ? "-" : opts_.ca,
                         opts_.cert.empty() ? "" : ", --mqtt-cert " + opts_.cert, opts_.key.empty() ? "" : ", --mqtt-key " + opts_.key,
                         rc == MOSQ_ERR_INVAL ? "a file is missing or unreadable, or a certificate without its key"
                                              : mosquitto_strerror(rc)));
    // Verify the broker's certificate (and its name); the protocol floor is libmosquitto's, TLS 1.2.
    rc = mosquitto_tls_opts_set(c.mosq, 1, nullptr, nullptr);
    if (rc != MOSQ_ERR_SUCCESS) refuse(fmt::format("cannot set the TLS options: {}", mosquitto_strerror(rc)));
  }
  auto& reg = metrics::registry();
  auto stat = [this](uint64_t Stats::*field) {
    return [this, field] { return static_cast<double>(stats().*field); };
  };
  probes_.push_back(reg.probe(metrics::Type::counter, "concur_mqtt_published_total",
                              "Readings the MQTT broker acknowledged (PUBACK).", {}, stat(&Stats::published)));
  probes_.push_back(reg.probe(metrics::Type::counter, "concur_mqtt_dropped_total",
                              "Readings dropped, oldest first, from the queue while the broker was unreachable.", {},
                              stat(&Stats::dropped)));
  start();
}

MqttSink::~MqttSink() {
  if (running()) close(Millis(0));
}


void MqttSink::on_wake() {
  if (client_) client_->after_event();
}

MqttSink::Stats MqttSink::stats() const {
  OffThreadSink::Stats st = OffThreadSink::stats();
  return Stats{st.queued, st.delivered, st.dropped, st.unsent, cursor_.load(std::memory_order_relaxed)};
}

std::optional<LogPosition> MqttSink::stored_position() {
  if (opts_.cursor_path.empty()) return std::nullopt;
  FileDesc fd(::open(opts_.cursor_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno != ENOENT)
      errf("concur: {}: cannot read its cursor file {}: {}; not trusted", name(), opts_.cursor_path, std::strerror(errno));
    return std::nullopt;  // ENOENT: new to data.txt (resume_from says so)
  }
  std::string text;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > 64 * 1024) break;  // ours are ~150 bytes
  }
  std::string why;
  auto pos = parse_mqtt_cursor(text, &why);
  if (!pos) {
    errf("concur: {}: its cursor file {} is not a cursor ({}): not trusted", name(), opts_.cursor_path, why);
    return std::nullopt;
  }
  MutexLock lock(durable_mu_);
  durable_ = pos;
  return pos;
}

std::optional<LogPosition> MqttSink::durable_position() const {
  if (!follows_log()) return std::nullopt;
  MutexLock lock(durable_mu_);
  return durable_ ? *durable_ : LogPosition{};  // none yet: nothing since it started is durable
}

void MqttSink::run_thread() {
  Client& c = *own_client_;  // c.mosq made by the constructor
  client_ = &c;
  c.link.poll(SteadyClock::now());  // the first attempt is due at once
  c.tick();  // also the first after_event(): watches the socket being connected
  loop_.run();  // until after_event() sees close() done (or its drain time over)
  client_ = nullptr;
  if (c.watched >= 0) loop_.unwatch(c.watched);  // libmosquitto closes it below
  c.closing = true;
  if (mosquitto_socket(c.mosq) >= 0) {
    mosquitto_disconnect(c.mosq);
    mosquitto_loop_write(c.mosq, 1);
  }
  finish(c.unpublished_in_current() + c.inflight);
  c.write_cursor();  // the last acknowledged lines: the next start resumes after them
  mosquitto_destroy(c.mosq);
  c.mosq = nullptr;
}

}  // namespace concur::iot
