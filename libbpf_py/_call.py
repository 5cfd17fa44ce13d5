"""Calling libbpf: its return value (and errno) turned into the right exception.

``check`` for functions that return ``-errno``, ``check_ptr`` for those that
return NULL and set errno, ``make_error`` to build the exception by hand. The
exception classes live in :mod:`libbpf_py.errors`, which imports no FFI; these
helpers need libbpf's ``libbpf_strerror``, hence their own module.
"""

from __future__ import annotations

import errno
import os
from typing import Any, Optional

from ._binding import ffi, lib
from .errors import LibbpfError, bpffs_hint, error_class, privilege_hint

__all__ = ["check", "check_pin", "check_ptr", "libbpf_strerror", "make_error"]


def libbpf_strerror(err: int) -> str:
    """libbpf's text for an errno, its own 4000+ codes included."""
    buf = ffi.new("char[256]")
    if lib.libbpf_strerror(err, buf, 256) == 0:
        return str(ffi.string(buf).decode("utf-8", "replace"))
    return os.strerror(err)


def make_error(err: int, what: Optional[str] = None,
               strerror: Optional[str] = None) -> LibbpfError:
    """Build the right LibbpfError subclass for a positive errno.

    An EPERM in a process without BPF's capabilities says so, and how to fix it.
    """
    err = abs(err)
    if strerror is None:
        strerror = libbpf_strerror(err)
    if err == errno.EPERM:
        hint = privilege_hint()
        if hint:
            strerror = f"{strerror} ({hint})"
    return error_class(err)(err, strerror, what)


def check(ret: int, what: str) -> int:
    """Raise for a libbpf return of -errno; pass anything else through."""
    if ret < 0:
        raise make_error(-ret, what)
    return ret


def check_ptr(ptr: Any, what: str) -> Any:
    """Raise for a NULL return (libbpf sets errno; EINVAL if it did not); pass the
    pointer through."""
    if ptr == ffi.NULL:
        raise make_error(ffi.errno or errno.EINVAL, what)
    return ptr


def check_pin(ret: int, what: str, path: Any) -> int:
    """:func:`check` for a pin at ``path``: a path off bpffs (EINVAL, EPERM) or in a
    missing directory (ENOENT) says so, and where bpffs is mounted."""
    if ret < 0:
        err = -ret
        hint = bpffs_hint(path) if err in (errno.EINVAL, errno.EPERM, errno.ENOENT) else None
        if hint:
            raise error_class(err)(err, f"{libbpf_strerror(err)}: {hint}", what)
        raise make_error(err, what)
    return ret
