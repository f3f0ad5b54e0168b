#pragma once
// Clang's thread-safety analysis (-Wthread-safety) for the "guarded by" contracts in concur:
// a member declared CONCUR_GUARDED_BY(mu_) may only be touched with mu_ held, and clang proves it
// at compile time (scripts/check-thread-safety.sh runs it over every source; GCC ignores the
// macros). libstdc++'s std::mutex carries no annotations, hence the two small wrappers: Mutex,
// a std::mutex that is a capability, and MutexLock, its scoped lock (std::lock_guard's job).
#include <mutex>

#if defined(__clang__)
#define CONCUR_TSA(x) __attribute__((x))
#else
#define CONCUR_TSA(x)
#endif

#define CONCUR_CAPABILITY(name) CONCUR_TSA(capability(name))
#define CONCUR_SCOPED_CAPABILITY CONCUR_TSA(scoped_lockable)
#define CONCUR_GUARDED_BY(m) CONCUR_TSA(guarded_by(m))
#define CONCUR_PT_GUARDED_BY(m) CONCUR_TSA(pt_guarded_by(m))
#define CONCUR_REQUIRES(...) CONCUR_TSA(requires_capability(__VA_ARGS__))
#define CONCUR_ACQUIRE(...) CONCUR_TSA(acquire_capability(__VA_ARGS__))
#define CONCUR_RELEASE(...) CONCUR_TSA(release_capability(__VA_ARGS__))
#define CONCUR_TRY_ACQUIRE(...) CONCUR_TSA(try_acquire_capability(__VA_ARGS__))
#define CONCUR_EXCLUDES(...) CONCUR_TSA(locks_excluded(__VA_ARGS__))
#define CONCUR_NO_THREAD_SAFETY_ANALYSIS CONCUR_TSA(no_thread_safety_analysis)

namespace concur {

class CONCUR_CAPABILITY("mutex") Mutex {
 public:
  void lock() CONCUR_ACQUIRE() { mu_.lock(); }
  void unlock() CONCUR_RELEASE() { mu_.unlock(); }
  bool try_lock() CONCUR_TRY_ACQUIRE(true) { return mu_.try_lock(); }
  // For std::condition_variable, which waits on a std::unique_lock<std::mutex>: the caller holds
  // this Mutex (through a MutexLock) and hands the wait its native mutex.
  std::mutex& native() { return mu_; }

 private:
  std::mutex mu_;
};

class CONCUR_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) CONCUR_ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~MutexLock() CONCUR_RELEASE() { mu_.unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex& mu_;
};

}  // namespace concur
