"""pylibbpf for bench/run.py's fourth column: a venv of its own under bench/build/.

pylibbpf (the PythonBPF project's pybind11 bindings) is not a dependency of
libbpf_py; the benchmark installs it into ``bench/build/pylibbpf-venv/`` on first
use, with the system's ``python3 -m venv`` and ``pip install pylibbpf==0.0.6``
(pip's configured index, as any pip install). 0.0.7 needs Python >= 3.12; this
machine has 3.11, so 0.0.6 is the newest usable release. Its wheel carries its
own libbpf, linked statically into its extension (with libelf, zstd, lzma and
bz2 bundled beside it), so its column measures that libbpf, not the system's.

Idempotent: a venv whose interpreter imports pylibbpf at the pinned version is
reused without touching the network. When the venv cannot be made (no network,
no ``venv`` module) :func:`ensure_venv` says why and the bench goes on without
the column.

Run it alone with ``python bench/setup_pylibbpf.py``: it prints the interpreter.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Dict, Optional, Tuple

from toolchain import BUILD, log

VERSION = "0.0.6"
VENV = BUILD / "pylibbpf-venv"
PYTHON = VENV / "bin" / "python"
BASE_PYTHONS = ("/usr/bin/python3", "python3")

# Run in the venv: pylibbpf's version and the libbpf its extension carries (the
# extension exports libbpf's own version functions).
DESCRIBE = """
import ctypes, json, platform, pylibbpf, pylibbpf.pylibbpf as ext
lib = ctypes.CDLL(ext.__file__)
lib.libbpf_version_string.restype = ctypes.c_char_p
print(json.dumps({"version": pylibbpf.__version__,
                  "libbpf": lib.libbpf_version_string().decode(),
                  "extension": ext.__file__, "python": platform.python_version()}))
"""


def _base_python() -> Optional[str]:
    for name in BASE_PYTHONS:
        path = name if os.path.isabs(name) else shutil.which(name)
        if path and os.access(path, os.X_OK):
            return path
    return None


def info() -> Optional[Dict[str, str]]:
    """What the venv holds (pylibbpf's version, its libbpf), or None when it is unusable."""
    if not PYTHON.exists():
        return None
    proc = subprocess.run([str(PYTHON), "-c", DESCRIBE], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        return None
    data: Dict[str, str] = json.loads(proc.stdout.strip().splitlines()[-1])
    return data if data.get("version") == VERSION else None


def ensure_venv() -> Tuple[Optional[Path], str]:
    """(the venv's python, "") once pylibbpf is installed; (None, why) when it cannot be."""
    if info() is not None:
        return PYTHON, ""
    base = _base_python()
    if base is None:
        return None, "no python3 to make its venv with"
    log(f"making {VENV} ({base} -m venv) and installing pylibbpf=={VERSION}")
    if VENV.exists():
        shutil.rmtree(VENV)
    proc = subprocess.run([base, "-m", "venv", str(VENV)], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        return None, f"`{base} -m venv` failed: {proc.stderr.strip()[-500:]}"
    proc = subprocess.run([str(PYTHON), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                           f"pylibbpf=={VERSION}"], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        return None, (f"`pip install pylibbpf=={VERSION}` failed (no network?): "
                      f"{lines[-1] if lines else 'exit ' + str(proc.returncode)}")
    if info() is None:
        return None, f"pylibbpf=={VERSION} installed but `import pylibbpf` fails in {VENV}"
    return PYTHON, ""


def describe() -> str:
    """One sentence on what the column runs."""
    data = info()
    if data is None:
        return "pylibbpf: no usable venv"
    extension = Path(data["extension"]).name
    return (f"pylibbpf {data['version']} (pybind11; the newest release for Python 3.11) in "
            f"{VENV}, Python {data['python']}: its extension carries libbpf "
            f"{data['libbpf']} statically (libbpf_version_string() of {extension}), "
            "with its own libelf, zstd, lzma, bz2; not the system's libbpf")


if __name__ == "__main__":
    python, why = ensure_venv()
    if python is None:
        raise SystemExit(f"bench: pylibbpf: {why}")
    log(describe())
    print(python)
