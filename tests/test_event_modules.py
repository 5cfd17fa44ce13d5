"""Where the buffer classes live, what they import, and their shared lock (no kernel needed).

The ring buffer, the user ring buffer and the perf buffer have one module each
(libbpf_py/ringbuf.py, user_ringbuf.py, perf_buffer.py) over a private
libbpf_py/_buffers.py; libbpf_py/events.py only re-exports them.
"""

from __future__ import annotations

import ast
import sys
import threading
import time
from pathlib import Path
from typing import Any, List

import pytest
from conftest import interrupt_at_c_return

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
    lock = BufferLock()
    rings = [RingLock(map_id) for map_id in (3, 1, 2)]
    consuming = ConsumeLock(lock)
    for ring in rings:
        consuming.add(ring)
    every: List[OwnedLock] = [lock, *rings]
    taken: OwnedLock = lock if held != "consume: middle ring" else rings[2]  # (map id 2)
    entered: Any = lock if held == "buffer lock" else consuming
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
                assert each._sleepers == [], where
    finally:
        done.set()
        thread.join(10)
    assert not thread.is_alive() and not any(each.owner for each in every)
    with entered:  # all free again
        pass


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
