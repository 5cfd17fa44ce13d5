"""Kernel headers for BCC: Debian's linux-headers of the kernel nearest the running one.

BCC compiles its programs with the running kernel's headers
(``/lib/modules/$(uname -r)/build``). Debian packages none for this machine's
kernel, so this module unpacks the linux-headers packages of the nearest
Debian kernel into ``bench/build/kernel-headers/<version>/`` and returns a
directory merging Debian's two halves (the common headers and the
arch-specific generated ones) as a farm of symlinks, for ``BCC_KERNEL_SOURCE``.

Nothing is installed and the system's apt configuration is never changed: the
packages are fetched with ``apt-get download`` through a private sources list
in ``bench/build/apt/`` that :mod:`vendor/provision.py <provision>` derives from
the system's own ``/etc/apt/sources.list.d/debian.sources`` at run time (its
``Apt`` helper is reused here, only with other suites). Idempotent: a second
call finds the unpacked tree and touches the network not at all.

Run it alone with ``python bench/setup_bcc.py``: it prints the directory.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import List, Optional, Tuple

from toolchain import BUILD, log

REPO = Path(__file__).resolve().parent.parent
HEADERS = BUILD / "kernel-headers"
# Suites that may carry a newer kernel than the system's release, nearest first.
SUITES = ("trixie-backports", "trixie", "bookworm-backports")
FLAVOUR = "amd64"
STAMP = "bench-headers.json"


def _provision() -> ModuleType:
    """vendor/provision.py as a module (it is a script, not a package)."""
    name = "libbpf_py_vendor_provision"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "vendor" / "provision.py")
    if spec is None or spec.loader is None:
        raise SystemExit("bench: cannot import vendor/provision.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


def _private_apt() -> object:
    """provision.Apt with a list of SUITES, kept under bench/build/apt."""
    prov = _provision()

    class HeadersApt(prov.Apt):  # type: ignore[name-defined,misc]
        def _content(self) -> str:
            if not prov.KEYRING.is_file():
                prov.fail(f"{prov.KEYRING} is missing: apt-get install debian-archive-keyring")
            uri = prov.mirror_uri()
            lines = ["# Written by bench/setup_bcc.py; the URI is copied from the system's "
                     "apt sources."]
            lines += [f"deb [signed-by={prov.KEYRING}] {uri} {suite} main" for suite in SUITES]
            return "\n".join(lines) + "\n"

    return HeadersApt(pin=prov.load_pin(), root=BUILD / "apt")


def kernel_release() -> Tuple[str, Tuple[int, ...]]:
    release = os.uname().release
    return release, _numbers(release)


def _numbers(text: str) -> Tuple[int, ...]:
    match = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    if not match:
        return (0,)
    return tuple(int(x) for x in match.groups(default="0"))


def _candidates(apt: object) -> List[str]:
    """Every ``linux-headers-<version>-amd64`` the private list offers."""
    proc = subprocess.run(["apt-cache", *apt.options(), "pkgnames",  # type: ignore[attr-defined]
                           "linux-headers-"], capture_output=True, text=True, check=False)
    pattern = re.compile(rf"^linux-headers-(\d+\.\d+\.\d+\+deb\d+)-{FLAVOUR}$")
    return sorted({m.group(1) for line in proc.stdout.split()
                   if (m := pattern.match(line.strip()))})


def nearest(versions: List[str], running: Tuple[int, ...]) -> Optional[str]:
    """The newest version not newer than the running kernel, else the oldest newer one."""
    older = [v for v in versions if _numbers(v) <= running]
    if older:
        return max(older, key=_numbers)
    return min(versions, key=_numbers) if versions else None


def _existing() -> Optional[Path]:
    for stamp in sorted(HEADERS.glob(f"*/{STAMP}")):
        tree = stamp.parent
        if (tree / "merged" / "include" / "linux" / "kconfig.h").exists():
            return tree / "merged"
    return None


def describe(tree: Path) -> str:
    """One sentence on what the headers mean on this machine."""
    data = json.loads((tree.parent / STAMP).read_text())
    return (f"BCC compiles with the headers of Debian kernel {data['version']} "
            f"({data['suite']}), unpacked in {tree}: this machine runs kernel "
            f"{data['running']}, for which no headers are packaged; BCC's programs here use only "
            "stable UAPI (XDP, maps, ring buffer), so the older headers fit")


def ensure_headers() -> Path:
    """The BCC_KERNEL_SOURCE directory; downloads and unpacks once, then reuses it."""
    found = _existing()
    if found is not None:
        return found
    for tool in ("apt-get", "apt-cache", "dpkg"):
        if shutil.which(tool) is None:
            raise SystemExit(f"bench: {tool} is missing; BCC's kernel headers come from Debian")
    apt = _private_apt()
    log("looking for Debian linux-headers near the running kernel "
        f"(private apt list {BUILD / 'apt' / 'sources.list'})")
    apt.ensure()  # type: ignore[attr-defined]
    release, running = kernel_release()
    version = nearest(_candidates(apt), running)
    if version is None:
        raise SystemExit(f"bench: the private apt list offers no linux-headers-*-{FLAVOUR} "
                         f"(suites {', '.join(SUITES)})")
    packages = [f"linux-headers-{version}-{FLAVOUR}", f"linux-headers-{version}-common"]
    policy = subprocess.run(["apt-cache", *apt.options(), "policy", packages[0]],  # type: ignore
                            capture_output=True, text=True, check=False).stdout
    suite = next((s for s in SUITES if f" {s}/" in policy), "?")
    tree = HEADERS / version
    debs = tree / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    log(f"downloading {', '.join(packages)} for kernel {release}")
    apt.fetch(["download", *packages], debs,  # type: ignore[attr-defined]
              what=f"apt-get download {' '.join(packages)}",
              hint="the mirror may have dropped that version; rerun to pick another")
    root = Path(tempfile.mkdtemp(prefix=".root-", dir=tree))
    for deb in sorted(debs.glob("*.deb")):
        subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
    final = tree / "root"
    if final.exists():
        shutil.rmtree(final)
    root.rename(final)
    src = final / "usr" / "src"
    merged = tree / "merged"
    if merged.exists():
        shutil.rmtree(merged)
    merged.mkdir()
    # BCC_KERNEL_SOURCE names one tree holding both the common headers and the
    # arch-specific generated ones; Debian splits them in two packages. Merge them as
    # a farm of symlinks, the arch-specific files last (they win).
    for package in reversed(packages):
        part = src / package
        if not (part / "include").is_dir():
            raise SystemExit(f"bench: {part} is not a kernel header tree")
        subprocess.run(["cp", "-rs", "--remove-destination", f"{part}/.", str(merged)],
                       check=True)
    shutil.rmtree(debs)
    (tree / STAMP).write_text(json.dumps({"version": version, "suite": suite,
                                          "running": release, "packages": packages}) + "\n")
    return merged


if __name__ == "__main__":
    directory = ensure_headers()
    log(describe(directory))
    print(directory)
