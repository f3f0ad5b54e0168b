#pragma once
// The WebSocket opening handshake (RFC 6455 §4.2), pure: which upgrade requests are accepted and
// the 101 answer for them. The Origin rule is the browser's only protection against another site
// opening a socket to this server with the user's network position, so it is checked here: same
// origin by default (Origin's host:port equals Host), plus the origins given with --web-origin.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "web/http_request.hpp"
#include "web/http_response.hpp"

namespace concur::web {

// SHA-1 of `data` (20 bytes) — only for Sec-WebSocket-Accept, never for anything secret.
std::string sha1(std::string_view data);
std::string base64_encode(std::string_view data);
// base64(SHA-1(key + the RFC's GUID)).
std::string websocket_accept(std::string_view key);

// True when `req` is an upgrade attempt at all (Upgrade: websocket).
bool is_upgrade(const Request& req);

// The answer to an upgrade request: a 101 when it is acceptable, else 400/403/426 with the reason.
// `allowed_origins`: exact origins ("http://host:port") or "*" for any.
Response answer_upgrade(const Request& req, const std::vector<std::string>& allowed_origins);

// Same-origin test: Origin "http://H" or "https://H" where H equals the Host header (ASCII case
// folded). A request without Origin is not from a browser page, so origin rules do not apply.
bool origin_allowed(const Request& req, const std::vector<std::string>& allowed_origins);

}  // namespace concur::web
