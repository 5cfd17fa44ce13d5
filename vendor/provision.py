#!/usr/bin/env python3
"""Provision libbpf builds that are not the system copy.

Everything downloaded or built goes under vendor/build/ (git-ignored); the pinned
versions and checksums live in vendor/libbpf.pin.  Debian's mirror is reached through
a private apt sources list whose URI is copied at run time from the system's own
/etc/apt configuration, which is never modified.

Progress goes to stderr; the last line on stdout is the absolute path of the prefix
(or source tree) that was made, so `P=$(python vendor/provision.py static)` works.
Standard library only.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

VENDOR = Path(__file__).resolve().parent
# LIBBPF_PY_VENDOR_BUILD moves the build directory: a build from an unpacked sdist
# (tox) reuses the checkout's vendor/build instead of rebuilding into a temp copy.
BUILD = Path(os.environ.get("LIBBPF_PY_VENDOR_BUILD") or VENDOR / "build").resolve()
PIN_FILE = VENDOR / "libbpf.pin"
STAMP_NAME = "provision-stamp.json"
SOURCE_STAMP_NAME = ".provision-source.json"
# Bump when the way a prefix is built changes, so old stamps no longer match.
STAMP_REVISION = 1

KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
DEB822_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")
ONE_LINE_SOURCES = Path("/etc/apt/sources.list")
OS_RELEASE = Path("/etc/os-release")
APT_MAX_AGE = 24 * 3600.0

# Extra flags for every libbpf build: -fPIC makes the installed libbpf.a linkable into
# a shared object (a Python extension), also in the shared prefix.
EXTRA_CFLAGS = "-fPIC -O2"

# Tool -> the Debian package that provides it.
TOOL_PACKAGES = {
    "make": "build-essential",
    "cc": "build-essential",
    "gcc": "build-essential",
    "ar": "build-essential",
    "readelf": "binutils",
    "install": "coreutils",
    "apt-get": "apt",
    "apt-cache": "apt",
    "dpkg": "dpkg",
    "patch": "patch",
}


class ProvisionError(Exception):
    """An expected failure: the message is one sentence saying what to do."""


def log(message: str) -> None:
    print(f"provision: {message}", file=sys.stderr, flush=True)


def fail(message: str) -> NoReturn:
    raise ProvisionError(message)


def rel(path: Path) -> str:
    """A path relative to the repository when it is inside it, for messages."""
    try:
        return str(path.relative_to(VENDOR.parent))
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------- pin


@dataclass(frozen=True)
class SourcePin:
    """One pinned libbpf release and the Debian source package it is fetched from."""

    version: str
    orig_tarball: str
    orig_sha256: str
    src_package: str
    src_version: str
    src_suites: tuple[str, ...]
    src_component: str
    debian_tarball: str
    debian_tarball_sha256: str


@dataclass(frozen=True)
class Pin:
    # The source of the static build and of shared-1.5 (LIBBPF_SRC can replace it).
    source: SourcePin
    # major.minor -> a further release built as a shared prefix only (shared-<key>).
    shared_sources: dict[str, SourcePin]
    bin_suite: str
    bin_component: str
    bin_version: str
    bin_upstream: str
    bin_packages: tuple[str, ...]
    bin_sha256: dict[str, dict[str, str]]


def _field(table: Any, section: str, key: str, kind: type) -> Any:
    if not isinstance(table, dict) or key not in table or not isinstance(table[key], kind):
        fail(
            f"{rel(PIN_FILE)} is malformed: {section + '.' if section else ''}{key} is missing "
            f"or not a {kind.__name__}; restore it from git"
        )
    return table[key]


def _source_pin(data: Any, at: str) -> SourcePin:
    """The "libbpf" and "debian_source" tables found in `data` (`at` names it in messages)."""
    lib_at, src_at = f"{at}libbpf", f"{at}debian_source"
    lib = _field(data, at.rstrip("."), "libbpf", dict)
    src = _field(data, at.rstrip("."), "debian_source", dict)
    pin = SourcePin(
        version=_field(lib, lib_at, "version", str),
        orig_tarball=_field(lib, lib_at, "orig_tarball", str),
        orig_sha256=_field(lib, lib_at, "orig_sha256", str).lower(),
        src_package=_field(src, src_at, "package", str),
        src_version=_field(src, src_at, "version", str),
        src_suites=tuple(_field(src, src_at, "suites", list)),
        src_component=_field(src, src_at, "component", str),
        debian_tarball=_field(src, src_at, "debian_tarball", str),
        debian_tarball_sha256=_field(src, src_at, "debian_tarball_sha256", str).lower(),
    )
    if upstream_of(pin.src_version) != pin.version:
        fail(
            f"{rel(PIN_FILE)} is malformed: {src_at}.version {pin.src_version} is not a "
            f"packaging of {lib_at}.version {pin.version}; restore it from git"
        )
    return pin


def load_pin() -> Pin:
    try:
        data = json.loads(PIN_FILE.read_text(encoding="utf-8"))
    except FileNotFoundError:
        fail(f"{rel(PIN_FILE)} is missing; restore it from git")
    except (OSError, ValueError) as exc:
        fail(f"{rel(PIN_FILE)} cannot be read as JSON ({exc}); restore it from git")
    binary = _field(data, "", "debian_binary", dict)
    sums = _field(binary, "debian_binary", "sha256", dict)
    shared: dict[str, SourcePin] = {}
    for key, table in _field(data, "", "shared_sources", dict).items():
        spin = _source_pin(table, f"shared_sources.{key}.")
        if ".".join(spin.version.split(".")[:2]) != key:
            fail(
                f"{rel(PIN_FILE)} is malformed: shared_sources.{key} pins libbpf {spin.version}, "
                f"not a {key} release; restore it from git"
            )
        shared[key] = spin
    return Pin(
        source=_source_pin(data, ""),
        shared_sources=shared,
        bin_suite=_field(binary, "debian_binary", "suite", str),
        bin_component=_field(binary, "debian_binary", "component", str),
        bin_version=_field(binary, "debian_binary", "version", str),
        bin_upstream=_field(binary, "debian_binary", "upstream_version", str),
        bin_packages=tuple(_field(binary, "debian_binary", "packages", list)),
        bin_sha256={
            str(k): {str(p): str(s).lower() for p, s in v.items()} for k, v in sums.items()
        },
    )


# ------------------------------------------------------------------ small helpers


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def need_tool(name: str, package: str | None = None) -> str:
    found = shutil.which(name)
    if found is None:
        pkg = package or TOOL_PACKAGES.get(name, name)
        fail(f"{name} is not installed: install {pkg} (apt-get install {pkg})")
    return found


def cc_command() -> list[str]:
    words = shlex.split(os.environ.get("CC", "") or "cc")
    need_tool(words[0], "build-essential")
    return words


def run(
    cmd: Sequence[str],
    *,
    what: str,
    hint: str,
    cwd: Path | None = None,
) -> None:
    """Run a command with its output on stderr; fail with `hint` when it fails."""
    sys.stderr.flush()
    try:
        proc = subprocess.run(list(cmd), cwd=cwd, stdout=sys.stderr, check=False)
    except FileNotFoundError:
        need_tool(cmd[0])
        raise
    if proc.returncode != 0:
        fail(f"{what} failed (exit status {proc.returncode}, see the messages above); {hint}")


def capture(cmd: Sequence[str], *, what: str, cwd: Path | None = None) -> str:
    try:
        proc = subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        need_tool(cmd[0])
        raise
    if proc.returncode != 0:
        detail = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        fail(f"{what} failed (exit status {proc.returncode}): {detail}")
    return proc.stdout


def dpkg_version_gt(left: str, right: str) -> bool:
    return (
        subprocess.run(["dpkg", "--compare-versions", left, "gt", right], check=False).returncode
        == 0
    )


def upstream_of(debian_version: str) -> str:
    version = debian_version.split(":", 1)[-1]
    return version.rsplit("-", 1)[0] if "-" in version else version


def strip_epoch(debian_version: str) -> str:
    return debian_version.split(":", 1)[-1]


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


@contextlib.contextmanager
def build_lock() -> Iterator[None]:
    """Serialise concurrent runs (e.g. parallel tox environments) on vendor/build."""
    BUILD.mkdir(parents=True, exist_ok=True)
    with (BUILD / ".provision.lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log("waiting for another provision.py run to finish")
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def read_stamp(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_stamp(path: Path, identity: dict[str, Any]) -> None:
    data = {"identity": identity, "made_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)


def stamp_matches(path: Path, identity: dict[str, Any]) -> bool:
    data = read_stamp(path)
    return data is not None and data.get("identity") == identity


def fresh_dir(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)


# ---------------------------------------------------------------- apt (private)


def system_codename() -> str | None:
    try:
        text = OS_RELEASE.read_text(encoding="utf-8")
    except OSError:
        return None
    match = re.search(r"^VERSION_CODENAME=\"?([A-Za-z0-9.-]+)\"?\s*$", text, re.M)
    return match.group(1) if match else None


def parse_deb822(text: str) -> list[dict[str, str]]:
    stanzas: list[dict[str, str]] = []
    current: dict[str, str] = {}
    key: str | None = None
    for line in [*text.splitlines(), ""]:
        if line.startswith("#"):
            continue
        if not line.strip():
            if current:
                stanzas.append(current)
            current, key = {}, None
        elif line[0] in " \t" and key is not None:
            current[key] += " " + line.strip()
        elif ":" in line:
            name, value = line.split(":", 1)
            key = name.strip().lower()
            current[key] = value.strip()
    return stanzas


def _pick(candidates: list[tuple[str, list[str]]], codename: str | None) -> str | None:
    """Choose the URI serving the release's main suite (not -security) from (uri, suites)."""
    best: tuple[int, str] | None = None
    for uri, suites in candidates:
        if codename is not None and codename in suites:
            score = 0
        elif any(not s.endswith("-security") and "/" not in s for s in suites):
            score = 1
        else:
            continue
        if best is None or score < best[0]:
            best = (score, uri)
    return best[1].rstrip("/") if best else None


