"""How every side of bench/run.py reports: one JSON line per metric or curve point.

Standard library only: imported by the libbpf_py, BCC and pylibbpf sides, each run
by its own interpreter (the project's venv, the system Python BCC is built for,
pylibbpf's venv), from this directory (a script's own directory is first on
``sys.path``). The C side (bench/c/bench.c) prints the same rows.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional


def out(metric: str, runs: List[float], check: Any = None, note: str = "",
        syscalls: Optional[float] = None) -> None:
    """A workload's row: its runs (each in the metric's unit), what it checked (entries
    read, records consumed...), and a note when it could not run or ran otherwise."""
    row: Dict[str, Any] = {"metric": metric, "runs": runs, "check": check}
    if note:
        row["note"] = note
    if syscalls is not None:
        row["syscalls"] = syscalls
    print(json.dumps(row), flush=True)


def point(curve: str, series: str, x: int, runs: List[float], check: Any = None) -> None:
    """One point of a --scaling curve."""
    print(json.dumps({"curve": curve, "series": series, "x": x, "runs": runs,
                      "check": check}), flush=True)
