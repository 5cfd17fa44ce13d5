"""The one builder of ``libbpf_py._libbpf`` (cffi API mode).

It reads the environment once (:class:`BuildConfig`), finds libbpf and decides
how to link it (:class:`LinkPlan`), reads the version of the libbpf headers,
assembles the version-gated declarations of ``libbpf_py/_cdefs`` and calls
``set_source``. The plan is printed to stderr so every build log says what was
linked and how.

Importing this file does nothing but define: setup.py's ``build_ext`` calls
:func:`prepare` when it really compiles (so an sdist, the metadata steps of a
PEP 517 build or ``egg_info`` never run pkg-config or fetch libbpf, and the plan
is printed once per build). By hand: ``python build_ffi.py --plan`` prints the
plan and stops, ``python build_ffi.py`` compiles the extension into the
current directory.

Build variables (the same meanings as bpftool's Makefile, except the default):

``LIBBPF_DYNAMIC``      ``1`` (default): link the shared libbpf.so.1.
                        ``0``: link a position-independent libbpf.a into the
                        extension and hide its symbols.
``LIBBPF_DIR``          an installed libbpf prefix (``include/`` and ``lib/``,
                        ``lib64/`` or ``lib/<multiarch>/``) to use instead of the
                        system one (dynamic) or the vendored one (static).
``LIBBPF_PY_NO_RPATH``  ``1``: a dynamic build against ``LIBBPF_DIR`` records no
                        rpath; the loader then finds libbpf.so.1 through
                        ``LD_LIBRARY_PATH`` or the system's search path.
``LIBBPF_SRC``          static builds without ``LIBBPF_DIR``: a libbpf source tree or
                        ``.tar.gz`` to build the PIC libbpf.a from, offline
                        (vendor/provision.py), instead of Debian's source package of
                        the pinned version. ``LIBBPF_SRC_TARBALL`` is its older
                        spelling for a tarball; ``LIBBPF_SRC_SHA256`` the checksum a
                        tarball must have when it is not the pinned one.
``LIBBPF_PY_VENDOR_BUILD``  where vendor/provision.py builds (default vendor/build/).
``LIBBPF_PY_SANITIZE``  ``address,undefined`` (or one of them): compile and link both
                        extensions, this one and ``_speedups`` (setup.py takes the
                        flags from :class:`BuildConfig`), with ``-fsanitize=...``.
                        The result only loads with the sanitizer runtimes preloaded
                        (tests/sanitized.py, the tox env ``asan``). Unset: no sanitizer.

What the build stamps into the extension (read back by ``libbpf_py/_buildinfo.py``):

``.libbpf_py.buildinfo``  ``key=value`` lines: mode, origin, header version, paths,
                          ``sanitize`` (the sanitizers compiled in, comma-separated),
                          and ``omitted``, the declared functions the headers lack
                          (``name@LIBBPF_x.y.z`` each), so that the binding need not
                          assemble the declarations again at import.
``.libbpf_py.versions``   for a static build, libbpf's version nodes (``LIBBPF_x=sym
                          sym ...``) from the version script (``src/libbpf.map``) of the
                          libbpf built in, or, when no script is found, from the
                          archive's symbols; ``source=`` says which. A dynamic build
                          reads the nodes from the loaded libbpf.so at run time.
"""

# No "from __future__ import annotations": the tests run this file with runpy,
# under a name dataclasses cannot always resolve string annotations in.

import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple

import cffi
import pkgconfig

HERE = Path(__file__).resolve().parent
MIN_VERSION = (1, 0)
ACCEPTED_DYNAMIC = {"1": True, "0": False}
ACCEPTED_NO_RPATH = {"": False, "0": False, "1": True}
SANITIZERS = ("address", "undefined")
#: the variables of vendor/provision.py that BuildConfig reads and hands on
PROVISION_VARS = ("LIBBPF_SRC", "LIBBPF_SRC_TARBALL", "LIBBPF_SRC_SHA256",
                  "LIBBPF_PY_VENDOR_BUILD")

#: the module this script builds (setup.py names its extension after it)
EXTENSION = "libbpf_py._libbpf"

