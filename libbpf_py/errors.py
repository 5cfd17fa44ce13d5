"""Exceptions of libbpf_py.

One base, :class:`LibbpfError` (an :class:`OSError`), whose ``errno`` is always
positive. libbpf's own error codes (``LIBBPF_ERRNO__*``, 4000 and up) are kept
as they are. Subclasses also inherit the matching built-in exception, so
``except PermissionError`` catches a refused load.

This module is the bottom layer: pure Python, it imports nothing of libbpf_py
and never touches the FFI. The helpers that turn a libbpf return value and
errno into these exceptions (``check``, ``check_ptr``, ``make_error``) need the
FFI and live one layer up, in :mod:`libbpf_py._call`.
"""

from __future__ import annotations

import errno as _errno
import os
import re
from typing import Dict, List, Optional, Sequence, Tuple, Type, Union


class LibbpfError(OSError):
    """A libbpf call failed; ``errno`` is positive, ``strerror`` is libbpf's text.

    ``written`` is set by batch writes (``Map.update_batch``) that failed
    partway: how many pairs the kernel wrote before the error; None otherwise.
    """

    written: Optional[int] = None

    def __init__(self, err: int, message: str, what: Optional[str] = None) -> None:
        super().__init__(err, message)
        self.what = what

    def __str__(self) -> str:
        head = f"{self.what}: " if self.what else ""
        code = self.errno or 0
        name = _errno.errorcode.get(code) or ("ENOTSUPP" if code == ENOTSUPP
                                              else f"LIBBPF_ERRNO {code}")
        return f"{head}{self.strerror} [{name}]"


class LibbpfPermissionError(LibbpfError, PermissionError):
    """EPERM / EACCES: missing privilege, or the kernel's policy refused."""


class LibbpfNotFoundError(LibbpfError, FileNotFoundError):
    """ENOENT: no such file, object, element or kernel feature."""


class LibbpfExistsError(LibbpfError, FileExistsError):
    """EEXIST: already there (a pin path, a map element under BPF_NOEXIST)."""


class LibbpfNotSupportedError(LibbpfError):
    """EOPNOTSUPP / ENOTSUP: the kernel or libbpf does not support this."""


class VerifierError(LibbpfError):
    """The kernel's verifier rejected a program.

    ``log`` is the verifier log, cut to its first and last lines when long
    (``cut_log``; a marker line says how much was cut; the whole log goes
    to the ``libbpf_py`` logger at DEBUG). ``source_line`` is the last source
    line of the failing instruction (``file.bpf.c:N: text``, objects built with
    ``-g``), or None: from the program's BTF line info when the linked libbpf
    exposes it (>= 1.6: exact, even when the log was cut), else the last source
    line the log names; ``insn`` is the index of the failing instruction as the
    log names it, or None; ``hint`` says how to fix a common failure, or is None.
    """

    def __init__(self, err: int, message: str, what: Optional[str] = None,
                 program: Optional[str] = None, log: str = "",
                 lines: Optional[Sequence[Tuple[int, str]]] = None) -> None:
        """``lines``: (first instruction, ``file:N: text``) of each source line of
        the program, in instruction order (its BTF line info), or None."""
        super().__init__(err, message, what)
        self.program = program
        self.log = log
        self.insn = failing_insn(log)
        self.source_line = _line_of(lines, self.insn) or source_line(log)
        self.hint = verifier_hint(log)

    def __str__(self) -> str:
        where = ""
        if self.source_line:
            place, _, text = self.source_line.partition(": ")
            where = f" at {place} ({text})"
        reason = _reason(self.log)
        says = ("; verifier says: " + " | ".join(reason)) if reason else ""
        hint = f"; hint: {self.hint}" if self.hint else ""
        return f"{super().__str__()}: program {self.program!r} rejected{where}{says}{hint}"


# -- the verifier log: cutting it, reading the source line and the reason ---------------------

#: what the marker line of a cut log starts with
CUT_MARKER = "[libbpf_py:"

