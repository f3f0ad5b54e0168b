#pragma once
// A hiredis reply's string (status, error, bulk), or "" for none: shared by the bridge's files.
#include <hiredis/hiredis.h>

#include <string>

namespace concur::redis {

inline std::string reply_text(const redisReply* r) { return r && r->str ? std::string(r->str, r->len) : std::string(); }

}  // namespace concur::redis
