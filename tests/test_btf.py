"""libbpf_py.Btf on the running kernel's BTF and on tests/bpf/btf_types.bpf.c.

The reference is bpftool, run on the same files: ``format raw`` must match
Btf.dump_raw() line for line (that checks every accessor behind it: kinds,
names, sizes, members with bitfields, enum values, arrays, prototypes,
datasecs), and ``format c`` must define the same types as Btf.dump_c().
"""

from __future__ import annotations

import errno
import json
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from typing import Iterator, List, Optional

import pytest
from conftest import Compile

import libbpf_py
from libbpf_py import BpfObject, Btf, BtfKind, BtfType, _btfguard
from libbpf_py.errors import ClosedError, LibbpfError, LibbpfNotFoundError, LibbpfVersionError

VMLINUX = Path("/sys/kernel/btf/vmlinux")


def bpftool(*args: str) -> str:
    return subprocess.run(["bpftool", *args], check=True, capture_output=True,
                          text=True).stdout


@pytest.fixture(scope="module")
def vmlinux(vmlinux_h: Path) -> Iterator[Btf]:
    with Btf.load_vmlinux() as btf:
        yield btf


@pytest.fixture(scope="module")
def types_o(compile_bpf: Compile) -> Path:
    return compile_bpf("btf_types")


@pytest.fixture
def types_btf(types_o: Path) -> Iterator[Btf]:
    with Btf.from_file(types_o) as btf:
        yield btf


# -- C output: the definitions, whatever the libbpf version's cosmetic choices ---------

# btf_dump's output changed cosmetically across libbpf releases: "(void)" for an
# empty parameter list, "__attribute__((mode(byte)))" on packed enums.
_COSMETIC = [(re.compile(r"\(\)"), "(void)"),
             (re.compile(r" __attribute__\(\(mode\(\w+\)\)\)"), "")]


def definitions(text: str) -> List[str]:
    """The top-level C definitions (blocks separated by a blank line), normalized."""
    for pattern, repl in _COSMETIC:
        text = pattern.sub(repl, text)
    return sorted(block.strip() for block in text.split("\n\n") if block.strip())


# -- vmlinux ------------------------------------------------------------------------------

def test_vmlinux_raw_equals_bpftool(vmlinux: Btf) -> None:
    ours = vmlinux.dump_raw()
    theirs = bpftool("btf", "dump", "file", str(VMLINUX), "format", "raw")
    assert len(vmlinux) == theirs.count("\n[") + 1 == len(list(vmlinux))
    assert ours == theirs


def test_vmlinux_h_equals_bpftool(vmlinux: Btf, vmlinux_h: Path) -> None:
    ours = vmlinux.dump_c()
    theirs = vmlinux_h.read_text()
    head, foot = theirs[:theirs.index("\ntypedef")], theirs[theirs.rindex("\n#ifndef"):]
    assert ours.startswith(head) and ours.endswith(foot)
    assert ours.startswith("#ifndef __VMLINUX_H__\n#define __VMLINUX_H__\n")
    assert definitions(ours) == definitions(theirs)
    assert len(definitions(ours)) > 10000


def test_vmlinux_lookup(vmlinux: Btf) -> None:
    task = vmlinux.find("task_struct", BtfKind.STRUCT)
    assert task is not None and task.kind == BtfKind.STRUCT and task.name == "task_struct"
    assert vmlinux["task_struct"] == task == vmlinux[task.id]
    assert vmlinux.find("task_struct", "struct") == task
    assert task.size == task.resolved_size > 1000
    pid = next(m for m in task.members if m.name == "pid")
    assert pid.type.resolve().kind == BtfKind.INT and pid.type.resolve().int_info.is_signed
    assert pid.byte_offset == pid.bit_offset // 8 and pid.bitfield_size == 0
    assert vmlinux.find("no_such_type_at_all") is None
    assert "task_struct" in vmlinux and "no_such_type_at_all" not in vmlinux
    assert vmlinux[0].name == "void" and vmlinux[0].kind == BtfKind.UNKN
    assert vmlinux.pointer_size == 8 and vmlinux.endianness == "little"
    assert vmlinux.start_id == 1 and vmlinux.base is None
    # the kernel's 64-bit enums (pahole emits ENUM64 since 1.24)
    wide = [t for t in vmlinux if t.kind == BtfKind.ENUM64]
    assert wide, "this kernel's BTF has ENUM64 types"
    assert all(t.size == 8 and t.enum_values for t in wide)


def test_of_kind_equals_filtering_every_type(vmlinux: Btf) -> None:
    for kind in (BtfKind.ENUM64, "decl_tag", int(BtfKind.FUNC)):
        want = BtfKind[kind.upper()] if isinstance(kind, str) else BtfKind(kind)
        assert list(vmlinux.of_kind(kind)) == [t for t in vmlinux if t.kind == want]
    assert list(vmlinux.of_kind(BtfKind.FUNC)), "vmlinux has functions"
    with pytest.raises(ValueError, match="unknown BTF kind 'structure'"):
        next(vmlinux.of_kind("structure"))


