"""Skeleton: libbpf's ``bpf_object_skeleton``, driven from Python, with typed global data.

``Skeleton.open(path_or_bytes, **open_opts)`` names the object's maps and
programs the way ``bpftool gen skeleton`` does, fills a ``struct
bpf_object_skeleton`` with them and calls ``bpf_object__open_skeleton``;
``load()`` / ``attach()`` / ``detach()`` / ``destroy()`` call libbpf's
``bpf_object__load_skeleton`` / ``attach_skeleton`` / ``detach_skeleton`` /
``destroy_skeleton``. ``python -m libbpf_py gen skeleton`` (:mod:`libbpf_py.gen`)
writes a typed module over the same class.

Data sections (``.bss``, ``.data``, ``.rodata``, ``.kconfig``, ``.data.*``,
``.rodata.*``) are attributes named as bpftool names them (``bss``,
``data_custom``...): ctypes structures with the section's exact BTF layout,
whose fields are its non-static variables.

* Before load a section is a private copy of libbpf's initial image; writes
  to it are handed to libbpf (``bpf_map__set_initial_value``) by ``load()``.
  ``.kconfig`` is read-only (libbpf fills it at load).
* After load ``.bss`` / ``.data`` sections are views of the map's memory,
  mapped with ``mmap`` once: a read or write is a plain memory access, no
  system call. The mapping belongs to the view, so a view kept past
  ``destroy()`` never touches freed memory. ``.rodata`` / ``.kconfig`` are
  frozen by the kernel: they read a snapshot and every write raises
  :class:`ReadOnlyError` (never a segfault).

Memory libbpf frees (``bpf_object_skeleton`` and its map/program arrays) is
allocated with the C library's ``calloc``, as libbpf's ``destroy_skeleton``
frees it; the slots it points into (``struct bpf_map **``...) belong to the
Skeleton and outlive every libbpf call.
"""

from __future__ import annotations

import ctypes
import mmap
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple, Type, TypeVar, Union

from . import _validate, log
from ._binding import ffi, lib
from ._call import check, make_error
from ._codec import (
    BtfStruct,
    BtfUnion,
    _BtfReader,
    array_type,
    bitfield_property,
    mark_read_only,
    to_python,
)
from ._guard import Guard, guard_methods
from ._validate import PathLike
from .errors import AlreadyLoadedError, ClosedError, NotLoadedError
from .link import Link
from .object import BpfObject, NamedMapping

if TYPE_CHECKING:
    from .map import Map
    from .program import Program

__all__ = ["BtfStruct", "BtfUnion", "ReadOnlyError", "SectionInfo", "Skeleton", "SkeletonSpec",
           "array_type", "bitfield_property", "describe"]

S = TypeVar("S", bound="Skeleton")

_SECTION_SUFFIXES = (".data", ".rodata", ".bss", ".kconfig")
_LIBC = ctypes.CDLL(None, use_errno=True)
_LIBC.calloc.restype = ctypes.c_void_p
_LIBC.calloc.argtypes = [ctypes.c_size_t, ctypes.c_size_t]


class ReadOnlyError(AttributeError):
    """A write to a data section that cannot change (``.rodata`` after load, ``.kconfig``)."""


@dataclass(frozen=True)
class SectionInfo:
    """One data section of a skeleton, as bpftool sees it.

    ``ident`` is the attribute name (``bss``, ``rodata_custom``), ``map_name``
    libbpf's map name, ``cls`` the ctypes structure of its layout,
    ``variables`` C name -> Python attribute name, ``read_only`` true for
    sections the kernel freezes (``.rodata*``, ``.kconfig``).
    """

    ident: str
    map_name: str
    cls: Type[Any]
    variables: Dict[str, str] = field(default_factory=dict)
    read_only: bool = False
    kconfig: bool = False


@dataclass(frozen=True)
class SkeletonSpec:
    """What a skeleton names: maps (libbpf name, ident), programs, data sections."""

    maps: Tuple[Tuple[str, str], ...]
    programs: Tuple[str, ...]
    sections: Tuple[SectionInfo, ...]


