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

from array import array
from typing import Any, List

import pytest

from libbpf_py import _speedups


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
