"""The element core of :class:`libbpf_py.map.Map`: what a map does with its elements.

One home for the element API of both kinds of map (an object's map and a
standalone one), the way libbpf-rs shares ``MapCore`` between ``Map`` and
``MapHandle``: :class:`MapCore` reads and writes elements, iterates, runs the
batch calls and the QUEUE/STACK/BLOOM_FILTER operations, all through the
element state :class:`_Elements` (the map's own fd duplicate, its codecs and the
C int path's parameters). It needs two things from the class it is mixed into
(:class:`~libbpf_py.map.Map`): ``_check_open()`` (ClosedError once the map or its
object is closed) and ``_check_loaded()`` (the element state, made on first use,
once the map exists in the kernel). The settings before load live in
:mod:`libbpf_py._map_settings`; construction, life cycle and the kernel object
(fd, id, pin) in :mod:`libbpf_py.map`.

Also here: the helpers those modules share (``_fd_of``, ``_check_u``, ``_map_type``...).
"""

from __future__ import annotations

import errno
import fcntl
import itertools
import os
import sys
import weakref
from typing import (
    TYPE_CHECKING,
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
    TypeVar,
    Union,
)

from . import _validate
from ._binding import MapBase, PairIter, ffi, lib, pairs
from ._call import check, make_error
from ._codec import BoolCodec, Codec, IntCodec, PerCpuCodec, StructCodec, btf_codec, plain_codec
from ._guard import Guard
from ._ids import dup_fd, fd_kind
from ._info import MapInfo
from ._validate import PathLike
from .enums import MapType, UpdateFlag
from .errors import ENOTSUPP, LibbpfError, LibbpfNotSupportedError
from .log import get_logger

FdLike = Union[int, Any]  # an int fd, or anything with an ``fd`` attribute (a Map...)
T = TypeVar("T")

_OBJ_NAME_MAX = int(lib.BPF_OBJ_NAME_LEN) - 1

_PERCPU = frozenset({MapType.PERCPU_HASH, MapType.PERCPU_ARRAY, MapType.LRU_PERCPU_HASH,
                     MapType.PERCPU_CGROUP_STORAGE})
_FD_VALUES = frozenset({MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS, MapType.PROG_ARRAY})
_ARRAYS = frozenset({MapType.ARRAY, MapType.PERCPU_ARRAY})
_KEYLESS = frozenset({MapType.QUEUE, MapType.STACK, MapType.BLOOM_FILTER})
# The map types whose elements iteration reads with bpf_map_lookup_batch (kernel 5.6+:
# the hash maps' own batch ops, the generic one of the arrays); every other type walks
# with bpf_map_get_next_key. A kernel that refuses it anyway (an old one says EINVAL, a
# type without batch ops ENOTSUPP, an LSM EPERM/EACCES) gets the walk from then on.
_BATCH_READ = frozenset({MapType.HASH, MapType.LRU_HASH, MapType.PERCPU_HASH,
                         MapType.LRU_PERCPU_HASH, MapType.ARRAY, MapType.PERCPU_ARRAY})
_BATCH_REFUSED = frozenset({errno.EINVAL, ENOTSUPP, errno.EOPNOTSUPP, errno.EPERM,
                            errno.EACCES})
# Entries per bpf_map_lookup_batch call of an iteration, and the most bytes (keys and
# values) one chunk may take: what an iteration holds at a time, whatever the map size.
_ITER_CHUNK = 4096
_ITER_BYTES = 1 << 20
# What an iteration yields: keys(), values(), items(); or only how many (len()).
_KEYS, _VALUES, _ITEMS, _COUNT = 0, 1, 2, 3



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


def created_fd(ptr: Any) -> int:
    """The fd of an object's map after load, or -1 when libbpf did not create the map.

    libbpf 1.4 and later give every map a placeholder fd (a memfd) at open and keep
    it for a map they skip at load (autocreate off, or a data section on a kernel
    without global data), where ``bpf_map__fd`` returned -1 before: that fd reads
    as a map only to a check for ``>= 0`` (mmap maps the memfd, an element call
    gets EINVAL). A map with autocreate off can still hold a real map (its fd
    given by ``reuse_fd``), so its fd is looked at, and only for those maps.
    """
    fd = int(lib.bpf_map__fd(ptr))
    if fd < 0 or lib.bpf_map__autocreate(ptr):
        return fd
    return fd if fd_kind(fd) == "map" else -1


class _FdCodec(IntCodec):
    """Values of maps of maps / prog arrays: an fd (or a Map) in, the kernel id out."""

    def __init__(self, what: str) -> None:
        super().__init__(4, what)
        self.accepts = "a Map (or anything with an fd) or an int fd"

    def encode(self, obj: Any) -> Any:
        return ffi.new(self._ptr, _fd_of(obj, self.what))

    def to_bytes(self, obj: Any) -> Any:
        return _fd_of(obj, self.what).to_bytes(4, sys.byteorder)


