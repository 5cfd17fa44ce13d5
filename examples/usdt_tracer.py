#!/usr/bin/env python3
"""Trace a USDT (SDT) probe of a program: one line per hit, with the probe's arguments.

The probe is attached with ``Program.attach_usdt(binary, provider, name, pid=...)``;
libbpf reads the binary's ``.note.stapsdt`` notes to find the probe and how
to fetch its arguments (up to 4 are shown). Needs root.

    python usdt_tracer.py --binary PATH --provider P --name N [--pid PID]
                          [--seconds N] [--count N] [--json]

List a binary's probes with ``readelf -n PATH`` (stapsdt notes).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from typing import Any

from _common import add_seconds, compile_bpf, parse_args, poll_until, ready, run_main

import libbpf_py


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--binary", required=True, help="executable or library with the SDT note")
    ap.add_argument("--provider", required=True, help="probe provider (first DTRACE_PROBE arg)")
    ap.add_argument("--name", required=True, help="probe name")
    ap.add_argument("--pid", type=int, default=-1, help="trace this process only (default: all)")
    add_seconds(ap)
    ap.add_argument("--count", type=int, default=0, help="stop after this many hits")
    args = parse_args(ap, "usdt_tracer",
                      json_help="print one JSON object at the end instead of a line per hit")
    if not os.path.exists(args.binary):
        sys.exit(f"usdt_tracer: {args.binary}: no such file")

    hits: list[dict[str, Any]] = []
    probe = f"{args.provider}:{args.name}"
    start = time.monotonic()

    def on_hit(h: Any) -> bool:
        n = max(0, min(h.nargs, len(h.args)))
        ev = {"time": round(time.monotonic() - start, 6), "pid": h.pid, "tid": h.tid,
              "comm": h.comm.decode(errors="replace"), "nargs": h.nargs,
              "args": list(h.args[:n])}
        hits.append(ev)
        if not args.json:
            print(f"{ev['time']:9.3f} {ev['pid']:>8} {ev['tid']:>8}  {ev['comm']:<16} "
                  f"{probe}({', '.join(map(str, ev['args']))})", flush=True)
        return bool(args.count) and len(hits) >= args.count

    with libbpf_py.BpfObject.open_mem(compile_bpf("usdt_tracer"), name="usdt_tracer") as obj:
        obj.load()
        try:
            link = obj.programs["on_usdt"].attach_usdt(args.binary, args.provider, args.name,
                                                       pid=args.pid)
        except libbpf_py.LibbpfError as e:
            sys.exit(f"usdt_tracer: cannot attach to {probe} in {args.binary}: {e}")
        with link, libbpf_py.RingBuffer(obj.maps["hits"], on_hit, record="struct hit") as rb:
            ready(f"usdt_tracer: tracing {probe} in {args.binary}, Ctrl-C to stop")
            start = time.monotonic()
            if not args.json:
                print(f"{'TIME(s)':>9} {'PID':>8} {'TID':>8}  {'COMM':<16} PROBE(ARGS)")
            poll_until(rb, start, args.seconds,
                       done=lambda: bool(args.count) and len(hits) >= args.count)
    elapsed = time.monotonic() - start
    if args.json:
        print(json.dumps({"probe": probe, "binary": args.binary, "seconds": round(elapsed, 3),
                          "hits": len(hits), "events": hits}, indent=2))
    else:
        print(f"\n{len(hits)} hits of {probe} in {elapsed:.1f}s")
        for (pid, comm), n in Counter((h["pid"], h["comm"]) for h in hits).most_common(10):
            print(f"{pid:>8}  {comm:<16} {n:>8}")
    return 0


if __name__ == "__main__":
    run_main(main)
