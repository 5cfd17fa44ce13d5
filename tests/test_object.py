"""BpfObject, Program, Link and the libbpf log, on the real kernel."""

from __future__ import annotations

import array
import errno
import gc
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest
from conftest import Compile

import libbpf_py
from libbpf_py import BpfObject, Map
from libbpf_py.errors import (
    AlreadyLoadedError,
    ClosedError,
    LibbpfError,
    NotLoadedError,
    VerifierError,
)

pytestmark = pytest.mark.kernel


@pytest.fixture
def object_o(kernel: None, compile_bpf: Compile) -> Path:
    return compile_bpf("object")


def test_programs_and_maps_in_libbpf_order(object_o: Path) -> None:
    with BpfObject.open(object_o) as obj:
        assert obj.name == "object"
        assert list(obj.programs) == ["on_getpid", "xdp_count", "sock_filter"]
        assert obj.programs.on_getpid is obj.programs["on_getpid"]
        assert "stats" in obj.maps
        assert any(name.endswith(".bss") for name in obj.maps)
        prog = obj.programs["xdp_count"]
        assert prog.section == "xdp"
        assert prog.type.name == "XDP"
        assert prog.autoload is True
        with pytest.raises(KeyError, match="no program named 'nope'"):
            obj.programs["nope"]
        with pytest.raises(AttributeError):
            obj.programs.nope  # noqa: B018


def test_open_options_and_unknown_option(object_o: Path) -> None:
    with BpfObject.open(object_o, name="renamed", kernel_log_size=1 << 16) as obj:
        assert obj.name == "renamed"
    with pytest.raises(TypeError, match="unknown open option 'colour'"):
        BpfObject.open(object_o, colour="red")


@pytest.mark.build(header_max=(1, 3))
def test_open_option_newer_than_libbpf(object_o: Path) -> None:
    with pytest.raises(libbpf_py.LibbpfVersionError, match=r"bpf_token_path.*LIBBPF_1\.4\.0"):
        BpfObject.open(object_o, bpf_token_path="/sys/fs/bpf")


def test_open_mem_keeps_its_bytes(object_o: Path) -> None:
    data = bytearray(object_o.read_bytes())
    obj = BpfObject.open_mem(data, name="from_mem")
    data[:] = b"\0" * len(data)  # the caller's buffer may change: we copied it
    del data
    gc.collect()
    try:
        obj.programs["on_getpid"].autoload = True
        obj.load()
        assert obj.programs["on_getpid"].fd > 0
    finally:
        obj.close()


def test_load_attach_count_and_lifetimes(object_o: Path) -> None:
    obj = BpfObject.open(object_o)
    obj.programs["sock_filter"].autoload = False
    prog = obj.programs["on_getpid"]
    with pytest.raises(NotLoadedError):
        prog.fd  # noqa: B018
    obj.load()
    with pytest.raises(AlreadyLoadedError, match="autoload of program 'on_getpid' after load"):
        prog.autoload = False
    with pytest.raises(AlreadyLoadedError):
        obj.load()
    info = prog.info()
    assert info["id"] == prog.id > 0
    assert len(prog.tag) == 16 and prog.tag == info["tag"]
    assert prog.insn_count > 0
    with pytest.raises(NotLoadedError, match="sock_filter"):
        obj.programs["sock_filter"].fd  # noqa: B018
    with prog.attach() as link:
        assert link.info()["prog_id"] == prog.id
        for _ in range(7):
            os.getpid()
    assert link.closed
    link.destroy()  # idempotent
    obj.close()
    obj.close()  # idempotent
    assert obj.closed
    with pytest.raises(ClosedError):
        prog.fd  # noqa: B018
    with pytest.raises(ClosedError):
        obj.programs  # noqa: B018
    with pytest.raises(ClosedError):
        obj.load()


def test_link_keeps_object_alive(object_o: Path) -> None:
    obj = BpfObject.open(object_o)
    obj.programs["sock_filter"].autoload = False
    obj.load()
    link = obj.programs["on_getpid"].attach()
    del obj
    gc.collect()
    assert link.program is not None and not link.program.object.closed
    link.destroy()