def mirror_uri() -> str:
    codename = system_codename()
    tried: list[str] = []
    if DEB822_SOURCES.is_file():
        tried.append(str(DEB822_SOURCES))
        candidates: list[tuple[str, list[str]]] = []
        for stanza in parse_deb822(DEB822_SOURCES.read_text(encoding="utf-8")):
            if stanza.get("enabled", "yes").lower() == "no":
                continue
            if not set(stanza.get("types", "").split()) & {"deb", "deb-src"}:
                continue
            uris = stanza.get("uris", "").split()
            if uris:
                candidates.append((uris[0], stanza.get("suites", "").split()))
        uri = _pick(candidates, codename)
        if uri:
            return uri
    if ONE_LINE_SOURCES.is_file():
        tried.append(str(ONE_LINE_SOURCES))
        one_line: list[tuple[str, list[str]]] = []
        pattern = re.compile(r"^\s*deb(?:-src)?\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)")
        for line in ONE_LINE_SOURCES.read_text(encoding="utf-8").splitlines():
            match = pattern.match(line)
            if match:
                one_line.append((match.group(1), [match.group(2)]))
        uri = _pick(one_line, codename)
        if uri:
            return uri
    if not tried:
        fail(
            f"neither {DEB822_SOURCES} (deb822) nor {ONE_LINE_SOURCES} (one-line) exists, so the "
            "Debian mirror is unknown: set LIBBPF_SRC to a local libbpf source tree or "
            "tarball instead"
        )
    fail(
        f"{' and '.join(tried)} {'names' if len(tried) == 1 else 'name'} no Debian mirror for "
        "the release (no deb822 'URIs:' stanza or one-line 'deb URI suite' entry for "
        f"{codename or 'a non-security suite'}): set "
        "LIBBPF_SRC to a local libbpf source tree or tarball instead"
    )


