"""Attach kinds that depend on the kernel's configuration: kprobe, kretprobe,
kprobe_multi, ksyscall (CONFIG_KPROBES), and the trampolines fentry, fexit,
fmod_ret, LSM and freplace (refused at load under kernel lockdown).

Each test first asks the kernel (kprobe_events in tracefs, the lockdown mode, the
kernel config, the active LSMs) and then either attaches, triggers the event and
reads the program's counter back, or asserts the exact refusal this kernel gives
(errno and a message that says why) and xfails with the reason. On the
development host (no kprobes, lockdown=integrity) every kind is refused; in the
6.1 and 6.12 guests of scripts/kernels.sh they fire.
"""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path
from typing import Callable, Optional

import pytest
from conftest import (
    Compile,
    active_lsms,
    config_enabled,
    kernel_config,
    kernel_enum,
    kprobes_available,
    lockdown,
)

from libbpf_py import BpfObject, build_info
from libbpf_py.errors import LibbpfError, LibbpfPermissionError

pytestmark = pytest.mark.kernel
Record = Callable[..., None]
_RUNTIME = tuple(int(part) for part in build_info().runtime_version.split(".")[:2])


def _sleep() -> None:
    for _ in range(3):
        time.sleep(0.001)  # clock_nanosleep -> do_nanosleep


def _getsid() -> None:
    for _ in range(3):
        os.getsid(os.getpid())  # a pid, not 0: only then is security_task_getsid called


def _getppid() -> None:
    for _ in range(3):
        os.getppid()


def _hits(obj: BpfObject) -> int:
    return int(obj.var("hits"))


# -- kprobes -------------------------------------------------------------------------------

def _kprobe_refusal(case: str) -> Optional[tuple[int, str, str]]:
    """(errno, words of the message, reason) this kernel refuses ``case`` with, or None."""
    if not kprobes_available():
        why = f"no kprobes ({kernel_config('CONFIG_KPROBES')})"
        if case == "kprobe_multi_pattern":
            # by a pattern with a wildcard, libbpf >= 1.4 first reads
            # available_filter_functions_addrs, which lockdown refuses (EPERM); older
            # ones get to the kernel's EOPNOTSUPP. (A pattern without one, libbpf 1.7
            # sends straight to the kernel, as syms: the wildcard keeps this case the
            # same on every libbpf.) It is the libbpf that runs that decides, not the
            # headers the extension was built with.
            if _RUNTIME >= (1, 4) and lockdown() != "none":
                return errno.EPERM, "locked down", f"{why}, lockdown={lockdown()}"
            return errno.EOPNOTSUPP, "kprobe support", why
        if case == "kprobe_multi_syms":
            return errno.EOPNOTSUPP, "kprobe support", why
        return errno.ENOENT, "kprobe support", why
    if case.startswith("kprobe_multi") and config_enabled("CONFIG_FPROBE") is False:
        return errno.EOPNOTSUPP, "kprobe support", f"no fprobe ({kernel_config('CONFIG_FPROBE')})"
    return None


@pytest.fixture
def kprobes_o(kernel: None, compile_bpf: Compile) -> Path:
    return compile_bpf("attach_kernel_config")


@pytest.mark.parametrize(("case", "prog", "call", "trigger"), [
    ("kprobe", "on_kprobe", lambda p: p.attach_kprobe("do_nanosleep"), _sleep),
    ("kretprobe", "on_kretprobe", lambda p: p.attach_kprobe("do_nanosleep", retprobe=True),
     _sleep),
    ("kprobe_by_section", "on_kprobe", lambda p: p.attach(), _sleep),
    ("kprobe_multi_pattern", "on_kprobe_multi", lambda p: p.attach_kprobe_multi("do_nanosleep*"),
     _sleep),
    ("kprobe_multi_syms", "on_kprobe_multi",
     lambda p: p.attach_kprobe_multi(syms=["do_nanosleep"]), _sleep),
    ("ksyscall", "on_ksyscall", lambda p: p.attach_ksyscall("getppid"), _getppid),
], ids=["kprobe", "kretprobe", "kprobe_by_section", "kprobe_multi_pattern",
        "kprobe_multi_syms", "ksyscall"])
def test_kprobe_kinds_fire_or_are_refused(kprobes_o: Path, record_kind: Record, case: str,
                                          prog: str, call: Callable[..., object],
                                          trigger: Callable[[], None]) -> None:
    refusal = _kprobe_refusal(case)
    with BpfObject.open(kprobes_o) as obj:
        for name, p in obj.programs.items():
            p.autoload = name == prog
        obj.load()  # kprobe programs load; it is attaching them that needs kprobes
        program = obj.programs[prog]
        if refusal is None:
            with call(program):  # type: ignore[attr-defined]
                trigger()
                assert _hits(obj) > 0, f"{case} attached but never fired"
            record_kind(case, "fired")
            return
        err, words, reason = refusal
        with pytest.raises(LibbpfError) as exc:
            call(program)
        assert exc.value.errno == err
        assert words in str(exc.value)
        assert repr(prog) in str(exc.value)
    record_kind(case, "refused", exc.value)
    pytest.xfail(f"refused by this kernel ({reason}): {exc.value}")


# -- trampolines ---------------------------------------------------------------------------

def _trampoline_refusal() -> Optional[str]:
    mode = lockdown()
    if mode != "none":
        return (f"kernel lockdown={mode} "
                f"({kernel_config('CONFIG_LOCK_DOWN_KERNEL_FORCE_INTEGRITY')})")
    return None


