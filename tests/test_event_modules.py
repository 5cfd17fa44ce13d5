"""Where the buffer classes live, what they import, and their shared lock (no kernel needed).

The ring buffer, the user ring buffer and the perf buffer have one module each
(libbpf_py/ringbuf.py, user_ringbuf.py, perf_buffer.py) over a private
libbpf_py/_buffers.py; libbpf_py/events.py only re-exports them.
"""

from __future__ import annotations

import ast
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, List

import pytest
from conftest import interrupt_at_c_return, interrupt_twice

import libbpf_py
import libbpf_py.events as events
from libbpf_py import _buffers
from libbpf_py._buffers import (
    BufferLock,
    ConsumeLock,
    OwnedLock,
    RingLock,
    check_size,
    wait_seconds,
)

PACKAGE = Path(libbpf_py.__file__).resolve().parent
BUFFER_MODULES = ["_buffers", "ringbuf", "user_ringbuf", "perf_buffer"]
#: layers 1-4 of issue 18: what the buffer modules may import from the package
LOWER = {"errors", "_binding", "_call", "_validate", "_info", "_props", "_guard", "enums",
         "btf", "_codec", "map", "link", "_buffers"}
HOMES = {
    "RingBuffer": "ringbuf", "Ring": "ringbuf", "Batch": "ringbuf",
    "UserRingBuffer": "user_ringbuf", "Reservation": "user_ringbuf",
    "ReserveTimeoutError": "user_ringbuf", "PerfBuffer": "perf_buffer",
}


def test_each_buffer_class_has_its_module_and_events_reexports_it() -> None:
    assert sorted(events.__all__) == sorted(HOMES)
    for name, home in HOMES.items():
        obj = getattr(events, name)
        assert obj.__module__ == f"libbpf_py.{home}", name
        assert getattr(getattr(libbpf_py, home), name) is obj
        if name != "ReserveTimeoutError":  # documented under libbpf_py.user_ringbuf
            assert getattr(libbpf_py, name) is obj and name in libbpf_py.__all__


def _package_imports(tree: ast.Module) -> List[str]:
    names = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            names.append(node.module or "")
            if node.module is None:
                names.extend(alias.name for alias in node.names)
    return [n for n in names if n]


@pytest.mark.parametrize("module", BUFFER_MODULES)
def test_buffer_modules_import_only_lower_layers(module: str) -> None:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    assert set(_package_imports(tree)) <= LOWER
    top = {id(node) for node in tree.body}
    late = [ast.unparse(node) for node in ast.walk(tree)
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in top]
    # RingBuffer.events() imports asyncio lazily: 30 ms of import time for a rare path
    assert late == (["import asyncio"] if module == "ringbuf" else [])


def test_buffer_lock_serializes_and_refuses_reentry() -> None:
    lock = BufferLock()
    entered: List[bool] = []

    def other() -> None:
        with lock:
            entered.append(lock.held_here)

    assert not lock.held_here
    with lock:
        assert lock.held_here
        with pytest.raises(RuntimeError, match="cannot poll or consume it"):
            with lock:
                pass
        assert lock.held_here  # the refused re-entry left the lock as it was
        thread = threading.Thread(target=other)
        thread.start()
        thread.join(0.2)
        assert thread.is_alive() and not entered  # a second thread waits for the first
    thread.join(5)
    assert entered == [True] and not lock.held_here


@pytest.mark.parametrize("held", ["buffer lock", "consume: buffer", "consume: middle ring"])
def test_keyboard_interrupt_while_waiting_for_a_lock_leaves_the_graph_whole(
        monkeypatch: pytest.MonkeyPatch, held: str) -> None:
    # A thread waiting for a held OwnedLock (alone, or in a ConsumeLock of a buffer
    # and three rings), interrupted as any call into C returns (where CPython runs a
    # signal's handler), k = 1, 2, ...: it must raise the KeyboardInterrupt, hold
    # nothing, leave no trace of its wait, and leave _graph as it found it.
    # threading.Condition.wait() on _graph released _graph and let the exception out
    # before its try (then the ``with _graph`` released it again: RuntimeError 'release
    # unlocked lock', or, had another thread taken _graph meanwhile, that thread's
    # hold), and left its waiter queued, where it swallowed a later release's wake-up
    # (the real waiter slept its whole recheck slice).
    monkeypatch.setattr(_buffers, "_RECHECK_S", 0.005)  # more turns of the wait loop
    every, taken, entered = _locks_of(held)
    holding, done = threading.Event(), threading.Event()

    def holder() -> None:
        with taken:
            holding.set()
            done.wait(30)

    thread = threading.Thread(target=holder, daemon=True)
    thread.start()
    assert holding.wait(10)
    before = sys.getprofile()
    try:
        for k in range(1, 60):
            where: List[str] = []
            sys.setprofile(interrupt_at_c_return(k, where))
            try:
                with entered:
                    pass
            except KeyboardInterrupt:
                pass
            finally:
                sys.setprofile(before)
            assert where, f"call {k}: the wait ended without the interrupt"
            assert not any(each.held_here for each in every), where
            assert not _buffers._graph.locked(), where
            assert _buffers._waiting_for == {}, where
            for each in every:  # (a waiter left queued: a lost wake-up)
                assert not each._sleepers, where
    finally:
        done.set()
        thread.join(10)
    assert not thread.is_alive() and not any(each.owner for each in every)
    with entered:  # all free again
        pass


