"""Threads racing on shared objects across the public API (tests/race_child.py).

Six threads call random public methods on a loaded BpfObject (hash, array, per-CPU,
map of maps), its programs and links, a runtime Skeleton and its section views,
a RingBuffer / PerfBuffer / UserRingBuffer with a producer running, a Btf,
standalone and pinned maps, FdProgram / FdLink from ids, while a closer thread
closes or drops (del + gc) one now and then. The only allowed outcomes are the
right result or a clear Python exception: a crash (the child's signal), a hang
(the timeout), a value no thread wrote into that map, or an unexpected exception
type fails the test.

The seed is fixed; ``LIBBPF_PY_RACE_ROUNDS`` (default 3) sets the number of rounds,
``LIBBPF_PY_RACE_SECONDS`` (default 1.5) each round's length and ``LIBBPF_PY_RACE_SEED``
the seed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, List

import pytest
from conftest import Compile, package_under_test_env

from libbpf_py import ClosedError, Map, Skeleton

pytestmark = pytest.mark.kernel
TESTS = Path(__file__).resolve().parent
ROUNDS = int(os.environ.get("LIBBPF_PY_RACE_ROUNDS", "3"))
SECONDS = float(os.environ.get("LIBBPF_PY_RACE_SECONDS", "1.5"))
SEED = int(os.environ.get("LIBBPF_PY_RACE_SEED", "16"))


def test_threads_racing_on_shared_objects(compile_bpf: Compile, bpffs_dir: Path) -> None:
    objs = [str(compile_bpf(name)) for name in ("maps", "events", "skel")]
    cmd = [sys.executable, str(TESTS / "race_child.py"), str(SEED), str(ROUNDS),
           str(SECONDS), *objs, str(bpffs_dir)]
    env = package_under_test_env()  # the libbpf_py this test runs, not the checkout's
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env,
                              timeout=ROUNDS * (SECONDS * 4 + 90), cwd=TESTS.parent)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the stress hung (seed {SEED}): {exc.stdout!r} {exc.stderr!r}")
    tail = proc.stderr[-4000:]
    assert proc.returncode == 0, f"the stress died (rc {proc.returncode}, seed {SEED}):\n" \
        f"{proc.stdout[-4000:]}\n{tail}"
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    findings = [f for f in lines if "done" not in f]
    assert not findings, "\n".join(f"{f['kind']} in {f['op']}: {f['detail']}"
                                   for f in findings)
    assert lines and lines[-1].get("done") == ROUNDS, proc.stdout[-2000:]


def _run_at_c_call(name: str, action: Callable[[], None]) -> Callable[..., None]:
    """A profile hook running ``action`` (as another thread would) just before the
    C function ``name`` is called, once: the caller has read its pointer already."""
    def hook(frame: Any, event: str, arg: Any) -> None:
        if event == "c_call" and getattr(arg, "__name__", "") == name:
            sys.setprofile(None)
            action()
    return hook


@pytest.mark.parametrize("how", ["detach", "destroy"])
def test_skeleton_detach_waits_for_a_call_on_its_link(compile_bpf: Compile, how: str) -> None:
    """skel.detach()/destroy() while a call on one of its links is in flight: the
    link is freed when that call returns, never under it (its fd number went to the
    next file made, and info() read that one: a map's info, or EBADF)."""
    skel = Skeleton.open(compile_bpf("skel"))
    held: List[Map] = []
    try:
        skel.load()
        skel.attach()
        link = skel.links["count_getpid"]
        want = link.info()["id"]

        def other_thread() -> None:
            getattr(skel, how)()
            # take the numbers the link's fds had
            held.extend(Map.create("array", 4, 8, 1) for _ in range(4))

        sys.setprofile(_run_at_c_call("bpf_link__fd", other_thread))
        try:
            got = link.info()["id"]
        finally:
            sys.setprofile(None)
        assert held, "the hook did not run"
        assert got == want
        assert link.closed
        with pytest.raises(ClosedError):
            link.info()
    finally:
        for m in held:
            m.close()
        skel.destroy()
