#pragma once
// The provided-buffer ring of the uring model (IORING_REGISTER_PBUF_RING): one shared pool of
// fixed-size read buffers the kernel picks from for every multishot recv, so an idle connection
// owns no read buffer. A completion names the buffer it filled; the model hands the bytes on and
// gives the buffer back at once.
#ifdef CONCUR_HAVE_URING
#include <liburing.h>

#include <cstddef>
#include <vector>

namespace concur {

class BufferRing {
 public:
  // Registers `count` buffers (a power of two) of `size` bytes each as buffer group `group` of
  // `ring`. Throws SysError naming what failed (old kernels have no provided-buffer rings).
  BufferRing(io_uring& ring, unsigned count, unsigned size, unsigned short group);
  ~BufferRing();
  BufferRing(const BufferRing&) = delete;
  BufferRing& operator=(const BufferRing&) = delete;

  unsigned short group() const { return group_; }
  unsigned buffer_size() const { return size_; }
  // The buffer the kernel named in a completion (cqe.flags >> IORING_CQE_BUFFER_SHIFT).
  char* data(unsigned bid) { return bytes_.data() + size_t{bid} * size_; }
  // Back to the kernel: the buffer may be filled again by the next recv.
  void give_back(unsigned bid);

 private:
  io_uring& ring_;
  io_uring_buf_ring* br_ = nullptr;
  size_t br_bytes_ = 0;
  unsigned count_;
  unsigned size_;
  unsigned short group_;
  std::vector<char> bytes_;
};

}  // namespace concur
#endif
