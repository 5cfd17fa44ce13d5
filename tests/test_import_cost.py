"""What ``import libbpf_py`` loads (bench workload 6: its target is < 50 ms).

Not timed (bench/ times it): these tests check what the import pulls in, in a fresh
interpreter started with ``-S``, so that an editable install's finder (which imports
pathlib at start-up) cannot hide a module the package itself imports.
"""

from __future__ import annotations

import os
import subprocess
import sys

import libbpf_py

#: stdlib modules ``import libbpf_py`` no longer loads: pathlib (with urllib.parse,
#: ~5 ms on 3.11) for one path in _cdefs and two file reads in probe, textwrap (~1 ms)
#: for the probe report's text
NOT_IMPORTED = ("pathlib", "urllib.parse", "textwrap")


def _fresh_import(code: str) -> str:
    """Run ``code`` after ``import libbpf_py`` in ``python -S`` with this sys.path (this
    checkout's package first), and return its output."""
    package_parent = os.path.dirname(os.path.dirname(libbpf_py.__file__))
    path = os.pathsep.join([package_parent, *(p for p in sys.path if p)])
    env = {**os.environ, "PYTHONPATH": path}
    full = f"import sys, libbpf_py\nprint(libbpf_py.__file__)\n{code}"
    proc = subprocess.run([sys.executable, "-S", "-c", full], capture_output=True, text=True,
                          env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    where, _, out = proc.stdout.partition("\n")
    assert where == libbpf_py.__file__
    return out.strip()


def test_import_leaves_these_modules_alone() -> None:
    out = _fresh_import(f"print(sorted(m for m in {NOT_IMPORTED!r} if m in sys.modules))")
    assert out == "[]", f"import libbpf_py loaded {out}"

