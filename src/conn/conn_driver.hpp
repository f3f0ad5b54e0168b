#pragma once
// The owner-thread steps every stream model shares: move input from the socket to the service,
// and retire a connection that is done. Models differ only in how they wait.
//
// A connection ends in three steps, with one word each everywhere in conn/ and models/:
//   close  — asked for by anyone (Conn::close, any thread): end once the queued output is written.
//   settle — the owner writes what is queued and decides whether the connection is done (closed
//            and drained, peer gone, write error, overflow, dropped for memory).
//   retire — the owner ends it: the socket is closed (FIN first), then on_close runs, once.
#include <memory>

#include "conn/accept_gate.hpp"
#include "conn/stream_conn.hpp"

namespace concur {

// The one path from a model to a service. A std::bad_alloc in a callback drops that client
// (drop_for_memory: told `server full`, marked broken, so the model's next settle() retires it)
// and goes no further: models handle out-of-memory only for their own allocations. Every
// callback runs inside the connection's callback scope: a send() to this connection is written
// after the callback returns (no wake-up), a send() or close() to any other connection wakes that
// connection's owner (StreamConn). A model calls the service through these and nothing else, so
// fan-out works the same from every callback under every model. With StreamConn's attach(),
// settle() and wants(), the functions of this file are the whole model side of a connection.
void call_open(StreamConn& c, StreamService& service);
void call_data(StreamConn& c, StreamService& service, std::string_view bytes);
void call_peer_closed(StreamConn& c, StreamService& service);  // marks EOF first
void call_timeout(StreamConn& c, StreamService& service);      // disarms the timer first
void call_close(StreamConn& c, StreamService& service);

enum class ReadOutcome { again, budget_spent, eof, error };

// Reads until EAGAIN or until `budget` bytes were taken (fairness: one busy peer cannot starve
// the others, RELIABILITY #13), handing each chunk to service.on_data. On EOF calls
// on_peer_closed once. Owner thread only. Out of memory on the way (in the service, or for the
// thread's read buffer) drops this client (drop_for_memory) and returns error.
ReadOutcome pump_input(StreamConn& c, StreamService& service, size_t budget = 256 * 1024);
// Whether the connection's input should be pumped now: the socket is readable, or it became
// writable and a TLS read was waiting for that (OpenSSL had to send before it could read on).
bool input_ready(const StreamConn& c, bool readable, bool writable);

// The service (or the model) could not get memory for this client: std::bad_alloc on its path.
// That client is dropped — told `server full` while a line can still be sent, marked broken so
// that the model retires it — and counted in memory_refusals(); the server serves on (issue 13).
void drop_for_memory(StreamConn& c);

// The socket went wrong under the model (a reset, an error completion, a hang-up while input is
// paused): the next settle() says finished.
void mark_broken(StreamConn& c);

// settle() (write what is queued, decide whether the connection is done); when it is done, retire
// it. Returns true then.
bool settle(StreamConn& c, StreamService& service);
// Unconditional end (stop, fatal error): retire_socket() and then on_close.
void retire(StreamConn& c, StreamService& service);
// The socket half of retire(), without on_close: for a client whose on_open never ran (turned
// away while being set up). Marks the connection closed (later sends fail) and closes the
// socket, FIN first; its place under --max-clients is given back.
void retire_socket(StreamConn& c);

// Serves one connection on the calling thread until it ends or `stop_fd` becomes readable:
// ppoll() on the socket and the stop fd; other threads wake it with a signal (no descriptor per
// client, see conn_driver.cpp). Used by thread and process, and through serve_accepted_blocking()
// by iterative, pool and prefork. Calls on_open first and on_close last.
void serve_blocking(const std::shared_ptr<StreamConn>& c, StreamService& service, int stop_fd);

// serve_blocking() for a freshly accepted client (iterative, pool, prefork): makes its StreamConn
// first. When memory runs out before the client is set up, that one client is turned away
// (`server full`, counted in memory_refusals()) and the caller goes on to accept the next: a
// worker never dies of one client's allocation. `place` is given back when the client is done.
void serve_accepted_blocking(FileDesc client, const Endpoint& peer, Admission place, StreamService& service,
                             size_t max_queue, AcceptGate& gate, int stop_fd);

}  // namespace concur
