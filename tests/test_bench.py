"""The benchmark (bench/run.py) keeps working: every workload at a tiny size.

No timing is asserted here (that is the benchmark's job, not the suite's):
the run must complete, and every row must carry sane numbers - the runs of
each implementation that has the workload, positive and finite, their median
in range - or, for a feature this build lacks, the note saying so.

libbpf_py and C run in every build (the C side links the libbpf of that
build, statically for a static build). BCC adds seconds of clang per compile,
so its rows run in one env only: the dynamic pkg-config build (not its
sanitized twin, the asan env). So do pylibbpf's (issue 19 point 5), which need its
venv under bench/build/ (made on first use; the test skips, saying why, when it
cannot be made).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Set, Tuple

import pytest

import libbpf_py

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
sys.path.insert(0, str(BENCH))

# (metric, impl) pairs a run may leave without runs, because that side has no
# such feature; everything else must have numbers.
NEVER = {("2-arrays", "BCC"), ("3-mmap", "BCC"), ("4-batch", "BCC")}
# pylibbpf 0.0.6 has workloads 1, 2 one by one, 5, 6 and 7's struct values only
PYLIBBPF_HAS = {"1-update", "1-lookup", "2-iter", "2-items", "5-load", "6-time", "6-rss",
                "7-lookup", "7-update"}
NEVER |= {(m, "pylibbpf") for m in ("2-batch", "2-arrays", "3-mmap", "3-lookup",
                                     "4-callback", "4-batch", "7-percpu")}
ALL_METRICS = ("1-update", "1-lookup", "2-batch", "2-arrays", "2-iter", "2-items", "3-mmap",
               "3-lookup", "4-callback", "4-batch", "5-load", "6-time", "6-rss", "7-lookup",
               "7-update", "7-percpu")


def _optional() -> Set[Tuple[str, str]]:
    """Rows libbpf_py may lack in this build (features other modules add)."""
    missing = set()
    if not hasattr(libbpf_py, "Skeleton"):
        missing.add(("3-mmap", "libbpf_py"))
    if not hasattr(libbpf_py, "RingBuffer"):
        missing |= {("4-callback", "libbpf_py"), ("4-batch", "libbpf_py")}
    return missing


def _run_tiny(tmp_path: Path, *extra: str) -> Tuple[Dict[str, Any], str]:
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(BENCH / "run.py"), "--tiny", "--json", str(out),
                           *extra], capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(out.read_text()), proc.stdout


def _check_rows(data: Dict[str, Any], stdout: str, impls: Tuple[str, ...]) -> None:
    rows: List[Dict[str, Any]] = data["rows"]
    optional = _optional() | NEVER
    seen = set()
    for row in rows:
        assert {"workload", "impl", "median", "unit", "runs"} <= set(row), row
        key = (row["metric"], row["impl"])
        seen.add(key)
        if row["impl"] == "C" and row["metric"].startswith("6-"):
            assert row["runs"] == [] and row["note"] == "n/a"
            continue
        if not row["runs"]:
            assert key in optional, f"{key} has no runs: {row['note']!r}"
            assert row["note"], row
            assert row["median"] is None
            continue
        assert all(math.isfinite(x) and x > 0 for x in row["runs"]), row
        assert min(row["runs"]) <= row["median"] <= max(row["runs"]), row
    for metric in ALL_METRICS:
        for impl in impls:
            if impl == "C" and metric == "4-batch":
                continue  # libbpf's C API has one way to consume: the callback
            assert (metric, impl) in seen, f"no row for {metric} / {impl}"
    for summary in data["summary"]:
        assert summary["workload"] in stdout
    # A plain memory read is orders of magnitude cheaper than a bpf() syscall.
    by = {(r["metric"], r["impl"]): r["median"] for r in rows}
    assert by[("3-mmap", "C")] < by[("3-lookup", "C")]
    # The BPF syscall counter sees the bpf() call of every map-lookup read.
    lookups = next(r for r in rows if (r["metric"], r["impl"]) == ("3-lookup", "libbpf_py"))
    assert 0.9 <= lookups["syscalls_per_op"] <= 1.1, lookups
    # lookup_batch_arrays is compared with C's one batch read (the same runs), for 0.8x C.
    runs = {(r["metric"], r["impl"]): r["runs"] for r in rows}
    assert runs[("2-arrays", "C")] == runs[("2-batch", "C")]
    arrays = next(s for s in data["summary"] if s["metric"] == "2-arrays")
    assert arrays["target"] == ">= 0.8x C" and arrays["py_over_c"] > 0, arrays
    assert "2 read 100k entries (batch, arrays)" in stdout
    # items() is compared with C's batch read too (the same runs), for 0.8x C; with
    # BCC's items() (its 2-iter runs) when BCC runs
    assert runs[("2-items", "C")] == runs[("2-batch", "C")]
    if ("2-iter", "BCC") in runs:
        assert runs[("2-items", "BCC")] == runs[("2-iter", "BCC")]
    items = next(s for s in data["summary"] if s["metric"] == "2-items")
    assert items["target"] == ">= 0.8x C" and items["py_over_c"] > 0, items
    assert "2 items() 100k entries" in stdout
    # CPython alone making and looping over the pairs, and the note that puts the tuple
    # list and items() against the arrays read plus those (issue 19)
    for metric in ("2-make", "2-loop"):
        assert runs[(metric, "libbpf_py")], metric
    assert "2: the reference is the arrays read plus CPython's zip() alone" in stdout
    assert any(n.startswith("2: the reference") and "lookup_batch()" in n and "items()" in n
               for n in data["notes"]), data["notes"]
    # What one page fault costs here (timed in C), the faults each side's reads took
    # (counted with getrusage), and the note that puts them per entry (issue 19)
    faults = {(r["metric"], r["impl"]): r["faults_per_run"] for r in rows}
    assert runs[("2-fault", "C")] and all(x > 0 for x in runs[("2-fault", "C")])
    for key in (("2-batch", "libbpf_py"), ("2-arrays", "libbpf_py"), ("2-make", "libbpf_py"),
                ("2-batch", "C")):
        assert faults[key] is not None and faults[key] >= 0, (key, faults[key])
    assert any(n.startswith("2: one page fault costs") and "lookup_batch()" in n
               and "C's batch read" in n for n in data["notes"]), data["notes"]
    # Workload 2's pairs (one read of each side, one right after the other): a ratio per
    # pair for each of the three rows, and the note with their median
    assert {m: len(r) for m, r in data["paired"].items()} == {
        "2-batch": 1, "2-arrays": 1, "2-items": 1}, data["paired"]
    assert all(r[0] > 0 for r in data["paired"].values())
    assert any(n.startswith("2: paired, libbpf_py/C over 1 pair of reads") and "2-items" in n
               for n in data["notes"]), data["notes"]
    # Workload 7 (issue 19): every side read back the struct values and per-CPU slots
    # it wrote (the checks: the sum of the `bytes` fields over n lookups, and the sum of
    # the slots 1..ncpus), and the rows carry the 1.5x C target.
    checks = {(r["metric"], r["impl"]): r.get("check") for r in rows}
    for impl in impls:
        assert checks.get(("7-lookup", impl)) == checks[("7-lookup", "C")], impls
        assert checks.get(("7-percpu", impl)) == checks[("7-percpu", "C")], impls
    assert {s["metric"]: s["target"] for s in data["summary"]}["7-lookup"] == "<= 1.5x C"


def test_bench_tiny_libbpf_py_and_c(kernel: None, tmp_path: Path) -> None:
    """libbpf_py and C (linked against this build's libbpf), every workload."""
    data, stdout = _run_tiny(tmp_path, "--no-bcc", "--no-pylibbpf")
    _check_rows(data, stdout, ("libbpf_py", "C"))
    assert "BCC rows left out" in stdout
    assert "pylibbpf rows left out (--no-pylibbpf)" in stdout
    assert not any(r["impl"] == "pylibbpf" for r in data["rows"])


# the BCC rows run in one env only, and not the asan one, which is the same pkg-config build
@pytest.mark.build(mode="dynamic", origin="pkg-config", sanitized=False)
def test_bench_tiny_with_bcc(kernel: None, tmp_path: Path) -> None:
    """All three sides, BCC with the Debian kernel headers bench/setup_bcc.py unpacks."""
    data, stdout = _run_tiny(tmp_path, "--no-pylibbpf")
    _check_rows(data, stdout, ("libbpf_py", "C", "BCC"))
    assert any("BCC compiles with the headers of Debian kernel" in n for n in data["notes"])


@pytest.mark.build(mode="dynamic", origin="pkg-config", sanitized=False)
def test_bench_tiny_with_pylibbpf(kernel: None, tmp_path: Path) -> None:
    """The pylibbpf column (issue 19 point 5): pylibbpf 0.0.6 in its venv, on the same
    objects, with numbers exactly where it has the workload and a note where it has not,
    and what it read back equal to C's."""
    from setup_pylibbpf import ensure_venv

    python, why = ensure_venv()
    if python is None:
        pytest.skip(f"pylibbpf's venv cannot be made here: {why}")
    data, stdout = _run_tiny(tmp_path, "--no-bcc")
    _check_rows(data, stdout, ("libbpf_py", "C"))
    mine = {r["metric"]: r for r in data["rows"] if r["impl"] == "pylibbpf"}
    assert set(mine) == set(ALL_METRICS), sorted(set(ALL_METRICS) - set(mine))
    assert {m for m, r in mine.items() if r["runs"]} == PYLIBBPF_HAS
    for row in mine.values():
        assert row["runs"] or "pylibbpf 0.0.6 has no" in row["note"] \
            or "cannot run" in row["note"], row
    c = {r["metric"]: r.get("check") for r in data["rows"] if r["impl"] == "C"}
    for metric in ("1-update", "1-lookup", "2-iter", "7-update", "7-lookup"):
        assert mine[metric]["check"] == c[metric], (metric, mine[metric], c[metric])
    assert mine["2-items"]["runs"] == mine["2-iter"]["runs"]  # items() is its one-by-one walk
    assert mine["5-load"]["check"] == 1
    ratios = {s["metric"]: s["pylibbpf_over_py"] for s in data["summary"]}
    assert all(ratios[m] > 0 for m in PYLIBBPF_HAS), ratios
    assert ratios["7-percpu"] is None
    header = stdout.splitlines()[0]
    assert "| pylibbpf |" in header and "pylibbpf/py" in header
    assert any(n.startswith("pylibbpf 0.0.6") and "carries libbpf v" in n
               for n in data["notes"]), data["notes"]


def test_nearest_kernel_headers() -> None:
    """The headers chosen for BCC: the newest not newer than the running kernel."""
    from setup_bcc import nearest

    offered = ["6.1.0-28+deb12", "6.12.95+deb12", "6.12.107+deb13", "6.19.1+deb14"]
    assert nearest([v.replace("-28", ".28") for v in offered], (6, 18, 44)) == "6.12.107+deb13"
    assert nearest(["6.19.1+deb14", "6.20.0+deb14"], (6, 18, 44)) == "6.19.1+deb14"
    assert nearest([], (6, 18, 44)) is None


def test_map_fast_path_threads(kernel: None) -> None:
    """m[k] / m[k] = v reuse per-map C buffers (the benchmark's workload 1); threads
    hammering one map at once must each read back exactly what they wrote."""
    import threading

    m = libbpf_py.Map.create("hash", 4, 8, 4096, name=f"bench_thr{os.getpid() % 100000}")
    errors: List[str] = []

    def worker(base: int) -> None:
        for i in range(2000):
            k = base + i % 500
            m[k] = k * 7 + base
            got = m[k]
            if got != k * 7 + base:
                errors.append(f"thread {base}: m[{k}] = {got}, wrote {k * 7 + base}")
                return

    with m:
        threads = [threading.Thread(target=worker, args=(b * 1000,)) for b in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert len(m) == 2000
        with pytest.raises(ValueError, match="does not fit"):
            m[2 ** 32] = 1  # out of range still takes the checked path
        with pytest.raises(KeyError):
            m[3999]
    with pytest.raises(libbpf_py.ClosedError):
        m[0]


def _run_scaling(tmp_path: Path, *extra: str) -> Tuple[Dict[str, Any], str]:
    out = tmp_path / "scaling.json"
    proc = subprocess.run([sys.executable, str(BENCH / "run.py"), "--scaling", "--quick",
                           "--json", str(out), *extra], capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(out.read_text()), proc.stdout


def _check_scaling(data: Dict[str, Any], stdout: str, impls: Tuple[str, ...]) -> None:
    """Every curve of `run.py --scaling`, each side that has it with a number at every
    point, each point checked against what was written (entries read, records
    consumed, maps loaded), and the libbpf_py / C ratios computed."""
    from scaling import PROFILES, RING_RECORD, ring_records

    p = PROFILES["quick"]
    xs = {"map-batch": p["map_sizes"], "map-items": p["map_sizes"],
          "ring-size": p["ring_sizes"], "ring-count": p["ring_counts"], "load": p["load_maps"]}
    sides = {"map-batch": impls, "map-items": impls, "ring-size": impls, "ring-count": impls,
             "load": ("libbpf_py", "C")}
    # the libbpf_py series each curve must have
    py_series = {"map-batch": {"lookup_batch_arrays()", "lookup_batch()"},
                 "map-items": {"items()"},
                 "ring-size": {"consume(), Python callback", "drain()"},
                 "ring-count": {"consume(), Python callback", "drain()"},
                 "load": {"BpfObject.open().load()"}}
    curves = {c["id"]: c for c in data["curves"]}
    assert set(curves) == set(xs), sorted(curves)
    for cid, cur in curves.items():
        assert cur["xs"] == xs[cid], cur["xs"]
        assert cid in stdout
        have = {s["impl"] for s in cur["series"]}
        assert have == set(sides[cid]), (cid, have)
        assert {s["name"] for s in cur["series"] if s["impl"] == "libbpf_py"} == py_series[cid]
        for s in cur["series"]:
            assert [q["x"] for q in s["points"]] == xs[cid], (cid, s["name"])
            for q in s["points"]:
                assert q["runs"] and all(math.isfinite(v) and v > 0 for v in q["runs"]), q
                assert min(q["runs"]) <= q["median"] <= max(q["runs"]), q
                if cid.startswith("map-"):
                    want = q["x"]  # entries read back
                elif cid == "ring-size":
                    want = ring_records(p, q["x"])  # records consumed
                elif cid == "ring-count":
                    want = ring_records(p, RING_RECORD)
                else:
                    want = q["x"]  # maps in the loaded object
                assert q["check"] == want, (cid, s["impl"], s["name"], q)
            assert s["last_over_first"] > 0
        assert len(cur["ratios_over_c"]) == len(py_series[cid])
        for ratio in cur["ratios_over_c"]:
            assert all(v > 0 for v in ratio["over_c"].values()), ratio
    # C's one batch read stands for C in both map curves (the same runs)
    c_runs = {c["id"]: [q["runs"] for s in c["series"] if s["impl"] == "C" for q in s["points"]]
              for c in data["curves"] if c["id"].startswith("map-")}
    assert c_runs["map-batch"] == c_runs["map-items"]


def test_bench_scaling_quick(kernel: None, tmp_path: Path) -> None:
    """`run.py --scaling --quick`: the tiny version of every curve, libbpf_py and C."""
    data, stdout = _run_scaling(tmp_path, "--no-bcc")
    _check_scaling(data, stdout, ("libbpf_py", "C"))
    assert "BCC series left out" in stdout


@pytest.mark.build(mode="dynamic", origin="pkg-config", sanitized=False)
def test_bench_scaling_quick_with_bcc(kernel: None, tmp_path: Path) -> None:
    """The same with BCC's series (map reads and rings; it has no object loads)."""
    data, stdout = _run_scaling(tmp_path)
    _check_scaling(data, stdout, ("libbpf_py", "C", "BCC"))
