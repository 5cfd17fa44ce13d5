"""The README's main job keeps working: examples/syscount.py, live, as JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import libbpf_py

pytestmark = pytest.mark.kernel
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_syscount_sees_real_syscalls(kernel: None) -> None:
    proc = subprocess.run([sys.executable, str(EXAMPLES / "syscount.py"), "--seconds", "1",
                           "--top", "50", "--json"], capture_output=True, text=True,
                          timeout=120, cwd=EXAMPLES)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["build"]["mode"] == libbpf_py.build_info().mode
    assert report["top"], "no process made a syscall in a second?"
    assert all(row["syscalls"] > 0 for row in report["top"])
    assert report["processes"] >= len(report["top"])
    # the example itself sleeps and reads the map: its own syscalls are counted too
    # (whether it makes the top N depends on what else the machine runs)
    assert report["own_syscalls"] > 0
