// AcceptGate and its Admission: --max-clients is a count of places, each owned by what serves the
// client and given back exactly once, however that ends (moved, released, destroyed).
#include "conn/accept_gate.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <utility>

#include "conn/conn_driver.hpp"
#include "conn/stream_conn.hpp"

namespace concur {
namespace {

// One end for the gate (the "accepted client"), the other to read what the gate told it.
struct Pair {
  Pair() {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    client.reset(sv[0]);
    peer.reset(sv[1]);
  }
  std::string told() {
    char buf[256];
    ssize_t n = ::recv(peer.get(), buf, sizeof buf, MSG_DONTWAIT);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  }
  FileDesc client, peer;
};

Endpoint loopback() { return Endpoint::parse("127.0.0.1", 40000); }

TEST(AcceptGate, AdmitsUpToMaxClientsAndTellsTheNextOneItIsFull) {
  ServerConfig cfg;
  cfg.max_clients = 2;
  AcceptGate gate(cfg);
  Pair p1, p2, p3;
  Admission a = gate.admit(p1.client, loopback());
  Admission b = gate.admit(p2.client, loopback());
  EXPECT_TRUE(a && b);
  EXPECT_EQ(gate.live(), 2u);
  Admission c = gate.admit(p3.client, loopback());
  EXPECT_FALSE(c);
  EXPECT_FALSE(p3.client.valid()) << "a refused client is closed";
  EXPECT_EQ(p3.told(), "error: server full\n");
  EXPECT_EQ(gate.live(), 2u);
  EXPECT_TRUE(p1.client.valid()) << "an admitted client stays with its caller";
}

TEST(AcceptGate, APlaceIsGivenBackOnceWhetherReleasedMovedOrDestroyed) {
  ServerConfig cfg;
  cfg.max_clients = 1;
  AcceptGate gate(cfg);
  Pair p;
  {
    Admission a = gate.admit(p.client, loopback());
    ASSERT_TRUE(a);
    Admission moved = std::move(a);
    EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move): the moved-from one holds nothing
    EXPECT_EQ(gate.live(), 1u);
    moved.release();
    EXPECT_EQ(gate.live(), 0u);
    moved.release();  // idempotent
    EXPECT_EQ(gate.live(), 0u);
  }
  EXPECT_EQ(gate.live(), 0u) << "a released place is not given back again at destruction";
  {
    Admission a = gate.admit(p.client, loopback());
    Admission b;
    b = std::move(a);  // assignment takes the place over
    EXPECT_EQ(gate.live(), 1u);
  }
  EXPECT_EQ(gate.live(), 0u) << "destroying the holder gives the place back";
  Pair q;
  EXPECT_TRUE(gate.admit(q.client, loopback())) << "the place is free again";
}

// The connection owns its client's place and gives it back when its socket closes, not later
// (a chat room may hold the connection a while after it ended).
TEST(AcceptGate, AStreamConnGivesItsPlaceBackWhenItsSocketCloses) {
  ServerConfig cfg;
  cfg.max_clients = 1;
  AcceptGate gate(cfg);
  Pair p;
  Admission place = gate.admit(p.client, loopback());
  ASSERT_TRUE(place);
  auto conn = std::make_shared<StreamConn>(std::move(p.client), loopback(), 1024, std::move(place));
  EXPECT_EQ(gate.live(), 1u);
  retire_socket(*conn);
  EXPECT_EQ(gate.live(), 0u);
  Pair q;
  EXPECT_TRUE(gate.admit(q.client, loopback()));
}

}  // namespace
}  // namespace concur
