"""Objects whose .BTF libbpf < 1.4 follows blindly: a clean LibbpfError, never a crash.

libbpf 1.1.2's ``bpf_object__open`` dereferences NULL on BTF with a type id past
the last type or a name past the string section (it reads the ``.maps``
definitions through them); libbpf >= 1.4 validates BTF when it parses it
(``btf_sanity_check``). ``libbpf_py._btfguard`` applies those checks before an
older libbpf opens the object. The hostile objects are written here by patching
the .BTF of a compiled tests/bpf object, and opened in a child process: a crash
is its exit status.
"""

from __future__ import annotations

import errno
import json
import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import elfpatch
import pytest
from conftest import Compile

from libbpf_py import _btfguard
from libbpf_py._binding import RUNTIME_VERSION
from libbpf_py.errors import LibbpfError

OLD_LIBBPF = RUNTIME_VERSION < _btfguard.FIRST_VALIDATING
_STRUCT, _UNION, _VAR, _DATASEC, _FUNC, _FUNC_PROTO, _PTR = 4, 5, 14, 15, 12, 13, 2


def _btf_layout(data: bytes) -> Tuple[int, int, int, List[Tuple[int, int, int, int]]]:
    """(file offset of the strings, string section length, type count, records)."""
    sec = elfpatch.sections(data)[".BTF"]
    hdr_len, _, _, str_off, str_len = struct.unpack_from("<IIIII", data, sec.offset + 4)
    records = elfpatch.btf_records(data)
    return sec.offset + hdr_len + str_off, str_len, len(records) + 1, records


def _name(data: bytes, strings: int, pos: int) -> bytes:
    off, = struct.unpack_from("<I", data, pos)
    return data[strings + off:data.index(b"\0", strings + off)]


def _map_def(data: bytes) -> Tuple[int, int]:
    """(record offset, vlen) of the struct the first .maps variable is defined with."""
    strings, _, _, records = _btf_layout(data)
    by_id = {tid: (kind, vlen, pos) for tid, kind, vlen, pos in records}
    for _tid, kind, vlen, pos in records:
        if kind == _DATASEC and _name(data, strings, pos) == b".maps" and vlen:
            var, = struct.unpack_from("<I", data, pos + 12)
            struct_id, = struct.unpack_from("<I", data, by_id[var][2] + 8)
            skind, svlen, spos = by_id[struct_id]
            assert skind == _STRUCT and svlen
            return spos, svlen
    raise AssertionError("no .maps variable in the object's BTF")


