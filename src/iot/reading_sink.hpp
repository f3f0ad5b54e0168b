#pragma once
// Where the collector stores its lines. The collector hands over whole lines only (each ends in
// "\n"), a batch per event-loop pass; a sink must store a batch whole or not at all, so that the
// store never holds a torn or interleaved line. Other backends (a database, a message queue)
// implement the same interface.
//
// Thread contract: a sink is used by one thread (the collector's loop).
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/fd.hpp"

namespace concur::iot {

class ReadingSink {
 public:
  virtual ~ReadingSink() = default;
  // Stores `whole_lines` (one or more lines, each ending in '\n'). Returns 0 when stored, or an
  // errno value when nothing was stored (the caller keeps the lines and retries later).
  virtual int write_lines(std::string_view whole_lines) = 0;
  // Makes what was stored so far durable (the collector calls it about once a second).
  virtual void sync() {}
  // What the sink writes to, for messages ("data.txt").
  virtual const std::string& name() const = 0;
};

// Appends to a text file (O_APPEND), one write() per batch.
// - open: creates the file (0644); if its last byte is not '\n' (a crash or a full disk tore the
//   last line), cuts the file back to its last newline, so no malformed line stays (SPEC §3,
//   RELIABILITY #29; Redis's aof-load-truncated).
// - a short write is continued; if the rest fails (disk full, file too large), the partial batch
//   is undone with ftruncate to the size before it (tracked, not asked for with lseek on every
//   pass: the sink is the file's only writer), so a failed batch leaves no partial line behind.
// - with `fsync`, every batch is fsync()ed before write_lines returns; without it, sync() does it
//   (the collector calls that about once a second, redis's "everysec": a power cut loses at most
//   about a second of readings; a crash of the collector alone loses nothing written).
class FileSink final : public ReadingSink {
 public:
  // Throws SysError "cannot open <path>: <reason>".
  FileSink(std::string path, bool fsync);
  int write_lines(std::string_view whole_lines) override;
  const std::string& name() const override { return path_; }
  void sync() override;
  // Bytes of a torn last line that open() cut off (0: the file ended with a newline).
  uint64_t dropped_on_open() const { return dropped_; }
  // The file's size as this sink knows it (0 for a pipe or a device).
  off_t size() const { return size_; }
  // fsync() failures so far (the lines were written, their durability is not certain).
  unsigned long sync_errors() const { return sync_errors_; }

 private:
  std::string path_;
  bool fsync_;
  bool regular_ = false;
  uint64_t dropped_ = 0;
  off_t size_ = 0;
  unsigned long sync_errors_ = 0;
  FileDesc fd_;
};

}  // namespace concur::iot