def _locks_of(held: str) -> Any:
    """A BufferLock and three RingLocks; the lock a holder takes, and what a thread enters."""
    lock = BufferLock()
    rings = [RingLock(map_id) for map_id in (3, 1, 2)]
    consuming = ConsumeLock(lock)
    for ring in rings:
        consuming.add(ring)
    every: List[OwnedLock] = [lock, *rings]
    taken: OwnedLock = lock if held != "consume: middle ring" else rings[2]  # (map id 2)
    entered: Any = lock if held == "buffer lock" else consuming
    return every, taken, entered


def _assert_left_whole(every: List[OwnedLock], where: List[str]) -> None:
    """This thread holds none of ``every``, waits for none, and _graph is free."""
    me = threading.get_ident()
    assert not any(each.owner == me for each in every), where
    assert not _buffers._graph.locked(), where
    assert me not in _buffers._waiting_for, where
    for each in every:  # (a waiter left queued: a release hands it the lock)
        assert not each._sleepers, where


def _enter_once(entered: Any, hook: Any) -> None:
    """``entered.__enter__()`` under ``hook``, then its ``__exit__`` (unhooked) if it returned.

    Not a ``with``: a signal as ``__exit__`` starts leaves any Python context manager
    held (OwnedLock.__exit__ says so); the interrupts here are those of the taking."""
    before = sys.getprofile()
    sys.setprofile(hook)
    try:
        entered.__enter__()
    except KeyboardInterrupt:
        return
    finally:
        sys.setprofile(before)
    entered.__exit__(None, None, None)


def _other_thread_enters(entered: Any) -> bool:
    """True if another thread takes ``entered`` (and leaves it) within 5 s."""
    thread = threading.Thread(target=lambda: entered.__enter__() or entered.__exit__(),
                              daemon=True)
    thread.start()
    thread.join(5)
    return not thread.is_alive()


@pytest.mark.parametrize("held", ["buffer lock", "consume: buffer", "consume: middle ring"])
def test_two_signals_while_taking_a_free_lock_leave_it_free(sigint_raises: None,
                                                            held: str) -> None:
    # SIGINT twice while taking free locks (nobody else holds any): the first
    # at the j-th place CPython runs a signal's handler, the second k places later,
    # in the cleanup of the first. Before, the second could leave the lock owned by
    # this thread (as release() started, in __enter__'s except): every other thread
    # then waited forever, and this one got "held by this thread already".
    every, _, entered = _locks_of(held)
    for j in range(1, 80):
        for k in range(1, 40):
            where: List[str] = []
            _enter_once(entered, interrupt_twice(k, j, where))
            _assert_left_whole(every, where)
            if len(where) < 2:  # no k-th place after the first: next j
                break
        if not where:  # fewer than j places: all done
            break
    assert j > 3 and _other_thread_enters(entered)


def _is_a_sleep(call: Any) -> bool:
    """True for a waiting thread's sleep: a lock's acquire while it is registered."""
    return (getattr(call, "__name__", None) == "acquire"
            and getattr(call, "__self__", None) is not _buffers._graph
            and threading.get_ident() in _buffers._waiting_for)


def _hold(taken: OwnedLock, holding: threading.Event, done: threading.Event,
          handed: bool) -> None:
    """Hold ``taken`` until ``done``, or (``handed``) until another thread sleeps on it:
    the release then hands it over."""
    with taken:
        holding.set()
        if handed:
            deadline = time.monotonic() + 10
            while not taken._sleepers and time.monotonic() < deadline:
                time.sleep(0.001)
            time.sleep(0.05)  # (it sleeps: registered just before)
        else:
            done.wait(30)


