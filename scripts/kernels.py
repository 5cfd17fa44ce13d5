#!/usr/bin/env python3
"""The kernel matrix: run the test suite inside Debian's 6.1 and 6.12 kernels under QEMU.

scripts/kernels.sh is the command; this is its body. Standard library only, plus
vendor/provision.py for reading the system's apt sources. Per kernel:

1. Debian's ``linux-image-*-amd64-unsigned`` package is fetched with ``apt-get
   download`` through a private sources list (the URIs and suites are copied at
   run time from the system's own /etc/apt files, which are never changed) and
   unpacked with ``dpkg -x`` into the cache folder: nothing goes into /boot.
2. virtme-ng (PyPI, in its own venv in the cache) boots it with QEMU, the host's
   root shared read-only over 9p. /dev/kvm is tried once; where it cannot run a
   stock kernel (this host's nested one dies at once) TCG is used and we say so.
3. virtme-ng's init needs udevd for /dev/virtio-ports (without it the guest's
   output and exit status are lost). The ``udev`` .deb is unpacked into the cache
   and overlaid on /usr/bin, /usr/lib/systemd and /usr/lib/udev only inside a
   private mount namespace (``unshare -m``) around QEMU: the host never has udev
   installed or started.
4. The guest runs scripts/kernels-guest.sh: mounts, then pytest with the host's
   built extension (the .venv, read-only) and the BPF objects compiled on the host
   beforehand; results come back through a ``--rwdir`` folder.

The downloads (kernels, udev, virtme-ng, apt lists) are cached per machine, not per
checkout, in ``$LIBBPF_PY_KERNELS_CACHE`` or ``${XDG_CACHE_HOME:-~/.cache}/libbpf_py/kernels``,
so that a fresh clone (CI) fetches nothing twice; the results of a run go to the
checkout's ``.kernels/results/`` (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "vendor"))
import provision  # noqa: E402  (vendor/provision.py: the system's apt sources, parsed)

_XDG = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
CACHE = Path(os.environ.get("LIBBPF_PY_KERNELS_CACHE") or _XDG / "libbpf_py" / "kernels").resolve()
RESULTS = REPO / ".kernels" / "results"
VIRTME_NG = "virtme-ng==1.42"
APT_MAX_AGE = 24 * 3600.0

#: series -> the regular expression its package names match (Debian's amd64 flavour,
#: unsigned: the signed one only adds a signature we do not need)
SERIES = {
    "6.1": r"linux-image-(6\.1\.0-\d+)-amd64-unsigned",
    "6.12": r"linux-image-(6\.12\.\d+\+deb\d+)-amd64-unsigned",
}
#: what runs when no pytest arguments are given: the tests whose outcome depends on
#: the kernel (TCG is too slow for the whole suite in CI's budget)
DEFAULT_TESTS = [
    "tests/test_attach.py",
    "tests/test_attach_link_apis.py",
    "tests/test_attach_kernel_config.py",
    "tests/test_events.py",
    "tests/test_object.py",
    "tests/test_probe.py",
]
#: the LSMs the guests boot with: Debian's default list (CONFIG_LSM) has bpf, but the
#: command line Debian's kernels are given elsewhere may not; say it
LSMS = "landlock,lockdown,yama,integrity,apparmor,bpf"
#: not a kernel test: it provisions into vendor/build, which the guests see read-only
DEFAULT_DESELECT = [
    "--deselect", "tests/test_probe.py::test_archive_fallback_records_the_archives_api",
]
HOST_TOOLS = {
    "qemu-system-x86_64": "qemu-system-x86",
    "depmod": "kmod",
    "busybox": "busybox-static",
    "unshare": "util-linux",
    "apt-get": "apt",
    "dpkg": "dpkg",
}


class KernelsError(Exception):
    """An expected failure; the message says what to do."""


def say(message: str) -> None:
    print(f"kernels: {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ private apt


def system_apt_entries() -> list[tuple[str, list[str], list[str]]]:
    """(URI, suites, components) of every enabled binary source of the system's apt."""
    entries: list[tuple[str, list[str], list[str]]] = []
    if provision.DEB822_SOURCES.is_file():
        text = provision.DEB822_SOURCES.read_text(encoding="utf-8")
        for stanza in provision.parse_deb822(text):
            if stanza.get("enabled", "yes").lower() == "no":
                continue
            if "deb" not in stanza.get("types", "").split():
                continue
            for uri in stanza.get("uris", "").split()[:1]:
                entries.append((uri.rstrip("/"), stanza.get("suites", "").split(),
                                stanza.get("components", "main").split()))
    if provision.ONE_LINE_SOURCES.is_file():
        pattern = re.compile(r"^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+(.*)$")
        for line in provision.ONE_LINE_SOURCES.read_text(encoding="utf-8").splitlines():
            match = pattern.match(line)
            if match:
                entries.append((match.group(1).rstrip("/"), [match.group(2)],
                                match.group(3).split()))
    if not entries:
        raise KernelsError(
            f"no Debian binary source in {provision.DEB822_SOURCES} or "
            f"{provision.ONE_LINE_SOURCES}: the mirror that serves the kernels is unknown")
    return entries


