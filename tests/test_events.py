"""Ring buffers, user ring buffers and perf buffers on the real kernel.

tests/bpf/events.bpf.c emits records of 64 bytes (``struct ev_event``) on the
test process's own getpid() calls, into the rings that ``ev_config.mode``
selects, and drains the user ring buffer into ``ev_ustats``.
"""

from __future__ import annotations

import _thread
import asyncio
import contextlib
import ctypes
import errno
import gc
import os
import random
import signal
import struct
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Iterator, List, Optional, Tuple

import pytest
from conftest import Compile, interrupt_at_c_return, interrupt_twice

import libbpf_py as bpf
from libbpf_py import _buffers as buffers_module
from libbpf_py import perf_buffer as perf_buffer_module
from libbpf_py import ringbuf as ringbuf_module
from libbpf_py import user_ringbuf as user_ringbuf_module
from libbpf_py.errors import ClosedError, LibbpfError, LibbpfVersionError
from libbpf_py.events import ReserveTimeoutError

pytestmark = pytest.mark.kernel

RING_A, RING_B, PERF, DRAIN_USER, SMALL = 1, 2, 4, 8, 16
EVENT = struct.Struct("IIQ48s")  # struct ev_event: ring, seq, tgid_pid, payload


class Event(ctypes.Structure):
    _fields_ = [("ring", ctypes.c_uint32), ("seq", ctypes.c_uint32),
                ("tgid_pid", ctypes.c_uint64), ("payload", ctypes.c_ubyte * 48)]


class Env:
    """The loaded events object, attached, and the knobs of its program."""

    def __init__(self, obj: bpf.BpfObject, link: bpf.Link) -> None:
        self.obj = obj
        self.link = link
        self.pid = os.getpid()

    def trigger(self, count: int, mode: int) -> None:
        """Emit ``count`` records into the ``mode`` rings with one getpid()."""
        cfg = self.obj.maps.ev_config
        cfg[0] = struct.pack("IIII", self.pid, count, mode, 0)
        os.getpid()
        cfg[0] = struct.pack("IIII", self.pid, 0, 0, 0)  # stray getpid()s emit nothing

    def seq(self, which: int) -> int:
        """The next sequence number of destination ``which`` (0: a, 1: b, 2: perf)."""
        return int(self.obj.maps.ev_counters[0].seq[which])

    def dropped(self, which: int) -> int:
        return int(self.obj.maps.ev_counters[0].dropped[which])


@pytest.fixture
def env(kernel: None, compile_bpf: Compile) -> Iterator[Env]:
    obj = bpf.BpfObject.open(compile_bpf("events"))
    try:
        obj.load()
        link = obj.programs.on_getpid.attach()
        try:
            yield Env(obj, link)
        finally:
            link.destroy()
    finally:
        obj.close()


