"""Writing BTF with libbpf_py.Btf (issue 17): new_empty, the add_* writers,
load_into_kernel.

Every type built here is read back with the existing readers (BtfType's kind,
name, size, members, enum values...), on the Btf that built it, on a copy made
from its raw_data(), and (as root) on the kernel's copy read with Btf.from_id.
"""

from __future__ import annotations

import errno
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Dict, Iterator

import pytest
from conftest import Compile

from libbpf_py import BpfObject, Btf, BtfKind
from libbpf_py.btf import BtfIntInfo
from libbpf_py.errors import (
    ClosedError,
    LibbpfError,
    LibbpfExistsError,
    LibbpfNotFoundError,
    LibbpfNotSupportedError,
    LibbpfVersionError,
)


def build(btf: Btf) -> Dict[str, int]:
    """The test's types, added to ``btf``: name -> id."""
    ids: Dict[str, int] = {}
    ids["int"] = btf.add_int("int", 4, "signed")
    ids["char"] = btf.add_int("char", 1, "char")
    ids["uint"] = btf.add_int("unsigned int", 4)
    ids["bool"] = btf.add_int("_Bool", 1, BtfIntInfo(bits=8, offset=0, is_signed=False,
                                                     is_char=False, is_bool=True))
    ids["name_arr"] = btf.add_array(ids["int"], ids["char"], 16)
    # struct node points to itself: the pointer comes first, to the id the struct gets
    ids["node_ptr"] = btf.add_ptr(ids["name_arr"] + 2)
    ids["node"] = btf.add_struct("node", 32)
    assert ids["node"] == ids["node_ptr"] + 1
    assert btf.add_field("id", ids["int"], 0) is None
    btf.add_field("name", ids["name_arr"], 32)
    btf.add_field("flags", ids["uint"], 160, 3)
    btf.add_field("kind", ids["uint"], 163, 5)
    btf.add_field("next", ids["node_ptr"], 192)
    ids["u"] = btf.add_union("u", 4)
    btf.add_field("i", "int", 0)  # by name
    btf.add_field("c", btf[ids["char"]], 0)  # by BtfType
    ids["color"] = btf.add_enum("color", 4)
    for i, name in enumerate(("RED", "GREEN", "BLUE")):
        btf.add_enum_value(name, i)
    ids["delta"] = btf.add_enum("delta", 4)
    btf.add_enum_value("DOWN", -1)
    btf.add_enum_value("UP", 1)
    ids["big"] = btf.add_enum64("big")
    btf.add_enum_value("BIG_LOW", 1 << 40)
    btf.add_enum_value("BIG_MAX", (1 << 64) - 1)
    ids["sbig"] = btf.add_enum64("sbig", signed=True)
    btf.add_enum_value("SBIG_MIN", -(1 << 63))
    ids["node_t"] = btf.add_typedef("node_t", ids["node"])
    ids["const_int"] = btf.add_const(ids["int"])
    ids["volatile_int"] = btf.add_volatile(ids["int"])
    ids["restrict_ptr"] = btf.add_restrict(ids["node_ptr"])
    ids["double"] = btf.add_float("double", 8)
    ids["fwd_struct"] = btf.add_fwd("opaque", "struct")
    ids["fwd_union"] = btf.add_fwd("uopaque", "union")
    ids["fwd_enum"] = btf.add_fwd("eopaque", "enum")
    ids["user_int"] = btf.add_type_tag("user", ids["int"])
    ids["user_ptr"] = btf.add_ptr(ids["user_int"])
    ids["proto"] = btf.add_func_proto(ids["int"])
    btf.add_func_param("n", ids["node_ptr"])
    btf.add_func_param("len", ids["uint"])
    ids["func"] = btf.add_func("node_len", ids["proto"], "global")
    ids["tag"] = btf.add_decl_tag("key", ids["node"], 0)
    ids["counter"] = btf.add_var("counter", ids["int"], "global")
    ids["bss"] = btf.add_datasec(".bss", 4)
    btf.add_datasec_var_info(ids["counter"], 0, 4)
    return ids


