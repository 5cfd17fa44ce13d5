"""No crash, no silent wrong value (issue 14): every Python value written into C or
kernel memory is checked first, by libbpf_py/_validate.py, with one message style.

tests/bpf/validate.bpf.c has a BTF-typed map value (u32, s32, bitfields, u64), a
.rodata filter and .bss variables, and a program the tests rename to a name that
is not UTF-8 by patching a copy of the ELF file's symbol string table.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from conftest import Compile
from elftools.elf.elffile import ELFFile

from libbpf_py import BpfObject, Btf, Map, Skeleton
from libbpf_py.enums import MapType, UpdateFlag
from libbpf_py.errors import LibbpfError
from libbpf_py.gen import generate

pytestmark = pytest.mark.kernel
U32 = r"does not fit an unsigned 32-bit int \(range 0\.\.4294967295\)"


@pytest.fixture
def validate_o(kernel: None, compile_bpf: Compile) -> Path:
    return compile_bpf("validate")


@pytest.fixture
def loaded(validate_o: Path) -> Iterator[BpfObject]:
    with BpfObject.open(validate_o) as obj:
        obj.load()
        yield obj


@pytest.fixture(params=["runtime", "generated"])
def open_skel(request: pytest.FixtureRequest, validate_o: Path, tmp_path: Path,
              import_generated: Callable[[Path, str], Any]
              ) -> Iterator[Callable[[], Skeleton]]:
    """Skeleton.open(path) and the generated module's open(), behind one opener."""
    if request.param == "runtime":
        yield lambda: Skeleton.open(validate_o)
        return
    out = tmp_path / "validate_skel.py"
    out.write_text(generate(validate_o))
    module = import_generated(out, "validate")
    yield lambda: module.open()  # type: ignore[no-any-return]


# -- defect 5: out-of-range ints are refused, never wrapped --------------------------------

def test_btf_struct_value_fields_are_range_checked(loaded: BpfObject) -> None:
    m = loaded.maps.vt_events
    m[1] = {"pid": 7, "delta": -1, "mode": 5, "level": -3, "total": 2**64 - 1}
    e = m[1]
    with pytest.raises(ValueError, match=r"^vt_rec\.pid = 8589934592 " + U32):
        e.pid = 2**33
    with pytest.raises(ValueError, match=r"delta = 2147483648 does not fit a signed 32-bit "
                                         r"int \(range -2147483648\.\.2147483647\)"):
        e.delta = 2**31
    with pytest.raises(ValueError, match=r"mode = 9 does not fit an unsigned 3-bit bitfield "
                                         r"\(range 0\.\.7\)"):
        e.mode = 9
    with pytest.raises(ValueError, match=r"level = 16 does not fit a signed 5-bit bitfield "
                                         r"\(range -16\.\.15\)"):
        e.level = 16
    with pytest.raises(ValueError, match=r"total = -1 does not fit an unsigned 64-bit int"):
        e.total = -1
    for bad in (True, 1.0, "1", None):
        with pytest.raises(TypeError, match=r"vt_rec\.pid must be an int, not "):
            e.pid = bad
    m[1] = e  # nothing of the refused writes reached the value
    assert (m[1].pid, m[1].delta, m[1].mode, m[1].level, m[1].total) == \
        (7, -1, 5, -3, 2**64 - 1)
    with pytest.raises(ValueError, match=r"pid = 8589934592 " + U32):
        m[2] = {"pid": 2**33}
    with pytest.raises(ValueError, match=r"mode = 9 does not fit"):
        m[2] = {"mode": 9}
    assert 2 not in m
    e.mode, e.level, e.delta = 7, -16, -2**31  # the edges fit
    m[1] = e
    assert (m[1].mode, m[1].level, m[1].delta) == (7, -16, -2**31)


def test_plain_int_maps_use_the_same_rule(maps: Callable[..., Map]) -> None:
    m = maps(MapType.HASH, 4, 4, 4)
    with pytest.raises(ValueError, match=r"^value of .*map = 4294967296 " + U32):
        m[1] = 2**32
    with pytest.raises(ValueError, match=r"^key of .*map = -1 " + U32):
        m[-1] = 1
    with pytest.raises(TypeError):
        m[1] = 2.0
    assert len(m) == 0