def poll_until(rb: Any, done: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, "records did not arrive in time"
        rb.poll(100)


def unpack(view: Any) -> Tuple[int, int, int]:
    ring, seq, tgid_pid, _ = EVENT.unpack_from(view)
    return ring, seq, tgid_pid


# -- ring buffers ------------------------------------------------------------------------


def test_two_rings_every_record_in_order(env: Env) -> None:
    got: dict[int, List[Tuple[int, int, int]]] = {0: [], 1: []}
    kept: List[bpf.RecordView] = []

    def on_a(view: bpf.RecordView) -> None:
        assert isinstance(view, bpf.RecordView) and view.nbytes == EVENT.size
        if not kept:
            kept.append(view)
        got[0].append(unpack(view))

    def on_b(view: memoryview) -> None:
        got[1].append(unpack(view))

    base_a, base_b = env.seq(0), env.seq(1)
    n = 1000
    with bpf.RingBuffer(env.obj.maps.ring_a, on_a) as rb:
        ring_b = rb.add(env.obj.maps.ring_b, on_b)
        assert [r.name for r in rb.rings] == ["ring_a", "ring_b"] and ring_b.index == 1
        assert rb.fileno() >= 0
        env.trigger(n, RING_A | RING_B)
        poll_until(rb, lambda: len(got[0]) + len(got[1]) >= 2 * n)
        assert rb.poll(0) == 0
    assert [seq for _, seq, _ in got[0]] == list(range(base_a, base_a + n))
    assert [seq for _, seq, _ in got[1]] == list(range(base_b, base_b + n))
    assert {ring for ring, _, _ in got[0]} == {0} and {ring for ring, _, _ in got[1]} == {1}
    assert {tp >> 32 for _, _, tp in got[0] + got[1]} == {env.pid}
    assert env.dropped(0) == env.dropped(1) == 0
    # the view kept past its callback reads a copy of its own record
    assert kept[0].copied and unpack(kept[0]) == got[0][0]


def test_records_read_in_place_across_the_ring_end(env: Env) -> None:
    """A one-page ring: records of 8 to 64 bytes and discarded ones wrap around its end
    hundreds of times. poll() reads them in place (through the ring's double mapping):
    each arrives once, whole, in order; discarded ones never; a view kept past its
    callback and an export of one keep their own record after the ring moved on."""
    got: List[Tuple[int, bytes]] = []
    kept: List[Tuple[int, Any]] = []
    exports: List[Tuple[int, memoryview]] = []

    def on_small(view: bpf.RecordView) -> None:
        seq = int.from_bytes(view[:8], "little")
        got.append((seq, bytes(view)))
        if seq % 97 == 0:
            kept.append((seq, view))
        if seq % 89 == 0:
            exports.append((seq, memoryview(view).cast("Q")))

    first = int(env.obj.var("small_seq"))
    rounds, per_round = 300, 20
    with bpf.RingBuffer(env.obj.maps.ring_small, on_small) as rb:
        for _ in range(rounds):
            env.trigger(per_round, SMALL)
            assert rb.poll(1000) == per_round
        assert rb.poll(0) == 0
    assert int(env.obj.var("small_dropped")) == 0, "the ring overflowed: the test is void"
    seqs = [seq for seq, _ in got]
    assert seqs == list(range(first, first + rounds * per_round))
    for seq, data in got:
        assert data == seq.to_bytes(8, "little") * (1 + seq % 8), seq
    assert kept and all(bytes(v) == seq.to_bytes(8, "little") * (1 + seq % 8) and v.copied
                        for seq, v in kept)
    assert exports and all(list(m) == [seq] * (1 + seq % 8) for seq, m in exports)


def test_records_decoded(env: Env) -> None:
    out: dict[str, List[Any]] = {"btf": [], "ctypes": [], "bytes": [], "fn": []}
    maps = env.obj.maps
    with bpf.RingBuffer(maps.ring_a, out["btf"].append, record="struct ev_event") as rb:
        rb.add(maps.ring_b, out["ctypes"].append, record=Event)
        base = env.seq(0)
        env.trigger(3, RING_A | RING_B)
        poll_until(rb, lambda: len(out["btf"]) == 3 and len(out["ctypes"]) == 3)
    assert [e.seq for e in out["btf"]] == [base, base + 1, base + 2]
    assert out["btf"][0].tgid_pid >> 32 == env.pid and out["btf"][0].ring == 0
    assert bytes(out["btf"][0].payload) == b"\xab" * 48
    assert [e.ring for e in out["ctypes"]] == [1, 1, 1]
    with bpf.RingBuffer(maps.ring_a, out["bytes"].append, record=bytes) as rb:
        rb.add(maps.ring_b, out["fn"].append, record=lambda b: unpack(b)[1])
        env.trigger(2, RING_A | RING_B)
        poll_until(rb, lambda: len(out["bytes"]) == 2 and len(out["fn"]) == 2)
    assert all(type(b) is bytes and len(b) == 64 for b in out["bytes"])
    assert out["fn"][1] == out["fn"][0] + 1


def test_record_bad_inputs(env: Env) -> None:
    maps = env.obj.maps
    with pytest.raises(ValueError, match="has no type 'struct nope'"):
        bpf.RingBuffer(maps.ring_a, print, record="struct nope")
    with pytest.raises(TypeError, match="record= must be"):
        bpf.RingBuffer(maps.ring_a, print, record=42)
    # (libbpf's find by an empty name gave the first anonymous type: every record decoded
    # as, say, anon_12(type=0, ...); a lone surrogate raised a bare UnicodeEncodeError)
    with pytest.raises(ValueError, match=r"record= \(a BTF type name\) is empty"):
        bpf.RingBuffer(maps.ring_a, print, record="")
    with pytest.raises(ValueError, match=r"record= .* cannot be encoded for C"):
        bpf.RingBuffer(maps.ring_a, print, record="struct \ud800")
    with pytest.raises(TypeError, match="callback must be callable"):
        bpf.RingBuffer(maps.ring_a, "print")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs a RINGBUF map; map 'ev_config' is ARRAY"):
        bpf.RingBuffer(maps.ev_config, print)
    with pytest.raises(TypeError, match="needs a libbpf_py Map"):
        bpf.RingBuffer(3, print)
    with pytest.raises(ValueError, match="needs a PERF_EVENT_ARRAY map"):
        bpf.PerfBuffer(maps.ring_a, print)
    with pytest.raises(ValueError, match="power of two"):
        bpf.PerfBuffer(maps.perf, print, page_cnt=3)
    with pytest.raises(ValueError, match="needs a USER_RINGBUF map"):
        bpf.UserRingBuffer(maps.ring_a)

    class Big(ctypes.Structure):
        _fields_ = [("x", ctypes.c_uint64 * 9)]

    with bpf.RingBuffer(maps.ring_a, print, record=Big) as rb:
        env.trigger(1, RING_A)
        with pytest.raises(ValueError, match=r"a record of 64 bytes .* too short for Big \(72"):
            rb.poll(1000)
        with pytest.raises(ValueError, match="timeout_ms must be >= 0, or -1"):
            rb.poll(-5)
        with pytest.raises(TypeError, match="timeout_ms must be an int"):
            rb.poll(1.5)  # type: ignore[arg-type]

@pytest.mark.parametrize("timeout", [-5, 1.5, "0"], ids=repr)
def test_a_bad_timeout_consumes_nothing(env: Env, timeout: Any) -> None:
    """poll() and drain() check timeout_ms before they take any record: drain() took a
    batch from the kernel and then raised, the batch lost; poll() handed the records
    to the callbacks and raised, their count lost."""
    maps = env.obj.maps
    got: List[int] = []
    with bpf.RingBuffer(maps.ring_a, lambda view: got.append(unpack(view)[1])) as rb, \
            bpf.PerfBuffer(maps.perf, lambda cpu, view: got.append(unpack(view)[1])) as pb:
        base_a, base_p = env.seq(0), env.seq(2)
        env.trigger(3, RING_A | PERF)
        for call in (rb.poll, rb.drain, pb.poll):
            with pytest.raises((TypeError, ValueError), match="timeout_ms"):
                call(timeout)
        assert got == []
        assert [unpack(r)[1] for r in rb.drain()] == [base_a, base_a + 1, base_a + 2]
        poll_until(pb, lambda: len(got) == 3)
        assert got == [base_p, base_p + 1, base_p + 2]


def test_size_arguments_name_themselves(env: Env) -> None:
    """Counts, sizes and indexes go through _validate.check_int under their own names."""
    maps = env.obj.maps
    with pytest.raises(ValueError, match=r"^page_cnt = -1 does not fit an unsigned 64-bit int"):
        bpf.PerfBuffer(maps.perf, print, page_cnt=-1)
    with pytest.raises(TypeError, match=r"^page_cnt must be an int, not float$"):
        bpf.PerfBuffer(maps.perf, print, page_cnt=8.0)  # type: ignore[arg-type]
    with bpf.PerfBuffer(maps.perf, print, page_cnt=1) as pb:
        with pytest.raises(ValueError, match=r"^index = -1 does not fit"):
            pb.buffer_fd(-1)
        with pytest.raises(TypeError, match=r"^index must be an int, not str$"):
            pb.consume_buffer("0")  # type: ignore[arg-type]
    with bpf.RingBuffer(maps.ring_a, print) as rb:
        with pytest.raises(ValueError, match=r"^max_bytes = -1 does not fit"):
            rb.drain(max_bytes=-1)
        with pytest.raises(TypeError, match=r"^max_records must be an int, not str$"):
            rb.drain(max_records="1")  # type: ignore[arg-type]
    with bpf.UserRingBuffer(maps.uring) as urb:
        with pytest.raises(TypeError, match=r"^size must be an int, not bool$"):
            urb.reserve(True)


def test_btf_record_of_a_standalone_map_without_btf(env: Env) -> None:
    m = bpf.Map.from_id(env.obj.maps.ring_a.id)  # ring maps carry no BTF of their own
    try:
        with pytest.raises(ValueError, match="map 'ring_a' has no BTF: record='struct ev_event'"):
            bpf.RingBuffer(m, print, record="struct ev_event")
        with bpf.RingBuffer(m, print, record=Event) as rb:  # a ctypes type needs no BTF
            assert rb.rings[0].name == "ring_a"
    finally:
        m.close()



@pytest.mark.parametrize("name, make", [
    ("ring_a", lambda m: bpf.RingBuffer(m)),
    ("perf", lambda m: bpf.PerfBuffer(m, sample=print)),
    ("uring", lambda m: bpf.UserRingBuffer(m)),
])
def test_a_read_only_map_handle_is_refused_saying_why(env: Env, bpffs_dir: Path, name: str,
                                                      make: Callable[[Any], Any]) -> None:
    """Every buffer writes to its map; on a handle of Map.from_pinned(read_only=True) libbpf
    failed with a bare EACCES (ring), EPERM (perf) or EINVAL (user ring)."""
    env.obj.maps[name].pin(bpffs_dir / name)
    with bpf.Map.from_pinned(bpffs_dir / name, read_only=True) as m:
        with pytest.raises(LibbpfError, match="this handle was opened read-only") as caught:
            make(m)
        assert caught.value.errno == errno.EACCES
    with bpf.Map.from_pinned(bpffs_dir / name) as m:  # read-write: works
        make(m).close()


def test_callback_exception_propagates_nothing_lost(env: Env,
                                                    capfd: pytest.CaptureFixture[str]) -> None:
    seen: List[int] = []

    class Boom(Exception):
        pass

    def on_record(view: memoryview) -> None:
        seq = unpack(view)[1]
        seen.append(seq)
        if len(seen) == 5:
            raise Boom(f"record {seq}")

    base = env.seq(0)
    with bpf.RingBuffer(env.obj.maps.ring_a, on_record) as rb:
        env.trigger(20, RING_A)
        with pytest.raises(Boom, match=f"record {base + 4}") as info:
            rb.poll(1000)
        assert "on_record" in "".join(traceback.format_tb(info.value.__traceback__))
        assert len(seen) == 5
        assert rb.consume() == 15
    assert seen == list(range(base, base + 20))
    out, err = capfd.readouterr()
    assert "Boom" not in out + err and "Traceback" not in out + err


def test_true_return_stops_consumption(env: Env) -> None:
    seen: List[int] = []

    def on_record(view: memoryview) -> int:
        seen.append(unpack(view)[1])
        return 1 if len(seen) % 3 == 0 else 0

    base = env.seq(0)
    with bpf.RingBuffer(env.obj.maps.ring_a, on_record) as rb:
        env.trigger(10, RING_A)
        assert rb.poll(1000) == 3
        assert rb.consume() == 3
        assert rb.consume() == 3
        assert rb.consume() == 1
        assert rb.consume() == 0
    assert seen == list(range(base, base + 10))


class _Truth:
    """A callback result whose truth is its own __bool__ (raising, given an exception)."""

    def __init__(self, truth: Any) -> None:
        self.truth = truth

    def __bool__(self) -> bool:
        if isinstance(self.truth, Exception):
            raise self.truth
        return bool(self.truth)


class _IntZero(int):
    pass


@pytest.mark.parametrize("result, stops", [
    (None, False), (False, False), (0, False), (_IntZero(0), False), (0.0, False),
    ("", False), (_Truth(False), False),
    (True, True), (1, True), (-1, True), (2**70, True), (_IntZero(5), True), ("x", True),
    (_Truth(True), True),
], ids=repr)
def test_a_callback_result_stops_by_its_truth(env: Env, result: Any, stops: bool) -> None:
    """The ring loop tells None, False and 0 by identity: every other result still
    goes through its truth, whatever its type."""
    seen: List[int] = []

    def on_record(view: memoryview) -> Any:
        seen.append(unpack(view)[1])
        return result

    with bpf.RingBuffer(env.obj.maps.ring_a, on_record) as rb:
        env.trigger(4, RING_A)
        assert rb.consume() == (1 if stops else 4)
        assert len(seen) == (1 if stops else 4)


def test_a_callback_result_whose_truth_raises(env: Env) -> None:
    with bpf.RingBuffer(env.obj.maps.ring_a, lambda v: _Truth(ZeroDivisionError("no truth"))
                        ) as rb:
        env.trigger(2, RING_A)
        with pytest.raises(ZeroDivisionError, match="no truth"):
            rb.consume()
        with pytest.raises(ZeroDivisionError, match="no truth"):  # the first one consumed
            rb.consume()
        assert rb.consume() == 0


def test_callback_cannot_reenter(env: Env) -> None:
    holder: List[bpf.RingBuffer] = []
    with bpf.RingBuffer(env.obj.maps.ring_a, lambda v: holder[0].poll(0)) as rb:
        holder.append(rb)
        env.trigger(1, RING_A)
        with pytest.raises(RuntimeError, match="cannot poll or consume it"):
            rb.poll(1000)


# how a second RingBuffer of the map consumes it (within a callback, or in another thread)
_SAME_MAP_WAYS: dict[str, Callable[[bpf.RingBuffer], int]] = {
    "consume": lambda rb: rb.consume(),
    "poll": lambda rb: rb.poll(0),
    "drain": lambda rb: len(rb.drain()),
    "ring_consume": lambda rb: rb.rings[0].consume(),
    "consume_n": lambda rb: rb.consume_n(100),
}


@pytest.mark.parametrize("outer", [
    "consume", "poll",
    pytest.param("consume_n", marks=pytest.mark.build(header_min=(1, 5))),
    pytest.param("ring_consume", marks=pytest.mark.build(header_min=(1, 3))),
])
@pytest.mark.parametrize("inner", [
    "consume", "poll", "drain", "new_in_callback",
    pytest.param("consume_n", marks=pytest.mark.build(header_min=(1, 5))),
    pytest.param("ring_consume", marks=pytest.mark.build(header_min=(1, 3))),
])
def test_callback_cannot_consume_its_map_through_another_buffer(
        env: Env, outer: str, inner: str) -> None:
    # Two RingBuffers of one map share the kernel's consumer position: the second,
    # consuming inside the first's callback, would move it past the record the
    # first is showing, and the first would then store its own older position
    # back (records delivered twice, a view over reused memory). It is refused
    # as re-entry into the same buffer is.
    m = env.obj.maps.ring_a
    seen: List[Tuple[str, int]] = []
    refused: List[RuntimeError] = []
    others: List[bpf.RingBuffer] = []

    def on_inner(view: Any) -> None:
        seen.append(("inner", unpack(view)[1]))

    def on_outer(view: Any) -> None:
        seen.append(("outer", unpack(view)[1]))
        if len(seen) == 1:
            other = bpf.RingBuffer(m, on_inner) if inner == "new_in_callback" else others[0]
            others.append(other)
            try:
                _SAME_MAP_WAYS["consume" if inner == "new_in_callback" else inner](other)
            except RuntimeError as exc:
                refused.append(exc)

    base, n = env.seq(0), 20
    with bpf.RingBuffer(m, on_inner) as rb2, bpf.RingBuffer(m, on_outer) as rb1:
        others.append(rb2)
        env.trigger(n, RING_A)
        _SAME_MAP_WAYS[outer](rb1)
        while _SAME_MAP_WAYS[outer](rb1):
            pass
        for other in others:
            assert other.consume() == 0 and len(other.drain()) == 0
        for other in others[1:]:
            other.close()
    assert [seq for _, seq in seen] == list(range(base, base + n))  # each once, in order
    assert [who for who, _ in seen] == ["outer"] * n
    assert len(refused) == 1 and "being consumed" in str(refused[0])


@pytest.mark.parametrize("second", ["ring", "perf"])
def test_callbacks_of_two_threads_consuming_each_others_maps_do_not_deadlock(
        env: Env, second: str) -> None:
    # Thread A consumes ring_a and its callback consumes the second source (ring_b
    # through another RingBuffer, or the perf buffer); thread B consumes the second
    # source and its callback consumes ring_a through another RingBuffer. Each holds
    # what the other's callback waits for: the thread whose wait would close the cycle
    # gets RuntimeError instead (here caught in its callback), and both finish.
    maps = env.obj.maps
    both_inside = threading.Barrier(2, timeout=10)
    outcome: dict[str, str] = {}
    errors: List[BaseException] = []

    def nested(who: str, consume: Callable[[], int]) -> None:
        if who in outcome:
            return
        outcome[who] = "waiting"
        both_inside.wait()  # both threads hold their locks, in a callback
        try:
            consume()
            outcome[who] = "consumed"
        except RuntimeError as exc:
            outcome[who] = str(exc)

    inner_a = bpf.RingBuffer(maps.ring_a, lambda view: None)
    outer_a = bpf.RingBuffer(maps.ring_a, lambda view: nested("A", inner_b.consume))
    if second == "ring":
        inner_b: Any = bpf.RingBuffer(maps.ring_b, lambda view: None)
        outer_b: Any = bpf.RingBuffer(maps.ring_b, lambda view: nested("B", inner_a.consume))
        env.trigger(3, RING_A | RING_B)
    else:
        outer_b = inner_b = bpf.PerfBuffer(
            maps.perf, lambda cpu, view: nested("B", inner_a.consume))
        env.trigger(3, RING_A | PERF)

    def run(buffer: Any) -> None:
        try:
            buffer.consume()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(b,), daemon=True) for b in (outer_a, outer_b)]
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        assert not any(t.is_alive() for t in threads), f"deadlocked: {outcome}"
        assert errors == []
        refused = [who for who, what in outcome.items() if what.startswith("deadlock")]
        assert len(refused) == 1 and sorted(outcome.values())[0] == "consumed", outcome
        assert "whose holder waits for a lock this thread holds" in outcome[refused[0]]
    finally:
        if not any(t.is_alive() for t in threads):
            for b in (inner_a, outer_a, inner_b, outer_b):
                b.close()


