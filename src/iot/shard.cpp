#include "iot/shard.hpp"

#include <charconv>

namespace concur::iot {

namespace {

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// SplitMix64's finaliser: every input bit affects every output bit, so the scores of one key
// for different shards are independent enough for the argmax to be uniform.
uint64_t mix(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

bool parse_unsigned(std::string_view s, unsigned& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::optional<Shard> parse_shard(std::string_view text) {
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  Shard s;
  if (!parse_unsigned(text.substr(0, slash), s.index) || !parse_unsigned(text.substr(slash + 1), s.count))
    return std::nullopt;
  if (s.count < 1 || s.count > 4096 || s.index < 1 || s.index > s.count) return std::nullopt;
  return s;
}

unsigned shard_of(std::string_view key, unsigned count) {
  uint64_t k = fnv1a(key);
  unsigned best = 1;
  uint64_t best_score = 0;
  for (unsigned j = 1; j <= count; ++j) {
    uint64_t score = mix(k ^ mix(j));
    if (j == 1 || score > best_score) {
      best = j;
      best_score = score;
    }
  }
  return best;
}

}  // namespace concur::iot
