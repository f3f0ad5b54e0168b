#pragma once
// The group chat's wire rules (SPEC §3 chat-server), pure: no sockets, no threads, no clock, no
// room. Everything here is a function of bytes, so it is tested (and could be fuzzed) alone.
//
//   join      "[ID]"   then "\n" (a line client) or anything else / nothing for 200 ms (a raw client,
//                      like the homework's Python clients: one received chunk is one message)
//   message   "[ID]text", or "text" (the sender's prefix is added); "[OTHER]text" is refused
//   quit      exactly "[ID]quit"
//   HTTP      a first line starting "GET ", "POST ", "Host:" … is answered with one line and closed
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace concur::chat {

inline constexpr size_t kMaxMessage = 4096;  // bytes of one message (line terminator excluded)
inline constexpr size_t kMaxId = 32;         // bytes of an ID

// ---- IDs ---------------------------------------------------------------------------------------

enum class IdError { none, empty, too_long, bracket, control, bad_utf8, edge_space, invisible };
// An ID is 1-32 bytes of printable UTF-8 without '[' or ']', and does not start or end with a space.
// Invisible and direction-changing characters (U+200B..U+200F, U+202A..U+202E, U+2060..U+2069,
// U+FEFF) are refused too: "bob" and "bob<ZWSP>" would look like one person.
IdError check_id(std::string_view id);
// "ID must be 1-32 bytes" and so on: the text after "error: " for each refusal.
std::string id_error_text(IdError e, std::string_view id);
// The key that makes IDs unique: ASCII letters folded to lower case, so "Bob" and "bob" collide.
std::string fold_id(std::string_view id);

// ---- text --------------------------------------------------------------------------------------

enum class TextError { none, bad_utf8, control };
// Relayed text must be valid UTF-8 without control characters (tab allowed): a seed client decodes
// every datagram as UTF-8 and prints it raw, so anything else would crash or drive its terminal.
TextError check_text(std::string_view text);

// "[ID]rest" split at the first ']'. nullopt when text does not start with '[' or has no ']'.
struct Prefix {
  std::string_view id;
  std::string_view rest;
};
std::optional<Prefix> split_prefix(std::string_view text);

// What a joined member's message means.
struct Classified {
  enum class Kind { relay, quit, empty, impersonation, bad_text };
  Kind kind;
  std::string text;           // relay: the message as relayed, always starting "[own ID]"
  std::string_view claimed;   // impersonation: the ID the message claims (a view into the input)
  TextError text_error = TextError::none;
};
// `message` has no line terminator. A prefix naming the sender (ASCII case aside) is kept; a
// message without a valid-ID prefix gets the sender's; a prefix naming any other valid ID is
// impersonation. "quit" alone (once the prefix is added: "[ID]quit") is the quit message.
Classified classify(std::string_view message, std::string_view own_id);

// ---- the first bytes of a TCP connection ---------------------------------------------------------

// True when `first` starts like an HTTP request ("GET ", "POST ", "Host:", …).
bool looks_like_http(std::string_view first);
// True while `first` is too short to tell (it is a proper prefix of one of those tokens).
bool may_become_http(std::string_view first);

// Decides, from the first bytes of a TCP connection, who is joining and how it frames messages.
class JoinDecoder {
 public:
  enum class State {
    need_more,  // no complete "[ID]" yet
    undecided,  // "[ID]" seen and nothing after it: a raw client if nothing follows for 200 ms
    line,       // "[ID]\n" (or "\r\n"): a line client
    raw,        // "[ID]" followed by other bytes, or by 200 ms of silence
    http,       // an HTTP request: answer with one line and close
    invalid,    // not a join: error() says why
  };

  State feed(std::string_view bytes);
  // The 200 ms decision: an undecided join becomes raw.
  State timeout();
  State state() const { return state_; }

  const std::string& id() const { return id_; }
  // Bytes after the join (line: after its terminator), to be framed as the client's first messages.
  std::string take_rest() { return std::move(rest_); }
  // For `invalid`: the text after "error: ".
  const std::string& error() const { return error_; }

 private:
  State decide();
  std::string buf_;
  std::string id_;
  std::string rest_;
  std::string error_;
  State state_ = State::need_more;
};

// A raw client's chunk as messages: split at newlines, and where the client's own "[ID]" starts
// again (two sends that TCP merged into one read), with empty pieces dropped.
std::vector<std::string_view> split_raw_chunk(std::string_view chunk, std::string_view own_id);

// ---- error lines (the text after "error: ") ----------------------------------------------------

inline constexpr std::string_view kErrLineTooLong = "line too long";
inline constexpr std::string_view kErrSlowDown = "slow down";
inline constexpr std::string_view kErrFlood = "too many messages, disconnected";
inline constexpr std::string_view kErrJoinTimeout = "join timeout: send [ID] first";
inline constexpr std::string_view kErrNotJoined = "join first: send [ID]";
inline constexpr std::string_view kErrServerFull = "server full";
inline constexpr std::string_view kHttpAnswer =
    "error: this is a concur chat server (line protocol: send [ID] to join), not an HTTP server";

std::string taken_error_text(std::string_view id, std::string_view holder);
std::string impersonation_error_text(std::string_view own, std::string_view claimed);
std::string text_error_text(TextError e);

}  // namespace concur::chat
