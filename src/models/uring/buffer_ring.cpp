#include "models/uring/buffer_ring.hpp"

#ifdef CONCUR_HAVE_URING
#include <sys/mman.h>

#include <cerrno>

#include "core/error.hpp"

namespace concur {

BufferRing::BufferRing(io_uring& ring, unsigned count, unsigned size, unsigned short group)
    : ring_(ring), count_(count), size_(size), group_(group) {
  bytes_.resize(size_t{count} * size);
  br_bytes_ = sizeof(io_uring_buf) * count;
  // The ring the kernel reads buffer addresses from: page-aligned memory we share with it.
  void* mem = ::mmap(nullptr, br_bytes_, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (mem == MAP_FAILED) throw SysError("mmap for the io_uring provided-buffer ring", errno);
  br_ = static_cast<io_uring_buf_ring*>(mem);
  io_uring_buf_ring_init(br_);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(br_);
  reg.ring_entries = count;
  reg.bgid = group;
  int rc = io_uring_register_buf_ring(&ring_, &reg, 0);
  if (rc < 0) {
    ::munmap(br_, br_bytes_);
    throw SysError("io_uring provided buffers are not available on this kernel", -rc);
  }
  for (unsigned i = 0; i < count; ++i)
    io_uring_buf_ring_add(br_, data(i), size_, static_cast<unsigned short>(i), io_uring_buf_ring_mask(count_),
                          static_cast<int>(i));
  io_uring_buf_ring_advance(br_, static_cast<int>(count));
}

BufferRing::~BufferRing() {
  io_uring_unregister_buf_ring(&ring_, group_);
  ::munmap(br_, br_bytes_);
}

void BufferRing::give_back(unsigned bid) {
  io_uring_buf_ring_add(br_, data(bid), size_, static_cast<unsigned short>(bid), io_uring_buf_ring_mask(count_), 0);
  io_uring_buf_ring_advance(br_, 1);
}

}  // namespace concur
#endif