def _enter_fd_guards(codec: Codec, values: Iterable[Any]) -> List[Guard]:
    """A write to a map of maps or a prog array puts in the fds of Maps / Programs:
    enter each one's guard, so that a close() in another thread, between reading its
    fd and the system call's return, waits for the call (the fd number cannot be
    handed to another file meanwhile, putting that file in the map). The guards
    entered, for _leave_guards after the call; none for other maps or int fds."""
    return _enter_guards(values) if type(codec) is _FdCodec else []


def _enter_guards(objs: Iterable[Any]) -> List[Guard]:
    """Enter the guard of each of ``objs`` that has one (a Map, a Program; not an int
    fd): the guards entered, for _leave_guards."""
    held: List[Guard] = []
    try:
        for obj in objs:
            guard = None if isinstance(obj, int) else getattr(obj, "_guard", None)
            if isinstance(guard, Guard):
                guard.enter()
                held.append(guard)
    except BaseException:
        _leave_guards(held)
        raise
    return held


def _leave_guards(held: List[Guard]) -> None:
    for guard in reversed(held):
        guard.leave()


def _with_fd(obj: FdLike, what: str, call: Callable[[int], T]) -> T:
    """``call(fd)`` with the fd of ``obj`` (see _fd_of), ``obj``'s guard held until it
    returns: a close() of ``obj`` in another thread, between reading its fd and the
    system call, waits for the call (the number cannot go to another file meanwhile)."""
    held = _enter_guards((obj,))
    try:
        return call(_fd_of(obj, what))
    finally:
        _leave_guards(held)


class HeldFd:
    """A duplicate of an fd, open while this lives: for a number libbpf keeps without
    a dup of its own (``bpf_map__set_inner_map_fd``), held by the object that uses it."""

    __slots__ = ("fd",)

    def __init__(self, fd: int) -> None:
        self.fd = -1
        self.fd = dup_fd(fd)  # LibbpfError (EBADF...) naming the fd, not a bare OSError

    def __del__(self) -> None:
        fd, self.fd = getattr(self, "fd", -1), -1
        if fd >= 0:
            try:
                os.close(fd)
            except OSError:
                pass


def _read_only_error(e: _Elements, err: int, op: str) -> Optional[LibbpfError]:
    """The error of a write refused (EPERM) because the map's fd is read-only
    (``Map.from_pinned(path, read_only=True)``: BPF_F_RDONLY makes an O_RDONLY
    file), or None when that is not why."""
    if err != errno.EPERM or (op.startswith("lookup") and op != "lookup_and_delete"):
        return None
    try:
        mode = fcntl.fcntl(e.fd, fcntl.F_GETFL) & os.O_ACCMODE
    except OSError:
        return None
    if mode != os.O_RDONLY:
        return None
    return make_error(err, f"cannot {op} {e.label}: this handle was opened read-only "
                           "(Map.from_pinned(..., read_only=True), BPF_F_RDONLY) and cannot "
                           "write to the map")


#: the value kinds of MapBase's C path besides plain ints (``_speedups.c``)
_C_RECORD = 1
_C_PERCPU_INT = 2


def _check_chunk(chunk: object, at_least_one: bool = False) -> int:
    """The ``chunk`` of a batch read: an int (a float or a bool would be taken for some
    other count without a word); with ``at_least_one``, >= 1 (``lookup_batch`` reads a
    chunk below 1 as 1, as it always has)."""
    if isinstance(chunk, bool) or not isinstance(chunk, int):
        raise TypeError(f"chunk must be an int, not {type(chunk).__name__}")
    if at_least_one and chunk < 1:
        raise ValueError(f"chunk must be at least 1, got {chunk}")
    return int(chunk)