def _legacy_bitfield_btf() -> bytes:
    """A BTF image as pahole < 1.x and old clang wrote it: a struct whose bitfield is
    an INT narrower than its size (3 bits at in-INT offset 2), kind_flag unset, reached
    through a typedef and a const."""
    strings = b"\0int\0u3\0s\0a\0b\0u3_t\0"
    off = {name: strings.index(name.encode() + b"\0") for name in ("int", "u3", "s", "a", "b",
                                                                   "u3_t")}
    INT, TYPEDEF, CONST, STRUCT = 1, 8, 10, 4
    types = b"".join([
        struct.pack("<IIII", off["int"], INT << 24, 4, (1 << 24) | 32),       # [1] int
        struct.pack("<IIII", off["u3"], INT << 24, 4, (2 << 16) | 3),         # [2] u3: 3 bits
        struct.pack("<III", off["u3_t"], TYPEDEF << 24, 2),                   # [3] typedef
        struct.pack("<III", 0, CONST << 24, 3),                               # [4] const
        struct.pack("<III", off["s"], (STRUCT << 24) | 2, 8),                 # [5] struct s
        struct.pack("<III", off["a"], 4, 5),                                  #   a: bit 5
        struct.pack("<III", off["b"], 1, 32),                                 #   b: bit 32
    ])
    header = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types),
                         len(strings))
    return header + types + strings


def test_struct_members_with_legacy_bitfields() -> None:
    # without kind_flag a bitfield is an INT narrower than its size, found through
    # typedefs and modifiers; its width and in-INT offset come from the INT
    with Btf.from_bytes(_legacy_bitfield_btf()) as btf:
        s = btf["s"]
        assert not s.kind_flag
        a, b = s.members
        assert (a.name, a.bit_offset, a.bitfield_size, a.int_offset) == ("a", 5, 3, 2)
        assert a.value_bit_offset == 7 and a.type.resolve().name == "u3"
        assert (b.name, b.bit_offset, b.bitfield_size, b.int_offset) == ("b", 32, 0, 0)


def test_vmlinux_one_type_c(vmlinux: Btf) -> None:
    text = vmlinux.dump_c("list_head")
    assert "struct list_head {\n\tstruct list_head *next;\n\tstruct list_head *prev;\n};" in text
    assert "#ifndef __VMLINUX_H__" not in text
    assert vmlinux["list_head"].dump_c() == text


def test_bad_lookups(vmlinux: Btf) -> None:
    with pytest.raises(KeyError, match="no type named 'nope_nope'"):
        vmlinux["nope_nope"]
    with pytest.raises(IndexError, match="has no type id"):
        vmlinux[len(vmlinux) + 10]
    with pytest.raises(ValueError, match=r"does not fit an unsigned 32-bit int \(range "
                                         r"0\.\.4294967295\)"):
        vmlinux[-1]
    with pytest.raises(TypeError, match="must be an int"):
        vmlinux[1.5]  # type: ignore[index]
    with pytest.raises(ValueError, match="unknown BTF kind 'structure'"):
        vmlinux.find("task_struct", "structure")
    with pytest.raises(TypeError, match="type name must be a str"):
        vmlinux.find(3)  # type: ignore[arg-type]
    task = vmlinux["task_struct"]
    with pytest.raises(TypeError, match=r"is STRUCT, not ENUM/ENUM64"):
        task.enum_values  # noqa: B018
    with pytest.raises(TypeError, match=r"is STRUCT, not ARRAY"):
        task.array  # noqa: B018
    with pytest.raises(ValueError, match="belongs to another BTF"):
        with Btf.load_vmlinux() as other:
            vmlinux.dump_c(other["task_struct"])


# -- the test object's BTF ------------------------------------------------------------------

def test_object_raw_equals_bpftool(types_o: Path, types_btf: Btf) -> None:
    assert types_btf.dump_raw() == bpftool("btf", "dump", "file", str(types_o), "format", "raw")


def test_struct_with_bitfields(types_btf: Btf) -> None:
    flags = types_btf.find("btft_flags", BtfKind.STRUCT)
    assert flags is not None and flags.size == 56 and flags.kind_flag
    got = [(m.name, m.bit_offset, m.bitfield_size) for m in flags.members]
    assert got == [("ready", 0, 1), ("mode", 1, 3), ("level", 4, 12), ("delta", 16, 8),
                   ("port", 32, 0), ("color", 64, 0), ("id", 96, 0), ("num", 128, 0),
                   ("tag", 192, 0), ("grid", 256, 0)]
    by_name = {m.name: m for m in flags.members}
    assert by_name["delta"].type.resolve().int_info.is_signed
    assert not by_name["ready"].type.resolve().int_info.is_signed
    assert by_name["color"].type.kind == BtfKind.ENUM
    assert by_name["num"].type.kind == BtfKind.UNION
    tag = by_name["tag"].type
    assert tag.kind == BtfKind.ARRAY and tag.array.nelems == 6
    assert tag.array.type.name == "char" and tag.resolved_size == 6
    grid = by_name["grid"].type.array
    assert grid.nelems == 2 and grid.type.array.nelems == 3
    assert grid.type.array.type.resolve().name == "unsigned int"
    assert by_name["grid"].type.resolved_size == 24


