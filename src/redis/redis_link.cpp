// The bridge as a link::LinkProtocol: the two hiredis connections (commands, subscription) that
// make one link to Redis, opened and torn down when the BrokerLink says, and the replies that
// tell it the link is alive.
#include <fmt/format.h>
#include <hiredis/hiredis.h>

#include "core/log.hpp"
#include "redis/redis_bridge.hpp"
#include "redis/redis_metrics.hpp"
#include "redis/reply_text.hpp"
#include "redis/sentinel.hpp"

namespace concur::redis {

std::string RedisBridge::down_reason(const std::string& why) const { return fmt::format("no link to {} ({})", where_, why); }

std::string RedisBridge::stalled_reason(Millis silent) const {
  return fmt::format("Redis at {} has not answered for {} ms", where_, silent.count());
}

void RedisBridge::open() {
  // Joins wait for the first connection only; while reconnecting after an outage they are answered
  // at once (provisionally), so a Redis that is down never delays a join by a connect timeout.
  if (link_.first_attempt()) publish_link(Link::connecting);
  cmd_ready_ = sub_ready_ = false;
  if (!find_master()) return;
  for (HiredisSlot* slot : {&cmd_, &sub_}) {
    redisAsyncContext* ac =
        tunnel_ ? redisAsyncConnectUnix(tunnel_->path_for(host_, port_).c_str()) : redisAsyncConnect(host_.c_str(), port_);
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
  if (!s_.password.empty()) {
    const char* argv[] = {"AUTH", s_.password.c_str()};
    size_t lens[] = {4, s_.password.size()};
    command(on_auth_reply, this, 2, argv, lens);
    redisAsyncCommandArgv(sub_.ac, on_sub_auth_reply, this, 2, argv, lens);
  }
  const char* ping[] = {"PING"};
  size_t ping_len[] = {4};
  command(on_ping_reply, this, 1, ping, ping_len);
  if (!s_.sentinels.empty()) {  // a failover may be under way: the named master must say it is one
    const char* role[] = {"ROLE"};
    size_t role_len[] = {4};
    command(on_role_reply, this, 1, role, role_len);
  }
  if (history()) {
    // Before any publication on this connection: EVALSHA finds the script loaded.
    const char* load[] = {"SCRIPT", "LOAD", kPublishScript.data()};
    size_t load_len[] = {6, 4, kPublishScript.size()};
    command(on_script_reply, this, 3, load, load_len);
    send_sub_position();  // where the room stands before this subscription starts
  }
  const char* sub[] = {"SUBSCRIBE", channel_.c_str()};
  size_t sub_len[] = {9, channel_.size()};
  redisAsyncCommandArgv(sub_.ac, on_sub_reply, this, 2, sub, sub_len);
}

SentinelPath RedisBridge::via_tunnel() {
  if (!tunnel_) return {};
  return [this](const HostPort& s) { return tunnel_->path_for(s.first, s.second); };
}

bool RedisBridge::find_master() {
  if (s_.sentinels.empty()) return true;
  std::string why;
  // Blocking, on the bridge's own thread, a few hundred ms at most: nothing else waits for it.
  auto master = ask_sentinels(s_.sentinels, s_.master, s_.reply_timeout / 5, why, via_tunnel());
  if (!master) {
    fail("no sentinel named master " + s_.master + ": " + why);
    return false;
  }
  host_ = master->first;
  port_ = master->second;
  return true;
}

void RedisBridge::keep_alive(Clock::time_point now) {
  // A reply is always due while up, so a Redis that stops answering is noticed (the link's health).
  if (now < next_ping_ || link_.outstanding() > 0) return;
  next_ping_ = now + s_.ping_every;
  const char* argv[] = {"PING"};
  size_t lens[] = {4};
  command(on_ping_reply, this, 1, argv, lens);
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
  link_.lost(now, fail_why_);  // on_down below
  fail_why_.clear();
}

void RedisBridge::on_down(const link::LinkDown& d) {
  if (d.first_of_outage) {  // once per outage
    redis_series().outages.add();
    if (d.ever_up) outf("redis: lost {} ({}); local chat goes on, retrying", where_, d.why);
    else outf("redis: cannot reach {} ({}); serving local members, retrying", where_, d.why);
  }
  publish_link(Link::down);
  // Freeing runs the pending callbacks with no reply: claims in flight become provisional.
  cmd_.free();
  sub_.free();
  for (auto& [key, done] : waiting_) done(Claim{true, {}});
  waiting_.clear();
  {
    std::lock_guard lock(mu_);
    queue_.requeue();
  }
  fail_why_.clear();  // a callback run by free() may have set it again
}

void RedisBridge::on_up(const link::LinkUp& u) {
  auto now = Clock::now();
  publish_link(Link::up);
  if (u.first) {
    if (s_.sentinels.empty()) outf("redis: connected to {} (room {}, channel {})", where_, s_.room, channel_);
    else outf("redis: connected to {} at {} (room {}, channel {})", where_, at(), s_.room, channel_);
  } else {
    if (s_.sentinels.empty()) outf("redis: reconnected to {} (re-claiming {} IDs)", where_, leases_.size());
    else outf("redis: reconnected to {} at {} (re-claiming {} IDs)", where_, at(), leases_.size());
    redis_series().reconnects.add();
  }
  reclaim_all();
  next_check_ = now + s_.check_every;
  next_renew_ = now + s_.renew;
  next_ping_ = now + s_.ping_every;
  send_publications(now);
}

void RedisBridge::command(redisCallbackFn* fn, void* privdata, int argc, const char** argv, const size_t* lens) {
  if (!cmd_.ac) return;
  if (redisAsyncCommandArgv(cmd_.ac, fn, privdata, argc, argv, lens) != REDIS_OK) return;
  link_.request_sent(Clock::now());
}

void RedisBridge::got_reply(Clock::time_point now) {
  link_.replied(now);
  if (shutting_down_ && link_.outstanding() == 0) loop_.quit();
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

void RedisBridge::on_script_reply(redisAsyncContext*, void* reply, void* privdata) {
  auto* b = static_cast<RedisBridge*>(privdata);
  auto* r = static_cast<redisReply*>(reply);
  if (!r) return;
  b->got_reply(Clock::now());
  if (r->type == REDIS_REPLY_ERROR) b->fail("cannot load the publish script: " + reply_text(r));
  else if (reply_text(r) != publish_script_sha()) b->fail("Redis named the publish script " + reply_text(r));
}

void RedisBridge::on_role_reply(redisAsyncContext*, void* reply, void* privdata) {
  auto* b = static_cast<RedisBridge*>(privdata);
  auto* r = static_cast<redisReply*>(reply);
  if (!r) return;
  b->got_reply(Clock::now());
  std::string role = r->type == REDIS_REPLY_ARRAY && r->elements > 0 ? reply_text(r->element[0]) : reply_text(r);
  if (role != "master") b->fail(b->at() + " is not the master (ROLE " + role + "): a failover is under way");
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
  if (b->link_.state() == link::LinkState::connecting && !b->cmd_ready_) {
    b->cmd_ready_ = true;
    if (b->sub_ready_) b->link_.connected(Clock::now());
  }
}

}  // namespace concur::redis
