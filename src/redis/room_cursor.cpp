#include "redis/room_cursor.hpp"

#include <algorithm>
#include <utility>

namespace concur::redis {

bool RoomCursor::begin_read() {
  if (reading_) return false;  // the read going on goes on to the (raised) target
  reading_ = true;
  ++generation_;
  return true;
}

// Nothing of `epoch` delivered yet; `target` of it exists.
void RoomCursor::restart_epoch(std::string epoch, uint64_t target) {
  epoch_ = std::move(epoch);
  ++epoch_serial_;
  delivered_ = 0;
  last_id_.clear();
  target_ = target;
  checked_ = 0;
  fresh_epoch_ = false;
  if (reading_) {
    reading_ = false;  // a page still on its way belongs to the old epoch
    ++generation_;
  }
}

RoomCursor::Verdict RoomCursor::follow(const RoomPosition& p, bool catch_up) {
  Verdict v;
  if (!started_) {
    started_ = true;
    ++epoch_serial_;
    epoch_ = p.epoch;
    delivered_ = target_ = checked_ = p.offset;
    last_id_ = p.last_id;
    return v;
  }
  if (p.epoch == epoch_) {
    if (!epoch_.empty() && p.offset < delivered_) {
      v.rewound = true;
      return v;
    }
    target_ = std::max(target_, p.offset);
    v.read = catch_up && delivered_ < target_ && begin_read();
    return v;
  }
  // Another epoch. From no epoch (the room was empty when this instance looked) it is simply the
  // room's start; from one this instance followed, Redis lost the room's state.
  bool changed = !epoch_.empty();
  if (changed) {
    v.epoch_changed = true;
    v.lost = target_ > delivered_ ? target_ - delivered_ : 0;
  }
  restart_epoch(p.epoch, p.offset);
  fresh_epoch_ = changed;
  v.read = target_ > 0 && begin_read();
  return v;
}

RoomCursor::Verdict RoomCursor::on_position(const RoomPosition& p) { return follow(p, true); }

RoomCursor::Verdict RoomCursor::on_check(const RoomPosition& p, const Asked& when) {
  if (!started_) {
    Verdict v = follow(p, true);
    checked_ = p.offset;
    return v;
  }
  if (when.epoch_serial != epoch_serial_) return {};  // asked before this epoch was placed
  if (p.epoch != epoch_) {
    Verdict v = follow(p, true);
    checked_ = p.offset;
    return v;
  }
  Verdict v;
  if (!epoch_.empty() && p.offset < when.delivered) {  // Redis behind what was delivered before asking
    v.rewound = true;
    return v;
  }
  if (p.offset < delivered_) return v;  // live delivery went past it while the answer came
  target_ = std::max(target_, p.offset);
  bool wedged = delivered_ < checked_;  // live delivery did not reach what the last check saw
  checked_ = p.offset;
  v.read = wedged && delivered_ < target_ && begin_read();
  return v;
}

RoomCursor::Live RoomCursor::on_live(std::string_view epoch, uint64_t offset, std::string_view entry_id) {
  if (!started_) return Live::ignored;
  if (epoch_.empty()) {
    // The room was empty when this instance looked: this is its epoch's first message we see.
    restart_epoch(std::string(epoch), offset);
  } else if (epoch != epoch_) {
    return Live::foreign;
  }
  if (offset <= delivered_) return Live::duplicate;
  target_ = std::max(target_, offset);
  if (reading_) return Live::behind;
  if (offset == delivered_ + 1) {
    delivered_ = offset;
    last_id_ = entry_id;
    return Live::deliver;
  }
  return begin_read() ? Live::read : Live::behind;
}

RoomCursor::Entry RoomCursor::on_entry(uint64_t offset, std::string_view entry_id) {
  last_id_ = entry_id;
  if (offset <= delivered_) return {};
  Entry e{true, fresh_epoch_ ? 0 : offset - delivered_ - 1};
  fresh_epoch_ = false;
  delivered_ = offset;
  target_ = std::max(target_, offset);
  return e;
}

void RoomCursor::on_junk(std::string_view entry_id) { last_id_ = entry_id; }

RoomCursor::PageEnd RoomCursor::on_page_end(size_t n, size_t count) {
  PageEnd end;
  if (!reading_) return end;
  if (n >= count && delivered_ < target_) {
    end.more = true;
    return end;
  }
  // The log ended before what was known to exist when the page was asked for: those offsets are
  // gone (the stream was deleted, or trimmed past them while this read ran).
  if (delivered_ < sent_target_) {
    end.lost = sent_target_ - delivered_;
    delivered_ = sent_target_;
  }
  // Offsets that became known while the page was on its way are in the log now: read on.
  if (delivered_ < target_) {
    end.more = true;
    return end;
  }
  reading_ = false;
  return end;
}

}  // namespace concur::redis