class _Elements:
    """Everything the element API needs, worked out once per map after it exists."""

    __slots__ = ("__weakref__", "fast", "fd", "iteration", "key", "kind", "label", "live",
                 "max_entries", "name", "type", "value")

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
        # How iteration reads this map: "batch" (bpf_map_lookup_batch), "walk"
        # (bpf_map_get_next_key) or None until the first iteration decides (and logs it).
        self.iteration: Optional[str] = None
        # The chunks that iterations of this map are yielding from now, by id:
        # stop_iterations() (the map is closed) empties them.
        self.live: Dict[int, List[Any]] = {}
        # The C int path of m[k], m[k] = v and del m[k] (MapBase, libbpf_py/_speedups.c)
        # for maps of plain int keys and values, the common case: what it needs to
        # encode and decode them, or None for every other map.
        # For int keys, the values it takes: plain ints, the ctypes records of a
        # BTF struct/union value (read into a new record, written from one of that
        # class or from a dict packed by the codec's to_bytes) and per-CPU ints. The
        # tuple is (fd, key size, key signed, value size, value signed[, kind,
        # extra[, pack[, plan]]]): plan, the codec's _speedups.Plan, packs a dict of
        # every field in C.
        key = self.key
        self.fast: Optional[Tuple[Any, ...]] = None
        if type(key) is IntCodec:
            if type(value) is IntCodec:
                self.fast = (self.fd, key.size, key.signed, value.size, value.signed)
            elif type(value) is StructCodec and value.record is not None:
                self.fast = (self.fd, key.size, key.signed, value.size, False,
                             _C_RECORD, value.record, value.to_bytes, value.cplan)
            elif type(value) is PerCpuCodec and type(value.elem) is IntCodec:
                self.fast = (self.fd, key.size, key.signed, value.elem.size,
                             value.elem.signed, _C_PERCPU_INT, value.ncpus)

    def __del__(self) -> None:
        fd, self.fd = getattr(self, "fd", -1), -1
        if fd >= 0:
            try:
                os.close(fd)
            except OSError:
                pass

    def stop_iterations(self) -> None:
        """The map is closed: every iteration of it stops at its next step, which asks
        for the next chunk and raises ClosedError (the chunk read already is dropped)."""
        for chunk in list(self.live.values()):
            chunk.clear()

    def close_hook(self) -> Callable[[], None]:
        """:meth:`stop_iterations` as a hook for the map's Guard (``on_close``), which
        does not keep this state (and its fd) alive."""
        ref = weakref.ref(self)

        def stop() -> None:
            e = ref()
            if e is not None:
                e.stop_iterations()

        return stop

    def keyless(self, op: str) -> TypeError:
        return TypeError(f"{self.label} has no keys: {op} does not apply; use push(), "
                         "pop() and peek()" + (" / contains()" if self.type ==
                                                MapType.BLOOM_FILTER else ""))

    def keyed(self, op: str) -> Codec:
        """The key codec, for ``op`` on a map with keys: the one check that QUEUE,
        STACK and BLOOM_FILTER maps (no keys) refuse key operations with TypeError."""
        kc = self.key
        if kc is None:
            raise self.keyless(op)
        return kc


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



