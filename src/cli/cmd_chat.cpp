// chat-server: the seed's udp_multi_chat_server.py and homework 8/9 (TCP group chat with threads
// or select), as one room served over TCP under any stream model, or over UDP.
#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/metrics_option.hpp"
#include "cli/options.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/sd_notify.hpp"
#include "core/socket.hpp"
#include "core/stop.hpp"
#include "tls/tls_reload.hpp"
#include "conn/conn_metrics.hpp"
#include "conn/datagram_loop.hpp"
#include "metrics/registry.hpp"
#include "services/chat_metrics.hpp"
#include "redis/redis_bridge.hpp"
#include "redis/sentinel.hpp"
#include "services/chat_tcp.hpp"
#include "services/chat_udp.hpp"
#include "web/chat_web.hpp"

namespace concur {

namespace {

// One room for every client: the models that serve them at once in this process.
std::vector<std::string> tcp_models() { return model_names(can_share_a_room); }

struct ChatOptions {
  ServerOptions server;
  std::string transport = "tcp";
  chat::ChatSettings settings;
  int web_port = -1;  // --web: also serve the chat page on this port
  std::vector<std::string> web_origins;
  std::string redis;  // HOST:PORT; empty: a room of this server alone
  std::string room = "lobby";
  Millis lease{15000};
  size_t history = 1000;  // the room's last messages kept (in Redis with --redis, else in memory)
  size_t replay = 0;      // given to a new member
  std::string sentinels;  // --redis-sentinel HOST:PORT[,…]
  std::string master = "mymaster";
  bool master_set = false;
  ClientTlsOptions redis_tls;  // --redis-tls, --redis-tls-ca, --redis-tls-cert, --redis-tls-key
};

// --web: binds now, starts once the chat's own "listening on" line is out.
std::unique_ptr<web::ChatWeb> make_web(const ChatOptions& o, chat::ChatRoom& room, const chat::ChatSettings& st) {
  if (o.web_port < 0) return nullptr;
  web::WebConfig cfg;
  cfg.allowed_origins = o.web_origins;
  cfg.max_queue = o.server.max_queue;
  // The web port is a listener like the chat port: its open connections (pages and WebSockets)
  // are bounded by --max-clients too; the room bounds members across both.
  cfg.max_clients = o.server.max_clients;
  cfg.max_per_ip = o.server.max_per_ip;
  cfg.connect_rate = o.server.connect_rate;
  cfg.tls = server_tls(o.server);  // the chat port's certificate: https and wss
  Endpoint at;
  try {
    at = Endpoint::parse(o.server.bind, static_cast<uint16_t>(o.web_port));
  } catch (const UsageError& e) {
    throw UsageError(std::string("--bind: ") + e.what());
  }
  return std::make_unique<web::ChatWeb>(at, cfg, room, st);
}

// --redis and --room as bridge settings (usage errors name the option); nullopt without --redis.
std::optional<redis::RedisSettings> redis_settings(const ChatOptions& o) {
  if (!o.redis.empty() && !o.sentinels.empty())
    throw UsageError("--redis-sentinel: either --redis HOST:PORT or the sentinels that know the master, not both");
  if (o.master_set && o.sentinels.empty()) throw UsageError("--redis-master: needs --redis-sentinel");
  if (o.redis.empty() && o.sentinels.empty()) return std::nullopt;
  redis::RedisSettings rs;
  if (!o.sentinels.empty()) {
    auto list = redis::parse_sentinels(o.sentinels);
    if (!list)
      throw UsageError("--redis-sentinel: expected HOST:PORT[,HOST:PORT...] (e.g. 127.0.0.1:26379), got '" +
                       o.sentinels + "'");
    if (o.master.empty()) throw UsageError("--redis-master: a master's name, as the sentinels know it");
    rs.sentinels = *list;
    rs.master = o.master;
  } else {
    auto hp = redis::parse_host_port(o.redis);
    if (!hp) throw UsageError("--redis: expected HOST:PORT (e.g. 127.0.0.1:6379), got '" + o.redis + "'");
    rs.host = hp->first;
    rs.port = hp->second;
  }
  rs.room = o.room;
  if (const char* pw = std::getenv("REDISCLI_AUTH")) rs.password = pw;
  rs.max_pending = o.server.max_queue;
  if (o.lease < Millis(300)) throw UsageError("--redis-lease: at least 0.3 s");
  rs.lease = o.lease;
  rs.renew = o.lease / 3;  // two renewals may fail before the lease runs out
  rs.history = o.history;
  bool tls_files = !o.redis_tls.ca.empty() || !o.redis_tls.cert.empty() || !o.redis_tls.key.empty();
  if (tls_files && !o.redis_tls.on) throw UsageError("--redis-tls-ca: needs --redis-tls");
  if (!o.redis_tls.key.empty() && o.redis_tls.cert.empty()) throw UsageError("--redis-tls-key: needs --redis-tls-cert");
  rs.tls = o.redis_tls;
  return rs;
}

// concur_chat_members{room}: read at scrape time, so joins and leaves cost nothing. The room label
// is the --room name, one per process.
metrics::Probe members_probe(const chat::ChatRoom& room, const std::string& name) {
  chat::chat_metrics::series();  // the chat counters show from the first scrape
  return metrics::registry().probe(metrics::Type::gauge, "concur_chat_members", "Members in the chat room now (this server's).",
                                   {{"room", name}}, [&room] { return static_cast<double>(room.size()); });
}

// The room name is part of Redis keys and the channel: printable ASCII without spaces.
bool valid_room(const std::string& room) {
  if (room.empty() || room.size() > 64) return false;
  for (char c : room)
    if (c <= ' ' || c > '~') return false;
  return true;
}

int serve_udp(const ServerOptions& o, DatagramService& service, const std::function<void()>& on_listening,
              Millis tick) {

  const ModelInfo& info = pick_model(o.model, datagram_models(), "chat-server --transport udp");
  Endpoint at;
  try {
    at = Endpoint::parse(o.bind, static_cast<uint16_t>(o.port));
  } catch (const UsageError& e) {
    throw UsageError(std::string("--bind: ") + e.what());
  }
  StopSource stop;
  StopSignalGuard signals(stop);
  tls::ReloadOnHangup reload(server_tls(o));  // --web's certificate
  MetricsRun metrics(o.metrics);
  conn_metrics::series();
  FileDesc sock = udp_bind(at);
  outf("listening on {} (udp, model={})", local_endpoint(sock.get()).to_string(), info.name);
  if (on_listening) on_listening();
  metrics.serving();
  sd::notify_ready();
  run_datagram_loop(sock.get(), service, stop, tick);
  metrics.stopping();
  return 0;
}

}  // namespace

Command chat_server_command() {
  return {"chat-server", "group chat over TCP (any model) or UDP: join with [ID], relay to all others",
          [](CLI::App& app) {
            auto o = std::make_shared<ChatOptions>();
            chat::ChatSettings& st = o->settings;
            add_server_options(app, o->server, 2500, "thread", tcp_models(), "chat-server");
            app.add_option("--transport", o->transport, "tcp or udp")
                ->check(CLI::IsMember({"tcp", "udp"}))
                ->capture_default_str();
            app.add_option("--rate", st.rate, "messages per second a member may send (0 = no limit)")
                ->check(CLI::Range(0.0, 1e9))
                ->capture_default_str();
            app.add_option("--burst", st.burst, "messages a member may send at once, above --rate")
                ->check(CLI::Range(size_t{1}, size_t{1} << 30))
                ->capture_default_str();
            add_duration_option(app, "--join-timeout", st.join_timeout,
                                "close a TCP connection that has not joined by then (default 30 s; 0 = never)");
            app.add_option("--web", o->web_port,
                           "also serve the chat in a browser: page at / and WebSocket /ws on this port (0 = any free port)")
                ->check(CLI::Range(0, 65535))
                ->type_name("PORT");
            app.add_option("--web-origin", o->web_origins,
                           "an Origin (http://host:port) allowed to open /ws besides the page's own (repeatable; * = any)")
                ->type_name("ORIGIN");
            add_duration_option(app, "--idle-timeout", st.idle_timeout,
                                "drop a UDP member silent this long (default 600 s; 0 = never)");
            app.add_option("--redis", o->redis,
                           "HOST:PORT of a Redis shared with other chat-servers: one room across them all "
                           "(password from REDISCLI_AUTH)");
            app.add_option("--room", o->room, "the room's name in Redis (with --redis)")->capture_default_str();
            app.add_flag("--redis-tls", o->redis_tls.on,
                         "speak TLS (1.2 or later) to --redis (or to the sentinels and the master they name), checking "
                         "its certificate and host");
            app.add_option("--redis-tls-ca", o->redis_tls.ca, "PEM file of the CAs to trust for --redis-tls (default: the system's)")
                ->type_name("FILE");
            app.add_option("--redis-tls-cert", o->redis_tls.cert, "a client certificate (PEM) for a Redis that asks for one")
                ->type_name("FILE");
            app.add_option("--redis-tls-key", o->redis_tls.key, "the key of --redis-tls-cert (default: in its file)")
                ->type_name("FILE");
            app.add_option("--redis-sentinel", o->sentinels,
                           "instead of --redis: Redis Sentinels (HOST:PORT[,HOST:PORT...]) that name the master; "
                           "a failover is followed and what it lost is told to members as a history gap")
                ->type_name("LIST");
            app.add_option("--redis-master", o->master, "the master's name in Sentinel (with --redis-sentinel)")
                ->capture_default_str()
                ->each([o](const std::string&) { o->master_set = true; });
            add_duration_option(app, "--redis-lease", o->lease,
                                "how long an ID stays held in Redis after its server stops renewing it, "
                                "e.g. was killed (default 15 s; renewed every third of it)");
            app.add_option("--history", o->history,
                           "messages of the room kept: in Redis with --redis (its log, so a server cut off from "
                           "Redis catches up what it missed; 0 = plain pub/sub, nothing recovered), else in memory "
                           "for --replay")
                ->check(CLI::Range(size_t{0}, size_t{10'000'000}))
                ->capture_default_str();
            app.add_option("--replay", o->replay,
                           "a member who joins first receives the room's last N messages (at most --history; "
                           "0 = none, as the lecture's server)")
                ->check(CLI::Range(size_t{0}, size_t{10'000}))
                ->capture_default_str();
            return CommandRun([o] {
              chat::ChatSettings st = o->settings;
              st.quiet = o->server.quiet;
              st.max_queue = o->server.max_queue;
              if (!valid_room(o->room))
                throw UsageError("--room: 1-64 printable ASCII characters without spaces, got '" + o->room + "'");
              auto rs = redis_settings(*o);
              if (o->replay > o->history)
                throw UsageError(fmt::format("--replay: {} is more than --history {}", o->replay, o->history));
              // The bridge is declared after the service: it stops (and calls back no more) first.
              auto run_with = [&](chat::ChatRoom& room, auto&& serve) {
                std::unique_ptr<redis::RedisBridge> bridge;
                if (rs) {
                  bridge = std::make_unique<redis::RedisBridge>(*rs, room);
                  bridge->check_at_start();  // a refused password is exit 1, before listening
                }
                int rc = serve([&] {
                  if (bridge) bridge->start();
                });
                if (bridge) bridge->stop();
                return rc;
              };
              if (o->transport == "udp") {
                if (!o->server.tls_cert.empty() && o->web_port < 0)
                  throw UsageError("--tls-cert: the udp transport has no TLS (no DTLS here); with --web it serves https and wss");
                st.max_members = o->server.max_clients;
                chat::ChatDatagramService service(st);
                service.room().keep_history(o->history, o->replay, o->web_port >= 0);
                auto members = members_probe(service.room(), o->room);
                auto web = make_web(*o, service.room(), st);
                // The bridge's answers (joining IDs, evictions) are posted to the loop: no polling.
                Millis tick = Millis(1000);
                return run_with(service.room(), [&](const std::function<void()>& bridge_start) {
                  return serve_udp(o->server, service, [&] {
                    if (web) web->start();
                    bridge_start();
                  }, tick);
                });
              }
              chat::ChatStreamService service(st);
              service.room().keep_history(o->history, o->replay, o->web_port >= 0);
              auto members = members_probe(service.room(), o->room);
              auto web = make_web(*o, service.room(), st);
              return run_with(service.room(), [&](const std::function<void()>& bridge_start) {
                return serve_stream(o->server, service, tcp_models(), "chat-server", {}, [&] {
                  if (web) web->start();
                  bridge_start();
                });
              });
            });
          }};
}

}  // namespace concur
