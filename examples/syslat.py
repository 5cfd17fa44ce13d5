#!/usr/bin/env python3
"""System call latency as a log2 histogram, printed like BCC's tools.

Two programs on the raw_syscalls sys_enter/sys_exit tracepoints time every
system call; the histogram lives in the object's .bss and is read through a
runtime skeleton (``libbpf_py.Skeleton.open``), whose .rodata knob
``targ_tgid`` restricts tracing to one process. Needs root.

    python syslat.py [--pid PID] [--seconds N] [--interval S] [--json]

Prints a histogram every --interval seconds if given, and one at the end
(after --seconds, or on Ctrl-C).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from _common import add_seconds, parse_args, ready, repeat_until, run_main, write_object

import libbpf_py
from libbpf_py.hist import log2_hist


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pid", type=int, default=0, help="trace this process only (default: all)")
    add_seconds(ap)
    ap.add_argument("--interval", type=float, default=0.0,
                    help="print a histogram every this many seconds too")
    args = parse_args(ap, "syslat")
    if args.pid < 0:
        sys.exit("syslat: --pid must be a process id, or 0 for all")

    with tempfile.TemporaryDirectory(prefix="syslat-") as tmp:
        skel = libbpf_py.Skeleton.open(write_object("syslat", Path(tmp)))
    with skel:
        skel.rodata.targ_tgid = args.pid
        skel.load()
        skel.attach()
        who = f"pid {args.pid}" if args.pid else "all processes"
        ready(f"syslat: tracing system call latency of {who}, Ctrl-C to stop")
        start = last = time.monotonic()

        def tick(wait: float) -> None:
            nonlocal last
            time.sleep(wait)
            if args.interval and not args.json and time.monotonic() - last >= args.interval:
                last = time.monotonic()
                print(log2_hist(list(skel.bss.hist)), "\n", flush=True)

        repeat_until(start, args.seconds, args.interval or 1.0, tick)
        skel.detach()
        counts = list(skel.bss.hist)
        total_ns = skel.bss.total_ns
    elapsed = time.monotonic() - start
    calls = sum(counts)
    if args.json:
        print(json.dumps({"pid": args.pid, "seconds": round(elapsed, 3), "syscalls": calls,
                          "avg_usecs": round(total_ns / calls / 1000, 3) if calls else None,
                          "hist": counts}, indent=2))
    else:
        print(log2_hist(counts))
        avg = f", average {total_ns / calls / 1000:.1f} usecs" if calls else ""
        print(f"\n{calls} system calls in {elapsed:.1f}s{avg}")
    return 0


if __name__ == "__main__":
    run_main(main)