_FEDORA_DEV = "libbpf-devel"
_DEBIAN_DEV = "libbpf-dev"


class BuildError(Exception):
    """A build that cannot go on; the message is one sentence saying what to do."""


def _absolute(raw: str) -> Path:
    path = Path(raw).expanduser()
    return (path if path.is_absolute() else Path.cwd() / path).resolve()


@dataclass(frozen=True)
class BuildConfig:
    """Everything the build takes from the environment, read in one place."""

    dynamic: bool
    prefix: Optional[Path]
    rpath: bool
    sanitize: Tuple[str, ...] = ()  # subset of SANITIZERS, in that order
    source: Optional[Path] = None  # LIBBPF_SRC: a libbpf source tree or tarball
    source_sha256: Optional[str] = None  # LIBBPF_SRC_SHA256
    vendor_build: Optional[Path] = None  # LIBBPF_PY_VENDOR_BUILD

    @property
    def sanitizer_compile_args(self) -> List[str]:
        """For every extension of the package, the cffi one and ``_speedups``."""
        if not self.sanitize:
            return []
        # no recovery: a UBSan report aborts like an ASan one, whatever UBSAN_OPTIONS says
        return [f"-fsanitize={','.join(self.sanitize)}", "-fno-sanitize-recover=all",
                "-fno-omit-frame-pointer", "-g"]

    @property
    def sanitizer_link_args(self) -> List[str]:
        return [f"-fsanitize={','.join(self.sanitize)}"] if self.sanitize else []

    def provision_environ(self, base: Mapping[str, str]) -> Dict[str, str]:
        """``base`` (the inherited environment) with vendor/provision.py's variables
        replaced by what this config read, so the child sees exactly these."""
        env = {k: v for k, v in base.items() if k not in PROVISION_VARS}
        if self.source is not None:
            env["LIBBPF_SRC"] = str(self.source)
        if self.source_sha256:
            env["LIBBPF_SRC_SHA256"] = self.source_sha256
        if self.vendor_build is not None:
            env["LIBBPF_PY_VENDOR_BUILD"] = str(self.vendor_build)
        return env

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> "BuildConfig":
        raw = environ.get("LIBBPF_DYNAMIC", "1").strip()
        if raw not in ACCEPTED_DYNAMIC:
            raise BuildError(
                f"LIBBPF_DYNAMIC={raw!r} is not understood: set LIBBPF_DYNAMIC=1 "
                "(link the shared libbpf.so.1, the default) or LIBBPF_DYNAMIC=0 "
                "(link a position-independent libbpf.a statically)."
            )
        no_rpath = environ.get("LIBBPF_PY_NO_RPATH", "").strip()
        if no_rpath not in ACCEPTED_NO_RPATH:
            raise BuildError(
                f"LIBBPF_PY_NO_RPATH={no_rpath!r} is not understood: set it to 1 "
                "(record no rpath) or 0 / leave it unset (record one)."
            )
        sanitize_raw = environ.get("LIBBPF_PY_SANITIZE", "").strip()
        asked = {s.strip() for s in sanitize_raw.split(",") if s.strip()}
        if asked - set(SANITIZERS):
            raise BuildError(
                f"LIBBPF_PY_SANITIZE={sanitize_raw!r} is not understood: set it to "
                "address,undefined (or one of the two), or leave it unset."
            )
        prefix_raw = environ.get("LIBBPF_DIR", "").strip()
        prefix = None
        if prefix_raw:
            prefix = _absolute(prefix_raw)
            if not prefix.is_dir():
                raise BuildError(
                    f"LIBBPF_DIR={prefix_raw} does not exist or is not a directory: "
                    "point it at an installed libbpf prefix (with include/bpf/ and "
                    "lib/, lib64/ or lib/<multiarch>/), or unset it."
                )
        dynamic = ACCEPTED_DYNAMIC[raw]
        source = cls._source(environ, dynamic, prefix)
        sha = environ.get("LIBBPF_SRC_SHA256", "").strip().lower()
        if sha and not re.fullmatch(r"[0-9a-f]{64}", sha):
            raise BuildError(f"LIBBPF_SRC_SHA256={sha} is not a sha256 (64 hex digits).")
        vendor_raw = environ.get("LIBBPF_PY_VENDOR_BUILD", "").strip()
        return cls(
            dynamic=dynamic,
            prefix=prefix,
            rpath=not ACCEPTED_NO_RPATH[no_rpath],
            sanitize=tuple(s for s in SANITIZERS if s in asked),
            source=source,
            source_sha256=sha or None,
            vendor_build=_absolute(vendor_raw) if vendor_raw else None,
        )

    @staticmethod
    def _source(environ: Mapping[str, str], dynamic: bool,
                prefix: Optional[Path]) -> Optional[Path]:
        """LIBBPF_SRC (or its older tarball spelling), checked against the mode."""
        given = [(name, environ.get(name, "").strip())
                 for name in ("LIBBPF_SRC", "LIBBPF_SRC_TARBALL")]
        given = [(name, value) for name, value in given if value]
        if not given:
            return None
        if len(given) > 1:
            raise BuildError("LIBBPF_SRC and LIBBPF_SRC_TARBALL are both set: set only "
                             "LIBBPF_SRC, to a libbpf source tree or .tar.gz.")
        name, value = given[0]
        if dynamic:
            raise BuildError(
                f"{name} is set but LIBBPF_DYNAMIC is not 0: a libbpf source is built into "
                "a static extension only; set LIBBPF_DYNAMIC=0, or install libbpf from that "
                "source and point LIBBPF_DIR at the prefix, or unset it.")
        if prefix is not None:
            raise BuildError(
                f"{name} and LIBBPF_DIR are both set: a static build takes its libbpf.a "
                "from one of them; unset one.")
        path = _absolute(value)
        if not (path.is_dir() or path.is_file()):
            raise BuildError(f"{name}={value} does not exist: point it at a libbpf source "
                             "tree (the directory holding src/ and include/) or a "
                             "libbpf .tar.gz.")
        if name == "LIBBPF_SRC_TARBALL" and not path.is_file():
            raise BuildError(f"LIBBPF_SRC_TARBALL={value} is not a file: name a libbpf "
                             ".tar.gz, or set LIBBPF_SRC to a source tree.")
        return path


