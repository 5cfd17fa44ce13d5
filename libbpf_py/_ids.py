"""The kernel's BPF objects by id: walking them and opening one.

:func:`prog_ids`, :func:`map_ids`, :func:`link_ids` and :func:`btf_ids` walk
every object of a kind the kernel holds, system-wide (``bpf_*_get_next_id``),
the way ``bpftool prog list`` does; ``Program.from_id``, ``Map.from_id``,
``Link.from_id`` and ``Btf.from_id`` open one of them. This module is the one
place that turns an id or a pin path into an fd (``bpf_*_get_fd_by_id``,
``bpf_obj_get``) and tells what kind of BPF object an fd is, so that every
constructor reports a missing id, or a pin of the wrong kind, the same way.

Walking and opening need CAP_SYS_ADMIN (root); without it the kernel says EPERM.
"""

from __future__ import annotations

import errno
import os
from typing import Dict, Iterator, Optional, Tuple

from . import _validate
from ._binding import ffi, lib
from ._call import libbpf_strerror, make_error
from ._record import Record
from ._validate import PathLike
from .errors import LibbpfError, LibbpfNotFoundError

__all__ = ["KINDS", "btf_ids", "dup_fd", "fd_by_id", "fd_kind", "link_ids", "map_ids", "obj_get",
           "prog_ids", "wrong_kind"]


class Kind(Record):
    """One kind of kernel BPF object: its name in messages, its libbpf functions and
    what ``/proc/self/fd/N`` of one of its fds reads."""

    noun: str
    next_id: str
    fd_by_id: str
    anon_inodes: Tuple[str, ...]

    def __init__(self, noun: str, next_id: str, fd_by_id: str,
                 anon_inodes: Tuple[str, ...]) -> None:
        self._set(noun=noun, next_id=next_id, fd_by_id=fd_by_id, anon_inodes=anon_inodes)


KINDS: Dict[str, Kind] = {
    "prog": Kind("program", "bpf_prog_get_next_id", "bpf_prog_get_fd_by_id",
                 ("anon_inode:bpf-prog",)),
    "map": Kind("map", "bpf_map_get_next_id", "bpf_map_get_fd_by_id", ("anon_inode:bpf-map",)),
    # the kernel names the file of a new link "bpf_link" (bpf_link_prime), and that of
    # one opened by id or pin "bpf-link" (bpf_link_new_fd)
    "link": Kind("link", "bpf_link_get_next_id", "bpf_link_get_fd_by_id",
                 ("anon_inode:bpf-link", "anon_inode:bpf_link")),
    "btf": Kind("BTF", "bpf_btf_get_next_id", "bpf_btf_get_fd_by_id", ("anon_inode:btf",)),
}


def _walk(kind: str) -> Iterator[int]:
    """Every id of the kernel's objects of ``kind``, increasing.

    Each step asks for the next id above the last one, so an object freed while
    the walk goes on is simply not seen, and one created meanwhile is seen if
    its id is above the current one.
    """
    fn_name = KINDS[kind].next_id
    next_id = getattr(lib, fn_name)
    out = ffi.new("__u32 *")
    cur = 0
    while True:
        ret = int(next_id(cur, out))
        if ret < 0:
            if -ret == errno.ENOENT:  # no id above cur: the end
                return
            raise make_error(-ret, f"cannot list the kernel's {KINDS[kind].noun}s ({fn_name})")
        cur = int(out[0])
        yield cur


def prog_ids() -> Iterator[int]:
    """The id of every BPF program loaded in the kernel, increasing
    (``bpf_prog_get_next_id``); open one with ``Program.from_id``. Needs root."""
    return _walk("prog")


def map_ids() -> Iterator[int]:
    """The id of every BPF map in the kernel, increasing (``bpf_map_get_next_id``);
    open one with ``Map.from_id``. Needs root."""
    return _walk("map")


def link_ids() -> Iterator[int]:
    """The id of every BPF link in the kernel, increasing (``bpf_link_get_next_id``);
    open one with ``Link.from_id``. Needs root."""
    return _walk("link")