def test_xdp_test_run(object_o: Path) -> None:
    with BpfObject.open(object_o) as obj:
        obj.programs["sock_filter"].autoload = False
        obj.load()
        packet = bytes(range(64))
        res = obj.programs["xdp_count"].test_run(packet, repeat=3)
        xdp_pass = 2
        assert res.retval == xdp_pass
        assert res.data_out == packet


def test_verifier_rejection_carries_the_log(kernel: None, compile_bpf: Compile) -> None:
    with BpfObject.open(compile_bpf("reject")) as obj:
        with pytest.raises(VerifierError) as err:
            obj.load()
    exc = err.value
    assert isinstance(exc, LibbpfError) and isinstance(exc, OSError)
    assert exc.program == "bad_deref"
    assert exc.errno > 0
    assert "invalid mem access" in exc.log
    assert "bad_deref" in str(exc)


def test_libbpf_messages_reach_logging(kernel: None, compile_bpf: Compile,
                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="libbpf_py")
    with BpfObject.open(compile_bpf("reject")) as obj, pytest.raises(VerifierError):
        obj.load()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    # the verifier log: one line at WARNING, the whole log at DEBUG (issue 16)
    assert any("'bad_deref': verifier log of" in r.getMessage() for r in warnings)
    assert not any("BEGIN PROG LOAD LOG" in r.getMessage() for r in warnings)
    assert any("BEGIN PROG LOAD LOG" in r.getMessage() for r in caplog.records
               if r.levelno == logging.DEBUG)


def test_bad_inputs(tmp_path: Path, kernel: None) -> None:
    with pytest.raises(FileNotFoundError):
        BpfObject.open(tmp_path / "missing.bpf.o")
    junk = tmp_path / "junk.o"
    junk.write_bytes(b"this is not an ELF file")
    with pytest.raises(LibbpfError):
        BpfObject.open(junk)
    with pytest.raises(TypeError):
        BpfObject.open_mem("not bytes")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        BpfObject.open_mem(b"")
    with pytest.raises(LibbpfError):
        BpfObject.open_mem(b"\x7fELF" + b"\0" * 60)
    with pytest.raises(ValueError, match="NUL"):
        BpfObject.open("a\0b")


def test_wrong_endianness_is_a_clear_error(tmp_path: Path, object_o: Path) -> None:
    data = bytearray(object_o.read_bytes())
    data[5] = 2  # EI_DATA: big-endian
    path = tmp_path / "be.o"
    path.write_bytes(bytes(data))
    with pytest.raises(LibbpfError):
        BpfObject.open(path)


def test_pin_by_name_reuse_and_incompatible(bpffs_dir: Path, compile_bpf: Compile) -> None:
    first = BpfObject.open(compile_bpf("pinned"), pin_root_path=str(bpffs_dir))
    first.load()
    pinned = bpffs_dir / "shared_counts"
    assert pinned.exists()
    first_id = first.maps["shared_counts"].info()["id"] \
        if hasattr(first.maps["shared_counts"], "info") else None
    second = BpfObject.open(compile_bpf("pinned"), pin_root_path=str(bpffs_dir))
    second.load()
    if first_id is not None:
        assert second.maps["shared_counts"].info()["id"] == first_id
    wide = BpfObject.open(compile_bpf("pinned_wide"), pin_root_path=str(bpffs_dir))
    with pytest.raises(LibbpfError) as err:
        wide.load()
    assert err.value.errno > 0
    wide.close()
    second.close()
    first.unpin_maps()
    first.close()
    assert not pinned.exists()


def test_object_pin_and_unpin(bpffs_dir: Path, object_o: Path) -> None:
    with BpfObject.open(object_o) as obj:
        obj.load()  # every program loaded: libbpf refuses to pin an unloaded one
        obj.pin(bpffs_dir / "obj")
        assert (bpffs_dir / "obj" / "stats").exists()
        assert (bpffs_dir / "obj" / "on_getpid").exists()
        obj.unpin(bpffs_dir / "obj")
        assert not (bpffs_dir / "obj" / "stats").exists()
    for leftover in (bpffs_dir / "obj").glob("*"):
        leftover.unlink()
    if (bpffs_dir / "obj").exists():
        (bpffs_dir / "obj").rmdir()


