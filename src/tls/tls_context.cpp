#include "tls/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace concur::tls {

std::string take_error(const std::string& fallback) {
  unsigned long e = ERR_get_error();
  std::string out = fallback;
  if (e != 0) {
    const char* reason = ERR_reason_error_string(e);
    out = reason ? reason : fmt::format("error {:#x}", e);
  }
  ERR_clear_error();
  return out;
}

namespace {

// What both sides share: TLS 1.2 or later, no renegotiation, buffers released while idle (an idle
// chat member then costs a few hundred bytes of OpenSSL state, not 34 KiB of record buffers), and
// a write may be partial and retried from a buffer that has moved (our output queue compacts).
void common_settings(SSL_CTX* ctx) {
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

// Loads cert + key into a new server context; "" and *out set, or the reason.
std::string load_server(const ServerSettings& s, SSL_CTX** out) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) return "out of memory";
  common_settings(ctx);
  std::string why;
  if (SSL_CTX_use_certificate_chain_file(ctx, s.cert.c_str()) != 1)
    why = fmt::format("cannot use certificate {}: {}", s.cert, take_error());
  else if (SSL_CTX_use_PrivateKey_file(ctx, s.key.c_str(), SSL_FILETYPE_PEM) != 1) {
    // A key of the certificate's type but not its pair fails here, not in the check below.
    bool mismatch = ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH;
    std::string detail = take_error();
    why = mismatch ? fmt::format("key {} does not match certificate {}", s.key, s.cert)
                   : fmt::format("cannot use key {}: {}", s.key, detail);
  }
  else if (SSL_CTX_check_private_key(ctx) != 1)
    why = fmt::format("key {} does not match certificate {}", s.key, s.cert);
  if (!why.empty()) {
    SSL_CTX_free(ctx);
    return why;
  }
  *out = ctx;
  return "";
}

}  // namespace

ServerContext::ServerContext(ServerSettings s) : settings_(std::move(s)) {
  SSL_CTX* ctx = nullptr;
  std::string why = load_server(settings_, &ctx);
  if (!why.empty()) throw TlsError(why);
  MutexLock lock(mu_);
  ctx_ = ctx;
}

ServerContext::~ServerContext() {
  MutexLock lock(mu_);
  SSL_CTX_free(ctx_);
}

SSL* ServerContext::new_ssl() const {
  MutexLock lock(mu_);
  return SSL_new(ctx_);  // takes its own reference to ctx_
}

std::string ServerContext::reload() {
  SSL_CTX* fresh = nullptr;
  std::string why = load_server(settings_, &fresh);
  if (!why.empty()) return why;
  SSL_CTX* old;
  {
    MutexLock lock(mu_);
    old = ctx_;
    ctx_ = fresh;
  }
  SSL_CTX_free(old);  // connections made from it hold their own references
  return "";
}

ClientContext::ClientContext(ClientSettings s) : settings_(std::move(s)) {
  ERR_clear_error();
  ctx_ = SSL_CTX_new(TLS_client_method());
  if (!ctx_) throw TlsError("cannot make a TLS context: out of memory");
  common_settings(ctx_);
  std::string why;
  if (!settings_.ca.empty()) {
    if (SSL_CTX_load_verify_locations(ctx_, settings_.ca.c_str(), nullptr) != 1)
      why = fmt::format("cannot use CA file {}: {}", settings_.ca, take_error());
  } else if (SSL_CTX_set_default_verify_paths(ctx_) != 1) {
    why = "cannot load the system's CA certificates: " + take_error();
  }
  if (why.empty() && !settings_.cert.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx_, settings_.cert.c_str()) != 1)
      why = fmt::format("cannot use certificate {}: {}", settings_.cert, take_error());
    else if (SSL_CTX_use_PrivateKey_file(ctx_, settings_.key.empty() ? settings_.cert.c_str() : settings_.key.c_str(),
                                         SSL_FILETYPE_PEM) != 1)
      why = fmt::format("cannot use key {}: {}", settings_.key, take_error());
  }
  if (!why.empty()) {
    SSL_CTX_free(ctx_);
    throw TlsError(why);
  }
  SSL_CTX_set_verify(ctx_, settings_.verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
}

ClientContext::~ClientContext() { SSL_CTX_free(ctx_); }

SSL* ClientContext::new_ssl(const std::string& host) const {
  SSL* ssl = SSL_new(ctx_);
  if (!ssl) return nullptr;
  if (settings_.verify && !host.empty()) {
    // An address is checked against the certificate's IP entries, a name against its DNS names.
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) != 1) {
      ERR_clear_error();
      SSL_set1_host(ssl, host.c_str());
      SSL_set_tlsext_host_name(ssl, host.c_str());  // SNI: names only, never an address
    }
  }
  return ssl;
}

}  // namespace concur::tls
