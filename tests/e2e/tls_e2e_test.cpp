// TLS on the listeners (issue 23): every model that can serve TLS echoes to an independent peer
// (Python's ssl); chat members over TLS keep chatting while a plaintext client, a stalled
// handshake and garbage records are each cut off and logged; SIGHUP brings in a new certificate
// for new connections and keeps the old ones; the clients check certificates; a model that
// cannot serve TLS, or a certificate that cannot be used, is a clear error.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <csignal>
#include <filesystem>
#include <string>
#include <vector>

#include "models/model.hpp"
#include "support/model_available.hpp"
#include "support/net.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/tls_peer.hpp"

namespace concur::test {
namespace {

constexpr const char* kPythonEcho = R"(
import socket, ssl, sys
port, ca, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
ctx = ssl.create_default_context(cafile=ca)
with socket.create_connection(('127.0.0.1', port), timeout=20) as raw:
    with ctx.wrap_socket(raw, server_hostname='localhost') as s:
        data = bytes(32 + (i * 7) % 95 for i in range(n))
        s.sendall(data)
        got = bytearray()
        while len(got) < n:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        print('ok' if bytes(got) == data else 'bad %d' % len(got), s.version(), flush=True)
)";

std::vector<std::string> tls_models() {
  return model_names([](const ModelInfo& m) { return !m.completion_io; });
}

std::vector<std::string> tls_server(std::vector<std::string> args, const TestCert& c) {
  args.insert(args.end(), {"--port", "0", "--bind", "127.0.0.1", "--tls-cert", c.cert, "--tls-key", c.key});
  return args;
}

void expect_clean_exit(Server& s) {
  ASSERT_TRUE(s.proc.running()) << s.proc.read_all_stderr(Ms(200));
  s.proc.signal(SIGTERM);
  EXPECT_EQ(s.proc.wait(Ms(10000)), 0);
  std::string err = s.proc.read_all_stderr(Ms(500));
  EXPECT_EQ(err.find("Sanitizer"), std::string::npos) << err;
  EXPECT_EQ(err.find("runtime error"), std::string::npos) << err;
}

class TlsModels : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { SKIP_IF_MODEL_UNAVAILABLE(GetParam()); }
};

TEST_P(TlsModels, EchoesToPythonSslAndTellsAPlaintextClient) {
  TempDir dir;
  TestCert c = make_test_cert(dir, "server");
  Server s(tls_server({"echo-server", "--model", GetParam()}, c));
  ASSERT_TRUE(s.proc.wait_for_line("tls: 127.0.0.1:" + std::to_string(s.port) + " speaks TLS"));
  // 30,000 printable bytes: two TLS records each way, and small enough that the echo server's own
  // log of what it received (stdout, which this test reads only after) never fills the pipe.
  Process py({"python3", "-c", kPythonEcho, std::to_string(s.port), c.cert, "30000"});
  auto line = py.read_line(Ms(20000));
  ASSERT_TRUE(line.has_value()) << py.read_all_stderr(Ms(500));
  EXPECT_EQ(line->rfind("ok TLSv1.", 0), 0u) << *line;  // 30,000 bytes back intact, TLS 1.2 or 1.3
  EXPECT_EQ(py.wait(Ms(5000)), 0);

  TestClient plain(s.port);  // the seed's programs speak plaintext
  plain.send_all("[seed]\n");
  EXPECT_EQ(plain.recv_line(), "error: this port speaks TLS");
  EXPECT_TRUE(plain.wait_eof());
  EXPECT_TRUE(s.proc.wait_for_stderr("not TLS (a plaintext client?)"));
  TlsTestClient after(s.port, c.cert);  // and the server serves on
  after.send_all("still\n");
  EXPECT_EQ(after.recv_line(), "still");
  expect_clean_exit(s);
}

INSTANTIATE_TEST_SUITE_P(EveryTlsModel, TlsModels, ::testing::ValuesIn(tls_models()),
                         [](const auto& info) { return info.param; });

