#pragma once
// A real terminal for tests of the interactive clients: a private tmux server (its own socket,
// no user configuration) with one pane running a shell command. tmux emulates the terminal, so
// a test reads the rendered screen (what a person sees, with the cursor position) instead of
// guessing from the byte stream. Every wait is bounded; the destructor stops the server.
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace concur::test {

class Tmux {
 public:
  // The tmux binary, or nullopt when it is not installed.
  static std::optional<std::string> binary();

  // Starts `shell_command` (run by /bin/sh) in a width x height pane.
  Tmux(const std::string& shell_command, int width = 80, int height = 24);
  ~Tmux();
  Tmux(const Tmux&) = delete;
  Tmux& operator=(const Tmux&) = delete;

  // Types text literally (as pasted keystrokes).
  void type(const std::string& text);
  // Presses keys by tmux name: "Enter", "Up", "C-d", "C-c", "Left".
  void keys(const std::vector<std::string>& names);
  void resize(int width, int height);

  // The screen, one string per row, trailing spaces removed. With escapes: SGR colour codes too.
  std::vector<std::string> screen(bool escapes = false);
  // Cursor column and row (0-based).
  std::pair<int, int> cursor();
  // Polls the screen until pred holds; false on timeout (the screen then goes to the test log).
  bool wait_screen(const std::function<bool(const std::vector<std::string>&)>& pred, Ms timeout = 5000ms);

 private:
  std::string run(std::vector<std::string> args);

  TempDir dir_;
  std::string tmux_;
  std::string socket_;
};

// The last row of the screen that is not empty, or "" when all are.
std::string last_text_row(const std::vector<std::string>& screen);

}  // namespace concur::test
