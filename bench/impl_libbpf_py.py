"""The libbpf_py side of bench/run.py: the workloads of bench/c/bench.c in Python.

Run by run.py in a subprocess of its own interpreter (the one libbpf_py is
installed in); prints one JSON line per metric, as the C and BCC sides do:
``{"metric": ..., "runs": [...], "check": n}``. A metric this build cannot run
(no Skeleton, no RingBuffer yet) carries ``"note"`` and no runs.

    python bench/impl_libbpf_py.py GROUPS BENCH_OBJ SMALL_OBJ SYSCALLS_OBJ N_JSON REPEATS_JSON
    python bench/impl_libbpf_py.py --scaling SPEC_JSON     (bench/scaling.py's curves)
"""

from __future__ import annotations

import collections
import json
import resource
import statistics
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

# bench/_emit.py, a sibling: the script's own directory is first on sys.path
from _emit import int_mapping_loops, out, point, update_then_lookup

import libbpf_py
from libbpf_py import BpfObject

OPS_KEYS = 10000
CHUNK = 4096
RING_ROUND = 100000
SVAL_KEYS = 1024
PACKET = bytes(64)
BATCH_DRAIN_NAMES = ("drain", "consume_batch", "read_batch")


def group1(obj: BpfObject, n: int, repeats: int) -> None:
    """One update, then one lookup at a time: ``m[k] = v`` and ``m[k]``."""
    m = obj.maps["ops"]
    keys = [i % OPS_KEYS for i in range(n)]
    update_then_lookup("1", n, repeats, *int_mapping_loops(m, keys))


def _minor_faults() -> int:
    """Page faults this thread has taken so far (memory the kernel maps on first touch)."""
    return resource.getrusage(resource.RUSAGE_THREAD).ru_minflt


def _read_rates(read: Callable[[], Any], count: Callable[[Any], int],
                repeats: int) -> Tuple[List[float], int, float]:
    """M entries/s of ``read()`` per repeat, the entries of the last read, and the
    median page faults of a read. The result is counted and freed after the clock
    stops, as C's."""
    runs: List[float] = []
    faults: List[int] = []
    got = 0
    for _ in range(repeats):
        f0 = _minor_faults()
        t0 = time.thread_time_ns()
        result = read()
        t1 = time.thread_time_ns()
        faults.append(_minor_faults() - f0)
        got = count(result)
        del result
        runs.append(got / ((t1 - t0) / 1e9) / 1e6)
    return runs, got, statistics.median(faults)


def group2(obj: BpfObject, n: int, repeats: int) -> None:
    """Every entry of ``big``: Map.lookup_batch (a list of tuples), Map.lookup_batch_arrays
    (two arrays), Map.items() counted by a generator (2-iter), then Map.items() in a
    for loop (2-items)."""
    m = obj.maps["big"]
    m.update_batch({i: i * 3 for i in range(n)})
    batch, got, faults = _read_rates(lambda: m.lookup_batch(chunk=CHUNK), len, repeats)
    if got != n:
        raise SystemExit(f"impl_libbpf_py: lookup_batch gave {got} of {n} entries")
    out("2-batch", batch, got, faults=faults)

    def count_arrays(result: Tuple[memoryview, memoryview]) -> int:
        keys, values = result
        if len(values) != len(keys):
            raise SystemExit(f"impl_libbpf_py: lookup_batch_arrays gave {len(keys)} keys "
                             f"and {len(values)} values")
        return len(keys)

    arrays, got, faults = _read_rates(lambda: m.lookup_batch_arrays(chunk=CHUNK),
                                      count_arrays, repeats)
    if got != n:
        raise SystemExit(f"impl_libbpf_py: lookup_batch_arrays gave {got} of {n} entries")
    out("2-arrays", arrays, got, faults=faults)
    # CPython alone, no map: what making the pairs costs on this host, with the kinds of
    # ints the map holds (keys 0..n-1, values 3i). With the arrays read, the reference
    # of the two rows below (run.py's note): a list of new tuples, a loop over the pairs.
    make, _, faults = _read_rates(lambda: list(zip(range(n), range(0, 3 * n, 3))), len,
                                  repeats)
    out("2-make", make, n, faults=faults)
    loop: List[float] = []
    for _ in range(repeats):
        t0 = time.thread_time_ns()
        for _key, _value in zip(range(n), range(0, 3 * n, 3)):
            pass
        loop.append(n / ((time.thread_time_ns() - t0) / 1e9) / 1e6)
    out("2-loop", loop, n)
    it: List[float] = []
    for _ in range(repeats):
        t0 = time.thread_time_ns()
        got = sum(1 for _ in m.items())
        it.append(got / ((time.thread_time_ns() - t0) / 1e9) / 1e6)
    out("2-iter", it, got)
    # items() as a user's loop takes it, `for key, value in m.items()`; the entries are
    # counted in an untimed pass (a counter in the loop would time the counting too)
    got = sum(1 for _ in m.items())
    if got != n:
        raise SystemExit(f"impl_libbpf_py: items() gave {got} of {n} entries")
    items: List[float] = []
    for _ in range(repeats):
        t0 = time.thread_time_ns()
        for _key, _value in m.items():
            pass
        items.append(n / ((time.thread_time_ns() - t0) / 1e9) / 1e6)
    out("2-items", items, got)


