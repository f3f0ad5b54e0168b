#pragma once
// What one chat-server instance publishes on its room's Redis channel, and the filters a receiver
// applies (SPEC §4 "Chat rooms over Redis"). Pure: no Redis, no sockets, no clock.
//
//   payload   "concur1 <instance> <seq> <text>"
//   instance  16 lower-case hex digits, random per process: a receiver drops its own publications
//   seq       decimal, 1, 2, 3 … per instance: a receiver drops what it has already seen, so a
//             publication sent again after a reconnect is never delivered twice
//   text      the chat message exactly as members receive it ("[ID]" or "[ID]text"), checked again
//             on receipt with the same rules as a local member's message
//
// Anything else on the channel (someone else's PUBLISH, garbage) decodes to nullopt: dropped and
// counted, never relayed raw.
//
// A room with history (issue 20) publishes the envelope behind its place in the room's log:
//
//   live      "concur2 <epoch> <offset> <entry id> <envelope>"
//   epoch     16 lower-case hex digits, new whenever Redis lost the room's state
//   offset    decimal, 1, 2, 3 … per epoch: the message's place in the room
//   entry id  the stream entry holding it ("<ms>-<n>"), where a reader resumes an XRANGE
//
// A bare "concur1 …" envelope (a server without history) is still accepted, unsequenced.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace concur::redis {

struct Envelope {
  uint64_t instance;
  uint64_t seq;
  std::string_view text;  // a view into the decoded payload
};

std::string encode_envelope(uint64_t instance, uint64_t seq, std::string_view text);
// nullopt unless `payload` is exactly an envelope whose text is a relayable chat message.
std::optional<Envelope> decode_envelope(std::string_view payload);

struct LiveMessage {
  bool sequenced = false;  // false: a bare envelope (no epoch, offset, entry id)
  std::string_view epoch;
  uint64_t offset = 0;
  std::string_view entry_id;
  Envelope env{};
};
// nullopt unless `payload` is a live message whose envelope decodes.
std::optional<LiveMessage> decode_live(std::string_view payload);
std::string encode_live(std::string_view epoch, uint64_t offset, std::string_view entry_id, std::string_view envelope);

bool valid_epoch(std::string_view epoch);       // 16 lower-case hex digits
bool valid_entry_id(std::string_view id);       // "<ms>-<n>", both decimal
std::optional<uint64_t> parse_offset(std::string_view text);  // decimal, 1 or more, no leading 0

// A fresh random instance id (never 0).
uint64_t random_instance_id();
std::string instance_hex(uint64_t instance);

// Per sending instance, the highest sequence number delivered. A publication at or below it is a
// duplicate (sent again after a reconnect, or an old one that Redis delivered late) and dropped.
// Bounded: past `max_instances` senders the table starts over (instance ids are per process, so
// restarts add entries); the cost is that one retransmission racing the reset may pass.
class SeenSeqs {
 public:
  explicit SeenSeqs(size_t max_instances = 4096) : max_(max_instances) {}
  // True if (instance, seq) is new; records it.
  bool fresh(uint64_t instance, uint64_t seq);

 private:
  size_t max_;
  std::unordered_map<uint64_t, uint64_t> last_;
};

}  // namespace concur::redis