# The patterns of this file are strings, compiled (and cached) by the re module on first
# use: a verifier log is a rare path, and compiling them at import cost ~0.7 ms of
# ``import libbpf_py``.
_SOURCE_PATTERN = r"(?m)^; (?P<text>.*?) @ (?P<file>\S+):(?P<line>\d+)\s*$"
_PROCESSED_PATTERN = r"^processed \d+ insns"


#: where the marker line of a cut log says the whole log is
WHOLE_LOG_AT_DEBUG = "the whole log is logged at DEBUG to logger 'libbpf_py'"


def cut_log(text: str, head: int, tail: int, whole: str = WHOLE_LOG_AT_DEBUG) -> str:
    """``text`` with at most ``head`` first and ``tail`` last lines, and between them
    one marker line saying how many lines and bytes were cut (unchanged when short)."""
    return cut_log_bytes(text.encode("utf-8", "surrogateescape"), head, tail, whole) \
        .decode("utf-8", "surrogateescape")


def cut_log_bytes(data: bytes, head: int, tail: int, whole: str = WHOLE_LOG_AT_DEBUG) -> bytes:
    """``cut_log`` on bytes, without splitting the whole log into lines."""
    head, tail = max(head, 0), max(tail, 0)
    if _count_lines(data) <= head + tail + 1:
        return data
    end_head = 0
    for _ in range(head):
        end_head = data.index(b"\n", end_head) + 1
    start_tail = len(data) - (1 if data.endswith(b"\n") else 0)
    for _ in range(tail):
        start_tail = data.rindex(b"\n", 0, start_tail)
    start_tail = start_tail + 1 if tail else len(data)
    cut = data[end_head:start_tail]
    marker = (f"{CUT_MARKER} {_count_lines(cut)} lines "
              f"({len(cut)} bytes) of the verifier log cut here; {whole}]\n").encode()
    return data[:end_head] + marker + data[start_tail:]


def _count_lines(data: bytes) -> int:
    return data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)


# an instruction line of the verifier log: "7: (79) r1 = *(u64 *)(r0 +0)"
_INSN_PATTERN = r"(?m)^(?P<insn>\d+): \([0-9a-f]{2}\)"
# "infinite loop detected at insn 9", "back-edge from insn 9 to 5", ...
_AT_INSN_PATTERN = r"\b(?:at|from) insn (?P<insn>\d+)"


def failing_insn(log: str) -> Optional[int]:
    """The index of the instruction the verifier stopped at: the one its last words
    name ("... at insn N"), else the last instruction line of the log; or None."""
    reason = _reason(log)
    for line in reversed(reason):
        m = re.search(_AT_INSN_PATTERN, line)
        if m is not None:
            return int(m.group("insn"))
    insns = re.findall(_INSN_PATTERN, log)
    return int(insns[-1]) if insns else None


def _line_of(lines: Optional[Sequence[Tuple[int, str]]], insn: Optional[int]) -> Optional[str]:
    """The source line whose instructions include ``insn``."""
    if not lines or insn is None:
        return None
    found = None
    for first, where in lines:
        if first > insn:
            break
        found = where
    return found


def source_line(log: str) -> Optional[str]:
    """The last ``; text @ file:N`` line of a verifier log as ``file:N: text``, or None."""
    found = None
    for m in re.finditer(_SOURCE_PATTERN, log):
        if m.group("text").strip() and m.group("line") != "0":
            found = m
    if found is None:
        return None
    return f"{found.group('file')}:{found.group('line')}: {found.group('text').strip()}"


def _reason(log: str) -> List[str]:
    """The verifier's last words: the failing instruction and the error, without the
    statistics line and state dumps."""
    lines = [ln.strip() for ln in log.rstrip().splitlines()[-12:]]
    lines = [ln for ln in lines if ln and not re.match(_PROCESSED_PATTERN, ln)
             and not ln.startswith(("cur state:", "old state:", "verification time",
                                    "stack depth", CUT_MARKER))]
    return lines[-2:]


