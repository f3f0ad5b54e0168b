#pragma once
// Where one instance stands in its room's log (issue 20): the epoch it follows, the last offset it
// delivered and that entry's stream ID. Pure (no Redis, no clock): the bridge feeds it what Redis
// said — positions read from the room's meta hash, live messages, entries read from the stream —
// and does what it answers. Every message reaches the members once and in offset order; what can
// no longer be had is counted and told as a gap, never skipped silently.
//
//   position   HMGET concur:<room>:meta epoch offset last: the newest offset and its entry
//   live       a publication on the channel, carrying epoch, offset and entry ID
//   read       XRANGE concur:<room>:log (last_id + COUNT n, page after page, until `target`
//
// The epoch changes only when a position says so: a live message of another epoch (or a forged
// one) asks for a position check and is not believed by itself. After a change the new epoch is
// read from its start; what this instance had already delivered is dropped by the senders'
// sequence numbers (SeenSeqs), and the log's trimmed head is not a second gap.
#include <cstdint>
#include <string>
#include <string_view>

namespace concur::redis {

struct RoomPosition {
  std::string epoch;    // empty: the room has no state in Redis (new, or Redis lost it)
  uint64_t offset = 0;  // the newest offset of `epoch`
  std::string last_id;  // its stream entry
};

class RoomCursor {
 public:
  // What the bridge does after a position.
  struct Verdict {
    bool epoch_changed = false;  // Redis lost the room's state: tell the members
    uint64_t lost = 0;           // epoch_changed: messages known to be lost (0: unknown)
    bool read = false;           // start reading the log (from read_after())
    // Same epoch, but Redis is behind what this instance delivered: a failover promoted a
    // replica that had not received the last publications. Its offsets will be given again to
    // other messages, so the bridge moves the room to a new epoch (room_script.hpp).
    bool rewound = false;
  };
  // The first position starts the cursor there: an instance delivers what is published after it
  // first looked, not the room's whole history. Later ones (after a reconnect) catch up to them.
  Verdict on_position(const RoomPosition& p);
  // What the cursor stood at when a position was asked for on the commands connection. Its reply
  // races live messages on the other connection, so it may be older than what was delivered since:
  // it is judged against what was known when it was asked, never against what came later.
  struct Asked {
    uint64_t epoch_serial = 0;
    uint64_t delivered = 0;
  };
  Asked asked() const { return {epoch_serial_, delivered_}; }
  // The periodic check: reads only when the previous check's offset was not reached meanwhile,
  // so a cursor a little behind live traffic is left to live delivery; a wedged one is not.
  // A position from before the cursor's epoch was adopted is stale and ignored.
  Verdict on_check(const RoomPosition& p, const Asked& when);

  enum class Live {
    deliver,    // the next offset: deliver it (the cursor has moved)
    duplicate,  // at or below the cursor: drop
    read,       // ahead of the cursor: not delivered live; start reading the log now
    behind,     // ahead of the cursor while a read is going on: it will be read
    foreign,    // another epoch: check the position now
    ignored,    // before the first position
  };
  Live on_live(std::string_view epoch, uint64_t offset, std::string_view entry_id);

  // One entry of a read page. `gap_before`: offsets trimmed from the log just before it.
  struct Entry {
    bool deliver = false;
    uint64_t gap_before = 0;
  };
  Entry on_entry(uint64_t offset, std::string_view entry_id);
  void on_junk(std::string_view entry_id);  // an entry that is not concur's: skipped
  // A page is asked for now: what it can hold is what was known to exist when it was asked. (A
  // live message on the other connection may raise the target while the page is on its way.)
  void on_page_sent() { sent_target_ = target_; }
  // The end of a page of `n` entries asked for `count`. More: read the next page. Else the read is
  // over; `lost` counts offsets up to the target that the log no longer has.
  struct PageEnd {
    bool more = false;
    uint64_t lost = 0;
  };
  PageEnd on_page_end(size_t n, size_t count);
  // The read's request failed (link lost): it starts again after the reconnect's position.
  void abandon_read() { reading_ = false; }

  // Each read started has a new number: a page answered for an older read is ignored.
  uint64_t read_generation() const { return generation_; }
  bool started() const { return started_; }
  bool reading() const { return reading_; }
  const std::string& epoch() const { return epoch_; }
  uint64_t delivered() const { return delivered_; }
  uint64_t target() const { return target_; }
  // The XRANGE start: "-" from the beginning of the epoch, else "(<last id>".
  std::string read_after() const { return last_id_.empty() ? std::string("-") : "(" + last_id_; }

 private:
  Verdict follow(const RoomPosition& p, bool catch_up);
  void restart_epoch(std::string epoch, uint64_t target);
  bool begin_read();

  bool started_ = false;
  bool reading_ = false;
  std::string epoch_;
  uint64_t delivered_ = 0;
  uint64_t target_ = 0;   // the newest offset known to exist in this epoch
  uint64_t checked_ = 0;  // the offset the previous periodic check saw
  uint64_t generation_ = 0;
  uint64_t sent_target_ = 0;  // target_ when the page on its way was asked for
  bool fresh_epoch_ = false;  // nothing of this epoch read yet since the change was told
  uint64_t epoch_serial_ = 0;  // +1 each time epoch_ is (re)placed
  std::string last_id_;
};

}  // namespace concur::redis