def _call_into(call: Callable[[Env, Any], None], env: Env, buffer: Any,
               failed: List[BaseException]) -> None:
    try:
        call(env, buffer)
    except BaseException as exc:
        failed.append(exc)


def _assert_another_thread_can_call(call: Callable[[Env, Any], None], env: Env, buffer: Any,
                                    after: str) -> None:
    """Another thread's call returns, and raises nothing: no lock was left held."""
    failed: List[BaseException] = []
    other = threading.Thread(target=_call_into, args=(call, env, buffer, failed), daemon=True)
    other.start()
    other.join(10)
    assert not other.is_alive(), f"a lock was left held by {after}"
    assert failed == [], f"after {after}"


_INTERRUPTED: dict[str, Callable[[Env, Any], None]] = {
    "ring consume": lambda env, b: b.consume(),
    "ring poll": lambda env, b: b.poll(0),
    "ring drain": lambda env, b: b.drain(),
    "two rings consume": lambda env, b: b.consume(),
    "perf consume": lambda env, b: b.consume(),
    "user ring write": lambda env, b: b.write(bytes(8)),
    "user ring reservation": lambda env, b: _fill_reservation(b),
}


def _buffer_for(env: Env, way: str) -> Tuple[Any, int]:
    """The buffer an _INTERRUPTED way calls, and the trigger mode that feeds it."""
    maps = env.obj.maps
    if way.startswith("perf"):
        return bpf.PerfBuffer(maps.perf, lambda cpu, view: None), PERF
    if way.startswith("user"):
        return bpf.UserRingBuffer(maps.uring), DRAIN_USER
    buffer = bpf.RingBuffer(maps.ring_a, lambda view: None)
    if way.startswith("two"):
        buffer.add(maps.ring_b, lambda view: None)
        return buffer, RING_A | RING_B
    return buffer, RING_A


def _assert_nothing_left_reserved(env: Env, buffer: Any) -> None:
    """The BPF side drains every record written now: no space was left reserved (the
    drain would stop at it, and the ring fill up)."""
    env.trigger(0, DRAIN_USER)
    count = ustats(env)[0]
    for _ in range(200):  # more than the ring holds
        buffer.write(bytes(8))
        env.trigger(0, DRAIN_USER)
    assert ustats(env)[0] == count + 200


def _fill_reservation(buffer: Any) -> None:
    with buffer.reserve(8) as r:  # submitted as the block ends, discarded should it raise
        r.buffer[:] = bytes(8)


@pytest.mark.parametrize("event", ["call", "c_return"])
def test_keyboard_interrupt_as_a_perf_callback_starts_reaches_consume(env: Env,
                                                                      event: str) -> None:
    # CPython runs a signal's handler as a Python function starts and as a call into C
    # returns: inside libbpf's sample callback, before its own try (or in it, as
    # ffi.from_handle returns), the KeyboardInterrupt was printed by cffi or dropped,
    # and consume() returned as if nothing happened. It is the consume call's to raise.
    buffer = bpf.PerfBuffer(env.obj.maps.perf, lambda cpu, view: None)
    env.trigger(2, PERF)

    def hook(frame: Any, what: str, arg: Any) -> None:
        if what == event and frame.f_code.co_name == "libbpf_py_perf_buffer_sample_cb":
            sys.setprofile(None)
            raise KeyboardInterrupt(f"injected at {what} in the sample callback")

    before = sys.getprofile()
    try:
        sys.setprofile(hook)
        try:
            with pytest.raises(KeyboardInterrupt, match="injected"):
                buffer.consume()
        finally:
            sys.setprofile(before)
        buffer.consume()  # the rest, and no lock left held
    finally:
        buffer.close()


# the Python trampolines between libbpf and a callback, per way of consuming
_TRAMPOLINES = {
    "perf": (perf_buffer_module, {"libbpf_py_perf_buffer_sample_cb", "deliver", "_sample",
                                  "flush", "_escaped", "_escaped_early"}),
    "ring": (ringbuf_module, {"libbpf_py_ring_buffer_sample_cb", "deliver", "_undelivered",
                              "_undelivered_early", "_flush_pending", "_adopt", "_one_record"}),
}


