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
import sys
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Literal,
    Mapping,
    Optional,
    Sequence,
    Set,
    Tuple,
    Union,
)

from . import _validate
from ._binding import MapBase, ffi, lib, pairs
from ._call import check, make_error
from ._codec import BytesCodec, Codec, IntCodec, PerCpuCodec, btf_codec, plain_codec
from ._guard import Guard, guard_methods
from ._info import MapInfo
from ._info import map_info as _map_info  # MapInfo is public here too (map.__all__)
from ._props import IntProperty, int_property
from ._validate import PathLike
from .enums import MapFlag, MapType, UpdateFlag
from .errors import (
    ENOTSUPP,
    AlreadyLoadedError,
    ClosedError,
    LibbpfError,
    LibbpfNotSupportedError,
    NotLoadedError,
)

__all__ = ["Map", "MapInfo"]

FdLike = Union[int, "Map", Any]  # an int fd, or anything with an ``fd`` attribute

_OBJ_NAME_MAX = int(lib.BPF_OBJ_NAME_LEN) - 1

_PERCPU = frozenset({MapType.PERCPU_HASH, MapType.PERCPU_ARRAY, MapType.LRU_PERCPU_HASH,
                     MapType.PERCPU_CGROUP_STORAGE})
_FD_VALUES = frozenset({MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS, MapType.PROG_ARRAY})
_ARRAYS = frozenset({MapType.ARRAY, MapType.PERCPU_ARRAY})
_KEYLESS = frozenset({MapType.QUEUE, MapType.STACK, MapType.BLOOM_FILTER})

_ncpus: Optional[int] = None


def possible_cpus() -> int:
    """``libbpf_num_possible_cpus()``: how many values a per-CPU map holds per key."""
    global _ncpus
    if _ncpus is None:
        _ncpus = check(int(lib.libbpf_num_possible_cpus()), "libbpf_num_possible_cpus")
    return _ncpus


def _fsencode(path: PathLike, what: str = "path") -> bytes:
    return _validate.cstr(path, what, path=True)


def _fd_of(obj: FdLike, what: str) -> int:
    """The fd of an int or of an object with an ``fd`` attribute (a Map, a Program)."""
    if isinstance(obj, bool):
        raise TypeError(f"{what} must be a Map (or anything with an fd) or an int fd, "
                        "not bool")
    fd: Any = obj if isinstance(obj, int) else getattr(obj, "fd", None)
    if not isinstance(fd, int):
        raise TypeError(f"{what} must be a Map (or anything with an fd: a Program, a "
                        f"Link...) or an int fd, not {type(obj).__name__}")
    return _validate.check_fd(fd, what)


class _FdCodec(IntCodec):
    """Values of maps of maps / prog arrays: an fd (or a Map) in, the kernel id out."""

    def __init__(self, what: str) -> None:
        super().__init__(4, what)
        self.accepts = "a Map (or anything with an fd) or an int fd"

    def encode(self, obj: Any) -> Any:
        return ffi.new(self._ptr, _fd_of(obj, self.what))

    def to_bytes(self, obj: Any) -> Any:
        return _fd_of(obj, self.what).to_bytes(4, sys.byteorder)


def _is_map_fd(fd: int) -> bool:
    try:
        return os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:bpf-map"
    except OSError:
        return False


class _Elements:
    """Everything the element API needs, worked out once per map after it exists."""

    __slots__ = ("fast", "fd", "key", "kind", "label", "max_entries", "name", "type", "value")

    def __init__(self, fd: int, info: MapInfo, name: str) -> None:
        # Our own copy of the fd, closed only when the last user of this state lets
        # go of it: a lookup running in one thread while another closes the map (or
        # its object) still acts on this map, never on whatever file the kernel
        # hands that fd number to next.
        self.fd = -1
        self.fd = os.dup(fd)
        self.name = name
        self.type = info.type
        self.max_entries = info.max_entries
        self.label = f"{info.type.name} map {name!r}" if name else f"unnamed {info.type.name} map"
        key_what, value_what = f"key of {self.label}", f"value of {self.label}"
        key_btf = value_btf = None
        if info.btf_id and (info.btf_key_type_id or info.btf_value_type_id):
            key_btf, value_btf = _btf_codecs(info, key_what, value_what, name)
        self.key: Optional[Codec] = None
        if info.key_size:
            self.key = key_btf or plain_codec(info.key_size, key_what,
                                              as_bytes=info.type == MapType.LPM_TRIE)
        value: Codec
        if info.type in _FD_VALUES:
            value = _FdCodec(value_what)
        else:
            value = value_btf or plain_codec(info.value_size, value_what)
        if info.type in _PERCPU:
            value = PerCpuCodec(value, possible_cpus(), value_what)
        self.value = value
        self.kind = info.type
        # The C int path of m[k], m[k] = v and del m[k] (MapBase, libbpf_py/_speedups.c)
        # for maps of plain int keys and values, the common case: what it needs to
        # encode and decode them, or None for every other map.
        key = self.key
        self.fast: Optional[Tuple[int, int, bool, int, bool]] = None
        if type(key) is IntCodec and type(value) is IntCodec:
            self.fast = (self.fd, key.size, key.signed, value.size, value.signed)

    def __del__(self) -> None:
        fd, self.fd = getattr(self, "fd", -1), -1
        if fd >= 0:
            try:
                os.close(fd)
            except OSError:
                pass

    def keyless(self, op: str) -> TypeError:
        return TypeError(f"{self.label} has no keys: {op} does not apply; use push(), "
                         "pop() and peek()" + (" / contains()" if self.type ==
                                                MapType.BLOOM_FILTER else ""))


