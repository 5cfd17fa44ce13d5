"""The C shims behind ``m[k]`` / ``m[k] = v`` of int -> int maps, on the real kernel.

They take the key and the value by value (see libbpf_py/_cdefs/bpf.py); a
lookup that fails returns a sentinel value, after which Map looks again
through buffers. These tests check that the shims give exactly what the
general path gives: values at the edges of every int type, the sentinel
itself as a stored value, KeyError, ValueError on out-of-range ints, the
errors of a full map, ClosedError after close.
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Callable, Iterator, List

import pytest

from libbpf_py._binding import ffi, lib
from libbpf_py.enums import MapType
from libbpf_py.errors import ClosedError, LibbpfError
from libbpf_py.map import Map
from libbpf_py.object import BpfObject

pytestmark = pytest.mark.kernel
Compile = Callable[[str], Path]


@pytest.fixture
def made(kernel: None) -> Iterator[List[Map]]:
    maps: List[Map] = []
    yield maps
    for m in maps:
        m.close()


def _miss(ctype: str) -> int:
    return int(ffi.cast(ctype, lib.LIBBPF_PY_ELEM_MISS))


@pytest.mark.parametrize("key_size,value_size", [(4, 4), (4, 8), (8, 4), (8, 8)])
def test_unsigned_edges_and_sentinel(made: List[Map], key_size: int, value_size: int) -> None:
    m = Map.create(MapType.HASH, key_size, value_size, 8)
    made.append(m)
    m[0] = 0
    assert m[0] == 0
    m[0] = 5  # not the first use: the shims are bound once the layout is known
    assert m[0] == 5 and m._elements is not None and m._elements.get_int is not None
    kmax, vmax = 2 ** (8 * key_size) - 1, 2 ** (8 * value_size) - 1
    m[kmax] = vmax
    assert m[kmax] == vmax
    miss = _miss("unsigned int" if value_size == 4 else "unsigned long long")
    m[1] = miss  # the sentinel stored as a value reads back as itself
    assert m[1] == miss and m.lookup(1) == miss
    with pytest.raises(KeyError) as ki:
        m[2]
    assert ki.value.args == (2,)
    assert m.get(2, "none") == "none"
    for bad_key in (-1, kmax + 1):
        with pytest.raises(ValueError):
            m[bad_key]
        with pytest.raises(ValueError):
            m[bad_key] = 1
    for bad_value in (-1, vmax + 1):
        with pytest.raises(ValueError):
            m[3] = bad_value
    assert 3 not in m
    with pytest.raises(TypeError):
        m["x"]
    m[True] = 1  # bool keys and values go the general way, as before
    assert m[1] == 1
    while len(list(m)) < 8:
        m[len(list(m)) + 100] = 1
    with pytest.raises(LibbpfError) as full:
        m[999] = 1
    assert full.value.errno == errno.E2BIG and "the map is full" in str(full.value)
    m.close()
    with pytest.raises(ClosedError):
        m[0]
    with pytest.raises(ClosedError):
        m[0] = 1


def test_signed_object_map(kernel: None, compile_bpf: Compile) -> None:
    with BpfObject.open(compile_bpf("maps")) as obj:
        obj.load()
        sv = obj.maps["signed_vals"]  # __s32 -> __s64
        for k, v in ((-3, -(2 ** 63)), (2 ** 31 - 1, 2 ** 63 - 1), (-(2 ** 31), 0),
                     (7, _miss("long long"))):
            sv[k] = v
            assert sv[k] == v
        e = sv._elements
        assert e is not None and e.get_int is lib.libbpf_py_lookup_s32_s64
        with pytest.raises(KeyError):
            sv[1]
        with pytest.raises(ValueError):
            sv[2 ** 31] = 1
        with pytest.raises(ValueError):
            sv[1] = 2 ** 63
        assert dict(sv.items()) == {-3: -(2 ** 63), 2 ** 31 - 1: 2 ** 63 - 1,
                                    -(2 ** 31): 0, 7: _miss("long long")}
    with pytest.raises(ClosedError):
        sv[-3]


def test_pooled_path_of_small_ints(made: List[Map]) -> None:
    """1- and 2-byte ints have no shim: the pooled buffers, with the same errors."""
    m = Map.create(MapType.HASH, 2, 1, 4)
    made.append(m)
    m[0] = 0
    m[65535] = 255
    assert m[65535] == 255 and m[0] == 0
    e = m._elements
    assert e is not None and e.get_int is None and e.pool is not None
    with pytest.raises(KeyError):
        m[1]
    with pytest.raises(ValueError):
        m[65536]
    with pytest.raises(ValueError):
        m[1] = 256
    assert 1 not in m
    m.close()
    with pytest.raises(ClosedError):
        m[0]
