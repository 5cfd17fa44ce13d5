"""``python -m libbpf_py gen skeleton X.bpf.o``: a typed Python skeleton module.

The module embeds the object (base64), declares every data section as a
ctypes structure with the exact BTF layout (the same classes the runtime
:class:`~libbpf_py.Skeleton` builds, written out as source: padding,
anonymous members, bitfields, nested arrays, enums, keyword-named members
with a ``_`` suffix), and one class, a subclass of
:class:`~libbpf_py.Skeleton`, whose ``maps`` / ``progs`` / ``links`` and
section attributes are annotated, so mypy and IDEs know every name (the
``Maps``/``Progs``/``Links`` classes derive from
:class:`~libbpf_py.skeleton.DeclaredNames`, which a type checker sees without
``__getattr__``: ``skel.maps.hsit`` is an ``attr-defined`` error).
``open(**open_opts)`` (bpftool's ``<name>__open``) returns an instance.

The embedded object is stripped of its DWARF (``.debug_*``) by default, with
``llvm-strip -g`` (or ``llvm-objcopy --strip-debug``): ``.BTF`` and ``.BTF.ext``,
which CO-RE and the verifier's line info need, are kept and checked to be there.
``keep_debug=True`` (``--keep-debug``) embeds the object as it is. With no strip
tool on ``PATH`` the object is embedded as it is, with a warning and a line in
the module's docstring saying so.

The generated file imports ``libbpf_py`` and the standard library only.
"""

from __future__ import annotations

import base64
import ctypes
import hashlib
import io
import keyword
import os
import re
import shutil
import subprocess
import tempfile
import textwrap
import warnings
from typing import Any, Dict, FrozenSet, List, Optional, Set, Tuple

from elftools.common.exceptions import ELFError  # type: ignore[import-untyped,unused-ignore]
from elftools.elf.elffile import ELFFile  # type: ignore[import-untyped,unused-ignore]

from ._codec import BtfArray, BtfChars, _BtfRecord
from ._validate import PathLike
from .errors import LibbpfError
from .object import BpfObject, NamedMapping, kept_object_name
from .skeleton import SkeletonSpec, describe, object_name_for, read_object_file

_SIMPLE: Dict[Any, Tuple[str, str]] = {}
for _name, _py in (("c_bool", "bool"), ("c_char", "bytes"), ("c_float", "float"),
                   ("c_double", "float"), ("c_int8", "int"), ("c_uint8", "int"),
                   ("c_int16", "int"), ("c_uint16", "int"), ("c_int32", "int"),
                   ("c_uint32", "int"), ("c_int64", "int"), ("c_uint64", "int")):
    _SIMPLE.setdefault(getattr(ctypes, _name), (f"ctypes.{_name}", _py))


def _doc(text: str) -> str:
    """``text`` safe inside a generated triple-quoted docstring.

    File, section and type names come from the object: a quote could end the
    docstring and run what follows at import, a backslash start an escape, a
    newline break the block's indentation. Everything is written escaped. A lone
    surrogate (a file name that is not UTF-8) is shown as its escape: a class's
    docstring must encode to UTF-8.
    """
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text.encode("unicode_escape").decode("ascii").replace('"', '\\"')


def _camel(name: str) -> str:
    out = "".join(part[:1].upper() + part[1:] for part in name.split("_") if part)
    if not out or not out.isidentifier() or keyword.iskeyword(out):
        out = "Skel" + out
    return out


