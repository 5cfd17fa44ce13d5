"""Ring buffers, user ring buffers and perf buffers: records from and to BPF programs.

* :class:`RingBuffer` consumes one or more ``BPF_MAP_TYPE_RINGBUF`` maps
  (libbpf's ``ring_buffer``), each with its callback; :meth:`RingBuffer.drain`
  takes many records per Python call; :meth:`RingBuffer.events` is an async
  iterator for asyncio.
* :class:`UserRingBuffer` writes records into a ``BPF_MAP_TYPE_USER_RINGBUF``
  map, which a BPF program drains with ``bpf_user_ringbuf_drain()``.
* :class:`PerfBuffer` consumes a ``BPF_MAP_TYPE_PERF_EVENT_ARRAY`` (one
  buffer per CPU), with sample and lost-sample callbacks.

What a callback receives (``record=`` of the constructor and of ``add()``):

``None`` (default)
    a read-only ``memoryview`` of the record, valid **only during the call**:
    it is released when the callback returns (use after that raises
    ``ValueError``). Copy what you keep (``bytes(view)``). (It is a view of
    a copy of the record: a slice or export kept by mistake keeps that
    record's own bytes alive and never shows another record or crashes.)
``bytes``
    a ``bytes`` copy, yours to keep.
a ctypes type (``Structure``, ``Union``, array, simple type)
    ``type.from_buffer_copy(record)``; the record must be at least its size
    (extra bytes are ignored: perf buffers pad samples so that, with their
    4-byte size, they fill whole 8-byte words).
a ``str``
    a type of the BPF object's BTF, e.g. ``"struct event"`` or ``"event"``
    (ring buffer maps cannot carry a value type: the kernel wants their
    value size to be 0, so the record type is named); decoded as map values
    are (a ctypes record class built from the BTF, ints, lists...).
any other callable
    called with a ``bytes`` copy; what it returns is passed on.

Callbacks and errors: a callback that returns a true value (a non-zero int)
stops consumption after that record; ``poll()`` returns what was consumed
so far and the rest waits for the next call. An exception raised in a
callback stops consumption too, and ``poll()`` re-raises it with its
traceback once libbpf has returned: nothing is printed or swallowed
(``KeyboardInterrupt`` included). Records already taken from the kernel but
not handed over yet are kept and handed over first by the next call; the
others stay in the kernel buffers. Nothing is lost, nothing comes twice.

Speed: ``RingBuffer.poll()``/``consume()`` take records from the rings in
batches copied in C and call the callbacks from a C loop (``deliver`` of
libbpf_py/_speedups.c), so a record costs little more than the callback's own
Python call; ``consume_n()`` and ``Ring.consume()`` go through libbpf one
record at a time.

Threads: libbpf's wait happens in Python on an ``epoll`` object that holds
libbpf's epoll fd and a private ``eventfd``; the GIL is released while
waiting, and SIGINT raises ``KeyboardInterrupt`` from ``poll()`` at once
(in the main thread). The C consumption runs under a lock, one thread at a
time, and the libbpf object is only freed once no call uses it: ``close()``
(of the buffer, from any thread, even from inside a callback) wakes every
waiting poller, which then raises :class:`~libbpf_py.errors.ClosedError`;
a poller whose BPF object (or standalone map) was closed notices within
0.2 s and raises ``ClosedError`` as well. The buffers hold duplicates of
the map fds, so libbpf never sees a closed or reused fd.
"""

from __future__ import annotations

import collections
import ctypes
import errno
import os
import select
import threading
import time
from typing import (
    Any,
    AsyncIterator,
    Callable,
    Deque,
    Iterator,
    List,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
    Union,
    overload,
)

from . import _validate
from ._binding import deliver, ffi, fnptr, lib
from ._codec import btf_codec
from ._props import ReadOnlyIntProperty, int_property
from .enums import MapType
from .errors import ClosedError, LibbpfError, check, make_error

__all__ = ["Batch", "PerfBuffer", "Reservation", "Ring", "RingBuffer", "UserRingBuffer"]

#: what ``record=`` may be: None, bytes, a ctypes type, a BTF type name, a callable
RecordSpec = Any
Callback = Callable[..., Any]

_WAIT_SLICE_S = 0.2  # how often a waiting poller checks that its maps are still open
_DEFAULT_MAX_RECORDS = 65536
_CALLBACK_BATCH = 4096  # records per C drain when consume()/poll() feed callbacks
_CALLBACK_BYTES = 256 << 10  # ... and bytes (plus the largest ring: the batch's memory)
_DEFAULT_MAX_BYTES = 8 << 20
_U32_MAX = (1 << 32) - 1


class ReserveTimeoutError(LibbpfError, TimeoutError):
    """UserRingBuffer.reserve() found no space before its timeout (ETIMEDOUT)."""


# -- records ---------------------------------------------------------------------------------


def _map_label(m: Any) -> str:
    try:
        return repr(m.name)
    except Exception:
        return "(closed map)"


def _btf_decoder(m: Any, type_name: str) -> Callable[[bytes], Any]:
    """A decoder for the BTF type ``type_name`` of the map's BTF (its object's)."""
    owner = getattr(m, "_owner", None)
    owned = None
    if owner is not None:  # an object's map: the object's BTF (ring maps have no btf_id)
        btf = lib.bpf_object__btf(owner._check_open())
    else:
        info = m.info()
        btf = lib.btf__load_from_kernel_by_id(info.btf_id) if info.btf_id else ffi.NULL
        owned = btf
    if btf == ffi.NULL:
        raise ValueError(f"map {_map_label(m)} has no BTF: record={type_name!r} cannot be "
                         "resolved; pass a ctypes type or a callable")
    try:
        kind_word, _, bare = type_name.strip().partition(" ")
        kinds = {"struct": [lib.BTF_KIND_STRUCT], "union": [lib.BTF_KIND_UNION],
                 "enum": [lib.BTF_KIND_ENUM, lib.BTF_KIND_ENUM64]}
        if bare and kind_word in kinds:
            candidates, name = kinds[kind_word], bare.strip()
        else:
            candidates = [lib.BTF_KIND_TYPEDEF, lib.BTF_KIND_STRUCT, lib.BTF_KIND_UNION,
                          lib.BTF_KIND_INT, lib.BTF_KIND_ENUM, lib.BTF_KIND_FLOAT]
            name = type_name.strip()
        tid = -1
        for kind in candidates:
            tid = int(lib.btf__find_by_name_kind(btf, name.encode(), kind))
            if tid > 0:
                break
        if tid <= 0:
            raise ValueError(f"the BTF of map {_map_label(m)} has no type {type_name!r} "
                             "(clang only emits types the BPF code uses)")
        size = int(lib.btf__resolve_size(btf, tid))
        codec = btf_codec(btf, tid, size, f"record {type_name!r}", m.name) if size > 0 else None
        if codec is None:
            raise ValueError(f"cannot decode records as {type_name!r}: its BTF type has no "
                             "Python form")
    finally:
        if owned is not None:
            lib.btf__free(owned)
    from_bytes = codec.from_bytes

    def decode(data: bytes) -> Any:
        if len(data) < size:
            raise ValueError(f"a record of {len(data)} bytes from map {_map_label(m)} is "
                             f"too short for {type_name!r} ({size} bytes)")
        return from_bytes(data[:size] if len(data) > size else data)

    return decode


