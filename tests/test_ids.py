"""Issue 16, points 5, 6 and 8: the kernel's objects by id, by pin, read-only; attaching
a whole object; the package docstring as a map of the API.

Everything runs against the real kernel (tests/bpf/ids.bpf.c). Other processes load and
free BPF objects at the same time, so the tests only ever look for their own ids in the
kernel's lists, never at the lists as a whole.
"""

from __future__ import annotations

import errno
import gc
import os
import pydoc
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator, Set

import pytest
from conftest import Compile, NetNs

import libbpf_py
from libbpf_py import (
    BpfObject,
    Btf,
    BtfKind,
    FdLink,
    FdProgram,
    Link,
    LinkType,
    Map,
    MapType,
    Program,
    ProgType,
    btf_ids,
    link_ids,
    map_ids,
    prog_ids,
)
from libbpf_py.errors import (
    AlreadyLoadedError,
    ClosedError,
    LibbpfError,
    LibbpfNotFoundError,
    LibbpfPermissionError,
    NotLoadedError,
)

C_TP, C_RAW_TP, C_OFF, C_XDP = range(4)  # slots of ids_counts in tests/bpf/ids.bpf.c
MISSING = 0xFFFFFFF0  # an id no kernel hands out in a test run


@pytest.fixture
def ids_obj(kernel: None, compile_bpf: Compile) -> Iterator[BpfObject]:
    """tests/bpf/ids.bpf.c loaded, counting for this process; the failing program off."""
    with BpfObject.open(compile_bpf("ids")) as obj:
        obj.set_var("target_tgid", os.getpid())
        obj.programs.ids_missing_tp.autoload = False
        obj.load()
        yield obj


def _wait_gone(ids: Callable[[], Iterator[int]], obj_id: int) -> None:
    """Wait until the kernel frees object ``obj_id`` (it does so after an RCU grace period)."""
    deadline = time.monotonic() + 5
    while obj_id in set(ids()):
        assert time.monotonic() < deadline, f"id {obj_id} still in the kernel"
        time.sleep(0.05)


# -- point 5: walking the kernel's objects, opening them by id ----------------------------------

def test_the_walks_list_this_objects_ids(ids_obj: BpfObject) -> None:
    links = ids_obj.attach()
    try:
        progs = {p.id for p in ids_obj.programs.values() if p.autoload}
        maps = {m.id for m in ids_obj.maps.values()}
        linked = {link.id for link in links.values()}
        btfs = {p.info().btf_id for p in ids_obj.programs.values() if p.autoload}
        assert len(progs) == 6 and len(linked) == 3 and len(btfs) == 1 and 0 not in btfs
        for walk, mine in ((prog_ids, progs), (map_ids, maps), (link_ids, linked),
                           (btf_ids, btfs)):
            seen = list(walk())
            assert seen == sorted(seen) and len(seen) == len(set(seen)), walk.__name__
            assert mine <= set(seen), walk.__name__
    finally:
        for link in links.values():
            link.destroy()


def test_from_id_opens_what_info_describes(ids_obj: BpfObject) -> None:
    links = ids_obj.attach()
    try:
        for prog in ids_obj.programs.values():
            if not prog.autoload:
                continue
            with Program.from_id(prog.id) as again:
                assert isinstance(again, FdProgram) and isinstance(again, Program)
                info, mine = again.info(), prog.info()
                assert (info.id, info.name, info.type, info.tag) == (
                    mine.id, prog.name[:15], prog.type, prog.tag)
                assert (again.id, again.name, again.type, again.tag) == (
                    prog.id, prog.name[:15], prog.type, prog.tag)
                assert again.fd != prog.fd
        for m in ids_obj.maps.values():
            with Map.from_id(m.id) as again_m:
                assert (again_m.info().name, again_m.type, again_m.id) == (
                    m.info().name, m.type, m.id)
        counts = ids_obj.maps.ids_counts
        assert counts.type == MapType.ARRAY
        for name, link in links.items():
            with Link.from_id(link.id) as again_l:
                assert isinstance(again_l, FdLink)
                info_l = again_l.info()
                assert (info_l.id, info_l.type, info_l.prog_id) == (
                    link.id, link.info().type, ids_obj.programs[name].id)
                assert again_l.program is None and again_l.pin_path is None
        raw = Link.from_id(links["ids_raw_tp"].id)
        assert raw.info().type == LinkType.RAW_TRACEPOINT and raw.info()["tp_name"] == "sys_enter"
        raw.destroy()
        btf_id = ids_obj.programs.ids_tp.info().btf_id
        with Btf.from_id(btf_id) as btf:
            func = btf.find("ids_tp", BtfKind.FUNC)
            assert func is not None and func.name == "ids_tp"
            assert btf.find("ids_xdp", BtfKind.FUNC) is not None
            assert f"btf id {btf_id}" in repr(btf)
    finally:
        for link in links.values():
            link.destroy()


