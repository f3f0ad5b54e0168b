// chat-client: joins a group chat (udp_multi_chat_client.py and its TCP twin, homework 8/9).
// Sends the join message "[ID]", then "[ID]" + each input line; prints every received message
// on its own line while the user types (escaped: RELIABILITY #6). "quit" (or the end of input)
// sends "[ID]quit" and exits 0. TCP messages are lines; UDP messages are datagrams.
// On a terminal (stdin and stdout both TTYs) the input is edited with libedit behind the prompt
// "[ID]> ", received lines appear above it with the sender's name in its colour; anywhere else
// (pipes, scripts) input and output are plain lines, exactly as the seed's client.
#include <unistd.h>

#include <memory>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "clients/chat_id.hpp"
#include "clients/connect.hpp"
#include "clients/duplex_session.hpp"
#include "clients/input_reader.hpp"
#include "clients/name_colour.hpp"
#include "clients/session_io.hpp"
#include "clients/terminal_editor.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/socket.hpp"
#include "core/stop.hpp"

namespace concur {

namespace {

constexpr int kChatPort = 2500;

struct ChatClientOptions {
  std::string host = "127.0.0.1";
  int port = kChatPort;
  std::string transport = "tcp";
  std::string id;
  bool id_given = false;
  std::string history;
  bool no_color = false;
  ClientTlsOptions tls;
};

std::string trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(" \t");
  return std::string(s.substr(b, e - b + 1));
}

// The ID from the terminal ("ID: ", asked again until valid) or from the first input line.
// nullopt: the input ended first, or a stop was requested.
std::optional<std::string> ask_id(InputReader& input, const StopSource& stop) {
  const bool tty = ::isatty(input.fd());
  for (;;) {
    if (tty) out_raw("ID: ");
    auto line = input.read_line(stop.fd());
    if (!line) {
      if (tty) out_line("");
      return std::nullopt;
    }
    std::string id = trim(line->text);
    auto problem = line->too_long ? std::optional<std::string>("an ID has at most 32 bytes") : chat_id_problem(id);
    if (!problem) return id;
    if (!tty) throw UsageError("ID '" + escape_for_terminal(id) + "' is not valid: " + *problem);
    err_line("concur: " + *problem + "; try again");
  }
}

int run_chat_client(const ChatClientOptions& o) {
  const Transport transport = o.transport == "udp" ? Transport::udp : Transport::tcp;
  Endpoint to = client_endpoint(o.host, o.port);
  std::string id = trim(o.id);
  if (o.id_given) {
    if (auto problem = chat_id_problem(id)) throw UsageError("--id: '" + escape_for_terminal(id) + "': " + *problem);
  }

  ensure_stdin_open();  // before any descriptor is opened
  StopSource stop;
  StopSignalGuard signals(stop);
  InputReader input(STDIN_FILENO);
  if (!o.id_given) {
    auto asked = ask_id(input, stop);
    if (!asked && stop.requested()) return 0;
    if (!asked) throw UsageError("no ID given: use --id NAME or type one at the 'ID: ' prompt");
    id = *asked;
  }
  const std::string prefix = "[" + id + "]";
  const std::string eol = transport == Transport::tcp ? "\n" : "";

  if (o.tls.on && transport != Transport::tcp) throw UsageError("--tls: TCP only (UDP has no TLS here)");
  auto tls_ctx = client_tls_context(o.tls);  // a CA file that cannot be read fails before connecting
  FileDesc sock;
  std::unique_ptr<tls::Stream> tls_stream;
  if (transport == Transport::tcp) {
    sock = tcp_connect_until(to, stop);
    if (!sock) return 0;
    if (tls_ctx) tls_stream = start_client_tls(*tls_ctx, sock.get(), o.host, to.to_string());
  } else {
    sock = udp_connect(to);
  }

  SessionOptions so;
  so.transport = transport;
  so.peer = to;
  so.closed_line = transport == Transport::tcp ? "server closed the connection" : "server is gone";
  so.farewell = prefix + "quit" + eol;
  so.max_input_line = kMaxChatMessage - prefix.size();
  so.leave_wait = Millis(500);
  auto quit = [&] {
    SessionAction a;
    a.send = true;
    a.payload = prefix + "quit" + eol;
    a.then = SessionAction::Then::leave;
    return a;
  };
  if (colour_wanted(o.no_color)) so.decorate = [](std::string line) { return colour_chat_line(line); };
  std::unique_ptr<SessionIo> io;
  if (TerminalEditor::wanted()) {
    io = std::make_unique<TerminalEditor>(EditorOptions{prefix + "> ", o.history});
  } else {
    io = std::make_unique<PipeIo>(input);
  }
  DuplexSession session(
      std::move(sock), *io, std::move(so),
      [&](std::string_view line) {
        if (trim(line) == "quit") return quit();
        SessionAction a;
        if (line.empty()) return a;  // an empty line would read as a second join: nothing to send
        a.send = true;
        a.payload = prefix + std::string(line) + eol;
        return a;
      },
      quit, stop);
  if (tls_stream) session.use_tls(std::move(tls_stream));
  session.queue(prefix + eol);  // the join message
  return session.run();
}

}  // namespace

Command chat_client_command() {
  return {"chat-client", "join a group chat as [ID] (TCP lines or UDP datagrams)", [](CLI::App& app) {
            auto o = std::make_shared<ChatClientOptions>();
            add_client_options(app, o->host, o->port, kChatPort);
            add_client_tls_options(app, o->tls);
            app.add_option("--transport", o->transport, "tcp or udp")
                ->check(CLI::IsMember({"tcp", "udp"}))
                ->capture_default_str();
            auto* id_opt = app.add_option("--id", o->id, "your chat ID (1-32 bytes, no '[' or ']'); asked when not given");
            app.add_option("--history", o->history,
                           "on a terminal: keep the input history in this file (default: in memory only)");
            app.add_flag("--no-color", o->no_color,
                         "never colour names (also when NO_COLOR is set; colour is only used on a terminal)");
            return CommandRun([o, id_opt] {
              o->id_given = id_opt->count() > 0;
              return run_chat_client(*o);
            });
          }};
}

}  // namespace concur
