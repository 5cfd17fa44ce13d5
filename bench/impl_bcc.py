"""The BCC side of bench/run.py, run under the system's /usr/bin/python3.

Debian's python3-bpfcc installs ``bcc`` for the system interpreter only, so
run.py starts this script in a subprocess with ``BCC_KERNEL_SOURCE`` set
(bench/setup_bcc.py). It prints one JSON line per metric, as bench/c/bench.c
does: ``{"metric": ..., "runs": [...], "check": n}``; a metric BCC has no
counterpart for carries ``"note"`` and no runs.

The maps and programs are those of bench/bpf/bench.bpf.c written as BCC text
(BCC has no .bss globals: the counter of workload 3 is a one-element array,
read with a map lookup).

    /usr/bin/python3 bench/impl_bcc.py GROUP N REPEATS
    /usr/bin/python3 bench/impl_bcc.py --scaling SPEC_JSON     (bench/scaling.py's curves)
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
import time
from typing import Any, Dict, List

# bench/_emit.py, a sibling: the script's own directory is first on sys.path
from _emit import out, point, update_then_lookup
from bcc import BPF  # type: ignore[import-not-found]

OPS_KEYS = 10000
CHUNK = 4096
RING_ROUND = 100000
SVAL_KEYS = 1024

TEXT = r"""
#include <uapi/linux/bpf.h>

struct record {
	u64 seq;
	u64 pad[7];
};

struct sval {
	u32 id;
	s32 delta;
	u64 bytes;
	char tag[6];
	u16 kind: 4;
	u16 level: 12;
};

BPF_HASH(ops, u32, u64, 16384);
BPF_HASH(big, u32, u64, 100000);
BPF_ARRAY(counter, u64, 1);
BPF_ARRAY(stats, u64, 2);		/* emitted, dropped */
BPF_RINGBUF_OUTPUT(events, 2048);	/* 2048 pages: 8 MiB, as bench.bpf.c */
BPF_HASH(svals, u32, struct sval, 1024);
BPF_PERCPU_ARRAY(pcpu, u64, 1);

int bump(struct xdp_md *ctx)
{
	u32 zero = 0;
	u64 *c = counter.lookup(&zero);

	if (c)
		__sync_fetch_and_add(c, 1);
	return XDP_PASS;
}

int emit(struct xdp_md *ctx)
{
	u32 zero = 0, one = 1;
	u64 *seq = stats.lookup(&zero);
	struct record *r = events.ringbuf_reserve(sizeof(*r));

	if (!r) {
		u64 *d = stats.lookup(&one);
		if (d)
			(*d)++;
		return XDP_PASS;
	}
	r->seq = seq ? (*seq)++ : 0;
	for (int i = 0; i < 7; i++)
		r->pad[i] = i;
	events.ringbuf_submit(r, 0);
	return XDP_PASS;
}
"""

# Workload 5: bench/bpf/small.bpf.c as BCC text.
SMALL_TEXT = r"""
#include <uapi/linux/bpf.h>

BPF_ARRAY(packets, u64, 1);

int count_packets(struct xdp_md *ctx)
{
	u32 zero = 0;
	u64 *n = packets.lookup(&zero);

	if (n)
		__sync_fetch_and_add(n, 1);
	return XDP_PASS;
}
"""

_BPF_PROG_TEST_RUN = 10
_SYS_BPF = 321  # x86_64


class _TestRunAttr(ctypes.Structure):
    """The ``test`` member of ``union bpf_attr`` (BCC's Python has no test_run)."""

    _fields_ = [("prog_fd", ctypes.c_uint32), ("retval", ctypes.c_uint32),
                ("data_size_in", ctypes.c_uint32), ("data_size_out", ctypes.c_uint32),
                ("data_in", ctypes.c_uint64), ("data_out", ctypes.c_uint64),
                ("repeat", ctypes.c_uint32), ("duration", ctypes.c_uint32),
                ("ctx_size_in", ctypes.c_uint32), ("ctx_size_out", ctypes.c_uint32),
                ("ctx_in", ctypes.c_uint64), ("ctx_out", ctypes.c_uint64),
                ("flags", ctypes.c_uint32), ("cpu", ctypes.c_uint32),
                ("batch_size", ctypes.c_uint32), ("_pad", ctypes.c_uint32)]


_libc = ctypes.CDLL(None, use_errno=True)
_PACKET = ctypes.create_string_buffer(64)


def test_run(fd: int, repeat: int) -> None:
    """BPF_PROG_TEST_RUN with a 64-byte packet, ``repeat`` times."""
    attr = _TestRunAttr(prog_fd=fd, data_size_in=64,
                        data_in=ctypes.addressof(_PACKET), repeat=repeat)
    ret = _libc.syscall(_SYS_BPF, _BPF_PROG_TEST_RUN, ctypes.byref(attr),
                        ctypes.sizeof(attr))
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"BPF_PROG_TEST_RUN: {os.strerror(err)}")