def test_skeleton_sections_are_range_checked(open_skel: Callable[[], Skeleton]) -> None:
    with open_skel() as skel:
        with pytest.raises(ValueError, match=r"counter = 18446744073709551621 does not fit an "
                                             r"unsigned 64-bit int"):
            skel.bss.counter = 2**64 + 5
        with pytest.raises(ValueError, match=r"counter = 18446744073709551621 does not fit"):
            skel.set_var("counter", 2**64 + 5)
        with pytest.raises(ValueError, match=r"targ_tgid = -1 " + U32):
            skel.rodata.targ_tgid = -1
        with pytest.raises(TypeError, match=r"targ_tgid must be an int, not bool"):
            skel.rodata.targ_tgid = True
        with pytest.raises(TypeError, match=r"balance must be an int, not float"):
            skel.bss.balance = 1.5
        assert skel.bss.counter == 0 and skel.rodata.targ_tgid == 0
        skel.bss.counter = 2**64 - 1
        skel.rodata.targ_tgid = os.getpid()
        skel.load()
        # after load .bss is the map's memory (mmap): the same checks
        with pytest.raises(ValueError, match=r"balance = 2147483648 does not fit a signed "
                                             r"32-bit int"):
            skel.bss.balance = 2**31
        with pytest.raises(ValueError, match=r"counter = -1 does not fit"):
            skel.set_var("counter", -1)
        assert skel.bss.counter == 2**64 - 1 and skel.bss.balance == 0


def test_object_set_var_is_range_checked(validate_o: Path) -> None:
    with BpfObject.open(validate_o) as obj:
        with pytest.raises(ValueError, match=r"counter = 18446744073709551621 does not fit"):
            obj.set_var("counter", 2**64 + 5)
        assert obj.var("counter") == 0
        obj.load()
        with pytest.raises(ValueError, match=r"counter = 18446744073709551621 does not fit"):
            obj.set_var("counter", 2**64 + 5)
        assert obj.var("counter") == 0


def test_array_elements_are_range_checked(kernel: None, compile_bpf: Compile) -> None:
    with Skeleton.open(compile_bpf("skel")) as skel:
        grid = skel.data.init.grid                 # __s8 grid[2][3]
        with pytest.raises(ValueError, match=r"= 200 does not fit a signed 8-bit int "
                                             r"\(range -128\.\.127\)"):
            grid[0][0] = 200
        with pytest.raises(ValueError, match=r"= 200 does not fit a signed 8-bit int"):
            skel.data.init.grid = [[1, 2, 3], [4, 5, 200]]
        with pytest.raises(TypeError, match=r"must be an int, not bool"):
            grid[0][1] = True
        assert skel.data.init.grid[0][0] == 1 and skel.data.init.grid[1][2] == -6


def test_rows_and_nested_records_from_sequences(kernel: None, compile_bpf: Compile) -> None:
    # a row of a nested array from a list was a ctypes TypeError ("expected
    # c_byte_Array_3 instance, got list"), and from a tuple, like a nested record
    # from a tuple, the range error came back as a RuntimeError ("(layout) ValueError:")
    with Skeleton.open(compile_bpf("skel")) as skel:
        grid = skel.data.init.grid                 # __s8 grid[2][3]
        for row in ([1, 2, 300], (1, 2, 300)):
            with pytest.raises(ValueError, match=r"\[0\]\[2\] = 300 does not fit a signed "
                                                 r"8-bit int"):
                grid[0] = row
        with pytest.raises(ValueError, match="an array of 3 elements needs 3 values, got 2"):
            grid[1] = [1, 2]
        assert skel.data.init.grid[0][2] == 3      # nothing of a refused row was written
        grid[0] = [7, -8, 9]
        grid[1] = (-1, 0, 1)
        assert [list(r) for r in skel.data.init.grid] == [[7, -8, 9], [-1, 0, 1]]
        with pytest.raises(ValueError, match=r"layout\.kind = 300 does not fit an unsigned "
                                             r"8-bit int"):
            skel.data.init = (300,)
        skel.data.init = (5,)
        assert skel.data.init.kind == 5
    with BpfObject.open(compile_bpf("maps")) as obj:
        obj.load()
        events = obj.maps["events"]                # struct event { ... struct pair pair; }
        with pytest.raises(ValueError, match=r"pair\.a = 70000 does not fit an unsigned "
                                             r"16-bit int"):
            events[1] = {"pair": (70000, 1)}
        events[1] = {"pair": (513, 9)}
        assert (events[1].pair.a, events[1].pair.b) == (513, 9)


