#!/usr/bin/env python3
"""Trace every exec on the system: a ring buffer fed from sched:sched_process_exec.

One line per exec (time, pid, ppid, uid, comm, filename), records decoded by
libbpf_py from the object's BTF (``RingBuffer(..., record="struct event")``),
and a summary at the end. Needs root.

    python execsnoop.py [--seconds N] [--count N] [--json]

Runs until --seconds have passed, --count execs were seen, or Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from typing import Any

from _common import add_seconds, compile_bpf, parse_args, poll_until, ready, run_main

import libbpf_py


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_seconds(ap)
    ap.add_argument("--count", type=int, default=0, help="stop after this many execs")
    args = parse_args(ap, "execsnoop",
                      json_help="print one JSON object at the end instead of a line per exec")

    events: list[dict[str, Any]] = []
    start = time.monotonic()

    def on_exec(e: Any) -> bool:
        ev = {"time": round(time.monotonic() - start, 6), "pid": e.pid, "ppid": e.ppid,
              "uid": e.uid, "comm": e.comm.decode(errors="replace"),
              "filename": e.filename.decode(errors="replace")}
        events.append(ev)
        if not args.json:
            print(f"{ev['time']:9.3f} {ev['pid']:>8} {ev['ppid']:>8} {ev['uid']:>6}  "
                  f"{ev['comm']:<16} {ev['filename']}", flush=True)
        return bool(args.count) and len(events) >= args.count

    with libbpf_py.BpfObject.open_mem(compile_bpf("execsnoop"), name="execsnoop") as obj:
        obj.load()
        with obj.programs["handle_exec"].attach(), \
                libbpf_py.RingBuffer(obj.maps["events"], on_exec, record="struct event") as rb:
            ready("execsnoop: tracing execs, Ctrl-C to stop")
            start = time.monotonic()
            if not args.json:
                print(f"{'TIME(s)':>9} {'PID':>8} {'PPID':>8} {'UID':>6}  {'COMM':<16} FILENAME")
            poll_until(rb, start, args.seconds,
                       done=lambda: bool(args.count) and len(events) >= args.count)
    elapsed = time.monotonic() - start
    if args.json:
        print(json.dumps({"seconds": round(elapsed, 3), "execs": len(events), "events": events},
                         indent=2))
    else:
        top = ", ".join(f"{name} x{n}" for name, n in
                        Counter(e["filename"] for e in events).most_common(5))
        print(f"\n{len(events)} execs in {elapsed:.1f}s" + (f"; most run: {top}" if top else ""))
    return 0


if __name__ == "__main__":
    run_main(main)
