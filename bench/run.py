"""libbpf_py against C libbpf, BCC and pylibbpf, side by side: one command, one table.

    python bench/run.py [--quick | --tiny] [--json FILE] [--png FILE] [--only W ...] [--no-bcc]
                        [--no-pylibbpf]
    python bench/run.py --scaling [--quick] [--json FILE] [--png DIR] [--no-bcc]

Run it with the Python that has libbpf_py installed (the project's .venv). It
builds what it needs into bench/build/ (BPF objects, the C benchmark linked
against the libbpf the bindings link, BCC's kernel headers), runs every
workload for libbpf_py, for C and for BCC (under /usr/bin/python3, where
Debian's python3-bpfcc lives) and for pylibbpf 0.0.6 where it has the workload
(issue 19 point 5: in a venv of its own under bench/build/, bench/setup_pylibbpf.py;
left out, with a note, when that venv cannot be made), and prints, per metric, the
median of the repeated runs of each implementation, the ratios libbpf_py/C,
BCC/libbpf_py and pylibbpf/libbpf_py (ratios of the medians, in the metric's own
unit) and the target with met / not met. Progress goes to stderr, the table to stdout.

Workloads (issue 8): 1 hash map update and lookup one op at a time; 2 read
every entry of a 100k-entry hash map (as tuples, as two arrays, one by one, with
items()); 3
read a .bss counter after load; 4 ring buffer of 64-byte records, Python
callback and batch drain; 5 open + load of a small object vs BCC's
BPF(text=...); 6 ``import`` time and RSS; 7 (issue 19) a 24-byte BTF struct value
(ints, a char array, bitfields) in a hash map, one lookup / update at a time, and a
per-CPU array's value (one slot per CPU).

``--scaling`` (issue 19) measures how cost grows instead: bench/scaling.py.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

from toolchain import BENCH, compile_bpf, compile_c, log, pyplot

SYSTEM_PYTHON = "/usr/bin/python3"
IMPLS = ("libbpf_py", "C", "BCC", "pylibbpf")


@dataclass(frozen=True)
class Metric:
    """One row of the table."""

    id: str
    workload: str
    unit: str
    higher_is_better: bool
    target: str = ""
    # (medians by impl) -> (met, why); None when the row has no target
    check: Optional[Callable[[Dict[str, Optional[float]]], Optional[bool]]] = None


def _ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return a / b if a is not None and b else None


def _le(x: Optional[float], limit: float) -> Optional[bool]:
    return None if x is None else x <= limit


def _ge(x: Optional[float], limit: float) -> Optional[bool]:
    return None if x is None else x >= limit


def _both(a: Optional[bool], b: Optional[bool]) -> Optional[bool]:
    """Met when both are; not met when either is not; no data when neither says no."""
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


METRICS = [
    Metric("1-update", "1 hash update, one at a time", "ns/op", False, "<= 1.3x C",
           lambda m: _le(_ratio(m["libbpf_py"], m["C"]), 1.3)),
    Metric("1-lookup", "1 hash lookup, one at a time", "ns/op", False, "<= 1.3x C",
           lambda m: _le(_ratio(m["libbpf_py"], m["C"]), 1.3)),
    Metric("2-batch", "2 read 100k entries (batch)", "M entries/s", True, ">= 0.8x C",
           lambda m: _ge(_ratio(m["libbpf_py"], m["C"]), 0.8)),
    # the same read into two arrays (Map.lookup_batch_arrays), against C's batch read
    Metric("2-arrays", "2 read 100k entries (batch, arrays)", "M entries/s", True,
           ">= 0.8x C", lambda m: _ge(_ratio(m["libbpf_py"], m["C"]), 0.8)),
    Metric("2-iter", "2 read 100k entries (one by one)", "M entries/s", True),
    # CPython alone, no map (libbpf_py's interpreter): list(zip(range, range)) of 100k
    # (int, int) tuples, and a `for k, v in zip(range, range)` loop; with the arrays
    # read, the reference 2-batch and 2-items are measured against (_cpython_note)
    Metric("2-make", "2 CPython alone: 100k (int, int) tuples", "M entries/s", True),
    Metric("2-loop", "2 CPython alone: a loop over 100k pairs", "M entries/s", True),
    # C alone: the first touch of fresh anonymous memory, per page fault; with the faults
    # the rows above count (Row.faults), what new Python objects cost here (_cpython_note)
    Metric("2-fault", "2 one page fault (fresh memory, C)", "ns", False),
    # Map.items() consumed by a for loop (it reads in batches: issue 19), against C's
    # batch read (the 2-batch runs of C) and BCC's items() (its 2-iter runs)
    Metric("2-items", "2 items() 100k entries", "M entries/s", True, ">= 0.8x C",
           lambda m: _ge(_ratio(m["libbpf_py"], m["C"]), 0.8)),
    Metric("3-mmap", "3 read .bss counter (mmap)", "ns/read", False,
           "no syscall, <= 200 ns", lambda m: _le(m["libbpf_py"], 200.0)),  # + syscalls == 0
    Metric("3-lookup", "3 read .bss counter (map lookup)", "ns/read", False, "<= 1.5x C",
           lambda m: _le(_ratio(m["libbpf_py"], m["C"]), 1.5)),
    # issue 19: at least 3.5x BCC and 0.9 of the floor measured in the same run (the
    # check's "floor", the 4-floor row's median)
    Metric("4-callback", "4 ring buffer, Python callback", "M records/s", True,
           ">= 3.5x BCC, 0.9 floor", lambda m: _both(
               _ge(_ratio(m["libbpf_py"], m["BCC"]), 3.5),
               _ge(_ratio(m["libbpf_py"], m["floor"]), 0.9))),
    Metric("4-batch", "4 ring buffer, batch drain", "M records/s", True, ">= 5 M/s",
           lambda m: _ge(m["libbpf_py"], 5.0)),
    # the cost of the benchmark's callback alone, called from C on ready-made records:
    # what no consumer that makes one Python call per record can beat (see README)
    Metric("4-floor", "4 the callback alone, from C (floor)", "M records/s", True),
    Metric("5-load", "5 open + load small object", "ms", False, ">= 50x faster than BCC",
           lambda m: _ge(_ratio(m["BCC"], m["libbpf_py"]), 50.0)),
    Metric("6-time", "6 import time", "ms", False, "< 50 ms",
           lambda m: None if m["libbpf_py"] is None else m["libbpf_py"] < 50.0),
    Metric("6-rss", "6 import RSS (whole process)", "MB", False, "< 30 MB",
           lambda m: None if m["libbpf_py"] is None else m["libbpf_py"] < 30.0),
    # issue 19: BTF-typed values at near-C cost (a struct decoded, encoded from a dict)
    Metric("7-lookup", "7 struct value lookup (24 B, hash)", "ns/op", False, "<= 1.5x C",
           lambda m: _le(_ratio(m["libbpf_py"], m["C"]), 1.5)),
    Metric("7-update", "7 struct value update from a dict", "ns/op", False, "<= 1.5x C",
           lambda m: _le(_ratio(m["libbpf_py"], m["C"]), 1.5)),
    Metric("7-percpu", "7 per-CPU array value lookup", "ns/op", False, "<= 1.5x C",
           lambda m: _le(_ratio(m["libbpf_py"], m["C"]), 1.5)),
]
BY_ID = {m.id: m for m in METRICS}
# Rows that are another row's runs of the same side, compared with a new libbpf_py row:
# (metric, impl) -> the metric whose runs they are.
SAME_RUNS = {("2-items", "C"): "2-batch", ("2-items", "BCC"): "2-iter",
             ("2-items", "pylibbpf"): "2-iter"}

# Sizes (ops, entries, reads, records) and repeats per profile.
PROFILES: Dict[str, Dict[str, Dict[str, int]]] = {
    "full": {"n": {"1": 200000, "2": 100000, "3": 200000, "4": 1000000, "7": 200000},
             "repeats": {"1": 7, "2": 7, "3": 7, "4": 7, "5": 10, "6": 10, "7": 7}},
    "quick": {"n": {"1": 50000, "2": 100000, "3": 200000, "4": 200000, "7": 50000},
              "repeats": {"1": 3, "2": 3, "3": 3, "4": 3, "5": 3, "6": 3, "7": 3}},
    "tiny": {"n": {"1": 500, "2": 2000, "3": 2000, "4": 2000, "7": 500},
             "repeats": {"1": 1, "2": 1, "3": 1, "4": 1, "5": 1, "6": 1, "7": 1}},
}

# How many turns the sides take (the repeats are split between them).
ROUNDS = {"full": 3, "quick": 1, "tiny": 1}
# Workload 2's pairs: after the rounds, libbpf_py and C each read the map PAIR_READS
# times (the median counts) in a process of their own, one right after the other (the
# order alternating), this many times. The rounds' medians compare reads made tens of
# seconds apart on a host whose speed moves; a pair's ratio compares reads made within
# a second (_paired_note).
PAIRS = {"full": 9, "quick": 3, "tiny": 1}
PAIR_READS = {"full": 3, "quick": 3, "tiny": 1}
# The workload 2 rows a pair compares with C's batch read.
PAIRED_ROWS = ("2-batch", "2-arrays", "2-items")

IMPORT_SNIPPET = """
import json, time
def rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
before = rss()
w0, t0 = time.perf_counter(), time.process_time()
import {module}
t1, w1 = time.process_time(), time.perf_counter()
print(json.dumps({{"ms": (t1 - t0) * 1e3, "wall": (w1 - w0) * 1e3, "rss": rss(),
                  "before": before}}))
