"""BTF-typed map values (libbpf_py/_codec.py) on real maps: what is read and written.

tests/bpf/codec.bpf.c has a hash map whose value is a struct with signed and
unsigned ints, char and int arrays, bitfields (laid out by ctypes, and
properties where a bitfield's unit overlaps another field), a nested struct, an
enum, a _Bool, floats and an anonymous union, and two per-CPU arrays. Values
are checked against bytes built by hand from the BTF offsets (struct.pack and
bit arithmetic, not the codec), and the dict fast path of StructCodec against
the checked path it stands in for (records built field by field through their
checked ``__setattr__``): same bytes, or the same error.
"""

from __future__ import annotations

import ctypes
import errno
import gc
import math
import random
import struct
import threading
import weakref
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest
from conftest import Compile

from libbpf_py import BpfObject
from libbpf_py._binding import MapBase
from libbpf_py._codec import StructCodec
from libbpf_py.btf import BtfKind, BtfType
from libbpf_py.errors import ClosedError, LibbpfError
from libbpf_py.map import possible_cpus

pytestmark = pytest.mark.kernel

_INT_CODES = {1: "b", 2: "h", 4: "i", 8: "q"}

# What the XDP program writes at key 1 (one of every kind of field).
KERNEL_VALUE: Dict[str, Any] = {
    "u": 0xfffffffe, "s": -123456, "big": -(1 << 40), "name": b"abcdefgh",
    "raw": [1, 0, 255], "small": 7, "flag": 1, "mode3": 5, "sdelta": -9,
    "rest": 0x7fffff, "inner": {"a": 65535, "b": -128}, "arr": [-1, 32767, -32768],
    "mode": -2, "on": True, "kind": 3, "lo": 9, "hi": 0xabcde, "f": 0.0, "d": 0.0,
    "as_u32": 0x01020304,
}


@pytest.fixture(scope="module")
def codec_o(compile_bpf: Compile) -> Path:
    return compile_bpf("codec")


@pytest.fixture
def obj(kernel: None, codec_o: Path) -> Iterator[BpfObject]:
    with BpfObject.open(codec_o) as o:
        o.load()
        yield o


# -- bytes built by hand from the BTF ------------------------------------------------------

def _int_shape(t: BtfType) -> Tuple[int, bool]:
    t = t.resolve()
    return int(t.size or 0), bool(t.signed)


def _by_hand(btf_type: BtfType, fields: Dict[str, Any]) -> bytes:
    """The C bytes of ``fields`` for a struct, from its BTF members only: ints and
    enums with struct.pack at their byte offset, bitfields as bits of a
    little-endian int, char arrays as NUL-padded bytes, arrays element by element,
    nested structs recursively (anonymous members looked into)."""
    size = int(btf_type.resolve().size or 0)
    acc = 0
    for m in btf_type.resolve().members:
        mtype = m.type.resolve()
        if not m.name:  # anonymous: its members' names are the outer struct's
            inner = {k: v for k, v in fields.items()
                     if k in {mm.name for mm in mtype.members}}
            if inner:
                acc |= int.from_bytes(_by_hand(mtype, inner), "little") << m.bit_offset
            continue
        if m.name not in fields:
            continue
        value = fields[m.name]
        if m.bitfield_size:
            mask = (1 << m.bitfield_size) - 1
            acc |= (value & mask) << m.value_bit_offset
            continue
        if mtype.kind == BtfKind.STRUCT:
            raw = _by_hand(mtype, value)
        elif mtype.kind == BtfKind.ARRAY:
            elem = mtype.array.type.resolve()
            if elem.name == "char":
                raw = value.ljust(mtype.array.nelems, b"\0")
            else:
                esize, signed = _int_shape(elem)
                code = _INT_CODES[esize] if signed else _INT_CODES[esize].upper()
                raw = struct.pack(f"<{len(value)}{code}", *value)
        elif mtype.kind == BtfKind.FLOAT:
            raw = struct.pack("<f" if mtype.size == 4 else "<d", value)
        else:
            msize, signed = _int_shape(mtype)
            code = _INT_CODES[msize] if signed else _INT_CODES[msize].upper()
            raw = struct.pack(f"<{code}", int(value))
        acc |= int.from_bytes(raw, "little") << m.bit_offset
    return acc.to_bytes(size, "little")


