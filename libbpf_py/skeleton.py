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
  ``destroy()`` never touches freed memory; the view holds the skeleton, so
  one dropped without ``destroy()`` stays loaded while a view of it lives.
  ``.rodata`` / ``.kconfig`` are frozen by the kernel: they read a snapshot and
  every write raises :class:`ReadOnlyError` (never a segfault).

The section views are :mod:`libbpf_py.datasec`'s, shared with ``BpfObject.var``.

Memory libbpf frees (``bpf_object_skeleton`` and its map/program arrays) is
allocated with the C library's ``calloc``, as libbpf's ``destroy_skeleton``
frees it; the slots it points into (``struct bpf_map **``...) belong to the
Skeleton and outlive every libbpf call.
"""

from __future__ import annotations

import ctypes
import os
import threading
import unicodedata
from typing import (
    TYPE_CHECKING,
    Any,
    Dict,
    Iterator,
    List,
    Mapping,
    Optional,
    Tuple,
    Type,
    TypeVar,
    Union,
)

from . import _btfguard, _validate, log
from ._binding import ffi, lib
from ._call import make_error
from ._codec import BtfStruct, BtfUnion, array_type, bitfield_property, identifier_chars
from ._guard import Guard, guard_methods
from ._record import Record
from ._validate import PathLike
from .datasec import ReadOnlyError, SectionInfo, Sections, data_sections, map_ident
from .errors import (
    LIBBPF_ERRNO_FORMAT,
    AlreadyLoadedError,
    ClosedError,
    NotLoadedError,
    not_bpf_elf,
)
from .link import Link
from .object import BpfObject, NamedMapping, kept_object_name

if TYPE_CHECKING:
    from .map import Map
    from .program import Program

__all__ = ["BtfStruct", "BtfUnion", "DeclaredNames", "ReadOnlyError", "SectionInfo", "Skeleton",
           "SkeletonSpec", "array_type", "bitfield_property", "describe"]

S = TypeVar("S", bound="Skeleton")
T = TypeVar("T")

if TYPE_CHECKING:
    class DeclaredNames(Mapping[str, T]):
        """What a type checker sees of a generated skeleton's ``Maps``/``Progs``/``Links``.

        A read-only name -> handle mapping with no ``__getattr__``: the generated
        subclass declares one attribute per map/program, so a misspelt name
        (``skel.maps.hsit``) is a type error (``attr-defined``), not ``Any``.
        """

        def __init__(self, items: Dict[str, T], kind: str) -> None: ...

        def __getitem__(self, name: str) -> T: ...

        def __iter__(self) -> Iterator[str]: ...

        def __len__(self) -> int: ...
else:
    class DeclaredNames(NamedMapping[T]):
        """A generated skeleton's ``Maps``/``Progs``/``Links`` at run time: a NamedMapping.

        Names are attributes, and a misspelt one raises AttributeError (KeyError
        for ``[name]``) listing the names the object has, as on every skeleton;
        only the type checker's view (above) leaves ``__getattr__`` out.
        """

        __slots__ = ()

_LIBC = ctypes.CDLL(None, use_errno=True)
_LIBC.calloc.restype = ctypes.c_void_p
_LIBC.calloc.argtypes = [ctypes.c_size_t, ctypes.c_size_t]


class SkeletonSpec(Record):
    """What a skeleton names: maps (libbpf name, ident), programs, data sections."""

    maps: Tuple[Tuple[str, str], ...]
    programs: Tuple[str, ...]
    sections: Tuple[SectionInfo, ...]

    def __init__(self, maps: Tuple[Tuple[str, str], ...], programs: Tuple[str, ...],
                 sections: Tuple[SectionInfo, ...]) -> None:
        self._set(maps=maps, programs=programs, sections=sections)


def read_object_file(path: str, what: str) -> bytes:
    """The bytes of the BPF ELF file at ``path``, read whole once its start says ELF.
    Read whole first, a device that never ends (/dev/zero) or a huge file that is no
    object filled memory until MemoryError (or the OOM killer); it gets
    BpfObject.open's error for a file that is not a BPF ELF object instead."""
    with open(path, "rb") as f:
        start = f.read(64)
        if not start.startswith(b"\x7fELF"):
            err = LIBBPF_ERRNO_FORMAT
            raise not_bpf_elf(make_error(err, what), what, start, path)
        return start + f.read()


