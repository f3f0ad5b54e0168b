#include "redis/sentinel.hpp"

#include <fmt/format.h>
#include <hiredis/hiredis.h>

#include <memory>

#include "redis/redis_bridge.hpp"
#include "redis/reply_text.hpp"

namespace concur::redis {

namespace {

// One sentinel's answer, or why there is none.
std::optional<HostPort> ask_one(const HostPort& sentinel, const std::string& master, Millis timeout, std::string& why,
                                const SentinelPath& via) {
  timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  redisContext* c = via ? redisConnectUnixWithTimeout(via(sentinel).c_str(), tv)
                        : redisConnectWithTimeout(sentinel.first.c_str(), sentinel.second, tv);
  std::unique_ptr<redisContext, void (*)(redisContext*)> guard(c, redisFree);
  if (!c || c->err) {
    why = c ? c->errstr : "out of memory";
    return std::nullopt;
  }
  redisSetTimeout(c, tv);
  const char* argv[] = {"SENTINEL", "get-master-addr-by-name", master.c_str()};
  size_t lens[] = {8, 23, master.size()};
  auto* r = static_cast<redisReply*>(redisCommandArgv(c, 3, argv, lens));
  if (!r) {
    why = c->errstr[0] ? c->errstr : "no reply";
    return std::nullopt;
  }
  std::unique_ptr<redisReply, void (*)(void*)> rg(r, freeReplyObject);
  if (r->type == REDIS_REPLY_ERROR) {
    why = reply_text(r);
    return std::nullopt;
  }
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING ||
      r->element[1]->type != REDIS_REPLY_STRING) {
    why = "does not know master " + master;
    return std::nullopt;
  }
  auto hp = parse_host_port(reply_text(r->element[0]) + ":" + reply_text(r->element[1]));
  if (!hp) {
    // An IPv6 address comes without brackets.
    hp = parse_host_port("[" + reply_text(r->element[0]) + "]:" + reply_text(r->element[1]));
    if (!hp) {
      why = "answered an address that is not HOST PORT";
      return std::nullopt;
    }
  }
  return hp;
}

}  // namespace

std::optional<HostPort> ask_sentinels(const std::vector<HostPort>& sentinels, const std::string& master,
                                      Millis timeout, std::string& why, const SentinelPath& via) {
  why.clear();
  for (const auto& s : sentinels) {
    std::string one;
    if (auto hp = ask_one(s, master, timeout, one, via)) return hp;
    if (!why.empty()) why += "; ";
    why += fmt::format("sentinel {}:{}: {}", s.first, s.second, one);
  }
  return std::nullopt;
}

std::optional<std::vector<HostPort>> parse_sentinels(std::string_view text) {
  std::vector<HostPort> out;
  while (true) {
    size_t comma = text.find(',');
    auto hp = parse_host_port(text.substr(0, comma));
    if (!hp) return std::nullopt;
    out.push_back(*hp);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

}  // namespace concur::redis
