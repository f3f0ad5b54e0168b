#pragma once
// `collect --mqtt HOST:PORT` (SPEC §4): every reading published with QoS 1 to
// `<prefix>/<device>` as JSON — {"time": <unix s>, "device": "<name>", "<field>": <number>, ...} —
// which Telegraf's mqtt_consumer (JSON parser) and Home Assistant's MQTT sensors read directly.
//
// Why a thread of its own (and not the collector's epoll loop): libmosquitto resolves host names
// and connects with blocking calls, and its documented external-loop mode needs the caller to
// track a socket that changes on every reconnect, want_write, and keepalive timing. Keeping all of
// that on one dedicated thread means a broker that is slow, down, or behind a slow DNS can never
// delay data.txt or the database, and the collector's loop has no MQTT plumbing in it. That thread
// runs an EventLoop (src/loop, poll backend: the broker's socket number changes on every
// reconnect, which poll() tracks for free) and drives libmosquitto from it —
// mosquitto_loop_read/write on readiness, mosquitto_loop_misc on a 1 s timer — rather than
// mosquitto_loop_start(), so that reconnects follow the broker link (link/broker_link.hpp, shared
// with the Redis bridge: back-off 0.5 s doubling to 5 s with jitter, the connect timeout, /readyz)
// on loop timers instead of libmosquitto's whole seconds, and so that the collector wakes
// it through the loop's mailbox the moment a batch is queued. Every libmosquitto call happens on
// that thread; the collector thread only touches the queue, under a mutex.
//
// Memory stays bounded when the broker is down or slow: readings wait in the queue of the shared
// off-thread machinery (offthread_sink.hpp) of at most `max_queue` readings — past that the OLDEST
// are dropped (fresh readings are worth more to a dashboard), counted and logged — and at most `window` published readings wait for their PUBACK
// inside libmosquitto. QoS 1 is at-least-once: a reading in flight when the connection breaks is
// sent again after the reconnect, so a subscriber may see it twice then.
//
// Thread contract: as OffThreadSink — write_batch/name/stats/close from the collector's thread.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "core/duration.hpp"
#include "iot/offthread_sink.hpp"
#include "loop/event_loop.hpp"
#include "metrics/registry.hpp"

namespace concur::iot {

struct MqttOptions {
  std::string host;
  int port = 1883;
  std::string topic_prefix = "concur";
  std::string username, password;  // from MQTT_USERNAME / MQTT_PASSWORD; empty: anonymous
  size_t max_queue = 100000;       // readings waiting for the broker; the oldest go first past this
  unsigned window = 1000;          // published readings awaiting PUBACK
  Millis backoff_initial{500}, backoff_cap{5000};
  Millis connect_timeout{5000};
  int keepalive_s = 30;
};

// "<prefix>/<device>"; '+', '#' and '/' in a device name (MQTT wildcards, levels) become '_'.
std::string mqtt_topic(std::string_view prefix, std::string_view device);
// The JSON payload of one valid reading line ("Device1: Temp=20, Humid=50, lilum=100").
std::string mqtt_payload(std::string_view reading, double unix_time);
struct ParsedReading;
std::string mqtt_payload(const ParsedReading& reading, double unix_time);

class MqttSink final : public OffThreadSink {
 public:
  struct Stats {
    uint64_t queued = 0;     // readings given to the sink
    uint64_t published = 0;  // readings the broker acknowledged (PUBACK)
    uint64_t dropped = 0;    // oldest readings dropped from a full queue
    uint64_t unsent = 0;     // still queued or unacknowledged at close()
  };

  // Starts the thread, which connects at once (and keeps retrying). Throws std::runtime_error
  // when libmosquitto cannot be set up.
  explicit MqttSink(MqttOptions opts);
  ~MqttSink() override;
  MqttSink(const MqttSink&) = delete;
  MqttSink& operator=(const MqttSink&) = delete;

  // write_batch / write_lines (OffThreadSink) queue the batch for publishing and return 0: the
  // broker's state never fails the collector.
  const char* kind() const override { return "mqtt"; }
  // Hand batches over at most every 50 ms: one queue lock and one wake-up of the thread per
  // interval instead of per loop pass (readings come at 1 Hz; 50 ms is not noticed downstream).
  std::chrono::milliseconds write_interval() const override { return std::chrono::milliseconds(50); }

  // close(drain) (OffThreadSink): gives what is queued up to `drain` to be delivered, disconnects
  // and joins the thread.
  Stats stats() const;

 private:
  struct Client;  // the libmosquitto side, owned by the thread
  void run_thread() override;
  void on_wake() override;

  MqttOptions opts_;
  Client* client_ = nullptr;                   // loop thread only: set while run() runs the loop
  // Made here, used by the thread only (client_ while it runs). Its link holds the /readyz check
  // "mqtt <name>", registered from construction. Probes read stats().
  std::unique_ptr<Client> own_client_;
  std::vector<metrics::Probe> probes_;
};

}  // namespace concur::iot