def check(btf: Btf, ids: Dict[str, int]) -> None:
    """Every type of build() as the readers see it."""
    t = btf[ids["int"]]
    assert (t.kind, t.name, t.size, t.int_info.encoding, t.int_info.bits) == \
        (BtfKind.INT, "int", 4, "SIGNED", 32)
    assert btf[ids["char"]].int_info.encoding == "CHAR"
    assert btf[ids["uint"]].int_info.encoding == "(none)"
    assert btf[ids["bool"]].int_info.encoding == "BOOL"
    arr = btf[ids["name_arr"]].array
    assert (arr.type.id, arr.index_type.id, arr.nelems) == (ids["char"], ids["int"], 16)
    node = btf[ids["node"]]
    assert (node.kind, node.name, node.size, node.kind_flag) == (BtfKind.STRUCT, "node", 32, True)
    assert [(m.name, m.type.id, m.bit_offset, m.bitfield_size) for m in node.members] == [
        ("id", ids["int"], 0, 0), ("name", ids["name_arr"], 32, 0),
        ("flags", ids["uint"], 160, 3), ("kind", ids["uint"], 163, 5),
        ("next", ids["node_ptr"], 192, 0)]
    assert btf[ids["node_ptr"]].type == node
    u = btf[ids["u"]]
    assert (u.kind, u.size, [(m.name, m.bit_offset) for m in u.members]) == \
        (BtfKind.UNION, 4, [("i", 0), ("c", 0)])
    color = btf[ids["color"]]
    assert (color.kind, color.size, color.signed) == (BtfKind.ENUM, 4, False)
    assert [(v.name, v.value) for v in color.enum_values] == [("RED", 0), ("GREEN", 1),
                                                              ("BLUE", 2)]
    delta = btf[ids["delta"]]
    assert delta.signed and delta.kind_flag  # libbpf: a negative value makes it signed
    assert [(v.name, v.value) for v in delta.enum_values] == [("DOWN", -1), ("UP", 1)]
    big = btf[ids["big"]]
    assert (big.kind, big.size, big.signed) == (BtfKind.ENUM64, 8, False)
    assert [v.value for v in big.enum_values] == [1 << 40, (1 << 64) - 1]
    sbig = btf[ids["sbig"]]
    assert sbig.signed and [v.value for v in sbig.enum_values] == [-(1 << 63)]
    assert btf[ids["node_t"]].kind == BtfKind.TYPEDEF
    assert btf[ids["node_t"]].resolve() == node
    for key, kind in (("const_int", BtfKind.CONST), ("volatile_int", BtfKind.VOLATILE),
                      ("restrict_ptr", BtfKind.RESTRICT), ("user_int", BtfKind.TYPE_TAG)):
        assert btf[ids[key]].kind == kind
    assert btf[ids["restrict_ptr"]].type == btf[ids["node_ptr"]]
    assert btf[ids["user_int"]].name == "user" and not btf[ids["user_int"]].kind_flag
    assert (btf[ids["double"]].kind, btf[ids["double"]].size) == (BtfKind.FLOAT, 8)
    assert (btf[ids["fwd_struct"]].kind, btf[ids["fwd_struct"]].fwd_kind) == (BtfKind.FWD,
                                                                               "struct")
    assert btf[ids["fwd_union"]].fwd_kind == "union"
    fwd_enum = btf[ids["fwd_enum"]]
    assert (fwd_enum.kind, fwd_enum.size, fwd_enum.vlen) == (BtfKind.ENUM, 4, 0)
    proto = btf[ids["proto"]]
    assert proto.type == btf[ids["int"]]
    assert [(p.name, p.type.id) for p in proto.params] == [("n", ids["node_ptr"]),
                                                           ("len", ids["uint"])]
    func = btf[ids["func"]]
    assert (func.kind, func.name, func.linkage, func.type) == (BtfKind.FUNC, "node_len",
                                                               "global", proto)
    tag = btf[ids["tag"]]
    assert (tag.kind, tag.name, tag.type, tag.component_idx, tag.kind_flag) == \
        (BtfKind.DECL_TAG, "key", node, 0, False)
    var = btf[ids["counter"]]
    assert (var.kind, var.linkage, var.type.id) == (BtfKind.VAR, "global", ids["int"])
    bss = btf[ids["bss"]]
    assert (bss.kind, bss.name, bss.size) == (BtfKind.DATASEC, ".bss", 4)
    assert [(v.type.id, v.offset, v.size) for v in bss.secinfos] == [(ids["counter"], 0, 4)]
    assert len(btf) == max(ids.values())


