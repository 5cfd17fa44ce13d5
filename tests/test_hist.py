"""libbpf_py.hist: BCC's histogram layouts, checked against BCC's own printer where
BCC is installed, and with a real BPF program's counts."""

from __future__ import annotations

import contextlib
import io
import subprocess
from typing import Any

import pytest

from libbpf_py.hist import (
    MAX_SLOTS,
    linear_hist,
    log2_hist,
    print_linear_hist,
    print_log2_hist,
)

#: Debian's python3-bpfcc lives in the system interpreter's dist-packages
SYSTEM_PYTHON = "/usr/bin/python3"


def test_log2_layout() -> None:
    assert log2_hist([0, 3, 1], unit="usecs", width=10).splitlines() == [
        "     usecs               : count    distribution",
        "         0 -> 1          : 0        |          |",
        "         2 -> 3          : 3        |**********|",
        "         4 -> 7          : 1        |***       |",
    ]


def test_log2_trailing_zeros_dropped_and_empty_keeps_its_header() -> None:
    assert log2_hist([1, 0, 0, 0]).count("\n") == 1
    assert log2_hist([]) == log2_hist([0, 0]) == "     usecs               : count    distribution"


def test_log2_wide_layout_past_slot_32() -> None:
    lines = log2_hist({40: 2, 0: 1}).splitlines()
    assert len(lines) == 42
    assert lines[-1].startswith(f"{1 << 40:>20} -> {(1 << 41) - 1:<20} : 2 ")
    assert lines[-1].endswith("|" + "*" * 20 + "|")  # bars halve when wide


def test_mapping_equals_sequence() -> None:
    assert log2_hist({2: 5, 0: 1}) == log2_hist([1, 0, 5])
    assert linear_hist({1: 4}, step=5) == linear_hist([0, 4], step=5)


def test_linear_layout() -> None:
    assert linear_hist([1, 0, 2], step=10, unit="ms", width=4).splitlines() == [
        "     ms            : count     distribution",
        "        0          : 1        |**  |",
        "        10         : 0        |    |",
        "        20         : 2        |****|",
    ]


@pytest.mark.parametrize("counts, error, message", [
    ([1, -1], ValueError, "count of slot 1 must be >= 0, got -1"),
    ([1.5], TypeError, "count of slot 0 must be an int, not float"),
    ("abc", TypeError, "counts must be a sequence or a mapping of ints, not str"),
    ({"x": 1}, TypeError, "slot must be an int, not str"),
    ({MAX_SLOTS: 1}, ValueError, "past the last slot"),
    ({64: 1}, ValueError, "the log2 slots of 64-bit values are 0..63"),
])
def test_bad_counts_are_refused(counts: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message.replace(".", r"\.")):
        log2_hist(counts)


@pytest.mark.parametrize("kwargs, message", [
    ({"width": 0}, "width must be >= 1"), ({"step": 0}, "step must be >= 1"),
    ({"width": -2}, "width must be >= 0"), ({"step": 2.0}, "step must be an int"),
])
def test_bad_width_and_step(kwargs: Any, message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        linear_hist([1], **kwargs)


def test_print_functions_print_the_text() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        print_log2_hist([1, 2], unit="nsecs")
        print_linear_hist([3], step=2)
    assert out.getvalue() == log2_hist([1, 2], "nsecs") + "\n" + linear_hist([3], 2) + "\n"


def _bcc_prints(kind: str, vals: list[int], unit: str) -> str:
    code = ("import sys, bcc.table as t; "
            f"t._print_{kind}_hist({vals!r}, {unit!r}, False)")
    proc = subprocess.run([SYSTEM_PYTHON, "-c", code], capture_output=True, text=True)
    if proc.returncode != 0:
        # scripts/bootstrap.sh installs python3-bpfcc; a machine without it cannot compare
        pytest.xfail(f"BCC's printer is not importable here: {proc.stderr.strip()[-200:]}")
    return proc.stdout


def test_same_bars_and_ranges_as_bcc() -> None:
    """BCC slots log2 one higher (its slot 1 holds 0..1): shifted by one, the ranges,
    counts and bars are the same; BCC's header has one more space before
    'distribution', and libbpf-tools' (which this follows) has not."""
    ours = [0, 7, 3, 0, 12, 1]
    bcc = _bcc_prints("log2", [0, *ours], "usecs").splitlines()
    mine = log2_hist(ours).splitlines()
    assert bcc[0].replace("count     distribution", "count    distribution") == mine[0]
    assert bcc[1:] == mine[1:]
    linear = [2, 0, 9, 4]
    bcc_linear = _bcc_prints("linear", linear, "ms")
    assert bcc_linear.splitlines() == linear_hist(linear, 1, "ms").splitlines()


def test_the_module_docstring_example_runs() -> None:
    import doctest

    import libbpf_py.hist

    result = doctest.testmod(libbpf_py.hist)
    assert result.attempted > 0 and result.failed == 0, result
