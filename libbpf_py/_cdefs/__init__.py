"""C declarations of libbpf's public API, one module per header area.

This subpackage is pure data plus the function that assembles it. It is used
twice: by ``build_ffi.py`` at build time (loaded without importing
``libbpf_py`` itself, which is not built yet), and by ``libbpf_py._binding``
at run time, to know which declared names a build left out and why.

Each area module (``common``, ``bpf``, ``btf``, ``libbpf``, ``events``) defines four strings,
in the manner of cryptography's old ``_cffi_src`` layer:

``INCLUDES``
    the ``#include`` lines;
``TYPES``
    cdef text for typedefs, structs, enums and constants;
``FUNCTIONS``
    cdef prototypes, without parameter names;
``CUSTOMIZATIONS``
    C code compiled into the extension (shims), may be empty.

Version tags
------------
libbpf versions its ABI with the version nodes of ``libbpf.map``
(``LIBBPF_0.0.1`` ... ``LIBBPF_1.5.0``). Node ``LIBBPF_X.Y.Z`` first ships in
libbpf release X.Y, so its declarations need headers >= X.Y.

* A line that is exactly ``@LIBBPF_X.Y.Z`` starts a section: every following
  line needs that node, until the next section marker. Lines before the first
  marker need nothing (they are in every supported libbpf, >= 1.0).
* A line that ends in ``// @LIBBPF_X.Y.Z`` needs that node itself, whatever
  its section (used for struct fields added in later releases).

In ``FUNCTIONS`` the section of a prototype is the version node under which
libbpf.map exports the symbol; a test checks that against the real library.
A line tag on a prototype does not change that node: it names a later node
whose release is the first that really exports the symbol, for the rare
symbol libbpf listed under a node but kept hidden for a while
(``libbpf_set_memlock_rlim``: LIBBPF_0.7.0, exported since 1.4). Builds
against older headers leave such a prototype out, with the later node as
the reason.
In ``TYPES`` the tag is the first libbpf release whose installed headers have
the line. Project shims (C functions named ``libbpf_py_*``, defined in
``CUSTOMIZATIONS``) declare their prototypes in ``TYPES``: they are not
libbpf API and are not counted as such.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Tuple

AREAS: Tuple[str, ...] = ("common", "bpf", "btf", "libbpf", "events")

Version = Tuple[int, int]

_NODE_RE = re.compile(r"^LIBBPF_(\d+)\.(\d+)\.(\d+)$")
_SECTION_RE = re.compile(r"^\s*@(LIBBPF_\d+\.\d+\.\d+)\s*$")
_LINE_TAG_RE = re.compile(r"\s*//\s*@(LIBBPF_\d+\.\d+\.\d+)\s*$")
# The name of a function in a one-line prototype: the identifier right before
# the first "(" that is not part of a function-pointer return type.
_FUNC_NAME_RE = re.compile(r"([A-Za-z_]\w*)\s*\(")

FLOOR_NODE = "LIBBPF_1.0.0"

#: the include directory the assembled source needs besides libbpf's headers: the
#: package directory, which holds ``_speedups.h`` (the table of libbpf functions the
#: extension exports for ``libbpf_py._speedups``; see _cdefs/bpf.py)
INCLUDE_DIR = str(Path(__file__).resolve().parent.parent)


def node_version(node: str) -> Version:
    """Return the libbpf release (major, minor) that first ships ``node``."""
    m = _NODE_RE.match(node)
    if not m:
        raise ValueError(f"not a libbpf version node: {node!r}")
    return int(m.group(1)), int(m.group(2))


def node_key(node: str) -> Tuple[int, int, int]:
    """Sort key for version nodes (LIBBPF_0.0.9 < LIBBPF_0.1.0 < LIBBPF_1.0.0)."""
    m = _NODE_RE.match(node)
    if not m:
        raise ValueError(f"not a libbpf version node: {node!r}")
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def _sectioned_lines(text: str) -> List[Tuple[str, str | None, str | None]]:
    """Split cdef text into (line, section node, line tag) triples, dropping markers."""
    out: List[Tuple[str, str | None, str | None]] = []
    section: str | None = None
    for raw in text.splitlines():
        m = _SECTION_RE.match(raw)
        if m:
            section = m.group(1)
            node_version(section)  # validates
            continue
        tag: str | None = None
        t = _LINE_TAG_RE.search(raw)
        if t:
            tag = t.group(1)
            node_version(tag)  # validates
            raw = raw[: t.start()]
        out.append((raw, section, tag))
    return out


def _tagged_lines(text: str) -> List[Tuple[str, str | None]]:
    """Split cdef text into (line, node or None) pairs, dropping markers."""
    return [(raw, tag or section) for raw, section, tag in _sectioned_lines(text)]


def _available(node: str | None, have: Version) -> bool:
    return node is None or node_version(node) <= have


def _function_statements(text: str) -> List[Tuple[str, str | None, str | None]]:
    """Group prototype lines into statements ending in ';'.

    Each comes with its node (its section) and the node it needs to be
    declared (the section, or a later line tag on any of its lines).
    """
    stmts: List[Tuple[str, str | None, str | None]] = []
    buf: List[str] = []
    buf_node: str | None = None
    buf_needs: str | None = None
    for line, section, tag in _sectioned_lines(text):
        code = line.split("//", 1)[0].strip()
        if not code:
            continue
        if not buf:
            buf_node = buf_needs = section
        if tag and (buf_needs is None or node_key(tag) > node_key(buf_needs)):
            buf_needs = tag
        buf.append(code)
        if code.endswith(";"):
            stmts.append((" ".join(buf), buf_node, buf_needs))
            buf = []
    if buf:
        raise ValueError(f"unterminated prototype: {' '.join(buf)!r}")
    return stmts


def function_name(proto: str) -> str:
    """The C name a prototype declares."""
    m = _FUNC_NAME_RE.search(proto)
    if not m:
        raise ValueError(f"cannot find a function name in {proto!r}")
    return m.group(1)


@dataclass(frozen=True)
class Assembly:
    """What one build declares, for one libbpf header version."""

    header_version: Version
    includes: str
    cdef: str
    source: str
    #: every function any supported libbpf has, name -> version node
    functions: Dict[str, str] = field(default_factory=dict)
    #: the subset left out because the headers are older than its node
    omitted: Dict[str, str] = field(default_factory=dict)


def _load_area(name: str) -> Dict[str, str]:
    import importlib

    mod = importlib.import_module(f"{__name__}.{name}")
    return {
        "INCLUDES": getattr(mod, "INCLUDES", ""),
        "TYPES": getattr(mod, "TYPES", ""),
        "FUNCTIONS": getattr(mod, "FUNCTIONS", ""),
        "CUSTOMIZATIONS": getattr(mod, "CUSTOMIZATIONS", ""),
    }


def declared_functions() -> Dict[str, str]:
    """name -> version node for every function of every area."""
    out: Dict[str, str] = {}
    for area in AREAS:
        for proto, node, _needs in _function_statements(_load_area(area)["FUNCTIONS"]):
            name = function_name(proto)
            if name in out:
                raise ValueError(f"{name} declared twice")
            out[name] = node or FLOOR_NODE
    return out


def assemble(header_version: Version) -> Assembly:
    """Join the areas into one cdef and one C source for ``header_version``."""
    includes: List[str] = []
    types: List[str] = []
    funcs: List[str] = []
    custom: List[str] = []
    functions: Dict[str, str] = {}
    omitted: Dict[str, str] = {}
    for area in AREAS:
        parts = _load_area(area)
        includes.append(parts["INCLUDES"].strip())
        types.extend(line for line, node in _tagged_lines(parts["TYPES"])
                     if _available(node, header_version))
        for proto, node, needs in _function_statements(parts["FUNCTIONS"]):
            name = function_name(proto)
            functions[name] = node or FLOOR_NODE
            if _available(needs, header_version):
                funcs.append(proto)
            else:
                omitted[name] = needs or FLOOR_NODE
        if parts["CUSTOMIZATIONS"].strip():
            custom.append(parts["CUSTOMIZATIONS"].strip())
    cdef = "\n".join(types) + "\n" + "\n".join(funcs) + "\n"
    inc = "\n".join(i for i in includes if i)
    source = inc + "\n\n" + "\n\n".join(custom) + "\n"
    return Assembly(header_version, inc, cdef, source, functions, omitted)
