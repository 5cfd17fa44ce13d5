"""libbpf_py.map.Map and libbpf_py.enums, on the real kernel (no mocks).

Standalone maps are created with bpf_map_create; object maps come from
tests/bpf/maps.bpf.c, whose XDP program (run with test_run) writes into them.
Every map a test creates is closed by the test, every pin is made in a fresh
bpffs directory that the test removes.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import socket
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator, List, Tuple

import pytest
from conftest import Compile

from libbpf_py._binding import ffi, lib
from libbpf_py.enums import AttachType, LinkType, MapFlag, MapType, ProgType, UpdateFlag
from libbpf_py.errors import (
    AlreadyLoadedError,
    ClosedError,
    LibbpfError,
    LibbpfExistsError,
    LibbpfNotFoundError,
    LibbpfNotSupportedError,
    LibbpfPermissionError,
    NotLoadedError,
)
from libbpf_py.map import Map, possible_cpus

pytestmark = pytest.mark.kernel


# -- fixtures ---------------------------------------------------------------------------

@pytest.fixture
def pin_dir(kernel: None) -> Iterator[Path]:
    """A fresh directory in bpffs, removed with whatever the test pinned in it."""
    path = Path("/sys/fs/bpf") / f"libbpf_py_test_map_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    path.mkdir()
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        assert not path.exists()


@pytest.fixture
def maps_o(kernel: None, compile_bpf: Compile) -> Path:
    return compile_bpf("maps")


class CallSpy:
    """Counts calls of some lib functions (the real ones still run)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
        self.calls: List[str] = []
        for name in names:
            real = getattr(lib, name)

            def spy(*args: Any, _real: Any = real, _name: str = name) -> Any:
                self.calls.append(_name)
                return _real(*args)

            monkeypatch.setattr(lib, name, spy)


ELEM_FUNCS = ("bpf_map_lookup_elem", "bpf_map_update_elem", "bpf_map_delete_elem",
              "bpf_map_lookup_and_delete_elem", "bpf_map_update_batch",
              "bpf_map_delete_batch", "bpf_map_get_next_key")


# -- enums ------------------------------------------------------------------------------

def test_enums_come_from_the_compiled_constants() -> None:
    assert MapType.HASH == lib.BPF_MAP_TYPE_HASH
    assert MapType.BLOOM_FILTER == lib.BPF_MAP_TYPE_BLOOM_FILTER
    assert ProgType.XDP == lib.BPF_PROG_TYPE_XDP
    assert AttachType.CGROUP_INET_INGRESS == lib.BPF_CGROUP_INET_INGRESS
    assert LinkType.XDP == lib.BPF_LINK_TYPE_XDP
    assert UpdateFlag.NOEXIST == lib.BPF_NOEXIST and UpdateFlag.F_LOCK == lib.BPF_F_LOCK
    assert UpdateFlag.ANY == 0 == lib.BPF_ANY
    assert MapFlag.NO_PREALLOC == lib.BPF_F_NO_PREALLOC
    for enum_cls, c_enum, prefix in ((MapType, "bpf_map_type", "BPF_MAP_TYPE_"),
                                     (ProgType, "bpf_prog_type", "BPF_PROG_TYPE_"),
                                     (AttachType, "bpf_attach_type", "BPF_"),
                                     (LinkType, "bpf_link_type", "BPF_LINK_TYPE_")):
        declared = ffi.typeof(f"enum {c_enum}").relements
        assert {m.name: int(m) for m in enum_cls} == {
            name[len(prefix):]: value for name, value in declared.items()}


def test_unknown_kernel_values_still_convert() -> None:
    odd = MapType(4000)
    assert odd == 4000 and odd.name == "UNKNOWN_4000" and isinstance(odd, MapType)
    assert MapType(4000) is odd
    with pytest.raises(ValueError):
        MapType(-1)


# -- hash and array ---------------------------------------------------------------------

def test_hash_elements(maps: Callable[..., Map]) -> None:
    m = maps(MapType.HASH, 4, 8, 4, name="t_hash")
    assert (m.name, m.type, m.key_size, m.value_size, m.max_entries) == (
        "t_hash", MapType.HASH, 4, 8, 4)
    assert len(m) == 0 and list(m) == [] and m
    m[1] = 10
    m[b"\x02\x00\x00\x00"] = (20).to_bytes(8, "little")
    m.update(3, 30, UpdateFlag.NOEXIST)
    assert m[1] == 10 and m[2] == 20 and m[bytearray(b"\x03\0\0\0")] == 30
    assert sorted(m.items()) == [(1, 10), (2, 20), (3, 30)]
    assert sorted(m.keys()) == [1, 2, 3] and sorted(m.values()) == [10, 20, 30]
    assert len(m) == 3 and 1 in m and 9 not in m
    assert m.get(9) is None and m.get(9, "x") == "x" and m.get(1) == 10
    with pytest.raises(KeyError):
        m[9]
    with pytest.raises(KeyError):
        del m[9]
    with pytest.raises(LibbpfExistsError, match="NOEXIST"):
        m.update(1, 11, UpdateFlag.NOEXIST)
    with pytest.raises(KeyError):
        m.update(9, 1, UpdateFlag.EXIST)
    m.update(1, 11, UpdateFlag.EXIST)
    assert m[1] == 11
    m[4] = 40
    with pytest.raises(LibbpfError, match="full") as info:
        m[5] = 50
    assert info.value.errno == errno.E2BIG
    assert m.lookup_and_delete(4) == 40 and 4 not in m
    with pytest.raises(KeyError):
        m.lookup_and_delete(4)
    del m[1]
    assert sorted(m) == [2, 3]
    m.clear()
    assert len(m) == 0


def test_iteration_survives_deletion(maps: Callable[..., Map]) -> None:
    m = maps("hash", 4, 4, 256)
    m.update_batch((i, i * 2) for i in range(200))
    seen = []
    for k in m.keys():
        seen.append(k)
        del m[k]
    assert sorted(seen) == list(range(200)) and len(m) == 0
    for walk in (False, True):
        m.update_batch({i: i for i in range(50)})
        if walk:  # the path of the maps without batch reads (issue 19)
            m._check_loaded().iteration = "walk"
        seen = []
        for k, v in m.items():  # delete other elements while iterating
            seen.append(k)
            assert v == k
            if k ^ 1 in m:
                del m[k ^ 1]
        # a hash map reads in batches: the 50 elements are one chunk, read before the
        # deletes (a snapshot chunk by chunk), and each deletes its partner; the walk
        # skips the elements deleted, and the first of each pair deletes the other
        assert len(seen) == len(set(seen)) == (25 if walk else 50)
        assert len(m) == (25 if walk else 0)