def _rich_type(o: BpfObject) -> BtfType:
    btf = o.btf
    assert btf is not None
    return btf.find("codec_rich", BtfKind.STRUCT)


def _fields(rec: Any) -> Dict[str, Any]:
    out = rec._asdict()
    out["on"] = bool(out["on"])
    return out


# -- reading ---------------------------------------------------------------------------------

def test_kernel_written_struct_decodes(obj: BpfObject) -> None:
    """A value the BPF program wrote reads back field by field, and its bytes are the
    ones built by hand from the BTF offsets."""
    rich = obj.maps["rich"]
    obj.programs["codec_fill"].test_run(bytes(64))
    v = rich[1]
    assert type(v).__name__ == "codec_rich" and len(bytes(v)) == rich.value_size
    got = _fields(v)
    for name, want in KERNEL_VALUE.items():
        assert got[name] == want, name
    assert list(v.as_bytes) == [4, 3, 2, 1]  # the anonymous union's other member
    assert bytes(v) == _by_hand(_rich_type(obj), KERNEL_VALUE)
    assert rich.lookup(1) == v and rich.lookup_and_delete(1) == v and 1 not in rich


def test_struct_round_trips(obj: BpfObject) -> None:
    """Dicts (whole and partial), records and raw bytes written through the map read
    back as the bytes built by hand; the kernel's value written back is unchanged."""
    rich, t = obj.maps["rich"], _rich_type(obj)
    values: List[Dict[str, Any]] = [
        KERNEL_VALUE,
        {"u": 0, "s": -(1 << 31), "big": (1 << 63) - 1, "name": b"ab"},   # NUL-padded
        {"name": b"a\0b\0c"},            # NULs inside are kept (binary char data)
        {"name": b"12345678\0\0"},       # NULs past the array: a full C string
        {"flag": 1, "rest": 1, "sdelta": -16, "mode3": 7},
        {"inner": {"b": -1}, "arr": (3, -3, 0), "raw": [255, 255, 255]},
        {"lo": 15, "hi": (1 << 20) - 1, "kind": 255},
        {"f": -1.5, "d": math.pi, "on": False, "mode": 1},
        {"f": 3, "d": -7, "on": 1},      # ints into floats, 0/1 into a _Bool
        {"as_u32": 0xdeadbeef},          # an anonymous union's member
        {},
    ]
    for i, fields in enumerate(values):
        rich[i] = fields
        want = _by_hand(t, {k: (v[:8] if k == "name" else v) for k, v in fields.items()})
        assert bytes(rich[i]) == want, fields
    obj.programs["codec_fill"].test_run(bytes(64))
    v = rich[1]
    rich[2] = v                              # a record, read in place
    rich[3] = bytes(v)                       # raw bytes
    rich[4] = _fields(v)                     # its dict
    assert rich[2] == v and rich[3] == v and bytes(rich[4]) == bytes(v)
    assert rich[3].name == b"abcdefgh" and rich[0].name == b"abcdefgh"
    assert rich[2].inner.b == -128
    # the value stays as the field reads it: up to the first NUL
    rich[5] = {"name": b"a\0b"}
    assert rich[5].name == b"a" and bytes(rich[5])[16:24] == b"a\0b\0\0\0\0\0"


# -- the dict fast path against the checked path -------------------------------------------

def _checked(codec: StructCodec, fields: Any) -> Tuple[str, Any]:
    """What StructCodec.to_bytes gives with its plan (the fast path) or without it."""
    try:
        return "ok", bytes(codec.to_bytes(fields))
    except Exception as exc:  # the exceptions are what is compared
        return type(exc).__name__, str(exc)


def _random_value(rng: random.Random, name: str) -> Any:
    good: Dict[str, List[Any]] = {
        "u": [0, 1, 2 ** 32 - 1], "s": [-(2 ** 31), 0, 2 ** 31 - 1],
        "big": [-(2 ** 63), 2 ** 63 - 1], "name": [b"", b"x" * 8, b"a\0b", b"x" * 8 + b"\0"],
        "raw": [[0, 1, 255], (9, 8, 7)], "small": [0, 255], "flag": [0, 1], "mode3": [7],
        "sdelta": [-16, 15], "rest": [2 ** 23 - 1], "inner": [{"a": 1}, {}, {"a": 2, "b": -3}],
        "arr": [[-32768, 0, 32767]], "mode": [-2, 0, 1], "on": [True, False, 0, 1],
        "kind": [200], "lo": [15, 0], "hi": [2 ** 20 - 1], "f": [1.25, -3, float("inf")],
        "d": [1e300, -0.0, 5], "as_u32": [7], "as_bytes": [[1, 2, 3, 4]],
    }
    bad: List[Any] = [-1, 2 ** 64, 1.5, "x", None, True, b"x" * 9, [1, 2], {"zz": 1},
                      bytearray(b"ab"), 1e39, (1, 2, 3, 4), {"a": -1}]
    if rng.random() < 0.7:
        return rng.choice(good[name])
    return rng.choice(bad)


