"""Global variables: the data sections of a BPF object (``.bss``, ``.data``,
``.rodata``, ``.kconfig``, ``.data.*``, ``.rodata.*``) as typed views.

Used by both :meth:`BpfObject.var` / :meth:`BpfObject.set_var` (through
:class:`ObjectVars`) and :class:`~libbpf_py.skeleton.Skeleton`'s section
attributes (through :class:`Sections`). It sits beside ``object`` (it needs
only a BpfObject's methods, never its module at run time) and under
``skeleton``.

Before load a view is a private copy of libbpf's initial image; after load a
``.bss`` / ``.data`` view is the map's memory, mapped once; ``.rodata`` /
``.kconfig`` views are snapshots whose writes raise :class:`ReadOnlyError`.
"""

from __future__ import annotations

import ctypes
import mmap
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple, Type

from . import _validate
from ._binding import ffi, lib
from ._call import check
from ._codec import BtfStruct, _BtfReader, identifier_chars, mark_read_only, to_python
from ._map_core import created_fd
from ._record import Record
from .errors import NotLoadedError

if TYPE_CHECKING:
    from .object import BpfObject

__all__ = ["MAX_SECTION_SIZE", "ObjectVars", "ReadOnlyError", "SectionInfo", "Sections",
           "data_sections", "map_ident", "object_sections"]

_SECTION_SUFFIXES = (".data", ".rodata", ".bss", ".kconfig")


class ReadOnlyError(AttributeError):
    """A write to a data section that cannot change (``.rodata`` after load, ``.kconfig``)."""


class SectionInfo(Record):
    """One data section of a skeleton, as bpftool sees it.

    ``ident`` is the attribute name (``bss``, ``rodata_custom``), ``map_name``
    libbpf's map name, ``cls`` the ctypes structure of its layout,
    ``variables`` C name -> Python attribute name, ``read_only`` true for
    sections the kernel freezes (``.rodata*``, ``.kconfig``).
    """

    ident: str
    map_name: str
    cls: Type[Any]
    variables: Dict[str, str]
    read_only: bool = False
    kconfig: bool = False

    def __init__(self, ident: str, map_name: str, cls: Type[Any],
                 variables: Optional[Dict[str, str]] = None, read_only: bool = False,
                 kconfig: bool = False) -> None:
        self._set(ident=ident, map_name=map_name, cls=cls,
                  variables={} if variables is None else variables, read_only=read_only,
                  kconfig=kconfig)


def map_ident(name: str, internal: bool) -> Optional[str]:
    """bpftool's identifier for a map (``skel_bpf.rodata`` -> ``rodata``), None to skip it."""
    if not internal:
        return name
    for sfx in _SECTION_SUFFIXES:
        pos = name.find(sfx)
        if pos >= 0:
            return identifier_chars(name[pos + 1:])
    return None


def data_sections(obj: BpfObject) -> Tuple[SectionInfo, ...]:
    """The data sections of an opened object, in libbpf's map order, read from libbpf
    and its BTF (the BTF and map flags libbpf keeps are there after load too)."""
    ptr = obj._check_open()
    btf = lib.bpf_object__btf(ptr)
    reader = _BtfReader(btf, _c_name(lib.bpf_object__name(ptr))) if btf != ffi.NULL else None
    sections: List[SectionInfo] = []
    m = lib.bpf_object__next_map(ptr, ffi.NULL)
    while m != ffi.NULL:
        # bpftool lists every internal map with an ident; one libbpf could not make
        # mmap-able (only static variables) reads as a snapshot after load
        name = _c_name(lib.bpf_map__name(m))
        internal = bool(lib.bpf_map__is_internal(m))
        ident = map_ident(name, internal)
        if (ident is not None and internal
                and int(lib.bpf_map__type(m)) == int(lib.BPF_MAP_TYPE_ARRAY)):
            flags = int(lib.bpf_map__map_flags(m))
            size = int(lib.bpf_map__value_size(m))
            tid = int(lib.bpf_map__btf_value_type_id(m))
            cls = _section_type(reader, tid)
            if cls is None or ctypes.sizeof(cls) != size:
                cls = type(ident, (BtfStruct,), {
                    "_pack_": 1, "_fields_": [("_raw0", ctypes.c_ubyte * size)], "__slots__": (),
                    "__module__": "libbpf_py.btf_types"})
            cnames: Dict[str, str] = dict(getattr(cls, "_btf_cnames_", {}))
            variables = {c: p for p, c in cnames.items()}
            sections.append(SectionInfo(
                ident, name, cls, variables,
                read_only=bool(flags & int(lib.BPF_F_RDONLY_PROG))
                or not flags & int(lib.BPF_F_MMAPABLE),
                kconfig=ident.startswith("kconfig")))
        m = lib.bpf_object__next_map(ptr, m)
    return tuple(sections)


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


#: the largest map value the kernel creates (array maps refuse more than INT_MAX with
#: E2BIG): a section bigger than this is a lying ELF header, never worth copying
MAX_SECTION_SIZE = 0x7FFFFFFF


def _digest(view: Any) -> bytes:
    # here, not at module level: hashlib loads OpenSSL (~5 ms of import time), and only
    # load() of a skeleton whose sections were read needs it
    import hashlib

    return hashlib.sha1(view, usedforsecurity=False).digest()  # a change check, not security