def group1(b: Any, n: int, repeats: int) -> None:
    t = b["ops"]
    key, leaf = t.Key, t.Leaf
    keys = [i % OPS_KEYS for i in range(n)]

    def write_all(t: Any = t, key: Any = key, leaf: Any = leaf, keys: List[int] = keys) -> None:
        for k in keys:
            t[key(k)] = leaf(k)

    def read_all(t: Any = t, key: Any = key, keys: List[int] = keys) -> int:
        total = 0
        for k in keys:
            total += t[key(k)].value
        return total

    update_then_lookup("1", n, repeats, write_all, read_all)


def group2(b: Any, n: int, repeats: int) -> None:
    t = b["big"]
    key, leaf = t.Key, t.Leaf
    keys = (key * n)(*[key(i) for i in range(n)])
    vals = (leaf * n)(*[leaf(i * 3) for i in range(n)])
    t.items_update_batch(keys, vals)
    batch: List[float] = []
    got = 0
    for _ in range(repeats):
        t0 = time.thread_time_ns()
        entries = list(t.items_lookup_batch())
        t1 = time.thread_time_ns()  # the result is freed after the clock stops, as C's
        got = len(entries)
        del entries
        batch.append(got / ((t1 - t0) / 1e9) / 1e6)
    out("2-batch", batch, got)
    out("2-arrays", [], note="BCC has no batch read into arrays (items_lookup_batch "
                             "yields (key, value) pairs)")
    it: List[float] = []
    for _ in range(repeats):
        t0 = time.thread_time_ns()
        got = len(t.items())
        it.append(got / ((time.thread_time_ns() - t0) / 1e9) / 1e6)
    out("2-iter", it, got)


def group3(b: Any, n: int, repeats: int) -> None:
    test_run(b.load_func("bump", BPF.XDP).fd, 5)
    t = b["counter"]
    out("3-mmap", [], note="BCC has no mmap'd globals")
    runs: List[float] = []
    value = 0
    for _ in range(repeats):
        t0 = time.thread_time_ns()
        for _ in range(n):
            value = t[0].value
        runs.append((time.thread_time_ns() - t0) / n)
    out("3-lookup", runs, value)


def group4(b: Any, n: int, repeats: int) -> None:
    fd = b.load_func("emit", BPF.XDP).fd
    count = [0]

    def callback(ctx: Any, data: Any, size: int) -> int:
        count[0] += 1
        return 0

    b["events"].open_ring_buffer(callback)
    runs: List[float] = []
    for _ in range(repeats):
        count[0] = 0
        spent = 0
        done = 0
        while done < n:
            chunk = min(RING_ROUND, n - done)
            test_run(fd, chunk)
            t0 = time.thread_time_ns()
            b.ring_buffer_consume()
            spent += time.thread_time_ns() - t0
            done += chunk
        if count[0] != n:
            raise SystemExit(f"impl_bcc: ring buffer gave {count[0]} of {n} records")
        runs.append(n / (spent / 1e9) / 1e6)
    out("4-callback", runs, count[0])
    out("4-batch", [], note="BCC has no batch drain")


