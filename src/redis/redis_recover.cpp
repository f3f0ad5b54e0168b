// Recovery from the room's log (issue 20): where the room stands (its meta hash), reading what
// this instance missed (XRANGE, page by page) and telling members what can no longer be had. The
// decisions are RoomCursor's; this file asks Redis and does what the cursor says.
//
// When a position is read:
//   - on every (re)connect, on the subscription before SUBSCRIBE: the first one places the cursor,
//     later ones catch up what a cut-off missed;
//   - every check_every while up: a subscription can wedge silently (a proxy, a stalled replica);
//     a cursor that did not reach the previous check's offset reads the log;
//   - at once when a live message of another epoch arrives.
#include <fmt/format.h>
#include <hiredis/hiredis.h>

#include "core/log.hpp"
#include "redis/bridge_outlet.hpp"
#include "redis/redis_bridge.hpp"
#include "redis/redis_metrics.hpp"
#include "redis/reply_text.hpp"

namespace concur::redis {

namespace {

std::string_view element_text(const redisReply* e) {
  return e && (e->type == REDIS_REPLY_STRING || e->type == REDIS_REPLY_STATUS) ? std::string_view(e->str, e->len)
                                                                              : std::string_view();
}

// HMGET meta epoch offset last → a position; nullopt when the hash is not concur's.
std::optional<RoomPosition> parse_position(const redisReply* r) {
  if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3) return std::nullopt;
  RoomPosition p;
  std::string_view epoch = element_text(r->element[0]), offset = element_text(r->element[1]),
                   last = element_text(r->element[2]);
  if (epoch.empty()) return p;  // no state: a new room, or Redis lost it
  if (!valid_epoch(epoch)) return std::nullopt;
  p.epoch = epoch;
  if (offset != "0") {
    auto o = parse_offset(offset);
    if (!o) return std::nullopt;
    p.offset = *o;
  }
  if (!last.empty() && !valid_entry_id(last)) return std::nullopt;
  p.last_id = last;
  return p;
}

}  // namespace

void RedisBridge::send_sub_position() {
  const char* argv[] = {"HMGET", keys_.meta.c_str(), "epoch", "offset", "last"};
  size_t lens[] = {5, keys_.meta.size(), 5, 6, 4};
  redisAsyncCommandArgv(sub_.ac, on_sub_position_reply, this, 5, argv, lens);
}

void RedisBridge::check_position(Clock::time_point now) {
  if (!history() || now < next_check_) return;
  next_check_ = now + s_.check_every;
  request_check();
}

void RedisBridge::request_check() {
  if (check_in_flight_ || !link_.up()) return;
  check_in_flight_ = true;
  check_asked_ = cursor_.asked();
  const char* argv[] = {"HMGET", keys_.meta.c_str(), "epoch", "offset", "last"};
  size_t lens[] = {5, keys_.meta.size(), 5, 6, 4};
  command(on_check_reply, this, 5, argv, lens);
}

void RedisBridge::apply(const RoomCursor::Verdict& v) {
  if (v.rewound) rotate_epoch();
  if (v.epoch_changed) tell_gap(v.lost, true);
  if (v.read) read_page();
}

// Redis is behind what this instance delivered in the same epoch (a failover to a replica that
// had not received the last publications): the room moves to a new epoch, which every instance
// then follows as an epoch change, telling its members.
void RedisBridge::rotate_epoch() {
  if (rotating_ || !cmd_.ac) return;
  rotating_ = true;
  rotated_from_ = cursor_.delivered();
  std::string delivered = std::to_string(cursor_.delivered()), fresh = epoch_candidate();
  const char* argv[] = {"EVAL", kRotateScript.data(), "1", keys_.meta.c_str(), cursor_.epoch().c_str(),
                        delivered.c_str(), fresh.c_str()};
  size_t lens[] = {4, kRotateScript.size(), 1, keys_.meta.size(), cursor_.epoch().size(), delivered.size(), fresh.size()};
  command(on_rotate_reply, this, 7, argv, lens);
}

void RedisBridge::read_page() {
  if (!cmd_.ac || !cursor_.reading()) return;
  std::string from = cursor_.read_after(), count = std::to_string(s_.read_count);
  const char* argv[] = {"XRANGE", keys_.log.c_str(), from.c_str(), "+", "COUNT", count.c_str()};
  size_t lens[] = {6, keys_.log.size(), from.size(), 1, 5, count.size()};
  reads_.push_back(cursor_.read_generation());
  cursor_.on_page_sent();
  command(on_read_reply, this, 6, argv, lens);
}

