"""Shared fixtures: BPF programs compiled for the libbpf under test, kernel access.

Tests that need the kernel are marked ``kernel``. Unprivileged, they skip with
the reason. With ``LIBBPF_PY_REQUIRE_KERNEL=1`` (CI sets it) every skip is
turned into a failure, so a privileged run can never pass by skipping.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import Callable, Iterator

import pytest

TESTS = Path(__file__).resolve().parent
BPF_SRC = TESTS / "bpf"
CACHE = TESTS / ".cache"
VMLINUX_BTF = Path("/sys/kernel/btf/vmlinux")
REQUIRE = os.environ.get("LIBBPF_PY_REQUIRE_KERNEL", "") == "1"


def pytest_sessionstart(session: pytest.Session) -> None:
    for tool, package in (("clang", "clang"), ("bpftool", "bpftool")):
        if shutil.which(tool) is None:
            raise pytest.UsageError(
                f"{tool} is missing: the tests compile BPF programs with clang and "
                f"generate vmlinux.h with bpftool; install it (apt-get install {package})."
            )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if REQUIRE and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = (f"skipped under LIBBPF_PY_REQUIRE_KERNEL=1, which forbids "
                           f"skips: {reason}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect tests marked ``build(...)`` that do not apply to this build.

    A test about, say, a LIBBPF_DIR build does not apply to a pkg-config build:
    it is deselected, not skipped, because every skip fails under CI.
    """
    selected, deselected = [], []
    info = None
    for item in items:
        marker = item.get_closest_marker("build")
        if marker is None:
            selected.append(item)
            continue
        if info is None:
            import libbpf_py

            info = libbpf_py.build_info()
        want = marker.kwargs
        ok = ((want.get("mode") in (None, info.mode))
              and (want.get("origin") in (None, info.origin))
              and (want.get("header_min") is None or info.header_version >= want["header_min"])
              and (want.get("header_max") is None or info.header_version <= want["header_max"]))
        (selected if ok else deselected).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


def _mounted(path: str, fstype: str) -> bool:
    with open("/proc/self/mounts") as f:
        return any(line.split()[1] == path and line.split()[2] == fstype for line in f)


def ensure_mount(path: str, fstype: str) -> None:
    """Mount bpffs / tracefs if the machine has not; only root can."""
    if _mounted(path, fstype):
        return
    if os.geteuid() != 0:
        pytest.skip(f"{fstype} is not mounted at {path} and mounting it needs root")
    subprocess.run(["mount", "-t", fstype, fstype, path], check=True)


@pytest.fixture(scope="session")
def kernel() -> None:
    """Skip (with the reason) unless this process can load BPF programs."""
    if os.geteuid() != 0:
        pytest.skip("needs root (CAP_BPF, CAP_PERFMON) to load BPF programs")
    if not VMLINUX_BTF.exists():
        pytest.skip(f"the kernel has no BTF ({VMLINUX_BTF} is missing)")
    ensure_mount("/sys/kernel/tracing", "tracefs")
    ensure_mount("/sys/fs/bpf", "bpf")


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
        h.update(b"\0")
    return h.hexdigest()[:16]


@pytest.fixture(scope="session")
def vmlinux_h() -> Path:
    """vmlinux.h of the running kernel, cached by the hash of its BTF."""
    if not VMLINUX_BTF.exists():
        pytest.skip(f"the kernel has no BTF ({VMLINUX_BTF} is missing)")
    key = _digest(VMLINUX_BTF.read_bytes())
    out = CACHE / f"vmlinux-{key}" / "vmlinux.h"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        text = subprocess.run(
            ["bpftool", "btf", "dump", "file", str(VMLINUX_BTF), "format", "c"],
            check=True, capture_output=True).stdout
        tmp = out.with_suffix(".tmp")
        tmp.write_bytes(text)
        tmp.replace(out)
    return out


@pytest.fixture(scope="session")
def bpf_include_dir() -> str:
    """The headers of the libbpf this build links (bpf_helpers.h and friends)."""
    import libbpf_py

    return libbpf_py.build_info().include_dir


@pytest.fixture(scope="session")
def compile_bpf(vmlinux_h: Path, bpf_include_dir: str) -> Callable[[str], Path]:
    """compile_bpf("minimal") -> path of minimal.bpf.o, cached by content hash."""
    clang = shutil.which("clang") or "clang"
    version = subprocess.run([clang, "--version"], capture_output=True, text=True).stdout

    def build(name: str) -> Path:
        src = BPF_SRC / f"{name}.bpf.c"
        if not src.exists():
            raise FileNotFoundError(src)
        helpers = Path(bpf_include_dir, "bpf", "bpf_helpers.h")
        siblings = b"".join(p.read_bytes() for p in sorted(BPF_SRC.glob("*.[ch]")))
        key = _digest(src.read_bytes(), siblings, vmlinux_h.read_bytes()[:4096], version.encode(),
                      bpf_include_dir.encode(), helpers.read_bytes())
        obj = CACHE / "obj" / key / f"{name}.bpf.o"  # libbpf names the object after the file
        if not obj.exists():
            obj.parent.mkdir(parents=True, exist_ok=True)
            tmp = obj.with_suffix(".tmp")
            cmd = [clang, "-O2", "-g", "-target", "bpf", "-D__TARGET_ARCH_x86",
                   "-I", str(vmlinux_h.parent), "-I", bpf_include_dir, "-c", str(src),
                   "-o", str(tmp)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"clang failed for {src}:\n{proc.stderr}")
            tmp.replace(obj)
        return obj

    return build


@pytest.fixture
def bpffs_dir(kernel: None) -> Iterator[Path]:
    """A fresh directory on bpffs for one test; removed with whatever is pinned in it."""
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="libbpf_py-test-", dir="/sys/fs/bpf"))
    try:
        yield path
    finally:
        for child in sorted(path.rglob("*"), key=lambda p: len(p.parts), reverse=True):
            if child.is_dir():
                child.rmdir()
            else:
                child.unlink()
        path.rmdir()


@pytest.fixture(scope="session")
def pic_prefix() -> Path:
    """The vendored prefix with a position-independent libbpf.a (vendor/provision.py)."""
    archive = os.environ.get("LIBBPF_PY_PIC_ARCHIVE")
    if archive:
        path = Path(archive)
        if not path.is_file():
            pytest.fail(f"LIBBPF_PY_PIC_ARCHIVE={archive} does not exist: run "
                        "`python vendor/provision.py static`")
        # resolved, as build_ffi.py resolves LIBBPF_DIR (vendor/build may be a symlink)
        return path.resolve().parent.parent
    script = TESTS.parent / "vendor" / "provision.py"
    import sys

    proc = subprocess.run([sys.executable, str(script), "static"], capture_output=True,
                          text=True, timeout=1800)
    if proc.returncode != 0:
        pytest.skip(f"vendor/provision.py static failed: {proc.stderr.strip()[-500:]}")
    return Path(proc.stdout.strip().splitlines()[-1])