@dataclass(frozen=True)
class LinkPlan:
    """How the extension is compiled and linked."""

    mode: str  # "dynamic" | "static"
    origin: str  # "pkg-config" | "LIBBPF_DIR" | "vendored"
    header_version: Tuple[int, int]
    include_dir: Path
    library_file: Path  # the libbpf.so or libbpf.a linked at build time
    include_dirs: List[str] = field(default_factory=list)
    library_dirs: List[str] = field(default_factory=list)
    libraries: List[str] = field(default_factory=list)
    extra_objects: List[str] = field(default_factory=list)
    extra_link_args: List[str] = field(default_factory=list)
    runtime_library_dirs: List[str] = field(default_factory=list)

    def describe(self, config: BuildConfig) -> str:
        major, minor = self.header_version
        rows = [
            ("LIBBPF_DYNAMIC", "1" if config.dynamic else "0"),
            ("LIBBPF_DIR", str(config.prefix) if config.prefix else "(unset)"),
            *([("LIBBPF_SRC", str(config.source))] if config.source else []),
            ("mode", self.mode),
            ("origin", self.origin),
            ("headers", f"{self.include_dir} (libbpf {major}.{minor})"),
            ("library", str(self.library_file)),
            ("rpath", ":".join(self.runtime_library_dirs) or "(none)"),
            ("link", " ".join(self.extra_objects + [f"-l{x}" for x in self.libraries]
                              + self.extra_link_args + config.sanitizer_link_args)),
            ("sanitize", " ".join(config.sanitizer_compile_args) or "(none)"),
        ]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"libbpf_py build: {k:<{width}}  {v}" for k, v in rows)


def multiarch() -> str:
    return str(sysconfig.get_config_var("MULTIARCH") or "")