def map_ident(name: str, internal: bool) -> Optional[str]:
    """bpftool's identifier for a map (``skel_bpf.rodata`` -> ``rodata``), None to skip it."""
    if not internal:
        return name
    for sfx in _SECTION_SUFFIXES:
        pos = name.find(sfx)
        if pos >= 0:
            return "".join(c if c.isalnum() else "_" for c in name[pos + 1:])
    return None


def object_name_for(path: PathLike) -> str:
    """bpftool's object name for a file: basename, ``.o`` dropped, sanitized."""
    base = os.path.basename(os.fspath(path))
    if base.endswith(".o"):
        base = base[:-2]
    return "".join(c if c.isalnum() else "_" for c in base)[:63] or "skeleton"


def describe(obj: BpfObject) -> SkeletonSpec:
    """The skeleton spec of an opened (not loaded) object, read from libbpf and its BTF."""
    ptr = obj._check_open()
    btf = lib.bpf_object__btf(ptr)
    reader = _BtfReader(btf, _c_name(lib.bpf_object__name(ptr))) if btf != ffi.NULL else None
    maps: List[Tuple[str, str]] = []
    sections: List[SectionInfo] = []
    m = lib.bpf_object__next_map(ptr, ffi.NULL)
    while m != ffi.NULL:
        name = _validate.from_c(ffi.string(lib.bpf_map__name(m)))
        internal = bool(lib.bpf_map__is_internal(m))
        ident = map_ident(name, internal)
        if ident is not None:
            maps.append((name, ident))
            flags = int(lib.bpf_map__map_flags(m))
            # bpftool lists every internal map with an ident; one libbpf could not make
            # mmap-able (only static variables) reads as a snapshot after load
            if internal and int(lib.bpf_map__type(m)) == int(lib.BPF_MAP_TYPE_ARRAY):
                size = int(lib.bpf_map__value_size(m))
                tid = int(lib.bpf_map__btf_value_type_id(m))
                cls = _section_type(reader, tid)
                if cls is None or ctypes.sizeof(cls) != size:
                    cls = type(ident, (BtfStruct,), {
                        "_pack_": 1, "_fields_": [("_raw0", ctypes.c_ubyte * size)],
                        "__module__": "libbpf_py.btf_types"})
                cnames: Dict[str, str] = dict(getattr(cls, "_btf_cnames_", {}))
                variables = {c: p for p, c in cnames.items()}
                sections.append(SectionInfo(
                    ident, name, cls, variables,
                    read_only=bool(flags & int(lib.BPF_F_RDONLY_PROG))
                    or not flags & int(lib.BPF_F_MMAPABLE),
                    kconfig=ident.startswith("kconfig")))
        m = lib.bpf_object__next_map(ptr, m)
    programs = []
    p = lib.bpf_object__next_program(ptr, ffi.NULL)
    while p != ffi.NULL:
        programs.append(_c_name(lib.bpf_program__name(p)))
        p = lib.bpf_object__next_program(ptr, p)
    return SkeletonSpec(tuple(maps), tuple(programs), tuple(sections))


def _c_name(p: Any) -> str:
    """A name libbpf returns, by the one rule of ``_validate.from_c``."""
    return _validate.from_c(ffi.string(p))


def _section_type(reader: Optional[_BtfReader], tid: int) -> Optional[Type[Any]]:
    """The ctypes class of a section's BTF type, or None (raw bytes) when Python cannot
    build one: libbpf accepts BTF that, e.g., names a type id it does not have."""
    if reader is None or not tid:
        return None
    try:
        cls: Type[Any] = reader.ctype(tid)
    except (ValueError, TypeError, OverflowError, AttributeError, RecursionError):
        return None
    return cls


def _calloc(n: int, size: int, ctype: str) -> Any:
    addr = _LIBC.calloc(max(n, 1), size)
    if not addr:
        raise MemoryError(f"calloc of {n} x {size} bytes failed")
    return ffi.cast(ctype, addr)