// Two members over TLS — one of them `openssl s_client` — chat while three bad clients come and
// are cut off, each with one log line.
TEST(TlsChat, MembersKeepChattingWhileBadClientsAreCutOff) {
  TempDir dir;
  TestCert c = make_test_cert(dir, "server");
  Server s(tls_server({"chat-server", "--model", "epoll", "--tls-handshake-timeout", "500ms"}, c));
  TlsTestClient alice(s.port, c.cert);
  alice.send_all("[alice]\n");
  ASSERT_TRUE(s.proc.wait_for_line(":[alice]"));
  Process bob({"openssl", "s_client", "-quiet", "-verify_return_error", "-CAfile", c.cert, "-connect",
               "127.0.0.1:" + std::to_string(s.port)});
  bob.write_stdin("[bob]\n");
  ASSERT_TRUE(s.proc.wait_for_line(":[bob]"));

  TestClient plaintext(s.port);
  plaintext.send_all("[mallory]\n");
  EXPECT_EQ(plaintext.recv_line(), "error: this port speaks TLS");
  TestClient stalled(s.port);  // connects and never says a word
  TestClient garbage(s.port);
  garbage.send_all(std::string("\x16\x03\x01\x00\x08", 5) + "garbage!");  // a handshake record of junk

  alice.send_all("hello bob\n");
  EXPECT_TRUE(bob.wait_for_line("[alice]hello bob"));
  bob.write_stdin("hello alice\n");
  bool heard = false;
  for (int i = 0; i < 5 && !heard; ++i) {
    auto l = alice.recv_line();
    heard = l && *l == "[bob]hello alice";
  }
  EXPECT_TRUE(heard);

  EXPECT_TRUE(garbage.wait_eof(Ms(3000)));
  EXPECT_TRUE(stalled.wait_eof(Ms(3000)));  // cut at the handshake timeout
  EXPECT_TRUE(s.proc.wait_for_stderr("not finished within 0.5 s"));
  EXPECT_TRUE(s.proc.wait_for_stderr("not TLS (a plaintext client?)"));
  alice.send_all("still here\n");
  EXPECT_TRUE(bob.wait_for_line("[alice]still here"));
  bob.close_stdin();
  expect_clean_exit(s);
  std::string err = s.proc.read_all_stderr(Ms(200));
  // One line per bad client (never OpenSSL's error stack).
  EXPECT_EQ(err.find("SSL routines"), std::string::npos) << err;
}

// The subject an `openssl s_client` sees on the server's port.
std::string served_subject(int port, const std::string& ca) {
  Process p({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port), "-CAfile", ca,
             "-verify_return_error"});
  p.close_stdin();
  std::string out = p.read_all_stdout(Ms(5000));
  p.wait(Ms(5000));
  size_t at = out.find("subject=");
  return at == std::string::npos ? out : out.substr(at, out.find('\n', at) - at);
}