def _btf_codecs(info: MapInfo, key_what: str, value_what: str,
                name: str) -> Tuple[Optional[Codec], Optional[Codec]]:
    btf = lib.btf__load_from_kernel_by_id(info.btf_id)
    if btf == ffi.NULL:
        return None, None  # no BTF to be had: fall back to sizes
    try:
        return (btf_codec(btf, info.btf_key_type_id, info.key_size, key_what, name),
                btf_codec(btf, info.btf_value_type_id, info.value_size, value_what, name))
    finally:
        lib.btf__free(btf)


def _setting(attr: str, doc: str, *, bits: int = 32, object_only: bool = False) -> IntProperty:
    """A :class:`Map` setting that may change until the map is created.

    Read with ``bpf_map__<attr>`` (a standalone map: its :class:`MapInfo`'s
    ``attr``; ``object_only``: only an object map has it), set with
    ``bpf_map__set_<attr>`` through ``Map._u32_setting`` (an int, ``bits`` wide;
    int subclasses such as MapFlag pass as their value). A real property: ``guard_methods``
    wraps it like a written-out one.
    """
    getter, setter = f"bpf_map__{attr}", f"bpf_map__set_{attr}"

    def get(m: Map) -> int:
        if object_only:
            return int(getattr(lib, getter)(m._object_ptr(attr)))
        info = m._standalone_info()
        return int(getattr(info, attr)) if info is not None else int(getattr(lib, getter)(m._ptr))

    def set_(m: Map, value: int) -> None:
        m._u32_setting(attr, getattr(lib, setter), value, bits)

    return int_property(get, set_, doc=doc)