def _ctypes_decoder(ctype: Any, label: str) -> Callable[[bytes], Any]:
    size = ctypes.sizeof(ctype)
    copy = ctype.from_buffer_copy

    def decode(data: bytes) -> Any:
        if len(data) < size:
            raise ValueError(f"a record of {len(data)} bytes from map {label} is too short "
                             f"for {ctype.__name__} ({size} bytes)")
        return copy(data)

    return decode


def _is_ctype(obj: Any) -> bool:
    return isinstance(obj, type) and issubclass(
        obj, (ctypes.Structure, ctypes.Union, ctypes.Array, ctypes._SimpleCData))


def _decoder(record: RecordSpec, m: Any) -> Optional[Callable[[bytes], Any]]:
    """None (memoryview mode) or a function bytes -> record."""
    if record is None:
        return None
    if record is bytes:
        return _identity
    if isinstance(record, str):
        return _btf_decoder(m, record)
    if _is_ctype(record):
        return _ctypes_decoder(record, _map_label(m))
    if callable(record):
        return record  # type: ignore[no-any-return]
    raise TypeError("record= must be None, bytes, a ctypes type, a BTF type name or a "
                    f"callable, not {type(record).__name__}")


def _identity(data: bytes) -> bytes:
    return data


def _check_callback(callback: Optional[Callback], what: str) -> None:
    if callback is not None and not callable(callback):
        raise TypeError(f"{what} must be callable, not {type(callback).__name__}")


def _map_fd(m: Any, want: MapType, cls: str) -> int:
    """A duplicate of the fd of Map ``m``, after checking its type."""
    from .map import Map

    if not isinstance(m, Map):
        raise TypeError(f"{cls} needs a libbpf_py Map, not {type(m).__name__}")
    mtype = m.type
    if mtype != want:
        raise ValueError(f"{cls} needs a {want.name} map; map {_map_label(m)} is "
                         f"{mtype.name}")
    return os.dup(m.fd)


def _timeout_s(timeout_ms: int) -> Optional[float]:
    if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, int):
        raise TypeError(f"timeout_ms must be an int, not {type(timeout_ms).__name__}")
    if timeout_ms < -1:
        raise ValueError("timeout_ms must be >= 0, or -1 to wait forever")
    return None if timeout_ms == -1 else timeout_ms / 1000.0


class _Status:
    """What the callbacks of one consume call left: an exception, a stop request."""

    __slots__ = ("error", "stopped")

    def __init__(self) -> None:
        self.error: Optional[BaseException] = None
        self.stopped = False


_buffer = ffi.buffer


def _lend(data: Any, size: int) -> memoryview:
    """A read-only view of a private copy of a record, for a callback.

    The callback's view is released after the call; a slice of it kept by
    mistake holds its own copy, so it never shows another record's bytes.
    """
    return memoryview(_buffer(data, size)[:])




class _Sink:
    """One ring's callback, as the C trampoline finds it through its handle.

    The hot path of the callback API: kept flat on purpose.
    """

    __slots__ = ("callback", "decode", "label", "status")

    def __init__(self, callback: Optional[Callback], decode: Optional[Callable[[bytes], Any]],
                 label: str, status: _Status) -> None:
        self.callback = callback if callback is not None else self._no_callback
        self.decode = decode
        self.label = label
        self.status = status

    def _no_callback(self, record: Any) -> Any:
        raise TypeError(f"ring {self.label} has no callback: give one to RingBuffer() / "
                        "add(), or use drain() or events()")

    def deliver(self, data: Any, size: int) -> int:
        try:
            decode = self.decode
            if decode is None:
                view = _lend(data, size)
                ret = self.callback(view)
                try:
                    view.release()
                except BufferError:  # the callback exported it; the memory is ours
                    pass
            else:
                ret = self.callback(decode(_buffer(data, size)[:]))
        except BaseException as exc:
            self.status.error = exc
            return -1
        if ret:
            self.status.stopped = True
            return -1
        return 0


@ffi.def_extern()  # type: ignore[untyped-decorator]
def libbpf_py_ring_buffer_sample_cb(ctx: Any, data: Any, size: int) -> int:
    try:
        sink: _Sink = ffi.from_handle(ctx)
        return sink.deliver(data, size)
    except BaseException:  # deliver() keeps every exception; this is a last guard
        return -1


# -- waiting ---------------------------------------------------------------------------------


class _Waiter:
    """An epoll of one fd (libbpf's epoll fd, or a map fd) plus an eventfd for close().

    Never adds a foreign fd to libbpf's own epoll (libbpf reads its epoll data
    as ring indexes): libbpf's epoll fd is itself watched, nested.
    """

    def __init__(self, fd: int, events: int = select.EPOLLIN) -> None:
        self.wake_fd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        try:
            self.epoll = select.epoll()
            self.epoll.register(fd, events)
            self.epoll.register(self.wake_fd, select.EPOLLIN)
        except BaseException:
            os.close(self.wake_fd)
            raise

    def wait(self, timeout_s: Optional[float]) -> bool:
        """Wait up to ``timeout_s`` (None: one slice); True if something is ready."""
        return bool(self.epoll.poll(timeout_s if timeout_s is not None else -1, 2))

    def wake(self) -> None:
        try:
            os.eventfd_write(self.wake_fd, 1)
        except OSError:
            pass

    def close(self) -> None:
        self.epoll.close()
        os.close(self.wake_fd)