def _map_type(value: Union[MapType, int, str]) -> MapType:
    if isinstance(value, str):
        try:
            return MapType[value.upper()]
        except KeyError:
            import difflib  # here: only an error needs it (~1.5 ms of import time)

            close = difflib.get_close_matches(value.upper(), MapType.__members__, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"unknown map type {value!r}{hint}") from None
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
    IntCodec ('?' for a _Bool), else 2-D 'B' of shape (count, size)."""
    size = codec.size
    fmt = _VIEW_FORMATS.get((size, codec.signed)) if type(codec) is IntCodec else None
    if count == 0:
        buf = bytearray(size)  # memoryview casts refuse a 0 in the shape: slice one down
    rows = max(count, 1)
    view: memoryview
    if type(codec) is BoolCodec:
        view = memoryview(buf).cast("?")  # type: ignore[assignment]  # tolist(): bools
    else:
        view = memoryview(buf).cast(fmt) if fmt else memoryview(buf).cast("B", (rows, size))
    return view if count else view[:0]


def _check_u(label: str, value: object, bits: int) -> None:
    _validate.check_int(value, label, bits)


# the flags a map element call takes, as the kernel checks them
_UPDATE_FLAGS = ("ANY", "NOEXIST", "EXIST", "F_LOCK")
_ANY = UpdateFlag.ANY
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


def _batch_done(n: Any, total: int) -> int:
    """How many elements a failed update/delete batch of ``total`` handled. The kernel
    writes the count back only once it has gone through elements, and then fewer than
    ``total`` (it stopped at the failing one); a batch refused before its first
    element (bad flags, a map type without the op) leaves the count as passed in,
    ``total``, which means none."""
    done = int(n[0])
    return 0 if done >= total else done


class _ChunkSink:
    """Where :meth:`MapCore._lookup_batches` writes: one chunk's buffers, reused;
    each chunk decoded into (key, value) tuples as it comes (``lookup_batch``)."""

    __slots__ = ("cap", "kc", "keys", "out", "vals", "vc")

    def __init__(self, kc: Codec, vc: Codec) -> None:
        self.kc, self.vc = kc, vc
        self.cap = 0
        self.keys: Any = None
        self.vals: Any = None
        self.out: List[Tuple[Any, Any]] = []

    def room(self, count: int) -> Tuple[Any, Any]:
        if count > self.cap:  # first call, or one bucket held more than cap elements
            self.cap = count
            self.keys = ffi.new(f"char[{count * self.kc.size}]")
            self.vals = ffi.new(f"char[{count * self.vc.size}]")
        return self.keys, self.vals

    def took(self, got: int) -> None:
        kc, vc = self.kc, self.vc
        ks = kc.decode_many(ffi.buffer(self.keys, got * kc.size)[:], got)
        vs = vc.decode_many(ffi.buffer(self.vals, got * vc.size)[:], got)
        self.out.extend(zip(ks, vs))


class _ArraySink:
    """Where :meth:`MapCore._lookup_batches` writes for ``lookup_batch_arrays``: two
    growing buffers the kernel fills straight (no per-chunk copy, no Python work
    per entry). :meth:`release` before the buffers are read or dropped."""

    __slots__ = ("cap", "got", "keys", "kp", "ks", "vals", "vp", "vs")

    def __init__(self, ks: int, vs: int, count: int) -> None:
        self.ks, self.vs = ks, vs
        self.cap = count  # entries the buffers hold; grown (doubled) before a call might overflow
        self.got = 0
        self.keys, self.vals = bytearray(count * ks), bytearray(count * vs)
        self.kp, self.vp = ffi.from_buffer(self.keys), ffi.from_buffer(self.vals)

    def room(self, count: int) -> Tuple[Any, Any]:
        cap, got, ks, vs = self.cap, self.got, self.ks, self.vs
        if cap - got < count:
            # a bytearray cannot grow while cffi holds a pointer into it
            self.release()
            grow = max(cap, got + count - cap)
            self.keys.extend(bytes(grow * ks))
            self.vals.extend(bytes(grow * vs))
            self.cap = cap + grow
            self.kp, self.vp = ffi.from_buffer(self.keys), ffi.from_buffer(self.vals)
        return self.kp + got * ks, self.vp + got * vs

    def took(self, got: int) -> None:
        self.got += got

    def release(self) -> None:
        ffi.release(self.kp)
        ffi.release(self.vp)


class _StreamSink:
    """Where an iteration's :meth:`MapCore._batch_calls` write: one chunk's buffers,
    reused from call to call (new, larger ones when a hash bucket holds more entries
    than a call asked for); each chunk turned into the list that the iteration
    yields from. Plain int keys and values are read through memoryviews of the
    buffers in their C int format (``tolist()``: a C loop, the same ints as
    IntCodec's); any other codec decodes with its ``decode_many``."""

    __slots__ = ("cap", "kc", "keys", "kview", "vals", "vc", "vview")

    def __init__(self, kc: Codec, vc: Codec) -> None:
        self.kc, self.vc = kc, vc
        self.cap = 0
        self.keys: Any = None
        self.vals: Any = None
        self.kview: Optional[memoryview] = None
        self.vview: Optional[memoryview] = None

    @staticmethod
    def _view(buf: Any, codec: Codec) -> Optional[memoryview]:
        fmt = _VIEW_FORMATS.get((codec.size, codec.signed)) if type(codec) is IntCodec \
            else None
        return memoryview(ffi.buffer(buf)).cast(fmt) if fmt else None

    def room(self, count: int) -> Tuple[Any, Any]:
        if count > self.cap:
            self.cap = count
            self.keys = ffi.new("char[]", count * self.kc.size)
            self.vals = ffi.new("char[]", max(count * self.vc.size, 1))
            self.kview = self._view(self.keys, self.kc)
            self.vview = self._view(self.vals, self.vc)
        return self.keys, self.vals

    def keys_of(self, got: int) -> List[Any]:
        if self.kview is not None:
            return self.kview[:got].tolist()
        kc = self.kc
        return kc.decode_many(ffi.buffer(self.keys, got * kc.size)[:], got)

    def values_of(self, got: int) -> List[Any]:
        if self.vview is not None:
            return self.vview[:got].tolist()
        vc = self.vc
        return vc.decode_many(ffi.buffer(self.vals, got * vc.size)[:], got)

    def items_of(self, got: int) -> Tuple[Iterable[Tuple[Any, Any]], Any]:
        """The chunk's (key, value) pairs, and what stops them when cleared.

        Int keys and values: a ``_speedups.PairIter`` of a copy of the chunk's
        entries, which makes each pair's ints in C and reuses its tuple while
        nobody keeps it (no list of keys or values: ~10 ns an entry less than a
        zip of two lists). Other codecs: a zip of the decoded lists (zip reuses
        its tuple too)."""
        if self.kview is not None and self.vview is not None:
            it = PairIter(self.kview, self.vview, got)
            return it, it
        keys = self.keys_of(got)
        return zip(keys, self.values_of(got)), keys

    def part_of(self, part: int, got: int) -> Tuple[Iterable[Any], List[Any]]:
        """What an iteration yields from this chunk, and the list that stops it when
        emptied (the map is closed): keys, values, (key, value) pairs, or as many
        Nones as entries (``len()``)."""
        if part == _ITEMS:
            return self.items_of(got)
        chunk = (self.keys_of(got) if part == _KEYS else self.values_of(got)
                 if part == _VALUES else [None] * got)
        return chunk, chunk


class MapCore(MapBase):
    """The element API of a map: the part an object's map and a standalone map share.

    Every operation starts from ``self._check_loaded()``, the element state of a
    map that exists in the kernel (its own fd duplicate and codecs), and is not
    guarded: it stays as fast as it can be. ``m[key]``, ``m[key] = value`` and
    ``del m[key]`` are MapBase's (C) with :meth:`_get`, :meth:`update`,
    :meth:`_delete` and :meth:`_elem_error` as the general path.
    """

    __slots__ = ()  # Map's __slots__: no __dict__ for a misspelt setting to land in

    if TYPE_CHECKING:  # what the class this is mixed into (Map) provides

        def _check_open(self) -> Any: ...

        def _check_loaded(self) -> _Elements: ...

    # -- elements ------------------------------------------------------------------------

    def _fail(self, e: _Elements, err: int, op: str, key: Any = None,
              flags: int = 0) -> Exception:
        read_only = _read_only_error(e, err, op)
        if read_only is not None:
            return read_only
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
        return self._fail(self._elements or self._check_loaded(), err, op, key)

    def _get(self, key: Any) -> Any:
        """``m[key]``, the general way (MapBase's ``m[key]`` for all but int maps)."""
        # The element state, once made, is dropped when the map (or its object) is
        # closed, as MapBase's int path relies on: no need to ask _check_loaded again.
        e = self._elements or self._check_loaded()
        kc, vc = e.key, e.value
        if kc is None:
            raise e.keyless("m[key]")
        k = kc.encode(key)
        record = vc.record
        if record is not None:  # a struct value: the kernel writes into a new record
            value = record()
            ret = lib.bpf_map_lookup_elem(e.fd, k, ffi.from_buffer(value))
            if ret < 0:
                raise self._fail(e, -ret, "lookup", key)
            return value
        out = vc.alloc()
        ret = lib.bpf_map_lookup_elem(e.fd, k, out)
        if ret < 0:
            raise self._fail(e, -ret, "lookup", key)
        return vc.decode(out)

    def lookup(self, key: Any, flags: int = 0) -> Any:
        """The value at ``key`` read with ``flags`` (``bpf_map_lookup_elem_flags``).

        ``flags=UpdateFlag.F_LOCK`` reads a value that holds a ``bpf_spin_lock``
        under that lock, so that it is never seen half-written. KeyError when
        absent; ``m[key]`` is ``lookup(key)``.
        """
        e = self._elements
        if e is not None and e.fast is not None and type(flags) is int and not flags:
            return self[key]  # MapBase's C path (m[key]), for the maps it serves
        e = self._check_loaded()
        kc = e.keyed("lookup()")
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
        e = self._elements or self._check_loaded()  # (see _get)
        kc = e.key
        if kc is None:
            raise e.keyless("update()")
        if flags is not _ANY and (type(flags) is not int or flags):  # ANY or 0: valid
            _check_flags(flags, f"update on {e.label}", _UPDATE_FLAGS)
        held = _enter_fd_guards(e.value, (value,))
        try:
            k = kc.encode(key)
            v = e.value.encode(value)
            ret = lib.bpf_map_update_elem(e.fd, k, v, flags)
        finally:
            _leave_guards(held)
        if ret < 0:
            raise self._fail(e, -ret, "update", key, flags)

    def _delete(self, key: Any) -> None:
        """``del m[key]``, the general way (KeyError when absent)."""
        e = self._check_loaded()
        ret = lib.bpf_map_delete_elem(e.fd, e.keyed("del m[key]").encode(key))
        if ret < 0:
            raise self._fail(e, -ret, "delete", key)

    def __contains__(self, key: Any) -> bool:
        """``key in m``; for a BLOOM_FILTER, whether the value may have been pushed."""
        e = self._check_loaded()
        if e.key is None and e.type == MapType.BLOOM_FILTER:
            return self.contains(key)
        kc = e.keyed("'in'")
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
        e = self._check_loaded()
        kc = e.keyed("lookup_and_delete()")
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
        n = e.keyed("iteration").size
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

    def _walk(self, e: _Elements, part: int) -> Iterator[Any]:
        """Iteration one element at a time: :meth:`_raw_keys` and, for a value, one
        ``bpf_map_lookup_elem``; an element deleted in between is skipped."""
        kc, vc = e.keyed("iteration"), e.value
        if part == _KEYS:
            decode = kc.from_bytes
            for raw in self._raw_keys(e):
                yield decode(raw)
            return
        for raw in self._raw_keys(e):
            out = vc.alloc()
            ret = lib.bpf_map_lookup_elem(e.fd, ffi.from_buffer(raw), out)
            if ret == -errno.ENOENT:
                continue
            if ret < 0:
                raise make_error(-ret, f"lookup on {e.label} failed")
            yield vc.decode(out) if part == _VALUES else (kc.from_bytes(raw), vc.decode(out))

    @staticmethod
    def _decide(e: _Elements, how: str, why: str) -> None:
        """How iteration reads ``e``'s map from now on; logged (DEBUG) once per map."""
        e.iteration = how
        get_logger().debug("iteration of %s: %s", e.label, why)

    def _chunks(self, part: int) -> Iterator[Iterable[Any]]:
        """What :meth:`keys`, :meth:`values`, :meth:`items` (``part``) yield, a chunk
        at a time: a list per ``bpf_map_lookup_batch`` call (up to ``_ITER_CHUNK``
        entries, ``_ITER_BYTES`` bytes), or for a map without batch reads one
        generator, the :meth:`_walk`.

        Each step starts with ``_check_open()``: once the map is closed, the next
        chunk raises ClosedError, and ``stop_iterations`` empties the chunk being
        yielded from, so that it is the very next step.
        """
        e = self._check_loaded()
        kc = e.keyed("iteration")
        how = e.iteration
        if how is None and e.type not in _BATCH_READ:
            how = "walk"
            self._decide(e, how, f"bpf_map_get_next_key, one call per key ({e.type.name} "
                                 "maps have no batch read)")
        if how == "walk":
            yield self._walk(e, _KEYS if part == _COUNT else part)
            return
        sink = _StreamSink(kc, e.value)
        chunk_size = max(1, min(_ITER_CHUNK, _ITER_BYTES // (kc.size + e.value.size)))
        calls = self._batch_calls(e, kc, lib.bpf_map_lookup_batch, "lookup_batch (iteration)",
                                  chunk_size, 0, sink.room)
        try:
            got = next(calls, 0)
        except LibbpfError as exc:
            if how is not None or exc.errno not in _BATCH_REFUSED:
                raise
            code = "ENOTSUPP" if exc.errno == ENOTSUPP else errno.errorcode.get(exc.errno)
            self._decide(e, "walk", f"the kernel refused bpf_map_lookup_batch ({code}): "
                                    "bpf_map_get_next_key, one call per key, from now on")
            yield self._walk(e, _KEYS if part == _COUNT else part)
            return
        if how is None:
            self._decide(e, "batch", f"bpf_map_lookup_batch, up to {chunk_size} entries "
                                     "a call")
        live = e.live
        while got:
            chunk, stop = sink.part_of(part, got)
            key = id(stop)
            live[key] = stop
            try:
                if self._elements is not e:  # closed before stop_iterations could see it
                    self._check_open()
                yield chunk
            finally:
                del live[key]
            if self._elements is not e:  # closed meanwhile (the last chunk too)
                self._check_open()
            got = next(calls, 0)

    def keys(self) -> Iterator[Any]:
        """Iterate over the keys; each key comes once, and deleting while iterating is safe.

        Hash, LRU hash, per-CPU and array maps are read a chunk at a time with
        ``bpf_map_lookup_batch`` (up to 4096 entries per call), other maps one key
        at a time with ``bpf_map_get_next_key`` (the logger ``libbpf_py`` says at
        DEBUG, once per map, which one and why). A batch read is a snapshot
        chunk by chunk: an element deleted or changed after its chunk was read
        still comes as read, one added to a part of the map already read does not
        come. Closing the map raises ClosedError at the next step.
        """
        return itertools.chain.from_iterable(self._chunks(_KEYS))

    __iter__ = keys

    def items(self) -> Iterator[Tuple[Any, Any]]:
        """Iterate over (key, value) pairs, each key once; deleting while iterating is safe.

        Read as :meth:`keys` says: a chunk at a time (``bpf_map_lookup_batch``)
        for hash, LRU hash, per-CPU and array maps, a snapshot chunk by chunk (an
        element deleted or changed after its chunk was read comes with the value
        read), else one element at a time (``bpf_map_get_next_key`` and a lookup:
        an element deleted meanwhile is skipped). Memory holds one chunk at a
        time, whatever the map size. Keys and values decode as ``m[key]`` does
        (per-CPU values as a list per key). Closing the map raises ClosedError at
        the next step. ``dict(m.items())`` is the fast way to copy a map into a
        dict (``dict(m)`` looks every key up again).
        """
        return itertools.chain.from_iterable(self._chunks(_ITEMS))

    def values(self) -> Iterator[Any]:
        """Iterate over the values, read as :meth:`items` reads them."""
        return itertools.chain.from_iterable(self._chunks(_VALUES))

    def __len__(self) -> int:
        """The number of elements: ``max_entries`` for an array (its elements always
        exist), else counted as :meth:`keys` reads them (O(n), a system call per
        chunk or per key)."""
        e = self._check_loaded()
        e.keyed("iteration")
        if e.type in _ARRAYS:
            return e.max_entries
        total = 0
        for chunk in self._chunks(_COUNT):  # lists of Nones, or the walk's generator
            total += len(chunk) if isinstance(chunk, list) else sum(1 for _ in chunk)
        return total

    def clear(self) -> None:
        """Delete every element (not for array maps, whose elements cannot be deleted)."""
        e = self._check_loaded()
        if e.type in _ARRAYS:
            raise self._fail(e, errno.EINVAL, "delete")
        for raw in list(self._raw_keys(e)):
            ret = lib.bpf_map_delete_elem(e.fd, ffi.from_buffer(raw))
            if ret < 0 and ret != -errno.ENOENT:
                raise self._fail(e, -ret, "delete")

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
        read_only = _read_only_error(e, err, op)
        if read_only is not None:
            return read_only
        if err in (ENOTSUPP, errno.EOPNOTSUPP):
            return LibbpfNotSupportedError(
                err, "operation not supported",
                f"{op} on {e.label}: this map type does not support {op} "
                f"(ENOTSUPP){progress}")
        if err == errno.EINVAL:
            return make_error(err, f"{op} on {e.label} refused{progress} (map types without "
                                   f"{op} support give EINVAL)")
        return make_error(err, f"{op} on {e.label} failed{progress}")

    def _batch_calls(self, e: _Elements, kc: Codec, fn: Any, op: str, chunk: int,
                     elem_flags: int, room: Callable[[int], Tuple[Any, Any]]
                     ) -> Iterator[int]:
        """The one loop of the batch reads: ``fn`` (``bpf_map_lookup_batch`` or
        ``bpf_map_lookup_and_delete_batch``) until the map is done, each call
        writing up to ``count`` entries where ``room(count)`` says; yields how
        many each call read (when any), before the next call. ``count`` starts at
        ``chunk`` and doubles when one hash bucket holds more entries than it
        (ENOSPC with none read). Each call starts with ``_check_open()``."""
        opts = self._batch_opts(elem_flags)
        count = max(1, min(chunk, e.max_entries or 1))
        token = max(kc.size, 8)
        tokens = (ffi.new(f"char[{token}]"), ffi.new(f"char[{token}]"))
        turn = 0
        in_batch: Any = ffi.NULL
        n = ffi.new("__u32 *")
        fd = e.fd
        while True:
            self._check_open()
            keys, vals = room(count)
            n[0] = count
            out_batch = tokens[turn]
            ret = fn(fd, in_batch, out_batch, keys, vals, n, opts)
            got = int(n[0])
            if ret == -errno.ENOSPC and got == 0:
                count *= 2  # one bucket holds more than count elements
                continue
            if ret < 0 and ret != -errno.ENOENT:
                raise self._batch_error(e, -ret, op)
            if got:
                yield got
            if ret == -errno.ENOENT:
                return
            in_batch, turn = out_batch, 1 - turn

    def _lookup_batches(self, e: _Elements, kc: Codec, fn: Any, op: str, chunk: int,
                        elem_flags: int, sink: Union[_ChunkSink, _ArraySink]) -> None:
        """Every entry into ``sink``: :meth:`_batch_calls` writing where ``sink.room``
        says, ``sink.took(n)`` told how many each call read."""
        for got in self._batch_calls(e, kc, fn, op, chunk, elem_flags, sink.room):
            sink.took(got)

    def _read_batches(self, fn: Any, op: str, chunk: int, elem_flags: int
                      ) -> List[Tuple[Any, Any]]:
        """Every entry as (key, value) tuples, decoded chunk by chunk."""
        e = self._check_loaded()
        kc = e.keyed(f"{op}()")
        sink = _ChunkSink(kc, e.value)
        self._lookup_batches(e, kc, fn, op, chunk, elem_flags, sink)
        return sink.out

    def _read_arrays(self, op: str, chunk: int, elem_flags: int
                     ) -> Tuple[memoryview, memoryview]:
        """Every entry, ``bpf_map_lookup_batch`` writing straight into two growing
        buffers (no per-chunk copy, no Python work per entry); the views of
        :meth:`lookup_batch_arrays`."""
        e = self._check_loaded()
        kc, vc = e.keyed(f"{op}()"), e.value
        sink = _ArraySink(kc.size, vc.size, max(1, min(chunk, e.max_entries or 1)))
        try:
            self._lookup_batches(e, kc, lib.bpf_map_lookup_batch, op, chunk, elem_flags,
                                 sink)
        finally:
            sink.release()
        got, keys, vals = sink.got, sink.keys, sink.vals
        del keys[got * kc.size:], vals[got * vc.size:]
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
        ``keys.tolist()`` a list of ints (a ``_Bool``: ``'?'``, bools); anything
        else (structs, bytes, per-CPU values) as a 2-D ``'B'`` memoryview of shape ``(count,
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
        return self._read_arrays("lookup_batch_arrays", _check_chunk(chunk, True),
                                 elem_flags)

    def lookup_batch(self, *, chunk: int = 1024, elem_flags: int = 0
                     ) -> List[Tuple[Any, Any]]:
        """All (key, value) pairs, read ``chunk`` at a time (``bpf_map_lookup_batch``).

        Hash, per-CPU and array maps support it (kernel 5.6+); other map types
        raise LibbpfNotSupportedError / LibbpfError (EINVAL). For plain int keys
        and values, :meth:`lookup_batch_arrays` is faster still (no tuple per entry).
        """
        chunk = _check_chunk(chunk)
        e = self._check_loaded()
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
                                  "lookup_and_delete_batch", _check_chunk(chunk), elem_flags)

    def update_batch(self, pairs: Union[Mapping[Any, Any], Iterable[Tuple[Any, Any]]],
                     flags: int = UpdateFlag.ANY) -> None:
        """Write many (key, value) pairs in one call (``bpf_map_update_batch``).

        ``pairs`` is a mapping or an iterable of pairs. The kernel takes only
        ``UpdateFlag.ANY`` or ``UpdateFlag.F_LOCK`` for batches (NOEXIST and
        EXIST raise ValueError here): every element is created or replaced.
        """
        e = self._check_loaded()
        kc = e.keyed("update_batch()")
        _check_u("flags", flags, 64)
        if flags & ~int(UpdateFlag.F_LOCK):
            raise ValueError(f"update_batch on {e.label}: the kernel takes only "
                             f"UpdateFlag.ANY or F_LOCK for batches, not {flags!r}")
        items = list(pairs.items() if isinstance(pairs, Mapping) else pairs)
        if not items:
            return
        keys = kc.encode_many([k for k, _ in items])
        held = _enter_fd_guards(e.value, [v for _, v in items])
        try:
            vals = e.value.encode_many([v for _, v in items])
            n = ffi.new("__u32 *", len(items))
            ret = lib.bpf_map_update_batch(e.fd, ffi.from_buffer(keys), ffi.from_buffer(vals),
                                           n, self._batch_opts(flags))
        finally:
            _leave_guards(held)
        if ret < 0:
            done = _batch_done(n, len(items))
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
        e = self._check_loaded()
        kc = e.keyed("delete_batch()")
        ks = list(keys)
        if not ks:
            return
        raw = kc.encode_many(ks)
        n = ffi.new("__u32 *", len(ks))
        ret = lib.bpf_map_delete_batch(e.fd, ffi.from_buffer(raw), n, self._batch_opts(0))
        if ret < 0:
            done = _batch_done(n, len(ks))
            if ret == -errno.ENOENT and done < len(ks):
                raise KeyError(ks[done])
            if ret == -errno.EINVAL and e.type in _ARRAYS:
                raise self._fail(e, errno.EINVAL, "delete")
            raise self._batch_error(e, -ret, "delete_batch", done, len(ks))

    # -- queues, stacks, bloom filters -------------------------------------------------------

    def _check_kind(self, op: str, types: Sequence[MapType]) -> _Elements:
        """The element state of a map of one of ``types``; TypeError for another."""
        e = self._check_loaded()
        if e.type not in types:
            names = ", ".join(t.name for t in types)
            raise TypeError(f"{op} needs a {names} map; {e.label} is not one")
        return e

    def push(self, value: Any, flags: int = 0) -> None:
        """Add ``value`` to a QUEUE, STACK or BLOOM_FILTER.

        For a full queue/stack, ``flags=UpdateFlag.EXIST`` drops the oldest
        element to make room; without it the push raises LibbpfError (E2BIG).
        """
        e = self._check_kind("push()", (MapType.QUEUE, MapType.STACK, MapType.BLOOM_FILTER))
        # as the kernel checks them (queue_stack_map_push_elem, bloom_map_push_elem)
        _check_flags(flags, f"push to {e.label}",
                     ("ANY",) if e.type == MapType.BLOOM_FILTER else ("ANY", "EXIST"))
        ret = lib.bpf_map_update_elem(e.fd, ffi.NULL, e.value.encode(value), flags)
        if ret < 0:
            if ret == -errno.E2BIG:
                raise make_error(errno.E2BIG, f"cannot push to {e.label}: it is full "
                                         f"(max_entries={e.max_entries}); "
                                         "flags=UpdateFlag.EXIST overwrites the oldest")
            raise make_error(-ret, f"push to {e.label} failed")

    def _take(self, fn: Any, op: str) -> Any:
        e = self._check_kind(f"{op}()", (MapType.QUEUE, MapType.STACK))
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
        e = self._check_kind("contains()", (MapType.BLOOM_FILTER,))
        ret = lib.bpf_map_lookup_elem(e.fd, ffi.NULL, e.value.encode(value))
        if ret == 0:
            return True
        if ret == -errno.ENOENT:
            return False
        raise make_error(-ret, f"lookup on {e.label} failed")
