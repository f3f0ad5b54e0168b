#include "clients/tls_client.hpp"

#include <sys/socket.h>

#include <stdexcept>

#include "core/sys.hpp"

namespace concur {

std::shared_ptr<tls::ClientContext> client_tls_context(const ClientTlsOptions& o) {
  if (!o.on) return nullptr;
  tls::ClientSettings s;
  s.ca = o.ca;
  s.cert = o.cert;
  s.key = o.key;
  s.verify = o.verify;
  return std::make_shared<tls::ClientContext>(s);
}

std::unique_ptr<tls::Stream> start_client_tls(const tls::ClientContext& ctx, int fd, const std::string& host,
                                              const std::string& where, std::chrono::milliseconds timeout) {
  SSL* ssl = ctx.new_ssl(host);
  if (!ssl) throw std::bad_alloc();
  auto s = std::make_unique<tls::Stream>(ssl, fd, tls::Stream::Role::client);
  std::string why = s->handshake(timeout);
  if (!why.empty()) throw tls::TlsError("cannot connect to " + where + ": tls: " + why);
  return s;
}

ssize_t ClientSocket::recv(char* buf, size_t cap) { return tls ? tls->read(buf, cap) : sys::recv(fd, buf, cap, 0); }

ssize_t ClientSocket::send(const char* data, size_t n) {
  if (!tls) return sys::send(fd, data, n, MSG_NOSIGNAL);
  long w = tls->write(std::string_view(data, n));
  if (w == 0) {
    errno = EAGAIN;
    return -1;
  }
  return w;
}

}  // namespace concur