class _Writer:
    """Renders ctypes classes built from BTF back into Python source."""

    def __init__(self) -> None:
        self.names: Dict[Any, str] = {}
        self.taken: Set[str] = set()
        self.blocks: List[str] = []

    def _claim(self, want: str) -> str:
        # a struct named __all__ or __name__ would replace the module's own
        dunder = want.startswith("__") and want.endswith("__")
        name = (want if want.isidentifier() and not keyword.iskeyword(want) and not dunder
                else "T_" + want)
        base, n = name, 1
        while name in self.taken:
            n += 1
            name = f"{base}_{n}"
        self.taken.add(name)
        return name

    def expr(self, ct: Any) -> str:
        """A source expression evaluating to the ctypes type ``ct``."""
        if ct in _SIMPLE:
            return _SIMPLE[ct][0]
        if isinstance(ct, type) and issubclass(ct, _BtfRecord):
            return self.record(ct)
        if isinstance(ct, type) and issubclass(ct, ctypes.Array):
            elem = self.expr(ct._type_)
            if issubclass(ct, (BtfArray, BtfChars)):
                return f"array_type({elem}, {ct._length_})"
            return f"{elem} * {ct._length_}"
        raise TypeError(f"cannot write ctypes type {ct!r} as source")

    def annotation(self, ct: Any) -> str:
        if ct in _SIMPLE:
            return _SIMPLE[ct][1]
        if isinstance(ct, type) and issubclass(ct, _BtfRecord):
            return self.record(ct)
        if isinstance(ct, type) and issubclass(ct, ctypes.Array):
            elem: Any = ct._type_
            if elem is ctypes.c_char:
                return "bytes"
            if issubclass(elem, ctypes.Array):
                return "ctypes.Array[Any]"
            return f"ctypes.Array[{self.expr(elem)}]"
        return "Any"

    def record(self, cls: Any, name: Optional[str] = None, doc: str = "") -> str:
        """Write ``cls`` (and what it needs first) once; its name in the module."""
        if cls in self.names:
            return self.names[cls]
        cname = self._claim(name or cls.__name__)
        self.names[cls] = cname
        base = "BtfUnion" if issubclass(cls, ctypes.Union) else "BtfStruct"
        fields: List[str] = []
        notes: List[str] = []
        anonymous = list(getattr(cls, "_anonymous_", ()))
        for f in cls._fields_:
            fname, ftype = f[0], f[1]
            t = self.expr(ftype)
            if len(f) == 3:
                fields.append(f"({fname!r}, {t}, {f[2]})")
                if not fname.startswith("_raw"):
                    notes.append(f"    {fname}: int")
            else:
                fields.append(f"({fname!r}, {t})")
                if fname in anonymous:
                    for inner in _promoted(ftype):
                        notes.append(f"    {inner[0]}: {self.annotation(inner[1])}")
                elif not fname.startswith("_raw"):
                    notes.append(f"    {fname}: {self.annotation(ftype)}")
        props = dict(getattr(cls, "_btf_props_", {}))
        lines = [f"class {cname}({base}):"]
        shown = _doc(doc or "BTF " + cls.__name__)
        lines.append(f'    """{shown} ({ctypes.sizeof(cls)} bytes)."""')
        lines.append("")
        lines.extend(notes)
        for pname, (bit, bits, signed) in props.items():
            lines.append(f"    {pname}: int = bitfield_property({bit}, {bits}, {signed}, "
                         f"name={pname!r})")
        # no weak references: a map may reuse a record nobody holds (_codec._BtfRecord)
        lines.append("    __slots__ = ()")
        lines.append("    _pack_ = 1")
        lines.append('    _layout_ = "ms"')
        if anonymous:
            lines.append(f"    _anonymous_ = {tuple(anonymous)!r}")
        lines.append("    _fields_ = [")
        lines.extend(f"        {f}," for f in fields)
        lines.append("    ]")
        lines.append(f"    _btf_names_ = {tuple(cls._btf_names_)!r}")
        lines.append(f"    _btf_cnames_: dict[str, str] = {dict(cls._btf_cnames_)!r}")
        lines.append(f"    _btf_props_: dict[str, tuple[int, int, bool]] = {props!r}")
        # how errors name it (a misspelled field, an int that does not fit)
        for attr in ("_btf_title_", "_btf_cname_"):
            if attr in cls.__dict__:
                lines.append(f"    {attr} = {cls.__dict__[attr]!r}")
        self.blocks.append("\n".join(lines))
        return cname


def _promoted(cls: Any) -> List[Tuple[str, Any]]:
    """The (name, ctype) pairs an anonymous member promotes into its parent."""
    out: List[Tuple[str, Any]] = []
    anonymous = set(getattr(cls, "_anonymous_", ()))
    for f in cls._fields_:
        if f[0] in anonymous:
            out.extend(_promoted(f[1]))
        elif not f[0].startswith("_raw"):
            out.append((f[0], ctypes.c_int if len(f) == 3 else f[1]))
    for pname in getattr(cls, "_btf_props_", {}):
        out.append((pname, ctypes.c_int))
    return out


