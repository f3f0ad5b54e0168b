#include "support/tmux.hpp"

#include <unistd.h>

#include <cstdlib>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

namespace concur::test {

std::optional<std::string> Tmux::binary() {
  for (const char* p : {"/usr/bin/tmux", "/usr/local/bin/tmux"})
    if (::access(p, X_OK) == 0) return std::string(p);
  return std::nullopt;
}

Tmux::Tmux(const std::string& shell_command, int width, int height) {
  auto bin = binary();
  if (!bin) throw std::runtime_error("tmux is not installed");
  tmux_ = *bin;
  socket_ = dir_.path() + "/tmux.sock";
  run({"new-session", "-d", "-x", std::to_string(width), "-y", std::to_string(height), shell_command});
}

Tmux::~Tmux() { run({"kill-server"}); }

std::string Tmux::run(std::vector<std::string> args) {
  // -f /dev/null: no user configuration; -u: UTF-8 whatever the test's locale.
  args.insert(args.begin(), {tmux_, "-u", "-f", "/dev/null", "-S", socket_});
  Process p(std::move(args));
  std::string out = p.read_all_stdout(5000ms);
  p.wait(5000ms);
  return out;
}

void Tmux::type(const std::string& text) { run({"send-keys", "-l", text}); }

void Tmux::keys(const std::vector<std::string>& names) {
  std::vector<std::string> args = {"send-keys"};
  args.insert(args.end(), names.begin(), names.end());
  run(args);
}

void Tmux::resize(int width, int height) {
  run({"resize-window", "-x", std::to_string(width), "-y", std::to_string(height)});
}

std::vector<std::string> Tmux::screen(bool escapes) {
  std::vector<std::string> args = {"capture-pane", "-p"};
  if (escapes) args.push_back("-e");
  std::istringstream in(run(args));
  std::vector<std::string> rows;
  std::string row;
  while (std::getline(in, row)) {
    while (!row.empty() && row.back() == ' ') row.pop_back();
    rows.push_back(row);
  }
  return rows;
}

std::pair<int, int> Tmux::cursor() {
  std::istringstream in(run({"display-message", "-p", "#{cursor_x} #{cursor_y}"}));
  int x = -1, y = -1;
  in >> x >> y;
  return {x, y};
}

bool Tmux::wait_screen(const std::function<bool(const std::vector<std::string>&)>& pred, Ms timeout) {
  std::vector<std::string> last;
  bool ok = wait_until(
      [&] {
        last = screen();
        return pred(last);
      },
      timeout);
  if (!ok) {
    std::string shown;
    for (const auto& r : last) shown += "|" + r + "\n";
    ADD_FAILURE() << "screen did not reach the expected state:\n" << shown;
  }
  return ok;
}

std::string last_text_row(const std::vector<std::string>& screen) {
  for (auto it = screen.rbegin(); it != screen.rend(); ++it)
    if (!it->empty()) return *it;
  return {};
}

}  // namespace concur::test
