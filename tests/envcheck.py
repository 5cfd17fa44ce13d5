"""First step of every tox env: prove that the build under test is the one the
env asked for, from the ELF file, from Python, and from the process's own maps.

Reads the expectation from the environment (tox.ini sets it):
EXPECT_MODE (dynamic|static), EXPECT_VERSION (major.minor of the libbpf headers
and runtime), EXPECT_ORIGIN (pkg-config|LIBBPF_DIR|vendored), LIBBPF_DIR, and
EXPECT_SANITIZE (the sanitizers compiled in, e.g. address,undefined; unset: none).
Exits non-zero with every mismatch listed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import List


def main() -> int:
    import libbpf_py
    from libbpf_py import linkcheck
    from libbpf_py._buildinfo import mapped_libbpf

    info = libbpf_py.build_info()
    repo_pkg = Path(__file__).resolve().parents[1] / "libbpf_py"
    problems: List[str] = []

    def expect(what: str, got: object, want: object) -> None:
        status = "ok" if got == want else "MISMATCH"
        print(f"envcheck: {what:<16} {got!s:<48} (want {want}) {status}")
        if got != want:
            problems.append(f"{what} is {got}, expected {want}")

    ext = Path(info.extension_path).resolve()
    expect("installed copy", repo_pkg not in ext.parents, True)
    expect("mode", info.mode, os.environ.get("EXPECT_MODE"))
    expect("origin", info.origin, os.environ.get("EXPECT_ORIGIN"))
    expect("header version", info.header_version_string, os.environ.get("EXPECT_VERSION"))
    runtime = ".".join(info.runtime_version.split(".")[:2])
    expect("runtime version", runtime, os.environ.get("EXPECT_VERSION"))

    expect("sanitize", ",".join(info.sanitize), os.environ.get("EXPECT_SANITIZE", ""))
    if info.sanitize:
        with open("/proc/self/maps") as f:
            asan = any("libasan.so" in line for line in f)
        expect("asan runtime", asan, "address" in info.sanitize)

    audit = linkcheck.audit(str(ext))
    expect("linkcheck", audit.verdict, info.mode)
    from libbpf_py import _speedups

    companion = Path(_speedups.__file__ or "").resolve()
    expect("companion here", companion.parent == ext.parent, True)
    expect("companion clean", linkcheck.audit_companion(str(companion)).clean, True)

    maps = mapped_libbpf()
    if info.mode == "dynamic":
        expect("mapped libbpf", maps, [info.library_path])
        prefix = os.environ.get("LIBBPF_DIR")
        if prefix:
            under = Path(str(info.library_path)).is_relative_to(Path(prefix).resolve())
            expect("from LIBBPF_DIR", under, True)
    else:
        expect("mapped libbpf", maps, [])
    print(f"envcheck: extension {ext}")
    if problems:
        print("envcheck: FAILED: " + "; ".join(problems), file=sys.stderr)
        return 1
    print("envcheck: the build is what this env asked for")
    return 0


if __name__ == "__main__":
    sys.exit(main())