def test_btf_from_id_of_the_kernels_own_btf(kernel: None) -> None:
    """vmlinux's BTF is among the kernel's BTF objects (with id 1 on every kernel so far);
    opened by id it reads as the file /sys/kernel/btf/vmlinux does."""
    with Btf.load_vmlinux() as file_btf:
        want = len(file_btf)
        task = file_btf.find("task_struct", BtfKind.STRUCT)
        assert task is not None
    for btf_id in btf_ids():
        with Btf.from_id(btf_id) as btf:
            if "(vmlinux)" in repr(btf):
                assert len(btf) == want
                found = btf.find("task_struct", BtfKind.STRUCT)
                assert found is not None and found.id == task.id
                return
    pytest.fail("no BTF object named vmlinux among btf_ids()")


@pytest.mark.parametrize("opener", [Program.from_id, Map.from_id, Link.from_id, Btf.from_id],
                         ids=["Program", "Map", "Link", "Btf"])
def test_a_missing_id_is_named(kernel: None, opener: Callable[[int], object]) -> None:
    noun = {Program.from_id: "program", Map.from_id: "map", Link.from_id: "link",
            Btf.from_id: "BTF"}[opener]
    with pytest.raises(LibbpfNotFoundError) as caught:
        opener(MISSING)
    assert caught.value.errno == errno.ENOENT
    assert isinstance(caught.value, FileNotFoundError)
    assert f"no {noun} with id {MISSING} in the kernel" in str(caught.value)
    with pytest.raises(ValueError, match="does not fit an unsigned 32-bit int"):
        opener(2**40)
    with pytest.raises(TypeError):
        opener("1")  # type: ignore[arg-type]


def test_fd_program_owns_its_fd(ids_obj: BpfObject) -> None:
    prog = ids_obj.programs.ids_xdp
    prog_id = prog.id
    fdp = Program.from_id(prog_id)
    fd = fdp.fd
    os.fstat(fd)
    assert "FdProgram 'ids_xdp'" in repr(fdp) and "XDP" in repr(fdp)
    # the kernel's facts, and a test run, work without the object
    assert fdp.type == ProgType.XDP and fdp.ifindex == 0
    result = fdp.test_run(b"\0" * 64)
    assert result.retval == 2  # XDP_PASS
    assert int(ids_obj.maps.ids_counts[C_XDP]) == 1
    # what needs libbpf's struct bpf_program is refused, clearly
    for attr in ("section", "object", "autoload", "autoattach", "log_level", "flags",
                 "expected_attach_type", "insn_count"):
        with pytest.raises(TypeError, match="needs a program of a BpfObject"):
            getattr(fdp, attr)
    with pytest.raises(TypeError, match="needs a program of a BpfObject"):
        fdp.log_buffer()
    with pytest.raises(TypeError, match="needs a program of a BpfObject"):
        fdp.attach()
    with pytest.raises(TypeError, match="needs a program of a BpfObject"):
        fdp.attach_xdp(1)
    for attr in ("autoload", "type", "log_level", "flags"):
        with pytest.raises(AlreadyLoadedError, match="loaded already"):
            setattr(fdp, attr, 0)
    with pytest.raises(AlreadyLoadedError):
        fdp.set_ifindex(1)
    # it keeps the program alive after its object is gone, and lets go when closed
    ids_obj.close()
    gc.collect()
    assert prog_id in set(prog_ids())
    assert fdp.info().name == "ids_xdp"
    fdp.close()
    fdp.close()  # idempotent
    assert fdp.closed and "closed" in repr(fdp)
    with pytest.raises(OSError) as caught:
        os.fstat(fd)
    assert caught.value.errno == errno.EBADF
    for use in (lambda: fdp.fd, fdp.info, lambda: fdp.test_run(b"\0" * 64)):
        with pytest.raises(ClosedError):
            use()
    _wait_gone(prog_ids, prog_id)
    with pytest.raises(LibbpfNotFoundError):
        Program.from_id(prog_id)