class _Guard:
    """Serializes the C calls on one libbpf object; refuses re-entry from a callback."""

    __slots__ = ("lock", "owner")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.owner = 0

    def __enter__(self) -> None:
        me = threading.get_ident()
        if self.owner == me:
            raise RuntimeError("a callback of this buffer cannot poll or consume it "
                               "(return a true value to stop consumption instead)")
        self.lock.acquire()
        self.owner = me

    def __exit__(self, *exc: object) -> None:
        self.owner = 0
        self.lock.release()


class _State:
    """Everything a live buffer owns; freed when the last user lets go of it.

    ``close()`` only drops the buffer's reference: a thread inside
    ``poll()`` holds its own, so libbpf's object is freed after that call
    returns, never under it.
    """

    def __init__(self, maps: List[Any]) -> None:
        self.ptr: Any = None
        self.fds: List[int] = []
        self.maps = maps      # the Map objects: closed maps make the buffer unusable
        self.keep: List[Any] = []
        self.guard = _Guard()
        self.waiter: Optional[_Waiter] = None
        self.free_fn: Any = None

    def maps_closed(self) -> bool:
        return any(m.closed for m in self.maps)

    def __del__(self) -> None:
        try:
            ptr, self.ptr = self.ptr, None
            if ptr is not None and self.free_fn is not None:
                self.free_fn(ptr)
            if self.waiter is not None:
                self.waiter.close()
                self.waiter = None
            for fd in self.fds:
                try:
                    os.close(fd)
                except OSError:
                    pass
            self.fds = []
        except Exception:  # interpreter shutdown: the OS takes the rest back
            pass


_B = TypeVar("_B", bound="_Buffer")


class _Buffer:
    """Shared life cycle of the three buffer kinds."""

    _kind = "buffer"

    def __init__(self) -> None:
        self._state: Optional[_State] = None

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called or a map of the buffer was closed."""
        st = self._state
        return st is None or st.maps_closed()

    def _live(self) -> _State:
        st = self._state
        if st is None:
            raise ClosedError(f"{self._kind} is closed")
        if st.maps_closed():
            self.close()
            raise ClosedError(f"{self._kind}: its map (or the BPF object that owns it) "
                              "was closed")
        return st

    def close(self) -> None:
        """Free the buffer (idempotent, any thread): waiting pollers raise ClosedError."""
        st, self._state = self._state, None
        if st is not None and st.waiter is not None:
            st.waiter.wake()

    def __enter__(self: _B) -> _B:
        self._live()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def _poll(self, consume: Callable[[], int], timeout_ms: int) -> int:
        """``poll()`` of the consuming buffers: consume; if nothing came, wait, consume."""
        n = consume()
        if n or timeout_ms == 0:
            _timeout_s(timeout_ms)
            return n
        if not self._wait(self._live(), timeout_ms):
            return 0
        return consume()

    def _wait(self, st: _State, timeout_ms: int) -> bool:
        """Wait for data; True if some may be there, False on timeout; ClosedError."""
        timeout_s = _timeout_s(timeout_ms)
        waiter = st.waiter
        assert waiter is not None
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            left = _WAIT_SLICE_S if deadline is None else min(_WAIT_SLICE_S, max(
                0.0, deadline - time.monotonic()))
            ready = waiter.wait(left)
            if self._state is not st:
                raise ClosedError(f"{self._kind} was closed while polling")
            if st.maps_closed():
                self.close()
                raise ClosedError(f"{self._kind}: its map (or the BPF object that owns "
                                  "it) was closed while polling")
            if ready:
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False


# -- ring buffers ----------------------------------------------------------------------------


class Batch(Sequence[bytes]):
    """Records taken by one :meth:`RingBuffer.drain` call, in one piece.

    ``data`` holds the records back to back (no padding, no headers);
    ``offsets`` is a ``memoryview`` of ``count + 1`` native ``uint32``
    (format ``"I"``): record ``i`` is ``data[offsets[i]:offsets[i + 1]]``;
    ``rings`` (``count`` ``uint32``) gives the index of the ring (in
    :attr:`RingBuffer.rings` order) each record came from. Records of each
    ring keep their order. ``batch[i]`` is record ``i`` as ``bytes``;
    fixed-size records can also be read in place, e.g.
    ``numpy.frombuffer(batch.data, dtype)``.
    """

    __slots__ = ("data", "offsets", "rings")

    def __init__(self, data: bytes, offsets: memoryview, rings: memoryview) -> None:
        self.data = data
        self.offsets = offsets
        self.rings = rings

    def __len__(self) -> int:
        return len(self.rings)

    @overload
    def __getitem__(self, index: int) -> bytes: ...

    @overload
    def __getitem__(self, index: slice) -> List[bytes]: ...

    def __getitem__(self, index: Union[int, slice]) -> Union[bytes, List[bytes]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError("batch index out of range")
        return self.data[self.offsets[index]:self.offsets[index + 1]]

    def __iter__(self) -> Iterator[bytes]:
        data, offs = self.data, self.offsets
        for i in range(len(self)):
            yield data[offs[i]:offs[i + 1]]

    def __repr__(self) -> str:
        return f"<Batch of {len(self)} records, {len(self.data)} bytes>"


_EMPTY_U32 = memoryview(b"").cast("I")


def _ring_state(name: str, doc: str) -> ReadOnlyIntProperty:
    """A read-only ``int`` of a :class:`Ring`'s state: ``lib.ring__<name>`` of the ring."""
    fn = f"ring__{name}"

    def get(ring: Ring) -> int:
        return ring._read(getattr(lib, fn))

    return int_property(get, doc=doc)