def read_header_version(include_dir: Path) -> Tuple[int, int]:
    header = include_dir / "bpf" / "libbpf_version.h"
    try:
        text = header.read_text()
    except OSError:
        raise BuildError(
            f"{header} is missing: libbpf older than 0.6 has no version header, "
            "and libbpf_py needs libbpf >= 1.0."
        ) from None
    major = re.search(r"#define\s+LIBBPF_MAJOR_VERSION\s+(\d+)", text)
    minor = re.search(r"#define\s+LIBBPF_MINOR_VERSION\s+(\d+)", text)
    if not (major and minor):
        raise BuildError(f"{header} does not define LIBBPF_MAJOR_VERSION/MINOR_VERSION.")
    version = int(major.group(1)), int(minor.group(1))
    if version < MIN_VERSION:
        raise BuildError(
            f"libbpf {version[0]}.{version[1]} at {include_dir} is older than 1.0, the "
            "oldest libbpf_py supports: install a newer libbpf or point LIBBPF_DIR at one."
        )
    return version


def prefix_lib_dirs(prefix: Path) -> List[Path]:
    dirs = [prefix / "lib64", prefix / "lib"]
    arch = multiarch()
    if arch:
        dirs.append(prefix / "lib" / arch)
    return dirs


def find_in_prefix(prefix: Path, name: str) -> Tuple[Path, List[Path]]:
    tried = [d / name for d in prefix_lib_dirs(prefix)]
    for path in tried:
        if path.exists():
            return path, tried
    raise BuildError(
        f"LIBBPF_DIR={prefix} has no {name}; tried " + ", ".join(map(str, tried)) + "."
    )


def prefix_include(prefix: Path) -> Path:
    inc = prefix / "include"
    if not (inc / "bpf" / "libbpf.h").is_file():
        raise BuildError(
            f"LIBBPF_DIR={prefix} has no libbpf headers: {inc / 'bpf' / 'libbpf.h'} "
            "is missing."
        )
    return inc


def check_pic_archive(archive: Path) -> None:
    """Refuse an archive that cannot be linked into a shared object.

    Relocation types alone do not tell: Debian's gcc builds PIE by default, whose
    R_X86_64_PC32 references to global symbols are fine in an executable and
    fatal in a shared object. So try the link that matters, into a scratch file.
    """
    with tempfile.TemporaryDirectory(prefix="libbpf_py-pic-") as tmp:
        cmd = ["cc", "-shared", "-o", str(Path(tmp) / "probe.so"), "-Wl,--whole-archive",
               str(archive), "-Wl,--no-whole-archive", "-lelf", "-lz"]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True)
        except FileNotFoundError:
            raise BuildError("cc is missing: install gcc (Debian: build-essential).") from None
    if proc.returncode == 0:
        return
    lines = proc.stderr.splitlines()
    # the linker's own verdict ("... recompile with -fPIC") first, any relocation complaint next
    pic = [ln for ln in lines if "-fPIC" in ln] or [ln for ln in lines if "relocation" in ln]
    if pic:
        raise BuildError(
            f"{archive} is not position-independent (the linker says: "
            f"{pic[0].strip()}), as Debian's libbpf.a is not, so it cannot be linked into "
            "a Python extension: build a PIC one with `python vendor/provision.py static` "
            "and point LIBBPF_DIR at the prefix it prints, or unset LIBBPF_DIR."
        )
    raise BuildError(f"{archive} cannot be linked into a shared object: "
                     f"{proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ''}")


def static_deps() -> List[str]:
    """libelf and zlib, which a static libbpf needs; fail clearly without them."""
    missing = [dev for pc, dev in (("libelf", "libelf-dev"), ("zlib", "zlib1g-dev"))
               if not pkgconfig.exists(pc)]
    if missing:
        raise BuildError(
            "a static libbpf needs libelf and zlib's development files: install "
            + " and ".join(missing) + " (Fedora: elfutils-libelf-devel zlib-devel)."
        )
    return ["elf", "z"]