"""


@dataclass
class Row:
    metric: Metric
    impl: str
    runs: List[float] = field(default_factory=list)
    note: str = ""
    syscalls: Optional[float] = None  # per op, counted by bpf/syscalls.bpf.c (workload 3)
    check: Any = None  # what the side computed from what it read (a sum...), to compare
    faults: Optional[float] = None  # page faults of a run (median), where counted (2-*)

    @property
    def median(self) -> Optional[float]:
        return statistics.median(self.runs) if self.runs else None

    def as_json(self) -> Dict[str, Any]:
        return {"workload": self.metric.workload, "impl": self.impl, "median": self.median,
                "unit": self.metric.unit, "runs": self.runs, "metric": self.metric.id,
                "note": self.note, "syscalls_per_op": self.syscalls, "check": self.check,
                "faults_per_run": self.faults}


def _parse(stdout: str, impl: str) -> List[Row]:
    rows = []
    for line in stdout.splitlines():
        if line.startswith("{"):
            data = json.loads(line)
            rows.append(Row(BY_ID[data["metric"]], impl, [float(x) for x in data["runs"]],
                            data.get("note", ""), data.get("syscalls"), data.get("check"),
                            data.get("faults")))
    return rows


def _worker(cmd: List[str], impl: str, env: Optional[Dict[str, str]] = None) -> List[Row]:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"bench: the {impl} run failed ({' '.join(cmd)}):\n"
                         f"{proc.stderr[-3000:]}")
    return _parse(proc.stdout, impl)


def _import_rows(python: str, module: str, impl: str, runs: int,
                 env: Optional[Dict[str, str]] = None) -> List[Row]:
    # Measured as installed: with the byte-code cached (pip and Debian write .pyc
    # files at install time). PYTHONDONTWRITEBYTECODE would make every import
    # compile from source, so it is dropped, and one untimed import writes the cache.
    env = dict(env if env is not None else os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    times, walls, rss, before = [], [], [], []
    for i in range(runs + 1):
        proc = subprocess.run([python, "-c", IMPORT_SNIPPET.format(module=module)],
                              capture_output=True, text=True, env=env, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"bench: `import {module}` failed under {python}:\n"
                             f"{proc.stderr[-2000:]}")
        if i == 0:
            continue  # the warm-up: byte-code and page cache
        data = json.loads(proc.stdout.strip().splitlines()[-1])
        times.append(data["ms"])
        walls.append(data["wall"])
        rss.append(data["rss"])
        before.append(data["before"])
    return [Row(BY_ID["6-time"], impl, times,
                f"{python}; wall clock {statistics.median(walls):.1f} ms"),
            Row(BY_ID["6-rss"], impl, rss,
                f"{python}; RSS before the import {statistics.median(before):.1f} MB")]


def bcc_available() -> bool:
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        return False
    return subprocess.run([SYSTEM_PYTHON, "-c", "import bcc"], capture_output=True,
                          check=False).returncode == 0


def run(groups: List[str], profile: str, with_bcc: bool,
        pylibbpf: Optional[Path] = None
        ) -> tuple[List[Row], List[str], Dict[str, List[float]]]:
    """Every row of the selected workloads; notes on the machine for the output; and
    workload 2's paired ratios (libbpf_py/C per pair, by metric: see PAIRS).
    ``pylibbpf``: the interpreter of pylibbpf's venv, None to leave its column out."""
    import libbpf_py

    info = libbpf_py.build_info().as_dict()
    sizes, repeats = PROFILES[profile]["n"], PROFILES[profile]["repeats"]
    notes = [f"libbpf_py {libbpf_py.__version__}: {info['mode']} build ({info['origin']}), "
             f"libbpf {info['runtime_version']} "
             f"({info['library_path'] or info['linked_library']}); "
             f"Python {sys.version.split()[0]}; kernel {os.uname().release}; "
             f"{os.cpu_count()} CPUs; profile {profile}"]
    rows: List[Row] = []
    kernel_groups = [g for g in groups if g in ("1", "2", "3", "4", "5", "7")]
    paired: Dict[str, List[float]] = {}
    bcc_env: Optional[Dict[str, str]] = None
    if with_bcc:
        from setup_bcc import describe, ensure_headers

        headers = ensure_headers()
        notes.append(describe(headers))
        bcc_env = dict(os.environ, BCC_KERNEL_SOURCE=str(headers))
    if pylibbpf is not None:
        from setup_pylibbpf import describe as describe_pylibbpf

        notes.append(describe_pylibbpf())
    if kernel_groups:
        obj = compile_bpf("bench", info["include_dir"])
        small = compile_bpf("small", info["include_dir"])
        syscalls = compile_bpf("syscalls", info["include_dir"])
        exe = compile_c(info)
        joined = ",".join(kernel_groups)

        def py_side(reps: Dict[str, int]) -> List[Row]:
            log(f"libbpf_py: workloads {joined}")
            return _worker([sys.executable, str(BENCH / "impl_libbpf_py.py"), joined,
                            str(obj), str(small), str(syscalls), json.dumps(sizes),
                            json.dumps(reps)], "libbpf_py")

        def c_side(reps: Dict[str, int]) -> List[Row]:
            out: List[Row] = []
            for g in kernel_groups:
                log(f"C: workload {g}")
                out += _worker([str(exe), g, str(obj), str(small), str(sizes.get(g, 1)),
                                str(reps[g])], "C")
            return out

        def bcc_side(reps: Dict[str, int]) -> List[Row]:
            log(f"BCC: workloads {joined} (compiling with clang, seconds)")
            return _worker([SYSTEM_PYTHON, str(BENCH / "impl_bcc.py"), joined,
                            json.dumps(sizes), json.dumps(reps)], "BCC", bcc_env)

        def pylibbpf_side(reps: Dict[str, int]) -> List[Row]:
            log(f"pylibbpf: workloads {joined}")
            return _worker([str(pylibbpf), str(BENCH / "impl_pylibbpf.py"), joined, str(obj),
                            str(small), json.dumps(sizes), json.dumps(reps)], "pylibbpf")

        sides: List[Callable[[Dict[str, int]], List[Row]]] = [py_side, c_side]
        if with_bcc:
            sides.append(bcc_side)
        if pylibbpf is not None:
            sides.append(pylibbpf_side)
        # The sides take turns, in ROUNDS rounds that split the repeats and rotate the
        # order, so that a change of load on the machine falls on all of them alike.
        rounds = min(ROUNDS[profile], *(repeats[g] for g in kernel_groups))
        merged: Dict[tuple[str, str], Row] = {}
        for r in range(rounds):
            reps = {g: n // rounds + (1 if r < n % rounds else 0) for g, n in repeats.items()}
            if rounds > 1:
                log(f"round {r + 1} of {rounds}")
            for side in sides[r % len(sides):] + sides[:r % len(sides)]:
                for row in side(reps):
                    key = (row.metric.id, row.impl)
                    if key in merged:
                        merged[key].runs += row.runs
                    else:
                        merged[key] = row
        for (metric, impl), source in SAME_RUNS.items():
            if (source, impl) in merged and (metric, impl) not in merged:
                merged[(metric, impl)] = Row(BY_ID[metric], impl,
                                             list(merged[(source, impl)].runs),
                                             f"the runs of {source}")
        rows += merged.values()
        if "2" in kernel_groups and PAIRS[profile]:
            paired = _pairs(PAIRS[profile],
                            lambda: _worker([sys.executable, str(BENCH / "impl_libbpf_py.py"),
                                             "2", str(obj), str(small), str(syscalls),
                                             json.dumps(sizes),
                                             json.dumps({"2": PAIR_READS[profile]})],
                                            "libbpf_py"),
                            lambda: _worker([str(exe), "2", str(obj), str(small),
                                             str(sizes["2"]), str(PAIR_READS[profile])],
                                            "C"))
    if "6" in groups:
        log(f"import time and RSS, {repeats['6']} fresh processes each")
        rows += _import_rows(sys.executable, "libbpf_py", "libbpf_py", repeats["6"])
        if with_bcc:
            rows += _import_rows(SYSTEM_PYTHON, "bcc", "BCC", repeats["6"], bcc_env)
        if pylibbpf is not None:
            rows += _import_rows(str(pylibbpf), "pylibbpf", "pylibbpf", repeats["6"])
        rows += [Row(BY_ID["6-time"], "C", note="n/a"), Row(BY_ID["6-rss"], "C", note="n/a")]
    if not with_bcc:
        notes.append("BCC rows left out (--no-bcc)")
    return rows, notes, paired


def _pairs(count: int, mine: Callable[[], List[Row]],
           c: Callable[[], List[Row]]) -> Dict[str, List[float]]:
    """libbpf_py/C of each of ``count`` pairs of workload 2 reads, by PAIRED_ROWS metric."""
    ratios: Dict[str, List[float]] = {m: [] for m in PAIRED_ROWS}
    for i in range(count):
        log(f"workload 2, pair {i + 1} of {count}")
        first, second = (mine, c) if i % 2 == 0 else (c, mine)
        got = {(r.metric.id, r.impl): r.median for r in first() + second()}
        base = got.get(("2-batch", "C"))
        for metric in PAIRED_ROWS:
            rate = got.get((metric, "libbpf_py"))
            if base and rate:
                ratios[metric].append(rate / base)
    return ratios


def pylibbpf_python(wanted: bool) -> tuple[Optional[Path], str]:
    """pylibbpf's venv interpreter (made on first use), or None and why it is left out."""
    if not wanted:
        return None, "pylibbpf rows left out (--no-pylibbpf)"
    from setup_pylibbpf import ensure_venv

    python, why = ensure_venv()
    if python is None:
        log(f"pylibbpf left out: {why}")
        return None, f"pylibbpf rows left out: {why}"
    return python, ""


def _fmt(x: Optional[float]) -> str:
    if x is None:
        return "-"
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.3g}" if x >= 0.01 else f"{x:.2g}"


