"""Where the buffer classes live, what they import, and their shared lock (no kernel needed).

The ring buffer, the user ring buffer and the perf buffer have one module each
(libbpf_py/ringbuf.py, user_ringbuf.py, perf_buffer.py) over a private
libbpf_py/_buffers.py; libbpf_py/events.py only re-exports them.
"""

from __future__ import annotations

import ast
import threading
from pathlib import Path
from typing import List

import pytest

import libbpf_py
import libbpf_py.events as events
from libbpf_py._buffers import BufferLock, check_size, wait_seconds

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