def test_dict_fast_path_matches_the_checked_path(obj: BpfObject) -> None:
    """Thousands of random dicts, of valid and invalid values: the plan gives the same
    bytes as the checked path, or leaves the dict to it (the same error)."""
    rich = obj.maps["rich"]
    fast = rich._check_loaded().value
    assert isinstance(fast, StructCodec) and fast._plan is not None
    slow = StructCodec(fast.cls, fast.what)
    slow._plan = None
    # every field but the union's members (their bytes are shared) is in the plan
    assert set(fast._plan) == set(fast._names) - {"as_u32", "as_bytes"}
    rng = random.Random(19)
    names = [*sorted(fast._names), "nope", "_raw0"]
    outcomes = set()
    for _ in range(4000):
        fields = {n: (_random_value(rng, n) if n in fast._names else 1)
                  for n in rng.sample(names, rng.randint(0, 6))}
        got, want = _checked(fast, fields), _checked(slow, fields)
        assert got == want, fields
        outcomes.add(got[0])
    assert outcomes >= {"ok", "TypeError", "ValueError"}


def test_compiled_packer_matches_the_checked_path(obj: BpfObject) -> None:
    """A struct of ints, bitfields and char arrays only gets a packer compiled for the
    dict of all its fields; it agrees with the checked path, value for value."""
    inner = obj.maps["pcpu_inner"]._check_loaded().value.elem
    assert isinstance(inner, StructCodec) and inner._full is not None
    slow = StructCodec(inner.cls, inner.what)
    slow._plan = slow._full = None
    rng = random.Random(7)
    pool: List[Any] = [0, 1, -1, 127, -128, 128, 255, 65535, 65536, -129, True, False,
                       1.0, "1", None, b"\x01", 2 ** 70]
    for _ in range(3000):
        fields = {"a": rng.choice(pool), "b": rng.choice(pool)}
        if rng.random() < 0.1:
            fields["c"] = 1
        assert _checked(inner, fields) == _checked(slow, fields), fields
    assert bytes(inner.to_bytes({"b": -1, "a": 513})) == b"\x01\x02\xff\x00"


def test_c_plan_packs_as_the_python_packer(obj: BpfObject) -> None:
    """The dict packer in C (_speedups.Plan) gives the Python packer's bytes for every
    dict it takes, and declines (None) every dict the Python packer declines; a map
    update through it stores what the checked path stores."""
    flat = obj.maps["flat"]
    codec = flat._check_loaded().value
    assert isinstance(codec, StructCodec) and codec._full is not None
    assert codec.cplan is not None
    slow = StructCodec(codec.cls, codec.what)
    slow._plan = slow._full = slow.cplan = None
    rng = random.Random(11)
    # per field: (values the packer takes, values it must decline)
    pool: Dict[str, Tuple[List[Any], List[Any]]] = {
        "a": ([0, 2 ** 32 - 1], [2 ** 32, -1, True]), "b": ([-(2 ** 31), 2 ** 31 - 1], [2 ** 31]),
        "name": ([b"", b"abc", b"a\0b", b"x" * 8], [b"x" * 9, b"x" * 8 + b"\0", "abc"]),
        "flag": ([0, 1], [2]), "m3": ([0, 7], [8, -1]), "d5": ([-16, 15], [16, -17]),
        "wide": ([2 ** 23 - 1], [2 ** 23]), "on": ([True, False, 0, 1], [2, None]),
        "s8": ([-128, 127], [128]), "u16": ([65535], [65536]),
        "big": ([-(2 ** 63), 2 ** 63 - 1], [2 ** 63]),
        "ubig": ([0, 2 ** 64 - 1], [2 ** 64, -1, 1.0]),
    }
    taken = 0
    for _ in range(4000):
        fields = {name: rng.choice(good if rng.random() < 0.97 else bad)
                  for name, (good, bad) in pool.items()}
        if rng.random() < 0.05:
            del fields[rng.choice(list(fields))]
        full = codec._full(fields)
        data = codec.cplan.pack(fields)
        # the same dict in another order, and with keys that are equal strings but
        # not the interned ones: the plan walks a dict in order only while its keys
        # are its own names, then looks them up
        names = list(fields)
        rng.shuffle(names)
        assert codec.cplan.pack({n: fields[n] for n in names}) == data, names
        assert codec.cplan.pack({"".join(list(n)): v for n, v in fields.items()}) == data
        if full is None:
            assert data is None, fields
            continue
        assert data == full.to_bytes(codec.size, "little"), fields
        assert _checked(slow, fields) == ("ok", data), fields
        taken += 1
    assert taken > 100
    value = {name: good[0] for name, (good, _) in pool.items()}
    value.update(name=b"hi", d5=-5, m3=6, ubig=2 ** 64 - 1)
    flat[1] = value
    assert flat[1].name == b"hi" and flat[1].d5 == -5 and flat[1].ubig == 2 ** 64 - 1
    assert bytes(flat[1]) == bytes(slow.to_bytes(value))


