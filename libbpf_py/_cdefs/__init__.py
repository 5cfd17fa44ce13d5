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
    C code compiled into the extension (shims), may be empty;

and ``UNDECLARED``, name -> (version node, reason), the libbpf exports it
deliberately does not declare. Declared and undeclared together are libbpf's
exported API (:func:`exported_api`, what ``linkcheck`` calls a libbpf symbol).

These tags are the only record of which version node brought a function or a
struct member: :func:`node_of_function` and :func:`node_of_field` answer from
them (``libbpf_py._features`` re-exports both for the wrappers, lazily).

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
the line. On a struct member it is that member's version node: what
:func:`node_of_field` answers for it (an untagged member answers its
section's node, or ``FLOOR_NODE`` before the first section: it is in every
supported libbpf). Project shims (C functions named ``libbpf_py_*``, defined in
``CUSTOMIZATIONS``) declare their prototypes in ``TYPES``: they are not
libbpf API and are not counted as such.
"""

from __future__ import annotations

import importlib
import os.path
import re
from typing import Dict, List, Tuple

AREAS: Tuple[str, ...] = ("common", "bpf", "btf", "libbpf", "events")

Version = Tuple[int, int]

# The patterns of this file are strings, compiled (and cached) by the re module on first
# use: the binding imports this module, and compiling them at import cost ~1 ms of
# ``import libbpf_py`` for what only assembling the declarations (build time, first use
# of the version tables) reads.
_NODE_PATTERN = r"^LIBBPF_(\d+)\.(\d+)\.(\d+)$"
_SECTION_PATTERN = r"^\s*@(LIBBPF_\d+\.\d+\.\d+)\s*$"
_LINE_TAG_PATTERN = r"\s*//\s*@(LIBBPF_\d+\.\d+\.\d+)\s*$"
# The name of a function in a one-line prototype: the identifier right before
# the first "(" that is not part of a function-pointer return type.
_FUNC_NAME_PATTERN = r"([A-Za-z_]\w*)\s*\("

FLOOR_NODE = "LIBBPF_1.0.0"

#: the include directory the assembled source needs besides libbpf's headers: the
#: package directory, which holds ``_speedups.h`` (the table of libbpf functions the
#: extension exports for ``libbpf_py._speedups``; see _cdefs/bpf.py). os.path, not
#: pathlib: the binding imports this module, and pathlib (with urllib.parse) cost ~5 ms
#: of ``import libbpf_py`` for this one line
INCLUDE_DIR = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))


def node_version(node: str) -> Version:
    """Return the libbpf release (major, minor) that first ships ``node``."""
    m = re.match(_NODE_PATTERN, node)
    if not m:
        raise ValueError(f"not a libbpf version node: {node!r}")
    return int(m.group(1)), int(m.group(2))


def node_key(node: str) -> Tuple[int, int, int]:
    """Sort key for version nodes (LIBBPF_0.0.9 < LIBBPF_0.1.0 < LIBBPF_1.0.0)."""
    m = re.match(_NODE_PATTERN, node)
    if not m:
        raise ValueError(f"not a libbpf version node: {node!r}")
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def _sectioned_lines(text: str) -> List[Tuple[str, str | None, str | None]]:
    """Split cdef text into (line, section node, line tag) triples, dropping markers."""
    out: List[Tuple[str, str | None, str | None]] = []
    section: str | None = None
    for raw in text.splitlines():
        m = re.match(_SECTION_PATTERN, raw)
        if m:
            section = m.group(1)
            node_version(section)  # validates
            continue
        tag: str | None = None
        t = re.search(_LINE_TAG_PATTERN, raw)
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
    m = re.search(_FUNC_NAME_PATTERN, proto)
    if not m:
        raise ValueError(f"cannot find a function name in {proto!r}")
    return m.group(1)


_MEMBER_FNPTR_PATTERN = r"\(\s*\*\s*([A-Za-z_]\w*)\s*\)"
_MEMBER_NAME_PATTERN = r"([A-Za-z_]\w*)\s*(?:\[[^\]]*\]\s*)*(?::\s*\w+\s*)?$"
_AGGREGATE_PATTERN = r"^\s*(?:typedef\s+)?(?:struct|union)\s+([A-Za-z_]\w*)\s*\{(.*)$"


def _member_names(stmt: str) -> List[str]:
    """The names one member declaration (without its ';') declares.

    ``__u32 a`` -> a; ``char name[...]`` -> name; ``int (*fn)(void *)`` -> fn;
    ``struct { ... } tcx`` -> tcx; an anonymous ``union { ...; }`` -> its members,
    which C reaches as members of the enclosing struct.
    """
    stmt = stmt.strip()
    if not stmt or stmt == "...":
        return []
    if stmt.endswith("}"):  # anonymous struct/union: its members belong to the outer one
        body = stmt[stmt.index("{") + 1: -1]
        names: List[str] = []
        depth = 0
        part = ""
        for ch in body:
            depth += ch == "{"
            depth -= ch == "}"
            if ch == ";" and depth == 0:
                names += _member_names(part)
                part = ""
            else:
                part += ch
        return names
    m = re.search(_MEMBER_FNPTR_PATTERN, stmt)
    if m:
        return [m.group(1)]
    m = re.search(_MEMBER_NAME_PATTERN, stmt)
    if not m:
        raise ValueError(f"cannot find a member name in {stmt!r}")
    return [m.group(1)]


def _struct_fields(text: str) -> Dict[Tuple[str, str], str]:
    """(struct or union tag, member) -> version node, for the aggregates ``text`` defines.

    A member's node is its line tag, else its section, else ``FLOOR_NODE``; a
    member written over several lines (a nested ``struct { ... } name;``) takes
    the node of the line that ends it.
    """
    out: Dict[Tuple[str, str], str] = {}
    owner: str | None = None
    depth = 0
    stmt = ""
    for raw, node in _tagged_lines(text):
        code = re.sub(r"/\*.*?\*/", "", raw.split("//", 1)[0])
        if owner is None:
            m = re.match(_AGGREGATE_PATTERN, code)
            if not m:
                continue
            owner, depth, stmt, code = m.group(1), 1, "", m.group(2)
        for ch in code:
            if ch == "}" and depth == 1:
                owner = None
                break
            depth += ch == "{"
            depth -= ch == "}"
            if ch == ";" and depth == 1:
                for name in _member_names(stmt):
                    key = (owner, name)
                    if key in out:
                        raise ValueError(f"struct {owner} declares {name} twice")
                    out[key] = node or FLOOR_NODE
                stmt = ""
            else:
                stmt += ch
        else:
            stmt += " "
    if owner is not None:
        raise ValueError(f"unterminated struct {owner}")
    return out


class Assembly:
    """What one build declares, for one libbpf header version.

    A plain class, not a dataclass: the binding imports this module, and making a
    dataclass compiles its methods at import (~1.5 ms here); nor a NamedTuple, whose
    string annotations (``from __future__ import annotations``) typing compiles one by
    one (~2 ms)."""

    __slots__ = ("cdef", "functions", "header_version", "includes", "omitted", "source")

    def __init__(self, header_version: Version, includes: str, cdef: str, source: str,
                 functions: Dict[str, str], omitted: Dict[str, str]) -> None:
        self.header_version = header_version
        self.includes = includes
        self.cdef = cdef
        self.source = source
        #: every function any supported libbpf has, name -> version node
        self.functions = functions
        #: the subset left out because the headers are older than its node
        self.omitted = omitted


def _load_area(name: str) -> Dict[str, str]:
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


def declared_fields() -> Dict[Tuple[str, str], str]:
    """(struct, member) -> version node for every struct and union member declared."""
    out: Dict[Tuple[str, str], str] = {}
    for area in AREAS:
        fields = _struct_fields(_load_area(area)["TYPES"])
        twice = sorted(set(fields) & set(out))
        if twice:
            raise ValueError(f"declared in two areas: {twice}")
        out.update(fields)
    return out


def undeclared_functions() -> Dict[str, Tuple[str, str]]:
    """name -> (version node, reason) of the libbpf exports deliberately left undeclared."""
    out: Dict[str, Tuple[str, str]] = {}
    for area in AREAS:
        mod = importlib.import_module(f"{__name__}.{area}")
        for name, (node, reason) in getattr(mod, "UNDECLARED", {}).items():
            node_version(node)  # validates
            out[name] = (node, reason)
    return out


def exported_api() -> Dict[str, str]:
    """name -> version node of libbpf's whole exported API (libbpf.map of the newest
    release declared): the declared functions and the undeclared ones."""
    out = declared_functions()
    for name, (node, _reason) in undeclared_functions().items():
        if name in out:
            raise ValueError(f"{name} is both declared and UNDECLARED")
        out[name] = node
    return out


_FUNCTION_NODES: Dict[str, str] = {}
_FIELD_NODES: Dict[Tuple[str, str], str] = {}


def node_of_function(name: str) -> str:
    """The libbpf.map version node of a libbpf function; KeyError if none is declared."""
    if not _FUNCTION_NODES:
        _FUNCTION_NODES.update(exported_api())
    try:
        return _FUNCTION_NODES[name]
    except KeyError:
        raise KeyError(f"libbpf_py declares no libbpf function {name!r}") from None


def node_of_field(struct: str, field: str) -> str:
    """The version node that brought member ``field`` of ``struct <struct>``.

    KeyError if the declarations have no such member: every option field a
    wrapper writes must be declared, with its node when newer than the floor.
    """
    if not _FIELD_NODES:
        _FIELD_NODES.update(declared_fields())
    try:
        return _FIELD_NODES[(struct, field)]
    except KeyError:
        raise KeyError(f"libbpf_py declares no member {field!r} of struct {struct}") from None


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