_HINTS = (
    (r"invalid mem access '\w*_or_null'",
     "a pointer that may be NULL (the result of a map lookup) is used without a check: "
     "test it first, e.g. `if (!v) return 0;`"),
    (r"infinite loop detected|back-edge from insn",
     "a loop the verifier cannot prove ends: bound it by a constant "
     "(`for (i = 0; i < 64 && i < n; i++)`) or use bpf_loop()"),
    (r"BPF program is too large|The sequence of \d+ jumps is too complex",
     "the verifier's walk of the program hit its limit (1 million instructions, 8192 "
     "pending branches): a loop with an unknown or large bound, or too many branches; "
     "bound loops by small constants, use bpf_loop(), or split the program (tail calls, "
     "global functions)"),
    (r"invalid access to (map value|packet)|min value is negative|"
     r"unbounded memory access",
     "an offset or index the verifier cannot bound: check it against the size (and for "
     "< 0) right before the access"),
)


def verifier_hint(log: str) -> Optional[str]:
    """How to fix the failure a verifier log ends with, for the common cases."""
    reason = "\n".join(_reason(log))
    for pattern, hint in _HINTS:
        if re.search(pattern, reason):
            return hint
    return None


class ClosedError(ValueError):
    """The object (or the BPF object that owns it) was closed; nothing was touched."""


class AlreadyLoadedError(RuntimeError):
    """A setting that only means something before load was changed after load."""


class NotLoadedError(RuntimeError):
    """An operation that needs the kernel object was used before load()."""


class LibbpfVersionError(NotImplementedError):
    """The linked libbpf is too old for the API asked for.

    Raised instead of ever calling a function the headers lacked at build time.
    """

    def __init__(self, name: str, node: str, have: str) -> None:
        self.name = name
        self.node = node
        self.have = have
        need = node.split("_", 1)[1].rsplit(".", 1)[0]
        super().__init__(
            f"{name} needs libbpf >= {need} (version node {node}); libbpf_py was built "
            f"against libbpf {have}: rebuild against a newer libbpf (LIBBPF_DIR=/prefix "
            "or LIBBPF_DYNAMIC=0 for the vendored one)"
        )


#: the kernel's internal ENOTSUPP, which some BPF commands leak to user space
ENOTSUPP = 524

_BY_ERRNO: Dict[int, Type[LibbpfError]] = {
    _errno.EPERM: LibbpfPermissionError,
    _errno.EACCES: LibbpfPermissionError,
    _errno.ENOENT: LibbpfNotFoundError,
    _errno.EEXIST: LibbpfExistsError,
    _errno.EOPNOTSUPP: LibbpfNotSupportedError,
    ENOTSUPP: LibbpfNotSupportedError,
}


def error_class(err: int) -> Type[LibbpfError]:
    """The LibbpfError subclass for a positive errno."""
    return _BY_ERRNO.get(err, LibbpfError)


# Capability bits (linux/capability.h) that BPF needs.
_CAP_SYS_ADMIN, _CAP_PERFMON, _CAP_BPF = 21, 38, 39


def _effective_caps() -> Optional[int]:
    """The process's effective capability mask, or None when unreadable."""
    try:
        with open("/proc/self/status", "rb") as status:  # binary: no codec to import
            for line in status:
                if line.startswith(b"CapEff:"):
                    return int(line.split()[1], 16)
    except (OSError, ValueError):
        pass
    return None


def privilege_hint() -> Optional[str]:
    """Why an EPERM is probably a missing privilege, or None when it is not.

    BPF needs CAP_BPF (or CAP_SYS_ADMIN), and tracing programs CAP_PERFMON,
    unless ``kernel.unprivileged_bpf_disabled`` is 0, which only allows a few
    program and map types.
    """
    caps = _effective_caps()
    if caps is None or caps >> _CAP_SYS_ADMIN & 1:
        return None
    missing = [name for bit, name in ((_CAP_BPF, "CAP_BPF"), (_CAP_PERFMON, "CAP_PERFMON"))
               if not caps >> bit & 1]
    if not missing:
        return None
    return (f"missing privilege: this process has neither CAP_SYS_ADMIN nor "
            f"{' and '.join(missing)}; run it as root, or grant it CAP_BPF and CAP_PERFMON")


# -- pins: where the bpf filesystem is ---------------------------------------------------------

