"""FdProgram.load: a program from raw instructions (``bpf_prog_load``), and its
``fd_array_cnt`` option (libbpf 1.6, kernel 6.14), issue 17. Real loads, as root."""

from __future__ import annotations

import errno
import struct
import sys
from typing import Any, Callable, Dict

import pytest

from libbpf_py import AttachType, FdProgram, Map, MapType, Program, ProgType, features
from libbpf_py.errors import ClosedError, LibbpfError, LibbpfVersionError, VerifierError

# -- instructions -------------------------------------------------------------------------

_MOV64_IMM = 0x07 | 0xB0  # BPF_ALU64 | BPF_MOV | BPF_K
_EXIT = 0x05 | 0x90  # BPF_JMP | BPF_EXIT


def insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    """One ``struct bpf_insn`` in this machine's byte order (its register bitfields too)."""
    regs = dst | src << 4 if sys.byteorder == "little" else dst << 4 | src
    return struct.pack("=BBhi", code, regs, off, imm)


def ret(value: int) -> bytes:
    """``r0 = value; exit``."""
    return insn(_MOV64_IMM, imm=value) + insn(_EXIT)


# -- loading and running ------------------------------------------------------------------

def test_socket_filter_loads_and_runs(kernel: None) -> None:
    with FdProgram.load("socket_filter", ret(0), name="raw_ret0") as prog:
        assert isinstance(prog, FdProgram)
        assert prog.type == ProgType.SOCKET_FILTER
        assert prog.name == "raw_ret0"
        assert prog.info().xlated_prog_len == 16
        assert prog.test_run(bytes(64)).retval == 0
        again = Program.from_id(prog.id)  # the kernel's program, as any other
        with again:
            assert again.tag == prog.tag
    assert prog.closed
    with pytest.raises(ClosedError):
        prog.info()


@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview], ids=lambda w: w.__name__)
def test_xdp_pass(kernel: None, wrap: Callable[[bytes], Any]) -> None:
    with FdProgram.load(ProgType.XDP, wrap(ret(2))) as prog:
        assert prog.type == ProgType.XDP
        assert prog.test_run(bytes(64)).retval == 2  # XDP_PASS


def test_options_reach_the_kernel(kernel: None) -> None:
    # a cgroup_skb program for egress, strict alignment (BPF_F_STRICT_ALIGNMENT): loads
    with FdProgram.load(int(ProgType.CGROUP_SKB), ret(1), license="Dual BSD/GPL",
                        expected_attach_type="cgroup_inet_egress", prog_flags=1,
                        kern_version=0, name="raw.skb") as prog:
        assert prog.type == ProgType.CGROUP_SKB
        assert prog.name == "raw.skb"
    # XDP with BPF_XDP as expected attach type: the same
    with FdProgram.load("xdp", ret(2), expected_attach_type=AttachType.XDP) as prog:
        assert prog.test_run(bytes(64)).retval == 2


def test_verifier_error_has_the_log(kernel: None) -> None:
    with pytest.raises(VerifierError) as caught:
        FdProgram.load("socket_filter", insn(_EXIT), name="no_r0")  # r0 never set
    exc = caught.value
    assert exc.errno == errno.EACCES
    assert "R0 !read_ok" in exc.log
    assert exc.program == "no_r0"
    assert exc.insn == 0
    assert "bpf_prog_load(socket_filter, 'no_r0')" in str(exc)
    # an unnamed program is named by its type
    with pytest.raises(VerifierError, match="unnamed xdp"):
        FdProgram.load("xdp", insn(_EXIT))


def test_log_level_keeps_the_log(kernel: None) -> None:
    with FdProgram.load("socket_filter", ret(0), log_level=1, log_size=4096) as prog:
        assert "processed 2 insns" in prog.log_buffer()
    with FdProgram.load("socket_filter", ret(0)) as prog:  # no log level: no log
        with pytest.raises(TypeError, match="log_buffer"):
            prog.log_buffer()


def test_log_too_small_is_enospc(kernel: None) -> None:
    # level 2 logs every instruction's state: more than 128 bytes for three instructions
    code = insn(_MOV64_IMM, dst=1, imm=7) + ret(0)
    with pytest.raises(LibbpfError) as caught:
        FdProgram.load("socket_filter", code, log_level=2, log_size=128)
    assert caught.value.errno == errno.ENOSPC
    assert "give a bigger log_size" in str(caught.value)


# -- bad input: a clear exception before any syscall ---------------------------------------

