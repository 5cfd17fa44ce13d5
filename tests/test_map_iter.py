"""Map.items(), keys(), values(), len() and dict(m), on real maps (issue 19).

Hash, LRU hash, per-CPU and array maps iterate with bpf_map_lookup_batch, a
chunk at a time; every result is checked against the walk of one
bpf_map_get_next_key per key (MapCore._walk, the path of the other map types)
on the same map, for plain int and BTF-typed keys and values, at the sizes
around a chunk. Then the maps that walk (LPM trie, hash of maps), a kernel that
refuses the batch read, deleting and closing while iterating.
"""

from __future__ import annotations

import errno
import logging
import os
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest
from conftest import Compile

from libbpf_py import _map_core
from libbpf_py._binding import ffi, lib
from libbpf_py._map_core import _ITEMS, _ITER_CHUNK, _KEYS, _VALUES
from libbpf_py.enums import MapFlag, MapType
from libbpf_py.errors import ClosedError, LibbpfPermissionError
from libbpf_py.map import Map, possible_cpus
from libbpf_py.object import BpfObject

pytestmark = pytest.mark.kernel
PID = os.getpid() % 100000
CHUNK = _ITER_CHUNK
BATCH_TYPES = [MapType.HASH, MapType.ARRAY, MapType.PERCPU_ARRAY, MapType.PERCPU_HASH,
               MapType.LRU_HASH]
SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 10000]


class BatchCalls:
    """Counts the real bpf_map_lookup_batch / bpf_map_get_next_key calls made."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.batch = 0
        self.next_key = 0
        real_batch, real_next = lib.bpf_map_lookup_batch, lib.bpf_map_get_next_key

        def batch(*args: Any) -> Any:
            self.batch += 1
            return real_batch(*args)

        def next_key(*args: Any) -> Any:
            self.next_key += 1
            return real_next(*args)

        monkeypatch.setattr(lib, "bpf_map_lookup_batch", batch)
        monkeypatch.setattr(lib, "bpf_map_get_next_key", next_key)


@pytest.fixture
def typed_btf(kernel: None) -> Iterator[Tuple[int, int, int, int]]:
    """A BTF in the kernel: (its fd, the type ids of int, struct rec, unsigned int)."""
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
        yield lib.btf__fd(btf), s32, rec, u32
    finally:
        lib.btf__free(btf)


def plain(value: Any) -> Any:
    """A value comparable with ==: ctypes records as their bytes, lists element-wise."""
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    if isinstance(value, (int, bytes)):
        return value
    return bytes(value)


def walk(m: Map, part: int) -> List[Any]:
    """What iteration gives through bpf_map_get_next_key (the path before issue 19)."""
    return list(m._walk(m._check_loaded(), part))


def make_map(maps: Callable[..., Map], map_type: MapType, typed: bool, size: int,
             btf: Optional[Tuple[int, int, int, int]]) -> Map:
    """``map_type`` filled with ``size`` elements (arrays: ``size`` is max_entries)."""
    is_array = map_type in (MapType.ARRAY, MapType.PERCPU_ARRAY)
    max_entries = size if is_array else 2 * size + 256
    kwargs: Dict[str, Any] = {}
    if typed:
        assert btf is not None
        fd, s32, rec, u32 = btf
        kwargs = {"btf_fd": fd, "btf_key_type_id": u32 if is_array else s32,
                  "btf_value_type_id": rec}
    m = maps(map_type, 4, 16 if typed else 8, max_entries, **kwargs)
    percpu = map_type in (MapType.PERCPU_ARRAY, MapType.PERCPU_HASH)
    ncpus = possible_cpus()

    def value(i: int) -> Any:
        if typed:
            one = {"x": -i, "port": i % 65536, "name": b"n%d" % (i % 1000), "n": i}
            return [dict(one, n=i + c) for c in range(ncpus)] if percpu else one
        return [i * 3 + c for c in range(ncpus)] if percpu else i * 3

    keys = range(size) if is_array else [(i - size // 2) if typed else i * 7 + 1
                                         for i in range(size)]
    step = 2000
    for at in range(0, size, step):
        m.update_batch([(k, value(i)) for i, k in enumerate(keys[at:at + step], at)])
    return m


@pytest.mark.parametrize("typed", [False, True], ids=["raw", "btf"])
@pytest.mark.parametrize(("map_type", "size"), [
    pytest.param(t, n, id=f"{t.name.lower()}-{n}") for t in BATCH_TYPES for n in SIZES
    if n or t not in (MapType.ARRAY, MapType.PERCPU_ARRAY)])  # an array is never empty
def test_batch_iteration_equals_the_walk(maps: Callable[..., Map], typed_btf: Any,
                                         map_type: MapType, typed: bool, size: int,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    m = make_map(maps, map_type, typed, size, typed_btf)
    want = walk(m, _ITEMS)
    assert plain(walk(m, _KEYS)) == [k for k, _ in plain(want)]
    assert plain(walk(m, _VALUES)) == [v for _, v in plain(want)]
    if map_type != MapType.LRU_HASH:  # an LRU map may have evicted some on insert
        assert len(want) == size
    calls = BatchCalls(monkeypatch)
    got = list(m.items())
    # a call per chunk, and the one that says ENOENT
    assert max(1, -(-size // CHUNK)) <= calls.batch <= size // CHUNK + 2
    assert calls.next_key == 0 and m._check_loaded().iteration == "batch"
    assert sorted(plain(got)) == sorted(plain(want))
    if typed:  # the same codec objects: ctypes records of the BTF struct, ints of the BTF int
        for k, v in got[:3]:
            assert isinstance(k, int)
            assert type(v[0] if isinstance(v, list) else v).__name__ == "rec"
    assert sorted(plain(list(m.keys()))) == sorted(k for k, _ in plain(want))
    assert sorted(plain(list(m))) == sorted(k for k, _ in plain(want))
    assert sorted(plain(list(m.values()))) == sorted(v for _, v in plain(want))
    assert len(m) == len(want)
    as_dict = {k: plain(v) for k, v in plain(want)}
    assert {k: plain(v) for k, v in dict(m).items()} == as_dict
    assert {k: plain(v) for k, v in dict(m.items()).items()} == as_dict
    assert calls.next_key == 0


def test_wide_keys_and_values(maps: Callable[..., Map]) -> None:
    """Keys and values that are bytes (no int format) go through decode_many."""
    m = maps(MapType.HASH, 3, 12, 2 * CHUNK)
    pairs = {i.to_bytes(3, "little"): bytes([i % 256]) * 12 for i in range(CHUNK + 5)}
    m.update_batch(pairs)
    assert dict(m.items()) == pairs == dict(walk(m, _ITEMS))
    assert sorted(m.keys()) == sorted(pairs) and len(m) == len(pairs)
    assert sorted(m.values()) == sorted(pairs.values())


def test_iteration_is_lazy_and_chunked(maps: Callable[..., Map],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    m = maps(MapType.HASH, 4, 8, 20000)
    m.update_batch({i: i for i in range(10000)})
    calls = BatchCalls(monkeypatch)
    it = m.items()
    assert calls.batch == 0  # nothing read before the first step
    next(it)
    assert calls.batch == 1  # one chunk read, not the whole map
    for _ in range(CHUNK):
        next(it)
    assert calls.batch == 2
    assert len(list(it)) == 10000 - CHUNK - 1


def test_array_len_is_max_entries(maps: Callable[..., Map],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    m = maps(MapType.PERCPU_ARRAY, 4, 8, 7)
    calls = BatchCalls(monkeypatch)
    assert len(m) == 7 == len(walk(m, _KEYS))
    assert calls.batch == 0


def test_big_values_bound_the_chunk(maps: Callable[..., Map],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A chunk holds at most _ITER_BYTES of keys and values."""
    m = maps(MapType.ARRAY, 4, 4096, 1000)
    m[999] = b"z" * 4096
    calls = BatchCalls(monkeypatch)
    values = list(m.values())
    assert len(values) == 1000 and values[999] == b"z" * 4096 and values[0] == bytes(4096)
    per_chunk = _map_core._ITER_BYTES // (4 + 4096)
    assert calls.batch >= 1000 // per_chunk