def vendored_prefix(config: BuildConfig) -> Path:
    """The prefix vendor/provision.py builds a PIC libbpf.a into (LIBBPF_SRC or the pin)."""
    script = HERE / "vendor" / "provision.py"
    if not script.is_file():
        raise BuildError(f"{script} is missing: a static build without LIBBPF_DIR needs it.")
    source = f"LIBBPF_SRC={config.source}" if config.source else "the pinned version"
    print(f"libbpf_py build: building a PIC libbpf from {source} (vendor/provision.py static)",
          file=sys.stderr)
    proc = subprocess.run([sys.executable, str(script), "static"], stdout=subprocess.PIPE,
                          text=True, env=config.provision_environ(os.environ))
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise BuildError(
            "vendor/provision.py static failed (see its message above); fix that, or set "
            "LIBBPF_DIR to a prefix that has a position-independent lib/libbpf.a."
        )
    return Path(lines[-1])


def plan_static(config: BuildConfig) -> LinkPlan:
    prefix = config.prefix or vendored_prefix(config)
    origin = "LIBBPF_DIR" if config.prefix else "vendored"
    include = prefix_include(prefix)
    version = read_header_version(include)
    archive, _ = find_in_prefix(prefix, "libbpf.a")
    libraries = static_deps()
    check_pic_archive(archive)
    return LinkPlan(
        mode="static", origin=origin, header_version=version, include_dir=include,
        library_file=archive, include_dirs=[str(include)],
        libraries=libraries, extra_objects=[str(archive)],
        # Hide libbpf's symbols: the extension exports only PyInit__libbpf and
        # cannot clash with another libbpf loaded in the same process.
        extra_link_args=["-Wl,--exclude-libs,ALL"],
    )


def plan_dynamic(config: BuildConfig) -> LinkPlan:
    if config.prefix is not None:
        include = prefix_include(config.prefix)
        version = read_header_version(include)
        so, _ = find_in_prefix(config.prefix, "libbpf.so")
        libdir = so.parent
        return LinkPlan(
            mode="dynamic", origin="LIBBPF_DIR", header_version=version,
            include_dir=include, library_file=so.resolve(),
            include_dirs=[str(include)], library_dirs=[str(libdir)], libraries=["bpf"],
            runtime_library_dirs=[str(libdir)] if config.rpath else [],
        )
    if not pkgconfig.exists("libbpf"):
        raise BuildError(
            "pkg-config finds no libbpf: install libbpf's development files "
            f"({_DEBIAN_DEV} on Debian/Ubuntu, {_FEDORA_DEV} on Fedora), or set "
            "LIBBPF_DIR=/prefix to use another installed libbpf, or LIBBPF_DYNAMIC=0 to "
            "link the vendored static libbpf."
        )
    variables = pkgconfig.variables("libbpf")
    flags = pkgconfig.parse("libbpf")
    include = Path(variables.get("includedir") or "/usr/include")
    libdir = Path(variables.get("libdir") or "/usr/lib")
    so = libdir / "libbpf.so"
    if not so.exists():
        raise BuildError(f"pkg-config names {libdir} but {so} is missing: reinstall "
                         f"{_DEBIAN_DEV} ({_FEDORA_DEV} on Fedora).")
    version = read_header_version(include)
    return LinkPlan(
        mode="dynamic", origin="pkg-config", header_version=version, include_dir=include,
        library_file=so.resolve(), include_dirs=list(flags["include_dirs"]),
        library_dirs=list(flags["library_dirs"]), libraries=list(flags["libraries"]) or ["bpf"],
    )