@pytest.fixture
def built() -> Iterator[tuple[Btf, Dict[str, int]]]:
    with Btf.new_empty() as btf:
        yield btf, build(btf)


def test_build_read_back_and_round_trip(built: tuple[Btf, Dict[str, int]]) -> None:
    btf, ids = built
    assert btf.start_id == 1
    check(btf, ids)
    with Btf.from_bytes(btf.raw_data()) as copy:
        check(copy, ids)
        assert copy.dump_raw() == btf.dump_raw()


def test_dump_c(built: tuple[Btf, Dict[str, int]]) -> None:
    btf, ids = built
    text = btf.dump_c(header=False)
    lines = [ln.strip() for ln in text.splitlines()]
    for want in ("struct node {", "int id;", "char name[16];", "unsigned int flags: 3;",
                 "unsigned int kind: 5;", "struct node *next;", "union u {", "enum color {",
                 "RED = 0,", "GREEN = 1,", "BLUE = 2,", "typedef struct node node_t;",
                 "struct opaque;", "union uopaque;"):
        assert want in lines, (want, text)
    assert btf.dump_c(ids["node"]).startswith("struct node {")


def test_empty_and_strings() -> None:
    with Btf.new_empty() as btf:
        assert (len(btf), btf.start_id, btf.fd) == (0, 1, None)
        off = btf.add_str("hello")
        assert off > 0 and btf.add_str("hello") == off
        assert btf.find_str("hello") == off
        assert btf.find_str("absent") is None
        assert btf.add_str(b"bytes\xff") > off  # bytes pass as they are


@pytest.mark.kernel
def test_load_into_kernel_and_read_back(kernel: None,
                                        built: tuple[Btf, Dict[str, int]]) -> None:
    btf, ids = built
    btf_id = btf.load_into_kernel()
    assert btf_id > 0 and btf.fd is not None and btf.fd >= 0
    with Btf.from_id(btf_id) as back:
        check(back, ids)
        assert back.dump_raw() == btf.dump_raw()
    with pytest.raises(LibbpfExistsError, match=rf"already loaded: kernel BTF id {btf_id}"):
        btf.load_into_kernel()
    btf.close()  # btf__free closes the fd: the kernel lets its copy go
    deadline = time.monotonic() + 5
    while True:
        try:
            Btf.from_id(btf_id).close()
        except LibbpfNotFoundError:
            break
        assert time.monotonic() < deadline, f"kernel BTF {btf_id} outlived its Btf"
        time.sleep(0.05)


@pytest.mark.kernel
def test_kernel_rejects_bad_btf(kernel: None) -> None:
    with Btf.new_empty() as btf:
        btf.add_ptr(99)  # a forward reference that never comes
        with pytest.raises(LibbpfError) as bad:
            btf.load_into_kernel()
        assert bad.value.errno == errno.EINVAL
        assert "kernel:" in str(bad.value), str(bad.value)
        assert btf.fd is None


def test_split_over_vmlinux(tmp_path: Path) -> None:
    vmlinux = Btf.load_vmlinux()
    split = Btf.new_empty(base=vmlinux)
    try:
        assert split.base is vmlinux and split.start_id == len(vmlinux) + 1
        task = vmlinux.find("task_struct", BtfKind.STRUCT)
        assert task is not None
        ptr = split.add_ptr(task)  # a BtfType of the base
        assert ptr == split.start_id
        s = split.add_struct("btfw_split_t", 16)
        split.add_field("task", ptr, 0)
        split.add_field("pid", "int", 64)  # the base's int, by name
        t = split[s]
        assert [(m.name, m.type.resolve().name) for m in t.members] == [("task", ""),
                                                                        ("pid", "int")]
        assert t.members[0].type.type == split[task.id]
        assert "struct task_struct *task;" in split.dump_c(s)
        with pytest.raises(ValueError, match="split BTFs built on this BTF are still open"):
            vmlinux.add_int("btfw_int", 4)
        path = tmp_path / "split.btf"
        path.write_bytes(split.raw_data())
        with Btf.from_file(path, base=vmlinux) as back:
            assert [x.name for x in back] == ["", "btfw_split_t"]
            assert back["btfw_split_t"].members[1].type.name == "int"
        vmlinux.close()  # the base's free waits for the split BTF (from_file's rule)
        assert split.add_int("btfw_after_base_close", 4) == s + 1
        assert split.find("task_struct") is not None
    finally:
        split.close()
        vmlinux.close()
    with pytest.raises(TypeError, match="base must be a Btf"):
        Btf.new_empty(base="vmlinux")  # type: ignore[arg-type]


