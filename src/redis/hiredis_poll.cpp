#include "redis/hiredis_poll.hpp"

namespace concur::redis {

namespace {
HiredisSlot* slot_of(void* privdata) { return static_cast<HiredisSlot*>(privdata); }
void add_read(void* p) { slot_of(p)->want_read = true; }
void del_read(void* p) { slot_of(p)->want_read = false; }
void add_write(void* p) { slot_of(p)->want_write = true; }
void del_write(void* p) { slot_of(p)->want_write = false; }
void cleanup(void* p) {
  HiredisSlot* s = slot_of(p);
  s->ac = nullptr;
  s->want_read = s->want_write = false;
}
}  // namespace

void HiredisSlot::attach(redisAsyncContext* context) {
  ac = context;
  want_read = want_write = false;
  ac->ev.data = this;
  ac->ev.addRead = add_read;
  ac->ev.delRead = del_read;
  ac->ev.addWrite = add_write;
  ac->ev.delWrite = del_write;
  ac->ev.cleanup = cleanup;
}

pollfd HiredisSlot::poll_entry() const {
  pollfd p{-1, 0, 0};
  if (!ac) return p;
  p.fd = ac->c.fd;
  // Until the connect completes hiredis needs writability to learn the outcome.
  if (want_read) p.events |= POLLIN;
  if (want_write) p.events |= POLLOUT;
  return p;
}

void HiredisSlot::handle(short revents) {
  if (!ac) return;
  if (revents & (POLLIN | POLLERR | POLLHUP)) redisAsyncHandleRead(ac);
  if (ac && (revents & (POLLOUT | POLLERR))) redisAsyncHandleWrite(ac);
}

void HiredisSlot::free() {
  if (ac) redisAsyncFree(ac);  // the cleanup hook empties the slot
  ac = nullptr;
}

}  // namespace concur::redis