def parse_version_script(text: str) -> Dict[str, List[str]]:
    """node -> sorted global symbols of a GNU ld version script such as libbpf.map."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    out: Dict[str, List[str]] = {}
    for m in re.finditer(r"(LIBBPF_[\d.]+)\s*\{(.*?)\}", text, re.S):
        body = m.group(2).split("local:")[0]
        body = body.split("global:", 1)[-1]
        out[m.group(1)] = sorted(set(re.findall(r"([A-Za-z_]\w*)\s*;", body)))
    return out


def provisioned_source(prefix: Path) -> Optional[Path]:
    """The source tree vendor/provision.py built ``prefix`` from, if it says so.

    provision.py stamps each prefix with the identity of its source; a Debian
    source package is unpacked into <build>/src/libbpf-<version>, a LIBBPF_SRC
    tree is named in the origin. The tree must carry the same checksum.
    """
    try:
        stamp = json.loads((prefix / "provision-stamp.json").read_text())
        identity = stamp["identity"]
        origin, version = str(identity["origin"]), str(identity["version"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if origin.startswith("tree "):
        return Path(origin[len("tree "):])
    tree = prefix.parent / "src" / f"libbpf-{version}"
    try:
        source = json.loads((tree / ".provision-source.json").read_text())["identity"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return tree if source.get("sha256") == identity.get("sha256") else None


def load_by_path(name: str, path: Path):  # type: ignore[no-untyped-def]
    """Import a file of libbpf_py without importing libbpf_py (not built yet)."""
    is_pkg = path.name == "__init__.py"
    spec = importlib.util.spec_from_file_location(
        name, path, submodule_search_locations=[str(path.parent)] if is_pkg else None)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def archive_version_nodes(archive: Path, known: Mapping[str, str]) -> Dict[str, List[str]]:
    """node -> symbols: the archive's defined globals that ``known`` (name -> node) lists."""
    try:
        proc = subprocess.run(["nm", "-g", "--defined-only", str(archive)],
                              capture_output=True, text=True)
    except FileNotFoundError:
        raise BuildError("nm is missing: install binutils.") from None
    if proc.returncode != 0:
        raise BuildError(f"nm cannot read {archive}: {proc.stderr.strip()}")
    out: Dict[str, List[str]] = {}
    for line in proc.stdout.splitlines():
        cols = line.split()
        if len(cols) == 3 and cols[2] in known:
            out.setdefault(known[cols[2]], []).append(cols[2])
    return {node: sorted(set(names)) for node, names in out.items()}


def static_version_nodes(plan: LinkPlan, prefix: Path,
                         declared: Mapping[str, str]) -> Tuple[str, Dict[str, List[str]]]:
    """(source, node -> symbols) of the libbpf a static build links in."""
    candidates = [prefix / "libbpf.map"]
    tree = provisioned_source(prefix)
    if tree is not None:
        candidates.insert(0, tree / "src" / "libbpf.map")
    for script in candidates:
        if script.is_file():
            return f"version script {script}", parse_version_script(script.read_text())
    cdefs = load_cdefs()
    known = dict(cdefs.exported_api())  # libbpf's API as the declarations list it
    known.update(declared)
    newest = max(known.values(), key=cdefs.node_key)
    return (f"archive {plan.library_file}: no libbpf.map found beside the prefix, so these are "
            f"the archive's defined symbols that libbpf_py knows, under the nodes of its own "
            f"table (up to {newest}); unknown beyond {newest}: a newer libbpf's symbols were "
            "not looked for, not found absent",
            archive_version_nodes(plan.library_file, known))


def make_plan(config: BuildConfig) -> LinkPlan:
    return plan_dynamic(config) if config.dynamic else plan_static(config)


def _c_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


# The build facts, compiled into a section of their own so that they can be read
# from the ELF file without loading it (libbpf_py/_buildinfo.py does).
_SHIM_CDEF = """
const char *libbpf_py_build_info(void);
const char *libbpf_py_version_map(void);
const char *libbpf_py_loaded_library(void);
"""

_SHIM_SOURCE = """
static const char libbpf_py_build_info_text[]
    __attribute__((used, section(".libbpf_py.buildinfo"))) = %(info)s;

static const char libbpf_py_version_map_text[]
    __attribute__((used, section(".libbpf_py.versions"))) = %(versions)s;

const char *libbpf_py_build_info(void)
{
    return libbpf_py_build_info_text;
}

const char *libbpf_py_version_map(void)
{
    return libbpf_py_version_map_text;
}

/* The file the libbpf code really runs from: libbpf.so for a dynamic build,
 * the extension itself for a static one. */
const char *libbpf_py_loaded_library(void)
{
    Dl_info info;

    if (dladdr((void *)&libbpf_major_version, &info) && info.dli_fname)
        return info.dli_fname;
    return NULL;
}
"""


def load_cdefs():  # type: ignore[no-untyped-def]
    """Import libbpf_py/_cdefs without importing libbpf_py (not built yet)."""
    return load_by_path("_libbpf_py_cdefs", HERE / "libbpf_py" / "_cdefs" / "__init__.py")


