"""Run a command with the sanitizer runtimes of a ``LIBBPF_PY_SANITIZE`` build preloaded,
and fail if any process it started reported.

    python tests/sanitized.py python tests/envcheck.py
    python tests/sanitized.py pytest --capture=sys tests

An extension compiled with ``-fsanitize=address`` needs libasan first in the
process's library list, and CPython is not built with it: the runtimes the
installed build names (its stamped ``sanitize`` fact: libasan for ``address``,
libubsan for ``undefined``, found with ``cc -print-file-name``) go into
``LD_PRELOAD``, which every process the command starts inherits (child
interpreters, examples, and clang, bpftool and ip too, which run fine with
them). The options make any report fatal:

- ASan: ``halt_on_error=1:abort_on_error=1`` (the first report ends the process
  with SIGABRT), ``detect_leaks=0`` (CPython leaves objects alive at exit on
  purpose, so LeakSanitizer would report every run).
- UBSan: ``halt_on_error=1:abort_on_error=1:print_stacktrace=1``; the build also
  compiles with ``-fno-sanitize-recover=all``, so a UBSan report aborts even
  when these options are lost.

Options already in the environment come after these, so they win.

Every ASan report, of the command or of any process under it, goes to a file
(``log_path``, in a fresh directory named by ``LIBBPF_PY_SANITIZER_REPORTS``):
when the command ends, each file is printed and the exit status is 1 even if
the command exited 0, so a child whose failure a test tolerates cannot hide a
report. tests/conftest.py also fails the test during which a report appeared.

UBSan reports go to the stderr of the process, never to that file: libasan,
preloaded first, interposes ``__sanitizer_set_report_path``, so libubsan's
``log_path`` never reaches libubsan's own report file. The process still
aborts (SIGABRT); run pytest with ``--capture=sys`` so that its own stderr is
not held by pytest's fd capture, which an abort discards.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import List

RUNTIMES = {"address": "libasan.so", "undefined": "libubsan.so"}
ASAN_OPTIONS = "detect_leaks=0:halt_on_error=1:abort_on_error=1"
UBSAN_OPTIONS = "halt_on_error=1:abort_on_error=1:print_stacktrace=1"


def _buildinfo() -> ModuleType:
    """libbpf_py/_buildinfo.py of the installed copy, loaded without importing
    libbpf_py (which would load the sanitized extension without its runtime)."""
    spec = importlib.util.find_spec("libbpf_py")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("sanitized.py: libbpf_py is not installed")
    path = Path(next(iter(spec.submodule_search_locations)), "_buildinfo.py")
    mod_spec = importlib.util.spec_from_file_location("_libbpf_py_buildinfo", path)
    assert mod_spec and mod_spec.loader
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)
    return module


def sanitizers() -> List[str]:
    """The sanitizers the installed extension was compiled with."""
    spec = importlib.util.find_spec("libbpf_py")
    assert spec and spec.submodule_search_locations
    found = sorted(Path(next(iter(spec.submodule_search_locations))).glob("_libbpf*.so"))
    if not found:
        sys.exit("sanitized.py: the installed libbpf_py has no _libbpf extension")
    facts = _buildinfo().read_from_file(str(found[0]))
    return [s for s in facts.get("sanitize", "").split(",") if s]


def runtime(name: str) -> str:
    """The real path of the compiler's runtime library ``name`` (libasan.so ...)."""
    cc = os.environ.get("CC", "cc")
    out = subprocess.run([cc, f"-print-file-name={name}"], capture_output=True, text=True,
                         check=True).stdout.strip()
    if not os.path.isabs(out):  # the compiler echoes the bare name when it has none
        sys.exit(f"sanitized.py: {cc} has no {name}: install its sanitizer runtime "
                 "(Debian 12: libasan8 and libubsan1, with gcc-12)")
    return os.path.realpath(out)


def main(argv: List[str]) -> int:
    if not argv:
        sys.exit("usage: sanitized.py COMMAND [ARG...]")
    wanted = sanitizers()
    if not wanted:
        sys.exit("sanitized.py: the installed libbpf_py was built without LIBBPF_PY_SANITIZE")
    env = dict(os.environ)
    preload = [runtime(RUNTIMES[s]) for s in wanted]
    env["LD_PRELOAD"] = " ".join(preload + env.get("LD_PRELOAD", "").split())
    env["ASAN_OPTIONS"] = ":".join(filter(None, [ASAN_OPTIONS, env.get("ASAN_OPTIONS")]))
    env["UBSAN_OPTIONS"] = ":".join(filter(None, [UBSAN_OPTIONS, env.get("UBSAN_OPTIONS")]))
    reports = Path(tempfile.mkdtemp(prefix="libbpf_py-sanitizer-"))
    env["LIBBPF_PY_SANITIZER_REPORTS"] = str(reports)
    env["ASAN_OPTIONS"] = f"{env['ASAN_OPTIONS']}:log_path={reports}/asan"
    print(f"sanitized.py: {', '.join(wanted)}: LD_PRELOAD={env['LD_PRELOAD']}", file=sys.stderr,
          flush=True)
    status = subprocess.run(argv, env=env).returncode
    found = sorted(reports.iterdir())
    for path in found:
        print(f"sanitized.py: report {path.name}:\n{path.read_text(errors='replace')}",
              file=sys.stderr)
        path.unlink()
    reports.rmdir()
    if found:
        print(f"sanitized.py: FAILED: {len(found)} sanitizer report(s), listed above "
              f"(command exit status {status})", file=sys.stderr)
        return 1
    if status < 0:
        print(f"sanitized.py: the command died of signal {-status}", file=sys.stderr)
        return 128 - status
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