@pytest.mark.parametrize("size, entries, message", [
    (0, (("a", 0, 0, 8, 0, 255),), "bad record size"),
    (4, (), "bad record size"),
    (4, (("a", 0, 30, 8, 0, 255),), "ends past the record"),
    (4, (("a", 0, 2 ** 62, 8, 0, 255),), "bad entry 0"),
    (4, (("a", 0, -1, 8, 0, 255),), "bad entry 0"),
    (4, (("a", 0, 0, 65, 0, 255),), "bad entry 0"),
    (4, (("a", 3, 0, 8, 0, 255),), "bad entry 0"),
    (4, (("a", 1, 0, 2, 0, 1),), "bad entry 0"),
    (4, (("a", 2, 4, 2, 0, 0),), "bad entry 0"),
    (4, (("a", 2, 8, 4, 0, 0),), "ends past the record"),
    (4, (("a", 0, 0, 8, 0, 2 ** 64),), "do not fit 64 bits"),
    (4, (("a", 0, 0, 8, -(2 ** 64), 0),), "do not fit 64 bits"),
])
def test_a_bad_c_plan_is_refused(size: int, entries: Any, message: str) -> None:
    """A Plan that would write past its record, or cannot say its bounds, is refused."""
    from libbpf_py._binding import Plan
    with pytest.raises(ValueError, match=message):
        Plan(size, entries)
    with pytest.raises(TypeError):
        Plan(4, (("a", 0),))


# -- bad input: clear errors, nothing written ----------------------------------------------