@guard_methods()
class _SkeletonObject(BpfObject):
    """The skeleton's bpf_object: closing it destroys the skeleton, loading loads it."""

    def __init__(self, ptr: Any, skel: Skeleton, source: str, keep: List[Any],
                 opts: Any) -> None:
        # the NULL pointer makes BpfObject's safety net a no-op: the skeleton owns ptr
        super().__init__(ffi.cast("struct bpf_object *", 0), keep, source, opts)
        self._ptr = ptr
        self._skel: Optional[Skeleton] = skel

    def close(self) -> None:
        skel, self._skel = self._skel, None
        self._ptr = None
        self._keep = []
        if skel is not None:
            skel.destroy()

    def load(self) -> None:
        skel = self._skel
        ptr = self._check_open()
        if skel is None:  # pragma: no cover  (closed objects fail above)
            raise ClosedError("skeleton is destroyed")
        if self._loaded:
            raise AlreadyLoadedError(f"skeleton {self.name!r} is already loaded")
        del ptr
        skel._before_load()
        try:
            with log.capture() as messages:
                ret = lib.bpf_object__load_skeleton(skel._s)
            if ret < 0:
                self._raise_load_error(-ret, messages)
            self._loaded = True
        finally:
            skel._after_load()


class _SkeletonLink(Link):
    """A link stored in the skeleton's program slot: destroying it empties the slot."""

    __slots__ = ("_slot",)
    _slot: Any

    @classmethod
    def _borrow(cls, ptr: Any, program: Program, slot: Any) -> _SkeletonLink:
        self = object.__new__(cls)
        self._ptr = ptr
        self._program = program
        self._owner = None
        self._slot = slot
        return self

    def destroy(self) -> None:
        """Detach and free this one link (the skeleton forgets it)."""
        ptr, self._ptr = self._ptr, None
        if ptr is not None:
            self._slot[0] = ffi.NULL
            lib.bpf_link__destroy(ptr)

    close = destroy

    def _forget(self) -> None:
        self._ptr = None


#: the largest map value the kernel creates (array maps refuse more than INT_MAX with
#: E2BIG): a section bigger than this is a lying ELF header, never worth copying
MAX_SECTION_SIZE = 0x7FFFFFFF


def _digest(view: Any) -> bytes:
    # here, not at module level: hashlib loads OpenSSL (~5 ms of import time), and only
    # load() of a skeleton whose sections were read needs it
    import hashlib

    return hashlib.sha1(view, usedforsecurity=False).digest()  # a change check, not security


def _section_mmap(fd: int, size: int) -> mmap.mmap:
    return mmap.mmap(fd, max(size, 1), mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)


def _lookup_snapshot(fd: int, size: int, what: str) -> bytes:
    key = ffi.new("__u32 *", 0)
    buf = ffi.new("char[]", max(size, 1))
    check(lib.bpf_map_lookup_elem(fd, key, buf), f"cannot read {what}")
    return bytes(ffi.buffer(buf, size))