def _sigint_at(k: int, signals: int, files: set[str], names: Optional[set[str]],
               seen: List[int]) -> Callable[..., None]:
    """A profile hook sending SIGINT (``_thread.interrupt_main``) at the k-th event, and
    at the ``signals - 1`` next ones, in the functions ``names`` (None: all) of the
    modules ``files``: a Python function's start or a call into C returning, where
    CPython raises it."""
    def hook(frame: Any, what: str, arg: Any) -> None:
        code = frame.f_code
        if what in ("call", "c_return") and code.co_filename in files \
                and (names is None or code.co_name in names):
            seen[0] += 1
            if k <= seen[0] < k + signals:
                _thread.interrupt_main()
    return hook


def _call_under_sigints(call: Callable[[], Any], k: int, signals: int, files: set[str],
                        names: Optional[set[str]]) -> Optional[bool]:
    """``call()`` with SIGINT sent as :func:`_sigint_at` says: True when it raised
    KeyboardInterrupt, False when it returned, None when it returned before the k-th
    event (nothing left to interrupt)."""
    seen = [0]
    hook = _sigint_at(k, signals, files, names, seen)
    before = sys.getprofile()
    try:
        with _no_collection():
            sys.setprofile(hook)
            try:
                call()
            finally:
                sys.setprofile(before)
                os.getpid()  # (a signal not raised yet is raised by now)
    except KeyboardInterrupt:
        return True
    return None if seen[0] < k else False


@contextlib.contextmanager
def _no_collection() -> Iterator[None]:
    """No garbage collection in the block: a __del__ it ran (an earlier test's Map's, say)
    would take the injected signal. (Not gc.collect() first: ~10 ms a call, thousands of
    calls.)"""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@pytest.mark.parametrize("signals", [1, 2])
@pytest.mark.parametrize("way", [
    "perf consume",
    pytest.param("ring consume_n", marks=pytest.mark.build(header_min=(1, 5))),
    pytest.param("ring Ring.consume", marks=pytest.mark.build(header_min=(1, 3))),
])
def test_a_signal_in_a_callback_trampoline_loses_no_record(env: Env, way: str,
                                                           signals: int) -> None:
    # libbpf calls Python trampolines (perf buffers; ring buffers through consume_n and
    # Ring.consume), which call the callback. SIGINT arriving in them, before the
    # callback got its record, lost that record (libbpf had consumed it) and the
    # KeyboardInterrupt with it (cffi printed it; or it became an EPERM). A real SIGINT
    # (_thread.interrupt_main) is raised here at the k-th event (a Python function's
    # start, a call into C returning) in the trampolines, k = 1, 2, ..., with a second
    # one at the next event when signals=2; each time the consume call raises it (or
    # runs through), and the next calls hand over every record once.
    module, names = _TRAMPOLINES[way.split()[0]]
    got: List[int] = []
    if way.startswith("perf"):
        buffer: Any = bpf.PerfBuffer(env.obj.maps.perf,
                                     lambda cpu, view: got.append(unpack(view)[1]))
        which, mode, call = 2, PERF, buffer.consume
    else:
        buffer = bpf.RingBuffer(env.obj.maps.ring_a, lambda view: got.append(unpack(view)[1]))
        which, mode = 0, RING_A
        call = (lambda: buffer.consume_n(100)) if way.endswith("consume_n") else \
            buffer.rings[0].consume
    before = sys.getprofile()
    interrupted = 0
    try:
        for k in range(1, 500):
            first = env.seq(which)
            env.trigger(3, mode)
            got.clear()
            raised = _call_under_sigints(call, k, signals, {module.__file__}, names)
            if raised is None:
                break  # ran through: no event left to interrupt at
            interrupted += raised
            for _ in range(4):  # the rest: kept records first
                try:
                    call()
                except KeyboardInterrupt:  # (the second signal, raised here)
                    interrupted += 1
            assert got == list(range(first, first + 3)), f"signal at event {k}"
        else:
            pytest.fail("the call never ran through")
        assert interrupted >= 3
    finally:
        sys.setprofile(before)
        buffer.close()


@pytest.mark.build(header_min=(1, 5))
@pytest.mark.parametrize("way", ["RingBuffer.consume_n", "Ring.consume_n"])
def test_consume_n_counts_kept_records_in_n(env: Env, way: str) -> None:
    # A record kept from an interrupted call (a KeyboardInterrupt as the trampoline's
    # deliver() started, before its callback) is handed over first by the next call:
    # consume_n(n) then asked libbpf for n more records (Ring.consume_n did not count
    # it at all), and delivered n + 1.
    got: List[int] = []
    rb = bpf.RingBuffer(env.obj.maps.ring_a, lambda view: got.append(unpack(view)[1]))
    consume_n = rb.consume_n if way == "RingBuffer.consume_n" else rb.rings[0].consume_n

    def hook(frame: Any, what: str, arg: Any) -> None:
        if what == "call" and frame.f_code.co_name == "deliver" \
                and frame.f_code.co_filename == ringbuf_module.__file__:
            sys.setprofile(None)
            raise KeyboardInterrupt("injected before the callback")

    try:
        base = env.seq(0)
        env.trigger(6, RING_A)
        before = sys.getprofile()
        sys.setprofile(hook)
        try:
            with pytest.raises(KeyboardInterrupt, match="injected"):
                consume_n(3)
        finally:
            sys.setprofile(before)
        assert got == []  # the first record is kept
        assert consume_n(3) == 3 and got == [base, base + 1, base + 2]
        assert consume_n(3) == 3 and got == list(range(base, base + 6))
    finally:
        rb.close()


@pytest.mark.parametrize("signals", [1, 2])
def test_a_signal_anywhere_in_a_drain_loses_no_record(env: Env, signals: int) -> None:
    # drain() takes a batch out of the kernel in C, then copies it into a Batch and
    # leaves the lock: a SIGINT raised as any of those calls returned (the copies, the
    # Batch, the lock's exit, len(batch)) lost the whole batch. Real SIGINTs at the k-th
    # event in ringbuf.py and the lock code, k = 1, 2, ..., one or two in a row: the
    # records come out of the next calls, each once, in order.
    rb = bpf.RingBuffer(env.obj.maps.ring_a, lambda view: None)
    files = {ringbuf_module.__file__, buffers_module.__file__}
    batches: List[bpf.Batch] = []
    interrupted = 0
    try:
        for k in range(1, 500):
            first = env.seq(0)
            env.trigger(3, RING_A)
            batches.clear()
            raised = _call_under_sigints(lambda: batches.append(rb.drain()), k, signals,
                                         files, None)
            if raised is None:
                break  # ran through: no event left to interrupt at
            interrupted += raised
            for _ in range(4):  # the rest
                try:
                    batches.append(rb.drain())
                except KeyboardInterrupt:  # (the second signal, raised here)
                    interrupted += 1
            got = [unpack(record)[1] for batch in batches for record in batch]
            assert got == list(range(first, first + 3)), f"signal at event {k}"
        else:
            pytest.fail("the call never ran through")
        assert interrupted >= 3
    finally:
        rb.close()


@pytest.mark.parametrize("signals", [1, 2])
@pytest.mark.parametrize("way", ["write", "with reserve"])
def test_a_signal_anywhere_in_a_user_ring_write_leaves_no_space_reserved(
        env: Env, way: str, signals: int) -> None:
    # Space reserved and neither submitted nor discarded stops the BPF side's drain at
    # it until close(). A real SIGINT at the k-th event (a Python function's start, a
    # call into C returning) in libbpf_py's user ring and lock code, k = 1, 2, ..., and
    # a second one right after when signals=2, found such windows that the C-return
    # injection of the test below could not reach: as Reservation.__exit__ started, and
    # in write()'s except. Each time the buffer must stay usable (no lock held) and, at
    # the end, the BPF side must drain everything written after.
    buffer = bpf.UserRingBuffer(env.obj.maps.uring)
    files = {user_ringbuf_module.__file__, buffers_module.__file__}
    call = (lambda: buffer.write(bytes(8))) if way == "write" else \
        (lambda: _fill_reservation(buffer))
    before = sys.getprofile()
    interrupted = 0
    try:
        for k in range(1, 500):
            env.trigger(0, DRAIN_USER)  # (room for the next record)
            raised = _call_under_sigints(call, k, signals, files, None)
            if raised is None:
                break  # ran through: no event left to interrupt at
            interrupted += raised
            try:
                call()  # (not held, not full)
            except KeyboardInterrupt:  # (the second signal, raised here)
                interrupted += 1
        else:
            pytest.fail("the call never ran through")
        assert interrupted >= 3
        _assert_nothing_left_reserved(env, buffer)
    finally:
        sys.setprofile(before)
        buffer.close()


