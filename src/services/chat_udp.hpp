#pragma once
// chat-server over UDP (udp_multi_chat_server.py): a datagram is a message, an address is a
// member. The same ChatRoom as TCP; UdpMember is the room's view of an address.
//
// Thread contract: on_datagram and on_tick run on the one datagram-loop thread; the address table
// is not shared. The room is (it is thread-safe), so a room could be shared with TCP members.
// In a federated room the answer about a joining ID comes from the bridge's thread: it is queued
// and applied on the loop thread (on the next datagram or tick; the loop ticks often when federated).
//
// Reflection (RELIABILITY #27, SPEC §3): a member always gets its `error:` reply — it already
// receives the room's traffic, so the reply amplifies nothing. An address that is not a member
// gets at most 3x the size of the datagram that caused the reply (QUIC's anti-amplification
// limit): a short text when the full one is larger (`[bob]` taken -> `error: ID taken`), nothing
// when even that is larger. Only members get relays.
#include "core/thread_annotations.hpp"
#include <chrono>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/endpoint.hpp"
#include "services/chat_relay.hpp"
#include "services/chat_room.hpp"
#include "services/service.hpp"

namespace concur::chat {

class UdpMember final : public ChatMember {
 public:
  // The sink is the loop's socket; it outlives every member. `evicted` runs (on any thread) when
  // evict() is called: the service posts its removal to the loop thread.
  UdpMember(DatagramSink& sink, const Endpoint& to, std::function<void()> evicted = {})
      : sink_(sink), to_(to), on_evicted_(std::move(evicted)) {}
  // Until activate(), the member holds its ID while the other servers of a federated room are
  // asked about it: what the room says meanwhile is held (up to 64 datagrams) and sent on
  // activate(), or dropped with the member if it loses the ID.
  bool deliver(const ChatMessage& m) override {
    if (!active_.load(std::memory_order_acquire)) {
      MutexLock lock(mu_);
      if (!active_.load(std::memory_order_relaxed)) {
        if (held_.size() < 64 + replayed_) held_.emplace_back(m.text());
        return true;
      }
    }
    sink_.send_to(to_, m.text());
    return true;  // UDP: the kernel may drop it, as it may drop any datagram
  }
  // The replay comes before what was held (it is older).
  void replay(const Replay& messages) override {
    MutexLock lock(mu_);
    if (active_.load(std::memory_order_relaxed)) {
      for (const auto& m : messages) sink_.send_to(to_, m->text());
      return;
    }
    std::vector<std::string> texts;
    for (const auto& m : messages) texts.emplace_back(m->text());
    held_.insert(held_.begin(), texts.begin(), texts.end());
    replayed_ += texts.size();
  }
  void activate() {
    MutexLock lock(mu_);
    for (const auto& d : held_) sink_.send_to(to_, d);
    held_.clear();
    active_.store(true, std::memory_order_release);
  }
  // Applied by the service on its loop thread (the error reply and the removal).
  void evict(std::string_view error_text) override {
    {
      MutexLock lock(mu_);
      evict_text_ = error_text;
    }
    evicted_.store(true, std::memory_order_release);
    if (on_evicted_) on_evicted_();
  }
  bool evicted() const { return evicted_.load(std::memory_order_acquire); }
  std::string evict_text() const {
    MutexLock lock(mu_);
    return evict_text_;
  }

 private:
  DatagramSink& sink_;
  const Endpoint to_;
  const std::function<void()> on_evicted_;
  std::atomic<bool> evicted_{false};
  std::atomic<bool> active_{false};
  mutable Mutex mu_;
  std::string evict_text_ CONCUR_GUARDED_BY(mu_);
  std::vector<std::string> held_ CONCUR_GUARDED_BY(mu_);
  size_t replayed_ CONCUR_GUARDED_BY(mu_) = 0;  // of held_, the replay's
};

class ChatDatagramService final : public DatagramService {
 public:
  using Clock = FloodGuard::Clock;
  explicit ChatDatagramService(ChatSettings settings);

  void on_datagram(DatagramSink& sink, const Endpoint& from, std::string_view bytes, bool truncated) override {
    handle(sink, from, bytes, truncated, Clock::now());
  }
  void on_tick(DatagramSink& sink) override { tick(sink, Clock::now()); }

  // The same, at a given time (tests).
  void handle(DatagramSink& sink, const Endpoint& from, std::string_view bytes, bool truncated,
              Clock::time_point now);
  void expire(Clock::time_point now);
  // Expires idle members about once a second. (Answers about joining IDs and evictions from the
  // bridge arrive as tasks posted to the loop, not by polling.)
  void tick(DatagramSink& sink, Clock::time_point now);

  ChatRoom& room() { return room_; }

 private:
  struct Member {
    std::shared_ptr<UdpMember> target;
    std::string id;
    std::string who;
    FloodGuard flood;
    Clock::time_point last_seen;
    bool claiming = false;          // the other servers are being asked about the ID
    size_t join_size = 0;           // claiming: size of the join datagram (for the reply bound)
    std::vector<std::string> held;  // claiming: messages to handle once joined
  };
  using Table = std::unordered_map<Endpoint, Member, EndpointHash>;
  // The answer about a joining ID, on the loop thread.
  void apply_answer(DatagramSink& sink, const Endpoint& from, const std::shared_ptr<UdpMember>& target,
                    const RemoteIds::Claim& claim, Clock::time_point now);
  void on_claimed(DatagramSink& sink, Table::iterator it, const RemoteIds::Claim& claim, Clock::time_point now);
  void apply_evictions(DatagramSink& sink);

  void from_stranger(DatagramSink& sink, const Endpoint& from, std::string_view message, size_t size,
                     Clock::time_point now);
  void from_member(DatagramSink& sink, Table::iterator it, std::string_view message, Clock::time_point now);
  void remove(Table::iterator it, std::string_view why);
  static void answer_member(DatagramSink& sink, const Endpoint& to, std::string_view text);
  // "error: <text>", or "error: <short_text>" when that is too large, within kMaxAmplification x
  // `size` (the datagram answered); nothing when neither fits.
  static void answer_stranger(DatagramSink& sink, const Endpoint& to, size_t size, std::string_view text,
                              std::string_view short_text);
  static constexpr size_t kMaxAmplification = 3;

  const ChatSettings settings_;
  ChatRoom room_;
  Table members_;
  Clock::time_point next_expiry_{};
};

}  // namespace concur::chat
