#pragma once
// HTTP/1.1 answers, built as one string so that a response is written with one send(). Every
// answer closes the connection (Connection: close): the pages are small and few, so keep-alive
// would buy nothing and cost a state machine.
#include <string>
#include <string_view>

namespace concur::web {

// The policy of every page: scripts, styles and connections only from this origin; no inline
// script (received chat text can therefore never run, even if it reached the DOM as markup).
inline constexpr std::string_view kPagePolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::string extra_headers;  // each "Name: value\r\n"
  bool page = false;          // adds the Content-Security-Policy
  bool cache = false;         // static assets may be cached briefly
};

std::string_view status_text(int status);
// An error answer with a one-line plain-text body naming the problem.
Response error_response(int status, std::string_view why);
std::string serialize(const Response& r);

}  // namespace concur::web
