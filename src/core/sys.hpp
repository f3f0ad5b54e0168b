#pragma once
// The one seam in front of the data-path syscalls (as fmt's FMT_POSIX_CALL). Production code calls
// sys::recv()/sys::send()/...; a test may swap a pointer to inject EINTR, EAGAIN, short writes,
// ECONNRESET or ENOSPC and check the path that handles it. Not for hot swapping while threads run.
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

namespace concur::sys {

struct Calls {
  ssize_t (*recv)(int, void*, size_t, int);
  ssize_t (*send)(int, const void*, size_t, int);
  ssize_t (*write)(int, const void*, size_t);
  ssize_t (*writev)(int, const iovec*, int);
};

// The table in force; tests replace entries and restore them (see ScopedCalls in tests).
extern Calls calls;

inline ssize_t recv(int fd, void* b, size_t n, int f) { return calls.recv(fd, b, n, f); }
inline ssize_t send(int fd, const void* b, size_t n, int f) { return calls.send(fd, b, n, f); }
inline ssize_t write(int fd, const void* b, size_t n) { return calls.write(fd, b, n); }
inline ssize_t writev(int fd, const iovec* v, int n) { return calls.writev(fd, v, n); }

}  // namespace concur::sys
