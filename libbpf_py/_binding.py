"""The one module that touches the compiled extension.

Everything else in libbpf_py reaches libbpf through ``ffi`` and ``lib`` from
here. ``lib`` is a copy of the extension's ``lib`` in which every function that
libbpf_py declares but the build's libbpf headers lacked raises
:class:`~libbpf_py.errors.LibbpfVersionError` on access: no code path can call a
function that is not there.

At import, a dynamic build checks that the libbpf the loader picked is not
older than the headers it was compiled against, and refuses to import if it is,
naming the header version, the runtime version and the library path.
"""

from __future__ import annotations

import os.path
import re
from typing import Any, Dict, Optional, Tuple

from . import _buildinfo, _cdefs
from ._record import Record
from .errors import LibbpfVersionError

Version = Tuple[int, int]


def _runtime_of(path: str) -> str:
    """libbpf_version_string() of the libbpf.so at ``path``, loaded with ctypes."""
    import ctypes  # only on this failure path: not worth its import time otherwise

    try:
        handle = ctypes.CDLL(path)
        fn = handle.libbpf_version_string
        fn.restype = ctypes.c_char_p
        return str(fn().decode()).lstrip("v")
    except (OSError, AttributeError) as exc:
        return f"unknown ({exc})"


def _explain_import_error(exc: ImportError) -> ImportError:
    """Turn the loader's 'version LIBBPF_x not found' into the three facts."""
    text = str(exc)
    m = re.search(r"^(\S+): version `(LIBBPF_[\d.]+)' not found", text)
    if not m:
        return exc
    library, node = m.group(1), m.group(2)
    ext = _buildinfo.extension_path()
    facts = _buildinfo.read_from_file(ext) if ext else {}
    header = facts.get("header_version", "unknown")
    return ImportError(
        f"libbpf_py was built against libbpf {header} headers but the loader picked "
        f"{library} (libbpf {_runtime_of(library)}), which lacks version node {node}: "
        "install a libbpf at least as new as the headers, or rebuild libbpf_py against "
        "the runtime's headers (LIBBPF_DIR=/prefix), or LIBBPF_DYNAMIC=0 for a static "
        f"build. Loader message: {text}"
    )


try:
    from ._libbpf import ffi as _ffi
    from ._libbpf import lib as _raw_lib
except ImportError as _exc:
    raise _explain_import_error(_exc) from _exc

#: the extension's FFI object (types, new, buffer, string, errno)
ffi: Any = _ffi


class BuildInfo(Record):
    """How this libbpf_py was built and which libbpf it runs."""

    mode: str  # "dynamic" | "static"
    origin: str  # "pkg-config" | "LIBBPF_DIR" | "vendored"
    header_version: Version
    runtime_version: str  # libbpf_version_string() of the code that runs
    library_path: Optional[str]  # libbpf.so actually loaded; None for static builds
    extension_path: str  # the extension file (the library itself for static builds)
    linked_library: str  # the libbpf.so / libbpf.a linked at build time
    include_dir: str  # the headers compiled against (BPF programs use them too)
    rpath: Optional[str]
    #: the sanitizers compiled in (LIBBPF_PY_SANITIZE), e.g. ("address", "undefined")
    sanitize: Tuple[str, ...] = ()

    def __init__(self, mode: str, origin: str, header_version: Version, runtime_version: str,
                 library_path: Optional[str], extension_path: str, linked_library: str,
                 include_dir: str, rpath: Optional[str], sanitize: Tuple[str, ...] = ()
                 ) -> None:
        self._set(mode=mode, origin=origin, header_version=header_version,
                  runtime_version=runtime_version, library_path=library_path,
                  extension_path=extension_path, linked_library=linked_library,
                  include_dir=include_dir, rpath=rpath, sanitize=sanitize)

    @property
    def header_version_string(self) -> str:
        return f"{self.header_version[0]}.{self.header_version[1]}"

    def as_dict(self) -> Dict[str, Any]:
        return {
            "mode": self.mode,
            "origin": self.origin,
            "header_version": self.header_version_string,
            "runtime_version": self.runtime_version,
            "library_path": self.library_path,
            "extension_path": self.extension_path,
            "linked_library": self.linked_library,
            "include_dir": self.include_dir,
            "rpath": self.rpath,
            "sanitize": list(self.sanitize),
        }


#: the facts build_ffi.py stamped into the extension (the extension of this tree
#: always carries every key read here)
_FACTS: Dict[str, str] = _buildinfo.parse(ffi.string(_raw_lib.libbpf_py_build_info()).decode())