def object_name_for(path: PathLike) -> str:
    """bpftool's object name for a file: basename, ``.o`` dropped, sanitized."""
    base = os.path.basename(os.fspath(path))
    if base.endswith(".o"):
        base = base[:-2]
    return identifier_chars(base)[:63] or "skeleton"


def describe(obj: BpfObject) -> SkeletonSpec:
    """The skeleton spec of an opened (not loaded) object, read from libbpf and its BTF."""
    ptr = obj._check_open()
    maps: List[Tuple[str, str]] = []
    owners: Dict[str, str] = {}
    m = lib.bpf_object__next_map(ptr, ffi.NULL)
    while m != ffi.NULL:
        name = _validate.from_c(ffi.string(lib.bpf_map__name(m)))
        ident = map_ident(name, bool(lib.bpf_map__is_internal(m)))
        if ident is not None:
            # two maps under one name (".data.a-b" and ".data.a_b", a map named "bss"
            # beside .bss; Python folds identifiers by NFKC) would leave one unreachable
            key = unicodedata.normalize("NFKC", ident)
            if key in owners:
                raise ValueError(f"maps {owners[key]!r} and {name!r} both become the "
                                 f"skeleton name {ident!r}: rename one of them (bpftool's "
                                 "C skeleton would not compile either)")
            owners[key] = name
            maps.append((name, ident))
        m = lib.bpf_object__next_map(ptr, m)
    programs = []
    p = lib.bpf_object__next_program(ptr, ffi.NULL)
    while p != ffi.NULL:
        programs.append(_validate.from_c(ffi.string(lib.bpf_program__name(p))))
        p = lib.bpf_object__next_program(ptr, p)
    return SkeletonSpec(tuple(maps), tuple(programs), data_sections(obj))


def _calloc(n: int, size: int, ctype: str) -> Any:
    addr = _LIBC.calloc(max(n, 1), size)
    if not addr:
        raise MemoryError(f"calloc of {n} x {size} bytes failed")
    return ffi.cast(ctype, addr)


@guard_methods()
class _SkeletonObject(BpfObject):
    """The skeleton's bpf_object: closing it destroys the skeleton, loading loads it."""

    __slots__ = ("_skel",)

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
        skel._before_load()
        try:
            self._load_with(ptr, lambda: lib.bpf_object__load_skeleton(skel._s))
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
        self._guard = Guard()
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
            self._guard.retire(lambda: lib.bpf_link__destroy(ptr))

    close = destroy

    def _forget(self) -> None:
        self._ptr = None


