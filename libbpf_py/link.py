"""Link: an attachment of a program, owned until destroyed.

Every ``Program.attach*()`` method returns a :class:`Link`. A Link holds its
program (and through it the :class:`~libbpf_py.BpfObject`), so the object
outlives every live link. ``destroy()`` detaches (unless the link is pinned)
and frees; it is idempotent, and the context manager calls it.

Three kinds of attachment, one interface:

* :class:`Link` wraps libbpf's ``struct bpf_link`` (every
  ``bpf_program__attach_*`` function and ``bpf_map__attach_struct_ops``);
* :class:`FdLink` owns a kernel link fd made with ``bpf_link_create`` (XDP with
  mode flags, which libbpf's ``bpf_program__attach_xdp`` cannot pass);
* :class:`TcLink` is a tc filter on a ``clsact`` hook, attached through netlink
  by ``bpf_tc_attach``: it has no kernel link, so no fd and no pin; destroying
  it removes the filter, and the hook too when this process created it and no
  other :class:`TcLink` of the process still uses it. Netlink talks to the
  network namespace of the calling thread: a TcLink remembers the namespace it
  was attached in and detaches there.

:meth:`Link.info` is a :class:`~libbpf_py.LinkInfo` (``libbpf_py._info`` reads
it): attach-specific fields of link types newer than the build's
``<linux/bpf.h>`` (tcx, netfilter, uprobe_multi...) are read too.
"""

from __future__ import annotations

import ctypes
import errno
import os
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Dict, Iterator, Optional, Tuple

from . import _validate
from ._binding import ffi, lib
from ._call import check, check_pin, check_ptr, make_error
from ._guard import Guard, guard_methods
from ._ids import dup_fd, fd_by_id, fd_kind, obj_get, wrong_kind
from ._info import LinkInfo, link_info
from ._validate import PathLike
from .enums import LinkType
from .errors import ClosedError, LibbpfNotSupportedError

if TYPE_CHECKING:
    from .program import Program


__all__ = ["FdLink", "Link", "TcLink"]


#: program.Program, set by program.py as it is defined (it imports this module, so this
#: module cannot import it)
program_class: type = type(None)


def _program_arg(program: object) -> Program:
    """update_program's argument: a Program (of a BpfObject, or an FdProgram). Anything
    else was an AttributeError (``_ptr``, ``fd``) or, for another object with an
    ``fd`` (a Map), the kernel's EINVAL."""
    if not isinstance(program, program_class):
        raise TypeError(f"program must be a Program (of a BpfObject, or an FdProgram), "
                        f"not {type(program).__name__}")
    return program  # type: ignore[return-value]


