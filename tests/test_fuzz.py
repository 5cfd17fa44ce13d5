"""Mutated BPF objects: no crash attributable to Python, and the same answers as C libbpf.

Mutants (bit flips, truncations, corrupted section headers, zeroed or flipped BTF,
huge section sizes, ...) of the compiled tests/bpf objects go to two children:

* tests/c/fuzz_open.c, built at test time against the libbpf the extension links
  (``libbpf_py.build_info()``): ``bpf_object__open_mem`` + ``bpf_object__load``;
* tests/fuzz_child.py: ``BpfObject.open_mem`` + load, ``BpfObject.open`` of the file,
  ``Skeleton.open`` (every data section read) + load.

Each child takes many mutants, one per line, and answers each after doing the work,
so a crash is the mutant it was on; the child is then restarted. A crash C libbpf
also has on the same bytes is libbpf's and only counted. On libbpf < 1.4, BTF that
newer libbpf refuses at parse time is refused by libbpf_py's guard (``_btfguard``)
with EINVAL before libbpf sees it: where C crashed on such a mutant that is counted
as fixed, and where C opened it as a guard refusal, with the reason (libbpf >= 1.4
refuses it too, or would open it without BTF). Otherwise: the Python child
must not crash or time out, must raise nothing but LibbpfError, and must succeed or
fail (with the same errno) where C does, for open and for load. Every child runs
under RLIMIT_AS (under the sanitizers: ASan's RSS limit) and every mutant under a
deadline (for Python: 10 s plus four times what C took on it, since it loads twice
and copies the data sections).

The seed is fixed; ``LIBBPF_PY_FUZZ_COUNT`` (default 400) sets the number of mutants
and ``LIBBPF_PY_FUZZ_SEED`` the seed. A failure message (and ``-s`` output) gives
the counts: loaded, refused the same as C, libbpf's own crashes, findings; the
mutants behind findings are kept in the test's tmp_path/findings.
"""

from __future__ import annotations

import errno
import json
import os
import random
import resource
import select
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Tuple, Union

import elfpatch
import pytest
from conftest import Compile, package_under_test_env

import libbpf_py
from libbpf_py import _btfguard

pytestmark = pytest.mark.kernel
TESTS = Path(__file__).resolve().parent
COUNT = int(os.environ.get("LIBBPF_PY_FUZZ_COUNT", "400"))
SEED = int(os.environ.get("LIBBPF_PY_FUZZ_SEED", "14"))
#: the objects mutated (the pinning ones are left out: they would pin under /sys/fs/bpf)
CORPUS = ("minimal", "object", "maps", "skel", "btf_types", "events", "tailcall_lock",
          "attach_link_apis", "reject")
MEMORY_LIMIT = 4 << 30  # RLIMIT_AS of the C child
#: the Python child may also hold one section's private pre-load copy (at most
#: skeleton.MAX_SECTION_SIZE bytes, what a mutant with a 2**31-1 byte .bss asks for)
PY_MEMORY_LIMIT = MEMORY_LIMIT + (4 << 30)
DEADLINE = 10.0  # seconds per mutant, plus PY_SLOWER times what C took for it
PY_SLOWER = 4  # the Python child loads twice and copies sections: C's time, 4 times over
HUGE = (1 << 31, (1 << 31) - 1, 1 << 32, (1 << 32) - 1, 1 << 40, (1 << 63), (1 << 64) - 1,
        0x7FFFFFFFFFFF)

Answer = Union[Dict[str, Union[int, str]], str]  # the child's answer, "crash" or "timeout"


# -- mutants ------------------------------------------------------------------------------


def _flip_bits(rng: random.Random, data: bytes, lo: int = 0, hi: Optional[int] = None) -> bytes:
    out = bytearray(data)
    hi = len(out) if hi is None else hi
    if hi <= lo:
        return data
    for _ in range(rng.choice((1, 1, 2, 4, 16))):
        pos = rng.randrange(lo, hi)
        out[pos] ^= 1 << rng.randrange(8)
    return bytes(out)


def _section(rng: random.Random, data: bytes, prefer: Tuple[str, ...] = ()
             ) -> Optional[elfpatch.Section]:
    secs = elfpatch.sections(data)
    names = [n for n in prefer if n in secs] or [n for n in secs if n]
    return secs[rng.choice(names)] if names else None


