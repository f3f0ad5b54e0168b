#include "tls/tls_stream.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <algorithm>
#include <climits>
#include <cstring>

#include <fmt/format.h>

namespace concur::tls {

namespace {
constexpr unsigned char kHandshakeRecord = 0x16;  // the content type every ClientHello starts with
}

Stream::Stream(SSL* ssl, int fd, Role role) : ssl_(ssl), fd_(fd), role_(role) {
  SSL_set_fd(ssl_, fd_);
  if (role_ == Role::server) SSL_set_accept_state(ssl_);
  else SSL_set_connect_state(ssl_);
}

Stream::~Stream() { SSL_free(ssl_); }

long Stream::fail(int ret) {
  int err = SSL_get_error(ssl_, ret);
  switch (err) {
    case SSL_ERROR_WANT_READ:
      errno = EAGAIN;
      return -1;
    case SSL_ERROR_WANT_WRITE:
      errno = EAGAIN;
      return -2;  // the caller marks which direction it was
    case SSL_ERROR_ZERO_RETURN:
      ERR_clear_error();
      return 0;
    case SSL_ERROR_SYSCALL: {
      int saved = errno;
      ERR_clear_error();
      if (saved == 0 || saved == EAGAIN) return 0;  // EOF without close_notify (allowed: IGNORE_UNEXPECTED_EOF)
      errno = saved;
      return -1;
    }
    default: {
      failure_ = take_error("protocol error");
      if (role_ == Role::client) {
        long v = SSL_get_verify_result(ssl_);
        if (v != X509_V_OK) failure_ += fmt::format(" ({})", X509_verify_cert_error_string(v));
      }
      errno = EPROTO;
      return -1;
    }
  }
}

ssize_t Stream::read(char* buf, size_t cap) {
  if (role_ == Role::server && !peeked_) {
    // A plaintext client (the seed's Python programs, nc) on a TLS port: say so in one line,
    // instead of OpenSSL's "wrong version number" to someone who never meant to speak TLS.
    unsigned char first;
    ssize_t n = ::recv(fd_, &first, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) return 0;
    if (n < 0) return -1;  // EAGAIN or the socket's error, errno as recv() left it
    peeked_ = true;
    if (first != kHandshakeRecord) {
      plaintext_peer_ = true;
      failure_ = "not TLS (a plaintext client?)";
      errno = EPROTO;
      return -1;
    }
  }
  read_wants_write_ = false;
  ERR_clear_error();
  int r = SSL_read(ssl_, buf, static_cast<int>(std::min(cap, size_t{INT_MAX})));
  if (r > 0) {
    established_ = true;
    return r;
  }
  if (SSL_is_init_finished(ssl_)) established_ = true;
  long f = fail(r);
  if (f == -2) {
    read_wants_write_ = true;
    return -1;
  }
  return f;
}

long Stream::write(std::string_view bytes) {
  if (bytes.empty()) return 0;
  write_wants_read_ = false;
  ERR_clear_error();
  int w = SSL_write(ssl_, bytes.data(), static_cast<int>(std::min(bytes.size(), size_t{INT_MAX})));
  if (w > 0) {
    established_ = true;
    return w;
  }
  if (SSL_is_init_finished(ssl_)) established_ = true;
  long f = fail(w);
  if (f == -2) return 0;  // the socket is full: wait for it as for any write
  if (f == -1 && errno == EAGAIN) {
    write_wants_read_ = true;  // the handshake waits for the peer
    return 0;
  }
  if (f == 0) {  // closed by the peer while we were writing
    errno = EPIPE;
    return -1;
  }
  return f;
}

void Stream::close_notify() {
  if (!established_ || !failure_.empty()) return;
  ERR_clear_error();
  SSL_shutdown(ssl_);  // one try: the alert goes out if the socket takes it
  ERR_clear_error();
}

std::string Stream::handshake(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    ERR_clear_error();
    int r = SSL_do_handshake(ssl_);
    if (r == 1) {
      established_ = true;
      return "";
    }
    int err = SSL_get_error(ssl_, r);
    short events;
    if (err == SSL_ERROR_WANT_READ) {
      events = POLLIN;
    } else if (err == SSL_ERROR_WANT_WRITE) {
      events = POLLOUT;
    } else {
      long f = fail(r);
      if (f == 0) return "the server closed the connection during the TLS handshake";
      if (errno == EPROTO) return failure_;
      return fmt::format("TLS handshake: {}", std::strerror(errno));
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return "TLS handshake timed out";
    pollfd p{fd_, events, 0};
    int rc = ::poll(&p, 1, static_cast<int>(left.count()));
    if (rc < 0 && errno != EINTR) return fmt::format("TLS handshake: {}", std::strerror(errno));
  }
}

std::string Stream::describe() const {
  const char* cipher = SSL_get_cipher_name(ssl_);
  return fmt::format("{} {}", SSL_get_version(ssl_), cipher ? cipher : "");
}

}  // namespace concur::tls