class Ring:
    """One ring of a :class:`RingBuffer` (``struct ring``, libbpf >= 1.3 for its state)."""

    __slots__ = ("_buffer", "index", "map", "name")

    def __init__(self, buffer: RingBuffer, index: int, m: Any) -> None:
        self._buffer = buffer
        self.index = index
        self.map = m
        self.name = m.name

    def __repr__(self) -> str:
        return f"<Ring {self.index} of map {self.name!r}>"

    def _ring(self, st: _State) -> Any:
        ptr = lib.ring_buffer__ring(st.ptr, self.index)  # LIBBPF_1.3.0
        if ptr == ffi.NULL:
            raise make_error(ffi.errno or errno.ENOENT, f"ring_buffer__ring({self.index})")
        return ptr

    def _read(self, fn: Any) -> int:
        st = self._buffer._live()
        if st.guard.owner == threading.get_ident():  # from a callback: already guarded
            return int(fn(self._ring(st)))
        with st.guard:
            return int(fn(self._ring(st)))

    size = _ring_state(
        "size", "The ring's data size in bytes (``ring__size``, libbpf >= 1.3).")
    avail_data_size = _ring_state(
        "avail_data_size", "Bytes written by the producer and not consumed yet (libbpf >= 1.3).")
    producer_pos = _ring_state(
        "producer_pos", "The producer position (``ring__producer_pos``, libbpf >= 1.3).")
    consumer_pos = _ring_state(
        "consumer_pos", "The consumer position (``ring__consumer_pos``, libbpf >= 1.3).")
    map_fd = _ring_state(
        "map_fd", "The fd libbpf uses for the ring (the buffer's own duplicate; libbpf >= 1.3).")

    def consume(self) -> int:
        """Consume this ring only (``ring__consume``, libbpf >= 1.3); records handled."""
        return self._buffer._consume_with(lambda st: lib.ring__consume(self._ring(st)),
                                          "ring__consume")

    def consume_n(self, n: int) -> int:
        """Consume at most ``n`` records of this ring (``ring__consume_n``, libbpf >= 1.5)."""
        fn = lib.ring__consume_n
        n = _count(n)
        return self._buffer._consume_with(lambda st: fn(self._ring(st), n), "ring__consume_n")


def _count(n: int) -> int:
    return _validate.check_int(n, "n", 64)  # a size_t


