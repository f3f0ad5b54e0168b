// Messages across instances: what local members say is published on the room's channel (queued,
// bounded, sent while the link is up); what other instances publish is checked and broadcast.
#include <fmt/format.h>
#include <hiredis/hiredis.h>

#include "core/log.hpp"
#include "redis/bridge_outlet.hpp"
#include "redis/redis_bridge.hpp"
#include "redis/redis_metrics.hpp"
#include "redis/reply_text.hpp"

namespace concur::redis {

bool power_of_ten(uint64_t n) {
  uint64_t p = 1;
  while (p < n && p <= UINT64_MAX / 10) p *= 10;
  return p == n;
}

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
      if (!history()) {
        const char* argv[] = {"PUBLISH", channel_.c_str(), p->data()};
        size_t lens[] = {7, channel_.size(), p->size()};
        command(on_publish_reply, this, 3, argv, lens);
        continue;
      }
      // One script: offset, log entry and live message together (room_script.hpp).
      std::string epoch = epoch_candidate();
      std::string seq = std::to_string(envelope_seq(*p));
      const std::string& sha = publish_script_sha();
      const char* argv[] = {"EVALSHA", sha.c_str(), "3", keys_.meta.c_str(), keys_.log.c_str(), keys_.seq.c_str(),
                            epoch.c_str(), history_arg_.c_str(), seq.c_str(), p->data(), channel_.c_str()};
      size_t lens[] = {7, sha.size(), 1, keys_.meta.size(), keys_.log.size(), keys_.seq.size(),
                       epoch.size(), history_arg_.size(), seq.size(), p->size(), channel_.size()};
      command(on_publish_reply, this, 11, argv, lens);
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
  auto m = decode_live(payload);
  if (!m) {
    log_garbage(channel_);
    return;
  }
  if (!m->sequenced || !history()) {  // a server without history: delivered as it comes
    deliver_remote(m->env, false);
    return;
  }
  switch (cursor_.on_live(m->epoch, m->offset, m->entry_id)) {
    case RoomCursor::Live::deliver: deliver_remote(m->env, false); return;
    case RoomCursor::Live::duplicate: redis_series().duplicates.add(); return;
    case RoomCursor::Live::read: read_page(); return;
    case RoomCursor::Live::behind: return;  // the read going on reaches it
    case RoomCursor::Live::foreign: request_check(); return;
    case RoomCursor::Live::ignored: return;
  }
}

// One message of another instance, live or read from the log, to the local members once.
void RedisBridge::deliver_remote(const Envelope& env, bool recovered) {
  if (env.instance == instance_) return;    // our own publication, back from Redis
  if (!seen_.fresh(env.instance, env.seq)) {  // sent again after a reconnect: already delivered
    redis_series().duplicates.add();
    return;
  }
  redis_series().received.add();
  if (recovered) redis_series().recovered.add();
  room_.broadcast(outlet_.get(), chat::ChatMessage(env.text));
}

void RedisBridge::log_garbage(std::string_view where) {
  uint64_t n = garbage_.fetch_add(1) + 1;
  redis_series().garbage.add();
  // 1, 10, 100, …: counted always, logged rarely, so garbage cannot flood the log.
  if (power_of_ten(n)) outf("redis: dropped a message on {} that is not concur's ({} so far)", where, n);
}

// ---- hiredis callbacks (the bridge thread) -------------------------------------------------------

void RedisBridge::on_publish_reply(redisAsyncContext*, void* reply, void* privdata) {
  auto* b = static_cast<RedisBridge*>(privdata);
  auto* r = static_cast<redisReply*>(reply);
  if (!r) return;  // lost with the connection: requeued, sent again after the reconnect
  b->got_reply(Clock::now());
  if (r->type == REDIS_REPLY_ERROR) {
    std::string why = reply_text(r);
    if (why.starts_with("NOSCRIPT")) {  // SCRIPT FLUSH: loaded again on the reconnect
      b->fail("Redis forgot the publish script");
      return;
    }
    if (why.starts_with("READONLY")) {  // a failover made it a replica: find the master again
      b->fail(b->at() + " is a replica now (READONLY)");
      return;
    }
    // Refused for good (e.g. an ACL, or a room key of another type): counted, not sent again.
    redis_series().publish_dropped.add();
    uint64_t n = ++b->refused_;
    if (power_of_ten(n)) outf("redis: Redis refused a publication: {} ({} so far)", why, n);
  } else {
    redis_series().published.add();
  }
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