def test_array(maps: Callable[..., Map]) -> None:
    m = maps(MapType.ARRAY, 4, 4, 3, name="t_array")
    assert len(m) == 3 and list(m.items()) == [(0, 0), (1, 0), (2, 0)]
    m[1] = 0xFFFFFFFF
    assert m[1] == 0xFFFFFFFF
    with pytest.raises(LibbpfError, match="cannot be deleted") as info:
        del m[1]
    assert info.value.errno == errno.EINVAL
    with pytest.raises(KeyError):
        m[3]
    with pytest.raises(LibbpfError, match="out of range"):
        m[3] = 1
    with pytest.raises(LibbpfExistsError):
        m.update(0, 1, UpdateFlag.NOEXIST)
    assert m.lookup_batch() == [(0, 0), (1, 0xFFFFFFFF), (2, 0)]


def test_wide_keys_and_values_are_bytes(maps: Callable[..., Map]) -> None:
    m = maps("hash", 3, 12, 4)
    m[b"abc"] = b"x" * 12
    m[memoryview(b"xyzw")[:3]] = bytearray(b"y" * 12)
    assert m[b"abc"] == b"x" * 12 and m[b"xyz"] == b"y" * 12
    assert sorted(m.keys()) == [b"abc", b"xyz"]


def test_lru_hash_evicts(maps: Callable[..., Map]) -> None:
    m = maps(MapType.LRU_HASH, 8, 8, 32)
    for i in range(200):
        m[i] = i
    assert 0 < len(m) <= 200 and all(m[k] == k for k in m)


def test_lpm_trie(maps: Callable[..., Map]) -> None:
    m = maps(MapType.LPM_TRIE, 8, 4, 16, map_flags=MapFlag.NO_PREALLOC)

    def key(prefix: int, addr: str) -> bytes:
        return prefix.to_bytes(4, "little") + socket.inet_aton(addr)

    m[key(8, "10.0.0.0")] = 1
    m[key(24, "10.1.2.0")] = 2
    assert m[key(32, "10.1.2.3")] == 2
    assert m[key(32, "10.9.9.9")] == 1
    assert key(32, "11.0.0.1") not in m
    assert sorted(m.keys()) == sorted([key(8, "10.0.0.0"), key(24, "10.1.2.0")])
    with pytest.raises(LibbpfError):
        Map.create(MapType.LPM_TRIE, 8, 4, 16).close()  # needs NO_PREALLOC


# -- per-CPU ----------------------------------------------------------------------------

@pytest.mark.parametrize("map_type", [MapType.PERCPU_HASH, MapType.PERCPU_ARRAY,
                                      MapType.LRU_PERCPU_HASH])
def test_percpu_shape(maps: Callable[..., Map], map_type: MapType) -> None:
    ncpus = possible_cpus()
    assert ncpus == lib.libbpf_num_possible_cpus() >= 1
    m = maps(map_type, 4, 4, 4)  # 4-byte values: each CPU's slot is padded to 8
    m[0] = 7
    assert m[0] == [7] * ncpus
    values = list(range(100, 100 + ncpus))
    m[1] = values
    assert m[1] == values
    with pytest.raises(ValueError, match=f"{ncpus} values, got {ncpus + 1}"):
        m[1] = [*values, 0]
    with pytest.raises(ValueError, match="does not fit"):
        m[1] = [2 ** 32] * ncpus
    assert dict(m.lookup_batch())[1] == values
    m.update_batch([(2, [5] * ncpus)])
    assert m[2] == [5] * ncpus


# -- maps of maps -----------------------------------------------------------------------

@pytest.mark.parametrize("outer_type", [MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS])
def test_map_in_map(maps: Callable[..., Map], outer_type: MapType) -> None:
    inner1 = maps(MapType.ARRAY, 4, 8, 2, name="inner1")
    inner2 = maps(MapType.ARRAY, 4, 8, 2, name="inner2")
    inner1[0] = 111
    outer = maps(outer_type, 4, 4, 2, inner_map=inner1)
    outer[0] = inner1
    outer[1] = inner2.fd
    assert outer[0] == inner1.id and outer[1] == inner2.id
    with Map.from_id(outer[0]) as again:
        assert again.name == "inner1" and again[0] == 111
    with pytest.raises(TypeError, match=r"Map .* or an int fd"):
        outer[0] = "inner1"
    with pytest.raises(LibbpfError):  # an incompatible inner map is refused by the kernel
        outer[0] = maps(MapType.HASH, 4, 4, 4)


def test_inner_map_template_outlives_its_map(maps_o: Path) -> None:
    """``outer.inner_map = m`` hands libbpf m's fd number, which libbpf keeps (no
    dup) and uses at load. Nothing kept m's fd open: a template dropped (here a
    temporary) or closed before load left libbpf a number that the next file took,
    so load() made the map of maps from a stranger's shape (EINVAL here: the
    impostor is a hash map, the slot's inner_a an array)."""
    from libbpf_py.object import BpfObject

    with BpfObject.open(maps_o) as obj:
        outer = obj.maps["outer"]
        r, w = os.pipe()
        os.close(r)
        os.close(w)
        with pytest.raises(LibbpfError, match="cannot duplicate fd"):  # not a bare OSError
            outer.inner_map = r
        outer.inner_map = Map.create(MapType.ARRAY, 4, 4, 1)  # collected at once
        impostor = Map.create(MapType.HASH, 4, 4, 8)          # may take its fd number
        kept = Map.create(MapType.ARRAY, 4, 4, 1)
        obj.load()
        outer[1] = kept                                       # the template's shape
        assert outer[1] == kept.id and outer.info().type == MapType.ARRAY_OF_MAPS
        with pytest.raises(LibbpfError):
            outer[1] = impostor
        impostor.close()
        kept.close()


