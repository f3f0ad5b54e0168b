#pragma once
// Federation of one chat room over Redis (SPEC §4 "Chat rooms over Redis"): every chat-server
// started with the same --redis and --room behaves as one room.
//
// - Messages: the bridge is a member of the local room (ChatRoom::federate). What local members
//   say reaches it through deliver() and is published on the room's channel `concur:<room>:chat`
//   in an envelope (envelope.hpp); what other instances publish is checked, filtered (own
//   publications, duplicates, garbage) and broadcast into the local room from the bridge's thread.
//   (redis_pubsub.cpp)
// - IDs: a lease per ID, `concur:<room>:id:<folded ID>` = "<instance> <ID>", set for 15 s by an
//   atomic claim-or-renew script and renewed every 5 s; given up (compare-and-delete) when the
//   member leaves. A killed instance stops renewing, so its IDs are free within 15 s.
//   (redis_lease.cpp)
// - Nothing blocks on Redis: publications and ID requests are queued (bounded) for the bridge's own
//   thread, an EventLoop that drives two hiredis async connections (commands, subscription)
//   through hiredis_loop.hpp.
//   The link's life — connect, back-off, health, drain — is a link::BrokerLink (shared with the
//   MQTT sink); the bridge is its LinkProtocol (redis_link.cpp). A lost or stalled Redis (no reply
//   within 1.5 s) is logged once and retried with back-off; on reconnect the bridge subscribes
//   again, re-claims its members' IDs and sends what was queued meanwhile (receivers drop what
//   they already had).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/duration.hpp"
#include "link/broker_link.hpp"
#include "loop/event_loop.hpp"
#include "redis/envelope.hpp"
#include "redis/hiredis_loop.hpp"
#include "redis/publish_queue.hpp"
#include "redis/room_cursor.hpp"
#include "redis/room_script.hpp"
#include "redis/sentinel.hpp"
#include "redis/tls_tunnel.hpp"
#include "services/chat_room.hpp"

namespace concur::redis {

struct RedisSettings {
  std::string host;
  int port = 6379;
  std::string room = "lobby";
  std::string password;           // from REDISCLI_AUTH; empty: no AUTH
  size_t max_pending = 1 << 20;   // bytes of publications waiting for Redis (--max-queue)
  Millis lease{15000};            // an ID's lease in Redis
  Millis renew{5000};             // how often held leases are renewed
  Millis reply_timeout{1500};     // no reply for this long: the link is considered lost
  Millis ping_every{500};         // keeps a reply due, so a stalled Redis is noticed
  Millis max_hold{30000};         // publications older than this are not sent after an outage
  Millis connect_timeout{1000};   // the check at start
  // The room's log (issue 20, room_script.hpp): about this many entries kept in Redis; 0 = none
  // (plain pub/sub: nothing recovered after a cut-off).
  size_t history = 1000;
  Millis check_every{1000};       // the position check that finds a silently wedged subscription
  size_t read_count = 256;        // entries per XRANGE page while recovering
  // --redis-sentinel: the master is found through these (sentinel.hpp) instead of host:port.
  std::vector<std::pair<std::string, int>> sentinels;
  std::string master = "mymaster";
  ClientTlsOptions tls;  // --redis-tls (tls_tunnel.hpp)
};

// 1, 10, 100, …: the counts at which a repeated event is logged again.
bool power_of_ten(uint64_t n);

// "HOST:PORT" ("[v6]:PORT" too) → host, port; nullopt when malformed.
std::optional<std::pair<std::string, int>> parse_host_port(std::string_view text);

class RedisBridge final : public chat::RemoteIds, private link::LinkProtocol {
 public:
  RedisBridge(RedisSettings settings, chat::ChatRoom& room);
  ~RedisBridge() override;
  RedisBridge(const RedisBridge&) = delete;
  RedisBridge& operator=(const RedisBridge&) = delete;

  // Before serving, blocking at most connect_timeout: throws std::runtime_error carrying Redis's
  // message when it refuses the password (exit 1). An unreachable Redis is not an error: start()
  // logs it and keeps retrying.
  void check_at_start();
  // Joins the room as its bridge member and starts the bridge thread. Call after the listening line.
  void start();
  // Gives up the IDs still held (best effort, briefly), stops the thread. No callback runs after.
  void stop();

  std::optional<Claim> claim(std::string_view id, Done done) override;
  void release(std::string_view id) override;

  // Counters (any thread), for tests and the logs.
  uint64_t garbage() const { return garbage_.load(); }
  uint64_t instance() const { return instance_; }

 private:
  class Outlet;
  friend class Outlet;
  struct Request {
    bool release;
    std::string id;
    Done done;  // a claim waiting for its answer; null when it was answered at once
  };
  struct Lease {
    std::string id;  // as spelled by its member
    uint64_t token;  // tells a reply about this lease from one about an earlier lease of the same key
  };
  // What claim() on other threads needs of the link: joins wait for the first connection only.
  enum class Link { down, connecting, up };
  using Clock = std::chrono::steady_clock;

  void publish(std::string_view text);  // from Outlet::deliver, any thread
  void wake();                          // schedules one work() on the loop (coalesced)

  // ---- the bridge thread ----
  void run();
  void work();                     // the inbox, then the publications
  void tick();                     // every 50 ms: the link's poll, pings, renewals
  void begin_shutdown();
  void publish_link(Link l);       // link_state_ and the link_up gauge

