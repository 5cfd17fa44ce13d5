"""libbpf_py._info: ProgramInfo, MapInfo, LinkInfo, and the link union's offset table."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Callable, ContextManager, Dict, Iterator, List

import pytest
from conftest import Compile

import libbpf_py
from libbpf_py import BpfObject, LinkInfo, LinkType, MapInfo, MapType, ProgramInfo, ProgType, _info
from libbpf_py._binding import BUILD, ffi, lib
from libbpf_py.enums import _LATER_NAMES
from libbpf_py.errors import LibbpfError

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def loaded(kernel: None, compile_bpf: Compile) -> Iterator[BpfObject]:
    """tests/bpf/object.bpf.c loaded (but its socket filter)."""
    with BpfObject.open(compile_bpf("object")) as obj:
        obj.programs["sock_filter"].autoload = False
        obj.load()
        yield obj


# -- on real kernel objects ---------------------------------------------------------------------

def test_program_info(loaded: BpfObject) -> None:
    prog = loaded.programs["xdp_count"]
    info = prog.info()
    assert isinstance(info, ProgramInfo)
    assert info.type == ProgType.XDP and isinstance(info.type, ProgType)
    assert info.id == prog.id > 0 and info.tag == prog.tag and len(info.tag) == 16
    assert info.name == "xdp_count"
    assert info.created_by_uid == os.getuid() and info.load_time > 0
    assert info.xlated_prog_len > 0 and info.verified_insns > 0
    # it uses the stats map and .rodata (xdp_verdict)
    assert info.nr_map_ids == len(info.map_ids) >= 2
    assert loaded.maps["stats"].id in info.map_ids
    # read like the dict Program.info() used to be
    assert info["id"] == info.id and info["tag"] == info.tag and info["type"] == info.type
    assert "btf_id" in info and "nope" not in info and info.get("nope", 7) == 7
    assert list(info) == list(info.keys()) == [f.name for f in dataclasses.fields(info)]
    assert info.as_dict()["name"] == "xdp_count" and len(info) == len(info.as_dict())
    with pytest.raises(KeyError):
        info["nope"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.id = 1  # type: ignore[misc]


def test_map_info(loaded: BpfObject) -> None:
    stats = loaded.maps["stats"]
    info = stats.info()
    assert isinstance(info, MapInfo) and libbpf_py.map.MapInfo is MapInfo
    assert (info.type, info.name, info.key_size, info.value_size, info.max_entries) == \
        (MapType.ARRAY, "stats", 4, 8, 4)
    assert info.id == stats.id and info["id"] == stats.id and info.btf_id > 0
    assert "max_entries" in info and info.get("max_entries") == 4


def test_info_of_a_fd_that_is_no_bpf_object_is_a_libbpf_error() -> None:
    r, w = os.pipe()
    try:
        with pytest.raises(LibbpfError, match=r"cannot tell \(bpf_map_get_info_by_fd|"
                                              r"cannot tell \(bpf_obj_get_info_by_fd"):
            _info.map_info(r, "cannot tell")
    finally:
        os.close(r)
        os.close(w)


LoadAttach = Callable[..., ContextManager[BpfObject]]


def test_link_info(load_attach: LoadAttach) -> None:
    with load_attach("on_raw_tp") as obj:
        prog = obj.programs.on_raw_tp
        with prog.attach_raw_tracepoint("sys_enter") as link:
            info = link.info()
            assert isinstance(info, LinkInfo)
            assert info.type == LinkType.RAW_TRACEPOINT and info.type_name == "raw_tracepoint"
            assert info.id == link.id > 0 and info.prog_id == prog.id
            assert info.details == {"tp_name": "sys_enter"} and info["tp_name"] == "sys_enter"
            assert info.as_dict() == {"type": LinkType.RAW_TRACEPOINT,
                                      "type_name": "raw_tracepoint", "id": info.id,
                                      "prog_id": prog.id, "tp_name": "sys_enter"}
            assert list(info) == ["type", "type_name", "id", "prog_id", "tp_name"]
            assert "details" not in info and info.get("ifindex") is None
            with pytest.raises(KeyError):
                info["ifindex"]
            with pytest.raises(TypeError):
                info.details["tp_name"] = "x"  # type: ignore[index]


def test_link_info_agrees_with_link_show(load_attach: LoadAttach, cgroup2: Path) -> None:
    """A cgroup link (a union member cffi declares) as Link.info() and `link show` see it."""
    from libbpf_py.cli import link_record

    with load_attach("on_sock_create") as obj:
        with obj.programs.on_sock_create.attach_cgroup(cgroup2) as link:
            info = link.info()
            assert info.type_name == "cgroup" and info["cgroup_id"] == os.stat(cgroup2).st_ino
            record = link_record(link.fd)
            assert record["cgroup_id"] == info["cgroup_id"] and record["id"] == info.id
            assert record["attach_type"] == "cgroup_inet_sock_create"


def test_link_info_read_from_the_table(load_attach: LoadAttach) -> None:
    """An iterator link: its target name is a union member cffi does not declare."""
    with load_attach("on_iter_task") as obj:
        with obj.programs.on_iter_task.attach_iter() as link:
            info = link.info()
            assert (info.type, info.type_name) == (LinkType.ITER, "iter")
            assert info.details == {"target_name": "task"}


# -- the table of link union offsets ------------------------------------------------------------

def test_the_table_holds_only_what_cffi_does_not_declare() -> None:
    declared = {name for name, _ in ffi.typeof("struct bpf_link_info").fields}
    assert {"raw_tracepoint", "tracing", "cgroup", "netns", "xdp"} <= declared
    for path in _info.LINK_UNION_FIELDS:
        assert path.split(".")[0] not in declared, path
    # the union starts where the header puts it
    assert ffi.offsetof("struct bpf_link_info", "raw_tracepoint") == 16
    assert ffi.offsetof("struct bpf_link_info", "xdp") == 16


def test_the_table_decodes_in_the_machine_s_byte_order() -> None:
    """Fields at the offsets of members cffi declares read back through cffi."""
    buf = _info._LinkBuffer()
    buf.set("tcx.ifindex", 0x01020304)
    buf.set("sockmap.attach_type", 0x0A0B0C0D)
    assert buf.info.netns.netns_ino == 0x01020304 == buf.get("netkit.ifindex")
    assert buf.info.netns.attach_type == 0x0A0B0C0D
    buf.set("iter.target_name", 0x1122334455667788)
    assert buf.info.raw_tracepoint.tp_name == 0x1122334455667788
    buf.set("netfilter.priority", -5)
    assert buf.get("netfilter.priority") == -5
    assert buf.info.tracing.target_btf_id == 0xFFFFFFFB  # same bytes, unsigned


def _headers() -> List[List[str]]:
    """Include paths under which <linux/bpf.h> is a UAPI header to check against: the
    build's own first, then any newer one at hand (vendored libbpf source trees)."""
    out = [[f"-I{BUILD.include_dir}"]]
    for uapi in sorted((ROOT / "vendor" / "build").glob("src/libbpf-*/include/uapi")):
        out.append([f"-I{uapi}"])
    return out