class RingBuffer(_Buffer):
    """Consumer of BPF ring buffer maps (libbpf's ``ring_buffer``).

    ``RingBuffer(map, callback, record=None)``; more rings with :meth:`add`.
    Each ring's callback receives each record (see the module documentation
    for ``record=``). :meth:`poll` waits and consumes, :meth:`consume` does
    not wait, :meth:`drain` returns many records at once without a Python
    call per record, :meth:`events` is an async iterator.
    """

    _kind = "ring buffer"

    def __init__(self, map: Any, callback: Optional[Callback] = None, *,
                 record: RecordSpec = None) -> None:
        super().__init__()
        _check_callback(callback, "callback")
        st = _State([])
        st.free_fn = lib.ring_buffer__free
        self._status = _Status()
        self._batch = ffi.new("struct libbpf_py_batch *")
        st.keep.append(self._batch)
        self._batch_caps = (0, 0)  # (records, bytes) the batch arrays hold
        self._max_ring = 0
        self._batch_arrays: Tuple[Any, ...] = ()
        self._rings: List[Ring] = []
        self._sinks: List[_Sink] = []
        self._delivery: List[Tuple[Callback, int, Any]] = []  # the sinks, as deliver() takes them
        self._pending: Optional[Tuple[Any, memoryview, memoryview, int]] = None
        fd = _map_fd(map, MapType.RINGBUF, "RingBuffer")
        st.fds.append(fd)
        ctx, sink = self._ring_ctx(st, map, callback, record, 0)
        sample = fnptr("libbpf_py_ring_sample", "ring_buffer_sample_fn")
        ptr = lib.ring_buffer__new(fd, sample, ctx, ffi.NULL)
        if ptr == ffi.NULL:
            raise make_error(ffi.errno or errno.EINVAL,
                             f"ring_buffer__new(map {_map_label(map)})")
        st.ptr = ptr
        st.maps.append(map)
        st.waiter = _Waiter(int(lib.ring_buffer__epoll_fd(ptr)))
        self._add_sink(sink)
        self._rings.append(Ring(self, 0, map))
        self._max_ring = max(self._max_ring, int(map.max_entries))
        self._state = st

    def _add_sink(self, sink: _Sink) -> None:
        decode = sink.decode
        mode = 0 if decode is None else 1 if decode is _identity else 2  # view / bytes / decode
        self._sinks.append(sink)
        self._delivery.append((sink.callback, mode, decode))

    def _ring_ctx(self, st: _State, m: Any, callback: Optional[Callback], record: RecordSpec,
                  index: int) -> Tuple[Any, _Sink]:
        sink = _Sink(callback, _decoder(record, m), _map_label(m), self._status)
        handle = ffi.new_handle(sink)
        ctx = ffi.new("struct libbpf_py_ring_ctx *")
        ctx.handle = handle
        ctx.batch = self._batch
        ctx.ring = index
        st.keep.extend((handle, ctx))
        return ctx, sink

    def add(self, map: Any, callback: Optional[Callback] = None, *,
            record: RecordSpec = None) -> Ring:
        """Add another ring buffer map with its callback (``ring_buffer__add``)."""
        _check_callback(callback, "callback")
        st = self._live()
        with st.guard:
            fd = _map_fd(map, MapType.RINGBUF, "RingBuffer.add")
            try:
                index = len(self._rings)
                ctx, sink = self._ring_ctx(st, map, callback, record, index)
                check(lib.ring_buffer__add(st.ptr, fd, fnptr(
                    "libbpf_py_ring_sample", "ring_buffer_sample_fn"), ctx),
                      f"ring_buffer__add(map {_map_label(map)})")
            except BaseException:
                os.close(fd)
                raise
            st.fds.append(fd)
            st.maps.append(map)
            self._add_sink(sink)
            ring = Ring(self, index, map)
            self._rings.append(ring)
            self._max_ring = max(self._max_ring, int(map.max_entries))
            self._batch_caps = (0, 0)  # a bigger ring may need a bigger batch
        return ring

    @property
    def rings(self) -> List[Ring]:
        """The rings, in the order they were added (their index in :class:`Batch`)."""
        self._live()
        return list(self._rings)

    def fileno(self) -> int:
        """libbpf's epoll fd (``ring_buffer__epoll_fd``): readable when a ring has data."""
        return int(lib.ring_buffer__epoll_fd(self._live().ptr))

    def __repr__(self) -> str:
        if self._state is None:
            return "<RingBuffer closed>"
        return f"<RingBuffer of {[r.name for r in self._rings]}>"

    # -- consuming --------------------------------------------------------------------

    def _deliver(self, data: bytes, offs: memoryview, rings: memoryview, i: int,
                 limit: Optional[int] = None) -> int:
        """Hand records ``i``... of a batch to their callbacks (under the guard).

        The loop runs in C (``deliver`` of libbpf_py/_speedups.c), one Python
        call per record: the callback's own. Returns how many were handed over.
        On a stop or an exception the records not handed over yet are kept in
        ``_pending``, for the next call; the exception propagates.
        """
        n = len(rings)
        end = n if limit is None else min(n, i + limit)
        start = i
        pos: List[Any] = [i, False]
        try:
            deliver(self._delivery, data, offs, rings if len(self._delivery) > 1 else None,
                    i, end, pos)
        finally:  # also on an exception: the record that raised counts as consumed
            i = pos[0]
            if pos[1]:
                # A slice or export of a record's view outlived its callback: it keeps
                # this batch memory alive and must go on showing its own record, so
                # the next take gets fresh memory instead of overwriting it.
                self._batch_caps = (0, 0)
            if i >= n:
                self._pending = None
            elif isinstance(data, bytes):
                self._pending = (data, offs, rings, i)
            else:  # views of the batch memory, which the next take reuses: keep a copy
                self._pending = (bytes(data), memoryview(bytes(offs)).cast("I"),
                                 memoryview(bytes(rings)).cast("I"), i)
        return i - start

    def _flush_pending(self, limit: Optional[int] = None) -> Tuple[int, bool]:
        """Deliver records kept by an earlier stop; (count, whether all went)."""
        pending = self._pending
        if pending is None:
            return 0, True
        data, offs, rings, i = pending
        count = self._deliver(data, offs, rings, i, limit)
        return count, self._pending is None

    def _take(self, st: _State, max_records: int, max_bytes: int
              ) -> Tuple[Any, memoryview, memoryview, bool]:
        """One batch drain in C (under the guard): data, offsets, rings, full.

        They are views of the batch memory, which the next take overwrites:
        ``consume()`` hands them to ``deliver()`` as they are (no copy, no fresh
        256 KiB allocation per batch), :meth:`drain` copies them into its Batch.
        The cffi buffers hold the owning arrays, so they stay alive when the batch
        grows; ``deliver()`` exports ``data`` to every record view, and a view that
        outlives its callback makes ``_deliver`` retire this memory (not reuse it).
        """
        self._ensure_batch(max_records, max_bytes)
        b = self._batch
        b.max_records, b.max_bytes = max_records, max_bytes
        b.count = b.len = b.full = 0
        b.offsets[0] = 0
        b.active = 1
        try:
            ret = int(lib.ring_buffer__consume(st.ptr))
        finally:
            b.active = 0
        count, length, full = int(b.count), int(b.len), bool(b.full)
        # Buffers of the owning arrays (not of b.data, a borrowed pointer): a view or
        # slice of a record keeps its memory alive even after the batch is replaced
        # or the buffer closed and freed.
        data_arr, offs_arr, rings_arr = self._batch_arrays
        data = _buffer(data_arr, length)
        offsets = memoryview(_buffer(offs_arr, 4 * (count + 1))).cast("I")
        rings = memoryview(_buffer(rings_arr, 4 * count)).cast("I") if count else _EMPTY_U32
        if ret < 0 and not full:
            raise make_error(-ret, "ring_buffer__consume")
        return data, offsets, rings, full

    def _consume_with(self, fn: Callable[[_State], int], what: str,
                      limit: Optional[int] = None) -> int:
        """Records one at a time through libbpf (consume_n, Ring.consume)."""
        st = self._live()
        with st.guard:
            flushed, complete = self._flush_pending(limit)
            if not complete or (limit is not None and flushed >= limit):
                return flushed
            status, batch = self._status, self._batch
            status.error, status.stopped = None, False
            batch.active = 0
            batch.delivered = 0
            ret = int(fn(st))
            delivered = int(batch.delivered)
        err = status.error
        if err is not None:
            status.error = None
            raise err
        if ret < 0 and not status.stopped:
            raise make_error(-ret, what)
        return flushed + delivered

    def consume(self) -> int:
        """Consume every available record of every ring, without waiting.

        Returns the number of records handed to callbacks. Records are
        taken from the rings in batches (copied in C) and handed to the
        callbacks from Python, which costs far less than a C-to-Python call
        per record; records taken but not handed over because a callback
        stopped or raised are kept and handed over first by the next call.
        """
        st = self._live()
        with st.guard:
            total, complete = self._flush_pending()
            while complete:
                data, offs, rings, full = self._take(st, _CALLBACK_BATCH, _CALLBACK_BYTES)
                if not len(rings):
                    break
                total += self._deliver(data, offs, rings, 0)
                complete = self._pending is None
                if not full:
                    break
        return total

    def consume_n(self, n: int) -> int:
        """Consume at most ``n`` records (``ring_buffer__consume_n``, libbpf >= 1.5)."""
        fn = lib.ring_buffer__consume_n
        n = _count(n)
        return self._consume_with(lambda st: fn(st.ptr, n), "ring_buffer__consume_n", n)

    def poll(self, timeout_ms: int = -1) -> int:
        """Wait up to ``timeout_ms`` (-1: forever) for records, then consume them.

        Returns the number of records handed to callbacks (0 on timeout).
        Raises what a callback raised, ClosedError if the buffer is closed
        meanwhile, KeyboardInterrupt on SIGINT.
        """
        return self._poll(self.consume, timeout_ms)

    # -- batches ----------------------------------------------------------------------

    def _ensure_batch(self, max_records: int, max_bytes: int) -> None:
        recs, nbytes = self._batch_caps
        want_bytes = max_bytes + self._max_ring
        if recs >= max_records and nbytes >= want_bytes:
            return
        recs, nbytes = max(recs, max_records), max(nbytes, want_bytes)
        data = ffi.new("char[]", nbytes)
        offsets = ffi.new("__u32[]", recs + 1)
        rings = ffi.new("__u32[]", recs)
        b = self._batch
        b.data, b.offsets, b.rings = data, offsets, rings
        self._batch_arrays = (data, offsets, rings)
        self._batch_caps = (recs, nbytes)

    def _drain_once(self, max_records: int, max_bytes: int) -> Batch:
        st = self._live()
        with st.guard:
            pending = self._pending
            if pending is not None:  # records a stopped callback left: they come first
                self._pending = None
                data, offs, rings, i = pending
                return Batch(data, offs[i:], rings[i:])
            data, offs, rings, _ = self._take(st, max_records, max_bytes)
            # the batch memory is reused by the next take: the Batch gets copies
            return Batch(data[:], memoryview(bytes(offs)).cast("I"),
                         memoryview(bytes(rings)).cast("I"))

    def drain(self, timeout_ms: int = 0, *, max_records: int = _DEFAULT_MAX_RECORDS,
              max_bytes: int = _DEFAULT_MAX_BYTES) -> Batch:
        """Take up to ``max_records`` records / about ``max_bytes`` bytes in one call.

        The records are copied in C into one buffer (see :class:`Batch`);
        no callback runs. Waits up to ``timeout_ms`` when nothing is there
        (0, the default: do not wait; -1: forever). A batch may end one
        record past ``max_bytes``; nothing is dropped: what does not fit
        stays in the ring for the next call.
        """
        max_records, max_bytes = _count(max_records), _count(max_bytes)
        if max_records < 1 or max_bytes < 1 or max_bytes > (1 << 31):
            raise ValueError("max_records must be >= 1 and max_bytes in 1..2**31")
        if max_bytes + self._max_ring > _U32_MAX:
            raise ValueError("max_bytes plus the largest ring's size must fit in 32 bits "
                             "(the batch offsets are uint32)")
        batch = self._drain_once(max_records, max_bytes)
        if len(batch) or timeout_ms == 0:
            _timeout_s(timeout_ms)
            return batch
        if not self._wait(self._live(), timeout_ms):
            return batch
        return self._drain_once(max_records, max_bytes)

    async def events(self, *, with_ring: bool = False,
                     max_records: int = _DEFAULT_MAX_RECORDS) -> AsyncIterator[Any]:
        """``async for record in rb.events()``: every record, decoded as its ring says.

        Records are copies (``bytes`` unless the ring has a ``record=``
        decoder), yours to keep; callbacks are not called. With
        ``with_ring=True`` each item is ``(ring_index, record)``. Driven by
        ``loop.add_reader()`` on the epoll fd, no thread. Ends when the
        buffer is closed (from any thread).
        """
        import asyncio  # here, not at module level: it costs 30 ms at import

        loop = asyncio.get_running_loop()
        st = self._live()
        waiter = st.waiter
        assert waiter is not None
        epoll_fd = int(lib.ring_buffer__epoll_fd(st.ptr))
        decoders = [s.decode for s in self._sinks]
        while True:
            if self._state is not st:
                return
            try:
                batch = self._drain_once(max_records, _CALLBACK_BYTES * 4)
            except ClosedError:
                return
            if not len(batch):
                ready = loop.create_future()

                def wake(fut: asyncio.Future[None] = ready) -> None:
                    if not fut.done():
                        fut.set_result(None)

                loop.add_reader(epoll_fd, wake)
                loop.add_reader(waiter.wake_fd, wake)
                try:
                    await ready
                finally:
                    loop.remove_reader(epoll_fd)
                    loop.remove_reader(waiter.wake_fd)
                continue
            if len(decoders) != len(self._sinks):
                decoders = [s.decode for s in self._sinks]
            data, offs, rings = batch.data, batch.offsets, batch.rings
            for i in range(len(rings)):
                ring = rings[i]
                raw = data[offs[i]:offs[i + 1]]
                decode = decoders[ring]
                rec = decode(raw) if decode is not None else raw
                yield (ring, rec) if with_ring else rec


