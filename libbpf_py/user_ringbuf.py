"""User ring buffers: records from user space to BPF programs (libbpf >= 1.1).

:class:`UserRingBuffer` writes records into a ``BPF_MAP_TYPE_USER_RINGBUF``
map (libbpf's ``user_ring_buffer``), which a BPF program drains with
``bpf_user_ringbuf_drain()``; :class:`Reservation` is the space one record
takes until it is submitted or discarded. (libbpf-rs: ``user_ringbuf.rs``.)
The guide is docs/events.md.
"""

from __future__ import annotations

import errno
import select
import time
from typing import Any, List, Optional

from ._binding import GuardedExit, ffi, lib, retry
from ._buffers import (
    _WAIT_SLICE_S,
    BufferBase,
    BufferState,
    Waiter,
    check_size,
    dup_map_fd,
    map_label,
    release_held,
    ring_lock,
    wait_seconds,
)
from ._call import check_ptr, make_error
from .enums import MapType
from .errors import ClosedError, LibbpfError

__all__ = ["Reservation", "ReserveTimeoutError", "UserRingBuffer"]


class ReserveTimeoutError(LibbpfError, TimeoutError):
    """UserRingBuffer.reserve() found no space before its timeout (ETIMEDOUT)."""


class Reservation(GuardedExit):
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

    def _release_buffer(self) -> None:
        try:
            self.buffer.release()
        except BufferError:
            pass

    # ``with``: GuardedExit's __enter__ and __exit__ (libbpf_py/_speedups.c), in C, so a
    # signal's exception (KeyboardInterrupt) cannot be raised before the exit's first
    # line, as at a Python __exit__'s start: that left the space reserved, and the BPF
    # side's drain stopped at it until close(). __exit__ calls _exit again until the
    # reservation is done (a signal during the commit), then raises the signal's
    # exception: a record filled in the block is submitted, even then.

    def _exit(self, exc_type: object, *exc: object) -> None:
        if self._ptr is not None:
            self._owner._commit(self, discard=exc_type is not None)

    @property
    def _exit_done(self) -> bool:
        return self._ptr is None or self._owner._state is None  # (closed: discarded)

    def __repr__(self) -> str:
        return f"<Reservation of {self.size} bytes{' done' if self.done else ''}>"


