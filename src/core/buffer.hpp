#pragma once
// A byte buffer with a readable region followed by a writable one (muduo's Buffer, without the
// prependable part):
//
//   +-------------------+------------------+------------------+
//   |  consumed (free)  |  readable bytes  |  writable bytes  |
//   +-------------------+------------------+------------------+
//   0      <=      read_pos     <=     write_pos    <=     capacity
//
// Consumed space is reclaimed by moving the readable bytes to the front when a write needs room.
#include <cstddef>
#include <string_view>
#include <vector>

namespace concur {

class Buffer {
 public:
  size_t size() const { return write_ - read_; }
  bool empty() const { return write_ == read_; }
  std::string_view view() const { return {data_.data() + read_, size()}; }
  const char* data() const { return data_.data() + read_; }

  void append(std::string_view bytes);
  void consume(size_t n);
  void clear() { read_ = write_ = 0; }

  // Room for at least n more bytes; returns where to write. Commit what was written with commit().
  char* prepare(size_t n);
  void commit(size_t n) { write_ += n; }

  // Writes as much as the socket takes (MSG_NOSIGNAL, through the sys seam).
  // Returns bytes written, 0 on EAGAIN, or -errno on a real error (EPIPE, ECONNRESET, ...).
  long flush_to(int fd);

 private:
  std::vector<char> data_;
  size_t read_ = 0;
  size_t write_ = 0;
};

}  // namespace concur