# -- user ring buffers -----------------------------------------------------------------------


class Reservation:
    """Space reserved in a :class:`UserRingBuffer`: fill ``buffer``, then submit.

    ``buffer`` is a writable ``memoryview`` of exactly the reserved size,
    valid until :meth:`submit` or :meth:`discard` (it is released then). As
    a context manager it submits on success and discards on an exception.

    ``buffer`` is a private staging copy that :meth:`submit` copies into the
    ring: a slice of it (or a ctypes object made ``from_buffer``) kept past
    submit or discard writes into that dead copy, never into the ring, whose
    space then belongs to the BPF side or to a later record.
    """

    __slots__ = ("_owner", "_ptr", "_staging", "buffer", "size")

    def __init__(self, owner: UserRingBuffer, ptr: Any, size: int) -> None:
        self._owner = owner
        self._ptr: Any = ptr
        self.size = size
        self._staging = bytearray(size)
        self.buffer = memoryview(self._staging)

    @property
    def done(self) -> bool:
        """True once submitted or discarded."""
        return self._ptr is None

    def submit(self) -> None:
        """Hand the record to the BPF side (``user_ring_buffer__submit``)."""
        self._owner._commit(self, discard=False)

    def discard(self) -> None:
        """Give the space back unused (``user_ring_buffer__discard``)."""
        self._owner._commit(self, discard=True)

    def _finish(self) -> Any:
        ptr, self._ptr = self._ptr, None
        try:
            self.buffer.release()
        except BufferError:
            pass
        return ptr

    def __enter__(self) -> Reservation:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if self._ptr is not None:
            if exc_type is None:
                self.submit()
            else:
                self.discard()

    def __repr__(self) -> str:
        return f"<Reservation of {self.size} bytes{' done' if self.done else ''}>"