def test_copy_types(built: tuple[Btf, Dict[str, int]]) -> None:
    src, ids = built
    with Btf.new_empty() as dst:
        dst.add_int("long", 8, "signed")
        first = dst.add_btf(src)
        assert first == 2
        shifted = {k: v + 1 for k, v in ids.items()}
        assert [(m.name, m.type.id) for m in dst[shifted["node"]].members][-1] == \
            ("next", shifted["node_ptr"])
        assert dst[shifted["node_ptr"]].type.name == "node"  # references renumbered
        one = dst.add_type(src, src[ids["color"]])
        assert dst[one].enum_values == src[ids["color"]].enum_values
        assert dst.add_type(src, ids["int"]) == one + 1
        with pytest.raises(ValueError, match="into itself"):
            dst.add_btf(dst)
        with pytest.raises(ValueError, match="is not a type of"):
            dst.add_type(src, dst[1])
        with pytest.raises(IndexError, match="no type id 100000"):
            dst.add_type(src, 100000)
        with pytest.raises(TypeError, match="src must be a Btf"):
            dst.add_btf(b"")  # type: ignore[arg-type]


def test_copy_from_a_base_of_the_target_is_refused() -> None:
    # libbpf's btf__add_str looks each copied string up in the target's base, which
    # reallocs the base's string memory before it reads the string: a source that
    # is that base (or split over it) would be read after free (ASan caught it)
    with Btf.from_bytes(_small_btf()) as base, Btf.new_empty(base=base) as split, \
            Btf.new_empty(base=base) as other:
        small = base.find("small_t").id
        with pytest.raises(ValueError, match="is a base of this BTF"):
            split.add_type(base, small)
        with pytest.raises(ValueError, match="is a base of this BTF"):
            split.add_btf(base)
        other_int = other.add_int("int2", 4)
        with pytest.raises(ValueError, match="a base of this BTF too"):
            split.add_type(other, other_int)
        with Btf.from_bytes(base.raw_data()) as copy:  # the documented way round
            tid = split.add_type(copy, small)
        assert split[tid].name == "small_t"
        assert split.add_int("int2", 4) == tid + 1


def _small_btf() -> bytes:
    with Btf.new_empty() as btf:
        i = btf.add_int("int", 4, "signed")
        btf.add_struct("small_t", 4)
        btf.add_field("x", i, 0)
        return btf.raw_data()


def test_add_btf_from_split_is_refused_or_shares_base() -> None:
    with Btf.from_bytes(_small_btf()) as base, Btf.new_empty(base=base) as split, \
            Btf.new_empty() as dst:
        split.add_ptr(1)
        with pytest.raises(LibbpfNotSupportedError):
            dst.add_btf(split)  # split BTF into a BTF without the same base


# -- bad input --------------------------------------------------------------------------

