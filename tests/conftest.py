"""Shared fixtures: BPF programs compiled for the libbpf under test, kernel access.

Tests that need the kernel are marked ``kernel``. Unprivileged, they skip with
the reason. With ``LIBBPF_PY_REQUIRE_KERNEL=1`` (CI sets it) every skip is
turned into a failure, so a privileged run can never pass by skipping.

In a sanitized build (``LIBBPF_PY_SANITIZE``), run through tests/sanitized.py,
every ASan report is written to a file in ``LIBBPF_PY_SANITIZER_REPORTS``; the
test during which a process it started wrote one fails with the report.
"""

from __future__ import annotations

import _thread
import contextlib
import fcntl
import functools
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ContextManager, Dict, Iterator, List, Optional

import pytest

if TYPE_CHECKING:
    from libbpf_py import BpfObject, Map

#: the type of the compile_bpf fixture: a source name under tests/bpf -> its object file
Compile = Callable[[str], Path]

TESTS = Path(__file__).resolve().parent
BPF_SRC = TESTS / "bpf"
CACHE = TESTS / ".cache"
VMLINUX_BTF = Path("/sys/kernel/btf/vmlinux")
REQUIRE = os.environ.get("LIBBPF_PY_REQUIRE_KERNEL", "") == "1"
#: where the processes of a sanitized run write their ASan reports (tests/sanitized.py)
SANITIZER_REPORTS = os.environ.get("LIBBPF_PY_SANITIZER_REPORTS")
_seen_reports: set[str] = set()
_MULTIARCH_INCLUDES = [str(p) for p in Path("/usr/include").glob("*-linux-gnu*")
                       if (p / "asm" / "errno.h").exists()]


def pytest_sessionstart(session: pytest.Session) -> None:
    _remove_stale_pins()
    for tool, package in (("clang", "clang"), ("bpftool", "bpftool")):
        if shutil.which(tool) is None:
            raise pytest.UsageError(
                f"{tool} is missing: the tests compile BPF programs with clang and "
                f"generate vmlinux.h with bpftool; install it (apt-get install {package})."
            )


def _new_sanitizer_reports() -> List[str]:
    """The ASan reports written since the last call (tests/sanitized.py prints them all
    again at the end and fails the run)."""
    if not SANITIZER_REPORTS:
        return []
    out = []
    for path in sorted(Path(SANITIZER_REPORTS).iterdir()):
        if path.name not in _seen_reports:
            _seen_reports.add(path.name)
            out.append(f"--- {path.name}\n{path.read_text(errors='replace')}")
    return out


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    reports = _new_sanitizer_reports()
    if reports:
        report.outcome = "failed"
        report.longrepr = ("a process this test started reported a sanitizer error:\n"
                           + "\n".join(reports))
        return
    if REQUIRE and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = (f"skipped under LIBBPF_PY_REQUIRE_KERNEL=1, which forbids "
                           f"skips: {reason}")


#: ``--subset installed``: the test files that check an installed package as its user
#: meets it (the extension loads and is the build it says, the CLI, the examples, the
#: docs' snippets, generated skeletons, objects, maps, events, attach kinds, BTF). The
#: wheel env and the Debian autopkgtest run this subset: the dynamic env has already
#: run the whole suite against the same code in the same link mode, so the rest of the
#: suite (leaks, races, fuzzing, the attack tests, the build tooling) would only run
#: again on an identical build and cost CI minutes (docs/status.md: CI's length).
SUBSETS = {
    "installed": frozenset({
        "test_smoke.py", "test_linkcheck.py", "test_versions.py", "test_binding.py",
        "test_probe.py", "test_cli.py", "test_examples.py", "test_skeleton.py",
        "test_snippets.py", "test_object.py", "test_map.py", "test_events.py",
        "test_attach.py", "test_btf.py",
    }),
}