@pytest.mark.parametrize("way", list(_INTERRUPTED))
def test_keyboard_interrupt_anywhere_in_a_call_leaves_no_lock_held(env: Env, way: str) -> None:
    # A KeyboardInterrupt (Ctrl-C) raised as any call into C returns inside a buffer's
    # call, k = 1, 2, ... until one runs through: then no lock of the buffer (or of its
    # maps) may be left held, or the next call, in any thread, would wait forever.
    buffer, mode = _buffer_for(env, way)
    call = _INTERRUPTED[way]
    before = sys.getprofile()
    interrupted = 0
    try:
        for k in range(1, 1000):
            env.trigger(2, mode)
            try:
                with _no_collection():
                    sys.setprofile(interrupt_at_c_return(k))
                    try:
                        call(env, buffer)
                    finally:
                        sys.setprofile(before)
                ran_through = True
            except KeyboardInterrupt:
                ran_through = False
                interrupted += 1
            _assert_another_thread_can_call(call, env, buffer, f"the interrupt at call {k}")
            if ran_through:
                break
        else:
            pytest.fail("the call never ran through")
        assert interrupted >= 3
        if way.startswith("user"):
            _assert_nothing_left_reserved(env, buffer)
    finally:
        buffer.close()


@pytest.mark.parametrize("way", list(_INTERRUPTED))
def test_two_keyboard_interrupts_in_a_call_leave_no_lock_held(env: Env, sigint_raises: None,
                                                               way: str) -> None:
    # SIGINT twice inside a buffer's call: at the j-th place CPython runs its handler
    # (a call into C returns, a Python function starts), then k places later (in the
    # first's cleanup, often), for every j and k <= 6. No lock of the buffer (or of its
    # maps) may be left held: the next call, in any thread, would wait forever. Before
    # _speedups.unwait, each way left one (as release() started in OwnedLock.__enter__'s
    # cleanup, say). Nor may space stay reserved in a user ring (a second signal in
    # _try_reserve's cleanup left it so), nor both KeyboardInterrupts be lost (a second
    # signal as the perf trampoline's cffi onerror started).
    buffer, mode = _buffer_for(env, way)
    call = _INTERRUPTED[way]
    before = sys.getprofile()
    try:
        for j in range(1, 1000):
            for k in range(1, 7):
                env.trigger(2, mode)
                where: List[str] = []
                try:
                    with _no_collection():
                        sys.setprofile(interrupt_twice(k, j, where))
                        try:
                            call(env, buffer)
                        finally:
                            sys.setprofile(before)
                    assert len(where) < 2, f"both KeyboardInterrupts lost: {where}"
                except KeyboardInterrupt:
                    pass
                _assert_another_thread_can_call(call, env, buffer, f"the interrupts {where}")
                if len(where) < 2:
                    break
            if not where:
                break
        assert j > 3
        if way.startswith("user"):
            _assert_nothing_left_reserved(env, buffer)
    finally:
        buffer.close()


@pytest.mark.parametrize("way", ["consume", "drain"])
def test_two_buffers_of_one_map_take_turns_across_threads(env: Env, way: str) -> None:
    # As one RingBuffer used from two threads: the second waits until the first's
    # consume() returned, rather than moving the shared consumer position under it.
    m = env.obj.maps.ring_a
    seen: List[Tuple[str, int]] = []
    in_callback = threading.Event()

    def on_first(view: Any) -> None:
        seen.append(("first", unpack(view)[1]))
        if not in_callback.is_set():
            in_callback.set()
            time.sleep(0.3)  # the other thread tries to consume meanwhile

    def on_second(view: Any) -> None:
        seen.append(("second", unpack(view)[1]))

    base, n = env.seq(0), 50
    with bpf.RingBuffer(m, on_first) as rb1, bpf.RingBuffer(m, on_second) as rb2:
        env.trigger(n, RING_A)
        counts: List[int] = []
        thread = threading.Thread(target=lambda: counts.append(rb1.consume()))
        thread.start()
        assert in_callback.wait(5)
        # waited for rb1's consume(), which took every record
        assert _SAME_MAP_WAYS[way](rb2) == 0
        thread.join(5)
        assert counts == [n]
    assert seen == [("first", seq) for seq in range(base, base + n)]


def test_buffers_of_the_same_maps_in_other_orders_do_not_deadlock(env: Env) -> None:
    # Each consume call takes the locks of its maps in map id order, not in the
    # order the buffer added them.
    maps = env.obj.maps
    seen: List[int] = []
    with bpf.RingBuffer(maps.ring_a, seen.append) as ab, \
            bpf.RingBuffer(maps.ring_b, seen.append) as ba:
        ab.add(maps.ring_b, seen.append)
        ba.add(maps.ring_a, seen.append)
        stop = time.monotonic() + 0.5

        def run(rb: bpf.RingBuffer) -> None:
            while time.monotonic() < stop:
                rb.consume()

        threads = [threading.Thread(target=run, args=(rb,), daemon=True) for rb in (ab, ba)]
        for t in threads:
            t.start()
        for _ in range(20):
            env.trigger(10, RING_A | RING_B)
            time.sleep(0.01)
        for t in threads:
            t.join(5)
            assert not t.is_alive(), "the consumers deadlocked"
        ab.consume()
        ba.consume()
    assert len(seen) == 400


@pytest.mark.build(header_min=(1, 5))
def test_consume_n(env: Env) -> None:
    seen: List[int] = []
    with bpf.RingBuffer(env.obj.maps.ring_a, lambda v: seen.append(unpack(v)[1])) as rb:
        env.trigger(25, RING_A)
        assert rb.consume_n(10) == 10
        assert rb.rings[0].consume_n(5) == 5
        assert rb.consume() == 10
    assert len(seen) == 25 and seen == sorted(seen)


@pytest.mark.build(header_max=(1, 4))
def test_consume_n_needs_libbpf_1_5(env: Env) -> None:
    with bpf.RingBuffer(env.obj.maps.ring_a, print) as rb:
        with pytest.raises(LibbpfVersionError, match=r"ring_buffer__consume_n.*LIBBPF_1\.5\.0"):
            rb.consume_n(1)


@pytest.mark.build(header_min=(1, 3))
def test_ring_state(env: Env) -> None:
    with bpf.RingBuffer(env.obj.maps.ring_a, lambda v: None) as rb:
        ring = rb.rings[0]
        assert ring.size == 256 * 1024
        assert ring.avail_data_size == 0
        env.trigger(4, RING_A)
        assert ring.avail_data_size == 4 * (8 + 64)  # header + record each
        assert ring.producer_pos - ring.consumer_pos == 4 * 72
        assert ring.map_fd >= 0
        assert ring.consume() == 4
        assert ring.avail_data_size == 0
        inside: List[int] = []
        rb._sinks[0].callback = lambda v: inside.append(ring.avail_data_size)
        env.trigger(2, RING_A)
        assert ring.consume() == 2  # one record at a time, through libbpf
        assert inside == [144, 72]  # libbpf moves the consumer on after each callback


@pytest.mark.build(header_max=(1, 2))
def test_ring_state_needs_libbpf_1_3(env: Env) -> None:
    with bpf.RingBuffer(env.obj.maps.ring_a, print) as rb:
        with pytest.raises(LibbpfVersionError, match=r"LIBBPF_1\.3\.0"):
            rb.rings[0].size  # noqa: B018


def test_drain_batches(env: Env) -> None:
    n = 3000
    base_a, base_b = env.seq(0), env.seq(1)
    seqs: dict[int, List[int]] = {0: [], 1: []}
    with bpf.RingBuffer(env.obj.maps.ring_a) as rb:
        rb.add(env.obj.maps.ring_b)
        env.trigger(n, RING_A | RING_B)
        sizes = []
        while len(seqs[0]) + len(seqs[1]) < 2 * n:
            batch = rb.drain(1000, max_records=1000)
            assert len(batch) > 0
            sizes.append(len(batch))
            assert batch.offsets.format == "I" and len(batch.offsets) == len(batch) + 1
            assert batch.offsets[-1] == len(batch.data) == 64 * len(batch)
            for ring, record in zip(batch.rings, batch):
                r, seq, tp = unpack(record)
                assert r == ring and tp >> 32 == env.pid
                seqs[ring].append(seq)
        assert max(sizes) == 1000
        assert len(rb.drain()) == 0
        batch = rb.drain(50)  # waits, then gives an empty batch
        assert len(batch) == 0 and list(batch) == [] and batch.data == b""
        with pytest.raises(ValueError, match="max_records must be >= 1"):
            rb.drain(max_records=0)
    assert seqs[0] == list(range(base_a, base_a + n))
    assert seqs[1] == list(range(base_b, base_b + n))


def test_ring_without_callback_says_so(env: Env) -> None:
    with bpf.RingBuffer(env.obj.maps.ring_a) as rb:
        env.trigger(1, RING_A)
        with pytest.raises(TypeError, match="has no callback: give one"):
            rb.poll(1000)