@dataclass
class Apt:
    pin: Pin
    refresh: bool = False
    root: Path = BUILD / "apt"
    _updated: bool = field(default=False, init=False)

    @property
    def sources(self) -> Path:
        return self.root / "sources.list"

    @property
    def lists(self) -> Path:
        return self.root / "lists"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def marker(self) -> Path:
        return self.root / "last-update.json"

    def options(self) -> list[str]:
        opts = {
            "Dir::Etc::SourceList": str(self.sources),
            "Dir::Etc::SourceParts": "/dev/null",
            "Dir::State::Lists": f"{self.lists}/",
            "Dir::Cache": f"{self.cache}/",
            "Dir::Cache::archives": f"{self.cache}/archives/",
        }
        if os.geteuid() == 0:
            # Downloads land in root-owned directories; do not drop to the _apt user.
            opts["APT::Sandbox::User"] = "root"
        args: list[str] = []
        for key, value in opts.items():
            args += ["-o", f"{key}={value}"]
        return args

    def _content(self) -> str:
        if not KEYRING.is_file():
            fail(
                f"{KEYRING} is missing: install debian-archive-keyring (apt-get install "
                "debian-archive-keyring)"
            )
        uri = mirror_uri()
        opts = f"[signed-by={KEYRING}]"
        lines = [
            "# Written by vendor/provision.py; the URI is copied from the system's apt sources."
        ]
        lines.append(f"deb {opts} {uri} {self.pin.bin_suite} {self.pin.bin_component}")
        lines += [
            f"deb-src {opts} {uri} {suite} {component}" for suite, component in self.src_suites()
        ]
        return "\n".join(lines) + "\n"

    def src_suites(self) -> list[tuple[str, str]]:
        """(suite, component) of every pinned source package, in pin order, each once."""
        found: list[tuple[str, str]] = []
        for spin in (self.pin.source, *self.pin.shared_sources.values()):
            for suite in spin.src_suites:
                if (suite, spin.src_component) not in found:
                    found.append((suite, spin.src_component))
        return found

    def _is_fresh(self, content: str) -> bool:
        marker = read_stamp(self.marker)
        if marker is None or marker.get("sources") != content:
            return False
        if not any(p.is_file() and p.name != "lock" for p in self.lists.iterdir()):
            return False
        return time.time() - self.marker.stat().st_mtime < APT_MAX_AGE

    def ensure(self, force: bool = False) -> None:
        """Write the private list and run `apt-get update` when it is stale."""
        need_tool("apt-get")
        content = self._content()
        for directory in (self.lists / "partial", self.cache / "archives" / "partial"):
            directory.mkdir(parents=True, exist_ok=True)
        if not self.sources.is_file() or self.sources.read_text(encoding="utf-8") != content:
            self.sources.write_text(content, encoding="utf-8")
        if self._updated or (not (force or self.refresh) and self._is_fresh(content)):
            return
        log(f"apt-get update on the private list {rel(self.sources)}")
        suites = ", ".join(suite for suite, _ in self.src_suites())
        run(
            ["apt-get", "-q", *self.options(), "update"],
            what="apt-get update on the private list",
            hint=f"check that the mirror in {rel(self.sources)} is reachable and serves suites "
            f"{self.pin.bin_suite} and {suites}, or set LIBBPF_SRC to a "
            "local libbpf source tree or tarball",
        )
        self.marker.write_text(json.dumps({"sources": content}) + "\n", encoding="utf-8")
        self._updated = True

    def fetch(self, args: list[str], cwd: Path, what: str, hint: str) -> None:
        """Run an apt-get download command; on failure refresh stale lists once and retry."""
        self.ensure()
        cmd = ["apt-get", "-q", *self.options(), *args]
        sys.stderr.flush()
        if subprocess.run(cmd, cwd=cwd, stdout=sys.stderr, check=False).returncode == 0:
            return
        if not self._updated:
            log("download failed; refreshing the private apt lists and retrying once")
            self.ensure(force=True)
        run(cmd, cwd=cwd, what=what, hint=hint)

    def source_versions(self, package: str) -> list[str]:
        self.ensure()
        proc = subprocess.run(
            ["apt-cache", *self.options(), "showsrc", package],
            capture_output=True,
            text=True,
            check=False,
        )
        versions: list[str] = []
        for stanza in parse_deb822(proc.stdout):
            if stanza.get("package") == package and "version" in stanza:
                versions.append(stanza["version"])
        return versions


# ------------------------------------------------------------------ libbpf sources


@dataclass(frozen=True)
class Source:
    tree: Path
    version: str
    origin: str
    sha256: str
    patches: tuple[str, ...] = ()

    def identity(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "origin": self.origin,
            "sha256": self.sha256,
            "patches": list(self.patches),
        }


REQUIRED_TREE_FILES = (
    "src/Makefile",
    "src/libbpf.map",
    "src/libbpf.h",
    "src/bpf.h",
    "include/uapi/linux/bpf.h",
)


def check_tree(tree: Path, described: str) -> None:
    for name in REQUIRED_TREE_FILES:
        if not (tree / name).is_file():
            fail(
                f"{described} is not a libbpf source tree: {tree / name} is missing "
                "(name the top of a libbpf checkout, the directory that holds src/ and include/)"
            )


def tree_version(tree: Path) -> str:
    """The libbpf version of a source tree: src/Makefile, else libbpf_version.h, else libbpf.map."""
    makefile = (tree / "src/Makefile").read_text(encoding="utf-8", errors="replace")
    parts = [
        re.search(rf"^LIBBPF_{p}_VERSION\s*:?=\s*(\d+)", makefile, re.M)
        for p in ("MAJOR", "MINOR", "PATCH")
    ]
    if all(parts):
        return ".".join(m.group(1) for m in parts if m)
    header = tree / "src/libbpf_version.h"
    if header.is_file():
        text = header.read_text(encoding="utf-8", errors="replace")
        major = re.search(r"#define\s+LIBBPF_MAJOR_VERSION\s+(\d+)", text)
        minor = re.search(r"#define\s+LIBBPF_MINOR_VERSION\s+(\d+)", text)
        if major and minor:
            return f"{major.group(1)}.{minor.group(1)}.0"
    nodes = re.findall(
        r"^LIBBPF_(\d+)\.(\d+)\.(\d+)", (tree / "src/libbpf.map").read_text(encoding="utf-8"), re.M
    )
    if not nodes:
        fail(
            f"cannot tell the libbpf version of {tree}: no version in src/Makefile, "
            "src/libbpf_version.h or src/libbpf.map"
        )
    return ".".join(str(n) for n in max(tuple(int(x) for x in node) for node in nodes))


def check_supported(version: str, described: str) -> None:
    if version_tuple(version) < (1, 0):
        fail(f"{described} holds libbpf {version}; libbpf_py needs libbpf 1.0 or newer")


