#pragma once
// The client end of TLS for chat-client, echo-client and the load generator: after connect(), a
// handshake bounded in time that checks the server's certificate against --tls-ca (or the
// system's CAs) and the name or address the user gave with --host.
#include <chrono>
#include <memory>
#include <string>

#include "tls/tls_stream.hpp"

namespace concur {

struct ClientTlsOptions {
  bool on = false;     // --tls
  std::string ca;      // --tls-ca FILE; empty: the system's CAs
  std::string cert;    // --tls-cert FILE: a client certificate, if the server asks for one
  std::string key;     // --tls-key FILE (default: in --tls-cert's file)
  bool verify = true;  // false: bench --tls-insecure (encrypts, checks nothing; for measuring only)
  std::chrono::milliseconds handshake_timeout{10'000};
};

// The context of these options (once per process for a load generator's many connections).
std::shared_ptr<tls::ClientContext> client_tls_context(const ClientTlsOptions& o);

// Runs the handshake over the connected socket `fd` (either blocking mode) for `host`. Throws
// std::runtime_error "cannot connect to HOST:PORT: tls: certificate verify failed (...)".
std::unique_ptr<tls::Stream> start_client_tls(const tls::ClientContext& ctx, int fd, const std::string& host,
                                              const std::string& where,
                                              std::chrono::milliseconds timeout = std::chrono::seconds(10));

// A blocking client's socket, plain or TLS: recv() and send() with the socket calls' contract.
struct ClientSocket {
  int fd = -1;
  tls::Stream* tls = nullptr;
  ssize_t recv(char* buf, size_t cap);
  ssize_t send(const char* data, size_t n);
};

}  // namespace concur
