#pragma once
// chat-server over UDP (udp_multi_chat_server.py): a datagram is a message, an address is a
// member. The same ChatRoom as TCP; UdpMember is the room's view of an address.
//
// Thread contract: on_datagram and on_tick run on the one datagram-loop thread; the address table
// is not shared. The room is (it is thread-safe), so a room could be shared with TCP members.
//
// Reflection: this service never answers a datagram with a larger one. An error that would be
// larger than the datagram it answers is not sent (RELIABILITY #27). Only members get relays.
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
  void from_member(DatagramSink& sink, Table::iterator it, std::string_view message, size_t size,
                   Clock::time_point now);
  void remove(Table::iterator it, std::string_view why);
  // Sends "error: <text>" unless it would be larger than the datagram it answers (size bytes).
  static void answer(DatagramSink& sink, const Endpoint& to, size_t size, std::string_view text);

  const ChatSettings settings_;
  ChatRoom room_;
  Table members_;
};

}  // namespace concur::chat
