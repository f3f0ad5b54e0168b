#pragma once
// OpenSSL contexts: what every TLS connection of a server (or a client) is made from.
//
// - Protocols: TLS 1.2 and 1.3 only (what Mozilla's "intermediate" profile and every server of
//   docs/reliability.md accept); renegotiation off (TLS 1.2's old denial-of-service lever).
// - A server's certificate and key are re-read by reload() (SIGHUP, tls_reload.hpp): connections
//   made after it get the new pair, those already made keep theirs (an SSL holds a reference to the
//   context it was made from, so the old one lives until its last connection ends).
// - Errors are one line: OpenSSL's error queue is read once and cleared, never dumped.
#include <memory>
#include <stdexcept>
#include <string>

#include "core/duration.hpp"
#include "core/thread_annotations.hpp"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace concur::tls {

// A certificate, key or CA file that cannot be used; what() is one line naming it.
class TlsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The reason of the oldest error in OpenSSL's queue of this thread ("wrong version number"), or
// `fallback` when it is empty; the queue is cleared.
std::string take_error(const std::string& fallback = "unknown error");

struct ServerSettings {
  std::string cert;  // PEM: the certificate, then any intermediates
  std::string key;   // PEM: its private key
  Millis handshake_timeout{10'000};  // a client that has not finished its handshake by then is cut off
};

class ServerContext {
 public:
  // Loads the pair; throws TlsError (a one-line reason naming the file) when it cannot (exit 1).
  explicit ServerContext(ServerSettings s);
  ~ServerContext();
  ServerContext(const ServerContext&) = delete;
  ServerContext& operator=(const ServerContext&) = delete;

  // A server-side SSL for a new connection, from the pair in force now (nullptr: out of memory).
  SSL* new_ssl() const;
  // Re-reads the pair. Returns "" when the new pair is in force, else why not (the old one stays).
  std::string reload();
  const ServerSettings& settings() const { return settings_; }

 private:
  const ServerSettings settings_;
  mutable Mutex mu_;
  SSL_CTX* ctx_ CONCUR_GUARDED_BY(mu_) = nullptr;
};

struct ClientSettings {
  std::string ca;         // PEM file of trusted CAs; empty: the system's (/etc/ssl/certs)
  std::string cert, key;  // a client certificate, when the server asks for one
  bool verify = true;     // check the server's certificate and name
};

class ClientContext {
 public:
  explicit ClientContext(ClientSettings s);  // throws TlsError naming the file it cannot load
  ~ClientContext();
  ClientContext(const ClientContext&) = delete;
  ClientContext& operator=(const ClientContext&) = delete;
  // A client-side SSL that will check the server's certificate for `host` (a name or an address).
  SSL* new_ssl(const std::string& host) const;
  const ClientSettings& settings() const { return settings_; }

 private:
  const ClientSettings settings_;
  SSL_CTX* ctx_ = nullptr;
};

}  // namespace concur::tls
