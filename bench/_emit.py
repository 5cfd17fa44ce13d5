"""How every side of bench/run.py reports: one JSON line per metric or curve point.

Standard library only: imported by the libbpf_py, BCC and pylibbpf sides, each run
by its own interpreter (the project's venv, the system Python BCC is built for,
pylibbpf's venv), from this directory (a script's own directory is first on
``sys.path``). The C side (bench/c/bench.c) prints the same rows.
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable, Dict, List, Optional, Tuple


def out(metric: str, runs: List[float], check: Any = None, note: str = "",
        syscalls: Optional[float] = None, faults: Optional[float] = None) -> None:
    """A workload's row: its runs (each in the metric's unit), what it checked (entries
    read, records consumed...), a note when it could not run or ran otherwise, and the
    page faults of a run (the median) where the side counted them."""
    row: Dict[str, Any] = {"metric": metric, "runs": runs, "check": check}
    if note:
        row["note"] = note
    if syscalls is not None:
        row["syscalls"] = syscalls
    if faults is not None:
        row["faults"] = faults
    print(json.dumps(row), flush=True)


def point(curve: str, series: str, x: int, runs: List[float], check: Any = None) -> None:
    """One point of a --scaling curve."""
    print(json.dumps({"curve": curve, "series": series, "x": x, "runs": runs,
                      "check": check}), flush=True)


def update_then_lookup(workload: str, n: int, repeats: int, write_all: Callable[[], None],
                       read_all: Callable[[], Any], update_note: str = "",
                       lookup_note: str = "") -> None:
    """Workloads 1 and 7 on every side: per repeat, ``write_all()`` (n updates) then
    ``read_all()`` (n lookups, returning what it summed), each on the thread's CPU
    clock; the rows ``<workload>-update`` and ``<workload>-lookup`` in ns per op. The
    two callables hold the side's own loops: one call per repeat, none per op."""
    upd: List[float] = []
    look: List[float] = []
    total: Any = 0
    for _ in range(repeats):
        t0 = time.thread_time_ns()
        write_all()
        t1 = time.thread_time_ns()
        total = read_all()
        t2 = time.thread_time_ns()
        upd.append((t1 - t0) / n)
        look.append((t2 - t1) / n)
    out(f"{workload}-update", upd, n, note=update_note)
    out(f"{workload}-lookup", look, total, note=lookup_note)


def int_mapping_loops(m: Any, keys: List[int]) -> Tuple[Callable[[], None], Callable[[], int]]:
    """Workload 1's loops for a side whose map is a mapping of ints (``m[k] = k``,
    ``m[k]``): libbpf_py's and pylibbpf's. BCC's keys and leaves are ctypes objects."""

    def write_all(m: Any = m, keys: List[int] = keys) -> None:
        for k in keys:
            m[k] = k

    def read_all(m: Any = m, keys: List[int] = keys) -> int:
        total = 0
        for k in keys:
            total += m[k]
        return total

    return write_all, read_all