@pytest.mark.parametrize("fields, exc, message", [
    ({"nope": 1}, TypeError, r"cannot build a codec_rich from .*no field 'nope'"),
    ({"u": -1}, ValueError, r"codec_rich.u = -1 does not fit an unsigned 32-bit int"),
    ({"u": 2 ** 32}, ValueError, "does not fit an unsigned 32-bit int"),
    ({"s": 2 ** 31}, ValueError, "does not fit a signed 32-bit int"),
    ({"mode3": 8}, ValueError, r"codec_rich.mode3 = 8 does not fit an unsigned 3-bit bitfield"),
    ({"sdelta": 16}, ValueError, "does not fit a signed 5-bit bitfield"),
    ({"lo": 16}, ValueError, "does not fit an unsigned 4-bit bitfield"),
    ({"small": 256}, ValueError, "does not fit an unsigned 8-bit int"),
    ({"mode": 2 ** 31}, ValueError, "does not fit a signed 32-bit int"),
    ({"u": "1"}, TypeError, "must be an int, not str"),
    ({"u": 1.0}, TypeError, "must be an int, not float"),
    ({"u": True}, TypeError, "must be an int, not bool"),
    ({"f": "x"}, TypeError, "must be a float, not str"),
    ({"f": 1e39}, ValueError, r"codec_rich.f = 1e\+39 does not fit a 32-bit float"),
    ({"on": 2}, ValueError, "does not fit an unsigned 1-bit int"),
    ({"name": b"123456789"}, ValueError, r"codec_rich.name = .* does not fit char\[8\] "
                                         r"\(9 bytes"),
    ({"name": b"12345678\0x"}, ValueError, r"does not fit char\[8\]"),
    ({"name": "abc"}, TypeError, "cannot build a codec_rich"),
    ({"name": "abc"}, TypeError, r"codec_rich.name must be bytes \(char\[8\]\), not str"),
    ({"name": 7}, TypeError, r"codec_rich.name must be bytes \(char\[8\]\), not int"),
    ({"arr": [1, 2]}, ValueError, "needs 3 values, got 2"),
    ({"arr": [1, 2, 32768]}, ValueError, r"arr\[2\] = 32768 does not fit a signed 16-bit"),
    ({"raw": [1, 2, -1]}, ValueError, "does not fit an unsigned 8-bit int"),
    ({"inner": {"zz": 1}}, TypeError, "codec_inner has no field 'zz'"),
    ({"inner": {"a": 65536}}, ValueError, r"codec_inner.a = 65536 does not fit"),
    ({"inner": 5}, TypeError, "cannot build a codec_rich"),
])
def test_bad_values_raise_and_write_nothing(obj: BpfObject, fields: Dict[str, Any],
                                            exc: type, message: str) -> None:
    rich = obj.maps["rich"]
    rich[0] = {"u": 5}
    with pytest.raises(exc, match=message):
        rich[0] = fields
    with pytest.raises(exc, match=message):
        rich.update(0, {"s": 1, **fields})
    with pytest.raises(exc, match=message):
        rich.update_batch([(0, fields)])
    assert rich[0].u == 5 and rich[0].s == 0 and list(rich) == [0]


def test_record_writes_check_too(obj: BpfObject) -> None:
    """A record read from the map is checked on write as the dict path is."""
    rich = obj.maps["rich"]
    rich[0] = {}
    v = rich[0]
    with pytest.raises(ValueError, match=r"does not fit char\[8\]"):
        v.name = b"x" * 9
    with pytest.raises(ValueError, match="does not fit a 32-bit float"):
        v.f = -1e39
    # a char array takes bytes only, and says which field (ctypes alone: "expected bytes,
    # str found", naming none)
    for wrong in ("abc", 7, bytearray(b"ab")):
        with pytest.raises(TypeError, match=rf"^codec_rich.name must be bytes \(char\[8\]\), "
                                            rf"not {type(wrong).__name__}$"):
            v.name = wrong
    v.name, v.f, v.d = b"\0\1\2", float("inf"), 1e300
    rich[0] = v
    back = rich[0]
    assert bytes(back)[16:24] == b"\0\1\2\0\0\0\0\0" and back.f == math.inf and back.d == 1e300


# -- per-CPU values ------------------------------------------------------------------------

def test_percpu_values(obj: BpfObject) -> None:
    """Per-CPU arrays: a list of one value per possible CPU, slots padded to 8 bytes."""
    ncpus = possible_cpus()
    ints, recs = obj.maps["pcpu_s32"], obj.maps["pcpu_inner"]
    assert ints[0] == [0] * ncpus
    values = [(-1) ** i * (i * 1000 + 7) for i in range(ncpus)]
    ints[1] = values
    assert ints[1] == values and ints.lookup(1) == values
    ints[0] = -(2 ** 31)  # one value for every CPU
    assert ints[0] == [-(2 ** 31)] * ncpus
    assert dict(ints.lookup_batch()) == {0: [-(2 ** 31)] * ncpus, 1: values}
    with pytest.raises(ValueError, match="does not fit a signed 32-bit int"):
        ints[0] = [2 ** 31] * ncpus
    recs[1] = [{"a": i, "b": -i} for i in range(ncpus)]
    got = recs[1]
    assert [(r.a, r.b) for r in got] == [(i, -i) for i in range(ncpus)]
    assert [type(r).__name__ for r in got] == ["codec_inner"] * ncpus
    got[0].a = 9  # each slot is its own record
    assert recs[1][0].a == 0


def test_struct_lookups_from_threads(obj: BpfObject) -> None:
    """Threads reading and writing struct values at once each get back their own."""
    rich = obj.maps["rich"]
    errors: List[str] = []

    def worker(key: int) -> None:
        for i in range(500):
            rich[key] = {"u": i, "s": -key, "name": b"t%d" % key, "mode3": i % 8}
            got = rich[key]
            if (got.u, got.s, got.name, got.mode3) != (i, -key, b"t%d" % key, i % 8):
                errors.append(f"key {key}: {got!r}")
                return

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []


def test_int_key_cdata_is_kept_and_only_for_ints(obj: BpfObject) -> None:
    """An int key's cdata is made once and reused (C only reads keys); values equal to a
    kept int but of another type still go through the checks."""
    rich = obj.maps["rich"]
    kc = rich._check_loaded().key
    assert kc is not None and kc.encode(3) is kc.encode(3)
    rich[1] = {"u": 11}
    assert rich[1].u == 11 and rich[True].u == 11  # a bool key is exactly 1, as before
    with pytest.raises(TypeError, match="not float"):
        rich[1.0]
    with pytest.raises(ValueError, match="does not fit an unsigned 32-bit int"):
        rich[2 ** 32]
    assert kc.encode(2 ** 32 - 1)[0] == 2 ** 32 - 1


# -- MapBase's C path for records and per-CPU ints (libbpf_py/_speedups.c) -----------------

def test_records_take_the_c_path_and_agree_with_the_general_one(obj: BpfObject) -> None:
    """``m[k]`` of an int-keyed struct map is one C call: a new record of the map's
    class filled by the kernel; ``m[k] = record`` sends the record's bytes and
    ``m[k] = dict`` the bytes the codec packs. Each agrees with lookup()/update()."""
    rich = obj.maps["rich"]
    obj.programs["codec_fill"].test_run(bytes(64))
    got = rich[1]
    assert rich._fast_path, "an int-keyed struct map takes MapBase's C path"
    cls = rich._check_loaded().value.record
    assert type(got) is cls and bytes(got) == bytes(rich.lookup(1))
    assert rich[1] is not got  # a record that is held is never read into again
    with pytest.raises(KeyError) as missing:
        rich[5]
    assert missing.value.args == (5,)
    got.u, got.name = 77, b"copy"
    rich[2] = got  # the C write: the record's own bytes
    assert bytes(rich.lookup(2)) == bytes(got)
    rich[3] = {"u": 5, "mode3": 7}  # a dict: packed by the codec, written from C
    assert (rich[3].u, rich[3].mode3, rich[3].s) == (5, 7, 0)
    with pytest.raises(ValueError, match="does not fit"):
        rich[2**32]
    with pytest.raises(TypeError):
        rich[2] = 5  # neither a record nor a dict nor bytes of the size
    with pytest.raises(ValueError, match="does not fit"):
        rich[3] = {"mode3": 8}
    assert rich[3].mode3 == 7  # nothing written
    del rich[3]
    assert 3 not in rich


def test_a_kept_record_never_changes(obj: BpfObject) -> None:
    """``m[k]`` fills the record it returned last again only when nobody holds it:
    a record kept in any way (a name, a memoryview, a ctypes pointer, a nested
    field, an attribute in its __dict__, a list) keeps the bytes it was read with
    when the map changes and is read again; records take no weak reference (one
    would not be counted); a copy of a record is its bytes alone."""
    import copy
    rich = obj.maps["rich"]
    cls = rich._check_loaded().value.record
    with pytest.raises(TypeError, match="weak reference"):
        weakref.ref(cls())
    rich[1] = {"u": 1, "inner": {"a": 1, "b": -1}, "arr": [1, 2, 3]}
    first = bytes(rich[1])

    def rewrite(u: int) -> None:
        rich[1] = {"u": u, "inner": {"a": u, "b": -2}, "arr": [u, u, u]}
        assert rich[1].u == u and rich[1].inner.a == u  # read (and dropped) again

    kept = rich[1]
    view = memoryview(rich[1])
    pointer = ctypes.pointer(rich[1])
    inner = rich[1].inner
    arr = rich[1].arr
    marked = rich[1]
    marked.__dict__["note"] = "mine"
    del marked
    assert not rich[1].__dict__  # the record with an attribute of its own is not reused
    in_list = [rich[1]]
    u = 2
    for _ in range(3):
        rewrite(u)
        u += 1
    assert bytes(kept) == first and kept.u == 1
    assert view.tobytes() == first
    assert bytes(pointer.contents) == first
    assert (inner.a, inner.b) == (1, -1) and list(arr) == [1, 2, 3]
    assert bytes(in_list[0]) == first
    # every read, held or not, is the map's current value
    seen = [rich[1] for _ in range(4)]
    assert len({id(r) for r in seen}) == 4 and all(r.u == u - 1 for r in seen)
    copied = copy.copy(kept)
    assert type(copied) is cls and bytes(copied) == first and not copied.__dict__
    assert bytes(copy.deepcopy(kept)) == first
    rich[1] = {"u": 9}
    assert bytes(kept) == first and kept.u == 1
    # ctypes.resize() moves a record's buffer: a record grown and dropped is not
    # read into through a pointer to its old buffer
    grown = rich[1]
    ctypes.resize(grown, ctypes.sizeof(grown) + 4096)
    del grown
    rich[1] = {"u": 10}
    assert [rich[1].u for _ in range(3)] == [10] * 3


