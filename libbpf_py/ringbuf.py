"""Ring buffers: records from BPF programs, through ``BPF_MAP_TYPE_RINGBUF`` maps.

:class:`RingBuffer` consumes one or more ring buffer maps (libbpf's
``ring_buffer``), each with its callback; :meth:`RingBuffer.drain` takes many
records per Python call; :meth:`RingBuffer.events` is an async iterator for
asyncio. (libbpf-rs: ``ringbuf.rs``.) The guide is docs/events.md.

What a callback receives (``record=`` of the constructor and of ``add()``;
:class:`~libbpf_py.perf_buffer.PerfBuffer` takes the same):

``None`` (default)
    a :class:`RecordView` of the record: read-only and bytes-like (the buffer
    protocol, ``len()``, ``view[i]``, ``view[a:b]`` as bytes, ``==``). It is
    read in the ring itself, and moved to the next record when the callback did
    not keep it; an export of it (``memoryview(view)``) reads a copy the view
    makes first, and a view kept past its call reads that copy: never another
    record, never ring memory the kernel reuses.
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

Speed: ``RingBuffer.poll()``/``consume()`` read the records in the ring memory
itself and call the callbacks from a C loop (``consume_rings`` of
libbpf_py/_speedups.c), so a record costs little more than the callback's own
Python call; ``consume_n()`` and ``Ring.consume()`` go through libbpf one
record at a time, ``drain()`` copies records out in batches.

Threads: libbpf's wait happens in Python on an ``epoll`` object that holds
libbpf's epoll fd and a private ``eventfd``; the GIL is released while
waiting, and SIGINT raises ``KeyboardInterrupt`` from ``poll()`` at once
(in the main thread). The C consumption runs under a lock, one thread at a
time; so does that of each ring map, whichever RingBuffers of this process
consume it (they share the kernel's consumer position: see ``ConsumeLock`` in
libbpf_py/_buffers.py), and a callback consuming the map it is called from,
through any RingBuffer, raises ``RuntimeError``. The libbpf object is only
freed once no call uses it: ``close()`` (of the buffer, from any thread, even
from inside a callback) wakes every waiting poller, which then raises
:class:`~libbpf_py.errors.ClosedError`;
a poller whose BPF object (or standalone map) was closed notices within
0.2 s and raises ``ClosedError`` as well. The buffers hold duplicates of
the map fds, so libbpf never sees a closed or reused fd.
"""

from __future__ import annotations

import array
import bisect
import functools
import mmap
import os
import struct
from typing import (
    Any,
    AsyncIterator,
    Callable,
    Iterator,
    List,
    Optional,
    Sequence,
    Tuple,
    Union,
    overload,
)

from ._binding import RecordView, call_view, consume_rings, deliver, ffi, fnptr, lib, retry
from ._buffers import (
    _WAIT_SLICE_S,
    BufferBase,
    BufferState,
    Callback,
    RecordSpec,
    Status,
    Waiter,
    check_callback,
    check_size,
    decoder,
    dup_map_fd,
    identity,
    map_label,
    ring_lock,
    wait_seconds,
)
from ._call import check, check_ptr, make_error
from ._props import ReadOnlyIntProperty, int_property
from .enums import MapType
from .errors import ClosedError

__all__ = ["Batch", "RecordView", "Ring", "RingBuffer"]

_DEFAULT_MAX_RECORDS = 65536
_CALLBACK_BATCH = 4096  # records per C drain when consume()/poll() feed callbacks
_CALLBACK_BYTES = 256 << 10  # ... and bytes (plus the largest ring: the batch's memory)
_DEFAULT_MAX_BYTES = 8 << 20
_U32_MAX = (1 << 32) - 1

_buffer = ffi.buffer
_PAGE = mmap.PAGESIZE