def _patch(data: bytes, pos: int, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into("<I", out, pos, value)
    return bytes(out)


def member_type_past_end(data: bytes) -> bytes:
    pos, _ = _map_def(data)
    return _patch(data, pos + 12 + 4, _btf_layout(data)[2] + 100)


def member_type_huge(data: bytes) -> bytes:
    pos, _ = _map_def(data)
    return _patch(data, pos + 12 + 4, 0xFF00000A)


def member_name_past_strings(data: bytes) -> bytes:
    pos, _ = _map_def(data)
    return _patch(data, pos + 12, _btf_layout(data)[1] + 40)


def map_pointer_target_past_end(data: bytes) -> bytes:
    # __uint(type, ...) is a pointer to an array: the pointer's target
    pos, _ = _map_def(data)
    ptr, = struct.unpack_from("<I", data, pos + 12 + 4)
    _, _, count, records = _btf_layout(data)
    rec = next(r for r in records if r[0] == ptr)
    assert rec[1] == _PTR
    return _patch(data, rec[3] + 8, count + 7)


def map_variable_type_past_end(data: bytes) -> bytes:
    strings, _, count, records = _btf_layout(data)
    maps = next(r for r in records
                if r[1] == _DATASEC and _name(data, strings, r[3]) == b".maps")
    var, = struct.unpack_from("<I", data, maps[3] + 12)
    pos = next(r[3] for r in records if r[0] == var)
    return _patch(data, pos + 8, count + 9)


#: mutations of maps.bpf.o that crash libbpf 1.1.2's bpf_object__open (SIGSEGV)
CRASHERS: Dict[str, Callable[[bytes], bytes]] = {
    "member_type_past_end": member_type_past_end,
    "member_type_huge": member_type_huge,
    "map_variable_type_past_end": map_variable_type_past_end,
}
#: mutations libbpf 1.1.2 refuses on its own (EINVAL, no reason given), as newer libbpf does
REFUSED_ANYWAY: Dict[str, Callable[[bytes], bytes]] = {
    "member_name_past_strings": member_name_past_strings,
    "map_pointer_target_past_end": map_pointer_target_past_end,
}

_OPEN_CHILD = """
import json, sys
from libbpf_py import BpfObject, Skeleton
from libbpf_py.errors import LibbpfError
path = sys.argv[1]
data = open(path, "rb").read()
out = {}
for key, fn in (("open_mem", lambda: BpfObject.open_mem(data)),
                ("open", lambda: BpfObject.open(path)),
                ("skeleton", lambda: Skeleton.open(data))):
    sys.stdout.flush()
    try:
        fn().close()
        out[key] = [0, ""]
    except LibbpfError as exc:
        out[key] = [exc.errno, str(exc)]
print(json.dumps(out))
"""


def _open_in_child(path: Path, timeout: float = 120) -> Dict[str, List[object]]:
    try:
        proc = subprocess.run([sys.executable, "-c", _OPEN_CHILD, str(path)],
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"opening {path.name} did not return in {timeout} s") from None
    assert proc.returncode == 0, (f"opening {path.name} killed the interpreter: exit "
                                  f"{proc.returncode}\n{proc.stderr[-2000:]}")
    return dict(json.loads(proc.stdout.splitlines()[-1]))


@pytest.mark.parametrize("case", sorted(CRASHERS) + sorted(REFUSED_ANYWAY))
def test_open_refuses_btf_old_libbpf_crashes_on(case: str, compile_bpf: Compile,
                                                tmp_path: Path) -> None:
    image = {**CRASHERS, **REFUSED_ANYWAY}[case](compile_bpf("maps").read_bytes())
    assert _btfguard.btf_problem(image[slice(*_btf_slice(image))]) is not None
    path = tmp_path / f"{case}.bpf.o"
    path.write_bytes(image)
    results = _open_in_child(path)
    for key, (err, message) in results.items():
        # the object needs its BTF (.maps): libbpf >= 1.4 refuses it with EINVAL too
        assert err == errno.EINVAL, f"{key}: {err} {message}"
        if OLD_LIBBPF:
            assert "corrupt .BTF section: type [" in str(message), message
            assert "libbpf >= 1.4 refuses it too" in str(message), message
        else:
            assert "corrupt .BTF section" not in str(message), message  # libbpf's own


def _btf_slice(image: bytes) -> Tuple[int, int]:
    sec = _btfguard.btf_section(image)
    assert sec is not None
    return sec[0], sec[0] + sec[1]


def test_object_that_does_not_need_btf(compile_bpf: Compile, tmp_path: Path) -> None:
    # no .maps: libbpf >= 1.4 opens it without BTF (and so without CO-RE relocations);
    # old libbpf_py refuses it, saying so
    data = compile_bpf("cli_printk").read_bytes()
    _, _, count, records = _btf_layout(data)
    func = next(r for r in records if r[1] == _FUNC)
    image = _patch(data, func[3] + 8, count + 3)
    path = tmp_path / "no_maps.bpf.o"
    path.write_bytes(image)
    results = _open_in_child(path)
    for key, (err, message) in results.items():
        if OLD_LIBBPF:
            assert err == errno.EINVAL, f"{key}: {err} {message}"
            assert "would open the object without BTF" in str(message), message
        else:
            assert err == 0, f"{key}: {err} {message}"  # libbpf's own answer, untouched


def typedef_loop(data: bytes) -> bytes:
    """The pointer the first .maps member is defined with becomes a typedef of itself."""
    pos, _ = _map_def(data)
    ptr, = struct.unpack_from("<I", data, pos + 12 + 4)
    _, _, _, records = _btf_layout(data)
    rec = next(r for r in records if r[0] == ptr)
    out = bytearray(data)
    struct.pack_into("<III", out, rec[3], 0, 8 << 24, ptr)  # TYPEDEF [ptr] -> [ptr]
    return bytes(out)


def two_modifiers_loop(data: bytes) -> bytes:
    """... or the pointers of the first two members: a const of a volatile of that const."""
    pos, vlen = _map_def(data)
    assert vlen >= 2
    first, = struct.unpack_from("<I", data, pos + 12 + 4)
    second, = struct.unpack_from("<I", data, pos + 24 + 4)
    _, _, _, records = _btf_layout(data)
    at = {r[0]: r for r in records}
    assert first != second and at[first][1] == at[second][1] == _PTR
    out = bytearray(data)
    struct.pack_into("<III", out, at[first][3], 0, 10 << 24, second)  # CONST -> second
    struct.pack_into("<III", out, at[second][3], 0, 9 << 24, first)   # VOLATILE -> first
    return bytes(out)


@pytest.mark.parametrize("case", ["typedef_loop", "two_modifiers_loop"])
def test_open_refuses_a_typedef_loop_every_libbpf_follows_forever(
        case: str, compile_bpf: Compile, tmp_path: Path) -> None:
    # libbpf's skip_mods_and_typedefs follows the chain forever (1.1.2, 1.4.6, 1.7.0):
    # bpf_object__open never returned. No libbpf refuses it, so the guard does, on any.
    mutate = {"typedef_loop": typedef_loop, "two_modifiers_loop": two_modifiers_loop}[case]
    image = mutate(compile_bpf("maps").read_bytes())
    btf = image[slice(*_btf_slice(image))]
    assert _btfguard.btf_problem(btf) is None  # newer libbpf's own rules pass it
    assert "leads back to itself" in str(_btfguard.mod_cycle(btf))
    path = tmp_path / f"{case}.bpf.o"
    path.write_bytes(image)
    results = _open_in_child(path, timeout=60)
    for key, (err, message) in results.items():
        assert err == errno.EINVAL, f"{key}: {err} {message}"
        assert "chain of typedefs and modifiers leads back to itself" in str(message)
        assert "libbpf would follow it forever" in str(message), message


def _bytes_read() -> int:
    """What this thread has read with read-like system calls (``rchar``; libelf maps
    the file libbpf opens, which does not count)."""
    with open("/proc/thread-self/io") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("rchar:"))


