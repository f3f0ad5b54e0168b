#include "web/http_response.hpp"

#include <fmt/format.h>

namespace concur::web {

std::string_view status_text(int status) {
  switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 426: return "Upgrade Required";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
  }
}

Response error_response(int status, std::string_view why) {
  Response r;
  r.status = status;
  r.body = fmt::format("{} {}: {}\n", status, status_text(status), why);
  if (status == 405) r.extra_headers = "Allow: GET\r\n";
  return r;
}

std::string serialize(const Response& r) {
  if (r.status == 101) return fmt::format("HTTP/1.1 101 {}\r\n{}\r\n", status_text(101), r.extra_headers);
  std::string out = fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n"
                                "X-Content-Type-Options: nosniff\r\nConnection: close\r\n",
                                r.status, status_text(r.status), r.content_type, r.body.size());
  out += r.cache ? "Cache-Control: max-age=60\r\n" : "Cache-Control: no-store\r\n";
  if (r.page) {
    out += "Content-Security-Policy: ";
    out += kPagePolicy;
    out += "\r\nReferrer-Policy: no-referrer\r\n";
  }
  out += r.extra_headers;
  out += "\r\n";
  out += r.body;
  return out;
}

}  // namespace concur::web
