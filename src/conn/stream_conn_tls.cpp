// StreamConn's TLS half: a tls::Stream under the connection's reads and writes, the handshake's
// deadline, and the one-line reports of connections whose TLS failed. Nothing here runs for a
// plain connection (tls_ is null).
#include <sys/socket.h>

#include <openssl/ssl.h>

#include <new>

#include "conn/stream_conn.hpp"
#include <fmt/format.h>

#include "core/log_limiter.hpp"
#include "conn/stream_conn_tls.hpp"

namespace concur {


namespace {
// Failed handshakes are what a scanner or a plaintext client makes at will: 5 lines in full per
// 10 s, then a count (the shape of the server-full log).
LogLimiter& tls_failures() {
  static LogLimiter log("TLS handshakes failed", 5, std::chrono::seconds(10), std::chrono::seconds(1));
  return log;
}
constexpr std::string_view kPlaintextHint = "error: this port speaks TLS\n";
}  // namespace

StreamConn::~StreamConn() = default;

void StreamConn::start_tls(tls::ServerContext& ctx) {
  SSL* ssl = ctx.new_ssl();
  if (!ssl) throw std::bad_alloc();  // every model turns the client away as for any allocation
  try {
    tls_ = std::make_unique<Tls>(ssl, fd_.get(), ctx.settings().handshake_timeout);
  } catch (...) {
    SSL_free(ssl);
    throw;
  }
}

ssize_t StreamConn::read_tls(char* buf, size_t cap) {
  tls::Stream& s = tls_->stream;
  bool was_handshaking = s.handshaking();
  ssize_t n = s.read(buf, cap);
  if (n < 0 && errno == EPROTO) {
    if (s.plaintext_peer()) {
      [[maybe_unused]] ssize_t w = ::send(fd_.get(), kPlaintextHint.data(), kPlaintextHint.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    tls_failures().hit([&] {
      return fmt::format("tls {} {}: {}", was_handshaking ? "handshake failed with" : "error with", peer_.seed_format(),
                         s.failure());
    });
  }
  return n;
}

long StreamConn::flush_tls() {
  long total = 0;
  while (!out_.empty()) {
    long n = tls_->stream.write(out_.view());
    if (n < 0) return -1;
    if (n == 0) break;
    out_.consume(static_cast<size_t>(n));
    total += n;
  }
  return total;
}

bool StreamConn::read_waits_for_output() const { return tls_ && tls_->stream.read_waits_for_output(); }

bool StreamConn::cut_if_handshake_expired(Clock::time_point now) {
  if (!tls_ || !tls_->stream.handshaking() || now < tls_->handshake_due) return false;
  broken_ = true;  // a stalled handshake is cut without a word: there is no channel to say it on
  tls_failures().hit([&] {
    return fmt::format("tls handshake failed with {}: not finished within {:g} s", peer_.seed_format(),
                       std::chrono::duration<double>(tls_->timeout).count());
  });
  return true;
}

void StreamConn::adjust_for_tls(Wants& w) const {
  const tls::Stream& s = tls_->stream;
  if (s.handshaking()) {
    // Until the handshake is over, input is what makes progress: read even past the high-water
    // mark (the output cannot leave before it), and wake at the handshake's deadline.
    w.read = w.input;
    if (!w.timer || tls_->handshake_due < *w.timer) w.timer = tls_->handshake_due;
  }
  if (s.write_waits_for_input()) w.write = false;  // writable means nothing until the peer speaks
  if (s.read_waits_for_output()) w.write = true;   // the read resumes once the socket takes output
}

void StreamConn::tls_close_notify() { tls_->stream.close_notify(); }

void StreamConn::tls_send_best_effort(std::string_view line) {
  if (!tls_->stream.handshaking()) (void)tls_->stream.write(line);
}

}  // namespace concur