#: what the ``independent`` marker means: a test of the sources or of the build tooling,
#: not of the extension under test, runs only against the reference build (dynamic,
#: pkg-config, not sanitized), once per run of the matrix instead of once per env
REFERENCE_BUILD = {"mode": "dynamic", "origin": "pkg-config", "sanitized": False}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--subset", choices=sorted(SUBSETS), default=None,
                     help="run only a named subset of the test files (conftest.SUBSETS)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect tests marked ``build(...)`` that do not apply to this build.

    A test about, say, a LIBBPF_DIR build does not apply to a pkg-config build:
    it is deselected, not skipped, because every skip fails under CI. A test
    that measures memory or time, meaningless under a sanitizer, is marked
    ``build(sanitized=False)``. A test marked ``independent`` runs against the
    reference build only (REFERENCE_BUILD). ``--subset NAME`` deselects every
    test file outside SUBSETS[NAME].
    """
    subset = config.getoption("subset")
    selected, deselected = [], []
    info = None
    for item in items:
        if subset is not None and item.path.name not in SUBSETS[subset]:
            deselected.append(item)
            continue
        # every build marker counts: a test parametrized twice can carry one per
        # parameter (e.g. header_min 1.3 on one, 1.5 on the other), and all must hold
        markers = [m.kwargs for m in item.iter_markers("build")]
        if item.get_closest_marker("independent") is not None:
            if markers:
                raise pytest.UsageError(f"{item.nodeid}: marked both build(...) and "
                                        "independent; independent already names its build")
            markers = [REFERENCE_BUILD]
        if not markers:
            selected.append(item)
            continue
        if info is None:
            import libbpf_py

            info = libbpf_py.build_info()
        ok = all((want.get("mode") in (None, info.mode))
                 and (want.get("origin") in (None, info.origin))
                 and (want.get("header_min") is None or info.header_version >= want["header_min"])
                 and (want.get("header_max") is None or info.header_version <= want["header_max"])
                 and (want.get("sanitized") in (None, bool(info.sanitize)))
                 for want in markers)
        (selected if ok else deselected).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


def gc_ran_in_the_allocation(ran: object) -> None:
    """After a read staged to start a collection inside its own allocation (threshold
    1, a gc callback): go on if the callback ran; xfail, with the reason, where this
    Python never collects inside an allocation (3.12 on: a collection waits for the
    interpreter's next check), so the re-entry cannot be staged this way."""
    if not ran and sys.version_info >= (3, 12):
        pytest.xfail("from Python 3.12 a collection runs at the interpreter's next check, "
                     "not inside the allocation that crossed the threshold: this re-entry "
                     "cannot be staged through a gc callback")
    assert ran, "the collection did not start inside the read's allocation"


def interrupt_at_c_return(k: int, where: Optional[List[str]] = None) -> Callable[..., None]:
    """A profile hook (``sys.setprofile``) that raises KeyboardInterrupt as the k-th call
    into C returns, once: where CPython runs a signal's handler. ``where`` gets the
    call's repr."""
    seen = [0]

    def hook(frame: Any, event: str, arg: Any) -> None:
        if event == "c_return":
            seen[0] += 1
            if seen[0] == k:
                sys.setprofile(None)
                if where is not None:
                    where.append(repr(arg))
                raise KeyboardInterrupt(f"injected as call {k} returned ({arg!r})")
    return hook


@contextlib.contextmanager
def machine_turn(resource: str) -> Iterator[None]:
    """Hold the machine-wide turn on ``resource``, a kernel-wide thing a test needs to
    itself (trace_pipe's records, a map found by name among all the kernel's): test
    runs of other processes on this machine (tox envs side by side, a second
    checkout) wait for it. An ``flock`` of a file in /tmp: freed if the process dies."""
    with open(f"/tmp/libbpf_py-tests-{os.getuid()}-{resource}.lock", "a") as turn:
        fcntl.flock(turn, fcntl.LOCK_EX)
        yield


class _SetPending:
    """``_SET_PENDING[signal.SIGINT]`` marks SIGINT pending (``_thread.interrupt_main``), as
    its arrival would, through a subscript: no call from bytecode, after whose return
    CPython would run the handler in the profile hook itself (which would then be unset).
    The handler then runs at the next place of the code under test."""

    __getitem__ = _thread.interrupt_main  # (a builtin: called with the key alone)


_SET_PENDING = _SetPending()


def interrupt_twice(k: int, first: Any, where: List[str]) -> Callable[..., None]:
    """A profile hook (``sys.setprofile``) through which SIGINT arrives twice: first at
    ``first``, then again k places later. Places: where CPython runs a signal's handler
    (KeyboardInterrupt), as a call into C made from bytecode returns and as a Python
    function starts. ``first``: an int j, the j-th place; or a predicate of a C call (its
    callable), true for a call SIGINT arrives during (a waiting thread's sleep: the
    handler runs as it returns). ``where`` gets the places' reprs. Not as an ``__exit__``
    starts: the window any context manager written in Python has. SIGINT's handler must
    be ``signal.default_int_handler`` (the ``sigint_raises`` fixture)."""
    seen = [0, 0]  # places counted; the first's number (0: not yet)
    armed = [False]  # the C call under way is the one ``first`` names

    def hook(frame: Any, event: str, arg: Any) -> None:
        # (no call after the signal is marked pending: its handler would run here)
        if len(where) == 2:  # done: inert (sys.setprofile(None) in a hook, as a function
            return           # starts, crashed 3.11 now and then; the caller removes it)
        if event == "c_call":
            armed[0] = not seen[1] and not isinstance(first, int) and bool(first(arg))
            return
        if event != "c_return" and (event != "call" or frame.f_code.co_name == "__exit__"):
            return
        seen[0] += 1
        if not seen[1] and (seen[0] == first or (armed[0] and event == "c_return")):
            seen[1] = seen[0]
            where.append(f"first, as {arg!r} returned" if event == "c_return"
                         else f"first, as {frame.f_code.co_name}() started")
        elif seen[1] and seen[0] == seen[1] + k:
            where.append(repr(arg) if event == "c_return"
                         else f"start of {frame.f_code.co_name}()")
        else:
            return
        _SET_PENDING[signal.SIGINT]
    return hook


@pytest.fixture
def sigint_raises() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt (Python's own handler) during the test."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def package_under_test_env(env: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """``env`` (None: this process's) with the directory of the libbpf_py under test
    first on PYTHONPATH, for a child process: in a tox env that is the installed copy
    (the checkout has no built extension), in a worktree the checkout; without it the
    child imported whatever the path gave it first."""
    import libbpf_py
    env = dict(os.environ if env is None else env)
    top = os.path.dirname(os.path.dirname(os.path.abspath(libbpf_py.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [top, env.get("PYTHONPATH", "")]))
    return env


def _mounted(path: str, fstype: str) -> bool:
    with open("/proc/self/mounts") as f:
        return any(line.split()[1] == path and line.split()[2] == fstype for line in f)


def ensure_mount(path: str, fstype: str) -> None:
    """Mount bpffs / tracefs if the machine has not; only root can."""
    if _mounted(path, fstype):
        return
    if os.geteuid() != 0:
        pytest.skip(f"{fstype} is not mounted at {path} and mounting it needs root")
    subprocess.run(["mount", "-t", fstype, fstype, path], check=True)


@pytest.fixture(scope="session")
def kernel() -> None:
    """Skip (with the reason) unless this process can load BPF programs."""
    if os.geteuid() != 0:
        pytest.skip("needs root (CAP_BPF, CAP_PERFMON) to load BPF programs")
    if not VMLINUX_BTF.exists():
        pytest.skip(f"the kernel has no BTF ({VMLINUX_BTF} is missing)")
    ensure_mount("/sys/kernel/tracing", "tracefs")
    ensure_mount("/sys/fs/bpf", "bpf")


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
        h.update(b"\0")
    return h.hexdigest()[:16]


def make_vmlinux_h(btf: Path = VMLINUX_BTF) -> Path:
    """vmlinux.h of a BTF file (the running kernel's), cached by the hash of its BTF."""
    key = _digest(btf.read_bytes())
    out = CACHE / f"vmlinux-{key}" / "vmlinux.h"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        text = subprocess.run(
            ["bpftool", "btf", "dump", "file", str(btf), "format", "c"],
            check=True, capture_output=True).stdout
        tmp = out.with_suffix(".tmp")
        tmp.write_bytes(text)
        tmp.replace(out)
    return out


@pytest.fixture(scope="session")
def vmlinux_h() -> Path:
    """vmlinux.h of the running kernel, or the one LIBBPF_PY_VMLINUX_H names.

    The kernel matrix (scripts/kernels.sh) sets LIBBPF_PY_VMLINUX_H to the host's
    header: the objects are compiled once on the host, as CO-RE objects are meant to
    be, and the guests, where clang is slow under emulation, find them in the cache.
    """
    override = os.environ.get("LIBBPF_PY_VMLINUX_H")
    if override:
        return Path(override)
    if not VMLINUX_BTF.exists():
        pytest.skip(f"the kernel has no BTF ({VMLINUX_BTF} is missing)")
    return make_vmlinux_h()


@pytest.fixture(scope="session")
def bpf_include_dir() -> str:
    """The headers of the libbpf this build links (bpf_helpers.h and friends)."""
    import libbpf_py

    return libbpf_py.build_info().include_dir


def bpf_compiler(vmlinux_h: Path, bpf_include_dir: str) -> Callable[[str], Path]:
    """A function compiling tests/bpf/NAME.bpf.c to a cached object path."""
    clang = shutil.which("clang") or "clang"
    version = subprocess.run([clang, "--version"], capture_output=True, text=True).stdout
    # InstalledDir follows $PATH (/bin/clang vs /usr/bin/clang on merged /usr): a guest
    # of the kernel matrix must find the objects the host compiled with the same clang
    version = "".join(line for line in version.splitlines(True)
                      if not line.startswith("InstalledDir:"))

    def build(name: str) -> Path:
        src = BPF_SRC / f"{name}.bpf.c"
        if not src.exists():
            raise FileNotFoundError(src)
        helpers = Path(bpf_include_dir, "bpf", "bpf_helpers.h")
        siblings = b"".join(p.read_bytes() for p in sorted(BPF_SRC.glob("*.[ch]")))
        key = _digest(src.read_bytes(), siblings, vmlinux_h.read_bytes()[:4096], version.encode(),
                      bpf_include_dir.encode(), helpers.read_bytes())
        obj = CACHE / "obj" / key / f"{name}.bpf.o"  # libbpf names the object after the file
        if not obj.exists():
            obj.parent.mkdir(parents=True, exist_ok=True)
            tmp = obj.with_suffix(".tmp")
            cmd = [clang, "-O2", "-g", "-target", "bpf", "-D__TARGET_ARCH_x86",
                   "-I", str(vmlinux_h.parent), "-I", bpf_include_dir, "-c", str(src),
                   "-o", str(tmp)]
            # <bpf/usdt.bpf.h> includes <linux/errno.h>, whose <asm/errno.h> lives in
            # the host's multiarch include dir, which clang -target bpf does not search
            cmd[-4:-4] = [f"-idirafter{d}" for d in _MULTIARCH_INCLUDES]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"clang failed for {src}:\n{proc.stderr}")
            tmp.replace(obj)
        return obj

    return build


@pytest.fixture(scope="session")
def compile_bpf(vmlinux_h: Path, bpf_include_dir: str) -> Callable[[str], Path]:
    """compile_bpf("minimal") -> path of minimal.bpf.o, cached by content hash."""
    return bpf_compiler(vmlinux_h, bpf_include_dir)


def precompile_all() -> Path:
    """Compile every tests/bpf/*.bpf.c for the running kernel's vmlinux.h into the cache
    and return that header's path (scripts/kernels.sh, before booting other kernels)."""
    import libbpf_py

    header = make_vmlinux_h()
    build = bpf_compiler(header, libbpf_py.build_info().include_dir)
    for src in sorted(BPF_SRC.glob("*.bpf.c")):
        build(src.name[:-len(".bpf.c")])
    return header


BPFFS = Path("/sys/fs/bpf")
_PIN_PREFIX = "libbpf_py-test-"


def _remove_tree(path: Path) -> None:
    for child in sorted(path.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if child.is_dir():
            child.rmdir()
        else:
            child.unlink()
    path.rmdir()


def _remove_stale_pins() -> None:
    """Remove what test runs killed before their teardown left pinned on bpffs.

    bpffs outlives processes, and a pinned map keeps its name in the kernel: a
    test that needs a map name to be unique (``python -m libbpf_py map show NAME``)
    would fail on every later run of this machine. A directory is stale when the
    test process named in it (``libbpf_py-test-<pid>-``) is gone; directories of
    the older form, which names no process, always (no test makes them any more).
    Nothing else on bpffs is touched.
    """
    if not BPFFS.is_dir():
        return
    try:
        entries = list(BPFFS.glob(_PIN_PREFIX + "*"))
    except OSError:
        return
    for path in entries:
        owner = path.name[len(_PIN_PREFIX):].split("-", 1)[0]
        try:
            if owner.isdigit() and Path(f"/proc/{owner}").exists():
                continue
            _remove_tree(path)
        except OSError:
            pass


@pytest.fixture
def bpffs_dir(kernel: None) -> Iterator[Path]:
    """A fresh directory on bpffs for one test; removed with whatever is pinned in it."""
    import tempfile

    path = Path(tempfile.mkdtemp(prefix=f"{_PIN_PREFIX}{os.getpid()}-", dir=BPFFS))
    try:
        yield path
    finally:
        _remove_tree(path)


@pytest.fixture(scope="session")
def pic_prefix() -> Path:
    """The vendored prefix with a position-independent libbpf.a (vendor/provision.py)."""
    archive = os.environ.get("LIBBPF_PY_PIC_ARCHIVE")
    if archive:
        path = Path(archive)
        if not path.is_file():
            pytest.fail(f"LIBBPF_PY_PIC_ARCHIVE={archive} does not exist: run "
                        "`python vendor/provision.py static`")
        # resolved, as build_ffi.py resolves LIBBPF_DIR (vendor/build may be a symlink)
        return path.resolve().parent.parent
    script = TESTS.parent / "vendor" / "provision.py"
    import sys

    proc = subprocess.run([sys.executable, str(script), "static"], capture_output=True,
                          text=True, timeout=1800)
    if proc.returncode != 0:
        pytest.skip(f"vendor/provision.py static failed: {proc.stderr.strip()[-500:]}")
    return Path(proc.stdout.strip().splitlines()[-1])


# -- network namespaces, veth pairs and cgroups (attach tests) -------------------------

_CLONE_NEWNET = 0x40000000
_names = iter(range(1 << 30))


def _setns(fd: int) -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


class NetNs:
    """A network namespace made for one test by ``ip netns add`` (unique name)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.path = f"/run/netns/{name}"

    def ip(self, *args: str) -> str:
        proc = subprocess.run(["ip", "-n", self.name, *args], capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"ip -n {self.name} {' '.join(args)}: {proc.stderr.strip()}")
        return proc.stdout

    def exec(self, *args: str) -> str:
        proc = subprocess.run(["ip", "netns", "exec", self.name, *args], capture_output=True,
                              text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"in netns {self.name}: {' '.join(args)}: {proc.stderr.strip()}")
        return proc.stdout

    @contextlib.contextmanager
    def entered(self) -> Iterator[None]:
        """Run this thread inside the namespace (setns), and back out after."""
        here = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        there = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            _setns(there)
            try:
                yield
            finally:
                _setns(here)
        finally:
            os.close(there)
            os.close(here)

    def ifindex(self, dev: str) -> int:
        import socket

        with self.entered():
            return socket.if_nametoindex(dev)

    def up(self, *devs: str) -> None:
        """Set ``devs`` up and wait until each is operationally up: until linkwatch
        sees the carrier a device has the noop qdisc, which drops every frame sent."""
        for dev in devs:
            self.ip("link", "set", dev, "up")
        deadline = time.monotonic() + 5
        while not all(" state UP " in self.ip("-o", "link", "show", "dev", dev) for dev in devs):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{', '.join(devs)} in {self.name} not up: {self.ip('link')}")
            time.sleep(0.01)

    def send_frames(self, dev: str, count: int) -> None:
        """Send ``count`` broadcast Ethernet frames (ethertype 0x88b5) out of ``dev``."""
        import socket

        frame = b"\xff" * 6 + b"\x02\x00\x00\x00\x00\x01" + b"\x88\xb5" + b"libbpf_py".ljust(46)
        with self.entered():
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        with s:
            s.bind((dev, 0))
            for _ in range(count):
                s.send(frame)


@pytest.fixture
def netns(kernel: None) -> Iterator[NetNs]:
    """A fresh network namespace with lo up; deleted (with all its devices) after."""
    name = f"lbpy-{os.getpid()}-{next(_names)}"
    subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True)
    try:
        ns = NetNs(name)
        ns.ip("link", "set", "lo", "up")
        yield ns
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


@pytest.fixture
def veth(netns: NetNs) -> NetNs:
    """``netns`` with a veth pair va <-> vb, both up (removed with the namespace).

    IPv6 is off in the namespace, so the only frames on the pair are the test's
    (no router solicitations or MLD reports to miscount).
    """
    netns.exec("sh", "-c", "echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6 && "
               "echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6")
    netns.ip("link", "add", "va", "type", "veth", "peer", "name", "vb")
    netns.up("va", "vb")
    return netns


def _cgroup2_root() -> Optional[Path]:
    with open("/proc/self/mounts") as f:
        mounts = [line.split()[1] for line in f if line.split()[2] == "cgroup2"]
    for preferred in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        if preferred in mounts:
            return Path(preferred)
    return Path(mounts[0]) if mounts else None


@pytest.fixture
def cgroup2(kernel: None) -> Iterator[Path]:
    """A fresh cgroup v2 directory; processes left in it are moved out, then it is removed."""
    root = _cgroup2_root()
    if root is None:
        pytest.skip("no cgroup2 file system is mounted")
    path = root / f"libbpf_py-{os.getpid()}-{next(_names)}"
    path.mkdir()
    try:
        yield path
    finally:
        for pid in (path / "cgroup.procs").read_text().split():
            try:
                (root / "cgroup.procs").write_text(pid)
            except OSError:
                pass  # exited meanwhile
        path.rmdir()


@pytest.fixture(scope="session")
def target_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/c/attach_target.c built, with its USDT note (sys/sdt.h: systemtap-sdt-dev)."""
    out = tmp_path_factory.mktemp("attach") / "attach_target"
    cc = shutil.which("cc") or shutil.which("gcc") or "cc"
    proc = subprocess.run([cc, "-O2", "-g", "-o", str(out), str(TESTS / "c" / "attach_target.c")],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"building attach_target failed (systemtap-sdt-dev gives sys/sdt.h):"
                           f"\n{proc.stderr}")
    return out


@pytest.fixture
def attach_o(kernel: None, compile_bpf: Callable[[str], Path]) -> Path:
    """tests/bpf/attach.bpf.c compiled (test_attach.py, test_attach_link_apis.py)."""
    return compile_bpf("attach")


@pytest.fixture
def load_attach(attach_o: Path) -> Callable[..., ContextManager[BpfObject]]:
    """``with load_attach(*names) as obj``: attach.bpf.o opened with only the programs
    ``names`` loaded, and ``target[0]`` set to this process (its programs count only
    the events of the test process in the ``counts`` map)."""
    from libbpf_py import BpfObject

    @contextlib.contextmanager
    def load(*names: str) -> Iterator[BpfObject]:
        with BpfObject.open(attach_o) as obj:
            for name, prog in obj.programs.items():
                prog.autoload = name in names
            obj.load()
            obj.maps.target[0] = os.getpid()
            yield obj

    return load


@pytest.fixture
def import_generated() -> Iterator[Callable[[Path, str], Any]]:
    """``import_generated(path, tag)``: import a module file (a generated skeleton)
    under a name of its own; it leaves sys.modules when the test ends."""
    import importlib.util
    import sys

    names: List[str] = []

    def load(path: Path, tag: str) -> Any:
        name = f"libbpf_py_test_{tag}_{os.getpid()}_{len(names)}"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        names.append(name)
        spec.loader.exec_module(module)
        return module

    yield load
    for name in names:
        sys.modules.pop(name, None)


@pytest.fixture
def maps(kernel: None) -> Iterator[Callable[..., Map]]:
    """Map.create, closing every map the test made."""
    from libbpf_py import Map

    made: List[Map] = []

    def create(*args: Any, **kwargs: Any) -> Map:
        m = Map.create(*args, **kwargs)
        made.append(m)
        return m

    yield create
    for m in made:
        m.close()


# -- kernel facts and the kernel matrix's record of attach kinds ----------------------------

def kernel_config(option: str) -> str:
    """The line of the running kernel's config for ``option`` ("CONFIG_X=y", "# CONFIG_X
    is not set"), from /proc/config.gz, $LIBBPF_PY_KERNEL_CONFIG (the kernel matrix passes
    the guest kernel's) or /boot/config-RELEASE; "CONFIG_X: unknown" when none says."""
    import gzip

    release = os.uname().release
    sources = [Path("/proc/config.gz"), Path(os.environ.get("LIBBPF_PY_KERNEL_CONFIG", "")),
               Path(f"/boot/config-{release}")]
    for path in sources:
        if not path.is_file():
            continue
        try:
            opener = gzip.open if path.suffix == ".gz" else open
            with opener(path, "rt") as f:  # type: ignore[operator]
                for line in f:
                    if line.startswith(f"{option}=") or line.startswith(f"# {option} is not set"):
                        return str(line.strip())
        except OSError:
            continue
    return f"{option}: unknown"


def config_enabled(option: str) -> Optional[bool]:
    """True/False from the kernel config; None when the config cannot be read."""
    line = kernel_config(option)
    if line.endswith(": unknown"):
        return None
    return line.endswith("=y") or line.endswith("=m")


def lockdown() -> str:
    """The kernel's lockdown mode: none, integrity, confidentiality ("none" without
    securityfs or the lockdown LSM)."""
    try:
        text = Path("/sys/kernel/security/lockdown").read_text()
    except OSError:  # securityfs not mounted: what the kernel forces, if anything
        for mode in ("confidentiality", "integrity"):
            if config_enabled(f"CONFIG_LOCK_DOWN_KERNEL_FORCE_{mode.upper()}"):
                return mode
        return "none"
    start, end = text.find("["), text.find("]")
    return text[start + 1:end] if 0 <= start < end else "none"


def active_lsms() -> List[str]:
    try:
        return Path("/sys/kernel/security/lsm").read_text().strip().split(",")
    except OSError:
        return []


@functools.cache
def kernel_enum(name: str) -> frozenset[str]:
    """The names of one of the running kernel's enums (``bpf_attach_type``,
    ``bpf_prog_type``, ``bpf_link_type``...) from its BTF: what a kernel has, asked
    of the kernel itself rather than guessed from its version."""
    from libbpf_py import Btf

    with Btf.load_vmlinux() as btf:
        enum = btf.find(name, "enum")
        assert enum is not None, f"vmlinux BTF has no enum {name}"
        return frozenset(v.name for v in enum.enum_values)


@functools.cache
def kernel_has_member(type_name: str, *path: str) -> bool:
    """Whether the running kernel's BTF type ``type_name`` (a struct or union) has the
    member ``path`` (through anonymous and named nested members): e.g.
    ``kernel_has_member("bpf_attr", "raw_tracepoint", "cookie")`` (Linux >= 6.10)."""
    from libbpf_py import Btf

    with Btf.load_vmlinux() as btf:
        t = btf.find(type_name, "union") or btf.find(type_name, "struct")
        assert t is not None, f"vmlinux BTF has no struct or union {type_name}"
        for name in path:
            found = None
            for candidate in t.resolve().members:
                # a named member is the first of its name: bpf_attr's anonymous
                # structs each have their own, so the path walks named members only
                if candidate.name == name:
                    found = candidate
                    break
            if found is None:
                return False
            t = found.type
        return True


def kprobes_available() -> bool:
    """Whether the kernel has kprobe events (tracefs is mounted by the kernel fixture)."""
    return Path("/sys/kernel/tracing/kprobe_events").exists()


def _record_kind(kind: str, outcome: str, error: Optional[BaseException] = None) -> None:
    out = os.environ.get("LIBBPF_PY_KERNEL_RESULTS")
    if not out:
        return
    import errno as _errno
    import json

    code = getattr(error, "errno", None)
    import libbpf_py

    entry = {"kernel": os.uname().release, "kind": kind, "outcome": outcome,
             "libbpf": libbpf_py.build_info().runtime_version,
             # 95 is both; errorcode says ENOTSUP, the kernel's sources and docs EOPNOTSUPP
             "errno": ("EOPNOTSUPP" if code == _errno.EOPNOTSUPP
                       else _errno.errorcode.get(code, str(code))) if code else None,
             "detail": str(error) if error is not None else None}
    with open(out, "a") as f:
        f.write(json.dumps(entry) + "\n")


@pytest.fixture
def record_kind() -> Callable[..., None]:
    """record_kind(kind, "fired" | "refused", error): one line for docs/attach.md's table,
    written only under the kernel matrix (LIBBPF_PY_KERNEL_RESULTS)."""
    return _record_kind