def mutate(rng: random.Random, data: bytes) -> Tuple[str, bytes]:
    """One mutant of ``data`` and a word for how it was made."""
    kind = rng.choice(("flip", "flip", "truncate", "header", "header", "huge_size",
                       "btf_zero", "btf_flip", "btf_flip", "section_flip", "ehdr"))
    if kind == "flip":
        return kind, _flip_bits(rng, data)
    if kind == "truncate":
        return kind, data[:rng.randrange(1, len(data))]
    if kind == "ehdr":
        return kind, _flip_bits(rng, data, 0, 64)
    if kind == "huge_size":
        sec = _section(rng, data, (".bss", ".data", ".rodata", ".maps", ".BTF", ".text"))
        assert sec is not None
        return (f"huge_size {sec.name}",
                elfpatch.set_field(data, sec.name, "sh_size", rng.choice(HUGE)))
    if kind == "header":
        sec = _section(rng, data)
        assert sec is not None
        name, (_, fmt) = rng.choice(list(elfpatch.SHDR_FIELDS.items()))
        bits = 32 if fmt == "<I" else 64
        value = rng.choice((0, 1, rng.getrandbits(bits), (1 << bits) - 1, rng.getrandbits(12),
                            len(data), len(data) + rng.randrange(64)))
        return f"header {sec.name}.{name}", elfpatch.set_field(data, sec.name, name, value)
    if kind.startswith("btf"):
        sec = _section(rng, data, (".BTF", ".BTF.ext") if kind == "btf_flip" else (".BTF",))
        if sec is None:
            return "flip", _flip_bits(rng, data)
        if kind == "btf_zero":
            start = sec.offset + rng.choice((0, 0, 24, rng.randrange(max(sec.size, 1))))
            out = bytearray(data)
            end = min(sec.offset + sec.size, len(out))
            out[start:end] = bytes(max(end - start, 0))
            return f"btf_zero {sec.name}", bytes(out)
        return f"btf_flip {sec.name}", _flip_bits(rng, data, sec.offset,
                                                  min(sec.offset + sec.size, len(data)))
    sec = _section(rng, data, (".maps", ".rel.BTF", ".relxdp", ".symtab", ".data", ".rodata",
                               ".strtab", "license"))
    assert sec is not None
    return f"section_flip {sec.name}", _flip_bits(rng, data, sec.offset,
                                                  min(sec.offset + sec.size, len(data)))


def mutants(objects: Dict[str, bytes], count: int, seed: int) -> Iterator[Tuple[str, bytes]]:
    rng = random.Random(seed)
    names = sorted(objects)
    for i in range(count):
        name = names[i % len(names)]
        how, data = mutate(rng, objects[name])
        yield f"{i}:{name}:{how}", data


# -- the two children ---------------------------------------------------------------------


#: a LIBBPF_PY_SANITIZE build (the asan env): AddressSanitizer reserves terabytes of
#: address space for its shadow, so no RLIMIT_AS can hold; see _child_env
SANITIZED = bool(libbpf_py.build_info().sanitize)


def _limiter(limit: int) -> Callable[[], None]:
    def limit_memory() -> None:
        if not SANITIZED:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return limit_memory


def _child_env(limit: int, sanitized_runtime: bool) -> Optional[Dict[str, str]]:
    """The environment of a child: the test's own, except under the sanitizers.

    There the C driver (not instrumented) runs without the preloaded runtimes, and
    the Python child bounds its memory with ASan's own ``hard_rss_limit_mb`` (an
    ASan report, which fails the run) instead of RLIMIT_AS, lets a failed
    allocation return NULL (MemoryError, as under RLIMIT_AS), and leaves SIGSEGV
    to the kernel (``handle_segv=0``): a crash inside libbpf, which C has on the
    same bytes, is then a plain crash that the verdicts attribute, not a report.
    """
    if not SANITIZED:
        return None
    env = dict(os.environ)
    if not sanitized_runtime:
        env.pop("LD_PRELOAD", None)
        return env
    env["ASAN_OPTIONS"] = ":".join(filter(None, [
        env.get("ASAN_OPTIONS", ""), f"hard_rss_limit_mb={limit >> 20}",
        "allocator_may_return_null=1", "handle_segv=0"]))
    return env