# The element API (m[k], batches...) works on _Elements' own fd and is not
# guarded: it stays as fast as it can be. The rest reads the C map.
@guard_methods(only=frozenset({
    "name",
    "type",
    "key_size",
    "value_size",
    "max_entries",
    "map_flags",
    "numa_node",
    "map_extra",
    "ifindex",
    "autocreate",
    "initial_value",
    "inner_map",
    "reuse_fd",
    "pin_path",
    "set_pin_path",
    "is_pinned",
    "fd",
    "id",
    "info",
    "pin",
    "unpin",
    "attach_struct_ops",
    "freeze",
    "__enter__",
}))
class Map(MapBase):
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

    @classmethod
    def _adopt(cls, fd: int, what: str) -> Map:
        """Own ``fd`` (closed on failure), after checking it is a BPF map."""
        try:
            if not _is_map_fd(fd):
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
        cname = ffi.NULL
        if name is not None:
            raw = _validate.cstr(name, "name")
            if len(raw) > _OBJ_NAME_MAX or not all(c.isalnum() or c in "_." for c in name) \
                    or not name.isascii():
                raise ValueError(f"map name {name!r} must be at most {_OBJ_NAME_MAX} ASCII "
                                 "letters, digits, '_' or '.'")
            cname = raw
        opts = ffi.new("struct bpf_map_create_opts *")
        opts.sz = ffi.sizeof("struct bpf_map_create_opts")
        opts.map_flags = map_flags
        opts.map_extra = map_extra
        opts.map_ifindex = ifindex
        if inner_map is not None:
            opts.inner_map_fd = _fd_of(inner_map, "inner_map")
        if numa_node is not None:
            _check_u("numa_node", numa_node, 32)
            opts.numa_node = numa_node
            opts.map_flags = map_flags | int(MapFlag.NUMA_NODE)
        if btf_fd is not None:
            opts.btf_fd = _fd_of(btf_fd, "btf_fd")
            opts.btf_key_type_id = btf_key_type_id
            opts.btf_value_type_id = btf_value_type_id
        label = f"{mtype.name} map {name!r}" if name else f"{mtype.name} map"
        fd = check(lib.bpf_map_create(int(mtype), cname, key_size, value_size, max_entries,
                                      opts), f"cannot create {label}")
        return cls._adopt(fd, f"cannot read back {label}")

    @classmethod
    def from_pinned(cls, path: PathLike) -> Map:
        """Open the map pinned at ``path`` in bpffs (``bpf_obj_get``)."""
        fd = check(lib.bpf_obj_get(_fsencode(path)), f"cannot open pinned map {str(path)!r}")
        return cls._adopt(fd, f"{str(path)!r} is not a BPF map")

    @classmethod
    def from_id(cls, map_id: int) -> Map:
        """Open the kernel's map number ``map_id`` (``bpf_map_get_fd_by_id``)."""
        _check_u("map id", map_id, 32)
        fd = check(lib.bpf_map_get_fd_by_id(map_id), f"cannot open map id {map_id}")
        return cls._adopt(fd, f"map id {map_id}")

    @classmethod
    def from_fd(cls, fd: int) -> Map:
        """A standalone Map on a duplicate of ``fd``; the caller keeps (and closes) theirs."""
        fd = _validate.check_fd(fd, "fd")
        try:
            dup = os.dup(fd)
        except OSError as exc:
            raise make_error(exc.errno or errno.EBADF, f"cannot duplicate fd {fd}") from None
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

    def _object_ptr(self, attr: str) -> Any:
        """``struct bpf_map *`` of an object map; TypeError for a standalone one."""
        ptr = self._check_open()
        if ptr is None:
            raise TypeError(f"{attr} only applies to a map of a BpfObject; map "
                            f"{self._label_name()} is standalone")
        return ptr

    def _before_load(self, attr: str) -> Any:
        """The map pointer, if its settings may still change; AlreadyLoadedError else."""
        ptr = self._check_open()
        if ptr is None:
            raise AlreadyLoadedError(f"cannot change {attr} of map {self._label_name()}: "
                                     "a standalone map already exists in the kernel")
        if self._owner.loaded:
            raise AlreadyLoadedError(f"cannot change {attr} of map {self.name!r} after load")
        return ptr

    # -- description --------------------------------------------------------------------

    def _standalone_info(self) -> Optional[MapInfo]:
        if self._check_open() is None:
            return self._info
        return None

    @property
    def name(self) -> str:
        """The map's name (BTF name for object maps, the kernel's 15-char name else)."""
        info = self._standalone_info()
        if info is not None:
            return info.name
        return _validate.from_c(ffi.string(lib.bpf_map__name(self._ptr)))

    @property
    def type(self) -> MapType:
        """The map type; settable on an object map before load."""
        info = self._standalone_info()
        if info is not None:
            return info.type
        return MapType(lib.bpf_map__type(self._ptr))

    @type.setter
    def type(self, value: Union[MapType, int, str]) -> None:
        ptr = self._before_load("type")
        check(lib.bpf_map__set_type(ptr, int(_map_type(value))),
              f"cannot set type of map {self.name!r}")

    def _u32_setting(self, attr: str, setter: Callable[[Any, int], int], value: int,
                     bits: int = 32) -> None:
        ptr = self._before_load(attr)
        _check_u(attr, value, bits)
        check(setter(ptr, int(value)), f"cannot set {attr} of map {self.name!r}")

    key_size = _setting(
        "key_size", "Key size in bytes (0 for QUEUE, STACK, BLOOM_FILTER); settable before load.")
    value_size = _setting(
        "value_size", "Value size in bytes of one value (of one CPU's, for per-CPU maps).")
    max_entries = _setting("max_entries", "Capacity; settable on an object map before load.")
    map_flags = _setting(
        "map_flags",
        "``BPF_F_*`` flags (see :class:`~libbpf_py.enums.MapFlag`); settable before load.")
    numa_node = _setting(
        "numa_node", "NUMA node of an object map (with BPF_F_NUMA_NODE); settable before load.",
        object_only=True)
    map_extra = _setting(
        "map_extra",
        "Map-type specific extra (bloom filter: number of hashes); settable before load.",
        bits=64)
    ifindex = _setting(
        "ifindex", "Network device to offload the map to (0: none); settable before load.")

    @property
    def autocreate(self) -> bool:
        """Whether load() creates this object map (LIBBPF_0.8.0); settable before load."""
        return bool(lib.bpf_map__autocreate(self._object_ptr("autocreate")))

    @autocreate.setter
    def autocreate(self, value: bool) -> None:
        ptr = self._before_load("autocreate")
        check(lib.bpf_map__set_autocreate(ptr, bool(value)),
              f"cannot set autocreate of map {self.name!r}")

    @property
    def initial_value(self) -> Optional[bytes]:
        """The contents of a .data/.rodata/.bss/.kconfig-like map (None for other maps).

        Before load this is what load() will write into the map; setting it
        (before load only) takes exactly ``value_size`` bytes. After load it
        reads the map's memory-mapped contents.
        """
        ptr = self._object_ptr("initial_value")
        size = ffi.new("size_t *")
        data = lib.bpf_map__initial_value(ptr, size)
        if data == ffi.NULL:
            return None
        return bytes(ffi.buffer(data, size[0]))

    @initial_value.setter
    def initial_value(self, data: Any) -> None:
        ptr = self._before_load("initial_value")
        size = self.value_size
        buf = BytesCodec(size, f"initial_value of map {self.name!r}").encode(data)
        check(lib.bpf_map__set_initial_value(ptr, buf, size),
              f"cannot set initial_value of map {self.name!r} (only maps backed by a "
              ".data/.rodata/.bss section have one)")

    @property
    def inner_map(self) -> Optional[Map]:
        """The inner map template of an object's map-of-maps (None for other maps).

        Setting it (a Map or an fd, before load) calls ``bpf_map__set_inner_map_fd``.
        """
        ptr = self._object_ptr("inner_map")
        inner = lib.bpf_map__inner_map(ptr)
        if inner == ffi.NULL:
            return None
        return Map._from_object(self._owner, inner)

    @inner_map.setter
    def inner_map(self, value: FdLike) -> None:
        ptr = self._before_load("inner_map")
        check(lib.bpf_map__set_inner_map_fd(ptr, _fd_of(value, "inner_map")),
              f"cannot set inner map of map {self.name!r}")

    def reuse_fd(self, fd: FdLike) -> None:
        """Before load: make this object map use an existing map (``bpf_map__reuse_fd``).

        The fd is duplicated by libbpf; the caller keeps theirs.
        """
        ptr = self._before_load("the map (reuse_fd)")
        check(lib.bpf_map__reuse_fd(ptr, _fd_of(fd, "fd")),
              f"cannot reuse fd for map {self.name!r}")

    @property
    def pin_path(self) -> Optional[str]:
        """Where load() pins (or reuses) this object map; None when not set."""
        p = lib.bpf_map__pin_path(self._object_ptr("pin_path"))
        return None if p == ffi.NULL else os.fsdecode(ffi.string(p))

    @pin_path.setter
    def pin_path(self, path: Optional[PathLike]) -> None:
        self.set_pin_path(path)

    def set_pin_path(self, path: Optional[PathLike]) -> None:
        """Set (or clear, with None) where load() pins this object map; before load."""
        ptr = self._before_load("pin_path")
        raw = ffi.NULL if path is None else _fsencode(path, "pin_path")
        check(lib.bpf_map__set_pin_path(ptr, raw),
              f"cannot set pin path of map {self.name!r}")

    @property
    def is_pinned(self) -> bool:
        """Whether libbpf pinned this object map (or a standalone map: never known)."""
        return bool(lib.bpf_map__is_pinned(self._object_ptr("is_pinned")))

    # -- the kernel object ----------------------------------------------------------------

    @property
    def fd(self) -> int:
        """The map's file descriptor (object maps: after load; owned by the object)."""
        ptr = self._check_open()
        if ptr is None:
            return self._fd
        if not self._owner.loaded:
            raise NotLoadedError(f"map {self.name!r} has no fd before load()")
        fd = int(lib.bpf_map__fd(ptr))
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
                check(lib.bpf_map__pin(ptr, p), what)  # records the pin path in libbpf
            else:
                check(lib.bpf_obj_pin(fd, p), what)  # an extra pin, not libbpf's
        else:
            check(lib.bpf_obj_pin(self._fd, p), what)

    def unpin(self, path: Optional[PathLike] = None) -> None:
        """Remove the pin at ``path`` (object maps: default, their pin_path)."""
        ptr = self._check_open()
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

    def attach_struct_ops(self) -> Any:
        """Register a loaded STRUCT_OPS object map with the kernel and return
        the :class:`~libbpf_py.link.Link` (``bpf_map__attach_struct_ops``).

        Destroying the link unregisters it. The link holds this map, hence its
        object.
        """
        from .link import Link

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
        e = self._ready()
        check(lib.bpf_map_freeze(e.fd), f"cannot freeze {e.label}")

    def _name_for_errors(self) -> str:
        try:
            return repr(self.name)
        except Exception:
            return self._label_name()

    # -- elements ------------------------------------------------------------------------

    def _ready(self) -> _Elements:
        """The element layout, after checking the map (or its object) is open."""
        owner = self._owner
        if owner is not None:
            owner._check_open()
        elif self._fd < 0:
            raise ClosedError(f"map {self._label_name()} is closed")
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
                if owner is not None:
                    owner._track_elements(self)  # its close() clears this state
                if self.closed:  # closed meanwhile: keep no fd for a closed map
                    self._elements = None
            finally:
                guard.leave()
        return e

    def _fail(self, e: _Elements, err: int, op: str, key: Any = None,
              flags: int = 0) -> Exception:
        if err == errno.ENOENT and op in ("lookup", "delete", "lookup_and_delete", "update"):
            return KeyError(key)
        if err == errno.EINVAL and op == "delete" and e.type in _ARRAYS:
            return make_error(err, f"cannot delete from {e.label}: array elements always "
                                   "exist and cannot be deleted (set them to zero instead)")
        if err == errno.E2BIG and op == "update":
            if e.type in _ARRAYS or e.type in (MapType.ARRAY_OF_MAPS, MapType.PROG_ARRAY):
                return make_error(err, f"cannot update {e.label}: index {key!r} is out of "
                                       f"range (max_entries={e.max_entries})")
            return make_error(err, f"cannot update {e.label}: the map is full "
                                   f"(max_entries={e.max_entries})")
        if err == errno.EEXIST and op == "update":
            return make_error(err, f"cannot update {e.label}: key {key!r} exists and "
                                   "flags include NOEXIST")
        if err == errno.EINVAL and flags & int(UpdateFlag.F_LOCK):
            return make_error(err, f"{op} on {e.label} with F_LOCK failed: the flag needs "
                                   "a map whose value holds a struct bpf_spin_lock")
        return make_error(err, f"{op} on {e.label} failed")

    def _elem_error(self, err: int, op: str, key: Any) -> Exception:
        """The exception for errno ``err`` of ``op`` at ``key`` (MapBase's int path)."""
        return self._fail(self._elements or self._ready(), err, op, key)

    def _get(self, key: Any) -> Any:
        """``m[key]``, the general way (MapBase's ``m[key]`` for all but int maps)."""
        e = self._ready()
        kc = e.key
        if kc is None:
            raise e.keyless("m[key]")
        k = kc.encode(key)
        out = e.value.alloc()
        ret = lib.bpf_map_lookup_elem(e.fd, k, out)
        if ret < 0:
            raise self._fail(e, -ret, "lookup", key)
        return e.value.decode(out)

    def lookup(self, key: Any, flags: int = 0) -> Any:
        """The value at ``key`` read with ``flags`` (``bpf_map_lookup_elem_flags``).

        ``flags=UpdateFlag.F_LOCK`` reads a value that holds a ``bpf_spin_lock``
        under that lock, so that it is never seen half-written. KeyError when
        absent; ``m[key]`` is ``lookup(key)``.
        """
        e = self._ready()
        kc = e.key
        if kc is None:
            raise e.keyless("lookup()")
        _check_flags(flags, f"lookup on {e.label}", _LOOKUP_FLAGS)
        k = kc.encode(key)
        out = e.value.alloc()
        ret = lib.bpf_map_lookup_elem_flags(e.fd, k, out, flags)
        if ret < 0:
            raise self._fail(e, -ret, "lookup", key, flags)
        return e.value.decode(out)

    def get(self, key: Any, default: Any = None) -> Any:
        """The value at ``key``, or ``default`` when absent."""
        try:
            return self[key]
        except KeyError:
            return default

    def update(self, key: Any, value: Any, flags: int = UpdateFlag.ANY) -> None:
        """Write ``value`` at ``key`` (``bpf_map_update_elem``).

        ``flags``: :class:`~libbpf_py.enums.UpdateFlag` ANY (create or
        replace), NOEXIST (create only: LibbpfExistsError if there),
        EXIST (replace only: KeyError if absent), F_LOCK (maps whose value
        has a ``bpf_spin_lock``).
        """
        e = self._ready()
        kc = e.key
        if kc is None:
            raise e.keyless("update()")
        _check_flags(flags, f"update on {e.label}", _UPDATE_FLAGS)
        k = kc.encode(key)
        v = e.value.encode(value)
        ret = lib.bpf_map_update_elem(e.fd, k, v, flags)
        if ret < 0:
            raise self._fail(e, -ret, "update", key, flags)

    def _delete(self, key: Any) -> None:
        """``del m[key]``, the general way (KeyError when absent)."""
        e = self._ready()
        kc = e.key
        if kc is None:
            raise e.keyless("del m[key]")
        ret = lib.bpf_map_delete_elem(e.fd, kc.encode(key))
        if ret < 0:
            raise self._fail(e, -ret, "delete", key)

    def __contains__(self, key: Any) -> bool:
        """``key in m``; for a BLOOM_FILTER, whether the value may have been pushed."""
        e = self._ready()
        kc = e.key
        if kc is None:
            if e.type == MapType.BLOOM_FILTER:
                return self.contains(key)
            raise e.keyless("'in'")
        out = e.value.alloc()
        ret = lib.bpf_map_lookup_elem(e.fd, kc.encode(key), out)
        if ret == 0:
            return True
        if ret == -errno.ENOENT:
            return False
        raise self._fail(e, -ret, "lookup", key)

    def lookup_and_delete(self, key: Any) -> Any:
        """Return the value at ``key`` and delete it (``bpf_map_lookup_and_delete_elem``).

        Hash maps need kernel 5.14; KeyError when absent.
        """
        e = self._ready()
        kc = e.key
        if kc is None:
            raise e.keyless("lookup_and_delete()")
        out = e.value.alloc()
        ret = lib.bpf_map_lookup_and_delete_elem(e.fd, kc.encode(key), out)
        if ret < 0:
            raise self._fail(e, -ret, "lookup_and_delete", key)
        return e.value.decode(out)

    # -- iteration -----------------------------------------------------------------------

    def _raw_keys(self, e: _Elements) -> Iterator[bytes]:
        """Every key's bytes, once, with ``bpf_map_get_next_key``.

        When the key last returned is deleted meanwhile, the kernel starts over
        from the first key (as bpftool relies on); keys already seen are then
        skipped, so each key comes at most once.
        """
        kc = e.key
        if kc is None:
            raise e.keyless("iteration")
        n = kc.size
        prev: Any = ffi.NULL
        bufs = (ffi.new(f"char[{n}]"), ffi.new(f"char[{n}]"))
        turn = 0
        seen: Set[bytes] = set()
        skipped = 0
        while True:
            self._check_open()
            nxt = bufs[turn]
            ret = lib.bpf_map_get_next_key(e.fd, prev, nxt)
            if ret < 0:
                if ret == -errno.ENOENT:
                    return
                raise make_error(-ret, f"cannot iterate over {e.label}")
            raw = ffi.buffer(nxt, n)[:]
            prev, turn = nxt, 1 - turn
            if raw in seen:
                skipped += 1
                if skipped > e.max_entries:
                    return  # walked a whole map of keys already seen
                continue
            skipped = 0
            seen.add(raw)
            yield raw

    def keys(self) -> Iterator[Any]:
        """Iterate over the keys (``bpf_map_get_next_key``); safe while deleting."""
        e = self._ready()
        decode = e.key.from_bytes if e.key is not None else None
        for raw in self._raw_keys(e):
            assert decode is not None
            yield decode(raw)

    __iter__ = keys

    def items(self) -> Iterator[Tuple[Any, Any]]:
        """Iterate over (key, value) pairs; elements deleted meanwhile are skipped."""
        e = self._ready()
        kc, vc = e.key, e.value
        for raw in self._raw_keys(e):
            assert kc is not None
            out = vc.alloc()
            ret = lib.bpf_map_lookup_elem(e.fd, ffi.from_buffer(raw), out)
            if ret == -errno.ENOENT:
                continue
            if ret < 0:
                raise make_error(-ret, f"lookup on {e.label} failed")
            yield kc.from_bytes(raw), vc.decode(out)

    def values(self) -> Iterator[Any]:
        """Iterate over the values."""
        for _, value in self.items():
            yield value

    def __len__(self) -> int:
        """The number of elements, counted by iterating: O(n) system calls."""
        e = self._ready()
        return sum(1 for _ in self._raw_keys(e))

    def clear(self) -> None:
        """Delete every element (not for array maps, whose elements cannot be deleted)."""
        e = self._ready()
        if e.type in _ARRAYS:
            raise self._fail(e, errno.EINVAL, "delete")
        for raw in list(self._raw_keys(e)):
            ret = lib.bpf_map_delete_elem(e.fd, ffi.from_buffer(raw))
            if ret < 0 and ret != -errno.ENOENT:
                raise make_error(-ret, f"delete on {e.label} failed")

    # -- batches -------------------------------------------------------------------------

    def _batch_opts(self, elem_flags: int) -> Any:
        _check_u("elem_flags", elem_flags, 64)
        opts = ffi.new("struct bpf_map_batch_opts *")
        opts.sz = ffi.sizeof("struct bpf_map_batch_opts")
        opts.elem_flags = elem_flags
        return opts

    def _batch_error(self, e: _Elements, err: int, op: str, done: int = 0,
                     total: int = 0) -> LibbpfError:
        progress = f" after {done} of {total} elements" if total else ""
        if err in (ENOTSUPP, errno.EOPNOTSUPP):
            return LibbpfNotSupportedError(
                err, "operation not supported",
                f"{op} on {e.label}: this map type does not support {op} "
                f"(ENOTSUPP){progress}")
        if err == errno.EINVAL:
            return make_error(err, f"{op} on {e.label} refused{progress} (map types without "
                                   f"{op} support give EINVAL)")
        return make_error(err, f"{op} on {e.label} failed{progress}")

    def _read_batches(self, fn: Any, op: str, chunk: int, elem_flags: int
                      ) -> List[Tuple[Any, Any]]:
        e = self._ready()
        kc, vc = e.key, e.value
        if kc is None:
            raise e.keyless(f"{op}()")
        opts = self._batch_opts(elem_flags)
        count = max(1, min(chunk, e.max_entries or 1))
        token = max(kc.size, 8)
        tokens = (ffi.new(f"char[{token}]"), ffi.new(f"char[{token}]"))
        turn = 0
        in_batch: Any = ffi.NULL
        n = ffi.new("__u32 *")
        out: List[Tuple[Any, Any]] = []
        keys = ffi.new(f"char[{count * kc.size}]")
        vals = ffi.new(f"char[{count * vc.size}]")
        while True:
            self._check_open()
            n[0] = count
            out_batch = tokens[turn]
            ret = fn(e.fd, in_batch, out_batch, keys, vals, n, opts)
            got = int(n[0])
            if ret == -errno.ENOSPC and got == 0:
                count *= 2  # one bucket holds more than count elements
                keys = ffi.new(f"char[{count * kc.size}]")
                vals = ffi.new(f"char[{count * vc.size}]")
                continue
            if ret < 0 and ret != -errno.ENOENT:
                raise self._batch_error(e, -ret, op)
            if got:
                ks = kc.decode_many(ffi.buffer(keys, got * kc.size)[:], got)
                vs = vc.decode_many(ffi.buffer(vals, got * vc.size)[:], got)
                out.extend(zip(ks, vs))
            if ret == -errno.ENOENT:
                return out
            in_batch, turn = out_batch, 1 - turn

    def _read_arrays(self, op: str, chunk: int, elem_flags: int
                     ) -> Tuple[memoryview, memoryview]:
        """Every entry, ``bpf_map_lookup_batch`` writing straight into two growing
        buffers (no per-chunk copy, no Python work per entry); the views of
        :meth:`lookup_batch_arrays`."""
        e = self._ready()
        kc, vc = e.key, e.value
        if kc is None:
            raise e.keyless(f"{op}()")
        opts = self._batch_opts(elem_flags)
        ks, vs = kc.size, vc.size
        count = max(1, min(chunk, e.max_entries or 1))
        cap = count  # entries the buffers hold; grown (doubled) before a call might overflow
        keys, vals = bytearray(cap * ks), bytearray(cap * vs)
        kp, vp = ffi.from_buffer(keys), ffi.from_buffer(vals)
        token = max(ks, 8)
        tokens = (ffi.new(f"char[{token}]"), ffi.new(f"char[{token}]"))
        turn = 0
        in_batch: Any = ffi.NULL
        n = ffi.new("__u32 *")
        got = 0
        fn = lib.bpf_map_lookup_batch
        try:
            while True:
                self._check_open()
                if cap - got < count:
                    # a bytearray cannot grow while cffi holds a pointer into it
                    ffi.release(kp)
                    ffi.release(vp)
                    grow = max(cap, got + count - cap)
                    keys.extend(bytes(grow * ks))
                    vals.extend(bytes(grow * vs))
                    cap += grow
                    kp, vp = ffi.from_buffer(keys), ffi.from_buffer(vals)
                n[0] = count
                out_batch = tokens[turn]
                ret = fn(e.fd, in_batch, out_batch, kp + got * ks, vp + got * vs, n, opts)
                ngot = int(n[0])
                if ret == -errno.ENOSPC and ngot == 0:
                    count *= 2  # one bucket holds more than count elements
                    continue
                if ret < 0 and ret != -errno.ENOENT:
                    raise self._batch_error(e, -ret, op)
                got += ngot
                if ret == -errno.ENOENT:
                    break
                in_batch, turn = out_batch, 1 - turn
        finally:
            ffi.release(kp)
            ffi.release(vp)
        del keys[got * ks:], vals[got * vs:]
        return _batch_view(keys, kc, got), _batch_view(vals, vc, got)

    def lookup_batch_arrays(self, *, chunk: int = 4096, elem_flags: int = 0
                            ) -> Tuple[memoryview, memoryview]:
        """Every key and every value, as two arrays: ``(keys, values)``.

        Reads the map as :meth:`lookup_batch` does (``bpf_map_lookup_batch``,
        ``chunk`` entries per call), but the kernel writes the entries straight
        into two contiguous buffers and nothing is built per entry: ``keys[i]``
        and ``values[i]`` are the i-th entry. A key or a value that is a plain
        1/2/4/8-byte int (no BTF, or a BTF integer type) comes as a 1-D
        ``memoryview`` in the matching C int format (``'I'`` for ``__u32``,
        ``'q'`` for ``__s64``...), so ``keys[i]`` is an int and
        ``keys.tolist()`` a list of ints; anything else (structs, bytes,
        per-CPU values) as a 2-D ``'B'`` memoryview of shape ``(count,
        element_size)`` whose rows are the raw C bytes (a per-CPU value's row
        holds one slot per possible CPU, each rounded up to 8 bytes;
        ``bytes(view[i:i + 1])`` is one element). The views own their memory.

        Prefer it to :meth:`lookup_batch` for numeric bulk reads: it is the
        fastest way to read a whole map, and ``numpy.frombuffer(keys,
        dtype=...)`` wraps the result without a copy; use :meth:`lookup_batch`
        when you want decoded Python values ((key, value) tuples, ctypes
        structs, per-CPU lists).

        Hash, per-CPU and array maps support it (kernel 5.6+); other map types
        raise LibbpfNotSupportedError / LibbpfError (EINVAL) as lookup_batch
        does; maps without keys raise TypeError.
        """
        if isinstance(chunk, bool) or not isinstance(chunk, int):
            raise TypeError(f"chunk must be an int, not {type(chunk).__name__}")
        if chunk < 1:
            raise ValueError(f"chunk must be at least 1, got {chunk}")
        return self._read_arrays("lookup_batch_arrays", chunk, elem_flags)

    def lookup_batch(self, *, chunk: int = 1024, elem_flags: int = 0
                     ) -> List[Tuple[Any, Any]]:
        """All (key, value) pairs, read ``chunk`` at a time (``bpf_map_lookup_batch``).

        Hash, per-CPU and array maps support it (kernel 5.6+); other map types
        raise LibbpfNotSupportedError / LibbpfError (EINVAL). For plain int keys
        and values, :meth:`lookup_batch_arrays` is faster still (no tuple per entry).
        """
        e = self._ready()
        if type(e.key) is IntCodec and type(e.value) is IntCodec:
            # Plain ints: the whole map read into two arrays, then paired up in C in
            # one pass over them (no per-chunk copies and lists; the tuples are
            # untracked by the cyclic GC as made): ~15 % faster than per chunk.
            keys, values = self._read_arrays("lookup_batch", chunk, elem_flags)
            return pairs(keys, values)
        return self._read_batches(lib.bpf_map_lookup_batch, "lookup_batch", chunk, elem_flags)

    def lookup_and_delete_batch(self, *, chunk: int = 1024, elem_flags: int = 0
                                ) -> List[Tuple[Any, Any]]:
        """Read and delete all (key, value) pairs (``bpf_map_lookup_and_delete_batch``).

        Hash maps only; arrays raise LibbpfNotSupportedError.
        """
        return self._read_batches(lib.bpf_map_lookup_and_delete_batch,
                                  "lookup_and_delete_batch", chunk, elem_flags)

    def update_batch(self, pairs: Union[Mapping[Any, Any], Iterable[Tuple[Any, Any]]],
                     flags: int = UpdateFlag.ANY) -> None:
        """Write many (key, value) pairs in one call (``bpf_map_update_batch``).

        ``pairs`` is a mapping or an iterable of pairs. The kernel takes only
        ``UpdateFlag.ANY`` or ``UpdateFlag.F_LOCK`` for batches (NOEXIST and
        EXIST raise ValueError here): every element is created or replaced.
        """
        e = self._ready()
        kc = e.key
        if kc is None:
            raise e.keyless("update_batch()")
        _check_u("flags", flags, 64)
        if flags & ~int(UpdateFlag.F_LOCK):
            raise ValueError(f"update_batch on {e.label}: the kernel takes only "
                             f"UpdateFlag.ANY or F_LOCK for batches, not {flags!r}")
        items = list(pairs.items() if isinstance(pairs, Mapping) else pairs)
        if not items:
            return
        keys = kc.encode_many([k for k, _ in items])
        vals = e.value.encode_many([v for _, v in items])
        n = ffi.new("__u32 *", len(items))
        ret = lib.bpf_map_update_batch(e.fd, ffi.from_buffer(keys), ffi.from_buffer(vals), n,
                                       self._batch_opts(flags))
        if ret < 0:
            done = int(n[0])
            exc: Exception
            if -ret in (errno.ENOENT, errno.EEXIST, errno.E2BIG, errno.ENOSPC) and \
                    done < len(items):
                exc = self._fail(e, -ret, "update", items[done][0], flags)
            else:
                exc = self._batch_error(e, -ret, "update_batch", done, len(items))
            if isinstance(exc, LibbpfError):  # how far it got: the caller can resume there
                exc.written = done
                exc.strerror = (f"{exc.strerror}; {done} of {len(items)} pairs written "
                                "before the error")
            raise exc

    def delete_batch(self, keys: Iterable[Any]) -> None:
        """Delete many keys in one call (``bpf_map_delete_batch``).

        KeyError for the first key that is absent (the ones before it are
        deleted).
        """
        e = self._ready()
        kc = e.key
        if kc is None:
            raise e.keyless("delete_batch()")
        ks = list(keys)
        if not ks:
            return
        raw = kc.encode_many(ks)
        n = ffi.new("__u32 *", len(ks))
        ret = lib.bpf_map_delete_batch(e.fd, ffi.from_buffer(raw), n, self._batch_opts(0))
        if ret < 0:
            done = int(n[0])
            if ret == -errno.ENOENT and done < len(ks):
                raise KeyError(ks[done])
            if ret == -errno.EINVAL and e.type in _ARRAYS:
                raise self._fail(e, errno.EINVAL, "delete")
            raise self._batch_error(e, -ret, "delete_batch", done, len(ks))

    # -- queues, stacks, bloom filters -------------------------------------------------------

    def _keyless(self, op: str, types: Sequence[MapType]) -> _Elements:
        e = self._ready()
        if e.type not in types:
            names = ", ".join(t.name for t in types)
            raise TypeError(f"{op} needs a {names} map; {e.label} is not one")
        return e

    def push(self, value: Any, flags: int = 0) -> None:
        """Add ``value`` to a QUEUE, STACK or BLOOM_FILTER.

        For a full queue/stack, ``flags=UpdateFlag.EXIST`` drops the oldest
        element to make room; without it the push raises LibbpfError (E2BIG).
        """
        e = self._keyless("push()", (MapType.QUEUE, MapType.STACK, MapType.BLOOM_FILTER))
        _check_u("flags", flags, 64)
        ret = lib.bpf_map_update_elem(e.fd, ffi.NULL, e.value.encode(value), flags)
        if ret < 0:
            if ret == -errno.E2BIG:
                raise make_error(errno.E2BIG, f"cannot push to {e.label}: it is full "
                                         f"(max_entries={e.max_entries}); "
                                         "flags=UpdateFlag.EXIST overwrites the oldest")
            raise make_error(-ret, f"push to {e.label} failed")

    def _take(self, fn: Any, op: str) -> Any:
        e = self._keyless(f"{op}()", (MapType.QUEUE, MapType.STACK))
        out = e.value.alloc()
        ret = fn(e.fd, ffi.NULL, out)
        if ret < 0:
            if ret == -errno.ENOENT:
                raise IndexError(f"{op} from empty {e.label}")
            raise make_error(-ret, f"{op} on {e.label} failed")
        return e.value.decode(out)

    def pop(self) -> Any:
        """Remove and return the next element of a QUEUE (oldest) or STACK (newest).

        IndexError when empty.
        """
        return self._take(lib.bpf_map_lookup_and_delete_elem, "pop")

    def peek(self) -> Any:
        """The element :meth:`pop` would return, left in place; IndexError when empty."""
        return self._take(lib.bpf_map_lookup_elem, "peek")

    def contains(self, value: Any) -> bool:
        """Whether a BLOOM_FILTER may hold ``value`` (false positives possible)."""
        e = self._keyless("contains()", (MapType.BLOOM_FILTER,))
        ret = lib.bpf_map_lookup_elem(e.fd, ffi.NULL, e.value.encode(value))
        if ret == 0:
            return True
        if ret == -errno.ENOENT:
            return False
        raise make_error(-ret, f"lookup on {e.label} failed")