@pytest.mark.parametrize("how", ["still held", "handed over"])
@pytest.mark.parametrize("held", ["buffer lock", "consume: buffer", "consume: middle ring"])
def test_a_second_signal_in_a_waiters_cleanup_leaves_no_trace(
        monkeypatch: pytest.MonkeyPatch, sigint_raises: None, held: str, how: str) -> None:
    # A thread waits for a lock another holds; a first SIGINT ends its sleep
    # (the slice ran out with the lock still held, or the holder's release had handed
    # it the lock), a second arrives k places later, in the cleanup. Before, the second
    # could leave its entry queued (a later release handed the lock to a thread that
    # had left: every other thread then waited forever), its _waiting_for entry (a
    # false deadlock later), or the handed lock owned by it.
    handed = how == "handed over"
    monkeypatch.setattr(_buffers, "_RECHECK_S", 2.0 if handed else 0.01)
    for k in range(1, 40):
        every, taken, entered = _locks_of(held)
        holding, done = threading.Event(), threading.Event()
        thread = threading.Thread(target=_hold, args=(taken, holding, done, handed),
                                  daemon=True)
        thread.start()
        assert holding.wait(10)
        where: List[str] = []
        try:
            _enter_once(entered, interrupt_twice(k, _is_a_sleep, where))
            assert where, "the sleep ended without the first interrupt"
            _assert_left_whole(every, where)
        finally:
            done.set()
            thread.join(10)
        assert not thread.is_alive(), where
        assert _other_thread_enters(entered), f"another thread waits forever: {where}"
        assert not any(each.owner for each in every), where
        if len(where) < 2:  # no k-th place after the first
            break
    assert k > 2


def test_a_second_signal_while_a_waiters_cleanup_waits_for_the_graph_lock(
        monkeypatch: pytest.MonkeyPatch, sigint_raises: None) -> None:
    # Real SIGINTs to the main thread, waiting for a lock another thread holds: the first
    # ends its sleep; the second comes while its cleanup waits for _graph (another
    # thread holds it a while): lock.acquire() runs the handler as it waits, and raises.
    # Before, the cleanup (a ``with _graph`` block) was skipped, the waiter left queued:
    # the holder's release handed it the lock as it had left, and another thread then
    # waited forever. Now the wait for _graph is resumed, the cleanup done, and the
    # second KeyboardInterrupt raised after it.
    monkeypatch.setattr(_buffers, "_RECHECK_S", 5.0)  # (the waiter sleeps throughout)
    assert threading.current_thread() is threading.main_thread()
    lock = BufferLock()
    holding, done, sent = threading.Event(), threading.Event(), []
    holder = threading.Thread(target=_hold, args=(lock, holding, done, False), daemon=True)
    holder.start()
    assert holding.wait(10)
    main = threading.get_ident()

    def interrupter() -> None:
        deadline = time.monotonic() + 10
        while not lock._sleepers and time.monotonic() < deadline:
            time.sleep(0.001)
        time.sleep(0.05)  # (asleep)
        with _buffers._graph:
            for _ in range(2):  # the first ends the sleep, the second the wait for _graph
                signal.pthread_kill(main, signal.SIGINT)
                sent.append(time.monotonic())
                time.sleep(0.2)
    thread = threading.Thread(target=interrupter, daemon=True)
    thread.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            with lock:
                pass
        thread.join(10)
        assert len(sent) == 2
        assert lock.owner == holder.ident  # (still held)
        assert not lock._sleepers and main not in _buffers._waiting_for
    finally:
        done.set()
        holder.join(10)
    assert _other_thread_enters(lock), "the holder's release handed the lock to the main thread"


