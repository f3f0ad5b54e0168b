#pragma once
// hiredis's async API on concur's EventLoop (the shape of hiredis's adapters/ae.h): hiredis says
// through its ev hooks which events it wants, the slot turns that into watch/modify/unwatch, and
// readiness goes back to redisAsyncHandleRead/Write. One slot per connection, owned by the caller
// and reused across reconnects; hiredis's cleanup hook unwatches the descriptor (before hiredis
// closes it) and empties the slot, so `ac` is never a dangling pointer. Loop thread only.
#include <hiredis/async.h>

#include "loop/event_loop.hpp"

namespace concur::redis {

struct HiredisSlot {
  redisAsyncContext* ac = nullptr;

  // Attaches a fresh context (the slot must be empty) to `loop`.
  void attach(redisAsyncContext* context, EventLoop& loop);
  // Frees the context (never from inside one of its callbacks): pending callbacks run with NULL.
  void free();

  // For the hooks.
  EventLoop* loop = nullptr;
  int fd = -1;
  bool want_read = false, want_write = false;
  void update();
};

}  // namespace concur::redis
