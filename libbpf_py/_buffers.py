"""What the ring buffer, the user ring buffer and the perf buffer share.

:mod:`libbpf_py.ringbuf`, :mod:`libbpf_py.user_ringbuf` and
:mod:`libbpf_py.perf_buffer` each wrap one libbpf object; this module is the
machinery they have in common, and nothing else:

* records: :func:`decoder` turns the ``record=`` argument of a consumer into a
  function ``bytes -> record`` (None for the default mode, a
  :class:`~libbpf_py.RecordView` made by ``_speedups``); :class:`Status` is what
  the callbacks of one consume call left (an exception, a stop request).
* the map: :func:`dup_map_fd` checks a :class:`~libbpf_py.map.Map`'s type and
  duplicates its fd, so libbpf never sees a closed or reused fd number.
* waiting: :class:`Waiter` is a private ``epoll`` of libbpf's epoll fd (or the
  map fd) plus an ``eventfd`` that ``close()`` signals; the GIL is released while
  waiting, and SIGINT raises ``KeyboardInterrupt`` at once in the main thread.
* serializing: :class:`BufferLock` lets one thread at a time into the C calls
  on a buffer and refuses re-entry from the buffer's own callback;
  :class:`ConsumeLock` adds the locks of the ring maps a consume call reads
  (:func:`ring_lock`, one per kernel map in the process), so that two buffers of
  one map take turns, and a callback cannot consume its map through another.
  Both are :class:`OwnedLock`: its owner is known (an exception between taking
  and releasing it can be cleaned up) and a wait that would deadlock raises.
* life cycle: :class:`BufferState` is everything a live buffer owns, freed
  when the last call using it lets go; :class:`BufferBase` is ``close()``,
  ``closed``, the context manager, and the wait of ``poll()``.

``close()`` (from any thread, even from inside a callback) wakes every waiting
poller, which then raises :class:`~libbpf_py.errors.ClosedError`; a poller whose
BPF object (or standalone map) was closed notices within 0.2 s (``_WAIT_SLICE_S``)
and raises ``ClosedError`` as well.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import select
import threading
import time
import weakref
from typing import Any, Callable, List, Optional, TypeVar

from . import _validate
from ._binding import LockExit, LocksExit, ffi, lib, lock_graph, unwait
from ._call import check_ptr, make_error
from ._codec import btf_codec
from .enums import MapType
from .errors import ClosedError
from .map import Map

__all__ = [
    "BufferBase",
    "BufferLock",
    "BufferState",
    "Callback",
    "ConsumeLock",
    "OwnedLock",
    "RecordSpec",
    "RingLock",
    "Status",
    "Waiter",
    "check_callback",
    "check_size",
    "decoder",
    "dup_map_fd",
    "identity",
    "map_label",
    "ring_lock",
    "wait_seconds",
]

RecordSpec = Any
Callback = Callable[..., Any]

_WAIT_SLICE_S = 0.2  # how often a waiting poller checks that its maps are still open


# -- records ---------------------------------------------------------------------------------


def map_label(m: Any) -> str:
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
        btf_id = m.info().btf_id
        if btf_id:
            btf = owned = check_ptr(lib.btf__load_from_kernel_by_id(btf_id),
                                    f"btf__load_from_kernel_by_id({btf_id})")
        else:
            btf = ffi.NULL
    if btf == ffi.NULL:  # no BTF at all: not an error of libbpf
        raise ValueError(f"map {map_label(m)} has no BTF: record={type_name!r} cannot be "
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
        raw = _validate.cstr(name, "record= (a BTF type name)", empty=False)
        tid = -1
        for kind in candidates:
            tid = int(lib.btf__find_by_name_kind(btf, raw, kind))
            if tid > 0:
                break
        if tid <= 0:
            raise ValueError(f"the BTF of map {map_label(m)} has no type {type_name!r} "
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
            raise ValueError(f"a record of {len(data)} bytes from map {map_label(m)} is "
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


def decoder(record: RecordSpec, m: Any) -> Optional[Callable[[bytes], Any]]:
    """None (RecordView mode) or a function bytes -> record."""
    if record is None:
        return None
    if record is bytes:
        return identity
    if isinstance(record, str):
        return _btf_decoder(m, record)
    if _is_ctype(record):
        return _ctypes_decoder(record, map_label(m))
    if callable(record):
        return record  # type: ignore[no-any-return]
    raise TypeError("record= must be None, bytes, a ctypes type, a BTF type name or a "
                    f"callable, not {type(record).__name__}")


def identity(data: bytes) -> bytes:
    return data


def check_callback(callback: Optional[Callback], what: str) -> None:
    if callback is not None and not callable(callback):
        raise TypeError(f"{what} must be callable, not {type(callback).__name__}")


def dup_map_fd(m: Any, want: MapType, cls: str) -> int:
    """A duplicate of the fd of Map ``m``, after checking its type."""
    if not isinstance(m, Map):
        raise TypeError(f"{cls} needs a libbpf_py Map, not {type(m).__name__}")
    mtype = m.type
    if mtype != want:
        raise ValueError(f"{cls} needs a {want.name} map; map {map_label(m)} is "
                         f"{mtype.name}")
    # In flight on the map's guard from reading the fd to duplicating it: a close()
    # meanwhile (another thread) closes the fd only after the dup, so the number
    # cannot have been handed to another file (another map) in between.
    guard = m._guard
    guard.enter()
    try:
        fd = os.dup(m.fd)
    finally:
        guard.leave()
    if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY:
        # every buffer writes to its map (a ring's consumer position, a user ring's
        # records, a perf array's elements); libbpf's refusals of a read-only fd were
        # a bare EACCES, EPERM or even EINVAL
        os.close(fd)
        raise make_error(errno.EACCES, f"{cls} cannot use map {map_label(m)}",
                         f"{os.strerror(errno.EACCES)}: this handle was opened read-only "
                         "(Map.from_pinned(..., "
                         "read_only=True), BPF_F_RDONLY) and a buffer must write to its "
                         "map: open it read-write")
    return fd


def wait_seconds(timeout_ms: int) -> Optional[float]:
    """``timeout_ms`` (-1: forever) in seconds for ``epoll.poll`` (None: forever).

    Any int >= -1 (no upper bound: the wait is Python's, not a C ``int``).
    """
    if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, int):
        raise _validate.type_error("timeout_ms", timeout_ms)
    if timeout_ms < -1:
        raise ValueError("timeout_ms must be >= 0, or -1 to wait forever")
    return None if timeout_ms == -1 else timeout_ms / 1000.0


class Status:
    """What the callbacks of one consume call left: an exception, a stop request."""

    __slots__ = ("error", "stopped")

    def __init__(self) -> None:
        self.error: Optional[BaseException] = None
        self.stopped = False



def check_size(value: int, what: str) -> int:
    """A ``size_t`` argument (a count, a size, an index) named ``what``: TypeError / ValueError."""
    return _validate.check_int(value, what, 64)


# -- waiting ---------------------------------------------------------------------------------


class Waiter:
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
        """Wait up to ``timeout_s`` (None: forever); True if something is ready."""
        return bool(self.epoll.poll(timeout_s if timeout_s is not None else -1, 2))

    def wake(self) -> None:
        try:
            os.eventfd_write(self.wake_fd, 1)
        except OSError:
            pass

    def close(self) -> None:
        self.epoll.close()
        os.close(self.wake_fd)


# Every OwnedLock's owner, and which lock each waiting thread waits for, change only
# under this one lock: a thread about to wait sees the whole graph of who waits for
# whom, so the last thread to close a cycle of waits sees it (see OwnedLock.acquire).
_graph = threading.Lock()
_waiting_for: dict[int, OwnedLock] = {}  # thread ident -> the lock it waits for
lock_graph(_graph, _waiting_for)  # (for the locks' with-exit, in C)
_get_ident = threading.get_ident
_RECHECK_S = 0.1  # a waiter looks again this often, should a wake-up have been lost
_new_sleeper = threading.Lock  # a waiting thread sleeps on its own lock, taken once already
_NONE_HELD: List[OwnedLock] = []  # (never changed)
# unwait(_graph, _waiting_for, locks, me) (_speedups.c): the cleanup after an exception
# while thread ``me`` took ``locks`` (a list; None items skipped), as ONE call into C:
# under _graph, forget its waits, and free (hand over) those of them it owns, last
# first. CPython runs a signal's handler (KeyboardInterrupt) as a call made from
# bytecode returns and as a Python function starts: a second signal would stop a
# cleanup written in Python half way, the thread left queued (a release then handed it
# the lock as it left: every other thread waited forever, and this one got "held by
# this thread already") or owning a lock. It is the first call of each ``except``:
# nothing before it where a signal's handler runs.


class OwnedLock(LockExit):
    """A mutual-exclusion lock whose owner is known, that detects deadlocks.

    Not a bare ``threading.Lock``, for two reasons:

    * an exception can arrive between a lock's acquisition and the code that
      would release it: ``KeyboardInterrupt`` (the signal handler runs after any
      call returns), or an exception of a profile hook. With a bare lock nobody
      can then tell whether it was taken. Here the lock is taken by setting
      ``owner`` under ``_graph``, so the code that catches the exception releases
      it when ``owner`` is its own thread (:meth:`__enter__`, ``ConsumeLock``), in
      one call into C that a second signal cannot cut short (``unwait``).
    * callbacks run with the lock held, and may take other locks of this kind
      (consume another buffer): two threads doing that in opposite orders would
      wait for each other forever. The thread whose wait would close such a cycle
      raises ``RuntimeError`` instead; its consume call then returns (with the
      error), its locks are released and the other thread goes on.
    """

    __slots__ = ("__weakref__", "_sleepers", "owner")

    def __init__(self) -> None:
        self.owner = 0  # the ident of the thread that holds it, 0 when free
        # ident -> lock per waiting thread, in arrival order (a dict: C forgets one in
        # a call, see unwait), the lock held: a release hands the lock over to the
        # first (owner = its ident) and releases its lock, which wakes it. Handed
        # over, not only freed: the releasing thread, still running, would take it
        # again before the woken one runs, turn after turn.
        # (Not threading.Condition(_graph): its wait() lets a signal's exception out
        # with _graph released before its try, and the ``with _graph`` around it then
        # released _graph a second time, another thread's hold maybe.)
        self._sleepers: dict[int, Any] = {}

    def _what(self) -> str:
        return "this lock"

    def acquire(self, me: int) -> None:
        """Take the lock for thread ``me`` (the caller's ident), waiting for its holder.

        RuntimeError if ``me`` holds it already, or if waiting would deadlock.
        """
        with _graph:
            if not self.owner:
                self.owner = me
                return
        self._wait(me)

    def _wait(self, me: int) -> None:
        """acquire() when the lock was held: look again, sleep until released, take it."""
        if self.owner == me:  # (only this thread makes it so: no _graph needed to read it)
            raise RuntimeError(f"{self._what()} is held by this thread already")
        sleeper: Any = None  # the lock this thread sleeps on, while registered maybe
        try:
            while True:
                with _graph:
                    if sleeper is not None:  # woken, or the slice ran out
                        self._sleepers.pop(me, None)
                        _waiting_for.pop(me, None)  # (registered before the entry, freed after)
                        sleeper = None
                        if self.owner == me:  # handed over by the holder's release
                            return
                    if not self.owner:
                        self.owner = me
                        return
                    self._check_cycle(me)
                    sleeper = _new_sleeper()
                    sleeper.acquire()
                    _waiting_for[me] = self
                    self._sleepers[me] = sleeper
                # Sleep with _graph free, and take it back at the loop's ``with``: an
                # exception there leaves _graph free, as it leaves the ``with`` at once.
                sleeper.acquire(True, _RECHECK_S)
        except BaseException:
            # Registered maybe, handed the lock or taken it maybe (a signal as a call
            # returned): all undone in one call into C (see unwait), this thread's wait
            # forgotten, the lock freed (handed over) if this call got it.
            unwait(_graph, _waiting_for, [self], me)
            raise

    def _hand_over(self) -> None:
        """Give the free lock to its first waiter, and wake it (under _graph)."""
        waiter = next(iter(self._sleepers))
        sleeper = self._sleepers.pop(waiter)
        self.owner = waiter
        del _waiting_for[waiter]  # (it waits no more: it holds the lock, asleep or not)
        sleeper.release()

    def _check_cycle(self, me: int) -> None:
        """RuntimeError if the holder waits (through others) for a lock ``me`` holds."""
        chain = [self]
        thread = self.owner
        while thread and len(chain) <= len(_waiting_for) + 1:
            if thread == me:
                names = " -> ".join(lock._what() for lock in chain)
                raise RuntimeError(
                    f"deadlock: this thread would wait for {self._what()}, whose holder "
                    f"waits for a lock this thread holds ({names}); a callback took "
                    "another buffer's lock while that buffer's thread took this one's")
            lock = _waiting_for.get(thread)
            if lock is None:
                return
            chain.append(lock)
            thread = lock.owner

    def release(self) -> None:
        # (as few calls as can be before the lock is free: a signal's exception is
        # raised when a call returns, see __exit__)
        with _graph:
            self.owner = 0
            if self._sleepers:  # (cut short: the waiter looks again within _RECHECK_S)
                self._hand_over()

    def __enter__(self) -> None:
        me = _get_ident()
        if self.owner == me:
            self.acquire(me)  # raises: this thread holds it (the subclass says why)
        try:
            self.acquire(me)
        except BaseException:
            # taken maybe (interrupted before returning): see unwait
            unwait(_graph, _waiting_for, [self], me)
            raise

    # ``with``'s exit is LockExit's __exit__ (_speedups.c), in C: a Python __exit__ could
    # be cut short by a signal's exception (KeyboardInterrupt: CPython raises it as a
    # Python function starts) before its first line, the lock left held for good. It is
    # unwait for this thread: the lock freed and handed to its first waiter.

    @property
    def held_here(self) -> bool:
        """True in the thread that holds the lock (in a callback of the buffer)."""
        return self.owner == _get_ident()


def release_held(locks: List[OwnedLock]) -> None:
    """Free those of ``locks`` this thread owns, each handed to its first waiter (unwait)."""
    unwait(_graph, _waiting_for, locks, _get_ident())


class BufferLock(OwnedLock):
    """One thread at a time in the C calls on one buffer; re-entry from its callback refused.

    Not :class:`libbpf_py._guard.Guard`, which lets any number of threads call
    into an object at once and only counts them, so that ``close()`` frees the
    object when the last call returns. This is a mutual-exclusion lock:
    libbpf's ``ring_buffer``, ``perf_buffer`` and ``user_ring_buffer`` are not
    safe to consume (or reserve from) in two threads at once, so a second
    thread waits here. A callback runs inside the consume call, in the thread
    that holds the lock: its ``poll()``/``consume()`` of the same buffer would
    wait for itself forever, so it raises ``RuntimeError`` instead.
    """

    __slots__ = ()

    def _what(self) -> str:
        return "a buffer's lock"

    def acquire(self, me: int) -> None:
        if self.owner == me:
            raise RuntimeError("a callback of this buffer cannot poll or consume it "
                               "(return a true value to stop consumption instead)")
        OwnedLock.acquire(self, me)


class RingLock(OwnedLock):
    """One consumer at a time of one ring buffer map, for every buffer of this process.

    A ring map has one consumer position, in the kernel's memory: every
    ``RingBuffer`` of the map (and libbpf's ``ring_buffer`` under it) reads it when
    a consume call starts and stores it back after each record. Two of them
    consuming at once (two threads, or one's callback consuming the other) would
    move it past a record the first is still showing, then back: records twice,
    a view over memory the kernel reuses. :func:`ring_lock` gives the buffers of
    one map the same lock. (A user ring buffer map's lock serializes its producers.)
    """

    __slots__ = ("map_id",)

    def __init__(self, map_id: int) -> None:
        super().__init__()
        self.map_id = map_id

    def _what(self) -> str:
        return f"the lock of ring buffer map id {self.map_id}"


# Kernel map id -> its lock, while a buffer of the map holds it. The buffer holds a
# duplicate of the map fd, so the id cannot name another map meanwhile; at worst a
# new map reusing a freed id meets a lock about to go, and waits on it needlessly.
_ring_locks: weakref.WeakValueDictionary[int, RingLock] = weakref.WeakValueDictionary()
_ring_locks_guard = threading.Lock()


def ring_lock(map_id: int) -> RingLock:
    """The lock of the ring buffer map whose kernel id is ``map_id``."""
    with _ring_locks_guard:
        lock = _ring_locks.get(map_id)
        if lock is None:
            lock = _ring_locks[map_id] = RingLock(map_id)
        return lock


class ConsumeLock(LocksExit):
    """A buffer's lock, then the locks of the ring maps it consumes, for one consume call.

    Threads take turns, as on :class:`BufferLock`; a callback that consumes a map
    whose consumption it runs in (through this buffer or another buffer of the
    same map) gets ``RuntimeError``, before it waits for anything: it would
    otherwise wait for itself (or another thread, waiting for this buffer's lock,
    for it). The ring locks are taken in map id order, so buffers of the same
    maps added in other orders cannot deadlock each other; callbacks of two
    threads consuming each other's maps get ``RuntimeError`` in one of the two
    (:class:`OwnedLock`). Per call, not per record: the records are read with the
    locks held.
    """

    __slots__ = ("all", "buffer", "rings")

    def __init__(self, buffer: BufferLock) -> None:
        self.buffer = buffer
        self.rings: List[RingLock] = []  # by map id, no duplicates; changed under ``buffer``
        self.all: List[OwnedLock] = [buffer]  # the buffer's lock, then ``rings``

    def add(self, lock: RingLock) -> None:
        """Consume ``lock``'s map too (under the buffer's lock, or before first use)."""
        if lock not in self.rings:
            self.rings = sorted([*self.rings, lock], key=lambda r: r.map_id)
            self.all = [self.buffer, *self.rings]

    @staticmethod
    def _refuse(ring: RingLock) -> None:
        raise RuntimeError(
            f"ring buffer map id {ring.map_id} is being consumed in this thread: a callback "
            "cannot consume the ring map whose consumption called it, through this or "
            "another RingBuffer (return a true value to stop consumption instead)")

    def __enter__(self) -> None:
        me = _get_ident()
        every: List[OwnedLock] = _NONE_HELD
        try:
            # All free (the usual case): all taken at once under the lock that guards
            # every owner. ``all`` is read there: an add() changes it only while it
            # holds the buffer's lock, which is then free.
            with _graph:
                for lock in self.all:
                    if lock.owner:
                        break
                else:
                    every = self.all
                    for lock in every:
                        lock.owner = me
            if every:
                return
        except BaseException:
            # those of ``every`` that are ours (none was before) though the call did not
            # return: interrupted after they were taken
            unwait(_graph, _waiting_for, every, me)
            raise
        self._take_in_turn(me)

    def _take_in_turn(self, me: int) -> None:
        """Some lock is held: refuse re-entry, else take each lock, waiting for it."""
        buffer = self.buffer
        if buffer.owner == me:
            buffer.acquire(me)  # raises: same buffer, its own lock says so
        for ring in self.rings:
            if ring.owner == me:
                self._refuse(ring)
        held: List[OwnedLock] = []
        taking: Optional[OwnedLock] = buffer
        try:
            buffer.acquire(me)
            held.append(buffer)
            for ring in self.rings:  # (re-read: an add() in another thread may have run)
                if ring.owner == me:
                    self._refuse(ring)
                taking = ring
                ring.acquire(me)
                held.append(ring)
            taking = None
        except BaseException:
            # Every lock taken here is released, no other: ``taking`` may be ours though
            # acquire() did not return (interrupted after it took the lock). (In ``held``
            # too, maybe: unwait frees only what this thread owns, once.)
            unwait(_graph, _waiting_for, [*held, taking], me)
            raise

    # ``with``'s exit: LocksExit's __exit__ (_speedups.c), in C, as for OwnedLock: of
    # ``all``, it frees those this thread owns (it took them all in __enter__: a
    # callback's own consume of any of them is refused there), each handed to its first
    # waiter, in one call. (``all`` changes only under the buffer's lock, held here.)


class BufferState:
    """Everything a live buffer owns; freed when the last user lets go of it.

    ``close()`` only drops the buffer's reference: a thread inside
    ``poll()`` holds its own, so libbpf's object is freed after that call
    returns, never under it.
    """

    def __init__(self, free_fn: Any) -> None:
        self.ptr: Any = None  # the libbpf object, once made; free_fn(ptr) frees it
        self.free_fn = free_fn
        self.fds: List[int] = []
        self.maps: List[Any] = []  # the Map objects: closed maps make the buffer unusable
        self.keep: List[Any] = []  # cffi objects libbpf points to (contexts, handles)
        self.lock = BufferLock()
        self.consuming = ConsumeLock(self.lock)  # its rings: those of a ring buffer
        self.waiter: Optional[Waiter] = None

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


_B = TypeVar("_B", bound="BufferBase")


class BufferBase:
    """Shared life cycle of the three buffer kinds."""

    _kind = "buffer"

    def __init__(self) -> None:
        self._state: Optional[BufferState] = None

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called or a map of the buffer was closed."""
        st = self._state
        return st is None or st.maps_closed()

    def _check_open(self) -> BufferState:
        """The live state; ClosedError once the buffer or one of its maps is closed."""
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
        self._check_open()
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
        # checked before anything is consumed: a bad timeout raised only after the
        # records had gone to the callbacks, their count lost with the call
        wait_seconds(timeout_ms)
        n = consume()
        if n or timeout_ms == 0:
            return n
        if not self._wait(self._check_open(), timeout_ms):
            return 0
        return consume()

    def _wait(self, st: BufferState, timeout_ms: int) -> bool:
        """Wait for data; True if some may be there, False on timeout; ClosedError."""
        timeout_s = wait_seconds(timeout_ms)
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