def _read_build_info(facts: Dict[str, str]) -> BuildInfo:
    loaded = _raw_lib.libbpf_py_loaded_library()
    loaded_path = ffi.string(loaded).decode() if loaded != ffi.NULL else None
    mode = facts["mode"]
    import_path = _buildinfo.extension_path() or ""
    return BuildInfo(
        mode=mode,
        origin=facts["origin"],
        header_version=(int(_raw_lib.LIBBPF_MAJOR_VERSION), int(_raw_lib.LIBBPF_MINOR_VERSION)),
        runtime_version=ffi.string(_raw_lib.libbpf_version_string()).decode().lstrip("v"),
        library_path=(os.path.realpath(loaded_path)
                      if mode == "dynamic" and loaded_path else None),
        extension_path=import_path,
        linked_library=facts["library_file"],
        include_dir=facts["include_dir"],
        rpath=facts["rpath"] or None,
        sanitize=tuple(s for s in facts["sanitize"].split(",") if s),
    )


BUILD = _read_build_info(_FACTS)
HEADER_VERSION: Version = BUILD.header_version
RUNTIME_VERSION: Version = (int(_raw_lib.libbpf_major_version()),
                            int(_raw_lib.libbpf_minor_version()))

if BUILD.mode == "dynamic" and RUNTIME_VERSION < HEADER_VERSION:
    raise ImportError(
        f"libbpf_py was built against libbpf {BUILD.header_version_string} headers but "
        f"runs libbpf {BUILD.runtime_version} from {BUILD.library_path}: an older "
        "runtime may lack functions and reject option fields the headers have. Install "
        "a libbpf at least as new as the headers, or rebuild libbpf_py against this one."
    )


#: the functions this build left out because its headers are older, name -> the
#: version node they need (stamped at build time: no declaration parsing at import)
OMITTED: Dict[str, str] = _buildinfo.parse_omitted(_FACTS["omitted"])
_DECLARED: Dict[str, str] = {}


def declared() -> Dict[str, str]:
    """Every libbpf function libbpf_py declares, name -> libbpf.map version node.

    Assembled from ``libbpf_py._cdefs`` on first use (a few ms), not at import:
    importing ``_cdefs`` loads none of its area modules, only this call does.
    """
    if not _DECLARED:
        _DECLARED.update(_cdefs.declared_functions())
    return dict(_DECLARED)


def undeclared_functions() -> Dict[str, Tuple[str, str]]:
    """The libbpf exports libbpf_py deliberately leaves undeclared, name -> (version
    node, why), from the ``UNDECLARED`` tables of ``libbpf_py._cdefs``."""
    return _cdefs.undeclared_functions()


def __getattr__(name: str) -> Any:
    # DECLARED is computed on first access (PEP 562)
    if name == "DECLARED":
        return declared()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _GatedLib:
    """``lib`` with every omitted function turned into a LibbpfVersionError.

    Present names are copied into the instance dict, so looking them up costs
    what a plain attribute does; ``__getattr__`` only runs for absent names.
    """

    def __init__(self, raw: Any, omitted: Dict[str, str], have: str) -> None:
        self.__dict__.update({name: getattr(raw, name) for name in dir(raw)})
        self._omitted = omitted
        self._have = have

    def __getattr__(self, name: str) -> Any:
        node = self.__dict__.get("_omitted", {}).get(name)
        if node is not None:
            raise LibbpfVersionError(name, node, self._have)
        raise AttributeError(f"libbpf_py's binding declares no {name!r}")

    def has(self, name: str) -> bool:
        return name in self.__dict__ and name not in ("_omitted", "_have")


lib: Any = _GatedLib(_raw_lib, OMITTED, BUILD.header_version_string)


def fnptr(name: str, ctype: str) -> Any:
    """A C function of the extension as a function pointer of type ``ctype``.

    ``ffi.addressof`` on the raw lib: casting ``lib.name`` works on newer cffi
    only (1.15, Debian 12's, refuses to cast a built-in function object).
    """
    getattr(lib, name)  # LibbpfVersionError for an omitted function
    return ffi.cast(ctype, ffi.addressof(_raw_lib, name))


def require(name: str) -> None:
    """Raise LibbpfVersionError unless the build has ``name``."""
    getattr(lib, name)


# libbpf_py._speedups (libbpf_py/_speedups.c): Map's C base class and the ring
# buffer delivery loop. It links no libbpf: this extension publishes a table of its
# libbpf functions as a PyCapsule (libbpf_py._libbpf._speedups_api) and bind() takes
# it with PyCapsule_Import, so the int element path calls the same libbpf, shared
# or static, as everything else.
from . import _speedups  # noqa: E402

if _raw_lib.libbpf_py_speedups_export() != 0:
    raise ImportError("libbpf_py: the extension could not publish its function table "
                      "for libbpf_py._speedups (the error is printed above)")
_speedups.bind()
MapBase = _speedups.MapBase
deliver = _speedups.deliver
call_view = _speedups.call_view
consume_rings = _speedups.consume_rings
RecordView = _speedups.RecordView
pairs = _speedups.pairs
GuardedExit = _speedups.GuardedExit
PairIter = _speedups.PairIter
unwait = _speedups.unwait
retry = _speedups.retry
lock_graph = _speedups.lock_graph
LockExit = _speedups.LockExit
LocksExit = _speedups.LocksExit
Plan = _speedups.Plan
