#!/usr/bin/env python3
"""Echo round-trips per second per concurrency model, at N connections (default 100).

Starts `concur echo-server --model M --port 0 --quiet` for each model, reads the port from its
"listening on" line, and drives it from P client processes (selectors, non-blocking sockets).
Every connection keeps one message in flight: send SIZE bytes, wait for the byte-exact echo,
send the next. Counts verified round trips over DURATION seconds after a short warm-up, then
stops the server with SIGTERM and checks it exits 0. Loopback only; bounded in time.

The client is Python, so at high rates it is the bottleneck, not the server: use it to compare
models with each other on one machine, and `concur bench echo` (C++) for absolute figures.

usage: bench/echo_rtt.py [--binary build/release/concur] [--models thread,epoll,...]
                         [--connections 100] [--size 64] [--duration 3] [--procs 2]
"""
import argparse
import multiprocessing as mp
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import time


def worker(port, conns, size, warmup, duration, out):
    payload = bytes((i * 7 + 13) & 0xFF for i in range(size))
    sel = selectors.DefaultSelector()
    socks = []
    for _ in range(conns):
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        socks.append(s)
        sel.register(s, selectors.EVENT_READ, bytearray())
        s.send(payload)
    start = time.monotonic()
    measure_from = start + warmup
    end = measure_from + duration
    count = errors = 0
    while True:
        now = time.monotonic()
        if now >= end:
            break
        for key, _ in sel.select(timeout=min(0.1, end - now)):
            s, buf = key.fileobj, key.data
            try:
                chunk = s.recv(65536)
            except BlockingIOError:
                continue
            if not chunk:
                errors += 1
                sel.unregister(s)
                continue
            buf += chunk
            if len(buf) >= size:
                if bytes(buf[:size]) != payload:
                    errors += 1
                del buf[:size]
                if time.monotonic() >= measure_from:
                    count += 1
                s.send(payload)
    for s in socks:
        s.close()
    out.put((count, errors))


def start_server(binary, model):
    p = subprocess.Popen([binary, "echo-server", "--model", model, "--port", "0", "--bind", "127.0.0.1", "--quiet"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    m = re.match(r"listening on .*:(\d+) \(tcp, model=(\w+)\)", line)
    if not m:
        p.kill()
        raise RuntimeError(f"{model}: no listening line ({line!r}) {p.stderr.read()}")
    return p, int(m.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--binary", default=os.path.join(here, "..", "build", "release", "concur"))
    ap.add_argument("--models", default="iterative,thread,process,select,poll,epoll,uring,coro")
    ap.add_argument("--connections", type=int, default=100)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--duration", type=float, default=3.0)
    ap.add_argument("--warmup", type=float, default=0.5)
    ap.add_argument("--procs", type=int, default=2)
    a = ap.parse_args()
    print(f"# {a.connections} connections, {a.size}-byte messages, {a.duration}s per model, "
          f"{a.procs} client processes; binary {a.binary}")
    print(f"{'model':<10} {'round-trips/s':>14} {'errors':>7}  exit")
    for model in a.models.split(","):
        try:
            server, port = start_server(a.binary, model)
        except RuntimeError as e:
            print(f"{model:<10} {'-':>14} {'-':>7}  {e}")
            continue
        conns = a.connections
        if model == "iterative":
            conns = a.procs  # one client at a time: more connections would only wait in the backlog
        q = mp.Queue()
        per = [conns // a.procs + (1 if i < conns % a.procs else 0) for i in range(a.procs)]
        ps = [mp.Process(target=worker, args=(port, n, a.size, a.warmup, a.duration, q)) for n in per if n]
        for p in ps:
            p.start()
        results = [q.get(timeout=a.warmup + a.duration + 30) for _ in ps]
        for p in ps:
            p.join(timeout=10)
        server.send_signal(signal.SIGTERM)
        try:
            code = server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            code = "killed"
        total = sum(c for c, _ in results)
        errors = sum(e for _, e in results)
        note = f" (at {conns} connections)" if conns != a.connections else ""
        print(f"{model:<10} {total / a.duration:>14.0f} {errors:>7}  {code}{note}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
