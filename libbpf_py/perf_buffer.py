"""Perf buffers: records from BPF programs, one buffer per CPU.

:class:`PerfBuffer` consumes a ``BPF_MAP_TYPE_PERF_EVENT_ARRAY`` map (libbpf's
``perf_buffer``), with a sample callback and a lost-samples callback; what the
sample callback receives is chosen with ``record=`` as for
:class:`~libbpf_py.ringbuf.RingBuffer`. (libbpf-rs: ``perf_buffer.rs``.) The
guide is docs/events.md.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Dict, Optional, Tuple

from ._binding import call_view, ffi, fnptr, lib, retry
from ._buffers import (
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
    map_label,
    wait_seconds,
)
from ._call import check, check_ptr, make_error
from .enums import MapType

__all__ = ["PerfBuffer"]


class _PerfSink:
    """The perf buffer's callbacks, found by the C shim through its handle.

    libbpf consumes the record at which a stop is signalled: a record that
    arrives once ``ctx.stop`` is set is kept in ``pending`` (copied) and
    delivered first by the next consume call, so nothing is lost.

    Signals: CPython raises a signal's exception (KeyboardInterrupt) as a call
    into C returns and as a Python function starts, so it can arrive in these
    trampolines before the callback got its record, or during the keeping of
    one. ``pending`` is keyed by the record's number (``ctx.serial``, counted
    in C): whoever keeps a record not handed over (the trampoline's ``except``,
    cffi's ``onerror``) stores it under that key, once however often it is
    stored. Stops are two plain stores (no call, so no signal between them).
    Once the callback was called, its record counts as delivered.
    """

    __slots__ = ("ctx", "decode", "lost", "pending", "sample", "status")

    def __init__(self, sample: Optional[Callback], lost: Optional[Callback],
                 decode: Optional[Callable[[bytes], Any]]) -> None:
        self.sample = sample
        self.lost = lost
        self.decode = decode
        self.status = Status()
        self.pending: Dict[int, Tuple[bool, int, Any]] = {}  # ordered: serial -> record
        self.ctx: Any = None

    def _sample(self, cpu: int, data: Any, size: int, key: int) -> None:
        """Call the sample callback; ``data`` is a C pointer (size >= 0) or bytes."""
        raw = None
        try:
            callback = self.sample
            if callback is None:
                return
            raw = ffi.buffer(data, size)[:] if size >= 0 else data
            if self.decode is None:
                # a RecordView of a private copy (libbpf reuses the sample's memory)
                ret = call_view(callback, raw, cpu)
            else:
                ret = callback(cpu, self.decode(raw))
        except BaseException as exc:
            if raw is None:  # before the callback: keep the record
                self.pending[key] = (True, cpu, ffi.buffer(data, size)[:])
            self.status.error = exc
            self.ctx.stop = 1
            return
        if ret:
            self.status.stopped = True
            self.ctx.stop = 1

    def _lost(self, cpu: int, count: int) -> None:
        try:
            if self.lost is not None and self.lost(cpu, count):
                self.status.stopped = True
                self.ctx.stop = 1
        except BaseException as exc:
            self.status.error = exc
            self.ctx.stop = 1

    def deliver(self, cpu: int, data: Any, size: int) -> None:
        ctx = self.ctx
        if ctx.stop:
            self.pending[ctx.serial] = (True, cpu, ffi.buffer(data, size)[:])
        else:
            self._sample(cpu, data, size, ctx.serial)

    def deliver_lost(self, cpu: int, count: int) -> None:
        ctx = self.ctx
        if ctx.stop:
            self.pending[ctx.serial] = (False, cpu, count)
        else:
            self._lost(cpu, count)

    def flush(self) -> int:
        """Deliver the pending records (until a stop); the samples delivered."""
        n = 0
        pending = self.pending
        while pending and not self.ctx.stop:
            # taken out only once handled: a signal's exception before that (as next()
            # returns, as _sample starts) leaves it pending
            key = next(iter(pending))
            is_sample, cpu, payload = pending[key]
            if is_sample:
                self._sample(cpu, payload, -1, key)
                n += 1
            else:
                self._lost(cpu, payload)
            del pending[key]
        return n


def _escaped(ctx: Any, exc: BaseException, record: Tuple[Any, ...]) -> None:
    """An exception that left deliver() or deliver_lost(): a signal's (KeyboardInterrupt),
    raised before the callback was called. ``record`` (is_sample, cpu, data or count, with
    ``data`` a C pointer and a size for a sample) is kept; the consume call raises ``exc``.

    Called through ``retry`` (C): run again from its start should another signal's
    exception cut it short, so each step is safe to do twice."""
    sink: _PerfSink = ffi.from_handle(ctx)
    c = sink.ctx
    if c.serial not in sink.pending:
        if record[0]:
            _, cpu, data, size = record
            sink.pending[c.serial] = (True, cpu, ffi.buffer(data, size)[:])
        else:
            sink.pending[c.serial] = record
    if sink.status.error is None:
        sink.status.error = exc
    c.stop = 1


def _escaped_early(exc_type: Any, exc: BaseException, tb: Any) -> None:
    """cffi's ``onerror`` (through ``retry``): an exception raised as a trampoline
    started, or in its ``except`` (a second signal). The record is read from the
    trampoline's arguments, in its frame, by name: keep them named ``ctx``, ``cpu``,
    ``data``, ``size`` and ``count``."""
    args = tb.tb_frame.f_locals
    if "count" in args:
        _escaped(args["ctx"], exc, (False, args["cpu"], args["count"]))
    else:
        _escaped(args["ctx"], exc, (True, args["cpu"], args["data"], args["size"]))


# (onerror through retry, in C: a Python onerror cut short by a signal's exception as it
# started was printed by cffi, and the record and both exceptions were lost)
@ffi.def_extern(onerror=functools.partial(retry, _escaped_early))  # type: ignore[untyped-decorator]
def libbpf_py_perf_buffer_sample_cb(ctx: Any, cpu: int, data: Any, size: int) -> None:
    try:
        sink: _PerfSink = ffi.from_handle(ctx)
        sink.deliver(cpu, data, size)
    except BaseException as exc:  # raised before the callback (deliver() keeps the rest)
        retry(_escaped, ctx, exc, (True, cpu, data, size))


@ffi.def_extern(onerror=functools.partial(retry, _escaped_early))  # type: ignore[untyped-decorator]
def libbpf_py_perf_buffer_lost_cb(ctx: Any, cpu: int, count: int) -> None:
    try:
        sink: _PerfSink = ffi.from_handle(ctx)
        sink.deliver_lost(cpu, count)
    except BaseException as exc:
        retry(_escaped, ctx, exc, (False, cpu, count))


class PerfBuffer(BufferBase):
    """Consumer of a ``BPF_MAP_TYPE_PERF_EVENT_ARRAY`` map: one buffer per CPU.

    ``sample(cpu, record)`` gets each record (``record=`` as for
    :class:`RingBuffer`); ``lost(cpu, count)`` gets each report of samples
    the kernel dropped because a buffer was full; :attr:`lost_count` adds
    them up. ``page_cnt`` (a power of two) is each CPU buffer's size in
    pages. A callback that raises or returns a true value stops
    consumption: the records not yet delivered are handed over first by the
    next call (the first record of each other CPU's buffer, which libbpf
    consumes as it stops there, kept in Python; the rest in the kernel).
    """

    _kind = "perf buffer"

    def __init__(self, map: Any, sample: Optional[Callback] = None,
                 lost: Optional[Callback] = None, *, page_cnt: int = 8,
                 record: RecordSpec = None) -> None:
        super().__init__()
        check_callback(sample, "sample")
        check_callback(lost, "lost")
        page_cnt = check_size(page_cnt, "page_cnt")
        if page_cnt < 1 or page_cnt & (page_cnt - 1):
            raise ValueError(f"page_cnt must be a power of two, not {page_cnt}")
        st = BufferState(lib.perf_buffer__free)
        fd = dup_map_fd(map, MapType.PERF_EVENT_ARRAY, "PerfBuffer")
        st.fds.append(fd)
        sink = _PerfSink(sample, lost, decoder(record, map))
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
        event_fn = fnptr("libbpf_py_perf_event", "perf_buffer_event_fn")
        what = f"perf_buffer__new_raw(map {map_label(map)})"
        ptr = check_ptr(lib.perf_buffer__new_raw(fd, page_cnt, attr, event_fn, ctx, ffi.NULL),
                        what)
        st.ptr = ptr
        st.maps.append(map)
        st.waiter = Waiter(int(lib.perf_buffer__epoll_fd(ptr)))
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
        return int(self._ctx.lost_total)

    @property
    def buffer_count(self) -> int:
        """Number of per-CPU buffers (``perf_buffer__buffer_cnt``)."""
        return int(lib.perf_buffer__buffer_cnt(self._check_open().ptr))

    def buffer_fd(self, index: int) -> int:
        """The perf event fd of buffer ``index`` (``perf_buffer__buffer_fd``)."""
        st = self._check_open()
        return check(int(lib.perf_buffer__buffer_fd(st.ptr, self._index(st, index))),
                     f"perf_buffer__buffer_fd({index})")

    def fileno(self) -> int:
        """libbpf's epoll fd (``perf_buffer__epoll_fd``)."""
        return int(lib.perf_buffer__epoll_fd(self._check_open().ptr))

    def _index(self, st: BufferState, index: int) -> int:
        index = check_size(index, "index")
        if index >= int(lib.perf_buffer__buffer_cnt(st.ptr)):
            raise IndexError(f"perf buffer index {index} out of range")
        return index

    def _consume_with(self, fn: Callable[[BufferState], int], what: str) -> int:
        return self._consume_stop(fn, what)[0]

    def _consume_stop(self, fn: Callable[[BufferState], int], what: str) -> Tuple[int, bool]:
        """The samples delivered, and whether a callback asked to stop."""
        st = self._check_open()
        sink, ctx = self._sink, self._ctx
        with st.lock:
            sink.status.error, sink.status.stopped = None, False
            ctx.stop = 0
            ctx.samples = 0
            flushed = sink.flush()
            ret = 0 if ctx.stop else int(fn(st))
            ctx.stop = 0
            samples = flushed + int(ctx.samples)
            stopped = sink.status.stopped
        err = sink.status.error
        if err is not None:
            sink.status.error = None
            raise err
        if ret < 0:
            raise make_error(-ret, what)
        return samples, stopped

    def consume(self) -> int:
        """Read every buffer without waiting; returns the samples delivered."""
        return self._consume_with(_consume_all, "perf_buffer__consume")

    def consume_buffer(self, index: int) -> int:
        """Read per-CPU buffer ``index`` only (``perf_buffer__consume_buffer``)."""
        # checked first: a bad index raised only after the kept samples had gone to the
        # callback (their count lost with the call)
        index = self._index(self._check_open(), index)
        return self._consume_with(
            lambda st: lib.perf_buffer__consume_buffer(st.ptr, index),
            "perf_buffer__consume_buffer")

    def poll(self, timeout_ms: int = -1) -> int:
        """Wait up to ``timeout_ms`` (-1: forever) for samples, then read them all.

        Returns the samples delivered (0 on timeout, or when the ``lost``
        callback asked to stop before any sample).
        """
        wait_seconds(timeout_ms)
        n, stopped = self._consume_stop(_consume_all, "perf_buffer__consume")
        # (not BufferBase._poll: a stop the lost callback asked for, with no sample
        # delivered, was taken for "nothing came", and poll() waited and read on)
        if n or stopped or timeout_ms == 0:
            return n
        if not self._wait(self._check_open(), timeout_ms):
            return 0
        return self.consume()


def _consume_all(st: BufferState) -> int:
    return int(lib.perf_buffer__consume(st.ptr))