@guard_methods()
class Link:
    """A bpf_link: what attaching a program returns."""

    # _guard: destroy() from another thread while a call reads the link (its struct
    # bpf_link, its fd) frees it when that call returns: freed at once, the fd number
    # went to the next link made, and info() or detach() reached that one
    __slots__ = ("__weakref__", "_guard", "_owner", "_program", "_ptr")
    _guard: Guard
    _program: Optional[Program]
    _owner: Any
    _ptr: Any

    def __init__(self) -> None:
        raise TypeError("links come from Program.attach*(), BpfObject.attach(), or "
                        "Link.from_id(), from_pinned(), from_fd() or open()")

    @classmethod
    def _adopt(cls, ptr: Any, program: Optional[Program], owner: Any = None) -> Link:
        self = object.__new__(cls)
        self._guard = Guard()
        self._ptr = ffi.gc(ptr, lib.bpf_link__destroy)
        self._program = program  # keeps the BpfObject alive through the program
        self._owner = owner  # e.g. the struct_ops Map (which holds its object)
        return self

    @classmethod
    def open(cls, path: PathLike) -> Link:
        """Open a link pinned on bpffs (its program is not known: ``program`` is None).
        A pin that is not a link raises LibbpfError EINVAL saying what it is."""
        raw = _validate.cstr(path, "path", path=True)
        what = f"bpf_link__open({path!r})"
        ptr = check_ptr(lib.bpf_link__open(raw), what)
        fd = int(lib.bpf_link__fd(ptr))
        if fd_kind(fd) != "link":
            # libbpf opens any pin (bpf_obj_get): a map's or program's fd made a Link
            # whose info() read the wrong kind of object
            error = wrong_kind(fd, "link", what)
            lib.bpf_link__destroy(ptr)  # closes the fd: libbpf's detach of an opened pin
            raise error
        return cls._adopt(ptr, None)

    @classmethod
    def from_id(cls, link_id: int) -> FdLink:
        """Open the kernel's link number ``link_id`` (``bpf_link_get_fd_by_id``).

        :func:`libbpf_py.link_ids` lists them. The result is a :class:`FdLink`
        owning a new fd of the link: :meth:`destroy` closes that fd and leaves
        the link attached as long as something else holds it (the process that
        made it, a pin); :meth:`detach` detaches it for everyone. ``program`` is
        None (``info().prog_id`` names it; ``Program.from_id`` opens it). An id
        not in the kernel raises :class:`~libbpf_py.errors.LibbpfNotFoundError`
        naming it.
        """
        return FdLink._own(fd_by_id("link", link_id), f"link id {link_id}", None)

    @classmethod
    def from_pinned(cls, path: PathLike) -> FdLink:
        """Open the link pinned at ``path`` on bpffs (``bpf_obj_get``), as an
        :class:`FdLink` whose ``pin_path`` is ``path``: :meth:`destroy` closes
        the fd and leaves the pinned link attached, :meth:`unpin` removes the
        pin. A pin that is not a link raises LibbpfError EINVAL saying what it
        is."""
        fd = obj_get(path, "link")
        return FdLink._own(fd, f"pinned link {os.fspath(path)!r}", os.fspath(path))

    @classmethod
    def from_fd(cls, fd: int) -> FdLink:
        """An :class:`FdLink` on a duplicate of ``fd``; the caller keeps (and closes)
        theirs."""
        dup = dup_fd(fd)
        return FdLink._own(dup, f"fd {fd}", None)

    def _check_open(self) -> Any:
        """The live ``struct bpf_link *``; ClosedError once destroyed."""
        if self._ptr is None:
            raise ClosedError("link is destroyed")
        return self._ptr

    @property
    def closed(self) -> bool:
        return self._ptr is None

    @property
    def program(self) -> Optional[Program]:
        """The program attached (None for a link opened from a pin)."""
        return self._program

    @property
    def fd(self) -> int:
        """The kernel link's fd (owned by the Link)."""
        return int(lib.bpf_link__fd(self._check_open()))

    def info(self) -> LinkInfo:
        """The kernel's bpf_link_info, as a :class:`~libbpf_py.LinkInfo`: ``type``,
        ``type_name``, ``id``, ``prog_id``, and the attach-specific fields of the
        link's type, read as ``info["key"]`` (``ifindex`` of an XDP or tcx link,
        ``cgroup_id`` and ``attach_type`` of a cgroup link, ``tp_name``,
        ``target_name`` of an iterator, ``pf``/``hooknum``/``priority`` of netfilter,
        ``perf_event_type`` and its fields for perf-event based links...)."""
        owner = self._owner
        if owner is not None and getattr(owner, "fd", None) == self.fd:
            # a struct_ops map registered without BPF_F_LINK (SEC(".struct_ops")):
            # libbpf's link is the map's own fd, there is no kernel link
            return LinkInfo(type=LinkType.STRUCT_OPS, type_name="struct_ops", id=0, prog_id=0,
                            details=MappingProxyType({"map_id": int(owner.id)}))
        return link_info(self.fd)

    @property
    def id(self) -> int:
        """The kernel link id (0 for a struct_ops map registered without a link)."""
        return int(self.info()["id"])

    def pin(self, path: PathLike) -> None:
        """Pin the link on bpffs: it then survives destroy() and this process."""
        c = _validate.cstr(path, "path", path=True)
        check_pin(lib.bpf_link__pin(self._check_open(), c),
                  f"cannot pin link at {os.fsdecode(c)!r}", c)

    def unpin(self) -> None:
        """Remove the pin made by :meth:`pin`."""
        check(lib.bpf_link__unpin(self._check_open()), "bpf_link__unpin")

    @property
    def pin_path(self) -> Optional[str]:
        p = lib.bpf_link__pin_path(self._check_open())
        return None if p == ffi.NULL else _validate.from_c(ffi.string(p))

    def update_program(self, program: Program) -> None:
        """Swap the program behind the link (BPF_LINK_UPDATE). ``program`` may be a
        program of a BpfObject or an FdProgram (``Program.from_id``...)."""
        ptr = self._check_open()
        program = _program_arg(program)
        if program._ptr is None:  # an FdProgram: no struct bpf_program, its fd
            check(lib.bpf_link_update(int(lib.bpf_link__fd(ptr)), program.fd, ffi.NULL),
                  "bpf_link_update")
        else:
            check(lib.bpf_link__update_program(ptr, program._check_open()),
                  "bpf_link__update_program")
        self._program = program

    def detach(self) -> None:
        """Detach in the kernel; the Link object stays until destroy()."""
        check(lib.bpf_link__detach(self._check_open()), "bpf_link__detach")

    def destroy(self) -> None:
        """Detach (unless pinned) and free; idempotent."""
        ptr, self._ptr = self._ptr, None
        if ptr is not None:
            self._guard.retire(lambda: ffi.release(ptr))

    close = destroy

    # -- iterators ----------------------------------------------------------------

    def open_iter(self) -> Any:
        """Start one pass of an iterator link (``bpf_iter_create``): a binary file.

        Reading it runs the iterator program; iterate it for lines or ``read()``
        it whole. Close it (or use ``with``) when done.
        """
        fd = check(lib.bpf_iter_create(self.fd), "bpf_iter_create")
        return os.fdopen(fd, "rb", buffering=0)

    def read_iter(self) -> bytes:
        """Run an iterator link once and return all it wrote (``bpf_iter_create``)."""
        with self.open_iter() as f:
            chunks: list[bytes] = []
            while True:
                try:
                    chunk = f.read(1 << 16)
                except OSError as exc:
                    raise make_error(exc.errno or errno.EIO, "read of the BPF iterator") \
                        from None
                if not chunk:
                    return b"".join(chunks)
                chunks.append(chunk)

    def iter_lines(self) -> Iterator[bytes]:
        """Run an iterator link once, yielding its output line by line."""
        with self.open_iter() as f:
            yield from f

    # -- context manager ------------------------------------------------------------

    def __enter__(self) -> Link:
        self._check_open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.destroy()

    def __repr__(self) -> str:
        if self.closed:
            return f"<{type(self).__name__} destroyed>"
        prog = self._program.name if self._program is not None else "?"
        return f"<{type(self).__name__} fd={self.fd} program={prog!r}>"


