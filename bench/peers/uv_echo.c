/* A libuv echo server, written the way libuv's own benchmark-pump/echo-server do it: one loop,
 * uv_read_start with a per-connection allocation, uv_write of each chunk as it arrives.
 * Usage: uv_echo PORT   (prints "listening on 127.0.0.1:PORT (tcp, model=libuv)"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

typedef struct {
  uv_write_t req;
  uv_buf_t buf;
} write_req_t;

static uv_loop_t* loop;

static void alloc_cb(uv_handle_t* h, size_t suggested, uv_buf_t* buf) {
  (void)h;
  buf->base = malloc(suggested);
  buf->len = suggested;
}

static void close_cb(uv_handle_t* h) { free(h); }

static void write_cb(uv_write_t* req, int status) {
  write_req_t* w = (write_req_t*)req;
  free(w->buf.base);
  free(w);
  (void)status;
}

static void read_cb(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
  if (n > 0) {
    write_req_t* w = malloc(sizeof *w);
    w->buf = uv_buf_init(buf->base, (unsigned)n);
    uv_write(&w->req, s, &w->buf, 1, write_cb);
    return;
  }
  free(buf->base);
  if (n < 0) uv_close((uv_handle_t*)s, close_cb);
}

static void connection_cb(uv_stream_t* server, int status) {
  if (status < 0) return;
  uv_tcp_t* client = malloc(sizeof *client);
  uv_tcp_init(loop, client);
  if (uv_accept(server, (uv_stream_t*)client) == 0) {
    uv_tcp_nodelay(client, 1);
    uv_read_start((uv_stream_t*)client, alloc_cb, read_cb);
  } else {
    uv_close((uv_handle_t*)client, close_cb);
  }
}

int main(int argc, char** argv) {
  int port = argc > 1 ? atoi(argv[1]) : 0;
  loop = uv_default_loop();
  uv_tcp_t server;
  uv_tcp_init(loop, &server);
  struct sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", port, &addr);
  if (uv_tcp_bind(&server, (const struct sockaddr*)&addr, 0) || uv_listen((uv_stream_t*)&server, 511, connection_cb)) {
    fprintf(stderr, "uv_echo: cannot listen\n");
    return 1;
  }
  struct sockaddr_in bound;
  int len = sizeof bound;
  uv_tcp_getsockname(&server, (struct sockaddr*)&bound, &len);
  printf("listening on 127.0.0.1:%d (tcp, model=libuv)\n", ntohs(bound.sin_port));
  fflush(stdout);
  return uv_run(loop, UV_RUN_DEFAULT);
}
