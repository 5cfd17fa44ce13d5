"""Map.lookup_batch_arrays and the arrays path of Map.lookup_batch, on real maps.

Every result is checked against what the kernel also gives through another
path (lookup_batch's tuples, items(), m[k]) and against what the test wrote.
Standalone maps are closed by the test; object maps come from
tests/bpf/maps.bpf.c (BTF: signed ints, a struct value).
"""

from __future__ import annotations

import errno
import os
from typing import Any, Callable, Iterator, List

import pytest
from conftest import Compile

from libbpf_py._binding import lib
from libbpf_py.enums import MapType
from libbpf_py.errors import ClosedError, LibbpfNotSupportedError
from libbpf_py.map import Map, possible_cpus
from libbpf_py.object import BpfObject

pytestmark = pytest.mark.kernel
PID = os.getpid() % 100000


@pytest.fixture
def maps_obj(kernel: None, compile_bpf: Compile) -> Iterator[BpfObject]:
    """tests/bpf/maps.bpf.c, loaded."""
    with BpfObject.open(compile_bpf("maps")) as obj:
        obj.load()
        yield obj


class BatchSpy:
    """Records what each real bpf_map_lookup_batch call returned."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.rets: List[int] = []
        real = lib.bpf_map_lookup_batch

        def spy(*args: Any) -> Any:
            ret = real(*args)
            self.rets.append(ret)
            return ret

        monkeypatch.setattr(lib, "bpf_map_lookup_batch", spy)


def test_hash_of_u32_to_u64(maps: Callable[..., Map], monkeypatch: pytest.MonkeyPatch) -> None:
    n = 20000
    m = maps(MapType.HASH, 4, 8, 32768, name=f"ba_hash{PID}")
    written = {i * 3 + 1: (i << 33) | i for i in range(n)}  # values past 32 bits
    m.update_batch(written)
    spy = BatchSpy(monkeypatch)
    keys, values = m.lookup_batch_arrays()
    # 4096 a call: the buffers grew several times; the last call said ENOENT
    assert len(spy.rets) >= n // 4096 + 1 and spy.rets[-1] == -errno.ENOENT
    assert (keys.format, values.format, keys.ndim, values.ndim) == ("I", "Q", 1, 1)
    assert len(keys) == len(values) == n and keys.nbytes == 4 * n and values.nbytes == 8 * n
    assert isinstance(keys[0], int) and values[0] == written[keys[0]]
    assert dict(zip(keys.tolist(), values.tolist())) == written
    # the same entries in the same (kernel) order as lookup_batch's tuples
    assert list(zip(keys.tolist(), values.tolist())) == m.lookup_batch(chunk=4096)
    assert sorted(m.lookup_batch()) == sorted(written.items()) == sorted(m.items())
    # a chunk smaller than a bucket: ENOSPC with nothing read, the chunk doubles
    spy.rets.clear()
    keys1, values1 = m.lookup_batch_arrays(chunk=1)
    assert -errno.ENOSPC in spy.rets and spy.rets[-1] == -errno.ENOENT
    assert dict(zip(keys1.tolist(), values1.tolist())) == written
    # each read owns its buffers: changing the map leaves an earlier result alone
    m.delete_batch(list(written)[:10])
    assert len(keys) == n and len(m.lookup_batch_arrays()[0]) == n - 10



def test_tuple_reads_share_the_growing_loop(maps: Callable[..., Map],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """lookup_batch of a map that is not plain ints (decoded chunk by chunk) and
    lookup_and_delete_batch go through the loop lookup_batch_arrays uses: a chunk
    smaller than a bucket doubles (ENOSPC with nothing read) and every entry comes."""
    n = 5000
    m = maps(MapType.HASH, 4, 16, 8192, name=f"ba_tuples{PID}")
    written = {i * 7 + 3: i.to_bytes(16, "little") for i in range(n)}
    m.update_batch(written)
    spy = BatchSpy(monkeypatch)
    got = m.lookup_batch(chunk=1)
    assert -errno.ENOSPC in spy.rets and spy.rets[-1] == -errno.ENOENT
    assert len(got) == n and dict(got) == written
    assert dict(m.lookup_and_delete_batch(chunk=1)) == written and len(m) == 0

def test_array_and_small_ints(maps: Callable[..., Map]) -> None:
    a = maps(MapType.ARRAY, 4, 4, 1000, name=f"ba_arr{PID}")
    a.update_batch({i: 0xFFFFFFFF - i for i in range(0, 1000, 3)})
    keys, values = a.lookup_batch_arrays(chunk=64)
    assert (keys.format, values.format) == ("I", "I")
    assert keys.tolist() == list(range(1000))  # every element of an array exists
    assert values.tolist() == [a[i] for i in range(1000)]
    assert values[3] == 0xFFFFFFFF - 3 and values[1] == 0

    small = maps(MapType.HASH, 2, 1, 512, name=f"ba_small{PID}")
    small.update_batch({i * 251: i % 256 for i in range(260)})
    keys, values = small.lookup_batch_arrays(chunk=7)
    assert (keys.format, values.format) == ("H", "B")
    assert sorted(zip(keys.tolist(), values.tolist())) == sorted(small.lookup_batch())
    assert len(keys) == 260 and max(keys.tolist()) == 259 * 251


def test_eight_byte_keys(maps: Callable[..., Map]) -> None:
    m = maps(MapType.HASH, 8, 4, 4096, name=f"ba_key8{PID}")
    written = {(1 << 40) + i * 1000003: i for i in range(3000)}
    m.update_batch(written)
    keys, values = m.lookup_batch_arrays(chunk=1000)
    assert (keys.format, values.format) == ("Q", "I")
    assert dict(zip(keys.tolist(), values.tolist())) == written


def test_btf_signed_ints(maps_obj: BpfObject) -> None:
    sv = maps_obj.maps["signed_vals"]  # __s32 -> __s64
    written = {-7: -(2 ** 40), 5: -1, -(2 ** 31): 2 ** 63 - 1, 0: -(2 ** 63)}
    sv.update_batch(written)
    keys, values = sv.lookup_batch_arrays()
    assert (keys.format, values.format) == ("i", "q")
    assert dict(zip(keys.tolist(), values.tolist())) == written == dict(sv.lookup_batch())


def test_btf_struct_values_are_rows_of_bytes(maps_obj: BpfObject) -> None:
    events = maps_obj.maps["events"]  # __u32 -> struct event
    maps_obj.programs["xdp_fill"].test_run(bytes(64))  # the kernel writes key 1
    events[2] = {"pid": 77, "delta": -3, "comm": b"two"}
    events[9] = {"pid": 99, "ts": 1 << 50}
    keys, values = events.lookup_batch_arrays()
    size = events.value_size
    assert keys.format == "I" and sorted(keys.tolist()) == [1, 2, 9]
    assert (values.format, values.ndim, values.shape) == ("B", 2, (3, size))
    for i, k in enumerate(keys.tolist()):
        row = bytes(values[i:i + 1])
        assert row == bytes(events[k])  # the same bytes the struct decodes from
    decoded = dict(events.lookup_batch())
    assert decoded[1].pid == 42 and decoded[2].delta == -3 and decoded[9].ts == 1 << 50


@pytest.mark.parametrize("map_type", [MapType.PERCPU_HASH, MapType.PERCPU_ARRAY])
def test_percpu_rows(maps: Callable[..., Map], map_type: MapType) -> None:
    ncpus = possible_cpus()
    m = maps(map_type, 4, 4, 8, name=f"ba_pcpu{PID}")
    for k in range(8):
        m[k] = [k * 100 + c for c in range(ncpus)]
    keys, values = m.lookup_batch_arrays(chunk=3)
    stride = 8  # each CPU's 4-byte value in an 8-byte slot
    assert keys.format == "I" and sorted(keys.tolist()) == list(range(8))
    assert (values.format, values.shape) == ("B", (8, ncpus * stride))
    batch = dict(m.lookup_batch())
    for i, k in enumerate(keys.tolist()):
        row = bytes(values[i:i + 1])
        per_cpu = [int.from_bytes(row[c * stride:c * stride + 4], "little")
                   for c in range(ncpus)]
        assert per_cpu == batch[k] == [k * 100 + c for c in range(ncpus)]


def test_bytes_keys_and_empty_maps(maps: Callable[..., Map]) -> None:
    wide = maps(MapType.HASH, 3, 12, 16, name=f"ba_wide{PID}")
    keys, values = wide.lookup_batch_arrays()
    assert (keys.shape, values.shape) == ((0, 3), (0, 12))
    assert keys.tolist() == [] and values.tolist() == [] and bytes(keys) == b""
    wide[b"abc"] = b"x" * 12
    wide[b"xyz"] = b"y" * 12
    keys, values = wide.lookup_batch_arrays()
    assert (keys.format, keys.shape, values.shape) == ("B", (2, 3), (2, 12))
    rows = {bytes(keys[i:i + 1]): bytes(values[i:i + 1]) for i in range(2)}
    assert rows == {b"abc": b"x" * 12, b"xyz": b"y" * 12} == dict(wide.lookup_batch())

    ints = maps(MapType.HASH, 4, 8, 16, name=f"ba_empty{PID}")
    keys, values = ints.lookup_batch_arrays()
    assert (keys.format, keys.shape, values.format, values.shape) == ("I", (0,), "Q", (0,))
    assert ints.lookup_batch() == []


def test_bad_arguments_and_maps(maps: Callable[..., Map]) -> None:
    m = maps(MapType.HASH, 4, 8, 16, name=f"ba_args{PID}")
    m[1] = 2
    with pytest.raises(ValueError, match="chunk must be at least 1, got 0"):
        m.lookup_batch_arrays(chunk=0)
    with pytest.raises(TypeError, match="chunk must be an int, not str"):
        m.lookup_batch_arrays(chunk="8")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="elem_flags"):
        m.lookup_batch_arrays(elem_flags=-1)
    assert m.lookup_batch(chunk=0) == [(1, 2)]  # lookup_batch still takes any chunk (as 1)

    q = maps(MapType.QUEUE, 0, 4, 4, name=f"ba_queue{PID}")
    with pytest.raises(TypeError, match=r"QUEUE map .* has no keys: lookup_batch_arrays\(\)"):
        q.lookup_batch_arrays()

    st = maps(MapType.STACK_TRACE, 4, 8 * 16, 4, name=f"ba_stack{PID}")
    errors = []
    for call in (st.lookup_batch, st.lookup_batch_arrays):
        with pytest.raises(LibbpfNotSupportedError) as info:
            call()
        errors.append(info.value)
    assert errors[0].errno == errors[1].errno and type(errors[0]) is type(errors[1])
    assert f"lookup_batch_arrays on STACK_TRACE map 'ba_stack{PID}': this map type does " \
           "not support lookup_batch_arrays" in str(errors[1])


def test_closed_maps(kernel: None, compile_bpf: Compile) -> None:
    m = Map.create(MapType.HASH, 4, 4, 4, name=f"ba_closed{PID}")
    m[1] = 1
    assert m.lookup_batch_arrays()[0].tolist() == [1]
    m.close()
    with pytest.raises(ClosedError, match=f"map 'ba_closed{PID}' is closed"):
        m.lookup_batch_arrays()
    with pytest.raises(ClosedError):
        m.lookup_batch()

    obj = BpfObject.open(compile_bpf("maps"))
    with obj:
        obj.load()
        counts = obj.maps["counts"]
        counts[3] = 4
        assert counts.lookup_batch_arrays()[1].tolist() == [4]
    with pytest.raises(ClosedError):
        counts.lookup_batch_arrays()


@pytest.mark.parametrize("method", ["lookup_batch_arrays", "lookup_batch"])
def test_closed_between_chunks(kernel: None, monkeypatch: pytest.MonkeyPatch,
                               method: str) -> None:
    """A map closed while its read is under way (between two bpf() calls) stops the
    read with ClosedError: the read does not go on with its own copy of the fd."""
    m = Map.create(MapType.HASH, 4, 8, 1024, name=f"ba_mid{PID}")
    try:
        m.update_batch({i: i for i in range(500)})
        calls: List[int] = []
        real = lib.bpf_map_lookup_batch

        def close_after_first(*args: Any) -> Any:
            calls.append(real(*args))
            m.close()
            return calls[-1]

        monkeypatch.setattr(lib, "bpf_map_lookup_batch", close_after_first)
        with pytest.raises(ClosedError, match=f"map 'ba_mid{PID}' is closed"):
            getattr(m, method)(chunk=64)
        assert calls == [0]  # one chunk read, then the check before the next call
    finally:
        m.close()


def test_batch_reads_refuse_a_chunk_that_is_not_an_int(maps: Callable[..., Map]) -> None:
    # lookup_batch and lookup_and_delete_batch took a float or a bool as a count
    # without a word (chunk=2.5 read the map as if 2.5 were a number of entries)
    m = maps(MapType.HASH, 4, 8, 16, name=f"ba_chunk{PID}")
    wide = maps(MapType.HASH, 4, 12, 16, name=f"ba_chunkw{PID}")  # the per-chunk path
    m[1] = 2
    wide[1] = b"x" * 12
    for target in (m, wide):
        for call in (target.lookup_batch, target.lookup_and_delete_batch):
            for bad in (1.0, 2.5, True, "8", None):
                with pytest.raises(TypeError, match="chunk must be an int, not "):
                    call(chunk=bad)  # type: ignore[arg-type]
    assert m.lookup_batch(chunk=2) == [(1, 2)] and len(wide) == 1  # nothing was taken