def test_unwait_hands_an_owned_lock_to_its_first_waiter_as_a_release_does() -> None:
    # The C cleanup (_speedups.unwait) of a thread that owns a lock others wait for: the
    # first waiter gets it (owner, its _waiting_for entry gone, its sleeper woken), the
    # second waits on; what the thread waited for itself is forgotten; graph is free.
    me, graph, waiting_for = threading.get_ident(), threading.Lock(), {}
    lock, other = OwnedLock(), OwnedLock()
    first, second, mine = threading.Lock(), threading.Lock(), threading.Lock()
    for sleeper in (first, second, mine):
        sleeper.acquire()
    lock.owner = me
    lock._sleepers.update({11: first, 12: second})
    other._sleepers[me] = mine
    waiting_for.update({11: lock, 12: lock, me: other})
    _buffers.unwait(graph, waiting_for, [other, None, lock], me)
    assert lock.owner == 11 and not first.locked() and lock._sleepers == {12: second}
    assert second.locked() and waiting_for == {12: lock}
    assert other.owner == 0 and not other._sleepers and not graph.locked()
    _buffers.unwait(graph, waiting_for, [lock], me)  # (again: nothing of it is ours)
    assert lock.owner == 11 and waiting_for == {12: lock}
    with pytest.raises(AttributeError):
        _buffers.unwait(graph, waiting_for, [lock, object()], me)
    assert not graph.locked()  # (and the other locks left all the same)
    with pytest.raises(TypeError):
        _buffers.unwait(graph, waiting_for, (lock,), me)  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        _buffers.unwait(object(), waiting_for, [lock], me)

    class NoLock:
        def acquire(self) -> None:  # (not a signal: it fails each time)
            raise ValueError("not a lock")

    with pytest.raises(ValueError, match="not a lock"):  # given up, not waited forever
        _buffers.unwait(NoLock(), waiting_for, [lock], me)


def test_unwait_raises_the_exception_of_its_interrupted_wait_not_a_later_error() -> None:
    # unwait's wait for graph cut short by a signal's exception (here acquire() raises
    # KeyboardInterrupt once): the wait resumes, the locks are left, and that exception
    # is raised once all is done, also when leaving a lock failed afterwards (the old
    # code raised the lock's later AttributeError instead: the interrupt was lost).
    me = threading.get_ident()

    class Graph:
        def __init__(self) -> None:
            self.lock, self.calls = threading.Lock(), 0

        def acquire(self) -> bool:
            self.calls += 1
            if self.calls == 1:
                raise KeyboardInterrupt
            return self.lock.acquire()

        def release(self) -> None:
            self.lock.release()

    lock, graph = OwnedLock(), Graph()
    lock.owner = me
    with pytest.raises(KeyboardInterrupt):
        _buffers.unwait(graph, {}, [lock, object()], me)  # (object() is left first)
    assert lock.owner == 0 and graph.calls == 2 and not graph.lock.locked()


@pytest.mark.parametrize("way", ["buffer lock", "consume lock"])
def test_a_waiter_gets_the_lock_from_a_thread_that_takes_it_again_at_once(way: str) -> None:
    # Thread A consumes in a loop: it takes the lock again right after releasing it,
    # holding the GIL, before the waiter it woke has run. A waiter that only looks
    # again when woken (or every recheck slice) finds it held each time: B waited as
    # long as A went on (a second or more, A's turns by the thousand). A release now
    # hands the lock to the first waiter.
    lock = BufferLock()
    consuming = ConsumeLock(lock)
    consuming.add(RingLock(1))
    entered: Any = lock if way == "buffer lock" else consuming
    started, got = threading.Event(), threading.Event()
    turns = [0]

    def a() -> None:
        deadline = time.monotonic() + 4
        while not got.is_set() and time.monotonic() < deadline:
            with entered:
                turns[0] += 1
                started.set()
                time.sleep(0.001)  # (the GIL goes to B here, the lock held)

    thread = threading.Thread(target=a, daemon=True)
    thread.start()
    assert started.wait(10)
    t0, before = time.monotonic(), turns[0]
    with entered:
        waited, meanwhile = time.monotonic() - t0, turns[0] - before
        got.set()
    thread.join(15)
    assert not thread.is_alive()
    # (A's turn under way as B came, and one B may have missed while not yet waiting)
    assert meanwhile <= 3, f"B waited {waited:.2f} s while A took the lock {meanwhile} times"


def test_size_and_timeout_arguments_use_the_common_words() -> None:
    assert check_size(4096, "size") == 4096
    with pytest.raises(ValueError, match=r"^size = -1 does not fit an unsigned 64-bit int "
                                         r"\(range 0\.\.18446744073709551615\)$"):
        check_size(-1, "size")
    with pytest.raises(TypeError, match=r"^page_cnt must be an int, not bool$"):
        check_size(True, "page_cnt")
    assert wait_seconds(-1) is None and wait_seconds(0) == 0.0 and wait_seconds(1500) == 1.5
    assert wait_seconds(1 << 40) == (1 << 40) / 1000  # no C int: Python does the wait
    with pytest.raises(TypeError, match=r"^timeout_ms must be an int, not float$"):
        wait_seconds(1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeout_ms must be >= 0, or -1"):
        wait_seconds(-2)
