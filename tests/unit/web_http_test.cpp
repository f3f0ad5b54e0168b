// The web pages' HTTP head parser and WebSocket handshake (src/web): pure functions of bytes.
#include <gtest/gtest.h>

#include "web/http_request.hpp"
#include "web/http_response.hpp"
#include "web/ws_conn.hpp"
#include "web/ws_handshake.hpp"

namespace concur::web {
namespace {

ParseResult parse(std::string_view s) { return parse_request(s); }

TEST(WebHttp, ParsesAGetWithQueryAndHeaders) {
  auto r = parse("GET /readings.json?device=Device%201&since=5 HTTP/1.1\r\nHost: a:1\r\nX-A:  b \r\n\r\nrest");
  ASSERT_EQ(r.kind, ParseResult::Kind::ok);
  EXPECT_EQ(r.request.path, "/readings.json");
  EXPECT_EQ(r.request.query, "device=Device%201&since=5");
  EXPECT_EQ(r.request.header("x-a"), "b");
  EXPECT_EQ(r.request.header("host"), "a:1");
  EXPECT_EQ(r.consumed, std::string_view("GET /readings.json?device=Device%201&since=5 HTTP/1.1\r\nHost: a:1\r\nX-A:  b \r\n\r\n").size());
  EXPECT_EQ(query_param(r.request.query, "device"), "Device 1");
  EXPECT_EQ(query_param(r.request.query, "since"), "5");
  EXPECT_EQ(query_param(r.request.query, "none"), std::nullopt);
}

TEST(WebHttp, IncompleteUntilTheBlankLine) {
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\n").kind, ParseResult::Kind::incomplete);
  EXPECT_EQ(parse("").kind, ParseResult::Kind::incomplete);
}

TEST(WebHttp, RefusesWhatIsNotAPlainGet) {
  EXPECT_EQ(parse("POST / HTTP/1.1\r\nHost: a\r\n\r\n").status, 405);
  EXPECT_EQ(parse("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n").status, 405);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\n\r\n").status, 400);  // no Host
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n").status, 400);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n").status, 400);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n").status, 400);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n").status, 400);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n").status, 400);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n").status, 400);  // bare LF
  EXPECT_EQ(parse("GET http://x/ HTTP/1.1\r\nHost: a\r\n\r\n").status, 400);
  EXPECT_EQ(parse("GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n").status, 400);
  EXPECT_EQ(parse("GET /%00 HTTP/1.1\r\nHost: a\r\n\r\n").status, 400);
  EXPECT_EQ(parse("GET / HTTP/2.0\r\nHost: a\r\n\r\n").status, 505);
  EXPECT_EQ(parse("GET / FTP/1.1\r\nHost: a\r\n\r\n").status, 400);
  EXPECT_EQ(parse("GET  / HTTP/1.1\r\nHost: a\r\n\r\n").status, 400);
}

TEST(WebHttp, HeadsOver8KiBAre431) {
  std::string big = "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(9000, 'a');
  EXPECT_EQ(parse(big).status, 431);  // no blank line yet, already too long
  EXPECT_EQ(parse(big + "\r\n\r\n").status, 431);
  std::string fits = "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(8000, 'a') + "\r\n\r\n";
  EXPECT_EQ(parse(fits).kind, ParseResult::Kind::ok);
}

TEST(WebHttp, PercentDecoding) {
  EXPECT_EQ(percent_decode("a%20b+c"), "a b+c");
  EXPECT_EQ(percent_decode("a+c", true), "a c");
  EXPECT_EQ(percent_decode("%4"), std::nullopt);
  EXPECT_EQ(percent_decode("%"), std::nullopt);
}

TEST(WebHttp, ResponsesCarryThePolicyOnPagesOnly) {
  Response page;
  page.page = true;
  page.body = "x";
  std::string s = serialize(page);
  EXPECT_NE(s.find("Content-Security-Policy: default-src 'none'; script-src 'self'"), std::string::npos);
  EXPECT_NE(s.find("Content-Length: 1\r\n"), std::string::npos);
  EXPECT_EQ(serialize(error_response(404, "x")).find("Content-Security-Policy"), std::string::npos);
  EXPECT_NE(serialize(error_response(405, "x")).find("Allow: GET\r\n"), std::string::npos);
}

TEST(WebHandshake, AcceptKeyOfTheRfcExample) {
  EXPECT_EQ(websocket_accept("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
}

Request upgrade_request(std::string origin) {
  std::string head =
      "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"
      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
  if (!origin.empty()) head += "Origin: " + origin + "\r\n";
  auto r = parse_request(head + "\r\n");
  EXPECT_EQ(r.kind, ParseResult::Kind::ok);
  return r.request;
}

TEST(WebHandshake, SameOriginByDefault) {
  EXPECT_EQ(answer_upgrade(upgrade_request("http://127.0.0.1:8080"), {}).status, 101);
  EXPECT_EQ(answer_upgrade(upgrade_request(""), {}).status, 101);  // not a browser page
  EXPECT_EQ(answer_upgrade(upgrade_request("http://evil.example"), {}).status, 403);
  EXPECT_EQ(answer_upgrade(upgrade_request("http://127.0.0.1:8081"), {}).status, 403);
  EXPECT_EQ(answer_upgrade(upgrade_request("http://evil.example"), {"http://evil.example"}).status, 101);
  EXPECT_EQ(answer_upgrade(upgrade_request("http://evil.example"), {"*"}).status, 101);
}

TEST(WebHandshake, RefusesBrokenUpgrades) {
  auto req = upgrade_request("");
  for (auto& [k, v] : req.headers)
    if (k == "sec-websocket-version") v = "8";
  EXPECT_EQ(answer_upgrade(req, {}).status, 426);
  req = upgrade_request("");
  for (auto& [k, v] : req.headers)
    if (k == "sec-websocket-key") v = "short";
  EXPECT_EQ(answer_upgrade(req, {}).status, 400);
  auto plain = parse_request("GET /ws HTTP/1.1\r\nHost: a\r\n\r\n").request;
  EXPECT_EQ(answer_upgrade(plain, {}).status, 426);
  std::string ok = serialize(answer_upgrade(upgrade_request(""), {}));
  EXPECT_EQ(ok.rfind("HTTP/1.1 101 Switching Protocols\r\n", 0), 0u);
  EXPECT_NE(ok.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"), std::string::npos);
}

TEST(WebFrames, ServerTextFramesUseTheShortestLength) {
  std::string f;
  append_text_frame(f, "hi");
  EXPECT_EQ(f, std::string("\x81\x02hi", 4));
  f.clear();
  append_text_frame(f, std::string(300, 'a'));
  EXPECT_EQ(f.substr(0, 4), std::string("\x81\x7e\x01\x2c", 4));
  EXPECT_EQ(f.size(), 304u);
  f.clear();
  append_text_frame(f, std::string(70000, 'a'));
  EXPECT_EQ(f.substr(0, 10), std::string("\x81\x7f\x00\x00\x00\x00\x00\x01\x11\x70", 10));
}

}  // namespace
}  // namespace concur::web
