#pragma once
// Line editing for a person at a terminal (libedit, BSD-licensed): Emacs keys (Ctrl-A/E/W/U, the
// arrows), history with Up/Down (in memory, optionally kept in a file), and an input line that
// stays whole at the bottom of the screen while received text is printed above it.
//
// libedit is driven in its unbuffered mode: each time stdin is readable, el_wgets() handles one
// key and returns, so the session's poll loop never blocks on the person typing. To print above
// the input line, the line is taken out of the editor (prompt and text), libedit's own redraw
// erases it from the screen (it knows how many rows it occupies), the text is written, and the
// line is put back and drawn again with the cursor where it was. A SIGWINCH turns an eventfd
// readable; the session then calls on_event(), which redraws the line for the new width.
//
// The terminal is restored (the termios saved at start) when the editor is destroyed, whatever
// ended the session: quit, Ctrl-D, Ctrl-C (SIGINT reaches the session's StopSource as before, the
// terminal keeps ISIG), or the peer going away. Only one editor exists at a time.
#include <termios.h>

#include <deque>
#include <optional>
#include <string>
#include <utility>

#include "clients/session_io.hpp"
#include "core/fd.hpp"

typedef struct editline EditLine;
typedef struct historyW HistoryW;

namespace concur {

struct EditorOptions {
  std::string prompt;        // e.g. "[alice]> "
  std::string history_file;  // empty: history in memory only
  size_t history_size = 500;
};

class TerminalEditor final : public SessionIo {
 public:
  // True when stdin and stdout are both terminals (and TERM is set and not "dumb"): the only
  // case for an editor.
  static bool wanted();

  // Puts the terminal into editing mode and shows the prompt. Throws SysError when libedit
  // cannot be set up.
  explicit TerminalEditor(EditorOptions o);
  ~TerminalEditor() override;
  TerminalEditor(const TerminalEditor&) = delete;
  TerminalEditor& operator=(const TerminalEditor&) = delete;

  int input_fd() const override { return 0; }
  int event_fd() const override { return winch_.get(); }
  void on_event() override;
  void want_input() override;
  bool read_some() override;
  bool eof() const override { return eof_; }
  std::optional<Line> next_line() override;
  void print(std::string_view line) override;
  void print_error(std::string_view line) override;

  // Blocks until one line is typed (for request/response clients such as echo-client).
  // nullopt at end of input (Ctrl-D) or once stop_fd (-1: none) turns readable.
  std::optional<std::string> read_line(int stop_fd = -1);

  // History warnings (a history file that cannot be read or written) for the caller to show.
  const std::string& history_problem() const { return history_problem_; }

 private:
  static wchar_t* prompt_fn(EditLine* el);
  static int getc_fn(EditLine* el, wchar_t* wc);
  static unsigned char erase_fn(EditLine* el, int ch);

  // Takes the input line off the screen, runs `between`, and draws it again.
  template <typename F>
  void around_line(F&& between);
  // Erases the prompt and input line from the screen and empties the editor; returns the text and
  // how far the cursor was from its end.
  std::pair<std::wstring, int> take_line_off();
  void print_to(std::string_view line, int fd);
  void start_line();
  // Redraws the line when the terminal's width is no longer the one libedit knows.
  void follow_resize();
  void enter_history(const std::wstring& line);

  EditLine* el_ = nullptr;
  HistoryW* hist_ = nullptr;
  EditorOptions o_;
  std::wstring prompt_;
  bool prompt_hidden_ = false;
  bool line_shown_ = false;  // the prompt and the input line are on the screen
  bool input_eof_ = false;   // stdin itself ended (the terminal went away)
  bool eof_ = false;
  int cols_ = 0;  // the width libedit last laid the line out for
  std::deque<Line> lines_;
  FileDesc winch_;
  struct termios saved_ {};
  bool saved_ok_ = false;
  std::string history_problem_;
};

}  // namespace concur
