"""libbpf_py._speedups against Python code that tries to break it.

Each test drives one entry point of libbpf_py/_speedups.c with input or callbacks
meant to crash the interpreter, make C read or write the wrong memory, or show a
value changing under its holder: bounds that overflow when multiplied, buffers at
odd addresses, ``fast`` tuples swapped while a record is being made, per-CPU lists
whose items run Python when replaced, views and iterators kept or released in odd
orders. Run normally and under the ``asan`` tox env (AddressSanitizer and
UndefinedBehaviorSanitizer make any bad access fatal there).
"""

from __future__ import annotations

import ctypes
import gc
from array import array
from typing import Any, Callable, List

import pytest

from libbpf_py import _speedups
from libbpf_py._binding import MapBase
from libbpf_py.enums import MapType
from libbpf_py.map import Map


def test_deliver_refuses_an_end_whose_offsets_would_wrap() -> None:
    """``end`` so large that ``(end + 1) * 4`` wraps around 64 bits: refused before
    any record, not read past the offsets (which held 2 entries here)."""
    got: List[bytes] = []
    offs = bytes(8)  # one record of 0 bytes
    for end in (2 ** 62, 2 ** 62 - 1, 2 ** 63 - 1, (2 ** 63 - 1) // 4 + 1):
        pos: List[Any] = [0, False]
        with pytest.raises(ValueError, match="out of the batch"):
            _speedups.deliver([(got.append, 1, None)], b"x" * 64, offs, None, 0, end, pos)
        assert got == [] and pos == [0, False]
        rings = bytes(4)
        with pytest.raises(ValueError, match="out of the batch"):
            _speedups.deliver([(got.append, 1, None)], b"x" * 64, bytes(4 * 8), rings, 0,
                              end, pos)
        assert got == []
    pos = [0, False]
    assert _speedups.deliver([(got.append, 1, None)], b"", offs, bytes(4), 0, 1, pos) == 1
    assert got == [b""]


def _odd(data: bytes, fmt: str) -> memoryview:
    """``data`` as a 1-D memoryview of ``fmt`` that starts at an odd address."""
    raw = bytearray(len(data) + 1)
    raw[1:] = data
    start = ctypes.addressof(ctypes.c_char.from_buffer(raw)) + 1
    assert start % 2 == 1
    return memoryview(raw)[1:].cast(fmt)


def test_pairs_and_deliver_read_buffers_at_odd_addresses() -> None:
    """A caller's buffer may start at any address (a slice of a bytearray cast to
    'Q'): pairs(), PairIter and deliver() read its ints as they are, without a
    misaligned load (undefined behaviour, which UBSan aborts on)."""
    for fmt in "BbHhIiQq":
        keys = array(fmt, range(0, 90, 9))
        values = array(fmt, [(-1 if fmt.islower() else 1) * i for i in range(len(keys))])
        want = list(zip(keys.tolist(), values.tolist()))
        k, v = _odd(keys.tobytes(), fmt), _odd(values.tobytes(), fmt)
        assert _speedups.pairs(k, v) == want
        assert list(_speedups.PairIter(k, v, len(keys))) == want
    records = [b"a", b"", b"bcd", b"efgh"]
    ends = [0]
    for r in records:
        ends.append(ends[-1] + len(r))
    offs = _odd(array("I", ends).tobytes(), "I")
    rings = _odd(array("I", [0, 1, 0, 1]).tobytes(), "I")
    got: List[Any] = []
    pos: List[Any] = [0, False]
    sinks = [(lambda b: got.append((0, b)), 1, None), (lambda b: got.append((1, b)), 1, None)]
    assert _speedups.deliver(sinks, b"".join(records), offs, rings, 0, 4, pos) == 4
    assert got == [(0, b"a"), (1, b""), (0, b"bcd"), (1, b"efgh")]


@pytest.mark.kernel
def test_a_state_swapped_while_a_record_is_made_never_sizes_its_read(
        maps: Callable[..., Map]) -> None:
    """Making the record of ``m[k]`` runs Python (here the record class's __init__),
    which may give the map another element state: the read still goes to the fd of
    the state it started with, and so is sized by that state's value size, not by
    the new state's (4 bytes here, another map's, the size of the record: the
    kernel would write the first map's 256-byte value into it)."""
    m = maps(MapType.ARRAY, 4, 256, 1)
    m[0] = b"\xaa" * 256
    fd = m._check_loaded().fd
    other = maps(MapType.ARRAY, 4, 4, 1)
    probe = MapBase()

    class IntState:  # a true state: the other map's fd and sizes
        fast = (other._check_loaded().fd, 4, False, 4, False)

    class Small(ctypes.Structure):
        _fields_ = [("x", ctypes.c_uint32)]

        def __init__(self) -> None:
            super().__init__()
            probe._elements = IntState()  # the next m[k] reads 4-byte ints

    class RecordState:
        fast = (fd, 4, False, 256, False, 1, Small)

    for _ in range(50):
        probe._elements = RecordState()
        with pytest.raises(SystemError, match="record has 4 bytes, the value 256"):
            probe[0]
        assert probe._fast_path and probe._elements.fast[3] == 4
    probe._elements = None


@pytest.mark.kernel
@pytest.mark.parametrize("act", ["clear", "append", "keep"])
def test_a_per_cpu_list_item_that_runs_python_never_sees_the_list_refilled(
        maps: Callable[..., Map], act: str) -> None:
    """The list ``m[k]`` returned last is filled again when nobody holds it; its user
    may have put an object with a __del__ in it, which runs when the item is
    replaced and can find the list (gc.get_referents of the map) half filled: it
    must not be able to empty it or grow it under ``m[k]``, nor keep it and then
    see it change."""
    m = maps(MapType.PERCPU_ARRAY, 4, 8, 1)
    m[0] = 7
    ncpus = len(m[0])
    assert m._fast_path and m[0] == [7] * ncpus
    found: List[Any] = []

    class Meddler:
        def __init__(self, target: int) -> None:
            self.target = target

        def __del__(self) -> None:
            for r in gc.get_referents(m):
                if id(r) == self.target and type(r) is list:
                    if act == "clear":
                        r.clear()
                    elif act == "append":
                        r.append("junk")
                    else:
                        found.append((r, list(r)))  # kept, as it is now

    for value in range(3):
        m[0] = value
        dropped = m[0]
        dropped[0] = Meddler(id(dropped))
        del dropped  # only the map's spare reference is left
        m[0] = value + 50
        got = m[0]
        assert got == [value + 50] * ncpus and all(type(x) is int for x in got)
        for kept, as_seen in found:
            assert kept == as_seen, "a list held by a __del__ changed under it"
        found.clear()
        m[0] = value + 100
        assert got == [value + 50] * ncpus  # held: never refilled
        del got
