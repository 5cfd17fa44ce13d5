"""Build what the benchmark needs: BPF objects, vmlinux.h and the C benchmark.

Everything goes to ``bench/build/`` (git-ignored), cached by content hash, so
a second run compiles nothing. The BPF objects are compiled against the
headers of the libbpf the bindings link (``build_info().include_dir``), the C
benchmark is compiled and linked against that same libbpf: its shared library
for a dynamic build (with an rpath, so the C program runs the same copy), the
vendored archive ``libbpf.a`` with ``-lelf -lz`` for a static build.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

BENCH = Path(__file__).resolve().parent
BUILD = BENCH / "build"
VMLINUX_BTF = Path("/sys/kernel/btf/vmlinux")


def log(message: str) -> None:
    """Progress goes to stderr; stdout carries only the table."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part)
        h.update(b"\0")
    return h.hexdigest()[:16]


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise SystemExit(f"bench: {name} is missing; install it (apt-get install {package}) "
                         "or run scripts/bootstrap.sh")
    return path


def _run(cmd: List[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"bench: {what} failed ({' '.join(cmd)}):\n{proc.stderr}")


def vmlinux_h() -> Path:
    """vmlinux.h of the running kernel (``bpftool btf dump``), cached by the BTF's hash."""
    btf = VMLINUX_BTF.read_bytes()
    out = BUILD / f"vmlinux-{_digest(btf)}" / "vmlinux.h"
    if not out.exists():
        log("generating vmlinux.h with bpftool")
        out.parent.mkdir(parents=True, exist_ok=True)
        text = subprocess.run([_tool("bpftool", "bpftool"), "btf", "dump", "file",
                               str(VMLINUX_BTF), "format", "c"],
                              check=True, capture_output=True).stdout
        tmp = out.with_suffix(".tmp")
        tmp.write_bytes(text)
        tmp.replace(out)
    return out


def compile_bpf(name: str, include_dir: str) -> Path:
    """``bench/bpf/<name>.bpf.c`` -> ``<name>.bpf.o`` (clang -target bpf -g -O2)."""
    return compile_bpf_source(BENCH / "bpf" / f"{name}.bpf.c", include_dir)


def generated_source(name: str, text: str) -> Path:
    """Write a .bpf.c generated at bench time to ``bench/build/gen/<name>.bpf.c``
    (rewritten only when its text changes); its path, for :func:`compile_bpf_source`."""
    src = BUILD / "gen" / f"{name}.bpf.c"
    if not src.exists() or src.read_text() != text:
        src.parent.mkdir(parents=True, exist_ok=True)
        tmp = src.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(src)
    return src


def compile_bpf_source(src: Path, include_dir: str) -> Path:
    """Any ``<name>.bpf.c`` -> ``<name>.bpf.o``, cached by the hash of what goes in."""
    clang = _tool("clang", "clang")
    name = src.name[:-len(".bpf.c")]
    header = vmlinux_h()
    version = subprocess.run([clang, "--version"], capture_output=True, text=True).stdout
    helpers = Path(include_dir, "bpf", "bpf_helpers.h")
    key = _digest(src.read_bytes(), str(header).encode(), version.encode(),
                  include_dir.encode(), helpers.read_bytes())
    obj = BUILD / "obj" / key / f"{name}.bpf.o"
    if not obj.exists():
        log(f"compiling {src.relative_to(BENCH)} with clang against {include_dir}")
        obj.parent.mkdir(parents=True, exist_ok=True)
        tmp = obj.with_suffix(".tmp")
        _run([clang, "-g", "-O2", "-target", "bpf", "-D__TARGET_ARCH_x86",
              "-I", str(header.parent), "-I", include_dir, "-c", str(src), "-o", str(tmp)],
             f"clang for {src.name}")
        tmp.replace(obj)
    return obj


def link_args(info: Dict[str, Any]) -> List[str]:
    """How to link the libbpf that ``libbpf_py.build_info()`` (as a dict) describes."""
    if info["mode"] == "static":
        archive = info["linked_library"]
        if not archive.endswith(".a") or not os.path.isfile(archive):
            raise SystemExit(f"bench: static build, but its archive {archive!r} is missing")
        return [archive, "-lelf", "-lz"]
    library = info["library_path"] or info["linked_library"]
    return [library, f"-Wl,-rpath,{os.path.dirname(library)}", "-lelf", "-lz"]


def compile_c(info: Dict[str, Any]) -> Path:
    """``bench/c/bench.c`` -> an executable linked against the bindings' libbpf."""
    gcc = _tool("gcc", "gcc")
    src = BENCH / "c" / "bench.c"
    args = link_args(info)
    lib_bytes = Path(args[0]).read_bytes()
    key = _digest(src.read_bytes(), info["include_dir"].encode(), " ".join(args).encode(),
                  hashlib.sha256(lib_bytes).digest())
    exe = BUILD / "c" / key / "bench_c"
    if not exe.exists():
        log(f"compiling c/bench.c with gcc against {info['include_dir']} and {args[0]}")
        exe.parent.mkdir(parents=True, exist_ok=True)
        tmp = exe.with_suffix(".tmp")
        _run([gcc, "-O2", "-Wall", "-Werror", "-I", info["include_dir"], str(src), "-o",
              str(tmp), *args], "gcc for c/bench.c")
        tmp.replace(exe)
    return exe


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend (``--png``). A bench-only dependency:
    installed into the running environment when first needed."""
    try:
        import matplotlib
    except ImportError:
        log(f"--png needs matplotlib: {sys.executable} -m pip install matplotlib")
        if subprocess.run([sys.executable, "-m", "pip", "install", "-q", "matplotlib"],
                          check=False).returncode != 0:
            raise SystemExit("bench: could not install matplotlib; install it yourself or "
                             "leave out --png") from None
        import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
