#include "redis/hiredis_loop.hpp"

namespace concur::redis {

namespace {
HiredisSlot* slot_of(void* privdata) { return static_cast<HiredisSlot*>(privdata); }

void add_read(void* p) {
  slot_of(p)->want_read = true;
  slot_of(p)->update();
}
void del_read(void* p) {
  slot_of(p)->want_read = false;
  slot_of(p)->update();
}
void add_write(void* p) {
  slot_of(p)->want_write = true;
  slot_of(p)->update();
}
void del_write(void* p) {
  slot_of(p)->want_write = false;
  slot_of(p)->update();
}
void cleanup(void* p) {
  HiredisSlot* s = slot_of(p);
  if (s->fd >= 0) s->loop->unwatch(s->fd);
  s->ac = nullptr;
  s->fd = -1;
  s->want_read = s->want_write = false;
}
}  // namespace

void HiredisSlot::attach(redisAsyncContext* context, EventLoop& l) {
  ac = context;
  loop = &l;
  fd = ac->c.fd;
  want_read = want_write = false;
  ac->ev.data = this;
  ac->ev.addRead = add_read;
  ac->ev.delRead = del_read;
  ac->ev.addWrite = add_write;
  ac->ev.delWrite = del_write;
  ac->ev.cleanup = cleanup;
  // Watched with no interest until hiredis asks: the callback stays registered across changes.
  loop->watch(fd, false, false, [this](const Ready& r) {
    if (ac && (r.in || r.err)) redisAsyncHandleRead(ac);
    // Until the connect completes hiredis learns its outcome from writability.
    if (ac && (r.out || r.err)) redisAsyncHandleWrite(ac);
  });
}

void HiredisSlot::update() {
  if (fd >= 0) loop->modify(fd, want_read, want_write);
}

void HiredisSlot::free() {
  if (ac) redisAsyncFree(ac);  // the cleanup hook unwatches and empties the slot
  ac = nullptr;
}

}  // namespace concur::redis
