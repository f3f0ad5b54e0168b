#pragma once
// The life of one link to a broker (Redis for chat rooms, an MQTT broker for the collector): the
// part the Redis bridge and the MQTT sink had each written for themselves.
//
//   down ──(attempt due)──► connecting ──connected()──► up ──stop()──► draining ──► stopped
//     ▲                         │ (connect timeout)      │ (reply overdue, lost())
//     └──────── lost() ◄────────┴────────────────────────┘
//
// - Reconnects: each loss waits a jittered back-off (iot::Backoff: `backoff_initial` doubling to
//   `backoff_cap`, each delay drawn from [base × (1 − jitter), base]); a success resets it.
// - Health: with a `reply_timeout`, the protocol reports the requests it sends and the replies it
//   gets; a reply two thirds of reply_timeout late makes the link not ready on /readyz (a stalled
//   broker: SIGSTOP, a long fork) while it is still up, and a reply reply_timeout late drops it.
// - Readiness: the link owns the /readyz check (metrics::ReadyFlag) and says why it fails.
// - Outages: the protocol is told when the link goes down and whether this loss is the first of
//   an outage (log once per outage, not once per failed attempt), and when it comes up, whether
//   that ends an outage. What the lines say stays the protocol's.
//
// What differs between brokers is behind LinkProtocol: how to open and tear down a connection,
// what to send once up (drain), how to word the log lines. The link itself does no I/O and reads
// no clock: every call takes `now`, so tests drive it with made-up times. poll() is called from a
// timer of the owner's loop; next_due() says when it has something to do.
//
// Thread contract: one thread (the owner's loop); the ReadyFlag inside is safe from any thread.
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "core/duration.hpp"
#include "iot/backoff.hpp"
#include "metrics/readiness.hpp"

namespace concur::link {

enum class LinkState { down, connecting, up, draining, stopped };
const char* state_name(LinkState s);

struct LinkSettings {
  std::string ready_name;          // the /readyz check ("redis", "mqtt mqtt://host:port")
  std::string ready_initially;     // its reason before the first connection
  Millis backoff_initial{500}, backoff_cap{5000};
  double jitter = 0.5;
  Millis connect_timeout{1000};    // connecting for longer: the attempt failed
  Millis reply_timeout{0};         // 0: no health check (the protocol has its own keepalive)
};

struct LinkDown {
  std::string why;       // "connection refused", "no reply for 1500 ms"
  Millis retry_in{0};    // when the next attempt starts (0 while stopping: none)
  bool was_up = false;   // lost an established link, not a failed attempt
  bool ever_up = false;  // the link was up at least once before
  bool first_of_outage = false;  // the first loss since the link was last up: say it once
};

struct LinkUp {
  bool first = false;         // the first time ever
  bool ended_outage = false;  // a loss was reported before (it ends that outage)
};

class BrokerLink;

// The broker-specific half. Called by the link, on its thread; none of these may call back into
// lost() or connected() synchronously except open() (a connection that fails at once).
class LinkProtocol {
 public:
  virtual ~LinkProtocol() = default;
  // Starts a non-blocking connection; its outcome is reported through connected() or lost().
  virtual void open() = 0;
  // The link went down (already counted and backed off): drop the connection, requeue what was in
  // flight, log when `d.first_of_outage`.
  virtual void on_down(const LinkDown& d) = 0;
  // The link is up: log, re-subscribe, drain what waited.
  virtual void on_up(const LinkUp& u) = 0;
  // /readyz reasons.
  virtual std::string down_reason(const std::string& why) const { return why; }
  virtual std::string stalled_reason(Millis silent) const;
  // The failure of an attempt that took longer than connect_timeout.
  virtual std::string timeout_reason(Millis timeout) const;
};

class BrokerLink {
 public:
  using Clock = std::chrono::steady_clock;

  // `uniform01` feeds the back-off jitter (tests pin it); empty: a seeded PRNG. The first attempt
  // is due at once (the first poll()).
  BrokerLink(LinkSettings settings, LinkProtocol& protocol, std::function<double()> uniform01 = {});
  BrokerLink(const BrokerLink&) = delete;
  BrokerLink& operator=(const BrokerLink&) = delete;

  // Does what is due: an attempt (down), the connect timeout (connecting), the health check (up).
  void poll(Clock::time_point now);
  // When poll() next has something to do (Clock::time_point::max(): nothing without an event).
  Clock::time_point next_due() const;

  // Reports from the protocol. connected() counts while connecting or down (a late success).
  void connected(Clock::time_point now);
  void lost(Clock::time_point now, std::string why);
  // An outage known before the first attempt (a check at start that failed): the first loss is
  // then not reported again as the start of one.
  void outage_known(const std::string& why);
  // The next loss is logged again even inside an outage (the broker refused us: say each refusal).
  void report_next_loss() { in_outage_ = false; }
  // No more attempts. Up: draining (the protocol may still send, the owner decides how long);
  // otherwise stopped. A loss while draining stops it.
  void stop();

  // Health: a request that expects a reply was sent / a reply came.
  void request_sent(Clock::time_point now);
  void replied(Clock::time_point now);
  size_t outstanding() const { return outstanding_; }

  LinkState state() const { return state_; }
  bool up() const { return state_ == LinkState::up; }
  bool can_send() const { return state_ == LinkState::up || state_ == LinkState::draining; }
  bool ever_up() const { return ever_up_; }
  bool in_outage() const { return in_outage_; }
  // Connecting (or about to) for the first time, with nothing failed yet.
  bool first_attempt() const { return !ever_up_ && !in_outage_; }
  bool stalled() const { return stalled_; }

  // Counters since start, for tests and logs.
  uint64_t attempts() const { return attempts_; }
  uint64_t losses() const { return losses_; }
  uint64_t ups() const { return ups_; }
  Clock::time_point next_attempt() const { return next_attempt_; }

 private:
  void check_health(Clock::time_point now);

  const LinkSettings s_;
  LinkProtocol& p_;
  iot::Backoff backoff_;
  metrics::ReadyFlag ready_;
  LinkState state_ = LinkState::down;
  bool ever_up_ = false;
  bool in_outage_ = false;  // a loss was reported and the link has not been up since
  bool stalled_ = false;
  Clock::time_point next_attempt_{};   // down: when to try again
  Clock::time_point attempt_started_{};
  Clock::time_point progress_{};  // the last reply, or when a reply became due
  size_t outstanding_ = 0;
  uint64_t attempts_ = 0, losses_ = 0, ups_ = 0;
};

}  // namespace concur::link
