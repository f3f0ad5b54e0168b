#include "redis/redis_bridge.hpp"

#include <fmt/format.h>
#include <hiredis/hiredis.h>

#include <charconv>
#include <stdexcept>

#include "core/error.hpp"
#include "core/log.hpp"
#include "redis/redis_metrics.hpp"
#include "services/chat_protocol.hpp"

namespace concur::redis {

namespace {

// Claim or renew: the lease is ours if free or already ours (value "<instance> <ID>"); returns 1,
// or the holder's spelling of the ID. Atomic in Redis, so of two racing claims exactly one wins.
constexpr std::string_view kClaimScript =
    "local v = redis.call('GET', KEYS[1]) "
    "if v == false or string.sub(v, 1, 16) == ARGV[1] then "
    "redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[2], 'PX', ARGV[3]) return 1 end "
    "return string.sub(v, 18)";
// Give up a lease only if it is still ours (it may have expired and gone to someone else).
constexpr std::string_view kReleaseScript =
    "local v = redis.call('GET', KEYS[1]) "
    "if v and string.sub(v, 1, 16) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

struct ClaimCtx {
  RedisBridge* bridge;
  std::string key;
  uint64_t token;
  chat::RemoteIds::Done done;  // null: a renewal or a re-claim after a reconnect
};

std::string reply_text(const redisReply* r) { return r && r->str ? std::string(r->str, r->len) : std::string(); }

}  // namespace

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

class RedisBridge::Outlet final : public chat::ChatMember {
 public:
  explicit Outlet(RedisBridge& b) : b_(b) {}
  bool deliver(const chat::ChatMessage& m) override {
    b_.publish(m.text());
    return true;
  }

