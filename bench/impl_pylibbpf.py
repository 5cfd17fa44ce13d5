"""The pylibbpf side of bench/run.py, run by the interpreter of its own venv.

bench/setup_pylibbpf.py installs pylibbpf 0.0.6 into ``bench/build/pylibbpf-venv``;
run.py starts this script there, on the same bench/bpf objects libbpf_py and C
load. It prints one JSON line per metric, as the other sides do:
``{"metric": ..., "runs": [...], "check": n}``; a metric pylibbpf has no API for
carries ``"note"`` and no runs.

What pylibbpf 0.0.6 offers (its whole map API): ``BpfObject(path)`` opens,
``.load()`` loads, ``obj[name]`` is a ``BpfMap`` with ``m[k]`` / ``m[k] = v``
(lookup / update), ``items()`` (a dict, read with get_next_key + lookup per entry),
keys(), values(), delete. Keys and values are Python ints when their size is 1-8
bytes, else ``bytes`` of the value size. There is no close(): the object is
closed by its destructor, when the last reference goes. It has no batch calls,
no program test runs, no mmap'd globals, no ring buffer and no per-CPU values.

    python bench/impl_pylibbpf.py GROUPS BENCH_OBJ SMALL_OBJ N_JSON REPEATS_JSON
"""

from __future__ import annotations

import json
import os
import struct
import sys
import time
from typing import Any, Dict, List

import pylibbpf  # type: ignore[import-not-found]

# bench/_emit.py, a sibling: the script's own directory is first on sys.path
from _emit import int_mapping_loops, out, update_then_lookup

OPS_KEYS = 10000
SVAL_KEYS = 1024
# struct sval of bench.bpf.c: __u32 id; __s32 delta; __u64 bytes; char tag[6];
# __u16 kind: 4, level: 12 (kind in the low bits on x86-64): 24 bytes, no padding
SVAL = struct.Struct("<IiQ6sH")
NO_BATCH = "pylibbpf 0.0.6 has no batch read (its items() reads one entry at a time)"


def group1(obj: Any, n: int, repeats: int) -> None:
    """One update, then one lookup at a time: ``m[k] = v`` and ``m[k]`` (ints)."""
    m = obj["ops"]
    keys = [i % OPS_KEYS for i in range(n)]
    update_then_lookup("1", n, repeats, *int_mapping_loops(m, keys))


def group2(obj: Any, n: int, repeats: int) -> None:
    """Every entry of ``big``, one by one: ``m.items()`` (a dict), as BCC's items().
    The map is filled one update at a time (pylibbpf has no batch update)."""
    m = obj["big"]
    for i in range(n):
        m[i] = i * 3
    out("2-batch", [], note=NO_BATCH)
    out("2-arrays", [], note=NO_BATCH)
    runs: List[float] = []
    got = 0
    for _ in range(repeats):
        t0 = time.thread_time_ns()
        entries = m.items()
        t1 = time.thread_time_ns()  # the result is freed after the clock stops, as C's
        got = len(entries)
        if got != n or entries[n - 1] != 3 * (n - 1):
            raise SystemExit(f"impl_pylibbpf: items() gave {got} of {n} entries")
        del entries
        runs.append(got / ((t1 - t0) / 1e9) / 1e6)
    out("2-iter", runs, got)


def group3() -> None:
    out("3-mmap", [], note="pylibbpf 0.0.6 has no mmap'd globals")
    out("3-lookup", [], note="pylibbpf 0.0.6 cannot run the program that bumps the counter "
                             "(BpfProgram has attach/detach only: no test_run, no fd)")


def group4() -> None:
    note = "pylibbpf 0.0.6 has no ring buffer (perf event arrays only)"
    out("4-callback", [], note=note)
    out("4-batch", [], note=note)


def group7(obj: Any, n: int, repeats: int) -> None:
    """The 24-byte struct value: pylibbpf passes it as ``bytes``, so updates write bytes
    packed before the clock starts (as C's struct and BCC's Leaf; libbpf_py's dict is
    encoded on the clock), and lookups get bytes back and decode the ``bytes`` field
    themselves (``struct.unpack_from``, on the clock, as libbpf_py's ``m[k].bytes``).
    The per-CPU array has no row: pylibbpf 0.0.6 passes one value, not one per CPU."""
    m = obj["svals"]
    vals = [SVAL.pack(i, -i, 3 * i, b"abc", (i & 15) | ((i & 4095) << 4))
            for i in range(SVAL_KEYS)]
    field = struct.Struct("<Q").unpack_from
    keys = [i % SVAL_KEYS for i in range(n)]

    def write_all(m: Any = m, keys: List[int] = keys, vals: List[bytes] = vals) -> None:
        for k in keys:
            m[k] = vals[k]

    def read_all(m: Any = m, keys: List[int] = keys, field: Any = field) -> int:
        total = 0
        for k in keys:
            total += field(m[k], 8)[0]
        return total

    update_then_lookup("7", n, repeats, write_all, read_all,
                       update_note="bytes packed before the clock (struct.pack of every "
                                   "field, bitfields included)",
                       lookup_note="bytes back; the field decoded with "
                                   "struct.unpack_from(m[k], 8)")
    if m[keys[-1]] != vals[keys[-1]]:
        raise SystemExit("impl_pylibbpf: svals did not read back what was written")
    out("7-percpu", [], note="pylibbpf 0.0.6 has no per-CPU values: it passes value_size "
                             "bytes and libbpf refuses (EINVAL: it wants one per CPU)")


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def group5(path: str, repeats: int) -> None:
    """Open + load + close of the small object: ``BpfObject(path)``, ``.load()``, then
    dropping the last reference (pylibbpf has no close(); its destructor closes)."""
    before = _fds()
    runs: List[float] = []
    for _ in range(repeats):
        t0 = time.thread_time_ns()
        obj = pylibbpf.BpfObject(path)
        obj.load()
        del obj
        runs.append((time.thread_time_ns() - t0) / 1e6)
    if _fds() != before:
        raise SystemExit(f"impl_pylibbpf: {_fds() - before} fds left open after the loads")
    out("5-load", runs, repeats, note="BpfObject(path).load(), closed by `del` (no close())")


def main(argv: List[str]) -> int:
    if len(argv) != 6:
        print(f"usage: {argv[0]} GROUPS BENCH_OBJ SMALL_OBJ N_JSON REPEATS_JSON",
              file=sys.stderr)
        return 2
    groups = argv[1].split(",")
    path, small = argv[2], argv[3]
    sizes: Dict[str, int] = json.loads(argv[4])
    repeats: Dict[str, int] = json.loads(argv[5])
    if "5" in groups:
        group5(small, repeats["5"])
    if "3" in groups:
        group3()
    if "4" in groups:
        group4()
    rest = [g for g in groups if g in ("1", "2", "7")]
    if rest:
        obj = pylibbpf.BpfObject(path)
        obj.load()
        for g in rest:
            {"1": group1, "2": group2, "7": group7}[g](obj, sizes[g], repeats[g])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
