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
from typing import Dict, Optional, Type


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
    """The kernel's verifier rejected a program; ``log`` is the whole verifier log."""

    def __init__(self, err: int, message: str, what: Optional[str] = None,
                 program: Optional[str] = None, log: str = "") -> None:
        super().__init__(err, message, what)
        self.program = program
        self.log = log

    def __str__(self) -> str:
        tail = self.log.rstrip().splitlines()[-3:]
        hint = ("; verifier says: " + " | ".join(tail)) if tail else ""
        return f"{super().__str__()}: program {self.program!r} rejected{hint}"


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