def _fmt_ratio(x: Optional[float]) -> str:
    """Three decimals, so that a ratio just past its target does not print as the target."""
    if x is None:
        return "-"
    return f"{x:,.0f}" if x >= 100 else f"{x:.1f}" if x >= 10 else f"{x:.3f}"


def table(rows: List[Row]) -> tuple[str, List[Dict[str, Any]]]:
    """The text table and, per metric, the summary (medians, ratios, verdict)."""
    header = ["workload", "unit", *IMPLS, "py/C", "BCC/py", "pylibbpf/py", "target",
              "status"]
    lines: List[List[str]] = []
    summary: List[Dict[str, Any]] = []
    floor = next((r.median for r in rows if r.metric.id == "4-floor" and r.impl == "libbpf_py"),
                 None)
    for metric in METRICS:
        mine = {r.impl: r for r in rows if r.metric is metric}
        if not mine:
            continue
        med = {impl: (mine[impl].median if impl in mine else None) for impl in IMPLS}
        verdict = metric.check({**med, "floor": floor}) if metric.check else None
        py = mine.get("libbpf_py")
        if verdict and metric.id == "3-mmap" and (py is None or py.syscalls is None
                                                  or py.syscalls >= 0.01):
            verdict = False  # reads that make system calls miss the target (a stray
            # call of the allocator in 100k reads is not the read's)
        if not metric.target:
            status = ""
        elif verdict is None:
            why = mine.get("libbpf_py")
            status = ("not met (not available in this build)"
                      if why is not None and why.note and not why.runs else "not met (no data)")
        else:
            status = "met" if verdict else "NOT MET"
        py_c, bcc_py = _ratio(med["libbpf_py"], med["C"]), _ratio(med["BCC"], med["libbpf_py"])
        plb_py = _ratio(med["pylibbpf"], med["libbpf_py"])
        lines.append([metric.workload, metric.unit, *(_fmt(med[i]) for i in IMPLS),
                      _fmt_ratio(py_c), _fmt_ratio(bcc_py), _fmt_ratio(plb_py), metric.target,
                      status])
        summary.append({"metric": metric.id, "workload": metric.workload, "medians": med,
                        "py_over_c": py_c, "bcc_over_py": bcc_py, "pylibbpf_over_py": plb_py,
                        "target": metric.target, "status": status,
                        "faults": {i: r.faults for i, r in mine.items() if r.faults is not None},
                        "checks": {i: r.check for i, r in mine.items()}})
    widths = [max(len(h), *(len(r[i]) for r in lines)) for i, h in enumerate(header)]
    out = []
    for cells in [header, ["-" * w for w in widths], *lines]:
        out.append(" | ".join(c.ljust(w) if i in (0, 1, 9, 10) else c.rjust(w)
                              for i, (c, w) in enumerate(zip(cells, widths))).rstrip())
    return "\n".join(out), summary


