"""Map: a BPF map, borrowed from a BpfObject or standalone (owning an fd).

Two kinds of handle, one element API:

* **Object maps** come from :attr:`BpfObject.maps <libbpf_py.object.BpfObject.maps>`.
  Before load they describe what the ELF file asks for, and the settings
  (:attr:`Map.max_entries`, :attr:`Map.initial_value`, ...) can be changed;
  after load they have an :attr:`Map.fd` and an :attr:`Map.id` and the settings
  are fixed (:class:`~libbpf_py.errors.AlreadyLoadedError`). They hold their
  object and raise :class:`~libbpf_py.errors.ClosedError` once it is closed.
* **Standalone maps** own a file descriptor: :meth:`Map.create`,
  :meth:`Map.from_pinned`, :meth:`Map.from_id`, :meth:`Map.from_fd`. Their type
  and sizes come from the kernel. Close them with :meth:`Map.close` or a
  ``with`` block.

Elements, once the map exists in the kernel::

    m[key] = value              # update(key, value, UpdateFlag.ANY)
    m[key]                      # KeyError when absent
    del m[key]                  # KeyError when absent
    key in m; m.get(key, default)
    for key, value in m.items(): ...
    m.lookup_batch()            # every (key, value) pair, a batch of them per bpf() call
    keys, values = m.lookup_batch_arrays()  # the same as two arrays (memoryviews)

Keys and values are encoded as described in :mod:`libbpf_py._codec`: any
bytes-like object of exactly the right size always works; without BTF a
1/2/4/8-byte key or value is an unsigned int, anything else ``bytes``; with BTF
ints, structs (ctypes), arrays and floats follow their C types.

Map kinds with their own shapes:

* per-CPU maps (PERCPU_HASH, PERCPU_ARRAY, LRU_PERCPU_HASH,
  PERCPU_CGROUP_STORAGE): a value reads as a ``list`` with one value per
  *possible* CPU (``libbpf_num_possible_cpus()``, index = CPU number); a write
  takes such a list or one value that is copied to every CPU. In the kernel
  each CPU's slot is the value size rounded up to 8 bytes.
* maps of maps (ARRAY_OF_MAPS, HASH_OF_MAPS) and PROG_ARRAY: a value is
  written as a :class:`Map` (or anything with an ``fd``) or an int fd, and
  reads back as the inner object's kernel *id* (an int), which
  :meth:`Map.from_id` opens.
* QUEUE and STACK have no keys: :meth:`Map.push`, :meth:`Map.pop` and
  :meth:`Map.peek`; ``pop``/``peek`` on an empty one raise ``IndexError``.
* BLOOM_FILTER: :meth:`Map.push` adds a value, ``value in m`` (or
  :meth:`Map.contains`) tests it (false positives possible, never false
  negatives).
* ARRAY and PERCPU_ARRAY elements always exist: ``del`` raises
  :class:`~libbpf_py.errors.LibbpfError` (EINVAL), ``len()`` is ``max_entries``.
"""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING, Any, Optional, Union

from . import _map_core, _validate
from ._binding import ffi, lib
from ._call import check, check_pin, make_error
from ._guard import Guard, guard_methods
from ._ids import dup_fd, fd_by_id, fd_kind, obj_get
from ._info import MapInfo, check_pinned_here
from ._info import map_info as _map_info  # MapInfo is public here too (map.__all__)
from ._map_core import (
    _OBJ_NAME_MAX,
    MapCore,
    _check_u,
    _Elements,
    _enter_guards,
    _fsencode,
    _leave_guards,
    _map_type,
)
from ._map_core import _fd_of as _fd_of  # program.py takes it from here
from ._map_settings import MapSettings
from ._validate import PathLike
from .enums import MapFlag, MapType
from .errors import ClosedError, NotLoadedError
from .link import Link

__all__ = ["Map", "MapInfo"]

# possible_cpus is public here (documented beside Map); it lives in the element core.
possible_cpus = _map_core.possible_cpus

FdLike = Union[int, "Map", Any]  # an int fd, or anything with an ``fd`` attribute