def test_from_fd_duplicates_and_checks_the_kind(ids_obj: BpfObject) -> None:
    prog = ids_obj.programs.ids_tp
    with Program.from_fd(prog.fd) as p:
        assert p.id == prog.id and p.fd != prog.fd
    os.fstat(prog.fd)  # the caller's fd stays open
    with prog.attach() as link:
        with Link.from_fd(link.fd) as again:
            assert again.id == link.id and again.fd != link.fd
        os.fstat(link.fd)
        with pytest.raises(LibbpfError, match="not a BPF link: it is a BPF program"):
            Link.from_fd(prog.fd)
    with pytest.raises(LibbpfError, match="not a BPF program: it is a BPF map"):
        Program.from_fd(ids_obj.maps.ids_counts.fd)
    r, w = os.pipe()
    try:
        with pytest.raises(LibbpfError, match="not a BPF program: it is a pipe") as caught:
            Program.from_fd(r)
        assert caught.value.errno == errno.EINVAL
        os.fstat(r)
    finally:
        os.close(r)
        os.close(w)


def test_program_unpin_removes_only_a_pin_of_this_program(ids_obj: BpfObject,
                                                         bpffs_dir: Path) -> None:
    """``Program.unpin(path)`` (libbpf's unlink) and ``FdProgram.unpin(path)``
    (os.unlink) removed whatever was at ``path`` on bpffs: another program's pin, or
    a map's. They now remove a pin of their program only, as ``Map.unpin`` does."""
    prog, other = ids_obj.programs.ids_tp, ids_obj.programs.ids_raw_tp
    other.pin(bpffs_dir / "other")
    ids_obj.maps.ids_counts.pin(bpffs_dir / "map")
    with Program.from_pinned(bpffs_dir / "other") as fd_other:
        prog.pin(bpffs_dir / "mine")
        with Program.from_pinned(bpffs_dir / "mine") as fd_prog:
            for unpin in (prog.unpin, fd_prog.unpin):
                with pytest.raises(LibbpfError, match=rf"pins program id {other.id}, not "
                                                      "this program") as caught:
                    unpin(bpffs_dir / "other")
                assert caught.value.errno == errno.EINVAL
                with pytest.raises(LibbpfError, match="not a pin of a BPF program: nothing "
                                                      "removed"):
                    unpin(bpffs_dir / "map")
                with pytest.raises(LibbpfNotFoundError):
                    unpin(bpffs_dir / "absent")
            assert (bpffs_dir / "other").exists() and (bpffs_dir / "map").exists()
            fd_prog.unpin(bpffs_dir / "mine")
            assert not (bpffs_dir / "mine").exists()
        prog.pin(bpffs_dir / "mine")
        prog.unpin(bpffs_dir / "mine")
        assert not (bpffs_dir / "mine").exists()
        fd_other.unpin(bpffs_dir / "other")
    assert not (bpffs_dir / "other").exists()
    ids_obj.maps.ids_counts.unpin(bpffs_dir / "map")


