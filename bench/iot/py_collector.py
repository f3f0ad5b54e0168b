#!/usr/bin/env python3
"""Homework 10's collector as the lecture writes it (selectors), grown just enough to be a fair
baseline for bench/iot/fleet_bench.sh: many devices, non-blocking connects, 'Register', lines
reassembled across segments, `<asctime>: <reading>` appended with one os.write() per select()
pass, SIGTERM flushes and exits 0. No backoff or offline detection (the bench has no faults).

usage: py_collector.py --device-list FILE [--out data.txt] [--quiet]
"""
import argparse
import os
import resource
import selectors
import signal
import socket
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device-list", required=True)
    ap.add_argument("--out", default="data.txt")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    devices = []
    with open(args.device_list) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                host, port = line.rsplit(":", 1)
                devices.append((host, int(port)))

    out = os.open(args.out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    sel = selectors.DefaultSelector()
    pending = {}  # socket -> bytes of an unfinished line
    stopping = False

    def on_stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)

    def connect(addr):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex(addr)
        sel.register(s, selectors.EVENT_WRITE, addr)

    for addr in devices:
        connect(addr)

    retry = []  # (when, addr)
    stored = 0
    while not stopping:
        now = time.monotonic()
        for when, addr in [r for r in retry if r[0] <= now]:
            retry.remove((when, addr))
            connect(addr)
        try:
            events = sel.select(timeout=0.5)
        except InterruptedError:
            continue
        stamp = time.asctime()
        batch = []
        for key, mask in events:
            s, addr = key.fileobj, key.data
            if mask & selectors.EVENT_WRITE:
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                    sel.unregister(s)
                    s.close()
                    retry.append((now + 1.0, addr))
                    continue
                s.send(b"Register")
                pending[s] = b""
                sel.modify(s, selectors.EVENT_READ, addr)
                continue
            try:
                data = s.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if not data:
                sel.unregister(s)
                s.close()
                pending.pop(s, None)
                retry.append((now + 1.0, addr))
                continue
            buf = pending[s] + data
            *lines, rest = buf.split(b"\n")
            pending[s] = rest
            for line in lines:
                batch.append(stamp.encode() + b": " + line.rstrip(b"\r") + b"\n")
        if batch:
            chunk = b"".join(batch)
            os.write(out, chunk)
            stored += len(batch)
            if not args.quiet:
                sys.stdout.buffer.write(chunk)
                sys.stdout.flush()
    os.close(out)
    print(f"py_collector: {stored} readings stored in {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
