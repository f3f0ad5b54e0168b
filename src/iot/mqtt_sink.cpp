#include "iot/mqtt_sink.hpp"

#include <mosquitto.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include "core/log.hpp"
#include "core/log_limiter.hpp"
#include "iot/backoff.hpp"
#include "iot/reading.hpp"

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

// Everything that touches libmosquitto; lives on the sink's thread only.
struct MqttSink::Client {
  enum class State { idle, connecting, connected };

  explicit Client(MqttSink& s)
      : sink(s),
        loop(s.loop_),
        backoff(s.opts_.backoff_initial, s.opts_.backoff_cap, 0.2, Backoff::seeded_uniform01()) {}

  MqttSink& sink;
  EventLoop& loop;
  mosquitto* mosq = nullptr;
  State state = State::idle;
  EventLoop::TimerId retry_timer = TimerQueue::kNoTimer, deadline_timer = TimerQueue::kNoTimer;
  EventLoop::TimerId drain_timer = TimerQueue::kNoTimer;
  int watched = -1;  // the broker socket the loop watches, and with which interest
  bool watched_out = false;
  Backoff backoff;
  bool ever_connected = false;
  bool down = false;     // an outage was logged; "connected again" ends it
  unsigned inflight = 0;  // published, PUBACK not yet received
  Batch current;          // the batch being published, taken whole from the queue
  size_t line = 0, offset = 0;
  uint64_t dropped_at_outage = 0;
  bool closing = false;  // our own DISCONNECT: not an outage
  LogLimiter bad_publish{3, std::chrono::seconds(10)};

  const std::string& label() const { return sink.name_; }

  void failed(const std::string& reason) {
    state = State::idle;
    cancel(deadline_timer);
    Millis delay = backoff.next();
    cancel(retry_timer);
    retry_timer = loop.run_after(delay, [this] {
      retry_timer = TimerQueue::kNoTimer;
      if (state == State::idle) start_connect();
      after_event();
    });
    sink.ready_.not_ready(reason);
    if (!down) {
      errf("concur: {}: {}; readings are queued (up to {} of them) and the broker retried in {:.1f} s (backoff up to {:.0f} s)",
           label(), reason, thousands(sink.opts_.max_queue), seconds_of(delay), seconds_of(sink.opts_.backoff_cap));
      std::lock_guard lock(sink.mu_);
      dropped_at_outage = sink.stats_.dropped;
    }
    down = true;
  }

