"""Exceptions of libbpf_py.

One base, :class:`LibbpfError` (an :class:`OSError`), whose ``errno`` is always
positive. libbpf's own error codes (``LIBBPF_ERRNO__*``, 4000 and up) are kept
as they are. Subclasses also inherit the matching built-in exception, so
``except PermissionError`` catches a refused load.
"""

from __future__ import annotations

import errno as _errno
import os
from typing import Dict, Optional, Tuple, Type


class LibbpfError(OSError):
    """A libbpf call failed; ``errno`` is positive, ``strerror`` is libbpf's text."""

    def __init__(self, err: int, message: str, what: Optional[str] = None) -> None:
        super().__init__(err, message)
        self.what = what

    def __str__(self) -> str:
        head = f"{self.what}: " if self.what else ""
        name = _errno.errorcode.get(self.errno or 0, f"LIBBPF_ERRNO {self.errno}")
        return f"{head}{self.strerror} [{name}]"


class LibbpfPermissionError(LibbpfError, PermissionError):
    """EPERM / EACCES: missing privilege, or the kernel's policy refused."""


class LibbpfNotFoundError(LibbpfError, FileNotFoundError):
    """ENOENT: no such file, object, element or kernel feature."""


class LibbpfExistsError(LibbpfError, FileExistsError):
    """EEXIST: already there (a pin path, a map element under BPF_NOEXIST)."""


class LibbpfNotSupportedError(LibbpfError):
    """EOPNOTSUPP / ENOTSUP: the kernel or libbpf does not support this."""


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


_BY_ERRNO: Dict[int, Type[LibbpfError]] = {
    _errno.EPERM: LibbpfPermissionError,
    _errno.EACCES: LibbpfPermissionError,
    _errno.ENOENT: LibbpfNotFoundError,
    _errno.EEXIST: LibbpfExistsError,
    _errno.EOPNOTSUPP: LibbpfNotSupportedError,
}


def error_class(err: int) -> Type[LibbpfError]:
    return _BY_ERRNO.get(err, LibbpfError)


def make_error(err: int, what: Optional[str] = None,
               strerror: Optional[str] = None) -> LibbpfError:
    """Build the right LibbpfError subclass for a positive errno."""
    err = abs(err)
    if strerror is None:
        strerror = os.strerror(err)
    return error_class(err)(err, strerror, what)


def errno_pair(ret: int) -> Tuple[bool, int]:
    """(failed, positive errno) for a libbpf return of 0 / -errno."""
    return (ret < 0, -ret if ret < 0 else 0)