class UserRingBuffer(_Buffer):
    """Producer into a ``BPF_MAP_TYPE_USER_RINGBUF`` map (libbpf >= 1.1).

    ``reserve(size)`` / ``submit`` / ``discard``, or ``write(data)``; a
    BPF program takes the records with ``bpf_user_ringbuf_drain()``. Safe
    to use from several threads (a lock serializes reservations).
    ``close()`` discards reservations not yet submitted.
    """

    _kind = "user ring buffer"

    def __init__(self, map: Any) -> None:
        super().__init__()
        new = lib.user_ring_buffer__new  # LIBBPF_1.1.0
        st = _State([])
        st.free_fn = lib.user_ring_buffer__free
        fd = _map_fd(map, MapType.USER_RINGBUF, "UserRingBuffer")
        st.fds.append(fd)
        ptr = new(fd, ffi.NULL)
        if ptr == ffi.NULL:
            raise make_error(ffi.errno or errno.EINVAL,
                             f"user_ring_buffer__new(map {_map_label(map)})")
        st.ptr = ptr
        st.maps.append(map)
        # edge-triggered: woken when the kernel drains, not while any space is free
        st.waiter = _Waiter(fd, select.EPOLLOUT | select.EPOLLET)
        self._pending: set[Reservation] = set()
        self._max_size = int(map.max_entries) - 8
        self._state = st

    def __repr__(self) -> str:
        return "<UserRingBuffer closed>" if self._state is None else "<UserRingBuffer>"

    def _try_reserve(self, st: _State, size: int) -> Optional[Reservation]:
        with st.guard:
            if self._state is not st:
                raise ClosedError(f"{self._kind} was closed")
            ptr = lib.user_ring_buffer__reserve(st.ptr, size)
            err = ffi.errno
            if ptr != ffi.NULL:
                r = Reservation(self, ptr, size)
                self._pending.add(r)  # under the lock: close() discards it if need be
                return r
        if err != errno.ENOSPC:
            raise make_error(err or errno.EINVAL, f"user_ring_buffer__reserve({size})")
        return None

    def reserve(self, size: int, timeout_ms: int = 0) -> Reservation:
        """Reserve ``size`` bytes; wait up to ``timeout_ms`` for space (-1: forever).

        With no space: ``timeout_ms=0`` raises LibbpfError (ENOSPC) at once,
        otherwise :class:`~libbpf_py.events.ReserveTimeoutError` (a ``TimeoutError``) when the
        time is up. Closing the buffer from another thread wakes the wait
        with ClosedError.
        """
        size = _count(size)
        if not 0 < size <= self._max_size:
            raise ValueError(f"size must be in 1..{self._max_size} (the ring's size less "
                             f"its 8-byte record header), not {size}")
        timeout_s = _timeout_s(timeout_ms)
        st = self._live()
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            r = self._try_reserve(st, size)
            if r is not None:
                return r
            if timeout_ms == 0:
                raise make_error(errno.ENOSPC, f"user_ring_buffer__reserve({size})",
                                 "no space: the BPF side has not drained the ring yet "
                                 "(pass timeout_ms= to wait)")
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise ReserveTimeoutError(errno.ETIMEDOUT,
                                          f"no space for {size} bytes within {timeout_ms} ms",
                                          "user_ring_buffer__reserve")
            self._wait(st, -1 if left is None else max(1, int(left * 1000)))

    def _commit(self, r: Reservation, discard: bool) -> None:
        if r._owner is not self:
            raise ValueError("this reservation belongs to another UserRingBuffer")
        st = self._live()
        with st.guard:
            if self._state is not st:
                raise ClosedError(f"{self._kind} was closed (its reservations were discarded)")
            if r._ptr is None:
                raise ValueError("this reservation was already submitted or discarded")
            ptr = r._finish()
            self._pending.discard(r)
            if discard:
                lib.user_ring_buffer__discard(st.ptr, ptr)
            else:
                ffi.memmove(ptr, r._staging, r.size)
                lib.user_ring_buffer__submit(st.ptr, ptr)

    def submit(self, r: Reservation) -> None:
        """Submit a reservation (same as ``r.submit()``)."""
        self._commit(r, discard=False)

    def discard(self, r: Reservation) -> None:
        """Discard a reservation (same as ``r.discard()``)."""
        self._commit(r, discard=True)

    def write(self, data: Any, timeout_ms: int = 0) -> None:
        """Reserve, copy ``data`` (any bytes-like object, a ctypes instance) and submit."""
        view = memoryview(data).cast("B")
        r = self.reserve(view.nbytes, timeout_ms)
        r.buffer[:] = view
        r.submit()

    def close(self) -> None:
        """Discard what is reserved and not submitted, then free (idempotent).

        The discarded reservations' buffers are released: a thread still
        writing into one gets ``ValueError`` (released memoryview), then
        ``ClosedError`` from ``submit()`` / ``reserve()``.
        """
        st = self._state
        if st is None:
            return
        with st.guard:  # no reservation can start or end meanwhile
            if self._state is not st:
                return
            for r in list(getattr(self, "_pending", ())):
                lib.user_ring_buffer__discard(st.ptr, r._finish())
            self._pending.clear()
            self._state = None
        if st.waiter is not None:
            st.waiter.wake()


# -- perf buffers ----------------------------------------------------------------------------


class _PerfSink:
    """The perf buffer's callbacks, found by the C shim through its handle.

    libbpf consumes the record at which a stop is signalled: a record that
    arrives once ``ctx.stop`` is set is kept in ``pending`` (copied) and
    delivered first by the next consume call, so nothing is lost.
    """

    __slots__ = ("ctx", "decode", "lost", "lost_total", "pending", "sample", "status")

    def __init__(self, sample: Optional[Callback], lost: Optional[Callback],
                 decode: Optional[Callable[[bytes], Any]]) -> None:
        self.sample = sample
        self.lost = lost
        self.decode = decode
        self.status = _Status()
        self.lost_total = 0
        self.pending: Deque[Tuple[bool, int, Any]] = collections.deque()
        self.ctx: Any = None

    def _stop(self, exc: Optional[BaseException]) -> None:
        if exc is not None:
            self.status.error = exc
        else:
            self.status.stopped = True
        self.ctx.stop = 1

    def _sample(self, cpu: int, data: Any, size: int) -> None:
        """Call the sample callback; ``data`` is a C pointer (size >= 0) or bytes."""
        try:
            callback = self.sample
            if callback is None:
                return
            if self.decode is None:
                view = _lend(data, size) if size >= 0 else memoryview(data)
                try:
                    ret = callback(cpu, view)
                finally:
                    try:
                        view.release()
                    except BufferError:
                        pass
            else:
                raw = ffi.buffer(data, size)[:] if size >= 0 else data
                ret = callback(cpu, self.decode(raw))
        except BaseException as exc:
            self._stop(exc)
            return
        if ret:
            self._stop(None)

    def _lost(self, cpu: int, count: int) -> None:
        try:
            if self.lost is not None and self.lost(cpu, count):
                self._stop(None)
        except BaseException as exc:
            self._stop(exc)

    def deliver(self, cpu: int, data: Any, size: int) -> None:
        if self.ctx.stop:
            self.pending.append((True, cpu, ffi.buffer(data, size)[:]))
        else:
            self._sample(cpu, data, size)

    def deliver_lost(self, cpu: int, count: int) -> None:
        self.lost_total += count
        if self.ctx.stop:
            self.pending.append((False, cpu, count))
        else:
            self._lost(cpu, count)

    def flush(self) -> int:
        """Deliver the pending records (until a stop); the samples delivered."""
        n = 0
        pending = self.pending
        while pending and not self.ctx.stop:
            is_sample, cpu, payload = pending.popleft()
            if is_sample:
                n += 1
                self._sample(cpu, payload, -1)
            else:
                self._lost(cpu, payload)
        return n


