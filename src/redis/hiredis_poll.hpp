#pragma once
// A small adapter between hiredis's async API and a poll() loop (the shape of hiredis's own
// adapters/poll.h): hiredis tells the slot which events it wants through its ev hooks; the loop
// polls the descriptor for them and hands readiness back. One slot per connection, owned by the
// caller and reused across reconnects; hiredis's cleanup hook empties it when the context is freed,
// so `ac` is never a dangling pointer.
#include <hiredis/async.h>
#include <poll.h>

namespace concur::redis {

struct HiredisSlot {
  redisAsyncContext* ac = nullptr;
  bool want_read = false;
  bool want_write = false;

  // Attaches a fresh context (the slot must be empty).
  void attach(redisAsyncContext* context);
  // The pollfd to wait on, or fd -1 when empty.
  pollfd poll_entry() const;
  // Readiness from poll(): reads, then writes if the context survived the read.
  void handle(short revents);
  // Frees the context (never from inside one of its callbacks). Pending callbacks run with NULL.
  void free();
};

}  // namespace concur::redis
