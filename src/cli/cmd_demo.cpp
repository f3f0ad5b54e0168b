// demo: the guided tour. Runs the other commands on loopback as child processes, the way a user
// would from several terminals, and narrates what happens. Each section checks its own outcome;
// the demo exits 1 if any section did not show what it promises.
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <thread>

#include "cli/commands.hpp"
#include "core/child_process.hpp"
#include "core/endpoint.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/socket.hpp"
#include "services/counter.hpp"

namespace concur {
namespace {

using Ms = std::chrono::milliseconds;

void title(int n, const std::string& text) {
  out_line("");
  outf("== {}. {} ==", n, text);
}

// Starts `concur <args>` and waits for its listening line; returns the port.
int start_server(ChildProcess& p, const std::string& what) {
  auto line = p.read_line(Ms(5000));
  int port = line ? port_from_listening_line(*line) : 0;
  if (!port) throw SysError(what + " did not start: " + p.drain_stderr(), EIO);
  outf("  {}: {}", what, *line);
  return port;
}

void show_log(ChildProcess& p, const std::string& who, Ms quiet = Ms(150)) {
  while (auto line = p.read_line(quiet)) outf("  {:>7} | {}", who, *line);
}

bool echo_section(const std::string& self) {
  title(1, "Echo: three clients served at once by one epoll loop (echo-server --model epoll)");
  ChildProcess server({self, "echo-server", "--port", "0", "--bind", "127.0.0.1", "--model", "epoll"});
  int port = start_server(server, "server");
  const std::vector<std::vector<std::string>> talk = {
      {"Hi~", "Bye!"}, {"Hello!", "I am Daehee."}, {"IoT?", "Who are you?"}};
  std::vector<FileDesc> socks;
  for (size_t i = 0; i < talk.size(); ++i) socks.push_back(tcp_connect(Endpoint::parse("127.0.0.1", port)));
  out_line("  all three clients are connected; they now talk in turns, each on its own connection:");
  bool ok = true;
  for (size_t round = 0; round < 2; ++round) {
    for (size_t i = 0; i < talk.size(); ++i) {
      const std::string& msg = talk[i][round];
      ::send(socks[i].get(), msg.data(), msg.size(), MSG_NOSIGNAL);
      std::string got;
      char buf[256];
      while (got.size() < msg.size()) {
        ssize_t n = ::recv(socks[i].get(), buf, sizeof buf, 0);
        if (n <= 0) break;
        got.append(buf, static_cast<size_t>(n));
      }
      outf("  client {} | Message to send: {}   Received message: {}", i + 1, msg, got);
      ok = ok && got == msg;
    }
  }
  socks.clear();
  show_log(server, "server");
  server.signal(SIGINT);
  auto rc = server.wait(Ms(3000));
  outf("  SIGINT -> server exited with {}", rc ? std::to_string(*rc) : "nothing (killed)");
  return ok && rc == 0;
}

bool race_section() {
  title(2, "Race condition: two threads add 1 to x 300,000 times each (race-demo)");
  bool ok = true;
  for (auto [mode, name] : {std::pair{SyncMode::none, "none   (x = x + 1 as a separate read and write)"},
                            std::pair{SyncMode::mutex, "mutex  (the lecture's Lock around the loop)"},
                            std::pair{SyncMode::atomic, "atomic (one indivisible add per increment)"}}) {
    std::string values;
    for (int round = 0; round < 4; ++round) {
      SharedCounter x(mode);
      std::thread a([&] { x.add_times(300000); }), b([&] { x.add_times(300000); });
      a.join();
      b.join();
      values += fmt::format(" {}", x.value());
      if (mode != SyncMode::none) ok = ok && x.value() == 600000;
    }
    outf("  --sync {}:{}", name, values);
  }
  out_line("  with none, updates can be lost (x < 600000); mutex and atomic always give 600000");
  return ok;
}

bool chat_section(const std::string& self) {
  title(3, "Group chat: three people on one chat-server (TCP, thread per client)");
  ChildProcess server({self, "chat-server", "--port", "0", "--bind", "127.0.0.1"});
  int port = start_server(server, "server");
  const std::vector<std::string> names = {"전창완", "윤재석", "김대희"};
  std::vector<std::unique_ptr<ChildProcess>> people;
  std::vector<std::string> server_log;
  for (const auto& n : names) {
    people.push_back(std::make_unique<ChildProcess>(
        std::vector<std::string>{self, "chat-client", "--port", std::to_string(port), "--id", n}));
    // Wait until the server has taken this join (its log shows it) before the next person comes:
    // with a thread per client, two joins in flight may otherwise be handled in either order.
    auto joined = server.wait_for_line("):[" + n + "]", Ms(5000), &server_log);
    if (!joined) return false;
    server_log.push_back(*joined);
    // Everyone already in the room sees the newcomer's join message "[ID]".
    for (size_t k = 0; k + 1 < people.size(); ++k)
      if (!people[k]->wait_for_line("[" + n + "]", Ms(3000))) return false;
  }
  const std::vector<std::pair<int, std::string>> talk = {
      {2, "점심 뭐 드실까요?"}, {1, "맘스터치 어떠세요?"}, {0, "청와삼대 가시죠"}, {1, "좋습니다. 가시죠"}, {2, "가시죠"}};
  bool ok = true;
  for (auto& [who, text] : talk) {
    people[who]->write_stdin(text + "\n");
    outf("  {:>7} -> {}", names[who], text);
    for (size_t k = 0; k < people.size(); ++k) {
      if (static_cast<int>(k) == who) continue;
      auto line = people[k]->wait_for_line(text, Ms(3000));
      ok = ok && line;
      if (line) outf("  {:>7} <- {}", names[k], *line);
    }
  }
  for (auto& p : people) p->write_stdin("quit\n");
  for (auto& p : people) ok = ok && p->wait(Ms(3000)) == 0;
  out_line("  server log (as the seed's udp_multi_chat_server.py prints it):");
  for (const auto& line : server_log) outf("  {:>7} | {}", "server", line);
  show_log(server, "server");
  server.signal(SIGTERM);
  ok = ok && server.wait(Ms(3000)) == 0;
  return ok;
}

bool iot_section(const std::string& self) {
  title(4, "IoT: two devices collected into data.txt (homework 10; intervals shortened)");
  ChildProcess env({self, "device", "--kind", "env", "--port", "0", "--bind", "127.0.0.1", "--interval", "0.2"});
  ChildProcess health({self, "device", "--kind", "health", "--port", "0", "--bind", "127.0.0.1", "--interval", "0.3"});
  int p1 = start_server(env, "Device1");
  int p2 = start_server(health, "Device2");
  { std::ofstream truncate("data.txt", std::ios::trunc); }
  ChildProcess collector({self, "collect", "--device", fmt::format("127.0.0.1:{}", p1), "--device",
                          fmt::format("127.0.0.1:{}", p2), "--per-device", "5", "--out", "data.txt", "--quiet"});
  auto rc = collector.wait(Ms(20000));
  env.signal(SIGTERM);
  health.signal(SIGTERM);
  env.wait(Ms(3000));
  health.wait(Ms(3000));
  if (rc != 0) {
    outf("  collect failed: {}", collector.drain_stderr());
    return false;
  }
  std::ifstream in("data.txt");
  std::string line;
  int d1 = 0, d2 = 0;
  static const std::regex re(R"(^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}: (Device1|Device2): .*$)");
  bool ok = true;
  out_line("  data.txt:");
  while (std::getline(in, line)) {
    outf("    {}", line);
    std::smatch m;
    if (!std::regex_match(line, m, re)) ok = false;
    else (m[1] == "Device1" ? d1 : d2)++;
  }
  outf("  {} readings from Device1, {} from Device2 in ./data.txt", d1, d2);
  return ok && d1 >= 5 && d2 >= 5;
}

// Two chat-servers, one room: a TCP server and a UDP server federated through a redis-server that
// the demo starts on a free port (SPEC §4).
bool rooms_section(const std::string& self) {
  title(5, "One room, two servers: chat-server --redis (a TCP and a UDP server sharing Redis pub/sub)");
  if (::access("/usr/bin/redis-server", X_OK) != 0 && ::access("/usr/local/bin/redis-server", X_OK) != 0) {
    out_line("  skipped: redis-server is not installed (scripts/setup.sh installs it)");
    return true;
  }
  int redis_port;
  {
    FileDesc probe = tcp_listen(Endpoint::parse("127.0.0.1", 0));
    redis_port = local_endpoint(probe.get()).port();
  }
  ChildProcess redis({"redis-server", "--port", std::to_string(redis_port), "--bind", "127.0.0.1", "--save", "",
                      "--appendonly", "no"});
  if (!redis.wait_for_line("Ready to accept connections", Ms(5000))) {
    outf("  redis-server did not start: {}", redis.drain_stderr());
    return false;
  }
  std::string where = fmt::format("127.0.0.1:{}", redis_port);
  outf("  redis-server on {}", where);
  ChildProcess a({self, "chat-server", "--port", "0", "--bind", "127.0.0.1", "--redis", where});
  ChildProcess b({self, "chat-server", "--port", "0", "--bind", "127.0.0.1", "--transport", "udp", "--model", "poll",
                  "--redis", where});
  int pa = start_server(a, "server A");
  int pb = start_server(b, "server B");
  if (!a.wait_for_line("redis: connected", Ms(5000)) || !b.wait_for_line("redis: connected", Ms(5000))) return false;
  out_line("  both servers are connected to Redis: room 'lobby' is one room across them");
  ChildProcess kim({self, "chat-client", "--port", std::to_string(pa), "--id", "김대희"});
  if (!a.wait_for_line("):[김대희]", Ms(5000))) return false;
  ChildProcess yoon({self, "chat-client", "--port", std::to_string(pb), "--transport", "udp", "--id", "윤재석"});
  if (!b.wait_for_line("):[윤재석]", Ms(5000))) return false;
  bool ok = kim.wait_for_line("[윤재석]", Ms(3000)).has_value();
  const std::vector<std::pair<int, std::string>> talk = {{0, "A 서버에서 인사드려요"}, {1, "B 서버(UDP)에서 잘 받았어요"}};
  const std::vector<std::string> names = {"김대희 (A, TCP)", "윤재석 (B, UDP)"};
  ChildProcess* people[] = {&kim, &yoon};
  for (auto& [who, text] : talk) {
    people[who]->write_stdin(text + "\n");
    outf("  {} -> {}", names[who], text);
    auto line = people[1 - who]->wait_for_line(text, Ms(3000));
    ok = ok && line;
    if (line) outf("  {} <- {}", names[1 - who], *line);
  }
  ChildProcess twin({self, "chat-client", "--port", std::to_string(pb), "--transport", "udp", "--id", "김대희"});
  auto refused = b.wait_for_line("is taken on another server", Ms(3000));
  ok = ok && refused;
  if (refused) outf("  another 김대희 tries server B: {}", *refused);
  twin.signal(SIGTERM);
  twin.wait(Ms(3000));
  for (auto* p : people) p->write_stdin("quit\n");
  for (auto* p : people) ok = ok && p->wait(Ms(3000)) == 0;
  a.signal(SIGTERM);
  b.signal(SIGTERM);
  ok = ok && a.wait(Ms(3000)) == 0 && b.wait(Ms(3000)) == 0;
  redis.signal(SIGTERM);
  redis.wait(Ms(3000));
  return ok;
}

int run_demo(const std::vector<std::string>& only) {
  std::string self = self_executable();
  auto wanted = [&](const std::string& s) { return only.empty() || std::find(only.begin(), only.end(), s) != only.end(); };
  out_line("concur demo: every program of the lecture on loopback, section by section.");
  std::vector<std::pair<std::string, bool>> results;
  auto run = [&](const std::string& name, auto&& fn) {
    if (!wanted(name)) return;
    bool ok = false;
    try {
      ok = fn();
    } catch (const std::exception& e) {
      outf("  error: {}", e.what());
    }
    results.emplace_back(name, ok);
  };
  run("echo", [&] { return echo_section(self); });
  run("race", [&] { return race_section(); });
  run("chat", [&] { return chat_section(self); });
  run("iot", [&] { return iot_section(self); });
  run("rooms", [&] { return rooms_section(self); });
  out_line("");
  bool all = true;
  for (auto& [name, ok] : results) {
    outf("  {:<5} {}", name, ok ? "ok" : "FAILED");
    all = all && ok;
  }
  out_line(all ? "demo finished: everything worked." : "demo finished with failures (see above).");
  return all ? 0 : 1;
}

}  // namespace

Command demo_command() {
  return {"demo", "a guided tour: echo, race, group chat and IoT collection on loopback (< 1 min)",
          [](CLI::App& app) {
            auto only = std::make_shared<std::vector<std::string>>();
            app.add_option("--section", *only, "run only these sections: echo, race, chat, iot, rooms")
                ->check(CLI::IsMember({"echo", "race", "chat", "iot", "rooms"}));
            return CommandRun([only] { return run_demo(*only); });
          }};
}

}  // namespace concur
