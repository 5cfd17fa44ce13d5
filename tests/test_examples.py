"""Every example in examples/ runs live here, its output checked against what the test did.

The README's main job keeps working: examples/syscount.py, live, as JSON.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import libbpf_py

pytestmark = pytest.mark.kernel
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_syscount_sees_real_syscalls(kernel: None) -> None:
    proc = subprocess.run([sys.executable, str(EXAMPLES / "syscount.py"), "--seconds", "1",
                           "--top", "50", "--json"], capture_output=True, text=True,
                          timeout=120, cwd=EXAMPLES)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["build"]["mode"] == libbpf_py.build_info().mode
    assert report["top"], "no process made a syscall in a second?"
    assert all(row["syscalls"] > 0 for row in report["top"])
    assert report["processes"] >= len(report["top"])
    # the example itself sleeps and reads the map: its own syscalls are counted too
    # (whether it makes the top N depends on what else the machine runs)
    assert report["own_syscalls"] > 0


# -- the other examples: each run live, its output checked against what the test did --

def _start(*args: str, prefix: tuple[str, ...] = ()) -> subprocess.Popen[str]:
    """Start an example; return once it says its probes are attached (its stderr line)."""
    # SIGINT back to its default: a shell may have started pytest with it ignored
    proc = subprocess.Popen([*prefix, sys.executable, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=EXAMPLES,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if "Ctrl-C to stop" in line:
            return proc
    out, err = proc.communicate(timeout=60)
    raise AssertionError(f"{args[0]} exited ({proc.returncode}) before attaching:\n"
                         f"{''.join(seen)}{err}{out}")


def _finish(proc: subprocess.Popen[str], timeout: float = 60) -> str:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    return out


def _json(proc: subprocess.Popen[str]) -> Any:
    return json.loads(_finish(proc))


def test_execsnoop_sees_the_tests_execs(kernel: None) -> None:
    proc = _start("execsnoop.py", "--seconds", "1.5", "--json")
    try:
        pids = []
        for _ in range(3):
            child = subprocess.Popen(["/bin/true"])
            pids.append(child.pid)
            assert child.wait(timeout=10) == 0
    finally:
        report = _json(proc)
    mine = {e["pid"]: e for e in report["events"] if e["pid"] in pids}
    assert sorted(mine) == sorted(pids), report["events"][:20]
    for e in mine.values():
        assert e["ppid"] == os.getpid()
        assert e["comm"] == "true"
        assert e["filename"] == "/bin/true"
        assert e["uid"] == os.getuid()
    assert report["execs"] == len(report["events"]) >= 3


def test_execsnoop_text_output(kernel: None) -> None:
    proc = _start("execsnoop.py", "--count", "1", "--seconds", "10")
    child = subprocess.Popen(["/bin/true"])
    child.wait(timeout=10)
    out = _finish(proc)
    lines = out.splitlines()
    assert lines[0].split() == ["TIME(s)", "PID", "PPID", "UID", "COMM", "FILENAME"]
    assert re.fullmatch(r"\s*\d+\.\d{3}\s+\d+\s+\d+\s+\d+\s+\S+\s+\S.*", lines[1]), lines[1]
    assert lines[-1].startswith("1 execs in "), out


def test_execsnoop_ctrl_c_prints_the_summary(kernel: None) -> None:
    proc = _start("execsnoop.py")  # no --seconds: runs until interrupted
    child = subprocess.Popen(["/bin/true"])
    child.wait(timeout=10)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out = _finish(proc, timeout=20)
    assert any(f" {child.pid} " in line and line.endswith(" /bin/true")
               for line in out.splitlines()), out
    last = out.splitlines()[-1]
    assert re.fullmatch(r"\d+ execs in \d+\.\ds; most run: .*/bin/true.*|"
                        r"\d+ execs in \d+\.\ds; most run: (\S+ x\d+, ){4}\S+ x\d+", last), last


CHILD_MALLOC = """
import ctypes, sys
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
sys.stdin.readline()
for size in (777001, 777002, 777003):
    libc.free(libc.malloc(size))
