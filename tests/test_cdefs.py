"""libbpf_py/_cdefs against real libbpf headers and libraries.

Needs no built libbpf_py: the cdefs are loaded the way build_ffi.py loads them,
and each header set gets a throwaway cffi API-mode extension of its own.

Header sets (each skips, with the reason, when missing):

* 1.1: the system's (Debian 12 libbpf-dev), /usr/include + libbpf.so.1;
* 1.4: ``LIBBPF_PY_TEST_HEADERS_1_4``, default vendor/build/libbpf-1.4.6/root/usr/include;
* 1.5: ``LIBBPF_PY_TEST_HEADERS_1_5``, default vendor/build/src/libbpf-1.5.0/src;
* 1.7: ``LIBBPF_PY_TEST_HEADERS_1_7``, default vendor/build/src/libbpf-1.7.0/src, its
  library vendor/build/libbpf-1.7.0/lib/libbpf.so.1
  (``python vendor/provision.py all`` makes them all).

A variable names an include directory holding ``bpf/libbpf.h`` or a libbpf
source tree's ``src/``. The library loaded is ``LIBBPF_PY_TEST_LIB_1_4`` /
``LIBBPF_PY_TEST_LIB_1_5`` if set, else the ``libbpf.so.1`` of the prefix the
include directory belongs to, else (source tree) one built from that source
into a temporary directory.

SLOW PART: the ``built`` fixture compiles one extension per header set (about
2 s each at -O0) and building libbpf 1.5.0 from source adds about 2 s; the
tests on version nodes and on libbpf.map read ELF files and text only.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Dict, List, Optional, Tuple

import pytest

# Nothing here uses the extension under test: the matrix runs it once, not per env.
pytestmark = pytest.mark.independent

ROOT = Path(__file__).resolve().parent.parent
CDEFS_DIR = ROOT / "libbpf_py" / "_cdefs"
#: where vendor/provision.py put the libbpf prefixes (the env var: an installed-package
#: run, e.g. debian/tests/suite, whose source tree has no vendor/build)
VENDOR = Path(os.environ.get("LIBBPF_PY_VENDOR_BUILD") or ROOT / "vendor" / "build")
MULTIARCH = sysconfig.get_config_var("MULTIARCH") or "x86_64-linux-gnu"

Version = Tuple[int, int]

#: headers a libbpf source tree's src/ has and the cdefs include
PUBLIC_HEADERS = ("libbpf_version.h", "libbpf_common.h", "libbpf_legacy.h",
                  "bpf.h", "btf.h", "libbpf.h")

#: same strictness as build_ffi.py, at -O0 since the extension is thrown away
COMPILE_ARGS = ["-O0", "-Werror=implicit-function-declaration",
                "-Werror=incompatible-pointer-types", "-Werror=int-conversion"]

SETS: Dict[str, Dict[str, Any]] = {
    "1.1": {"version": (1, 1), "headers_env": None, "lib_env": None,
            "default": "/usr/include"},
    "1.4": {"version": (1, 4), "headers_env": "LIBBPF_PY_TEST_HEADERS_1_4",
            "lib_env": "LIBBPF_PY_TEST_LIB_1_4",
            "default": str(VENDOR / "libbpf-1.4.6/root/usr/include")},
    "1.5": {"version": (1, 5), "headers_env": "LIBBPF_PY_TEST_HEADERS_1_5",
            "lib_env": "LIBBPF_PY_TEST_LIB_1_5",
            "default": str(VENDOR / "src/libbpf-1.5.0/src")},
    "1.7": {"version": (1, 7), "headers_env": "LIBBPF_PY_TEST_HEADERS_1_7",
            "lib_env": "LIBBPF_PY_TEST_LIB_1_7",
            "default": str(VENDOR / "src/libbpf-1.7.0/src"),
            "default_lib": str(VENDOR / "libbpf-1.7.0/lib/libbpf.so.1")},
}


def load_cdefs() -> ModuleType:
    """libbpf_py._cdefs, imported by path under a private name (as build_ffi.py does)."""
    name = "_libbpf_py_cdefs_under_test"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        name, CDEFS_DIR / "__init__.py", submodule_search_locations=[str(CDEFS_DIR)])
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


CDEFS = load_cdefs()


def undeclared() -> Dict[str, str]:
    """Every area's UNDECLARED, merged: name -> reason."""
    out: Dict[str, str] = {}
    for area in CDEFS.AREAS:
        mod = importlib.import_module(f"{CDEFS.__name__}.{area}")
        out.update({name: reason for name, (_node, reason) in mod.UNDECLARED.items()})
    return out


