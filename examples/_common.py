"""Shared by the examples: compile a BPF C source at run time, refuse to run without root,
and the frame every tool has (``--seconds``/``--json``, a loop that runs until the time is up
or Ctrl-C, exit status 130 on a Ctrl-C before the probes are attached).

Each example's BPF program is compiled with clang against the headers of the
libbpf libbpf_py was built with (``libbpf_py.build_info().include_dir``) and a
``vmlinux.h`` dumped by bpftool from the running kernel's BTF.
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, NoReturn

import libbpf_py
from libbpf_py.errors import privilege_hint

HERE = Path(__file__).resolve().parent
# <bpf/usdt.bpf.h> includes <linux/errno.h>, whose <asm/errno.h> lives in the
# host's multiarch include directory, which clang -target bpf does not search
MULTIARCH_INCLUDES = [str(p) for p in Path("/usr/include").glob("*-linux-gnu*")
                      if (p / "asm" / "errno.h").exists()]


def compile_bpf(name: str) -> bytes:
    """Compile ``examples/<name>.bpf.c``; return the object file's bytes."""
    with tempfile.TemporaryDirectory(prefix="libbpf_py-example-") as tmp:
        work = Path(tmp)
        with open(work / "vmlinux.h", "wb") as f:
            _run(["bpftool", "btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "c"],
                 stdout=f)
        obj = work / f"{name}.bpf.o"
        _run(["clang", "-O2", "-g", "-target", "bpf", "-D__TARGET_ARCH_x86",
              "-I", str(work), "-I", libbpf_py.build_info().include_dir,
              *(f"-idirafter{d}" for d in MULTIARCH_INCLUDES),
              "-c", str(HERE / f"{name}.bpf.c"), "-o", str(obj)])
        return obj.read_bytes()


def _run(cmd: list[str], stdout: Any = subprocess.PIPE) -> None:
    """Run a build step; exit with its error output if it fails or is not installed."""
    try:
        proc = subprocess.run(cmd, stdout=stdout, stderr=subprocess.PIPE, text=True)
    except FileNotFoundError:
        sys.exit(f"{cmd[0]} not found: the examples need clang and bpftool to build "
                 "their BPF programs")
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd[:2])} ... failed:\n{proc.stderr}")


def write_object(name: str, workdir: Path) -> Path:
    """Compile ``examples/<name>.bpf.c`` into ``workdir``; return the object's path."""
    path = workdir / f"{name}.bpf.o"
    path.write_bytes(compile_bpf(name))
    return path


def require_root(tool: str) -> None:
    """Exit with a clear message unless the process may load BPF programs.

    What counts is the effective capabilities (CAP_SYS_ADMIN, or CAP_BPF and
    CAP_PERFMON), not the uid: root without them is refused too.
    """
    if privilege_hint() is not None:
        sys.exit(f"{tool}: needs root (CAP_BPF and CAP_PERFMON) to load BPF programs")


def ready(message: str) -> None:
    """Tell the user (and the tests) that the probes are attached."""
    print(message, file=sys.stderr, flush=True)


# -- the frame of every tool ---------------------------------------------------------------------

def add_seconds(ap: argparse.ArgumentParser) -> None:
    """The ``--seconds`` option: 0 (the default) runs until Ctrl-C."""
    ap.add_argument("--seconds", type=float, default=0.0,
                    help="stop after this many seconds (default: run until Ctrl-C)")


def parse_args(ap: argparse.ArgumentParser, tool: str,
               json_help: str = "print one JSON object at the end") -> argparse.Namespace:
    """Add ``--json`` (every tool's last option), parse the command line, and exit
    unless running as root."""
    ap.add_argument("--json", action="store_true", help=json_help)
    args = ap.parse_args()
    require_root(tool)
    return args


def repeat_until(start: float, seconds: float, step: float, tick: Callable[[float], object],
                 done: Callable[[], bool] = lambda: False) -> bool:
    """Call ``tick(wait)`` (``wait``: at most ``step`` seconds, what ``tick`` may block) until
    ``seconds`` after ``start`` have passed (0: no limit) or ``done()`` is true.

    A Ctrl-C (KeyboardInterrupt) ends it quietly: the tools then print their summary.
    Return False if that is how it ended.
    """
    try:
        while not done():
            left = seconds - (time.monotonic() - start) if seconds else step
            if left <= 0:
                break
            tick(min(left, step))
    except KeyboardInterrupt:
        return False
    return True


def poll_until(rb: libbpf_py.RingBuffer, start: float, seconds: float,
               done: Callable[[], bool] = lambda: False) -> None:
    """Poll the ring buffer ``rb`` in 0.25 s steps as :func:`repeat_until` says, then
    consume what arrived in the last moment (not after a Ctrl-C)."""
    if repeat_until(start, seconds, 0.25, lambda wait: rb.poll(int(wait * 1000)), done):
        with contextlib.suppress(KeyboardInterrupt):
            rb.consume()


def run_main(main: Callable[[], int]) -> NoReturn:
    """An example's ``__main__``: exit with ``main()``'s status; a Ctrl-C that reaches
    here came before the probes were attached, with nothing to sum up: exit 130."""
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