"""


def test_uprobe_libc_sees_a_childs_mallocs(kernel: None) -> None:
    child = subprocess.Popen([sys.executable, "-c", CHILD_MALLOC], stdin=subprocess.PIPE,
                             text=True)
    try:
        proc = _start("uprobe_libc.py", "--pid", str(child.pid), "--func", "malloc",
                      "--seconds", "1.5", "--json")
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.close()
        assert child.wait(timeout=10) == 0
        report = _json(proc)
    finally:
        child.kill()
        child.wait()
    assert report["func"] == "malloc" and report["pid"] == child.pid
    assert {e["pid"] for e in report["events"]} == {child.pid}  # the pid filter held
    sizes = [e["arg0"] for e in report["events"] if 777000 < e["arg0"] < 777010]
    assert sizes == [777001, 777002, 777003]
    assert report["calls"] == len(report["events"])


def test_uprobe_libc_unknown_function_is_a_clear_error(kernel: None) -> None:
    proc = subprocess.run([sys.executable, "uprobe_libc.py", "--func", "no_such_function_xyz",
                           "--seconds", "1"], capture_output=True, text=True, timeout=60,
                          cwd=EXAMPLES)
    assert proc.returncode == 1
    assert "uprobe_libc: cannot attach to no_such_function_xyz() in libc.so.6: " \
        "attach_uprobe of program 'on_call'" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_xdpcount_counts_frames_on_a_veth(veth: Any) -> None:
    proc = _start("xdpcount.py", "--ifname", "vb", "--seconds", "1", "--json",
                  prefix=("ip", "netns", "exec", veth.name))
    veth.send_frames("va", 25)  # out of va, into vb: seen by vb's XDP program
    report = _json(proc)
    assert report["ifname"] == "vb" and report["ifindex"] == veth.ifindex("vb")
    assert report["packets"] == 25
    assert report["bytes"] == 25 * 60  # 14-byte Ethernet header + 46-byte payload
    assert report["cpus_seen"] >= 1


def test_xdpcount_unknown_interface(kernel: None) -> None:
    proc = subprocess.run([sys.executable, "xdpcount.py", "--ifname", "nosuchdev0"],
                          capture_output=True, text=True, timeout=60, cwd=EXAMPLES)
    assert proc.returncode == 1
    assert "no interface named 'nosuchdev0'" in proc.stderr


HIST_ROW = re.compile(r" {0,9}(\d+) -> (\d+) +: (\d+) +\|(\**) *\|")


def test_syslat_histogram_of_a_busy_child(kernel: None) -> None:
    busy = subprocess.Popen([sys.executable, "-c", "import os\nwhile True: os.getppid()"])
    idle = subprocess.Popen(["sleep", "60"])
    try:
        text = _start("syslat.py", "--pid", str(busy.pid), "--seconds", "1")
        quiet = _start("syslat.py", "--pid", str(idle.pid), "--seconds", "1", "--json")
        out = _finish(text)
        idle_report = _json(quiet)
    finally:
        for p in (busy, idle):
            p.kill()
            p.wait()
    lines = out.splitlines()
    assert lines[0] == "     usecs               : count    distribution"
    rows = [HIST_ROW.fullmatch(line) for line in lines[1:-2]]
    assert all(rows), lines
    counts = [int(m.group(3)) for m in rows if m]
    lows = [int(m.group(1)) for m in rows if m]
    assert lows == [0] + [1 << i for i in range(1, len(lows))]
    assert sum(counts) > 1000, out  # a busy loop of getppid() makes far more in a second
    peak = max(counts)
    for m in rows:
        assert m and len(m.group(4)) == int(m.group(3)) * 40 // peak
    assert re.fullmatch(rf"{sum(counts)} system calls in \d+\.\ds, average \d+\.\d usecs",
                        lines[-1]), lines[-1]
    # the .rodata knob: a process asleep in nanosleep() finishes no system call
    assert idle_report["pid"] == idle.pid
    assert idle_report["syscalls"] == 0 and idle_report["hist"] == [0] * 27


def test_usdt_tracer_on_the_test_binary(kernel: None, target_bin: Path) -> None:
    proc = _start("usdt_tracer.py", "--binary", str(target_bin), "--provider", "libbpf_py",
                  "--name", "tick", "--count", "5", "--seconds", "20", "--json")
    run = subprocess.run([str(target_bin), "5"], capture_output=True, text=True, timeout=10)
    assert run.stdout.strip() == "15"
    report = _json(proc)
    assert report["probe"] == "libbpf_py:tick" and report["hits"] == 5
    assert [e["args"] for e in report["events"]] == [[1], [2], [3], [4], [5]]
    assert {e["comm"] for e in report["events"]} == {target_bin.name[:15]}
    assert all(e["nargs"] == 1 for e in report["events"])


def test_usdt_tracer_unknown_probe(kernel: None, target_bin: Path) -> None:
    proc = subprocess.run([sys.executable, "usdt_tracer.py", "--binary", str(target_bin),
                           "--provider", "libbpf_py", "--name", "no_such_probe"],
                          capture_output=True, text=True, timeout=60, cwd=EXAMPLES)
    assert proc.returncode == 1
    assert "cannot attach to libbpf_py:no_such_probe" in proc.stderr
    assert "ENOENT" in proc.stderr


ALL_EXAMPLES = ["syscount.py", "execsnoop.py", "uprobe_libc.py", "xdpcount.py", "syslat.py",
                "usdt_tracer.py"]


@pytest.mark.parametrize("example", ALL_EXAMPLES)
def test_examples_help_and_refuse_without_root(kernel: None, example: str) -> None:
    helped = subprocess.run([sys.executable, example, "--help"], capture_output=True,
                            text=True, timeout=60, cwd=EXAMPLES)
    assert helped.returncode == 0 and helped.stdout.startswith("usage: "), helped.stderr
    assert "--seconds" in helped.stdout
    # root without capabilities: a one-line refusal, before any compiling or loading.
    # The uid stays 0, so the checkout and the tox env stay readable wherever they are
    # and whatever their modes (a clone under /root, a .tox made 0700).
    args = ["--ifname", "lo"] if example == "xdpcount.py" else []
    if example == "usdt_tracer.py":
        args = ["--binary", "/bin/true", "--provider", "p", "--name", "n"]
    nobody = subprocess.run(["setpriv", "--inh-caps=-all", "--ambient-caps=-all",
                             "--bounding-set=-all", sys.executable, example, *args],
                            capture_output=True, text=True, timeout=60, cwd=EXAMPLES)
    assert nobody.returncode == 1
    assert nobody.stderr.strip().endswith("to load BPF programs"), nobody.stderr