def test_slice_writes_are_checked_as_element_writes(kernel: None,
                                                    compile_bpf: Compile) -> None:
    # a slice of nested rows went straight to ctypes: a list row was its TypeError
    # ("expected c_byte_Array_3 instance, got list"), a tuple row's range error a
    # RuntimeError, a short tuple row was zero-filled without a word, and a wrong count
    # was "Can only assign sequence of same size"
    from libbpf_py.skeleton import array_type

    with Skeleton.open(compile_bpf("skel")) as skel:
        grid = skel.data.init.grid                 # __s8 grid[2][3]
        for rows in ([[1, 2, 3], [4, 5, 600]], [(1, 2, 3), (4, 5, 600)]):
            with pytest.raises(ValueError, match=r"\[1\]\[2\] = 600 does not fit a signed "
                                                 r"8-bit int"):
                grid[0:2] = rows
        with pytest.raises(ValueError, match=r"\[1\]: an array of 3 elements needs 3 "
                                             r"values, got 2"):
            grid[:] = [(1, 2, 3), (4, 5)]
        with pytest.raises(ValueError, match=r"\[0:2\] takes 2 values, got 1"):
            grid[0:2] = [[1, 2, 3]]
        with pytest.raises(TypeError, match=r"\[0:3\] takes a sequence of 3 values, not int"):
            grid[0][0:3] = 5
        with pytest.raises(ValueError, match=r"\[2\] = 300 does not fit"):
            grid[0][:] = [1, 2, 300]
        with pytest.raises(TypeError, match=r"\[2\] must be an int, not str"):
            grid[0][::2] = [1, "x"]
        # nothing of a refused slice was written
        assert [list(r) for r in skel.data.init.grid] == [[1, -2, 3], [-4, 5, -6]]
        grid[0:2] = [[7, -8, 9], (-1, 0, 1)]
        grid[1][::2] = (v for v in (10, 11))       # any iterable, as a list slice takes
        assert [list(r) for r in skel.data.init.grid] == [[7, -8, 9], [10, 0, 11]]
        # an array of records (struct layout), from dicts and tuples
        recs = array_type(type(skel.data.init), 2)()
        with pytest.raises(ValueError, match=r"layout\.kind = 300 does not fit an "
                                             r"unsigned 8-bit int"):
            recs[0:2] = [{"kind": 1}, (300,)]
        with pytest.raises(ValueError, match=r"layout\.kind = 300 does not fit"):
            recs[:] = [(1,), {"kind": 300}]
        assert [r.kind for r in recs] == [0, 0]
        recs[:] = [{"kind": 1, "x": 2}, (3,)]
        assert (recs[0].kind, recs[0].x, recs[1].kind) == (1, 2, 3)


# -- defect 6: a misspelled name is an error, with a suggestion ----------------------------

def test_misspelled_section_variable(open_skel: Callable[[], Skeleton]) -> None:
    with open_skel() as skel:
        with pytest.raises(AttributeError, match=r"rodata.* has no field 'targ_tigd'; did you "
                                                 r"mean 'targ_tgid'\? \(fields: targ_tgid\)"):
            skel.rodata.targ_tigd = 3
        with pytest.raises(AttributeError, match=r"did you mean 'targ_tgid'\?"):
            skel.rodata.targ_tigd  # noqa: B018
        with pytest.raises(AttributeError, match=r"has no field 'countr'; did you mean "
                                                 r"'counter'\?"):
            skel.bss.countr = 1
        with pytest.raises(AttributeError, match=r"has no field 'zzz' \(fields: counter, "
                                                 r"balance\)"):
            skel.bss.zzz = 1
        skel.load()
        with pytest.raises(AttributeError, match=r"did you mean 'counter'\?"):
            skel.bss.countr = 1


