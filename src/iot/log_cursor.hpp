#pragma once
// data.txt as the log (issue 21): a sink other than data.txt keeps a cursor — the byte offset just
// past the last line of data.txt it has durably taken — and catches up by reading the file from
// there. This file holds what every such sink shares: the cursor, how a file is recognised, the
// reader that turns a stretch of data.txt back into a Batch, and the checks made at start.
//
// - The file's identity is a hash of its first line (data.txt is append-only: its first line never
//   changes). Not the inode: a data.txt restored from a backup or copied to a new disk is the same
//   log and keeps its cursors; a data.txt emptied or replaced by another starts with another line.
// - A line's time is the Unix second of its asctime (stamp_seconds), on the first pass and on a
//   replay from the file alike: a reading taken twice (MQTT's at-least-once) carries the same time.
//
// Thread contract: a LogReader is used by one thread; the free functions are pure except
// stamp_seconds (which reads the local time zone).
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/fd.hpp"
#include "iot/reading_sink.hpp"

namespace concur::iot {

// LogPosition (a sink's cursor) is in reading_sink.hpp, with the sink interface that uses it.

// "fnv1a64:<16 hex digits>" of the first line, its '\n' included.
std::string log_file_id(std::string_view first_line);

// Unix seconds of an asctime in local time ("Fri Mar 18 22:55:13 2021"); -1 when it is not one.
// The last answer is cached (a second of readings shares one stamp).
double stamp_seconds(std::string_view asctime);

// Reads whole lines of a file that another part of the process appends to.
class LogReader {
 public:
  // Throws SysError "cannot open <path>: <reason>".
  explicit LogReader(std::string path);
  const std::string& path() const { return path_; }
  // The file's size now; -1 when fstat fails.
  off_t size() const;
  // log_file_id of the file's first line; empty while it has no whole line.
  std::string file_id() const;
  // Whether `offset` starts a line (0, or just after a '\n').
  bool at_line_start(uint64_t offset) const;
  // Whole lines of [from, end), at most about `max_bytes` of them (at least one line however long)
  // added to `into`, each with the time of its stamp; returns the offset past the last line read
  // (`from` when none is whole yet, or on a read error).
  uint64_t read(uint64_t from, uint64_t end, size_t max_bytes, Batch& into);
  // The number of '\n' in [from, end).
  uint64_t count_lines(uint64_t from, uint64_t end) const;

 private:
  std::string path_;
  FileDesc fd_;
  std::string buf_;
};

// Where a sink starts in the log, and what to say about it (empty: nothing).
struct Resume {
  uint64_t offset = 0;
  std::string note;
};
// Checks the position a sink stored against the log as it is now (`size` bytes, first line
// `file_id`): a sink with no position starts at the end (at 0 with `backfill`); a position from
// another file, or not at a line start (garbage), is not trusted and treated as none; one past the
// end (a torn tail was cut, or the file lost its last lines) is clamped to the end.
Resume resume_from(const std::optional<LogPosition>& stored, const LogReader& log, uint64_t size,
                   const std::string& file_id, bool backfill, const std::string& sink_name);

}  // namespace concur::iot