@pytest.mark.parametrize("args, kwargs, exc, match", [
    (("socket_filter", b""), {}, ValueError, "insns is empty"),
    (("socket_filter", bytes(12)), {}, ValueError, "12 bytes, not a multiple of 8"),
    (("socket_filter", [0xB7, 0x95]), {}, TypeError, "insns must be bytes"),
    (("socket_filter", "r0 = 0"), {}, TypeError, "insns must be bytes"),
    (("no_such_type", ret(0)), {}, ValueError, "unknown program type 'no_such_type'"),
    ((1.0, ret(0)), {}, TypeError, "prog_type must be an int"),
    ((-1, ret(0)), {}, ValueError, "prog_type = -1 does not fit"),
    (("xdp", ret(0)), {"expected_attach_type": "nowhere"}, ValueError,
     "unknown attach type 'nowhere'"),
    (("xdp", ret(0)), {"name": "a_name_longer_than_15"}, ValueError, "at most 15"),
    (("xdp", ret(0)), {"name": "bad name"}, ValueError, "at most 15"),
    (("xdp", ret(0)), {"license": "GPL\0x"}, ValueError, "NUL byte"),
    (("xdp", ret(0)), {"log_size": 100}, ValueError, "log_size = 100 is out of"),
    (("xdp", ret(0)), {"log_level": -1}, ValueError, "log_level = -1"),
    (("xdp", ret(0)), {"prog_flags": True}, TypeError, "prog_flags must be an int"),
    (("xdp", ret(0)), {"fd_array": [-1]}, ValueError, r"fd_array\[0\] = -1 does not fit"),
    (("xdp", ret(0)), {"fd_array": [0, "x"]}, TypeError, r"fd_array\[1\] must be a Map"),
    (("xdp", ret(0)), {"fd_array": []}, ValueError, "fd_array is empty"),
    (("xdp", ret(0)), {"fd_array": 3}, TypeError, "fd_array must be a sequence"),
    (("xdp", ret(0)), {"fd_array_cnt": True}, ValueError, "fd_array_cnt needs fd_array"),
    (("xdp", ret(0)), {"fd_array": [0], "fd_array_cnt": 2}, ValueError,
     "fd_array_cnt = 2 is more than the 1 fds"),
    (("xdp", ret(0)), {"fd_array": [0], "fd_array_cnt": -1}, ValueError, "fd_array_cnt = -1"),
    (("xdp", ret(0)), {"attach_prog_fd": 0, "attach_btf_obj_fd": 0}, ValueError,
     "exclude each other"),
    (("xdp", ret(0)), {"token_fd": -3}, (ValueError, LibbpfVersionError), "token_fd"),
])
def test_bad_input(args: tuple[Any, ...], kwargs: Dict[str, Any], exc: Any, match: str) -> None:
    with pytest.raises(exc, match=match):
        FdProgram.load(*args, **kwargs)


def test_closed_map_in_fd_array(maps: Callable[..., Map]) -> None:
    m = maps(MapType.ARRAY, 4, 8, 1)
    m.close()
    with pytest.raises(ClosedError, match="closed"):
        FdProgram.load("socket_filter", ret(0), fd_array=[m])


def test_fd_array_without_cnt_binds_nothing(maps: Callable[..., Map]) -> None:
    # without fd_array_cnt the kernel reads fd_array only where an instruction points
    m = maps(MapType.ARRAY, 4, 8, 1)
    with FdProgram.load("socket_filter", ret(0), fd_array=[m, m.fd]) as prog:
        assert prog.info().map_ids == ()


# -- fd_array_cnt (libbpf 1.6, kernel 6.14) -------------------------------------------------

@pytest.mark.build(header_max=(1, 5))
def test_fd_array_cnt_needs_libbpf_1_6(maps: Callable[..., Map]) -> None:
    m = maps(MapType.ARRAY, 4, 8, 1)
    assert "program.load_raw.fd_array_cnt" not in features
    with pytest.raises(LibbpfVersionError, match=r"fd_array_cnt.*LIBBPF_1\.6\.0"):
        FdProgram.load("socket_filter", ret(0), fd_array=[m], fd_array_cnt=True)


@pytest.mark.build(header_max=(1, 3))
def test_token_fd_needs_libbpf_1_4() -> None:
    with pytest.raises(LibbpfVersionError, match=r"token_fd.*LIBBPF_1\.4\.0"):
        FdProgram.load("socket_filter", ret(0), token_fd=0)


@pytest.mark.build(header_min=(1, 6))
def test_fd_array_cnt_binds_the_maps(maps: Callable[..., Map]) -> None:
    assert "program.load_raw.fd_array_cnt" in features
    bound, also, left = (maps(MapType.ARRAY, 4, 8, 1) for _ in range(3))
    try:
        prog = FdProgram.load("socket_filter", ret(0), fd_array=[bound, also.fd, left],
                              fd_array_cnt=2)
    except LibbpfError as exc:  # a kernel before 6.14 has no fd_array_cnt in its attr
        assert exc.errno == errno.EINVAL, exc
        pytest.xfail(f"this kernel refuses fd_array_cnt (6.14+): {exc}")
    with prog:
        ids = prog.info().map_ids
        assert bound.id in ids and also.id in ids
        assert left.id not in ids  # past fd_array_cnt
        assert prog.test_run(bytes(64)).retval == 0
    with FdProgram.load("socket_filter", ret(0), fd_array=[left], fd_array_cnt=True) as prog:
        assert prog.info().map_ids == (left.id,)


def test_features_registered() -> None:
    assert "program.load_raw" in features
    feature = features.registered["program.load_raw.fd_array_cnt"]
    assert feature.fields == (("bpf_prog_load_opts", "fd_array_cnt"),)