def _mounts() -> List[Tuple[str, str]]:
    """(mount point, fs type) of /proc/self/mounts, in mount order."""
    out: List[Tuple[str, str]] = []
    try:
        with open("/proc/self/mounts", "rb") as mounts:
            for line in mounts:
                fields = line.split()
                if len(fields) >= 3:
                    point = fields[1].decode("utf-8", "surrogateescape")
                    out.append((point.replace("\\040", " "), fields[2].decode()))
    except OSError:
        pass
    return out


def bpffs_hint(path: Union[str, bytes, os.PathLike[str], os.PathLike[bytes]]
               ) -> Optional[str]:
    """Why a pin at ``path`` failed when it is not on a bpf filesystem (with where
    bpffs is mounted), or when its directory is missing; None when neither."""
    try:
        full = os.path.abspath(os.fsdecode(path))
    except (TypeError, ValueError):
        return None
    parent = os.path.dirname(full)
    existing = parent
    while existing != "/" and not os.path.isdir(existing):
        existing = os.path.dirname(existing)
    mounts = _mounts()
    real = os.path.realpath(existing)
    fstype = ""
    best = -1
    for point, kind in mounts:
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= best:
            best, fstype = len(point), kind
    bpffs = sorted({point for point, kind in mounts if kind == "bpf"})
    where = (f"bpffs is mounted at {', '.join(bpffs)}" if bpffs
             else "no bpf filesystem is mounted: mount one with `mount -t bpf bpf /sys/fs/bpf`")
    if fstype and fstype != "bpf":
        return (f"{existing!r} is not on a bpf filesystem (bpffs) but on {fstype}; pins "
                f"live on bpffs: {where}")
    if existing != parent:
        return f"directory {parent!r} does not exist: create it first (os.makedirs)"
    return None


#: libbpf's LIBBPF_ERRNO__FORMAT (libbpf.h): "Invalid ELF format"
LIBBPF_ERRNO_FORMAT = 4001
#: e_machine of a BPF ELF file (elf.h's EM_BPF)
EM_BPF = 247


def file_start(path: Union[str, bytes]) -> Optional[bytes]:
    """The first 64 bytes of a file, what not_bpf_elf looks at; None when it cannot be
    read (missing, a directory, unreadable: libbpf's own error says which)."""
    try:
        with open(path, "rb") as f:
            return f.read(64)
    except OSError:
        return None


def not_bpf_elf(exc: LibbpfError, what: str, start: bytes, path: Optional[str]) -> LibbpfError:
    """LIBBPF_ERRNO__FORMAT at open: say what the file is instead, and how to make a
    BPF object."""
    name = "the image" if path is None else repr(path)
    if start.startswith(b"\x7fELF"):
        machine = int.from_bytes(start[18:20], "little" if start[5:6] == b"\x01" else "big") \
            if len(start) >= 20 else -1
        if machine != EM_BPF:
            kind = (f"it is an ELF file for another machine (e_machine {machine}, BPF's is "
                    f"{EM_BPF})")
        else:
            return exc  # a BPF ELF file libbpf finds broken: its own words say why
    elif not start:
        kind = "it is empty"
    else:
        text = start.decode("utf-8", "replace")
        looks_c = (path is not None and path.endswith((".c", ".h"))) or text.lstrip().startswith(
            ("#include", "#define", "#if", "//", "/*", "SEC(", "struct ", "int ", "static "))
        is_text = "\ufffd" not in text and all(c.isprintable() or c in "\t\r\n" for c in text)
        kind = ("it looks like C source" if looks_c else "it is text" if is_text
                else "it is not an ELF file")
        kind += f" (it starts with {start[:16]!r})"
    src = path if path is not None and path.endswith(".c") else "x.bpf.c"
    out = os.path.splitext(src)[0] + ".o"
    message = (f"{exc.strerror}: {name} is not a BPF ELF object: {kind}; compile the BPF "
               f"C source into one: clang -O2 -g -target bpf -c {src} -o {out}")
    err = exc.errno or LIBBPF_ERRNO_FORMAT
    return error_class(err)(err, message, what)
