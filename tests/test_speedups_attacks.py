"""libbpf_py._speedups against Python code that tries to break it.

Each test drives one entry point of libbpf_py/_speedups.c with input or callbacks
meant to crash the interpreter, make C read or write the wrong memory, or show a
value changing under its holder: bounds that overflow when multiplied, buffers at
odd addresses, ``fast`` tuples swapped while a record is being made, per-CPU lists
whose items run Python when replaced, views and iterators kept or released in odd
orders. Run normally and under the ``asan`` tox env (AddressSanitizer and
UndefinedBehaviorSanitizer make any bad access fatal there).
"""

from __future__ import annotations

import ctypes
import gc
import os
import struct
import subprocess
import sys
import textwrap
import threading
from array import array
from typing import Any, Callable, Iterator, List, Tuple

import pytest
from conftest import Compile, gc_ran_in_the_allocation

import libbpf_py as bpf
from libbpf_py import _speedups
from libbpf_py._binding import MapBase
from libbpf_py.enums import MapType
from libbpf_py.map import Map


def test_deliver_refuses_an_end_whose_offsets_would_wrap() -> None:
    """``end`` so large that ``(end + 1) * 4`` wraps around 64 bits: refused before
    any record, not read past the offsets (which held 2 entries here)."""
    got: List[bytes] = []
    offs = bytes(8)  # one record of 0 bytes
    for end in (2 ** 62, 2 ** 62 - 1, 2 ** 63 - 1, (2 ** 63 - 1) // 4 + 1):
        pos: List[Any] = [0, False]
        with pytest.raises(ValueError, match="out of the batch"):
            _speedups.deliver([(got.append, 1, None)], b"x" * 64, offs, None, 0, end, pos)
        assert got == [] and pos == [0, False]
        rings = bytes(4)
        with pytest.raises(ValueError, match="out of the batch"):
            _speedups.deliver([(got.append, 1, None)], b"x" * 64, bytes(4 * 8), rings, 0,
                              end, pos)
        assert got == []
    pos = [0, False]
    assert _speedups.deliver([(got.append, 1, None)], b"", offs, bytes(4), 0, 1, pos) == 1
    assert got == [b""]


def _odd(data: bytes, fmt: str) -> memoryview:
    """``data`` as a 1-D memoryview of ``fmt`` that starts at an odd address."""
    raw = bytearray(len(data) + 1)
    raw[1:] = data
    start = ctypes.addressof(ctypes.c_char.from_buffer(raw)) + 1
    assert start % 2 == 1
    return memoryview(raw)[1:].cast(fmt)


def test_pairs_and_deliver_read_buffers_at_odd_addresses() -> None:
    """A caller's buffer may start at any address (a slice of a bytearray cast to
    'Q'): pairs(), PairIter and deliver() read its ints as they are, without a
    misaligned load (undefined behaviour, which UBSan aborts on)."""
    for fmt in "BbHhIiQq":
        keys = array(fmt, range(0, 90, 9))
        values = array(fmt, [(-1 if fmt.islower() else 1) * i for i in range(len(keys))])
        want = list(zip(keys.tolist(), values.tolist()))
        k, v = _odd(keys.tobytes(), fmt), _odd(values.tobytes(), fmt)
        assert _speedups.pairs(k, v) == want
        assert list(_speedups.PairIter(k, v, len(keys))) == want
    records = [b"a", b"", b"bcd", b"efgh"]
    ends = [0]
    for r in records:
        ends.append(ends[-1] + len(r))
    offs = _odd(array("I", ends).tobytes(), "I")
    rings = _odd(array("I", [0, 1, 0, 1]).tobytes(), "I")
    got: List[Any] = []
    pos: List[Any] = [0, False]
    sinks = [(lambda b: got.append((0, b)), 1, None), (lambda b: got.append((1, b)), 1, None)]
    assert _speedups.deliver(sinks, b"".join(records), offs, rings, 0, 4, pos) == 4
    assert got == [(0, b"a"), (1, b""), (0, b"bcd"), (1, b"efgh")]


@pytest.mark.kernel
def test_a_state_swapped_while_a_record_is_made_never_sizes_its_read(
        maps: Callable[..., Map]) -> None:
    """Making the record of ``m[k]`` runs Python (here the record class's __init__),
    which may give the map another element state: the read still goes to the fd of
    the state it started with, and so is sized by that state's value size, not by
    the new state's (4 bytes here, another map's, the size of the record: the
    kernel would write the first map's 256-byte value into it)."""
    m = maps(MapType.ARRAY, 4, 256, 1)
    m[0] = b"\xaa" * 256
    fd = m._check_loaded().fd
    other = maps(MapType.ARRAY, 4, 4, 1)
    probe = MapBase()

    class IntState:  # a true state: the other map's fd and sizes
        fast = (other._check_loaded().fd, 4, False, 4, False)

    class Small(ctypes.Structure):
        _fields_ = [("x", ctypes.c_uint32)]

        def __init__(self) -> None:
            super().__init__()
            probe._elements = IntState()  # the next m[k] reads 4-byte ints

    class RecordState:
        fast = (fd, 4, False, 256, False, 1, Small)

    for _ in range(50):
        probe._elements = RecordState()
        with pytest.raises(SystemError, match="record has 4 bytes, the value 256"):
            probe[0]
        assert probe._fast_path and probe._elements.fast[3] == 4
    probe._elements = None


@pytest.mark.kernel
@pytest.mark.parametrize("act", ["clear", "append", "keep"])
def test_a_per_cpu_list_item_that_runs_python_never_sees_the_list_refilled(
        maps: Callable[..., Map], act: str) -> None:
    """The list ``m[k]`` returned last is filled again when nobody holds it; its user
    may have put an object with a __del__ in it, which runs when the item is
    replaced and can find the list (gc.get_referents of the map) half filled: it
    must not be able to empty it or grow it under ``m[k]``, nor keep it and then
    see it change."""
    m = maps(MapType.PERCPU_ARRAY, 4, 8, 1)
    m[0] = 7
    ncpus = len(m[0])
    assert m._fast_path and m[0] == [7] * ncpus
    found: List[Any] = []

    class Meddler:
        def __init__(self, target: int) -> None:
            self.target = target

        def __del__(self) -> None:
            for r in gc.get_referents(m):
                if id(r) == self.target and type(r) is list:
                    if act == "clear":
                        r.clear()
                    elif act == "append":
                        r.append("junk")
                    else:
                        found.append((r, list(r)))  # kept, as it is now

    for value in range(3):
        m[0] = value
        dropped = m[0]
        dropped[0] = Meddler(id(dropped))
        del dropped  # only the map's spare reference is left
        m[0] = value + 50
        got = m[0]
        assert got == [value + 50] * ncpus and all(type(x) is int for x in got)
        for kept, as_seen in found:
            assert kept == as_seen, "a list held by a __del__ changed under it"
        found.clear()
        m[0] = value + 100
        assert got == [value + 50] * ncpus  # held: never refilled
        del got


@pytest.fixture
def events(kernel: None, compile_bpf: Compile) -> Iterator[bpf.BpfObject]:
    """tests/bpf/events.bpf.c, loaded and attached to getpid()."""
    with bpf.BpfObject.open(compile_bpf("events")) as obj:
        obj.load()
        link = obj.programs.on_getpid.attach()
        try:
            yield obj
        finally:
            link.destroy()


SMALL = 16  # ev_config.mode: records of 8..64 bytes (each word its seq) into ring_small


def _small(obj: bpf.BpfObject, count: int) -> None:
    cfg, pid = obj.maps.ev_config, os.getpid()
    cfg[0] = struct.pack("IIII", pid, count, SMALL, 0)
    os.getpid()
    cfg[0] = struct.pack("IIII", pid, 0, 0, 0)


def _record(seq: int) -> bytes:
    return seq.to_bytes(8, "little") * (1 + seq % 8)


@pytest.mark.kernel
def test_ring_views_exported_and_released_in_odd_orders(events: bpf.BpfObject) -> None:
    """Ring records read in place (a one-page ring that wraps hundreds of times),
    their views used every way a callback can: a cast of a memoryview kept after the
    memoryview itself is released, an export released before the view is kept, a
    view held only by the traceback of the exception its callback raised, struct
    and bytes readers. Each keeps showing its own record after the kernel reused
    its ring space; the record that raised is consumed once and none is lost."""
    got: List[int] = []
    casts: List[Tuple[int, memoryview]] = []
    kept: List[Tuple[int, Any]] = []
    raised: List[Tuple[int, BaseException]] = []

    class Boom(Exception):
        pass

    def on_small(view: bpf.RecordView) -> None:
        (seq,) = struct.unpack_from("<Q", view)
        assert bytes(view) == _record(seq) and view == _record(seq)
        assert view.hex() == _record(seq).hex() and view[-8:] == seq.to_bytes(8, "little")
        got.append(seq)
        if seq % 7 == 0:
            outer = memoryview(view)
            cast = outer.cast("Q")
            outer.release()  # the cast still exports the view
            casts.append((seq, cast))
        if seq % 11 == 0:
            with memoryview(view) as m:  # an export released before the view is kept
                assert m.tobytes() == _record(seq)
            kept.append((seq, view))
        if seq % 13 == 0:
            raise Boom(seq)  # its traceback holds this frame, and so the view

    first = int(events.var("small_seq"))
    total = 0
    with bpf.RingBuffer(events.maps.ring_small, on_small) as rb:
        for _ in range(200):
            _small(events, 20)
            n = 0
            while n < 20:
                try:
                    n += rb.poll(1000)
                except Boom as exc:
                    raised.append((exc.args[0], exc))
                    n = len(got) - total
            total += n
    assert int(events.var("small_dropped")) == 0, "the ring overflowed: the test is void"
    assert got == list(range(first, first + 4000))
    assert [s for s, _ in raised] == [s for s in got if s % 13 == 0]
    for seq, cast in casts:
        assert list(cast) == [seq] * (1 + seq % 8), seq
    for seq, view in kept:
        assert bytes(view) == _record(seq) and view.copied, seq
    for seq, exc in raised:
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code is not on_small.__code__:
            tb = tb.tb_next
        assert tb is not None
        view = tb.tb_frame.f_locals["view"]
        assert bytes(view) == _record(seq) and view.copied, seq


@pytest.mark.kernel
def test_threads_reading_one_per_cpu_map_each_get_their_own_list(
        maps: Callable[..., Map]) -> None:
    """Threads doing ``m[k]`` on one per-CPU map at once (the interpreter switching
    between them every few microseconds): each gets the value of its own key, and
    a list one of them holds is never refilled by another's read."""
    m = maps(MapType.PERCPU_ARRAY, 4, 8, 4)
    ncpus = len(m[0])
    errors: List[str] = []
    interval = sys.getswitchinterval()

    def worker(key: int) -> None:
        held: List[Tuple[int, List[int]]] = []
        for i in range(3000):
            m[key] = key * 100000 + i
            got = m[key]
            if got != [key * 100000 + i] * ncpus:
                errors.append(f"key {key} read {got[:2]}, wrote {key * 100000 + i}")
                return
            if i % 50 == 0:
                held.append((i, got))
        for i, lst in held:
            if lst != [key * 100000 + i] * ncpus:
                errors.append(f"key {key}: a held list changed to {lst[:2]}")
                return

    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == []


@pytest.mark.kernel
@pytest.mark.parametrize("to", ["narrow", "closed"])
def test_a_state_swapped_during_the_spare_check_gets_its_own_key_encoding(
        maps: Callable[..., Map], to: str) -> None:
    """Reusing the spare record first checks its __dict__, which allocates and so can
    start a collection (Python: a GC callback) that gives the map a state of another
    key size: the key read from the new state's map is encoded for that state, not
    the 4 bytes it was encoded into for the old one (65537 = 0x00010001, whose first
    two bytes would read the 2-byte key 1 of the other map); a map closed there
    (no state) goes the general way."""
    wide = maps(MapType.HASH, 4, 8, 4)
    narrow = maps(MapType.HASH, 2, 8, 4)
    wide[65537] = (111).to_bytes(8, "little")
    narrow[1] = (222).to_bytes(8, "little")

    class Rec(ctypes.Structure):
        __slots__ = ("__dict__",)  # as the BTF records: a __dict__, no __weakref__
        _fields_ = [("x", ctypes.c_uint64)]

    class Wide:
        fast = (wide._check_loaded().fd, 4, False, 8, False, 1, Rec)

    class Narrow:
        fast = (narrow._check_loaded().fd, 2, False, 8, False, 1, Rec)

    class Probe(MapBase):
        def _get(self, key: int) -> Any:  # the general path
            return ("general", key)

    probe = Probe()
    probe._elements = Wide()
    first = probe[65537]
    assert first.x == 111
    del first  # the spare now, held by nothing else
    swapped: List[bool] = []

    def swap(phase: str, info: Any) -> None:
        if phase == "start" and not swapped:
            swapped.append(True)
            probe._elements = Narrow() if to == "narrow" else None

    threshold = gc.get_threshold()
    gc.collect()
    allocations = [[] for _ in range(20)]  # gen0 above the threshold set below
    gc.callbacks.append(swap)
    gc.set_threshold(1)  # the __dict__'s allocation starts a collection
    try:
        got = probe[65537]
    finally:
        gc.set_threshold(*threshold)
        gc.callbacks.remove(swap)
    del allocations
    gc_ran_in_the_allocation(swapped)
    assert got == ("general", 65537), f"read key 1 of the 2-byte map: {got!r}"
    if to == "narrow":
        assert probe._elements.fast[1] == 2
        assert probe[1].x == 222  # the new state's own keys
    else:
        assert not probe._fast_path and probe[1] == ("general", 1)
    probe._elements = None


@pytest.mark.kernel
def test_a_per_cpu_list_never_becomes_the_spare_of_a_record_state(
        maps: Callable[..., Map]) -> None:
    """The per-CPU read's list allocation can start a collection whose callback gives
    the map another state, made where the old one was freed (the allocator reuses
    the block): the list is kept as the spare only for the state it was read with,
    so a record read of the new state never meets a list."""
    per_cpu = maps(MapType.PERCPU_ARRAY, 4, 8, 1)
    records = maps(MapType.ARRAY, 4, 8, 1)
    per_cpu[0] = 5
    records[0] = (333).to_bytes(8, "little")

    class Rec(ctypes.Structure):
        __slots__ = ("__dict__",)
        _fields_ = [("x", ctypes.c_uint64)]

    ncpus = len(per_cpu[0])
    per_cpu_fast = (per_cpu._check_loaded().fd, 4, False, 8, False, 2, ncpus)
    record_fast = (records._check_loaded().fd, 4, False, 8, False, 1, Rec)

    class State:
        __slots__ = ("fast",)

        def __init__(self, fast: Tuple[Any, ...]) -> None:
            self.fast = fast

    probe = MapBase()
    swapped: List[int] = []

    def swap(phase: str, info: Any) -> None:
        if phase == "start" and not swapped:
            old_id = id(probe._elements)
            probe._elements = None  # the old state goes...
            probe._elements = State(record_fast)  # ...and one of records is made
            swapped.append(id(probe._elements) == old_id)

    threshold = gc.get_threshold()
    for _ in range(20):
        swapped.clear()
        probe._elements = State(per_cpu_fast)
        gc.collect()
        allocations = [[] for _ in range(20)]
        gc.callbacks.append(swap)
        gc.set_threshold(1)  # the list's allocation starts a collection
        try:
            got = probe[0]
        finally:
            gc.set_threshold(*threshold)
            gc.callbacks.remove(swap)
        del allocations
        gc_ran_in_the_allocation(swapped)
        assert got == [5] * ncpus
        del got
        rec = probe[0]  # the record state's read: a record, whatever the spare was
        assert type(rec) is Rec and rec.x == 333
        del rec
    probe._elements = None


def test_pairs_leaves_the_collector_as_it_was_when_it_raises() -> None:
    """pairs() turns the collector off while it makes its tuples: a call that raises
    leaves it on or off as the caller had it, like one that returns."""
    good = memoryview(array("I", range(10)))
    bad_calls: List[Tuple[Any, ...]] = [
        (good, memoryview(array("I", range(9)))),  # lengths differ
        (good, memoryview(array("d", [0.0] * 10))),  # a float format
        (good, 3),  # no buffer
        (memoryview(bytes(40)).cast("I", (2, 5)), good),  # 2-D
    ]
    try:
        for enabled in (True, False):
            gc.enable() if enabled else gc.disable()
            for args in bad_calls:
                with pytest.raises((TypeError, ValueError)):
                    _speedups.pairs(*args)
                assert gc.isenabled() is enabled, args
            assert _speedups.pairs(good, good)[-1] == (9, 9)
            assert gc.isenabled() is enabled
    finally:
        gc.enable()


@pytest.mark.kernel
def test_items_tuples_kept_across_chunks_and_a_close_keep_their_values(
        maps: Callable[..., Map]) -> None:
    """Map.items() of an int map (PairIter chunks): a tuple kept while the loop goes
    on, the map rewritten and then closed in the middle of a later chunk, keeps its
    own (key, value); the iteration then raises ClosedError."""
    n = 9000  # more than two chunks of 4096
    m = maps(MapType.HASH, 4, 8, n)
    m.update_batch({i: i * 3 for i in range(n)})
    kept: List[Tuple[int, int]] = []
    it = m.items()
    with pytest.raises(bpf.ClosedError):
        for i, pair in enumerate(it):
            k, v = pair
            assert v == k * 3
            if i % 500 == 0:
                kept.append(pair)
                m[k] = 1  # the map changes under the kept tuple
            if i == 6000:
                m.close()
    assert len(kept) == 13 and all(v == k * 3 for k, v in kept)
    assert len({id(p) for p in kept}) == len(kept)


def _run(script: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``script`` in a fresh interpreter: a crash (or a hang: TimeoutExpired) there is a
    failure here, and state it sets globally (lock_graph()) stays there."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script)],
                          capture_output=True, text=True, timeout=timeout)


def test_unwait_reads_no_lock_past_the_end_of_a_list_a_lock_shortens() -> None:
    """unwait() walks its list of locks last first, and a lock's attributes may be
    Python (here a ``_sleepers`` property) that empties that list: the next item is
    not read past the list's end (the old code read freed or unallocated memory
    there and segfaulted)."""
    r = _run("""
        import threading
        from libbpf_py import _speedups
        locks = []
        seen = []

        class Lock:
            owner = 0

            @property
            def _sleepers(self):
                seen.append(self)
                locks.clear()
                return {}

        for _ in range(20):
            locks[:] = [Lock() for _ in range(50)]
            last = locks[-1]
            _speedups.unwait(threading.Lock(), {}, locks, 1)
            assert seen == [last], seen
            seen.clear()
        print("ok")
    """)
    assert r.returncode == 0 and r.stdout.split() == ["ok"], (
        f"exit {r.returncode}\n{r.stdout}\n{r.stderr[-3000:]}")


def test_a_lock_exit_holds_the_graph_that_lock_graph_replaces_meanwhile() -> None:
    """LockExit.__exit__ works under the graph lock and waits dict that lock_graph()
    set; Python it runs on the way (here a ``_sleepers`` property) may call
    lock_graph() again, which drops the module's references to both: the exit goes
    on with the ones it started with, held until it is done (the old code used them
    after they were freed: a segfault, or the graph released after its __del__)."""
    r = _run("""
        import threading
        from libbpf_py import _speedups
        events = []

        class Graph:
            def __init__(self, name):
                self.name, self.lock = name, threading.Lock()

            def acquire(self):
                return self.lock.acquire()

            def release(self):
                events.append(("release", self.name))
                self.lock.release()

            def __del__(self):
                events.append(("del", self.name))

        class Lock(_speedups.LockExit):
            owner = 0

            @property
            def _sleepers(self):
                _speedups.lock_graph(Graph("new"), {})  # the graph in use goes
                return {}

        _speedups.lock_graph(Graph("old"), {})
        Lock().__exit__(None, None, None)
        assert events == [("release", "old"), ("del", "old")], events
        print("ok")
    """)
    assert r.returncode == 0 and r.stdout.split() == ["ok"], (
        f"exit {r.returncode}\n{r.stdout}\n{r.stderr[-3000:]}")


def test_entries_of_the_wrong_type_are_type_errors() -> None:
    """A Plan entry and a consume_rings ring are tuples, parsed in C: anything else is
    a TypeError that says so, not the SystemError PyArg_ParseTuple raises for a
    non-tuple (what the old code let through)."""
    for entry in ([1], "abc", None, ["a", 0, 0, 8, 0, 255]):
        with pytest.raises(TypeError, match="Plan: entry 0 must be a tuple"):
            _speedups.Plan(8, (entry,))
    with pytest.raises(TypeError, match="Plan: entry 1 must be a tuple"):
        _speedups.Plan(8, (("a", 0, 0, 8, 0, 255), ["b", 0, 8, 8, 0, 255]))
    sink = (print, 1, None)
    for ring in ([bytearray(8), bytearray(64), 8, 16], "abcd", None, 0):
        with pytest.raises(TypeError, match="consume_rings: a ring is a tuple"):
            _speedups.consume_rings([ring], [sink], -1)


def test_lock_graph_sets_its_pair_before_the_old_one_goes() -> None:
    """lock_graph(graph, waiting_for) replaces a pair the exits use together; dropping
    the old graph may run Python (its __del__) that calls lock_graph() again: the
    newest call's pair is the one left, never its graph with an older call's dict
    (the old code set the graph, dropped the old one, then set its own dict over the
    re-entrant call's)."""
    r = _run("""
        import threading
        from libbpf_py import _speedups
        me = threading.get_ident()
        used = []

        class Graph:
            def __init__(self, name):
                self.name = name

            def acquire(self):
                used.append(self.name)
                return True

            def release(self):
                pass

            def __del__(self):
                if self.name == "first":
                    _speedups.lock_graph(Graph("third"), Waits("third"))

        class Waits(dict):
            def __init__(self, name):
                super().__init__({me: None})
                self.name = name

        class Lock(_speedups.LockExit):
            owner = 0
            _sleepers = {}

        _speedups.lock_graph(Graph("first"), Waits("first"))
        second = Waits("second")
        _speedups.lock_graph(Graph("second"), second)  # first's __del__: third's pair
        Lock().__exit__(None, None, None)  # forgets me in the waits dict of its graph
        assert used == ["third"] and me in second, (used, dict(second))
        print("ok")
    """)
    assert r.returncode == 0 and r.stdout.split() == ["ok"], (
        f"exit {r.returncode}\n{r.stdout}\n{r.stderr[-3000:]}")


def test_an_exit_or_retry_that_calls_itself_gets_its_recursion_error() -> None:
    """GuardedExit.__exit__ and retry() call again what raised: a ``_exit`` (or fn)
    that calls its own __exit__ (retry) again, a mistake that Python reports with a
    RecursionError, reaches the recursion limit, and every level retrying it would
    make 8 ** depth calls. A RecursionError is not retried (another call at the same
    depth fails the same way): it is raised at once (the old code hung)."""
    r = _run("""
        from libbpf_py import _speedups

        class Exit(_speedups.GuardedExit):
            _exit_done = False

            def _exit(self, *exc):
                return self.__exit__(*exc)

        def again():
            return _speedups.retry(again)

        for _ in range(3):
            try:
                with Exit():
                    pass
            except RecursionError:
                pass
            try:
                again()
            except RecursionError:
                pass
        print("ok")
    """, timeout=60)
    assert r.returncode == 0 and r.stdout.split() == ["ok"], (
        f"exit {r.returncode}\n{r.stdout}\n{r.stderr[-3000:]}")