@ffi.def_extern()  # type: ignore[untyped-decorator]
def libbpf_py_perf_buffer_sample_cb(ctx: Any, cpu: int, data: Any, size: int) -> None:
    try:
        sink: _PerfSink = ffi.from_handle(ctx)
        sink.deliver(cpu, data, size)
    except BaseException:  # deliver() keeps every exception; this is a last guard
        pass


@ffi.def_extern()  # type: ignore[untyped-decorator]
def libbpf_py_perf_buffer_lost_cb(ctx: Any, cpu: int, count: int) -> None:
    try:
        sink: _PerfSink = ffi.from_handle(ctx)
        sink.deliver_lost(cpu, count)
    except BaseException:
        pass


class PerfBuffer(_Buffer):
    """Consumer of a ``BPF_MAP_TYPE_PERF_EVENT_ARRAY`` map: one buffer per CPU.

    ``sample(cpu, record)`` gets each record (``record=`` as for
    :class:`RingBuffer`); ``lost(cpu, count)`` gets each report of samples
    the kernel dropped because a buffer was full; :attr:`lost_count` adds
    them up. ``page_cnt`` (a power of two) is each CPU buffer's size in
    pages. A callback that raises or returns a true value stops
    consumption: the records not yet delivered stay in the kernel buffers
    for the next poll.
    """

    _kind = "perf buffer"

    def __init__(self, map: Any, sample: Optional[Callback] = None,
                 lost: Optional[Callback] = None, *, page_cnt: int = 8,
                 record: RecordSpec = None) -> None:
        super().__init__()
        _check_callback(sample, "sample")
        _check_callback(lost, "lost")
        page_cnt = _count(page_cnt)
        if page_cnt < 1 or page_cnt & (page_cnt - 1):
            raise ValueError(f"page_cnt must be a power of two, not {page_cnt}")
        st = _State([])
        st.free_fn = lib.perf_buffer__free
        fd = _map_fd(map, MapType.PERF_EVENT_ARRAY, "PerfBuffer")
        st.fds.append(fd)
        sink = _PerfSink(sample, lost, _decoder(record, map))
        handle = ffi.new_handle(sink)
        ctx = ffi.new("struct libbpf_py_perf_ctx *")
        ctx.handle = handle
        sink.ctx = ctx
        attr = ffi.new("struct perf_event_attr *")
        attr.size = ffi.sizeof("struct perf_event_attr")
        attr.type = lib.PERF_TYPE_SOFTWARE
        attr.config = lib.PERF_COUNT_SW_BPF_OUTPUT
        attr.sample_type = lib.PERF_SAMPLE_RAW
        attr.sample_period = 1
        attr.wakeup_events = 1
        st.keep.extend((handle, ctx, attr))
        ptr = lib.perf_buffer__new_raw(fd, page_cnt, attr, fnptr(
            "libbpf_py_perf_event", "perf_buffer_event_fn"), ctx, ffi.NULL)
        if ptr == ffi.NULL:
            raise make_error(ffi.errno or errno.EINVAL,
                             f"perf_buffer__new_raw(map {_map_label(map)})")
        st.ptr = ptr
        st.maps.append(map)
        st.waiter = _Waiter(int(lib.perf_buffer__epoll_fd(ptr)))
        self._sink = sink
        self._ctx = ctx
        self.page_cnt = page_cnt
        self._state = st

    def __repr__(self) -> str:
        return "<PerfBuffer closed>" if self._state is None else \
            f"<PerfBuffer of {self.buffer_count} buffers, {self.page_cnt} pages each>"

    @property
    def lost_count(self) -> int:
        """Samples the kernel reported lost so far (all CPUs)."""
        return self._sink.lost_total

    @property
    def buffer_count(self) -> int:
        """Number of per-CPU buffers (``perf_buffer__buffer_cnt``)."""
        return int(lib.perf_buffer__buffer_cnt(self._live().ptr))

    def buffer_fd(self, index: int) -> int:
        """The perf event fd of buffer ``index`` (``perf_buffer__buffer_fd``)."""
        st = self._live()
        return check(int(lib.perf_buffer__buffer_fd(st.ptr, self._index(st, index))),
                     f"perf_buffer__buffer_fd({index})")

    def fileno(self) -> int:
        """libbpf's epoll fd (``perf_buffer__epoll_fd``)."""
        return int(lib.perf_buffer__epoll_fd(self._live().ptr))

    def _index(self, st: _State, index: int) -> int:
        index = _count(index)
        if index >= int(lib.perf_buffer__buffer_cnt(st.ptr)):
            raise IndexError(f"perf buffer index {index} out of range")
        return index

    def _consume_with(self, fn: Callable[[_State], int], what: str) -> int:
        st = self._live()
        sink, ctx = self._sink, self._ctx
        with st.guard:
            sink.status.error, sink.status.stopped = None, False
            ctx.stop = 0
            ctx.samples = 0
            flushed = sink.flush()
            ret = 0 if ctx.stop else int(fn(st))
            ctx.stop = 0
            samples = flushed + int(ctx.samples)
        err = sink.status.error
        if err is not None:
            sink.status.error = None
            raise err
        if ret < 0:
            raise make_error(-ret, what)
        return samples

    def consume(self) -> int:
        """Read every buffer without waiting; returns the samples delivered."""
        return self._consume_with(lambda st: lib.perf_buffer__consume(st.ptr),
                                  "perf_buffer__consume")

    def consume_buffer(self, index: int) -> int:
        """Read per-CPU buffer ``index`` only (``perf_buffer__consume_buffer``)."""
        return self._consume_with(
            lambda st: lib.perf_buffer__consume_buffer(st.ptr, self._index(st, index)),
            "perf_buffer__consume_buffer")

    def poll(self, timeout_ms: int = -1) -> int:
        """Wait up to ``timeout_ms`` (-1: forever) for samples, then read them all."""
        return self._poll(self.consume, timeout_ms)