def test_use_after_close(env: Env) -> None:
    rb = bpf.RingBuffer(env.obj.maps.ring_a, print)
    rb.close()
    rb.close()
    assert rb.closed
    for call in (lambda: rb.poll(0), rb.consume, rb.drain, rb.fileno, lambda: rb.rings,
                 lambda: rb.add(env.obj.maps.ring_b, print)):
        with pytest.raises(ClosedError, match="ring buffer is closed"):
            call()
    pb = bpf.PerfBuffer(env.obj.maps.perf, print)
    pb.close()
    with pytest.raises(ClosedError, match="perf buffer is closed"):
        pb.poll(0)
    urb = bpf.UserRingBuffer(env.obj.maps.uring)
    urb.close()
    with pytest.raises(ClosedError, match="user ring buffer is closed"):
        urb.write(b"12345678")


# -- threads, signals, closing -------------------------------------------------------


def test_gil_released_while_polling(env: Env) -> None:
    beats: List[float] = []
    stop = threading.Event()

    def heartbeat() -> None:
        while not stop.is_set():
            beats.append(time.monotonic())
            time.sleep(0.01)

    with bpf.RingBuffer(env.obj.maps.ring_a, print) as rb:
        t = threading.Thread(target=heartbeat)
        t.start()
        try:
            time.sleep(0.05)
            start = time.monotonic()
            assert rb.poll(600) == 0
            end = time.monotonic()
        finally:
            stop.set()
            t.join()
    during = [b for b in beats if start <= b <= end]
    assert end - start >= 0.55
    assert len(during) >= 20, f"the other thread ran {len(during)} times in {end - start:.2f} s"
    gaps = [b - a for a, b in zip(during, during[1:])]
    assert max(gaps) < 0.2


def test_sigint_interrupts_a_long_poll(env: Env) -> None:
    assert threading.current_thread() is threading.main_thread()
    with bpf.RingBuffer(env.obj.maps.ring_a, print) as rb:
        timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
        start = time.monotonic()
        try:
            with pytest.raises(KeyboardInterrupt):
                timer.start()
                rb.poll(30000)
        finally:
            timer.join()
        assert time.monotonic() - start < 2.0
        assert rb.poll(0) == 0  # still usable


def test_close_from_another_thread_wakes_the_poller(env: Env) -> None:
    for buffer in (bpf.RingBuffer(env.obj.maps.ring_a, print),
                   bpf.PerfBuffer(env.obj.maps.perf, print)):
        outcome: List[BaseException] = []

        def poller(buf: Any = buffer, outcome: List[BaseException] = outcome) -> None:
            try:
                buf.poll(-1)
            except BaseException as exc:
                outcome.append(exc)

        t = threading.Thread(target=poller)
        t.start()
        time.sleep(0.1)
        start = time.monotonic()
        buffer.close()
        t.join(5)
        assert not t.is_alive()
        assert time.monotonic() - start < 1.0
        assert len(outcome) == 1 and isinstance(outcome[0], ClosedError)
        assert "closed while polling" in str(outcome[0])


def test_closing_the_object_stops_the_poller(env: Env) -> None:
    rb = bpf.RingBuffer(env.obj.maps.ring_a, print)
    outcome: List[BaseException] = []

    def poller() -> None:
        try:
            rb.poll(-1)
        except BaseException as exc:
            outcome.append(exc)

    t = threading.Thread(target=poller)
    t.start()
    time.sleep(0.05)
    env.link.destroy()
    env.obj.close()
    t.join(5)
    assert not t.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], ClosedError)
    assert "BPF object" in str(outcome[0])
    assert rb.closed
    with pytest.raises(ClosedError):
        rb.poll(0)


def test_poll_and_close_race_1000_times(env: Env) -> None:
    """Close while another thread polls, consumes or drains: never a crash."""
    rng = random.Random(1234)
    results: List[str] = []
    errors: List[BaseException] = []
    for i in range(1000):
        holder: List[bpf.RingBuffer] = []
        close_inside = i % 10 == 3

        def on_record(view: memoryview, close_inside: bool = close_inside,
                      holder: List[bpf.RingBuffer] = holder) -> None:
            bytes(view)
            if close_inside:
                holder[0].close()  # closing from inside a callback

        rb = bpf.RingBuffer(env.obj.maps.ring_a, on_record)
        holder.append(rb)
        if i % 2:
            env.trigger(rng.randrange(1, 20), RING_A)
        mode = i % 3

        def poller(rb: bpf.RingBuffer = rb, mode: int = mode) -> None:
            try:
                while True:
                    if mode == 0:
                        rb.poll(50)
                    elif mode == 1:
                        rb.drain(20)
                    else:
                        rb.consume()
            except ClosedError:
                results.append("closed")
            except BaseException as exc:
                errors.append(exc)

        t = threading.Thread(target=poller)
        t.start()
        delay = rng.random() * 0.0005
        if delay > 0.0002:
            time.sleep(delay)
        rb.close()
        t.join(5)
        assert not t.is_alive()
    assert errors == []
    assert len(results) == 1000


def test_object_close_races_with_pollers(kernel: None, compile_bpf: Compile) -> None:
    """Close the BpfObject while threads poll its ring and perf buffers: ClosedError."""
    path = compile_bpf("events")
    rng = random.Random(99)
    outcomes: List[BaseException] = []
    for i in range(12):
        obj = bpf.BpfObject.open(path)
        obj.load()
        buffers: List[Any] = [bpf.RingBuffer(obj.maps.ring_a, print),
                              bpf.PerfBuffer(obj.maps.perf, print)]

        def poller(buf: Any, drain: bool = i % 2 == 1) -> None:
            try:
                while True:
                    if isinstance(buf, bpf.RingBuffer) and drain:
                        buf.drain(20)
                    else:
                        buf.poll(20)
            except BaseException as exc:
                outcomes.append(exc)

        threads = [threading.Thread(target=poller, args=(b,)) for b in buffers]
        for t in threads:
            t.start()
        time.sleep(rng.random() * 0.01)
        obj.close()
        for t in threads:
            t.join(5)
            assert not t.is_alive()
        assert all(b.closed for b in buffers)
    assert len(outcomes) == 24
    assert all(isinstance(exc, ClosedError) for exc in outcomes), outcomes


# -- asyncio ---------------------------------------------------------------------------


def test_asyncio_events_receive_every_record(env: Env) -> None:
    n = 500
    base = env.seq(0)

    async def main() -> List[Any]:
        got: List[Any] = []
        rb = bpf.RingBuffer(env.obj.maps.ring_a, record="struct ev_event")
        rb.add(env.obj.maps.ring_b)
        loop = asyncio.get_running_loop()
        loop.call_later(0.05, env.trigger, n, RING_A)
        loop.call_later(0.10, env.trigger, 1, RING_B)

        async def collect() -> None:
            async for ring, rec in rb.events(with_ring=True):
                got.append((ring, rec))
                if len(got) == n + 1:
                    break

        await asyncio.wait_for(collect(), 10)
        # a second iterator ends cleanly when the buffer is closed from a thread
        later = rb.events()
        threading.Timer(0.1, rb.close).start()
        rest = [r async for r in later]
        assert rest == [] and rb.closed
        return got

    got = asyncio.run(main())
    assert [rec.seq for ring, rec in got if ring == 0] == list(range(base, base + n))
    assert [ring for ring, _ in got].count(1) == 1
    b_record = next(rec for ring, rec in got if ring == 1)
    assert type(b_record) is bytes and len(b_record) == 64


def test_asyncio_events_leave_what_they_did_not_yield(env: Env) -> None:
    """events() took a batch out of the kernel and yielded its records one by one: a
    break out of the ``async for`` (or a decoder's exception) lost the rest of the
    batch, and a consume call in the loop's body handed newer records before them."""
    base = env.seq(0)
    seen: List[Tuple[str, int]] = []

    def decode(raw: bytes) -> int:
        seq = unpack(raw)[1]
        if seq == base + 13:
            raise ValueError(f"cannot decode {seq}")
        return seq

    rb = bpf.RingBuffer(env.obj.maps.ring_a, lambda seq: seen.append(("callback", seq)),
                        record=decode)

    async def main() -> None:
        env.trigger(10, RING_A)
        async for seq in rb.events():
            seen.append(("iterator", seq))
            if len(seen) == 2:
                break
        async for seq in rb.events():  # the rest of the batch, first
            seen.append(("iterator", seq))
            env.trigger(2, RING_A)
            assert rb.consume() == 9  # the batch's last 7, then the 2 newer ones
            break
        env.trigger(3, RING_A)
        with pytest.raises(ValueError, match="cannot decode"):
            async for seq in rb.events():
                seen.append(("iterator", seq))
        assert rb.consume() == 1  # the record after the one that could not be decoded

    try:
        asyncio.run(asyncio.wait_for(main(), 5))
        assert len(rb.drain()) == 0
    finally:
        rb.close()
    assert seen == [("iterator", base), ("iterator", base + 1), ("iterator", base + 2),
                    *[("callback", seq) for seq in range(base + 3, base + 12)],
                    ("iterator", base + 12), ("callback", base + 14)]


