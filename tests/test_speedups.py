"""libbpf_py._speedups on the real kernel: MapBase's C int path and deliver().

For maps of plain int keys and values (1, 2, 4 or 8 bytes) ``m[k]``, ``m[k] = v``
and ``del m[k]`` are each one C call into libbpf (libbpf_py/_speedups.c); anything
else goes the general Python way. These tests check that the C path gives exactly
what the general path gives: values at the edges of every int type, KeyError,
ValueError on out-of-range ints, the errors of a full map or of an array delete,
ClosedError after the map or its object is closed; that it is really taken
(``_fast_path``); that _speedups links no libbpf of its own; and that its entry
points refuse bad input without crashing. ``deliver()``, the ring buffer's
callback loop, is checked on batches built here: views reused only when unseen,
stops, exceptions and the position it reports.
"""

from __future__ import annotations

import ctypes
import errno
import gc
import json
import struct
import weakref
from array import array
from typing import Any, Callable, Dict, List, Tuple

import pytest
from conftest import Compile
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from libbpf_py import RecordView, _speedups, linkcheck
from libbpf_py._binding import BUILD
from libbpf_py.enums import MapType
from libbpf_py.errors import ClosedError, LibbpfError
from libbpf_py.map import Map
from libbpf_py.object import BpfObject


def _assert_closed(m: Map, key: int) -> None:
    """The C path is off and each element operation raises ClosedError."""
    assert not m._fast_path
    with pytest.raises(ClosedError):
        m[key]
    with pytest.raises(ClosedError):
        m[key] = 1
    with pytest.raises(ClosedError):
        del m[key]


SIZES = [(1, 1), (2, 1), (4, 4), (4, 8), (8, 4), (8, 8), (2, 8)]