class _SectionMapping(mmap.mmap):
    """A section's mapping that holds the object owning the map.

    A ctypes view built with ``from_buffer`` holds its buffer, so through this a
    view (and every nested field of it) holds its object: an object (or skeleton)
    dropped without ``close()`` / ``destroy()`` stays loaded while a view of its
    memory is alive, and a write through the view reaches the map its programs use,
    never an orphaned one.
    """

    __slots__ = ("owner",)
    owner: Any


def _section_mmap(fd: int, size: int, owner: Any) -> mmap.mmap:
    mapping = _SectionMapping(fd, max(size, 1), mmap.MAP_SHARED,
                              mmap.PROT_READ | mmap.PROT_WRITE)
    mapping.owner = owner
    return mapping


def _lookup_snapshot(fd: int, size: int, what: str) -> bytes:
    key = ffi.new("__u32 *", 0)
    buf = ffi.new("char[]", max(size, 1))
    check(lib.bpf_map_lookup_elem(fd, key, buf), f"cannot read {what}")
    return bytes(ffi.buffer(buf, size))


class Sections:
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
        # closed (by a destroy() in another thread during a guarded call): ClosedError,
        # not the not-loaded branch, which would read the pre-load image of a closed object
        self.obj._check_open()
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
        fd = created_fd(m)
        if fd < 0:
            # its map was not created (autocreate off): mmap takes fd -1 for an
            # anonymous mapping (and libbpf >= 1.4's placeholder memfd maps), whose
            # zeros would read as the section and whose writes no program would see
            raise NotLoadedError(f"section {ident!r} has no map in the kernel: map "
                                 f"{info.map_name!r} was not created (autocreate off?)")
        vsize = int(lib.bpf_map__value_size(m))
        if size > vsize:
            # value_size set below the section's variables before load: a view over
            # them would read and write past the map's value (the mapping's page
            # holds the rest), where no program sees the write
            raise ValueError(f"section {ident!r} holds {size} bytes of variables but its "
                             f"map {info.map_name!r} is {vsize} bytes (its value_size was "
                             "changed before load)")
        if info.read_only:
            view = info.cls.from_buffer_copy(
                _lookup_snapshot(fd, size, f"section {ident!r}"))
            mark_read_only(view, ReadOnlyError,
                           f"section {ident!r} is read-only after load (the kernel froze it)")
            return view
        return info.cls.from_buffer(_section_mmap(fd, size, self.obj))

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
            import difflib  # here: only an error needs it (~1.5 ms of import time)

            close = difflib.get_close_matches(name, self.where, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            known = ", ".join(self.where) or "none"
            raise KeyError(f"no global variable named {name!r} in a data section{hint} "
                           f"(variables: {known})") from None

    def get(self, name: str) -> Any:
        ident, attr = self.locate(name)
        return to_python(getattr(self.view(ident), attr))

    def set(self, name: str, value: Any) -> None:
        ident, attr = self.locate(name)
        setattr(self.view(ident), attr, value)


def object_sections(obj: BpfObject) -> Sections:
    """The data-section access of a plain BpfObject (for ``obj.var``), built once."""
    sections = obj._sections
    if sections is None or sections.obj is not obj:
        infos = data_sections(obj)
        maps = {}
        for m in obj.maps.values():
            for s in infos:
                if s.map_name == m.name:
                    maps[s.ident] = m._ptr
        sections = Sections(obj, infos, maps)
        obj._sections = sections
    return sections


def _skeleton_sections(obj: BpfObject) -> Optional[Sections]:
    """The Sections of the skeleton ``obj`` belongs to (``skel.obj``), or None. Its
    views hold the changes load() writes into the image: var()/set_var() of the
    object must see and make those, not sections of their own (whose changes the
    skeleton's view would overwrite at load)."""
    skel = getattr(obj, "_skel", None)
    return None if skel is None else skel._sections


def image_replaced(obj: BpfObject, ptr: Any) -> None:
    """``Map.initial_value`` of map ``ptr`` was set (before load): the section views
    of it show the old image, and load() would write a changed one over the new image.
    Retire them (a write through one raises ReadOnlyError); the next read of the
    section reads the new image."""
    for sections in (obj._sections, _skeleton_sections(obj)):
        if sections is None:
            continue
        for ident, m in sections.maps.items():
            view = sections.views.pop(ident, None) if m == ptr else None
            if view is not None:
                sections.images.pop(ident, None)
                mark_read_only(view, ReadOnlyError, f"section {ident!r} was replaced by "
                               "Map.initial_value: read the section again")
    skel = getattr(obj, "_skel", None)
    if skel is not None:
        skel._refresh_sections()  # its attributes (skel.rodata) cache the views


class ObjectVars:
    """``BpfObject.var`` / ``set_var``: after-load writes go straight to map memory."""

    @staticmethod
    def get(obj: BpfObject, name: str) -> Any:
        skel = _skeleton_sections(obj)
        if skel is not None:
            return skel.get(name)
        s = object_sections(obj)
        ident, _ = s.locate(name)
        if not obj.loaded:
            s.views.pop(ident, None)  # re-read the image: Map.initial_value may have changed it
        return s.get(name)

    @staticmethod
    def set(obj: BpfObject, name: str, value: Any) -> None:
        skel = _skeleton_sections(obj)
        if skel is not None:
            skel.set(name, value)
            return
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
