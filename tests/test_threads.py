"""Closing from another thread (or from a callback) while a call is in flight.

cffi releases the GIL during every C call, so another thread can close an
object while libbpf is inside a call on it. libbpf_py must then finish the call
on live memory and free the object afterwards (libbpf_py/_guard.py): these
tests close in exactly that window, on the real kernel.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
from pathlib import Path
from typing import List

import pytest
from conftest import Compile

from libbpf_py import BpfObject, ClosedError, Map, MapType

pytestmark = pytest.mark.kernel


@pytest.fixture
def object_o(kernel: None, compile_bpf: Compile) -> Path:
    return compile_bpf("object")


def _open_fds() -> int:
    """Open fds once garbage from earlier tests (maps, objects) is collected."""
    gc.collect()
    return len(os.listdir("/proc/self/fd"))


class _CloseOnMessage(logging.Handler):
    """Closes ``obj`` from inside libbpf's print callback, i.e. in the middle of load()."""

    def __init__(self, obj: BpfObject) -> None:
        super().__init__(logging.DEBUG)
        self.obj = obj
        self.closed_inside = False
        self.fds_at_close = -1

    def emit(self, record: logging.LogRecord) -> None:
        if not self.closed_inside and "prog '" in record.getMessage():
            self.obj.close()  # libbpf is still running bpf_object__load on it
            self.closed_inside = True
            self.fds_at_close = len(os.listdir("/proc/self/fd"))


def test_close_inside_load_is_deferred_until_load_returns(object_o: Path) -> None:
    """A close() made while bpf_object__load runs frees the object only after it."""
    logger = logging.getLogger("libbpf_py")
    before = _open_fds()
    obj = BpfObject.open(object_o)
    handler = _CloseOnMessage(obj)
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        obj.load()  # freed memory here would crash the interpreter, not fail a test
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    assert handler.closed_inside, "libbpf printed no per-program message during load"
    assert obj.closed
    # the maps and programs were still open when close() returned, and are gone now
    assert handler.fds_at_close > before
    assert _open_fds() == before
    assert not obj._guard.busy
    with pytest.raises(ClosedError):
        obj.programs  # noqa: B018
    obj.close()  # still idempotent


def _hammer_object(obj: BpfObject, start: threading.Barrier,
                   errors: List[BaseException]) -> None:
    """Read programs and maps of ``obj`` until it is closed under us."""
    progs, maps = list(obj.programs.values()), list(obj.maps.values())
    stats = obj.maps["stats"]
    start.wait()
    try:
        for n in range(100_000):
            p, m = progs[n % len(progs)], maps[n % len(maps)]
            seen = (p.name, p.type, p.fd, p.insn_count, m.name, m.max_entries, m.fd)
            assert all(x is not None for x in seen)
            stats.get(n % 4)
            stats[n % 4] = n
    except ClosedError:
        return
    except BaseException as exc:  # anything else is a bug
        errors.append(exc)


def test_close_while_threads_use_programs_and_maps(object_o: Path) -> None:
    """Threads reading programs and maps while another closes: ClosedError, never a crash."""
    before = _open_fds()
    for round_ in range(60):
        obj = BpfObject.open(object_o)
        obj.load()
        errors: List[BaseException] = []
        start = threading.Barrier(3)
        threads = [threading.Thread(target=_hammer_object, args=(obj, start, errors))
                   for _ in range(2)]
        for t in threads:
            t.start()
        start.wait()
        if round_ % 2:
            os.sched_yield()
        obj.close()
        for t in threads:
            t.join(timeout=60)
        assert not errors, errors
        assert all(not t.is_alive() for t in threads)
        assert not obj._guard.busy
    assert _open_fds() == before  # every object freed, every map fd copy closed


def _lookups(m: Map, go: threading.Event, errors: List[BaseException]) -> None:
    go.set()
    try:
        for _ in range(1_000_000):
            assert m[1] == 2
            assert m.max_entries == 16
    except ClosedError:
        return
    except BaseException as exc:
        errors.append(exc)


def test_standalone_map_closed_under_lookups(kernel: None) -> None:
    """A standalone map closed while a thread looks it up: ClosedError, fds all closed."""
    before = _open_fds()
    for _ in range(100):
        m = Map.create(MapType.HASH, 4, 8, 16)
        m[1] = 2
        errors: List[BaseException] = []
        go = threading.Event()
        t = threading.Thread(target=_lookups, args=(m, go, errors))
        t.start()
        go.wait()
        m.close()
        t.join(timeout=60)
        assert not errors, errors
        with pytest.raises(ClosedError):
            m[1]
    assert _open_fds() == before


def test_link_destroyed_during_a_call_never_reaches_the_next_link(
        kernel: None, compile_bpf: Compile, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Link (libbpf's) or FdLink destroyed by another thread while info() is between
    reading its fd and asking the kernel: the call ends on this link, which is freed
    after it. Links had no Guard: destroy() freed the struct bpf_link and closed the
    fd at once, and the next link made took the fd number, so info() (as detach() and
    update_program()) reached the other link."""
    from libbpf_py import Link
    from libbpf_py import link as link_module

    path = compile_bpf("minimal")
    real_info = link_module.link_info
    with BpfObject.open(path) as a, BpfObject.open(path) as b:
        a.load()
        b.load()
        for kind in ("Link", "FdLink"):
            raw = a.programs.handle_getpid.attach()
            first = raw if kind == "Link" else Link.from_id(raw.id)
            first_id = raw.info()["id"]
            made: List[Link] = []

            def destroy_and_attach(fd: int, first: Link = first,
                                   made: List[Link] = made) -> object:
                # what another thread may do while this one is inside info()
                monkeypatch.setattr(link_module, "link_info", real_info)
                first.destroy()
                made.append(b.programs.handle_getpid.attach())
                return real_info(fd)

            monkeypatch.setattr(link_module, "link_info", destroy_and_attach)
            got = first.info()
            assert made and got["id"] == first_id != made[0].info()["id"], kind
            assert first.closed
            with pytest.raises(ClosedError):
                first.info()
            made[0].destroy()
            raw.destroy()