# --------------------------------------------------------------------------
# Header sets and libraries
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class HeaderSet:
    key: str
    version: Version
    include_dir: Path             # holds bpf/libbpf.h
    source_dir: Optional[Path]    # a libbpf source tree's src/, if that is where they came from
    library: Optional[Path]       # the libbpf.so to link and load
    library_note: str             # why there is no library, when there is none


def header_version(include_dir: Path) -> Version:
    text = (include_dir / "bpf" / "libbpf_version.h").read_text()
    major = re.search(r"#define\s+LIBBPF_MAJOR_VERSION\s+(\d+)", text)
    minor = re.search(r"#define\s+LIBBPF_MINOR_VERSION\s+(\d+)", text)
    assert major and minor, f"no version in {include_dir}/bpf/libbpf_version.h"
    return int(major.group(1)), int(minor.group(1))


def prefix_library(include_dir: Path) -> Optional[Path]:
    """The libbpf.so.1 of the prefix an include directory belongs to."""
    prefix = include_dir.parent
    for libdir in (prefix / "lib" / MULTIARCH, prefix / "lib64", prefix / "lib"):
        if (libdir / "libbpf.so.1").exists():
            return (libdir / "libbpf.so.1").resolve()
    return None


def build_libbpf(source_dir: Path, out: Path) -> Path:
    """Build libbpf.so from a source tree into ``out`` (about 2 s at -O0)."""
    target = out / "libbpf.so"
    proc = subprocess.run(
        ["make", "-s", "-C", str(source_dir), f"-j{os.cpu_count() or 1}", "CFLAGS=-O0 -g0",
         f"OBJDIR={out}", str(target)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    if proc.returncode != 0:
        pytest.skip(f"cannot build libbpf.so from {source_dir}: {proc.stdout[-2000:]}")
    return (out / "libbpf.so.1").resolve()


_SETS: Dict[str, HeaderSet] = {}


def header_set(key: str, tmp_path_factory: pytest.TempPathFactory) -> HeaderSet:
    if key in _SETS:
        return _SETS[key]
    spec = SETS[key]
    env = spec["headers_env"]
    given = os.environ.get(env) if env else None
    path = Path(given or spec["default"])
    where = f"{env}={given}" if given else f"the default {path}"
    source_dir: Optional[Path] = None
    if (path / "bpf" / "libbpf.h").exists():
        include_dir = path
    elif all((path / h).exists() for h in PUBLIC_HEADERS) and (path / "libbpf.map").exists():
        source_dir = path
        include_dir = tmp_path_factory.mktemp(f"include-{key}")
        (include_dir / "bpf").mkdir()
        for h in PUBLIC_HEADERS:
            (include_dir / "bpf" / h).symlink_to(path / h)
        # the UAPI headers libbpf ships with that source (newer than the system's)
        uapi = path.parent / "include" / "uapi" / "linux"
        if uapi.is_dir():
            (include_dir / "linux").symlink_to(uapi)
    else:
        pytest.skip(f"no libbpf {key} headers at {where}: neither bpf/libbpf.h nor a "
                    f"libbpf source tree's src/ (set {env or 'up libbpf-dev'})")
    version = header_version(include_dir)
    assert version == spec["version"], (
        f"{where} has libbpf {version[0]}.{version[1]} headers, not {key}")

    library: Optional[Path] = None
    note = ""
    lib_env = spec["lib_env"]
    if lib_env and os.environ.get(lib_env):
        library = Path(os.environ[lib_env]).resolve()
    elif spec.get("default_lib") and Path(spec["default_lib"]).exists():
        library = Path(spec["default_lib"]).resolve()  # the provisioned shared build
    elif key == "1.1":
        library = Path(f"/usr/lib/{MULTIARCH}/libbpf.so.1").resolve()
    elif source_dir is not None:
        library = build_libbpf(source_dir, tmp_path_factory.mktemp(f"libbpf-{key}-build"))
    else:
        library = prefix_library(include_dir)
    if library is None or not library.exists():
        note = f"no libbpf {key} library found for {include_dir} (set {lib_env})"
        library = None
    _SETS[key] = HeaderSet(key, version, include_dir, source_dir, library, note)
    return _SETS[key]


# --------------------------------------------------------------------------
# Throwaway extensions (the slow part)
# --------------------------------------------------------------------------

BUILD_SCRIPT = r"""
import json, sys, cffi
spec = json.load(open(sys.argv[1]))
ffi = cffi.FFI()
ffi.cdef(open(spec["cdef"]).read())
ffi.set_source(spec["module"], open(spec["source"]).read(), **spec["kwargs"])
ffi.compile(tmpdir=spec["tmpdir"], verbose=True)
"""

PROBE_SCRIPT = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
mod = __import__(sys.argv[2])
ffi, lib = mod.ffi, mod.lib
errors = []
typedefs, structs, unions = ffi.list_types()
for kind, names in (("struct", structs), ("union", unions)):
    for name in names:
        try:
            ffi.sizeof(kind + " " + name)    # checks the layout against the compiler's
        except ffi.error as exc:
            if "don't know the size" not in str(exc):    # opaque handles
                errors.append(f"{kind} {name}: {exc}")
for name in typedefs:
    try:
        ffi.typeof(name)
    except ffi.error as exc:
        errors.append(f"typedef {name}: {exc}")
print(json.dumps({
    "names": sorted(dir(lib)),
    "version": [lib.libbpf_major_version(), lib.libbpf_minor_version()],
    "header_version": [lib.LIBBPF_MAJOR_VERSION, lib.LIBBPF_MINOR_VERSION],
    "layout_errors": errors,
}))
"""


SHIM_SCRIPT = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
mod = __import__(sys.argv[2])
ffi, lib = mod.ffi, mod.lib
logs, dumped = [], []

@ffi.def_extern()
def libbpf_py_log_cb(level, msg):
    logs.append((level, ffi.string(msg).decode()))

@ffi.def_extern()
def libbpf_py_btf_dump_cb(ctx, text):
    dumped.append((ffi.from_handle(ctx), ffi.string(text).decode()))

first = lib.libbpf_py_set_print_hook(lib.LIBBPF_PY_PRINT_PYTHON)
path = "/nonexistent/" + "x" * 3000 + ".bpf.o"    # longer than the printer's stack buffer
assert lib.bpf_object__open_file(path.encode(), ffi.NULL) == ffi.NULL
second = lib.libbpf_py_set_print_hook(lib.LIBBPF_PY_PRINT_NONE)
count = len(logs)
lib.bpf_object__open_file(b"/nonexistent.bpf.o", ffi.NULL)
silent = len(logs) == count
third = lib.libbpf_py_set_print_hook(lib.LIBBPF_PY_PRINT_DEFAULT)
bad = lib.libbpf_py_set_print_hook(12345)

btf = lib.btf__new_empty()
int_id = lib.btf__add_int(btf, b"my_int", 4, lib.BTF_INT_SIGNED)
struct_id = lib.btf__add_struct(btf, b"point", 8)
lib.btf__add_field(btf, b"x", int_id, 0, 0)
lib.btf__add_field(btf, b"y", int_id, 32, 0)
owner = object()
handle = ffi.new_handle(owner)
d = lib.libbpf_py_btf_dump_new(btf, handle, ffi.NULL)
rc = lib.btf_dump__dump_type(d, struct_id)
lib.btf_dump__free(d)
lib.btf__free(btf)
print(json.dumps({
    "modes": [first, second, third, bad], "silent": silent,
    "logs": [[level, msg] for level, msg in logs], "dump_rc": rc,
    "dump_ctx_ok": all(ctx is owner for ctx, _ in dumped),
    "dump": "".join(text for _, text in dumped),
}))
"""


@dataclass(frozen=True)
class Built:
    hset: HeaderSet
    assembly: Any
    directory: Path
    module: str
    log: str


def clean_env() -> Dict[str, str]:
    env = dict(os.environ)
    env.pop("LD_LIBRARY_PATH", None)
    env.pop("LD_PRELOAD", None)
    return env


@pytest.fixture(scope="session", params=sorted(SETS))
def hset(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> HeaderSet:
    return header_set(request.param, tmp_path_factory)


@pytest.fixture(scope="session")
def built(hset: HeaderSet, tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The cdefs for ``hset`` compiled and linked against its libbpf (SLOW: ~2 s)."""
    assembly = CDEFS.assemble(hset.version)
    module = "_cdefs_t_" + hset.key.replace(".", "_")
    directory = tmp_path_factory.mktemp(f"ext-{hset.key}")
    kwargs: Dict[str, Any] = {"include_dirs": [str(hset.include_dir), CDEFS.INCLUDE_DIR],
                              "extra_compile_args": COMPILE_ARGS}
    if hset.library is not None:
        kwargs["extra_objects"] = [str(hset.library)]
        kwargs["runtime_library_dirs"] = [str(hset.library.parent)]
    (directory / "cdef.h").write_text(assembly.cdef)
    (directory / "source.c").write_text(assembly.source)
    (directory / "spec.json").write_text(json.dumps({
        "cdef": str(directory / "cdef.h"), "source": str(directory / "source.c"),
        "module": module, "tmpdir": str(directory), "kwargs": kwargs}))
    proc = subprocess.run(
        [sys.executable, "-c", BUILD_SCRIPT, str(directory / "spec.json")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False,
        env=clean_env())
    if proc.returncode != 0:
        errors = [line for line in proc.stdout.splitlines() if "error" in line.lower()]
        pytest.fail(f"libbpf {hset.key} headers: the cdefs do not compile:\n"
                    + "\n".join(errors[:40] or proc.stdout.splitlines()[-40:]))
    return Built(hset, assembly, directory, module, proc.stdout)


def run_in_extension(b: Built, script: str) -> Dict[str, Any]:
    """Run ``script`` in a fresh interpreter that imports the extension; its JSON output."""
    proc = subprocess.run(
        [sys.executable, "-c", script, str(b.directory), b.module],
        capture_output=True, text=True, check=False, env=clean_env())
    assert proc.returncode == 0, f"the {b.hset.key} extension failed:\n{proc.stderr}"
    result: Dict[str, Any] = json.loads(proc.stdout)
    return result


def test_compiles_without_warnings(built: Built) -> None:
    """(a) the cdefs compile against the header set, and the compiler has nothing to say."""
    warnings = [line for line in built.log.splitlines() if "warning:" in line]
    assert not warnings, "\n".join(warnings)


def test_declared_functions_exist(built: Built) -> None:
    """(b) the extension has every function the assembly keeps, none it leaves out."""
    if built.hset.library is None:
        pytest.skip(built.hset.library_note)
    result = run_in_extension(built, PROBE_SCRIPT)
    assert result["layout_errors"] == []
    assert tuple(result["header_version"]) == built.hset.version
    # the library really loaded is the one of this header set
    assert tuple(result["version"]) == built.hset.version
    names = set(result["names"])
    kept = set(built.assembly.functions) - set(built.assembly.omitted)
    assert sorted(kept - names) == []
    assert sorted(set(built.assembly.omitted) & names) == []
    assert {"libbpf_py_set_print_hook", "libbpf_py_btf_dump_new"} <= names
    assert not set(undeclared()) & names


def test_shims_work(built: Built) -> None:
    """The va_list shims format libbpf's output in C and hand it to Python."""
    if built.hset.library is None:
        pytest.skip(built.hset.library_note)
    r = run_in_extension(built, SHIM_SCRIPT)
    # DEFAULT before any hook, then PYTHON, then NONE; an unknown mode is refused
    assert r["modes"] == [0, 1, 2, -1]
    assert r["silent"]
    failed = [msg for level, msg in r["logs"] if "failed to open" in msg]
    assert failed and len(failed[0]) > 3000, r["logs"]
    assert r["dump_rc"] == 0 and r["dump_ctx_ok"]
    assert "struct point {" in r["dump"] and "my_int y;" in r["dump"]


# --------------------------------------------------------------------------
# Version nodes: the real libraries' .gnu.version_d
# --------------------------------------------------------------------------

def exported_symbols(path: Path) -> Dict[str, str]:
    """name -> version node of every symbol the library exports (default versions)."""
    from elftools.elf.elffile import ELFFile

    out: Dict[str, str] = {}
    with open(path, "rb") as f:
        elf = ELFFile(f)
        dynsym = elf.get_section_by_name(".dynsym")
        versym = elf.get_section_by_name(".gnu.version")
        verdef = elf.get_section_by_name(".gnu.version_d")
        assert dynsym is not None and versym is not None and verdef is not None, path
        nodes = {entry["vd_ndx"]: next(aux).name for entry, aux in verdef.iter_versions()}
        for i, sym in enumerate(dynsym.iter_symbols()):
            if sym["st_shndx"] in ("SHN_UNDEF", "SHN_ABS"):
                continue    # imports, and the version nodes' own symbols
            if sym["st_info"]["bind"] not in ("STB_GLOBAL", "STB_WEAK"):
                continue
            if sym["st_other"]["visibility"] != "STV_DEFAULT":
                continue
            ndx = versym.get_symbol(i)["ndx"]
            if not isinstance(ndx, int) or ndx & 0x8000:
                continue    # unversioned, or a hidden (non-default) version
            out[sym.name] = nodes[ndx]
    return out


def library_version(exports: Dict[str, str]) -> Version:
    return max(CDEFS.node_version(n) for n in exports.values())


@pytest.fixture(scope="session", params=sorted(SETS))
def library(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Tuple[str, Path]:
    hs = header_set(request.param, tmp_path_factory)
    if hs.library is None:
        pytest.skip(hs.library_note)
    return hs.key, hs.library


def test_version_nodes_match_library(library: Tuple[str, Path]) -> None:
    """(c) each declared symbol's section is the node the real library exports it under."""
    key, path = library
    exports = exported_symbols(path)
    have = library_version(exports)
    assert f"{have[0]}.{have[1]}" == key, f"{path} is libbpf {have}, not {key}"
    declared = CDEFS.declared_functions()
    skipped = undeclared()

    wrong = {n: (declared[n], node) for n, node in exports.items()
             if n in declared and declared[n] != node}
    assert wrong == {}, "declared node != library node: " + repr(wrong)

    unknown = sorted(n for n in exports if n not in declared and n not in skipped)
    assert unknown == [], f"{path} exports symbols neither declared nor UNDECLARED"

    kept = set(CDEFS.assemble(have).functions) - set(CDEFS.assemble(have).omitted)
    missing = sorted(kept - set(exports))
    assert missing == [], f"declared for libbpf {key} but not exported by {path}"


# --------------------------------------------------------------------------
# Fast checks on the declarations themselves
# --------------------------------------------------------------------------

def map_file_nodes(text: str) -> Dict[str, str]:
    """name -> node of libbpf.map's global symbols."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    out: Dict[str, str] = {}
    for m in re.finditer(r"(LIBBPF_[\d.]+)\s*\{(.*?)\}", text, re.S):
        body = m.group(2).split("local:")[0]
        for sym in re.findall(r"([A-Za-z_]\w*)\s*;", body.split("global:", 1)[-1]):
            out[sym] = m.group(1)
    return out


def test_older_libbpf_map_is_a_prefix(tmp_path_factory: pytest.TempPathFactory) -> None:
    """libbpf 1.5's libbpf.map: its symbols are exactly the declared and UNDECLARED ones
    of nodes up to LIBBPF_1.5.0, each under the same node."""
    hs = header_set("1.5", tmp_path_factory)
    if hs.source_dir is None:
        pytest.skip("the 1.5 headers are not a libbpf source tree: no libbpf.map")
    nodes = map_file_nodes((hs.source_dir / "libbpf.map").read_text())
    limit = CDEFS.node_key("LIBBPF_1.5.0")
    api = {n: node for n, node in CDEFS.exported_api().items()
           if CDEFS.node_key(node) <= limit}
    assert api == nodes


def test_matches_libbpf_map(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every libbpf.map symbol of the newest source (1.7) is declared under its node or
    UNDECLARED, and nothing else is."""
    hs = header_set("1.7", tmp_path_factory)
    if hs.source_dir is None:
        pytest.skip("the 1.7 headers are not a libbpf source tree: no libbpf.map")
    nodes = map_file_nodes((hs.source_dir / "libbpf.map").read_text())
    declared = CDEFS.declared_functions()
    skipped = undeclared()
    assert len(nodes) > 300
    assert sorted(set(nodes) - set(declared) - set(skipped)) == []
    assert sorted(set(declared) - set(nodes)) == []
    assert {n: (declared[n], nodes[n]) for n in declared if declared[n] != nodes[n]} == {}
    assert set(skipped) <= set(nodes)
    # the undeclared ones carry their node too: together, libbpf's whole exported API
    assert CDEFS.exported_api() == nodes


def test_undeclared_is_well_formed() -> None:
    declared = CDEFS.declared_functions()
    for name, reason in undeclared().items():
        assert name not in declared, f"{name} is both declared and UNDECLARED"
        assert len(reason) > 20, f"UNDECLARED[{name!r}] needs a reason"


def test_prototypes_have_no_parameter_names() -> None:
    """A parameter is a type: a lone identifier after the type would be a name."""
    types = {"int", "char", "long", "short", "unsigned", "signed", "void", "bool", "size_t",
             "const", "struct", "enum", "union", "pid_t"}
    bad: List[str] = []
    for area in CDEFS.AREAS:
        text = importlib.import_module(f"{CDEFS.__name__}.{area}").FUNCTIONS
        for proto, _node, _needs in CDEFS._function_statements(text):
            params = proto[proto.index("(") + 1: proto.rindex(")")]
            for p in (x.strip() for x in params.split(",")):
                words = p.replace("*", " ").split()
                if not words or p == "void":
                    continue
                last = words[-1]
                tagged = len(words) >= 2 and words[-2] in ("struct", "enum", "union")
                if not tagged and last not in types and not last.startswith("__") \
                        and not last.endswith(("_fn", "_t")):
                    bad.append(proto)
    assert bad == []


def test_assembly_per_version() -> None:
    """Newer headers declare a superset; the shims exist in every build."""
    prev: Optional[set[str]] = None
    for version in [(1, 0), (1, 1), (1, 2), (1, 3), (1, 4), (1, 5), (1, 6), (1, 7)]:
        a = CDEFS.assemble(version)
        kept = set(a.functions) - set(a.omitted)
        if prev is not None:
            assert prev <= kept
        prev = kept
        assert "libbpf_py_set_print_hook" in a.cdef and "libbpf_py_btf_dump_new" in a.cdef
    a = CDEFS.assemble((1, 7))
    assert a.omitted == {}
    assert set(CDEFS.assemble((1, 5)).omitted.values()) <= {"LIBBPF_1.6.0", "LIBBPF_1.7.0"}
    # exported under LIBBPF_0.7.0 but hidden before 1.4: its own availability tag
    assert a.functions["libbpf_set_memlock_rlim"] == "LIBBPF_0.7.0"
    assert CDEFS.assemble((1, 3)).omitted["libbpf_set_memlock_rlim"] == "LIBBPF_1.4.0"


def _header_struct_body(text: str, name: str) -> Optional[str]:
    """The body of ``struct name { ... };`` in C header text, None if not defined there."""
    m = re.search(rf"\bstruct\s+{name}\s*\{{", text)
    if not m:
        return None
    depth, i = 1, m.end()
    while depth:
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
    return text[m.end():i - 1]


@pytest.mark.parametrize("key", sorted(SETS))
def test_member_tags_match_headers(key: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    """A member tagged with a node newer than a header set is not in its headers; one with
    an older node is (the compile checks only the second)."""
    hs = header_set(key, tmp_path_factory)
    text = "\n".join((hs.include_dir / "bpf" / h).read_text()
                     for h in ("bpf.h", "btf.h", "libbpf.h"))
    text = re.sub(r"/\*.*?\*/|//[^\n]*", "", text, flags=re.S)
    checked = 0
    wrong: List[Tuple[str, str, str]] = []
    for (struct, member), node in CDEFS.declared_fields().items():
        body = _header_struct_body(text, struct)
        if body is None:
            continue
        checked += 1
        if (re.search(rf"\b{member}\b", body) is not None) \
                != (CDEFS.node_version(node) <= hs.version):
            wrong.append((struct, member, node))
    assert checked > 150
    assert wrong == []