class _Sections:
    """Views of one object's data sections, before and after load (shared by Skeleton
    and ``BpfObject.var``)."""

    def __init__(self, obj: BpfObject, infos: Sequence[SectionInfo],
                 maps: Dict[str, Any]) -> None:
        self.obj = obj
        self.infos = {s.ident: s for s in infos}
        self.maps = maps  # ident -> struct bpf_map *
        self.views: Dict[str, Any] = {}
        self.seen_loaded = obj.loaded
        self.images: Dict[str, bytes] = {}  # digest of the pre-load image as first read
        self.where: Dict[str, Tuple[str, str]] = {}  # C var name -> (ident, attr)
        for s in infos:
            for cname, attr in s.variables.items():
                self.where.setdefault(cname, (s.ident, attr))

    def view(self, ident: str) -> Any:
        if self.obj.loaded != self.seen_loaded:  # loaded behind our back: drop the images
            self.views.clear()
            self.seen_loaded = self.obj.loaded
        v = self.views.get(ident)
        if v is None:
            v = self.views[ident] = self._make(ident)
        return v

    def _make(self, ident: str) -> Any:
        info = self.infos[ident]
        m = self.maps[ident]
        size = ctypes.sizeof(info.cls)
        if size > MAX_SECTION_SIZE:
            raise ValueError(f"section {ident!r} claims {size} bytes, more than the kernel "
                             f"accepts for a map value ({MAX_SECTION_SIZE}): the ELF file's "
                             "section header is wrong; load() fails with E2BIG")
        if not self.obj.loaded:
            psize = ffi.new("size_t *")
            data = lib.bpf_map__initial_value(m, psize)
            have = min(size, int(psize[0])) if data != ffi.NULL else 0
            if have == size:  # the image is copied once, never more than size
                view = info.cls.from_buffer_copy(ffi.buffer(data, size))
            else:
                view = info.cls()  # zeroed past what libbpf has
                if have:
                    ctypes.memmove(ctypes.addressof(view), int(ffi.cast("uintptr_t", data)),
                                   have)
            self.images[ident] = _digest(view)
            if info.kconfig:
                mark_read_only(view, ReadOnlyError,
                               f"section {ident!r} is read-only: libbpf fills it at load")
            return view
        fd = int(lib.bpf_map__fd(m))
        if info.read_only:
            view = info.cls.from_buffer_copy(
                _lookup_snapshot(fd, size, f"section {ident!r}"))
            mark_read_only(view, ReadOnlyError,
                           f"section {ident!r} is read-only after load (the kernel froze it)")
            return view
        return info.cls.from_buffer(_section_mmap(fd, size))

    def flush(self) -> None:
        """Before load: hand every changed pre-load view to libbpf, then retire them."""
        for ident, view in list(self.views.items()):
            info = self.infos[ident]
            if not info.kconfig and _digest(view) != self.images.get(ident):
                # libbpf copies the image out of the view
                buf = ffi.cast("void *", ctypes.addressof(view))
                check(lib.bpf_map__set_initial_value(self.maps[ident], buf,
                                                     ctypes.sizeof(view)),
                      f"cannot set the initial value of section {ident!r}")
        self.retire("the object is loaded: this view is the pre-load image; read the "
                    "section again", ReadOnlyError)

    def retire(self, message: str, exc: Type[Exception]) -> None:
        for view in self.views.values():
            mark_read_only(view, exc, message)
        self.views.clear()
        self.images.clear()

    def locate(self, name: str) -> Tuple[str, str]:
        try:
            return self.where[name]
        except KeyError:
            known = ", ".join(self.where) or "none"
            raise KeyError(f"no global variable named {name!r} in a data section "
                           f"(variables: {known})") from None

    def get(self, name: str) -> Any:
        ident, attr = self.locate(name)
        return to_python(getattr(self.view(ident), attr))

    def set(self, name: str, value: Any) -> None:
        ident, attr = self.locate(name)
        setattr(self.view(ident), attr, value)


def object_sections(obj: BpfObject) -> _Sections:
    """The data-section access of a plain BpfObject (for ``obj.var``), built once."""
    sections: Optional[_Sections] = getattr(obj, "_sections", None)
    if sections is None or sections.obj is not obj:
        spec = describe(obj)  # the BTF and map flags libbpf keeps are there after load too
        maps = {}
        for m in obj.maps.values():
            for s in spec.sections:
                if s.map_name == m.name:
                    maps[s.ident] = m._ptr
        sections = _Sections(obj, spec.sections, maps)
        obj._sections = sections  # type: ignore[attr-defined]
    return sections


class _PlainVars:
    """``BpfObject.var`` / ``set_var``: after-load writes go straight to map memory."""

    @staticmethod
    def get(obj: BpfObject, name: str) -> Any:
        s = object_sections(obj)
        ident, _ = s.locate(name)
        if not obj.loaded:
            s.views.pop(ident, None)  # re-read the image: Map.initial_value may have changed it
        return s.get(name)

    @staticmethod
    def set(obj: BpfObject, name: str, value: Any) -> None:
        s = object_sections(obj)
        ident, attr = s.locate(name)
        if not obj.loaded:
            s.views.pop(ident, None)
            view = s.view(ident)
            setattr(view, attr, value)
            data = bytes(view)
            buf = ffi.new("char[]", data or b"\0")
            check(lib.bpf_map__set_initial_value(s.maps[ident], buf, len(data)),
                  f"cannot set variable {name!r}")
            s.views.pop(ident, None)
            return
        setattr(s.view(ident), attr, value)


