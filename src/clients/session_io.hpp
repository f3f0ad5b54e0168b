#pragma once
// Where an interactive session's input lines come from and where its output lines go.
//
// PipeIo is the plain form (pipes, files, scripts, tests): lines read with InputReader and printed
// with out_line/err_line, byte for byte as before. TerminalEditor (terminal_editor.hpp) is the
// form for a person at a terminal: a line editor whose input line stays at the bottom while
// output is printed above it.
#include <optional>
#include <string_view>

#include "clients/input_reader.hpp"

namespace concur {

class SessionIo {
 public:
  using Line = InputReader::Line;
  virtual ~SessionIo() = default;

  // Poll for POLLIN while input is wanted; then call read_some().
  virtual int input_fd() const = 0;
  // Polled for POLLIN all the time (-1: none); then call on_event(). The terminal uses it for
  // window size changes.
  virtual int event_fd() const { return -1; }
  virtual void on_event() {}
  // Called before the session waits for input: the terminal shows its prompt then (not earlier,
  // so that a session that is leaving does not show a prompt nobody will answer).
  virtual void want_input() {}

  // Reads what is there. False (and eof() turns true) at end of input.
  virtual bool read_some() = 0;
  virtual bool eof() const = 0;
  // The next complete input line, if any.
  virtual std::optional<Line> next_line() = 0;

  // Whole output lines (no newline), to stdout and stderr.
  virtual void print(std::string_view line) = 0;
  virtual void print_error(std::string_view line) = 0;
};

// Input from a descriptor through InputReader, output with out_line/err_line.
class PipeIo final : public SessionIo {
 public:
  explicit PipeIo(InputReader& in) : in_(in) {}
  int input_fd() const override { return in_.fd(); }
  bool read_some() override { return in_.read_some(); }
  bool eof() const override { return in_.eof(); }
  std::optional<Line> next_line() override { return in_.next_line(); }
  void print(std::string_view line) override;
  void print_error(std::string_view line) override;

 private:
  InputReader& in_;
};

}  // namespace concur