@pytest.mark.parametrize(("prog", "trigger"), [
    ("on_fentry", _sleep), ("on_fexit", _sleep), ("on_fmod_ret", _getsid), ("on_lsm", _getsid),
], ids=["fentry", "fexit", "fmod_ret", "lsm"])
def test_trampoline_programs_fire_or_are_refused(kernel: None, compile_bpf: Compile,
                                                 record_kind: Record, prog: str,
                                                 trigger: Callable[[], None]) -> None:
    kind = prog[len("on_"):]
    reason = _trampoline_refusal()
    with BpfObject.open(compile_bpf("attach_trampoline")) as obj:
        for name, p in obj.programs.items():
            p.autoload = name == prog
        if reason is None:
            obj.load()
            program = obj.programs[prog]
            with (program.attach_lsm() if kind == "lsm" else program.attach_trace()):
                trigger()
                hits = _hits(obj)
            if kind == "lsm" and "bpf" not in active_lsms():
                # the program loads and attaches, but the bpf LSM's hooks are not
                # installed unless "bpf" is in lsm= (scripts/kernels.sh boots with it)
                assert hits == 0
                err = LibbpfError(errno.EOPNOTSUPP, "bpf LSM inactive: lsm=" +
                                  ",".join(active_lsms()))
                record_kind(kind, "refused", err)
                pytest.xfail(f"attached but cannot fire: the bpf LSM is not active "
                             f"(/sys/kernel/security/lsm: {','.join(active_lsms())})")
            assert hits > 0, f"{kind} attached but never fired"
            record_kind(kind, "fired")
            return
        with pytest.raises(LibbpfPermissionError) as exc:
            obj.load()
        assert exc.value.errno == errno.EPERM
        assert "not permitted" in str(exc.value)
    record_kind(kind, "refused", exc.value)
    pytest.xfail(f"refused by this kernel: loading {prog} fails with EPERM as root, before "
                 f"the verifier runs ({reason}); attach_trace / attach_lsm are "
                 f"unreachable: {exc.value}")


def test_freplace_fires_or_is_refused(kernel: None, compile_bpf: Compile,
                                      record_kind: Record) -> None:
    path = compile_bpf("attach_freplace")
    reason = _trampoline_refusal()
    with BpfObject.open(path) as target, BpfObject.open(path) as repl:
        target.programs.on_freplace.autoload = False
        target.load()  # the XDP program with a global function loads
        tprog = target.programs.freplace_target
        repl.programs.freplace_target.autoload = False
        repl.programs.on_freplace.set_attach_target(tprog.fd, "target_func")
        if reason is None:
            repl.load()
            assert tprog.test_run(bytes(64)).retval == 2  # XDP_PASS, from target_func
            with repl.programs.on_freplace.attach_freplace(tprog, "target_func"):
                assert tprog.test_run(bytes(64)).retval == 2  # XDP_PASS, from on_freplace
                assert _hits(repl) > 0, "freplace attached but never ran"
            record_kind("freplace", "fired")
            return
        with pytest.raises(LibbpfPermissionError) as exc:
            repl.load()
        assert exc.value.errno == errno.EPERM
    record_kind("freplace", "refused", exc.value)
    pytest.xfail(f"refused by this kernel ({reason}): an freplace program fails to load with "
                 f"EPERM as root (a trampoline, refused like fentry), so attach_freplace is "
                 f"unreachable: {exc.value}")


# -- kprobe session ------------------------------------------------------------------------

@pytest.mark.build(header_min=(1, 5))
def test_kprobe_session_fires_or_is_refused(kernel: None, compile_bpf: Compile,
                                            record_kind: Record) -> None:
    """A kprobe session runs at entry and return of one function (libbpf 1.5,
    kernel 6.10): both runs are counted. A kernel without kprobes refuses the
    kprobe.multi link as for kprobe_multi; one without sessions (6.1) knows no
    BPF_TRACE_KPROBE_SESSION and refuses the link with EINVAL."""
    # a kernel without sessions refuses the attach type first (EINVAL: the 6.1 guest,
    # which has kprobe_multi); one with sessions but no kprobes, as kprobe_multi
    refusal = _kprobe_refusal("kprobe_multi_syms")
    if "BPF_TRACE_KPROBE_SESSION" not in kernel_enum("bpf_attach_type"):
        refusal = (errno.EINVAL, "Invalid argument",
                   "no kprobe sessions: BPF_TRACE_KPROBE_SESSION is not in the kernel's "
                   "enum bpf_attach_type (Linux >= 6.10)")
    with BpfObject.open(compile_bpf("kprobe_session")) as obj:
        obj.load()
        prog = obj.programs.on_kprobe_session
        if refusal is None:
            with prog.attach_kprobe_multi(syms=["do_nanosleep"], session=True) as link:
                _sleep()
                entries, returns = int(obj.var("entries")), int(obj.var("returns"))
                assert entries >= 3 and returns >= 3, (entries, returns)
                info = link.info()
                assert info["type_name"] == "kprobe_multi"
            _sleep()
            assert int(obj.var("entries")) == entries  # detached: no more runs
            record_kind("kprobe_session", "fired")
            return
        err, words, reason = refusal
        with pytest.raises(LibbpfError) as exc:
            prog.attach_kprobe_multi(syms=["do_nanosleep"], session=True)
        assert exc.value.errno == err, exc.value
        assert words in str(exc.value)
        assert "'on_kprobe_session'" in str(exc.value)
    record_kind("kprobe_session", "refused", exc.value)
    pytest.xfail(f"refused by this kernel ({reason}): {exc.value}")
