#pragma once
// chat-server over TCP: the StreamService that every stream model (thread, select, poll, epoll,
// coro) drives, and over the WebSocket of --web too (a message transport, Conn::Framing::message:
// each text message is one chat message; web/ws_conn.hpp). It turns a connection's bytes into joins and messages (chat_protocol) and makes
// the connection a member of the room through ConnMember, the room's only view of a socket.
//
// Thread contract: the callbacks of one connection run on its owner thread (service.hpp); its
// Session (in Conn::context) is touched only there. The room and the per-address counts are
// shared and locked; ConnMember::deliver runs on any thread and only calls Conn::send, which
// never blocks.
#include "core/thread_annotations.hpp"
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "services/chat_protocol.hpp"
#include "services/chat_relay.hpp"
#include <vector>

#include "services/chat_room.hpp"
#include "services/service.hpp"

namespace concur::chat {

// A connection as a room member. Line clients receive "text\n"; raw clients (the homework's
// Python clients) receive "text" alone, as they send; a message transport (a WebSocket) receives
// one message per chat message, and with offsets (/ws?since=…, chat_room.hpp) each one that is
// part of the room's history as "<offset> <text>".
class ConnMember final : public ChatMember {
 public:
  ConnMember(std::shared_ptr<Conn> conn, bool raw, bool offsets = false)
      : conn_(std::move(conn)), raw_(raw), offsets_(offsets) {}
  // Until activate(), the member holds its ID while the other servers of a federated room are
  // asked about it: what the room says meanwhile is held (up to kMaxHeld bytes) and sent on
  // activate(), or dropped with the member if it loses the ID, so a loser never sees the room.
  bool deliver(const ChatMessage& m) override {
    if (!active_.load(std::memory_order_acquire)) {
      MutexLock lock(held_mu_);
      if (!active_.load(std::memory_order_relaxed)) {
        std::string bytes = wire(m);
        if (held_bytes_ + bytes.size() <= kMaxHeld + replayed_bytes_) {
          held_bytes_ += bytes.size();
          held_.push_back(std::move(bytes));
        }
        return true;
      }
    }
    if (offsets_ && m.offset() != 0) return conn_->send(wire(m));
    return conn_->send(raw_ ? m.text() : m.line());
  }
  // The replay comes before what was held (it is older).
  void replay(const Replay& messages) override {
    MutexLock lock(held_mu_);
    std::vector<std::string> out;
    for (const auto& m : messages) out.push_back(wire(*m));
    if (active_.load(std::memory_order_relaxed)) {
      for (const auto& b : out) conn_->send(b);
      return;
    }
    for (const auto& b : out) replayed_bytes_ += b.size();
    held_bytes_ += replayed_bytes_;
    held_.insert(held_.begin(), std::make_move_iterator(out.begin()), std::make_move_iterator(out.end()));
  }
  void activate() {
    MutexLock lock(held_mu_);
    // One send per message: a message transport frames each send as one message.
    for (const auto& b : held_) conn_->send(b);
    held_.clear();
    active_.store(true, std::memory_order_release);
  }
  void evict(std::string_view error_text) override;
  bool evicted() const { return evicted_.load(std::memory_order_acquire); }

 private:
  std::string wire(const ChatMessage& m) const {
    if (offsets_ && m.offset() != 0) return std::to_string(m.offset()) + " " + std::string(m.text());
    return std::string(raw_ ? m.text() : m.line());
  }

  const std::shared_ptr<Conn> conn_;
  const bool raw_;
  const bool offsets_;
  std::atomic<bool> evicted_{false};
  static constexpr size_t kMaxHeld = 64 * 1024;
  std::atomic<bool> active_{false};
  Mutex held_mu_;
  std::vector<std::string> held_ CONCUR_GUARDED_BY(held_mu_);
  size_t held_bytes_ CONCUR_GUARDED_BY(held_mu_) = 0;
  size_t replayed_bytes_ CONCUR_GUARDED_BY(held_mu_) = 0;  // the replay does not count against kMaxHeld
};

class ChatStreamService final : public StreamService {
 public:
  // With a room of its own, or members of `room` (shared with a datagram service: chat-server
  // --transport udp --web).
  explicit ChatStreamService(ChatSettings settings);
  ChatStreamService(ChatSettings settings, ChatRoom& room);

  void on_open(Conn& c) override;
  void on_data(Conn& c, std::string_view bytes) override;
  void on_close(Conn& c) override;
  void on_timeout(Conn& c) override;

  ChatRoom& room() { return room_; }

 private:
  struct Session;
  static Session* session_of(Conn& c);
  void on_join_state(Conn& c, Session& s, JoinDecoder::State state);
  void join(Conn& c, Session& s, std::string id, bool raw);
  // A message transport's join: the first message is "[ID]" or "[ID]text".
  void join_message(Conn& c, Session& s, std::string_view text);
  // The room's answer about the ID on the other servers (federation); at once, or later from the
  // bridge's thread (then under the session's lock, like every callback).
  void on_claimed(Conn& c, Session& s, const RemoteIds::Claim& claim);
  void feed_lines(Conn& c, Session& s, std::string_view bytes);
  void feed_raw(Conn& c, Session& s, std::string_view bytes);
  void on_message(Conn& c, Session& s, std::string_view message);
  // Sends "error: <text>" (framed as the client frames) and closes, leaving the room.
  void refuse(Conn& c, Session& s, std::string_view text, std::string_view log_why);
  void send_error(Conn& c, const Session& s, std::string_view text);
  // Leaves the room and closes; `refused`: close_refused() (a page does not reconnect).
  void finish(Conn& c, Session& s, bool refused = false);

  const ChatSettings settings_;
  std::unique_ptr<ChatRoom> own_room_;  // unless the room is shared
  ChatRoom& room_;
};

}  // namespace concur::chat