class SyscallCounter:
    """bench/bpf/syscalls.bpf.c on raw_syscalls:sys_enter, counting this thread's calls.

    Attached only while it counts: the timed runs go without it, as C's do.
    """

    def __init__(self, path: str) -> None:
        self.obj = BpfObject.open(path)
        rodata = next(m for name, m in self.obj.maps.items() if name.endswith(".rodata"))
        image = bytearray(rodata.value_size)
        image[:4] = threading.get_native_id().to_bytes(4, sys.byteorder)
        rodata.initial_value = bytes(image)
        self.obj.load()
        self.bss = next(m for name, m in self.obj.maps.items() if name.endswith(".bss"))

    def per_call(self, fn: Callable[[], Any], n: int) -> float:
        """System calls per call of ``fn``, over ``n`` calls."""
        link = self.obj.programs["count_syscalls"].attach()
        try:
            before = int(self.bss[0].calls)
            for _ in range(n):
                fn()
            after = int(self.bss[0].calls)
        finally:
            link.destroy()
        return (after - before - 1) / n  # - 1: the second read's own bpf() call

    def close(self) -> None:
        self.obj.close()


def _read_counter(read_all: Callable[[], Any], get: Callable[[], Any], n: int, repeats: int,
                  counter: SyscallCounter) -> Tuple[List[float], float]:
    """ns per read, each repeat: ``read_all()`` makes the n reads in its own loop (one
    call per repeat, none per read, as BCC's and C's loops); then the system calls per
    read of ``get()``, in a counted pass."""
    runs: List[float] = []
    for _ in range(repeats):
        t0 = time.thread_time_ns()  # clock_gettime is in the vDSO: no system call
        read_all()
        runs.append((time.thread_time_ns() - t0) / n)
    return runs, counter.per_call(get, min(n, 100000))


def group3(path: str, syscalls: str, n: int, repeats: int) -> None:
    """The .bss counter: through a Skeleton's mmap'd .bss, and with a map lookup; the
    system calls each read makes are counted by a BPF program on sys_enter."""
    counter = SyscallCounter(syscalls)
    try:
        skeleton = getattr(libbpf_py, "Skeleton", None)
        if skeleton is None:
            out("3-mmap", [], note="not available in this build (no libbpf_py.Skeleton)")
        else:
            skel = skeleton.open(path)
            try:
                skel.load()
                skel.progs.bump.test_run(PACKET, repeat=5)
                bss = skel.bss

                def read_mmap(bss: Any = bss, n: int = n) -> Any:
                    value = None
                    for _ in range(n):
                        value = bss.counter
                    return value

                runs, per_read = _read_counter(read_mmap, lambda: bss.counter, n, repeats,
                                               counter)
                out("3-mmap", runs, bss.counter, syscalls=per_read)
            finally:
                skel.destroy()
        with BpfObject.open(path) as obj:
            obj.load()
            obj.programs["bump"].test_run(PACKET, repeat=5)
            bss_map = next(m for name, m in obj.maps.items() if name.endswith(".bss"))

            def read_lookup(m: Any = bss_map, n: int = n) -> Any:
                value = None
                for _ in range(n):
                    value = m[0].counter
                return value

            runs, per_read = _read_counter(read_lookup, lambda: bss_map[0].counter, n,
                                           repeats, counter)
            out("3-lookup", runs, bss_map[0].counter, syscalls=per_read)
    finally:
        counter.close()