class Apt:
    """apt-get and apt-cache on a private sources list under CACHE/apt."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.sources = root / "sources.list"
        self.lists = root / "lists"
        self.archives = root / "cache"
        self.updated = False

    def options(self) -> list[str]:
        opts = {
            "Dir::Etc::SourceList": str(self.sources),
            "Dir::Etc::SourceParts": "/dev/null",
            "Dir::State::Lists": f"{self.lists}/",
            "Dir::Cache": f"{self.archives}/",
            "Dir::Cache::archives": f"{self.archives}/archives/",
        }
        if os.geteuid() == 0:
            opts["APT::Sandbox::User"] = "root"
        return [arg for key, value in opts.items() for arg in ("-o", f"{key}={value}")]

    def content(self) -> str:
        keyring = f"[signed-by={provision.KEYRING}]" if provision.KEYRING.is_file() else ""
        lines = ["# Written by scripts/kernels.py from the system's apt sources."]
        for uri, suites, components in system_apt_entries():
            for suite in suites:
                lines.append(" ".join(filter(None, ["deb", keyring, uri, suite, *components])))
        return "\n".join(lines) + "\n"

    def ensure(self, refresh: bool = False) -> bool:
        """Write the list and update it when stale; False if the update failed (offline)."""
        for d in (self.lists / "partial", self.archives / "archives" / "partial"):
            d.mkdir(parents=True, exist_ok=True)
        content = self.content()
        stamp = self.root / "updated"
        fresh = (self.sources.is_file() and self.sources.read_text() == content
                 and stamp.is_file() and time.time() - stamp.stat().st_mtime < APT_MAX_AGE)
        if fresh and not refresh:
            return True
        self.sources.write_text(content)
        say(f"apt-get update on the private list {self.sources}")
        proc = subprocess.run(["apt-get", "-q", *self.options(), "update"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            say(f"apt-get update failed ({proc.stderr.strip().splitlines()[-1:]}); "
                "using what the cache has")
            return False
        stamp.write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ\n", time.gmtime()))
        self.updated = True
        return True

    def names(self, regex: str) -> list[str]:
        proc = subprocess.run(["apt-cache", *self.options(), "pkgnames", "linux-image-"],
                              capture_output=True, text=True)
        return sorted(n for n in proc.stdout.split() if re.fullmatch(regex, n))

    def download(self, package: str, dest: Path) -> Path:
        dest.mkdir(parents=True, exist_ok=True)
        for old in dest.glob("*.deb"):
            old.unlink()
        proc = subprocess.run(["apt-get", "-q", *self.options(), "download", package],
                              cwd=dest, stdout=sys.stderr, stderr=subprocess.PIPE, text=True)
        debs = list(dest.glob("*.deb"))
        if proc.returncode != 0 or len(debs) != 1:
            raise KernelsError(f"apt-get download {package} failed: {proc.stderr.strip()}; "
                               f"check the mirror in {self.sources}")
        return debs[0]


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", text))


# -------------------------------------------------------------------- the cache


@dataclass(frozen=True)
class Kernel:
    series: str
    release: str  # uname -r, e.g. 6.1.0-57-amd64
    root: Path    # dpkg -x folder: boot/vmlinuz-RELEASE, lib/modules/RELEASE

    @property
    def image(self) -> Path:
        return self.root / "boot" / f"vmlinuz-{self.release}"


def _unpack(deb: Path, dest: Path) -> None:
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    subprocess.run(["dpkg", "-x", str(deb), str(tmp)], check=True)
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)


def fetch_kernel(apt: Apt, series: str, online: bool) -> Kernel:
    regex = SERIES[series]
    have = sorted((d for d in (CACHE / "kernels").glob("*")
                   if d.is_dir() and not d.name.endswith(".tmp")
                   and re.fullmatch(regex, f"linux-image-{d.name}-amd64-unsigned")),
                  key=lambda d: _version_key(d.name))
    names = apt.names(regex) if online else []
    if names:
        newest = max(names, key=lambda n: _version_key(re.fullmatch(regex, n).group(1)))  # type: ignore[union-attr]
        abi = re.fullmatch(regex, newest).group(1)  # type: ignore[union-attr]
        dest = CACHE / "kernels" / abi
        if not (dest / "boot" / f"vmlinuz-{abi}-amd64").is_file():
            say(f"{series}: downloading {newest}")
            deb = apt.download(newest, CACHE / "debs" / series)
            _unpack(deb, dest)
            deb.unlink()
    elif have:
        dest = have[-1]
        say(f"{series}: the mirror cannot be asked; using the cached {dest.name}")
    else:
        raise KernelsError(f"no package matching {regex} in {apt.sources}, and none cached: "
                           "check that the system's apt sources serve Debian bookworm "
                           "and bookworm-security")
    release = f"{dest.name}-amd64"
    moddir = dest / "lib" / "modules" / release
    if not (moddir / "modules.dep").is_file():
        subprocess.run(["depmod", "-a", "-b", str(dest), release], check=True)
    for old in have:
        if old != dest:
            shutil.rmtree(old, ignore_errors=True)
    return Kernel(series, release, dest)


def fetch_udev(apt: Apt, online: bool) -> Path:
    """udev's binaries and rules, unpacked (never installed): virtme-ng's init runs udevd."""
    dest = CACHE / "udev"
    if (dest / "bin" / "udevadm").is_file() and not apt.updated:
        return dest
    if not online:
        if (dest / "bin" / "udevadm").is_file():
            return dest
        raise KernelsError("udev is not cached and the mirror cannot be asked")
    say("downloading udev (unpacked into the cache, never installed)")
    _unpack(apt.download("udev", CACHE / "debs" / "udev"), dest)
    return dest


def ensure_virtme_ng() -> Path:
    venv = CACHE / "vng"
    vng = venv / "bin" / "vng"
    if vng.is_file():
        return vng
    say(f"installing {VIRTME_NG} into {venv}")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
                    VIRTME_NG], check=True)
    return vng


def check_host_tools() -> None:
    missing = [f"{tool} ({pkg})" for tool, pkg in HOST_TOOLS.items() if shutil.which(tool) is None]
    if missing:
        raise KernelsError(f"missing: {', '.join(missing)}; run scripts/bootstrap.sh")
    if os.geteuid() != 0:
        raise KernelsError("run as root: the udev overlay needs a private mount namespace")


# --------------------------------------------------------------------- booting

#: overlay udev's folders on the host's, visible only in this mount namespace
_OVERLAY = r"""
set -e
mount --make-rprivate /
for d in bin lib/systemd lib/udev; do
    [ -d "/usr/$d" ] || { echo "kernels: /usr/$d is missing on the host" >&2; exit 2; }
    mount -t overlay overlay -o "lowerdir=$UDEV_ROOT/$d:/usr/$d" "/usr/$d"