@pytest.mark.parametrize("how", ["reuse_fd", "inner_map", "create"])
def test_an_fd_read_then_closed_never_reaches_the_next_map(
        maps: Callable[..., Map], maps_o: Path, how: str) -> None:
    """``reuse_fd(m)``, ``inner_map = m`` and ``Map.create(inner_map=m)`` read
    ``m.fd`` and then call libbpf with that number: a close of ``m`` from another
    thread in between (simulated by a profile hook on the return of the ``fd``
    property, inside _fd_of) let a map opened meanwhile take the number and be used
    in its place. m's guard is now held until the call returns."""
    import sys

    from libbpf_py import _map_core
    from libbpf_py.object import BpfObject

    victim = maps(MapType.ARRAY, 4, 4, 1)
    want = victim.id
    other: List[Map] = []

    def hook(frame: Any, event: str, arg: Any) -> None:
        if (event == "return" and not other and frame.f_back is not None
                and frame.f_back.f_code is _map_core._fd_of.__code__
                and getattr(frame.f_locals.get("method"), "__name__", "") == "fd"):
            sys.setprofile(None)
            victim.close()  # "another thread" closes the map here...
            other.append(maps(MapType.HASH, 4, 4, 8))  # ...and opens another one

    with BpfObject.open(maps_o) as obj:
        if how == "create":
            sys.setprofile(hook)
            try:
                outer = maps(MapType.ARRAY_OF_MAPS, 4, 4, 2, inner_map=victim)
            finally:
                sys.setprofile(None)
            assert other, "the hook did not run"
            outer[0] = maps(MapType.ARRAY, 4, 4, 1)  # the template's shape, not a hash's
            return
        target = obj.maps["inner_a" if how == "reuse_fd" else "outer"]
        sys.setprofile(hook)
        try:
            if how == "reuse_fd":
                target.reuse_fd(victim)
            else:
                target.inner_map = victim
        finally:
            sys.setprofile(None)
        assert other, "the hook did not run"
        obj.load()  # a hash template refuses the outer map's array slot (EINVAL)
        if how == "reuse_fd":
            assert target.id == want, (f"inner_a is map {target.id}, not the map {want} "
                                       f"it was given (the new map {other[0].id} took "
                                       "its fd number)")


# -- queue, stack, bloom filter ---------------------------------------------------------

def test_queue_and_stack(maps: Callable[..., Map]) -> None:
    q = maps(MapType.QUEUE, 0, 4, 3, name="t_queue")
    s = maps(MapType.STACK, 0, 4, 3)
    for m in (q, s):
        for v in (1, 2, 3):
            m.push(v)
        with pytest.raises(LibbpfError, match="full") as info:
            m.push(4)
        assert info.value.errno == errno.E2BIG
    assert q.peek() == 1 and [q.pop(), q.pop(), q.pop()] == [1, 2, 3]
    assert s.peek() == 3 and [s.pop(), s.pop(), s.pop()] == [3, 2, 1]
    with pytest.raises(IndexError, match="empty QUEUE map 't_queue'"):
        q.pop()
    with pytest.raises(IndexError):
        s.peek()
    for v in (1, 2, 3, 4):
        q.push(v, UpdateFlag.EXIST)  # overwrites the oldest when full
    assert [q.pop(), q.pop(), q.pop()] == [2, 3, 4]
    with pytest.raises(TypeError, match="has no keys"):
        q[0]
    with pytest.raises(TypeError, match="has no keys"):
        list(q)
    with pytest.raises(TypeError, match="needs a QUEUE, STACK"):
        maps("hash", 4, 4, 1).pop()


def test_bloom_filter(maps: Callable[..., Map]) -> None:
    b = maps(MapType.BLOOM_FILTER, 0, 8, 100, map_extra=3)
    assert b.map_extra == 3
    for v in range(0, 50, 5):
        b.push(v)
    assert all(v in b for v in range(0, 50, 5))
    assert b.contains(10) and b.contains((10).to_bytes(8, "little"))
    misses = sum(1 for v in range(1000, 1100) if v not in b)
    assert misses > 80  # false positives are possible, not many
    with pytest.raises(TypeError, match="needs a BLOOM_FILTER"):
        maps("queue", 0, 4, 1).contains(1)



@pytest.mark.parametrize("kind", [MapType.QUEUE, MapType.STACK, MapType.BLOOM_FILTER])
def test_maps_without_keys_refuse_every_key_operation(maps: Callable[..., Map],
                                                       kind: MapType) -> None:
    """QUEUE, STACK and BLOOM_FILTER have no keys: each key operation is a TypeError
    that names it, before any C call."""
    m = maps(kind, 0, 4, 4)
    ops: List[Tuple[str, Callable[[], Any]]] = [
        ("m[key]", lambda: m[0]),
        ("lookup()", lambda: m.lookup(0)),
        ("update()", lambda: m.update(0, 1)),
        ("update()", lambda: m.__setitem__(0, 1)),  # MapBase hands it to update()
        ("del m[key]", lambda: m.__delitem__(0)),
        ("lookup_and_delete()", lambda: m.lookup_and_delete(0)),
        ("iteration", lambda: list(m.keys())),
        ("iteration", lambda: list(m.items())),
        ("iteration", lambda: len(m)),
        ("iteration", lambda: m.clear()),
        ("lookup_batch()", lambda: m.lookup_batch()),
        ("lookup_batch_arrays()", lambda: m.lookup_batch_arrays()),
        ("lookup_and_delete_batch()", lambda: m.lookup_and_delete_batch()),
        ("update_batch()", lambda: m.update_batch({0: 1})),
        ("delete_batch()", lambda: m.delete_batch([0])),
    ]
    if kind != MapType.BLOOM_FILTER:
        ops.append(("'in'", lambda: 0 in m))
    for op, call in ops:
        with pytest.raises(TypeError, match=rf"{kind.name} map has no keys: "
                                            rf"{re.escape(op)} does not apply"):
            call()

# -- batches ----------------------------------------------------------------------------

