#include "link/broker_link.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace concur::link {

const char* state_name(LinkState s) {
  switch (s) {
    case LinkState::down: return "down";
    case LinkState::connecting: return "connecting";
    case LinkState::up: return "up";
    case LinkState::draining: return "draining";
    case LinkState::stopped: return "stopped";
  }
  return "?";
}

std::string LinkProtocol::stalled_reason(Millis silent) const {
  return fmt::format("the broker has not answered for {} ms", silent.count());
}

std::string LinkProtocol::timeout_reason(Millis timeout) const {
  return fmt::format("no answer within {} ms", timeout.count());
}

BrokerLink::BrokerLink(LinkSettings settings, LinkProtocol& protocol, std::function<double()> uniform01)
    : s_(std::move(settings)),
      p_(protocol),
      backoff_(s_.backoff_initial, s_.backoff_cap, s_.jitter,
               uniform01 ? std::move(uniform01) : iot::Backoff::seeded_uniform01()),
      ready_(s_.ready_name, s_.ready_initially) {}

void BrokerLink::poll(Clock::time_point now) {
  switch (state_) {
    case LinkState::down:
      if (now < next_attempt_) return;
      state_ = LinkState::connecting;
      attempt_started_ = now;
      progress_ = now;
      outstanding_ = 0;
      ++attempts_;
      p_.open();  // may report lost() at once (cannot even start): the state says so then
      return;
    case LinkState::connecting:
      if (now - attempt_started_ > s_.connect_timeout) lost(now, p_.timeout_reason(s_.connect_timeout));
      return;
    case LinkState::up:
    case LinkState::draining: check_health(now); return;
    case LinkState::stopped: return;
  }
}

void BrokerLink::check_health(Clock::time_point now) {
  if (s_.reply_timeout.count() <= 0 || outstanding_ == 0) {
    if (stalled_) {
      stalled_ = false;
      ready_.ready();
    }
    return;
  }
  auto silent = now - progress_;
  if (silent > s_.reply_timeout) {
    lost(now, fmt::format("no reply for {} ms", s_.reply_timeout.count()));
    return;
  }
  // Not ready before the link is given up: /readyz shows a stalled broker within 2/3 of the
  // timeout, and a late reply makes it ready again without a reconnect.
  bool stalled = silent > s_.reply_timeout * 2 / 3;
  if (stalled == stalled_) return;
  stalled_ = stalled;
  if (stalled) ready_.not_ready(p_.stalled_reason(std::chrono::duration_cast<Millis>(silent)));
  else ready_.ready();
}

BrokerLink::Clock::time_point BrokerLink::next_due() const {
  switch (state_) {
    case LinkState::down: return next_attempt_;
    case LinkState::connecting:
      return attempt_started_ + s_.connect_timeout + Millis(1);  // poll() fails it once past the timeout
    case LinkState::up:
    case LinkState::draining:
      if (s_.reply_timeout.count() <= 0 || outstanding_ == 0) return Clock::time_point::max();
      return progress_ + (stalled_ ? s_.reply_timeout : s_.reply_timeout * 2 / 3) + Millis(1);
    case LinkState::stopped: return Clock::time_point::max();
  }
  return Clock::time_point::max();
}

void BrokerLink::connected(Clock::time_point now) {
  // Also from down: a connection that completes after its attempt timed out is as good as any
  // (libmosquitto keeps connecting). Not once stopping: the owner is closing.
  if (state_ != LinkState::connecting && state_ != LinkState::down) return;
  LinkUp u{!ever_up_, in_outage_};
  state_ = LinkState::up;
  stalled_ = false;
  progress_ = now;
  backoff_.reset();
  ever_up_ = true;
  in_outage_ = false;
  ++ups_;
  ready_.ready();
  p_.on_up(u);
}

void BrokerLink::lost(Clock::time_point now, std::string why) {
  if (state_ == LinkState::down || state_ == LinkState::stopped) return;  // already handled
  if (why.empty()) why = "connection lost";
  LinkDown d;
  d.why = std::move(why);
  d.was_up = state_ == LinkState::up || state_ == LinkState::draining;
  d.ever_up = ever_up_;
  d.first_of_outage = !in_outage_;
  if (state_ == LinkState::draining) {
    state_ = LinkState::stopped;
  } else {
    state_ = LinkState::down;
    d.retry_in = backoff_.next();
    next_attempt_ = now + d.retry_in;
  }
  in_outage_ = true;
  stalled_ = false;
  outstanding_ = 0;
  ++losses_;
  ready_.not_ready(p_.down_reason(d.why));
  p_.on_down(d);
}

void BrokerLink::outage_known(const std::string& why) {
  in_outage_ = true;
  ready_.not_ready(p_.down_reason(why));
}

void BrokerLink::stop() {
  if (state_ == LinkState::up) state_ = LinkState::draining;
  else if (state_ != LinkState::draining) state_ = LinkState::stopped;
}

void BrokerLink::request_sent(Clock::time_point now) {
  if (outstanding_++ == 0) progress_ = now;
}

void BrokerLink::replied(Clock::time_point now) {
  if (outstanding_ > 0) --outstanding_;
  progress_ = now;
}

}  // namespace concur::link
