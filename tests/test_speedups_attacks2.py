"""libbpf_py._speedups against Python code that tries to break it (second review).

As tests/test_speedups_attacks.py: each test drives one entry point of
libbpf_py/_speedups.c with callbacks that run Python where C holds a pointer it
read earlier. The crashers run in a subprocess, so that the suite survives the
old code's segfault and reports it as a failure.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _run(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script)],
                          capture_output=True, text=True, timeout=120)


def test_a_sink_whose_mode_runs_python_is_held_while_parsed() -> None:
    """deliver() parses a sink (callback, mode, decode) borrowed from the sinks list;
    the mode's __index__ is Python, which can replace that sink in the list and so
    drop the tuple's last reference: the tuple must be held while it is parsed, not
    read after it was freed (the old code segfaulted)."""
    r = _run("""
        from array import array
        from libbpf_py import _speedups
        got = []
        sinks = []

        class Mode:
            def __index__(self):
                sinks[0] = (got.append, 1, None)  # the tuple being parsed goes
                return 1

        for _ in range(20):
            sinks[:] = [(lambda b: got.append(("first", b)), Mode(), None)]
            pos = [0, False]
            assert _speedups.deliver(sinks, b"ab", array("I", [0, 1, 2]).tobytes(),
                                     None, 0, 2, pos) == 2
        assert got == [("first", b"a"), b"b"] * 20, got
        print("ok")
    """)
    assert r.returncode == 0 and r.stdout.split() == ["ok"], (
        f"exit {r.returncode}\n{r.stdout}\n{r.stderr[-3000:]}")