def test_from_pinned_program_and_link(ids_obj: BpfObject, bpffs_dir: Path) -> None:
    prog = ids_obj.programs.ids_tp
    prog.pin(bpffs_dir / "prog")
    with Program.from_pinned(bpffs_dir / "prog") as p:
        assert isinstance(p, FdProgram) and p.id == prog.id and p.name == "ids_tp"
        p.pin(bpffs_dir / "prog2")
        p.unpin(bpffs_dir / "prog2")
    assert not (bpffs_dir / "prog2").exists()
    prog.unpin(bpffs_dir / "prog")
    ids_obj.maps.ids_counts.pin(bpffs_dir / "map")
    with pytest.raises(LibbpfError, match="not a BPF program: it is a BPF map") as caught:
        Program.from_pinned(bpffs_dir / "map")
    assert caught.value.errno == errno.EINVAL
    with pytest.raises(LibbpfError, match="not a BPF link: it is a BPF map"):
        Link.from_pinned(bpffs_dir / "map")
    # Link.open (bpf_link__open) too: libbpf opens any pin, and the Link it made of a
    # map's fd read the map's info as a link's (a "raw_tracepoint" link with the map's id)
    fds = len(os.listdir("/proc/self/fd"))
    with pytest.raises(LibbpfError, match="not a BPF link: it is a BPF map") as caught:
        Link.open(bpffs_dir / "map")
    assert caught.value.errno == errno.EINVAL
    assert len(os.listdir("/proc/self/fd")) == fds  # the fd libbpf opened is closed
    prog.pin(bpffs_dir / "prog")
    with pytest.raises(LibbpfError, match="not a BPF map: it is a BPF program"):
        Map.from_pinned(bpffs_dir / "prog")
    with pytest.raises(LibbpfNotFoundError):
        Program.from_pinned(bpffs_dir / "nothing")

    link = prog.attach()
    link_id = link.id
    link.pin(str(bpffs_dir / "link"))
    link.destroy()  # pinned: stays attached
    with Link.from_pinned(bpffs_dir / "link") as again:
        assert isinstance(again, FdLink) and again.id == link_id
        assert again.pin_path == str(bpffs_dir / "link")
        assert again.info().prog_id == prog.id
    assert link_id in set(link_ids())  # closing our fd leaves the pinned link
    before = int(ids_obj.maps.ids_counts[C_TP])
    os.getppid()
    assert int(ids_obj.maps.ids_counts[C_TP]) == before + 1
    again = Link.from_pinned(bpffs_dir / "link")
    again.unpin()
    again.destroy()
    assert not (bpffs_dir / "link").exists()
    _wait_gone(link_ids, link_id)


def test_links_take_an_fd_program(kernel: None, compile_bpf: Compile, veth: NetNs) -> None:
    """update_program() with a program opened by id, on a libbpf link and on an FdLink."""
    path = compile_bpf("ids")
    with BpfObject.open(path) as first, BpfObject.open(path) as second:
        for obj in (first, second):
            obj.programs.ids_missing_tp.autoload = False
            obj.load()
        vb = veth.ifindex("vb")
        with veth.entered():
            link = first.programs.ids_xdp.attach_xdp(vb)
        with link, Program.from_id(second.programs.ids_xdp.id) as other:
            veth.send_frames("va", 2)
            assert int(first.maps.ids_counts[C_XDP]) == 2
            link.update_program(other)
            assert link.program is other and link.info().prog_id == other.id
            veth.send_frames("va", 3)
            assert int(second.maps.ids_counts[C_XDP]) == 3
            with Link.from_id(link.id) as again:
                again.update_program(first.programs.ids_xdp)
                again.update_program(other)
                again.update_program(first.programs.ids_xdp)
            veth.send_frames("va", 1)
            assert int(first.maps.ids_counts[C_XDP]) == 3
            assert int(second.maps.ids_counts[C_XDP]) == 3


# -- point 5: a pinned map opened read-only -----------------------------------------------------

def test_map_from_pinned_read_only(ids_obj: BpfObject, bpffs_dir: Path) -> None:
    counts = ids_obj.maps.ids_counts
    counts[C_OFF] = 42
    path = bpffs_dir / "counts"
    counts.pin(path)
    os.chmod(path, 0o644)
    with Map.from_pinned(path, read_only=True) as ro:
        assert ro.id == counts.id
        assert int(ro[C_OFF]) == 42 and int(ro.lookup(C_OFF)) == 42
        assert len(list(ro.items())) == 8
        for write in (lambda: ro.__setitem__(C_OFF, 1), lambda: ro.update(C_OFF, 1),
                      lambda: ro.update_batch({C_OFF: 1})):
            with pytest.raises(LibbpfPermissionError, match="opened read-only") as caught:
                write()
            assert caught.value.errno == errno.EPERM
    assert int(counts[C_OFF]) == 42
    with Map.from_pinned(path) as rw:  # the default still writes
        rw[C_OFF] = 43
    assert int(counts[C_OFF]) == 43


_CHILD = """
import errno, os, sys
import libbpf_py
from libbpf_py import Map
path, slot = sys.argv[1], int(sys.argv[2])
os.setgroups([])
os.setgid(65534)
os.setuid(65534)  # nobody: no capability left
try:
    Map.from_pinned(path)
    print("default: opened")
except libbpf_py.LibbpfError as exc:
    print("default:", errno.errorcode[exc.errno])
with Map.from_pinned(path, read_only=True) as m:
    print("read_only:", int(m[slot]))
    try:
        m[slot] = 0
        print("write: done")
    except libbpf_py.LibbpfError as exc:
        print("write:", errno.errorcode[exc.errno])
"""


