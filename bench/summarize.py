#!/usr/bin/env python3
"""Turns bench/run_*.sh JSON lines into a Markdown table (medians, min-max, ratio to a baseline)
and an SVG bar chart (gnuplot, when installed).

usage: summarize.py KIND JSONL OUT.md OUT.svg "COMMAND THAT PRODUCED IT"
KIND: echo (baseline libuv), chat (baseline redis), hold (no baseline)
Echo at a fixed offered load (runs with offered_per_second) leads with server CPU µs per round-trip
(lower is better, ratio to libuv's); a closed-loop echo and chat lead with throughput.
"""
import json, statistics, subprocess, sys, datetime, os, shutil, tempfile
from collections import defaultdict

kind, src, md_path, svg_path, command = sys.argv[1:6]
baseline = {"echo": "libuv", "chat": "redis"}.get(kind)
rows = defaultdict(list)
for line in open(src):
    line = line.strip()
    if not line:
        continue
    d = json.loads(line)
    if not d.get("result"):
        continue
    r = d["result"]
    rows[(r["connections"], d["server"])].append(r)

def med(vals):
    return statistics.median(vals) if vals else float("nan")

def fmt_range(vals, digits=0):
    return f"{med(vals):,.{digits}f} ({min(vals):,.{digits}f}–{max(vals):,.{digits}f})"

paced = kind == "echo" and any("offered_per_second" in r for rs in rows.values() for r in rs)

def cpu_us(r):
    return r["server_cpu_ms_per_million"] / 1000 if "server_cpu_ms_per_million" in r else None

out = []
title = {"echo": "Echo ping-pong, 64-byte messages, one server core",
         "chat": "Group chat fan-out, all members sending, 64-byte lines, one server core",
         "hold": "Idle connections held and verified"}[kind]
if paced:
    offered = sorted({r["offered_per_second"] for rs in rows.values() for r in rs if "offered_per_second" in r})
    title = (f"Echo, 64-byte messages, one server core: server CPU per round-trip at a fixed offered load of "
             f"{', '.join(f'{o:,.0f}' for o in offered)} round-trips/s")
out.append(f"# {title}\n")
out.append(f"Command: `{command}` (from the repository root, Release build), "
           f"{datetime.date.today().isoformat()}, on this project's 2-core machine: server pinned to CPU 0, "
           f"load generator (`concur bench`) to CPU 1. Medians over runs, min–max in brackets.\n")
conns_list = sorted({c for c, _ in rows})
chart = []
for conns in conns_list:
    servers = sorted({s for c, s in rows if c == conns})
    if kind == "hold":
        out.append(f"\n## {conns} connections\n")
        out.append("| server | verified | errors | RSS KiB per connection |")
        out.append("|---|---|---|---|")
        for s in servers:
            rs = rows[(conns, s)]
            per = [dict((k, v) for k, v in r.items())["server_rss_kib_per_connection"] for r in rs
                   if "server_rss_kib_per_connection" in r]
            out.append(f"| {s} | {med([r.get('verified', r.get('deliveries', r.get('roundtrips', 0))) for r in rs]):.0f} "
                       f"| {sum(r['errors'] for r in rs)} | {fmt_range(per, 3) if per else 'n/a'} |")
            if per:
                chart.append((f"{s}", med(per)))
        continue
    if paced:
        out.append(f"\n## {conns} connections\n")
        out.append("| server | server CPU µs per round-trip | ratio to libuv | round-trips/s | p50 µs | p99 µs "
                   "| offers missed | errors |")
        out.append("|---|---|---|---|---|---|---|---|")
        base = [c for c in (cpu_us(r) for r in rows.get((conns, baseline), [])) if c is not None]
        def cpu_of(s):
            return [c for c in (cpu_us(r) for r in rows[(conns, s)]) if c is not None]
        for s in sorted(servers, key=lambda s: med(cpu_of(s)) if cpu_of(s) else float("inf")):
            rs = rows[(conns, s)]
            cpu = cpu_of(s)
            ratio = f"{med(cpu) / med(base):.2f}×" if base and cpu else "n/a"
            out.append(f"| {s} | {fmt_range(cpu, 1) if cpu else 'n/a'} | {ratio} "
                       f"| {fmt_range([r['per_second'] for r in rs])} | {fmt_range([r['p50_us'] for r in rs], 1)} "
                       f"| {fmt_range([r['p99_us'] for r in rs], 1)} "
                       f"| {sum(r.get('offers_missed', 0) for r in rs):.0f} | {sum(r['errors'] for r in rs)} |")
            if cpu:
                chart.append((f"{s}@{conns}", med(cpu)))
        continue
    unit = "deliveries/s" if kind == "chat" else "round-trips/s"
    out.append(f"\n## {conns} connections\n")
    out.append(f"| server | {unit} | ratio to {baseline} | p99 µs | p99.9 µs | server CPU ms per million | errors |")
    out.append("|---|---|---|---|---|---|---|")
    base = [r["per_second"] for r in rows.get((conns, baseline), [])]
    for s in sorted(servers, key=lambda s: -med([r["per_second"] for r in rows[(conns, s)]])):
        rs = rows[(conns, s)]
        rate = [r["per_second"] for r in rs]
        ratio = f"{med(rate) / med(base):.2f}×" if base else "n/a"
        cpu = [r["server_cpu_ms_per_million"] for r in rs if "server_cpu_ms_per_million" in r]
        out.append(f"| {s} | {fmt_range(rate)} | {ratio} | {fmt_range([r['p99_us'] for r in rs], 1)} "
                   f"| {fmt_range([r['p999_us'] for r in rs], 1)} | {fmt_range(cpu) if cpu else 'n/a'} "
                   f"| {sum(r['errors'] for r in rs)} |")
        chart.append((f"{s}@{conns}", med(rate)))
open(md_path, "w").write("\n".join(out) + "\n")
print("\n".join(out))

if chart and shutil.which("gnuplot"):
    with tempfile.NamedTemporaryFile("w", suffix=".dat", delete=False) as f:
        for label, v in chart:
            f.write(f'"{label}" {v}\n')
        data = f.name
    ylabel = {"echo": "round-trips/s", "chat": "deliveries/s", "hold": "RSS KiB per connection"}[kind]
    if paced:
        ylabel = "server CPU µs per round-trip"
    script = f"""
set terminal svg size 1100,500 font 'sans,11'
set output '{svg_path}'
set title '{title}'
set style data histograms
set style fill solid 0.8 border -1
set boxwidth 0.8
set xtics rotate by -45
set ylabel '{ylabel}'
set grid ytics
unset key
plot '{data}' using 2:xtic(1) lc rgb '#3b75af'
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=False)
    os.unlink(data)