void RedisBridge::on_page(const redisReply* r) {
  size_t n = r->elements;
  for (size_t i = 0; i < n; ++i) {
    const redisReply* e = r->element[i];
    if (!e || e->type != REDIS_REPLY_ARRAY || e->elements != 2) continue;
    std::string_view id = element_text(e->element[0]);
    const redisReply* fields = e->element[1];
    std::optional<uint64_t> offset;
    std::optional<Envelope> env;
    if (fields && fields->type == REDIS_REPLY_ARRAY && fields->elements == 4 &&
        element_text(fields->element[0]) == "o" && element_text(fields->element[2]) == "m") {
      offset = parse_offset(element_text(fields->element[1]));
      env = decode_envelope(element_text(fields->element[3]));
    }
    if (id.empty()) continue;
    if (!offset || !env) {  // someone else's XADD: skipped, counted, never delivered
      cursor_.on_junk(id);
      log_garbage(keys_.log);
      continue;
    }
    RoomCursor::Entry entry = cursor_.on_entry(*offset, id);
    if (entry.gap_before) tell_gap(entry.gap_before, false);
    if (entry.deliver) {
      ++caught_up_;
      deliver_remote(*env, true);
    }
  }
  RoomCursor::PageEnd end = cursor_.on_page_end(n, s_.read_count);
  if (end.lost) tell_gap(end.lost, false);
  if (end.more) {
    read_page();
    return;
  }
  if (caught_up_ > 0) outf("redis: caught up {} messages of room {} from its log in Redis", caught_up_, s_.room);
  caught_up_ = 0;
}

// Every local member is told, once per gap; the log says why.
void RedisBridge::tell_gap(uint64_t lost, bool epoch_changed) {
  redis_series().lost.add(lost);
  std::string text = lost ? fmt::format("error: history gap: {} messages lost", lost)
                          : std::string("error: history gap: Redis lost the room's history");
  if (epoch_changed)
    outf("redis: Redis lost room {}'s history (a restart without persistence, or a flush){}", s_.room,
         lost ? fmt::format(": {} messages this server had not delivered are gone", lost) : std::string());
  else
    outf("redis: history gap in room {}: {} messages were no longer in Redis (--history {})", s_.room, lost,
         s_.history);
  room_.broadcast(outlet_.get(), chat::ChatMessage(text), false);
}

// ---- hiredis callbacks (the bridge thread) -------------------------------------------------------

void RedisBridge::on_sub_position_reply(redisAsyncContext*, void* reply, void* privdata) {
  auto* b = static_cast<RedisBridge*>(privdata);
  auto* r = static_cast<redisReply*>(reply);
  if (!r) return;
  auto p = parse_position(r);
  if (!p) {
    if (!b->bad_position_logged_) outf("redis: {} is not concur's; its history is not followed", b->keys_.meta);
    b->bad_position_logged_ = true;
    return;
  }
  b->apply(b->cursor_.on_position(*p));
}

void RedisBridge::on_rotate_reply(redisAsyncContext*, void* reply, void* privdata) {
  auto* b = static_cast<RedisBridge*>(privdata);
  b->rotating_ = false;
  auto* r = static_cast<redisReply*>(reply);
  if (!r) return;
  b->got_reply(Clock::now());
  // 0: Redis was not behind after all (the position raced live messages).
  if (r->type == REDIS_REPLY_INTEGER && r->integer == 1)
    outf("redis: Redis is behind this server in room {} (it had delivered offset {}): a failover lost the last "
         "publications; the room moves to a new epoch",
         b->s_.room, b->rotated_from_);
  b->request_check();  // the new epoch, as every other instance will see it
}

void RedisBridge::on_check_reply(redisAsyncContext*, void* reply, void* privdata) {
  auto* b = static_cast<RedisBridge*>(privdata);
  b->check_in_flight_ = false;
  auto* r = static_cast<redisReply*>(reply);
  if (!r) return;
  b->got_reply(Clock::now());
  if (auto p = parse_position(r)) b->apply(b->cursor_.on_check(*p, b->check_asked_));
}

void RedisBridge::on_read_reply(redisAsyncContext*, void* reply, void* privdata) {
  auto* b = static_cast<RedisBridge*>(privdata);
  uint64_t generation = b->reads_.empty() ? 0 : b->reads_.front();
  if (!b->reads_.empty()) b->reads_.pop_front();
  bool current = generation == b->cursor_.read_generation() && b->cursor_.reading();
  auto* r = static_cast<redisReply*>(reply);
  if (!r) {  // the link went down: the reconnect's position starts the read again
    if (current) b->cursor_.abandon_read();
    return;
  }
  b->got_reply(Clock::now());
  if (!current) return;  // a read the epoch change superseded
  if (r->type != REDIS_REPLY_ARRAY) {
    outf("redis: cannot read {}: {}", b->keys_.log, reply_text(r));
    b->cursor_.abandon_read();
    return;
  }
  b->on_page(r);
}

}  // namespace concur::redis
