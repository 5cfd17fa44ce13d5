"""Lifetimes and races of the hot paths (issue 14): nothing Python can hold
outlives its memory, no view shows another record, no thread race makes a map
write land in another map.

Each test here reproduced a crash or a silent wrong value on the code before
the fix; the ones that crashed the interpreter run in a child process, so a
regression fails the test instead of killing the run.
"""

from __future__ import annotations

import gc
import os
import struct
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Iterator, List

import pytest
from conftest import Compile

import libbpf_py as bpf
from libbpf_py import BpfObject, Map

pytestmark = pytest.mark.kernel

RING_A, PERF, DRAIN_USER = 1, 4, 8


@pytest.fixture
def events_o(kernel: None, compile_bpf: Compile) -> Path:
    return compile_bpf("events")


@pytest.fixture
def events(events_o: Path) -> Iterator[BpfObject]:
    """The events object, loaded and attached to getpid()."""
    with BpfObject.open(events_o) as obj:
        obj.load()
        link = obj.programs.on_getpid.attach()
        try:
            yield obj
        finally:
            link.destroy()


def _trigger(obj: BpfObject, count: int, mode: int) -> None:
    """Emit ``count`` records of 64 bytes into the ``mode`` rings with one getpid()."""
    cfg, pid = obj.maps.ev_config, os.getpid()
    cfg[0] = struct.pack("IIII", pid, count, mode, 0)
    os.getpid()
    cfg[0] = struct.pack("IIII", pid, 0, 0, 0)  # stray getpid()s emit nothing


# -- defect 1: the int path's fd after a first-use race ----------------------------------