TEST(TlsChat, SighupBringsInANewCertificateAndKeepsEveryone) {
  TempDir dir;
  TestCert alpha = make_test_cert(dir, "alpha", "alpha");
  TestCert beta = make_test_cert(dir, "beta", "beta");
  std::string cert = dir.file("live.crt"), key = dir.file("live.key");
  std::filesystem::copy_file(alpha.cert, cert);
  std::filesystem::copy_file(alpha.key, key);
  Server s({"chat-server", "--port", "0", "--bind", "127.0.0.1", "--model", "epoll", "--tls-cert", cert, "--tls-key",
            key});
  EXPECT_NE(served_subject(s.port, alpha.cert).find("CN = alpha"), std::string::npos);
  TlsTestClient old_member(s.port, alpha.cert);
  old_member.send_all("[old]\n");
  ASSERT_TRUE(s.proc.wait_for_line(":[old]"));

  // A broken pair first: logged, and the certificate in force stays.
  dir.write("live.key", "not a key");
  s.proc.signal(SIGHUP);
  EXPECT_TRUE(s.proc.wait_for_stderr("tls: cannot reload"));
  EXPECT_NE(served_subject(s.port, alpha.cert).find("CN = alpha"), std::string::npos);

  std::filesystem::copy_file(beta.cert, cert, std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(beta.key, key, std::filesystem::copy_options::overwrite_existing);
  s.proc.signal(SIGHUP);
  ASSERT_TRUE(s.proc.wait_for_line("tls: reloaded certificate"));
  EXPECT_NE(served_subject(s.port, beta.cert).find("CN = beta"), std::string::npos);
  TlsTestClient new_member(s.port, beta.cert);
  new_member.send_all("[new]\n");
  ASSERT_TRUE(s.proc.wait_for_line(":[new]"));
  old_member.send_all("still on alpha\n");
  bool heard = false;
  for (int i = 0; i < 5 && !heard; ++i) {
    auto l = new_member.recv_line();
    heard = l && *l == "[old]still on alpha";
  }
  EXPECT_TRUE(heard);
  expect_clean_exit(s);
}

TEST(TlsClients, ChatClientChecksTheCertificateAndChats) {
  TempDir dir;
  TestCert c = make_test_cert(dir, "server");
  TestCert other = make_test_cert(dir, "other");
  Server s(tls_server({"chat-server", "--model", "epoll"}, c));
  TlsTestClient alice(s.port, c.cert);
  alice.send_all("[alice]\n");
  ASSERT_TRUE(s.proc.wait_for_line(":[alice]"));

  Process wrong(concur_args({"chat-client", "--port", std::to_string(s.port), "--id", "eve", "--tls", "--tls-ca",
                             other.cert}));
  wrong.close_stdin();
  EXPECT_EQ(wrong.wait(Ms(5000)), 1);
  EXPECT_NE(wrong.read_all_stderr().find("tls: certificate verify failed"), std::string::npos);

  Process bob(concur_args({"chat-client", "--port", std::to_string(s.port), "--id", "bob", "--tls", "--tls-ca", c.cert}));
  ASSERT_TRUE(s.proc.wait_for_line(":[bob]"));
  bob.write_stdin("hi over tls\n");
  bool heard = false;
  for (int i = 0; i < 5 && !heard; ++i) {
    auto l = alice.recv_line();
    heard = l && *l == "[bob]hi over tls";
  }
  EXPECT_TRUE(heard);
  alice.send_all("welcome\n");
  EXPECT_TRUE(bob.wait_for_line("[alice]welcome"));
  bob.close_stdin();
  EXPECT_EQ(bob.wait(Ms(5000)), 0);

  Process echo(concur_args({"echo-client", "--port", std::to_string(s.port), "--tls", "--tls-ca", c.cert}));
  echo.close_stdin();
  EXPECT_EQ(echo.wait(Ms(5000)), 0) << echo.read_all_stderr();
  expect_clean_exit(s);
}

TEST(TlsErrors, WhatCannotServeTlsSaysWhy) {
  TempDir dir;
  TestCert c = make_test_cert(dir, "server");
  {
    Process p(concur_args({"echo-server", "--port", "0", "--model", "uring", "--tls-cert", c.cert, "--tls-key", c.key}));
    EXPECT_EQ(p.wait(Ms(5000)), 2);
    EXPECT_NE(p.read_all_stderr().find("--tls-cert: model 'uring' cannot serve TLS"), std::string::npos);
  }
  {
    Process p(concur_args({"echo-server", "--port", "0", "--tls-cert", dir.file("missing.crt")}));
    EXPECT_EQ(p.wait(Ms(5000)), 1);
    EXPECT_NE(p.read_all_stderr().find("cannot use certificate " + dir.file("missing.crt")), std::string::npos);
  }
  {
    Process p(concur_args({"echo-server", "--port", "0", "--tls-key", c.key}));
    EXPECT_EQ(p.wait(Ms(5000)), 2);
    EXPECT_NE(p.read_all_stderr().find("--tls-key: needs --tls-cert"), std::string::npos);
  }
  {
    TestCert other = make_test_cert(dir, "other");
    Process p(concur_args({"echo-server", "--port", "0", "--tls-cert", c.cert, "--tls-key", other.key}));
    EXPECT_EQ(p.wait(Ms(5000)), 1);
    EXPECT_NE(p.read_all_stderr().find("does not match certificate"), std::string::npos);
  }
}

}  // namespace
}  // namespace concur::test