def _batch_drain(rb: Any) -> Optional[Callable[[], int]]:
    """The RingBuffer's batch drain, whatever it is named; how many records it took."""
    for name in BATCH_DRAIN_NAMES:
        method = getattr(rb, name, None)
        if method is None:
            continue

        def drain(method: Any = method) -> int:
            # one call takes at most a batch (RingBuffer.drain: 65536 records by
            # default): drain until the ring is empty, as the C side does
            total = 0
            while True:
                result = method()
                if isinstance(result, int):
                    got = result
                elif isinstance(result, tuple) and len(result) == 2:
                    got = len(result[1])  # (bytes, offsets)
                else:
                    got = len(result)
                if not got:
                    return total
                total += got

        return drain
    return None


def _callback_floor(callback: Callable[[Any], int], count: List[int]
                    ) -> Callable[[int], int]:
    """``run(k)``: ``callback`` alone called k times from C (``map``) on ready-made
    views of 64-byte records, returning the ns it took: the floor of any consumer
    making one Python call per record."""
    data = memoryview(bytes(64 * 1024))
    one = [data[i * 64:(i + 1) * 64] for i in range(1024)]
    views: Dict[int, List[memoryview]] = {}

    def run(k: int) -> int:
        calls = views.get(k)
        if calls is None:
            calls = views[k] = (one * (k // len(one) + 1))[:k]
        before = count[0]
        t0 = time.thread_time_ns()
        collections.deque(map(callback, calls), 0)
        spent = time.thread_time_ns() - t0
        if count[0] - before != k:
            raise SystemExit("impl_libbpf_py: the floor's callback missed calls")
        return spent
    return run


def group4(obj: BpfObject, n: int, repeats: int) -> None:
    """Ring buffer: ``emit`` writes n records; RingBuffer.consume with a callback, then
    the batch drain. Only the consuming is timed."""
    ring_buffer = getattr(libbpf_py, "RingBuffer", None)
    if ring_buffer is None:
        note = "not available in this build (no libbpf_py.RingBuffer)"
        out("4-callback", [], note=note)
        out("4-batch", [], note=note)
        return
    emit = obj.programs["emit"]
    count = [0]

    def callback(data: Any) -> int:
        count[0] += 1
        return 0

    def timed(consume: Callable[[], int], floor: Optional[List[float]] = None
              ) -> List[float]:
        """M records/s of ``consume`` per repeat (n records, RING_ROUND at a time). With
        ``floor``, the floor takes a turn after every round, as many calls as records,
        and its rate per repeat goes there: this host's speed changes from one tenth
        of a second to the next (by up to 1.8x here), so the two are compared over
        the same moments rather than a run of each."""
        runs: List[float] = []
        for _ in range(repeats):
            spent, floor_spent, done, got = 0, 0, 0, 0
            while done < n:
                chunk = min(RING_ROUND, n - done)
                emit.test_run(PACKET, repeat=chunk)
                t0 = time.thread_time_ns()
                got += consume()
                spent += time.thread_time_ns() - t0
                done += chunk
                if floor is not None:
                    floor_spent += floor_run(chunk)
            if got != n:
                raise SystemExit(f"impl_libbpf_py: ring buffer gave {got} of {n} records")
            runs.append(n / (spent / 1e9) / 1e6)
            if floor is not None:
                floor.append(n / (floor_spent / 1e9) / 1e6)
        return runs

    def consume() -> int:
        before = count[0]
        rb.consume()
        return count[0] - before

    rb = ring_buffer(obj.maps["events"], callback)
    try:
        # the floor takes turns with the consumer, round by round: the ratio of the two
        # medians compares runs made under the same host load
        floor_run = _callback_floor(callback, count)
        floor: List[float] = []
        out("4-callback", timed(consume, floor), n)
        out("4-floor", floor, n)
        drain = _batch_drain(rb)
        if drain is None:
            out("4-batch", [], note="not available in this build (RingBuffer has no "
                                    f"{' / '.join(BATCH_DRAIN_NAMES)})")
        else:
            out("4-batch", timed(drain), n)
    finally:
        close = getattr(rb, "close", None)
        if close is not None:
            close()


def group7(obj: BpfObject, n: int, repeats: int) -> None:
    """A 24-byte BTF struct value (ints, a char array, bitfields): ``m[k] = {...}`` (a
    dict of every field, made before the clock starts: the encoding is timed) and
    ``m[k].bytes``, one at a time; then ``sum(p[0])`` of a per-CPU array's value (a
    list of one int per possible CPU)."""
    m = obj.maps["svals"]
    vals = [{"id": i, "delta": -i, "bytes": 3 * i, "tag": b"abc", "kind": i & 15,
             "level": i & 4095} for i in range(SVAL_KEYS)]
    keys = [i % SVAL_KEYS for i in range(n)]

    def write_all(m: Any = m, keys: List[int] = keys, vals: List[Any] = vals) -> None:
        for k in keys:
            m[k] = vals[k]

    def read_all(m: Any = m, keys: List[int] = keys) -> int:
        total = 0
        for k in keys:
            total += m[k].bytes
        return total

    update_then_lookup("7", n, repeats, write_all, read_all)
    p = obj.maps["pcpu"]
    p[0] = list(range(1, len(p[0]) + 1))
    runs: List[float] = []
    for _ in range(repeats):
        t0 = time.thread_time_ns()
        total = 0
        for _ in range(n):
            total += sum(p[0])
        runs.append((time.thread_time_ns() - t0) / n)
    out("7-percpu", runs, total // n)


def group5(path: str, repeats: int) -> None:
    """Open + load + close of the small object."""
    runs: List[float] = []
    for _ in range(repeats):
        t0 = time.thread_time_ns()
        obj = BpfObject.open(path)
        obj.load()
        obj.close()
        runs.append((time.thread_time_ns() - t0) / 1e6)
    out("5-load", runs, repeats)


# -- run.py --scaling (bench/scaling.py): one JSON line per point ----------------------------

def _per_entry(read: Callable[[], Any], count: Callable[[Any], int], n: int, loops: int,
               repeats: int, what: str) -> Tuple[List[float], int]:
    """ns per entry of ``read()`` (the whole map), ``loops`` reads per run; the results
    are counted and freed after the clock stops, as C's."""
    runs: List[float] = []
    got = 0
    for _ in range(repeats):
        kept = []
        t0 = time.thread_time_ns()
        for _ in range(loops):
            kept.append(read())
        t1 = time.thread_time_ns()
        got = count(kept[-1])
        del kept
        if got != n:
            raise SystemExit(f"impl_libbpf_py: {what} gave {got} of {n} entries")
        runs.append((t1 - t0) / (n * loops))
    return runs, got


def scale_map(n: int, loops: int, repeats: int, chunk: int) -> None:
    """A hash map of exactly ``n`` entries (keys 0..n-1, values 3 * key), read whole:
    lookup_batch_arrays(), lookup_batch() (tuples), a ``for k, v in m.items()`` loop."""
    with libbpf_py.Map.create("hash", 4, 8, n, name="scale") as m:
        m.update_batch(zip(range(n), range(0, 3 * n, 3)))
        runs, got = _per_entry(lambda: m.lookup_batch_arrays(chunk=chunk),
                               lambda r: len(r[0]), n, loops, repeats, "lookup_batch_arrays")
        point("map-batch", "lookup_batch_arrays()", n, runs, got)
        runs, got = _per_entry(lambda: m.lookup_batch(chunk=chunk), len, n, loops, repeats,
                               "lookup_batch")
        point("map-batch", "lookup_batch()", n, runs, got)
        got = sum(1 for _ in m.items())  # counted in an untimed pass, as group2 does
        if got != n:
            raise SystemExit(f"impl_libbpf_py: items() gave {got} of {n} entries")
        runs = []
        for _ in range(repeats):
            t0 = time.thread_time_ns()
            for _ in range(loops):
                for _key, _value in m.items():
                    pass
            runs.append((time.thread_time_ns() - t0) / (n * loops))
        point("map-items", "items()", n, runs, got)


def scale_ring(obj: BpfObject, curve: str, size: int, rings: int, records: int, repeats: int,
               ring_bytes: int) -> None:
    """``rings`` rings in one RingBuffer (``add``), ``emit_<size>_<ring>`` writing
    ``records`` records spread over them, in rounds that fit the rings; only the
    consuming is timed: consume() with a Python callback, then drain()."""
    count = [0]

    def callback(data: Any) -> int:
        count[0] += 1
        return 0

    progs = [obj.programs[f"emit_{size}_{r}"] for r in range(rings)]
    rb = libbpf_py.RingBuffer(obj.maps["ring0"], callback)
    try:
        for r in range(1, rings):
            rb.add(obj.maps[f"ring{r}"], callback)
        cap = ring_bytes // ((size + 8 + 7) // 8 * 8) * 9 // 10  # per ring per round

        def timed(consume: Callable[[], int]) -> List[float]:
            runs: List[float] = []
            for _ in range(repeats):
                spent, done, got = 0, 0, 0
                while done < records:
                    round_ = min(records - done, cap * rings)
                    for r, prog in enumerate(progs):
                        share = round_ // rings + (1 if r < round_ % rings else 0)
                        if share:  # repeat=0 would run once
                            prog.test_run(PACKET, repeat=share)
                    t0 = time.thread_time_ns()
                    got += consume()
                    spent += time.thread_time_ns() - t0
                    done += round_
                if got != records:
                    raise SystemExit(f"impl_libbpf_py: {rings} ring(s) of {size}-byte records "
                                     f"gave {got} of {records}")
                runs.append(records / (spent / 1e9) / 1e6)
            return runs

        def consume() -> int:
            before = count[0]
            rb.consume()
            return count[0] - before

        x = rings if curve == "ring-count" else size
        point(curve, "consume(), Python callback", x, timed(consume), records)
        drain = _batch_drain(rb)
        if drain is not None:
            point(curve, "drain()", x, timed(drain), records)
    finally:
        rb.close()


def scale_load(path: str, maps: int, repeats: int) -> None:
    """Open + load + close of a generated object with ``maps`` maps; ms."""
    runs: List[float] = []
    found = 0
    for _ in range(repeats):
        t0 = time.thread_time_ns()
        obj = BpfObject.open(path)
        obj.load()
        found = len(obj.maps)
        obj.close()
        runs.append((time.thread_time_ns() - t0) / 1e6)
    point("load", "BpfObject.open().load()", maps, runs, found)


def scaling(spec: Dict[str, Any]) -> None:
    """Every point of bench/scaling.py's spec: maps, rings, loads."""
    sm = spec["map"]
    for n in sm["sizes"]:
        scale_map(n, sm["loops"][str(n)], sm["repeats"], sm["chunk"])
    sr = spec["ring"]
    with BpfObject.open(sr["obj"]) as obj:
        obj.load()
        for curve, size, rings, records in sr["points"]:
            scale_ring(obj, curve, size, rings, records, sr["repeats"], sr["ring_bytes"])
    for maps, path in spec["load"]["objs"]:
        scale_load(path, maps, spec["load"]["repeats"])


def main(argv: List[str]) -> int:
    if len(argv) == 3 and argv[1] == "--scaling":
        scaling(json.loads(argv[2]))
        return 0
    if len(argv) != 7:
        print(f"usage: {argv[0]} GROUPS BENCH_OBJ SMALL_OBJ SYSCALLS_OBJ N_JSON REPEATS_JSON",
              file=sys.stderr)
        return 2
    groups = argv[1].split(",")
    path, small, syscalls = argv[2], argv[3], argv[4]
    sizes: Dict[str, int] = json.loads(argv[5])
    repeats: Dict[str, int] = json.loads(argv[6])
    if "5" in groups:
        group5(small, repeats["5"])
    if "3" in groups:
        group3(path, syscalls, sizes["3"], repeats["3"])
    rest = [g for g in groups if g in ("1", "2", "4", "7")]
    if rest:
        with BpfObject.open(path) as obj:
            obj.load()
            for g in rest:
                {"1": group1, "2": group2, "4": group4, "7": group7}[g](obj, sizes[g],
                                                                     repeats[g])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
