// The bridge's frame: construction, the check at start, its thread and tick, the calls other
// threads make, shutdown. The link is in redis_link.cpp, IDs in redis_lease.cpp, messages in
// redis_pubsub.cpp.
#include "redis/redis_bridge.hpp"

#include <fmt/format.h>
#include <hiredis/hiredis.h>

#include <charconv>
#include <stdexcept>

#include "core/log.hpp"
#include "redis/bridge_outlet.hpp"
#include "redis/redis_metrics.hpp"
#include "redis/reply_text.hpp"
#include "redis/sentinel.hpp"
#include "core/stop.hpp"

namespace concur::redis {

std::optional<std::pair<std::string, int>> parse_host_port(std::string_view text) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  std::string_view host = text.substr(0, colon), port_text = text.substr(colon + 1);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return std::nullopt;
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return std::nullopt;  // an IPv6 address needs brackets
  }
  int port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() || port < 1 ||
      port > 65535)
    return std::nullopt;
  for (char c : host)
    if (c <= ' ' || c == 0x7f) return std::nullopt;
  return std::make_pair(std::string(host), port);
}

namespace {

std::string host_port_text(const std::string& host, int port) {
  return host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port);
}

link::LinkSettings redis_link_settings(const RedisSettings& s) {
  link::LinkSettings l;
  l.ready_name = "redis";
  l.ready_initially = "not connected to Redis yet";
  l.backoff_initial = Millis(500);
  l.backoff_cap = Millis(5000);
  l.jitter = 0.5;
  l.connect_timeout = s.reply_timeout;  // both connections answered (PING, SUBSCRIBE) within it
  l.reply_timeout = s.reply_timeout;
  return l;
}

}  // namespace

RedisBridge::RedisBridge(RedisSettings settings, chat::ChatRoom& room)
    : s_(std::move(settings)),
      room_(room),
      instance_(random_instance_id()),
      instance_hex_(instance_hex(instance_)),
      channel_("concur:" + s_.room + ":chat"),
      keys_(s_.room, instance_hex_),
      history_arg_(std::to_string(s_.history)),
      where_(!s_.sentinels.empty() ? fmt::format("master {} (sentinels)", s_.master) : host_port_text(s_.host, s_.port)),
      outlet_(std::make_shared<Outlet>(*this)),
      queue_(s_.max_pending, s_.max_hold),
      host_(s_.host),
      port_(s_.port),
      link_(redis_link_settings(s_), *this) {
  if (s_.tls.on) tunnel_ = std::make_unique<TlsTunnel>(s_.tls);
}

RedisBridge::~RedisBridge() { stop(); }

// ---- start and stop ----------------------------------------------------------------------------

std::string RedisBridge::at() const { return host_port_text(host_, port_); }

void RedisBridge::check_at_start() {
  if (!s_.sentinels.empty()) {
    auto master = ask_sentinels(s_.sentinels, s_.master, s_.connect_timeout / 3, start_problem_, via_tunnel());
    if (!master) return;
    host_ = master->first;
    port_ = master->second;
  }
  timeval tv{static_cast<time_t>(s_.connect_timeout.count() / 1000),
             static_cast<suseconds_t>((s_.connect_timeout.count() % 1000) * 1000)};
  redisContext* c = tunnel_ ? redisConnectUnixWithTimeout(tunnel_->path_for(host_, port_).c_str(), tv)
                            : redisConnectWithTimeout(host_.c_str(), port_, tv);
  std::unique_ptr<redisContext, void (*)(redisContext*)> guard(c, redisFree);
  if (!c || c->err) {
    start_problem_ = c ? c->errstr : "out of memory";
    return;
  }
  redisSetTimeout(c, tv);
  if (tunnel_) {  // the Unix socket accepts at once; the TLS connection behind it may have failed
    const char* ping[] = {"PING"};
    size_t len[] = {4};
    auto* r = static_cast<redisReply*>(redisCommandArgv(c, 1, ping, len));
    if (r) freeReplyObject(r);
    std::string why = tunnel_->failure();
    if (!r || !why.empty()) {
      start_problem_ = !why.empty() ? why : (c->errstr[0] ? c->errstr : "no reply");
      return;
    }
  }
  auto ask = [&](std::vector<std::string> args) -> std::optional<std::string> {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    auto* r = static_cast<redisReply*>(redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()));
    if (!r) {
      start_problem_ = c->errstr[0] ? c->errstr : "no reply";
      return std::nullopt;
    }
    std::unique_ptr<redisReply, void (*)(void*)> rg(r, freeReplyObject);
    if (r->type == REDIS_REPLY_ERROR) return reply_text(r);
    return std::string();
  };
  if (!s_.password.empty()) {
    auto err = ask({"AUTH", s_.password});
    if (!err) return;
    if (!err->empty()) throw std::runtime_error(fmt::format("redis {} refused the password: {}", where_, *err));
  }
  auto err = ask({"PING"});
  if (!err) return;
  if (!err->empty()) throw std::runtime_error(fmt::format("redis {}: {}", where_, *err));
  start_checked_ok_ = true;
}

