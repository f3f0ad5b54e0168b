// hello-server, echo-server, echo-client.
#include <poll.h>
#include <unistd.h>

#include <iostream>
#include <string>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "clients/terminal_editor.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/socket.hpp"
#include "core/stop.hpp"
#include "core/sys.hpp"
#include "services/echo.hpp"
#include "services/hello.hpp"

namespace concur {

namespace {
// hello is the iterative server of slide 1, but nothing in it depends on the model.
std::vector<std::string> hello_models() { return all_model_names(); }
std::vector<std::string> echo_models() { return all_model_names(); }

void add_idle_timeout_option(CLI::App& app, Millis& idle) {
  add_duration_option(app, "--idle-timeout", idle,
                      "close a client silent this long (0 = never, the default; a slowloris defence)");
}
}  // namespace

Command hello_server_command() {
  return {"hello-server", "greet each client with 'Hello <its ip>' and close (lecture slide 1)", [](CLI::App& app) {
            auto o = std::make_shared<ServerOptions>();
            add_server_options(app, *o, 9000, "iterative", hello_models(), "hello-server");
            auto idle = std::make_shared<Millis>(0);
            add_idle_timeout_option(app, *idle);
            return CommandRun([o, idle] {
              HelloService service(o->quiet, *idle);
              return serve_stream(*o, service, hello_models(), "hello-server");
            });
          }};
}

Command echo_server_command() {
  return {"echo-server", "echo every byte back (RFC 862) under any concurrency model", [](CLI::App& app) {
            auto o = std::make_shared<ServerOptions>();
            add_server_options(app, *o, 2500, "thread", echo_models(), "echo-server");
            auto idle = std::make_shared<Millis>(0);
            add_idle_timeout_option(app, *idle);
            return CommandRun([o, idle] {
              EchoService service(o->quiet, *idle);
              return serve_stream(*o, service, echo_models(), "echo-server");
            });
          }};
}

namespace {

// Reads exactly n bytes (the echo of what we sent), or fewer if the server closes.
std::string read_echo(ClientSocket& sock, size_t n) {
  std::string got;
  char buf[65536];
  while (got.size() < n) {
    ssize_t r = sock.recv(buf, std::min(sizeof buf, n - got.size()));
    if (r > 0) got.append(buf, static_cast<size_t>(r));
    else if (r < 0 && errno == EINTR) continue;
    else break;
  }
  return got;
}

void send_line(ClientSocket& sock, const std::string& line, const std::string& host, int port) {
  size_t off = 0;
  while (off < line.size()) {
    ssize_t w = sock.send(line.data() + off, line.size() - off);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) throw_errno("cannot send to " + host + ":" + std::to_string(port));
    off += static_cast<size_t>(w);
  }
}

// On a terminal: the same exchange with libedit line editing behind the seed's prompt. Ctrl-D
// on an empty line or Ctrl-C leaves (exit 0) with the terminal restored.
int echo_client_terminal(ClientSocket& sock, const std::string& host, int port) {
  StopSource stop;
  StopSignalGuard signals(stop);
  TerminalEditor editor(EditorOptions{"Message to send: ", {}});
  while (auto line = editor.read_line(stop.fd())) {
    send_line(sock, *line, host, port);
    std::string echo;
    while (echo.size() < line->size()) {  // wait for the echo, but not past a Ctrl-C
      if (!wait_ready_or_stop(sock.fd, POLLIN, stop.fd())) return 0;
      char buf[65536];
      ssize_t r = sock.recv(buf, std::min(sizeof buf, line->size() - echo.size()));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      echo.append(buf, static_cast<size_t>(r));
    }
    editor.print("Received message: " + escape_for_terminal(echo));
    if (echo.size() < line->size()) throw SysError("server closed the connection", ECONNRESET);
  }
  return 0;
}

int echo_client(std::string host, int port, bool port_given, const ClientTlsOptions& tls_opts) {
  bool tty = ::isatty(STDIN_FILENO);
  if (!port_given && tty) {
    out_raw("Port No: ");
    std::string line;
    if (!std::getline(std::cin, line)) return 0;
    try {
      port = std::stoi(line);
    } catch (...) {
      port = -1;
    }
    if (port < 1 || port > 65535) throw UsageError("Port No: '" + line + "' is not a port number");
  }
  auto tls_ctx = client_tls_context(tls_opts);
  Endpoint to = client_endpoint(host, port);
  FileDesc fd = tcp_connect(to);
  std::unique_ptr<tls::Stream> tls_stream;
  if (tls_ctx) tls_stream = start_client_tls(*tls_ctx, fd.get(), host, to.to_string());
  ClientSocket sock{fd.get(), tls_stream.get()};
  if (TerminalEditor::wanted()) return echo_client_terminal(sock, host, port);
  for (;;) {
    if (tty) out_raw("Message to send: ");
    std::string line;
    if (!std::getline(std::cin, line)) break;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    // Like the seed: the line goes out without its newline and comes back byte for byte.
    send_line(sock, line, host, port);
    std::string echo = read_echo(sock, line.size());
    outf("Received message: {}", escape_for_terminal(echo));
    if (echo.size() < line.size()) throw SysError("server closed the connection", ECONNRESET);
  }
  return 0;
}

}  // namespace

Command echo_client_command() {
  return {"echo-client", "send each input line to an echo server and print the echo", [](CLI::App& app) {
            auto host = std::make_shared<std::string>("127.0.0.1");
            auto port = std::make_shared<int>(2500);
            add_client_options(app, *host, *port, 2500);
            auto* port_opt = app.get_option("--port");
            auto tls = std::make_shared<ClientTlsOptions>();
            add_client_tls_options(app, *tls);
            return CommandRun(
                [host, port, port_opt, tls] { return echo_client(*host, *port, port_opt->count() > 0, *tls); });
          }};
}

}  // namespace concur
