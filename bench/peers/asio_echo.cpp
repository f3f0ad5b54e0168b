// An Asio echo server in the style of asio's C++20 coroutine example (echo_server.cpp):
// one io_context on one thread, one coroutine per connection.
// Usage: asio_echo PORT   (prints "listening on 127.0.0.1:PORT (tcp, model=asio)").
#include <asio.hpp>
#include <cstdio>

using asio::ip::tcp;

static asio::awaitable<void> echo(tcp::socket socket) {
  char data[4096];
  try {
    for (;;) {
      std::size_t n = co_await socket.async_read_some(asio::buffer(data), asio::use_awaitable);
      co_await asio::async_write(socket, asio::buffer(data, n), asio::use_awaitable);
    }
  } catch (const std::exception&) {
  }
}

static asio::awaitable<void> listener(tcp::acceptor& acceptor) {
  for (;;) {
    tcp::socket socket = co_await acceptor.async_accept(asio::use_awaitable);
    socket.set_option(tcp::no_delay(true));
    asio::co_spawn(acceptor.get_executor(), echo(std::move(socket)), asio::detached);
  }
}

int main(int argc, char** argv) {
  asio::io_context io(1);
  tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(argc > 1 ? std::atoi(argv[1]) : 0)});
  std::printf("listening on 127.0.0.1:%d (tcp, model=asio)\n", acceptor.local_endpoint().port());
  std::fflush(stdout);
  asio::co_spawn(io, listener(acceptor), asio::detached);
  io.run();
}
