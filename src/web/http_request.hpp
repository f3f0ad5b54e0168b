#pragma once
// A strict HTTP/1.1 request head parser for concur's web pages (SPEC §4 "Web"), pure: bytes in,
// a request or an error status out, so it is unit-tested and fuzzed alone.
//
// Strict on purpose: the pages are served by processes that also run a chat room or a collector,
// so anything unusual is refused rather than guessed at. GET only (405), the head at most
// kMaxHead bytes (431), no request body (400), no obs-fold, no bare CR, no duplicate Host.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace concur::web {

inline constexpr size_t kMaxHead = 8192;  // request line + headers + the blank line

struct Request {
  std::string method;
  std::string target;  // as sent: "/path?query"
  std::string path;    // percent-decoded path
  std::string query;   // raw, without '?'
  int minor_version = 1;  // HTTP/1.<minor>
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased, values trimmed

  // The first header named `name` (lower case), or nullopt.
  std::optional<std::string_view> header(std::string_view name) const;
  // True when a comma-separated header (Connection, Upgrade) lists `token` (ASCII case-insensitive).
  bool header_has_token(std::string_view name, std::string_view token) const;
};

struct ParseResult {
  enum class Kind { incomplete, ok, error };
  Kind kind = Kind::incomplete;
  int status = 0;         // error: 400, 405, 431, 505
  std::string reason;     // error: what was wrong, for the answer body
  size_t consumed = 0;    // ok: bytes of the head, blank line included
  Request request;
};

// Parses the head at the start of `bytes`. incomplete: need more bytes (and fewer than kMaxHead
// arrived so far).
ParseResult parse_request(std::string_view bytes);

// Percent-decodes `text` ('+' stays '+' unless plus_is_space). nullopt on a malformed escape.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space = false);
// The first value of `name` in an application/x-www-form-urlencoded query, decoded ('+' is space).
std::optional<std::string> query_param(std::string_view query, std::string_view name);

bool iequals(std::string_view a, std::string_view b);

}  // namespace concur::web
