#include "bench/load_link.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <new>

#include "core/sys.hpp"

namespace concur {

LoadLink::LoadLink(FileDesc fd, const tls::ClientContext& ctx, const std::string& host, std::string where)
    : fd_(std::move(fd)), where_(std::move(where)) {
  SSL* ssl = ctx.new_ssl(host);
  if (!ssl) throw std::bad_alloc();
  tls_ = std::make_unique<tls::Stream>(ssl, fd_.get(), tls::Stream::Role::client);
}

void LoadLink::tls_failed() const {
  throw tls::TlsError((tls_->handshaking() ? "cannot connect to " : "connection to ") + where_ + ": tls: " +
                      tls_->failure());
}

ssize_t LoadLink::recv(char* buf, size_t cap) {
  if (!tls_) return sys::recv(fd_.get(), buf, cap, MSG_DONTWAIT);
  ssize_t n = tls_->read(buf, cap);
  if (n < 0 && errno == EPROTO && !tls_->failure().empty()) tls_failed();
  return n;
}

long LoadLink::flush(Buffer& out) {
  if (!tls_) return out.flush_to(fd_.get());
  long total = 0;
  while (!out.empty()) {
    // The retry after a short write passes the same first bytes (and maybe more after them):
    // what OpenSSL asks of a retried SSL_write, with partial writes and a moving buffer allowed.
    long w = tls_->write(out.view());
    if (w > 0) {
      out.consume(static_cast<size_t>(w));
      total += w;
      continue;
    }
    if (w == 0) break;  // the socket is full, or the handshake waits for the server
    if (errno == EINTR) continue;
    if (errno == EPROTO && !tls_->failure().empty()) tls_failed();
    return -errno;
  }
  return total;
}

}  // namespace concur
