"""Program: one BPF program of a BpfObject.

Before load, its settings (type, expected attach type, autoload, autoattach,
log level, flags, ifindex, attach target) can be changed; after load it has an
fd, an id, a tag and kernel info, can be test-run, pinned and attached.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, Optional, Union

from ._binding import ffi, lib
from .errors import AlreadyLoadedError, NotLoadedError, check, check_ptr

if TYPE_CHECKING:
    from .enums import AttachType, ProgType
    from .link import Link
    from .object import BpfObject

PathLike = Union[str, "os.PathLike[str]"]
Buffer = Union[bytes, bytearray, memoryview]


@dataclass(frozen=True)
class TestRunResult:
    """What ``bpf_prog_test_run_opts`` returned."""

    retval: int
    duration_ns: int  # average per repetition, as the kernel reports it
    data_out: Optional[bytes]
    ctx_out: Optional[bytes]

    __test__ = False  # not a pytest test class


def _info_of(fd: int) -> Any:
    info = ffi.new("struct bpf_prog_info *")
    size = ffi.new("__u32 *", ffi.sizeof("struct bpf_prog_info"))
    if lib.has("bpf_prog_get_info_by_fd"):
        check(lib.bpf_prog_get_info_by_fd(fd, info, size), "bpf_prog_get_info_by_fd")
    else:
        check(lib.bpf_obj_get_info_by_fd(fd, info, size), "bpf_obj_get_info_by_fd")
    return info


class Program:
    """A BPF program owned by a :class:`~libbpf_py.BpfObject` (a borrowed handle)."""

    __slots__ = ("_ifindex", "_name", "_obj", "_ptr")
    _ifindex: int
    _name: str
    _obj: BpfObject
    _ptr: Any

    def __init__(self) -> None:
        raise TypeError("programs come from BpfObject.programs")

    @classmethod
    def _from_object(cls, obj: BpfObject, ptr: Any) -> Program:
        self = object.__new__(cls)
        self._obj = obj
        self._ptr = ptr
        self._name = str(ffi.string(lib.bpf_program__name(ptr)).decode())
        self._ifindex = 0
        return self

    # -- handle checks --------------------------------------------------------------

    def _p(self) -> Any:
        self._obj._check_open()
        return self._ptr

    def _before_load(self, what: str) -> Any:
        ptr = self._p()
        if self._obj.loaded:
            raise AlreadyLoadedError(
                f"cannot change {what} of program {self._name!r} after load")
        return ptr

    def _after_load(self, what: str) -> Any:
        ptr = self._p()
        if not self._obj.loaded:
            raise NotLoadedError(f"program {self._name!r} has no {what} before load()")
        return ptr

    def __repr__(self) -> str:
        return f"<Program {self._name!r} of {self._obj!r}>"

    @property
    def object(self) -> BpfObject:
        return self._obj

    # -- settings -------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def section(self) -> str:
        return str(ffi.string(lib.bpf_program__section_name(self._p())).decode())

    @property
    def type(self) -> ProgType:
        from .enums import ProgType

        return ProgType(lib.bpf_program__type(self._p()))

    @type.setter
    def type(self, value: int) -> None:
        check(lib.bpf_program__set_type(self._before_load("type"), int(value)),
              "bpf_program__set_type")

    @property
    def expected_attach_type(self) -> AttachType:
        from .enums import AttachType

        return AttachType(lib.bpf_program__expected_attach_type(self._p()))

    @expected_attach_type.setter
    def expected_attach_type(self, value: int) -> None:
        check(lib.bpf_program__set_expected_attach_type(
            self._before_load("expected_attach_type"), int(value)),
            "bpf_program__set_expected_attach_type")

    @property
    def autoload(self) -> bool:
        return bool(lib.bpf_program__autoload(self._p()))

    @autoload.setter
    def autoload(self, value: bool) -> None:
        check(lib.bpf_program__set_autoload(self._before_load("autoload"), bool(value)),
              "bpf_program__set_autoload")

    @property
    def autoattach(self) -> bool:
        """Whether a skeleton attach attaches it (LIBBPF_1.0.0)."""
        return bool(lib.bpf_program__autoattach(self._p()))

    @autoattach.setter
    def autoattach(self, value: bool) -> None:
        lib.bpf_program__set_autoattach(self._p(), bool(value))

    @property
    def log_level(self) -> int:
        return int(lib.bpf_program__log_level(self._p()))

    @log_level.setter
    def log_level(self, value: int) -> None:
        check(lib.bpf_program__set_log_level(self._before_load("log_level"), int(value)),
              "bpf_program__set_log_level")

    @property
    def flags(self) -> int:
        return int(lib.bpf_program__flags(self._p()))

    @flags.setter
    def flags(self, value: int) -> None:
        check(lib.bpf_program__set_flags(self._before_load("flags"), int(value)),
              "bpf_program__set_flags")

    def set_ifindex(self, ifindex: int) -> None:
        """Offload the program to a device (before load)."""
        if isinstance(ifindex, bool) or not isinstance(ifindex, int):
            raise TypeError(f"ifindex must be an int, not {type(ifindex).__name__}")
        if not 0 <= ifindex < 2**32:
            raise ValueError(f"ifindex must be in [0, 2**32), not {ifindex}")
        lib.bpf_program__set_ifindex(self._before_load("ifindex"), ifindex)
        self._ifindex = ifindex

    @property
    def ifindex(self) -> int:
        """The device the program is offloaded to (0: none).

        libbpf has no getter: before load this is the value set here; after
        load it is what the kernel reports in ``bpf_prog_info``.
        """
        if self.object.loaded and int(lib.bpf_program__fd(self._p())) >= 0:
            return int(_info_of(self.fd).ifindex)
        return self._ifindex

    @ifindex.setter
    def ifindex(self, value: int) -> None:
        self.set_ifindex(value)

    def set_attach_target(self, target_fd: int = 0, func_name: Optional[str] = None) -> None:
        """The BTF target of a tracing/freplace program (before load)."""
        name = ffi.NULL if func_name is None else func_name.encode()
        check(lib.bpf_program__set_attach_target(self._before_load("attach target"),
                                                 int(target_fd), name),
              "bpf_program__set_attach_target")

    @property
    def insn_count(self) -> int:
        """Instructions (after libbpf's relocations once loaded)."""
        return int(lib.bpf_program__insn_cnt(self._p()))

    def log_buffer(self) -> str:
        """The program's log from a user-set log buffer ('' when none)."""
        size = ffi.new("size_t *")
        buf = lib.bpf_program__log_buf(self._p(), size)
        if buf == ffi.NULL:
            return ""
        return str(ffi.string(buf, size[0]).decode("utf-8", "replace"))

    # -- after load -----------------------------------------------------------------

    @property
    def fd(self) -> int:
        ptr = self._after_load("fd")
        fd = int(lib.bpf_program__fd(ptr))
        if fd < 0:
            raise NotLoadedError(f"program {self._name!r} was not loaded (autoload off?)")
        return fd

    def info(self) -> Dict[str, Any]:
        """The kernel's bpf_prog_info: type, id, tag, name, btf_id, run counters."""
        info = _info_of(self.fd)
        return {
            "type": int(info.type),
            "id": int(info.id),
            "tag": bytes(ffi.buffer(info.tag)).hex(),
            "name": ffi.string(info.name).decode("utf-8", "replace"),
            "btf_id": int(info.btf_id),
            "xlated_prog_len": int(info.xlated_prog_len),
            "jited_prog_len": int(info.jited_prog_len),
            "nr_map_ids": int(info.nr_map_ids),
        }

    @property
    def id(self) -> int:
        return int(_info_of(self.fd).id)

    @property
    def tag(self) -> str:
        """The kernel's program tag, as hex."""
        return bytes(ffi.buffer(_info_of(self.fd).tag)).hex()

    def test_run(self, data: Optional[Buffer] = None, *, ctx: Optional[Buffer] = None,
                 repeat: int = 1, data_out_size: Optional[int] = None,
                 ctx_out_size: Optional[int] = None, flags: int = 0,
                 cpu: int = 0) -> TestRunResult:
        """Run the program once or ``repeat`` times in the kernel (BPF_PROG_TEST_RUN).

        ``data`` is the packet (for XDP/tc/socket filters), ``ctx`` the context
        in; the outputs are as long as the inputs unless sizes are given.
        """
        fd = self.fd
        if repeat < 0:
            raise ValueError("repeat must be >= 0")
        opts = ffi.new("struct bpf_test_run_opts *")
        opts.sz = ffi.sizeof("struct bpf_test_run_opts")
        keep = []
        data_out = ctx_out = None
        if data is not None:
            din = ffi.from_buffer(data)
            keep.append(din)
            opts.data_in = din
            opts.data_size_in = len(din)
            out_size = len(din) if data_out_size is None else int(data_out_size)
            data_out = ffi.new("char[]", max(out_size, 1))
            opts.data_out = data_out
            opts.data_size_out = out_size
        if ctx is not None:
            cin = ffi.from_buffer(ctx)
            keep.append(cin)
            opts.ctx_in = cin
            opts.ctx_size_in = len(cin)
            out_size = len(cin) if ctx_out_size is None else int(ctx_out_size)
            ctx_out = ffi.new("char[]", max(out_size, 1))
            opts.ctx_out = ctx_out
            opts.ctx_size_out = out_size
        opts.repeat = int(repeat)
        opts.flags = int(flags)
        opts.cpu = int(cpu)
        check(lib.bpf_prog_test_run_opts(fd, opts), f"test_run of program {self._name!r}")
        return TestRunResult(
            retval=int(opts.retval),
            duration_ns=int(opts.duration),
            data_out=bytes(ffi.buffer(data_out, opts.data_size_out)) if data_out else None,
            ctx_out=bytes(ffi.buffer(ctx_out, opts.ctx_size_out)) if ctx_out else None,
        )

    def pin(self, path: PathLike) -> None:
        """Pin the loaded program at ``path`` on bpffs."""
        check(lib.bpf_program__pin(self._after_load("pin"), os.fsencode(path)),
              "bpf_program__pin")

    def unpin(self, path: PathLike) -> None:
        check(lib.bpf_program__unpin(self._after_load("pin"), os.fsencode(path)),
              "bpf_program__unpin")

    def attach(self) -> Link:
        """Attach as its SEC() says (bpf_program__attach) and return the Link."""
        from .link import Link

        ptr = self._after_load("attachment")
        link = check_ptr(lib.bpf_program__attach(ptr), f"attach of program {self._name!r}")
        return Link._adopt(link, self)
