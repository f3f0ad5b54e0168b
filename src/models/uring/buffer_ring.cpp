#include "models/uring/buffer_ring.hpp"

#include <atomic>

namespace concur {

namespace {
std::atomic<uint64_t> shortages{0};
}

uint64_t uring_buffer_shortages() { return shortages.load(std::memory_order_relaxed); }

}  // namespace concur

#ifdef CONCUR_HAVE_URING
#include <sys/mman.h>

#include <algorithm>
#include <cerrno>

#include "core/error.hpp"

// liburing 2.3 (Debian 12) predates incremental consumption; the values are the kernel's ABI.
#ifndef IOU_PBUF_RING_INC
#define IOU_PBUF_RING_INC 2
#endif
#ifndef IORING_CQE_F_BUF_MORE
#define IORING_CQE_F_BUF_MORE (1U << 4)
#endif

namespace concur {

namespace {
// The registration's flags field is `pad` in liburing 2.3's copy of the kernel header.
template <class Reg>
void set_flags(Reg& reg, uint16_t flags) {
  if constexpr (requires { reg.flags; }) reg.flags = flags;
  else reg.pad = flags;
}
}  // namespace

void count_uring_buffer_shortage() { shortages.fetch_add(1, std::memory_order_relaxed); }

BufferRing::BufferRing(io_uring& ring, unsigned count, unsigned size, unsigned short group, bool whole)
    : ring_(ring), count_(count), provided_(count), size_(size), group_(group) {
  bytes_len_ = size_t{count} * size;
  void* bytes = ::mmap(nullptr, bytes_len_, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (bytes == MAP_FAILED) throw SysError("mmap for the io_uring provided buffers", errno);
  bytes_ = static_cast<char*>(bytes);
  used_.assign(count, 0);
  br_bytes_ = sizeof(io_uring_buf) * count;
  // The ring the kernel reads buffer addresses from: page-aligned memory we share with it.
  void* mem = ::mmap(nullptr, br_bytes_, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (mem == MAP_FAILED) {
    int err = errno;
    ::munmap(bytes_, bytes_len_);
    throw SysError("mmap for the io_uring provided-buffer ring", err);
  }
  br_ = static_cast<io_uring_buf_ring*>(mem);
  io_uring_buf_ring_init(br_);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(br_);
  reg.ring_entries = count;
  reg.bgid = group;
  int rc = -EINVAL;
  if (!whole) {
    set_flags(reg, IOU_PBUF_RING_INC);
    rc = io_uring_register_buf_ring(&ring_, &reg, 0);
    incremental_ = rc == 0;
  }
  if (rc == -EINVAL) {  // a kernel before 6.12: whole buffers
    set_flags(reg, 0);
    rc = io_uring_register_buf_ring(&ring_, &reg, 0);
  }
  if (rc < 0) {
    ::munmap(br_, br_bytes_);
    ::munmap(bytes_, bytes_len_);
    throw SysError("io_uring provided buffers are not available on this kernel", -rc);
  }
  // Incremental: a buffer takes many messages before it goes round, so a quarter of them holds
  // as much and touches a quarter of the memory (2 MiB by default).
  if (incremental_) provided_ = std::max(1u, count / 4);
  for (unsigned i = 0; i < provided_; ++i)
    io_uring_buf_ring_add(br_, data(i), size_, static_cast<unsigned short>(i), io_uring_buf_ring_mask(count_),
                          static_cast<int>(i));
  io_uring_buf_ring_advance(br_, static_cast<int>(provided_));
}

BufferRing::~BufferRing() {
  io_uring_unregister_buf_ring(&ring_, group_);
  ::munmap(br_, br_bytes_);
  ::munmap(bytes_, bytes_len_);
}

std::string_view BufferRing::received(const io_uring_cqe& cqe) const {
  unsigned bid = cqe.flags >> IORING_CQE_BUFFER_SHIFT;
  if (cqe.res <= 0 || bid >= count_) return {};
  const char* start = bytes_ + size_t{bid} * size_ + used_[bid];
  return {start, static_cast<size_t>(cqe.res)};
}

void BufferRing::release(const io_uring_cqe& cqe) {
  if (!(cqe.flags & IORING_CQE_F_BUFFER)) return;
  unsigned bid = cqe.flags >> IORING_CQE_BUFFER_SHIFT;
  if (bid >= count_) return;
  // Incremental: the kernel keeps filling this buffer from where it stopped (F_BUF_MORE) and
  // gives it up when it is full; only then does it go back into the ring.
  if (incremental_ && (cqe.flags & IORING_CQE_F_BUF_MORE)) {
    if (cqe.res > 0) used_[bid] += static_cast<uint32_t>(cqe.res);
    return;
  }
  used_[bid] = 0;
  give_back(bid);
}

void BufferRing::give_back(unsigned bid) {
  io_uring_buf_ring_add(br_, data(bid), size_, static_cast<unsigned short>(bid), io_uring_buf_ring_mask(count_), 0);
  io_uring_buf_ring_advance(br_, 1);
}

}  // namespace concur
#endif
