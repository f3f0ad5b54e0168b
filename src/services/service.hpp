#pragma once
// The service side of concur's two interfaces (docs/design.md). A service is protocol logic,
// written once: it never sees a descriptor, a thread or a poller, so every model can drive it.
//
// Thread contract: the callbacks of one connection are serialized and run on that connection's
// owner thread. Callbacks of different connections may run at the same time (thread model,
// epoll --workers), so state shared between connections must be guarded.
#include <any>
#include <functional>
#include <cstdint>
#include <memory>
#include <string_view>

#include "core/duration.hpp"
#include "core/endpoint.hpp"

namespace concur {

class Conn {
 public:
  virtual ~Conn() = default;

  // Unique for the life of the process, never reused: a departed member's id can never
  // address a newcomer that got the same descriptor number (RELIABILITY #21).
  virtual uint64_t id() const = 0;
  virtual const Endpoint& peer() const = 0;

  // Safe from any thread. Queues bytes for the peer and never blocks. Returns false, drops the
  // bytes and schedules a disconnect when the pending output would exceed the connection's bound
  // (--max-queue); also false once the connection is closed.
  virtual bool send(std::string_view bytes) = 0;
  // Safe from any thread. Closes once pending output is written; no more callbacks but on_close.
  virtual void close() = 0;
  // Bytes queued and not yet taken by the kernel. Safe from any thread.
  virtual size_t pending_output() const = 0;
  // True once send() refused bytes because the bound was passed (the model is disconnecting it),
  // so a service can log why a client went away. Safe from any thread.
  virtual bool overflowed() const { return false; }

  // Owner thread only, never blocks: true when the peer has hung up or reset (FIN or RST
  // received), so a service doing long work inside a callback can give it up (counter-server).
  // A peer that only half-closed (shutdown SHUT_WR) counts as gone too.
  virtual bool peer_gone() const { return false; }

  // Safe from any thread, never blocks: runs task(conn) on the thread that owns this connection,
  // as a callback of its own (sends to it need no wake-up; out of memory drops the client), soon
  // after the current callback there, or at once woken. Tasks run in the order posted, and never
  // once the connection has ended (they are destroyed then). What an answer from another thread
  // (a Redis bridge) does to a connection's state goes through here: no per-connection lock.
  virtual void post(std::function<void(Conn&)> task) = 0;

  // How the transport frames what passes through it. stream: bytes (TCP), the service finds its
  // own boundaries. message: every on_data is one whole message and every send() one message (a
  // WebSocket text message, web/ws_conn.hpp), so a line protocol adds no newline of its own.
  enum class Framing { stream, message };
  virtual Framing framing() const { return Framing::stream; }
  // What the client asked for when it connected, as a URL query ("since=12&epoch=…": a WebSocket's
  // upgrade request); empty for a byte stream.
  virtual std::string_view query() const { return {}; }
  // close() for a client that was refused: where clients reconnect by themselves the transport
  // tells them not to (WebSocket close status 4000, which the chat page honours); elsewhere the
  // same as close(). Safe from any thread.
  virtual void close_refused() { close(); }

  // Owner thread only. Calls on_timeout after `after`; replaces an earlier timer; 0 cancels.
  virtual void set_timer(Millis after) = 0;
  // Owner thread only. Per-connection service state (muduo's context).
  std::any& context() { return context_; }

  // Safe from any thread: a handle that keeps the connection object alive (not its socket).
  virtual std::shared_ptr<Conn> shared() = 0;

 private:
  std::any context_;
};

class StreamService {
 public:
  virtual ~StreamService() = default;
  virtual void on_open(Conn&) {}
  virtual void on_data(Conn&, std::string_view bytes) = 0;
  // The peer shut down its sending side (EOF). Default: finish writing, then close, so a
  // half-closed client still gets everything it is owed (RELIABILITY #22).
  virtual void on_peer_closed(Conn& c) { c.close(); }
  // Called exactly once per opened connection, when it is gone.
  virtual void on_close(Conn&) {}
  virtual void on_timeout(Conn&) {}
};

// UDP: a datagram is a message.
class DatagramSink {
 public:
  virtual ~DatagramSink() = default;
  virtual void send_to(const Endpoint& to, std::string_view bytes) = 0;

  // Conn::post for a datagram service: post(task) runs task(sink) on the thread that serves this
  // socket, soon (in order, woken at once). The returned handle may be kept and called from any
  // thread, also after the loop is gone: the task then never runs. An answer from a Redis
  // bridge reaches the service through it, without polling.
  using Task = std::function<void(DatagramSink&)>;
  using Post = std::function<void(Task)>;
  virtual Post poster() = 0;
};

class DatagramService {
 public:
  virtual ~DatagramService() = default;
  // truncated: the datagram was larger than the receive buffer (MSG_TRUNC).
  virtual void on_datagram(DatagramSink&, const Endpoint& from, std::string_view bytes, bool truncated) = 0;
  // Called about once a second, for expiry.
  virtual void on_tick(DatagramSink&) {}
};

}  // namespace concur
