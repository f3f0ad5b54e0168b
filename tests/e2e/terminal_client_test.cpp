// The interactive clients on a real terminal (issue 12): chat-client, pair-chat and echo-client
// run in a tmux pane (a terminal emulator; the test reads the rendered screen and the cursor)
// against real concur servers. What is pinned: received lines go above the half-typed line,
// which stays whole at the bottom with the cursor where it was; a typed line is relayed exactly
// once; Up recalls it; Ctrl-D and Ctrl-C leave with exit 0 (chat sends [ID]quit); the terminal
// settings (stty) are the same afterwards, also when the server goes away; a resize redraws the
// line for the new width; names are coloured per ID unless NO_COLOR / --no-color.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "clients/name_colour.hpp"
#include "support/installed.hpp"
#include "support/net.hpp"
#include "support/process.hpp"
#include "support/seed_peer.hpp"
#include "support/tmux.hpp"

namespace concur::test {
namespace {

using Screen = std::vector<std::string>;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A concur client in a tmux pane. The pane's shell records the terminal settings before and
// after the client, and its exit status, in the pane's directory; then it idles so that the final
// screen can still be read.
class Pane {
 public:
  Pane(const std::string& client_args, const std::string& env = "", int width = 80, int height = 24)
      : tmux_(command(files_.path(), client_args, env), width, height) {}
  Tmux& term() { return tmux_; }

  // The client's exit status, once the pane's shell has recorded it.
  std::optional<int> exit_code(Ms timeout = 5000ms) {
    std::string rc = files_.path() + "/rc";
    if (!wait_until([&] { return ::access(rc.c_str(), F_OK) == 0; }, timeout)) return std::nullopt;
    return std::stoi(read_file(rc));
  }
  // stty -g before and after the client ran.
  std::string stty_before() { return read_file(files_.path() + "/before"); }
  std::string stty_after() { return read_file(files_.path() + "/after"); }