def _floor_note(summary: List[Dict[str, Any]]) -> str:
    """Where workload 4's callback target stands against the floor measured in this run."""
    med = {s["metric"]: s["medians"] for s in summary}
    bcc = med.get("4-callback", {}).get("BCC")
    floor = med.get("4-floor", {}).get("libbpf_py")
    mine = med.get("4-callback", {}).get("libbpf_py")
    if not (bcc and floor and mine):
        return ""
    goal = 3.5 * bcc
    where = "above" if goal > floor else "below"
    return (f"4: the callback target (3.5x BCC = {goal:.3g} M records/s) is {where} the floor, "
            f"{floor:.3g} M/s, the rate of the callback alone called from C; libbpf_py's "
            f"consumer runs at {mine / floor:.0%} of the floor")


def _cpython_note(summary: List[Dict[str, Any]]) -> str:
    """Where workload 2's tuple list and items() stand in this run against a reference:
    the arrays read (the kernel's batch read into two buffers) plus what CPython's own
    zip() takes to make the same pairs (2-make) or to loop over them (2-loop), per
    entry. No Python code can return the pairs faster than the read plus the making
    of their objects; zip() is CPython's fastest way to make them, bar the collector
    passes over its tracked tuples that _speedups.pairs avoids."""
    med = {s["metric"]: s["medians"] for s in summary}

    def mine(metric: str) -> Optional[float]:
        return med.get(metric, {}).get("libbpf_py")

    c, arrays = med.get("2-batch", {}).get("C"), mine("2-arrays")
    if not (c and arrays):
        return ""
    parts = []
    for row, alone, what in (("2-batch", "2-make", "lookup_batch()"),
                             ("2-items", "2-loop", "items()")):
        got, cpython = mine(row), mine(alone)
        if got and cpython:
            ref = 1 / (1 / arrays + 1 / cpython)  # M entries/s: the two costs add up
            parts.append(f"{what} {got:.3g} M/s, {got / ref:.0%} of its reference "
                         f"{ref:.3g} M/s ({ref / c:.2f}x C)")
    if not parts:
        return ""
    return ("2: the reference is the arrays read plus CPython's zip() alone making or "
            "looping over the pairs; " + "; ".join(parts))


