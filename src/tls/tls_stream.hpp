#pragma once
// One TLS connection over a socket the caller owns, with the socket calls' own contract, so that
// the code above a socket (StreamConn, the terminal session, the load generators) stays as it is:
//
//   read()  like recv():  > 0 bytes; 0 the peer closed (close_notify, or EOF); -1 with errno:
//                         EAGAIN (wait, see below), EPROTO (a TLS failure: failure() says it),
//                         or the socket's own error.
//   write() like send():  bytes taken (>= 0; 0: would block); -1 with errno as read().
//
// Non-blocking sockets: the handshake runs inside the first read()s and write()s. OpenSSL may
// need the other direction to progress — a read that must first send (handshake flight), a write
// that must first receive (the peer's half of the handshake) — so after EAGAIN the owner asks
// read_waits_for_output() / write_waits_for_input() what to wait for instead of the obvious.
//
// Read-ahead stays off, and callers read into buffers of at least one record (16 KiB): then no
// decrypted byte waits inside OpenSSL when read() returns, and level-triggered readiness of the
// socket stays the whole truth (a reader paused by back-pressure finds its input in the kernel).
#include <sys/types.h>

#include <chrono>
#include <string>
#include <string_view>

#include "tls/tls_context.hpp"

namespace concur::tls {

class Stream {
 public:
  // Takes `ssl` (from ServerContext::new_ssl or ClientContext::new_ssl; never nullptr) over `fd`.
  enum class Role { server, client };
  Stream(SSL* ssl, int fd, Role role);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  ssize_t read(char* buf, size_t cap);
  long write(std::string_view bytes);

  bool handshaking() const { return !established_; }
  bool read_waits_for_output() const { return read_wants_write_; }
  bool write_waits_for_input() const { return write_wants_read_; }
  // Why the connection failed (EPROTO), one line: "wrong version number", "certificate verify
  // failed (self-signed certificate)", "not TLS (a plaintext client?)".
  const std::string& failure() const { return failure_; }
  // The first byte a server received was not a TLS record: a plaintext client on a TLS port.
  bool plaintext_peer() const { return plaintext_peer_; }

  // Sends close_notify if the connection is established (best effort, never waits).
  void close_notify();

  // Blocking handshake for a client (or server) over a blocking or non-blocking socket, bounded
  // by `timeout`. Returns "" when established, else the reason (one line).
  std::string handshake(std::chrono::milliseconds timeout);

  // The version and cipher ("TLSv1.3 TLS_AES_256_GCM_SHA384"), once established.
  std::string describe() const;

 private:
  // Turns an SSL_* result <= 0 into the socket-call convention.
  long fail(int ret);

  SSL* ssl_;
  int fd_;
  Role role_;
  bool established_ = false;
  bool peeked_ = false;  // server: the first byte was looked at
  bool plaintext_peer_ = false;
  bool read_wants_write_ = false;
  bool write_wants_read_ = false;
  std::string failure_;
};

}  // namespace concur::tls
