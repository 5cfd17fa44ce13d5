#!/usr/bin/env python3
"""Live syscall counts per process: a real BPF program on raw_syscalls:sys_enter.

Compiles syscount.bpf.c with clang (vmlinux.h from the running kernel's BTF),
opens, loads and attaches it through libbpf_py, then prints the busiest
processes every second. Needs root.

    python syscount.py [--seconds N] [--top N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import libbpf_py
from libbpf_py import BpfObject
from libbpf_py.errors import privilege_hint

HERE = Path(__file__).resolve().parent


def compile_program(workdir: Path) -> Path:
    vmlinux = workdir / "vmlinux.h"
    with open(vmlinux, "wb") as f:
        subprocess.run(["bpftool", "btf", "dump", "file", "/sys/kernel/btf/vmlinux",
                        "format", "c"], stdout=f, check=True)
    obj = workdir / "syscount.bpf.o"
    subprocess.run(["clang", "-O2", "-g", "-target", "bpf", "-D__TARGET_ARCH_x86",
                    "-I", str(workdir), "-I", libbpf_py.build_info().include_dir,
                    "-c", str(HERE / "syscount.bpf.c"), "-o", str(obj)], check=True)
    return obj


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0, help="how long to run (default 5)")
    ap.add_argument("--top", type=int, default=8, help="processes to show (default 8)")
    ap.add_argument("--json", action="store_true", help="print one JSON object at the end")
    args = ap.parse_args()
    if privilege_hint() is not None:  # the capabilities, not the uid
        sys.exit("syscount: needs root (CAP_BPF and CAP_PERFMON) to load BPF programs")

    info = libbpf_py.build_info()
    print(f"libbpf_py {libbpf_py.__version__}: {info.mode} libbpf {info.runtime_version} "
          f"({info.library_path or info.extension_path})", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        path = compile_program(Path(tmp))
        obj = BpfObject.open(path)
    rows: list[tuple[int, str, int]] = []
    with obj:
        obj.load()
        counts = obj.maps["counts"]  # key __u32, value struct value (typed from BTF)
        start = time.monotonic()
        with obj.programs["count_syscall"].attach():
            while time.monotonic() - start < args.seconds:
                time.sleep(min(1.0, max(0.0, args.seconds - (time.monotonic() - start))))
                rows = sorted(((pid, v.comm.decode(errors="replace"), v.count)
                               for pid, v in counts.items()), key=lambda r: -r[2])
                if not args.json:
                    print(f"\n{'PID':>8}  {'COMM':<16} {'SYSCALLS':>10}   "
                          f"t={time.monotonic() - start:4.1f}s")
                    for pid, comm, n in rows[: args.top]:
                        print(f"{pid:>8}  {comm:<16} {n:>10}")
        if args.json:
            own = next((n for p, _, n in rows if p == os.getpid()), 0)
            print(json.dumps({"build": info.as_dict(), "seconds": args.seconds,
                              "processes": len(rows), "own_syscalls": own,
                              "top": [{"pid": p, "comm": c, "syscalls": n}
                                      for p, c, n in rows[: args.top]]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