def test_open_reads_the_headers_and_the_btf_only(compile_bpf: Compile, tmp_path: Path) -> None:
    # 64 MiB after the ELF's last byte (libelf ignores them): the guard used to read the
    # whole file before libbpf read it again
    data = compile_bpf("maps").read_bytes()
    path = tmp_path / "padded.bpf.o"
    path.write_bytes(data)
    os.truncate(path, len(data) + (64 << 20))
    from libbpf_py import BpfObject
    before = _bytes_read()
    with BpfObject.open(path) as obj:
        assert obj.maps
    read = _bytes_read() - before
    assert read < len(data) + (1 << 20), f"BpfObject.open read {read} bytes"
    # and what it reads is the section the guard checks
    with open(path, "rb") as f:
        found = _btfguard.file_btf(f.fileno())
    sec = _btfguard.btf_section(data)
    assert found is not None and sec is not None
    assert found == (data[sec[0]:sec[0] + sec[1]], sec[2])


def test_guard_runs_only_on_old_libbpf() -> None:
    assert _btfguard.ACTIVE is OLD_LIBBPF


def test_suite_objects_pass(compile_bpf: Compile) -> None:
    for name in ("minimal", "maps", "skel", "btf_types", "events", "attach",
                 "attach_struct_ops", "codec", "cli_printk"):
        image = compile_bpf(name).read_bytes()
        _btfguard.raise_for(image, name)  # no false alarm
        assert _btfguard.mod_cycle(image[slice(*_btf_slice(image))]) is None
        assert _btfguard.btf_problem(image[slice(*_btf_slice(image))]) is None


# -- the rules, one by one, on small BTF (libbpf >= 1.4's btf_validate_type) -----------


def _btf(types: List[bytes], strings: bytes = b"\0int\0f\0") -> bytes:
    body = b"".join(types)
    return struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(body), len(body),
                       len(strings)) + body + strings


_INT = struct.pack("<IIII", 1, 1 << 24, 4, 32)  # [1] int
_PROTO = struct.pack("<III", 0, _FUNC_PROTO << 24, 1)  # [2] int (void)


