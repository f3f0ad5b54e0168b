#include "redis/room_script.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <charconv>
#include <mutex>
#include <random>

namespace concur::redis {

RoomKeys::RoomKeys(const std::string& room, const std::string& instance_hex)
    : meta("concur:" + room + ":meta"),
      log("concur:" + room + ":log"),
      seq("concur:" + room + ":seq:" + instance_hex),
      channel("concur:" + room + ":chat") {}

// KEYS: meta, log, seq. ARGV: epoch candidate, history (MAXLEN), sequence, envelope, channel.
// Returns the offset given, or 0 for a publication already applied.
const std::string_view kPublishScript = R"lua(
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  epoch = ARGV[1]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'offset', 0)
end
local seen = redis.call('GET', KEYS[3])
if seen and tonumber(seen) >= tonumber(ARGV[3]) then return 0 end
redis.call('SET', KEYS[3], ARGV[3], 'EX', 86400)
local offset = redis.call('HINCRBY', KEYS[1], 'offset', 1)
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'o', offset, 'm', ARGV[4])
redis.call('HSET', KEYS[1], 'last', id)
redis.call('PUBLISH', ARGV[5], 'concur2 ' .. epoch .. ' ' .. offset .. ' ' .. id .. ' ' .. ARGV[4])
return offset
)lua";

const std::string_view kRotateScript = R"lua(
local epoch = redis.call('HGET', KEYS[1], 'epoch')
local offset = tonumber(redis.call('HGET', KEYS[1], 'offset') or '0')
if epoch == ARGV[1] and offset < tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'epoch', ARGV[3])
  return 1
end
return 0
)lua";

const std::string& publish_script_sha() {
  static const std::string sha = [] {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(kPublishScript.data(), kPublishScript.size(), md, &n, EVP_sha1(), nullptr);
    std::string hex;
    for (unsigned int i = 0; i < n; ++i) hex += fmt::format("{:02x}", md[i]);
    return hex;
  }();
  return sha;
}

std::string epoch_candidate() {
  // Shared under a lock rather than per thread: publications come from every model's threads,
  // and a thread-local engine would be seeded once per short-lived thread.
  static std::mutex mu;
  static std::mt19937_64 engine{std::random_device{}()};
  uint64_t v = 0;
  {
    std::lock_guard lock(mu);
    v = engine();
  }
  return fmt::format("{:016x}", v);
}

uint64_t envelope_seq(std::string_view payload) {
  constexpr size_t kAt = 8 + 16 + 1;  // "concur1 " + instance + " "
  if (payload.size() <= kAt) return 0;
  std::string_view rest = payload.substr(kAt);
  uint64_t seq = 0;
  auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), seq);
  if (ec != std::errc() || end == rest.data() + rest.size() || *end != ' ') return 0;
  return seq;
}

}  // namespace concur::redis
