"""Shared by the examples: compile a BPF C source at run time, refuse to run without root.

Each example's BPF program is compiled with clang against the headers of the
libbpf libbpf_py was built with (``libbpf_py.build_info().include_dir``) and a
``vmlinux.h`` dumped by bpftool from the running kernel's BTF.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import libbpf_py

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
    """Exit with a clear message unless running as root."""
    if os.geteuid() != 0:
        sys.exit(f"{tool}: needs root (CAP_BPF and CAP_PERFMON) to load BPF programs")


def ready(message: str) -> None:
    """Tell the user (and the tests) that the probes are attached."""
    print(message, file=sys.stderr, flush=True)