def version_map_text(source: str, nodes: Mapping[str, List[str]]) -> str:
    """The text of the ``.libbpf_py.versions`` section."""
    lines = [f"source={source}"]
    lines += [f"{node}={' '.join(names)}" for node, names in nodes.items()]
    return "\n".join(lines) + "\n"


def prepare(config: BuildConfig) -> Tuple[cffi.FFI, Dict[str, List[str]]]:
    """Plan the link (printed once, here), and make the FFI of ``libbpf_py._libbpf``.

    Returns the FFI, ``set_source`` already called, and the keyword arguments of
    that call, which setup.py gives the extension it compiles.
    """
    plan = make_plan(config)
    print(plan.describe(config), file=sys.stderr)
    cdefs = load_cdefs()
    assembly = cdefs.assemble(plan.header_version)
    if plan.mode == "static":
        prefix = config.prefix or plan.include_dir.parent
        source, nodes = static_version_nodes(plan, prefix, assembly.functions)
        print(f"libbpf_py build: version nodes from {source.split(':')[0]}", file=sys.stderr)
    else:
        source, nodes = "the loaded libbpf.so, at run time", {}
    omitted = " ".join(f"{name}@{node}" for name, node in sorted(assembly.omitted.items()))
    info = "\n".join([
        f"mode={plan.mode}",
        f"origin={plan.origin}",
        f"header_version={plan.header_version[0]}.{plan.header_version[1]}",
        f"include_dir={plan.include_dir}",
        f"library_file={plan.library_file}",
        f"rpath={':'.join(plan.runtime_library_dirs)}",
        f"sanitize={','.join(config.sanitize)}",
        f"omitted={omitted}",
    ]) + "\n"
    ffi = cffi.FFI()
    ffi.cdef(assembly.cdef + _SHIM_CDEF)
    # Python.h, which cffi includes first, already defines _GNU_SOURCE (for dladdr)
    c_source = ("#ifndef _GNU_SOURCE\n#define _GNU_SOURCE\n#endif\n#include <dlfcn.h>\n"
                + assembly.source
                + _SHIM_SOURCE % {"info": _c_string(info),
                                  "versions": _c_string(version_map_text(source, nodes))})
    kwargs: Dict[str, List[str]] = {
        # + libbpf_py/ for _speedups.h, the table libbpf_py._speedups calls through
        "include_dirs": [*plan.include_dirs, cdefs.INCLUDE_DIR],
        "library_dirs": plan.library_dirs,
        "libraries": plan.libraries,
        "extra_objects": plan.extra_objects,
        "extra_link_args": plan.extra_link_args + config.sanitizer_link_args,
        "runtime_library_dirs": plan.runtime_library_dirs,
        # A declaration that disagrees with the real header is an error, not a warning.
        "extra_compile_args": ["-Werror=implicit-function-declaration",
                               "-Werror=incompatible-pointer-types",
                               "-Werror=int-conversion", *config.sanitizer_compile_args],
    }
    ffi.set_source(EXTENSION, c_source, **kwargs)
    return ffi, kwargs


def read_config(environ: Mapping[str, str]) -> BuildConfig:
    """:meth:`BuildConfig.from_environ`, a bad value ending the build with its sentence."""
    try:
        return BuildConfig.from_environ(environ)
    except BuildError as exc:
        sys.exit(f"libbpf_py build error: {exc}")


def prepare_or_exit(config: BuildConfig) -> Tuple[cffi.FFI, Dict[str, List[str]]]:
    """:func:`prepare`, a build that cannot go on ending with its sentence."""
    try:
        return prepare(config)
    except BuildError as exc:
        sys.exit(f"libbpf_py build error: {exc}")


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(
        prog="build_ffi.py",
        description="Plan and build libbpf_py._libbpf from the build variables in the "
                    "environment (setup.py does this in its build_ext step).")
    parser.add_argument("--plan", action="store_true",
                        help="print the plan (what is linked, and how) and stop")
    args = parser.parse_args(argv)
    ffi, _ = prepare_or_exit(read_config(os.environ))
    if not args.plan:
        ffi.compile(verbose=True)  # into the current directory, as cffi does


if __name__ == "__main__":
    main()
