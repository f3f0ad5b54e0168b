#include "web/http_service.hpp"

#include <any>
#include <memory>

#include "web/ws_conn.hpp"
#include "web/ws_handshake.hpp"

namespace concur::web {

// Per-connection state, in the stream's Conn::context; owner thread only.
struct HttpService::Session {
  enum class Phase { head, answered, ws };
  Phase phase = Phase::head;
  std::string head;  // the request head so far
  std::shared_ptr<WsConn> ws;
  StreamService* messages = nullptr;  // the WebSocket's service
};

namespace {
HttpService::Session* session_of(Conn& c) {
  auto* p = std::any_cast<std::shared_ptr<HttpService::Session>>(&c.context());
  return p ? p->get() : nullptr;
}
}  // namespace

void HttpService::on_open(Conn& c) {
  c.context() = std::make_shared<Session>();
  c.set_timer(settings_.head_timeout);
}

void HttpService::on_data(Conn& c, std::string_view bytes) {
  Session* s = session_of(c);
  if (!s) return;
  switch (s->phase) {
    case Session::Phase::head:
      s->head.append(bytes);
      on_head(c, *s);
      return;
    case Session::Phase::ws: s->ws->feed(bytes, *s->messages); return;
    case Session::Phase::answered: return;  // what a closing peer still sends is dropped
  }
}

void HttpService::on_head(Conn& c, Session& s) {
  ParseResult p = parse_request(s.head);
  if (p.kind == ParseResult::Kind::incomplete) return;
  Response resp;
  if (p.kind == ParseResult::Kind::error) {
    resp = error_response(p.status, p.reason);
  } else if (auto ws = sockets_.find(p.request.path); ws != sockets_.end()) {
    resp = answer_upgrade(p.request, settings_.allowed_origins);
    if (resp.status == 101) {
      upgrade(c, s, p.request, resp, *ws->second, p.consumed);
      return;
    }
  } else if (auto page = pages_.find(p.request.path); page != pages_.end()) {
    resp = page->second(p.request);
  } else {
    resp = error_response(404, "no such page");
  }
  s.head.clear();
  s.phase = Session::Phase::answered;
  c.set_timer(Millis(0));
  c.send(serialize(resp));
  c.close();  // after the answer is written (Connection: close)
}

void HttpService::upgrade(Conn& c, Session& s, const Request& req, const Response& accepted, StreamService& messages,
                          size_t consumed) {
  c.send(serialize(accepted));
  std::string rest = s.head.substr(consumed);  // frames that came with the handshake
  s.head.clear();
  s.head.shrink_to_fit();
  c.set_timer(Millis(0));
  auto ws = std::make_shared<WsConn>(c.shared(), req, settings_.max_message);
  if (!ws->start()) throw std::bad_alloc();
  s.ws = ws;
  s.messages = &messages;
  s.phase = Session::Phase::ws;
  messages.on_open(*ws);
  if (!rest.empty()) ws->feed(rest, messages);
}

void HttpService::on_timeout(Conn& c) {
  Session* s = session_of(c);
  if (!s) return;
  if (s->phase != Session::Phase::ws) {
    c.close();  // no complete head in time
  } else if (s->ws->closing()) {
    s->ws->linger_expired();
  } else {
    s->messages->on_timeout(*s->ws);
  }
}

void HttpService::on_close(Conn& c) {
  auto* p = std::any_cast<std::shared_ptr<Session>>(&c.context());
  if (!p) return;
  std::shared_ptr<Session> keep = *p;
  if (keep->ws) {
    keep->ws->end();
    keep->messages->on_close(*keep->ws);
  }
  // The WebSocket holds the stream (for its sends): break the cycle.
  c.context().reset();
}

}  // namespace concur::web