def test_batches_on_hash(maps: Callable[..., Map]) -> None:
    m = maps(MapType.HASH, 4, 8, 2048, name="t_batch")
    m.update_batch({i: i * i for i in range(1000)})
    assert len(m) == 1000
    got = m.lookup_batch(chunk=7)
    assert sorted(got) == [(i, i * i) for i in range(1000)]
    assert sorted(m.lookup_batch()) == sorted(got)
    m.delete_batch(range(0, 1000, 2))
    assert sorted(m.keys()) == list(range(1, 1000, 2))
    with pytest.raises(KeyError) as info:
        m.delete_batch([1, 2, 3])  # 1 goes, 2 is missing
    assert info.value.args == (2,) and 1 not in m and 3 in m
    with pytest.raises(ValueError, match=r"only UpdateFlag\.ANY or F_LOCK"):
        m.update_batch([(3, 0)], UpdateFlag.NOEXIST)
    taken = m.lookup_and_delete_batch(chunk=64)
    assert len(taken) == 499 and len(m) == 0
    assert m.lookup_batch() == [] and m.lookup_and_delete_batch() == []
    m.update_batch([])
    m.delete_batch([])


def test_batches_unsupported(maps: Callable[..., Map]) -> None:
    a = maps(MapType.ARRAY, 4, 4, 4, name="t_arr")
    with pytest.raises(LibbpfError, match="lookup_and_delete_batch on ARRAY map 't_arr'"):
        a.lookup_and_delete_batch()
    with pytest.raises(LibbpfError, match="delete_batch on ARRAY map 't_arr'"):
        a.delete_batch([0])
    st = maps(MapType.STACK_TRACE, 4, 8 * 16, 4, name="t_stack")
    with pytest.raises(LibbpfNotSupportedError,
                       match="lookup_batch on STACK_TRACE map 't_stack': this map type does "
                             "not support lookup_batch"):
        st.lookup_batch()


# -- bad input: no C call ---------------------------------------------------------------