@pytest.mark.parametrize("types, problem", [
    ([_INT], None),
    ([_INT, _PROTO, struct.pack("<III", 5, _FUNC << 24, 2)], None),
    ([struct.pack("<IIII", 99, 1 << 24, 4, 32)], "type [1]: invalid type name"),
    ([_INT, struct.pack("<III", 0, _PTR << 24, 3)], "type [2]: invalid referenced type ID 3"),
    ([_INT, struct.pack("<III", 0, _PTR << 24, 2)], None),  # a cycle: not libbpf's concern
    ([_INT, struct.pack("<III", 0, _PTR << 24, 0)], None),  # void *
    ([_INT, struct.pack("<III", 5, _FUNC << 24, 1)],
     "type [2]: referenced type [1] is not FUNC_PROTO"),
    ([_INT, struct.pack("<III", 5, _FUNC << 24, 0)],
     "type [2]: referenced type [0] is not FUNC_PROTO"),
    ([_INT, struct.pack("<IIIIII", 5, (_STRUCT << 24) | 1, 4, 70, 1, 0)],
     "type [2]: invalid field name (string offset 70)"),
    ([_INT, struct.pack("<IIIIII", 5, (_UNION << 24) | 1, 4, 5, 9, 0)],
     "type [2]: invalid referenced type ID 9"),
    ([_INT, struct.pack("<IIIIII", 0, 3 << 24, 0, 1, 8, 4)],  # array, index type 8
     "type [2]: invalid referenced type ID 8"),
    ([_INT, struct.pack("<IIIII", 0, (_FUNC_PROTO << 24) | 1, 1, 66, 1)],
     "type [2]: invalid param name (string offset 66)"),
    ([_INT, struct.pack("<IIIII", 1, (6 << 24) | 1, 4, 77, 0)],
     "type [2]: invalid enum name (string offset 77)"),
    ([_INT, struct.pack("<IIII", 5, _VAR << 24, 3, 1)],
     "type [2]: invalid referenced type ID 3"),
    ([_INT, struct.pack("<IIIIII", 5, (_DATASEC << 24) | 1, 4, 4, 0, 4)],
     "type [2]: invalid referenced type ID 4"),
    # what libbpf's own size checks refuse is left to libbpf: no problem reported
    ([struct.pack("<III", 0, 25 << 24, 0)], None),
])
def test_rules(types: List[bytes], problem: object) -> None:
    got = _btfguard.btf_problem(_btf(types))
    if problem is None:
        assert got is None
    else:
        assert got is not None and got.startswith(str(problem)), got


def test_big_endian_btf_is_checked_too() -> None:
    body = struct.pack(">IIII", 1, 1 << 24, 4, 32) + struct.pack(">III", 0, _PTR << 24, 5)
    strings = b"\0int\0"
    image = struct.pack(">HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(body), len(body),
                        len(strings)) + body + strings
    assert _btfguard.btf_problem(image) == "type [2]: invalid referenced type ID 5"


def test_broken_elf_is_left_to_libbpf(compile_bpf: Compile) -> None:
    data = compile_bpf("maps").read_bytes()
    bad = member_type_past_end(data)
    assert _btfguard.btf_section(bad) is not None
    # section headers out of the file, a .BTF past the end, a truncated image: not ours
    assert _btfguard.btf_section(bad[:0x28] + struct.pack("<Q", len(bad)) + bad[0x30:]) is None
    assert _btfguard.btf_section(elfpatch.set_field(bad, ".BTF", "sh_offset", len(bad))) is None
    assert _btfguard.btf_section(bad[:63]) is None
    assert _btfguard.btf_section(elfpatch.set_field(bad, ".BTF", "sh_type", 8)) is None
    with pytest.raises(LibbpfError) as info:
        _btfguard.raise_for(bad, "bpf_object__open_mem")
    assert info.value.errno == errno.EINVAL


def _set_header(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, value)
    return bytes(out)


@pytest.mark.parametrize("how, errnos", [
    # e_machine x86-64: "not a valid eBPF object file" (LIBBPF_ERRNO__FORMAT, 4001)
    ("e_machine", {4001}),
    # the symbol table made a plain data section: "couldn't find symbol table" (ENOENT)
    ("no_symtab", {errno.ENOENT}),
])
def test_what_libbpf_refuses_before_btf_keeps_its_answer(how: str, errnos: set,
                                                        compile_bpf: Compile) -> None:
    bad = member_type_past_end(compile_bpf("maps").read_bytes())
    if how == "e_machine":
        bad = _set_header(bad, 0x12, "<H", 62)
    else:
        bad = elfpatch.set_field(bad, ".symtab", "sh_type", 1)
    assert _btfguard.btf_section(bad) is None
    _btfguard.raise_for(bad, "x")  # nothing to say: libbpf refuses it before its BTF
    from libbpf_py import BpfObject
    with pytest.raises(LibbpfError) as info:
        BpfObject.open_mem(bad).close()
    assert info.value.errno in errnos, info.value
