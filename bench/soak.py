#!/usr/bin/env python3
"""Soak: a chat-server and a collector under mixed load for DURATION seconds (issue 13).

Load on the chat-server: well-behaved members chatting (every message numbered), join/leave
churn, members that stop reading, garbage streams, slowloris connections that never join.
Load on the collector: a device fleet, plus a device that resets its connections again and again.

Every interval (60 s, or DURATION/6 when shorter runs are asked for) one line: messages sent and
received between well-behaved members, server RSS and descriptors, collector lines. The last
line is `soak: PASS` or `soak: FAIL <reason>`:
  - every message a well-behaved member sent reached every other well-behaved member, once, in
    order (after a short drain at the end), and no well-behaved member was dropped;
  - server RSS and descriptor count stay within +-10 % of the first sample (after warm-up);
  - the collector kept writing, every line in its file is whole, and both servers are alive.
Usage: bench/soak.py DURATION_SECONDS [--binary build/release/concur] [--model epoll]
"""
import argparse
import os
import random
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

STOP = threading.Event()


def free_port_block(n):
    """A first port P such that P..P+n-1 are free right now (good enough on loopback)."""
    for _ in range(200):
        base = random.randint(20000, 60000 - n)
        socks = []
        try:
            for p in range(base, base + n):
                s = socket.socket()
                s.bind(("127.0.0.1", p))
                socks.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port block")


def start(args, **kw):
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def listening_port(proc):
    line = proc.stdout.readline()
    m = re.search(r":(\d+) \(", line)
    if not m:
        raise RuntimeError("no listening line: " + line + proc.stderr.read())
    return int(m.group(1))


def drain_pipe(stream, keep, limit=200):
    for line in stream:
        if len(keep) < limit:
            keep.append(line.rstrip("\n"))


def proc_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def proc_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


class Member:
    """A well-behaved chat member: sends numbered messages, reads everything."""

    def __init__(self, port, name, peers, stats):
        self.name, self.peers, self.stats = name, peers, stats
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.sendall(f"[{name}]\n".encode())
        self.next_from = {}  # sender -> next sequence number expected
        self.received = 0
        self.bad = None
        self.buf = b""

    def read_loop(self):
        self.sock.settimeout(0.5)
        while not STOP.is_set() or self.stats["draining"]:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                if STOP.is_set() and not self.stats["draining"]:
                    break
                continue
            except OSError as e:
                self.bad = f"{self.name}: {e}"
                return
            if not data:
                if not STOP.is_set():
                    self.bad = f"{self.name} was disconnected by the server"
                return
            self.buf += data
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                self.on_line(line.decode(errors="replace"))

    def on_line(self, line):
        m = re.match(r"\[(good\d+)\]m (\d+)$", line)
        if not m:
            if line.startswith("error:"):
                self.bad = f"{self.name} got {line!r}"
            return  # joins of others, churn traffic
        sender, seq = m.group(1), int(m.group(2))
        want = self.next_from.get(sender, 0)
        if seq != want:
            self.bad = f"{self.name}: from {sender} got #{seq}, expected #{want} (lost or reordered)"
        self.next_from[sender] = seq + 1
        self.received += 1


def chat_load(port, members, stats, rate):
    seq = {m.name: 0 for m in members}
    period = 1.0 / rate
    while not STOP.is_set():
        t0 = time.monotonic()
        for m in members:
            try:
                m.sock.sendall(f"[{m.name}]m {seq[m.name]}\n".encode())
                seq[m.name] += 1
                stats["sent"] += 1
            except OSError as e:
                m.bad = f"{m.name}: send failed: {e}"
        time.sleep(max(0.0, period - (time.monotonic() - t0)))


def churn(port, stats):
    i = 0
    while not STOP.is_set():
        i += 1
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=2)
            s.sendall(f"[churn{i % 50}]\n".encode())
            time.sleep(0.05)
            s.sendall(f"[churn{i % 50}]quit\n".encode())
            s.close()
            stats["churn"] += 1
        except OSError:
            pass
        time.sleep(0.05)


