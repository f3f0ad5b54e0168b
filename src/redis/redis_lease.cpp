// IDs across instances: one lease per ID in Redis (redis_bridge.hpp), claimed when a member joins,
// renewed while it stays, given up when it leaves, claimed again after every reconnect.
#include <fmt/format.h>
#include <hiredis/hiredis.h>

#include "core/log.hpp"
#include "redis/redis_bridge.hpp"
#include "redis/reply_text.hpp"
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

}  // namespace

// ---- any thread ----------------------------------------------------------------------------------

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

void RedisBridge::drain_inbox() {
  std::vector<Request> inbox;
  {
    std::lock_guard lock(mu_);
    inbox.swap(inbox_);
  }
  for (Request& r : inbox) {
    std::string key = chat::fold_id(r.id);
    if (r.release) {
      leases_.erase(key);
      if (link_.up()) send_release(key);
      else unreleased_.push_back(key);
      continue;
    }
    Lease& lease = leases_[key];
    lease = Lease{r.id, next_token_++};
    if (link_.up()) send_claim(key, lease, std::move(r.done));
    else if (link_.state() == link::LinkState::connecting && link_.first_attempt() && r.done)
      waiting_.emplace_back(key, std::move(r.done));
    else if (r.done) r.done(Claim{true, {}});  // the link went down meanwhile: provisional
  }
}

void RedisBridge::renew_due(Clock::time_point now) {
  if (now < next_renew_) return;
  next_renew_ = now + s_.renew;
  for (const auto& [key, lease] : leases_) send_claim(key, lease, nullptr);
}

void RedisBridge::reclaim_all() {
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

}  // namespace concur::redis