def _attr_ok(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("_")


# -- stripping DWARF from the embedded object --------------------------------------------

#: sections an object keeps through stripping: CO-RE relocations and the verifier's line
#: info read them (they are not debug sections, but a strip that dropped them would be fatal)
KEPT_SECTIONS = (".BTF", ".BTF.ext")


def _section_names(data: bytes) -> FrozenSet[str]:
    """The section names of an ELF image (pyelftools); ValueError when it is not ELF."""
    try:
        elf = ELFFile(io.BytesIO(data))
        return frozenset(sec.name for sec in elf.iter_sections())
    except (ELFError, ValueError, OSError) as exc:
        raise ValueError(f"not an ELF object ({exc})") from None
    except Exception as exc:  # pyelftools raises construct/struct errors on corrupt input
        raise ValueError(f"not a readable ELF object ({type(exc).__name__}: {exc})") from None


def _llvm_versions() -> List[str]:
    """Major versions to try as ``llvm-strip-NN``: clang's first, then installed, newest first."""
    found: Set[int] = set()
    for d in os.environ.get("PATH", "").split(os.pathsep):
        try:
            names = os.listdir(d or ".")
        except OSError:
            continue
        for n in names:
            m = re.fullmatch(r"llvm-(?:strip|objcopy)-(\d+)", n)
            if m:
                found.add(int(m.group(1)))
    order = sorted(found, reverse=True)
    clang = shutil.which("clang")
    if clang is not None and len(order) > 1:
        try:
            out = subprocess.run([clang, "-dumpversion"], capture_output=True, text=True,
                                 timeout=30).stdout
            major = int(out.split(".")[0])
        except (OSError, ValueError, subprocess.SubprocessError):
            major = -1
        if major in found:
            order.remove(major)
            order.insert(0, major)
    return [str(v) for v in order]


def strip_tool() -> Optional[List[str]]:
    """The command that strips DWARF and keeps BTF (argv before the file names), or None.

    ``llvm-strip -g``, else ``llvm-strip-NN -g`` (clang's version first), else
    ``llvm-objcopy --strip-debug`` (and ``-NN``), found on ``PATH``: Debian's
    ``llvm`` package has them.
    """
    versions = _llvm_versions()
    for tool, flag in (("llvm-strip", "-g"), ("llvm-objcopy", "--strip-debug")):
        for suffix in ["", *(f"-{v}" for v in versions)]:
            path = shutil.which(tool + suffix)
            if path is not None:
                return [path, flag]
    return None


def _keep_as_is(data: bytes, label: str, why: str) -> Tuple[bytes, str]:
    warnings.warn(f"gen skeleton: {label}: the embedded object keeps its debug info "
                  f"({len(data)} bytes): {why}", UserWarning, stacklevel=4)
    return data, f"NOT stripped, {why}; {len(data)} bytes"


def _same_spec(a: SkeletonSpec, b: SkeletonSpec) -> bool:
    def names(spec: SkeletonSpec) -> Any:
        return (spec.maps, spec.programs,
                [(s.ident, s.map_name, dict(s.variables)) for s in spec.sections])
    return bool(names(a) == names(b))


def _strip_debug(data: bytes, label: str, obj_name: str,
                 spec: SkeletonSpec) -> Tuple[bytes, str]:
    """``data`` without its DWARF, and the line the module's docstring says it with."""
    try:
        before = _section_names(data)
    except ValueError as exc:  # libbpf opened it; pyelftools may still refuse odd headers
        return _keep_as_is(data, label, f"pyelftools cannot list its sections: {exc}")
    if not any(n.startswith(".debug_") for n in before):
        return data, f"no debug info to strip; {len(data)} bytes"
    tool = strip_tool()
    if tool is None:
        return _keep_as_is(data, label, "no llvm-strip or llvm-objcopy on PATH (Debian: "
                                        "apt install llvm)")
    with tempfile.TemporaryDirectory(prefix="libbpf_py-gen-") as tmp:
        src, dst = os.path.join(tmp, "in.o"), os.path.join(tmp, "out.o")
        with open(src, "wb") as f:
            f.write(data)
        argv = [*tool, src, "-o", dst] if tool[1] == "-g" else [*tool, src, dst]
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.SubprocessError) as exc:
            return _keep_as_is(data, label, f"{' '.join(tool)} failed: {exc}")
        if proc.returncode != 0:
            err = proc.stderr.strip().splitlines()
            return _keep_as_is(data, label, f"{' '.join(tool)} failed (exit "
                                            f"{proc.returncode}): {err[-1] if err else ''}")
        with open(dst, "rb") as f:
            out = f.read()
    try:
        after = _section_names(out)
    except ValueError as exc:
        return _keep_as_is(data, label, f"{' '.join(tool)} wrote {exc}")
    lost = [n for n in KEPT_SECTIONS if n in before and n not in after]
    left = sorted(n for n in after if n.startswith(".debug_"))
    if lost or left:
        what = f"lost {', '.join(lost)}" if lost else f"left {', '.join(left)}"
        return _keep_as_is(data, label, f"{' '.join(tool)} {what}")
    try:
        with BpfObject.open_mem(out, name=kept_object_name(obj_name)) as obj:
            same = _same_spec(describe(obj), spec)
    except LibbpfError as exc:
        return _keep_as_is(data, label, f"libbpf cannot open what {' '.join(tool)} wrote: "
                                        f"{exc}")
    if not same:
        return _keep_as_is(data, label, f"libbpf reads the object {' '.join(tool)} wrote "
                                        "with other maps, programs or variables")
    kept = " and ".join(n for n in KEPT_SECTIONS if n in after) or "no BTF"
    return out, (f"DWARF stripped by {os.path.basename(tool[0])} {tool[1]} "
                 f"({len(data)} -> {len(out)} bytes), {kept} kept")


