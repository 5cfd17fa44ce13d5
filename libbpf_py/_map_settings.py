"""The settings of an object's map before load: :class:`MapSettings`, a mixin of
:class:`libbpf_py.map.Map`.

Until its BpfObject is loaded, an object's map is a description (what cilium
calls a ``MapSpec``): its type, sizes, flags, pin path, inner map, initial value
and so on may change (``bpf_map__set_*``). Afterwards, and for a standalone map
at any time, they read what the kernel has and setting them raises
:class:`~libbpf_py.errors.AlreadyLoadedError`. Everything here reads or writes
the C ``struct bpf_map`` and is guarded (``guard_methods``) against the object
being freed meanwhile.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

from . import _validate
from ._binding import ffi, lib
from ._call import check
from ._codec import BytesCodec
from ._guard import Guard, guard_methods
from ._info import MapInfo
from ._map_core import FdLike, HeldFd, _map_type, _with_fd
from ._props import IntProperty, int_property
from ._validate import PathLike
from .enums import MapType
from .errors import AlreadyLoadedError

if TYPE_CHECKING:
    from .map import Map


def _setting(attr: str, doc: str, *, bits: int = 32, object_only: bool = False) -> IntProperty:
    """A :class:`Map` setting that may change until the map is created.

    Read with ``bpf_map__<attr>`` (a standalone map: its :class:`MapInfo`'s
    ``attr``; ``object_only``: only an object map has it), set with
    ``bpf_map__set_<attr>`` through ``Map._u32_setting`` (an int, ``bits`` wide;
    int subclasses such as MapFlag pass as their value). A real property: ``guard_methods``
    wraps it like a written-out one.
    """
    getter, setter = f"bpf_map__{attr}", f"bpf_map__set_{attr}"

    def get(m: MapSettings) -> int:
        if object_only:
            return int(getattr(lib, getter)(m._object_ptr(attr)))
        info = m._standalone_info()
        return int(getattr(info, attr)) if info is not None else int(getattr(lib, getter)(m._ptr))

    def set_(m: MapSettings, value: int) -> None:
        m._u32_setting(attr, getattr(lib, setter), value, bits)

    return int_property(get, set_, doc=doc)



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
    "exclusive_program",
    "initial_value",
    "inner_map",
    "reuse_fd",
    "pin_path",
    "set_pin_path",
    "is_pinned",
}))
class MapSettings:
    """The description of a map and its settings before load (mixed into Map).

    Needs from Map: ``_owner`` (the BpfObject, None when standalone), ``_ptr``
    (``struct bpf_map *``), ``_info`` (a standalone map's MapInfo), ``_guard``,
    ``_check_open()``, ``_label_name()`` and ``_borrow(ptr)``.
    """

    __slots__ = ()  # Map's __slots__: no __dict__ for a misspelt setting to land in

    if TYPE_CHECKING:  # what Map provides
        _owner: Any
        _ptr: Any
        _info: Optional[MapInfo]
        _guard: Guard

        def _check_open(self) -> Any: ...

        def _label_name(self) -> str: ...

        def _borrow(self, ptr: Any) -> Map: ...

    # -- the checks of a setting -------------------------------------------------------

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

    # -- description and settings (set: before load only) -------------------------------

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
        number = _validate.check_int(value, attr, bits)
        check(setter(ptr, number), f"cannot set {attr} of map {self.name!r}")

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
        """Whether load() creates this object map (LIBBPF_0.8.0); settable before load.

        A map left uncreated has no fd after load (``fd``, element calls and a data
        section's ``var()`` raise NotLoadedError) unless ``reuse_fd`` gave it one;
        the same with every libbpf, although libbpf 1.4 and later hand out a
        placeholder fd for it."""
        return bool(lib.bpf_map__autocreate(self._object_ptr("autocreate")))

    @autocreate.setter
    def autocreate(self, value: bool) -> None:
        flag = _validate.check_bool(value, "autocreate")
        ptr = self._before_load("autocreate")
        check(lib.bpf_map__set_autocreate(ptr, flag),
              f"cannot set autocreate of map {self.name!r}")

    @property
    def exclusive_program(self) -> Any:
        """The only program of the object that may use this map, or None
        (``bpf_map__exclusive_program``, libbpf >= 1.7, LIBBPF_1.7.0).

        Set it before load, to a :class:`~libbpf_py.program.Program` of the same
        object or its name (``bpf_map__set_exclusive_program``): libbpf then creates
        the map bound to that program's SHA-256 and the kernel (>= 6.18) refuses the
        map to every other program. A kernel without exclusive maps refuses the
        map's creation at load.
        """
        ptr = self._object_ptr("exclusive_program")
        prog = lib.bpf_map__exclusive_program(ptr)
        if prog == ffi.NULL:
            return None
        name = _validate.from_c(ffi.string(lib.bpf_program__name(prog)))
        return self._owner.programs[name]

    @exclusive_program.setter
    def exclusive_program(self, program: Any) -> None:
        ptr = self._before_load("exclusive_program")
        if isinstance(program, str):
            program = self._owner.programs[program]  # KeyError naming the programs
        if getattr(program, "_obj", None) is not self._owner:
            raise ValueError(f"the exclusive program of map {self.name!r} must be a Program "
                             f"of the same BpfObject, not {program!r}")
        check(lib.bpf_map__set_exclusive_program(ptr, program._check_open()),
              f"cannot make program {program.name!r} exclusive to map {self.name!r}")

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
        # a section view of the old image would otherwise be written over this at load
        self._owner._image_replaced(ptr)

    @property
    def inner_map(self) -> Optional[Map]:
        """The inner map template of an object's map-of-maps (None for other maps).

        Setting it (a Map or an fd, before load) calls ``bpf_map__set_inner_map_fd``.
        """
        ptr = self._object_ptr("inner_map")
        inner = lib.bpf_map__inner_map(ptr)
        if inner == ffi.NULL:
            return None
        return self._borrow(inner)

    @inner_map.setter
    def inner_map(self, value: FdLike) -> None:
        ptr = self._before_load("inner_map")
        # libbpf keeps the fd number itself (no dup) and creates the map of maps from
        # it at load: a dup of it, kept by the object until it is freed, holds that
        # number for libbpf (the caller's Map may be closed or collected first, and
        # its number taken by another file)
        template = _with_fd(value, "inner_map", HeldFd)
        check(lib.bpf_map__set_inner_map_fd(ptr, template.fd),
              f"cannot set inner map of map {self.name!r}")
        self._owner._keep.append(template)

    def reuse_fd(self, fd: FdLike) -> None:
        """Before load: make this object map use an existing map (``bpf_map__reuse_fd``).

        The fd is duplicated by libbpf; the caller keeps theirs.
        """
        ptr = self._before_load("the map (reuse_fd)")
        check(_with_fd(fd, "fd", lambda number: lib.bpf_map__reuse_fd(ptr, number)),
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
        # an empty path was kept, and load() then failed with libbpf's EINVAL "failed
        # to create" the map: refused here, where the mistake is
        raw = ffi.NULL if path is None else _validate.cstr(path, "pin_path", path=True,
                                                           empty=False)
        check(lib.bpf_map__set_pin_path(ptr, raw),
              f"cannot set pin path of map {self.name!r}")

    @property
    def is_pinned(self) -> bool:
        """Whether libbpf pinned this object map (or a standalone map: never known)."""
        return bool(lib.bpf_map__is_pinned(self._object_ptr("is_pinned")))