class Child:
    """A batch child: one path per line in, one answer per line out; restarted on a crash."""

    def __init__(self, argv: List[str], parse: Callable[[str], Dict[str, Union[int, str]]],
                 memory: int, *, sanitized_runtime: bool) -> None:
        self.argv = argv
        self.memory = memory
        self.env = _child_env(memory, sanitized_runtime)
        self.parse = parse
        self.proc: Optional[subprocess.Popen[str]] = None
        self.stderr = tempfile.TemporaryFile(mode="w+")

    def start(self) -> subprocess.Popen[str]:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=self.stderr, text=True,
                                         bufsize=1, preexec_fn=_limiter(self.memory),
                                         env=self.env)
        return self.proc

    def send(self, path: str) -> None:
        proc = self.start()
        assert proc.stdin is not None
        try:
            proc.stdin.write(path + "\n")
            proc.stdin.flush()
        except BrokenPipeError:
            pass

    def answer(self, deadline: float) -> Answer:
        proc = self.proc
        assert proc is not None and proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], max(deadline - time.monotonic(), 0))
        if not ready:
            self.stop()
            return "timeout"
        line = proc.stdout.readline()  # answers are written whole, with one write
        if not line.endswith("\n"):
            proc.wait()
            self.proc = None
            return f"crash {proc.returncode}"
        return self.parse(line)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


def _parse_c(line: str) -> Dict[str, Union[int, str]]:
    words = line.split()
    if len(words) != 3:
        raise AssertionError(f"the C driver answered {line!r}")
    opened, loaded, opened_file = (int(w) if w.isdigit() else w for w in words)
    return {"open": opened, "load": loaded, "open_file": opened_file}


def _parse_py(line: str) -> Dict[str, Union[int, str]]:
    return dict(json.loads(line))


def build_driver(out: Path) -> Path:
    """tests/c/fuzz_open.c linked with the libbpf the extension uses (same headers)."""
    info = libbpf_py.build_info()
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        pytest.fail("gcc is needed to build tests/c/fuzz_open.c (apt-get install gcc)")
    cmd = [gcc, "-O1", "-g", "-o", str(out), str(TESTS / "c" / "fuzz_open.c"),
           f"-I{info.include_dir}"]
    if info.mode == "dynamic":
        lib = info.library_path or info.linked_library
        cmd += [lib, f"-Wl,-rpath,{os.path.dirname(lib)}"]
    else:
        cmd += [info.linked_library, "-lelf", "-lz"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"building the C driver failed: {' '.join(cmd)}\n{proc.stderr}")
    return out


# -- verdicts -----------------------------------------------------------------------------


@dataclass
class Summary:
    counts: Counter[str] = field(default_factory=Counter)
    findings: List[str] = field(default_factory=list)
    libbpf_crashes: List[str] = field(default_factory=list)

    def report(self, seconds: float) -> str:
        lines = [f"fuzz: {sum(self.counts.values())} mutants in {seconds:.1f} s (seed {SEED}): "
                 + ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))]
        if self.libbpf_crashes:
            lines.append("libbpf's own crashes (C crashes too): "
                         + "; ".join(self.libbpf_crashes[:10]))
        lines += [f"  {f}" for f in self.findings[:40]]
        if len(self.findings) > 40:
            lines.append(f"  ... and {len(self.findings) - 40} more")
        return "\n".join(lines)


#: Python result key -> the C result it must equal
_SAME_AS_C = (("open", "open"), ("open_file", "open_file"), ("skel_open", "open"),
              ("load", "load"), ("skel_load", "load"))


def btf_guard_verdict(data: bytes) -> Optional[str]:
    """Why libbpf_py's BTF guard refuses ``data`` on this libbpf, or None if it lets it
    through (always None on libbpf >= 1.4, which checks BTF itself)."""
    sec = _btfguard.btf_section(data)
    if sec is None:
        return None
    if _btfguard.mod_cycle(data[sec[0]:sec[0] + sec[1]]) is not None:
        return "a typedef/modifier loop, which every libbpf follows forever"
    if not _btfguard.ACTIVE or _btfguard.btf_problem(data[sec[0]:sec[0] + sec[1]]) is None:
        return None
    return "libbpf >= 1.4 refuses it too" if sec[2] else "libbpf >= 1.4 opens it without BTF"


_OPENS = ("open", "open_file", "skel_open")


