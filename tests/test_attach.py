"""Attach kinds this kernel allows: each test attaches for real, triggers the
event, checks the program ran (a slot of the ``counts`` map), and detaches.

Kinds the kernel refuses are in test_attach_kernel_config.py; kinds whose libbpf API
is newer than 1.1 (tcx, netfilter, sockmap links) in test_attach_link_apis.py.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import functools
import gc
import os
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, ContextManager, Optional

import pytest
from conftest import Compile, kernel_has_member

from libbpf_py import BpfObject, Btf
from libbpf_py._binding import lib
from libbpf_py.errors import (
    ClosedError,
    LibbpfError,
    LibbpfNotSupportedError,
    LibbpfVersionError,
    NotLoadedError,
    VerifierError,
)
from libbpf_py.link import FdLink, Link, TcLink

pytestmark = pytest.mark.kernel
LoadAttach = Callable[..., ContextManager[BpfObject]]  # the conftest fixture load_attach
TESTS = Path(__file__).resolve().parent

# slots of `counts` in tests/bpf/attach.bpf.c
C_TP, C_RAW_TP, C_TP_BTF, C_UPROBE_BIN, C_UPROBE_LIBC, C_URETPROBE, C_USDT = range(7)
C_XDP, C_TC, C_CGROUP, C_PERF, C_SK_LOOKUP, C_ITER, C_USDT_ARG, C_URET_VAL = range(7, 15)
C_SK_MSG = 15


def count(obj: BpfObject, slot: int) -> int:
    return int(obj.maps.counts[slot])


@functools.lru_cache(maxsize=1)
def _kernel_fills_perf_link_info() -> bool:
    """Linux 6.6 added the perf_event part of bpf_link_info, with enum bpf_perf_event_type;
    older kernels (6.1) leave it zero, which libbpf_py reports as perf_event_type unspec."""
    with Btf.load_vmlinux() as vm:
        return vm.find("bpf_perf_event_type") is not None


def check_perf_link_info(info: dict[str, Any], **want: Any) -> Optional[str]:
    """Check a perf_event link's info; where the kernel cannot say more than the link
    type, assert exactly that and return the reason to xfail with after the rest of
    the test (the program fired all the same)."""
    assert info["type_name"] == "perf_event"
    if _kernel_fills_perf_link_info():
        for key, value in want.items():
            assert info[key] == value, key
        return None
    assert info["perf_event_type"] == "unspec"
    assert not (set(want) - {"perf_event_type"}) & set(info)
    return ("this kernel fills no perf_event details into bpf_link_info (Linux 6.6 added "
            f"them; no enum bpf_perf_event_type in its BTF): {sorted(want)} unreadable")


# -- tracepoints ------------------------------------------------------------------------

def test_tracepoint_fires_and_stops_on_destroy(load_attach: LoadAttach) -> None:
    with load_attach("on_tp") as obj:
        prog = obj.programs.on_tp
        link = prog.attach_tracepoint("syscalls", "sys_enter_getppid")
        with link:
            for _ in range(5):
                os.getppid()
            assert count(obj, C_TP) >= 5
            info = link.info()
            assert info["prog_id"] == prog.id
            why = check_perf_link_info(info, perf_event_type="tracepoint",
                                       tp_name="sys_enter_getppid")
        assert link.closed
        before = count(obj, C_TP)
        os.getppid()
        assert count(obj, C_TP) == before
        link.destroy()  # idempotent
        with pytest.raises(ClosedError):
            link.fd  # noqa: B018
    if why:
        pytest.xfail(why)


def test_attach_by_section(load_attach: LoadAttach) -> None:
    with load_attach("on_tp") as obj, obj.programs.on_tp.attach():
        os.getppid()
        assert count(obj, C_TP) >= 1


def test_raw_tracepoint(load_attach: LoadAttach) -> None:
    with load_attach("on_raw_tp") as obj:
        with obj.programs.on_raw_tp.attach_raw_tracepoint("sys_enter") as link:
            os.getppid()
            assert count(obj, C_RAW_TP) >= 1
            info = link.info()
            assert info["type_name"] == "raw_tracepoint"
            assert info["tp_name"] == "sys_enter"


@pytest.mark.build(header_max=(1, 3))
def test_raw_tracepoint_cookie_needs_libbpf_1_4(load_attach: LoadAttach) -> None:
    with load_attach("on_raw_tp") as obj:
        with pytest.raises(LibbpfVersionError, match=r"attach_raw_tracepoint_opts.*1\.4"):
            obj.programs.on_raw_tp.attach_raw_tracepoint("sys_enter", cookie=7)


@pytest.mark.build(header_min=(1, 4))
def test_raw_tracepoint_with_cookie(load_attach: LoadAttach) -> None:
    with load_attach("on_raw_tp") as obj:
        if not kernel_has_member("bpf_attr", "raw_tracepoint", "cookie"):
            # the kernel checks that the bpf_attr bytes past what it knows are zero
            with pytest.raises(LibbpfError) as exc:
                obj.programs.on_raw_tp.attach_raw_tracepoint("sys_enter", cookie=7)
            assert exc.value.errno == errno.EINVAL, exc.value
            pytest.xfail("refused by this kernel: its bpf_attr has no raw_tracepoint.cookie "
                         f"(Linux >= 6.10): {exc.value}")
        with obj.programs.on_raw_tp.attach_raw_tracepoint("sys_enter", cookie=7):
            os.getppid()
            assert count(obj, C_RAW_TP) >= 1


def test_tp_btf_through_attach_trace(load_attach: LoadAttach) -> None:
    with load_attach("on_tp_btf") as obj:
        with obj.programs.on_tp_btf.attach_trace() as link:
            os.getppid()
            assert count(obj, C_TP_BTF) >= 1
            info = link.info()
            assert info["type_name"] == "raw_tracepoint"  # tp_btf goes through raw_tp_open
            assert info["tp_name"] == "sys_enter"


# -- uprobes and USDT -------------------------------------------------------------------

def test_uprobe_uretprobe_and_usdt_on_a_test_binary(load_attach: LoadAttach,
                                                    target_bin: Path) -> None:
    turns = 7
    with load_attach("on_uprobe_bin", "on_uretprobe", "on_usdt") as obj:
        p = obj.programs
        with p.on_uprobe_bin.attach_uprobe(target_bin, "libbpf_py_target_add") as up, \
                p.on_uretprobe.attach_uprobe(target_bin, "libbpf_py_target_add",
                                             retprobe=True), \
                p.on_usdt.attach_usdt(target_bin, "libbpf_py", "tick"):
            out = subprocess.run([str(target_bin), str(turns)], capture_output=True, text=True,
                                 check=True).stdout
            assert int(out) == turns * (turns + 1) // 2
            assert count(obj, C_UPROBE_BIN) == turns
            assert count(obj, C_URETPROBE) == turns
            assert count(obj, C_URET_VAL) == turns * (turns + 1) // 2  # return values
            assert count(obj, C_USDT) == turns
            assert count(obj, C_USDT_ARG) == turns * (turns + 1) // 2  # the probe's argument
            why = check_perf_link_info(up.info(), perf_event_type="uprobe",
                                       file_name=str(target_bin))
        subprocess.run([str(target_bin), "3"], capture_output=True, check=True)
        assert count(obj, C_UPROBE_BIN) == turns  # detached
    if why:
        pytest.xfail(why)


def _file_offset(binary: Path, symbol: str) -> int:
    """The file offset of a function, from its ELF symbol and program headers."""
    from elftools.elf.elffile import ELFFile

    with open(binary, "rb") as f:
        elf = ELFFile(f)
        symtab = elf.get_section_by_name(".symtab")
        addr = next(s["st_value"] for s in symtab.iter_symbols() if s.name == symbol)
        for seg in elf.iter_segments():
            if seg["p_type"] == "PT_LOAD" and seg["p_vaddr"] <= addr < seg["p_vaddr"] + \
                    seg["p_memsz"]:
                return int(addr - seg["p_vaddr"] + seg["p_offset"])
    raise LookupError(symbol)


def test_uprobe_by_file_offset(load_attach: LoadAttach, target_bin: Path) -> None:
    offset = _file_offset(target_bin, "libbpf_py_target_add")
    with load_attach("on_uprobe_bin") as obj:
        with obj.programs.on_uprobe_bin.attach_uprobe(target_bin, offset=offset) as link:
            subprocess.run([str(target_bin), "3"], capture_output=True, check=True)
            assert count(obj, C_UPROBE_BIN) == 3
            why = check_perf_link_info(link.info(), perf_event_type="uprobe", offset=offset)
    if why:
        pytest.xfail(why)


def test_uprobe_on_libc_filtered_by_pid(load_attach: LoadAttach) -> None:
    libc = ctypes.CDLL("libc.so.6")
    with load_attach("on_uprobe_libc") as obj:
        with obj.programs.on_uprobe_libc.attach_uprobe("libc.so.6", "getpid", pid=os.getpid()):
            for _ in range(4):
                libc.getpid()
            assert count(obj, C_UPROBE_LIBC) >= 4


def test_uprobe_missing_symbol_and_bad_arguments(load_attach: LoadAttach, target_bin: Path) -> None:
    with load_attach("on_uprobe_bin") as obj:
        prog = obj.programs.on_uprobe_bin
        with pytest.raises(LibbpfError) as info:
            prog.attach_uprobe(target_bin, "no_such_function_here")
        assert info.value.errno == errno.ENOENT
        with pytest.raises(ValueError, match="pid"):
            prog.attach_uprobe(target_bin, "libbpf_py_target_add", pid=-2)
        with pytest.raises(TypeError, match="func_name"):
            prog.attach_uprobe(target_bin, 42)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="NUL"):
            prog.attach_uprobe("bad\0path", "x")
        with pytest.raises(ValueError, match="attach_mode"):
            prog.attach_uprobe(target_bin, "libbpf_py_target_add", attach_mode="fast")


@pytest.mark.build(header_max=(1, 3))
def test_uprobe_attach_mode_needs_libbpf_1_4(load_attach: LoadAttach, target_bin: Path) -> None:
    with load_attach("on_uprobe_bin") as obj:
        with pytest.raises(LibbpfVersionError, match=r"attach_mode.*LIBBPF_1\.4\.0"):
            obj.programs.on_uprobe_bin.attach_uprobe(target_bin, "libbpf_py_target_add",
                                                     attach_mode="perf")


@pytest.mark.build(header_min=(1, 4))
def test_uprobe_attach_mode_perf(load_attach: LoadAttach, target_bin: Path) -> None:
    with load_attach("on_uprobe_bin") as obj:
        with obj.programs.on_uprobe_bin.attach_uprobe(target_bin, "libbpf_py_target_add",
                                                      attach_mode="perf"):
            subprocess.run([str(target_bin), "2"], capture_output=True, check=True)
            assert count(obj, C_UPROBE_BIN) == 2


@pytest.mark.build(header_max=(1, 2))
def test_uprobe_multi_needs_libbpf_1_3(load_attach: LoadAttach, target_bin: Path) -> None:
    with load_attach("on_uprobe_bin") as obj:
        with pytest.raises(LibbpfVersionError, match=r"attach_uprobe_multi.*LIBBPF_1\.3\.0"):
            obj.programs.on_uprobe_bin.attach_uprobe_multi(target_bin, "libbpf_py_*")


# -- iterators --------------------------------------------------------------------------

def test_task_iterator_output(load_attach: LoadAttach) -> None:
    with load_attach("on_iter_task") as obj:
        with obj.programs.on_iter_task.attach_iter() as link:
            text = link.read_iter().decode()
            lines = list(link.iter_lines())
            assert link.info()["type_name"] == "iter"
            assert link.info()["target_name"] == "task"
    mine = f"{os.getpid()} "
    assert any(line.startswith(mine) for line in text.splitlines())
    assert any(line.startswith(mine.encode()) for line in lines)
    assert count_lines_ok(text)


def count_lines_ok(text: str) -> bool:
    """Every line the iterator printed is "<pid> <comm>"."""
    return all(line.split(" ", 1)[0].isdigit() for line in text.splitlines())


def _iter_map_refused(exc: VerifierError) -> bool:
    """The refusal seen on some 6.18 kernels: EPERM before the verifier looked at any
    instruction (``processed 0 insns``), while the task iterator of the same object
    loads. The bpf_map_elem iterator reads other maps' values; a kernel (or its
    security policy) may keep that from this process even as root."""
    return exc.errno == errno.EPERM and "processed 0 insns" in (exc.log or "")


def test_map_element_iterator_walks_the_given_map(load_attach: LoadAttach) -> None:
    try:
        loaded = load_attach("on_iter_map")
        obj = loaded.__enter__()
    except VerifierError as exc:
        assert _iter_map_refused(exc), f"a refusal other than this kernel's known one: {exc}"
        with load_attach("on_iter_task"):  # the other iterator kind still loads here
            pass
        pytest.xfail(f"this kernel refuses iter/bpf_map_elem before verifying it: {exc}")
    try:
        walked = obj.maps.walked
        walked[1] = 10
        walked[2] = 20
        with obj.programs.on_iter_map.attach_iter(map=walked) as link:
            assert sorted(link.read_iter().decode().split()) == ["1=10", "2=20"]
            assert link.info()["map_id"] == walked.id
        with pytest.raises(ValueError, match="not two"):
            obj.programs.on_iter_map.attach_iter(map=walked, tid=1)
    finally:
        loaded.__exit__(None, None, None)


# -- XDP, tc, netns on a veth pair in a fresh network namespace --------------------------

def test_xdp_link_on_veth(load_attach: LoadAttach, veth: Any, bpffs_dir: Path) -> None:
    with load_attach("on_xdp", "on_xdp_other") as obj:
        vb = veth.ifindex("vb")
        with veth.entered():
            link = obj.programs.on_xdp.attach_xdp(vb)
        with link:
            veth.send_frames("va", 5)
            assert count(obj, C_XDP) == 5
            assert link.info()["ifindex"] == vb
            assert link.info()["type_name"] == "xdp"
            link.update_program(obj.programs.on_xdp_other)
            assert link.program is obj.programs.on_xdp_other
            assert link.info()["prog_id"] == obj.programs.on_xdp_other.id
            veth.send_frames("va", 1)
            assert count(obj, C_XDP) == 105
            pin = bpffs_dir / "xdp_link"
            link.pin(pin)
            assert link.pin_path == str(pin)
            with Link.open(pin) as again:
                assert again.info()["id"] == link.info()["id"]
                assert again.program is None
            link.unpin()
            assert not pin.exists()
            link.detach()
            veth.send_frames("va", 1)
            assert count(obj, C_XDP) == 105


def test_xdp_with_mode_flags_is_an_fd_link(load_attach: LoadAttach, veth: Any,
                                           bpffs_dir: Path) -> None:
    with load_attach("on_xdp") as obj:
        vb = veth.ifindex("vb")
        prog = obj.programs.on_xdp
        with pytest.raises(ValueError, match="mode flags"):
            prog.attach_xdp(vb, flags=int(lib.XDP_FLAGS_UPDATE_IF_NOEXIST))
        with veth.entered():
            link = prog.attach_xdp(vb, flags=int(lib.XDP_FLAGS_SKB_MODE))
        assert isinstance(link, FdLink)
        with link:
            assert "xdpgeneric" in veth.ip("link", "show", "vb")
            veth.send_frames("va", 3)
            assert count(obj, C_XDP) == 3
            link.pin(bpffs_dir / "xdp_fd_link")
            assert link.pin_path == str(bpffs_dir / "xdp_fd_link")
            link.unpin()
        assert link.closed
        assert "xdp" not in veth.ip("link", "show", "vb")


def test_tc_filter_through_hooks_is_cleaned_up(load_attach: LoadAttach, veth: Any) -> None:
    with load_attach("on_tc", "on_tc_other") as obj:
        vb = veth.ifindex("vb")
        with veth.entered():
            link = obj.programs.on_tc.attach_tc(vb, "ingress")
        assert isinstance(link, TcLink)
        try:
            assert "clsact" in veth.exec("tc", "qdisc", "show", "dev", "vb")
            veth.send_frames("va", 4)
            assert count(obj, C_TC) == 4
            info = link.info()  # runs in the link's namespace, from outside it
            assert info["prog_id"] == obj.programs.on_tc.id
            assert info["attach_point"] == "ingress"
            assert link.handle > 0 and link.priority > 0
            link.update_program(obj.programs.on_tc_other)
            veth.send_frames("va", 1)
            assert count(obj, C_TC) == 104
            with pytest.raises(LibbpfNotSupportedError, match="no kernel bpf_link"):
                link.fd  # noqa: B018
        finally:
            link.destroy()  # from the root namespace: TcLink goes back in to detach
        link.destroy()
        assert "clsact" not in veth.exec("tc", "qdisc", "show", "dev", "vb")
        veth.send_frames("va", 1)
        assert count(obj, C_TC) == 104
        with pytest.raises(ValueError, match="attach_point"):
            obj.programs.on_tc.attach_tc(vb, "sideways")


def test_tc_hook_made_elsewhere_is_left_alone(load_attach: LoadAttach, veth: Any) -> None:
    veth.exec("tc", "qdisc", "add", "dev", "vb", "clsact")
    with load_attach("on_tc") as obj:
        vb = veth.ifindex("vb")
        with veth.entered(), obj.programs.on_tc.attach_tc(vb, "egress"):
            veth.send_frames("vb", 2)
            assert count(obj, C_TC) == 2
        clsact_ingress = 0xFFFF0000 | 0xFFF2  # TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS)
        with veth.entered():
            link = obj.programs.on_tc.attach_tc(vb, "custom", parent=clsact_ingress)
        with link:
            veth.send_frames("va", 3)
            assert count(obj, C_TC) == 5
            assert link.info()["attach_point"] == "custom"
            assert "bpf" in veth.exec("tc", "filter", "show", "dev", "vb", "ingress")
        assert "bpf" not in veth.exec("tc", "filter", "show", "dev", "vb", "ingress")
        with pytest.raises(ValueError, match="parent"):
            obj.programs.on_tc.attach_tc(vb, "custom")
    assert "clsact" in veth.exec("tc", "qdisc", "show", "dev", "vb")


def test_tc_link_outlives_ip_netns_del(load_attach: LoadAttach, veth: Any) -> None:
    with load_attach("on_tc") as obj:
        vb = veth.ifindex("vb")
        with veth.entered():
            link = obj.programs.on_tc.attach_tc(vb, "ingress")
        subprocess.run(["ip", "netns", "del", veth.name], check=True)
        assert link.info()["prog_id"] == obj.programs.on_tc.id  # its netns fd keeps it
        link.destroy()
        assert link.closed
        with pytest.raises(ClosedError):
            link.info()


def test_sk_lookup_on_a_netns(load_attach: LoadAttach, netns: Any) -> None:
    with load_attach("on_sk_lookup") as obj:
        with obj.programs.on_sk_lookup.attach_netns(netns.path) as link:
            info = link.info()
            assert info["type_name"] == "netns"
            assert info["netns_ino"] == os.stat(netns.path).st_ino
            with netns.entered():
                rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            with rx, tx:
                rx.bind(("127.0.0.1", 0))
                tx.sendto(b"ping", rx.getsockname())
                assert rx.recv(16) == b"ping"
            assert count(obj, C_SK_LOOKUP) >= 1


# -- cgroup v2 --------------------------------------------------------------------------

def test_cgroup_sock_create(load_attach: LoadAttach, cgroup2: Path) -> None:
    with load_attach("on_sock_create") as obj:
        with obj.programs.on_sock_create.attach_cgroup(cgroup2) as link:
            info = link.info()
            assert info["type_name"] == "cgroup"
            assert info["cgroup_id"] == os.stat(cgroup2).st_ino
            assert info["attach_type"] == int(lib.BPF_CGROUP_INET_SOCK_CREATE)
            assert count(obj, C_CGROUP) == 0
            script = "import socket; [socket.socket() for _ in range(3)]"
            subprocess.run(["sh", "-c", f'echo $$ > "$1/cgroup.procs" && exec "$2" -c "{script}"',
                            "sh", str(cgroup2), sys.executable], check=True)
            assert count(obj, C_CGROUP) == 3
        fd = os.open(cgroup2, os.O_RDONLY | os.O_DIRECTORY)
        try:
            with obj.programs.on_sock_create.attach_cgroup(fd):
                pass
        finally:
            os.close(fd)
        with pytest.raises(LibbpfError) as exc:
            obj.programs.on_sock_create.attach_cgroup(cgroup2 / "missing")
        assert exc.value.errno == errno.ENOENT


_CGROUP_CHILD = """
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))                        # cgroup/bind4
s.connect(s.getsockname())                      # cgroup/connect4
s.send(b"x")                                    # cgroup_skb/egress
s.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE) # cgroup/getsockopt
open("/proc/sys/kernel/ostype").read()          # cgroup/sysctl
open("/dev/null").close()                       # cgroup/dev
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen()
socket.create_connection(srv.getsockname())     # sockops
"""


def test_every_other_cgroup_attach_type(kernel: None, compile_bpf: Compile,
                                        cgroup2: Path) -> None:
    names = ["cg_skb_egress", "cg_connect4", "cg_sysctl", "cg_getsockopt", "cg_bind4",
             "cg_dev", "cg_sockops"]
    with BpfObject.open(compile_bpf("attach_cgroup")) as obj:
        obj.load()
        links = []
        try:
            for name in names:
                prog = obj.programs[name]
                links.append(prog.attach_cgroup(str(cgroup2)))
                info = links[-1].info()
                assert info["attach_type"] == int(prog.expected_attach_type), name
                assert info["cgroup_id"] == os.stat(cgroup2).st_ino
            subprocess.run(["sh", "-c", 'echo $$ > "$1/cgroup.procs" && exec "$2" -c "$3"',
                            "sh", str(cgroup2), sys.executable, _CGROUP_CHILD], check=True)
            ran = {name: int(obj.maps.cg_counts[i]) for i, name in enumerate(names)}
            assert all(ran.values()), ran
        finally:
            for link in links:
                link.destroy()


# -- perf_event -------------------------------------------------------------------------

def _perf_event_open_cpu_clock(period_ns: int, disabled: bool = False) -> int:
    """perf_event_open(PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_CLOCK) on this process
    (``disabled``: opened off, as attr.disabled asks, until PERF_EVENT_IOC_ENABLE)."""
    attr = bytearray(128)  # struct perf_event_attr, PERF_ATTR_SIZE_VER7 is 128
    struct.pack_into("=IIQQ", attr, 0, int(lib.PERF_TYPE_SOFTWARE), len(attr),
                     int(lib.PERF_COUNT_SW_CPU_CLOCK), period_ns)
    if disabled:  # the flags word after sample_type and read_format: bit 0 is "disabled"
        struct.pack_into("=Q", attr, 40, 1)
    libc = ctypes.CDLL(None, use_errno=True)
    buf = (ctypes.c_char * len(attr)).from_buffer(attr)
    nr_perf_event_open = {"x86_64": 298, "aarch64": 241}[os.uname().machine]
    fd = libc.syscall(nr_perf_event_open, buf, 0, -1, -1, 0)  # pid 0 = us, any cpu
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return int(fd)


def test_perf_event_software_clock(load_attach: LoadAttach) -> None:
    with load_attach("on_perf") as obj:
        pfd = _perf_event_open_cpu_clock(100_000)  # a sample per 0.1 ms of CPU time
        link = obj.programs.on_perf.attach_perf_event(pfd)  # the link owns pfd now
        with link:
            deadline = time.monotonic() + 2
            while count(obj, C_PERF) < 3 and time.monotonic() < deadline:
                sum(range(20000))
            assert count(obj, C_PERF) >= 3
            why = check_perf_link_info(link.info(), perf_event_type="event",
                                       config=int(lib.PERF_COUNT_SW_CPU_CLOCK))
        with pytest.raises(OSError):
            os.fstat(pfd)  # libbpf closed it with the link
        with pytest.raises(TypeError, match="pfd"):
            obj.programs.on_perf.attach_perf_event(-1)
    if why:
        pytest.xfail(why)


_PERF_EVENT_IOC_ENABLE = 0x2400  # _IO('$', 0)


def _spin_until(obj: BpfObject, slot: int, want: int, seconds: float) -> int:
    deadline = time.monotonic() + seconds
    while count(obj, slot) < want and time.monotonic() < deadline:
        sum(range(20000))
    return count(obj, slot)


@pytest.mark.build(header_min=(1, 7))
def test_perf_event_dont_enable(load_attach: LoadAttach) -> None:
    # opened disabled: libbpf enables the event at attach unless dont_enable says not to
    with load_attach("on_perf") as obj:
        pfd = _perf_event_open_cpu_clock(100_000, disabled=True)
        with obj.programs.on_perf.attach_perf_event(pfd, dont_enable=True):
            assert _spin_until(obj, C_PERF, 1, 0.3) == 0  # never enabled: never sampled
            fcntl.ioctl(pfd, _PERF_EVENT_IOC_ENABLE, 0)
            assert _spin_until(obj, C_PERF, 3, 2) >= 3
    with load_attach("on_perf") as obj:
        pfd = _perf_event_open_cpu_clock(100_000, disabled=True)
        with obj.programs.on_perf.attach_perf_event(pfd):
            assert _spin_until(obj, C_PERF, 3, 2) >= 3  # libbpf enabled it


@pytest.mark.build(header_max=(1, 6))
def test_perf_event_dont_enable_needs_libbpf_1_7(load_attach: LoadAttach) -> None:
    with load_attach("on_perf") as obj:
        pfd = _perf_event_open_cpu_clock(100_000, disabled=True)
        try:
            with pytest.raises(LibbpfVersionError, match=r"dont_enable.*LIBBPF_1\.7\.0"):
                obj.programs.on_perf.attach_perf_event(pfd, dont_enable=True)
        finally:
            os.close(pfd)


# -- struct_ops -------------------------------------------------------------------------

def test_struct_ops_tcp_congestion_control(kernel: None, compile_bpf: Compile,
                                           record_kind: Callable[..., None]) -> None:
    with BpfObject.open(compile_bpf("attach_struct_ops")) as obj:
        obj.load()
        link = obj.maps.lbpy_cc.attach_struct_ops()
        with link:
            info = link.info()
            assert info["type_name"] == "struct_ops"
            assert info["map_id"] == obj.maps.lbpy_cc.id
            with socket.socket() as srv, socket.socket() as cli:
                cli.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, b"lbpy_cc")
                srv.bind(("127.0.0.1", 0))
                srv.listen()
                cli.connect(srv.getsockname())
                conn, _ = srv.accept()
                with conn:
                    cli.sendall(b"x" * 100)
                    assert conn.recv(100)
                name = cli.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16)
                assert name.rstrip(b"\0") == b"lbpy_cc"
            assert obj.maps.inits[0] >= 1  # the kernel called our .init
        with socket.socket() as s, pytest.raises(OSError) as exc:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, b"lbpy_cc")
        assert exc.value.errno == errno.ENOENT  # unregistered by destroy
    record_kind("struct_ops", "fired")


# -- Link lifetime and bad use ------------------------------------------------------------

def test_link_keeps_its_object_alive(attach_o: Path) -> None:
    obj = BpfObject.open(attach_o)
    for name, prog in obj.programs.items():
        prog.autoload = name == "on_tp"
    obj.load()
    obj.maps.target[0] = os.getpid()
    link = obj.programs.on_tp.attach()
    del obj, prog
    gc.collect()
    assert link.program is not None
    held = link.program.object
    os.getppid()
    assert int(held.maps.counts[C_TP]) >= 1
    link.destroy()
    held.close()


def test_attach_before_load_and_bad_arguments(attach_o: Path) -> None:
    with BpfObject.open(attach_o) as obj:
        with pytest.raises(NotLoadedError):
            obj.programs.on_tp.attach_tracepoint("syscalls", "sys_enter_getppid")
        for name, prog in obj.programs.items():
            prog.autoload = name in ("on_tp", "on_xdp")
        obj.load()
        with pytest.raises(LibbpfError) as exc:
            obj.programs.on_tp.attach_tracepoint("syscalls", "no_such_tracepoint")
        assert exc.value.errno == errno.ENOENT
        with pytest.raises(ValueError, match="ifindex"):
            obj.programs.on_xdp.attach_xdp(0)
        with pytest.raises(TypeError, match="ifindex"):
            obj.programs.on_xdp.attach_xdp("eth0")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="exactly one"):
            obj.programs.on_tp.attach_kprobe_multi("a*", syms=["b"])
        with pytest.raises(LibbpfError) as exc:
            obj.programs.on_xdp.attach_xdp(1 << 30)
        assert exc.value.errno == errno.EINVAL  # the kernel: no such device is EINVAL here
    with pytest.raises(ClosedError):
        obj.programs.on_tp.attach()
