#include "web/http_request.hpp"

#include <algorithm>

namespace concur::web {

namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// RFC 9110 tchar: the characters of a method or a header name.
bool is_tchar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// Visible ASCII and obs-text (bytes >= 0x80) plus space and tab: what a header value may hold.
bool is_value_char(char c) {
  auto u = static_cast<unsigned char>(c);
  return u == '\t' || (u >= 0x20 && u != 0x7f);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

ParseResult fail(int status, std::string reason) {
  ParseResult r;
  r.kind = ParseResult::Kind::error;
  r.status = status;
  r.reason = std::move(reason);
  return r;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

std::optional<std::string_view> Request::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return std::string_view(v);
  return std::nullopt;
}

bool Request::header_has_token(std::string_view name, std::string_view token) const {
  for (const auto& [k, v] : headers) {
    if (k != name) continue;
    std::string_view rest = v;
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      std::string_view item = trim(rest.substr(0, comma));
      if (iequals(item, token)) return true;
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return false;
}

std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      int hi = hex_value(text[i + 1]), lo = hex_value(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::optional<std::string> query_param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    size_t eq = pair.find('=');
    auto key = percent_decode(pair.substr(0, eq), true);
    if (key && *key == name) {
      if (eq == std::string_view::npos) return std::string();
      return percent_decode(pair.substr(eq + 1), true);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

ParseResult parse_request(std::string_view bytes) {
  // Leading empty lines before the request line are tolerated (RFC 9112 §2.2).
  size_t start = 0;
  while (start + 1 < bytes.size() && bytes[start] == '\r' && bytes[start + 1] == '\n') start += 2;
  size_t end = bytes.find("\r\n\r\n", start);
  if (end == std::string_view::npos) {
    if (bytes.size() >= kMaxHead) return fail(431, "request header fields too large");
    return {};
  }
  size_t consumed = end + 4;
  if (consumed > kMaxHead) return fail(431, "request header fields too large");
  std::string_view head = bytes.substr(start, end + 2 - start);  // every line keeps its CRLF

  auto next_line = [&head]() -> std::optional<std::string_view> {
    size_t crlf = head.find("\r\n");
    if (crlf == std::string_view::npos) return std::nullopt;
    std::string_view line = head.substr(0, crlf);
    head.remove_prefix(crlf + 2);
    return line;
  };

  ParseResult r;
  Request& q = r.request;
  std::string_view line = *next_line();
  // request-line = method SP request-target SP HTTP-version
  size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return fail(400, "malformed request line");
  std::string_view method = line.substr(0, sp1);
  if (!std::all_of(method.begin(), method.end(), is_tchar)) return fail(400, "malformed method");
  size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || sp2 == sp1 + 1) return fail(400, "malformed request line");
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (version.size() != 8 || version.substr(0, 7) != "HTTP/1." || version[7] < '0' || version[7] > '9') {
    if (version.substr(0, 5) == "HTTP/" && version.size() == 8 && version[6] == '.') return fail(505, "only HTTP/1.x");
    return fail(400, "malformed HTTP version");
  }
  q.minor_version = version[7] - '0';
  for (char c : target)
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f)
      return fail(400, "malformed request target");
  if (target.empty() || target[0] != '/') return fail(400, "request target must be an absolute path");
  q.method = std::string(method);
  q.target = std::string(target);
  size_t qm = target.find('?');
  auto path = percent_decode(target.substr(0, qm));
  if (!path || path->find('\0') != std::string::npos) return fail(400, "malformed path");
  q.path = std::move(*path);
  if (qm != std::string_view::npos) q.query = std::string(target.substr(qm + 1));

  size_t hosts = 0;
  while (auto l = next_line()) {
    std::string_view h = *l;
    if (h.find('\r') != std::string_view::npos || h.find('\n') != std::string_view::npos)
      return fail(400, "bare CR or LF in a header");
    if (!h.empty() && (h[0] == ' ' || h[0] == '\t')) return fail(400, "obsolete line folding");
    size_t colon = h.find(':');
    if (colon == std::string_view::npos || colon == 0) return fail(400, "malformed header line");
    std::string_view name = h.substr(0, colon);
    if (!std::all_of(name.begin(), name.end(), is_tchar)) return fail(400, "malformed header name");
    std::string_view value = trim(h.substr(colon + 1));
    if (!std::all_of(value.begin(), value.end(), is_value_char)) return fail(400, "malformed header value");
    std::string key(name);
    std::transform(key.begin(), key.end(), key.begin(), lower);
    if (key == "host") ++hosts;
    q.headers.emplace_back(std::move(key), std::string(value));
  }
  if (hosts > 1) return fail(400, "more than one Host header");
  if (hosts == 0 && q.minor_version >= 1) return fail(400, "HTTP/1.1 request without Host");
  // A GET has no body; one announced anyway could smuggle a second request past us.
  if (q.header("transfer-encoding")) return fail(400, "request bodies are not accepted");
  if (auto cl = q.header("content-length"); cl && *cl != "0") return fail(400, "request bodies are not accepted");
  if (q.method != "GET") return fail(405, "only GET is served here");
  r.kind = ParseResult::Kind::ok;
  r.consumed = consumed;
  return r;
}

}  // namespace concur::web