def tree_hash(tree: Path) -> str:
    """A content hash of the files that make up a libbpf build (src/ and include/)."""
    digest = hashlib.sha256()
    suffixes = {".c", ".h", ".map", ".template"}
    for top in ("src", "include"):
        for path in sorted((tree / top).rglob("*")):
            if path.is_file() and (path.suffix in suffixes or path.name == "Makefile"):
                digest.update(str(path.relative_to(tree)).encode() + b"\0")
                digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def source_from_tree(env_value: str) -> Source:
    tree = Path(env_value).expanduser().resolve()
    described = f"LIBBPF_SRC={env_value}"
    if not tree.is_dir():
        fail(
            f"{described} does not exist; name the top of a libbpf source tree or a libbpf "
            "source .tar.gz"
        )
    if (
        not (tree / "src").is_dir()
        and (tree / "libbpf.map").is_file()
        and (tree.parent / "include/uapi").is_dir()
    ):
        log(f"{described} is libbpf's src/ directory; using its parent {tree.parent}")
        tree = tree.parent
    check_tree(tree, described)
    version = tree_version(tree)
    check_supported(version, described)
    log(f"using the libbpf source tree {tree} as is: version {version}")
    return Source(tree=tree, version=version, origin=f"tree {tree}", sha256=tree_hash(tree))


def safe_extract(archive: Path, dest: Path) -> None:
    try:
        with tarfile.open(archive) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(dest, filter="data")
            else:  # Python without extraction filters: refuse unsafe members ourselves.
                for member in tar.getmembers():
                    names = [member.name] + ([member.linkname] if member.issym() else [])
                    unsafe = any(n.startswith("/") or ".." in Path(n).parts for n in names)
                    if unsafe or not (member.isfile() or member.isdir() or member.issym()):
                        fail(
                            f"{archive} holds an unsafe member {member.name!r}; it is not a "
                            "libbpf source tarball"
                        )
                tar.extractall(dest)
    except (tarfile.TarError, OSError) as exc:
        detail = (str(exc).splitlines() or ["unknown error"])[0].rstrip(":")
        fail(
            f"{archive} cannot be unpacked as a tar archive ({detail}); "
            "name a libbpf source .tar.gz"
        )


def find_tree_root(top: Path) -> Path | None:
    if (top / "src/libbpf.map").is_file():
        return top
    dirs = [p for p in top.iterdir() if p.is_dir()]
    for candidate in dirs:
        if (candidate / "src/libbpf.map").is_file():
            return candidate
    return dirs[0] if len(dirs) == 1 else None


def apply_debian_patches(tree: Path, debian_tar: Path) -> tuple[str, ...]:
    safe_extract(debian_tar, tree)
    series = tree / "debian/patches/series"
    if not series.is_file():
        return ()
    applied: list[str] = []
    for line in series.read_text(encoding="utf-8").splitlines():
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        level = next((w for w in words[1:] if w.startswith("-p")), "-p1")
        need_tool("patch")
        run(
            [
                "patch",
                level,
                "--forward",
                "--batch",
                "--silent",
                "--no-backup-if-mismatch",
                "-d",
                str(tree),
                "-i",
                str(tree / "debian/patches" / words[0]),
            ],
            what=f"applying Debian's patch {words[0]}",
            hint="the Debian source package does not fit its orig tarball; report it and use "
            "LIBBPF_SRC=/the/orig.tar.gz",
        )
        applied.append(words[0])
    return tuple(applied)


def unpack_source(
    archive: Path,
    origin: str,
    sha: str,
    expect_version: str | None,
    debian_tar: Path | None,
    force: bool,
) -> Source:
    """Extract a verified tarball to vendor/build/src/libbpf-<version>.

    An earlier extraction with the same origin and checksum is reused.
    """
    src_root = BUILD / "src"
    src_root.mkdir(parents=True, exist_ok=True)
    for existing in sorted(src_root.glob("libbpf-*")):
        stamp = read_stamp(existing / SOURCE_STAMP_NAME)
        if (
            not force
            and stamp
            and stamp.get("identity", {}).get("origin") == origin
            and stamp["identity"].get("sha256") == sha
        ):
            ident = stamp["identity"]
            return Source(
                tree=existing,
                version=str(ident["version"]),
                origin=origin,
                sha256=sha,
                patches=tuple(ident.get("patches", [])),
            )
    log(f"unpacking {archive.name}")
    tmp = Path(tempfile.mkdtemp(prefix=".unpack-", dir=src_root))
    try:
        safe_extract(archive, tmp)
        tree = find_tree_root(tmp)
        if tree is None:
            fail(f"{archive} holds no libbpf source tree (no src/libbpf.map inside)")
        check_tree(tree, str(archive))
        version = tree_version(tree)
        check_supported(version, str(archive))
        if expect_version is not None and version != expect_version:
            fail(
                f"{archive} holds libbpf {version}, not the pinned {expect_version}; update "
                f"{rel(PIN_FILE)}"
            )
        patches = apply_debian_patches(tree, debian_tar) if debian_tar else ()
        source = Source(
            tree=src_root / f"libbpf-{version}",
            version=version,
            origin=origin,
            sha256=sha,
            patches=patches,
        )
        write_stamp(tree / SOURCE_STAMP_NAME, source.identity())
        if source.tree.exists():
            shutil.rmtree(source.tree)
        tree.rename(source.tree)
        log(
            f"libbpf {version} source unpacked into {rel(source.tree)}"
            + (f" with Debian patches {', '.join(patches)}" if patches else "")
        )
        return source
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def source_from_tarball(
    env_value: str, pin: SourcePin, force: bool, variable: str = "LIBBPF_SRC_TARBALL"
) -> Source:
    archive = Path(env_value).expanduser().resolve()
    if not archive.is_file():
        fail(f"{variable}={env_value} does not exist; name a libbpf source .tar.gz")
    override = os.environ.get("LIBBPF_SRC_SHA256", "").strip().lower()
    if override and not re.fullmatch(r"[0-9a-f]{64}", override):
        fail(f"LIBBPF_SRC_SHA256={override} is not a sha256 (64 hex digits)")
    expected = override or pin.orig_sha256
    actual = sha256_file(archive)
    if actual != expected:
        source_of_expectation = "LIBBPF_SRC_SHA256" if override else f"the pin in {rel(PIN_FILE)}"
        fail(
            f"checksum mismatch for {archive}: its sha256 is {actual} but "
            f"{source_of_expectation} expects {expected}; if you trust this file, set "
            f"LIBBPF_SRC_SHA256={actual}"
        )
    log(f"{archive.name}: sha256 {actual} verified")
    return unpack_source(
        archive, f"tarball {archive}", actual, None if override else pin.version, None, force
    )