def test_bad_names_and_numbers() -> None:
    with Btf.new_empty() as btf:
        with pytest.raises(ValueError, match="INT name is empty"):
            btf.add_int("", 4)
        with pytest.raises(ValueError, match="NUL byte"):
            btf.add_int("a\0b", 4)
        with pytest.raises(TypeError, match="INT name must be a str, not int"):
            btf.add_int(5, 4)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="does not fit"):
            btf.add_int("x", -1)
        with pytest.raises(LibbpfError, match=r"1, 2, 4, 8 or 16 bytes") as bad:
            btf.add_int("x", 3)
        assert bad.value.errno == errno.EINVAL
        with pytest.raises(ValueError, match="INT encoding 'weird'"):
            btf.add_int("x", 4, "weird")
        with pytest.raises(TypeError, match="INT encoding must be"):
            btf.add_int("x", 4, 1)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="whole INTs only"):
            btf.add_int("x", 4, BtfIntInfo(8, 0, True, False, False))
        with pytest.raises(ValueError, match="one of signed, char, bool"):
            btf.add_int("x", 4, BtfIntInfo(32, 0, True, True, False))
        with pytest.raises(LibbpfError, match="2, 4, 8, 12 or 16"):
            btf.add_float("f", 3)
        for bad_id in (-1, 1 << 31):
            with pytest.raises(ValueError, match="PTR target id"):
                btf.add_ptr(bad_id)
        for wrong in (1.0, True, None):
            with pytest.raises(TypeError, match="PTR target id must be an int"):
                btf.add_ptr(wrong)  # type: ignore[arg-type]
        with pytest.raises(KeyError, match="no type named 'nosuch'"):
            btf.add_ptr("nosuch")
        with Btf.new_empty() as other:
            with pytest.raises(ValueError, match="a type of another BTF"):
                btf.add_ptr(other[0])
        with pytest.raises(ValueError, match="FUNC linkage 'weak' is not one of"):
            btf.add_func("f", 0, "weak")
        with pytest.raises(TypeError, match="FUNC linkage must be one of"):
            btf.add_func("f", 0, 1)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="VAR linkage"):
            btf.add_var("v", 0, "local")
        with pytest.raises(ValueError, match="FWD kind 'class'"):
            btf.add_fwd("c", "class")
        with pytest.raises(ValueError, match="component_idx = -2"):
            btf.add_decl_tag("t", 0, -2)
        with pytest.raises(ValueError, match="ARRAY nelems = 4294967296 does not fit"):
            btf.add_array(0, 0, 1 << 32)
        with pytest.raises(TypeError, match="signed must be a bool"):
            btf.add_enum64("e", signed=1)  # type: ignore[arg-type]
        assert len(btf) == 0  # nothing refused was written


def test_members_need_their_type_last() -> None:
    with Btf.new_empty() as btf:
        with pytest.raises(ValueError, match=r"has no type of its own yet.*add_struct"):
            btf.add_field("x", 0, 0)
        i = btf.add_int("int", 4, "signed")
        with pytest.raises(ValueError, match=r"last type added, .*INT 'int'.*STRUCT or UNION"):
            btf.add_field("x", i, 0)
        with pytest.raises(ValueError, match="not an ENUM or ENUM64"):
            btf.add_enum_value("A", 1)
        with pytest.raises(ValueError, match="not a FUNC_PROTO"):
            btf.add_func_param("a", i)
        with pytest.raises(ValueError, match="not a DATASEC"):
            btf.add_datasec_var_info(i, 0, 4)
        btf.add_union("u", 4)
        with pytest.raises(LibbpfError, match="UNION's members are at bit offset 0"):
            btf.add_field("x", i, 8)
        btf.add_struct("s", 4)
        with pytest.raises(LibbpfError, match="bitfield") as bad:
            btf.add_field("x", i, 0, 256)
        assert bad.value.errno == errno.EINVAL
        btf.add_enum("e", 4)
        with pytest.raises(ValueError, match=r"does not fit an ENUM.*add_enum64"):
            btf.add_enum_value("A", 1 << 32)
        with pytest.raises(TypeError, match="enumerator value must be an int"):
            btf.add_enum_value("A", "1")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="enumerator name is empty"):
            btf.add_enum_value("", 1)
        btf.add_enum64("u64")
        with pytest.raises(ValueError, match=r"unsigned ENUM64.*does not fit"):
            btf.add_enum_value("NEG", -1)
        btf.add_enum64("s64", signed=True)
        with pytest.raises(ValueError, match=r"signed ENUM64.*does not fit"):
            btf.add_enum_value("HUGE", 1 << 63)
        with pytest.raises(LibbpfError, match="size is 1, 2, 4 or 8 bytes"):
            btf.add_enum("e3", 3)


def test_object_btf_view_is_read_only(compile_bpf: Compile) -> None:
    with BpfObject.open(compile_bpf("btf_types")) as obj:
        view = obj.btf
        assert view is not None
        n = len(view)
        for call in (lambda: view.add_int("x", 4), lambda: view.add_str("x"),
                     lambda: view.load_into_kernel()):
            with pytest.raises(ValueError, match="belongs to a BPF object"):
                call()
        with Btf.new_empty(base=view) as split:
            with pytest.raises(ValueError, match="its base is the BTF of a BPF object"):
                split.add_int("x", 4)
        with Btf.new_empty() as copy:
            assert copy.add_btf(view) == 1  # reading a view is fine
            assert len(copy) == n
        assert len(view) == n


