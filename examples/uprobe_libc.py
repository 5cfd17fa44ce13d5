#!/usr/bin/env python3
"""Trace calls of a C library function with a uprobe: one line per call, with its first argument.

The probe is attached with ``Program.attach_uprobe(binary, func, pid=...)``; libbpf
resolves the function in the library's symbol table. Default: ``malloc`` in
``libc.so.6`` (so the argument is the size asked for). Needs root.

    python uprobe_libc.py [--pid PID] [--func NAME] [--binary PATH] [--seconds N] [--json]

Without --pid every process calling the function is traced (malloc is busy:
give a pid). Stops after --seconds, or on Ctrl-C, with a per-process summary.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from typing import Any

from _common import add_seconds, compile_bpf, parse_args, poll_until, ready, run_main

import libbpf_py


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pid", type=int, default=-1, help="trace this process only (default: all)")
    ap.add_argument("--func", default="malloc", help="function to probe (default malloc)")
    ap.add_argument("--binary", default="libc.so.6",
                    help="library or executable holding it (default libc.so.6)")
    add_seconds(ap)
    args = parse_args(ap, "uprobe_libc",
                      json_help="print one JSON object at the end instead of a line per call")

    calls: list[dict[str, Any]] = []
    start = time.monotonic()

    def on_call(c: Any) -> None:
        ev = {"time": round(time.monotonic() - start, 6), "pid": c.pid, "tid": c.tid,
              "comm": c.comm.decode(errors="replace"), "arg0": c.arg0}
        calls.append(ev)
        if not args.json:
            print(f"{ev['time']:9.3f} {ev['pid']:>8} {ev['tid']:>8}  {ev['comm']:<16} "
                  f"{args.func}({ev['arg0']})", flush=True)

    with libbpf_py.BpfObject.open_mem(compile_bpf("uprobe_libc"), name="uprobe_libc") as obj:
        obj.load()
        try:
            link = obj.programs["on_call"].attach_uprobe(args.binary, args.func, pid=args.pid)
        except libbpf_py.LibbpfError as e:
            sys.exit(f"uprobe_libc: cannot attach to {args.func}() in {args.binary}: {e}")
        with link, libbpf_py.RingBuffer(obj.maps["calls"], on_call, record="struct call") as rb:
            who = f"pid {args.pid}" if args.pid >= 0 else "all processes"
            ready(f"uprobe_libc: tracing {args.func}() in {args.binary} for {who}, "
                  "Ctrl-C to stop")
            start = time.monotonic()
            if not args.json:
                print(f"{'TIME(s)':>9} {'PID':>8} {'TID':>8}  {'COMM':<16} CALL")
            poll_until(rb, start, args.seconds)
        dropped = obj.var("dropped")
    elapsed = time.monotonic() - start
    per_pid = Counter((c["pid"], c["comm"]) for c in calls)
    if args.json:
        print(json.dumps({"func": args.func, "binary": args.binary, "pid": args.pid,
                          "seconds": round(elapsed, 3), "calls": len(calls), "dropped": dropped,
                          "events": calls}, indent=2))
    else:
        print(f"\n{len(calls)} calls of {args.func}() in {elapsed:.1f}s"
              + (f" ({dropped} dropped: ring buffer full)" if dropped else ""))
        for (pid, comm), n in per_pid.most_common(10):
            print(f"{pid:>8}  {comm:<16} {n:>8}")
    return 0


if __name__ == "__main__":
    run_main(main)
