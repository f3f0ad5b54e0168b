#pragma once
// chat-server over UDP (udp_multi_chat_server.py): a datagram is a message, an address is a
// member. The same ChatRoom as TCP; UdpMember is the room's view of an address.
//
// Thread contract: on_datagram and on_tick run on the one datagram-loop thread; the address table
// is not shared. The room is (it is thread-safe), so a room could be shared with TCP members.
//
// Reflection (RELIABILITY #27, SPEC §3): a member always gets its `error:` reply — it already
// receives the room's traffic, so the reply amplifies nothing. An address that is not a member
// gets at most 3x the size of the datagram that caused the reply (QUIC's anti-amplification
// limit): a short text when the full one is larger (`[bob]` taken -> `error: ID taken`), nothing
// when even that is larger. Only members get relays.
#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>

#include "core/endpoint.hpp"
#include "services/chat_relay.hpp"
#include "services/chat_room.hpp"
#include "services/service.hpp"

namespace concur::chat {

class UdpMember final : public ChatMember {
 public:
  // The sink is the loop's socket; it outlives every member.
  UdpMember(DatagramSink& sink, const Endpoint& to) : sink_(sink), to_(to) {}
  bool deliver(const ChatMessage& m) override {
    sink_.send_to(to_, m.text());
    return true;  // UDP: the kernel may drop it, as it may drop any datagram
  }

 private:
  DatagramSink& sink_;
  const Endpoint to_;
};

class ChatDatagramService final : public DatagramService {
 public:
  using Clock = FloodGuard::Clock;
  explicit ChatDatagramService(ChatSettings settings);

  void on_datagram(DatagramSink& sink, const Endpoint& from, std::string_view bytes, bool truncated) override {
    handle(sink, from, bytes, truncated, Clock::now());
  }
  void on_tick(DatagramSink&) override { expire(Clock::now()); }

  // The same, at a given time (tests).
  void handle(DatagramSink& sink, const Endpoint& from, std::string_view bytes, bool truncated,
              Clock::time_point now);
  void expire(Clock::time_point now);

  ChatRoom& room() { return room_; }

 private:
  struct Member {
    std::shared_ptr<UdpMember> target;
    std::string id;
    std::string who;
    FloodGuard flood;
    Clock::time_point last_seen;
  };
  using Table = std::unordered_map<Endpoint, Member, EndpointHash>;

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
};

}  // namespace concur::chat