def _compile_asserts(flags: List[str], asserts: List[str]) -> str:
    """Compile static assertions with <linux/bpf.h>; '' when they hold, else cc's errors."""
    src = "#include <stddef.h>\n#include <linux/bpf.h>\n" + "".join(
        f'_Static_assert({a}, "{a}");\n' for a in asserts)
    proc = subprocess.run(["cc", "-fsyntax-only", "-x", "c", "-", *flags], input=src,
                          capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"})
    return "" if proc.returncode == 0 else proc.stderr


def _c_type(fmt: str) -> str:
    return {"I": "__u32", "i": "__s32", "Q": "__u64"}[fmt]


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
def test_the_table_matches_every_header_at_hand() -> None:
    """Each member of LINK_UNION_FIELDS against each <linux/bpf.h> that has it; a header
    without the member (Linux 6.1's has no tcx) is no failure, a wrong offset is."""
    groups: Dict[str, List[str]] = {}
    for path, (off, fmt) in _info.LINK_UNION_FIELDS.items():
        where = f"offsetof(struct bpf_link_info, {path})"
        groups.setdefault(path.split(".")[0], []).extend([
            f"{where} - offsetof(struct bpf_link_info, raw_tracepoint) == {off}",
            f"sizeof(((struct bpf_link_info *)0)->{path}) == sizeof({_c_type(fmt)})",
            f"(({_c_type(fmt)})-1 < 0) == "
            f"(((__typeof__(((struct bpf_link_info *)0)->{path}))-1) < 0)"])
    checked: Dict[str, int] = {}
    for flags in _headers():
        for member, asserts in groups.items():
            err = _compile_asserts(flags, asserts)
            if "has no member named" in err and "static assertion failed" not in err:
                continue  # this header predates the member
            assert not err, f"{member} with {flags}:\n{err}"
            checked[member] = checked.get(member, 0) + 1
    assert "iter" in checked  # Linux 5.9: every header we build with has it
    for flags in _headers():  # the buffer the kernel fills holds the whole struct
        assert not _compile_asserts(
            flags, [f"sizeof(struct bpf_link_info) <= {_info._LINK_INFO_SIZE}"])
    print("members checked (headers):", checked)
    # the later link type names against the headers that name them
    for flags in _headers():
        for value, name in _LATER_NAMES["LinkType"].items():
            err = _compile_asserts(flags, [f"BPF_LINK_TYPE_{name} == {value}"])
            assert not err or "undeclared" in err, err


def test_link_type_names_come_from_link_type() -> None:
    assert LinkType(11).name == "TCX" and LinkType(14).name == "SOCKMAP"
    assert str(LinkType(int(LinkType.XDP))) == "xdp"
    assert str(LinkType(10)) == "netfilter" and str(LinkType(12)) == "uprobe_multi"
    assert str(LinkType(4000)) == "unknown(4000)"  # no UAPI we know names it


@pytest.mark.parametrize("value, name", [
    (MapType.HASH, "hash"), (MapType.PERCPU_ARRAY, "percpu_array"),
    (ProgType.SOCKET_FILTER, "socket_filter"), (ProgType.XDP, "xdp"),
    (libbpf_py.AttachType.CGROUP_INET_INGRESS, "cgroup_inet_ingress"),
    (LinkType.RAW_TRACEPOINT, "raw_tracepoint"), (LinkType(11), "tcx"),
    (LinkType(4000), "unknown(4000)"), (MapType(1 << 40), f"unknown({1 << 40})"),
])
def test_str_of_a_kernel_enum_is_libbpf_s_name(value: Any, name: str) -> None:
    """str() and format() name the value as libbpf and bpftool do; numbers stay numbers."""
    assert str(value) == f"{value}" == value.libbpf_name == name
    assert f"{value:>20}" == f"{name:>20}"
    assert f"{value:d}" == str(int(value)) and f"{value:x}" == format(int(value), "x")
    assert value == int(value) and repr(value).startswith(f"<{type(value).__name__}.")


def test_enum_names_are_the_linked_libbpf_s() -> None:
    """Every value libbpf names is named by libbpf's own function, not by a table here."""
    for enum_cls, fn in ((MapType, lib.libbpf_bpf_map_type_str),
                         (ProgType, lib.libbpf_bpf_prog_type_str),
                         (LinkType, lib.libbpf_bpf_link_type_str)):
        for member in enum_cls:
            c_name = fn(int(member))
            if c_name != ffi.NULL:
                assert str(member) == ffi.string(c_name).decode()


def test_info_dataclasses_are_public() -> None:
    for cls in (ProgramInfo, MapInfo, LinkInfo):
        assert getattr(libbpf_py, cls.__name__) is cls and cls.__name__ in libbpf_py.__all__
    any_info: Any = LinkInfo(type=LinkType.UNSPEC, type_name="tc", id=0, prog_id=3)
    assert any_info.details == {} and any_info["prog_id"] == 3
