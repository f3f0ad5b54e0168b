#pragma once
// Per-address admission (issue 23, what ergo, ngIRCd and mosquitto ship with): at most
// `max_per_ip` connections at once from one address, and new connections from it at `rate` per
// second after a burst of `burst`. An IPv6 client counts by its /64 (one subscriber's block: an
// attacker holds 2^64 addresses there), an IPv4-mapped one as its IPv4 address.
//
// Bounded in memory however many addresses come: addresses are counted in a fixed table of
// kBuckets buckets under a keyed hash (a random key per process, so nobody can aim two addresses
// at one bucket); two addresses that happen to share a bucket share its limits — a stricter
// limit for both, never a looser one. The table (16,384 buckets, 192 KiB) is made on the first
// limited client.
//
// A prefork child has a gate of its own and serves one client at a time, so under prefork (and
// pool) the per-address count does not span the workers; the kernel's backlog holds the rest.
//
// Thread contract: every method is safe from any thread (one lock; admission is not a hot path).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/endpoint.hpp"
#include "core/thread_annotations.hpp"

namespace concur {

struct AddressLimitSettings {
  size_t max_per_ip = 0;         // connections at once from one address; 0: no limit
  double rate = 0;               // new connections per second from one address, after the burst; 0: no limit
  double burst = 0;              // new connections in a burst (at least 1 when rate > 0)
  // Whether loopback clients (127.0.0.0/8, ::1) are held to each limit: not by the defaults.
  bool loopback_counted = true;
  bool loopback_rated = true;
  bool any() const { return max_per_ip != 0 || rate > 0; }
};

class AddressLimits {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr uint32_t kNoSlot = UINT32_MAX;
  static constexpr size_t kBuckets = 16384;

  explicit AddressLimits(AddressLimitSettings s);

  enum class Verdict { admitted, too_many, too_fast };
  // A new connection from `peer`: when admitted, `slot` is what leave() takes when it goes
  // (kNoSlot for an exempt address).
  Verdict enter(const Endpoint& peer, uint32_t& slot, Clock::time_point now = Clock::now());
  void leave(uint32_t slot);
  const AddressLimitSettings& settings() const { return s_; }
  // Connections counted now (tests).
  size_t live() const;

 private:
  struct Bucket {
    uint32_t live = 0;
    float tokens = 0;       // connects left in the burst
    int64_t last_ms = -1;   // when tokens were last topped up; -1: never used
  };
  const AddressLimitSettings s_;
  const uint64_t key_;
  mutable Mutex mu_;
  std::vector<Bucket> buckets_ CONCUR_GUARDED_BY(mu_);
  size_t live_ CONCUR_GUARDED_BY(mu_) = 0;
};

// True for 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104.
bool is_loopback(const Endpoint& e);

}  // namespace concur