# Map = its settings before load (_map_settings.MapSettings, guarded there) + its
# element API (_map_core.MapCore: works on _Elements' own fd and is not guarded, it
# stays as fast as it can be) + what is below: construction, life cycle and the
# kernel object, which read the C map and are guarded.
@guard_methods(only=frozenset({
    "fd",
    "id",
    "info",
    "pin",
    "unpin",
    "attach_struct_ops",
    "freeze",
    "__enter__",
}))
class Map(MapSettings, MapCore):
    """A BPF map: an object's map (borrowed) or a standalone one (owning an fd).

    Build standalone maps with :meth:`create`, :meth:`from_pinned`,
    :meth:`from_id` or :meth:`from_fd`; object maps come from
    ``BpfObject.maps``. The element API is the same for both (see the module
    documentation for how keys and values are encoded).

    ``m[key]`` (KeyError when absent), ``m[key] = value`` (``update(key, value)``)
    and ``del m[key]`` (KeyError when absent) come from the C base class
    ``MapBase`` (``libbpf_py/_speedups.c``): for maps of plain int keys and values
    each is one C call into libbpf; anything else goes to the general Python code.
    """

    # No __dict__: a misspelt setting (``m.max_entires = 8``) raises AttributeError
    # instead of landing in one, unseen by libbpf. ``_elements`` is MapBase's (C);
    # BpfObject tracks its maps by weak reference.
    __slots__ = ("__weakref__", "_fd", "_guard", "_id", "_info", "_owner", "_ptr")

    if not TYPE_CHECKING:  # hidden from type checkers: with it they would take any name

        def __setattr__(self, name: str, value: Any) -> None:
            try:
                super().__setattr__(name, value)
            except AttributeError:
                if hasattr(type(self), name):
                    raise  # a read-only property's own error
                # not one of the class's names: Python 3.11 suggests none for a set
                raise _unknown_setting(type(self), name) from None

    def __init__(self, *, owner: Any = None, ptr: Any = None, fd: int = -1,
                 info: Optional[MapInfo] = None) -> None:
        self._owner = owner
        self._ptr = ptr
        self._fd = fd
        self._info = info
        self._elements: Optional[_Elements] = None
        self._id: Optional[int] = None
        # calls in flight on the object's C map (or on a standalone map's fd)
        self._guard: Guard = owner._guard if owner is not None else Guard()

    # -- construction ------------------------------------------------------------------

    @classmethod
    def _from_object(cls, owner: Any, ptr: Any) -> Map:
        """A borrowed handle on ``struct bpf_map *ptr`` of the BpfObject ``owner``."""
        return cls(owner=owner, ptr=ptr)

    def _borrow(self, ptr: Any) -> Map:
        """Another map of this one's object (MapSettings.inner_map)."""
        return Map._from_object(self._owner, ptr)

    @classmethod
    def _adopt(cls, fd: int, what: str) -> Map:
        """Own ``fd`` (closed on failure), after checking it is a BPF map."""
        try:
            if fd_kind(fd) != "map":
                raise make_error(errno.EINVAL, what, "not a BPF map")
            info = _map_info(fd, what)
        except BaseException:
            os.close(fd)
            raise
        return cls(fd=fd, info=info)

    @classmethod
    def create(cls, map_type: Union[MapType, int, str], key_size: int, value_size: int,
               max_entries: int, *, name: Optional[str] = None, map_flags: int = 0,
               inner_map: Optional[FdLike] = None, numa_node: Optional[int] = None,
               map_extra: int = 0, ifindex: int = 0, btf_fd: Optional[int] = None,
               btf_key_type_id: int = 0, btf_value_type_id: int = 0) -> Map:
        """Create a map in the kernel (``bpf_map_create``) and own its fd.

        ``map_type`` is a :class:`MapType`, its int value or its name
        (``"hash"``). ``inner_map`` (a Map or an fd) is the template of an
        ARRAY_OF_MAPS / HASH_OF_MAPS. ``numa_node`` sets ``BPF_F_NUMA_NODE``.
        ``btf_fd`` with ``btf_key_type_id`` / ``btf_value_type_id`` types the
        map with BTF, so that elements decode as their C types. ``map_extra``
        is the bloom filter's number of hash functions (0: the default, 5).
        LPM_TRIE maps need ``map_flags=MapFlag.NO_PREALLOC``.
        """
        mtype = _map_type(map_type)
        for label, value in (("key_size", key_size), ("value_size", value_size),
                             ("max_entries", max_entries), ("map_flags", map_flags),
                             ("map_extra", map_extra), ("ifindex", ifindex),
                             ("btf_key_type_id", btf_key_type_id),
                             ("btf_value_type_id", btf_value_type_id)):
            _check_u(label, value, 64 if label == "map_extra" else 32)
        if inner_map is not None and mtype not in (MapType.ARRAY_OF_MAPS,
                                                   MapType.HASH_OF_MAPS):
            # the kernel ignores an inner map fd for other types: it would be dropped
            raise ValueError(f"inner_map is the template of an ARRAY_OF_MAPS or "
                             f"HASH_OF_MAPS, not of a {mtype.name} map")
        if btf_fd is None and (btf_key_type_id or btf_value_type_id):
            # they only go to the kernel with a btf_fd: dropped, the map was untyped
            raise ValueError("btf_key_type_id / btf_value_type_id need the btf_fd of the "
                             "BTF they are ids of")
        cname = ffi.NULL
        if name is not None:
            raw = _validate.cstr(name, "name")
            # checked on the bytes C gets: a bytes name (which cstr takes) iterates
            # as ints, which have no isalnum
            if len(raw) > _OBJ_NAME_MAX or not raw.isascii() \
                    or not all(chr(c).isalnum() or c in b"_." for c in raw):
                raise ValueError(f"map name {_validate.show(name)} must be at most "
                                 f"{_OBJ_NAME_MAX} ASCII letters, digits, '_' or '.'")
            cname = raw
        opts = ffi.new("struct bpf_map_create_opts *")
        opts.sz = ffi.sizeof("struct bpf_map_create_opts")
        opts.map_flags = map_flags
        opts.map_extra = map_extra
        opts.map_ifindex = ifindex
        if numa_node is not None:
            _check_u("numa_node", numa_node, 32)
            opts.numa_node = numa_node
            opts.map_flags = map_flags | int(MapFlag.NUMA_NODE)
        label = f"{mtype.name} map {name!r}" if name else f"{mtype.name} map"
        # the guards of inner_map and btf_fd (a Map...) held from reading their fds
        # until the kernel has them: a close() in another thread waits, so the map
        # is never made from a file that took one of those numbers meanwhile
        held = _enter_guards((inner_map, btf_fd))
        try:
            if inner_map is not None:
                opts.inner_map_fd = _fd_of(inner_map, "inner_map")
            if btf_fd is not None:
                opts.btf_fd = _fd_of(btf_fd, "btf_fd")
                opts.btf_key_type_id = btf_key_type_id
                opts.btf_value_type_id = btf_value_type_id
            ret = lib.bpf_map_create(int(mtype), cname, key_size, value_size, max_entries,
                                     opts)
        finally:
            _leave_guards(held)
        fd = check(ret, f"cannot create {label}")
        return cls._adopt(fd, f"cannot read back {label}")

    @classmethod
    def from_pinned(cls, path: PathLike, *, read_only: bool = False) -> Map:
        """Open the map pinned at ``path`` in bpffs (``bpf_obj_get``).

        ``read_only=True`` opens it with ``BPF_F_RDONLY`` (``bpf_obj_get_opts``):
        the pin file then needs read permission only, so a user other than its
        owner can read a map pinned with mode 0644 (the default asks for read
        and write, and gets EACCES). Lookups and iteration work; an update or a
        delete raises :class:`~libbpf_py.errors.LibbpfPermissionError` (EPERM)
        saying the map was opened read-only. A pin that is not a map raises
        LibbpfError EINVAL saying what it is.
        """
        fd = obj_get(path, "map", read_only=read_only)
        return cls._adopt(fd, f"{str(path)!r} is not a BPF map")

    @classmethod
    def from_id(cls, map_id: int) -> Map:
        """Open the kernel's map number ``map_id`` (``bpf_map_get_fd_by_id``).

        :func:`libbpf_py.map_ids` lists them; an id not in the kernel raises
        :class:`~libbpf_py.errors.LibbpfNotFoundError` naming it.
        """
        _check_u("map id", map_id, 32)
        fd = fd_by_id("map", map_id)
        return cls._adopt(fd, f"map id {map_id}")

    @classmethod
    def from_fd(cls, fd: int) -> Map:
        """A standalone Map on a duplicate of ``fd``; the caller keeps (and closes) theirs."""
        dup = dup_fd(fd)
        return cls._adopt(dup, f"fd {fd} is not a BPF map")

    # -- life cycle ---------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once the map (standalone) or its BPF object was closed."""
        if self._owner is not None:
            return bool(self._owner.closed)
        return self._fd < 0

    def close(self) -> None:
        """Close a standalone map's fd (idempotent); an object's map closes with its object."""
        fd, self._fd = self._fd, -1
        self._elements = None
        if fd >= 0 and self._owner is None:
            self._guard.retire(lambda: os.close(fd))  # after the calls in flight

    def __enter__(self) -> Map:
        self._check_open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if getattr(self, "_owner", None) is None and getattr(self, "_fd", -1) >= 0:
                os.close(self._fd)
                self._fd = -1
        except Exception:
            pass

    def __repr__(self) -> str:
        try:
            if self.closed:
                return f"<Map {self._label_name()} closed>"
            state = ""
            if self._owner is not None and not self._owner.loaded:
                state = " (not loaded)"
            return (f"<Map {self.name!r} {self.type.name} key_size={self.key_size} "
                    f"value_size={self.value_size} max_entries={self.max_entries}{state}>")
        except Exception:
            return f"<Map {self._label_name()}>"

    def __bool__(self) -> bool:
        """A Map is always true, whatever it holds (``len()`` is O(n))."""
        return True

    def _label_name(self) -> str:
        if self._info is not None:
            return repr(self._info.name)
        return "(object map)"

    def _check_open(self) -> Any:
        """Raise ClosedError if this map or its object was closed; the map pointer."""
        owner = self._owner
        if owner is not None:
            owner._check_open()
            return self._ptr
        if self._fd < 0:
            raise ClosedError(f"map {self._label_name()} is closed")
        return None

    # -- the kernel object ----------------------------------------------------------------

    @property
    def fd(self) -> int:
        """The map's file descriptor (object maps: after load; owned by the object)."""
        ptr = self._check_open()
        if ptr is None:
            return self._fd
        if not self._owner.loaded:
            raise NotLoadedError(f"map {self.name!r} has no fd before load()")
        fd = _map_core.created_fd(ptr)
        if fd < 0:
            raise NotLoadedError(f"map {self.name!r} was not created (autocreate off?)")
        return fd

    @property
    def id(self) -> int:
        """The kernel's id of the map (object maps: after load)."""
        info = self._standalone_info()
        if info is not None:
            return info.id
        if self._id is None:
            self._id = self.info().id
        return self._id

    def info(self) -> MapInfo:
        """What the kernel says about the map now (``bpf_map_get_info_by_fd``, or
        ``bpf_obj_get_info_by_fd`` before libbpf 1.2)."""
        return _map_info(self.fd, f"cannot get info of map {self.name!r}")

    def pin(self, path: PathLike) -> None:
        """Pin the map at ``path`` in bpffs (``bpf_map__pin`` / ``bpf_obj_pin``).

        The path must be on a bpffs mount and must not exist yet. An object
        map without a pin path (or pinned at ``path``) goes through libbpf,
        which then knows it is pinned; one already having another pin path
        gets an extra pin that only :meth:`unpin` with that path removes.
        """
        p = _fsencode(path)
        ptr = self._check_open()
        what = f"cannot pin map {self._name_for_errors()} at {os.fsdecode(p)!r}"
        if ptr is not None:
            fd = self.fd  # NotLoadedError before load
            current = self.pin_path
            if current is None or os.fsencode(current) == p:
                check_pin(lib.bpf_map__pin(ptr, p), what, p)  # records the pin path in libbpf
            else:
                check_pin(lib.bpf_obj_pin(fd, p), what, p)  # an extra pin, not libbpf's
        else:
            check_pin(lib.bpf_obj_pin(self._fd, p), what, p)

    def unpin(self, path: Optional[PathLike] = None) -> None:
        """Remove the pin at ``path`` (object maps: default, their pin_path).

        Only a pin of this map is removed: a path that pins another map, or is no
        pin of a map at all, raises LibbpfError (EINVAL) and stays where it is.
        """
        ptr = self._check_open()
        if path is not None and (ptr is None or self._owner.loaded
                                 or self.pin_path is None
                                 or os.fsencode(self.pin_path) != _fsencode(path)):
            # (before load, libbpf's own pin path is the one that can be unpinned: the
            # map does not exist yet, and load() would reuse a map pinned there)
            self._check_pinned_here(path)
        if ptr is not None:
            current = self.pin_path
            if path is None or current is None or os.fsencode(current) == _fsencode(path):
                p = ffi.NULL if path is None else _fsencode(path)
                check(lib.bpf_map__unpin(ptr, p), f"cannot unpin map {self.name!r}")
                return
        elif path is None:
            raise TypeError("unpin() of a standalone map needs the path")
        try:
            os.unlink(path)
        except OSError as exc:
            raise make_error(exc.errno or errno.EINVAL,
                             f"cannot unpin map {self._name_for_errors()} at {str(path)!r}"
                             ) from None

    def _check_pinned_here(self, path: PathLike) -> None:
        """Raise unless ``path`` pins this map (see _info.check_pinned_here)."""
        check_pinned_here(path, "map", self.id,
                          f"cannot unpin map {self._name_for_errors()} at {str(path)!r}")

    def attach_struct_ops(self) -> Any:
        """Register a loaded STRUCT_OPS object map with the kernel and return
        the :class:`~libbpf_py.link.Link` (``bpf_map__attach_struct_ops``).

        Destroying the link unregisters it. The link holds this map, hence its
        object.
        """
        ptr = self._check_open()
        if ptr is None:
            raise TypeError("attach_struct_ops needs a map of a BpfObject, not a standalone map")
        self.fd  # noqa: B018 - NotLoadedError before load
        link = lib.bpf_map__attach_struct_ops(ptr)
        if link == ffi.NULL:
            raise make_error(ffi.errno or errno.EINVAL,
                             f"attach_struct_ops of map {self.name!r}")
        return Link._adopt(link, None, owner=self)

    def freeze(self) -> None:
        """Make the map read-only for user space from now on (``bpf_map_freeze``)."""
        e = self._check_loaded()
        check(lib.bpf_map_freeze(e.fd), f"cannot freeze {e.label}")

    def _name_for_errors(self) -> str:
        try:
            return repr(self.name)
        except Exception:
            return self._label_name()

    # -- the element state: what MapCore (the element API) works on --------------------

    def _check_loaded(self) -> _Elements:
        """The element state (MapCore's), made on first use: ClosedError once the map
        or its object is closed, NotLoadedError before load."""
        self._check_open()
        owner = self._owner
        e = self._elements
        if e is None:
            guard = self._guard
            guard.enter()  # the fd stays this map's until _Elements has its own copy
            try:
                fd = self.fd
                info = self._info if owner is None else _map_info(
                    fd, f"cannot get info of map {self.name!r}")
                assert info is not None
                e = self._elements = _Elements(fd, info, self.name)
                guard.on_close(e.close_hook())  # iterations in flight stop at close
                if owner is not None:
                    owner._track_elements(self)  # its close() clears this state
                if self.closed:  # closed meanwhile: keep no fd for a closed map
                    self._elements = None
            finally:
                guard.leave()
        return e


def _unknown_setting(cls: type, name: str) -> AttributeError:
    """AttributeError for ``m.<name> = ...`` of a name Map does not have: the close
    setting if there is one, and the settings there are (properties with a setter)."""
    import difflib  # here: only an error needs it (~1.5 ms of import time)

    settings = sorted(n for n in dir(cls) if not n.startswith("_")
                      and isinstance(getattr(cls, n, None), property)
                      and getattr(cls, n).fset is not None)
    close = difflib.get_close_matches(name, settings, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return AttributeError(f"{cls.__name__} has no setting {name!r}{hint} "
                          f"(settings: {', '.join(settings)})")