def test_a_kept_per_cpu_list_never_changes(obj: BpfObject) -> None:
    """A per-CPU list is filled again only when nobody holds it; a list changed by
    its user and dropped comes back whole."""
    ncpus = possible_cpus()
    ints = obj.maps["pcpu_s32"]
    ints[1] = 7
    kept = ints[1]
    ints[1] = 8
    assert ints[1] == [8] * ncpus and kept == [7] * ncpus
    dropped = ints[1]
    dropped.append("junk")
    dropped[0] = object()
    del dropped
    assert ints[1] == [8] * ncpus
    again = ints[1]
    again.clear()
    del again
    assert ints[1] == [8] * ncpus == ints.lookup(1)


def test_a_per_cpu_list_emptied_while_it_is_filled_again(obj: BpfObject) -> None:
    """A dropped list that holds anything but ints is not refilled: freeing what its
    user left there may run Python (a __del__) that finds the list and empties it;
    the read makes a new list instead and is whole."""
    ncpus = possible_cpus()
    ints = obj.maps["pcpu_s32"]
    ints[1] = 9
    marker = object()

    class Emptier:
        def __del__(self) -> None:
            for holder in gc.get_referrers(marker):
                if type(holder) is list:
                    holder.clear()

    dropped = ints[1]
    dropped[0] = Emptier()
    if ncpus > 1:  # (one possible CPU: no slot after the first, nothing to empty)
        dropped[-1] = marker
    del dropped
    assert ints[1] == [9] * ncpus == ints.lookup(1)
    assert ints[1] == [9] * ncpus  # and the new list is refilled in turn


def test_percpu_ints_take_the_c_path(obj: BpfObject) -> None:
    """A per-CPU int map's ``m[k]`` is a list from C; lists, tuples and one int are
    written from C; anything else (a wrong length, a bool, an int that does not
    fit) goes the general way and gets its error."""
    ncpus = possible_cpus()
    ints = obj.maps["pcpu_s32"]
    assert ints[0] == [0] * ncpus and ints._fast_path
    ints[1] = tuple(range(-ncpus, 0))
    assert ints[1] == list(range(-ncpus, 0)) == ints.lookup(1)
    ints[1] = -5
    assert ints[1] == [-5] * ncpus
    ints[0] = [True] * ncpus  # bools: the general path, exactly 1
    assert ints[0] == [1] * ncpus
    with pytest.raises(ValueError, match="one value per possible CPU"):
        ints[0] = [1] * (ncpus + 1)
    with pytest.raises(ValueError, match="does not fit a signed 32-bit int"):
        ints[0] = [0] * (ncpus - 1) + [2 ** 31]
    assert ints[0] == [1] * ncpus  # nothing written
    with pytest.raises(LibbpfError) as out_of_range:
        ints[7] = 0
    assert out_of_range.value.errno == errno.E2BIG
    with pytest.raises(KeyError):
        ints[7]


def test_object_closed_by_a_gc_pass_inside_a_record_read(obj: BpfObject) -> None:
    """Making the record may run Python (here a GC callback that closes the object):
    the read finishes on the element state it holds, then the map is closed."""
    rich = obj.maps["rich"]
    rich[4] = {"u": 44}
    assert rich._fast_path
    fired: List[bool] = []

    def close_object(phase: str, info: Dict[str, Any]) -> None:
        if phase == "start" and not fired:
            fired.append(True)
            obj.close()

    threshold = gc.get_threshold()
    gc.callbacks.append(close_object)
    gc.set_threshold(1)  # the record's allocation starts a collection
    try:
        got = None
        for _ in range(100):
            try:
                got = rich[4]
            except ClosedError:
                break
    finally:
        gc.set_threshold(*threshold)
        gc.callbacks.remove(close_object)
    assert fired and obj.closed
    assert got is None or got.u == 44  # a read in flight finished on live memory
    assert not rich._fast_path
    with pytest.raises(ClosedError):
        rich[4]


