#include "conn/address_limits.hpp"

#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <random>

namespace concur {

namespace {
uint64_t mix(uint64_t x) {  // SplitMix64's finaliser
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// What one client is counted as: its IPv4 address, or the /64 of its IPv6 address.
uint64_t address_key(const Endpoint& e) {
  if (e.family() == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(e.sa());
    return uint64_t{1} << 32 | ntohl(in->sin_addr.s_addr);
  }
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(e.sa());
  const uint8_t* b = in6->sin6_addr.s6_addr;
  if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
    uint32_t v4;
    std::memcpy(&v4, b + 12, 4);
    return uint64_t{1} << 32 | ntohl(v4);
  }
  uint64_t prefix;
  std::memcpy(&prefix, b, 8);
  return mix(prefix) | (uint64_t{1} << 63);  // apart from every IPv4 key
}

int64_t ms_of(AddressLimits::Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
}  // namespace

bool is_loopback(const Endpoint& e) {
  if (e.family() == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(e.sa());
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  if (e.family() != AF_INET6) return false;
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(e.sa());
  if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) return true;
  return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127;
}

AddressLimits::AddressLimits(AddressLimitSettings s)
    : s_(s), key_(std::random_device{}() | uint64_t{std::random_device{}()} << 32) {}

AddressLimits::Verdict AddressLimits::enter(const Endpoint& peer, uint32_t& slot, Clock::time_point now) {
  slot = kNoSlot;
  if (!s_.any()) return Verdict::admitted;
  const bool loopback = is_loopback(peer);
  const bool counted = s_.max_per_ip != 0 && (s_.loopback_counted || !loopback);
  const bool rated = s_.rate > 0 && (s_.loopback_rated || !loopback);
  if (!counted && !rated) return Verdict::admitted;
  auto index = static_cast<uint32_t>(mix(address_key(peer) ^ key_) % kBuckets);
  MutexLock lock(mu_);
  // Made on the first limited client: a server only loopback clients reach (the lecture's use,
  // every test) never pays for the table.
  if (buckets_.empty()) buckets_.resize(kBuckets);
  Bucket& b = buckets_[index];
  if (counted && b.live >= s_.max_per_ip) return Verdict::too_many;
  if (rated) {
    const double burst = std::max(1.0, s_.burst);
    int64_t t = ms_of(now);
    if (b.last_ms < 0) b.tokens = static_cast<float>(burst);
    else b.tokens = static_cast<float>(std::min(burst, b.tokens + (t - b.last_ms) * s_.rate / 1000.0));
    b.last_ms = t;
    if (b.tokens < 1) return Verdict::too_fast;
    b.tokens -= 1;
  }
  if (!counted) return Verdict::admitted;  // rated only: nothing to give back
  ++b.live;
  ++live_;
  slot = index;
  return Verdict::admitted;
}

void AddressLimits::leave(uint32_t slot) {
  if (slot == kNoSlot) return;
  MutexLock lock(mu_);
  if (slot >= buckets_.size()) return;
  Bucket& b = buckets_[slot];
  if (b.live > 0) {
    --b.live;
    --live_;
  }
}

size_t AddressLimits::live() const {
  MutexLock lock(mu_);
  return live_;
}

}  // namespace concur