def parse_dsc_files(dsc: Path) -> dict[str, str]:
    """File name -> sha256 from a .dsc's Checksums-Sha256 field."""
    files: dict[str, str] = {}
    in_field = False
    for line in dsc.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("Checksums-Sha256:"):
            in_field = True
        elif in_field and line.startswith(" "):
            parts = line.split()
            if len(parts) == 3:
                files[parts[2]] = parts[0]
        elif in_field:
            break
    return files


def source_from_debian(pin: SourcePin, apt: Apt, force: bool, overridable: bool = True) -> Source:
    """Debian's source package of `pin`, verified; `overridable`: LIBBPF_SRC may replace it,
    which the failure messages then suggest."""
    if overridable:
        instead = "set LIBBPF_SRC to a local libbpf tarball instead"
    else:
        instead = (
            f"update libbpf {pin.version}'s entry in {rel(PIN_FILE)} to a version the mirror "
            "serves, with its checked sha256 values"
        )
    downloads = BUILD / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    orig = downloads / pin.orig_tarball
    debian_tar = downloads / pin.debian_tarball
    origin = f"debian source {pin.src_package} {pin.src_version}"
    if not force:
        for existing in sorted((BUILD / "src").glob("libbpf-*")):
            stamp = read_stamp(existing / SOURCE_STAMP_NAME)
            ident = stamp.get("identity", {}) if stamp else {}
            if (
                str(ident.get("origin", "")).startswith(f"debian source {pin.src_package} ")
                and ident.get("sha256") == pin.orig_sha256
                and ident.get("version") == pin.version
            ):
                return Source(
                    tree=existing,
                    version=pin.version,
                    origin=str(ident["origin"]),
                    sha256=pin.orig_sha256,
                    patches=tuple(ident.get("patches", [])),
                )
    have = (
        all(p.is_file() for p in (orig, debian_tar))
        and sha256_file(orig) == pin.orig_sha256
        and sha256_file(debian_tar) == pin.debian_tarball_sha256
    )
    version = pin.src_version
    if not have:
        need_tool("apt-get")
        available = apt.source_versions(pin.src_package)
        if version not in available:
            newer = [v for v in available if upstream_of(v) == pin.version]
            if not newer:
                fail(
                    f"the Debian mirror no longer serves {pin.src_package} {pin.version} source "
                    f"in suites {', '.join(pin.src_suites)} (it has "
                    f"{', '.join(available) or 'none'}); "
                    + (
                        f"set LIBBPF_SRC to a libbpf-{pin.version} tarball with sha256 "
                        f"{pin.orig_sha256}"
                        if overridable
                        else instead
                    )
                )
            version = newer[0]
            for candidate in newer[1:]:
                if dpkg_version_gt(candidate, version):
                    version = candidate
            log(
                f"pinned {pin.src_package} {pin.src_version} is gone from the mirror; using "
                f"{version}, whose orig tarball is still checked against the pin"
            )
            origin = f"debian source {pin.src_package} {version}"
        log(f"downloading Debian source package {pin.src_package} {version}")
        apt.fetch(
            ["source", "--download-only", f"{pin.src_package}={strip_epoch(version)}"],
            downloads,
            what=f"apt-get source {pin.src_package}={strip_epoch(version)}",
            hint=instead,
        )
        dsc_files = parse_dsc_files(downloads / f"{pin.src_package}_{strip_epoch(version)}.dsc")
        if pin.orig_tarball not in dsc_files:
            fail(
                f"Debian's {pin.src_package} {version} is not built from {pin.orig_tarball}; "
                + instead
            )
        debian_name = next((n for n in dsc_files if ".debian.tar." in n), None)
        if debian_name is None:
            fail(f"Debian's {pin.src_package} {version} has no debian tarball; {instead}")
        debian_tar = downloads / debian_name
    actual = sha256_file(orig)
    if actual != pin.orig_sha256:
        fail(
            f"checksum mismatch for Debian's {orig.name}: its sha256 is {actual} but "
            f"{rel(PIN_FILE)} expects {pin.orig_sha256}; check the mirror"
            + (
                ", or build from a tarball you trust with LIBBPF_SRC and LIBBPF_SRC_SHA256"
                if overridable
                else " before updating the pin"
            )
        )
    log(f"{orig.name}: sha256 {actual} verified against the pin")
    deb_sha = sha256_file(debian_tar)
    if version == pin.src_version and deb_sha != pin.debian_tarball_sha256:
        fail(
            f"checksum mismatch for Debian's {debian_tar.name}: its sha256 is {deb_sha} but "
            f"{rel(PIN_FILE)} expects {pin.debian_tarball_sha256}; check the mirror"
        )
    return unpack_source(orig, origin, actual, pin.version, debian_tar, force)


# Sources resolved in this run, by the pinned version they stand for.
_RESOLVED: dict[str, Source] = {}


def resolve_source(pin: SourcePin, apt: Apt, force: bool, overridable: bool = True) -> Source:
    """The source standing for `pin`, resolved once per run.

    With `overridable` (the static build and shared-1.5): LIBBPF_SRC (a tree or a tarball),
    else LIBBPF_SRC_TARBALL (its older spelling for a tarball), else Debian's source package.
    Otherwise always Debian's source package. Only Debian's source package uses the network.
    """
    if pin.version in _RESOLVED:
        return _RESOLVED[pin.version]
    tree = os.environ.get("LIBBPF_SRC", "").strip() if overridable else ""
    tarball = os.environ.get("LIBBPF_SRC_TARBALL", "").strip() if overridable else ""
    if tree and Path(tree).expanduser().is_file():
        source = source_from_tarball(tree, pin, force, variable="LIBBPF_SRC")
    elif tree:
        source = source_from_tree(tree)
    elif tarball:
        source = source_from_tarball(tarball, pin, force)
    else:
        source = source_from_debian(pin, apt, force, overridable)
    _RESOLVED[pin.version] = source
    return source


# ------------------------------------------------------------------------- build