def group7(b: Any, n: int, repeats: int) -> None:
    """BCC's Table with a struct Leaf (ctypes, bitfields included): ``t[Key(k)] = leaf``
    (the leaves made before the clock starts) and ``t[Key(k)].bytes``; then
    ``sum(p[0])`` of the per-CPU array (a ctypes array of one value per CPU)."""
    t = b["svals"]
    key, leaf = t.Key, t.Leaf
    vals = [leaf(id=i, delta=-i, bytes=3 * i, tag=b"abc", kind=i & 15, level=i & 4095)
            for i in range(SVAL_KEYS)]
    keys = [i % SVAL_KEYS for i in range(n)]

    def write_all(t: Any = t, key: Any = key, keys: List[int] = keys,
                  vals: List[Any] = vals) -> None:
        for k in keys:
            t[key(k)] = vals[k]

    def read_all(t: Any = t, key: Any = key, keys: List[int] = keys) -> int:
        total = 0
        for k in keys:
            total += t[key(k)].bytes
        return total

    update_then_lookup("7", n, repeats, write_all, read_all)
    p = b["pcpu"]
    zero = p.Key(0)
    ncpus = len(p[zero])
    p[zero] = p.Leaf(*range(1, ncpus + 1))
    runs: List[float] = []
    for _ in range(repeats):
        t0 = time.thread_time_ns()
        total = 0
        for _ in range(n):
            total += sum(p[zero])
        runs.append((time.thread_time_ns() - t0) / n)
    out("7-percpu", runs, total // n)


def group5(repeats: int) -> None:
    runs: List[float] = []
    for _ in range(repeats):
        t0 = time.thread_time_ns()
        b = BPF(text=SMALL_TEXT)
        b.load_func("count_packets", BPF.XDP)
        b.cleanup()
        runs.append((time.thread_time_ns() - t0) / 1e6)
    out("5-load", runs, repeats)


# -- run.py --scaling (bench/scaling.py): one JSON line per point ----------------------------

def scaling_text(spec: Dict[str, Any]) -> str:
    """The hash maps big<N> of the map curves, the rings ring0.. and the programs
    emit_<size>_<ring> of bench/scaling.py's generated object, as BCC text."""
    sr = spec["ring"]
    pages = sr["ring_bytes"] // 4096
    out = ["#include <uapi/linux/bpf.h>\n"]
    out += [f"BPF_HASH(big{n}, u32, u64, {n});" for n in spec["map"]["sizes"]]
    out += [f"BPF_RINGBUF_OUTPUT(ring{r}, {pages});" for r in range(max(sr["counts"]))]
    progs = {(s, 0) for s in sr["sizes"]} | {(sr["record"], r) for r in range(max(sr["counts"]))}
    for size, r in sorted(progs):
        out.append(f"""
int emit_{size}_{r}(struct xdp_md *ctx)
{{
	u64 *rec = ring{r}.ringbuf_reserve({size});

	if (!rec)
		return XDP_PASS;
	*rec = 1;
	ring{r}.ringbuf_submit(rec, 0);
	return XDP_PASS;
}}""")
    return "\n".join(out) + "\n"


def scale_map(b: Any, n: int, loops: int, repeats: int) -> None:
    """``list(t.items_lookup_batch())`` (BCC reads the whole map in one call: its chunk
    is max_entries) and ``t.items()`` (get_next_key and a lookup per key), ns/entry."""
    t = b[f"big{n}"]
    keys = (t.Key * n)(*range(n))
    vals = (t.Leaf * n)(*range(0, 3 * n, 3))
    t.items_update_batch(keys, vals)
    for curve, series, read in (("map-batch", "items_lookup_batch()",
                                 lambda: list(t.items_lookup_batch())),
                                ("map-items", "items()", t.items)):
        runs: List[float] = []
        got = 0
        for _ in range(repeats):
            kept = []
            t0 = time.thread_time_ns()
            for _ in range(loops):
                kept.append(read())
            t1 = time.thread_time_ns()  # the results are freed after the clock stops
            got = len(kept[-1])
            del kept
            if got != n:
                raise SystemExit(f"impl_bcc: {series} gave {got} of {n} entries")
            runs.append((t1 - t0) / (n * loops))
        point(curve, series, n, runs, got)


def scale_ring(b: Any, opened: List[int], curve: str, size: int, rings: int, records: int,
               repeats: int, ring_bytes: int, count: List[int]) -> None:
    """BCC's ring manager holds every ring opened so far (there is no way to drop one):
    the points come in order of rings, the rings are opened as they are needed."""
    if len(opened) > rings:
        raise SystemExit("impl_bcc: ring points must come in order of rings")
    while len(opened) < rings:
        def callback(ctx: Any, data: Any, size: int) -> int:
            count[0] += 1
            return 0

        b[f"ring{len(opened)}"].open_ring_buffer(callback)
        opened.append(len(opened))
    fds = [b.load_func(f"emit_{size}_{r}", BPF.XDP).fd for r in range(rings)]
    cap = ring_bytes // ((size + 8 + 7) // 8 * 8) * 9 // 10
    runs: List[float] = []
    for _ in range(repeats):
        count[0] = 0
        spent = 0
        done = 0
        while done < records:
            round_ = min(records - done, cap * rings)
            for r, fd in enumerate(fds):
                share = round_ // rings + (1 if r < round_ % rings else 0)
                if share:
                    test_run(fd, share)
            t0 = time.thread_time_ns()
            b.ring_buffer_consume()
            spent += time.thread_time_ns() - t0
            done += round_
        if count[0] != records:
            raise SystemExit(f"impl_bcc: {rings} ring(s) of {size}-byte records gave "
                             f"{count[0]} of {records}")
        runs.append(records / (spent / 1e9) / 1e6)
    point(curve, "ring_buffer_consume(), Python callback",
          rings if curve == "ring-count" else size, runs, records)


def scaling(spec: Dict[str, Any]) -> None:
    b = BPF(text=scaling_text(spec))
    try:
        sm, sr = spec["map"], spec["ring"]
        for n in sm["sizes"]:
            scale_map(b, n, sm["loops"][str(n)], sm["repeats"])
        opened: List[int] = []
        count = [0]
        for curve, size, rings, records in sorted(sr["points"], key=lambda p: p[2]):
            scale_ring(b, opened, curve, size, rings, records, sr["repeats"], sr["ring_bytes"],
                       count)
    finally:
        b.cleanup()


def main(argv: List[str]) -> int:
    if len(argv) == 3 and argv[1] == "--scaling":
        scaling(json.loads(argv[2]))
        return 0
    if len(argv) != 4:
        print(f"usage: {argv[0]} GROUPS N_JSON REPEATS_JSON", file=sys.stderr)
        return 2
    groups = argv[1].split(",")
    sizes: Dict[str, int] = json.loads(argv[2])
    repeats: Dict[str, int] = json.loads(argv[3])
    if "5" in groups:
        group5(repeats["5"])
    rest = [g for g in groups if g in ("1", "2", "3", "4", "7")]
    if rest:
        b = BPF(text=TEXT)
        try:
            for g in rest:
                {"1": group1, "2": group2, "3": group3, "4": group4, "7": group7}[g](
                    b, sizes[g], repeats[g])
        finally:
            b.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