def test_drain_serves_pending_records_within_its_limits(env: Env) -> None:
    """Records left pending (here by an events() iterator left after one record) come
    first out of drain(), in batches of their own: at most max_records, max_bytes (one
    record past it at most), offsets from 0 into data holding those records only."""
    base = env.seq(0)
    rb = bpf.RingBuffer(env.obj.maps.ring_a)

    async def first() -> bytes:
        async for raw in rb.events():
            return raw
        raise AssertionError("no record")

    try:
        env.trigger(10, RING_A)
        assert unpack(asyncio.run(first()))[1] == base
        batches = [rb.drain(max_records=3), rb.drain(max_bytes=100), rb.drain()]
        assert [[unpack(r)[1] for r in b] for b in batches] == [
            [base + 1, base + 2, base + 3], [base + 4, base + 5],
            list(range(base + 6, base + 10))]
        for b in batches:
            assert list(b.offsets) == [64 * i for i in range(len(b) + 1)]
            assert len(b.data) == 64 * len(b) and list(b.rings) == [0] * len(b)
            assert b.offsets.format == b.rings.format == "I"
    finally:
        rb.close()


def test_asyncio_events_waits_end(kernel: None, compile_bpf: Compile) -> None:
    """Two iterators of one buffer waiting at once: the second's add_reader() replaced
    the first's reader of the same fds (and removed it as it left), and the first
    waited for good, past close() too. An iterator waiting when the BPF object was
    closed waited for good as well: it now ends within 0.2 s, as a poll() does."""
    obj = bpf.BpfObject.open(compile_bpf("events"))
    try:
        obj.load()
        env = Env(obj, obj.programs.on_getpid.attach())
        base = env.seq(0)
        got: dict[int, List[int]] = {1: [], 2: []}

        async def iterate(rb: bpf.RingBuffer, who: int) -> None:
            async for raw in rb.events():
                got[who].append(unpack(raw)[1])

        async def main() -> None:
            rb = bpf.RingBuffer(obj.maps.ring_a)
            tasks = [asyncio.create_task(iterate(rb, who)) for who in (1, 2)]
            await asyncio.sleep(0.1)  # both wait
            env.trigger(3, RING_A)
            await asyncio.sleep(0.1)
            threading.Timer(0.05, rb.close).start()
            await asyncio.wait_for(asyncio.gather(*tasks), 5)
            # a closed object ends a waiting iterator
            rb = bpf.RingBuffer(obj.maps.ring_b)
            task = asyncio.create_task(iterate(rb, 1))
            await asyncio.sleep(0.1)
            env.link.destroy()
            obj.close()
            await asyncio.wait_for(task, 5)
            assert rb.closed

        asyncio.run(main())
        assert sorted(got[1] + got[2]) == [base, base + 1, base + 2]
    finally:
        obj.close()


# -- user ring buffer --------------------------------------------------------------------


def ustats(env: Env) -> Tuple[int, int, int, int]:
    u = env.obj.maps.ev_ustats[0]
    return int(u.count), int(u.sum), int(u.last), int(u.bad)


def test_user_ring_buffer_reaches_the_bpf_side(env: Env) -> None:
    with bpf.UserRingBuffer(env.obj.maps.uring) as urb:
        for value in range(1, 11):
            urb.write(struct.pack("Q", value))
        with urb.reserve(8) as r:
            r.buffer[:] = struct.pack("Q", 100)
        r2 = urb.reserve(8)
        r2.buffer[:] = struct.pack("Q", 1000)
        r2.discard()  # never reaches the BPF side
        r3 = urb.reserve(8)
        r3.buffer[:] = struct.pack("Q", 7)
        urb.submit(r3)
        with pytest.raises(ValueError, match="already submitted or discarded"):
            r3.submit()
        # anything but a Reservation was an AttributeError ('_owner')
        for bad in (None, 8, b"\0" * 8, r3.buffer):
            for call in (urb.submit, urb.discard):
                with pytest.raises(TypeError, match=r"^submit and discard take a "
                                                    r"Reservation \(from reserve\(\)\), not "):
                    call(bad)  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            r3.buffer[0]  # released
        with pytest.raises(ZeroDivisionError), urb.reserve(8) as r4:
            r4.buffer[:] = struct.pack("Q", 5000)
            1 / 0  # noqa: B018
        assert r4.done
        env.trigger(0, DRAIN_USER)
    assert ustats(env) == (12, 55 + 100 + 7, 7, 0)


def test_user_ring_buffer_full_timeout_and_wakeup(env: Env) -> None:
    with bpf.UserRingBuffer(env.obj.maps.uring) as urb:
        with pytest.raises(ValueError, match=r"size must be in 1\.\.4088"):
            urb.reserve(0)
        with pytest.raises(ValueError, match=r"size must be in 1\.\.4088"):
            urb.reserve(4089)
        written = 0
        while True:  # 4096 bytes of ring: 256 records of 8 + 8 bytes of header
            try:
                urb.write(struct.pack("Q", 1))
            except LibbpfError as exc:
                assert exc.errno == errno.ENOSPC and "pass timeout_ms=" in str(exc)
                break
            written += 1
        assert written == 256
        start = time.monotonic()
        with pytest.raises(ReserveTimeoutError) as info:
            urb.reserve(8, timeout_ms=150)
        assert isinstance(info.value, TimeoutError) and info.value.errno == errno.ETIMEDOUT
        assert 0.14 < time.monotonic() - start < 2.0

        # a blocked reserve wakes up when the BPF side drains
        outcome: List[Any] = []

        def producer() -> None:
            try:
                urb.write(struct.pack("Q", 2), timeout_ms=10000)
                outcome.append("written")
            except BaseException as exc:
                outcome.append(exc)

        t = threading.Thread(target=producer)
        t.start()
        time.sleep(0.2)
        assert outcome == []
        start = time.monotonic()
        env.trigger(0, DRAIN_USER)
        t.join(5)
        assert outcome == ["written"] and time.monotonic() - start < 1.0
        assert ustats(env)[0] == 256

        # close() from another thread wakes a blocked reserve with ClosedError
        for _ in range(255):  # full again, with the producer's record
            urb.write(struct.pack("Q", 3))
        t = threading.Thread(target=producer)
        t.start()
        time.sleep(0.1)
        urb.close()
        t.join(5)
        assert len(outcome) == 2 and isinstance(outcome[1], ClosedError)


def test_user_ring_buffer_wakes_every_waiting_producer(env: Env) -> None:
    """The wait for space is edge-triggered: one drain woke one of two producers waiting
    for space, and the other waited on, with space free, until its timeout (-1: until
    the next drain, for good if the BPF side drains only after this write)."""
    with bpf.UserRingBuffer(env.obj.maps.uring) as urb:
        for _ in range(256):  # full: 256 records of 8 bytes
            urb.write(struct.pack("Q", 1))
        took: List[Any] = []

        def producer() -> None:
            start = time.monotonic()
            try:
                urb.write(struct.pack("Q", 2), timeout_ms=-1)
                took.append(time.monotonic() - start)
            except BaseException as exc:
                took.append(exc)

        threads = [threading.Thread(target=producer) for _ in range(2)]
        for t in threads:
            t.start()
        time.sleep(0.3)  # both wait
        env.trigger(0, DRAIN_USER)  # room for both
        for t in threads:
            t.join(2)
        stuck = [t for t in threads if t.is_alive()]
        if stuck:
            urb.close()  # (wakes it with ClosedError)
            for t in stuck:
                t.join(5)
        assert not stuck, f"a producer still waited with space free: {took}"
        assert all(isinstance(t, float) and t < 1.5 for t in took), took


def test_user_ring_buffer_close_discards_pending(env: Env) -> None:
    urb = bpf.UserRingBuffer(env.obj.maps.uring)
    r = urb.reserve(8)
    r.buffer[:] = struct.pack("Q", 99)
    view = r.buffer[0:4]  # a slice outliving everything stays safe to touch
    urb.close()
    assert r.done
    with pytest.raises(ClosedError):
        r.submit()
    view[0:4] = b"abcd"
    env.trigger(0, DRAIN_USER)
    assert ustats(env) == (0, 0, 0, 0)
    with bpf.UserRingBuffer(env.obj.maps.uring) as urb2:  # the ring is not stuck
        urb2.write(struct.pack("Q", 4))
        env.trigger(0, DRAIN_USER)
    assert ustats(env) == (1, 4, 4, 0)