def _map_type(value: Union[MapType, int, str]) -> MapType:
    if isinstance(value, str):
        try:
            return MapType[value.upper()]
        except KeyError:
            raise ValueError(f"unknown map type {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"map type must be a MapType, an int or a name, "
                        f"not {type(value).__name__}")
    try:
        return MapType(value)
    except ValueError:
        raise ValueError(f"unknown map type {value!r}") from None


# memoryview formats of the plain IntCodec sizes (native sizes: 'I' is 4 bytes, 'Q' 8)
_IntFormat = Literal["B", "b", "H", "h", "I", "i", "Q", "q"]
_VIEW_FORMATS: Dict[Tuple[int, bool], _IntFormat] = {
    (1, False): "B", (1, True): "b", (2, False): "H", (2, True): "h",
    (4, False): "I", (4, True): "i", (8, False): "Q", (8, True): "q"}


def _batch_view(buf: bytearray, codec: Codec, count: int) -> memoryview:
    """``count`` elements of ``codec`` in ``buf``: 1-D in the C int format of a plain
    IntCodec, else 2-D 'B' of shape (count, size)."""
    size = codec.size
    fmt = _VIEW_FORMATS.get((size, codec.signed)) if type(codec) is IntCodec else None
    if count == 0:
        buf = bytearray(size)  # memoryview casts refuse a 0 in the shape: slice one down
    rows = max(count, 1)
    view = memoryview(buf).cast(fmt) if fmt else memoryview(buf).cast("B", (rows, size))
    return view if count else view[:0]


def _check_u(label: str, value: object, bits: int) -> None:
    _validate.check_int(value, label, bits)


# the flags a map element call takes, as the kernel checks them
_UPDATE_FLAGS = ("ANY", "NOEXIST", "EXIST", "F_LOCK")
_LOOKUP_FLAGS = ("F_LOCK",)


def _check_flags(flags: object, what: str, valid: Sequence[str]) -> int:
    """``flags`` of one of the ``valid`` UpdateFlag names: unknown bits are a ValueError
    that names them (the kernel would only say EINVAL)."""
    value = _validate.check_int(flags, "flags", 64)
    mask = 0
    for name in valid:
        mask |= int(UpdateFlag[name])
    unknown = value & ~mask
    if unknown:
        listed = ", ".join(f"{name} ({int(UpdateFlag[name])})" for name in valid)
        raise ValueError(f"{what}: flags {value:#x} has unknown bits {unknown:#x} "
                         f"(valid: {listed})")
    both = int(UpdateFlag.NOEXIST) | int(UpdateFlag.EXIST)
    if value & both == both:
        raise ValueError(f"{what}: flags NOEXIST and EXIST exclude each other")
    return value