def test_misspelled_struct_field(loaded: BpfObject) -> None:
    m = loaded.maps.vt_events
    m[1] = {"pid": 7}
    e = m[1]
    with pytest.raises(AttributeError, match=r"struct vt_rec has no field 'pidd'; did you "
                                             r"mean 'pid'\? \(fields: pid, delta, mode, "
                                             r"level, total\)"):
        e.pidd = 7
    with pytest.raises(AttributeError, match=r"did you mean 'pid'\?"):
        e.pidd  # noqa: B018
    assert not hasattr(e, "pidd")


# -- defect 7: a NUL byte in a path or name never reaches C --------------------------------

def test_nul_in_paths_is_refused(loaded: BpfObject, bpffs_dir: Path,
                                 validate_o: Path) -> None:
    bad = str(bpffs_dir / "counts\0/../elsewhere")
    m = loaded.maps.vt_events
    prog = loaded.programs.vt_prog_name_zz
    link = prog.attach()
    try:
        for what, call in (("map.pin", lambda: m.pin(bad)),
                           ("map.unpin", lambda: m.unpin(bad)),
                           ("prog.pin", lambda: prog.pin(bad)),
                           ("prog.unpin", lambda: prog.unpin(bad)),
                           ("link.pin", lambda: link.pin(bad)),
                           ("Map.from_pinned", lambda: Map.from_pinned(bad)),
                           ("obj.pin_maps", lambda: loaded.pin_maps(bad)),
                           ("obj.pin_programs", lambda: loaded.pin_programs(bad))):
            with pytest.raises(ValueError, match=r"contains a NUL byte at offset"):
                call()
            assert os.listdir(bpffs_dir) == [], what
        with pytest.raises(ValueError, match=r"NUL byte"):
            m.pin(bad.encode())
        with pytest.raises(ValueError, match=r"category contains a NUL byte"):
            prog.attach_tracepoint("syscalls\0x", "sys_enter_getppid")
    finally:
        link.destroy()
    with BpfObject.open(validate_o) as obj:
        with pytest.raises(ValueError, match=r"NUL byte"):
            obj.maps.vt_events.set_pin_path(bad)
        with pytest.raises(ValueError, match=r"NUL byte"):
            obj.maps.vt_events.pin_path = bad
        assert obj.maps.vt_events.pin_path is None
    with pytest.raises(ValueError, match=r"NUL byte"):
        BpfObject.open(validate_o, pin_root_path=bad)


# -- defect 9: names that are not UTF-8 ----------------------------------------------------

def _patched(src: Path, dst: Path, old: bytes, new: bytes) -> Path:
    """A copy of ``src`` with ``old`` replaced by ``new`` in its symbol string table only."""
    assert len(old) == len(new)
    data = bytearray(src.read_bytes())
    with open(src, "rb") as f:
        strtab = ELFFile(f).get_section_by_name(".strtab")
        start, size = strtab["sh_offset"], strtab["sh_size"]
    at = data.find(old, start, start + size)
    assert at >= 0
    data[at:at + len(old)] = new
    dst.write_bytes(bytes(data))
    return dst


def test_non_utf8_program_name(validate_o: Path, tmp_path: Path) -> None:
    path = _patched(validate_o, tmp_path / "validate.bpf.o", b"vt_prog_name_zz",
                    b"vt_prog_name_\xff\xfe")
    with BpfObject.open(path) as obj:
        name = "vt_prog_name_\udcff\udcfe"
        assert list(obj.programs) == [name]
        prog = obj.programs[name]
        assert prog.name == name and os.fsencode(prog.name) == b"vt_prog_name_\xff\xfe"
        assert "vt_prog_name_\\xff\\xfe" in repr(prog)
        repr(obj)
        prog.autoload = True
        try:
            obj.load()
        except LibbpfError as exc:  # the kernel may refuse the name: a clean error then
            assert "vt_prog_name_\\xff\\xfe" in str(exc) or "\\xff" not in str(exc)
            str(exc).encode("utf-8")
        else:
            link = prog.attach()
            link.destroy()


def test_non_utf8_object_name(validate_o: Path) -> None:
    for name in (b"obj\xff", "obj\udcff"):
        with BpfObject.open_mem(validate_o.read_bytes(), name=name) as obj:
            assert obj.name == "obj\udcff"
            assert "obj\\xff" in repr(obj)
            assert list(obj.programs) == ["vt_prog_name_zz"]
            assert len(obj.maps) >= 3
            obj.load()
            assert "obj\\xff" in repr(obj)


