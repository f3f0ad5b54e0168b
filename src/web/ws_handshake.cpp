#include "web/ws_handshake.hpp"

#include <array>
#include <cstdint>

namespace concur::web {

namespace {

uint32_t rol(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

}  // namespace

// FIPS 180-4 SHA-1, written out: a 20-byte digest for the handshake is not worth a crypto library.
std::string sha1(std::string_view data) {
  uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
  std::string msg(data);
  uint64_t bits = static_cast<uint64_t>(data.size()) * 8;
  msg.push_back(static_cast<char>(0x80));
  while (msg.size() % 64 != 56) msg.push_back('\0');
  for (int i = 7; i >= 0; --i) msg.push_back(static_cast<char>((bits >> (i * 8)) & 0xff));
  for (size_t off = 0; off < msg.size(); off += 64) {
    std::array<uint32_t, 80> w{};
    for (int i = 0; i < 16; ++i) {
      const auto* p = reinterpret_cast<const unsigned char*>(msg.data() + off + i * 4);
      w[i] = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
    }
    for (int i = 16; i < 80; ++i) w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; ++i) {
      uint32_t f, k;
      if (i < 20) f = (b & c) | (~b & d), k = 0x5A827999;
      else if (i < 40) f = b ^ c ^ d, k = 0x6ED9EBA1;
      else if (i < 60) f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDC;
      else f = b ^ c ^ d, k = 0xCA62C1D6;
      uint32_t t = rol(a, 5) + f + e + k + w[i];
      e = d, d = c, c = rol(b, 30), b = a, a = t;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
  }
  std::string out;
  for (uint32_t v : h)
    for (int i = 3; i >= 0; --i) out.push_back(static_cast<char>((v >> (i * 8)) & 0xff));
  return out;
}

std::string base64_encode(std::string_view data) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    uint32_t v = (uint32_t{static_cast<unsigned char>(data[i])} << 16) |
                 (uint32_t{static_cast<unsigned char>(data[i + 1])} << 8) | static_cast<unsigned char>(data[i + 2]);
    out += {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63], kAlphabet[(v >> 6) & 63], kAlphabet[v & 63]};
  }
  if (size_t left = data.size() - i) {
    uint32_t v = uint32_t{static_cast<unsigned char>(data[i])} << 16;
    if (left == 2) v |= uint32_t{static_cast<unsigned char>(data[i + 1])} << 8;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += left == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string websocket_accept(std::string_view key) {
  return base64_encode(sha1(std::string(key) + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"));
}

bool is_upgrade(const Request& req) { return req.header_has_token("upgrade", "websocket"); }

bool origin_allowed(const Request& req, const std::vector<std::string>& allowed_origins) {
  auto origin = req.header("origin");
  if (!origin) return true;
  for (const auto& a : allowed_origins)
    if (a == "*" || iequals(a, *origin)) return true;
  auto host = req.header("host");
  if (!host) return false;
  for (std::string_view scheme : {"http://", "https://"}) {
    if (origin->size() > scheme.size() && iequals(origin->substr(0, scheme.size()), scheme) &&
        iequals(origin->substr(scheme.size()), *host))
      return true;
  }
  return false;
}

Response answer_upgrade(const Request& req, const std::vector<std::string>& allowed_origins) {
  if (!is_upgrade(req) || !req.header_has_token("connection", "upgrade"))
    return error_response(426, "this is a WebSocket endpoint (Upgrade: websocket)");
  if (req.minor_version < 1) return error_response(400, "WebSocket needs HTTP/1.1");
  auto version = req.header("sec-websocket-version");
  if (!version || *version != "13") {
    Response r = error_response(426, "WebSocket version 13 only");
    r.extra_headers = "Sec-WebSocket-Version: 13\r\n";
    return r;
  }
  auto key = req.header("sec-websocket-key");
  // The key is 16 random bytes in base64: 24 characters ending in "==".
  if (!key || key->size() != 24 || key->substr(22) != "==") return error_response(400, "bad Sec-WebSocket-Key");
  if (!origin_allowed(req, allowed_origins)) return error_response(403, "origin not allowed (see --web-origin)");
  Response r;
  r.status = 101;
  r.extra_headers = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + websocket_accept(*key) + "\r\n";
  return r;
}

}  // namespace concur::web
