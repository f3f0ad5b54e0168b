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
// data.txt as the log (issue 21), with a `cursor_path`: the sink follows data.txt
// (ReadingSink::follows_log). The collector hands it lines of data.txt with their end offset
// (write_at); they wait in a queue of at most `follow_queue` readings — full, the collector stops
// offering and, once the sink has room again, reads data.txt from where the sink is (so a broker
// that is down for an hour costs no memory and loses nothing). The cursor file holds the offset
// just past the last line of data.txt whose every reading the broker acknowledged (PUBACK), in
// order: a batch's end counts once it and every batch before it are acknowledged. It is written
// atomically (a temporary file, fsync, rename) at most once a second while it moves, and when the
// thread ends; the directory is not fsynced (a rename lost to a power cut only makes the next start
// publish again from the older cursor). At start the collector resumes from it (resume_from: a
// cursor of another data.txt, not at a line start, or not a cursor file at all is logged and not
// trusted). At least once: what was published after the last cursor write is published again
// after a kill -9 — with the same `time` (the second of its data.txt stamp) and device, so a
// consumer that keeps the last (device, time) per device drops the repeat.
//
// Without a cursor (--out is not a regular file: a pipe, /dev/stdout), readings wait in the
// queue of the shared off-thread machinery (offthread_sink.hpp) of at most `max_queue` readings —
// past that the OLDEST are dropped (fresh readings are worth more to a dashboard), counted and
// logged. Either way at most `window` published readings wait for their PUBACK inside
// libmosquitto. QoS 1 is at-least-once: a reading in flight when the connection breaks is sent
// again after the reconnect, so a subscriber may see it twice then.
//
// TLS (`tls`): mosquitto_tls_set with `ca` (the broker's certificate must chain to it, and name
// the host), optionally a client `cert` and `key`; libmosquitto's default protocol floor, TLS 1.2.
// A failed handshake is one line with OpenSSL's reason and retried with the same back-off as a
// broker that is down.
//
// Thread contract: as OffThreadSink — write_batch/name/stats/close from the collector's thread.
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
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
  size_t max_queue = 100000;       // without a cursor: readings waiting; the oldest go first past this
  std::string cursor_path;         // the cursor file; empty: no cursor (the memory queue only)
  std::string log_path;            // data.txt, as the cursor file names it (informational)
  size_t follow_queue = 20000;     // with a cursor: readings taken from data.txt waiting for the broker
  bool tls = false;
  std::string ca, cert, key;       // PEM files; cert and key both or neither
  // Published readings awaiting PUBACK. libmosquitto (2.0) walks its whole list of
  // unacknowledged messages on every publish and every PUBACK (message__release_to_inflight), so
  // a larger window costs more per reading in a burst (1000: a third of the sink's CPU, 2,000
  // devices at 1 Hz); a smaller one more round trips and wake-ups (128: 15x the context
  // switches). 512 measured best (bench/results/mqtt_cost.md).
  unsigned window = 512;
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
// The same, appended to `out` (the sink reuses one buffer for every reading).
void append_mqtt_payload(std::string& out, const ParsedReading& reading, double unix_time);
void append_mqtt_topic(std::string& out, std::string_view prefix, std::string_view device);

class MqttSink final : public OffThreadSink {
 public:
  struct Stats {
    uint64_t queued = 0;     // readings given to the sink
    uint64_t published = 0;  // readings the broker acknowledged (PUBACK)
    uint64_t dropped = 0;    // oldest readings dropped from a full queue
    uint64_t unsent = 0;     // still queued or unacknowledged at close()
    uint64_t cursor = 0;     // with a cursor: the end of the acknowledged lines of data.txt
  };

  // Starts the thread, which connects at once (and keeps retrying). Throws std::runtime_error
  // when libmosquitto cannot be set up (or does not accept the TLS files).
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

  // close(drain) (OffThreadSink): gives what is queued up to `drain` to be delivered, disconnects,
  // writes the cursor file and joins the thread.
  Stats stats() const;

  // ---- following data.txt (a cursor_path) ----
  bool follows_log() const override { return !opts_.cursor_path.empty(); }
  // The cursor file's position; nullopt (said on stderr when the file exists) for a file that is
  // not one of ours.
  std::optional<LogPosition> stored_position() override;
  // The acknowledged cursor (the cursor file's, or what it is about to say); before the first
  // acknowledgement, the stored one; with neither, an empty position (nothing durable yet).
  std::optional<LogPosition> durable_position() const override;
  const std::string& cursor_path() const { return opts_.cursor_path; }

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
  std::atomic<uint64_t> cursor_{0};  // the acknowledged end (the sink's thread writes it)
  mutable Mutex durable_mu_;          // the acknowledged cursor, for the collector's rotation
  std::optional<LogPosition> durable_ CONCUR_GUARDED_BY(durable_mu_);
};

// The cursor file's text for `at` ("log", "file_id" and "offset" lines) and back; parse gives
// nullopt and `why` for text that is not a cursor file.
std::string mqtt_cursor_text(const LogPosition& at, std::string_view log_path);
std::optional<LogPosition> parse_mqtt_cursor(std::string_view text, std::string* why);

}  // namespace concur::iot