def _paired_note(paired: Dict[str, List[float]]) -> str:
    """Workload 2's paired ratios: the median, and the range, of libbpf_py/C over pairs
    of reads made one right after the other (PAIRS). The table's verdicts stay on the
    rounds' medians."""
    parts = [f"{metric} {statistics.median(r):.3f}x C (pairs {min(r):.3f}-{max(r):.3f})"
             for metric, r in paired.items() if r]
    if not parts:
        return ""
    count = max(len(r) for r in paired.values())
    return (f"2: paired, libbpf_py/C over {count} pair{'s' if count != 1 else ''} of reads "
            "one right after the other (each side a process of its own): " + "; ".join(parts))


def _fault_note(summary: List[Dict[str, Any]]) -> str:
    """What page faults cost workload 2's reads in this run: the faults a read took (the
    sides count them) times what one costs here (2-fault, timed in C), per entry. A list
    of new tuples and ints lives in memory CPython's allocator maps fresh for it and
    unmaps when the list is freed, so every read pays the kernel to map and zero those
    pages; C's batch read reuses its buffers."""
    by = {s["metric"]: s for s in summary}
    cost = by.get("2-fault", {}).get("medians", {}).get("C")
    if not cost:
        return ""
    parts = []
    for metric, what, impl in (("2-batch", "lookup_batch()", "libbpf_py"),
                               ("2-make", "zip()'s list", "libbpf_py"),
                               ("2-arrays", "lookup_batch_arrays()", "libbpf_py"),
                               ("2-batch", "C's batch read", "C")):
        row = by.get(metric, {})
        faults, rate = row.get("faults", {}).get(impl), row.get("medians", {}).get(impl)
        entries = row.get("checks", {}).get(impl)
        if faults is None or not rate or not isinstance(entries, (int, float)) or not entries:
            continue
        per_entry = faults * cost / entries
        parts.append(f"{what} {faults:g} ({per_entry:.3g} of its {1e3 / rate:.3g} ns an entry)")
    if not parts:
        return ""
    return (f"2: one page fault costs {cost / 1e3:.3g} us here (2-fault); faults a read took, "
            "and their cost: " + "; ".join(parts))


