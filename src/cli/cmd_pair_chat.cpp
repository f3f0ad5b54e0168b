// pair-chat server | client: the lecture's 1:1 full-duplex chat (tcp_thread_chat_server.py and
// tcp_thread_chat_client.py), on the shared DuplexSession: each side sends its input lines
// (printing "-> line") while it prints what arrives ("<- text"), neither waiting for its turn.
//
// Wire format: one message per line ("text\n"). The seed's Python peers send bare chunks with no
// newline; those are printed as they arrive (DuplexSession). End of input half-closes the
// connection (shutdown SHUT_WR) and keeps printing until the peer closes too; the peer closing
// ends the session with "peer left" and exit 0. On a terminal the input is edited with libedit
// behind the prompt "-> " (so the typed line stays on screen as the "-> line" echo) and received
// text appears above it.
#include <poll.h>
#include <unistd.h>
#include <sys/socket.h>

#include <cerrno>
#include <memory>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "clients/connect.hpp"
#include "clients/duplex_session.hpp"
#include "clients/input_reader.hpp"
#include "clients/session_io.hpp"
#include "clients/terminal_editor.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/socket.hpp"
#include "core/stop.hpp"

namespace concur {

namespace {

constexpr int kPairChatPort = 3333;

struct PairChatOptions {
  int port = kPairChatPort;
  std::string bind = "0.0.0.0";
  std::string host = "127.0.0.1";
};

int chat_with(FileDesc sock, const Endpoint& peer, StopSource& stop) {
  InputReader input(STDIN_FILENO);
  const bool terminal = TerminalEditor::wanted();
  std::unique_ptr<SessionIo> io;
  if (terminal) io = std::make_unique<TerminalEditor>(EditorOptions{"-> ", {}});
  else io = std::make_unique<PipeIo>(input);
  SessionOptions so;
  so.transport = Transport::tcp;
  so.peer = peer;
  so.recv_prefix = "<- ";
  so.closed_line = "peer left";
  DuplexSession session(
      std::move(sock), *io, std::move(so),
      [terminal](std::string_view line) {
        SessionAction a;
        a.send = true;
        a.payload = std::string(line) + "\n";
        if (!terminal) a.echo = "-> " + escape_for_terminal(line);  // on a terminal the typed line stays
        return a;
      },
      [] {
        SessionAction a;
        a.then = SessionAction::Then::half_close;  // RELIABILITY #22: keep receiving
        return a;
      },
      stop);
  return session.run();
}

int run_server(const PairChatOptions& o) {
  Endpoint at;
  try {
    at = Endpoint::parse(o.bind, static_cast<uint16_t>(o.port));
  } catch (const UsageError& e) {
    throw UsageError(std::string("--bind: ") + e.what());
  }
  ensure_stdin_open();  // before any descriptor is opened
  StopSource stop;
  StopSignalGuard signals(stop);
  FileDesc listener = tcp_listen(at, 1);
  outf("listening on {} (tcp, model=thread)", local_endpoint(listener.get()).to_string());
  Acceptor acceptor(listener.get());
  FileDesc conn;
  Endpoint peer;
  for (;;) {
    if (!wait_ready_or_stop(listener.get(), POLLIN, stop.fd())) return 0;
    auto r = acceptor.accept(conn, peer);
    if (r == Acceptor::Result::accepted) break;
    if (r == Acceptor::Result::refused_emfile) errf("concur: out of descriptors; a connection was refused");
    if (r == Acceptor::Result::error) throw_errno("cannot accept on " + at.to_string());
  }
  listener.reset();  // 1:1: whoever comes next is refused, not left waiting in the backlog
  outf("peer connected from {}", peer.to_string());
  return chat_with(std::move(conn), peer, stop);
}

int run_client(const PairChatOptions& o) {
  Endpoint to = client_endpoint(o.host, o.port);
  ensure_stdin_open();  // before any descriptor is opened
  StopSource stop;
  StopSignalGuard signals(stop);
  FileDesc sock = tcp_connect_until(to, stop);
  if (!sock) return 0;
  outf("connected to {}", to.to_string());
  return chat_with(std::move(sock), to, stop);
}

}  // namespace

Command pair_chat_command() {
  return {"pair-chat", "1:1 full-duplex chat: 'pair-chat server' waits for one peer, 'pair-chat client' joins it",
          [](CLI::App& app) {
            auto o = std::make_shared<PairChatOptions>();
            app.require_subcommand(1, 1);
            CLI::App* server = app.add_subcommand("server", "wait for one peer, then chat with it");
            server->add_option("--port", o->port, "TCP port to listen on (0 = any free port)")
                ->check(CLI::Range(0, 65535))
                ->capture_default_str();
            server->add_option("--bind", o->bind, "address to bind (IPv4 or IPv6)")->capture_default_str();
            CLI::App* client = app.add_subcommand("client", "connect to a pair-chat server and chat");
            add_client_options(*client, o->host, o->port, kPairChatPort);
            return CommandRun([o, server] { return server->parsed() ? run_server(*o) : run_client(*o); });
          }};
}

}  // namespace concur
