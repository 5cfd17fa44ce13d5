"""Histograms as BCC's tools print them: log2 slots and linear buckets.

A BPF program counts into slots (``slot = log2(value)`` or ``value // step``) in an
array map or a global array; these functions turn the counts into the text BCC's
``print_log2_hist`` / ``print_linear_hist`` print, so a tool ported from BCC keeps
its output::

    >>> from libbpf_py.hist import log2_hist
    >>> print(log2_hist([0, 3, 1], unit="usecs", width=10))
         usecs               : count    distribution
             0 -> 1          : 0        |          |
             2 -> 3          : 3        |**********|
             4 -> 7          : 1        |***       |

Counts are a sequence (slot i is index i) or a mapping from slot to count (as read
from a hash map keyed by slot). Slots after the last non-zero one are not printed;
counts that are all zero print only the header
(never nothing, so an empty histogram is seen as one). Pure Python, no libbpf.
"""

from __future__ import annotations

import operator
from typing import Mapping, Optional, Sequence, Union

__all__ = ["Counts", "linear_hist", "log2_hist", "print_linear_hist", "print_log2_hist"]

#: slot -> count, as a list (slot = index) or a mapping
Counts = Union[Sequence[int], Mapping[int, int]]

#: BCC's width of the distribution column
DEFAULT_WIDTH = 40
#: the most slots a histogram may have (a mapping's keys are slots: a stray huge key
#: must be an error, not a list of a billion zeros)
MAX_SLOTS = 1 << 16
#: log2 slots of 64-bit values
LOG2_SLOTS = 64


def _slots(counts: Counts) -> list[int]:
    """The counts as a dense list, each checked (a count is a non-negative int)."""
    if isinstance(counts, Mapping):
        items = list(counts.items())
        size = max((_index(k, "slot") for k, _ in items), default=-1) + 1
        if size > MAX_SLOTS:
            raise ValueError(f"slot {size - 1} is past the last slot a histogram may have "
                             f"({MAX_SLOTS - 1})")
        dense = [0] * size
        for key, value in items:
            dense[_index(key, "slot")] = _index(value, f"count of slot {key}")
        return dense
    if isinstance(counts, (str, bytes)) or not isinstance(counts, Sequence):
        raise TypeError(f"counts must be a sequence or a mapping of ints, not "
                        f"{type(counts).__name__}")
    return [_index(value, f"count of slot {i}") for i, value in enumerate(counts)]


def _index(value: object, what: str) -> int:
    try:
        number = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{what} must be an int, not {type(value).__name__}") from None
    if number < 0:
        raise ValueError(f"{what} must be >= 0, got {number}")
    return number


def _bar(count: int, peak: int, width: int) -> str:
    """Stars in proportion to the largest count, padded to the width."""
    if not peak:
        return " " * width
    stars = count * width // peak
    return ("*" * stars).ljust(width)


def _check_width(width: int) -> int:
    width = _index(width, "width")
    if width == 0:
        raise ValueError("width must be >= 1")
    return width


def log2_hist(counts: Counts, unit: str = "usecs", width: Optional[int] = None) -> str:
    """The log2 histogram as text: slot 0 holds 0 and 1, slot i > 0 holds 2**i to
    2**(i+1) - 1 (``slot = log2(value)`` in the BPF program, as libbpf-tools count).

    The layout is libbpf-tools' ``print_log2_hist``: beyond slot 32 the value columns
    widen to 20 digits and the bars (``width``, default 40) halve."""
    dense = _slots(counts)
    last = max((i for i, c in enumerate(dense) if c), default=-1)
    if last >= LOG2_SLOTS:
        raise ValueError(f"slot {last} holds values past 2**64: the log2 slots of 64-bit "
                         f"values are 0..{LOG2_SLOTS - 1}")
    wide = last > 32
    bars = _check_width(width) if width is not None else DEFAULT_WIDTH // (2 if wide else 1)
    digits, pad, label = (20, 15, 29) if wide else (10, 5, 19)
    peak = max(dense, default=0)
    lines = [f"{'':{pad}}{unit:<{label}} : count    distribution"]
    for i in range(last + 1):
        low, high = (0 if i == 0 else 1 << i), (1 << (i + 1)) - 1
        lines.append(f"{low:>{digits}} -> {high:<{digits}} : {dense[i]:<8} "
                     f"|{_bar(dense[i], peak, bars)}|")
    return "\n".join(lines)


def linear_hist(counts: Counts, step: int = 1, unit: str = "value",
                width: Optional[int] = None) -> str:
    """The linear histogram as text: bucket i holds the values ``i * step`` to
    ``(i + 1) * step - 1``; each line shows the bucket's first value."""
    dense = _slots(counts)
    width = DEFAULT_WIDTH if width is None else _check_width(width)
    step = _index(step, "step")
    if step == 0:
        raise ValueError("step must be >= 1")
    last = max((i for i, c in enumerate(dense) if c), default=-1)
    peak = max(dense, default=0)
    lines = [f"{'':5}{unit:<13} : count     distribution"]  # BCC's linear layout
    for i in range(last + 1):
        lines.append(f"{'':8}{i * step:<10} : {dense[i]:<8} |{_bar(dense[i], peak, width)}|")
    return "\n".join(lines)


def print_log2_hist(counts: Counts, unit: str = "usecs", width: Optional[int] = None) -> None:
    """Print :func:`log2_hist` (BCC's ``table.print_log2_hist(unit)``)."""
    print(log2_hist(counts, unit, width))


def print_linear_hist(counts: Counts, step: int = 1, unit: str = "value",
                      width: Optional[int] = None) -> None:
    """Print :func:`linear_hist` (BCC's ``table.print_linear_hist(unit)``)."""
    print(linear_hist(counts, step, unit, width))