# -- maps that walk -----------------------------------------------------------------------

def _iteration_logs(caplog: pytest.LogCaptureFixture) -> List[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "libbpf_py" and r.getMessage().startswith("iteration of ")]


def test_lpm_trie_walks_and_says_so(maps: Callable[..., Map], caplog: pytest.LogCaptureFixture,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    caplog.set_level(logging.DEBUG, logger="libbpf_py")
    m = maps(MapType.LPM_TRIE, 8, 4, 64, map_flags=MapFlag.NO_PREALLOC, name=f"it_lpm{PID}")
    keys = [(24).to_bytes(4, "little") + bytes([10, i, 0, 0]) for i in range(20)]
    for i, k in enumerate(keys):
        m[k] = i
    calls = BatchCalls(monkeypatch)
    assert sorted(m.items()) == sorted((k, i) for i, k in enumerate(keys))
    assert sorted(m.keys()) == sorted(keys) and sorted(m.values()) == list(range(20))
    assert len(m) == 20 and dict(m) == dict(m.items())
    assert calls.batch == 0 and calls.next_key > 0
    logs = _iteration_logs(caplog)
    assert logs == [f"iteration of LPM_TRIE map 'it_lpm{PID}': bpf_map_get_next_key, one "
                    "call per key (LPM_TRIE maps have no batch read)"]


def test_hash_of_maps_walks(maps: Callable[..., Map], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="libbpf_py")
    inner = [maps(MapType.ARRAY, 4, 8, 2) for _ in range(3)]
    outer = maps(MapType.HASH_OF_MAPS, 4, 4, 8, inner_map=inner[0], name=f"it_hom{PID}")
    for i, m in enumerate(inner):
        outer[i * 10] = m
    want = {i * 10: m.id for i, m in enumerate(inner)}
    assert dict(outer.items()) == want and sorted(outer) == sorted(want)
    assert sorted(outer.values()) == sorted(want.values()) and len(outer) == 3
    assert any("HASH_OF_MAPS maps have no batch read" in line
               for line in _iteration_logs(caplog))


def test_batch_path_is_logged_once(maps: Callable[..., Map],
                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="libbpf_py")
    m = maps(MapType.HASH, 4, 8, 8, name=f"it_once{PID}")
    m[1] = 2
    assert list(m.items()) == [(1, 2)] and list(m.keys()) == [1] and len(m) == 1
    assert _iteration_logs(caplog) == [
        f"iteration of HASH map 'it_once{PID}': bpf_map_lookup_batch, up to {CHUNK} "
        "entries a call"]


def test_kernel_refusal_falls_back_and_is_remembered(
        maps: Callable[..., Map], caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A map user space may only write (BPF_F_WRONLY): the kernel refuses the batch read
    (EPERM), iteration falls back to the walk, which says EPERM too, once."""
    caplog.set_level(logging.DEBUG, logger="libbpf_py")
    m = maps(MapType.HASH, 4, 8, 8, map_flags=MapFlag.WRONLY, name=f"it_wo{PID}")
    m[1] = 2
    calls = BatchCalls(monkeypatch)
    with pytest.raises(LibbpfPermissionError) as info:
        list(m.items())
    assert info.value.errno == errno.EPERM and "cannot iterate over" in str(info.value)
    assert calls.batch == 1 and calls.next_key == 1
    assert m._check_loaded().iteration == "walk"
    with pytest.raises(LibbpfPermissionError):
        len(m)
    assert calls.batch == 1 and calls.next_key == 2  # not asked again
    assert _iteration_logs(caplog) == [
        f"iteration of HASH map 'it_wo{PID}': the kernel refused bpf_map_lookup_batch "
        "(EPERM): bpf_map_get_next_key, one call per key, from now on"]


# -- deleting and closing while iterating ----------------------------------------------------

def test_deleting_every_key_while_iterating(maps: Callable[..., Map]) -> None:
    m = maps(MapType.HASH, 4, 4, 20000)
    m.update_batch((i, i) for i in range(10000))
    seen = []
    for k in m.keys():
        seen.append(k)
        del m[k]
    assert sorted(seen) == list(range(10000)) and len(m) == 0


def test_deleting_ahead_is_seen_from_the_next_chunk(maps: Callable[..., Map]) -> None:
    """A snapshot chunk by chunk: the elements deleted at the first step still come
    from the first chunk (read already), not from the later ones."""
    n = 3 * CHUNK
    m = maps(MapType.HASH, 4, 4, 2 * n)
    m.update_batch((i, i) for i in range(n))
    seen = []
    for k, v in m.items():
        assert k == v
        if not seen:
            m.delete_batch([i for i in range(1, n, 2) if i != k])
        seen.append(k)
    assert len(seen) == len(set(seen))
    assert all(k % 2 == 0 for k in seen[CHUNK:])
    assert set(range(0, n, 2)) <= set(seen) and len(seen) < n


@pytest.mark.parametrize("part", ["keys", "items", "values", "iter"])
def test_close_while_iterating(part: str, kernel: None) -> None:
    m = Map.create(MapType.HASH, 4, 8, 2 * CHUNK)
    m.update_batch({i: i for i in range(CHUNK + 10)})
    it = iter(m) if part == "iter" else getattr(m, part)()
    next(it)
    m.close()
    with pytest.raises(ClosedError):
        next(it)  # the rest of the chunk read is dropped
    assert list(it) == []


def test_close_while_walking(maps: Callable[..., Map]) -> None:
    m = maps(MapType.LPM_TRIE, 8, 4, 16, map_flags=MapFlag.NO_PREALLOC)
    for i in range(5):
        m[(32).to_bytes(4, "little") + bytes([10, 0, 0, i])] = i
    it = m.items()
    next(it)
    m.close()
    with pytest.raises(ClosedError):
        next(it)


def test_closing_the_object_stops_its_maps_iterations(kernel: None,
                                                      compile_bpf: Compile) -> None:
    obj = BpfObject.open(compile_bpf("maps"))
    obj.load()
    counts = obj.maps["counts"]
    counts.update_batch({i: i for i in range(10)})
    it = counts.items()
    assert next(it) is not None
    obj.close()
    with pytest.raises(ClosedError):
        next(it)
    with pytest.raises(ClosedError):
        counts.items().__next__()


def test_btf_object_map_values(kernel: None, compile_bpf: Compile) -> None:
    """The object's BTF types: signed ints and struct values, as m[key] decodes them."""
    with BpfObject.open(compile_bpf("maps")) as obj:
        obj.load()
        obj.programs["xdp_fill"].test_run(bytes(64))
        signed = obj.maps["signed_vals"]
        signed.update_batch({-1: -(2 ** 40), 5: 7})
        assert sorted(signed.items()) == [(-1, -(2 ** 40)), (5, 7)]
        events = obj.maps["events"]
        [(key, event)] = events.items()
        assert key == 1 and bytes(event) == bytes(events[1]) and event.pid == 42
        pcpu = obj.maps["pcpu"]
        assert [(k, v) for k, v in pcpu.items()] == [(0, pcpu[0]), (1, pcpu[1])]
