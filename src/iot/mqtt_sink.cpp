#include "iot/mqtt_sink.hpp"

#include <mosquitto.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

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
  t.append(prefix).push_back('/');
  for (char c : device) t.push_back(c == '+' || c == '#' || c == '/' ? '_' : c);
  return t;
}

std::string mqtt_payload(std::string_view reading, double unix_time) {
  auto r = parse_reading(reading);
  return r ? mqtt_payload(*r, unix_time) : std::string();
}

std::string mqtt_payload(const ParsedReading& reading, double unix_time) {
  const ParsedReading* r = &reading;
  std::string p = fmt::format("{{\"time\": {:.3f}, \"device\": \"", unix_time);
  for (char c : r->name) {  // printable ASCII (valid_device_name): only these two need escaping
    if (c == '"' || c == '\\') p.push_back('\\');
    p.push_back(c);
  }
  p.push_back('"');
  for (const Field& f : r->fields) fmt::format_to(std::back_inserter(p), ", \"{}\": {}", f.key, f.value);
  p.push_back('}');
  return p;
}

namespace {

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
  ParsedReading reading;  // the one at `at` (its fields' storage reused)
  uint64_t dropped_at_outage = 0;
  bool closing = false;  // our own DISCONNECT: not an outage
  LogLimiter bad_publish{3, std::chrono::seconds(10)};

  const std::string& label() const { return sink.name(); }

  // ---- LinkProtocol ----
  void open() override {
    int rc = mosquitto_connect_async(mosq, sink.opts_.host.c_str(), sink.opts_.port, sink.opts_.keepalive_s);
    if (rc != MOSQ_ERR_SUCCESS) link.lost(SteadyClock::now(), "cannot connect (" + describe(rc) + ")");
  }

  void on_down(const link::LinkDown& d) override {
    if (!d.first_of_outage) return;
    errf("concur: {}: {}; readings are queued (up to {} of them) and the broker retried in {:.1f} s (backoff up to {:.0f} s)",
         label(), d.why, thousands(sink.opts_.max_queue), seconds_of(d.retry_in), seconds_of(sink.opts_.backoff_cap));
    dropped_at_outage = sink.dropped();
  }

  void on_up(const link::LinkUp& u) override {
    uint64_t dropped = sink.dropped() - dropped_at_outage;
    sink.overflow_said_again();
    if (u.first) errf("concur: {}: connected; publishing with QoS 1", label());
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
    bool out = sock >= 0 && mosquitto_want_write(mosq);
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
    if (r.in || r.err) mosquitto_loop_read(mosq, 1);
    if (mosquitto_socket(mosq) >= 0 && mosquitto_want_write(mosq)) mosquitto_loop_write(mosq, 1);
    after_event();
  }

  // Keepalive PINGREQ and its timeout, once a second.
  void tick() {
    if (mosquitto_socket(mosq) >= 0) mosquitto_loop_misc(mosq);
    after_event();
    loop.run_after(std::chrono::seconds(1), [this] { tick(); });
  }

  static std::string describe(int rc) {
    if (rc == MOSQ_ERR_ERRNO) return std::strerror(errno);
    if (rc == MOSQ_ERR_EAI) return "cannot resolve the host name";
    return mosquitto_strerror(rc);
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

  void on_publish() {
    if (inflight) --inflight;
    sink.count_delivered();
  }

  // Hands queued readings to libmosquitto while fewer than `window` await their PUBACK.
  void pump() {
    while (link.can_send() && inflight < sink.opts_.window) {
      double time = 0;
      if (!current.next(at, reading, time)) {  // parsed by the collector, skipped if not valid
        if (!sink.take(current)) return;
        at = {};
        continue;
      }
      std::string payload = mqtt_payload(reading, time);
      std::string topic = mqtt_topic(sink.opts_.topic_prefix, reading.name);
      int rc = mosquitto_publish(mosq, nullptr, topic.c_str(), static_cast<int>(payload.size()), payload.data(), 1, false);
      if (!refused_before_queueing(rc)) {
        // A QoS 1 message is in libmosquitto's queue from here on, even when its first send failed
        // (EPIPE: the broker just went away): it is sent again after the reconnect and acknowledged
        // then, so it counts as in flight.
        ++inflight;
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

  size_t unpublished_in_current() const { return current.lines() - at.line; }
};

MqttSink::MqttSink(MqttOptions opts)
    : OffThreadSink(fmt::format("mqtt://{}:{}", opts.host, opts.port), opts.max_queue, "the broker"),
      opts_(std::move(opts)),
      own_client_(std::make_unique<Client>(*this)) {
  static const int init = mosquitto_lib_init();  // once per process; thread-safe static
  if (init != MOSQ_ERR_SUCCESS) throw std::runtime_error("cannot initialise libmosquitto: " + std::string(mosquitto_strerror(init)));
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
  return Stats{st.queued, st.delivered, st.dropped, st.unsent};
}

void MqttSink::run_thread() {
  Client& c = *own_client_;
  c.mosq = mosquitto_new(nullptr, true, &c);  // clean session, random client id
  if (!c.mosq) {
    errf("concur: {}: cannot create an MQTT client: {}", name(), std::strerror(errno));
    finish(0);
    return;
  }
  if (!opts_.username.empty())
    mosquitto_username_pw_set(c.mosq, opts_.username.c_str(), opts_.password.empty() ? nullptr : opts_.password.c_str());
  mosquitto_max_inflight_messages_set(c.mosq, opts_.window);
  mosquitto_connect_callback_set(c.mosq, [](mosquitto*, void* p, int rc) { static_cast<Client*>(p)->on_connect(rc); });
  mosquitto_disconnect_callback_set(c.mosq, [](mosquitto*, void* p, int rc) { static_cast<Client*>(p)->on_disconnect(rc); });
  mosquitto_publish_callback_set(c.mosq, [](mosquitto*, void* p, int) { static_cast<Client*>(p)->on_publish(); });

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
  mosquitto_destroy(c.mosq);
  c.mosq = nullptr;
}

}  // namespace concur::iot