 private:
  static std::string command(const std::string& d, const std::string& client_args, const std::string& env) {
    return "stty -g > " + d + "/before; env -u NO_COLOR LANG=C.UTF-8 " + env + " '" + concur_binary() + "' " +
           client_args + "; echo $? > " + d + "/rc.tmp; stty -g > " + d + "/after; mv " + d + "/rc.tmp " + d +
           "/rc; exec sleep 60";
  }
  TempDir files_;
  Tmux tmux_;
};

bool has_tmux() { return Tmux::binary().has_value(); }

struct ChatServer : Server {
  ChatServer() : Server({"chat-server", "--port", "0", "--bind", "127.0.0.1", "--rate", "0"}) {}
};

std::string chat_args(int port, const std::string& more = "") {
  return "chat-client --port " + std::to_string(port) + " --id alice " + more;
}

// A member that joined and whose join the server has logged (so later traffic reaches alice).
std::unique_ptr<TestClient> join(ChatServer& s, const std::string& id) {
  auto c = std::make_unique<TestClient>(s.port);
  c->send_all("[" + id + "]\n");
  EXPECT_TRUE(s.proc.wait_for_line(":[" + id + "]"));
  return c;
}

auto bottom_is(const std::string& row) {
  return [row](const Screen& s) { return last_text_row(s) == row; };
}

TEST(TerminalChat, MessagesGoAboveTheHalfTypedLineWhichIsSentOnceAndRecalled) {
  ASSERT_TRUE(has_tmux()) << not_installed("tmux");
  ChatServer s;
  Pane p(chat_args(s.port));
  Tmux& t = p.term();
  ASSERT_TRUE(t.wait_screen(bottom_is("[alice]>")));
  ASSERT_TRUE(s.proc.wait_for_line(":[alice]"));
  t.type("half typ");
  ASSERT_TRUE(t.wait_screen(bottom_is("[alice]> half typ")));

  auto bob = join(s, "bob");
  std::string burst;
  for (int i = 0; i < 20; ++i) burst += "msg " + std::to_string(i) + " from bob\n";
  bob->send_all(burst);
  ASSERT_TRUE(t.wait_screen([](const Screen& s) {
    return std::find(s.begin(), s.end(), "[bob]msg 19 from bob") != s.end();
  }));
  Screen screen = t.screen();
  // Every message on a row of its own, in order, once; the typed text only in the bottom row.
  std::vector<std::string> expected = {"[bob]"};
  for (int i = 0; i < 20; ++i) expected.push_back("[bob]msg " + std::to_string(i) + " from bob");
  expected.push_back("[alice]> half typ");
  std::vector<std::string> shown;
  for (const auto& row : screen)
    if (!row.empty()) shown.push_back(row);
  EXPECT_EQ(shown, expected);
  auto [x, y] = t.cursor();
  EXPECT_EQ(x, static_cast<int>(std::string("[alice]> half typ").size()));
  EXPECT_EQ(screen.at(static_cast<size_t>(y)), "[alice]> half typ");

  // The name is in bob's colour (tmux writes a colour change where it starts, which may be at
  // the end of the row before), the text after it is not.
  std::string coloured;
  for (const auto& row : t.screen(true)) coloured += row + "\n";
  std::string want = "\x1b[" + std::string(name_colour("bob")) + "m[bob]";
  EXPECT_NE(coloured.find(want), std::string::npos) << coloured;
  EXPECT_NE(coloured.find("[bob]\x1b[39mmsg 19 from bob"), std::string::npos) << coloured;

  // Finishing the line sends it once: the next thing bob gets is the next line.
  t.type("ed line");
  t.keys({"Enter"});
  EXPECT_EQ(bob->recv_line(), "[alice]half typed line");
  ASSERT_TRUE(t.wait_screen(bottom_is("[alice]>")));
  t.type("second");
  t.keys({"Enter"});
  EXPECT_EQ(bob->recv_line(), "[alice]second");

  // Up, Up: the first line again, editable; Ctrl-A then typing edits at its start.
  ASSERT_TRUE(t.wait_screen(bottom_is("[alice]>")));
  t.keys({"Up", "Up"});
  ASSERT_TRUE(t.wait_screen(bottom_is("[alice]> half typed line")));
  t.keys({"C-a"});
  t.type("a ");
  t.keys({"Enter"});
  EXPECT_EQ(bob->recv_line(), "[alice]a half typed line");

  // Ctrl-D on an empty line leaves like quit: [alice]quit reaches the server, exit 0.
  ASSERT_TRUE(t.wait_screen(bottom_is("[alice]>")));
  t.keys({"C-d"});
  EXPECT_EQ(p.exit_code(), 0);
  EXPECT_TRUE(bob->silent_for(100ms));  // a quit is not relayed
  EXPECT_TRUE(s.proc.wait_for_line("exited"));
  EXPECT_EQ(p.stty_after(), p.stty_before());
}

TEST(TerminalChat, CtrlCSendsQuitExitsZeroAndRestoresTheTerminal) {
  ASSERT_TRUE(has_tmux()) << not_installed("tmux");
  // The test is the server here, to see the exact bytes the client sends.
  PeerListener listener;
  Pane p("chat-client --port " + std::to_string(listener.port()) + " --id alice");
  PeerConn conn = listener.accept();
  ASSERT_TRUE(conn.valid());
  EXPECT_EQ(conn.recv_line(), "[alice]");
  Tmux& t = p.term();
  ASSERT_TRUE(t.wait_screen(bottom_is("[alice]>")));
  t.type("never sent");
  ASSERT_TRUE(t.wait_screen(bottom_is("[alice]> never sent")));
  t.keys({"C-c"});
  EXPECT_EQ(conn.recv_line(), "[alice]quit");
  conn.close();
  EXPECT_EQ(p.exit_code(), 0);
  EXPECT_EQ(p.stty_after(), p.stty_before());
  // No half-typed line is left behind for the shell.
  for (const auto& row : t.screen()) EXPECT_EQ(row.find("never sent"), std::string::npos) << row;
}

TEST(TerminalChat, ServerGoingAwayIsShownAndTheTerminalRestored) {
  ASSERT_TRUE(has_tmux()) << not_installed("tmux");
  auto s = std::make_unique<ChatServer>();
  Pane p(chat_args(s->port));
  Tmux& t = p.term();
  ASSERT_TRUE(t.wait_screen(bottom_is("[alice]>")));
  ASSERT_TRUE(s->proc.wait_for_line(":[alice]"));
  t.type("half");
  ASSERT_TRUE(t.wait_screen(bottom_is("[alice]> half")));
  s->proc.signal(SIGTERM);
  EXPECT_EQ(s->proc.wait(), 0);
  EXPECT_EQ(p.exit_code(), 0);
  EXPECT_EQ(p.stty_after(), p.stty_before());
  Screen screen = t.screen();
  EXPECT_NE(std::find(screen.begin(), screen.end(), "server closed the connection"), screen.end());
}

TEST(TerminalChat, ResizeRedrawsTheLineForTheNewWidth) {
  ASSERT_TRUE(has_tmux()) << not_installed("tmux");
  ChatServer s;
  Pane p(chat_args(s.port), "", 80, 12);
  Tmux& t = p.term();
  ASSERT_TRUE(t.wait_screen(bottom_is("[alice]>")));
  ASSERT_TRUE(s.proc.wait_for_line(":[alice]"));
  auto bob = join(s, "bob");
  std::string burst;
  for (int i = 0; i < 15; ++i) burst += "line " + std::to_string(i) + "\n";
  bob->send_all(burst);
  ASSERT_TRUE(t.wait_screen([](const Screen& s) { return std::find(s.begin(), s.end(), "[bob]line 14") != s.end(); }));
  const std::string typed = "abcdefghijklmnopqrstuvwxyz0123456789";  // 45 columns with the prompt
  t.type(typed);
  ASSERT_TRUE(t.wait_screen(bottom_is("[alice]> " + typed)));

  // Narrower: the line takes two rows; a message printed then goes above both, none left stale.
  t.resize(30, 12);
  bob->send_all("after the resize\n");
  ASSERT_TRUE(t.wait_screen([](const Screen& s) { return std::find(s.begin(), s.end(), "[bob]after the resize") != s.end(); }));
  Screen narrow = t.screen();
  std::vector<std::string> tail(narrow.end() - 3, narrow.end());
  EXPECT_EQ(tail, (std::vector<std::string>{"[bob]after the resize", "[alice]> abcdefghijklmnopqrstu", "vwxyz0123456789"}));
  EXPECT_EQ(t.cursor(), (std::pair<int, int>{15, 11}));
  int prompts = 0;
  for (const auto& row : narrow) prompts += row.rfind("[alice]>", 0) == 0;
  EXPECT_EQ(prompts, 1);

  // Wider again: one row, cursor at its end, typing continues where it was.
  t.resize(60, 12);
  t.type("!");
  ASSERT_TRUE(t.wait_screen(bottom_is("[alice]> " + typed + "!")));
  EXPECT_EQ(t.cursor(), (std::pair<int, int>{46, 11}));
  Screen wide = t.screen();
  EXPECT_EQ(wide.at(10), "[bob]after the resize");
  t.keys({"Enter"});
  EXPECT_EQ(bob->recv_line(), "[alice]" + typed + "!");
}

TEST(TerminalChat, NoColorAndTheOptionTurnColourOff) {
  ASSERT_TRUE(has_tmux()) << not_installed("tmux");
  for (const auto& [env, args] : std::vector<std::pair<std::string, std::string>>{{"NO_COLOR=1", ""}, {"", "--no-color"}}) {
    SCOPED_TRACE(env + args);
    ChatServer s;
    Pane p(chat_args(s.port, args), env);
    Tmux& t = p.term();
    ASSERT_TRUE(t.wait_screen(bottom_is("[alice]>")));
    ASSERT_TRUE(s.proc.wait_for_line(":[alice]"));
    auto bob = join(s, "bob");
    bob->send_all("plain\n");
    ASSERT_TRUE(t.wait_screen([](const Screen& s) { return std::find(s.begin(), s.end(), "[bob]plain") != s.end(); }));
    for (const auto& row : t.screen(true)) EXPECT_EQ(row.find("\x1b["), std::string::npos) << row;
    t.keys({"C-d"});
    EXPECT_EQ(p.exit_code(), 0);
  }
}

TEST(TerminalChat, HistoryFileKeepsLinesAcrossSessions) {
  ASSERT_TRUE(has_tmux()) << not_installed("tmux");
  ChatServer s;
  TempDir dir;
  const std::string hist = dir.path() + "/history";
  {
    Pane p(chat_args(s.port, "--history " + hist));
    Tmux& t = p.term();
    ASSERT_TRUE(t.wait_screen(bottom_is("[alice]>")));
    t.type("remember me");
    t.keys({"Enter"});
    ASSERT_TRUE(t.wait_screen(bottom_is("[alice]>")));
    t.keys({"C-d"});
    ASSERT_EQ(p.exit_code(), 0);
  }
  Pane p(chat_args(s.port, "--history " + hist));
  Tmux& t = p.term();
  ASSERT_TRUE(t.wait_screen(bottom_is("[alice]>")));
  t.keys({"Up"});
  EXPECT_TRUE(t.wait_screen(bottom_is("[alice]> remember me")));
  t.keys({"C-u", "C-d"});
  EXPECT_EQ(p.exit_code(), 0);
}

TEST(TerminalChat, DumbTerminalGetsPlainLines) {
  ASSERT_TRUE(has_tmux()) << not_installed("tmux");
  ChatServer s;
  Pane p(chat_args(s.port), "TERM=dumb");
  Tmux& t = p.term();
  ASSERT_TRUE(s.proc.wait_for_line(":[alice]"));
  auto bob = join(s, "bob");
  ASSERT_TRUE(t.wait_screen([](const Screen& s) { return std::find(s.begin(), s.end(), "[bob]") != s.end(); }));
  t.type("plain");
  t.keys({"Enter"});
  EXPECT_EQ(bob->recv_line(), "[alice]plain");
  for (const auto& row : t.screen(true)) {
    EXPECT_EQ(row.find("[alice]>"), std::string::npos) << row;  // no prompt: the kernel's line editing
    EXPECT_EQ(row.find("\x1b["), std::string::npos) << row;    // and no colour
  }
  t.keys({"C-d"});
  EXPECT_EQ(p.exit_code(), 0);
}

TEST(TerminalPairChat, TypedLineStaysAsTheEchoAndReceivedTextGoesAbove) {
  ASSERT_TRUE(has_tmux()) << not_installed("tmux");
  Server srv({"pair-chat", "server", "--port", "0", "--bind", "127.0.0.1"});
  Pane p("pair-chat client --port " + std::to_string(srv.port));
  Tmux& t = p.term();
  ASSERT_TRUE(srv.proc.wait_for_line("peer connected"));
  ASSERT_TRUE(t.wait_screen(bottom_is("->")));
  t.type("hel");
  ASSERT_TRUE(t.wait_screen(bottom_is("-> hel")));
  srv.proc.write_stdin("from the server\n");
  ASSERT_TRUE(t.wait_screen([](const Screen& s) {
    return std::find(s.begin(), s.end(), "<- from the server") != s.end() && last_text_row(s) == "-> hel";
  }));
  t.type("lo");
  t.keys({"Enter"});
  EXPECT_TRUE(srv.proc.wait_for_line("<- hello"));
  ASSERT_TRUE(t.wait_screen([](const Screen& s) {
    std::vector<std::string> rows;
    for (const auto& r : s)
      if (!r.empty()) rows.push_back(r);
    return rows.size() >= 3 && rows[rows.size() - 2] == "-> hello" && rows.back() == "->";
  }));
  t.keys({"C-c"});
  EXPECT_EQ(p.exit_code(), 0);
  EXPECT_EQ(p.stty_after(), p.stty_before());
  EXPECT_EQ(srv.proc.wait(), 0);
}

TEST(TerminalEchoClient, EditsRecallsAndLeavesWithCtrlD) {
  ASSERT_TRUE(has_tmux()) << not_installed("tmux");
  Server srv({"echo-server", "--port", "0", "--bind", "127.0.0.1"});
  Pane p("echo-client --port " + std::to_string(srv.port));
  Tmux& t = p.term();
  ASSERT_TRUE(t.wait_screen(bottom_is("Message to send:")));
  t.type("helo");
  t.keys({"Left", "Left"});
  t.type("l");
  t.keys({"Enter"});
  ASSERT_TRUE(t.wait_screen([](const Screen& s) {
    return std::find(s.begin(), s.end(), "Received message: hello") != s.end() &&
           last_text_row(s) == "Message to send:";
  }));
  t.keys({"Up"});
  ASSERT_TRUE(t.wait_screen(bottom_is("Message to send: hello")));
  t.keys({"C-u", "C-d"});
  EXPECT_EQ(p.exit_code(), 0);
  EXPECT_EQ(p.stty_after(), p.stty_before());
}

}  // namespace
}  // namespace concur::test