def test_user_ring_buffer_close_race(env: Env) -> None:
    """Producers racing with close(): ClosedError, and the ring is never left stuck."""
    rng = random.Random(7)
    errors: List[BaseException] = []
    for _ in range(200):
        urb = bpf.UserRingBuffer(env.obj.maps.uring)

        def producer(urb: bpf.UserRingBuffer = urb) -> None:
            try:
                while True:
                    try:
                        r = urb.reserve(8, timeout_ms=20)
                    except ReserveTimeoutError:
                        continue  # full (nothing drains here) before close() came: wait on
                    try:
                        r.buffer[:] = struct.pack("Q", 1)
                    except ValueError:
                        # close() discarded the reservation in between: its buffer
                        # is released, as documented
                        assert r.done
                        return
                    r.submit()
            except ClosedError:
                pass
            except BaseException as exc:
                errors.append(exc)

        t = threading.Thread(target=producer)
        t.start()
        time.sleep(rng.random() * 0.001)
        urb.close()
        t.join(5)
        assert not t.is_alive()
        env.trigger(0, DRAIN_USER)  # drains what was submitted
    assert errors == []
    before = ustats(env)[0]
    with bpf.UserRingBuffer(env.obj.maps.uring) as urb:
        urb.write(struct.pack("Q", 5))
        env.trigger(0, DRAIN_USER)
    count, _, last, bad = ustats(env)
    assert (count, last, bad) == (before + 1, 5, 0)



def test_user_ring_buffers_of_one_map_reserve_one_at_a_time(env: Env) -> None:
    """Two UserRingBuffers of one map are two producers of one producer position, which
    libbpf's reserve asks its callers to serialize: records written from two threads
    through two buffers all arrive, each once (a reserve racing another would take the
    same slot, and one of the two records would be lost)."""
    before, before_sum = ustats(env)[0], ustats(env)[1]
    per_thread, errors = 3000, []  # (the ring holds 64 records of 8 bytes: drained as it fills)
    a = bpf.UserRingBuffer(env.obj.maps.uring)
    b = bpf.UserRingBuffer(env.obj.maps.uring)
    done = threading.Event()

    def producer(urb: bpf.UserRingBuffer, base: int) -> None:
        try:
            for i in range(per_thread):
                urb.write(struct.pack("Q", base + i), timeout_ms=5000)
        except BaseException as exc:
            errors.append(exc)

    def drainer() -> None:
        while not done.is_set():
            env.trigger(0, DRAIN_USER)

    threads = [threading.Thread(target=producer, args=(a, 1)),
               threading.Thread(target=producer, args=(b, 1_000_001))]
    d = threading.Thread(target=drainer)
    d.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    done.set()
    d.join(10)
    env.trigger(0, DRAIN_USER)
    a.close()
    b.close()
    assert errors == []
    count, total, _, bad = ustats(env)
    want = sum(range(1, 1 + per_thread)) + sum(range(1_000_001, 1_000_001 + per_thread))
    assert (count - before, total - before_sum, bad) == (2 * per_thread, want, 0)

# -- perf buffer -----------------------------------------------------------------------


@pytest.fixture
def one_cpu() -> Iterator[int]:
    """Run the test on one CPU: a perf buffer's lost count is per CPU."""
    before = os.sched_getaffinity(0)
    cpu = min(before)
    os.sched_setaffinity(0, {cpu})
    try:
        yield cpu
    finally:
        os.sched_setaffinity(0, before)


def test_perf_buffer_samples_and_lost(env: Env, one_cpu: int) -> None:
    samples: List[Tuple[int, int]] = []
    lost: List[Tuple[int, int]] = []

    def on_sample(cpu: int, view: memoryview) -> None:
        samples.append((cpu, unpack(view)[1]))

    with bpf.PerfBuffer(env.obj.maps.perf, on_sample, lambda cpu, n: lost.append((cpu, n)),
                        page_cnt=1) as pb:
        assert pb.buffer_count == os.cpu_count()
        assert pb.buffer_fd(0) >= 0 and pb.fileno() >= 0
        with pytest.raises(IndexError):
            pb.buffer_fd(pb.buffer_count)
        base = env.seq(2)
        env.trigger(1000, PERF)   # one page per CPU: most of these are dropped
        dropped = env.dropped(2)
        assert dropped > 0
        poll_until(pb, lambda: len(samples) > 0)
        pb.consume()
        env.trigger(1, PERF)      # the kernel reports the loss before the next sample
        poll_until(pb, lambda: len(lost) > 0)
        pb.consume()
        assert sum(n for _, n in lost) == pb.lost_count == dropped
        assert len(samples) + pb.lost_count == 1001
        assert {cpu for cpu, _ in samples + lost} == {one_cpu}
        seqs = [s for _, s in samples]
        assert seqs == sorted(seqs) and seqs[0] == base and seqs[-1] == base + 1000


def test_perf_poll_stops_when_the_lost_callback_asks(env: Env, one_cpu: int) -> None:
    """A lost callback that returns a true value stops consumption, in poll() too: poll()
    took its stop, with no sample delivered, for "nothing came", waited (the samples
    were still there) and read them all."""
    samples: List[int] = []
    lost: List[int] = []

    def on_lost(cpu: int, count: int) -> bool:
        lost.append(count)
        return True

    with bpf.PerfBuffer(env.obj.maps.perf, lambda cpu, view: samples.append(unpack(view)[1]),
                        on_lost, page_cnt=1) as pb:
        env.trigger(1000, PERF)   # one page: most are dropped
        poll_until(pb, lambda: len(samples) > 0)
        while pb.consume():
            pass
        del samples[:]
        base = env.seq(2)
        env.trigger(5, PERF)      # the loss is reported before these
        assert pb.poll(1000) == 0 and len(lost) == 1 and samples == []
        assert pb.poll(1000) == 5 and samples == list(range(base, base + 5))


@pytest.mark.parametrize("index", [99, -1, "0"], ids=repr)
def test_perf_consume_buffer_checks_its_index_first(env: Env, index: Any) -> None:
    """A bad index raised only once the samples kept from an earlier call had been
    handed to the callback: the call raised, and its count was lost."""
    got: List[int] = []
    pb = bpf.PerfBuffer(env.obj.maps.perf, lambda cpu, view: got.append(unpack(view)[1]))

    def hook(frame: Any, what: str, arg: Any) -> None:
        if what == "call" and frame.f_code.co_name == "deliver" \
                and frame.f_code.co_filename == perf_buffer_module.__file__:
            sys.setprofile(None)
            raise KeyboardInterrupt("injected before the callback")

    try:
        base = env.seq(2)
        env.trigger(2, PERF)
        before = sys.getprofile()
        sys.setprofile(hook)
        try:
            with pytest.raises(KeyboardInterrupt, match="injected"):
                pb.consume()
        finally:
            sys.setprofile(before)
        assert got == []  # the first sample is kept
        with pytest.raises((IndexError, ValueError, TypeError)):
            pb.consume_buffer(index)
        assert got == []
        poll_until(pb, lambda: len(got) == 2)
        assert got == [base, base + 1]
    finally:
        pb.close()


def test_pollers_wake_up_when_records_arrive(env: Env) -> None:
    """A poll() waiting in another thread returns promptly when the BPF side emits."""

    def ring(keep: Callable[[Any], None]) -> Any:
        return bpf.RingBuffer(env.obj.maps.ring_a, keep)

    def perf(keep: Callable[[Any], None]) -> Any:
        return bpf.PerfBuffer(env.obj.maps.perf, lambda cpu, view: keep(view))

    def waiter(buf: Any, result: List[Tuple[int, float]]) -> None:
        result.append((buf.poll(10000), time.monotonic()))

    for make, mode in ((ring, RING_A), (perf, PERF)):
        got: List[bytes] = []
        result: List[Tuple[int, float]] = []
        with make(lambda view, got=got: got.append(bytes(view))) as buf:
            t = threading.Thread(target=waiter, args=(buf, result))
            t.start()
            time.sleep(0.2)
            sent = time.monotonic()
            env.trigger(3, mode)
            t.join(5)
            assert not t.is_alive()
            n, woke = result[0]
            assert n == 3 and [unpack(v)[2] >> 32 for v in got] == [env.pid] * 3
            assert woke - sent < 0.5


def test_perf_buffer_exception_leaves_the_rest(env: Env, one_cpu: int) -> None:
    seen: List[int] = []

    def on_sample(cpu: int, record: Event) -> Any:
        seen.append(record.seq)
        if len(seen) == 3:
            raise KeyError("third")
        return 1 if len(seen) == 6 else None

    with bpf.PerfBuffer(env.obj.maps.perf, on_sample, record=Event) as pb:
        base = env.seq(2)
        env.trigger(10, PERF)
        with pytest.raises(KeyError, match="third"):
            pb.poll(1000)
        assert len(seen) == 3
        assert pb.consume_buffer(one_cpu) == 3  # stops after the sixth
        assert pb.poll(1000) == 4
    assert seen == list(range(base, base + 10))