class UserRingBuffer(BufferBase):
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
        st = BufferState(lib.user_ring_buffer__free)
        fd = dup_map_fd(map, MapType.USER_RINGBUF, "UserRingBuffer")
        st.fds.append(fd)
        what = f"user_ring_buffer__new(map {map_label(map)})"
        ptr = check_ptr(new(fd, ffi.NULL), what)
        st.ptr = ptr
        st.maps.append(map)
        self._producer = ring_lock(int(map.id))  # (the map's lock, shared: see _try_reserve)
        # edge-triggered: woken when the kernel drains, not while any space is free
        st.waiter = Waiter(fd, select.EPOLLOUT | select.EPOLLET)
        self._pending: set[Reservation] = set()
        self._max_size = int(map.max_entries) - 8
        self._state = st

    def __repr__(self) -> str:
        return "<UserRingBuffer closed>" if self._state is None else "<UserRingBuffer>"

    def _try_reserve(self, st: BufferState, size: int) -> Optional[Reservation]:
        # Space reserved and never submitted nor discarded stops the BPF side's drain at
        # it for good, so none may be lost to an exception (a KeyboardInterrupt is raised
        # as any call returns, where CPython runs a signal's handler): the pointer goes
        # into ``got`` in C (list.extend over map()), and a reservation the caller does
        # not get is given back below.
        got: List[Any] = []
        r: Optional[Reservation] = None
        try:
            with st.lock:
                if self._state is not st:
                    raise ClosedError(f"{self._kind} was closed")
                # libbpf.h: reserve "is *not* thread safe, and callers must synchronize
                # accessing this function if there are multiple producers": every
                # UserRingBuffer of one map is one, as they share the producer position
                # in the map's memory. One lock per map (ring_lock), held for the
                # reserve only (submit and discard need none), taken after the buffer's.
                with self._producer:
                    got.extend(map(lib.user_ring_buffer__reserve, (st.ptr,), (size,)))
                    err = ffi.errno
                if got[0] != ffi.NULL:
                    r = Reservation(self, got[0], size)
                    self._pending.add(r)  # under the lock: close() discards it if need be
        except BaseException:
            # (in C, called again until it ran to its end: a second signal's exception
            # in it cannot leave the space reserved)
            retry(self._give_back, st, got, r)
            raise
        if r is not None:
            return r
        if err != errno.ENOSPC:
            raise make_error(err or errno.EINVAL, f"user_ring_buffer__reserve({size})")
        return None

    def _give_back(self, st: BufferState, got: List[Any], r: Optional[Reservation]) -> None:
        """_try_reserve's cleanup: its locks freed, space it reserved given back.

        Run again from its start after a signal's exception anywhere (``retry``), so
        it must be safe to: the space is given back once, as ``got[0]`` is cleared
        right before libbpf's call, with no call in between.
        """
        release_held([st.lock, self._producer])
        if not got or got[0] == ffi.NULL:
            return
        with st.lock:
            ptr = got[0]
            if ptr == ffi.NULL:  # (given back by an earlier run)
                return
            got[0] = ffi.NULL
            if r is not None:
                if r._ptr is None:  # close() gave it back
                    return
                r._ptr = None
            lib.user_ring_buffer__discard(st.ptr, ptr)
        if r is not None:
            self._pending.discard(r)

    def reserve(self, size: int, timeout_ms: int = 0) -> Reservation:
        """Reserve ``size`` bytes; wait up to ``timeout_ms`` for space (-1: forever).

        With no space: ``timeout_ms=0`` raises LibbpfError (ENOSPC) at once,
        otherwise :class:`~libbpf_py.user_ringbuf.ReserveTimeoutError` (a ``TimeoutError``) when the
        time is up. Closing the buffer from another thread wakes the wait
        with ClosedError.
        """
        size = check_size(size, "size")
        if not 0 < size <= self._max_size:
            raise ValueError(f"size must be in 1..{self._max_size} (the ring's size less "
                             f"its 8-byte record header), not {size}")
        timeout_s = wait_seconds(timeout_ms)
        st = self._check_open()
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
            # Edge-triggered, one drain's wake-up reaches one of the threads waiting
            # here: the others waited on with space free (with -1, until a drain
            # that might only come after their write). Each looks again after a slice.
            slice_ms = int(_WAIT_SLICE_S * 1000)
            self._wait(st, slice_ms if left is None else max(1, min(slice_ms, int(left * 1000))))

    def _commit(self, r: Reservation, discard: bool) -> None:
        if not isinstance(r, Reservation):  # was an AttributeError ('_owner')
            raise TypeError(f"submit and discard take a Reservation (from reserve()), "
                            f"not {type(r).__name__}")
        if r._owner is not self:
            raise ValueError("this reservation belongs to another UserRingBuffer")
        st = self._check_open()
        with st.lock:
            if self._state is not st:
                raise ClosedError(f"{self._kind} was closed (its reservations were discarded)")
            ptr = r._ptr
            if ptr is None:
                raise ValueError("this reservation was already submitted or discarded")
            # ``r._ptr = None`` and libbpf's call with no call in between: an exception
            # raised as a call returns (KeyboardInterrupt) finds the space either still
            # reserved by ``r`` or given to libbpf, never neither
            if discard:
                r._ptr = None
                lib.user_ring_buffer__discard(st.ptr, ptr)
            else:
                ffi.memmove(ptr, r._staging, r.size)
                r._ptr = None
                lib.user_ring_buffer__submit(st.ptr, ptr)
            self._pending.discard(r)
            r._release_buffer()

    def submit(self, r: Reservation) -> None:
        """Submit a reservation (same as ``r.submit()``)."""
        self._commit(r, discard=False)

    def discard(self, r: Reservation) -> None:
        """Discard a reservation (same as ``r.discard()``)."""
        self._commit(r, discard=True)

    def write(self, data: Any, timeout_ms: int = 0) -> None:
        """Reserve, copy ``data`` (any bytes-like object, a ctypes instance) and submit."""
        view = memoryview(data).cast("B")
        with self.reserve(view.nbytes, timeout_ms) as r:  # (see Reservation: no space lost)
            r.buffer[:] = view

    def close(self) -> None:
        """Discard what is reserved and not submitted, then free (idempotent).

        The discarded reservations' buffers are released: a thread still
        writing into one gets ``ValueError`` (released memoryview), then
        ``ClosedError`` from ``submit()`` / ``reserve()``.
        """
        st = self._state
        if st is None:
            return
        with st.lock:  # no reservation can start or end meanwhile
            if self._state is not st:
                return
            for r in list(getattr(self, "_pending", ())):
                ptr, r._ptr = r._ptr, None
                if ptr is not None:  # (None: committed, then interrupted before it left)
                    lib.user_ring_buffer__discard(st.ptr, ptr)
                r._release_buffer()
            self._pending.clear()
            self._state = None
        if st.waiter is not None:
            st.waiter.wake()