@pytest.mark.kernel
@pytest.mark.parametrize("key_size,value_size", SIZES)
def test_unsigned_edges(maps: Callable[..., Map], key_size: int, value_size: int) -> None:
    m = maps(MapType.HASH, key_size, value_size, 8)
    assert not m._fast_path  # the layout is read on first use
    m[0] = 0
    assert m._fast_path and m[0] == 0
    kmax, vmax = 2 ** (8 * key_size) - 1, 2 ** (8 * value_size) - 1
    m[kmax] = vmax
    assert m[kmax] == vmax and m.lookup(kmax) == vmax  # the general path agrees
    m.update(1, vmax // 3)
    assert m[1] == vmax // 3
    with pytest.raises(KeyError) as ki:
        m[2]
    assert ki.value.args == (2,)
    assert m.get(2, "none") == "none"
    for bad_key in (-1, kmax + 1, 2 ** 64, -(2 ** 70)):
        with pytest.raises(ValueError, match="does not fit"):
            m[bad_key]
        with pytest.raises(ValueError, match="does not fit"):
            m[bad_key] = 1
        with pytest.raises(ValueError, match="does not fit"):
            del m[bad_key]
    for bad_value in (-1, vmax + 1):
        with pytest.raises(ValueError, match="does not fit"):
            m[3] = bad_value
    assert 3 not in m
    with pytest.raises(TypeError):
        m["x"]
    with pytest.raises(TypeError):
        m[1] = "x"
    m[True] = 1  # bool keys and values go the general way
    assert m[1] == 1 and m[True] == 1
    del m[1]
    with pytest.raises(KeyError) as kd:
        del m[1]
    assert kd.value.args == (1,)
    k = 10
    while len(m) < 8:
        m[k] = 1
        k += 1
    with pytest.raises(LibbpfError) as full:
        m[k] = 1  # a new key in a full map
    assert full.value.errno == errno.E2BIG and "the map is full" in str(full.value)
    m.close()
    _assert_closed(m, 0)


@pytest.mark.kernel
def test_array_errors(maps: Callable[..., Map]) -> None:
    a = maps(MapType.ARRAY, 4, 4, 4)
    a[3] = 7
    assert a._fast_path and a[3] == 7 and a[0] == 0
    with pytest.raises(LibbpfError, match="index 4 is out of range") as big:
        a[4] = 1
    assert big.value.errno == errno.E2BIG
    with pytest.raises(KeyError):
        a[4]
    with pytest.raises(LibbpfError, match="array elements always exist") as de:
        del a[1]
    assert de.value.errno == errno.EINVAL


@pytest.mark.kernel
def test_signed_object_map_and_object_close(kernel: None, compile_bpf: Compile) -> None:
    with BpfObject.open(compile_bpf("maps")) as obj:
        obj.load()
        sv = obj.maps["signed_vals"]  # __s32 -> __s64, typed by BTF
        for k, v in ((-3, -(2 ** 63)), (2 ** 31 - 1, 2 ** 63 - 1), (-(2 ** 31), 0), (7, -1)):
            sv[k] = v
            assert sv[k] == v
        assert sv._fast_path
        with pytest.raises(KeyError):
            sv[1]
        with pytest.raises(ValueError):
            sv[2 ** 31] = 1
        with pytest.raises(ValueError):
            sv[1] = 2 ** 63
        assert dict(sv.items()) == {-3: -(2 ** 63), 2 ** 31 - 1: 2 ** 63 - 1,
                                    -(2 ** 31): 0, 7: -1}
        counts = obj.maps["counts"]
        counts[1] = 2
        assert counts._fast_path
    # closing the object turns the C path off for every map that used it
    _assert_closed(sv, -3)
    _assert_closed(counts, 1)


@pytest.mark.kernel
def test_non_int_maps_take_the_general_path(maps: Callable[..., Map]) -> None:
    wide = maps(MapType.HASH, 16, 8, 4)
    odd = maps(MapType.HASH, 4, 3, 4)  # a 3-byte value: bytes, not an int
    wide[b"k" * 16] = 5
    odd[1] = b"abc"
    assert wide[b"k" * 16] == 5 and odd[1] == b"abc"
    assert not wide._fast_path and not odd._fast_path


def test_per_cpu_int_maps_take_the_c_path(maps: Callable[..., Map]) -> None:
    """Per-CPU maps of int keys and values: m[k] is a list from C (test_codec has the
    BTF-typed ones); it agrees with the general path."""
    per_cpu = maps(MapType.PERCPU_HASH, 4, 8, 4)
    per_cpu[1] = 3
    assert per_cpu._fast_path
    assert set(per_cpu[1]) == {3} and per_cpu[1] == per_cpu.lookup(1)
    with pytest.raises(KeyError) as missing:
        per_cpu[2]
    assert missing.value.args == (2,)
    del per_cpu[1]
    assert 1 not in per_cpu
    per_cpu.close()
    _assert_closed(per_cpu, 1)


def test_speedups_links_no_libbpf() -> None:
    """_speedups calls the cffi extension's libbpf through a capsule: it needs none."""
    path = _speedups.__file__
    assert path is not None
    with open(path, "rb") as f:
        elf = ELFFile(f)
        needed = [t.needed for s in elf.iter_sections() if isinstance(s, DynamicSection)
                  for t in s.iter_tags() if t.entry.d_tag == "DT_NEEDED"]
        symbols = [sym.name for s in elf.iter_sections() if isinstance(s, SymbolTableSection)
                   for sym in s.iter_symbols()]
    assert not [n for n in needed if "bpf" in n]
    assert not [n for n in symbols if n.startswith(("bpf_", "libbpf_", "btf_"))]
    # no symbol is looked up by name: no dlopen/dlsym, and the table is not exported
    assert not {"dlopen", "dlsym"} & set(symbols)
    with open(BUILD.extension_path, "rb") as f:
        dynsym = ELFFile(f).get_section_by_name(".dynsym")
        assert not dynsym.get_symbol_by_name("libbpf_py_speedups_api")
    # ... it is handed over as a capsule instead
    from libbpf_py import _libbpf

    assert type(_libbpf._speedups_api).__name__ == "PyCapsule"
    assert "libbpf_py._libbpf._speedups_api" in repr(_libbpf._speedups_api)


def test_bind_refuses_what_is_not_the_table() -> None:
    from libbpf_py import _libbpf

    capsule = _libbpf._speedups_api
    try:
        _libbpf._speedups_api = _speedups.__spec__  # anything but the capsule
        with pytest.raises(ImportError, match=r"no function table libbpf_py\._libbpf"):
            _speedups.bind()
        del _libbpf._speedups_api
        with pytest.raises(ImportError, match="no function table"):
            _speedups.bind()
    finally:
        _libbpf._speedups_api = capsule
    _speedups.bind()  # the real one binds again
    with pytest.raises(TypeError):
        _speedups.bind(3)  # type: ignore[call-arg]


def test_deliver_refuses_bad_batches() -> None:
    got: List[bytes] = []
    sinks = [(got.append, 1, None)]
    offs = memoryview(bytes(4 * 3)).cast("I")  # 2 records of 0 bytes
    pos: List[Any] = [0, False]
    assert _speedups.deliver(sinks, b"", offs, None, 0, 2, pos) == 2 and got == [b"", b""]
    with pytest.raises(ValueError, match="out of the batch"):
        _speedups.deliver(sinks, b"", offs, None, 0, 3, pos)
    with pytest.raises(ValueError, match="out of the batch"):
        _speedups.deliver(sinks, b"", offs, None, 2, 1, pos)
    bad = memoryview(bytearray((0, 0, 0, 0, 9, 0, 0, 0))).cast("I")  # offset past the data
    with pytest.raises(ValueError, match="out of the data"):
        _speedups.deliver(sinks, b"abc", bad, None, 0, 1, pos)
    rings = memoryview(bytearray(4 * 2)).cast("I")
    rings[1] = 5
    with pytest.raises(ValueError, match="unknown ring"):
        _speedups.deliver(sinks, b"", offs, rings, 0, 2, pos)
    assert pos == [1, False]  # the first record was handed over
    with pytest.raises(TypeError, match="sink"):
        _speedups.deliver([("x",)], b"", offs, None, 0, 1, pos)  # type: ignore[list-item]
    with pytest.raises(ValueError, match="mode"):
        _speedups.deliver([(got.append, 7, None)], b"", offs, None, 0, 1, pos)
    with pytest.raises(TypeError):
        _speedups.deliver(sinks, "str", offs, None, 0, 1, pos)  # type: ignore[arg-type]


def _batch(records: List[bytes]) -> Tuple[bytes, memoryview]:
    data = b"".join(records)
    ends = [0]
    for r in records:
        ends.append(ends[-1] + len(r))
    return data, memoryview(bytearray(array("I", ends).tobytes())).cast("I")


def test_deliver_views_never_alias() -> None:
    """A record view never shows another record: a view kept past its call reads a
    copy of its own record, an export of it (memoryview) keeps reading its own
    record in the batch memory and pos[1] tells the caller that memory is still in
    use; a view cannot be weakly referenced or hashed (nothing can watch it be
    reused), and a view nobody kept is the one the next record gets."""
    records = [bytes([i]) * (i % 5 + 1) for i in range(50)]
    data, offs = _batch(records)
    seen: List[bytes] = []
    slices: List[bytes] = []
    exports: List[memoryview] = []
    kept: List[Any] = []
    ids: List[int] = []

    def callback(view: Any) -> int:
        seen.append(bytes(view))
        ids.append(id(view))
        with pytest.raises(TypeError):
            weakref.ref(view)
        with pytest.raises(TypeError):
            hash(view)
        assert isinstance(view, RecordView) and view.readonly and not view.copied
        assert len(view) == view.nbytes == len(seen[-1]) and view == seen[-1]
        assert view[0] == seen[-1][0] and view[-1] == seen[-1][-1] and list(view) == view.tolist()
        i = len(seen) - 1
        if i % 7 == 0:
            slices.append(view[:])  # bytes: a copy
        if i % 11 == 0:
            kept.append(view)  # kept: it goes on reading a copy of its record
        if i % 13 == 0:
            exports.append(memoryview(view))  # an export of the batch memory
        return 0

    pos: List[Any] = [0, False]
    assert _speedups.deliver([(callback, 0, None)], data, offs, None, 0, 50, pos) == 50
    assert seen == records and pos == [50, True]  # the exports still use the data
    assert slices == records[::7] and all(type(s) is bytes for s in slices)
    assert [bytes(v) for v in kept] == records[::11]
    # record 0's view was exported too: it stays on the batch memory, the others copied
    assert [v.copied for v in kept] == [False, True, True, True, True]
    assert [bytes(e) for e in exports] == records[::13]
    # a record after one whose view nobody kept got that same view (no allocation)
    assert ids[2] == ids[1] and ids[3] == ids[2]
    exports.clear()
    pos = [0, False]
    assert _speedups.deliver([(callback, 0, None)], data, offs, None, 0, 50, pos) == 50
    exports.clear()
    assert pos == [50, True]
    pos = [0, False]
    _speedups.deliver([(seen.append, 1, None)], data, offs, None, 0, 50, pos)
    assert pos == [50, False]  # nothing kept: the data may be reused
    kept.clear()
    pos = [0, False]
    _speedups.deliver([(kept.append, 0, None)], data, offs, None, 0, 50, pos)
    assert pos == [50, False]  # kept views read copies: the data may be reused
    assert [bytes(v) for v in kept] == records and len({id(v) for v in kept}) == 50


def test_record_view_acts_like_a_read_only_memoryview() -> None:
    """What code written for a memoryview does with a record works on a RecordView."""
    rec = struct.pack("<IiQ8s", 7, -2, 2 ** 40, b"name")
    data, offs = _batch([rec])
    out: Dict[str, Any] = {}

    def callback(view: Any) -> None:
        out["unpack"] = struct.unpack_from("<IiQ8s", view)
        out["int"] = int.from_bytes(view[:4], "little")
        out["cast"] = view.cast("I")[0]
        out["hex"] = (view.hex(), view.hex(":", 4))
        out["step"] = view[::4]
        out["ne"] = (view != rec, view == bytearray(rec), view == "x")
        out["ctypes"] = ctypes.c_uint32.from_buffer_copy(view).value
        with view as v:
            out["with"] = v is view
        view.release()
        out["after_release"] = bytes(view)
        with pytest.raises(TypeError):
            memoryview(view)[0] = 1  # read-only
        with pytest.raises(IndexError):
            view[len(rec)]
        with pytest.raises(TypeError, match="integers or slices"):
            view["a"]
        with pytest.raises(TypeError):
            type(view)()
        out["repr"] = repr(view)

    _speedups.deliver([(callback, 0, None)], data, offs, None, 0, 1, [0, False])
    assert out["unpack"] == (7, -2, 2 ** 40, b"name\0\0\0\0") and out["int"] == 7
    assert out["cast"] == 7 and out["hex"] == (rec.hex(), rec.hex(":", 4))
    assert out["step"] == rec[::4] and out["ne"] == (False, True, False)
    assert out["ctypes"] == 7 and out["with"] and out["after_release"] == rec
    assert out["repr"] == f"<RecordView of {len(rec)} bytes>"


def _fake_ring(records: List[Tuple[bytes, int]], size: int = 256) -> Tuple[Any, ...]:
    """A ring buffer laid out as the kernel lays it out, in bytearrays: (consumer page,
    producer page + data, data offset, size); records are (data, header flags)."""
    consumer = bytearray(64)
    offset = 64
    data = bytearray(offset + 2 * size)
    pos = 0
    for rec, flags in records:
        at = offset + pos % size
        struct.pack_into("<II", data, at, len(rec) | flags, 0)
        data[at + 8:at + 8 + len(rec)] = rec
        pos += (len(rec) + 8 + 7) & ~7
    struct.pack_into("<Q", data, 0, pos)  # the producer position
    return consumer, data, offset, size


BUSY, DISCARD = 1 << 31, 1 << 30


def test_consume_rings_reads_the_kernel_layout() -> None:
    """consume_rings follows the ring protocol: discarded records are skipped, a busy
    (uncommitted) record and what follows wait, the consumer position moves past each
    record once its callback returned, a true result stops after that record."""
    ring = _fake_ring([(b"a" * 5, 0), (b"x" * 16, DISCARD), (b"b" * 8, 0),
                       (b"c" * 3, BUSY), (b"d", 0)])
    got: List[bytes] = []
    assert _speedups.consume_rings([ring], [(lambda v: got.append(bytes(v)), 0, None)],
                                   -1) == (2, False)
    assert got == [b"a" * 5, b"b" * 8]
    consumer_pos = struct.unpack_from("<Q", ring[0])[0]
    assert consumer_pos == 16 + 24 + 16  # up to the busy record
    struct.pack_into("<I", ring[1], ring[2] + consumer_pos, 3)  # committed now
    assert _speedups.consume_rings([ring], [(lambda v: got.append(bytes(v)) or len(got) == 3,
                                             0, None)], -1) == (1, True)
    assert got[2:] == [b"c" * 3]
    assert _speedups.consume_rings([ring], [(got.append, 1, None)], -1) == (1, False)
    assert got[3:] == [b"d"] and type(got[3]) is bytes
    # a limit, and the decode mode
    ring = _fake_ring([(bytes([i]) * 4, 0) for i in range(5)])
    assert _speedups.consume_rings([ring], [(got.append, 2, bytes.hex)], 2) == (2, False)
    assert got[4:] == ["00000000", "01010101"]


def test_consume_rings_with_a_limit_of_0_consumes_nothing() -> None:
    """``limit`` records at most: 0 hands over none and leaves the consumer position
    where it was (the old code checked the limit only after a record, and so handed
    over one)."""
    ring = _fake_ring([(b"a" * 4, 0), (b"b" * 4, 0)])
    got: List[bytes] = []
    sink = (got.append, 1, None)
    assert _speedups.consume_rings([ring, ring], [sink, sink], 0) == (0, False)
    assert got == [] and struct.unpack_from("<Q", ring[0])[0] == 0
    assert _speedups.consume_rings([ring], [sink], 1) == (1, False)
    assert got == [b"a" * 4]


@pytest.mark.parametrize("make, message", [
    (lambda: [(bytearray(64), bytearray(64 + 512), 64, 200)], "bad ring layout"),
    (lambda: [(bytearray(64), bytearray(64 + 256), 64, 256)], "bad ring layout"),
    (lambda: [(bytes(64), bytearray(64 + 512), 64, 256)], "writable"),
    (lambda: [(bytearray(64), bytearray(64 + 512), 4, 256)], "bad ring layout"),
    (lambda: [(bytearray(4), bytearray(64 + 512), 64, 256)], "bad ring layout"),
    (lambda: [(bytearray(64), bytearray(64 + 512))], "a ring is"),
])
def test_consume_rings_refuses_a_bad_layout(make: Callable[[], Any], message: str) -> None:
    with pytest.raises((ValueError, TypeError, BufferError), match=message):
        _speedups.consume_rings(make(), [(print, 0, None)], -1)


def test_consume_rings_refuses_a_corrupt_ring() -> None:
    """A length past the ring or a consumer position inside a record: RuntimeError,
    nothing read out of bounds."""
    ring = _fake_ring([(b"a" * 8, 0)])
    struct.pack_into("<I", ring[1], ring[2], 10 ** 6)
    with pytest.raises(RuntimeError, match="a record of 1000000 bytes in a ring of 256"):
        _speedups.consume_rings([ring], [(print, 0, None)], -1)
    ring = _fake_ring([(b"a" * 8, 0)])
    struct.pack_into("<Q", ring[0], 0, 3)
    with pytest.raises(RuntimeError, match="consumer position"):
        _speedups.consume_rings([ring], [(print, 0, None)], -1)
    with pytest.raises(ValueError, match="a ring without a sink"):
        _speedups.consume_rings([_fake_ring([(b"a", 0)])], [], -1)


def test_deliver_stops_and_raises_at_the_right_record() -> None:
    data, offs = _batch([b"a", b"b", b"c", b"d"])
    got: List[bytes] = []

    def stop_at_b(view: memoryview) -> bool:
        got.append(bytes(view))
        return bytes(view) == b"b"

    pos: List[Any] = [0, False]
    assert _speedups.deliver([(stop_at_b, 0, None)], data, offs, None, 0, 4, pos) == 2
    assert got == [b"a", b"b"] and pos == [2, False]

    def boom(record: bytes) -> None:
        if record == b"c":
            raise KeyboardInterrupt("at c")

    with pytest.raises(KeyboardInterrupt, match="at c"):
        _speedups.deliver([(boom, 1, None)], data, offs, None, 2, 4, pos)
    assert pos == [3, False]  # the record that raised counts as handed over
    decoded: List[str] = []
    _speedups.deliver([(decoded.append, 2, bytes.decode)], data, offs, None, 0, 4, pos)
    assert decoded == ["a", "b", "c", "d"]


def test_linkcheck_audits_the_companion(capsys: pytest.CaptureFixture[str]) -> None:
    """linkcheck proves from the ELF that _speedups holds no libbpf, and would say if it did."""
    clean = linkcheck.audit_companion(_speedups.__file__ or "")
    assert clean.clean and clean.problems == []
    assert not [n for n in clean.needed if "bpf" in n]
    # the cffi extension, which does hold or link libbpf, fails the same audit
    holder = linkcheck.audit_companion(BUILD.extension_path)
    assert not holder.clean
    assert any(("libbpf.so" in p) if BUILD.mode == "dynamic" else ("defined" in p)
               for p in holder.problems)
    assert linkcheck.main([]) == 0
    text = capsys.readouterr().out
    assert f"companion: {_speedups.__file__}" in text and "no libbpf: " in text
    assert linkcheck.main(["--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"] == BUILD.mode
    assert data["companions"] == [clean.to_dict()]


def test_pairs_of_every_int_format() -> None:
    for fmt in "BbHhIiQq":
        keys = array(fmt, range(0, 100, 7))
        values = array(fmt, [0] * len(keys))
        top = 2 ** (8 * values.itemsize - (1 if fmt.islower() else 0)) - 1
        values[0] = top
        if fmt.islower():
            values[1] = -top - 1
        got = _speedups.pairs(memoryview(keys), memoryview(values))
        assert got == list(zip(keys.tolist(), values.tolist()))
        assert not gc.is_tracked(got[0])  # tuples of ints: nothing for the GC to follow
    assert _speedups.pairs(memoryview(b""), memoryview(b"")) == []
    with pytest.raises(ValueError, match="differ in length"):
        _speedups.pairs(memoryview(array("I", [1, 2])), memoryview(array("I", [1])))
    with pytest.raises(TypeError, match="format B b H h I i Q q"):
        _speedups.pairs(memoryview(array("d", [1.0])), memoryview(array("I", [1])))
    with pytest.raises(TypeError, match="1-D"):
        _speedups.pairs(memoryview(bytes(4)).cast("B", (2, 2)), memoryview(bytes(2)))
    with pytest.raises(TypeError):
        _speedups.pairs(3, memoryview(bytes(2)))  # type: ignore[arg-type]


def test_pairs_runs_no_collection_and_leaves_the_collector_as_it_was() -> None:
    """The collector is off while pairs() makes its untracked tuples (a pass per 700
    allocations would walk the growing list for nothing), and afterwards on or off
    as the caller had it."""
    keys = memoryview(array("I", range(20000)))
    passes: List[str] = []

    def seen(phase: str, info: Dict[str, Any]) -> None:
        if phase == "start":
            passes.append(phase)

    threshold = gc.get_threshold()
    gc.callbacks.append(seen)
    try:
        gc.set_threshold(10)
        got = _speedups.pairs(keys, keys)
        # at most one: the list's own allocation, before the loop, may start one
        assert len(passes) <= 1, f"{len(passes)} collections while 20000 pairs were made"
        assert gc.isenabled()
        gc.disable()
        _speedups.pairs(keys, keys)
        assert not gc.isenabled()
    finally:
        gc.enable()
        gc.set_threshold(*threshold)
        gc.callbacks.remove(seen)
    assert got[-1] == (19999, 19999) and len(got) == 20000


def test_pair_iter_reads_its_own_copy_and_reuses_only_a_dropped_tuple() -> None:
    """PairIter (Map.items()'s chunks of int maps) yields the (key, value) of the
    first n entries as they were when it was made, whatever the buffers hold after;
    a tuple kept by its user is never filled again; clear() ends it."""
    for fmt in "BbHhIiQq":
        keys = array(fmt, range(0, 100, 7))
        values = array(fmt, range(len(keys)))
        top = 2 ** (8 * values.itemsize - (1 if fmt.islower() else 0)) - 1
        values[0] = top
        if fmt.islower():
            values[1] = -top - 1
        want = list(zip(keys.tolist(), values.tolist()))
        it = _speedups.PairIter(memoryview(keys), memoryview(values), len(keys) - 1)
        for i in range(len(keys)):  # the buffers change (as the next chunk's read would)
            keys[i], values[i] = 1, 1
        kept = list(it)  # every tuple held: each a new one
        assert kept == want[:-1] and len({id(t) for t in kept}) == len(kept)
        assert not gc.is_tracked(kept[0])
    it = _speedups.PairIter(memoryview(array("I", range(50))), memoryview(array("q", range(50))),
                            50)
    seen = [k + v for k, v in it]  # unpacked at once: the tuple is reused
    assert seen == [2 * i for i in range(50)]
    it = _speedups.PairIter(memoryview(array("I", range(5))), memoryview(array("I", range(5))), 5)
    assert next(it) == (0, 0) and it.__length_hint__() == 4
    it.clear()
    assert list(it) == [] and it.__length_hint__() == 0
    assert list(_speedups.PairIter(memoryview(b""), memoryview(b""), 0)) == []
    with pytest.raises(ValueError, match="do not fit the buffers"):
        _speedups.PairIter(memoryview(array("I", [1, 2])), memoryview(array("I", [1])), 2)
    with pytest.raises(ValueError, match="do not fit the buffers"):
        _speedups.PairIter(memoryview(array("I", [1])), memoryview(array("I", [1])), -1)
    with pytest.raises(TypeError, match="format B b H h I i Q q"):
        _speedups.PairIter(memoryview(array("d", [1.0])), memoryview(array("I", [1])), 1)
