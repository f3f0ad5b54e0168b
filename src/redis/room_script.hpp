#pragma once
// The room's state in Redis when it keeps history (issue 20), and the one script that writes it.
//
//   concur:<room>:meta           hash: epoch (16 hex), offset (the newest), last (its entry ID)
//   concur:<room>:log            stream, trimmed to about --history entries: fields o (offset), m (envelope)
//   concur:<room>:seq:<instance> the highest publication sequence applied for that instance (1 day)
//   concur:<room>:chat           the channel: "concur2 <epoch> <offset> <entry id> <envelope>"
//
// Publishing is one script, so the offset, the log entry and the live message are one step: a
// reader that sees offset N live can always read 1..N-1 from the log (unless trimmed). A meta hash
// without an epoch means Redis lost the room (restart without persistence, FLUSHALL): the script
// starts a new epoch (the candidate the publisher passes) and an empty log. A publication sent
// again after a reconnect whose first copy was applied is recognized by its sequence and not
// added twice.
#include <cstdint>
#include <string>
#include <string_view>

namespace concur::redis {

struct RoomKeys {
  explicit RoomKeys(const std::string& room, const std::string& instance_hex);
  std::string meta, log, seq, channel;
};

extern const std::string_view kPublishScript;
// KEYS: meta. ARGV: the epoch a reader follows, the offset it delivered, a new epoch. Moves the
// room to the new epoch if Redis still has that epoch behind that offset (a failover lost its
// tail, and its offsets would be given to other messages); 1 if it did.
extern const std::string_view kRotateScript;
// The script's SHA-1 as Redis names it (EVALSHA), computed once.
const std::string& publish_script_sha();

// A fresh epoch candidate: 16 lower-case hex digits, random. Any thread.
std::string epoch_candidate();

// The sequence number of an encoded envelope ("concur1 <instance> <seq> …"); 0 if malformed.
uint64_t envelope_seq(std::string_view payload);

}  // namespace concur::redis