@guard_methods()
class FdLink(Link):
    """A kernel BPF link held by its fd (made with ``bpf_link_create``)."""

    __slots__ = ("_fd", "_pin")
    _fd: Optional[int]
    _pin: Optional[str]

    @classmethod
    def _from_fd(cls, fd: int, program: Optional[Program]) -> FdLink:
        self = object.__new__(cls)
        self._guard = Guard()
        self._ptr = None
        self._fd = fd
        self._pin = None
        self._program = program
        self._owner = None
        return self

    @classmethod
    def _own(cls, fd: int, what: str, pin: Optional[str]) -> FdLink:
        """Own ``fd`` of a kernel link opened by id, pin or fd (closed on failure,
        after checking it is a BPF link)."""
        if fd_kind(fd) != "link":
            error = wrong_kind(fd, "link", what)
            os.close(fd)
            raise error
        self = cls._from_fd(fd, None)
        self._pin = pin
        return self

    def _check_open(self) -> Any:
        """The live link fd; ClosedError once destroyed."""
        if self._fd is None:
            raise ClosedError("link is destroyed")
        return self._fd

    @property
    def closed(self) -> bool:
        return self._fd is None

    @property
    def fd(self) -> int:
        return int(self._check_open())

    def pin(self, path: PathLike) -> None:
        c = _validate.cstr(path, "path", path=True)
        check_pin(lib.bpf_obj_pin(self.fd, c), f"cannot pin link at {os.fsdecode(c)!r}", c)
        self._pin = os.fspath(path)

    def unpin(self) -> None:
        self._check_open()
        if self._pin is None:
            raise make_error(errno.EINVAL, "unpin", "link is not pinned")
        os.unlink(self._pin)
        self._pin = None

    @property
    def pin_path(self) -> Optional[str]:
        self._check_open()
        return self._pin

    def update_program(self, program: Program) -> None:
        program = _program_arg(program)
        check(lib.bpf_link_update(self.fd, program.fd, ffi.NULL), "bpf_link_update")
        self._program = program

    def detach(self) -> None:
        check(lib.bpf_link_detach(self.fd), "bpf_link_detach")

    def destroy(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            self._guard.retire(lambda: os.close(fd))

    close = destroy

    def __del__(self) -> None:
        self.destroy()


# -- tc through netlink ---------------------------------------------------------------

_CLONE_NEWNET = 0x40000000
_libc: Optional[ctypes.CDLL] = None


def _setns(fd: int) -> None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    if _libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise make_error(err, "setns(CLONE_NEWNET)", os.strerror(err))


def _netns_ino() -> int:
    return os.stat("/proc/thread-self/ns/net").st_ino


# (netns inode, ifindex, parent) -> how many live TcLinks of this process use a
# clsact hook this process created
_TC_HOOKS: Dict[Tuple[int, int], int] = {}


class TcLink(Link):
    """A tc BPF filter on a clsact hook (``bpf_tc_hook_create`` + ``bpf_tc_attach``).

    Not a kernel bpf_link: :attr:`fd`, :meth:`pin` and :meth:`unpin` raise
    :class:`~libbpf_py.errors.LibbpfNotSupportedError`. :meth:`destroy` runs
    ``bpf_tc_detach`` in the network namespace the filter was attached in, then
    ``bpf_tc_hook_destroy`` if this process created the hook and no other live
    TcLink uses it.
    """

    __slots__ = ("_attach_point", "_handle", "_hook_key", "_ifindex", "_netns", "_parent",
                 "_priority")
    _netns: Optional[int]  # an fd of the netns attached in, or None once destroyed
    _hook_key: Optional[Tuple[int, int]]
    _ifindex: int
    _attach_point: int
    _parent: int
    _handle: int
    _priority: int

    @classmethod
    def _attach(cls, program: Program, ifindex: int, attach_point: int, parent: int,
                handle: int, priority: int, replace: bool) -> TcLink:
        netns = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            hook = cls._hook(ifindex, attach_point, parent)
            key = (os.fstat(netns).st_ino, ifindex)
            created = False
            if attach_point != int(lib.BPF_TC_CUSTOM):  # a custom parent is the user's qdisc
                ret = lib.bpf_tc_hook_create(hook)
                created = ret == 0
                if ret < 0 and ret != -errno.EEXIST:
                    raise make_error(-ret, f"bpf_tc_hook_create(ifindex={ifindex})")
            if created or (attach_point != int(lib.BPF_TC_CUSTOM) and key in _TC_HOOKS):
                _TC_HOOKS[key] = _TC_HOOKS.get(key, 0) + 1
                hook_key: Optional[Tuple[int, int]] = key
            else:
                hook_key = None
            opts = cls._opts(program.fd, handle, priority, replace)
            ret = lib.bpf_tc_attach(hook, opts)
            if ret < 0:
                cls._release_hook(hook_key, ifindex)
                raise make_error(-ret, f"bpf_tc_attach of program {program.name!r} "
                                 f"(ifindex={ifindex})")
        except BaseException:
            os.close(netns)
            raise
        self = object.__new__(cls)
        self._guard = Guard()  # Link's methods take it; destroy() is its own
        self._ptr = None
        self._program = program
        self._owner = None
        self._netns = netns
        self._ifindex = ifindex
        self._attach_point = attach_point
        self._parent = parent
        self._handle = int(opts.handle)
        self._priority = int(opts.priority)
        self._hook_key = hook_key
        return self

    @staticmethod
    def _hook(ifindex: int, attach_point: int, parent: int) -> Any:
        hook = ffi.new("struct bpf_tc_hook *")
        hook.sz = ffi.sizeof("struct bpf_tc_hook")
        hook.ifindex = ifindex
        hook.attach_point = attach_point
        hook.parent = parent
        return hook

    @staticmethod
    def _opts(prog_fd: int, handle: int, priority: int, replace: bool) -> Any:
        opts = ffi.new("struct bpf_tc_opts *")
        opts.sz = ffi.sizeof("struct bpf_tc_opts")
        opts.prog_fd = prog_fd
        opts.handle = handle
        opts.priority = priority
        opts.flags = lib.BPF_TC_F_REPLACE if replace else 0
        return opts

    @staticmethod
    def _release_hook(key: Optional[Tuple[int, int]], ifindex: int) -> None:
        if key is None:
            return
        _TC_HOOKS[key] -= 1
        if _TC_HOOKS[key] > 0:
            return
        del _TC_HOOKS[key]
        hook = TcLink._hook(ifindex, lib.BPF_TC_INGRESS | lib.BPF_TC_EGRESS, 0)
        ret = lib.bpf_tc_hook_destroy(hook)
        if ret < 0 and -ret not in (errno.ENOENT, errno.ENODEV, errno.EINVAL):
            raise make_error(-ret, f"bpf_tc_hook_destroy(ifindex={ifindex})")

    def _in_netns(self) -> Any:
        """Context manager: run in the netns the filter was attached in."""
        import contextlib

        netns = self._netns

        @contextlib.contextmanager
        def cm() -> Iterator[None]:
            if netns is None:
                raise ClosedError("tc link is destroyed")
            if os.fstat(netns).st_ino == _netns_ino():
                yield
                return
            here = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
            try:
                _setns(netns)
                try:
                    yield
                finally:
                    _setns(here)
            finally:
                os.close(here)

        return cm()

    def _check_open(self) -> Any:
        """The live netns fd of the filter; ClosedError once destroyed."""
        if self._netns is None:
            raise ClosedError("link is destroyed")
        return self._netns

    @property
    def closed(self) -> bool:
        return self._netns is None

    def _no_link(self, what: str) -> LibbpfNotSupportedError:
        return LibbpfNotSupportedError(
            errno.EOPNOTSUPP, f"a tc filter attached through netlink has no kernel bpf_link, "
            f"so no {what} (use attach_tcx for a real link)", "TcLink")

    @property
    def fd(self) -> int:
        self._check_open()
        raise self._no_link("fd")

    def pin(self, path: PathLike) -> None:
        self._check_open()
        raise self._no_link("pin")

    def unpin(self) -> None:
        self._check_open()
        raise self._no_link("pin")

    @property
    def pin_path(self) -> Optional[str]:
        self._check_open()
        return None

    @property
    def ifindex(self) -> int:
        return self._ifindex

    @property
    def handle(self) -> int:
        return self._handle

    @property
    def priority(self) -> int:
        return self._priority

    def info(self) -> LinkInfo:
        """What ``bpf_tc_query`` says about the filter: ``prog_id``, ``handle``,
        ``priority``, plus ``type_name`` "tc", ``ifindex`` and ``attach_point``
        (no kernel link: ``type`` is ``LinkType.UNSPEC``, ``id`` 0)."""
        with self._in_netns():
            hook = self._hook(self._ifindex, self._attach_point, self._parent)
            opts = self._opts(0, self._handle, self._priority, False)
            opts.prog_fd = 0
            check(lib.bpf_tc_query(hook, opts), "bpf_tc_query")
        point = {int(lib.BPF_TC_INGRESS): "ingress", int(lib.BPF_TC_EGRESS): "egress"}
        return LinkInfo(type=LinkType.UNSPEC, type_name="tc", id=0, prog_id=int(opts.prog_id),
                        details=MappingProxyType({
                            "handle": self._handle, "priority": self._priority,
                            "ifindex": self._ifindex,
                            "attach_point": point.get(self._attach_point, "custom")}))

    def update_program(self, program: Program) -> None:
        """Replace the filter's program (``bpf_tc_attach`` with BPF_TC_F_REPLACE)."""
        program = _program_arg(program)
        with self._in_netns():
            hook = self._hook(self._ifindex, self._attach_point, self._parent)
            opts = self._opts(program.fd, self._handle, self._priority, True)
            check(lib.bpf_tc_attach(hook, opts), "bpf_tc_attach(BPF_TC_F_REPLACE)")
        self._program = program

    def detach(self) -> None:
        """Remove the filter (``bpf_tc_detach``); destroy() later releases the hook."""
        with self._in_netns():
            hook = self._hook(self._ifindex, self._attach_point, self._parent)
            opts = self._opts(0, self._handle, self._priority, False)
            opts.prog_fd = 0
            check(lib.bpf_tc_detach(hook, opts), "bpf_tc_detach")

    def destroy(self) -> None:
        """Remove the filter and, if this process made it and is done with it, the hook.

        Idempotent. A filter whose device or namespace is already gone counts
        as removed.
        """
        if self._netns is None:
            return
        try:
            try:
                with self._in_netns():
                    try:
                        self.detach()
                    except OSError as exc:
                        if exc.errno not in (errno.ENOENT, errno.ENODEV, errno.EINVAL):
                            raise
                    self._release_hook(self._hook_key, self._ifindex)
            except OSError as exc:
                if exc.errno not in (errno.ENOENT, errno.ENODEV, errno.EINVAL):
                    raise
        finally:
            netns, self._netns = self._netns, None
            self._hook_key = None
            if netns is not None:
                os.close(netns)

    close = destroy

    def __del__(self) -> None:
        try:
            self.destroy()
        except Exception:  # nothing to report to at collection time
            pass

    def __repr__(self) -> str:
        if self.closed:
            return "<TcLink destroyed>"
        prog = self._program.name if self._program is not None else "?"
        return (f"<TcLink ifindex={self._ifindex} handle={self._handle} "
                f"priority={self._priority} program={prog!r}>")