  void start_connect() {
    int rc = mosquitto_connect_async(mosq, sink.opts_.host.c_str(), sink.opts_.port, sink.opts_.keepalive_s);
    if (rc != MOSQ_ERR_SUCCESS) return failed("cannot connect (" + describe(rc) + ")");
    state = State::connecting;
    cancel(deadline_timer);
    deadline_timer = loop.run_after(sink.opts_.connect_timeout, [this] {
      deadline_timer = TimerQueue::kNoTimer;
      if (state == State::connecting) failed("connect timed out");
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
    bool closing;
    SteadyClock::time_point drain_until;
    size_t waiting;
    {
      std::lock_guard lock(sink.mu_);
      closing = sink.closing_;
      drain_until = sink.drain_until_;
      waiting = sink.queued_lines_;
    }
    if (closing) {
      bool all_sent = waiting == 0 && unpublished_in_current() == 0 && inflight == 0;
      if (all_sent || state != State::connected || SteadyClock::now() >= drain_until) return loop.quit();
      if (drain_timer == TimerQueue::kNoTimer) drain_timer = loop.run_at(drain_until, [this] { after_event(); });
    }
    pump();
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
      down = false;  // let failed() log the retry once more
      return;
    }
    state = State::connected;
    sink.ready_.ready();
    cancel(deadline_timer);
    backoff.reset();
    uint64_t dropped;
    {
      std::lock_guard lock(sink.mu_);
      dropped = sink.stats_.dropped - dropped_at_outage;
      sink.drop_logged_ = false;
    }
    if (!ever_connected) errf("concur: {}: connected; publishing with QoS 1", label());
    else if (down)
      errf("concur: {}: connected again; publishing resumes{}", label(),
           dropped ? fmt::format(" ({} oldest readings were dropped while the broker was unreachable)", thousands(dropped))
                   : std::string());
    ever_connected = true;
    down = false;
  }

  void on_disconnect(int rc) {
    if (closing) return;
    bool was = state == State::connected;
    state = State::idle;
    std::string why = describe(rc);
    failed(was ? "connection to the broker lost (" + why + ")" : "cannot connect (" + why + ")");
  }

  void on_publish() {
    if (inflight) --inflight;
    std::lock_guard lock(sink.mu_);
    ++sink.stats_.published;
  }

  // Hands queued readings to libmosquitto while fewer than `window` await their PUBACK.
  void pump() {
    while (state == State::connected && inflight < sink.opts_.window) {
      if (line >= current.lines()) {
        std::lock_guard lock(sink.mu_);
        if (sink.queue_.empty()) return;
        current = std::move(sink.queue_.front());
        sink.queue_.pop_front();
        sink.queued_lines_ -= current.lines();
        line = offset = 0;
      }
      size_t nl = current.text.find('\n', offset);
      std::string_view text(current.text.data() + offset, nl - offset);
      std::string_view reading = text.substr(text.find(": ") + 2);  // after the asctime stamp
      auto parsed = parse_reading(reading);  // the collector passed only valid readings
      if (!parsed) {
        offset = nl + 1;
        ++line;
        continue;
      }
      std::string payload = mqtt_payload(*parsed, current.times[line]);
      std::string topic = mqtt_topic(sink.opts_.topic_prefix, parsed->name);
      int rc = mosquitto_publish(mosq, nullptr, topic.c_str(), static_cast<int>(payload.size()), payload.data(), 1, false);
      if (!refused_before_queueing(rc)) {
        // A QoS 1 message is in libmosquitto's queue from here on, even when its first send failed
        // (EPIPE: the broker just went away): it is sent again after the reconnect and acknowledged
        // then, so it counts as in flight.
        ++inflight;
        offset = nl + 1;
        ++line;
        if (rc != MOSQ_ERR_SUCCESS) return;  // the connection is broken: the loop notices and reconnects
        continue;
      } else {
        std::lock_guard lock(sink.mu_);
        ++sink.stats_.dropped;
        if (bad_publish.admit(SteadyClock::now()).log)
          errf("concur: {}: cannot publish to {}: {}; reading dropped", label(), topic, describe(rc));
      }
      offset = nl + 1;
      ++line;
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

  size_t unpublished_in_current() const { return current.lines() - line; }
};

MqttSink::MqttSink(MqttOptions opts)
    : opts_(std::move(opts)), name_(fmt::format("mqtt://{}:{}", opts_.host, opts_.port)) {
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
  loop_.set_wake_handler([](void* self, uint64_t) {
    auto& sink = *static_cast<MqttSink*>(self);
    sink.waker_.clear();  // before looking at the queue: a later batch wakes again
    if (sink.client_) sink.client_->after_event();
  }, this);
  waker_.bind(loop_.waker(), 0);
  thread_ = std::thread([this] { run(); });
}

MqttSink::~MqttSink() {
  if (thread_.joinable()) close(Millis(0));
}

void MqttSink::wake() { waker_.wake(); }  // one wake-up queued until the loop has run it

int MqttSink::write_batch(const Batch& batch) {
  if (batch.empty()) return 0;
  size_t dropped = 0;
  bool say = false;
  {
    std::lock_guard lock(mu_);
    stats_.queued += batch.lines();
    queue_.push_back(batch);
    queued_lines_ += batch.lines();
    while (queued_lines_ > opts_.max_queue && !queue_.empty()) {
      Batch& oldest = queue_.front();
      size_t excess = queued_lines_ - opts_.max_queue;
      if (excess >= oldest.lines()) {
        dropped += oldest.lines();
        queued_lines_ -= oldest.lines();
        queue_.pop_front();
      } else {  // drop part of the oldest batch: its first `excess` lines
        size_t before = oldest.lines();
        size_t cut = 0;
        for (size_t k = 0; k < excess; ++k) cut = oldest.text.find('\n', cut) + 1;
        oldest.drop_oldest(oldest.text.size() - cut);
        dropped += before - oldest.lines();
        queued_lines_ -= before - oldest.lines();
      }
    }
    stats_.dropped += dropped;
    if (dropped && !drop_logged_) say = drop_logged_ = true;
  }
  if (say)
    errf("concur: {}: {} readings wait for the broker: dropping the oldest from now on", name_, thousands(opts_.max_queue));
  wake();
  return 0;
}

int MqttSink::write_lines(std::string_view whole_lines) {
  return write_batch(Batch::stamped_now(whole_lines));
}

void MqttSink::close(Millis drain) {
  {
    std::lock_guard lock(mu_);
    closing_ = true;
    drain_until_ = SteadyClock::now() + drain;
  }
  loop_.queue_in_loop([this] {  // not coalesced with a pending wake(): this one must run
    if (client_) client_->after_event();
  });
  if (thread_.joinable()) thread_.join();
}

MqttSink::Stats MqttSink::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void MqttSink::run() {
  Client c(*this);
  c.mosq = mosquitto_new(nullptr, true, &c);  // clean session, random client id
  if (!c.mosq) {
    errf("concur: {}: cannot create an MQTT client: {}", name_, std::strerror(errno));
    std::lock_guard lock(mu_);
    stats_.unsent = queued_lines_;
    return;
  }
  if (!opts_.username.empty())
    mosquitto_username_pw_set(c.mosq, opts_.username.c_str(), opts_.password.empty() ? nullptr : opts_.password.c_str());
  mosquitto_max_inflight_messages_set(c.mosq, opts_.window);
  mosquitto_connect_callback_set(c.mosq, [](mosquitto*, void* p, int rc) { static_cast<Client*>(p)->on_connect(rc); });
  mosquitto_disconnect_callback_set(c.mosq, [](mosquitto*, void* p, int rc) { static_cast<Client*>(p)->on_disconnect(rc); });
  mosquitto_publish_callback_set(c.mosq, [](mosquitto*, void* p, int) { static_cast<Client*>(p)->on_publish(); });

  client_ = &c;
  c.start_connect();
  c.tick();  // also the first after_event(): watches the socket being connected
  loop_.run();  // until after_event() sees close() done (or its drain time over)
  client_ = nullptr;
  if (c.watched >= 0) loop_.unwatch(c.watched);  // libmosquitto closes it below
  c.closing = true;
  if (mosquitto_socket(c.mosq) >= 0) {
    mosquitto_disconnect(c.mosq);
    mosquitto_loop_write(c.mosq, 1);
  }
  {
    std::lock_guard lock(mu_);
    stats_.unsent = queued_lines_ + c.unpublished_in_current() + c.inflight;
  }
  mosquitto_destroy(c.mosq);
}

}  // namespace concur::iot
