#pragma once
// The open-files limit. Servers, devices, the collector and the load generator hold one
// descriptor per peer, and the common default soft limit (1024) is far below what the hard limit
// allows, so every command raises its soft limit to the hard one at start, as Redis and nginx do.
// When descriptors still run out, the error names the limit.
#include <string>

namespace concur {

// Raises the soft RLIMIT_NOFILE to the hard limit. Returns the soft limit now in force (-1 if
// unlimited or unknown).
long raise_open_files_limit();

// The soft RLIMIT_NOFILE now (-1 if unlimited or unknown).
long open_files_limit();

// strerror(err), and for EMFILE the limit that was hit: "Too many open files (the open-files
// limit is 1024; raise it with ulimit -n)".
std::string errno_text(int err);

}  // namespace concur