def chart(rows: List[Row], path: Path, notes: List[str]) -> None:
    """One bar chart per metric (median with min-max whiskers), into a PNG."""
    plt = pyplot()

    metrics = [m for m in METRICS if any(r.metric is m for r in rows)]
    cols = 4
    nrows = (len(metrics) + cols - 1) // cols
    fig, axes = plt.subplots(nrows, cols, figsize=(4 * cols, 3.2 * nrows), squeeze=False)
    colors = {"libbpf_py": "#3572A5", "C": "#555555", "BCC": "#E69F00",
              "pylibbpf": "#009E73"}
    for ax, metric in zip(axes.flat, metrics):
        names, values, lows, highs = [], [], [], []
        for impl in IMPLS:
            row = next((r for r in rows if r.metric is metric and r.impl == impl), None)
            if row is None or row.median is None:
                continue
            names.append(impl)
            values.append(row.median)
            lows.append(row.median - min(row.runs))
            highs.append(max(row.runs) - row.median)
        if not values:
            ax.text(0.5, 0.5, "no libbpf_py, C, BCC or pylibbpf data\n(not available in this "
                    "build)",
                    ha="center", va="center", fontsize=8, transform=ax.transAxes)
            ax.set_xticks([])
            ax.set_yticks([])
        else:
            ax.bar(names, values, yerr=[lows, highs], color=[colors[n] for n in names],
                   capsize=3)
            if max(values) > 100 * min(values):
                ax.set_yscale("log")
        better = "higher is better" if metric.higher_is_better else "lower is better"
        ax.set_title(f"{metric.workload}\n{metric.unit}, {better}", fontsize=9)
        ax.tick_params(labelsize=8)
        for i, v in enumerate(values):
            ax.annotate(_fmt(v), (i, v), ha="center", va="bottom", fontsize=7)
    for ax in list(axes.flat)[len(metrics):]:
        ax.axis("off")
    fig.suptitle(notes[0], fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="fewer ops and repeats")
    size.add_argument("--tiny", action="store_true",
                      help="smallest sizes, one run each: checks that everything works")
    parser.add_argument("--json", type=Path, help="write the rows as JSON to FILE")
    parser.add_argument("--png", type=Path, help="write a chart (matplotlib) to FILE "
                        "(with --scaling: scaling-*.png into the directory FILE)")
    parser.add_argument("--only", nargs="+", choices=list("1234567"), metavar="W",
                        help="only these workloads (1-7)")
    parser.add_argument("--no-bcc", action="store_true", help="leave BCC out")
    parser.add_argument("--no-pylibbpf", action="store_true",
                        help="leave pylibbpf out (else it is installed into a venv under "
                             "bench/build/ on first use: bench/setup_pylibbpf.py)")
    parser.add_argument("--scaling", action="store_true",
                        help="how cost grows (bench/scaling.py): map reads at 1k-1M "
                             "entries, ring buffer rate by record size and rings, load time "
                             "by maps; --png then names a directory for scaling-*.png, "
                             "--quick (or --tiny) gives the tiny version")
    args = parser.parse_args(argv)
    if args.scaling and args.only:
        parser.error("--only selects workloads; --scaling runs its own curves")
    profile = "tiny" if args.tiny else "quick" if args.quick else "full"
    groups = sorted(set(args.only or "1234567"))
    with_bcc = not args.no_bcc
    if with_bcc and not bcc_available():
        raise SystemExit(f"bench: BCC is missing: {SYSTEM_PYTHON} cannot `import bcc`; install "
                         "it with apt-get install bpfcc-tools python3-bpfcc (or pass --no-bcc)")
    if os.geteuid() != 0:
        raise SystemExit("bench: needs root to load BPF programs")
    for tool in ("clang", "gcc", "bpftool"):
        if shutil.which(tool) is None:
            raise SystemExit(f"bench: {tool} is missing; run scripts/bootstrap.sh")
    if args.scaling:
        import scaling

        return scaling.main("full" if profile == "full" else "quick", with_bcc, args.json,
                            args.png)
    pylibbpf, left_out = pylibbpf_python(not args.no_pylibbpf)
    rows, notes, paired = run(groups, profile, with_bcc, pylibbpf)
    if left_out:
        notes.append(left_out)
    text, summary = table(rows)
    print(text)
    for note in notes:
        print(f"* {note}")
    for row in rows:
        if row.syscalls is not None:
            print(f"* {row.metric.workload}, {row.impl}: {row.syscalls:g} system calls per "
                  "read (counted by a BPF program on raw_syscalls:sys_enter)")
    for row in rows:
        if row.note and ((row.metric.id.startswith("6-") and row.runs)
                         or (not row.runs and row.impl == "libbpf_py")
                         or (row.impl == "pylibbpf" and not row.note.startswith("the runs"))):
            print(f"* {row.metric.workload}, {row.impl}: {row.note}")
    for note in (_floor_note(summary), _cpython_note(summary), _paired_note(paired),
                 _fault_note(summary)):
        if note:
            print(f"* {note}")
            notes.append(note)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"notes": notes, "rows": [r.as_json() for r in rows],
                                         "summary": summary, "paired": paired},
                                        indent=2) + "\n")
        log(f"wrote {args.json}")
    if args.png:
        chart(rows, args.png, notes)
        log(f"wrote {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