 private:
  RedisBridge& b_;
};

RedisBridge::RedisBridge(RedisSettings settings, chat::ChatRoom& room)
    : s_(std::move(settings)),
      room_(room),
      instance_(random_instance_id()),
      instance_hex_(instance_hex(instance_)),
      channel_("concur:" + s_.room + ":chat"),
      where_(s_.host.find(':') != std::string::npos ? fmt::format("[{}]:{}", s_.host, s_.port)
                                                     : fmt::format("{}:{}", s_.host, s_.port)),
      outlet_(std::make_shared<Outlet>(*this)),
      queue_(s_.max_pending, s_.max_hold),
      backoff_(Millis(500), Millis(5000), 0.5, iot::Backoff::seeded_uniform01()) {}

RedisBridge::~RedisBridge() { stop(); }

// ---- start and stop ----------------------------------------------------------------------------

void RedisBridge::check_at_start() {
  timeval tv{static_cast<time_t>(s_.connect_timeout.count() / 1000),
             static_cast<suseconds_t>((s_.connect_timeout.count() % 1000) * 1000)};
  redisContext* c = redisConnectWithTimeout(s_.host.c_str(), s_.port, tv);
  std::unique_ptr<redisContext, void (*)(redisContext*)> guard(c, redisFree);
  if (!c || c->err) {
    start_problem_ = c ? c->errstr : "out of memory";
    return;
  }
  redisSetTimeout(c, tv);
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
  if (start_checked_ok_) {
    // Joins wait for the first connection (at most reply_timeout) instead of being provisional.
    link_state_.store(static_cast<int>(Link::connecting), std::memory_order_release);
  } else {
    outf("redis: cannot reach {} ({}); serving local members, retrying", where_, start_problem_);
    outage_logged_ = true;
    redis_series().outages.add();
    ready_.not_ready(fmt::format("no link to {} ({})", where_, start_problem_));
  }
  next_attempt_ = Clock::now();
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

void RedisBridge::publish(std::string_view text) {
  bool started_dropping = false;
  {
    std::lock_guard lock(mu_);
    std::string payload = encode_envelope(instance_, next_seq_, text);
    if (queue_.push(std::move(payload), Clock::now())) {
      ++next_seq_;
    } else {
      redis_series().publish_dropped.add();
      if (!dropping_) {
        dropping_ = started_dropping = true;
        dropped_logged_ = queue_.dropped() - 1;
      }
    }
  }
  if (started_dropping)
    outf("redis: publish buffer full ({} bytes waiting for {}): dropping messages until Redis takes them",
         s_.max_pending, where_);
  wake();
}

std::optional<chat::RemoteIds::Claim> RedisBridge::claim(std::string_view id, Done done) {
  // Link down: the ID is this server's provisionally (unique among its own members) and is claimed
  // in Redis on reconnect (docs/design.md "Chat rooms over Redis").
  bool at_once = link_state_.load(std::memory_order_acquire) == static_cast<int>(Link::down);
  {
    std::lock_guard lock(mu_);
    inbox_.push_back({false, std::string(id), at_once ? Done() : std::move(done)});
  }
  wake();
  if (at_once) return Claim{true, {}};
  return std::nullopt;
}

void RedisBridge::release(std::string_view id) {
  {
    std::lock_guard lock(mu_);
    inbox_.push_back({true, std::string(id), {}});
  }
  wake();
}

// ---- the bridge thread ---------------------------------------------------------------------------

void RedisBridge::set_link(Link l) {
  link_ = l;
  link_state_.store(static_cast<int>(l), std::memory_order_release);
  redis_series().link_up.set(l == Link::up ? 1 : 0);
  wedged_ = false;
  if (l == Link::up) ready_.ready();
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
  auto now = Clock::now();
  drain_inbox(now);
  send_publications(now);
}

void RedisBridge::tick() {
  auto now = Clock::now();
  if (!fail_why_.empty()) teardown(now);
  if (!shutting_down_) on_timer(now);
  if (!fail_why_.empty()) teardown(now);
  drain_inbox(now);
  send_publications(now);
  loop_.run_after(Millis(50), [this] { tick(); });
}

// Gives up the IDs still held and lets Redis take the last commands (at most 300 ms), then quits.
void RedisBridge::begin_shutdown() {
  shutting_down_ = true;
  drain_inbox(Clock::now());
  if (link_ == Link::up) {
    for (const auto& [key, lease] : leases_) send_release(key);
    send_publications(Clock::now());
  }
  leases_.clear();
  if (link_ != Link::up || outstanding_ == 0) {
    loop_.quit();
    return;
  }
  loop_.run_after(Millis(300), [this] { loop_.quit(); });
}

void RedisBridge::drain_inbox(Clock::time_point now) {
  std::vector<Request> inbox;
  {
    std::lock_guard lock(mu_);
    inbox.swap(inbox_);
  }
  for (Request& r : inbox) {
    std::string key = chat::fold_id(r.id);
    if (r.release) {
      leases_.erase(key);
      if (link_ == Link::up) send_release(key);
      else unreleased_.push_back(key);
      continue;
    }
    Lease& lease = leases_[key];
    lease = Lease{r.id, next_token_++};
    if (link_ == Link::up) send_claim(key, lease, std::move(r.done));
    else if (link_ == Link::connecting && first_attempt() && r.done) waiting_.emplace_back(key, std::move(r.done));
    else if (r.done) r.done(Claim{true, {}});  // the link went down meanwhile: provisional
  }
}

void RedisBridge::on_timer(Clock::time_point now) {
  if (link_ == Link::down) {
    if (now >= next_attempt_ && !stopping_.load()) attempt(now);
    return;
  }
  if (link_ == Link::connecting) {
    if (now - attempt_started_ > s_.reply_timeout)
      fail(fmt::format("no answer within {} ms", s_.reply_timeout.count()));
    return;
  }
  if (outstanding_ > 0 && now - progress_ > s_.reply_timeout) {
    fail(fmt::format("no reply for {} ms", s_.reply_timeout.count()));
    return;
  }
  // Not ready once a reply is two thirds of reply_timeout late: a stalled Redis (SIGSTOP, a long
  // fork) shows on /readyz within ping_every + 2/3 of it (1.5 s by default), before the link is
  // given up; a late reply makes it ready again.
  bool wedged = outstanding_ > 0 && now - progress_ > s_.reply_timeout * 2 / 3;
  if (wedged != wedged_) {
    wedged_ = wedged;
    if (wedged) ready_.not_ready(fmt::format("Redis at {} has not answered for {} ms", where_,
                                             std::chrono::duration_cast<Millis>(now - progress_).count()));
    else ready_.ready();
  }
  if (now >= next_ping_ && outstanding_ == 0) {
    next_ping_ = now + s_.ping_every;
    const char* argv[] = {"PING"};
    size_t lens[] = {4};
    command(on_ping_reply, this, 1, argv, lens);
  }
  if (now >= next_renew_) {
    next_renew_ = now + s_.renew;
    for (const auto& [key, lease] : leases_) send_claim(key, lease, nullptr);
  }
}

void RedisBridge::attempt(Clock::time_point now) {
  // Joins wait for the first connection only; while reconnecting after an outage they are answered
  // at once (provisionally), so a Redis that is down never delays a join by a connect timeout.
  link_ = Link::connecting;
  if (first_attempt()) link_state_.store(static_cast<int>(Link::connecting), std::memory_order_release);
  attempt_started_ = now;
  cmd_ready_ = sub_ready_ = false;
  for (HiredisSlot* slot : {&cmd_, &sub_}) {
    redisAsyncContext* ac = redisAsyncConnect(s_.host.c_str(), s_.port);
    if (!ac || ac->err) {
      fail(ac ? ac->errstr : "out of memory");
      if (ac) redisAsyncFree(ac);
      return;
    }
    slot->attach(ac, loop_);
    ac->data = this;
    redisAsyncSetConnectCallback(ac, on_connect_cb);
    redisAsyncSetDisconnectCallback(ac, on_disconnect_cb);
  }
  progress_ = now;
  if (!s_.password.empty()) {
    const char* argv[] = {"AUTH", s_.password.c_str()};
    size_t lens[] = {4, s_.password.size()};
    command(on_auth_reply, this, 2, argv, lens);
    redisAsyncCommandArgv(sub_.ac, on_sub_auth_reply, this, 2, argv, lens);
  }
  const char* ping[] = {"PING"};
  size_t ping_len[] = {4};
  command(on_ping_reply, this, 1, ping, ping_len);
  const char* sub[] = {"SUBSCRIBE", channel_.c_str()};
  size_t sub_len[] = {9, channel_.size()};
  redisAsyncCommandArgv(sub_.ac, on_sub_reply, this, 2, sub, sub_len);
}

void RedisBridge::fail(std::string why) {
  if (!fail_why_.empty()) return;
  fail_why_ = why.empty() ? "connection lost" : std::move(why);
  // Not here: this may be inside a hiredis callback, where its context must not be freed.
  loop_.queue_in_loop([this] {
    if (!fail_why_.empty()) teardown(Clock::now());
  });
}

void RedisBridge::teardown(Clock::time_point now) {
  if (shutting_down_) {
    loop_.quit();
    return;
  }
  if (!outage_logged_) {  // once per outage
    redis_series().outages.add();
    if (ever_up_) outf("redis: lost {} ({}); local chat goes on, retrying", where_, fail_why_);
    else outf("redis: cannot reach {} ({}); serving local members, retrying", where_, fail_why_);
    outage_logged_ = true;
  }
  ready_.not_ready(fmt::format("no link to {} ({})", where_, fail_why_));
  fail_why_.clear();
  set_link(Link::down);
  // Freeing runs the pending callbacks with no reply: claims in flight become provisional.
  cmd_.free();
  sub_.free();
  for (auto& [key, done] : waiting_) done(Claim{true, {}});
  waiting_.clear();
  outstanding_ = 0;
  {
    std::lock_guard lock(mu_);
    queue_.requeue();
  }
  next_attempt_ = now + backoff_.next();
  fail_why_.clear();  // a callback run by free() may have set it again
}

void RedisBridge::become_up() {
  auto now = Clock::now();
  set_link(Link::up);
  backoff_.reset();
  if (!ever_up_) outf("redis: connected to {} (room {}, channel {})", where_, s_.room, channel_);
  else outf("redis: reconnected to {} (re-claiming {} IDs)", where_, leases_.size());
  if (ever_up_) redis_series().reconnects.add();
  ever_up_ = true;
  outage_logged_ = false;
  for (const std::string& key : unreleased_) send_release(key);
  unreleased_.clear();
  // Claims made while connecting get their answers; every other lease is claimed again (a conflict
  // means another server took the ID during the outage: the local member is evicted).
  std::unordered_map<std::string, Done> waiting;
  for (auto& [key, done] : waiting_) waiting[key] = std::move(done);
  waiting_.clear();
  for (const auto& [key, lease] : leases_) {
    auto w = waiting.find(key);
    send_claim(key, lease, w == waiting.end() ? nullptr : std::move(w->second));
    if (w != waiting.end()) waiting.erase(w);
  }
  for (auto& [key, done] : waiting) done(Claim{true, {}});  // released meanwhile
  next_renew_ = now + s_.renew;
  next_ping_ = now + s_.ping_every;
  send_publications(now);
}

void RedisBridge::command(redisCallbackFn* fn, void* privdata, int argc, const char** argv, const size_t* lens) {
  if (!cmd_.ac) return;
  if (redisAsyncCommandArgv(cmd_.ac, fn, privdata, argc, argv, lens) != REDIS_OK) return;
  if (outstanding_++ == 0) progress_ = Clock::now();
}

void RedisBridge::got_reply(Clock::time_point now) {
  if (outstanding_ > 0) --outstanding_;
  progress_ = now;
  if (shutting_down_ && outstanding_ == 0) loop_.quit();
}

void RedisBridge::send_publications(Clock::time_point now) {
  if (link_ != Link::up) return;
  size_t expired = 0;
  {
    std::lock_guard lock(mu_);
    while (const std::string* p = queue_.next_to_send(now)) {
      const char* argv[] = {"PUBLISH", channel_.c_str(), p->data()};
      size_t lens[] = {7, channel_.size(), p->size()};
      command(on_publish_reply, this, 3, argv, lens);
    }
    expired = queue_.expired();
  }
  if (expired != expired_logged_) {
    outf("redis: {} messages older than {} s were not sent to the other servers", expired - expired_logged_,
         s_.max_hold.count() / 1000);
    expired_logged_ = expired;
  }
}

void RedisBridge::send_claim(const std::string& key, const Lease& lease, Done done) {
  std::string lease_key = "concur:" + s_.room + ":id:" + key;
  std::string ms = std::to_string(s_.lease.count());
  const char* argv[] = {"EVAL", kClaimScript.data(), "1", lease_key.c_str(), instance_hex_.c_str(), lease.id.c_str(),
                        ms.c_str()};
  size_t lens[] = {4, kClaimScript.size(), 1, lease_key.size(), instance_hex_.size(), lease.id.size(), ms.size()};
  auto* ctx = new ClaimCtx{this, key, lease.token, std::move(done)};
  if (!cmd_.ac) {
    if (ctx->done) ctx->done(Claim{true, {}});
    delete ctx;
    return;
  }
  command(on_claim_reply, ctx, 7, argv, lens);
}

void RedisBridge::send_release(const std::string& key) {
  std::string lease_key = "concur:" + s_.room + ":id:" + key;
  const char* argv[] = {"EVAL", kReleaseScript.data(), "1", lease_key.c_str(), instance_hex_.c_str()};
  size_t lens[] = {4, kReleaseScript.size(), 1, lease_key.size(), instance_hex_.size()};
  command(on_plain_reply, this, 5, argv, lens);
}

void RedisBridge::on_message(std::string_view payload) {
  auto env = decode_envelope(payload);
  if (!env) {
    log_garbage();
    return;
  }
  if (env->instance == instance_) return;           // our own publication, back from Redis
  if (!seen_.fresh(env->instance, env->seq)) {  // sent again after a reconnect: already delivered
    redis_series().duplicates.add();
    return;
  }
  redis_series().received.add();
  room_.broadcast(outlet_.get(), chat::ChatMessage(env->text));
}

void RedisBridge::log_garbage() {
  uint64_t n = garbage_.fetch_add(1) + 1;
  redis_series().garbage.add();
  // 1, 10, 100, …: counted always, logged rarely, so garbage cannot flood the log.
  uint64_t p = 1;
  while (p < n && p <= UINT64_MAX / 10) p *= 10;
  if (p == n) outf("redis: dropped a message on {} that is not concur's ({} so far)", channel_, n);
}

// ---- hiredis callbacks (the bridge thread, inside cmd_/sub_.handle or free) ----------------------

void RedisBridge::on_connect_cb(const redisAsyncContext* ac, int status) {
  auto* b = static_cast<RedisBridge*>(ac->data);
  if (status != REDIS_OK) b->fail(ac->errstr[0] ? ac->errstr : "connect failed");
}

void RedisBridge::on_disconnect_cb(const redisAsyncContext* ac, int status) {
  auto* b = static_cast<RedisBridge*>(ac->data);
  b->fail(status == REDIS_OK || !ac->errstr[0] ? std::string("connection closed") : std::string(ac->errstr));
}

void RedisBridge::on_auth_reply(redisAsyncContext*, void* reply, void* privdata) {
  auto* b = static_cast<RedisBridge*>(privdata);
  auto* r = static_cast<redisReply*>(reply);
  if (!r) return;
  b->got_reply(Clock::now());
  if (r->type == REDIS_REPLY_ERROR) b->fail("refused the password: " + reply_text(r));
}

void RedisBridge::on_sub_auth_reply(redisAsyncContext*, void* reply, void* privdata) {
  auto* r = static_cast<redisReply*>(reply);
  if (r && r->type == REDIS_REPLY_ERROR) static_cast<RedisBridge*>(privdata)->fail("refused the password: " + reply_text(r));
}

void RedisBridge::on_ping_reply(redisAsyncContext*, void* reply, void* privdata) {
  auto* b = static_cast<RedisBridge*>(privdata);
  auto* r = static_cast<redisReply*>(reply);
  if (!r) return;
  b->got_reply(Clock::now());
  if (r->type == REDIS_REPLY_ERROR) {
    b->fail(reply_text(r));
    return;
  }
  if (b->link_ == Link::connecting && !b->cmd_ready_) {
    b->cmd_ready_ = true;
    if (b->sub_ready_) b->become_up();
  }
}

void RedisBridge::on_publish_reply(redisAsyncContext*, void* reply, void* privdata) {
  auto* b = static_cast<RedisBridge*>(privdata);
  if (!reply) return;  // lost with the connection: requeued, sent again after the reconnect
  b->got_reply(Clock::now());
  redis_series().published.add();
  size_t dropped = 0;
  bool drained = false;
  {
    std::lock_guard lock(b->mu_);
    b->queue_.confirm();
    if (b->dropping_ && b->queue_.bytes() <= b->queue_.max_bytes() / 2) {
      b->dropping_ = false;
      drained = true;
      dropped = b->queue_.dropped() - b->dropped_logged_;
    }
  }
  if (drained) outf("redis: publish buffer drained ({} messages were dropped)", dropped);
}

void RedisBridge::on_plain_reply(redisAsyncContext*, void* reply, void* privdata) {
  if (reply) static_cast<RedisBridge*>(privdata)->got_reply(Clock::now());
}

void RedisBridge::on_claim_reply(redisAsyncContext*, void* reply, void* privdata) {
  std::unique_ptr<ClaimCtx> ctx(static_cast<ClaimCtx*>(privdata));
  RedisBridge* b = ctx->bridge;
  auto* r = static_cast<redisReply*>(reply);
  if (!r) {  // the link went down first: the ID stays provisionally ours and is claimed on reconnect
    if (ctx->done) ctx->done(Claim{true, {}});
    return;
  }
  b->got_reply(Clock::now());
  if (r->type != REDIS_REPLY_STRING) {  // 1: ours (an error reply leaves it provisional)
    if (ctx->done) ctx->done(Claim{true, {}});
    return;
  }
  std::string holder = reply_text(r);
  auto it = b->leases_.find(ctx->key);
  bool current = it != b->leases_.end() && it->second.token == ctx->token;
  std::string id = current ? it->second.id : std::string();
  if (current) b->leases_.erase(it);
  if (ctx->done) {
    ctx->done(Claim{false, holder});
  } else if (current) {
    outf("redis: ID '{}' is held on another server: disconnecting the local member", escape_for_terminal(id));
    b->room_.evict(id, chat::taken_error_text(id, holder));
  }
}

void RedisBridge::on_sub_reply(redisAsyncContext*, void* reply, void* privdata) {
  auto* b = static_cast<RedisBridge*>(privdata);
  auto* r = static_cast<redisReply*>(reply);
  if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 3) return;
  std::string_view kind(r->element[0]->str ? r->element[0]->str : "", r->element[0]->len);
  if (kind == "message" && r->element[2]->type == REDIS_REPLY_STRING) {
    b->on_message(std::string_view(r->element[2]->str, r->element[2]->len));
  } else if (kind == "subscribe" && b->link_ == Link::connecting && !b->sub_ready_) {
    b->sub_ready_ = true;
    if (b->cmd_ready_) b->become_up();
  }
}

}  // namespace concur::redis