done
exec "$@"
"""


def vng_command(vng: Path, udev: Path, kernel: Kernel, kvm: bool, exec_cmd: str,
                rwdirs: list[Path], memory: str, cpus: int) -> tuple[list[str], dict[str, str]]:
    cmd = ["unshare", "-m", "--propagation", "private", "bash", "-c", _OVERLAY, "overlay",
           str(vng), "--run", str(kernel.image), "--force-9p", "--memory", memory,
           "--cpus", str(cpus), "--cwd", str(REPO)]
    if not kvm:
        cmd.append("--disable-kvm")
    # the bpf LSM's hooks are installed only when "bpf" is in lsm= (LSM programs fire)
    cmd.append(f"--append=lsm={LSMS}")
    for d in rwdirs:
        cmd.append(f"--rwdir={d}")
    cmd += ["--exec", exec_cmd]
    env = dict(os.environ, UDEV_ROOT=str(udev),
               PATH=f"{vng.parent}:{os.environ.get('PATH', '/usr/bin:/bin')}")
    return cmd, env


def run_streamed(cmd: list[str], env: dict[str, str], log: Optional[Path], timeout: float,
                 echo: bool) -> tuple[int, str]:
    """Run with stdout piped (QEMU reopens its stdout with truncation: never a file).

    The deadline is kept by a timer, not by the output: a guest (or a KVM probe) that
    hangs silently prints nothing, and a check made per line would wait forever (a CI
    run lost an hour to a KVM probe that hung without a word). At the deadline the whole
    process group (unshare, bash, vng, QEMU) is killed, which also ends the read loop."""
    out: list[str] = []
    logf = log.open("w") if log else None
    proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, errors="replace",
                            start_new_session=True)
    expired = threading.Event()

    def kill() -> None:
        expired.set()
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    timer = threading.Timer(timeout, kill)
    timer.daemon = True
    timer.start()
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            out.append(line)
            if logf:
                logf.write(line)
                logf.flush()
            if echo:
                sys.stdout.write(line)
                sys.stdout.flush()
        rc = proc.wait()
        if expired.is_set():
            out.append(f"kernels: timed out after {timeout:.0f} s\n")
            if logf:
                logf.write(out[-1])
    finally:
        timer.cancel()
        if logf:
            logf.close()
    return rc, "".join(out)


def kvm_works(vng: Path, udev: Path, kernel: Kernel) -> tuple[bool, str]:
    """Try KVM once, quickly. This host's nested /dev/kvm dies at once on stock kernels."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False, "/dev/kvm is missing or not usable"
    marker = "libbpf-py-kvm-ok"
    cmd, env = vng_command(vng, udev, kernel, True, f"echo {marker}", [], "1G", 1)
    rc, out = run_streamed(cmd, env, None, 60, echo=False)
    if rc == 0 and marker in out:
        return True, "KVM works"
    last = [line for line in out.splitlines() if line.strip()][-1:] or [f"exit status {rc}"]
    return False, f"KVM failed to run {kernel.release}: {last[0].strip()}"