  // The link (redis_link.cpp): LinkProtocol, and the two hiredis connections under it.
  void open() override;
  void on_down(const link::LinkDown& d) override;
  void on_up(const link::LinkUp& u) override;
  std::string down_reason(const std::string& why) const override;
  std::string stalled_reason(Millis silent) const override;
  void keep_alive(Clock::time_point now);  // a PING when nothing is due
  void fail(std::string why);          // schedules teardown (safe inside hiredis callbacks)
  void teardown(Clock::time_point now);
  void got_reply(Clock::time_point now);
  void command(redisCallbackFn* fn, void* privdata, int argc, const char** argv, const size_t* lens);
  static void on_connect_cb(const redisAsyncContext* ac, int status);
  static void on_disconnect_cb(const redisAsyncContext* ac, int status);
  static void on_auth_reply(redisAsyncContext* ac, void* reply, void* privdata);
  static void on_sub_auth_reply(redisAsyncContext* ac, void* reply, void* privdata);
  static void on_ping_reply(redisAsyncContext* ac, void* reply, void* privdata);
  static void on_role_reply(redisAsyncContext* ac, void* reply, void* privdata);
  bool find_master();      // --redis-sentinel: host_ and port_ from the sentinels; false: fail()ed
  SentinelPath via_tunnel();  // --redis-tls: how a sentinel is reached through the tunnel; else none
  std::string at() const;  // "host:port" of the Redis in use, for log lines

  // IDs (redis_lease.cpp).
  void drain_inbox();
  void renew_due(Clock::time_point now);
  void reclaim_all();              // after a (re)connect
  void send_claim(const std::string& key, const Lease& lease, Done done);
  void send_release(const std::string& key);
  static void on_claim_reply(redisAsyncContext* ac, void* reply, void* privdata);
  static void on_plain_reply(redisAsyncContext* ac, void* reply, void* privdata);

  // Messages (redis_pubsub.cpp).
  void send_publications(Clock::time_point now);
  void on_message(std::string_view payload);
  void deliver_remote(const Envelope& env, bool recovered);
  void log_garbage(std::string_view where);
  static void on_publish_reply(redisAsyncContext* ac, void* reply, void* privdata);
  static void on_sub_reply(redisAsyncContext* ac, void* reply, void* privdata);
  static void on_script_reply(redisAsyncContext* ac, void* reply, void* privdata);

  // Recovery from the room's log (redis_recover.cpp, room_cursor.hpp).
  bool history() const { return s_.history > 0; }
  void send_sub_position();              // on the subscription, before SUBSCRIBE
  void check_position(Clock::time_point now);  // every check_every while up
  void request_check();                  // now (a live message of another epoch)
  void apply(const RoomCursor::Verdict& v);
  void read_page();
  void on_page(const redisReply* r);
  void tell_gap(uint64_t lost, bool epoch_changed);
  void rotate_epoch();
  static void on_rotate_reply(redisAsyncContext* ac, void* reply, void* privdata);
  static void on_sub_position_reply(redisAsyncContext* ac, void* reply, void* privdata);
  static void on_check_reply(redisAsyncContext* ac, void* reply, void* privdata);
  static void on_read_reply(redisAsyncContext* ac, void* reply, void* privdata);

  const RedisSettings s_;
  std::unique_ptr<TlsTunnel> tunnel_;  // --redis-tls: hiredis connects to it
  chat::ChatRoom& room_;
  const uint64_t instance_;
  const std::string instance_hex_;
  const std::string channel_;
  const RoomKeys keys_;
  const std::string history_arg_;  // MAXLEN for the script
  const std::string where_;  // "host:port", for log lines
  std::shared_ptr<Outlet> outlet_;

  // Shared with other threads, under mu_.
  std::mutex mu_;
  PublishQueue queue_;
  uint64_t next_seq_ = 1;
  bool dropping_ = false;      // a publish-buffer overflow episode is going on
  size_t dropped_logged_ = 0;  // queue_.dropped() when the episode started
  std::vector<Request> inbox_;  // claims and releases, in the order members joined and left
  std::atomic<int> link_state_{0};  // Link, for claim() on other threads
  std::atomic<bool> woken_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> garbage_{0};
  EventLoop loop_{EventLoop::Backend::poll};
  std::thread thread_;
  std::string start_problem_;  // check_at_start: why Redis was unreachable
  bool start_checked_ok_ = false;

  // The bridge thread only (and check_at_start, before the thread).
  std::string host_;  // the Redis connected to: --redis, or the master the sentinels named
  int port_ = 0;
  HiredisSlot cmd_, sub_;
  // down → connecting → up → draining; back-off, health, /readyz ("redis"). Made in the
  // constructor: it needs settings and *this as its protocol.
  link::BrokerLink link_;
  bool cmd_ready_ = false, sub_ready_ = false;
  std::string fail_why_;  // non-empty: teardown pending
  bool shutting_down_ = false;
  Clock::time_point next_ping_{}, next_renew_{};
  std::unordered_map<std::string, Lease> leases_;  // folded ID -> lease of a local member
  std::vector<std::string> unreleased_;            // folded IDs given up while the link was down
  std::vector<std::pair<std::string, Done>> waiting_;  // claims made while connecting
  size_t expired_logged_ = 0;
  uint64_t next_token_ = 1;
  SeenSeqs seen_;
  RoomCursor cursor_;
  std::deque<uint64_t> reads_;  // the read generation of each XRANGE in flight, in order
  bool check_in_flight_ = false;
  bool rotating_ = false;
  uint64_t rotated_from_ = 0;          // the offset delivered when the rotation was asked for
  RoomCursor::Asked check_asked_;      // the cursor when the check in flight was sent
  Clock::time_point next_check_{};
  bool bad_position_logged_ = false;
  uint64_t refused_ = 0;  // publications Redis refused
  uint64_t caught_up_ = 0;  // entries the read going on delivered
};

}  // namespace concur::redis