# var()/set_var() read the maps' C structs (a section's first read): guarded, so that
# a destroy() in another thread frees the skeleton only once they return
@guard_methods(only=frozenset({"name", "load", "attach", "detach", "var", "set_var"}))
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
    _attach_lock: threading.RLock
    _guard: Guard
    _obj: _SkeletonObject
    _sections: Sections
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
            data = read_object_file(path, f"Skeleton.open({path!r})")
            label = path
            default_name = object_name_for(path)
        if not data:
            raise ValueError("the BPF object image is empty")
        name = options.pop("name", None)
        if name is None:
            name = default_name
        elif not isinstance(name, str):
            raise TypeError(f"open option name must be a str, not {type(name).__name__}")
        elif not name:  # was taken as "no name given": the default, without a word
            raise ValueError("open option name is empty (leave it out for the default)")
        with BpfObject.open_mem(data, name=kept_object_name(name)) as probe:
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
        _btfguard.check_image(data, f"bpf_object__open_skeleton(<generated {name}>)")
        return cls._open(data, name, f"<generated {name}>", spec, options)

    @classmethod
    def _open(cls: Type[S], data: bytes, name: str, label: str, spec: SkeletonSpec,
              options: Dict[str, Any]) -> S:
        self = object.__new__(cls)
        self._spec = spec
        self._destroyed = False
        # attach(), detach() and destroy() one at a time: libbpf's attach and detach
        # of the skeleton read and write its link slots unlocked (two detaches at
        # once destroyed each link twice); reentrant for a destroy() from a callback
        self._attach_lock = threading.RLock()
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
        self._sections = Sections(self._obj, spec.sections,
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
            guard = self._guard
            guard.enter()
            try:
                # checked once the guard is entered (as guard_methods does): a destroy()
                # in another thread after the check then waits for this read
                if self.__dict__.get("_destroyed", True):
                    raise ClosedError(f"skeleton is destroyed: section {name!r} is gone")
                view = self._sections.view(name)
            finally:
                guard.leave()
            self.__dict__[name] = view
            return view
        raise AttributeError(f"{type(self).__name__!s} has no attribute {name!r}")

    if not TYPE_CHECKING:  # hidden from type checkers, which flag a misspelt name already

        def __setattr__(self, name: str, value: Any) -> None:
            # A Skeleton keeps a __dict__ (the section views are cached there, so
            # ``skel.bss`` is a plain attribute read), so a misspelt name
            # (``skel.bsss =``) would land in it unseen, and ``skel.bss = ...`` would hide
            # the section. Only names the class declares (annotated, as Skeleton's own and
            # a generated or user subclass's are, or defined in the class body) are set.
            Skeleton._setattr(self, name, value)

    def _setattr(self, name: str, value: Any) -> None:
        spec = self.__dict__.get("_spec")
        idents = [s.ident for s in spec.sections] if spec is not None else []
        if name in idents:
            raise AttributeError(f"section {name!r} of a skeleton cannot be replaced: "
                                 f"set its variables (skel.{name}.<variable> = ...) or "
                                 "use set_var()")
        cls = type(self)
        if not hasattr(cls, name) and not any(
                name in vars(k).get("__annotations__", ()) for k in cls.__mro__):
            import difflib  # here: only an error needs it (~1.5 ms of import time)

            known = [*idents, "maps", "progs", "links"]
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise AttributeError(
                f"{cls.__name__} has no attribute {name!r} to set{hint} (a subclass "
                "declares the attributes it adds in its class body: name: type)")
        object.__setattr__(self, name, value)

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
        with self._attach_lock, log.capture() as messages:
            ret = lib.bpf_object__attach_skeleton(self._s)
            self._collect_links()
        if ret < 0:
            text = [ln.strip() for ln in "".join(messages).splitlines() if ln.strip()]
            raise make_error(-ret, "bpf_object__attach_skeleton",
                             os.strerror(-ret) + (f"; libbpf: {text[-1]}" if text else ""))

    def _collect_links(self) -> None:
        if self._destroyed:
            # destroyed meanwhile (a callback): the slots' links are the skeleton's to
            # free, a Link over one would outlive it
            return
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
        with self._attach_lock:
            # each Link destroyed as by link.destroy(): its slot emptied now, the link
            # freed once no call on it (link.info() in another thread) is in flight
            for link in self._links.values():
                if link is not None:
                    link.destroy()
            lib.bpf_object__detach_skeleton(self._s)  # the slots no Link holds yet
            self._collect_links()

    def destroy(self) -> None:
        """``bpf_object__destroy_skeleton``: detach, close the object, free (idempotent)."""
        if self._destroyed:
            return
        with self._attach_lock:
            self._destroyed = True
            # freed once no call on them is in flight (they would be freed with the
            # skeleton, under such a call)
            for link in self._links.values():
                if link is not None:
                    link.destroy()
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
