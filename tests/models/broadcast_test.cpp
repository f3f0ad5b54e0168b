// One dispatch path (issue 9): a service that sends to OTHER connections from every callback
// (on_open, on_data, on_peer_closed, on_close, on_timeout) and from a thread that owns no
// connection. The receiving client is idle, so its output reaches it only if the send wakes the
// connection's owner; a model that leaves it queued fails with a timeout. Every registered model
// that serves several clients in one address space runs it (the registry says which).
#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <thread>

#include "models/model.hpp"
#include "support/in_process_server.hpp"
#include "support/model_available.hpp"
#include "support/net.hpp"

namespace concur::test {
namespace {

using namespace std::chrono_literals;

// Tells each client its id ("you N"), then reports every event to everyone else.
class Broadcaster final : public StreamService {
 public:
  void on_open(Conn& c) override {
    c.send("you " + std::to_string(c.id()) + "\n");
    std::lock_guard lock(mu_);
    to_others_locked(c.id(), "open " + std::to_string(c.id()));
    members_[c.id()] = c.shared();
  }
  void on_data(Conn& c, std::string_view bytes) override {
    for (char ch : bytes) {
      std::string line;
      {
        std::lock_guard lock(line_mu_);
        std::string& partial = line_[c.id()];
        if (ch != '\n') {
          partial += ch;
          continue;
        }
        line.swap(partial);
      }
      if (line == "T") c.set_timer(Millis(20));  // on_timeout reports it
      std::lock_guard lock(mu_);
      to_others_locked(c.id(), "data " + std::to_string(c.id()) + " " + line);
    }
  }
  void on_peer_closed(Conn& c) override {
    {
      std::lock_guard lock(mu_);
      to_others_locked(c.id(), "eof " + std::to_string(c.id()));
    }
    c.close();
  }
  void on_timeout(Conn& c) override {
    std::lock_guard lock(mu_);
    to_others_locked(c.id(), "timeout " + std::to_string(c.id()));
  }
  void on_close(Conn& c) override {
    std::lock_guard lock(mu_);
    members_.erase(c.id());
    to_others_locked(c.id(), "close " + std::to_string(c.id()));
  }
  // From a thread that is no connection's owner (a bridge to another server, say).
  void from_outside(const std::string& text) {
    std::lock_guard lock(mu_);
    to_others_locked(0, text);
  }
  size_t members() {
    std::lock_guard lock(mu_);
    return members_.size();
  }

 private:
  void to_others_locked(uint64_t from, const std::string& text) {
    for (auto& [id, conn] : members_)
      if (id != from) conn->send(text + "\n");
  }
  std::mutex mu_;
  std::map<uint64_t, std::shared_ptr<Conn>> members_;  // guarded by mu_
  // Partial input lines, by connection. Guarded by line_mu_: callbacks of different connections
  // may run at once (thread model, --workers), and a map insert is not per-entry.
  std::mutex line_mu_;
  std::map<uint64_t, std::string> line_;
};

struct Case {
  std::string model;
  int workers;
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.model << "_w" << c.workers; }

std::vector<Case> cases() {
  std::vector<Case> out;
  for (const ModelInfo& m : model_registry()) {
    if (!can_share_a_room(m)) continue;  // every client served at once, in one process
    out.push_back({m.name, 1});
    if (m.has_workers) out.push_back({m.name, 2});  // the two clients may land on different loops
  }
  return out;
}

class Broadcast : public ::testing::TestWithParam<Case> {};

std::string id_of(TestClient& c) {
  auto line = c.recv_line(5s);
  if (!line || line->rfind("you ", 0) != 0) return "";
  return line->substr(4);
}

bool wait_members(Broadcaster& s, size_t n) {
  for (int i = 0; i < 2500 && s.members() != n; ++i) std::this_thread::sleep_for(2ms);
  return s.members() == n;
}

TEST_P(Broadcast, SendToAnotherConnectionFromEveryCallbackAndFromOutsideArrivesPromptly) {
  SKIP_IF_MODEL_UNAVAILABLE(GetParam().model);
  Broadcaster service;
  ServerConfig cfg;
  cfg.workers = GetParam().workers;
  InProcessServer server(GetParam().model, service, cfg);
  TestClient a(server.port());
  std::string ida = id_of(a);
  ASSERT_FALSE(ida.empty()) << "the first client got no id; the model threw: " << server.error();
  ASSERT_TRUE(wait_members(service, 1));
  TestClient b(server.port());
  std::string idb = id_of(b);
  ASSERT_FALSE(idb.empty());

  EXPECT_EQ(a.recv_line(3s), "open " + idb) << "send from on_open";
  b.send_all("hello\n");
  EXPECT_EQ(a.recv_line(3s), "data " + idb + " hello") << "send from on_data";
  ASSERT_TRUE(wait_members(service, 2));
  service.from_outside("outside");
  EXPECT_EQ(a.recv_line(3s), "outside") << "send from a non-owner thread";
  EXPECT_EQ(b.recv_line(3s), "outside") << "send from a non-owner thread";
  b.send_all("T\n");
  EXPECT_EQ(a.recv_line(3s), "data " + idb + " T");
  EXPECT_EQ(a.recv_line(3s), "timeout " + idb) << "send from on_timeout";
  b.shutdown_write();
  EXPECT_EQ(a.recv_line(3s), "eof " + idb) << "send from on_peer_closed";
  EXPECT_EQ(a.recv_line(3s), "close " + idb) << "send from on_close";
  EXPECT_EQ(b.recv_until_eof(3s), "");
}

INSTANTIATE_TEST_SUITE_P(EveryModel, Broadcast, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.model + "_w" + std::to_string(info.param.workers); });

}  // namespace
}  // namespace concur::test