def test_c_path_refuses_a_record_class_of_the_wrong_size(obj: BpfObject) -> None:
    """A `fast` tuple whose record class is smaller than the value: the C path
    raises instead of letting the kernel write past the record."""
    rich = obj.maps["rich"]
    e = rich._check_loaded()

    class Small(ctypes.Structure):
        _fields_ = [("x", ctypes.c_uint32)]

    class Lying:
        fast = (e.fd, 4, False, e.value.size, False, 1, Small)

    probe = MapBase()
    probe._elements = Lying()
    with pytest.raises(SystemError, match="record has 4 bytes"):
        probe[0]

    class ShortPack:
        fast = (e.fd, 4, False, e.value.size, False, 1, e.value.record, lambda v: b"abc")

    probe._elements = ShortPack()
    with pytest.raises(SystemError, match="packed map value has 3 bytes"):
        probe[0] = {}
    for bad in [(e.fd, 4, False, 16, False, 1, "not a class"),
                (e.fd, 4, False, 0, False, 1, Small),
                (e.fd, 4, False, 4, False, 2, 0),
                (e.fd, 4, False, 4, False, 9, None),
                (e.fd, 4, False, 3, False, 2, 2),
                (e.fd, 4, False, 16, False, 1, Small, "not callable"),
                (e.fd, 4, False, 4, False, 0, None, len)]:
        class Bad:
            fast = bad
        with pytest.raises(ValueError, match=r"_elements\.fast"):
            probe._elements = Bad()
    probe._elements = None


# -- scalar keys and values typed by BTF (no kernel: the codecs alone) ------------------

def _scalar_codecs() -> Dict[str, Any]:
    from libbpf_py._codec import btf_codec
    from libbpf_py.btf import Btf

    btf = Btf.new_empty()
    try:
        f32, f64 = btf.add_float("float", 4), btf.add_float("double", 8)
        rec = btf.add_struct("floats", 16)
        btf.add_field("f", f32, 0)
        btf.add_field("d", f64, 64)
        return {name: btf_codec(btf, tid, size, f"value of map {name!r}", name)
                for name, tid, size in (("float", f32, 4), ("double", f64, 8),
                                        ("floats", rec, 16))}
    finally:
        btf.close()


@pytest.mark.parametrize("name, value", [("float", 1e39), ("float", 2 ** 200),
                                         ("double", 2 ** 2000)],
                         ids=["float-1e39", "float-2**200", "double-2**2000"])
def test_a_float_value_past_its_range_is_a_value_error(name: str, value: Any) -> None:
    """A float/double key or value out of range: struct.pack's own error escaped, a
    struct.error (none of the errors the API promises: 'int too large to convert',
    'required argument is not a float') or an OverflowError naming neither map nor
    value."""
    codec = _scalar_codecs()[name]
    for write in (codec.to_bytes, codec.encode, lambda v: codec.encode_many([1.0, v])):
        with pytest.raises(ValueError, match=rf"value of map '{name}' = .* does not fit"):
            write(value)
    assert codec.from_bytes(bytes(codec.to_bytes(-1.5))) == -1.5
    assert codec.from_bytes(bytes(codec.to_bytes(math.inf))) == math.inf


@pytest.mark.parametrize("field, value", [("f", 1e39), ("f", 2 ** 200), ("d", 2 ** 2000)],
                         ids=["f-1e39", "f-2**200", "d-2**2000"])
def test_a_float_field_past_its_range_is_a_value_error(field: str, value: Any) -> None:
    """The same for a float/double field of a struct: a dict of fields (the packer),
    a field set on a record, a record built with it."""
    codec = _scalar_codecs()["floats"]
    rec = codec.cls()
    for write in (lambda: codec.to_bytes({field: value}),
                  lambda: codec.to_bytes({"f": 1.0, "d": 2.0, field: value}),
                  lambda: setattr(rec, field, value)):
        with pytest.raises(ValueError, match=rf"floats\.{field} = .* does not fit"):
            write()
    assert bytes(rec) == bytes(16)
