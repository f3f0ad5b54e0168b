#pragma once
// The service manager's notification protocol (sd_notify(3)) without libsystemd: datagrams such as
// "READY=1" sent to the AF_UNIX socket named by $NOTIFY_SOCKET (a path, or "@name" for the abstract
// namespace). With NOTIFY_SOCKET unset every call is a no-op that costs one branch.
#include <chrono>
#include <string_view>

namespace concur::sd {

// Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID once, opens the socket, and removes the three
// variables from the environment, so that programs we start (bench models, demo) do not speak to
// our service manager as if they were the service. Call at start-up, before any thread exists
// (unsetenv is not thread-safe). A second call does nothing.
void init_from_environment();

bool enabled() noexcept;

// Sends one state string ("READY=1", "STATUS=..."). From the process that called
// init_from_environment only: a forked worker stays silent (systemd's NotifyAccess=main would
// reject it anyway). Async-signal-safe (sendto, getpid). False when disabled or not sent.
bool notify(std::string_view state) noexcept;

// READY=1, once all the listening lines are out; then starts the watchdog pinger when the manager
// asked for one (WATCHDOG_USEC set, WATCHDOG_PID unset or ours). Idempotent.
void notify_ready();

// STOPPING=1, once: the stop signal handler calls it when a drain begins. Async-signal-safe.
void notify_stopping() noexcept;

// The WATCHDOG_USEC the manager asked for (0: none). WATCHDOG=1 goes out every half of it.
std::chrono::microseconds watchdog_timeout() noexcept;

}  // namespace concur::sd
