#pragma once
// Splitting a device fleet over N collectors (`collect --shard I/N`, SPEC §4) by rendezvous
// (highest-random-weight) hashing on "HOST:PORT": every collector scores each device against
// every shard number and keeps the devices whose best score is its own. No coordination, no
// shared state beyond the list: N collectors with the same list and N take disjoint shares that
// cover it exactly, and going from N to N+1 collectors moves only the ~1/(N+1) of devices the new
// shard wins (a modulo split would move almost all). Thaler & Ravishankar 1998; Tarantool vshard
// and Twitter's EventBus use the same scheme. Pure.
#include <cstdint>
#include <optional>
#include <string_view>

namespace concur::iot {

struct Shard {
  unsigned index = 1;  // 1..count, as "--shard 2/3" reads
  unsigned count = 1;
};

// "I/N" with 1 <= I <= N <= 4096; nullopt otherwise.
std::optional<Shard> parse_shard(std::string_view text);

// The shard (1..count) that owns `key`. The hash is fixed (FNV-1a, then SplitMix64 mixing), so
// the answer is the same on every machine and in every build.
unsigned shard_of(std::string_view key, unsigned count);

}  // namespace concur::iot