def generate(source: Any, name: Optional[str] = None, *, source_label: str = "",
             keep_debug: bool = False) -> str:
    """The text of a skeleton module for a BPF object (a path or bytes).

    The embedded object is stripped of its DWARF (``.debug_*`` sections) unless
    ``keep_debug``; ``.BTF`` and ``.BTF.ext`` are kept. With no strip tool the
    object is embedded as it is, with a :class:`UserWarning`.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        label = source_label or "<memory>"
        default = "skeleton"
    else:
        path = os.fspath(source)
        data = read_object_file(path, f"gen skeleton({path!r})")
        label = source_label or os.path.basename(path)
        default = object_name_for(path)
    obj_name = name or default
    if not obj_name.isidentifier():
        raise ValueError(f"skeleton name {obj_name!r} is not an identifier")
    with BpfObject.open_mem(data, name=kept_object_name(obj_name)) as obj:
        spec = describe(obj)
    if keep_debug:
        embedded, note = data, f"debug info kept (keep_debug); {len(data)} bytes"
    else:
        embedded, note = _strip_debug(data, label, obj_name, spec)
    return _render(embedded, obj_name, label, spec, hashlib.sha256(data).hexdigest(), note)


def _render(data: bytes, obj_name: str, label: str, spec: SkeletonSpec, digest: str,
            note: str) -> str:
    w = _Writer()
    cls_name = _camel(obj_name)
    w.taken.update({cls_name, "open", "Maps", "Progs", "Links", "SPEC", "ELF", "base64",
                    "ctypes", "Any", "Optional", "Link", "Map", "Program", "DeclaredNames",
                    "SectionInfo", "Skeleton", "SkeletonSpec", "BtfStruct", "BtfUnion",
                    "array_type", "bitfield_property", "annotations", "_USED"})
    section_names: Dict[str, str] = {}
    for sec in spec.sections:
        section_names[sec.ident] = w.record(
            sec.cls, f"{obj_name}__{sec.ident}",
            doc=f"Section {sec.map_name!r} of {obj_name}: its non-static variables")
    blocks = list(w.blocks)

    def container(title: str, kind: str, names: List[str], ann: str) -> str:
        lines = [f"class {title}(DeclaredNames[{kind}]):",
                 f'    """The {title.lower()} of {obj_name}, by name (attributes too)."""',
                 ""]
        # a name NamedMapping already uses (get, items...) stays reachable by [name] only
        lines += [f"    {n}: {ann}" for n in names if _attr_ok(n) and not hasattr(NamedMapping, n)]
        if len(lines) == 3:
            lines.append("    pass")
        return "\n".join(lines)

    maps = [ident for _, ident in spec.maps]
    blocks.append(container("Maps", "Map", maps, "Map"))
    blocks.append(container("Progs", "Program", list(spec.programs), "Program"))
    blocks.append(container("Links", "Optional[Link]", list(spec.programs), "Optional[Link]"))

    secs = "\n".join(
        f"    SectionInfo({s.ident!r}, {s.map_name!r}, {section_names[s.ident]}, "
        f"{dict(s.variables)!r}, read_only={s.read_only}, kconfig={s.kconfig}),"
        for s in spec.sections)
    spec_src = (f"SPEC = SkeletonSpec(\n    maps={tuple(spec.maps)!r},\n"
                f"    programs={tuple(spec.programs)!r},\n    sections=(\n{secs}\n    ),\n)")
    ann = "\n".join(f"    {ident}: {section_names[ident]}" for ident in section_names)
    shown = _doc(label)
    skel_cls = textwrap.dedent(f'''\
        class {cls_name}(Skeleton):
            """Skeleton of {shown} (object name {obj_name!r})."""

            # narrower than Skeleton's NamedMapping: a type checker sees no __getattr__ here
            maps: Maps  # type: ignore[assignment]
            progs: Progs  # type: ignore[assignment]
            links: Links  # type: ignore[assignment]
            _maps_cls = Maps
            _progs_cls = Progs
            _links_cls = Links
        ''') + (ann + "\n" if ann else "")
    b64 = base64.b64encode(data).decode()
    elf = "\n".join(f'    "{b64[i:i + 76]}"' for i in range(0, len(b64), 76)) or '    ""'
    header = textwrap.dedent(f'''\
        """Skeleton of {shown}, generated by ``python -m libbpf_py gen skeleton``. Do not edit.

        Object name {obj_name!r}; sha256 of {shown}:
        {digest}.
        Embedded object: {_doc(note)}.
        ``open(**open_opts)`` returns a :class:`{cls_name}`: ``maps``, ``progs``,
        ``links`` and one attribute per data section, typed.
        """

        from __future__ import annotations

        import base64
        import ctypes
        from typing import Any, Optional

        from libbpf_py import Link, Map, Program
        from libbpf_py.skeleton import (
            BtfStruct,
            BtfUnion,
            DeclaredNames,
            SectionInfo,
            Skeleton,
            SkeletonSpec,
            array_type,
            bitfield_property,
        )

        __all__ = ["{cls_name}", "open"]
        ''')
    footer = textwrap.dedent(f'''\
        def open(**open_opts: Any) -> {cls_name}:  # noqa: A001  (bpftool's <name>__open)
            """Open the embedded object as a skeleton (options as BpfObject.open's)."""
            return {cls_name}._open_generated(ELF, {obj_name!r}, SPEC, open_opts)
        ''')
    parts = [header, *blocks, spec_src, skel_cls,
             f"ELF = base64.b64decode(\n{elf}\n)\n", footer]
    body = "\n\n\n".join(p.rstrip("\n") for p in parts) + "\n"
    # keep unused helper imports used, for linters and mypy --strict alike
    body += "\n_USED = (BtfStruct, BtfUnion, array_type, bitfield_property, ctypes)\n"
    return body


def write_skeleton(obj_path: PathLike, out: Optional[PathLike] = None,
                   name: Optional[str] = None, *, keep_debug: bool = False) -> str:
    """Generate and write (or return, when ``out`` is None) a skeleton module.

    ``keep_debug``: embed the object with its DWARF (default: stripped, BTF kept).
    """
    text = generate(obj_path, name, keep_debug=keep_debug)
    if out is not None:
        tmp = os.fspath(out) + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:  # Python source is UTF-8, not the locale's
            f.write(text)
        os.replace(tmp, out)
    return text