def test_typedef_chains_and_modifiers(types_btf: Btf) -> None:
    id_t = types_btf["btft_id_t"]
    assert id_t.kind == BtfKind.TYPEDEF and id_t.size is None
    assert id_t.type is not None and id_t.type.name == "btft_u32"
    assert id_t.resolve().name == "unsigned int" and id_t.resolve().kind == BtfKind.INT
    cv = types_btf["btft_cv_id_t"]
    chain = []
    t: BtfType = cv
    while t.kind != BtfKind.INT:
        chain.append(t.kind)
        assert t.type is not None
        t = t.type
    assert chain == [BtfKind.TYPEDEF, BtfKind.CONST, BtfKind.VOLATILE, BtfKind.TYPEDEF,
                     BtfKind.TYPEDEF]
    assert cv.resolve() == t and cv.resolved_size == 4
    info = t.int_info
    assert (info.bits, info.offset, info.encoding) == (32, 0, "(none)")


def test_union_enums_and_prototypes(types_btf: Btf) -> None:
    num = types_btf.find("btft_num", "union")
    assert num is not None and num.size == 8
    assert [(m.name, m.bit_offset) for m in num.members] == [
        ("as_u64", 0), ("as_u32", 0), ("bytes", 0)]
    color = types_btf["btft_color"]
    assert [(v.name, v.value) for v in color.enum_values] == [
        ("BTFT_RED", 0), ("BTFT_GREEN", 1), ("BTFT_BLUE", 7)]
    sign = types_btf["btft_signed"]
    # signed by kind_flag (clang >= 15) or, without it (clang < 15), by its negative value
    assert sign.signed and not color.signed
    assert [(v.name, v.value) for v in sign.enum_values] == [("BTFT_NEG", -3), ("BTFT_POS", 5)]
    wide = types_btf["btft_wide"]
    huge = 0x123456789 if wide.kind == BtfKind.ENUM64 else 0x23456789  # clang < 15: ENUM
    assert wide.size == 8 and wide.enum_values[1].value == huge
    cb = types_btf["btft_callback_t"]
    ptr = cb.type
    assert ptr is not None and ptr.kind == BtfKind.PTR
    proto = ptr.type
    assert proto is not None and proto.kind == BtfKind.FUNC_PROTO
    assert proto.type is not None and proto.type.name == "int"
    params = proto.params
    assert [p.type.kind for p in params] == [BtfKind.PTR, BtfKind.INT]
    assert params[0].type.type == types_btf["btft_flags"] and params[1].type.name == "long"
    func = types_btf.find("btft_getppid", BtfKind.FUNC)
    assert func is not None and func.linkage == "global"
    assert [p.name for p in func.params] == ["ctx"]
    var = types_btf.find("btft_flags_var", BtfKind.VAR)
    assert var is not None and var.linkage == "global" and var.type == types_btf["btft_flags"]
    bss = types_btf.find(".bss", BtfKind.DATASEC)
    assert bss is not None
    assert {s.type.name for s in bss.secinfos} == {"btft_flags_var", "btft_holder_var"}


