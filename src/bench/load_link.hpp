#pragma once
// One connection of the load generators (`concur bench echo|chat`): a non-blocking socket, plain
// or with TLS over it (--tls), behind the socket calls' contract, so the event loops of
// echo_load.cpp and chat_load.cpp stay one loop for both.
//
// TLS runs on tls::Stream (src/tls) without blocking: the handshake happens inside the first
// flush() and recv() (every connection's handshake in flight at once, as a real crowd of clients
// does), SSL_write/SSL_read's WANT_READ/WANT_WRITE are turned into "wait for readable" and
// wait_for_output(). A loop therefore:
//   - watches readable always, and writable while wait_for_output(out) says so;
//   - on readable calls recv(), and then flush() again if bytes are waiting (a write that waited
//     for the peer's half of the handshake can go on now);
//   - on writable with read_waits_for_output(), calls recv() as if readable.
// A TLS failure (a certificate not trusted, a plaintext server) throws tls::TlsError with one line,
// "cannot connect to HOST:PORT: tls: certificate verify failed (self-signed certificate)" (after
// the handshake: "connection to HOST:PORT: tls: …"): a run whose connections cannot be made, or
// whose records are refused, is an error, not a count.
#include <sys/types.h>

#include <memory>
#include <string>
#include <utility>

#include "core/buffer.hpp"
#include "core/fd.hpp"
#include "tls/tls_stream.hpp"

namespace concur {

class LoadLink {
 public:
  LoadLink() = default;
  // Plain: `fd` as it is. TLS: a client stream from `ctx` checking the server against `host`;
  // `where` ("127.0.0.1:2500") names the server in a failure.
  explicit LoadLink(FileDesc fd) : fd_(std::move(fd)) {}
  LoadLink(FileDesc fd, const tls::ClientContext& ctx, const std::string& host, std::string where);

  int fd() const { return fd_.get(); }
  bool valid() const { return fd_.valid(); }
  explicit operator bool() const { return valid(); }
  bool tls() const { return tls_ != nullptr; }

  // recv(MSG_DONTWAIT): > 0 bytes, 0 the server closed, -1 with errno (EAGAIN: wait).
  ssize_t recv(char* buf, size_t cap);
  // Buffer::flush_to's contract: bytes sent (0: would block), or -errno.
  long flush(Buffer& out);
  // Whether the loop should watch writable, with `out` waiting to be sent.
  bool wait_for_output(const Buffer& out) const {
    if (!tls_) return !out.empty();
    return (!out.empty() && !tls_->write_waits_for_input()) || tls_->read_waits_for_output();
  }
  bool read_waits_for_output() const { return tls_ && tls_->read_waits_for_output(); }
  // TLS, once the handshake is over: "TLSv1.3 TLS_AES_256_GCM_SHA384"; else "".
  std::string tls_in_use() const { return tls_ && !tls_->handshaking() ? tls_->describe() : ""; }

 private:
  [[noreturn]] void tls_failed() const;

  FileDesc fd_;
  std::unique_ptr<tls::Stream> tls_;  // destroyed first: the SSL only borrows the descriptor
  std::string where_;
};

}  // namespace concur