@pytest.mark.parametrize("method", ["pin", "pin_maps", "pin_programs"])
def test_object_pin_before_load_says_load_first(bpffs_dir: Path, object_o: Path,
                                                method: str) -> None:
    """libbpf refuses these before load with a bare ENOENT, which read as a missing
    directory: "cannot pin maps under '/sys/fs/bpf/x' ...: No such file or directory"."""
    with BpfObject.open(object_o) as obj:
        with pytest.raises(NotLoadedError, match=rf"^load\(\) BPF object 'object' before "
                                                 rf"{method}\(\)"):
            getattr(obj, method)(bpffs_dir)
    assert list(bpffs_dir.iterdir()) == []


def test_interpreter_exit_with_live_objects(object_o: Path) -> None:
    code = (
        "import os, libbpf_py\n"
        f"obj = libbpf_py.BpfObject.open({str(object_o)!r})\n"
        "obj.programs['sock_filter'].autoload = False\n"
        "obj.load()\n"
        "link = obj.programs['on_getpid'].attach()\n"
        "os.getpid()\n"
        "print('alive')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "alive"


def test_pin_outside_bpffs_and_pin_taken(bpffs_dir: Path, object_o: Path,
                                         tmp_path: Path) -> None:
    with BpfObject.open(object_o) as obj:
        obj.load()
        prog = obj.programs["on_getpid"]
        with pytest.raises(LibbpfError) as err:
            prog.pin(tmp_path / "not_bpffs")
        assert err.value.errno > 0
        prog.pin(bpffs_dir / "prog")
        with pytest.raises(FileExistsError):
            prog.pin(bpffs_dir / "prog")
        prog.unpin(bpffs_dir / "prog")
        assert not (bpffs_dir / "prog").exists()


def test_rodata_is_read_only_after_load(object_o: Path) -> None:
    with BpfObject.open(object_o) as obj:
        rodata = next(m for name, m in obj.maps.items() if name.endswith(".rodata"))
        image = bytearray(rodata.initial_value)
        image[:4] = (1).to_bytes(4, "little")  # xdp_verdict = XDP_DROP
        rodata.initial_value = bytes(image)
        obj.load()
        assert obj.programs["xdp_count"].test_run(bytes(64)).retval == 1
        with pytest.raises((LibbpfError, AlreadyLoadedError)):
            rodata[0] = bytes(image)
        with pytest.raises(AlreadyLoadedError):
            rodata.initial_value = bytes(image)


def test_var_of_a_section_not_created(object_o: Path) -> None:
    """A data section whose map was not created (autocreate off) has no fd after load:
    var() mapped fd -1, which mmap takes for an anonymous mapping, so the read gave 0
    (not the initial value) and set_var() wrote into memory no program ever sees."""
    with BpfObject.open(object_o) as obj:
        for prog in obj.programs.values():
            prog.autoload = False                  # nothing refers to the sections
        for name, m in obj.maps.items():
            if name.endswith((".bss", ".rodata")):
                m.autocreate = False
        obj.load()
        for var in ("getpid_calls", "xdp_verdict"):
            with pytest.raises(NotLoadedError, match="not created"):
                obj.var(var)
            with pytest.raises(NotLoadedError, match="not created"):
                obj.set_var(var, 1)


def test_map_not_created_has_no_fd_and_a_reused_one_has(object_o: Path) -> None:
    """A map with autocreate off: libbpf 1.4 and later keep the placeholder memfd they
    gave it at open as its fd after load (before: -1), so Map.fd handed out a file that
    is no map and lookup() failed with a bare EINVAL. With reuse_fd it is a real map."""
    with Map.create("array", 4, 8, 4, name="stats") as outside:
        outside[1] = 42
        for reuse in (False, True):
            with BpfObject.open(object_o) as obj:
                for prog in obj.programs.values():
                    prog.autoload = False
                stats = obj.maps["stats"]
                stats.autocreate = False
                if reuse:
                    stats.reuse_fd(outside)
                obj.load()
                if not reuse:
                    with pytest.raises(NotLoadedError, match="'stats' was not created"):
                        _ = stats.fd
                    with pytest.raises(NotLoadedError, match="'stats' was not created"):
                        stats.lookup(0)
                else:
                    assert stats.info().id == outside.info().id
                    assert stats[1] == 42


def test_var_of_a_section_shrunk_before_load(object_o: Path) -> None:
    """``.bss``'s value_size set below what its variables take (libbpf then creates the
    map without BTF): var() mapped the variables' 8 bytes over the 4-byte map, so
    set_var() of a u64 kept its high half past the map's value, where var() read it
    back whole while the map (and every program) held the low half only."""
    with BpfObject.open(object_o) as obj:
        bss = next(m for name, m in obj.maps.items() if name.endswith(".bss"))
        assert obj.var("getpid_calls") == 0
        bss.value_size = 4
        for prog in obj.programs.values():
            prog.autoload = False
        obj.load()
        for use in (lambda: obj.var("getpid_calls"),
                    lambda: obj.set_var("getpid_calls", 2 ** 64 - 1)):
            with pytest.raises(ValueError, match=r"8 bytes of variables .* 4 bytes"):
                use()
        assert bss[0] == 0


def _unprivileged(work: Callable[[], object]) -> str:
    """Run ``work`` in a forked child that dropped to nobody; the exception it raised.

    setuid() from root to an unprivileged user clears every capability, so
    the child is as unprivileged as a user's shell. Returns ``"<class>|<is a
    PermissionError>|<errno>|<message>"``, or ``"no error"``.
    """
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        result = "no error"
        try:
            os.close(rfd)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            try:
                work()
            except Exception as exc:
                result = (f"{type(exc).__name__}|{isinstance(exc, PermissionError)}|"
                          f"{getattr(exc, 'errno', None)}|{exc}")
        except BaseException as exc:  # pragma: no cover - reported to the parent
            result = f"child setup failed: {exc!r}"
        finally:
            os.write(wfd, result.encode())
            os._exit(0)
    os.close(wfd)
    with os.fdopen(rfd, "rb") as pipe:
        out = pipe.read().decode()
    os.waitpid(pid, 0)
    return out


def test_missing_privilege_is_a_permission_error(object_o: Path) -> None:
    """Without CAP_BPF, load and map creation raise PermissionError saying what to do."""
    from libbpf_py import Map, MapType

    obj = BpfObject.open(object_o)  # reading the ELF needs no privilege
    try:
        out = _unprivileged(obj.load)
    finally:
        obj.close()
    kind, is_perm, err, message = out.split("|", 3)
    assert (kind, is_perm, err) == ("LibbpfPermissionError", "True", "1"), out
    assert "neither CAP_SYS_ADMIN nor CAP_BPF and CAP_PERFMON" in message
    assert "Couldn't load trivial BPF program" in message and "run it as root" in message
    out = _unprivileged(lambda: Map.create(MapType.HASH, 4, 4, 1))
    kind, is_perm, err, message = out.split("|", 3)
    assert (kind, is_perm, err) == ("LibbpfPermissionError", "True", "1"), out
    assert "cannot create HASH map" in message and "grant it CAP_BPF" in message


# -- test_run sizes (issue 14): the buffer the kernel writes is exactly the size it is told -


def _run_child(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=60)


_TEST_RUN_CHILD = """
import sys
from libbpf_py import BpfObject
with BpfObject.open(sys.argv[1]) as obj:
    obj.programs["sock_filter"].autoload = False
    obj.load()
    prog = obj.programs["xdp_count"]
    for i in range(50):  # one overflow may land in slack; fifty reach the heap's checks
        res = prog.test_run(bytes(range(256)) * 16, data_out_size=0)
        assert res.data_out == b"", res.data_out[:16]
print("ok")
"""


def test_test_run_out_size_zero_does_not_overflow(object_o: Path) -> None:
    # the kernel reads data_size_out == 0 as "no limit": a 1-byte buffer with size 0
    # got the whole 4 KiB packet copied over the heap (exit 139 / "invalid next size")
    proc = _run_child(_TEST_RUN_CHILD, str(object_o))
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", (proc.returncode, proc.stderr)


def test_test_run_sizes(object_o: Path) -> None:
    with BpfObject.open(object_o) as obj:
        obj.programs["sock_filter"].autoload = False
        obj.load()
        prog = obj.programs["xdp_count"]
        packet = bytes(range(64))
        assert prog.test_run(packet).data_out == packet
        assert prog.test_run(packet, data_out_size=0).data_out == b""
        assert prog.test_run(packet, data_out_size=100).data_out == packet
        with pytest.raises(LibbpfError) as err:
            prog.test_run(packet, data_out_size=10)  # too small: the kernel says ENOSPC
        assert err.value.errno == 28
        for bad in (-1, 2**32, 2**64):
            with pytest.raises(ValueError, match="data_out_size"):
                prog.test_run(packet, data_out_size=bad)
            with pytest.raises(ValueError, match="ctx_out_size"):
                prog.test_run(packet, ctx_out_size=bad)
        for name, bad in (("repeat", 2**33), ("repeat", -1), ("repeat", 2**31),
                          ("flags", 2**32), ("flags", -1), ("cpu", 2**32), ("cpu", -5)):
            with pytest.raises(ValueError, match=name):
                prog.test_run(packet, **{name: bad})
        for name in ("repeat", "flags", "cpu", "data_out_size", "ctx_out_size"):
            with pytest.raises(TypeError, match=name):
                prog.test_run(packet, **{name: "1"})
            with pytest.raises(TypeError, match=name):
                prog.test_run(packet, **{name: 1.0})
        # inputs are measured in bytes: a memoryview of 4-byte items (len() 16 for 64
        # bytes) got a 16-byte output buffer and ENOSPC; a view that is not contiguous
        # was cffi's BufferError, a str cffi's TypeError naming no argument
        words = memoryview(array.array("I", range(16)))
        assert prog.test_run(words).data_out == words.tobytes()
        strided = memoryview(packet * 2)[::2]
        assert prog.test_run(strided).data_out == strided.tobytes()
        for bad in ("x" * 64, 64, [0] * 64):
            with pytest.raises(TypeError, match=r"^data must be a bytes-like object"):
                prog.test_run(bad)  # type: ignore[arg-type]
            with pytest.raises(TypeError, match=r"^ctx must be a bytes-like object"):
                prog.test_run(packet, ctx=bad)  # type: ignore[arg-type]


def test_opening_a_directory_says_so(kernel: None, tmp_path: Path) -> None:
    # libbpf answers elf_begin's failure on a directory with LIBBPF_ERRNO 4000,
    # "Something wrong in libelf", which was all the error said
    with pytest.raises(libbpf_py.LibbpfError, match=r"is a directory, not a BPF ELF object "
                                                    r"file \[EISDIR\]") as info:
        BpfObject.open(tmp_path)
    assert info.value.errno == errno.EISDIR


def test_misspelt_attribute_raises(object_o: Path) -> None:
    # BpfObject had an instance __dict__: `obj.autoload_all = False` (or a misspelt
    # private name) was stored there without a word and libbpf never saw it
    with BpfObject.open(object_o) as obj:
        with pytest.raises(AttributeError, match="autoload_all"):
            obj.autoload_all = False  # type: ignore[attr-defined]
        with pytest.raises(AttributeError, match="_laoded"):
            obj._laoded = True  # type: ignore[attr-defined]
        prog = obj.programs.xdp_count
        with pytest.raises(AttributeError, match="autolaod"):
            prog.autolaod = False  # type: ignore[attr-defined]
        prog.autoload = False
        obj.load()
        assert obj.loaded and not prog.autoload
        with pytest.raises(NotLoadedError, match="autoload off"):
            prog.fd  # noqa: B018

    class Traced(BpfObject):  # a user's subclass without __slots__ may add attributes
        note = ""

    with Traced.open(object_o) as mine:
        assert isinstance(mine, Traced)
        mine.note = "mine"
        mine.extra = 1  # type: ignore[attr-defined]
        assert mine.note == "mine" and mine.programs