void RedisBridge::start() {
  room_.federate(outlet_, this);
  if (tunnel_) tunnel_->speak();
  if (start_checked_ok_) {
    // Joins wait for the first connection (at most reply_timeout) instead of being provisional.
    link_state_.store(static_cast<int>(Link::connecting), std::memory_order_release);
  } else {
    outf("redis: cannot reach {} ({}); serving local members, retrying", where_, start_problem_);
    redis_series().outages.add();
    link_.outage_known(start_problem_);  // before the thread: it is the thread's from here on
  }
  StopSignalsBlocked quiet;  // the bridge never takes the command's stop signals
  thread_ = std::thread([this] { run(); });
}

void RedisBridge::stop() {
  if (!thread_.joinable()) return;
  stopping_.store(true);
  loop_.queue_in_loop([this] { begin_shutdown(); });
  thread_.join();
}

// ---- any thread ----------------------------------------------------------------------------------

void RedisBridge::wake() {
  // One task per burst: members' messages arriving while work() is pending ride along.
  if (woken_.exchange(true, std::memory_order_acq_rel)) return;
  loop_.queue_in_loop([this] { work(); });
}

// ---- the bridge thread ---------------------------------------------------------------------------

void RedisBridge::publish_link(Link l) {
  link_state_.store(static_cast<int>(l), std::memory_order_release);
  redis_series().link_up.set(l == Link::up ? 1 : 0);
}

void RedisBridge::run() {
  tick();
  loop_.run();
  // Stopped: what is left is freed here, on the loop's thread (pending callbacks run with NULL).
  cmd_.free();
  sub_.free();
}

void RedisBridge::work() {
  woken_.store(false, std::memory_order_release);
  drain_inbox();
  send_publications(Clock::now());
}

void RedisBridge::tick() {
  auto now = Clock::now();
  if (!fail_why_.empty()) teardown(now);
  // Once stop() was asked for, no new attempt starts (begin_shutdown is on its way).
  bool attempt_barred = stopping_.load() && link_.state() == link::LinkState::down;
  if (!shutting_down_ && !attempt_barred) {
    link_.poll(now);  // an attempt when due, the connect timeout, the health check
    if (link_.up()) {
      keep_alive(now);
      renew_due(now);
      check_position(now);
    }
  }
  if (!fail_why_.empty()) teardown(now);
  drain_inbox();
  send_publications(now);
  loop_.run_after(Millis(50), [this] { tick(); });
}

// Gives up the IDs still held and lets Redis take the last commands (at most 300 ms), then quits.
void RedisBridge::begin_shutdown() {
  shutting_down_ = true;
  drain_inbox();
  link_.stop();  // up: draining (the last releases and publications go out); else stopped
  if (link_.can_send()) {
    for (const auto& [key, lease] : leases_) send_release(key);
    send_publications(Clock::now());
  }
  leases_.clear();
  if (!link_.can_send() || link_.outstanding() == 0) {
    loop_.quit();
    return;
  }
  loop_.run_after(Millis(300), [this] { loop_.quit(); });
}

}  // namespace concur::redis