def test_first_use_race_never_writes_into_another_map(kernel: None,
                                                       compile_bpf: Compile) -> None:
    """8 threads make a map's element state at once, many times over: the C int
    path's fd is always the installed state's own, and a write never lands in a
    map created afterwards (which may reuse a closed fd number)."""
    path = compile_bpf("maps")
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as CPython can
    try:
        for attempt in range(30):
            with BpfObject.open(path) as obj:
                obj.load()
                counts = obj.maps.counts
                barrier = threading.Barrier(8)
                errors: List[BaseException] = []

                def hammer(tid: int, m: Map = counts, b: threading.Barrier = barrier,
                           errors: List[BaseException] = errors) -> None:
                    try:
                        b.wait()
                        for i in range(50):
                            m[tid] = i
                    except BaseException as exc:  # pragma: no cover - reported below
                        errors.append(exc)

                threads = [threading.Thread(target=hammer, args=(t,)) for t in range(8)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                assert not errors, f"attempt {attempt}: {errors[0]!r}"
                state = counts._elements
                assert state is not None and state.fast is not None
                assert counts._fast_fd == state.fast[0] == state.fd, f"attempt {attempt}"
                other = Map.create("hash", 4, 8, 64)
                try:
                    counts[1] = 5
                    counts[7] = 0xDEAD
                    assert counts.lookup(7) == 0xDEAD and counts.lookup(1) == 5
                    assert 7 not in other and len(list(other.keys())) == 0
                finally:
                    other.close()
    finally:
        sys.setswitchinterval(old)


# -- defect 2: a kept slice of a ring buffer record ---------------------------------------


def test_kept_ring_record_slice_survives_drain_close_and_free(events_o: Path) -> None:
    """A slice kept from a callback's view still reads its own record after the
    batch memory is replaced (a larger drain), and after the buffer is closed
    and freed (it crashed the interpreter, exit status 139, before)."""
    script = textwrap.dedent(f"""
        import gc, os, struct
        import libbpf_py as bpf
        obj = bpf.BpfObject.open({str(events_o)!r}); obj.load()
        link = obj.programs.on_getpid.attach()
        pid = os.getpid()
        def trigger(n):
            obj.maps.ev_config[0] = struct.pack("IIII", pid, n, {RING_A}, 0)
            os.getpid()
            obj.maps.ev_config[0] = struct.pack("IIII", pid, 0, 0, 0)
        kept, whole = [], []
        def callback(view):
            whole.append(bytes(view))
            kept.append(view[:])
            kept.append(memoryview(view)[8:])
            kept.append(view)
        rb = bpf.RingBuffer(obj.maps.ring_a, callback)
        trigger(3)
        assert rb.poll(1000) == 3
        trigger(200)
        assert len(rb.drain(1000, max_records=100000, max_bytes=1 << 22)) == 200
        trigger(5)
        assert rb.poll(1000) == 5
        rb.close(); del rb; gc.collect()
        junk = [bytearray(b"x" * 4096) for _ in range(2000)]
        got = [bytes(k) for k in kept]
        want = [w[i:] for w in whole for i in (0, 8, 0)]
        assert got == want, "a kept slice shows other bytes"
        link.destroy(); obj.close()
        print("ok", len(got))
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0 and r.stdout.split() == ["ok", "24"], (
        f"exit {r.returncode}\n{r.stdout}\n{r.stderr[-3000:]}")


# -- defect 10: stale views -----------------------------------------------------------------


def test_record_views_never_show_another_record(events: BpfObject) -> None:
    """A kept view, the previous record's view seen from the next call, a kept slice
    and a kept export never show another record (the view that is reused for the
    next record is only ever one nobody else holds)."""
    kept: List[bpf.RecordView] = []
    slices: List[bytes] = []
    exports: List[memoryview] = []
    first: List[bytes] = []
    prev: List[bpf.RecordView] = []
    aliased: List[int] = []

    def callback(view: bpf.RecordView) -> None:
        if prev and bytes(prev[-1]) != first[-1]:  # the previous view, seen from here
            aliased.append(len(first))
        first.append(bytes(view))
        prev[:] = [view]
        if len(first) % 3 == 0:
            kept.append(view)
        if len(first) % 5 == 0:
            exports.append(memoryview(view)[4:])
        slices.append(view[:16])

    with bpf.RingBuffer(events.maps.ring_a, callback) as rb:
        for _ in range(5):
            _trigger(events, 40, RING_A)
            assert rb.poll(1000) == 40
    assert len(first) == 200 and len(set(first)) == 200  # every record differs (seq)
    assert aliased == [], "the previous record's view showed a later record"
    assert [bytes(v) for v in kept] == first[2::3]
    assert [bytes(e) for e in exports] == [f[4:] for f in first[4::5]]
    assert slices == [f[:16] for f in first]


def test_perf_record_slices_keep_their_own_record(events: BpfObject) -> None:
    got: List[bytes] = []
    slices: List[memoryview] = []

    def sample(cpu: int, view: memoryview) -> None:
        got.append(bytes(view))
        slices.append(view[:24])

    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    try:
        with bpf.PerfBuffer(events.maps.perf, sample) as pb:
            for _ in range(3):
                _trigger(events, 20, PERF)
                pb.poll(1000)
    finally:
        os.sched_setaffinity(0, range(os.cpu_count() or 1))
    assert len(got) == 60 and len(set(got)) == 60
    assert [bytes(s) for s in slices] == [g[:24] for g in got]


def test_kept_reservation_slice_never_reaches_the_ring(events: BpfObject) -> None:
    """Writes through a slice of a reservation's buffer kept past submit() go to
    the reservation's own staging copy: the BPF side gets what was submitted."""
    with bpf.UserRingBuffer(events.maps.uring) as urb:
        r = urb.reserve(8)
        kept = r.buffer[:]
        kept[:] = struct.pack("Q", 5)
        r.submit()
        kept[:] = struct.pack("Q", 1000)  # after submit: must not reach the ring
        r2 = urb.reserve(8)
        kept2 = r2.buffer[:]
        r2.buffer[:] = struct.pack("Q", 6)
        r2.submit()
        kept2[:] = struct.pack("Q", 2000)
        _trigger(events, 0, DRAIN_USER)
    u = events.maps.ev_ustats[0]
    assert (int(u.count), int(u.sum), int(u.last), int(u.bad)) == (2, 11, 6, 0)
    gc.collect()
