"""Link: an attachment of a program, owned until destroyed.

A Link holds its program's object, so the object outlives every live link.
``destroy()`` detaches (unless the link is pinned) and frees; it is idempotent,
and the context manager calls it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Dict, Optional, Union

from ._binding import ffi, lib
from .errors import ClosedError, check, check_ptr

if TYPE_CHECKING:
    from .program import Program

PathLike = Union[str, "os.PathLike[str]"]


class Link:
    """A bpf_link: what attaching a program returns."""

    __slots__ = ("__weakref__", "_program", "_ptr")
    _program: Optional[Program]
    _ptr: Any

    def __init__(self) -> None:
        raise TypeError("links come from Program.attach*() or Link.open()")

    @classmethod
    def _adopt(cls, ptr: Any, program: Optional[Program]) -> Link:
        self = object.__new__(cls)
        self._ptr = ffi.gc(ptr, lib.bpf_link__destroy)
        self._program = program  # keeps the BpfObject alive through the program
        return self

    @classmethod
    def open(cls, path: PathLike) -> Link:
        """Open a link pinned on bpffs."""
        ptr = check_ptr(lib.bpf_link__open(os.fsencode(path)), f"bpf_link__open({path!r})")
        return cls._adopt(ptr, None)

    def _p(self) -> Any:
        if self._ptr is None:
            raise ClosedError("link is destroyed")
        return self._ptr

    @property
    def closed(self) -> bool:
        return self._ptr is None

    @property
    def program(self) -> Optional[Program]:
        return self._program

    @property
    def fd(self) -> int:
        return int(lib.bpf_link__fd(self._p()))

    def info(self) -> Dict[str, Any]:
        """The kernel's bpf_link_info: type, id, prog_id."""
        info = ffi.new("struct bpf_link_info *")
        size = ffi.new("__u32 *", ffi.sizeof("struct bpf_link_info"))
        if lib.has("bpf_link_get_info_by_fd"):
            check(lib.bpf_link_get_info_by_fd(self.fd, info, size), "bpf_link_get_info_by_fd")
        else:
            check(lib.bpf_obj_get_info_by_fd(self.fd, info, size), "bpf_obj_get_info_by_fd")
        return {"type": int(info.type), "id": int(info.id), "prog_id": int(info.prog_id)}

    def pin(self, path: PathLike) -> None:
        check(lib.bpf_link__pin(self._p(), os.fsencode(path)), "bpf_link__pin")

    def unpin(self) -> None:
        check(lib.bpf_link__unpin(self._p()), "bpf_link__unpin")

    @property
    def pin_path(self) -> Optional[str]:
        p = lib.bpf_link__pin_path(self._p())
        return None if p == ffi.NULL else str(ffi.string(p).decode())

    def update_program(self, program: Program) -> None:
        """Swap the program behind the link (BPF_LINK_UPDATE)."""
        check(lib.bpf_link__update_program(self._p(), program._p()),
              "bpf_link__update_program")
        self._program = program

    def detach(self) -> None:
        """Detach in the kernel; the Link object stays until destroy()."""
        check(lib.bpf_link__detach(self._p()), "bpf_link__detach")

    def destroy(self) -> None:
        """Detach (unless pinned) and free; idempotent."""
        ptr, self._ptr = self._ptr, None
        if ptr is not None:
            ffi.release(ptr)

    close = destroy

    def __enter__(self) -> Link:
        self._p()
        return self

    def __exit__(self, *exc: object) -> None:
        self.destroy()

    def __repr__(self) -> str:
        if self._ptr is None:
            return "<Link destroyed>"
        prog = self._program.name if self._program is not None else "?"
        return f"<Link fd={self.fd} program={prog!r}>"
