// The broker-link state machine (src/link/broker_link.hpp) driven with made-up times and a
// protocol that records what it is asked to do: transitions, back-off bounds, the drain on up,
// the health timeout that makes /readyz fail before the link is dropped.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "link/broker_link.hpp"
#include "metrics/readiness.hpp"

namespace concur::link {
namespace {

using Clock = BrokerLink::Clock;

struct Recorder final : LinkProtocol {
  std::vector<std::string> calls;
  std::vector<LinkDown> downs;
  std::vector<LinkUp> ups;
  std::vector<int> queue;  // what waits for the link; on_up drains it
  std::vector<int> sent;
  BrokerLink* link = nullptr;
  bool fail_at_once = false;

  void open() override {
    calls.push_back("open");
    if (fail_at_once) link->lost(now, "cannot resolve");
  }
  void on_down(const LinkDown& d) override {
    calls.push_back("down");
    downs.push_back(d);
  }
  void on_up(const LinkUp& u) override {
    calls.push_back("up");
    ups.push_back(u);
    sent.insert(sent.end(), queue.begin(), queue.end());
    queue.clear();
  }
  std::string down_reason(const std::string& why) const override { return "no link (" + why + ")"; }
  Clock::time_point now{};  // what open() passes to lost()
};

// The reason /readyz gives for the check `name`, "" when it passes.
std::string ready_reason(const std::string& name) {
  for (const auto& [n, why] : metrics::readiness().failing)
    if (n == name) return why;
  return "";
}

LinkSettings settings(const std::string& name, Millis reply_timeout = Millis(0)) {
  LinkSettings s;
  s.ready_name = name;
  s.ready_initially = "not connected yet";
  s.backoff_initial = Millis(500);
  s.backoff_cap = Millis(5000);
  s.jitter = 0.5;
  s.connect_timeout = Millis(1000);
  s.reply_timeout = reply_timeout;
  return s;
}

const Clock::time_point t0 = Clock::time_point{} + std::chrono::hours(1);

TEST(LinkBroker, FirstAttemptIsDueAtOnceAndUpDrainsWhatWaited) {
  Recorder p;
  BrokerLink l(settings("t-link-a"), p, [] { return 0.0; });
  p.link = &l;
  EXPECT_EQ(l.state(), LinkState::down);
  EXPECT_TRUE(l.first_attempt());
  EXPECT_EQ(ready_reason("t-link-a"), "not connected yet");
  p.queue = {1, 2, 3};
  l.poll(t0);
  EXPECT_EQ(l.state(), LinkState::connecting);
  EXPECT_EQ(p.calls, (std::vector<std::string>{"open"}));
  EXPECT_TRUE(p.sent.empty());  // nothing goes out before the link is up
  l.connected(t0 + Millis(10));
  EXPECT_EQ(l.state(), LinkState::up);
  ASSERT_EQ(p.ups.size(), 1u);
  EXPECT_TRUE(p.ups[0].first);
  EXPECT_FALSE(p.ups[0].ended_outage);
  EXPECT_EQ(p.sent, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(ready_reason("t-link-a"), "");
}

TEST(LinkBroker, LossBacksOffAndTheOutageIsReportedOnce) {
  Recorder p;
  BrokerLink l(settings("t-link-b"), p, [] { return 0.0; });  // no jitter: delays are the bases
  p.link = &l;
  l.poll(t0);
  l.connected(t0);
  l.lost(t0 + Millis(100), "connection closed");
  EXPECT_EQ(l.state(), LinkState::down);
  ASSERT_EQ(p.downs.size(), 1u);
  EXPECT_TRUE(p.downs[0].was_up);
  EXPECT_TRUE(p.downs[0].ever_up);
  EXPECT_TRUE(p.downs[0].first_of_outage);
  EXPECT_EQ(p.downs[0].retry_in, Millis(500));
  EXPECT_EQ(ready_reason("t-link-b"), "no link (connection closed)");

  // Not before the back-off is over.
  l.poll(t0 + Millis(599));
  EXPECT_EQ(l.state(), LinkState::down);
  l.poll(t0 + Millis(600));
  EXPECT_EQ(l.state(), LinkState::connecting);
  l.lost(t0 + Millis(610), "connection refused");
  ASSERT_EQ(p.downs.size(), 2u);
  EXPECT_FALSE(p.downs[1].was_up);
  EXPECT_FALSE(p.downs[1].first_of_outage);  // the same outage: not said again
  EXPECT_EQ(p.downs[1].retry_in, Millis(1000));

  l.poll(t0 + Millis(1610));
  l.connected(t0 + Millis(1620));
  ASSERT_EQ(p.ups.size(), 2u);
  EXPECT_FALSE(p.ups[1].first);
  EXPECT_TRUE(p.ups[1].ended_outage);
  // A success resets the back-off.
  l.lost(t0 + Millis(2000), "connection closed");
  EXPECT_EQ(p.downs.back().retry_in, Millis(500));
  EXPECT_TRUE(p.downs.back().first_of_outage);
}

TEST(LinkBroker, BackoffStaysWithinItsBoundsWithJitter) {
  Recorder p;
  BrokerLink l(settings("t-link-c"), p);  // a seeded PRNG, as in production
  p.link = &l;
  auto now = t0;
  Millis base(500);
  for (int i = 0; i < 40; ++i) {
    l.poll(now);
    ASSERT_EQ(l.state(), LinkState::connecting);
    l.lost(now, "refused");
    Millis d = p.downs.back().retry_in;
    EXPECT_GE(d, base / 2) << "attempt " << i;  // jitter 0.5: at most half shorter
    EXPECT_LE(d, base) << "attempt " << i;       // never longer than the base, nor the cap
    EXPECT_EQ(l.next_attempt(), now + d);
    base = std::min(base * 2, Millis(5000));
    now += d;
  }
  EXPECT_EQ(l.attempts(), 40u);
  EXPECT_EQ(l.losses(), 40u);
}

TEST(LinkBroker, ConnectTimeoutFailsTheAttempt) {
  Recorder p;
  BrokerLink l(settings("t-link-d"), p, [] { return 0.0; });
  p.link = &l;
  l.poll(t0);
  EXPECT_LE(l.next_due(), t0 + Millis(1001));
  l.poll(t0 + Millis(1000));  // exactly the timeout: still waiting
  EXPECT_EQ(l.state(), LinkState::connecting);
  l.poll(t0 + Millis(1001));
  EXPECT_EQ(l.state(), LinkState::down);
  ASSERT_EQ(p.downs.size(), 1u);
  EXPECT_EQ(p.downs[0].why, "no answer within 1000 ms");
  EXPECT_FALSE(p.downs[0].ever_up);
  // A late "connected" of the given-up attempt is a success all the same (libmosquitto keeps
  // connecting after our deadline), and resets the back-off.
  l.connected(t0 + Millis(1100));
  EXPECT_EQ(l.state(), LinkState::up);
  ASSERT_EQ(p.ups.size(), 1u);
  EXPECT_TRUE(p.ups[0].ended_outage);
  l.lost(t0 + Millis(1200), "connection closed");
  EXPECT_EQ(p.downs.back().retry_in, Millis(500));
  // Once stopped, it is not.
  l.stop();
  l.connected(t0 + Millis(1300));
  EXPECT_EQ(l.state(), LinkState::stopped);
}

TEST(LinkBroker, AnAttemptThatFailsAtOnceIsBackedOff) {
  Recorder p;
  p.fail_at_once = true;
  p.now = t0;
  BrokerLink l(settings("t-link-e"), p, [] { return 0.0; });
  p.link = &l;
  l.poll(t0);
  EXPECT_EQ(l.state(), LinkState::down);
  EXPECT_EQ(l.next_attempt(), t0 + Millis(500));
  EXPECT_EQ(ready_reason("t-link-e"), "no link (cannot resolve)");
}

TEST(LinkBroker, ALateReplyMakesItNotReadyThenDropsTheLink) {
  Recorder p;
  BrokerLink l(settings("t-link-f", Millis(1500)), p, [] { return 0.0; });
  p.link = &l;
  l.poll(t0);
  l.connected(t0);
  l.request_sent(t0);
  l.poll(t0 + Millis(1000));  // 2/3 of the timeout: not yet
  EXPECT_FALSE(l.stalled());
  EXPECT_EQ(ready_reason("t-link-f"), "");
  l.poll(t0 + Millis(1001));
  EXPECT_TRUE(l.stalled());
  EXPECT_EQ(l.state(), LinkState::up);  // still up: only /readyz says so
  EXPECT_EQ(ready_reason("t-link-f"), "the broker has not answered for 1001 ms");
  // A reply comes after all: ready again, no reconnect.
  l.replied(t0 + Millis(1200));
  l.poll(t0 + Millis(1250));
  EXPECT_FALSE(l.stalled());
  EXPECT_EQ(ready_reason("t-link-f"), "");
  EXPECT_TRUE(p.downs.empty());
  // Then one that never comes: dropped past the timeout.
  l.request_sent(t0 + Millis(2000));
  l.poll(t0 + Millis(3500));
  EXPECT_EQ(l.state(), LinkState::up);
  l.poll(t0 + Millis(3501));
  EXPECT_EQ(l.state(), LinkState::down);
  ASSERT_EQ(p.downs.size(), 1u);
  EXPECT_EQ(p.downs[0].why, "no reply for 1500 ms");
  EXPECT_EQ(l.outstanding(), 0u);
}

TEST(LinkBroker, WithoutReplyTimeoutThereIsNoHealthCheck) {
  Recorder p;
  BrokerLink l(settings("t-link-g"), p, [] { return 0.0; });
  p.link = &l;
  l.poll(t0);
  l.connected(t0);
  l.request_sent(t0);
  EXPECT_EQ(l.next_due(), Clock::time_point::max());
  l.poll(t0 + std::chrono::hours(1));
  EXPECT_EQ(l.state(), LinkState::up);
  EXPECT_EQ(ready_reason("t-link-g"), "");
}

TEST(LinkBroker, StopDrainsWhenUpAndNeverRetries) {
  Recorder p;
  BrokerLink l(settings("t-link-h"), p, [] { return 0.0; });
  p.link = &l;
  l.poll(t0);
  l.connected(t0);
  l.stop();
  EXPECT_EQ(l.state(), LinkState::draining);
  EXPECT_TRUE(l.can_send());
  EXPECT_FALSE(l.up());
  l.lost(t0 + Millis(5), "connection closed");
  EXPECT_EQ(l.state(), LinkState::stopped);
  EXPECT_EQ(p.downs.back().retry_in, Millis(0));
  l.poll(t0 + std::chrono::hours(1));
  EXPECT_EQ(l.state(), LinkState::stopped);
  EXPECT_EQ(l.attempts(), 1u);

  Recorder q;
  BrokerLink m(settings("t-link-i"), q, [] { return 0.0; });
  q.link = &m;
  m.stop();  // down: nothing to drain
  EXPECT_EQ(m.state(), LinkState::stopped);
  m.poll(t0);
  EXPECT_TRUE(q.calls.empty());
}

TEST(LinkBroker, AnOutageKnownAtStartIsNotReportedAgainAndRefusalsAreEachSaid) {
  Recorder p;
  BrokerLink l(settings("t-link-j"), p, [] { return 0.0; });
  p.link = &l;
  l.outage_known("connection refused");
  EXPECT_FALSE(l.first_attempt());
  EXPECT_EQ(ready_reason("t-link-j"), "no link (connection refused)");
  l.poll(t0);
  l.lost(t0, "connection refused");
  EXPECT_FALSE(p.downs.back().first_of_outage);
  l.report_next_loss();
  l.poll(t0 + Millis(500));
  l.lost(t0 + Millis(500), "not authorised");
  EXPECT_TRUE(p.downs.back().first_of_outage);
}

TEST(LinkBroker, ItsReadinessCheckGoesWithIt) {
  {
    Recorder p;
    BrokerLink l(settings("t-link-k"), p, [] { return 0.0; });
    EXPECT_EQ(ready_reason("t-link-k"), "not connected yet");
  }
  EXPECT_EQ(ready_reason("t-link-k"), "");
}

}  // namespace
}  // namespace concur::link