def test_an_object_name_libbpf_would_cut_is_refused(validate_o: Path) -> None:
    # libbpf keeps 15 bytes of an object name (char name[BPF_OBJ_NAME_LEN]): a longer
    # one came back cut ('my_long_object_'), without a word.
    data = validate_o.read_bytes()
    with BpfObject.open_mem(data, name="x" * 15) as obj:
        assert obj.name == "x" * 15
    for name in ("my_long_object_name", "\u00e9" * 8):  # (16 bytes in UTF-8)
        with pytest.raises(ValueError, match=r"bytes: libbpf keeps an object name of at most 15"):
            BpfObject.open_mem(data, name=name)
        with pytest.raises(ValueError, match=r"at most 15"):
            BpfObject.open(validate_o, name=name)
    # a skeleton's (bpftool's) name may be longer: the object gets its first 15 bytes
    with Skeleton.open(validate_o, name="a_skeleton_name_longer_than_15") as skel:
        assert skel.obj.name == "a_skeleton_name"


def test_btf_base_and_header_arguments_are_checked(validate_o: Path) -> None:
    with Btf.from_file(validate_o) as btf:
        raw = btf.raw_data()
        with pytest.raises(TypeError, match=r"^base must be a Btf, not int$"):
            Btf.from_bytes(raw, base=5)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=r"^base must be a Btf, not str$"):
            Btf.from_file(validate_o, base="x")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=r"^base must be a Btf, not str$"):
            Btf.load_from_kernel_by_id(1, base="x")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=r"^header must be None, True or False, not str$"):
            btf.dump_c(header="no")  # type: ignore[arg-type]


# -- the rest of issue 14 ------------------------------------------------------------------

def test_int_arguments_raise_value_error(validate_o: Path, maps: Callable[..., Map]) -> None:
    with pytest.raises(ValueError, match=r"fd = 1099511627776 does not fit a file descriptor"):
        Map.from_fd(2**40)
    with pytest.raises(ValueError, match=r"does not fit"):
        Map.from_id(2**40)
    with pytest.raises(ValueError, match=r"kernel_log_level = 1099511627776 " + U32):
        BpfObject.open(validate_o, kernel_log_level=2**40)
    with pytest.raises(ValueError, match=r"kernel_log_size = 1099511627776 " + U32):
        BpfObject.open(validate_o, kernel_log_size=2**40)
    m = maps(MapType.HASH, 4, 4, 4)
    inner = maps(MapType.HASH, 4, 4, 4)
    with pytest.raises(ValueError, match=r"does not fit a file descriptor"):
        maps(MapType.ARRAY_OF_MAPS, 4, 4, 1, inner_map=2**40)
    with pytest.raises(ValueError, match=r"flags = 18446744073709551616 does not fit"):
        m.update(1, 1, flags=2**64)
    del inner


def test_update_flags_error_names_the_bad_bits(maps: Callable[..., Map]) -> None:
    m = maps(MapType.HASH, 4, 4, 4)
    with pytest.raises(ValueError, match=r"unknown bits 0xf8 .*valid: ANY \(0\), NOEXIST \(1\), "
                                         r"EXIST \(2\), F_LOCK \(4\)"):
        m.update(1, 1, flags=0xFF)
    with pytest.raises(ValueError, match=r"unknown bits 0x400"):
        m.update(1, 1, flags=1 << 10)
    with pytest.raises(ValueError, match=r"NOEXIST and EXIST"):
        m.update(1, 1, flags=UpdateFlag.NOEXIST | UpdateFlag.EXIST)
    with pytest.raises(ValueError, match=r"unknown bits 0x1 .*valid: F_LOCK \(4\)"):
        m.lookup(1, flags=1)
    with pytest.raises(LibbpfError, match=r"F_LOCK"):  # a real F_LOCK misuse still says so
        m.update(1, 1, flags=UpdateFlag.F_LOCK)
    assert len(m) == 0