def test_wrong_keys_and_values_never_reach_c(maps: Callable[..., Map],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    m = maps(MapType.HASH, 4, 8, 4, name="t_bad")
    w = maps(MapType.HASH, 16, 2, 4, name="t_wide")
    assert m.get(0) is None  # builds the layout before spying
    spy = CallSpy(monkeypatch, *ELEM_FUNCS)
    cases: List[Any] = [
        (lambda: m[b"abc"], ValueError, "key of HASH map 't_bad' must be exactly 4 bytes, got 3"),
        (lambda: m["1"], TypeError, r"key of HASH map 't_bad' must be an int .* \(4 bytes\)"),
        (lambda: m[1.0], TypeError, "not float"),
        (lambda: m[None], TypeError, "not NoneType"),
        (lambda: m[-1], ValueError, "does not fit an unsigned 32-bit int"),
        (lambda: m[2 ** 32], ValueError, "does not fit"),
        (lambda: m.__setitem__(1, b"1234"), ValueError,
         "value of HASH map 't_bad' must be exactly 8 bytes, got 4"),
        (lambda: m.__setitem__(1, 2 ** 64), ValueError, "does not fit"),
        (lambda: m.__setitem__(1, [1]), TypeError, "value of HASH map 't_bad'"),
        (lambda: m.__delitem__(b""), ValueError, "exactly 4 bytes, got 0"),
        (lambda: 1.5 in m, TypeError, "not float"),
        (lambda: m.update(1, 1, flags=-1), ValueError, "flags"),
        (lambda: m.update_batch([(1, 1), (2, b"x")]), ValueError, "exactly 8 bytes"),
        (lambda: m.delete_batch([1, "2"]), TypeError, "not str"),
        (lambda: w[b"x" * 15], ValueError, "key of HASH map 't_wide' must be exactly 16"),
        (lambda: w[5], TypeError, r"bytes-like object \(16 bytes\), not int"),
        (lambda: w.__setitem__(b"k" * 16, 70000), ValueError, "unsigned 16-bit"),
    ]
    for call, exc, pattern in cases:
        with pytest.raises(exc, match=pattern):
            call()
    assert spy.calls == []
    with pytest.raises(KeyError):
        w[b"x" * 16]  # not an int map: the general path, through the spied lib
    assert spy.calls == ["bpf_map_lookup_elem"]
    with pytest.raises(KeyError):
        m[1]  # an int map: MapBase's C path, which calls libbpf without lib
    assert spy.calls == ["bpf_map_lookup_elem"] and m._fast_path


def test_create_validates_before_c(kernel: None) -> None:
    with pytest.raises(ValueError, match="at most 15"):
        Map.create(MapType.HASH, 4, 4, 1, name="a" * 16)
    with pytest.raises(ValueError, match="ASCII letters"):
        Map.create(MapType.HASH, 4, 4, 1, name="bad-name")
    # a bytes name was checked character by character as ints: AttributeError
    # ("'int' object has no attribute 'isalnum'") for any of them, good or bad
    for bad in (b"bad-name", bytearray(b"a" * 16), b"caf\xc3\xa9"):
        with pytest.raises(ValueError, match=r"must be at most 15 ASCII letters"):
            Map.create(MapType.HASH, 4, 4, 1, name=bad)
    with Map.create(MapType.HASH, 4, 4, 1, name=b"by_tes.1") as named:
        assert named.name == "by_tes.1"
    with pytest.raises(ValueError, match="unknown map type 'nope'"):
        Map.create("nope", 4, 4, 1)
    # a misspelt name said only "unknown map type 'hsah'"
    with pytest.raises(ValueError, match=r"unknown map type 'hsah'; did you mean 'HASH'\?"):
        Map.create("hsah", 4, 4, 1)
    with pytest.raises(ValueError, match=r"'percpu_hsah'; did you mean 'PERCPU_HASH'\?"):
        Map.create("percpu_hsah", 4, 4, 1)
    with pytest.raises(TypeError):
        Map.create(MapType.HASH, "4", 4, 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_entries"):
        Map.create(MapType.HASH, 4, 4, -1)
    with pytest.raises(LibbpfError, match="cannot create HASH map 'zero'") as info:
        Map.create(MapType.HASH, 0, 4, 1, name="zero")
    assert info.value.errno == errno.EINVAL


# -- life cycle, pins, reopening ----------------------------------------------------------

def test_use_after_close(kernel: None) -> None:
    with Map.create(MapType.HASH, 4, 4, 4, name="t_closed") as m:
        m[1] = 1
        assert not m.closed
    assert m.closed
    m.close()  # idempotent
    for call in (lambda: m[1], lambda: m.__setitem__(1, 1), lambda: m.__delitem__(1),
                 lambda: 1 in m, lambda: list(m), lambda: len(m), lambda: m.lookup_batch(),
                 lambda: m.fd, lambda: m.info(), lambda: m.freeze(), lambda: m.name,
                 lambda: m.pin("/sys/fs/bpf/never")):
        with pytest.raises(ClosedError, match="map 't_closed' is closed"):
            call()
    assert "closed" in repr(m)


def test_iterator_stops_when_closed(kernel: None) -> None:
    m = Map.create(MapType.HASH, 4, 4, 8)
    m.update_batch({1: 1, 2: 2, 3: 3})
    it = m.keys()
    next(it)
    m.close()
    with pytest.raises(ClosedError):
        next(it)


def test_pin_and_reopen(maps: Callable[..., Map], pin_dir: Path) -> None:
    m = maps(MapType.HASH, 4, 8, 8, name="t_pin")
    m.update_batch({1: 10, 2: 20})
    path = pin_dir / "t_pin"
    m.pin(path)
    with pytest.raises(LibbpfExistsError):
        m.pin(path)
    with Map.from_pinned(path) as p, Map.from_id(m.id) as i, Map.from_fd(m.fd) as f:
        for other in (p, i, f):
            assert other.id == m.id and other.name == "t_pin"
            assert (other.type, other.key_size, other.value_size, other.max_entries) == (
                MapType.HASH, 4, 8, 8)
            assert sorted(other.items()) == [(1, 10), (2, 20)]
        p[3] = 30
        assert m[3] == 30 and f.fd != m.fd
    m.unpin(path)
    assert not path.exists()
    with pytest.raises(LibbpfNotFoundError):
        Map.from_pinned(path)
    with pytest.raises(LibbpfError):
        m.pin("/tmp/not-bpffs-" + uuid.uuid4().hex)
    assert m[1] == 10  # caller's fd (from_fd) still open


def test_from_fd_keeps_callers_fd_and_rejects_non_maps(maps: Callable[..., Map]) -> None:
    m = maps(MapType.ARRAY, 4, 4, 1)
    fd = os.dup(m.fd)
    try:
        other = Map.from_fd(fd)
        other.close()
        os.fstat(fd)  # still open
    finally:
        os.close(fd)
    r, w = os.pipe()
    try:
        with pytest.raises(LibbpfError, match="not a BPF map"):
            Map.from_fd(r)
        os.fstat(r)
    finally:
        os.close(r)
        os.close(w)
    with pytest.raises(LibbpfNotFoundError):
        Map.from_id(0xFFFFFFF0)
    with pytest.raises(TypeError):
        Map.from_fd("3")  # type: ignore[arg-type]


def test_closed_standalone_map_is_freed(kernel: None) -> None:
    m = Map.create(MapType.ARRAY, 4, 4, 1)
    map_id = m.id
    m.close()
    deadline = time.monotonic() + 5
    while True:
        try:
            Map.from_id(map_id).close()
        except LibbpfNotFoundError:
            break
        assert time.monotonic() < deadline, "the kernel kept the closed map"
        time.sleep(0.05)


def test_freeze(maps: Callable[..., Map]) -> None:
    m = maps(MapType.ARRAY, 4, 4, 1)
    m[0] = 5
    m.freeze()
    with pytest.raises(LibbpfPermissionError):
        m[0] = 6
    assert m[0] == 5


def test_standalone_settings_are_fixed(maps: Callable[..., Map]) -> None:
    m = maps(MapType.HASH, 4, 4, 4, name="t_fixed")
    with pytest.raises(AlreadyLoadedError, match="max_entries of map 't_fixed'"):
        m.max_entries = 8
    with pytest.raises(TypeError, match="standalone"):
        m.initial_value  # noqa: B018
    info = m.info()
    assert info.type == MapType.HASH and info.id == m.id and info.max_entries == 4
    assert info["id"] == m.id and info.as_dict()["name"] == "t_fixed"
    with pytest.raises(KeyError):
        info["nope"]


# -- BTF --------------------------------------------------------------------------------

def test_standalone_map_typed_by_btf(maps: Callable[..., Map]) -> None:
    btf = lib.btf__new_empty()
    assert btf != ffi.NULL
    try:
        s32 = lib.btf__add_int(btf, b"int", 4, lib.BTF_INT_SIGNED)
        u16 = lib.btf__add_int(btf, b"unsigned short", 2, 0)
        char = lib.btf__add_int(btf, b"char", 1, lib.BTF_INT_SIGNED)
        u32 = lib.btf__add_int(btf, b"unsigned int", 4, 0)
        idx = lib.btf__add_int(btf, b"__ARRAY_SIZE_TYPE__", 4, 0)
        name_t = lib.btf__add_array(btf, idx, char, 6)
        rec = lib.btf__add_struct(btf, b"rec", 16)
        assert min(s32, u16, char, u32, idx, name_t, rec) > 0
        assert lib.btf__add_field(btf, b"x", s32, 0, 0) == 0
        assert lib.btf__add_field(btf, b"port", u16, 32, 0) == 0
        assert lib.btf__add_field(btf, b"name", name_t, 48, 0) == 0
        assert lib.btf__add_field(btf, b"n", u32, 96, 0) == 0
        assert lib.btf__load_into_kernel(btf) == 0
        m = maps(MapType.HASH, 4, 16, 4, name="t_btf", btf_fd=lib.btf__fd(btf),
                 btf_key_type_id=s32, btf_value_type_id=rec)
    finally:
        lib.btf__free(btf)
    m[-2] = {"x": -7, "port": 8080, "name": b"abc", "n": 3}
    v = m[-2]
    assert (v.x, v.port, v.name, v.n) == (-7, 8080, b"abc", 3)
    assert type(v).__name__ == "rec" and len(bytes(v)) == 16
    assert list(m.keys()) == [-2]
    v.x = 1
    m[5] = v
    assert m[5] == v and m[5].x == 1
    m[6] = bytes(16)
    assert m[6].x == 0
    with pytest.raises(ValueError, match="exactly 16 bytes"):
        m[7] = bytes(15)
    with pytest.raises(TypeError, match="no field 'nope'"):
        m[7] = {"nope": 1}
    with pytest.raises(ValueError, match="signed 32-bit"):
        m[2 ** 31] = v


def test_btf_type_ids_without_btf_fd_are_refused(maps: Callable[..., Map]) -> None:
    """``Map.create(..., btf_value_type_id=2)`` without ``btf_fd`` made an untyped map
    without a word: the type ids were dropped (only set with a btf_fd)."""
    for kw in ({"btf_key_type_id": 1}, {"btf_value_type_id": 2}):
        with pytest.raises(ValueError, match="btf_fd"):
            maps(MapType.HASH, 4, 4, 4, **kw)


def test_inner_map_of_a_map_that_holds_no_maps_is_refused(maps: Callable[..., Map]) -> None:
    """``Map.create("hash", ..., inner_map=t)``: the kernel ignores an inner map fd for
    types other than maps of maps, so the argument was dropped without a word."""
    template = maps(MapType.ARRAY, 4, 4, 1)
    for kind in (MapType.HASH, MapType.ARRAY, MapType.PROG_ARRAY):
        with pytest.raises(ValueError, match=r"inner_map .* ARRAY_OF_MAPS or HASH_OF_MAPS"):
            maps(kind, 4, 4, 4, inner_map=template)
    maps(MapType.HASH_OF_MAPS, 4, 4, 4, inner_map=template)


def test_a_bool_value_takes_false_and_true_only(maps: Callable[..., Map]) -> None:
    """A map whose value (or key) BTF types as ``_Bool`` took any byte as an unsigned
    8-bit int: ``m[k] = 2`` stored a _Bool of 2, which C code compiled on 0 / 1 may
    misread (a struct's _Bool field already refused it); it reads back as a bool."""
    from libbpf_py.btf import Btf

    with Btf.new_empty() as btf:
        u32 = btf.add_int("unsigned int", 4)
        flag = btf.add_int("_Bool", 1, "bool")
        btf.load_into_kernel()
        m = maps(MapType.HASH, 4, 1, 4, btf_fd=btf.fd, btf_key_type_id=u32,
                 btf_value_type_id=flag)
        keyed = maps(MapType.HASH, 1, 4, 4, btf_fd=btf.fd, btf_key_type_id=flag,
                     btf_value_type_id=u32)
    writes: List[Callable[[], object]] = [
        lambda: m.__setitem__(1, 2), lambda: m.update(1, -1),
        lambda: m.update_batch({1: True, 2: 2}), lambda: keyed.update(2, 1)]
    for write in writes:
        with pytest.raises(ValueError, match=r"does not fit"):
            write()
    assert len(m) == 0 and len(keyed) == 0
    m[1], m[2], m[3] = True, 0, 1
    keyed[True] = 7
    assert [m[1], m[2], m[3]] == [True, False, True] and type(m[3]) is bool
    assert sorted(m.items()) == [(1, True), (2, False), (3, True)]
    assert sorted(m.lookup_batch()) == [(1, True), (2, False), (3, True)]
    assert list(keyed.items()) == [(True, 7)] and type(next(iter(keyed))) is bool
    keys, values = m.lookup_batch_arrays()
    assert sorted(zip(keys.tolist(), values.tolist())) == [(1, True), (2, False), (3, True)]


# -- maps of a BPF object -----------------------------------------------------------------

def test_object_maps_before_and_after_load(maps_o: Path) -> None:
    from libbpf_py.object import BpfObject

    obj = BpfObject.open(maps_o)
    try:
        counts = obj.maps["counts"]
        rodata = next(m for n, m in obj.maps.items() if n.endswith(".rodata"))
        data = next(m for n, m in obj.maps.items() if n.endswith(".data"))
        assert (counts.name, counts.type, counts.key_size, counts.value_size) == (
            "counts", MapType.HASH, 4, 8)
        assert counts.max_entries == 64 and counts.autocreate
        counts.max_entries = 128
        assert counts.max_entries == 128
        for bad in ("3", 1.5, True, None):  # only ints (MapFlag is one), as for every setting
            with pytest.raises(TypeError, match="map_flags must be an int"):
                counts.map_flags = bad  # type: ignore[assignment]
        with pytest.raises(ValueError, match=r"map_flags = -1 does not fit an unsigned 32-bit "
                                             r"int \(range 0\.\.4294967295\)"):
            counts.map_flags = -1
        counts.map_flags = MapFlag.NO_PREALLOC | counts.map_flags
        assert counts.map_flags & MapFlag.NO_PREALLOC
        assert obj.maps["q"].key_size == 0 and obj.maps["pcpu"].type == MapType.PERCPU_ARRAY
        assert obj.maps["outer"].inner_map is not None
        assert counts.initial_value is None and counts.pin_path is None
        assert rodata.initial_value == (7).to_bytes(8, "little")
        with pytest.raises(ValueError, match="exactly 8 bytes, got 4"):
            rodata.initial_value = b"\0" * 4
        rodata.initial_value = (99).to_bytes(8, "little")
        with pytest.raises(NotLoadedError, match="map 'counts' has no fd before load"):
            counts.fd  # noqa: B018
        with pytest.raises(NotLoadedError):
            counts[1]
        assert "not loaded" in repr(counts)

        obj.load()
        with pytest.raises(AlreadyLoadedError,
                           match="cannot change max_entries of map 'counts' after load"):
            counts.max_entries = 3
        with pytest.raises(AlreadyLoadedError, match="initial_value"):
            rodata.initial_value = bytes(8)
        assert counts.max_entries == 128 and counts.info().max_entries == 128
        assert counts.fd >= 0 and counts.id == counts.info().id

        obj.programs["xdp_fill"].test_run(bytes(64))
        obj.programs["xdp_fill"].test_run(bytes(64))
        assert counts[1] == 2 and dict(counts.items()) == {1: 2}
        assert obj.maps["pcpu"][0][0] + sum(obj.maps["pcpu"][0][1:]) == 2
        assert len(obj.maps["pcpu"][0]) == possible_cpus()
        assert obj.maps["q"].pop() == 3 and obj.maps["q"].pop() == 3
        assert obj.maps["outer"][0] == obj.maps["inner_a"].id
        assert data[0].data_var == 3  # a .data map: one value, a struct of its variables
        bss = next(m for n, m in obj.maps.items() if n.endswith(".bss"))
        assert bss[0].runs == 2
        assert rodata[0].magic == 99

        sv = obj.maps["signed_vals"]
        sv[-3] = -(2 ** 40)
        assert sv[-3] == -(2 ** 40) and list(sv) == [-3]
    finally:
        obj.close()
    with pytest.raises(ClosedError):
        counts[1]
    with pytest.raises(ClosedError):
        counts.max_entries  # noqa: B018
    assert counts.closed


def test_btf_struct_round_trip(maps_o: Path) -> None:
    from libbpf_py.object import BpfObject

    with BpfObject.open(maps_o) as obj:
        obj.load()
        events = obj.maps["events"]
        obj.programs["xdp_fill"].test_run(bytes(64))
        ev = events[1]  # written by the kernel
        assert type(ev).__name__ == "event" and len(bytes(ev)) == events.value_size
        assert (ev.pid, ev.delta, ev.ts, ev.comm) == (42, -5, 7, b"xdp")
        assert (ev.pair.a, ev.pair.b) == (513, 9)
        assert list(ev.arr) == [-1, 1 << 40]
        assert (ev.flag, ev.rest) == (5, 0)  # bitfields decode (as the BPF program set)
        raw = bytes(ev)
        ev.pid, ev.delta = 100, -100
        events[2] = ev
        back = events[2]
        assert back == ev and back.pid == 100 and back.delta == -100
        assert bytes(back)[8:] == raw[8:] and back.flag == 5  # the bitfields came back
        events[3] = {"pid": 5, "comm": b"abc"}
        assert events[3].pid == 5 and events[3].comm == b"abc" and events[3].ts == 0
        assert events[3]._asdict()["pair"] == {"a": 0, "b": 0}
        with pytest.raises(ValueError, match="value of HASH map 'events' must be exactly"):
            events[4] = b"short"
        assert sorted(events) == [1, 2, 3]


def test_unpin_removes_only_a_pin_of_this_map(maps: Callable[..., Map], maps_o: Path,
                                             pin_dir: Path, tmp_path: Path) -> None:
    """``unpin(path)`` unlinked whatever was at ``path``: a regular file anywhere (a
    typo'd path deleted it), or the pin of another map. It now removes a pin of this
    map only, and leaves anything else where it is."""
    from libbpf_py.object import BpfObject

    m = maps(MapType.HASH, 4, 8, 4)
    other = maps(MapType.HASH, 4, 8, 4)
    other.pin(pin_dir / "other")
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    with BpfObject.open(maps_o) as obj:
        counts = obj.maps["counts"]
        obj.load()
        for unpin in (m.unpin, counts.unpin):
            with pytest.raises(LibbpfError, match=r"not a pin of a BPF map: nothing removed"):
                unpin(victim)
            with pytest.raises(LibbpfError, match=rf"pins map id {other.id}, not this map"):
                unpin(pin_dir / "other")
            with pytest.raises(LibbpfNotFoundError):
                unpin(pin_dir / "absent")
        assert victim.read_text() == "keep me" and (pin_dir / "other").exists()
        counts.pin(pin_dir / "counts")
        counts.unpin(pin_dir / "counts")
        m.pin(pin_dir / "m")
        m.unpin(pin_dir / "m")
    with BpfObject.open(maps_o) as obj:               # before load: libbpf's pin path
        counts = obj.maps["counts"]
        counts.pin_path = str(pin_dir / "other")       # (a stale pin load would reuse)
        m.pin(pin_dir / "m")
        with pytest.raises(NotLoadedError):            # another pin: no map to match yet
            counts.unpin(pin_dir / "m")
        m.unpin(pin_dir / "m")
        counts.unpin(pin_dir / "other")
    assert list(pin_dir.iterdir()) == []


def test_object_map_pin_and_reopen(maps_o: Path, pin_dir: Path) -> None:
    from libbpf_py.object import BpfObject

    with BpfObject.open(maps_o) as obj:
        counts = obj.maps["counts"]
        counts.pin_path = str(pin_dir / "counts")
        assert counts.pin_path == str(pin_dir / "counts")
        obj.load()
        assert counts.is_pinned
        counts[7] = 70
        with Map.from_pinned(pin_dir / "counts") as again:
            assert again[7] == 70 and again.id == counts.id
        counts.unpin()
        assert not (pin_dir / "counts").exists()
        counts.pin(pin_dir / "counts")  # libbpf's pin path again
        counts.pin(pin_dir / "extra")  # an extra pin
        with Map.from_pinned(pin_dir / "extra") as again:
            assert again.id == counts.id
        counts.unpin(pin_dir / "extra")
        counts.unpin()
        assert list(pin_dir.iterdir()) == []


# -- PROG_ARRAY and F_LOCK ------------------------------------------------------------

XDP_ABORTED, XDP_PASS, XDP_TX = 0, 2, 3
PACKET = bytes(64)


@pytest.fixture
def tailcall_o(kernel: None, compile_bpf: Compile) -> Path:
    return compile_bpf("tailcall_lock")


def test_prog_array_tail_call(tailcall_o: Path) -> None:
    """A program in a PROG_ARRAY is tail-called; reading the slot gives its id."""
    from libbpf_py import BpfObject

    with BpfObject.open(tailcall_o) as obj:
        obj.load()
        jmp, entry, target = obj.maps.jmp, obj.programs.entry, obj.programs.target
        assert jmp.type == MapType.PROG_ARRAY
        assert entry.test_run(PACKET).retval == XDP_PASS  # empty slot: no tail call
        jmp[0] = target  # a Program is taken by its fd
        assert jmp[0] == target.id  # the kernel reads back program ids
        assert entry.test_run(PACKET).retval == XDP_TX
        jmp[1] = obj.programs.bump.fd  # or a plain fd
        assert list(jmp.keys()) == [0, 1, 2, 3]  # an array: every index is a key
        assert [i for i in range(4) if i in jmp] == [0, 1]  # but empty slots hold nothing
        del jmp[0]
        assert 0 not in jmp
        assert entry.test_run(PACKET).retval == XDP_PASS
        with pytest.raises(KeyError):
            jmp[0]
        with pytest.raises(LibbpfError, match="index 4 is out of range"):
            jmp[4] = target
        with pytest.raises(TypeError, match=r"Map .*or an int fd"):
            jmp[2] = "target"
        with pytest.raises(LibbpfError) as err:
            jmp[2] = obj.maps.pairs  # a map fd is not a program fd
        assert err.value.errno == errno.EINVAL


def test_f_lock_update_and_lookup(tailcall_o: Path) -> None:
    """F_LOCK writes and reads a spin-locked value whole, while the kernel bumps it."""
    from libbpf_py import BpfObject

    with BpfObject.open(tailcall_o) as obj:
        obj.load()
        pairs, bump = obj.maps.pairs, obj.programs.bump
        pairs.update(0, {"a": 10, "b": 10}, UpdateFlag.F_LOCK)
        assert bump.test_run(PACKET, repeat=500).retval == XDP_PASS
        v = pairs.lookup(0, UpdateFlag.F_LOCK)
        assert v.a == v.b == 510
        for i in range(50):
            pairs.update(0, {"a": i, "b": i}, UpdateFlag.F_LOCK)
            bump.test_run(PACKET, repeat=20)
            v = pairs.lookup(0, UpdateFlag.F_LOCK)
            assert v.a == v.b == i + 20
        v = pairs.lookup(0, UpdateFlag.F_LOCK)
        assert v.a == v.b == 49 + 20
        assert pairs[0].a == 69  # a plain lookup works too
        with pytest.raises(KeyError):
            pairs.lookup(3, UpdateFlag.F_LOCK)
        with pytest.raises(ValueError, match="flags"):
            pairs.lookup(0, -1)
    with Map.create(MapType.HASH, 4, 8, 4) as plain:
        plain[1] = 5
        with pytest.raises(LibbpfError, match="F_LOCK failed: the flag needs a map whose "
                                              "value holds a struct bpf_spin_lock"):
            plain.update(1, 6, UpdateFlag.F_LOCK)
        with pytest.raises(LibbpfError, match="bpf_spin_lock"):
            plain.lookup(1, UpdateFlag.F_LOCK)
        assert plain.lookup(1) == 5


def test_program_ifindex(tailcall_o: Path) -> None:
    """ifindex reads back what was set before load, and the kernel's value after."""
    from libbpf_py import BpfObject

    with BpfObject.open(tailcall_o) as obj:
        prog = obj.programs.entry
        assert prog.ifindex == 0
        prog.ifindex = 0
        with pytest.raises(TypeError, match="ifindex must be an int"):
            prog.ifindex = "lo"  # type: ignore[assignment]
        with pytest.raises(ValueError, match="ifindex = -1 does not fit"):
            prog.ifindex = -1
        obj.load()
        assert prog.ifindex == 0  # not offloaded
        with pytest.raises(AlreadyLoadedError, match="ifindex"):
            prog.ifindex = 1


def test_misspelt_setting_raises(maps_o: Path) -> None:
    # Map had a __dict__: `m.max_entires = 8` was stored there, libbpf never saw it,
    # and the map was created with its old size without a word
    from libbpf_py.object import BpfObject

    with BpfObject.open(maps_o) as obj:
        counts = obj.maps["counts"]
        with pytest.raises(AttributeError, match="max_entires"):
            counts.max_entires = 8  # type: ignore[attr-defined]
        with pytest.raises(AttributeError, match="pin_pth"):
            counts.pin_pth = "/sys/fs/bpf/x"  # type: ignore[attr-defined]
        counts.max_entries = 8
        obj.load()
        assert counts.info().max_entries == 8
        counts[1] = 2
        assert counts[1] == 2 and dict(counts.items()) == {1: 2}
    with Map.create(MapType.HASH, 4, 8, 4, name="t_slots") as m:
        with pytest.raises(AttributeError, match="nmae"):
            m.nmae = "x"  # type: ignore[attr-defined]


def test_a_misspelt_setting_names_the_one_meant(maps_o: Path) -> None:
    """The AttributeError of a misspelt setting was Python's bare "'Map' object has no
    attribute 'max_entires'" (3.11 suggests no name for an attribute set): it now
    names the close setting and lists those there are."""
    from libbpf_py.object import BpfObject

    with BpfObject.open(maps_o) as obj:
        counts = obj.maps["counts"]
        with pytest.raises(AttributeError, match=r"no setting 'max_entires'; did you mean "
                                                 r"'max_entries'\? \(settings: .*pin_path"):
            counts.max_entires = 8  # type: ignore[attr-defined]
        with pytest.raises(AttributeError, match="did you mean 'autocreate'"):
            counts.auto_create = False  # type: ignore[attr-defined]
        with pytest.raises(AttributeError, match="no setting 'xyzzy' \\(settings"):
            counts.xyzzy = 1  # type: ignore[attr-defined]
        with pytest.raises(AttributeError):  # a read-only property stays Python's error
            counts.fd = 3  # type: ignore[misc]
        counts.max_entries = 8
        assert counts.max_entries == 8


def test_push_flags_name_the_bad_bits(maps: Callable[..., Map]) -> None:
    # push() passed any flags to the kernel, which said only EINVAL ("push to QUEUE
    # map 'q' failed: Invalid argument"); update() names the bad bits, push() too now
    q = maps(MapType.QUEUE, 0, 4, 3, name="t_pushflags")
    b = maps(MapType.BLOOM_FILTER, 0, 8, 16)
    with pytest.raises(ValueError, match=r"push to QUEUE map 't_pushflags': flags 0x63 has "
                                         r"unknown bits 0x61 \(valid: ANY \(0\), EXIST \(2\)\)"):
        q.push(5, flags=99)
    with pytest.raises(ValueError, match=r"unknown bits 0x1 \(valid: ANY \(0\), EXIST"):
        q.push(5, UpdateFlag.NOEXIST)
    with pytest.raises(ValueError, match=r"unknown bits 0x2 \(valid: ANY \(0\)\)"):
        b.push(5, UpdateFlag.EXIST)
    with pytest.raises(TypeError, match="flags must be an int, not bool"):
        q.push(5, True)  # type: ignore[arg-type]
    q.push(5, UpdateFlag.EXIST)
    b.push(5)
    assert q.pop() == 5 and 5 in b