def _map_ring(fd: int, size: int, label: str) -> Tuple[mmap.mmap, mmap.mmap, int, int]:
    """The ring's memory, mapped as libbpf maps it, for ``consume_rings`` of
    libbpf_py/_speedups.c (which reads records in place): its consumer page
    (read-write) and its producer page followed by the data, mapped twice (read-only).
    The mmap objects unmap when the buffer's state goes; a C export of them (held
    while records are read) keeps them mapped meanwhile."""
    try:
        consumer = mmap.mmap(fd, _PAGE, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        try:
            data = mmap.mmap(fd, _PAGE + 2 * size, mmap.MAP_SHARED, mmap.PROT_READ,
                             offset=_PAGE)
        except BaseException:
            consumer.close()
            raise
    except OSError as exc:
        raise make_error(exc.errno or 22, f"mmap of ring buffer map {label}") from None
    return consumer, data, _PAGE, size


class _RingStatus(Status):
    """:class:`Status`, and the record libbpf took that no callback got (``kept``).

    Only on libbpf's own path (``consume_n()``, ``Ring.consume()``): a signal's
    exception (KeyboardInterrupt) raised in the Python trampoline before the
    callback was called. libbpf has consumed that record once the trampoline
    returns, so it is kept here, ``(ring index, bytes)``, and handed over first by
    the next call (``RingBuffer._adopt``). One at most: the trampoline then
    returns -1 and libbpf stops. Set in one store, so keeping it twice (a second
    signal during the first keep) keeps it once.
    """

    __slots__ = ("kept",)

    def __init__(self) -> None:
        super().__init__()
        self.kept: Optional[Tuple[int, bytes]] = None


class _Sink:
    """One ring's callback, as the C trampoline finds it through its handle.

    The hot path of the callback API: kept flat on purpose.
    """

    __slots__ = ("callback", "decode", "index", "label", "status")

    def __init__(self, callback: Optional[Callback], decode: Optional[Callable[[bytes], Any]],
                 label: str, status: _RingStatus, index: int) -> None:
        self.callback = callback if callback is not None else self._no_callback
        self.decode = decode
        self.label = label
        self.status = status
        self.index = index

    def _no_callback(self, record: Any) -> Any:
        raise TypeError(f"ring {self.label} has no callback: give one to RingBuffer() / "
                        "add(), or use drain() or events()")

    def deliver(self, data: Any, size: int) -> int:
        # CPython raises a signal's exception as a call into C returns and as a Python
        # function starts. Until ``record`` is set no callback has run: the record is
        # kept for the next call. From then on the callback counts as called (a
        # KeyboardInterrupt as it starts is raised by it) and the record as consumed.
        record = None
        try:
            record = _buffer(data, size)[:]
            decode = self.decode
            if decode is None:
                # a RecordView of a private copy: libbpf consumes the ring memory as
                # soon as this returns, and an export of the view may outlive it
                ret = call_view(self.callback, record)
            else:
                ret = self.callback(decode(record))
        except BaseException as exc:
            status = self.status
            if record is None:
                # (one store after the copy: a second signal at the copy's return
                # leaves this function, and the trampoline keeps the record)
                status.kept = (self.index, _buffer(data, size)[:])
            status.error = exc
            return -1
        if ret:
            self.status.stopped = True
            return -1
        return 0


def _undelivered(ctx: Any, data: Any, size: int, exc: BaseException) -> int:
    """The trampoline's exception (a signal's, before deliver()'s try): keep the record.

    Called through ``retry`` (C): run again from its start should another signal's
    exception cut it short, so each step is safe to do twice."""
    sink: _Sink = ffi.from_handle(ctx)
    status = sink.status
    if status.kept is None:
        status.kept = (sink.index, _buffer(data, size)[:])
    if status.error is None:
        status.error = exc
    return -1


def _undelivered_early(exc_type: Any, exc: BaseException, tb: Any) -> int:
    """cffi's ``onerror`` (through ``retry``): an exception raised as the trampoline
    started, or in its ``except`` (a second signal). The arguments are the trampoline's,
    read in its frame by name: keep them named ``ctx``, ``data`` and ``size``."""
    args = tb.tb_frame.f_locals
    return _undelivered(args["ctx"], args["data"], args["size"], exc)


# (onerror through retry, in C: a Python onerror cut short by a signal's exception as it
# started was printed by cffi, and the record and both exceptions were lost)
@ffi.def_extern(onerror=functools.partial(retry, _undelivered_early))  # type: ignore[untyped-decorator]
def libbpf_py_ring_buffer_sample_cb(ctx: Any, data: Any, size: int) -> int:
    # Called by libbpf (consume_n, Ring.consume) through libbpf_py_ring_sample; an
    # exception that leaves deliver() was raised before any callback ran.
    try:
        sink: _Sink = ffi.from_handle(ctx)
        return sink.deliver(data, size)
    except BaseException as exc:
        return retry(_undelivered, ctx, data, size, exc)  # type: ignore[no-any-return]


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


def _one_record(kept: Tuple[int, bytes]) -> Tuple[bytes, memoryview, memoryview, int]:
    """A kept record (ring index, bytes) as a one-record batch for ``_pending``."""
    index, record = kept
    return (record, memoryview(struct.pack("II", 0, len(record))).cast("I"),
            memoryview(struct.pack("I", index)).cast("I"), 0)


def _split(pending: Tuple[bytes, memoryview, memoryview, int], max_records: int,
           max_bytes: int) -> Tuple[Batch, Optional[Tuple[bytes, memoryview, memoryview, int]]]:
    """The first records of ``pending`` (records ``i``... of a batch) as a Batch of their
    own, at most ``max_records`` and ``max_bytes`` (one record past it at most, as a
    take), and the rest (None if none)."""
    data, offs, rings, i = pending
    n = len(rings)
    start = offs[i]
    end = min(n, i + max_records)
    # the first record end at max_bytes or past it, if one comes before ``end``
    end = bisect.bisect_left(offs, start + max_bytes, i + 1, end)
    stop = offs[end]
    if start:
        offsets = memoryview(array.array("I", [o - start for o in offs[i:end + 1]]))
    else:
        offsets = memoryview(offs[i:end + 1].tobytes()).cast("I")
    batch = Batch(data[start:stop], offsets, memoryview(rings[i:end].tobytes()).cast("I"))
    return batch, (None if end >= n else (data, offs, rings, end))


def _join(first: Tuple[bytes, memoryview, memoryview, int],
          then: Tuple[bytes, memoryview, memoryview, int]
          ) -> Tuple[bytes, memoryview, memoryview, int]:
    """The pending records of ``first``, then those of ``then``, as one pending batch."""
    a, _ = _split(first, _U32_MAX, _U32_MAX)
    b, _ = _split(then, _U32_MAX, _U32_MAX)
    shift = len(a.data)
    offsets = array.array("I", a.offsets)
    offsets.extend(o + shift for o in b.offsets[1:])
    rings = array.array("I", a.rings)
    rings.extend(b.rings)
    return a.data + b.data, memoryview(offsets), memoryview(rings), 0


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

    def _ring(self, st: BufferState) -> Any:
        return check_ptr(lib.ring_buffer__ring(st.ptr, self.index),  # LIBBPF_1.3.0
                         f"ring_buffer__ring({self.index})")

    def _read(self, fn: Any) -> int:
        st = self._buffer._check_open()
        if st.lock.held_here:  # from a callback: the lock is already ours
            return int(fn(self._ring(st)))
        with st.lock:
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
        return self._buffer._consume_with(lambda st, n: lib.ring__consume(self._ring(st)),
                                          "ring__consume")

    def consume_n(self, n: int) -> int:
        """Consume at most ``n`` records of this ring (``ring__consume_n``, libbpf >= 1.5)."""
        fn = lib.ring__consume_n
        n = check_size(n, "n")
        return self._buffer._consume_with(lambda st, left: fn(self._ring(st), left),
                                          "ring__consume_n", n)


class RingBuffer(BufferBase):
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
        check_callback(callback, "callback")
        st = BufferState(lib.ring_buffer__free)
        self._status = _RingStatus()
        self._batch = ffi.new("struct libbpf_py_batch *")
        st.keep.append(self._batch)
        self._batch_caps = (0, 0)  # (records, bytes) the batch arrays hold
        self._max_ring = 0
        self._batch_arrays: Tuple[Any, ...] = ()
        self._rings: List[Ring] = []
        self._sinks: List[_Sink] = []
        self._delivery: List[Tuple[Callback, int, Any]] = []  # the sinks, as deliver() takes them
        self._pending: Optional[Tuple[Any, memoryview, memoryview, int]] = None
        fd = dup_map_fd(map, MapType.RINGBUF, "RingBuffer")
        st.fds.append(fd)
        ctx, sink = self._ring_ctx(st, map, callback, record, 0)
        sample = fnptr("libbpf_py_ring_sample", "ring_buffer_sample_fn")
        what = f"ring_buffer__new(map {map_label(map)})"
        ptr = check_ptr(lib.ring_buffer__new(fd, sample, ctx, ffi.NULL), what)
        st.ptr = ptr
        st.maps.append(map)
        st.consuming.add(ring_lock(int(map.id)))
        st.waiter = Waiter(int(lib.ring_buffer__epoll_fd(ptr)))
        self._direct = [_map_ring(fd, int(map.max_entries), map_label(map))]
        st.keep.append(self._direct)
        self._add_sink(sink)
        self._rings.append(Ring(self, 0, map))
        self._max_ring = max(self._max_ring, int(map.max_entries))
        self._state = st

    def _add_sink(self, sink: _Sink) -> None:
        decode = sink.decode
        mode = 0 if decode is None else 1 if decode is identity else 2  # view / bytes / decode
        self._sinks.append(sink)
        self._delivery.append((sink.callback, mode, decode))

    def _ring_ctx(self, st: BufferState, m: Any, callback: Optional[Callback], record: RecordSpec,
                  index: int) -> Tuple[Any, _Sink]:
        sink = _Sink(callback, decoder(record, m), map_label(m), self._status, index)
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
        check_callback(callback, "callback")
        st = self._check_open()
        with st.lock:
            fd = dup_map_fd(map, MapType.RINGBUF, "RingBuffer.add")
            try:
                index = len(self._rings)
                ctx, sink = self._ring_ctx(st, map, callback, record, index)
                lock = ring_lock(int(map.id))
                direct = _map_ring(fd, int(map.max_entries), map_label(map))
                check(lib.ring_buffer__add(st.ptr, fd, fnptr(
                    "libbpf_py_ring_sample", "ring_buffer_sample_fn"), ctx),
                      f"ring_buffer__add(map {map_label(map)})")
            except BaseException:
                os.close(fd)
                raise
            self._direct.append(direct)
            st.fds.append(fd)
            st.maps.append(map)
            st.consuming.add(lock)
            self._add_sink(sink)
            ring = Ring(self, index, map)
            self._rings.append(ring)
            self._max_ring = max(self._max_ring, int(map.max_entries))
            self._batch_caps = (0, 0)  # a bigger ring may need a bigger batch
        return ring

    @property
    def rings(self) -> List[Ring]:
        """The rings, in the order they were added (their index in :class:`Batch`)."""
        self._check_open()
        return list(self._rings)

    def fileno(self) -> int:
        """libbpf's epoll fd (``ring_buffer__epoll_fd``): readable when a ring has data."""
        return int(lib.ring_buffer__epoll_fd(self._check_open().ptr))

    def __repr__(self) -> str:
        if self._state is None:
            return "<RingBuffer closed>"
        return f"<RingBuffer of {[r.name for r in self._rings]}>"

    # -- consuming --------------------------------------------------------------------

    def _deliver(self, data: bytes, offs: memoryview, rings: memoryview, i: int,
                 limit: Optional[int] = None) -> int:
        """Hand records ``i``... of ``_pending`` to their callbacks (under the lock).

        The loop runs in C (``deliver`` of libbpf_py/_speedups.c), one Python
        call per record: the callback's own. Returns how many were handed over.
        On a stop or an exception the records not handed over yet stay in
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
            # Stores only, no call (where a signal's exception would be raised, the
            # records handed over left pending: delivered again by the next call).
            # ``data`` is bytes (see _adopt): a view kept past its call keeps it alive,
            # and nothing ever writes over it.
            i = pos[0]
            self._pending = None if i >= n else (data, offs, rings, i)
        return i - start

    def _adopt(self) -> None:
        """Under the consume lock, first: records taken from the kernel that no call
        handed over become ``_pending``, after what is there already.

        They are a record the libbpf trampoline kept (``_status.kept``, see
        _RingStatus), and a batch in the batch memory (``_take``) whose call a
        signal's exception cut short before it stored the batch as ``_pending`` or
        handed it out (``self._batch.count`` is 0 once that is done). Each goes in
        one store, then its mark is cleared with no call in between.
        """
        b = self._batch
        if b.count:
            data_arr, offs_arr, rings_arr = self._batch_arrays
            count = int(b.count)
            taken = (_buffer(data_arr, int(b.len))[:],
                     memoryview(_buffer(offs_arr, 4 * (count + 1))[:]).cast("I"),
                     memoryview(_buffer(rings_arr, 4 * count)[:]).cast("I"), 0)
            pending = self._pending
            self._pending = taken if pending is None else _join(pending, taken)
            b.count = 0
        kept = self._status.kept
        if kept is not None:
            pending = self._pending
            self._pending = _one_record(kept) if pending is None else \
                _join(pending, _one_record(kept))
            self._status.kept = None

    def _flush_pending(self, limit: Optional[int] = None) -> Tuple[int, bool]:
        """Deliver records kept by an earlier stop; (count, whether all went)."""
        if self._batch.count or self._status.kept is not None:  # (the hot path: no call)
            self._adopt()
        pending = self._pending
        if pending is None:
            return 0, True
        data, offs, rings, i = pending
        count = self._deliver(data, offs, rings, i, limit)
        return count, self._pending is None

    def _put_back(self, st: BufferState, records: Tuple[Any, ...], done: List[bool]) -> None:
        """Records handed out of ``_pending`` whose call then raised (a signal's
        exception, as the lock's exit returned): first in ``_pending`` again.
        ``records``: pending records (data, offsets, rings, index), or one record
        (ring index, bytes).

        Run through ``retry`` (C), again after a second signal: ``done`` makes it
        put them back once."""
        with st.consuming:
            if done[0]:
                return
            if len(records) == 2:
                records = _one_record(records)
            pending = self._pending
            joined = records if pending is None else _join(records, pending)
            self._pending = joined
            done[0] = True

    def _take(self, st: BufferState, max_records: int, max_bytes: int
              ) -> Tuple[Any, memoryview, memoryview, bool]:
        """One batch drain in C (under the buffer's lock): data, offsets, rings, full.

        They are views of the batch memory, which the next take overwrites: the
        caller copies them (a Batch, ``_pending``) and then sets ``batch.count`` to
        0; until then the records are in the batch memory alone, and the next call
        adopts them (``_adopt``), should a signal's exception cut this one short.
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

    def _consume_with(self, fn: Callable[[BufferState, Any], int], what: str,
                      limit: Optional[int] = None) -> int:
        """Records one at a time through libbpf (consume_n, Ring.consume).

        ``fn(st, left)`` consumes, ``left`` the records ``limit`` still allows once
        the pending ones were handed over (they count: consume_n(n) asked libbpf
        for n more) or None."""
        st = self._check_open()
        with st.consuming:  # see ConsumeLock (_buffers.py)
            flushed, complete = self._flush_pending(limit)
            if not complete or (limit is not None and flushed >= limit):
                return flushed
            status, batch = self._status, self._batch
            status.error, status.stopped = None, False
            batch.active = 0
            batch.delivered = 0
            ret = int(fn(st, None if limit is None else limit - flushed))
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

        Returns the number of records handed to callbacks. The records are read
        in the ring memory itself, in C (``consume_rings`` of
        libbpf_py/_speedups.c), with one Python call per record, the callback's;
        each record is consumed once its callback returned. Records taken by an
        earlier ``drain()``-style batch but not handed over yet (a callback
        stopped or raised in it) come first.
        """
        st = self._check_open()
        with st.consuming:  # see ConsumeLock (_buffers.py)
            total, complete = self._flush_pending()
            if complete:
                total += consume_rings(self._direct, self._delivery, -1)[0]
        return total

    def consume_n(self, n: int) -> int:
        """Consume at most ``n`` records (``ring_buffer__consume_n``, libbpf >= 1.5)."""
        fn = lib.ring_buffer__consume_n
        n = check_size(n, "n")
        return self._consume_with(lambda st, left: fn(st.ptr, left), "ring_buffer__consume_n", n)

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

    def _drain_once(self, max_records: int, max_bytes: int) -> Tuple[Batch, int]:
        """A batch of records (pending ones first) and its length."""
        st = self._check_open()
        handed: Any = None  # the records once out of the buffer's custody
        try:
            with st.consuming:  # see ConsumeLock (_buffers.py)
                self._adopt()
                pending = self._pending
                if pending is not None:  # records a stopped callback left: they come first
                    batch, rest = _split(pending, max_records, max_bytes)
                    n = len(batch.rings)
                    out = (batch.data, batch.offsets, batch.rings, 0)
                    self._pending = rest
                    handed = out
                else:
                    data, offs, rings, _ = self._take(st, max_records, max_bytes)
                    # the batch memory is reused by the next take: the Batch gets copies
                    batch = Batch(data[:], memoryview(bytes(offs)).cast("I"),
                                  memoryview(bytes(rings)).cast("I"))
                    n = len(rings)
                    out = (batch.data, batch.offsets, batch.rings, 0)
                    self._batch.count = 0  # (handed: see _adopt)
                    handed = out
            return batch, n
        except BaseException:
            # A signal's exception as the lock's exit returned: the records go back (in
            # C, run again should another signal cut it short). Before ``handed`` was
            # set, they are still in _pending or the batch memory (see _adopt).
            if handed is not None and n:
                retry(self._put_back, st, handed, [False])
            raise

    def drain(self, timeout_ms: int = 0, *, max_records: int = _DEFAULT_MAX_RECORDS,
              max_bytes: int = _DEFAULT_MAX_BYTES) -> Batch:
        """Take up to ``max_records`` records / about ``max_bytes`` bytes in one call.

        The records are copied in C into one buffer (see :class:`Batch`);
        no callback runs. Waits up to ``timeout_ms`` when nothing is there
        (0, the default: do not wait; -1: forever). A batch may end one
        record past ``max_bytes``; nothing is dropped: what does not fit
        stays in the ring for the next call.
        """
        # the timeout is checked first: a bad one raised once the batch had been taken
        # from the kernel, and its records were lost with it
        wait_seconds(timeout_ms)
        max_records = check_size(max_records, "max_records")
        max_bytes = check_size(max_bytes, "max_bytes")
        if max_records < 1 or max_bytes < 1 or max_bytes > (1 << 31):
            raise ValueError("max_records must be >= 1 and max_bytes in 1..2**31")
        if max_bytes + self._max_ring > _U32_MAX:
            raise ValueError("max_bytes plus the largest ring's size must fit in 32 bits "
                             "(the batch offsets are uint32)")
        # (no call between a batch's return and drain()'s: a signal's exception raised
        # there would lose it, as len(batch) did)
        batch, n = self._drain_once(max_records, max_bytes)
        if n or timeout_ms == 0:
            return batch
        if not self._wait(self._check_open(), timeout_ms):
            return batch
        batch, n = self._drain_once(max_records, max_bytes)
        return batch

    def _next_record(self, st: BufferState, max_records: int) -> Optional[Tuple[int, bytes]]:
        """events()'s next record, (ring index, bytes): the first pending one, else the
        first of a new batch, whose rest stays pending; None when there is none.

        One record at a time out of ``_pending``: the records the iterator has not
        yielded yet stay in the buffer's custody, so a ``break`` out of the ``async
        for``, a decoder that raises, or a consume call in the loop's body (which
        hands them over first) neither loses them nor puts them out of order.
        """
        handed: Any = None
        try:
            with st.consuming:  # see ConsumeLock (_buffers.py)
                self._adopt()
                pending = self._pending
                if pending is None:
                    self._check_open()  # (per take, as drain(): a closed map ends it)
                    data, offs, rings, _ = self._take(st, max_records, _CALLBACK_BYTES * 4)
                    if not len(rings):
                        return None
                    pending = (data[:], memoryview(bytes(offs)).cast("I"),
                               memoryview(bytes(rings)).cast("I"), 0)
                    self._pending = pending
                    self._batch.count = 0  # (stored: see _adopt)
                data, offs, rings, i = pending
                out = (rings[i], data[offs[i]:offs[i + 1]])
                rest = (data, offs, rings, i + 1) if i + 1 < len(rings) else None
                self._pending = rest
                handed = out
            return out
        except BaseException:
            if handed is not None:  # (see _drain_once)
                retry(self._put_back, st, handed, [False])
            raise

    async def events(self, *, with_ring: bool = False,
                     max_records: int = _DEFAULT_MAX_RECORDS) -> AsyncIterator[Any]:
        """``async for record in rb.events()``: every record, decoded as its ring says.

        Records are copies (``bytes`` unless the ring has a ``record=``
        decoder), yours to keep; callbacks are not called. With
        ``with_ring=True`` each item is ``(ring_index, record)``. Driven by
        ``loop.add_reader()`` on the epoll fd, no thread. Ends when the
        buffer is closed (from any thread), or within 0.2 s once its map (or
        the BPF object) is closed. Records the iterator has not yielded stay
        in the buffer: after a ``break`` (or a decoder's exception, whose
        record counts as consumed) the next call hands them over first.
        """
        import asyncio  # here, not at module level: it costs 30 ms at import

        loop = asyncio.get_running_loop()
        st = self._check_open()
        waiter = st.waiter
        assert waiter is not None
        epoll_fd = int(lib.ring_buffer__epoll_fd(st.ptr))
        max_records = check_size(max_records, "max_records")
        if max_records < 1:
            raise ValueError("max_records must be >= 1")
        while True:
            if self._state is not st:
                return
            try:
                got = self._next_record(st, max_records)
            except ClosedError:
                return
            if got is None:
                ready = loop.create_future()

                def wake(fut: asyncio.Future[None] = ready) -> None:
                    if not fut.done():
                        fut.set_result(None)

                # The loop's selector keeps one reader per fd: another iterator waiting
                # on the same fds replaced this one's reader (and removed it as it
                # left), and this one waited for good. Each wait registers duplicates
                # of its own. The timer looks again (closed maps) every 0.2 s.
                fds: List[int] = []
                timer = loop.call_later(_WAIT_SLICE_S, wake)
                try:
                    for fd in (epoll_fd, waiter.wake_fd):
                        fds.append(os.dup(fd))
                        loop.add_reader(fds[-1], wake)
                    await ready
                finally:
                    timer.cancel()
                    for fd in fds:
                        loop.remove_reader(fd)
                        os.close(fd)
                continue
            ring, raw = got
            decode = self._sinks[ring].decode
            rec = decode(raw) if decode is not None else raw
            yield (ring, rec) if with_ring else rec