def check_build_deps() -> dict[str, str]:
    """Fail with the package to install when the toolchain or a -dev package is missing."""
    for tool in ("make", "ar", "readelf", "install"):
        need_tool(tool)
    cc = cc_command()
    probes = [
        ("int main(void) { return 0; }\n", [], "a C program", "build-essential"),
        (
            "#include <gelf.h>\nint main(void) { return elf_version(EV_CURRENT) == EV_NONE; }\n",
            ["-lelf"],
            "libelf (gelf.h, -lelf)",
            "libelf-dev",
        ),
        (
            "#include <zlib.h>\nint main(void) { return zlibVersion() == 0; }\n",
            ["-lz"],
            "zlib (zlib.h, -lz)",
            "zlib1g-dev",
        ),
    ]
    tmp = BUILD / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    for program, libs, what, package in probes:
        proc = subprocess.run(
            [*cc, "-x", "c", "-", "-o", str(tmp / "probe"), *libs],
            input=program,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            fail(
                f"{' '.join(cc)} cannot build {what}: install {package} (apt-get install {package})"
            )
    extra: dict[str, str] = {}
    if shutil.which(os.environ.get("PKG_CONFIG", "pkg-config")) is None:
        extra["NO_PKG_CONFIG"] = "1"
    return extra


def make_install(source: Source, prefix: Path, objdir: Path, static_only: bool) -> None:
    if " " in str(prefix) or " " in str(objdir):
        fail(
            f"{prefix} contains a space, which libbpf's Makefile cannot install into; move the "
            "checkout"
        )
    variables = check_build_deps()
    fresh_dir(objdir)
    if prefix.exists():
        shutil.rmtree(prefix)
    variables.update(
        {
            "OBJDIR": str(objdir),
            "DESTDIR": "",
            "PREFIX": str(prefix),
            "LIBDIR": str(prefix / "lib"),
            "EXTRA_CFLAGS": EXTRA_CFLAGS,
        }
    )
    if static_only:
        variables["BUILD_STATIC_ONLY"] = "y"
    jobs = max(2, os.cpu_count() or 2)
    cmd = [
        "make",
        "-C",
        str(source.tree / "src"),
        f"-j{jobs}",
        *(f"{k}={v}" for k, v in variables.items()),
        "install",
        "install_uapi_headers",
    ]
    log(
        f"building libbpf {source.version} ({'static, PIC' if static_only else 'shared'}) into "
        f"{rel(prefix)}"
    )
    run(
        cmd,
        what=f"building libbpf {source.version}",
        hint="the compiler output above names the problem",
    )


def build_identity(kind: str, source: Source) -> dict[str, Any]:
    return {
        "stamp_revision": STAMP_REVISION,
        "kind": kind,
        **source.identity(),
        "extra_cflags": EXTRA_CFLAGS,
        "cc": os.environ.get("CC", ""),
        "cflags": os.environ.get("CFLAGS", ""),
    }


# Relocations that cannot appear in a shared object's text: absolute 32-bit (non-PIC code)
# and PC-relative references to a global symbol without the GOT/PLT (PIE code, e.g. Debian's
# own libbpf.a, which has no R_X86_64_32 at all but still cannot go into a .so).
ABS32 = {"R_X86_64_32", "R_X86_64_32S"}
PCREL = {"R_X86_64_PC32"}
NON_ALLOC = re.compile(r"^\.rela?\.(debug|gnu\.debuglto|comment|note)")


def _members(readelf_output: str) -> Iterator[tuple[str, list[str]]]:
    member = ""
    lines: list[str] = []
    for line in readelf_output.splitlines():
        match = re.match(r"^File: .*\((.+)\)$", line)
        if match:
            if lines or member:
                yield member, lines
            member, lines = match.group(1), []
        else:
            lines.append(line)
    yield member, lines


def pic_problems(archive: Path) -> tuple[int, list[str]]:
    """Scan an archive's relocations: (object count, descriptions of non-PIC relocations).

    Relocations in non-allocated sections (.debug_*) are ignored: R_X86_64_32 there is
    normal DWARF and never reaches the loaded image.
    """
    symbols: dict[str, set[str]] = {}
    for member, lines in _members(
        capture(["readelf", "-sW", str(archive)], what=f"readelf -s {archive}")
    ):
        names = symbols.setdefault(member, set())
        for line in lines:
            cols = line.split()
            if len(cols) >= 8 and cols[0].endswith(":") and cols[4] in ("GLOBAL", "WEAK"):
                names.add(cols[7])
    problems: list[str] = []
    objects = 0
    for member, lines in _members(
        capture(["readelf", "-rW", str(archive)], what=f"readelf -r {archive}")
    ):
        if member:
            objects += 1
        section = ""
        for line in lines:
            header = re.match(r"^Relocation section '([^']+)'", line)
            if header:
                section = header.group(1)
                continue
            cols = line.split()
            if len(cols) < 3 or not cols[2].startswith("R_") or NON_ALLOC.match(section):
                continue
            kind, symbol = cols[2], cols[4] if len(cols) >= 5 else ""
            if kind in ABS32 or (kind in PCREL and symbol in symbols.get(member, set())):
                target = symbol or "an absolute address"
                problems.append(f"{member}: {kind} in {section} against {target}")
    return objects, problems


def verify_pic(archive: Path) -> None:
    """Fail unless every object in the archive can be linked into a shared object."""
    if not archive.is_file():
        fail(f"{archive} does not exist")
    need_tool("readelf")
    if platform.machine() == "x86_64":
        objects, problems = pic_problems(archive)
        if objects == 0:
            fail(f"{archive} holds no object files; rebuild with --force")
        if problems:
            fail(
                f"{archive} is not position-independent: {len(problems)} relocation(s) cannot go "
                f"into a shared object (e.g. {problems[0]}); build a PIC one with `python "
                "vendor/provision.py static` (and check that CFLAGS in the environment does not "
                "drop -fPIC)"
            )
        log(
            f"PIC check: {objects} objects in {archive.name}, no R_X86_64_32/32S and no PC32 to "
            "a global symbol"
        )
    else:
        log(f"PIC check: no relocation rules for {platform.machine()}; relying on the link test")
    tmp = BUILD / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    cc = cc_command()
    proc = subprocess.run(
        [
            *cc,
            "-shared",
            "-o",
            str(tmp / "pic-test.so"),
            "-Wl,--whole-archive",
            str(archive),
            "-Wl,--no-whole-archive",
            "-lelf",
            "-lz",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        reason = next(
            (ln for ln in proc.stderr.splitlines() if "relocation" in ln or "error" in ln),
            proc.stderr.strip()[-200:],
        )
        fail(
            f"{archive} cannot be linked into a shared object ({reason.strip()}); rebuild it "
            "with -fPIC"
        )
    log("PIC check: the whole archive links into a shared object")


def soname(library: Path) -> str | None:
    out = capture(["readelf", "-dW", str(library)], what=f"readelf -d {library}")
    match = re.search(r"\(SONAME\).*\[(.+)\]", out)
    return match.group(1) if match else None


def verify_loads(library: Path, version: str) -> None:
    """Load the library in a child Python and compare libbpf_version_string() with `version`."""
    code = (
        "import ctypes, sys\n"
        "lib = ctypes.CDLL(sys.argv[1])\n"
        "lib.libbpf_version_string.restype = ctypes.c_char_p\n"
        "print(lib.libbpf_version_string().decode())\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(library)], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        detail = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        fail(
            f"{library} does not load on this system ({detail}); it needs a newer glibc or a "
            "missing dependency (install libelf1 and zlib1g)"
        )
    loaded = proc.stdout.strip()
    want = "v{}.{}".format(*version.split(".")[:2])
    if loaded != want:
        fail(f"{library} reports libbpf {loaded}, expected {want}; rebuild with --force")
    log(f"{library.name} loads and reports {loaded}")


def check_headers(prefix: Path) -> None:
    for name in (
        "include/bpf/libbpf.h",
        "include/bpf/bpf.h",
        "include/bpf/btf.h",
        "include/linux/bpf.h",
    ):
        if not (prefix / name).is_file():
            fail(f"{prefix / name} was not installed; rebuild with --force")


def provision_build(
    pin: SourcePin, apt: Apt, static_only: bool, force: bool, overridable: bool = True
) -> Path:
    source = resolve_source(pin, apt, force, overridable)
    if source.version != pin.version:
        log(f"note: building libbpf {source.version}, not the pinned {pin.version}")
    kind = "static" if static_only else "shared"
    name = f"libbpf-{source.version}-static" if static_only else f"libbpf-{source.version}"
    prefix = BUILD / name
    identity = build_identity(kind, source)
    product = prefix / "lib" / ("libbpf.a" if static_only else "libbpf.so.1")
    if not force and product.exists() and stamp_matches(prefix / STAMP_NAME, identity):
        log(
            f"{rel(prefix)} is up to date (libbpf {source.version} from {source.origin}); "
            "--force rebuilds"
        )
        return prefix
    make_install(source, prefix, BUILD / "obj" / name, static_only)
    check_headers(prefix)
    if (prefix / "lib64").exists():
        fail(
            f"libbpf installed into {prefix / 'lib64'} although LIBDIR was given; rebuild with "
            "--force"
        )
    verify_pic(prefix / "lib" / "libbpf.a")
    if static_only:
        if list((prefix / "lib").glob("libbpf.so*")):
            fail(f"{prefix / 'lib'} holds a libbpf.so although BUILD_STATIC_ONLY=y was given")
    else:
        if not product.exists():
            fail(f"{product} was not installed; see the make output above")
        found = soname(product)
        if found != "libbpf.so.1":
            fail(f"{product} has SONAME {found}, not libbpf.so.1; rebuild with --force")
        log(f"{product.name}: SONAME {found}")
        verify_loads(product, source.version)
    write_stamp(prefix / STAMP_NAME, identity)
    return prefix


# ----------------------------------------------------------- Debian binary packages


def provision_debian(pin: Pin, apt: Apt, force: bool) -> Path:
    need_tool("dpkg")
    arch = capture(["dpkg", "--print-architecture"], what="dpkg --print-architecture").strip()
    sums = pin.bin_sha256.get(arch)
    if not sums or any(p not in sums for p in pin.bin_packages):
        fail(
            f"{rel(PIN_FILE)} has no .deb checksums for architecture {arch}; add them under "
            f"debian_binary.sha256.{arch} after a trial download"
        )
    base = BUILD / f"libbpf-{pin.bin_upstream}"
    root, debs = base / "root", base / "debs"
    prefix = root / "usr"
    identity = {
        "stamp_revision": STAMP_REVISION,
        "kind": "debian-binary",
        "version": pin.bin_version,
        "suite": pin.bin_suite,
        "arch": arch,
        "sha256": sums,
    }
    if (
        not force
        and stamp_matches(prefix / STAMP_NAME, identity)
        and list(prefix.glob("lib/*/libbpf.so.1"))
    ):
        log(f"{rel(prefix)} is up to date (Debian {pin.bin_version}); --force re-extracts")
        return prefix
    debs.mkdir(parents=True, exist_ok=True)
    files = {
        p: debs / f"{p}_{pin.bin_version.replace(':', '%3a')}_{arch}.deb" for p in pin.bin_packages
    }
    missing = [p for p, f in files.items() if not f.is_file() or sha256_file(f) != sums[p]]
    if missing:
        for package in missing:
            files[package].unlink(missing_ok=True)
        log(f"downloading {', '.join(missing)} {pin.bin_version} from {pin.bin_suite}")
        apt.fetch(
            ["download", *(f"{p}={pin.bin_version}" for p in missing)],
            debs,
            what=f"apt-get download of {', '.join(missing)} {pin.bin_version}",
            hint=f"the mirror may no longer serve {pin.bin_version} in {pin.bin_suite}; update "
            f"{rel(PIN_FILE)}",
        )
    for package, path in files.items():
        if not path.is_file():
            fail(
                f"apt-get did not save {path.name}; update {rel(PIN_FILE)} to the version the "
                "mirror serves"
            )
        actual = sha256_file(path)
        if actual != sums[package]:
            fail(
                f"checksum mismatch for {path.name}: its sha256 is {actual} but {rel(PIN_FILE)} "
                f"expects {sums[package]}; check the mirror before updating the pin"
            )
        log(f"{path.name}: sha256 verified against the pin")
    tmp = Path(tempfile.mkdtemp(prefix=".root-", dir=base))
    try:
        for path in files.values():
            run(
                ["dpkg", "-x", str(path), str(tmp)],
                what=f"dpkg -x {path.name}",
                hint="the .deb may be damaged; delete vendor/build and retry",
            )
        libs = list((tmp / "usr").glob("lib/*/libbpf.so.1"))
        if not libs or not (tmp / "usr/include/bpf/libbpf.h").is_file():
            fail(
                "the extracted packages lack usr/include/bpf/libbpf.h or "
                f"usr/lib/<multiarch>/libbpf.so.1; check {rel(PIN_FILE)}"
            )
        # The .pc file says prefix=/usr; point it at where the tree really is.
        for pc in (tmp / "usr").glob("lib/*/pkgconfig/libbpf.pc"):
            text = re.sub(
                r"^prefix=/usr$", f"prefix={prefix}", pc.read_text(encoding="utf-8"), flags=re.M
            )
            pc.write_text(text, encoding="utf-8")
        if root.exists():
            shutil.rmtree(root)
        tmp.rename(root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    library = next(iter(prefix.glob("lib/*/libbpf.so.1")))
    log(f"{rel(library)}: SONAME {soname(library)}")
    verify_loads(library, pin.bin_upstream)
    write_stamp(prefix / STAMP_NAME, identity)
    return prefix


# --------------------------------------------------------------------------- CLI


def cmd_static(args: argparse.Namespace, pin: Pin, apt: Apt) -> list[Path]:
    return [provision_build(pin.source, apt, static_only=True, force=args.force)]


def cmd_shared(args: argparse.Namespace, pin: Pin, apt: Apt) -> list[Path]:
    return [provision_build(pin.source, apt, static_only=False, force=args.force)]


def shared_source(pin: Pin, minor: str) -> SourcePin:
    spin = pin.shared_sources.get(minor)
    if spin is None:
        fail(f"{rel(PIN_FILE)} has no shared_sources.{minor} entry; restore it from git")
    return spin


def cmd_shared_17(args: argparse.Namespace, pin: Pin, apt: Apt) -> list[Path]:
    spin = shared_source(pin, "1.7")
    return [provision_build(spin, apt, static_only=False, force=args.force, overridable=False)]


def cmd_debian(args: argparse.Namespace, pin: Pin, apt: Apt) -> list[Path]:
    return [provision_debian(pin, apt, force=args.force)]


def cmd_source(args: argparse.Namespace, pin: Pin, apt: Apt) -> list[Path]:
    return [resolve_source(pin.source, apt, force=args.force).tree]


def cmd_all(args: argparse.Namespace, pin: Pin, apt: Apt) -> list[Path]:
    paths: list[Path] = []
    steps = (
        ("static", cmd_static),
        ("shared-1.5", cmd_shared),
        ("shared-1.7", cmd_shared_17),
        ("debian-1.4", cmd_debian),
    )
    for name, step in steps:
        started = time.monotonic()
        paths += step(args, pin, apt)
        log(f"{name} step took {time.monotonic() - started:.1f} s")
    return paths


def cmd_check_pic(args: argparse.Namespace, pin: Pin, apt: Apt) -> list[Path]:
    archive = Path(args.archive).resolve()
    verify_pic(archive)
    return [archive]


def uses_debian_mirror(command: str) -> bool:
    if command in ("debian-1.4", "shared-1.7", "all"):
        return True
    local = (
        os.environ.get("LIBBPF_SRC", "").strip() or os.environ.get("LIBBPF_SRC_TARBALL", "").strip()
    )
    return command in ("static", "shared-1.5", "source") and not local


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="provision.py",
        description="Fetch and build the libbpf copies libbpf_py tests and links against, under "
        "vendor/build/. The last line on stdout is the absolute prefix path.",
        epilog="Source of the 1.5.0 builds (static, shared-1.5), first match wins: "
        "LIBBPF_SRC=/libbpf/tree (used as is) or LIBBPF_SRC=/file.tar.gz (sha256 checked against "
        "the pin, or against LIBBPF_SRC_SHA256; LIBBPF_SRC_TARBALL is the older spelling), else "
        "Debian's source package through a private apt list. Only the last needs the network. "
        "shared-1.7 is always built from Debian's pinned 1.7.0 source package.",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--force", action="store_true", help="rebuild / re-extract even if the stamp matches"
    )
    common.add_argument(
        "--refresh",
        action="store_true",
        help="run apt-get update on the private list even if it is less than a day old",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands = [
        (
            "static",
            cmd_static,
            "PIC libbpf.a + headers in vendor/build/libbpf-<ver>-static (for LIBBPF_DYNAMIC=0)",
        ),
        (
            "shared-1.5",
            cmd_shared,
            "libbpf.so.1 built from the 1.5.0 source in vendor/build/libbpf-<ver>",
        ),
        (
            "shared-1.7",
            cmd_shared_17,
            "libbpf.so.1 built from Debian's 1.7.0 source (sid) in vendor/build/libbpf-1.7.0",
        ),
        (
            "debian-1.4",
            cmd_debian,
            "Debian's 1.4.6 backports packages unpacked; prefix vendor/build/libbpf-1.4.6/root/usr",
        ),
        (
            "all",
            cmd_all,
            "static, shared-1.5, shared-1.7 and debian-1.4; prints the four prefixes, one per line",
        ),
        (
            "source",
            cmd_source,
            "only fetch, verify and unpack the 1.5.0 source; prints the source tree",
        ),
    ]
    for name, func, text in commands:
        p = sub.add_parser(name, parents=[common], help=text, description=text)
        p.set_defaults(func=func)
    p = sub.add_parser(
        "check-pic",
        parents=[common],
        help="check that an archive can be linked into a .so",
        description="Fail unless ARCHIVE (a libbpf.a) is position-independent: readelf relocation "
        "scan plus a trial shared link.",
    )
    p.add_argument("archive", metavar="ARCHIVE")
    p.set_defaults(func=cmd_check_pic)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    started = time.monotonic()
    try:
        pin = load_pin()
        apt = Apt(pin, refresh=args.refresh)
        with build_lock():
            if args.refresh and uses_debian_mirror(args.command):
                apt.ensure(force=True)
            paths = args.func(args, pin, apt)
    except ProvisionError as exc:
        print(f"provision.py: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("provision.py: interrupted", file=sys.stderr)
        return 130
    log(f"{args.command} done in {time.monotonic() - started:.1f} s")
    sys.stderr.flush()
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