def test_update_batch_overflow_says_how_many_were_written(maps: Callable[..., Map]) -> None:
    m = maps(MapType.HASH, 4, 4, 4)
    m[100] = 1
    with pytest.raises(LibbpfError) as info:
        m.update_batch({i: i for i in range(10)})
    exc = info.value
    written = len(m) - 1
    assert exc.written == written and 0 < written < 10
    assert re.search(rf"\b{written} of 10 pairs written", str(exc)), str(exc)
    assert all(m[i] == i for i in range(written))


def test_a_batch_refused_before_any_element_says_none_was_written(
        maps: Callable[..., Map]) -> None:
    """A batch the kernel refuses before its first element (F_LOCK on a map without
    a bpf_spin_lock; a map type without the batch op) leaves the count as it was
    passed in, the batch's length: update_batch said (and ``exc.written`` was) that
    every pair was written, so a caller resuming at ``written`` skipped them all."""
    m = maps(MapType.HASH, 4, 8, 8)
    with pytest.raises(LibbpfError) as info:
        m.update_batch({1: 1, 2: 2, 3: 3}, UpdateFlag.F_LOCK)
    assert len(m) == 0
    assert info.value.written == 0 and "0 of 3 pairs written" in str(info.value)
    a = maps(MapType.ARRAY, 4, 8, 8)
    with pytest.raises(LibbpfError) as info:
        a.delete_batch([1, 2])
    assert "after 0 of 2 elements" in str(info.value), str(info.value)


def test_bool_settings_take_bools_only(validate_o: Path) -> None:
    # autoload, autoattach and autocreate were bool(value): autoload = "no" (or
    # "false", [0]) turned the program on, None turned it off, without a word
    with BpfObject.open(validate_o) as obj:
        prog = next(iter(obj.programs.values()))
        m = next(iter(obj.maps.values()))
        for owner, attr in ((prog, "autoload"), (prog, "autoattach"), (m, "autocreate")):
            before = getattr(owner, attr)
            for bad in ("no", "false", None, [0], 1.0):
                with pytest.raises(TypeError, match=f"{attr} must be a bool, not "):
                    setattr(owner, attr, bad)
            with pytest.raises(ValueError, match=f"{attr} = 2 is not a bool"):
                setattr(owner, attr, 2)
            assert getattr(owner, attr) == before
            setattr(owner, attr, 0)
            assert getattr(owner, attr) is False
            setattr(owner, attr, True)
            assert getattr(owner, attr) is True


def test_relaxed_maps_open_option_takes_bools_only(validate_o: Path) -> None:
    # the open option was bool(value): relaxed_maps="no" (or "false", [0]) turned
    # libbpf's relaxed map checks on without a word
    data = validate_o.read_bytes()
    for opener in (lambda **kw: BpfObject.open(validate_o, **kw),
                   lambda **kw: BpfObject.open_mem(data, **kw),
                   lambda **kw: Skeleton.open(validate_o, **kw)):
        for bad in ("no", "false", [0], 1.0, b""):
            with pytest.raises(TypeError, match=r"open option relaxed_maps must be a bool, "
                                                r"not "):
                opener(relaxed_maps=bad)
        with pytest.raises(ValueError, match=r"relaxed_maps = 2 is not a bool"):
            opener(relaxed_maps=2)
        for good in (True, False, 0, 1, None):
            opener(relaxed_maps=good).close()


def test_type_settings_take_members_ints_or_names(validate_o: Path) -> None:
    # Program.type and expected_attach_type were int(value): 1.5 and True set type 1
    # (SOCKET_FILTER / CGROUP_INET_EGRESS), the str "6" type 6, without a word
    from libbpf_py.enums import AttachType, ProgType

    with BpfObject.open(validate_o) as obj:
        prog = next(iter(obj.programs.values()))
        before = (prog.type, prog.expected_attach_type)
        for attr in ("type", "expected_attach_type"):
            for bad in (1.5, True, None, b"6"):
                with pytest.raises(TypeError, match=r"must be an int, not "):
                    setattr(prog, attr, bad)
            for bad in ("6", "no_such_type"):
                with pytest.raises(ValueError, match=r"unknown (program|attach) type"):
                    setattr(prog, attr, bad)
            for bad in (-1, 2**32):
                with pytest.raises(ValueError, match=r"does not fit an unsigned 32-bit int"):
                    setattr(prog, attr, bad)
        assert (prog.type, prog.expected_attach_type) == before
        prog.type = "xdp"
        prog.expected_attach_type = "xdp"
        assert (prog.type, prog.expected_attach_type) == (ProgType.XDP, AttachType.XDP)
        prog.type = int(ProgType.TRACEPOINT)
        prog.expected_attach_type = AttachType.CGROUP_INET_INGRESS
        assert (prog.type, prog.expected_attach_type) == (ProgType.TRACEPOINT,
                                                          AttachType.CGROUP_INET_INGRESS)


