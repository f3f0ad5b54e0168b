#pragma once
// One chat room: membership, unique IDs and fan-out. It knows no sockets, no transport and no
// framing: a member is a delivery target behind ChatMember (asio's chat_participant). A TCP
// connection, a UDP address or, later, a bridge to other servers (Redis pub/sub) are all members.
//
// Thread contract: every method is safe from any thread. The member list is copy-on-write (muduo's
// server_threaded_efficient): join/leave build a new list under the lock; broadcast takes the lock
// only to copy one shared_ptr and delivers from that snapshot without it. So fan-out never holds
// the lock while sending, and concurrent fan-outs (thread model, epoll --workers) do not
// serialize on it. A member that left may still receive a message from a snapshot taken just
// before it left; its deliver() must then do nothing (a closed Conn refuses sends).
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace concur::chat {

// One message on its way to members: the text and the same text as a line, built once per fan-out
// so that delivering it to a thousand members copies nothing.
class ChatMessage {
 public:
  explicit ChatMessage(std::string_view text) : line_(text) { line_.push_back('\n'); }
  std::string_view text() const { return std::string_view(line_).substr(0, line_.size() - 1); }
  std::string_view line() const { return line_; }

 private:
  std::string line_;
};

class ChatMember {
 public:
  virtual ~ChatMember() = default;
  // Safe from any thread, never blocks. False when the member could not take the message (its
  // pending output is over its bound, or it is gone); its transport then disconnects it.
  virtual bool deliver(const ChatMessage& m) = 0;
};

class ChatRoom {
 public:
  // max_members: 0 means no limit.
  explicit ChatRoom(size_t max_members = 0) : max_members_(max_members) {}

  enum class JoinStatus { joined, taken, full, already_member };
  struct JoinResult {
    JoinStatus status;
    std::string holder;  // taken: the ID as its holder spelled it
  };
  // Adds `member` under `id` unless the ID (ASCII case folded) is taken. Atomic: of any number of
  // concurrent joins with one ID, exactly one succeeds.
  JoinResult join(std::string_view id, std::shared_ptr<ChatMember> member);
  // Removes `member`; false if it was not in the room.
  bool leave(const ChatMember& member);

  // Delivers m to every member except `from` (nullptr: to all). Returns how many took it.
  size_t broadcast(const ChatMember* from, const ChatMessage& m) const;

  size_t size() const;
  std::vector<std::string> ids() const;  // sorted, for tests and diagnostics

 private:
  using List = std::vector<std::shared_ptr<ChatMember>>;
  struct Entry {
    std::string id;
    ChatMember* member;
  };

  const size_t max_members_;
  mutable std::mutex mu_;
  std::shared_ptr<const List> members_ = std::make_shared<List>();  // guarded by mu_; never mutated
  std::unordered_map<std::string, Entry> by_id_;                  // folded ID -> entry; guarded by mu_
};

}  // namespace concur::chat
