#pragma once
// TLS for tests: throw-away certificates made by the `openssl` command, and a TLS client with
// bounded waits (concur's own tls::Stream over a non-blocking loopback socket). Independent
// peers (openssl s_client, Python's ssl) are started by the tests themselves.
#include <memory>
#include <optional>
#include <string>

#include "core/fd.hpp"
#include "support/net.hpp"
#include "support/temp_dir.hpp"
#include "tls/tls_stream.hpp"

namespace concur::test {

struct TestCert {
  std::string cert;  // PEM certificate (self-signed: it is its own CA)
  std::string key;   // PEM private key
};

// A self-signed P-256 certificate for `cn`, valid for localhost and 127.0.0.1, written as
// dir/<name>.crt and dir/<name>.key. Throws when openssl fails.
TestCert make_test_cert(const TempDir& dir, const std::string& name, const std::string& cn = "localhost");

class TlsTestClient {
 public:
  // Connects to 127.0.0.1:port and completes the handshake, trusting `ca`. Throws with the
  // reason when the handshake fails.
  TlsTestClient(int port, const std::string& ca);
  ~TlsTestClient();
  void send_all(std::string_view bytes);
  // Up to the next '\n' (without it), or nullopt on timeout/EOF.
  std::optional<std::string> recv_line(Ms timeout = Ms(5000));
  // Everything until the server closes (nullopt: still open after timeout).
  std::optional<std::string> recv_until_eof(Ms timeout = Ms(5000));
  std::string recv_exact(size_t n, Ms timeout = Ms(5000));

 private:
  // Waits for what the stream needs and reads once; false on EOF/error/timeout.
  bool read_more(Ms timeout, bool* eof = nullptr);
  concur::FileDesc fd_;
  std::unique_ptr<tls::Stream> tls_;
  std::string pending_;
};

}  // namespace concur::test