def test_update_program_takes_programs_only(loaded: BpfObject) -> None:
    # Link.update_program read program._ptr and FdLink's program.fd: anything but a
    # Program was an AttributeError ("'NoneType' object has no attribute 'fd'")
    from libbpf_py import Link

    prog = loaded.programs.vt_prog_name_zz
    with prog.attach() as link, Link.from_id(link.id) as by_id:
        for target in (link, by_id):
            for bad in (None, prog.fd, "vt_prog_name_zz", loaded.maps.vt_events):
                with pytest.raises(TypeError, match=r"program must be a Program \(of a "
                                                    r"BpfObject, or an FdProgram\), not "):
                    target.update_program(bad)
        assert link.program is prog and link.info().prog_id == prog.id


def test_attach_cgroup_checks_expected_revision_first(loaded: BpfObject) -> None:
    # expected_revision was only tested for truth: "", b"" or None were taken as 0 (no
    # revision check) without a word; anything true reached the int check
    prog = loaded.programs.vt_prog_name_zz
    for bad in ("", b"", None, 0.0, [], "1"):
        with pytest.raises(TypeError, match=r"^expected_revision must be an int, not "):
            prog.attach_cgroup("/sys/fs/cgroup", expected_revision=bad)
    for bad in (-1, 2**64):
        with pytest.raises(ValueError, match=r"^expected_revision = .* does not fit an "
                                             r"unsigned 64-bit int"):
            prog.attach_cgroup("/sys/fs/cgroup", expected_revision=bad)


def test_skeleton_open_refuses_an_empty_name(validate_o: Path) -> None:
    # name was `options.pop("name") or default`: "" (or any false value) silently
    # became the default name, while BpfObject.open(name="") names the object ""
    with pytest.raises(ValueError, match=r"open option name is empty"):
        Skeleton.open(validate_o, name="")
    for bad in (b"", 0, []):
        with pytest.raises(TypeError, match=r"open option name must be a str, not "):
            Skeleton.open(validate_o, name=bad)
    with Skeleton.open(validate_o, name=None) as skel:
        assert skel.name == "validate_bpf"
    with Skeleton.open(validate_o, name="vt") as skel:
        assert skel.name == "vt"


def test_int_settings_write_an_int_subclass_as_the_int_it_is(validate_o: Path) -> None:
    # check_int range-checked and returned int(value), which is what an int subclass's
    # __int__ says: a map setting or program flag of Odd(3) was set to 6, and Odd(2**40)
    # passed a 32-bit check as 6 (cffi, given the object itself, writes the int it is)
    class Odd(int):
        def __int__(self) -> int:
            return 6

        def __index__(self) -> int:
            return 6

    with BpfObject.open(validate_o) as obj:
        m = obj.maps.vt_events
        prog = next(iter(obj.programs.values()))
        m.max_entries = Odd(3)
        prog.log_level = Odd(1)
        assert (m.max_entries, prog.log_level) == (3, 1)
        with pytest.raises(ValueError, match=r"max_entries = 1099511627776 " + U32):
            m.max_entries = Odd(2**40)
        assert m.max_entries == 3


def test_an_empty_pin_path_is_refused_when_set(validate_o: Path) -> None:
    # pin_path = "" was kept, and load() failed later with libbpf's EINVAL ("map
    # 'vt_events': failed to create"), which does not say what was wrong
    with BpfObject.open(validate_o) as obj:
        m = obj.maps.vt_events
        for setter in (m.set_pin_path, lambda p: setattr(m, "pin_path", p)):
            for bad in ("", b""):
                with pytest.raises(ValueError, match=r"^pin_path is empty"):
                    setter(bad)
        assert m.pin_path is None
        obj.load()
