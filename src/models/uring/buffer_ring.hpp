#pragma once
// The provided-buffer ring of the uring model (IORING_REGISTER_PBUF_RING): one shared pool of
// read buffers the kernel picks from for every multishot recv, so an idle connection owns no read
// buffer. A completion names the buffer it filled; the model hands the bytes on and releases it.
//
// Where the kernel can (6.12+, IOU_PBUF_RING_INC) buffers are consumed incrementally: a 64-byte
// message takes 64 bytes of a buffer, not all of it, and the next recv continues in the same
// buffer. Without that, 10,000 connections with one small message each need 10,000 whole buffers
// at once; with it the same ring holds them. When the ring still runs dry the kernel ends that
// connection's multishot recv with ENOBUFS, and the model re-arms it once buffers are back.
#include <cstdint>

#ifdef CONCUR_HAVE_URING
#include <liburing.h>

#include <cstddef>
#include <string_view>
#include <vector>
#endif

namespace concur {

// How many times a multishot recv ended because the provided buffers had run out (ENOBUFS), in
// this process, for tests and logs.
uint64_t uring_buffer_shortages();

#ifdef CONCUR_HAVE_URING

void count_uring_buffer_shortage();

class BufferRing {
 public:
  // Registers `count` buffers (a power of two) of `size` bytes each as buffer group `group` of
  // `ring`, incremental where the kernel can unless `whole` (tests). Throws SysError naming what
  // failed (old kernels have no provided-buffer rings).
  BufferRing(io_uring& ring, unsigned count, unsigned size, unsigned short group, bool whole = false);
  ~BufferRing();
  BufferRing(const BufferRing&) = delete;
  BufferRing& operator=(const BufferRing&) = delete;

  unsigned short group() const { return group_; }
  unsigned count() const { return count_; }
  // Buffers actually handed to the kernel: a quarter of count() when incremental (each serves
  // many small messages), all of them otherwise.
  unsigned provided() const { return provided_; }
  bool incremental() const { return incremental_; }

  // The bytes a recv completion with IORING_CQE_F_BUFFER delivered (res > 0), valid until release().
  std::string_view received(const io_uring_cqe& cqe) const;
  // The model is done with a completion's bytes: the buffer goes back to the kernel once the
  // kernel itself is done with it (incremental buffers serve several completions).
  void release(const io_uring_cqe& cqe);

 private:
  char* data(unsigned bid) { return bytes_ + size_t{bid} * size_; }
  void give_back(unsigned bid);

  io_uring& ring_;
  io_uring_buf_ring* br_ = nullptr;
  size_t br_bytes_ = 0;
  unsigned count_;
  unsigned provided_;
  unsigned size_;
  unsigned short group_;
  bool incremental_ = false;
  // mmap'd, not a vector: pages the kernel never fills are never touched, so they cost no RSS
  // (18,000 idle connections touch none).
  char* bytes_ = nullptr;
  size_t bytes_len_ = 0;
  std::vector<uint32_t> used_;  // incremental: bytes of each buffer already handed out
};

#endif

}  // namespace concur
