// Messages across instances: what local members say is published on the room's channel (queued,
// bounded, sent while the link is up); what other instances publish is checked and broadcast.
#include <fmt/format.h>
#include <hiredis/hiredis.h>

#include "core/log.hpp"
#include "redis/bridge_outlet.hpp"
#include "redis/redis_bridge.hpp"
#include "redis/redis_metrics.hpp"

namespace concur::redis {

// ---- any thread ----------------------------------------------------------------------------------

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

// ---- the bridge thread ---------------------------------------------------------------------------

// The link's drain: everything queued goes out as soon as the link is up (and while it drains at
// shutdown); entries past max_hold are dropped instead, and said so.
void RedisBridge::send_publications(Clock::time_point now) {
  if (!link_.can_send()) return;
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

// ---- hiredis callbacks (the bridge thread) -------------------------------------------------------

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

void RedisBridge::on_sub_reply(redisAsyncContext*, void* reply, void* privdata) {
  auto* b = static_cast<RedisBridge*>(privdata);
  auto* r = static_cast<redisReply*>(reply);
  if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 3) return;
  std::string_view kind(r->element[0]->str ? r->element[0]->str : "", r->element[0]->len);
  if (kind == "message" && r->element[2]->type == REDIS_REPLY_STRING) {
    b->on_message(std::string_view(r->element[2]->str, r->element[2]->len));
  } else if (kind == "subscribe" && b->link_.state() == link::LinkState::connecting && !b->sub_ready_) {
    b->sub_ready_ = true;
    if (b->cmd_ready_) b->link_.connected(Clock::now());
  }
}

}  // namespace concur::redis