@guard_methods(only=frozenset({"name", "load", "attach", "detach"}))
class Skeleton:
    """An object opened through libbpf's skeleton API, with typed data sections.

    ``maps``, ``progs`` (name -> :class:`~libbpf_py.Map` /
    :class:`~libbpf_py.Program`, named as in bpftool's skeleton), ``links``
    (program name -> :class:`~libbpf_py.Link` or None) and one attribute
    per data section. Use as a context manager or call :meth:`destroy`.
    """

    _s: Any
    _spec: SkeletonSpec
    _destroyed: bool
    _guard: Guard
    _obj: _SkeletonObject
    _sections: _Sections
    _links: Dict[str, Optional[_SkeletonLink]]
    _link_slots: Dict[str, Any]
    maps: NamedMapping[Map]
    progs: NamedMapping[Program]
    links: NamedMapping[Optional[Link]]
    # generated skeletons narrow these to classes that name every map/program/link
    _maps_cls: Type[Any] = NamedMapping
    _progs_cls: Type[Any] = NamedMapping
    _links_cls: Type[Any] = NamedMapping

    def __init__(self) -> None:
        raise TypeError("use Skeleton.open(path_or_bytes, **open_opts)")

    # -- opening --------------------------------------------------------------------------

    @classmethod
    def open(cls, source: Union[PathLike, bytes, bytearray, memoryview],
             **options: Any) -> Skeleton:
        """Open a BPF ELF file (a path) or image (bytes) as a skeleton.

        Options are :meth:`BpfObject.open`'s. ``name`` is the skeleton's
        object name (default: bpftool's, from the file name: ``x.bpf.o`` ->
        ``x_bpf``; ``"skeleton"`` for bytes); libbpf prefixes the names of
        ``.data``/``.bss``/... maps with it.
        """
        if isinstance(source, (bytes, bytearray, memoryview)):
            data = bytes(source)
            label = "<memory>"
            default_name = "skeleton"
        else:
            path = os.fspath(source)
            with open(path, "rb") as f:
                data = f.read()
            label = path
            default_name = object_name_for(path)
        if not data:
            raise ValueError("the BPF object image is empty")
        name = options.pop("name", None) or default_name
        if not isinstance(name, str):
            raise TypeError(f"open option name must be a str, not {type(name).__name__}")
        with BpfObject.open_mem(data, name=name) as probe:
            spec = describe(probe)
        return cls._open(data, name, label, spec, options)

    @classmethod
    def _open_generated(cls: Type[S], data: bytes, name: str, spec: SkeletonSpec,
                        options: Dict[str, Any]) -> S:
        """Open the image a generated module embeds, with the names it was generated with."""
        if options.get("name") not in (None, name):
            raise TypeError(f"a generated skeleton's object name is fixed ({name!r}): libbpf "
                            "names its .data/.bss/... maps after it")
        options.pop("name", None)
        return cls._open(data, name, f"<generated {name}>", spec, options)

    @classmethod
    def _open(cls: Type[S], data: bytes, name: str, label: str, spec: SkeletonSpec,
              options: Dict[str, Any]) -> S:
        self = object.__new__(cls)
        self._spec = spec
        self._destroyed = False
        keep: List[Any] = []
        opts = BpfObject._make_opts(options, keep)
        cname = _validate.cstr(name, "name")
        image = ffi.new("char[]", data)
        cstr = ffi.new("char[]", cname)
        keep += [image, cstr]
        map_sz = ffi.sizeof("struct bpf_map_skeleton")
        prog_sz = ffi.sizeof("struct bpf_prog_skeleton")
        has_map_link = "link" in {f for f, _ in ffi.typeof("struct bpf_map_skeleton").fields}
        s = _calloc(1, ffi.sizeof("struct bpf_object_skeleton"), "struct bpf_object_skeleton *")
        s.sz = ffi.sizeof("struct bpf_object_skeleton")
        s.name = cstr
        s.data = image
        s.data_sz = len(data)
        objpp = ffi.new("struct bpf_object **")
        s.obj = objpp
        keep.append(objpp)  # libbpf writes and reads *s->obj until destroy
        maps = _calloc(len(spec.maps), map_sz, "struct bpf_map_skeleton *")
        s.maps = maps
        s.map_cnt = len(spec.maps)
        s.map_skel_sz = map_sz
        progs = _calloc(len(spec.programs), prog_sz, "struct bpf_prog_skeleton *")
        s.progs = progs
        s.prog_cnt = len(spec.programs)
        s.prog_skel_sz = prog_sz
        sections = {sec.map_name: sec for sec in spec.sections}
        map_slots: List[Tuple[str, Any]] = []
        for i, (mname, ident) in enumerate(spec.maps):
            n = ffi.new("char[]", _validate.cstr(mname, "map name"))
            slot = ffi.new("struct bpf_map **")
            maps[i].name = n
            maps[i].map = slot
            keep += [n, slot]
            if mname in sections:
                mm = ffi.new("void **")
                maps[i].mmaped = mm
                keep.append(mm)
            if has_map_link:
                ln = ffi.new("struct bpf_link **")
                maps[i].link = ln
                keep.append(ln)
            map_slots.append((ident, slot))
        self._link_slots = {}
        prog_slots: List[Tuple[str, Any]] = []
        for i, pname in enumerate(spec.programs):
            n = ffi.new("char[]", _validate.cstr(pname, "program name"))
            slot = ffi.new("struct bpf_program **")
            ln = ffi.new("struct bpf_link **")
            progs[i].name = n
            progs[i].prog = slot
            progs[i].link = ln
            keep += [n, slot, ln]
            prog_slots.append((pname, slot))
            self._link_slots[pname] = ln

        def destroy_skeleton(ptr: Any, keep: List[Any] = keep) -> None:
            lib.bpf_object__destroy_skeleton(ptr)  # frees s, maps, progs; reads the slots
            keep.clear()

        self._s = ffi.gc(s, destroy_skeleton)
        with log.capture() as messages:
            ret = lib.bpf_object__open_skeleton(self._s, opts)
        if ret < 0:
            ffi.release(self._s)
            text = [ln.strip() for ln in "".join(messages).splitlines() if ln.strip()]
            raise make_error(-ret, f"bpf_object__open_skeleton({label!r})",
                             os.strerror(-ret) + (f"; libbpf: {text[-1]}" if text else ""))
        self._obj = _SkeletonObject(objpp[0], self, label, keep, opts)
        self._guard = self._obj._guard  # calls in flight keep the skeleton from being freed
        by_ptr = {int(ffi.cast("uintptr_t", m._ptr)): m for m in self._obj.maps.values()}
        self.maps = self._maps_cls(
            {ident: by_ptr[int(ffi.cast("uintptr_t", slot[0]))] for ident, slot in map_slots},
            "map")
        self.progs = self._progs_cls(
            {pname: self._obj.programs[pname] for pname, _ in prog_slots}, "program")
        self._links = {p: None for p in spec.programs}
        self.links = self._links_cls(dict(self._links), "link")
        self._sections = _Sections(self._obj, spec.sections,
                                   {sec.ident: self.maps[sec.ident]._ptr
                                    for sec in spec.sections})
        for sec in spec.sections:
            size = int(lib.bpf_map__value_size(self.maps[sec.ident]._ptr))
            if ctypes.sizeof(sec.cls) != size:
                self.destroy()
                raise ValueError(f"section {sec.ident!r} is {size} bytes but its type "
                                 f"{sec.cls.__name__} is {ctypes.sizeof(sec.cls)}: the "
                                 "skeleton was generated from another object")
        self._refresh_sections()
        return self

    # -- state ----------------------------------------------------------------------------

    @property
    def obj(self) -> BpfObject:
        """The skeleton's :class:`~libbpf_py.BpfObject` (closing it destroys the skeleton)."""
        self._check()
        return self._obj

    @property
    def name(self) -> str:
        return self.obj.name

    @property
    def closed(self) -> bool:
        return self._destroyed

    @property
    def loaded(self) -> bool:
        return not self._destroyed and self._obj.loaded

    @property
    def sections(self) -> Tuple[str, ...]:
        """The data-section attribute names, in libbpf's map order."""
        return tuple(s.ident for s in self._spec.sections)

    def _check(self) -> None:
        if self._destroyed:
            raise ClosedError("skeleton is destroyed")

    def __getattr__(self, name: str) -> Any:
        # reached only when the attribute is missing: a section not read yet (views are
        # built on first access, so open() copies nothing), or one after destroy
        spec = self.__dict__.get("_spec")
        if spec is not None and any(s.ident == name for s in spec.sections):
            if self.__dict__.get("_destroyed", True):
                raise ClosedError(f"skeleton is destroyed: section {name!r} is gone")
            guard = self._guard
            guard.enter()
            try:
                view = self._sections.view(name)
            finally:
                guard.leave()
            self.__dict__[name] = view
            return view
        raise AttributeError(f"{type(self).__name__!s} has no attribute {name!r}")

    def _refresh_sections(self) -> None:
        for sec in self._spec.sections:
            self.__dict__.pop(sec.ident, None)  # the next access builds the current view

    # -- phases ---------------------------------------------------------------------------

    def load(self) -> None:
        """``bpf_object__load_skeleton``: create maps, load programs, map .bss/.data."""
        self._check()
        self._obj.load()

    def _before_load(self) -> None:
        self._sections.flush()

    def _after_load(self) -> None:
        self._refresh_sections()

    def attach(self) -> None:
        """``bpf_object__attach_skeleton``: attach every program whose SEC() says how."""
        self._check()
        if not self._obj.loaded:
            raise NotLoadedError("load() the skeleton before attach()")
        with log.capture() as messages:
            ret = lib.bpf_object__attach_skeleton(self._s)
        self._collect_links()
        if ret < 0:
            text = [ln.strip() for ln in "".join(messages).splitlines() if ln.strip()]
            raise make_error(-ret, "bpf_object__attach_skeleton",
                             os.strerror(-ret) + (f"; libbpf: {text[-1]}" if text else ""))

    def _collect_links(self) -> None:
        for pname, slot in self._link_slots.items():
            cur = self._links[pname]
            ptr = slot[0]
            if cur is not None and (cur.closed or cur._ptr != ptr):
                cur._forget()
                cur = None
            if cur is None and ptr != ffi.NULL:
                cur = _SkeletonLink._borrow(ptr, self.progs[pname], slot)
            self._links[pname] = cur
        self.links = self._links_cls(dict(self._links), "link")

    def detach(self) -> None:
        """``bpf_object__detach_skeleton``: destroy every link attach() made."""
        self._check()
        for link in self._links.values():
            if link is not None:
                link._forget()
        lib.bpf_object__detach_skeleton(self._s)
        self._collect_links()

    def destroy(self) -> None:
        """``bpf_object__destroy_skeleton``: detach, close the object, free (idempotent)."""
        if self._destroyed:
            return
        self._destroyed = True
        for link in self._links.values():
            if link is not None:
                link._forget()
        self._sections.retire("skeleton is destroyed", ClosedError)
        for sec in self._spec.sections:
            self.__dict__.pop(sec.ident, None)
        obj = self._obj
        obj._skel = None
        obj._ptr = None
        # freed once no call on the object is in flight in another thread
        obj._retire(lambda: ffi.release(self._s))

    close = destroy

    def __enter__(self: S) -> S:
        self._check()
        return self

    def __exit__(self, *exc: object) -> None:
        self.destroy()

    def __repr__(self) -> str:
        if self._destroyed:
            return "<Skeleton destroyed>"
        state = "loaded" if self._obj.loaded else "opened"
        return f"<Skeleton {self._obj.name!r} {state} sections={list(self.sections)}>"

    # -- variables by name ----------------------------------------------------------------

    def var(self, name: str) -> Any:
        """The value of global variable ``name`` (its C name), as a plain Python value."""
        self._check()
        return self._sections.get(name)

    def set_var(self, name: str, value: Any) -> None:
        """Set global variable ``name`` (before load: the initial image; after: memory)."""
        self._check()
        self._sections.set(name, value)