def test_use_after_close() -> None:
    btf = Btf.new_empty()
    i = btf.add_int("int", 4, "signed")
    t = btf[i]
    btf.close()
    with pytest.raises(ClosedError):
        btf.add_int("long", 8)
    with pytest.raises(ClosedError):
        btf.add_ptr(i)
    with pytest.raises(ClosedError):
        btf.load_into_kernel()
    with pytest.raises(ClosedError):
        _ = btf.fd
    with Btf.new_empty() as other:
        with pytest.raises(ClosedError):
            other.add_type(btf, i)
        with pytest.raises(ClosedError):
            other.add_btf(btf)
    with pytest.raises(ClosedError):
        _ = t.kind
    with pytest.raises(ClosedError):
        Btf.new_empty(base=btf)


# -- libbpf 1.6's attributes -----------------------------------------------------------

@pytest.mark.build(header_max=(1, 5))
def test_attrs_need_libbpf_1_6() -> None:
    with Btf.new_empty() as btf:
        i = btf.add_int("int", 4, "signed")
        with pytest.raises(LibbpfVersionError, match=r"btf__add_type_attr needs libbpf >= "
                                                     r"1\.6 \(version node LIBBPF_1\.6\.0\)"):
            btf.add_type_attr("aligned(8)", i)
        with pytest.raises(LibbpfVersionError, match=r"btf__add_decl_attr needs libbpf >= "
                                                     r"1\.6 \(version node LIBBPF_1\.6\.0\)"):
            btf.add_decl_attr("unused", i)
        assert len(btf) == 1


@pytest.mark.build(header_min=(1, 6))
def test_attrs() -> None:
    with Btf.new_empty() as btf:
        i = btf.add_int("int", 4, "signed")
        s = btf.add_struct("s", 4)
        btf.add_field("x", i, 0)
        attr = btf.add_type_attr("aligned(8)", i)
        t = btf[attr]
        assert (t.kind, t.name, t.kind_flag, t.type.id) == (BtfKind.TYPE_TAG, "aligned(8)",
                                                            True, i)
        decl = btf.add_decl_attr("unused", s, 0)
        d = btf[decl]
        assert (d.kind, d.name, d.kind_flag, d.component_idx, d.type.id) == \
            (BtfKind.DECL_TAG, "unused", True, 0, s)
        with pytest.raises(ValueError, match="TYPE_TAG attribute is empty"):
            btf.add_type_attr("", i)
        with pytest.raises(ValueError, match="component_idx = -5"):
            btf.add_decl_attr("x", s, -5)
        with Btf.from_bytes(btf.raw_data()) as copy:
            assert copy[attr].kind_flag and copy[decl].kind_flag


# -- threads: writers against each other and against close -----------------------------

def test_writers_from_threads_are_serialised() -> None:
    with Btf.new_empty() as btf:
        start = threading.Barrier(4)

        def write(tid: int) -> None:
            start.wait()
            for n in range(200):  # writers only: reading while writing is not supported
                btf.add_struct(f"s{tid}_{n}", 4)
                btf.add_field("x", 0, 0)

        threads = [threading.Thread(target=write, args=(t,)) for t in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert len(btf) == 800
        # a member goes to the struct added last, which may be another thread's:
        # count the members, not the pairs
        assert sum(t.vlen for t in btf) == 800


_RACE_CHILD = r"""
import sys, threading
from libbpf_py import Btf
from libbpf_py.errors import ClosedError

for round in range(30):
    btf = Btf.new_empty()
    src = Btf.new_empty()
    for n in range(50):
        src.add_int(f"i{n}", 4)
    go = threading.Barrier(5)
    outcome = []

    def writer(k):
        go.wait()
        try:
            for n in range(100000):
                btf.add_int(f"t{k}_{n}", 4)
                btf.add_btf(src)
        except ClosedError:
            outcome.append("closed")

    def closer_of_src():
        go.wait()
        src.close()

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(3)]
    threads.append(threading.Thread(target=closer_of_src))
    for t in threads:
        t.start()
    go.wait()
    btf.close()
    for t in threads:
        t.join()
    assert outcome == ["closed"] * 3, outcome
print("ok")
"""


def test_write_races_close_in_a_child() -> None:
    """close() of the target or of the source while other threads write: every writer
    ends with ClosedError, nothing is freed under a call in flight (a child: before
    the guard this crashed)."""
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(_RACE_CHILD)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("ok")