def test_object_c_compiles(types_btf: Btf, types_o: Path, tmp_path: Path) -> None:
    """The dumped header is real C: clang accepts it and agrees on sizes and offsets."""
    theirs = bpftool("btf", "dump", "file", str(types_o), "format", "c")
    ours = types_btf.dump_c()
    assert definitions(ours) == definitions(theirs)
    flags = types_btf["btft_flags"]
    checks = [f"_Static_assert(sizeof(struct btft_flags) == {flags.size}, \"size\");"]
    checks += [f"_Static_assert(__builtin_offsetof(struct btft_flags, {m.name}) == "
               f"{m.byte_offset}, \"{m.name}\");" for m in flags.members if not m.bitfield_size]
    checks.append(f"_Static_assert(sizeof(struct btft_holder) == "
                  f"{types_btf['btft_holder'].size}, \"holder\");")
    src = tmp_path / "check.c"
    src.write_text(ours + "\n" + "\n".join(checks) + "\n")
    clang = shutil.which("clang") or "clang"
    proc = subprocess.run([clang, "-target", "bpf", "-fsyntax-only", str(src)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    one = types_btf.dump_c("btft_holder")
    assert "struct btft_holder {" in one and "typedef int (*btft_callback_t)" in one
    # what it needs comes first: a forward declaration for a pointer, enums in full
    assert "struct btft_flags;" in one and "struct btft_flags {" not in one
    assert one.index("enum btft_signed {") < one.index("struct btft_holder {")


def test_as_dict(types_btf: Btf) -> None:
    d = types_btf["btft_flags"].as_dict()
    assert d["kind"] == "STRUCT" and d["name"] == "btft_flags" and d["size"] == 56
    assert d["members"][1] == {"name": "mode", "type_id": d["members"][0]["type_id"],
                               "bits_offset": 1, "bitfield_size": 3}
    e = types_btf["btft_color"].as_dict()
    assert e["values"] == [{"name": "BTFT_RED", "val": 0}, {"name": "BTFT_GREEN", "val": 1},
                           {"name": "BTFT_BLUE", "val": 7}]
    # as_dict is the record as stored, as bpftool prints it: the kind_flag bit decides
    sign = types_btf["btft_signed"]
    d = sign.as_dict()
    assert d["encoding"] == ("SIGNED" if sign.kind_flag else "UNSIGNED")
    assert d["values"][0]["val"] == (-3 if sign.kind_flag else 2**32 - 3)


# -- enum signedness: one rule for Btf and for the codecs of maps and globals ------------

@pytest.fixture(scope="module")
def enums_o(compile_bpf: Compile) -> Path:
    return compile_bpf("btf_enums")


def test_enum_signedness_btf_and_codecs_agree(kernel: None, enums_o: Path) -> None:
    with BpfObject.open(enums_o) as obj:
        btf = obj.btf
        assert btf is not None
        signed, unsigned = btf["btfe_signed"], btf["btfe_unsigned"]
        assert signed.signed and not unsigned.signed
        assert [v.value for v in signed.enum_values] == [-2, 0, 3]
        assert [v.value for v in unsigned.enum_values] == [1, 0x7FFFFFFF]
        value = btf["btfe_value"]
        assert [m.type.signed for m in value.members] == [True, False]
        obj.load()
        values = obj.maps["btfe_values"]
        # every bit set: the signed enum reads -1, the unsigned one 2**32 - 1
        values.update(0, b"\xff" * 8)
        got = values.lookup(0)
        assert (got.s, got.u) == (-1, 2**32 - 1)
        values.update(0, {"s": -2, "u": 0x7FFFFFFF})
        assert bytes(values.lookup(0)) == struct.pack("=iI", -2, 0x7FFFFFFF)
        with pytest.raises(ValueError, match="unsigned 32-bit"):
            values.update(0, {"s": 0, "u": -1})
        with pytest.raises(ValueError, match="signed 32-bit"):
            values.update(0, {"s": 2**31, "u": 0})
        # the globals, through the .data map (its codec) and the object's BTF
        (data_map,) = [name for name in obj.maps if name.endswith(".data")]  # libbpf's name
        data = obj.maps[data_map].lookup(0)
        assert (data.btfe_global_s, data.btfe_global_u) == (-2, 0x7FFFFFFF)
        sec = btf.find(".data", BtfKind.DATASEC)
        assert sec is not None
        assert {s.type.name: s.type.type.signed for s in sec.secinfos  # type: ignore[union-attr]
                } == {"btfe_global_s": True, "btfe_global_u": False}


def test_enum_signedness_in_a_skeleton(kernel: None, enums_o: Path) -> None:
    with libbpf_py.Skeleton.open(enums_o) as skel:
        assert skel.data.btfe_global_s == -2                # the ELF's image
        skel.data.btfe_global_s = -1
        with pytest.raises(ValueError, match="unsigned 32-bit"):
            skel.data.btfe_global_u = -1
        skel.load()
        assert skel.data.btfe_global_s == -1 and skel.data.btfe_global_u == 0x7FFFFFFF


# -- sources: object, file, bytes, kernel id, split ---------------------------------------------

def test_object_btf_is_a_view(types_o: Path) -> None:
    obj = BpfObject.open(types_o)
    btf = obj.btf
    assert btf is not None
    flags = btf["btft_flags"]
    with Btf.from_file(types_o) as standalone:
        # the same types, but libbpf fixed up the sections' sizes when it opened the object
        assert ([t.as_dict() for t in btf if t.kind != BtfKind.DATASEC]
                == [t.as_dict() for t in standalone if t.kind != BtfKind.DATASEC])
        assert standalone[".bss"].size == 0
    assert btf[".bss"].size == 56 + 32
    btf.close()  # lets go of the view only: the object's BTF lives on
    with pytest.raises(ClosedError):
        btf["btft_flags"]
    again = obj.btf
    assert again is not None and again["btft_flags"].size == 56
    flags = again["btft_flags"]
    obj.close()
    assert again.closed
    for action in (lambda: again["btft_flags"], lambda: len(again), lambda: again.dump_c(),
                   lambda: again.find("btft_flags"), lambda: flags.name):
        with pytest.raises(ClosedError, match="closed BPF object"):
            action()
    with pytest.raises(ClosedError):
        obj.btf  # noqa: B018


def test_object_btf_after_load(kernel: None, types_o: Path) -> None:
    with BpfObject.open(types_o) as obj:
        obj.load()
        btf = obj.btf
        assert btf is not None and btf["btft_value"].size == 24
        prog = obj.programs["btft_getppid"]
        btf_id = prog.info()["btf_id"]
        assert btf_id > 0
        with Btf.load_from_kernel_by_id(btf_id) as kbtf:
            value = kbtf.find("btft_value", BtfKind.STRUCT)
            assert value is not None
            assert [m.name for m in value.members] == ["count", "last_pid", "comm"]


def test_object_without_btf(tmp_path: Path) -> None:
    src = tmp_path / "nobtf.bpf.c"
    src.write_text('char LICENSE[] __attribute__((section("license"), used)) = "GPL";\n'
                   '__attribute__((section("xdp"), used)) int pass(void *ctx) { return 2; }\n')
    obj_path = tmp_path / "nobtf.bpf.o"
    clang = shutil.which("clang") or "clang"
    subprocess.run([clang, "-O2", "-target", "bpf", "-c", str(src), "-o", str(obj_path)],
                   check=True)
    with BpfObject.open(obj_path) as obj:
        assert obj.btf is None
    with pytest.raises(LibbpfError) as info:
        Btf.from_file(obj_path)
    assert info.value.errno in (errno.ENOENT, errno.ENODATA)
    assert "no .BTF section" in str(info.value)


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(LibbpfNotFoundError, match=r"cannot read BTF from .*missing"):
        Btf.from_file(tmp_path / "missing")
    with pytest.raises(LibbpfError, match="Is a directory") as info:
        Btf.from_file(tmp_path)
    assert info.value.errno == errno.EISDIR
    junk = tmp_path / "junk.txt"
    junk.write_text("this is not BTF and not ELF\n" * 10)
    with pytest.raises(LibbpfError, match=r"neither an ELF file with a \.BTF section nor raw BTF"):
        Btf.from_file(junk)
    with pytest.raises(ValueError, match="NUL"):
        Btf.from_file("a\0b")
    with pytest.raises(LibbpfError, match="btf__new: not valid BTF"):
        Btf.from_bytes(b"\x9f\xeb" + b"\0" * 40)
    with pytest.raises(ValueError, match="empty"):
        Btf.from_bytes(b"")
    with pytest.raises(TypeError, match="bytes-like"):
        Btf.from_bytes("text")  # type: ignore[arg-type]


def test_from_bytes_round_trip(types_btf: Btf) -> None:
    with Btf.from_bytes(types_btf.raw_data()) as copy:
        assert copy.dump_raw() == types_btf.dump_raw()
        assert len(copy) == len(types_btf) > 40


def test_bad_kernel_ids(kernel: None) -> None:
    with pytest.raises(LibbpfNotFoundError, match="cannot load kernel BTF id 4294967295"):
        Btf.load_from_kernel_by_id(2**32 - 1)
    with pytest.raises(ValueError):
        Btf.load_from_kernel_by_id(-1)


def test_close_and_context_manager(types_o: Path) -> None:
    btf = Btf.from_file(types_o)
    t = btf["btft_flags"]
    with btf:
        assert not btf.closed and t.size == 56
    assert btf.closed
    btf.close()  # idempotent
    assert "closed" in repr(btf) and "BTF closed" in repr(t)
    for action in (lambda: t.size, lambda: t.members, lambda: btf[1], lambda: list(btf),
                   lambda: btf.dump_c(), lambda: btf.raw_data()):
        with pytest.raises(ClosedError, match="is closed"):
            action()
    with pytest.raises(ClosedError):
        with btf:
            pass


def _split_btf(base: Btf, name: str) -> bytes:
    """Raw split BTF adding one type over ``base``: ``typedef <base type 1> name``."""
    hdr_len, base_strings = 24, struct.unpack_from("<I", base.raw_data(), 20)[0]
    strings = b"\0" + name.encode() + b"\0"
    types = struct.pack("<III", base_strings + 1, int(BtfKind.TYPEDEF) << 24, 1)
    return struct.pack("<HBBIIIII", 0xEB9F, 1, 0, hdr_len, 0, len(types), len(types),
                       len(strings)) + types + strings


def test_split_btf_file(vmlinux: Btf, tmp_path: Path) -> None:
    path = tmp_path / "split.btf"
    path.write_bytes(_split_btf(vmlinux, "btft_split_t"))
    with Btf.from_file(path, base=vmlinux) as split:
        assert split.base is vmlinux
        assert split.start_id == len(vmlinux) + 1 and len(split) == 1
        (only,) = list(split)
        assert only.id == split.start_id and only.name == "btft_split_t"
        assert only.type == BtfType(split, 1) and only.type.name == vmlinux[1].name
        assert split["btft_split_t"] == only
        assert split.dump_c(header=False).strip() == f"typedef {vmlinux[1].name} btft_split_t;"


_SPLIT_DUMP_CHILD = """
import sys
from libbpf_py import Btf
from libbpf_py.errors import LibbpfError
with Btf.load_vmlinux() as vmlinux:
    try:
        split = Btf.from_file(sys.argv[1], base=vmlinux)
    except LibbpfError as exc:
        print("parse refused:", exc.errno)
        sys.exit(0)
    with split:
        try:
            print("dumped:", split.dump_c(header=False).strip())
        except ValueError as exc:
            print("ValueError:", exc)
"""


@pytest.mark.parametrize("case", ["typedef of itself", "name past the strings",
                                  "name in the base's strings"])
def test_dump_c_checks_the_part_a_split_btf_adds(vmlinux: Btf, tmp_path: Path,
                                                 case: str) -> None:
    # the split part's ids follow its base's, its name offsets continue the base's strings
    base_strings = struct.unpack_from("<I", vmlinux.raw_data(), 20)[0]
    first = len(vmlinux) + 1
    name, ref = {"typedef of itself": (base_strings + 1, first),
                 "name past the strings": (base_strings + 99, 1),
                 "name in the base's strings": (vmlinux[1]._c_type().name_off, 1)}[case]
    strings = b"\0split_t\0"
    types = struct.pack("<III", name, int(BtfKind.TYPEDEF) << 24, ref)
    path = tmp_path / "split.btf"
    path.write_bytes(struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types),
                                 len(strings)) + types + strings)
    proc = subprocess.run([sys.executable, "-c", _SPLIT_DUMP_CHILD, str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{case}: exit {proc.returncode}\n{proc.stderr[-2000:]}"
    if case == "name in the base's strings":
        assert proc.stdout.startswith(f"dumped: typedef {vmlinux[1].name} {vmlinux[1].name};")
    elif case == "name past the strings" and not _btfguard.ACTIVE:
        assert f"parse refused: {errno.EINVAL}" in proc.stdout, proc.stdout  # libbpf's own
    else:
        assert proc.stdout.startswith(f"ValueError: BTF {str(path)!r}: type [{first}] "), \
            proc.stdout + proc.stderr
        assert ("refers back to itself" if case == "typedef of itself"
                else f"string offset {base_strings + 99}") in proc.stdout, proc.stdout


@pytest.mark.build(header_min=(1, 4))
def test_split_btf_bytes(vmlinux: Btf) -> None:
    with Btf.from_bytes(_split_btf(vmlinux, "btft_split_t"), base=vmlinux) as split:
        assert [t.name for t in split] == ["btft_split_t"]


@pytest.mark.build(header_max=(1, 3))
def test_split_btf_bytes_needs_libbpf_1_4(vmlinux: Btf) -> None:
    with pytest.raises(libbpf_py.LibbpfVersionError, match=r"btf__new_split.*LIBBPF_1\.4\.0"):
        Btf.from_bytes(_split_btf(vmlinux, "btft_split_t"), base=vmlinux)


# -- split BTF outlives its base (issue 14) ----------------------------------------------
#
# Each scenario runs in a child: before the fix a split BTF read its base's freed
# memory (a segfault, or a wrong type), which must not take pytest down with it.

_SPLIT_CHILD = r"""
import json, sys
from libbpf_py import BpfObject, Btf
from libbpf_py.errors import ClosedError

how, arg = sys.argv[1], sys.argv[2]

def make(base):
    if how == "file":
        return Btf.from_file(arg, base=base)
    if how == "bytes":
        return Btf.from_bytes(open(arg, "rb").read(), base=base)
    return Btf.load_from_kernel_by_id(int(arg), base=base)

out = {}
with Btf.load_vmlinux() as vm:
    want = vm.find("task_struct").size
    split = make(vm)
    own = [t.name for t in split][-1]
out["base_closed"] = vm.closed
try:
    vm.find("task_struct")
    out["base_use"] = "worked"
except ClosedError:
    out["base_use"] = "ClosedError"
junk = [bytearray(b"\xa5" * 4096) for _ in range(50000)]  # reuse whatever was freed
t = split.find("task_struct")
out["split_closed"] = split.closed
out["split_reads_base"] = t is not None and t.name == "task_struct" and t.size == want
out["split_own"] = [x.name for x in split][-1] == own
out["base_of_split"] = split.base is vm
split.close()
out["base_freed"] = vm._held is None
try:
    Btf.from_file(arg if how == "file" else "/sys/kernel/btf/vmlinux", base=vm)
    out["closed_base_refused"] = False
except ClosedError:
    out["closed_base_refused"] = True

# the other order: the split closed first, the base still works, then closes
vm2 = Btf.load_vmlinux()
split2 = make(vm2)
split2.close()
out["base_after_split_close"] = vm2.find("task_struct").size == want
vm2.close()
out["base2_freed"] = vm2._held is None

# a view of an object's BTF as the base (argv[4]: split BTF made over that object's
# BTF): the object's free waits for the split
obj = BpfObject.open(sys.argv[3])
split3 = Btf.from_file(sys.argv[4], base=obj.btf) if len(sys.argv) > 4 else None
obj.close()
if split3 is not None:
    t3 = split3.find("btft_flags")
    out["view_base"] = t3 is not None and t3.size == 56 and obj.closed
    split3.close()
print(json.dumps(out))
"""

_SPLIT_WANT = {"base_closed": True, "base_use": "ClosedError", "split_closed": False,
               "split_reads_base": True, "split_own": True, "base_of_split": True,
               "base_freed": True, "closed_base_refused": True,
               "base_after_split_close": True, "base2_freed": True}


def _split_child(how: str, arg: str, obj_path: Path, *more: str) -> dict:
    import json
    import sys

    proc = subprocess.run([sys.executable, "-c", _SPLIT_CHILD, how, arg, str(obj_path), *more],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, (f"child died with {proc.returncode}: "
                                  f"{proc.stderr.strip()[-2000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def test_split_btf_file_outlives_base(vmlinux: Btf, types_o: Path, tmp_path: Path) -> None:
    path = tmp_path / "split.btf"
    path.write_bytes(_split_btf(vmlinux, "btft_split_t"))
    over_object = tmp_path / "split_over_object.btf"  # split BTF over the object's own BTF
    with BpfObject.open(types_o) as obj:
        over_object.write_bytes(_split_btf(obj.btf, "btft_split_t"))
    got = _split_child("file", str(path), types_o, str(over_object))
    assert got == {**_SPLIT_WANT, "view_base": True}


@pytest.mark.build(header_min=(1, 4))
def test_split_btf_bytes_outlives_base(vmlinux: Btf, types_o: Path, tmp_path: Path) -> None:
    path = tmp_path / "split.btf"
    path.write_bytes(_split_btf(vmlinux, "btft_split_t"))
    assert _split_child("bytes", str(path), types_o) == _SPLIT_WANT


def _module_btf_id() -> Optional[int]:
    """The id of a kernel module's BTF (split BTF over vmlinux), or None if none is loaded."""
    out = subprocess.run(["bpftool", "-j", "btf", "list"], capture_output=True, text=True,
                         check=True).stdout
    for entry in json.loads(out or "[]"):
        if entry.get("kernel") and entry.get("name") not in (None, "vmlinux"):
            return int(entry["id"])
    return None


def test_split_btf_by_id_outlives_base(kernel: None, types_o: Path) -> None:
    """Only a kernel module's BTF is split BTF the kernel holds (a program's BTF is
    not: libbpf >= 1.4 rightly refuses it as split over vmlinux)."""
    btf_id = _module_btf_id()
    if btf_id is None:
        modules = sorted(p.name for p in Path("/sys/kernel/btf").iterdir())
        pytest.xfail(f"this kernel holds no module BTF (/sys/kernel/btf: {modules}): no "
                     "split BTF to load by id; the file and bytes tests cover the lifetime")
    assert _split_child("id", str(btf_id), types_o) == _SPLIT_WANT


def test_records_are_read_through_btf_h_accessors() -> None:
    # btf.h's static inline accessors (btf_kind, btf_vlen, btf_members, ...) decode the
    # records, compiled into the extension: a BTF layout change in a newer libbpf is
    # followed by rebuilding, not by editing bit masks here
    source = Path(libbpf_py.btf.__file__).read_text()
    hand_decoding = re.findall(r"\.info\s*(?:>>|&)|\bt \+ 1\b|ffi\.cast\(\"struct btf_", source)
    assert hand_decoding == [], hand_decoding
    lib = libbpf_py._binding.lib
    for name in ("btf_kind", "btf_vlen", "btf_kflag", "btf_members", "btf_member_bit_offset",
                 "btf_member_bitfield_size", "btf_enum64_value", "btf_var_secinfos"):
        assert callable(getattr(lib, name)), name


def _shape(btf: Btf) -> List[str]:
    """Each type as text that names the types it refers to, not their ids."""
    def ref(t: Optional[BtfType]) -> str:
        return "-" if t is None else f"{t.kind.name}:{t.name}"
    out = []
    for t in btf:
        line = f"{ref(t)} -> {ref(t.type)}"
        if t.kind in (BtfKind.STRUCT, BtfKind.UNION):
            line += " {" + ", ".join(f"{m.name}:{ref(m.type)}" for m in t.members) + "}"
        out.append(line)
    return out


@pytest.mark.build(header_min=(1, 7))
def test_permute_renumbers_types_and_references(types_o: Path) -> None:
    with Btf.from_file(types_o) as btf:
        before = _shape(btf)
        n = len(btf)
        names = {t.id: (t.kind, t.name) for t in btf}
        # reverse every id but void's
        btf.permute([0] + [n + 1 - old for old in range(1, n + 1)])
        assert {n + 1 - old: kn for old, kn in names.items()} == \
            {t.id: (t.kind, t.name) for t in btf}
        assert sorted(_shape(btf)) == sorted(before)
        assert "struct" in btf.dump_c()
        with pytest.raises(ValueError, match=rf"id_map has 2 entries; .* needs {n + 1}"):
            btf.permute([0, 1])
        with pytest.raises(LibbpfError) as bad:
            btf.permute([0] * (n + 1))  # not a permutation
        assert bad.value.errno == errno.EINVAL
    with BpfObject.open(types_o) as obj:
        view = obj.btf
        assert view is not None
        with pytest.raises(ValueError, match="belongs to a BPF object"):
            view.permute([])


@pytest.mark.build(header_max=(1, 6))
def test_permute_needs_libbpf_1_7(types_o: Path) -> None:
    with Btf.from_file(types_o) as btf:
        with pytest.raises(LibbpfVersionError, match=r"btf__permute.*LIBBPF_1\.7\.0"):
            btf.permute(list(range(len(btf) + 1)))


def _btf_image(types: List[bytes], strings: bytes) -> bytes:
    body = b"".join(types)
    return struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(body), len(body),
                       len(strings)) + body + strings


# Malformed BTF that libbpf < 1.3 parses without a word and its btf_dump then crashes on
# (NULL dereference or unbounded recursion): dump_c must refuse it with a ValueError.
_INT = struct.pack("<IIII", 1, 1 << 24, 4, (1 << 24) | 32)  # [1] int
_HOSTILE_BTF = {
    "typedef loop": [_INT, struct.pack("<III", 5, 8 << 24, 2)],            # [2] t -> [2]
    "pointer loop": [_INT, struct.pack("<III", 0, 2 << 24, 2)],            # [2] ptr -> [2]
    "array of itself": [_INT, struct.pack("<IIIIII", 0, 3 << 24, 0, 2, 1, 4)],
    "prototype of itself": [_INT, struct.pack("<IIIII", 0, (13 << 24) | 1, 1, 0, 2)],
    "type id past the end": [_INT, struct.pack("<III", 0, 2 << 24, 99)],
    "datasec var past the end": [_INT, struct.pack("<IIIIII", 5, (15 << 24) | 1, 4,
                                                   0x7F000031, 0, 4)],
    "member name past the strings": [_INT, struct.pack("<IIIIII", 5, (4 << 24) | 1, 4,
                                                        999, 1, 0)],
    # [2] int (*)(...) returns [3] struct t { [4] m; } and takes a [4], a pointer to [2]:
    # the loop [2] -> [4] -> [2] has no struct in it, though [2] -> [3] -> [4] -> [2] has
    # (a walk that met the second first took the first for safe: btf_dump recursed
    # until the stack overflowed)
    "prototype loop beside a struct": [
        _INT, struct.pack("<IIIII", 0, (13 << 24) | 1, 3, 0, 4),
        struct.pack("<IIIIII", 5, (4 << 24) | 1, 8, 0, 4, 0),
        struct.pack("<III", 0, 2 << 24, 2)],
}
_DUMP_CHILD = """
import sys
from libbpf_py import Btf
from libbpf_py.errors import LibbpfError
try:
    btf = Btf.from_bytes(bytes.fromhex(sys.argv[1]))
except LibbpfError as exc:
    print("parse refused:", exc.errno)
    sys.exit(0)
with btf:
    try:
        btf.dump_c()
    except ValueError as exc:
        print("ValueError:", exc)
"""


@pytest.mark.parametrize("case", sorted(_HOSTILE_BTF))
def test_dump_c_refuses_btf_libbpf_would_crash_on(case: str) -> None:
    image = _btf_image(_HOSTILE_BTF[case], b"\0int\0t\0")
    proc = subprocess.run([sys.executable, "-c", _DUMP_CHILD, image.hex()],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"{case}: exit {proc.returncode}\n{proc.stderr[-2000:]}"
    if not _btfguard.ACTIVE and _btfguard.btf_problem(image) is not None:
        # libbpf >= 1.4 refuses ids and names out of range as it parses (btf_sanity_check)
        assert f"parse refused: {errno.EINVAL}" in proc.stdout, proc.stdout + proc.stderr
        return
    assert "ValueError: BTF '<memory>': type [" in proc.stdout, proc.stdout + proc.stderr
    assert "malformed BTF" in proc.stdout


# A reference to a type the BTF does not have, as a fuzzer made them: each reader that
# follows it says the BTF is malformed (ValueError), as dump_c does, instead of raising
# the IndexError of btf[99], whose id is the caller's.
_DANGLING = {
    "members": [_INT, struct.pack("<IIIIII", 5, (4 << 24) | 1, 4, 5, 99, 0)],
    "type": [_INT, struct.pack("<III", 0, 2 << 24, 99)],
    "resolve": [_INT, struct.pack("<III", 5, 8 << 24, 99)],
    "array": [_INT, struct.pack("<IIIIII", 0, 3 << 24, 0, 1, 99, 4)],
    "params": [_INT, struct.pack("<IIIII", 0, (13 << 24) | 1, 1, 0, 99)],
    "secinfos": [_INT, struct.pack("<IIIIII", 5, (15 << 24) | 1, 4, 99, 0, 4)],
    # libbpf checks no FUNC_PROTO return type: this one parses on every libbpf
    "return type": [_INT, struct.pack("<III", 0, 13 << 24, 99)],
}


@pytest.mark.parametrize("case", sorted(_DANGLING))
def test_a_reference_past_the_last_type_is_malformed_btf(case: str) -> None:
    image = _btf_image(_DANGLING[case], b"\0int\0t\0")
    if not _btfguard.ACTIVE and _btfguard.btf_problem(image) is not None:
        with pytest.raises(LibbpfError) as info:  # libbpf >= 1.4 refuses it as it parses
            Btf.from_bytes(image)
        assert info.value.errno == errno.EINVAL
        return
    with Btf.from_bytes(image) as btf:
        t = btf[2]
        prop = "type" if case == "return type" else case
        with pytest.raises(ValueError, match=r"BTF '<memory>': type \[2\] refers to type id 99 "
                                             r"\(ids 0\.\.2\): malformed BTF"):
            getattr(t, prop)() if prop == "resolve" else getattr(t, prop)
        if case in ("members", "secinfos"):  # the raw dump shows their types' kinds
            with pytest.raises(ValueError, match="malformed BTF"):
                btf.dump_raw()
        else:  # it prints the ids as written, as bpftool does
            assert "=99" in btf.dump_raw()
        with pytest.raises(IndexError, match="has no type id 99"):
            btf[99]


def test_dump_c_still_dumps_a_struct_that_points_to_itself() -> None:
    # the cycle a linked list makes goes through a struct: btf_dump declares it first
    strings = b"\0int\0node\0next\0v\0"
    image = _btf_image([
        _INT,
        struct.pack("<III", 5, (4 << 24) | 2, 16),    # [2] struct node
        struct.pack("<III", 10, 3, 0),                #   next: [3]
        struct.pack("<III", 15, 1, 64),               #   v: int
        struct.pack("<III", 0, 2 << 24, 2),           # [3] ptr -> [2]
    ], strings)
    with Btf.from_bytes(image) as btf:
        text = btf.dump_c(header=False)
    assert "struct node {" in text and "struct node *next;" in text
