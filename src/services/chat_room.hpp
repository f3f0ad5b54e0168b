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
#include "core/thread_annotations.hpp"
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
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
  // Its place in the room's history (1, 2, …), 0 when it is not part of it (a notice, or a room
  // that keeps none). Set by the room under its lock before the fan-out that delivers it.
  uint64_t offset() const { return offset_; }
  void set_offset(uint64_t offset) const { offset_ = offset; }

 private:
  std::string line_;
  mutable uint64_t offset_ = 0;
};

class ChatMember {
 public:
  virtual ~ChatMember() = default;
  // Safe from any thread, never blocks. False when the member could not take the message (its
  // pending output is over its bound, or it is gone); its transport then disconnects it.
  virtual bool deliver(const ChatMessage& m) = 0;
  // The room removed this member because its ID turned out to be held elsewhere (another server of
  // a federated room won it during an outage). Tell the client `error: <error_text>` and end it.
  // Any thread, once.
  virtual void evict(std::string_view error_text) {}
  // The room's last messages for a member that just joined (--replay), called once by join()
  // before any later message reaches it. A member that holds messages until its ID is confirmed
  // sends these first; by default they are delivered at once.
  using Replay = std::vector<std::shared_ptr<const ChatMessage>>;
  virtual void replay(const Replay& messages) {
    for (const auto& m : messages) deliver(*m);
  }
};

// IDs held by other servers of the same room (the Redis bridge). Thread-safe.
class RemoteIds {
 public:
  struct Claim {
    bool ok;             // the ID is this server's now (or provisionally, while the link is down)
    std::string holder;  // !ok: the ID as its holder spelled it
  };
  using Done = std::function<void(Claim)>;
  virtual ~RemoteIds() = default;
  // Claims `id` for this server. Returns the answer when it is known at once; otherwise returns
  // nullopt and calls `done` exactly once, later, on another thread (never after the bridge stopped).
  virtual std::optional<Claim> claim(std::string_view id, Done done) = 0;
  // The member holding `id` left: give the ID up. Never blocks.
  virtual void release(std::string_view id) = 0;
};

class ChatRoom {
 public:
  // max_members: 0 means no limit.
  explicit ChatRoom(size_t max_members = 0);

  // --history / --replay (issue 20): keep the room's last `history` messages in memory and give a
  // new member the last `replay` of them (replay <= history); `resumable`: keep them also for
  // members that come back asking for what they missed (Resume). Call before serving.
  void keep_history(size_t history, size_t replay, bool resumable = false);

  // A member that can resume (a WebSocket page, /ws?since=OFFSET&epoch=EPOCH): it receives first
  // "offsets <epoch> <newest offset>", then what it missed since `since` (or, with an epoch that
  // is not this room's, one "error: history gap: …" line), and every later message with its offset.
  struct Resume {
    bool offsets = false;          // the member wants offsets
    std::optional<uint64_t> since;  // the last offset it had
    std::string epoch;             // the room epoch that offset belongs to
  };
  // This room's epoch: random per process, so offsets of an earlier run are never mistaken.
  const std::string& epoch() const { return epoch_; }

  enum class JoinStatus { joined, taken, full, already_member };
  struct JoinResult {
    JoinStatus status;
    std::string holder;  // taken: the ID as its holder spelled it
  };
  // Adds `member` under `id` unless the ID (ASCII case folded) is taken. Atomic: of any number of
  // concurrent joins with one ID, exactly one succeeds.
  JoinResult join(std::string_view id, std::shared_ptr<ChatMember> member, const Resume& resume);
  JoinResult join(std::string_view id, std::shared_ptr<ChatMember> member);
  // Removes `member`; false if it was not in the room. Releases its ID on the other servers.
  bool leave(const ChatMember& member);

  // Federation (SPEC §4): `bridge` receives every message of the room's members (it holds no ID
  // and is not counted by size()), and `ids` makes IDs unique across servers. Call before serving.
  void federate(std::shared_ptr<ChatMember> bridge, RemoteIds* ids);
  // After join() returned `joined`: claims the ID on the other servers (see RemoteIds::claim).
  // Without federation the answer is {ok} at once.
  std::optional<RemoteIds::Claim> claim(std::string_view id, RemoteIds::Done done);
  // Removes the member holding `id` (ASCII case folded) and calls its evict(error_text).
  bool evict(std::string_view id, std::string_view error_text);

  // Delivers m to every member except `from` (nullptr: to all). Returns how many took it.
  // `record`: part of the room's history (false for notices such as a history gap).
  size_t broadcast(const ChatMember* from, const ChatMessage& m, bool record = true);

  size_t size() const;
  std::vector<std::string> ids() const;  // sorted, for tests and diagnostics

 private:
  using List = std::vector<std::shared_ptr<ChatMember>>;
  struct Entry {
    std::string id;
    ChatMember* member;
  };

  const size_t max_members_;
  RemoteIds* remote_ = nullptr;  // set before serving, then read-only
  size_t listeners_ CONCUR_GUARDED_BY(mu_) = 0;         // members without an ID (the bridge)
  size_t history_ CONCUR_GUARDED_BY(mu_) = 0;
  size_t replay_ CONCUR_GUARDED_BY(mu_) = 0;
  bool keep_ CONCUR_GUARDED_BY(mu_) = false;        // recent_ is kept
  uint64_t next_offset_ CONCUR_GUARDED_BY(mu_) = 0;  // the newest offset given
  const std::string epoch_;
  // The last history_ messages, recorded under the lock that takes a fan-out's snapshot: a member
  // joining gets a message either in its replay or in the fan-out, never both, never neither.
  std::deque<std::shared_ptr<const ChatMessage>> recent_ CONCUR_GUARDED_BY(mu_);
  mutable Mutex mu_;
  std::shared_ptr<const List> members_ CONCUR_GUARDED_BY(mu_) = std::make_shared<List>();  // never mutated
  std::unordered_map<std::string, Entry> by_id_ CONCUR_GUARDED_BY(mu_);                  // folded ID -> entry
};

}  // namespace concur::chat
