#include "clients/terminal_editor.hpp"

#include <histedit.h>
#include <langinfo.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <clocale>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cwchar>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/log.hpp"

namespace concur {

namespace {

// A key sequence no terminal sends, bound to erase_fn: pushed by around_line() so that libedit
// redraws an empty line and thereby takes the real one off the screen.
constexpr const char* kEraseKey = "\033[9911~";
constexpr const wchar_t* kEraseKeyW = L"\033[9911~";
wchar_t kEmptyPrompt[] = L"";

std::atomic<int> g_winch_fd{-1};
extern "C" void on_winch(int) {
  int saved = errno;
  int fd = g_winch_fd.load();
  uint64_t one = 1;
  if (fd >= 0) [[maybe_unused]] ssize_t n = ::write(fd, &one, sizeof one);
  errno = saved;
}

// libedit decodes multibyte input with the C library, so the locale must be UTF-8 (what concur
// speaks on the wire) even when the environment names none.
void use_utf8_locale() {
  std::setlocale(LC_CTYPE, "");
  if (std::strcmp(nl_langinfo(CODESET), "UTF-8") != 0) std::setlocale(LC_CTYPE, "C.UTF-8");
}

std::wstring widen(std::string_view s) {
  std::wstring out;
  std::mbstate_t st{};
  for (size_t i = 0; i < s.size();) {
    wchar_t w;
    size_t n = std::mbrtowc(&w, s.data() + i, s.size() - i, &st);
    if (n == static_cast<size_t>(-1) || n == static_cast<size_t>(-2)) {
      st = {};
      out += L'?';
      ++i;
      continue;
    }
    out += w;
    i += n == 0 ? 1 : n;
  }
  return out;
}

std::string narrow(std::wstring_view w) {
  std::string out;
  std::mbstate_t st{};
  char buf[MB_LEN_MAX];
  for (wchar_t c : w) {
    size_t n = std::wcrtomb(buf, c, &st);
    if (n == static_cast<size_t>(-1)) {
      st = {};
      continue;
    }
    out.append(buf, n);
  }
  return out;
}

// Columns a text takes as libedit draws it: control characters as ^X, others by wcwidth().
size_t display_width(std::wstring_view w) {
  size_t cols = 0;
  for (wchar_t c : w) {
    if (c < 0x20 || c == 0x7f) {
      cols += 2;
      continue;
    }
    int n = ::wcwidth(c);
    cols += n < 0 ? 4 : static_cast<size_t>(n);
  }
  return cols;
}

int terminal_cols() {
  struct winsize ws {};
  return ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 80;
}

TerminalEditor* editor_of(EditLine* el) {
  void* p = nullptr;
  el_get(el, EL_CLIENTDATA, &p);
  return static_cast<TerminalEditor*>(p);
}

}  // namespace

bool TerminalEditor::wanted() {
  // A "dumb" terminal (Emacs' shell buffer, some CI consoles) cannot move the cursor: plain lines.
  const char* term = std::getenv("TERM");
  if (!term || !*term || std::strcmp(term, "dumb") == 0) return false;
  return ::isatty(STDIN_FILENO) && ::isatty(STDOUT_FILENO);
}

TerminalEditor::TerminalEditor(EditorOptions o) : o_(std::move(o)) {
  use_utf8_locale();
  saved_ok_ = ::tcgetattr(STDIN_FILENO, &saved_) == 0;
  winch_ = FileDesc(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!winch_) throw_errno("eventfd");
  g_winch_fd.store(winch_.get());
  struct sigaction sa {};
  sa.sa_handler = on_winch;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  ::sigaction(SIGWINCH, &sa, nullptr);

  prompt_ = widen(o_.prompt);
  el_ = el_init("concur", stdin, stdout, stderr);
  if (!el_) throw SysError("cannot start the line editor (libedit)", errno ? errno : ENOTTY);
  el_set(el_, EL_CLIENTDATA, static_cast<void*>(this));
  el_set(el_, EL_EDITOR, "emacs");
  el_set(el_, EL_SIGNAL, 0);  // SIGINT/SIGTERM go to the session's StopSource, SIGWINCH to winch_
  el_wset(el_, EL_PROMPT, &TerminalEditor::prompt_fn);
  el_wset(el_, EL_GETCFN, &TerminalEditor::getc_fn);

  hist_ = history_winit();
  HistEventW ev;
  history_w(hist_, &ev, H_SETSIZE, static_cast<int>(o_.history_size));
  history_w(hist_, &ev, H_SETUNIQUE, 1);
  if (!o_.history_file.empty() && ::access(o_.history_file.c_str(), F_OK) == 0 &&
      history_w(hist_, &ev, H_LOAD, o_.history_file.c_str()) < 0)
    err_line("concur: cannot read the history file " + o_.history_file + "; starting with an empty history");
  el_wset(el_, EL_HIST, history_w, hist_);

  // Readline's meaning of Ctrl-W and Ctrl-U (libedit's emacs map has kill-region and an
  // argument prefix there).
  el_set(el_, EL_BIND, "^W", "ed-delete-prev-word", nullptr);
  el_set(el_, EL_BIND, "^U", "vi-kill-line-prev", nullptr);
  // The wide form: libedit's narrow EL_ADDFN leaks copies of both strings.
  el_wset(el_, EL_ADDFN, L"concur-erase", L"take the input line off the screen", &TerminalEditor::erase_fn);
  el_set(el_, EL_BIND, kEraseKey, "concur-erase", nullptr);

  start_line();
}

TerminalEditor::~TerminalEditor() {
  if (el_) {
    // Leave no half-typed line behind: the shell's prompt comes where the input line was.
    if (line_shown_) take_line_off();
    el_set(el_, EL_UNBUFFERED, 0);
    el_end(el_);
  }
  if (hist_) history_wend(hist_);
  std::fflush(stdout);
  if (saved_ok_) ::tcsetattr(STDIN_FILENO, TCSADRAIN, &saved_);
  g_winch_fd.store(-1);
  ::signal(SIGWINCH, SIG_DFL);
}

wchar_t* TerminalEditor::prompt_fn(EditLine* el) {
  TerminalEditor* self = editor_of(el);
  if (!self || self->prompt_hidden_) return kEmptyPrompt;
  return self->prompt_.data();
}

// Reads one character from stdin (one byte at a time, so what follows stays in the kernel and
// poll() keeps reporting it). Records the end of input, which el_wgets() does not report apart
// from an empty line.
int TerminalEditor::getc_fn(EditLine* el, wchar_t* wc) {
  TerminalEditor* self = editor_of(el);
  std::mbstate_t st{};
  for (;;) {
    char c;
    ssize_t r = ::read(STDIN_FILENO, &c, 1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      self->input_eof_ = true;
      return r == 0 ? 0 : -1;
    }
    wchar_t w;
    size_t n = std::mbrtowc(&w, &c, 1, &st);
    if (n == static_cast<size_t>(-2)) continue;  // more bytes of this character to come
    if (n == static_cast<size_t>(-1)) {          // not UTF-8: skip the byte
      st = {};
      continue;
    }
    *wc = n == 0 ? L'\0' : w;
    return 1;
  }
}

unsigned char TerminalEditor::erase_fn(EditLine*, int) { return CC_REFRESH; }

std::pair<std::wstring, int> TerminalEditor::take_line_off() {
  const LineInfoW* li = el_wline(el_);
  std::wstring text(li->buffer, li->lastchar);
  int back = static_cast<int>(li->lastchar - li->cursor);
  // An empty prompt and an empty line: libedit's redraw erases every row the line used and
  // leaves the cursor at the start of the first.
  prompt_hidden_ = true;
  el_cursor(el_, static_cast<int>(text.size()));
  if (!text.empty()) el_wdeletestr(el_, static_cast<int>(text.size()));
  el_wpush(el_, kEraseKeyW);
  int n = 0;
  el_wgets(el_, &n);
  std::fflush(stdout);
  return {std::move(text), back};
}

template <typename F>
void TerminalEditor::around_line(F&& between) {
  // The SIGWINCH of a resize may still be on its way: follow the new width before erasing.
  follow_resize();
  if (!line_shown_) {
    between();
    return;
  }
  auto [text, back] = take_line_off();
  between();
  prompt_hidden_ = false;
  if (!text.empty()) {
    el_winsertstr(el_, text.c_str());
    el_cursor(el_, -back);
  }
  el_set(el_, EL_REFRESH);  // the screen below the text is blank: draw prompt and line afresh
}

void TerminalEditor::print_to(std::string_view line, int fd) {
  around_line([&] {
    if (fd == STDERR_FILENO) err_line(line);
    else out_line(line);
  });
}

void TerminalEditor::print(std::string_view line) { print_to(line, STDOUT_FILENO); }
void TerminalEditor::print_error(std::string_view line) { print_to(line, STDERR_FILENO); }

// After a resize the terminal has already re-laid the screen out. Terminals that reflow wrapped
// lines (tmux, VTE, kitty, iTerm2, Windows Terminal) have moved the cursor to where the input line
// up to the cursor ends at the new width, so the line starts that many rows higher: go there,
// clear to the end of the screen, and let libedit draw the line afresh for the new width.
void TerminalEditor::on_event() {
  uint64_t v;
  while (::read(winch_.get(), &v, sizeof v) > 0) {
  }
  follow_resize();
}

void TerminalEditor::follow_resize() {
  int cols = terminal_cols();
  if (cols == cols_) return;
  cols_ = cols;
  if (!line_shown_) {
    el_resize(el_);
    return;
  }
  const LineInfoW* li = el_wline(el_);
  size_t before = display_width(prompt_) + display_width(std::wstring_view(li->buffer, li->cursor - li->buffer));
  size_t up = before / static_cast<size_t>(cols);
  std::string moves = up ? fmt::format("\x1b[{}A", up) : std::string();
  moves += "\r\x1b[J";
  std::fflush(stdout);
  [[maybe_unused]] ssize_t n = ::write(STDOUT_FILENO, moves.data(), moves.size());
  el_resize(el_);
  el_set(el_, EL_REFRESH);  // libedit's picture of the screen is blank and its cursor at 0,0: true now
}

void TerminalEditor::start_line() {
  // Leaving and re-entering unbuffered mode resets libedit's line state (buffer, history
  // position, undo) and draws the prompt.
  el_set(el_, EL_UNBUFFERED, 0);
  el_set(el_, EL_UNBUFFERED, 1);
  line_shown_ = true;
  cols_ = terminal_cols();  // entering unbuffered mode has read the size
}

void TerminalEditor::want_input() {
  if (!line_shown_ && !eof_) start_line();
}

void TerminalEditor::enter_history(const std::wstring& line) {
  if (line.find_first_not_of(L" \t") == std::wstring::npos) return;
  HistEventW ev;
  history_w(hist_, &ev, H_ENTER, line.c_str());
  if (o_.history_file.empty() || !history_problem_.empty()) return;
  if (history_w(hist_, &ev, H_SAVE, o_.history_file.c_str()) < 0) {
    history_problem_ = "concur: cannot write the history file " + o_.history_file;
    err_line(history_problem_);
  }
}

bool TerminalEditor::read_some() {
  if (eof_) return false;
  want_input();
  int n = 0;
  el_wgets(el_, &n);
  if (input_eof_) {
    eof_ = true;
    return false;
  }
  const LineInfoW* li = el_wline(el_);
  size_t len = static_cast<size_t>(li->lastchar - li->buffer);
  if (len > 0 && li->lastchar[-1] == L'\n') {
    // Enter: libedit has moved the cursor below the line, which stays on the screen as typed.
    std::wstring w(li->buffer, len - 1);
    line_shown_ = false;
    enter_history(w);
    lines_.push_back(Line{narrow(w), false});
    return true;
  }
  if (len == 1 && li->buffer[0] == 0x04) {
    // Ctrl-D on an empty line (libedit's end of file): leave, like the end of piped input.
    el_cursor(el_, 1);
    el_wdeletestr(el_, 1);
    eof_ = true;
    return false;
  }
  return true;
}

std::optional<SessionIo::Line> TerminalEditor::next_line() {
  if (lines_.empty()) return std::nullopt;
  Line l = std::move(lines_.front());
  lines_.pop_front();
  return l;
}

std::optional<std::string> TerminalEditor::read_line(int stop_fd) {
  for (;;) {
    if (auto l = next_line()) return l->text;
    if (eof_) return std::nullopt;
    want_input();
    pollfd p[3] = {{STDIN_FILENO, POLLIN, 0}, {winch_.get(), POLLIN, 0}, {stop_fd, POLLIN, 0}};
    int rc = ::poll(p, stop_fd >= 0 ? 3 : 2, -1);
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) throw_errno("poll");
    if (stop_fd >= 0 && p[2].revents) return std::nullopt;
    if (p[1].revents) on_event();
    if (p[0].revents) read_some();
  }
}

}  // namespace concur
