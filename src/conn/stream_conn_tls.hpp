#pragma once
// StreamConn's TLS state (private to stream_conn*.cpp): the stream and its handshake deadline.
#include "conn/stream_conn.hpp"
#include "tls/tls_stream.hpp"

namespace concur {

struct StreamConn::Tls {
  tls::Stream stream;
  Millis timeout;
  Clock::time_point handshake_due;
  Tls(SSL* ssl, int fd, Millis t)
      : stream(ssl, fd, tls::Stream::Role::server), timeout(t), handshake_due(Clock::now() + t) {}
};

}  // namespace concur
