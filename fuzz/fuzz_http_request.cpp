// Fuzzes the web pages' HTTP head parser and the WebSocket handshake (src/web): any bytes must
// give a request, "need more", or an error status, never a crash, and the answers keep their promises.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "web/http_request.hpp"
#include "web/ws_handshake.hpp"

using namespace concur::web;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  ParseResult r = parse_request(in);
  switch (r.kind) {
    case ParseResult::Kind::incomplete:
      if (in.size() >= kMaxHead) std::abort();  // an over-long head must be refused, not waited on
      break;
    case ParseResult::Kind::error:
      if (r.status != 400 && r.status != 405 && r.status != 431 && r.status != 505) std::abort();
      break;
    case ParseResult::Kind::ok: {
      if (r.consumed > in.size() || r.consumed > kMaxHead || r.request.method != "GET") std::abort();
      if (r.request.path.empty() || r.request.path[0] != '/') std::abort();
      (void)query_param(r.request.query, "device");
      Response a = answer_upgrade(r.request, {});
      if (a.status == 101 && !origin_allowed(r.request, {})) std::abort();
      (void)serialize(a);
      break;
    }
  }
  return 0;
}
