"""Attach kinds this kernel refuses: no kprobes (CONFIG_KPROBES off), and a
lockdown that refuses trampoline programs (fentry, fexit, fmod_ret, LSM,
freplace) at load. Each test checks the exact error (errno, and a message that
says why) and then marks the success path, unreachable here, as xfail."""

from __future__ import annotations

import errno
import gzip
from pathlib import Path
from typing import Callable

import pytest

from libbpf_py import BpfObject
from libbpf_py._binding import BUILD
from libbpf_py.errors import LibbpfError, LibbpfPermissionError

pytestmark = pytest.mark.kernel
Compile = Callable[[str], Path]


def _kernel_config(option: str) -> str:
    try:
        with gzip.open("/proc/config.gz", "rt") as f:
            for line in f:
                if line.startswith(f"{option}=") or line.startswith(f"# {option} is not set"):
                    return line.strip()
    except OSError:
        pass
    return f"{option}: unknown"


@pytest.fixture
def kprobes_o(kernel: None, compile_bpf: Compile) -> Path:
    return compile_bpf("attach_refused")


@pytest.fixture
def refused_obj(kprobes_o: Path) -> BpfObject:
    obj = BpfObject.open(kprobes_o)
    obj.load()  # kprobe programs load; it is attaching them that needs kprobes
    return obj


@pytest.mark.parametrize(("prog", "call", "err"), [
    ("on_kprobe", lambda p: p.attach_kprobe("do_nanosleep"), errno.ENOENT),
    ("on_kretprobe", lambda p: p.attach_kprobe("do_nanosleep", retprobe=True), errno.ENOENT),
    ("on_kprobe", lambda p: p.attach(), errno.ENOENT),
    # by a pattern with a wildcard, libbpf >= 1.4 first reads
    # available_filter_functions_addrs, which lockdown refuses (EPERM); older ones get
    # to the kernel's EOPNOTSUPP. (A pattern without one, libbpf 1.7 sends straight to
    # the kernel, as syms below: the wildcard keeps this case the same on every libbpf.)
    ("on_kprobe_multi", lambda p: p.attach_kprobe_multi("do_nanosleep*"),
     errno.EPERM if BUILD.header_version >= (1, 4) else errno.EOPNOTSUPP),
    ("on_kprobe_multi", lambda p: p.attach_kprobe_multi(syms=["do_nanosleep"]),
     errno.EOPNOTSUPP),
    ("on_ksyscall", lambda p: p.attach_ksyscall("getppid"), errno.ENOENT),
], ids=["kprobe", "kretprobe", "kprobe_by_section", "kprobe_multi_pattern",
        "kprobe_multi_syms", "ksyscall"])
def test_kprobe_kinds_refused(refused_obj: BpfObject, prog: str,
                              call: Callable[..., object], err: int) -> None:
    with refused_obj:
        with pytest.raises(LibbpfError) as exc:
            call(refused_obj.programs[prog])
        assert exc.value.errno == err
        why = "locked down" if err == errno.EPERM else "kprobe support"
        assert why in str(exc.value)
        assert repr(prog) in str(exc.value)
    pytest.xfail(f"refused by this kernel ({_kernel_config('CONFIG_KPROBES')}): {exc.value}")


@pytest.mark.parametrize("prog", ["on_fentry", "on_fexit", "on_fmod_ret", "on_lsm"])
def test_trampoline_programs_refused_at_load(kernel: None, compile_bpf: Compile,
                                             prog: str) -> None:
    with BpfObject.open(compile_bpf("attach_trampoline")) as obj:
        for name, p in obj.programs.items():
            p.autoload = name == prog
        with pytest.raises(LibbpfPermissionError) as exc:
            obj.load()
        assert exc.value.errno == errno.EPERM
        assert "not permitted" in str(exc.value)
    lockdown = _kernel_config("CONFIG_LOCK_DOWN_KERNEL_FORCE_INTEGRITY")
    pytest.xfail(f"refused by this kernel: loading {prog} fails with EPERM as root, before "
                 f"the verifier runs (kernel lockdown: {lockdown}); attach_trace / attach_lsm "
                 f"are unreachable: {exc.value}")


def test_freplace_refused_at_load(kernel: None, compile_bpf: Compile) -> None:
    path = compile_bpf("attach_freplace")
    with BpfObject.open(path) as target, BpfObject.open(path) as repl:
        target.programs.on_freplace.autoload = False
        target.load()  # the XDP program with a global function loads
        repl.programs.freplace_target.autoload = False
        repl.programs.on_freplace.set_attach_target(target.programs.freplace_target.fd,
                                                    "target_func")
        with pytest.raises(LibbpfPermissionError) as exc:
            repl.load()
        assert exc.value.errno == errno.EPERM
    pytest.xfail("refused by this kernel: an freplace program fails to load with EPERM as "
                 "root (a trampoline, refused like fentry), so attach_freplace is "
                 f"unreachable: {exc.value}")