def stalled_readers(port, stats):
    """Members that join and never read: the server must drop them past --max-queue."""
    held = []
    i = 0
    while not STOP.is_set():
        i += 1
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=2)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.sendall(f"[stall{i}]\n".encode())
            held.append(s)
            stats["stalled"] += 1
        except OSError:
            pass
        if len(held) > 5:  # a steady population of 6 (within a few seconds of the start)
            held.pop(0).close()
        STOP.wait(1)
    for s in held:
        s.close()


def garbage(port, stats):
    while not STOP.is_set():
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=2)
            s.sendall(b"[junk]\n")
            junk = os.urandom(4096).replace(b"\n", b"x")
            for _ in range(64):  # 256 KiB without a newline: closed at the 4096-byte line limit
                s.sendall(junk)
            s.close()
        except OSError:
            pass  # the server closed on us: what it should do
        stats["garbage"] += 1
        STOP.wait(1)


def slowloris(port, stats):
    held = []
    while not STOP.is_set():
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=2)
            s.sendall(b"[")  # never finishes its join: the join timeout closes it
            held.append(s)
            stats["slowloris"] += 1
        except OSError:
            pass
        if len(held) > 20:
            held.pop(0).close()
        STOP.wait(0.5)
    for s in held:
        s.close()


def resetting_device(listener, stats):
    """A device that sends a reading or two, then resets the connection (RST)."""
    listener.settimeout(0.5)
    while not STOP.is_set():
        try:
            c, _ = listener.accept()
        except socket.timeout:
            continue
        try:
            c.settimeout(2)
            c.recv(64)  # Register
            c.sendall(b"Flaky: Temp=20, Humid=50, lilum=100\n")
            time.sleep(0.3)
            c.sendall(b"Flaky: Temp=21, Hum")  # torn, then reset
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        c.close()
        stats["resets"] += 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("duration", type=float)
    ap.add_argument("--binary", default="build/release/concur")
    ap.add_argument("--model", default="epoll")
    ap.add_argument("--members", type=int, default=8)
    ap.add_argument("--rate", type=float, default=5.0, help="messages per second per member")
    ap.add_argument("--devices", type=int, default=20)
    a = ap.parse_args()
    interval = 60.0 if a.duration >= 360 else max(5.0, a.duration / 6)
    tmp = tempfile.mkdtemp(prefix="concur-soak-")
    procs = []
    stderr_tails = {}

    def fail(reason):
        print(f"soak: FAIL {reason}", flush=True)
        cleanup()
        sys.exit(1)

    def cleanup():
        STOP.set()
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()

    server = start([a.binary, "chat-server", "--port", "0", "--bind", "127.0.0.1", "--quiet", "--model", a.model,
                    "--join-timeout", "2", "--max-queue", "262144"])
    procs.append(server)
    port = listening_port(server)
    base = free_port_block(a.devices)
    fleet = start([a.binary, "device", "--kind", "env", "--fleet", str(a.devices), "--port", str(base),
                   "--interval", "0.5", "--quiet"])
    procs.append(fleet)
    for _ in range(a.devices):
        listening_port(fleet)
    flaky = socket.socket()
    flaky.bind(("127.0.0.1", 0))
    flaky.listen(16)
    flaky_port = flaky.getsockname()[1]
    out = os.path.join(tmp, "data.txt")
    devs = []
    for i in range(a.devices):
        devs += ["--device", f"127.0.0.1:{base + i}"]
    collector = start([a.binary, "collect", "--out", out, "--quiet", "--device", f"127.0.0.1:{flaky_port}"] + devs)
    procs.append(collector)
    for name, p in (("server", server), ("fleet", fleet), ("collector", collector)):
        stderr_tails[name] = []
        threading.Thread(target=drain_pipe, args=(p.stderr, stderr_tails[name]), daemon=True).start()
        threading.Thread(target=drain_pipe, args=(p.stdout, []), daemon=True).start()

    stats = {"sent": 0, "churn": 0, "stalled": 0, "garbage": 0, "slowloris": 0, "resets": 0, "draining": False}
    members = [Member(port, f"good{i}", a.members, stats) for i in range(a.members)]
    time.sleep(0.5)  # joins land before anyone counts
    threads = [threading.Thread(target=m.read_loop, daemon=True) for m in members]
    threads += [threading.Thread(target=chat_load, args=(port, members, stats, a.rate), daemon=True)]
    for fn in (churn, stalled_readers, garbage, slowloris):
        threads.append(threading.Thread(target=fn, args=(port, stats), daemon=True))
    threads.append(threading.Thread(target=resetting_device, args=(flaky, stats), daemon=True))
    for t in threads:
        t.start()

    print(f"soak: {a.duration:g} s, chat-server --model {a.model} (pid {server.pid}), collector (pid "
          f"{collector.pid}) with {a.devices} devices and one that resets; a line every {interval:g} s", flush=True)
    print("  t(s)      sent  expected  received  server_rss_kib  server_fds  collector_lines  churn stalled "
          "garbage slowloris resets", flush=True)
    samples = []
    start_t = time.monotonic()
    next_t = start_t + interval
    lines_before = 0
    while True:
        now = time.monotonic()
        if now >= start_t + a.duration:
            break
        time.sleep(min(next_t, start_t + a.duration) - now)
        for name, p in (("chat-server", server), ("collector", collector), ("device fleet", fleet)):
            if p.poll() is not None:
                fail(f"{name} exited with {p.returncode}: " + " | ".join(stderr_tails.get(name.split()[0], [])[-3:]))
        for m in members:
            if m.bad:
                fail(m.bad)
        if time.monotonic() >= next_t - 0.01:
            rss, fds = proc_rss_kib(server.pid), proc_fds(server.pid)
            lines = sum(1 for _ in open(out, "rb")) if os.path.exists(out) else 0
            received = sum(m.received for m in members)
            print(f"{time.monotonic() - start_t:6.0f} {stats['sent']:9d} {stats['sent'] * (a.members - 1):9d} "
                  f"{received:9d} {rss:15d} {fds:11d} {lines:16d} {stats['churn']:6d} {stats['stalled']:7d} "
                  f"{stats['garbage']:7d} {stats['slowloris']:9d} {stats['resets']:6d}", flush=True)
            if lines <= lines_before:
                fail(f"the collector wrote nothing in the last {interval:g} s")
            lines_before = lines
            samples.append((rss, fds))
            next_t += interval

    # Stop the load, let in-flight messages arrive, then compare.
    stats["draining"] = True
    STOP.set()
    time.sleep(2.0)
    stats["draining"] = False
    sent = stats["sent"]
    expected = sent * (a.members - 1)
    received = sum(m.received for m in members)
    print(f"  end: sent {sent} messages, expected {expected} deliveries, received {received}", flush=True)
    for m in members:
        if m.bad:
            fail(m.bad)
    if received != expected:
        fail(f"well-behaved members received {received} of {expected} deliveries")
    if len(samples) >= 2:
        rss0, fds0 = samples[0]
        for rss, fds in samples[1:]:
            if abs(rss - rss0) > 0.10 * rss0:
                fail(f"server RSS moved from {rss0} KiB to {rss} KiB (more than 10 %)")
            if abs(fds - fds0) > max(0.10 * fds0, 2):
                fail(f"server descriptors moved from {fds0} to {fds} (more than 10 %)")
    torn = 0
    with open(out, "rb") as f:
        data = f.read()
    if data and not data.endswith(b"\n"):
        torn += 1
    for line in data.split(b"\n")[:-1]:
        if not re.match(rb"^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}: [^:]+: \w+=-?\d+(, \w+=-?\d+)*$", line):
            torn += 1
    if torn:
        fail(f"{torn} malformed lines in the collector's file")
    for name, p in (("chat-server", server), ("collector", collector)):
        if p.poll() is not None:
            fail(f"{name} exited early with {p.returncode}")
    cleanup()
    for name, p in (("chat-server", server), ("collector", collector)):
        if p.returncode != 0:
            print(f"soak: FAIL {name} exited {p.returncode} on SIGTERM", flush=True)
            sys.exit(1)
    print(f"soak: PASS ({sent} messages x {a.members - 1} receivers all delivered in order; RSS and descriptors "
          f"within 10 %; {lines_before} readings collected)", flush=True)


if __name__ == "__main__":
    main()
