"""``python -m libbpf_py gen skeleton X.bpf.o``: a typed Python skeleton module.

The module embeds the object (base64), declares every data section as a
ctypes structure with the exact BTF layout (the same classes the runtime
:class:`~libbpf_py.Skeleton` builds, written out as source: padding,
anonymous members, bitfields, nested arrays, enums, keyword-named members
with a ``_`` suffix), and one class, a subclass of
:class:`~libbpf_py.Skeleton`, whose ``maps`` / ``progs`` / ``links`` and
section attributes are annotated, so mypy and IDEs know every name.
``open(**open_opts)`` (bpftool's ``<name>__open``) returns an instance.

The generated file imports ``libbpf_py`` and the standard library only.
"""

from __future__ import annotations

import base64
import ctypes
import hashlib
import keyword
import os
import textwrap
from typing import Any, Dict, List, Optional, Set, Tuple

from ._codec import BtfArray, _BtfRecord
from ._validate import PathLike
from .object import BpfObject, NamedMapping
from .skeleton import SkeletonSpec, describe, object_name_for

_SIMPLE: Dict[Any, Tuple[str, str]] = {}
for _name, _py in (("c_bool", "bool"), ("c_char", "bytes"), ("c_float", "float"),
                   ("c_double", "float"), ("c_int8", "int"), ("c_uint8", "int"),
                   ("c_int16", "int"), ("c_uint16", "int"), ("c_int32", "int"),
                   ("c_uint32", "int"), ("c_int64", "int"), ("c_uint64", "int")):
    _SIMPLE.setdefault(getattr(ctypes, _name), (f"ctypes.{_name}", _py))


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
        name = want if want.isidentifier() and not keyword.iskeyword(want) else "T_" + want
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
            if issubclass(ct, BtfArray):
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
        lines.append(f'    """{doc or "BTF " + cls.__name__} ({ctypes.sizeof(cls)} bytes)."""')
        lines.append("")
        lines.extend(notes)
        for pname, (bit, bits, signed) in props.items():
            lines.append(f"    {pname}: int = bitfield_property({bit}, {bits}, {signed}, "
                         f"name={pname!r})")
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


def generate(source: Any, name: Optional[str] = None, *, source_label: str = "") -> str:
    """The text of a skeleton module for a BPF object (a path or bytes)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        label = source_label or "<memory>"
        default = "skeleton"
    else:
        path = os.fspath(source)
        with open(path, "rb") as f:
            data = f.read()
        label = source_label or os.path.basename(path)
        default = object_name_for(path)
    obj_name = name or default
    if not obj_name.isidentifier():
        raise ValueError(f"skeleton name {obj_name!r} is not an identifier")
    with BpfObject.open_mem(data, name=obj_name) as obj:
        spec = describe(obj)
    return _render(data, obj_name, label, spec)


def _render(data: bytes, obj_name: str, label: str, spec: SkeletonSpec) -> str:
    w = _Writer()
    cls_name = _camel(obj_name)
    w.taken.update({cls_name, "open", "Maps", "Progs", "Links", "SPEC", "ELF", "base64",
                    "ctypes", "Any", "Optional", "Link", "Map", "Program", "NamedMapping",
                    "SectionInfo", "Skeleton", "SkeletonSpec", "BtfStruct", "BtfUnion",
                    "array_type", "bitfield_property", "annotations", "_USED"})
    section_names: Dict[str, str] = {}
    for sec in spec.sections:
        section_names[sec.ident] = w.record(
            sec.cls, f"{obj_name}__{sec.ident}",
            doc=f"Section {sec.map_name!r} of {obj_name}: its non-static variables")
    blocks = list(w.blocks)

    def container(title: str, kind: str, names: List[str], ann: str) -> str:
        lines = [f"class {title}(NamedMapping[{kind}]):",
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
    skel_cls = textwrap.dedent(f'''\
        class {cls_name}(Skeleton):
            """Skeleton of {label} (object name {obj_name!r})."""

            maps: Maps
            progs: Progs
            links: Links
            _maps_cls = Maps
            _progs_cls = Progs
            _links_cls = Links
        ''') + (ann + "\n" if ann else "")
    b64 = base64.b64encode(data).decode()
    elf = "\n".join(f'    "{b64[i:i + 76]}"' for i in range(0, len(b64), 76)) or '    ""'
    digest = hashlib.sha256(data).hexdigest()
    header = textwrap.dedent(f'''\
        """Skeleton of {label}, generated by ``python -m libbpf_py gen skeleton``. Do not edit.

        Object name {obj_name!r}, sha256 {digest}.
        ``open(**open_opts)`` returns a :class:`{cls_name}`: ``maps``, ``progs``,
        ``links`` and one attribute per data section, typed.
        """

        from __future__ import annotations

        import base64
        import ctypes
        from typing import Any, Optional

        from libbpf_py import Link, Map, Program
        from libbpf_py.object import NamedMapping
        from libbpf_py.skeleton import (
            BtfStruct,
            BtfUnion,
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
                   name: Optional[str] = None) -> str:
    """Generate and write (or return, when ``out`` is None) a skeleton module."""
    text = generate(obj_path, name)
    if out is not None:
        tmp = os.fspath(out) + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, out)
    return text