def btf_ids() -> Iterator[int]:
    """The id of every BTF object in the kernel (vmlinux's, the modules', the
    programs'), increasing (``bpf_btf_get_next_id``); open one with ``Btf.from_id``.
    Needs root."""
    return _walk("btf")


def fd_by_id(kind: str, obj_id: int) -> int:
    """A new fd of the kernel's ``kind`` object number ``obj_id`` (the caller owns it).

    An id that is not (or no longer) in the kernel raises
    :class:`~libbpf_py.errors.LibbpfNotFoundError` naming it; a non-int
    TypeError, one that does not fit 32 bits ValueError.
    """
    k = KINDS[kind]
    obj_id = _validate.check_int(obj_id, f"{k.noun} id", 32)
    fd = int(getattr(lib, k.fd_by_id)(obj_id))
    if fd < 0:
        err = -fd
        if err == errno.ENOENT:
            raise LibbpfNotFoundError(err, libbpf_strerror(err),
                                      f"no {k.noun} with id {obj_id} in the kernel "
                                      f"({k.fd_by_id})")
        raise make_error(err, f"cannot open {k.noun} id {obj_id} ({k.fd_by_id})")
    return fd


def dup_fd(fd: int) -> int:
    """A duplicate of the caller's ``fd`` (checked: an int >= 0), which the caller of
    this function owns; EBADF and the like as a LibbpfError naming the fd."""
    fd = _validate.check_fd(fd, "fd")
    try:
        return os.dup(fd)
    except OSError as exc:
        raise make_error(exc.errno or errno.EBADF, f"cannot duplicate fd {fd}") from None


def fd_kind(fd: int) -> Optional[str]:
    """What BPF object ``fd`` is ("prog", "map", "link", "btf"), or None for anything
    else (a file, a socket, a closed fd)."""
    try:
        target = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None
    for kind, k in KINDS.items():
        if target in k.anon_inodes:
            return kind
    return None


def _describe(fd: int) -> str:
    """What ``fd`` is, in words: "a BPF map", "a pipe", "the file '/etc/passwd'"."""
    try:
        target = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return "not an open file"
    for k in KINDS.values():
        if target in k.anon_inodes:
            return f"a BPF {k.noun}"
    if target.startswith("/"):
        return f"the file {target!r}"
    prefix, _, rest = target.partition(":")  # pipe:[1234], anon_inode:[eventfd]
    return "a " + (prefix if prefix != "anon_inode" else rest.strip("[]"))


def wrong_kind(fd: int, kind: str, what: str) -> LibbpfError:
    """The LibbpfError (EINVAL) for ``fd``, which is not a BPF ``kind``: says what it is."""
    return make_error(errno.EINVAL, what, f"not a BPF {KINDS[kind].noun}: it is "
                                          f"{_describe(fd)}")


def obj_get(path: PathLike, kind: str, *, read_only: bool = False) -> int:
    """A new fd of the ``kind`` object pinned at ``path`` on bpffs (the caller owns it).

    ``bpf_obj_get``, or with ``read_only`` ``bpf_obj_get_opts`` with
    ``BPF_F_RDONLY``: the pin needs read permission only, and the fd cannot
    write (a map update through it fails with EPERM). A pin of another kind of
    object raises LibbpfError EINVAL saying what it is.
    """
    k = KINDS[kind]
    raw = _validate.cstr(path, "path", path=True)
    shown = os.fsdecode(raw)
    mode = " read-only" if read_only else ""
    if read_only:
        opts = ffi.new("struct bpf_obj_get_opts *")
        opts.sz = ffi.sizeof("struct bpf_obj_get_opts")
        opts.file_flags = int(lib.BPF_F_RDONLY)
        fd = int(lib.bpf_obj_get_opts(raw, opts))
    else:
        fd = int(lib.bpf_obj_get(raw))
    if fd < 0:
        raise make_error(-fd, f"cannot open pinned {k.noun} {shown!r}{mode}")
    if fd_kind(fd) != kind:
        error = wrong_kind(fd, kind, f"cannot open pinned {k.noun} {shown!r}")
        os.close(fd)
        raise error
    return fd