# --------------------------------------------------------------------- results


def junit_counts(path: Path) -> dict[str, int]:
    counts = {"passed": 0, "failed": 0, "error": 0, "skipped": 0, "xfailed": 0}
    if not path.is_file():
        return counts
    for case in ET.parse(path).getroot().iter("testcase"):
        tags = {child.tag: child for child in case}
        if "failure" in tags:
            counts["failed"] += 1
        elif "error" in tags:
            counts["error"] += 1
        elif "skipped" in tags:
            kind = tags["skipped"].get("type", "")
            counts["xfailed" if kind == "pytest.xfail" else "skipped"] += 1
        else:
            counts["passed"] += 1
    return counts


def run_kernel(vng: Path, udev: Path, kernel: Kernel, kvm: bool, pytest_args: list[str],
               python: Path, vmlinux_h: Path, timeout: float, echo: bool,
               cpus: int) -> dict[str, object]:
    results = RESULTS / (kernel.series + _label(python))
    shutil.rmtree(results, ignore_errors=True)
    results.mkdir(parents=True)
    guest = REPO / "scripts" / "kernels-guest.sh"
    config = kernel.root / "boot" / f"config-{kernel.release}"
    exec_cmd = shlex.join(["bash", str(guest), str(results), str(python), str(vmlinux_h),
                           str(config), *pytest_args])
    cmd, env = vng_command(vng, udev, kernel, kvm, exec_cmd, [results], "2G", cpus)
    say(f"{kernel.series}: booting {kernel.release} ({'KVM' if kvm else 'TCG'}, "
        f"{cpus} CPU{'s' if cpus > 1 else ''}); its output goes to {results / 'console.log'}")
    start = time.monotonic()
    rc, _ = run_streamed(cmd, env, results / "console.log", timeout, echo)
    seconds = time.monotonic() - start
    status_file = results / "pytest-status"
    status = int(status_file.read_text()) if status_file.is_file() else None
    counts = junit_counts(results / "junit.xml")
    summary: dict[str, object] = {
        "series": kernel.series, "label": _label(python), "release": kernel.release,
        "accel": "kvm" if kvm else "tcg",
        "vng_status": rc, "pytest_status": status, "seconds": round(seconds, 1), **counts,
    }
    (results / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def print_failure(summary: dict[str, object]) -> None:
    """What a failed guest printed last: CI logs keep only this command's output, not
    the console.log files, so the reason must be printed here."""
    log = RESULTS / f"{summary['series']}{summary['label']}" / "console.log"
    lines = log.read_text(errors="replace").splitlines() if log.is_file() else []
    tail = [line for line in lines if line.strip()][-FAILURE_TAIL:]
    print(f"\n--- {summary['release']}: the last {len(tail)} lines of {log} ---")
    for line in tail:
        print(f"    {line}")


def _label(python: Path) -> str:
    """"" for the default .venv; "_NAME" for another build's venv (--python), so that the
    runs of several libbpf builds keep their results side by side."""
    venv = python.parent.parent
    return "" if venv == REPO / ".venv" else f"_{venv.name}"  # virtme-ng refuses "@"


#: the tests that record which attach kinds fire (conftest.record_kind)
#: how many lines of a failed guest's console.log are printed
FAILURE_TAIL = 40

KIND_TESTS = ["tests/test_attach_kernel_config.py", "tests/test_attach_link_apis.py",
              "tests/test_attach.py::test_struct_ops_tcp_congestion_control"]


def host_kinds(python: Path) -> None:
    """The host's own column of docs/attach.md's table (scripts/attach_table.py)."""
    results = RESULTS / ("host" + _label(python))
    shutil.rmtree(results, ignore_errors=True)
    results.mkdir(parents=True)
    say("recording the host's attach kinds (the host column of the table)")
    env = dict(os.environ, LIBBPF_PY_KERNEL_RESULTS=str(results / "kinds.jsonl"))
    proc = subprocess.run([str(python), "-P", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           *KIND_TESTS], cwd=REPO, env=env, capture_output=True, text=True)
    (results / "console.log").write_text(proc.stdout + proc.stderr)
    (results / "pytest-status").write_text(f"{proc.returncode}\n")
    if proc.returncode != 0:
        say(f"the host's run of {' '.join(KIND_TESTS)} failed: see {results / 'console.log'}")


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/kernels.sh",
        description="Run the test suite inside Debian's 6.1 and 6.12 kernels under QEMU. "
                    "Arguments after the options go to pytest (default: "
                    + " ".join(DEFAULT_TESTS) + ").")
    parser.add_argument("--kernel", choices=[*SERIES, "all"], default="all")
    parser.add_argument("--python", type=Path, default=REPO / ".venv" / "bin" / "python",
                        help="the interpreter whose libbpf_py is tested (default: .venv)")
    parser.add_argument("--timeout", type=float, default=1200,
                        help="seconds per kernel before the guest is killed")
    parser.add_argument("--refresh", action="store_true", help="apt-get update even if fresh")
    parser.add_argument("--quiet", action="store_true", help="do not echo the guest's output")
    parser.add_argument("--serial", action="store_true",
                        help="boot the kernels one after the other, each with every CPU "
                             "(default: at once, the CPUs shared out; the guests' output is "
                             "then only in their console.log)")
    args, pytest_args = parser.parse_known_args(argv)
    # absolute, for the guest runs it from its results folder; not resolved, for a
    # venv's bin/python is a symlink to the base interpreter and must stay the venv's
    args.python = args.python.absolute()
    pytest_args = pytest_args or ["-q", "--durations=10", *DEFAULT_DESELECT, *DEFAULT_TESTS]
    try:
        check_host_tools()
        if not args.python.is_file():
            raise KernelsError(f"{args.python} is missing: run scripts/bootstrap.sh and "
                               "pip install -e . (the guest tests that build)")
        started = time.monotonic()
        apt = Apt(CACHE / "apt")
        online = apt.ensure(args.refresh)
        series = list(SERIES) if args.kernel == "all" else [args.kernel]
        kernels = [fetch_kernel(apt, s, online) for s in series]
        udev = fetch_udev(apt, online)
        vng = ensure_virtme_ng()
        say("compiling the BPF objects on the host (tests/.cache)")
        proc = subprocess.run(
            [str(args.python), "-P", "-c", "import sys; sys.path.insert(0, 'tests'); "
             "import conftest; print(conftest.precompile_all())"],
            cwd=REPO, capture_output=True, text=True)
        if proc.returncode != 0:
            raise KernelsError(f"compiling the BPF objects failed:\n{proc.stderr}")
        vmlinux_h = Path(proc.stdout.strip().splitlines()[-1])
        host_kinds(args.python)
        kvm, why = kvm_works(vng, udev, kernels[0])
        say(why if kvm else f"{why}; using TCG (--disable-kvm), which is slower")
        say(f"ready in {time.monotonic() - started:.0f} s")
        ncpu = os.cpu_count() or 1
        if args.serial or len(kernels) == 1:
            summaries = [run_kernel(vng, udev, k, kvm, pytest_args, args.python, vmlinux_h,
                                    args.timeout, not args.quiet, ncpu) for k in kernels]
        else:
            # TCG runs a guest's Python on one host thread: two single-CPU guests at once
            # take about half the time of one after the other
            with ThreadPoolExecutor(len(kernels)) as pool:
                futures = [pool.submit(run_kernel, vng, udev, k, kvm, pytest_args,
                                       args.python, vmlinux_h, args.timeout, False,
                                       max(1, ncpu // len(kernels))) for k in kernels]
                summaries = [f.result() for f in futures]
        say(f"all done in {time.monotonic() - started:.0f} s")
    except KernelsError as exc:
        say(f"error: {exc}")
        return 2
    print()
    print(f"{'kernel':<24} {'accel':<5} {'passed':>6} {'failed':>6} {'error':>5} "
          f"{'xfailed':>7} {'skipped':>7} {'status':>6} {'time':>7}")
    ok = True
    for s in summaries:
        status = s["pytest_status"]
        print(f"{s['release']!s:<24} {s['accel']!s:<5} {s['passed']:>6} {s['failed']:>6} "
              f"{s['error']:>5} {s['xfailed']:>7} {s['skipped']:>7} "
              f"{'-' if status is None else status!s:>6} {s['seconds']:>6}s")
        ok = ok and status == 0
    for s in summaries:
        if s["pytest_status"] != 0:
            print_failure(s)
    print(f"results: {RESULTS}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