def test_map_from_pinned_read_only_as_another_user(ids_obj: BpfObject, bpffs_dir: Path) -> None:
    """A 0644 pin of root's map: user nobody gets EACCES by default (BPF_OBJ_GET asks for
    read and write), reads it with read_only=True, and cannot write through it."""
    counts = ids_obj.maps.ids_counts
    counts[C_OFF] = 7
    path = bpffs_dir / "counts"
    counts.pin(path)
    os.chmod(path, 0o644)
    os.chmod(bpffs_dir, 0o755)  # mkdtemp made it 0700
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(path), str(C_OFF)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:3] == ["default: EACCES", "read_only: 7", "write: EPERM"], \
        proc.stdout + proc.stderr
    assert int(counts[C_OFF]) == 7


# -- point 6: BpfObject.attach ------------------------------------------------------------------

def test_attach_attaches_what_sec_says_and_skips_the_rest(kernel: None,
                                                          compile_bpf: Compile) -> None:
    with BpfObject.open(compile_bpf("ids")) as obj:
        obj.set_var("target_tgid", os.getpid())
        obj.programs.ids_missing_tp.autoload = False
        obj.programs.ids_tp_off.autoattach = False
        with pytest.raises(NotLoadedError, match="before attach"):
            obj.attach()
        obj.load()
        counts = obj.maps.ids_counts
        links = obj.attach()
        assert sorted(links) == ["ids_raw_tp", "ids_tp"]  # xdp, kprobe, uprobe: no target
        assert all(isinstance(link, Link) for link in links.values())
        assert links["ids_tp"].program is obj.programs.ids_tp
        assert links["ids_raw_tp"].info().type == LinkType.RAW_TRACEPOINT
        for _ in range(3):
            os.getppid()
        assert int(counts[C_TP]) == 3
        assert int(counts[C_RAW_TP]) >= 3  # every syscall of this process
        assert int(counts[C_OFF]) == 0  # autoattach off
        for link in links.values():
            link.destroy()
        os.getppid()
        assert int(counts[C_TP]) == 3
        # the links are the caller's: once destroyed, attach() attaches again
        links = obj.attach()
        os.getppid()
        assert int(counts[C_TP]) == 4
        for link in links.values():
            link.destroy()


def _links_of(prog_ids_: Set[int]) -> Set[int]:
    out = set()
    for link_id in link_ids():
        try:
            with Link.from_id(link_id) as link:
                if link.info().prog_id in prog_ids_:
                    out.add(link_id)
        except LibbpfNotFoundError:  # freed meanwhile (another process's)
            pass
    return out


def test_attach_failure_destroys_the_links_made(kernel: None, compile_bpf: Compile) -> None:
    with BpfObject.open(compile_bpf("ids")) as obj:
        names = list(obj.programs)
        assert names.index("ids_missing_tp") > names.index("ids_tp")  # attached after it
        obj.set_var("target_tgid", os.getpid())
        obj.load()
        mine = {p.id for p in obj.programs.values()}
        with pytest.raises(LibbpfError) as caught:
            obj.attach()
        assert caught.value.errno == errno.ENOENT
        assert "ids_missing_tp" in str(caught.value)
        gc.collect()
        assert _links_of(mine) == set()
        os.getppid()
        assert int(obj.maps.ids_counts[C_TP]) == 0


# -- point 8: help(libbpf_py) ---------------------------------------------------------------------

def test_package_docstring_is_a_map_of_the_api() -> None:
    doc = libbpf_py.__doc__ or ""
    public = [name for name in libbpf_py.__all__ if not name.startswith("_")]
    classes = [n for n in public if isinstance(getattr(libbpf_py, n), type)]
    functions = [n for n in public if callable(getattr(libbpf_py, n)) and n not in classes]
    assert len(classes) > 30 and {"prog_ids", "build_info", "probe"} <= set(functions)
    missing = [n for n in classes + functions if not re.search(rf"(?<![\w.]){n}\b", doc)]
    assert missing == [], f"the package docstring does not name {missing}"
    for topic in ("Objects", "Maps", "Links", "Events", "BTF", "Skeletons", "probe",
                  "linkcheck", "hist", "python -m libbpf_py", "Errors", "Example"):
        assert topic in doc, topic
    text = pydoc.render_doc(libbpf_py, renderer=pydoc.plaintext)
    assert "obj.attach()" in text and "Program.from_id()" in text