def judge_guarded(tag: str, c: Answer, py: Answer, why: str, summary: Summary) -> None:
    """A mutant the BTF guard refuses: every Python open must be a clean EINVAL."""
    if isinstance(py, str) or any(py[k] != errno.EINVAL for k in _OPENS):
        summary.counts["mismatch"] += 1
        summary.findings.append(f"{tag}: the BTF guard should refuse it ({why}); Python "
                                f"answered {py}, C {c}")
    elif isinstance(c, str) and c.startswith("crash"):
        summary.counts["fixed-btf-guard-where-libbpf-crashed"] += 1
    elif c == "timeout":
        summary.counts["fixed-btf-guard-where-libbpf-hung"] += 1
    elif isinstance(c, str):
        summary.counts[f"c-{c}"] += 1
    elif c["open"] == 0:
        summary.counts[f"btf-guard-refused-C-opened ({why})"] += 1
    elif c["open"] == errno.EINVAL:
        summary.counts["ok-open-refused-same-as-C"] += 1
    else:  # libbpf 1.1 read the bad BTF further and failed later, or its ELF checks did
        summary.counts[f"btf-guard-refused-C-refused-errno-{c['open']}"] += 1


def judge(tag: str, c: Answer, py: Answer, summary: Summary, guard: Optional[str] = None
          ) -> None:
    if guard is not None:
        judge_guarded(tag, c, py, guard, summary)
        return
    if isinstance(c, str):
        if c.startswith("crash"):
            summary.counts["libbpf-crash"] += 1
            summary.libbpf_crashes.append(f"{tag} ({c}; Python: "
                                          f"{py if isinstance(py, str) else 'no crash'})")
        else:
            summary.counts[f"c-{c}"] += 1
        return
    if isinstance(py, str):
        summary.counts[f"python-{py.split()[0]}"] += 1
        summary.findings.append(f"{tag}: Python child {py}, C answered {c}")
        return
    problems = []
    for key, ckey in _SAME_AS_C:
        got, want = py[key], c[ckey]
        if isinstance(got, str) and got.startswith("EXC"):
            problems.append(f"{key}: {got}")
        elif got == "-" or want == "-":
            if key.endswith("load") and want != "-" and got == "-":
                continue  # Python's open failed: already reported as an open mismatch
            if key.endswith("load") and got != "-" and want == "-":
                continue
        elif got != want:
            problems.append(f"{key}: Python {got}, C {want}")
    if problems:
        summary.counts["mismatch"] += 1
        summary.findings.append(f"{tag}: " + "; ".join(problems))
    elif c["open"] == 0 and c["load"] == 0:
        summary.counts["ok-loaded"] += 1
    elif c["open"] == 0:
        summary.counts["ok-load-refused-same-as-C"] += 1
    else:
        summary.counts["ok-open-refused-same-as-C"] += 1


def run_fuzz(objects: Dict[str, bytes], count: int, seed: int, work: Path) -> Summary:
    pin_root = work / "pins"  # not on bpffs: a mutant that pins fails alike on both sides
    pin_root.mkdir()
    driver = build_driver(work / "fuzz_open")
    c = Child([str(driver), str(pin_root)], _parse_c, MEMORY_LIMIT, sanitized_runtime=False)
    py = Child([sys.executable, str(TESTS / "fuzz_child.py"), str(pin_root)], _parse_py,
               PY_MEMORY_LIMIT, sanitized_runtime=True)
    py.env = package_under_test_env(py.env)
    summary = Summary()
    try:
        for tag, data in mutants(objects, count, seed):
            path = work / "mutant.bpf.o"
            path.write_bytes(data)
            c.send(str(path))
            py.send(str(path))
            start = time.monotonic()
            c_answer = c.answer(start + DEADLINE)
            c_took = time.monotonic() - start
            judge(tag, c_answer, py.answer(start + DEADLINE + PY_SLOWER * c_took), summary,
                  btf_guard_verdict(data))
            if summary.findings and summary.findings[-1].startswith(tag + ":"):
                keep = work / "findings"
                keep.mkdir(exist_ok=True)
                (keep / tag.replace(":", "_").replace(" ", "_").replace("/", "_")
                 ).write_bytes(data)
    finally:
        c.stop()
        py.stop()
    return summary


def test_fuzz_open_and_load(compile_bpf: Compile, tmp_path: Path) -> None:
    objects = {name: compile_bpf(name).read_bytes() for name in CORPUS}
    start = time.monotonic()
    summary = run_fuzz(objects, COUNT, SEED, tmp_path)
    seconds = time.monotonic() - start
    report = summary.report(seconds)
    print(report)
    assert not summary.findings, report
    assert sum(summary.counts.values()) == COUNT, report


def test_mutants_are_reproducible(compile_bpf: Compile) -> None:
    data = {"minimal": compile_bpf("minimal").read_bytes()}
    first = [(t, hash(d)) for t, d in mutants(data, 50, SEED)]
    assert first == [(t, hash(d)) for t, d in mutants(data, 50, SEED)]
    assert len({h for _, h in first}) > 40  # they differ from each other
