"""Program: one BPF program of a BpfObject.

Before load, its settings (type, expected attach type, autoload, autoattach,
log level, flags, ifindex, attach target) can be changed; after load it has an
fd, an id, a tag and kernel info, can be test-run, pinned and attached.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence as SequenceABC
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple, Union

from . import _validate
from . import link as _link
from ._binding import ffi, lib
from ._call import check, check_pin, libbpf_strerror, make_error
from ._features import require_field
from ._guard import Guard, guard_methods
from ._ids import dup_fd, fd_by_id, fd_kind, obj_get, wrong_kind
from ._info import ProgramInfo, check_pinned_here, prog_info
from ._record import Record
from ._validate import PathLike
from .enums import AttachType, ProgType
from .errors import (
    ENOTSUPP,
    AlreadyLoadedError,
    ClosedError,
    LibbpfError,
    NotLoadedError,
    VerifierError,
    cut_log,
)
from .link import FdLink, Link, TcLink
from .log import HEAD_LINES, TAIL_LINES, get_logger
from .map import Map, _fd_of

if TYPE_CHECKING:
    from .object import BpfObject  # object imports this module: annotations only

Buffer = Union[bytes, bytearray, memoryview]
FdLike = Any  # an int fd, or anything with an int ``fd`` attribute (Map, Program)
CgroupLike = Union[str, "os.PathLike[str]", int, None]
AttachMode = Union[str, int, None]  # "default" | "legacy" | "perf" | "link"


class TestRunResult(Record):
    """What ``bpf_prog_test_run_opts`` returned."""

    retval: int
    duration_ns: int  # average per repetition, as the kernel reports it
    data_out: Optional[bytes]
    ctx_out: Optional[bytes]

    __test__ = False  # not a pytest test class

    def __init__(self, retval: int, duration_ns: int, data_out: Optional[bytes],
                 ctx_out: Optional[bytes]) -> None:
        self._set(retval=retval, duration_ns=duration_ns, data_out=data_out, ctx_out=ctx_out)


class FuncInfo(Record):
    """One record of a program's BTF func info (``struct bpf_func_info``): where a
    function (the program itself or a subprogram) starts."""

    insn_off: int  # the index of the function's first instruction in the program
    type_id: int  # its BTF_KIND_FUNC in the object's BTF
    name: str  # that FUNC's name ("" if the object has no BTF)

    def __init__(self, insn_off: int, type_id: int, name: str) -> None:
        self._set(insn_off=insn_off, type_id=type_id, name=name)


class LineInfo(Record):
    """One record of a program's BTF line info (``struct bpf_line_info``): the source
    line an instruction came from, as the object's BTF strings record it."""

    insn_off: int  # the index of the instruction in the program
    file_name: str
    line: int  # 1-based; 0 when unknown
    col: int
    line_text: str  # the source line itself, as clang stored it

    def __init__(self, insn_off: int, file_name: str, line: int, col: int,
                 line_text: str) -> None:
        self._set(insn_off=insn_off, file_name=file_name, line=line, col=col,
                  line_text=line_text)


#: BPF streams (``bpf_prog_stream_read``): the uapi's BPF_STREAM_STDOUT / _STDERR
STREAMS: Dict[str, int] = {"stdout": 1, "stderr": 2}

# mprog ordering flags of the uapi (linux/bpf.h, kernel >= 6.6): fixed ABI values, not
# in the older uapi headers a build may use
_BPF_F_BEFORE = 1 << 3
_BPF_F_AFTER = 1 << 4
_BPF_F_LINK = 1 << 13

# FdProgram.load: instructions, names and log buffers as the kernel takes them
#: sizeof(struct bpf_insn)
_INSN_SIZE = 8
#: the kernel's longest program name (BPF_OBJ_NAME_LEN - 1)
_PROG_NAME_MAX = 15
#: the log buffer sizes the kernel takes (kernel/bpf/log.c: at least 128, at most UINT_MAX >> 2)
_LOG_SIZE_MIN = 128
_LOG_SIZE_MAX = 0xFFFFFFFF >> 2
#: FdProgram.load's default log buffer: libbpf's BPF_LOG_BUF_SIZE (16 MiB)
LOAD_LOG_SIZE = 0xFFFFFFFF >> 8


def _in_buffer(value: Any, what: str) -> Any:
    """test_run's ``data`` / ``ctx`` as C memory (a char[] over it, no copy): any
    bytes-like object, measured in bytes (``len()`` of a memoryview of 4-byte items,
    or of a ctypes array, counts items) and, when not C-contiguous, copied (as map
    keys and values are); anything else a TypeError that names the argument."""
    try:
        view = memoryview(value)
    except TypeError:
        raise TypeError(f"{what} must be a bytes-like object (bytes, bytearray, "
                        f"memoryview...), not {type(value).__name__}") from None
    return ffi.from_buffer(value if view.c_contiguous else view.tobytes())


def _out_buffer(size: Optional[int], in_len: Optional[int]) -> Any:
    """The output buffer of test_run: ``size`` bytes (the input's length by default),
    or None for no output (the kernel reads a size of 0 as "no limit")."""
    n = in_len if size is None else size
    return ffi.new("char[]", n) if n else None


def _out_bytes(buf: Any, size: Optional[int], given: Optional[Buffer], reported: int
               ) -> Optional[bytes]:
    """What the kernel wrote to ``buf``: never more than the buffer holds."""
    if buf is None:
        return None if size is None and given is None else b""
    return bytes(ffi.buffer(buf, min(reported, len(buf))))


@guard_methods()
class Program:
    """A BPF program owned by a :class:`~libbpf_py.BpfObject` (a borrowed handle)."""

    __slots__ = ("_guard", "_ifindex", "_name", "_obj", "_ptr")
    _guard: Guard  # the object's: a call in flight keeps the object from being freed
    _ifindex: int
    _name: str
    _obj: BpfObject
    _ptr: Any

    def __init__(self) -> None:
        raise TypeError("programs come from BpfObject.programs, or Program.from_id(), "
                        "from_pinned() or from_fd()")

    @classmethod
    def _from_object(cls, obj: BpfObject, ptr: Any) -> Program:
        self = object.__new__(cls)
        self._obj = obj
        self._guard = obj._guard
        self._ptr = ptr
        self._name = _validate.from_c(ffi.string(lib.bpf_program__name(ptr)))
        self._ifindex = 0
        return self

    @classmethod
    def from_id(cls, prog_id: int) -> FdProgram:
        """Open the kernel's program number ``prog_id`` (``bpf_prog_get_fd_by_id``).

        :func:`libbpf_py.prog_ids` lists them. The result is a :class:`FdProgram`,
        which owns its fd (:meth:`FdProgram.close` or ``with``). An id not in the
        kernel raises :class:`~libbpf_py.errors.LibbpfNotFoundError` naming it.
        """
        return FdProgram._adopt(fd_by_id("prog", prog_id), f"program id {prog_id}")

    @classmethod
    def from_pinned(cls, path: PathLike) -> FdProgram:
        """Open the program pinned at ``path`` on bpffs (``bpf_obj_get``), as a
        :class:`FdProgram` owning its fd. A pin that is not a program raises
        LibbpfError EINVAL saying what it is."""
        fd = obj_get(path, "prog")
        return FdProgram._adopt(fd, f"pinned program {os.fspath(path)!r}")

    @classmethod
    def from_fd(cls, fd: int) -> FdProgram:
        """A :class:`FdProgram` on a duplicate of ``fd``; the caller keeps (and closes)
        theirs."""
        dup = dup_fd(fd)
        return FdProgram._adopt(dup, f"fd {fd}")

    # -- handle checks --------------------------------------------------------------

    def _check_open(self) -> Any:
        """The live ``struct bpf_program *``; ClosedError once the object is closed."""
        self._obj._check_open()
        return self._ptr

    def _before_load(self, what: str) -> Any:
        ptr = self._check_open()
        if self._obj.loaded:
            raise AlreadyLoadedError(
                f"cannot change {what} of program {self._name!r} after load")
        return ptr

    def _after_load(self, what: str) -> Any:
        ptr = self._check_open()
        if not self._obj.loaded:
            raise NotLoadedError(f"program {self._name!r} has no {what} before load()")
        return ptr

    def __repr__(self) -> str:
        return f"<Program {_validate.show(self._name)} of {self._obj!r}>"

    @property
    def object(self) -> BpfObject:
        return self._obj

    # -- settings -------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def section(self) -> str:
        return _validate.from_c(ffi.string(lib.bpf_program__section_name(self._check_open())))

    @property
    def type(self) -> ProgType:
        return ProgType(lib.bpf_program__type(self._check_open()))

    @type.setter
    def type(self, value: Union[ProgType, int, str]) -> None:
        # not int(value): 1.5, True or "6" were set as type 1, 1 and 6 without a word
        check(lib.bpf_program__set_type(self._before_load("type"), _prog_type(value)),
              "bpf_program__set_type")

    @property
    def expected_attach_type(self) -> AttachType:
        return AttachType(lib.bpf_program__expected_attach_type(self._check_open()))

    @expected_attach_type.setter
    def expected_attach_type(self, value: Union[AttachType, int, str]) -> None:
        check(lib.bpf_program__set_expected_attach_type(
            self._before_load("expected_attach_type"), _attach_type(value)),
            "bpf_program__set_expected_attach_type")

    @property
    def autoload(self) -> bool:
        return bool(lib.bpf_program__autoload(self._check_open()))

    @autoload.setter
    def autoload(self, value: bool) -> None:
        flag = _validate.check_bool(value, "autoload")
        check(lib.bpf_program__set_autoload(self._before_load("autoload"), flag),
              "bpf_program__set_autoload")

    @property
    def autoattach(self) -> bool:
        """Whether a skeleton attach attaches it (LIBBPF_1.0.0)."""
        return bool(lib.bpf_program__autoattach(self._check_open()))

    @autoattach.setter
    def autoattach(self, value: bool) -> None:
        lib.bpf_program__set_autoattach(self._check_open(),
                                        _validate.check_bool(value, "autoattach"))

    @property
    def log_level(self) -> int:
        return int(lib.bpf_program__log_level(self._check_open()))

    @log_level.setter
    def log_level(self, value: int) -> None:
        check(lib.bpf_program__set_log_level(self._before_load("log_level"),
                                             _uint(value, "log_level")),
              "bpf_program__set_log_level")

    @property
    def flags(self) -> int:
        return int(lib.bpf_program__flags(self._check_open()))

    @flags.setter
    def flags(self, value: int) -> None:
        check(lib.bpf_program__set_flags(self._before_load("flags"), _uint(value, "flags")),
              "bpf_program__set_flags")

    def set_ifindex(self, ifindex: int) -> None:
        """Offload the program to a device (before load)."""
        ifindex = _uint(ifindex, "ifindex")
        lib.bpf_program__set_ifindex(self._before_load("ifindex"), ifindex)
        self._ifindex = ifindex

    @property
    def ifindex(self) -> int:
        """The device the program is offloaded to (0: none).

        libbpf has no getter: before load this is the value set here; after
        load it is what the kernel reports in ``bpf_prog_info``.
        """
        if self.object.loaded and int(lib.bpf_program__fd(self._check_open())) >= 0:
            return prog_info(self.fd).ifindex
        return self._ifindex

    @ifindex.setter
    def ifindex(self, value: int) -> None:
        self.set_ifindex(value)

    def set_attach_target(self, target_fd: int = 0, func_name: Optional[str] = None) -> None:
        """The BTF target of a tracing/freplace program (before load)."""
        name = ffi.NULL if func_name is None else _cstr(func_name, "func_name")
        check(lib.bpf_program__set_attach_target(self._before_load("attach target"),
                                                 _validate.check_fd(target_fd, "target_fd"),
                                                 name),
              "bpf_program__set_attach_target")

    @property
    def insn_count(self) -> int:
        """Instructions (after libbpf's relocations once loaded)."""
        return int(lib.bpf_program__insn_cnt(self._check_open()))

    def log_buffer(self) -> str:
        """The program's log from a user-set log buffer ('' when none)."""
        size = ffi.new("size_t *")
        buf = lib.bpf_program__log_buf(self._check_open(), size)
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

    def info(self) -> ProgramInfo:
        """The kernel's bpf_prog_info, as a :class:`~libbpf_py.ProgramInfo`: type, id,
        tag, name, btf_id, sizes, map ids, run counters (``info.id`` or ``info["id"]``)."""
        return prog_info(self.fd)

    @property
    def id(self) -> int:
        return prog_info(self.fd).id

    @property
    def tag(self) -> str:
        """The kernel's program tag, as hex."""
        return prog_info(self.fd).tag

    def test_run(self, data: Optional[Buffer] = None, *, ctx: Optional[Buffer] = None,
                 repeat: int = 1, data_out_size: Optional[int] = None,
                 ctx_out_size: Optional[int] = None, flags: int = 0,
                 cpu: int = 0) -> TestRunResult:
        """Run the program once or ``repeat`` times in the kernel (BPF_PROG_TEST_RUN).

        ``data`` is the packet (for XDP/tc/socket filters), ``ctx`` the context
        in. The output buffers are as long as the inputs unless sizes are
        given; the kernel is told each buffer's true size, and an output that
        does not fit raises LibbpfError ENOSPC. A size of 0 asks for no output:
        the kernel gets no buffer (it reads a size of 0 as "no limit") and the
        result holds ``b""``. Sizes, ``flags`` and ``cpu`` are 0..2**32-1,
        ``repeat`` 0..2**31-1 (0 runs once); anything else raises ValueError,
        a non-int TypeError.
        """
        repeat = _uint(repeat, "repeat", 31)
        flags = _uint(flags, "flags")
        cpu = _uint(cpu, "cpu")
        if data_out_size is not None:
            data_out_size = _uint(data_out_size, "data_out_size")
        if ctx_out_size is not None:
            ctx_out_size = _uint(ctx_out_size, "ctx_out_size")
        fd = self.fd
        opts = ffi.new("struct bpf_test_run_opts *")
        opts.sz = ffi.sizeof("struct bpf_test_run_opts")
        keep = []
        din = cin = None
        if data is not None:
            din = _in_buffer(data, "data")
            keep.append(din)
            opts.data_in = din
            opts.data_size_in = _uint(len(din), "the length of data")
        if ctx is not None:
            cin = _in_buffer(ctx, "ctx")
            keep.append(cin)
            opts.ctx_in = cin
            opts.ctx_size_in = _uint(len(cin), "the length of ctx")
        # the inputs' sizes in bytes (len(din)), not len(data): a memoryview of 4-byte
        # items got an output buffer a quarter of its size, and ENOSPC
        data_out = _out_buffer(data_out_size, len(din) if din is not None else None)
        if data_out is not None:
            opts.data_out, opts.data_size_out = data_out, len(data_out)
        ctx_out = _out_buffer(ctx_out_size, len(cin) if cin is not None else None)
        if ctx_out is not None:
            opts.ctx_out, opts.ctx_size_out = ctx_out, len(ctx_out)
        opts.repeat = repeat
        opts.flags = flags
        opts.cpu = cpu
        check(lib.bpf_prog_test_run_opts(fd, opts), f"test_run of program {self._name!r}")
        return TestRunResult(
            retval=int(opts.retval),
            duration_ns=int(opts.duration),
            data_out=_out_bytes(data_out, data_out_size, data, int(opts.data_size_out)),
            ctx_out=_out_bytes(ctx_out, ctx_out_size, ctx, int(opts.ctx_size_out)),
        )

    def _btf_str(self, btf: Any, off: int) -> str:
        if btf == ffi.NULL:
            return ""
        text = lib.btf__name_by_offset(btf, off)
        return "" if text == ffi.NULL else _validate.from_c(ffi.string(text))

    def func_info(self) -> List[FuncInfo]:
        """The program's BTF func info as libbpf prepared it for the kernel
        (``bpf_program__func_info``/``_cnt``, libbpf >= 1.6): one record per
        function, offsets in the final instructions. Empty before
        :meth:`BpfObject.prepare <libbpf_py.BpfObject.prepare>` or load, and for an
        object without .BTF.ext; libbpf < 1.6 raises LibbpfVersionError."""
        fn, cnt_fn = lib.bpf_program__func_info, lib.bpf_program__func_info_cnt
        ptr = self._check_open()
        cnt = int(cnt_fn(ptr))
        if not cnt:
            return []
        recs = fn(ptr)
        if recs == ffi.NULL:
            raise make_error(ffi.errno or errno.EINVAL,
                             f"bpf_program__func_info of program {self._name!r}")
        btf = lib.bpf_object__btf(self._obj._check_open())
        out: List[FuncInfo] = []
        for i in range(cnt):
            rec = recs[i]
            name = ""
            if btf != ffi.NULL:
                t = lib.btf__type_by_id(btf, rec.type_id)
                if t != ffi.NULL:
                    name = self._btf_str(btf, t.name_off)
            out.append(FuncInfo(int(rec.insn_off), int(rec.type_id), name))
        return out

    def line_info(self) -> List[LineInfo]:
        """The program's BTF line info as libbpf prepared it for the kernel
        (``bpf_program__line_info``/``_cnt``, libbpf >= 1.6): file, line, column and
        source text per instruction that starts a line. Empty before
        :meth:`BpfObject.prepare <libbpf_py.BpfObject.prepare>` or load, and for an
        object without .BTF.ext; libbpf < 1.6 raises LibbpfVersionError."""
        return self._decode_line_info(self._line_info_records())

    def _line_info_records(self) -> bytes:
        """A copy of the program's ``struct bpf_line_info`` records (libbpf frees its
        own when a load fails: :meth:`BpfObject.load` keeps this copy to name the
        source line of a verifier error)."""
        fn, cnt_fn = lib.bpf_program__line_info, lib.bpf_program__line_info_cnt
        ptr = self._check_open()
        cnt = int(cnt_fn(ptr))
        if not cnt:
            return b""
        recs = fn(ptr)
        if recs == ffi.NULL:
            raise make_error(ffi.errno or errno.EINVAL,
                             f"bpf_program__line_info of program {self._name!r}")
        return bytes(ffi.buffer(recs, cnt * ffi.sizeof("struct bpf_line_info")))

    def _decode_line_info(self, records: bytes) -> List[LineInfo]:
        if not records:
            return []
        btf = lib.bpf_object__btf(self._obj._check_open())
        out: List[LineInfo] = []
        for rec in ffi.from_buffer("struct bpf_line_info[]", records):
            # BPF_LINE_INFO_LINE_NUM / _LINE_COL of the uapi: line << 10 | col
            out.append(LineInfo(int(rec.insn_off), self._btf_str(btf, rec.file_name_off),
                                int(rec.line_col) >> 10, int(rec.line_col) & 0x3FF,
                                self._btf_str(btf, rec.line_off)))
        return out

    def stream(self, which: Union[str, int] = "stdout", *, max_bytes: int = 1 << 20) -> bytes:
        """Read (and consume) what the loaded program wrote to one of its BPF streams
        (``bpf_prog_stream_read``: libbpf >= 1.6, kernel >= 6.17): ``"stdout"`` (1) or
        ``"stderr"`` (2, where the kernel also reports the program's faults). Reads
        until the stream is empty or ``max_bytes`` were read; ``b""`` if it is empty.
        A kernel without streams refuses with LibbpfError (EINVAL); libbpf < 1.6
        raises LibbpfVersionError."""
        fn = lib.bpf_prog_stream_read
        if isinstance(which, str):
            if which not in STREAMS:
                raise ValueError(f"stream must be one of {', '.join(STREAMS)} (or their "
                                 f"ids 1, 2), not {which!r}")
            stream_id = STREAMS[which]
        else:
            stream_id = _uint(which, "stream")
        max_bytes = _uint(max_bytes, "max_bytes", 31)
        if not max_bytes:
            raise ValueError("max_bytes must be at least 1")
        fd = self.fd
        chunk = min(max_bytes, 1 << 16)
        buf = ffi.new("char[]", chunk)
        parts: List[bytes] = []
        total = 0
        while total < max_bytes:
            want = min(chunk, max_bytes - total)
            ret = fn(fd, stream_id, buf, want, ffi.NULL)
            if ret < 0:
                raise make_error(-ret, f"bpf_prog_stream_read of program {self._name!r} "
                                       f"(stream {which!r})")
            if ret == 0:
                break
            parts.append(bytes(ffi.buffer(buf, ret)))
            total += ret
        return b"".join(parts)

    def pin(self, path: PathLike) -> None:
        """Pin the loaded program at ``path`` on bpffs."""
        c = _path(path, "path")
        check_pin(lib.bpf_program__pin(self._after_load("pin"), c),
                  f"cannot pin program {self._name!r} at {os.fsdecode(c)!r}", c)

    def unpin(self, path: PathLike) -> None:
        """Remove the pin of this program at ``path`` (``bpf_program__unpin``).

        Only a pin of this program is removed: a path that pins another object, or
        is no pin of a program at all, raises LibbpfError (EINVAL) and stays.
        """
        ptr = self._after_load("pin")
        raw = _path(path, "path")
        check_pinned_here(raw, "prog", self.id,
                          f"cannot unpin program {self._name!r} at {os.fsdecode(raw)!r}")
        check(lib.bpf_program__unpin(ptr, raw), "bpf_program__unpin")

    def assoc_struct_ops(self, struct_ops_map: FdLike, *, flags: int = 0) -> None:
        """Associate the loaded program with a struct_ops map (libbpf >= 1.7,
        LIBBPF_1.7.0; kernel >= 6.19), so that kfuncs it calls can find the
        struct_ops instance. A map of this program's object goes through
        ``bpf_program__assoc_struct_ops`` (which checks that it is a struct_ops map
        and was created); any other map or fd through ``bpf_prog_assoc_struct_ops``.
        A struct_ops program cannot be associated (EINVAL).
        """
        ptr = self._after_load("struct_ops association")
        what = f"cannot associate program {self._name!r} with a struct_ops map"
        map_ptr = getattr(struct_ops_map, "_ptr", None) if isinstance(struct_ops_map, Map) \
            else None
        own = map_ptr is not None and struct_ops_map._owner is self._obj
        # the function first: a libbpf without it (LibbpfVersionError) lacks its opts
        # struct too, and ffi.new of that would be cffi's own "undefined struct" error
        assoc = lib.bpf_program__assoc_struct_ops if own else lib.bpf_prog_assoc_struct_ops
        if flags:
            opts = ffi.new("struct bpf_prog_assoc_struct_ops_opts *")
            opts.sz = ffi.sizeof("struct bpf_prog_assoc_struct_ops_opts")
            opts.flags = _uint(flags, "flags")
        else:
            opts = ffi.NULL
        if own:
            struct_ops_map._check_open()
            check(assoc(ptr, map_ptr, opts), what)
        else:
            check(assoc(int(lib.bpf_program__fd(ptr)), _fd_of(struct_ops_map, "struct_ops_map"),
                        opts), what)

    # -- attaching ----------------------------------------------------------------------
    #
    # One method per libbpf attach function, named after it (attach_<kind> for
    # bpf_program__attach_<kind>), libbpf's option names as keyword arguments.
    # Options left at their defaults are never written into an opts struct, so
    # a default call works with every libbpf >= 1.0; an option the build's libbpf
    # does not know raises LibbpfVersionError.

    def _link(self, ptr: Any, what: str) -> Link:
        if ptr == ffi.NULL:
            raise attach_error(ffi.errno or errno.EINVAL, what, self)
        return Link._adopt(ptr, self)

    def attach(self) -> Link:
        """Attach as its SEC() says (``bpf_program__attach``) and return the Link."""
        ptr = self._after_load("attachment")
        return self._link(lib.bpf_program__attach(ptr), "attach")

    def attach_kprobe(self, func_name: str, offset: int = 0, retprobe: bool = False, *,
                      bpf_cookie: int = 0, attach_mode: AttachMode = None) -> Link:
        """A kprobe (or kretprobe with ``retprobe=True``) on a kernel function
        (``bpf_program__attach_kprobe_opts``). ``attach_mode`` ("default",
        "legacy", "perf", "link") needs libbpf >= 1.4."""
        ptr = self._after_load("attachment")
        fields: Dict[str, Any] = {}
        if offset:
            fields["offset"] = _uint(offset, "offset")
        if retprobe:
            fields["retprobe"] = True
        if bpf_cookie:
            fields["bpf_cookie"] = _uint(bpf_cookie, "bpf_cookie", 64)
        if attach_mode is not None:
            fields["attach_mode"] = _attach_mode(attach_mode)
        opts = _opts("bpf_kprobe_opts", "attach_kprobe", fields)
        return self._link(lib.bpf_program__attach_kprobe_opts(ptr, _cstr(func_name, "func_name"),
                                                              opts), "attach_kprobe")

    def attach_kprobe_multi(self, pattern: Optional[str] = None, *,
                            syms: Optional[Sequence[str]] = None,
                            addrs: Optional[Sequence[int]] = None,
                            cookies: Optional[Sequence[int]] = None,
                            retprobe: bool = False, session: bool = False,
                            unique_match: bool = False) -> Link:
        """One kprobe.multi link on many kernel functions: by glob ``pattern``, or
        a list of ``syms`` or ``addrs`` (``bpf_program__attach_kprobe_multi_opts``,
        libbpf >= 0.8; ``session`` needs 1.5). ``unique_match`` (libbpf >= 1.6, with a
        ``pattern``) fails unless the pattern matches exactly one function."""
        ptr = self._after_load("attachment")
        if sum(x is not None for x in (pattern, syms, addrs)) != 1:
            raise ValueError("attach_kprobe_multi needs exactly one of pattern, syms, addrs")
        fields: Dict[str, Any] = {}
        keep: List[Any] = []
        cnt = 0
        if syms is not None:
            cnt = _symbol_list(syms, fields, keep)
        if addrs is not None:
            cnt = _nonempty(addrs, "addrs")
            fields["addrs"] = ffi.new("unsigned long[]", [_uint(a, "addrs[]", 64)
                                                          for a in addrs])
        if cookies is not None:
            if pattern is not None or len(cookies) != cnt:
                raise ValueError("cookies needs syms or addrs, one cookie per entry")
            fields["cookies"] = ffi.new("__u64[]", [_uint(c, "cookies[]", 64) for c in cookies])
        if cnt:
            fields["cnt"] = cnt
        if retprobe:
            fields["retprobe"] = True
        if session:
            fields["session"] = True
        if unique_match:
            if pattern is None:
                raise ValueError("unique_match needs a pattern")
            fields["unique_match"] = True
        fn = lib.bpf_program__attach_kprobe_multi_opts
        opts = _opts("bpf_kprobe_multi_opts", "attach_kprobe_multi", fields)
        pat = ffi.NULL if pattern is None else _cstr(pattern, "pattern")
        return self._link(fn(ptr, pat, opts), "attach_kprobe_multi")

    def attach_ksyscall(self, syscall_name: str, *, bpf_cookie: int = 0,
                        retprobe: bool = False) -> Link:
        """A kprobe on a system call's kernel entry, by its name ("openat"), with
        the arch prefix libbpf works out (``bpf_program__attach_ksyscall``, 1.0)."""
        ptr = self._after_load("attachment")
        fields: Dict[str, Any] = {}
        if bpf_cookie:
            fields["bpf_cookie"] = _uint(bpf_cookie, "bpf_cookie", 64)
        if retprobe:
            fields["retprobe"] = True
        fn = lib.bpf_program__attach_ksyscall
        opts = _opts("bpf_ksyscall_opts", "attach_ksyscall", fields)
        return self._link(fn(ptr, _cstr(syscall_name, "syscall_name"), opts), "attach_ksyscall")

    def attach_uprobe(self, binary_path: PathLike, func_name: Optional[str] = None,
                      offset: int = 0, pid: int = -1, retprobe: bool = False, *,
                      ref_ctr_offset: int = 0, bpf_cookie: int = 0,
                      attach_mode: AttachMode = None) -> Link:
        """A uprobe (uretprobe with ``retprobe=True``) in a binary or shared library
        (``bpf_program__attach_uprobe_opts``).

        ``func_name`` is a symbol of ``binary_path`` ("getpid" in "libc.so.6"; a
        bare library name is searched like the dynamic loader does);
        ``offset`` is added to it, or is a file offset when no ``func_name``.
        ``pid`` -1 probes every process, 0 this one, N only process N.
        """
        ptr = self._after_load("attachment")
        fields: Dict[str, Any] = {}
        keep: List[Any] = []
        if func_name is not None:
            name = ffi.new("char[]", _cstr(func_name, "func_name"))
            keep.append(name)
            fields["func_name"] = name
        if retprobe:
            fields["retprobe"] = True
        if ref_ctr_offset:
            fields["ref_ctr_offset"] = _uint(ref_ctr_offset, "ref_ctr_offset", 64)
        if bpf_cookie:
            fields["bpf_cookie"] = _uint(bpf_cookie, "bpf_cookie", 64)
        if attach_mode is not None:
            fields["attach_mode"] = _attach_mode(attach_mode)
        opts = _opts("bpf_uprobe_opts", "attach_uprobe", fields)
        link = lib.bpf_program__attach_uprobe_opts(
            ptr, _pid(pid), _path(binary_path, "binary_path"), _uint(offset, "offset", 64),
            opts)
        if link == ffi.NULL:
            raise attach_error(ffi.errno or errno.EINVAL, "attach_uprobe", self,
                               uprobe=(binary_path, func_name))
        return self._link(link, "attach_uprobe")

    def attach_uprobe_multi(self, binary_path: PathLike, func_pattern: Optional[str] = None,
                            pid: int = -1, *, syms: Optional[Sequence[str]] = None,
                            offsets: Optional[Sequence[int]] = None,
                            ref_ctr_offsets: Optional[Sequence[int]] = None,
                            cookies: Optional[Sequence[int]] = None,
                            retprobe: bool = False, session: bool = False) -> Link:
        """One uprobe.multi link on many functions of a binary: by glob
        ``func_pattern``, or ``syms`` or ``offsets``
        (``bpf_program__attach_uprobe_multi``, libbpf >= 1.3). ``session`` (libbpf
        >= 1.6, kernel >= 6.13, a ``uprobe.session`` program) runs the program at
        entry and at return."""
        ptr = self._after_load("attachment")
        fn = lib.bpf_program__attach_uprobe_multi
        if sum(x is not None for x in (func_pattern, syms, offsets)) != 1:
            raise ValueError("attach_uprobe_multi needs exactly one of func_pattern, syms, "
                             "offsets")
        fields: Dict[str, Any] = {}
        keep: List[Any] = []
        cnt = 0
        if syms is not None:
            cnt = _symbol_list(syms, fields, keep)
        if offsets is not None:
            cnt = _nonempty(offsets, "offsets")
            fields["offsets"] = ffi.new("unsigned long[]",
                                        [_uint(o, "offsets[]", 64) for o in offsets])
        for key, seq in (("ref_ctr_offsets", ref_ctr_offsets), ("cookies", cookies)):
            if seq is None:
                continue
            if func_pattern is not None or len(seq) != cnt:
                raise ValueError(f"{key} needs syms or offsets, one entry each")
            ctype = "unsigned long[]" if key == "ref_ctr_offsets" else "__u64[]"
            fields[key] = ffi.new(ctype, [_uint(v, f"{key}[]", 64) for v in seq])
        if cnt:
            fields["cnt"] = cnt
        if retprobe:
            fields["retprobe"] = True
        if session:
            fields["session"] = True
        opts = _opts("bpf_uprobe_multi_opts", "attach_uprobe_multi", fields)
        pat = ffi.NULL if func_pattern is None else _cstr(func_pattern, "func_pattern")
        return self._link(fn(ptr, _pid(pid), _path(binary_path, "binary_path"), pat, opts),
                          "attach_uprobe_multi")

    def attach_usdt(self, binary_path: PathLike, usdt_provider: str, usdt_name: str,
                    pid: int = -1, *, usdt_cookie: int = 0) -> Link:
        """A USDT probe (a ``DTRACE_PROBE``/``STAP_PROBE`` SDT note) of a binary
        (``bpf_program__attach_usdt``, libbpf >= 0.8)."""
        ptr = self._after_load("attachment")
        fn = lib.bpf_program__attach_usdt
        fields: Dict[str, Any] = {}
        if usdt_cookie:
            fields["usdt_cookie"] = _uint(usdt_cookie, "usdt_cookie", 64)
        opts = _opts("bpf_usdt_opts", "attach_usdt", fields)
        return self._link(fn(ptr, _pid(pid), _path(binary_path, "binary_path"),
                             _cstr(usdt_provider, "usdt_provider"),
                             _cstr(usdt_name, "usdt_name"), opts), "attach_usdt")

    def attach_tracepoint(self, category: str, name: str, *, bpf_cookie: int = 0) -> Link:
        """A tracepoint, e.g. ``("syscalls", "sys_enter_getpid")``
        (``bpf_program__attach_tracepoint_opts``)."""
        ptr = self._after_load("attachment")
        fields: Dict[str, Any] = {}
        if bpf_cookie:
            fields["bpf_cookie"] = _uint(bpf_cookie, "bpf_cookie", 64)
        opts = _opts("bpf_tracepoint_opts", "attach_tracepoint", fields)
        link = lib.bpf_program__attach_tracepoint_opts(
            ptr, _cstr(category, "category"), _cstr(name, "name"), opts)
        if link == ffi.NULL:
            raise attach_error(ffi.errno or errno.EINVAL, "attach_tracepoint", self,
                               tracepoint=(category, name))
        return self._link(link, "attach_tracepoint")

    def attach_raw_tracepoint(self, name: str, *, cookie: int = 0) -> Link:
        """A raw tracepoint, e.g. ``"sys_enter"`` (``bpf_program__attach_raw_tracepoint``;
        a ``cookie`` needs libbpf >= 1.4 and its ``_opts`` variant)."""
        ptr = self._after_load("attachment")
        tp = _cstr(name, "name")
        if not cookie:
            return self._link(lib.bpf_program__attach_raw_tracepoint(ptr, tp),
                              "attach_raw_tracepoint")
        fn = lib.bpf_program__attach_raw_tracepoint_opts
        opts = _opts("bpf_raw_tracepoint_opts", "attach_raw_tracepoint",
                     {"cookie": _uint(cookie, "cookie", 64)})
        return self._link(fn(ptr, tp, opts), "attach_raw_tracepoint")

    def attach_trace(self, *, cookie: int = 0) -> Link:
        """A BTF tracing program: tp_btf, fentry, fexit, fmod_ret, freplace by its
        load-time target (``bpf_program__attach_trace[_opts]``)."""
        ptr = self._after_load("attachment")
        if not cookie:
            return self._link(lib.bpf_program__attach_trace(ptr), "attach_trace")
        fn = lib.bpf_program__attach_trace_opts
        opts = _opts("bpf_trace_opts", "attach_trace", {"cookie": _uint(cookie, "cookie", 64)})
        return self._link(fn(ptr, opts), "attach_trace")

    def attach_lsm(self) -> Link:
        """A BPF LSM program on its hook (``bpf_program__attach_lsm``)."""
        ptr = self._after_load("attachment")
        return self._link(lib.bpf_program__attach_lsm(ptr), "attach_lsm")

    def attach_iter(self, *, map: FdLike = None, cgroup: CgroupLike = None,
                    cgroup_id: int = 0, order: Optional[int] = None, tid: int = 0,
                    pid: int = 0, pid_fd: int = 0) -> Link:
        """An iterator (SEC("iter/...")); read its output with
        :meth:`Link.read_iter` / :meth:`Link.open_iter` (``bpf_program__attach_iter``).

        Parameters fill ``union bpf_iter_link_info``: ``map`` (a Map or an fd) for
        map-element iterators; ``cgroup`` (path or fd) or ``cgroup_id`` with
        ``order`` (``BPF_CGROUP_ITER_*``) for cgroup iterators; ``tid``, ``pid``
        or ``pid_fd`` to restrict task iterators.
        """
        ptr = self._after_load("attachment")
        info = ffi.new("union bpf_iter_link_info *")
        used = False
        fds: List[int] = []
        try:
            if map is not None:
                info.map.map_fd = _fd_of(map, "map")
                used = True
            if cgroup is not None or cgroup_id or order is not None:
                if used:
                    raise ValueError("attach_iter: give map, cgroup or task options, not two")
                if cgroup is not None:
                    fd, owned = _dir_fd(cgroup, "cgroup")
                    if owned:
                        fds.append(fd)
                    info.cgroup.cgroup_fd = fd
                info.cgroup.cgroup_id = _uint(cgroup_id, "cgroup_id", 64)
                info.cgroup.order = 0 if order is None else _uint(order, "order")
                used = True
            if tid or pid or pid_fd:
                if used:
                    raise ValueError("attach_iter: give map, cgroup or task options, not two")
                info.task.tid = _uint(tid, "tid")
                info.task.pid = _uint(pid, "pid")
                info.task.pid_fd = _uint(pid_fd, "pid_fd")
                used = True
            opts: Any = ffi.NULL
            if used:
                opts = _opts("bpf_iter_attach_opts", "attach_iter",
                             {"link_info": info,
                              "link_info_len": ffi.sizeof("union bpf_iter_link_info")})
            return self._link(lib.bpf_program__attach_iter(ptr, opts), "attach_iter")
        finally:
            for fd in fds:
                os.close(fd)

    def attach_cgroup(self, cgroup: Union[PathLike, int], *, before: Any = None,
                      after: Any = None, expected_revision: int = 0) -> Link:
        """A cgroup program on a cgroup v2 directory (path) or its fd
        (``bpf_program__attach_cgroup``); the attach type is the program's
        expected attach type, from its SEC().

        ``before`` / ``after`` (a :class:`Program` or a :class:`~libbpf_py.Link`
        already attached there) place the new link relative to it, and
        ``expected_revision`` (non-zero) makes the attach fail with EBUSY unless the
        cgroup's program list for that attach type is at that revision
        (``bpf_program__attach_cgroup_opts``: libbpf >= 1.6, kernel >= 6.16, whose
        cgroup links take the mprog ordering of tcx). Without them the call is
        libbpf's plain one, which every libbpf has.
        """
        ptr = self._after_load("attachment")
        if before is not None and after is not None:
            raise ValueError("attach_cgroup: give before or after, not both")
        # checked first: "" or None were falsy, taken as 0 (no revision check) unchecked
        expected_revision = _uint(expected_revision, "expected_revision", 64)
        if before is None and after is None and not expected_revision:
            fd, owned = _dir_fd(cgroup, "cgroup")
            try:
                return self._link(lib.bpf_program__attach_cgroup(ptr, fd), "attach_cgroup")
            finally:
                if owned:
                    os.close(fd)
        fn = lib.bpf_program__attach_cgroup_opts  # LibbpfVersionError before libbpf 1.6
        fields: Dict[str, Any] = {}
        anchor = before if before is not None else after
        if anchor is not None:
            if isinstance(anchor, Program):
                flags = 0
            elif isinstance(anchor, Link):
                flags = _BPF_F_LINK
            else:
                raise TypeError(f"attach_cgroup: {'before' if before is not None else 'after'}"
                                f" takes a Program or a Link, not {type(anchor).__name__}")
            flags |= _BPF_F_BEFORE if before is not None else _BPF_F_AFTER
            fields["flags"] = flags
            fields["relative_fd"] = anchor.fd
        if expected_revision:
            fields["expected_revision"] = expected_revision
        opts = _opts("bpf_cgroup_opts", "attach_cgroup", fields)
        fd, owned = _dir_fd(cgroup, "cgroup")
        try:
            return self._link(fn(ptr, fd, opts), "attach_cgroup")
        finally:
            if owned:
                os.close(fd)

    def attach_netns(self, netns: Union[PathLike, int]) -> Link:
        """A flow dissector or sk_lookup program on a network namespace, given as a
        path (``/proc/self/ns/net``, ``/run/netns/NAME``) or an fd
        (``bpf_program__attach_netns``)."""
        ptr = self._after_load("attachment")
        fd, owned = _ns_fd(netns)
        try:
            return self._link(lib.bpf_program__attach_netns(ptr, fd), "attach_netns")
        finally:
            if owned:
                os.close(fd)

    def attach_xdp(self, ifindex: int, flags: int = 0) -> Link:
        """An XDP program on a device, as a BPF link (``bpf_program__attach_xdp``).

        ``flags`` may hold one mode, ``XDP_FLAGS_SKB_MODE`` (generic),
        ``XDP_FLAGS_DRV_MODE`` or ``XDP_FLAGS_HW_MODE``; libbpf's function takes
        none, so with a mode the link is made by ``bpf_link_create`` and
        returned as an :class:`~libbpf_py.link.FdLink`.
        """
        ptr = self._after_load("attachment")
        idx = _ifindex(ifindex)
        modes = int(lib.XDP_FLAGS_SKB_MODE | lib.XDP_FLAGS_DRV_MODE | lib.XDP_FLAGS_HW_MODE)
        flags = _uint(flags, "flags")
        if flags & ~modes:
            raise ValueError(f"attach_xdp: flags {flags:#x} hold more than the mode flags "
                             "(XDP_FLAGS_SKB_MODE / DRV_MODE / HW_MODE), which are all an "
                             "XDP link takes")
        if not flags:
            return self._link(lib.bpf_program__attach_xdp(ptr, idx), "attach_xdp")
        opts = _opts("bpf_link_create_opts", "attach_xdp", {"flags": flags})
        fd = lib.bpf_link_create(self.fd, idx, int(AttachType.XDP), opts)
        if fd < 0:
            raise attach_error(-fd, "attach_xdp", self)
        return FdLink._from_fd(fd, self)

    def attach_tc(self, ifindex: int, attach_point: str = "ingress", *, handle: int = 0,
                  priority: int = 0, parent: int = 0, replace: bool = False) -> TcLink:
        """A tc (cls_bpf, direct-action) filter through netlink: creates the
        ``clsact`` hook if needed (``bpf_tc_hook_create``), then ``bpf_tc_attach``.

        ``attach_point`` is "ingress", "egress" or "custom" (then ``parent`` is
        the qdisc's handle). ``handle``/``priority`` 0 let the kernel choose.
        Destroying the returned :class:`~libbpf_py.link.TcLink` removes the
        filter, and the hook if it was made here and nothing else of this
        process uses it.
        """
        self._after_load("attachment")
        points = {"ingress": int(lib.BPF_TC_INGRESS), "egress": int(lib.BPF_TC_EGRESS),
                  "custom": int(lib.BPF_TC_CUSTOM)}
        if attach_point not in points:
            raise ValueError(f"attach_point must be one of {', '.join(points)}, "
                             f"not {attach_point!r}")
        if attach_point == "custom" and not parent:
            raise ValueError("attach_point 'custom' needs parent (the qdisc handle)")
        return TcLink._attach(self, _ifindex(ifindex), points[attach_point],
                              _uint(parent, "parent"), _uint(handle, "handle"),
                              _uint(priority, "priority", 16), bool(replace))

    def _mprog(self, kind: str, ifindex: int, flags: int, relative_fd: int,
               relative_id: int, expected_revision: int) -> Link:
        ptr = self._after_load("attachment")
        fn = getattr(lib, f"bpf_program__attach_{kind}")
        fields: Dict[str, Any] = {}
        for key, value, bits in (("flags", flags, 32), ("relative_fd", relative_fd, 32),
                                 ("relative_id", relative_id, 32),
                                 ("expected_revision", expected_revision, 64)):
            if value:
                fields[key] = _uint(value, key, bits)
        opts = _opts(f"bpf_{kind}_opts", f"attach_{kind}", fields)
        return self._link(fn(ptr, _ifindex(ifindex), opts), f"attach_{kind}")

    def attach_tcx(self, ifindex: int, *, flags: int = 0, relative_fd: int = 0,
                   relative_id: int = 0, expected_revision: int = 0) -> Link:
        """A tcx link (SEC("tcx/ingress") or "tcx/egress") on a device
        (``bpf_program__attach_tcx``, libbpf >= 1.3, kernel >= 6.6). ``flags``
        (``BPF_F_BEFORE``/``AFTER``/...) with ``relative_fd``/``relative_id``
        order it among the device's programs."""
        return self._mprog("tcx", ifindex, flags, relative_fd, relative_id, expected_revision)

    def attach_netkit(self, ifindex: int, *, flags: int = 0, relative_fd: int = 0,
                      relative_id: int = 0, expected_revision: int = 0) -> Link:
        """A netkit link (SEC("netkit/primary") or "netkit/peer") on a netkit
        device (``bpf_program__attach_netkit``, libbpf >= 1.3)."""
        return self._mprog("netkit", ifindex, flags, relative_fd, relative_id,
                           expected_revision)

    def attach_sockmap(self, map: FdLike) -> Link:
        """An sk_msg / sk_skb program on a SOCKMAP or SOCKHASH, as a link
        (``bpf_program__attach_sockmap``, libbpf >= 1.5, kernel >= 6.10)."""
        ptr = self._after_load("attachment")
        fn = lib.bpf_program__attach_sockmap
        return self._link(fn(ptr, _fd_of(map, "map")), "attach_sockmap")

    def attach_perf_event(self, pfd: int, *, bpf_cookie: int = 0,
                          force_ioctl_attach: bool = False,
                          dont_enable: bool = False) -> Link:
        """A perf_event program (or kprobe/uprobe/tracepoint program) on a perf
        event fd from perf_event_open (``bpf_program__attach_perf_event_opts``).

        The link takes ``pfd`` over: destroying the link closes it (libbpf does).
        ``force_ioctl_attach`` needs libbpf >= 1.4. ``dont_enable`` (libbpf >= 1.7)
        leaves the event disabled (no ``PERF_EVENT_IOC_ENABLE``): the caller enables
        it when it wants the program to start running.
        """
        ptr = self._after_load("attachment")
        fields: Dict[str, Any] = {}
        if bpf_cookie:
            fields["bpf_cookie"] = _uint(bpf_cookie, "bpf_cookie", 64)
        if force_ioctl_attach:
            fields["force_ioctl_attach"] = True
        if dont_enable:
            fields["dont_enable"] = True
        opts = _opts("bpf_perf_event_opts", "attach_perf_event", fields)
        if isinstance(pfd, bool) or not isinstance(pfd, int) or pfd < 0:
            raise TypeError(f"pfd must be a perf event fd (an int >= 0), not {pfd!r}")
        return self._link(lib.bpf_program__attach_perf_event_opts(ptr, pfd, opts),
                          "attach_perf_event")

    def attach_netfilter(self, pf: int, hooknum: int, priority: int, *,
                         flags: int = 0) -> Link:
        """A netfilter program on a hook of the calling thread's network namespace
        (``bpf_program__attach_netfilter``, libbpf >= 1.3, kernel >= 6.4).

        ``pf`` is NFPROTO_IPV4 (2) or NFPROTO_IPV6 (10), ``hooknum``
        NF_INET_PRE_ROUTING (0) ... NF_INET_POST_ROUTING (4); ``flags`` may be
        BPF_F_NETFILTER_IP_DEFRAG (1).
        """
        ptr = self._after_load("attachment")
        fn = lib.bpf_program__attach_netfilter
        if isinstance(priority, bool) or not isinstance(priority, int) \
                or not -(1 << 31) <= priority < (1 << 31):
            raise ValueError(f"priority must be a 32-bit signed int, not {priority!r}")
        opts = _opts("bpf_netfilter_opts", "attach_netfilter",
                     {"pf": _uint(pf, "pf"), "hooknum": _uint(hooknum, "hooknum"),
                      "priority": priority, "flags": _uint(flags, "flags")})
        return self._link(fn(ptr, opts), "attach_netfilter")

    def attach_freplace(self, target: FdLike, func_name: str) -> Link:
        """An freplace program in place of global function ``func_name`` of the
        loaded program ``target`` (a Program or a prog fd)
        (``bpf_program__attach_freplace``)."""
        ptr = self._after_load("attachment")
        return self._link(lib.bpf_program__attach_freplace(
            ptr, _fd_of(target, "target"), _cstr(func_name, "func_name")), "attach_freplace")


_link.program_class = Program  # (update_program's check: link.py cannot import this module)


# -- helpers of the attach methods ---------------------------------------------------------

@guard_methods()
class FdProgram(Program):
    """A program the kernel holds, opened by id, pin path or fd
    (:meth:`Program.from_id`, :meth:`Program.from_pinned`, :meth:`Program.from_fd`),
    or loaded from raw instructions (:meth:`FdProgram.load`).

    It owns its fd: close it with :meth:`close` or a ``with`` block (and it is
    closed when collected). What the kernel knows works as on a program of a
    :class:`~libbpf_py.BpfObject`: :attr:`fd`, :attr:`id`, :attr:`tag`,
    :attr:`name` (the kernel's, at most 15 characters), :attr:`type`,
    :attr:`ifindex`, :meth:`info`, :meth:`test_run`, :meth:`pin` and
    :meth:`unpin`; it can go into a PROG_ARRAY map or serve as an freplace
    target. What needs libbpf's ``struct bpf_program`` (its ELF section, its
    settings, the ``attach*`` methods) raises TypeError, and setting a setting
    :class:`~libbpf_py.errors.AlreadyLoadedError`: the program is loaded already.
    """

    __slots__ = ("_fd", "_info", "_log")
    _fd: int
    _info: ProgramInfo
    _log: Optional[str]  # the verifier log of a load(log_level=...) that succeeded

    @classmethod
    def _adopt(cls, fd: int, what: str) -> FdProgram:
        """Own ``fd`` (closed on failure), after checking it is a BPF program."""
        try:
            if fd_kind(fd) != "prog":
                raise wrong_kind(fd, "prog", what)
            info = prog_info(fd, what)
        except BaseException:
            os.close(fd)
            raise
        self = object.__new__(cls)
        self._guard = Guard()
        self._ptr = None
        self._fd = fd
        self._info = info
        self._name = info.name
        self._ifindex = info.ifindex
        self._log = None
        return self

    @classmethod
    def load(cls, prog_type: Union[ProgType, int, str], insns: Buffer, *,
             license: str = "GPL", name: Optional[str] = None,
             expected_attach_type: Union[AttachType, int, str, None] = None,
             prog_flags: int = 0, prog_ifindex: int = 0, kern_version: int = 0,
             attach_btf_id: int = 0, attach_prog_fd: FdLike = None,
             attach_btf_obj_fd: FdLike = None, fd_array: Optional[Sequence[FdLike]] = None,
             fd_array_cnt: Union[bool, int, None] = None, log_level: int = 0,
             log_size: int = LOAD_LOG_SIZE, token_fd: Optional[int] = None) -> FdProgram:
        """Load a program from raw BPF instructions (``bpf_prog_load``) and own its fd.

        ``prog_type`` is a :class:`~libbpf_py.ProgType`, its int value or its name
        (``"socket_filter"``, ``"xdp"``). ``insns`` is the program's ``struct
        bpf_insn`` array as bytes, bytearray or memoryview (copied): 8 bytes per
        instruction in this machine's byte order, at least one. ``name`` is the
        kernel's name of the program (at most 15 ASCII letters, digits, '_' or '.').

        The other keywords are the fields of ``struct bpf_prog_load_opts``, by
        their libbpf names (0 or None: not set): ``expected_attach_type`` (an
        :class:`~libbpf_py.AttachType`, int or name), ``prog_flags``,
        ``prog_ifindex`` (offload device), ``kern_version``, ``attach_btf_id``,
        ``attach_prog_fd`` / ``attach_btf_obj_fd`` (a Program or fd, a BTF object's
        fd; not both), ``fd_array`` (Maps or fds, e.g. of the maps and module BTFs
        the instructions name by index), ``fd_array_cnt`` and ``token_fd`` (a BPF
        token, libbpf >= 1.4). ``fd_array_cnt=True`` (or a count up to
        ``len(fd_array)``) makes the kernel (>= 6.14) bind every map of
        ``fd_array[:cnt]`` to the program, used by its instructions or not; it needs
        libbpf >= 1.6 headers (:class:`~libbpf_py.LibbpfVersionError` naming
        LIBBPF_1.6.0 otherwise), and an older kernel refuses it with EINVAL.
        ``func_info`` / ``line_info`` (with ``prog_btf_fd``) are not offered: raw
        ``.BTF.ext`` records belong to an ELF object, which :class:`BpfObject`
        loads.

        The verifier log: with ``log_level=0`` (default) the program loads without
        one and, if the kernel refuses it, loads again at log level 1 into a
        ``log_size``-byte buffer, as libbpf does for objects; a refusal with a log
        raises :class:`~libbpf_py.errors.VerifierError` (its ``log`` cut to the
        first and last lines, the whole log at DEBUG to logger ``libbpf_py``),
        one without a log :class:`~libbpf_py.errors.LibbpfError`. With
        ``log_level`` > 0 (1, 2, 4 stats, or a combination) the buffer is given to
        the first load and, on success, :meth:`log_buffer` returns the log. A log
        longer than ``log_size`` fails the load with ENOSPC (the kernel's rule):
        give a bigger ``log_size``.
        """
        ptype = _prog_type(prog_type)
        code = _insn_bytes(insns)
        cname = _prog_name(name)
        clicense = _validate.cstr(license, "license")
        level = _uint(log_level, "log_level")
        size = _uint(log_size, "log_size")
        if not _LOG_SIZE_MIN <= size <= _LOG_SIZE_MAX:
            raise ValueError(f"log_size = {size} is out of the kernel's range "
                             f"{_LOG_SIZE_MIN}..{_LOG_SIZE_MAX}")
        fields: Dict[str, Any] = {}
        if expected_attach_type is not None:
            fields["expected_attach_type"] = _attach_type(expected_attach_type)
        for label, value in (("prog_flags", prog_flags), ("prog_ifindex", prog_ifindex),
                             ("kern_version", kern_version), ("attach_btf_id", attach_btf_id)):
            if _uint(value, label):
                fields[label] = value
        if attach_prog_fd is not None and attach_btf_obj_fd is not None:
            raise ValueError("attach_prog_fd and attach_btf_obj_fd exclude each other: the "
                             "target is a loaded program or a kernel BTF object, not both")
        if attach_prog_fd is not None:
            fields["attach_prog_fd"] = _fd_of(attach_prog_fd, "attach_prog_fd")
        if attach_btf_obj_fd is not None:
            fields["attach_btf_obj_fd"] = _fd_of(attach_btf_obj_fd, "attach_btf_obj_fd")
        if token_fd is not None:
            fields["token_fd"] = _validate.check_fd(token_fd, "token_fd")
        keep: List[Any] = []
        cnt = _fd_array(fd_array, fd_array_cnt, fields, keep)
        if cnt:
            fields["fd_array_cnt"] = cnt
        what = f"bpf_prog_load({ptype.libbpf_name}" + (f", {name!r})" if name else ")")
        opts = _opts("bpf_prog_load_opts", "FdProgram.load", fields)
        buf = ffi.new("char[]", code)
        c_insns = ffi.cast("const struct bpf_insn *", buf)
        c_name = ffi.NULL if cname is None else cname

        def attempt(at_level: int) -> Tuple[int, Any]:
            log_buf = ffi.new("char[]", size) if at_level else ffi.NULL
            opts.log_level = at_level
            opts.log_buf = log_buf
            opts.log_size = size if at_level else 0
            ret = lib.bpf_prog_load(int(ptype), c_name, clicense, c_insns,
                                    len(code) // _INSN_SIZE, opts)
            return ret, log_buf

        fd, log_buf = attempt(level)
        err = -fd if fd < 0 else 0
        if fd < 0 and level == 0:  # libbpf's rule: again at level 1, for the log
            fd, log_buf = attempt(1)
            if fd < 0 and -fd != errno.ENOSPC:
                err = -fd  # a log that did not fit: the first failure is the news
        text = "" if log_buf == ffi.NULL else \
            ffi.string(log_buf).decode("utf-8", "replace")
        if fd < 0:
            raise _load_error(err, what, name or f"unnamed {ptype.libbpf_name}", text, size,
                              opts)
        self = cls._adopt(fd, what)
        self._log = text if level else None
        return self

    # -- life cycle -----------------------------------------------------------------------

    def _check_open(self) -> Any:
        """The live fd; ClosedError once closed."""
        if self._fd < 0:
            raise ClosedError(f"program {self._name!r} (id {self._info.id}) is closed")
        return self._fd

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def close(self) -> None:
        """Close the fd (idempotent); the kernel frees the program once nothing else
        (a link, a pin, another fd) holds it."""
        fd, self._fd = self._fd, -1
        if fd >= 0:
            self._guard.retire(lambda: os.close(fd))  # after the calls in flight

    def __enter__(self) -> FdProgram:
        self._check_open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if getattr(self, "_fd", -1) >= 0:
                os.close(self._fd)
                self._fd = -1
        except Exception:
            pass

    def __repr__(self) -> str:
        state = " closed" if self.closed else ""
        return (f"<FdProgram {_validate.show(self._name)} id={self._info.id} "
                f"{self._info.type.name}{state}>")

    # -- what needs a BpfObject ------------------------------------------------------------

    def _no_bpf_program(self, what: str) -> TypeError:
        self._check_open()
        return TypeError(f"{what} needs a program of a BpfObject: program {self._name!r} "
                         f"(id {self._info.id}) was opened from the kernel (by id, pin path "
                         "or fd), and libbpf has no struct bpf_program for it")

    def _before_load(self, what: str) -> Any:
        self._check_open()
        raise AlreadyLoadedError(f"cannot change {what} of program {self._name!r}: it was "
                                 "opened from the kernel, where it is loaded already")

    def _after_load(self, what: str) -> Any:
        raise self._no_bpf_program(what)

    @property
    def object(self) -> BpfObject:
        """No BpfObject owns this program: TypeError."""
        raise self._no_bpf_program("object")

    @property
    def section(self) -> str:
        raise self._no_bpf_program("section")

    @property
    def expected_attach_type(self) -> AttachType:
        raise self._no_bpf_program("expected_attach_type")

    @expected_attach_type.setter
    def expected_attach_type(self, value: Union[AttachType, int, str]) -> None:
        self._before_load("expected_attach_type")

    @property
    def autoload(self) -> bool:
        raise self._no_bpf_program("autoload")

    @autoload.setter
    def autoload(self, value: bool) -> None:
        self._before_load("autoload")

    @property
    def autoattach(self) -> bool:
        raise self._no_bpf_program("autoattach")

    @autoattach.setter
    def autoattach(self, value: bool) -> None:
        raise self._no_bpf_program("autoattach")

    @property
    def log_level(self) -> int:
        raise self._no_bpf_program("log_level")

    @log_level.setter
    def log_level(self, value: int) -> None:
        self._before_load("log_level")

    @property
    def flags(self) -> int:
        raise self._no_bpf_program("flags")

    @flags.setter
    def flags(self, value: int) -> None:
        self._before_load("flags")

    @property
    def insn_count(self) -> int:
        raise self._no_bpf_program("insn_count (info().xlated_prog_len is the kernel's size)")

    def log_buffer(self) -> str:
        """The verifier log of :meth:`load` with ``log_level`` > 0; TypeError for a
        program opened from the kernel or loaded without a log level."""
        if self._log is None:
            raise self._no_bpf_program("log_buffer (FdProgram.load(log_level=1) keeps one)")
        self._check_open()
        return self._log

    # -- what the kernel knows --------------------------------------------------------------

    @property
    def type(self) -> ProgType:
        """The program type, as the kernel reports it."""
        self._check_open()
        return self._info.type

    @type.setter
    def type(self, value: Union[ProgType, int, str]) -> None:
        self._before_load("type")

    @property
    def ifindex(self) -> int:
        """The device the program is offloaded to (0: none), as the kernel reports it."""
        return prog_info(self.fd).ifindex

    @ifindex.setter
    def ifindex(self, value: int) -> None:
        self._before_load("ifindex")

    @property
    def fd(self) -> int:
        """The program's fd (owned by this FdProgram)."""
        return int(self._check_open())

    def pin(self, path: PathLike) -> None:
        """Pin the program at ``path`` on bpffs (``bpf_obj_pin``)."""
        raw = _path(path, "path")
        check(lib.bpf_obj_pin(self.fd, raw),
              f"cannot pin program {self._name!r} at {os.fsdecode(raw)!r}")

    def unpin(self, path: PathLike) -> None:
        """Remove the pin of this program at ``path``: only a pin of this program
        (anything else raises LibbpfError EINVAL and stays)."""
        raw = _path(path, "path")
        self._check_open()
        check_pinned_here(raw, "prog", self.id,
                          f"cannot unpin program {self._name!r} at {os.fsdecode(raw)!r}")
        try:
            os.unlink(raw)
        except OSError as exc:
            raise make_error(exc.errno or errno.EINVAL,
                             f"cannot unpin program {self._name!r} at {os.fsdecode(raw)!r}"
                             ) from None


# -- helpers of FdProgram.load -----------------------------------------------------------

def _prog_type(value: Union[ProgType, int, str]) -> ProgType:
    """A ProgType from a member, an int or a name (``"xdp"``)."""
    if isinstance(value, str):
        try:
            return ProgType[value.upper()]
        except KeyError:
            raise ValueError(f"unknown program type {value!r} (a ProgType name such as "
                             "'socket_filter' or 'xdp')") from None
    return ProgType(_uint(value, "prog_type"))


def _attach_type(value: Union[AttachType, int, str]) -> AttachType:
    """An AttachType from a member, an int or a name (``"cgroup_inet_ingress"``)."""
    if isinstance(value, str):
        try:
            return AttachType[value.upper()]
        except KeyError:
            raise ValueError(f"unknown attach type {value!r} (an AttachType name such as "
                             "'cgroup_inet_ingress')") from None
    return AttachType(_uint(value, "expected_attach_type"))


def _insn_bytes(insns: Any) -> bytes:
    """The instructions as bytes: a whole number of 8-byte ``struct bpf_insn``, not none."""
    if not isinstance(insns, (bytes, bytearray, memoryview)):
        raise _validate.type_error("insns", insns, "bytes, bytearray or memoryview "
                                   "(8 bytes per struct bpf_insn)")
    code = bytes(insns)
    if not code:
        raise ValueError("insns is empty: a program needs at least one instruction")
    if len(code) % _INSN_SIZE:
        raise ValueError(f"insns is {len(code)} bytes, not a multiple of {_INSN_SIZE} "
                         "(the size of struct bpf_insn)")
    return code


def _prog_name(name: Optional[str]) -> Optional[bytes]:
    if name is None:
        return None
    raw = _validate.cstr(name, "name", empty=False)
    if len(raw) > _PROG_NAME_MAX or not name.isascii() \
            or not all(c.isalnum() or c in "_." for c in name):
        raise ValueError(f"program name {_validate.show(name)} must be at most "
                         f"{_PROG_NAME_MAX} ASCII letters, digits, '_' or '.'")
    return raw


def _fd_array(fd_array: Optional[Sequence[FdLike]], fd_array_cnt: Union[bool, int, None],
              fields: Dict[str, Any], keep: List[Any]) -> int:
    """``fields["fd_array"]``: a C int array of the fds (kept alive in ``keep``); the
    fd_array_cnt to set (0: none)."""
    count = 0
    if fd_array is not None:
        if isinstance(fd_array, (str, bytes, bytearray)) or not isinstance(fd_array, SequenceABC):
            raise _validate.type_error("fd_array", fd_array,
                                       "a sequence of Maps (or anything with an fd) or fds")
        count = _nonempty(fd_array, "fd_array")
        fds = [_fd_of(item, f"fd_array[{i}]") for i, item in enumerate(fd_array)]
        array = ffi.new("int[]", fds)
        keep.append(array)
        fields["fd_array"] = array
    if fd_array_cnt is None or fd_array_cnt is False:
        return 0
    if fd_array is None:
        raise ValueError("fd_array_cnt needs fd_array")
    if fd_array_cnt is True:
        return count
    cnt = _uint(fd_array_cnt, "fd_array_cnt")
    if cnt > count:
        raise ValueError(f"fd_array_cnt = {cnt} is more than the {count} fds of fd_array")
    return cnt


def _load_error(err: int, what: str, name: str, text: str, size: int,
                opts: Any) -> LibbpfError:
    """The exception of a failed bpf_prog_load: VerifierError when there is a log."""
    strerror = libbpf_strerror(err)
    if err == errno.ENOSPC:
        true_size = int(getattr(opts, "log_true_size", 0))  # libbpf >= 1.4, kernel >= 6.4
        needs = f" (it needs {true_size})" if true_size > size else ""
        strerror = (f"{strerror}: the verifier log did not fit log_size={size}{needs}; "
                    "give a bigger log_size")
    if not text.strip():
        return make_error(err, what, strerror)
    cut = cut_log(text, HEAD_LINES, TAIL_LINES)
    if cut != text:
        get_logger().debug("verifier log of %s:\n%s", what, text.rstrip("\n"))
    return VerifierError(err, strerror, what, program=name, log=cut)


_ATTACH_MODES = ("default", "legacy", "perf", "link")


def _opts(ctype: str, what: str, fields: Dict[str, Any]) -> Any:
    """A zeroed ``struct <ctype>`` with ``sz`` set and ``fields`` written.

    A field the build's header (hence, for a dynamic build, also the runtime,
    which import checks is not older) lacks raises LibbpfVersionError with the
    node its declaration carries: libbpf would refuse the non-zero bytes past
    the size it knows.
    """
    for field in fields:
        require_field(ctype, field, f"{what} option {field}")
    opts = ffi.new(f"struct {ctype} *")
    opts.sz = ffi.sizeof(f"struct {ctype}")
    for field, value in fields.items():
        setattr(opts, field, value)
    return opts


def _attach_mode(mode: Union[str, int]) -> int:
    if isinstance(mode, str):
        if mode not in _ATTACH_MODES:
            raise ValueError(f"attach_mode must be one of {', '.join(_ATTACH_MODES)}, "
                             f"not {mode!r}")
        return _ATTACH_MODES.index(mode)
    return _uint(mode, "attach_mode")


def _uint(value: Any, what: str, bits: int = 32) -> int:
    return _validate.check_int(value, what, bits)


def _pid(pid: Any) -> int:
    if isinstance(pid, bool) or not isinstance(pid, int):
        raise TypeError(f"pid must be an int, not {type(pid).__name__}")
    if pid < -1 or pid >= (1 << 31):
        raise ValueError(f"pid must be -1 (every process), 0 (this one) or a pid, not {pid}")
    return pid


def _ifindex(ifindex: Any) -> int:
    if isinstance(ifindex, bool) or not isinstance(ifindex, int):
        raise TypeError(f"ifindex must be an int (socket.if_nametoindex(name)), "
                        f"not {type(ifindex).__name__}")
    if not 0 < ifindex < (1 << 31):
        raise ValueError(f"ifindex must be a positive interface index, not {ifindex}")
    return ifindex


def _cstr(value: Any, what: str) -> bytes:
    return _validate.cstr(value, what, empty=False)


def _path(value: Any, what: str) -> bytes:
    return _validate.cstr(value, what, path=True, empty=False)


def _nonempty(seq: Sequence[Any], what: str) -> int:
    if isinstance(seq, (str, bytes)):
        raise TypeError(f"{what} must be a sequence, not a single {type(seq).__name__}")
    if len(seq) == 0:
        raise ValueError(f"{what} is empty")
    return len(seq)


def _symbol_list(syms: Sequence[str], fields: Dict[str, Any], keep: List[Any]) -> int:
    """``fields["syms"]``: a C array of the names (kept alive in ``keep``); their count."""
    cnt = _nonempty(syms, "syms")
    names = [ffi.new("char[]", _cstr(name, "syms[]")) for name in syms]
    keep.append(names)
    fields["syms"] = ffi.new("const char *[]", names)
    return cnt


def _dir_fd(value: Any, what: str) -> Tuple[int, bool]:
    """(fd, owned) for a directory given as a path or an fd."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"{what}: {value} is not a file descriptor")
        return value, False
    path = _path(value, what)
    try:
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC), True
    except OSError as exc:
        raise make_error(exc.errno or errno.EINVAL, f"open {what} {os.fsdecode(path)!r}",
                         exc.strerror) from None


def _ns_fd(value: Any) -> Tuple[int, bool]:
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"netns: {value} is not a file descriptor")
        return value, False
    path = _path(value, "netns")
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC), True
    except OSError as exc:
        raise make_error(exc.errno or errno.EINVAL, f"open netns {os.fsdecode(path)!r}",
                         exc.strerror) from None


def _lockdown() -> str:
    """The kernel's lockdown mode ("none", "integrity", "confidentiality"; "" unknown)."""
    try:
        with open("/sys/kernel/security/lockdown") as f:
            text = f.read()
        start, end = text.find("["), text.find("]")
        return text[start + 1:end] if 0 <= start < end else ""
    except OSError:
        pass
    try:  # securityfs not mounted: a lockdown forced by the kernel's configuration
        import gzip

        with gzip.open("/proc/config.gz", "rt") as g:
            config = g.read()
    except OSError:
        return ""
    for mode in ("confidentiality", "integrity"):
        if f"CONFIG_LOCK_DOWN_KERNEL_FORCE_{mode.upper()}=y" in config:
            return mode
    return ""


def _tracepoint_hint(category: str, name: str) -> str:
    """Where libbpf looked for tracepoint ``category/name`` and what is there."""
    # libbpf's rule: debugfs's tracing directory when it exists, else tracefs
    debugfs, tracefs = "/sys/kernel/debug/tracing", "/sys/kernel/tracing"
    root = debugfs if os.path.exists(debugfs) else tracefs
    events = f"{root}/events"
    if not os.path.isdir(events):
        return (f"no tracepoint {category}/{name}: {events} does not exist, tracefs is not "
                f"mounted (mount -t tracefs tracefs {tracefs})")
    if not os.path.isdir(f"{events}/{category}"):
        found = f"{events} has no category {category!r}"
    else:
        found = f"{events}/{category} has no event {name!r}"
    return (f"no tracepoint {category}/{name}: {events}/{category}/{name} does not exist "
            f"({found}); {root}/available_events lists the tracepoints as category:name")


def _uprobe_target_hint(err: int, binary_path: PathLike,
                        func_name: Optional[str]) -> Optional[str]:
    """Which of a uprobe's targets is missing, for libbpf's ENOENT, which is the same
    for a binary that does not exist and a function the binary does not have."""
    if err != errno.ENOENT:
        return None
    path = os.fsdecode(os.fspath(binary_path))
    if "/" not in path:  # a bare library name: libbpf searches for it (its warning says)
        return None
    if not os.path.exists(path):
        return f"binary {path!r} does not exist"
    if func_name is not None:
        return f"binary {path!r} has no function {func_name!r} (nm -D {path} lists them)"
    return None


#: the program types that each attach_<kind> takes: the kernel refuses another with a
#: bare EINVAL, which then says what the program is and what the method needs
_KIND_TYPES: Dict[str, Tuple[str, ...]] = {
    "tracepoint": ("TRACEPOINT",),
    "raw_tracepoint": ("RAW_TRACEPOINT", "RAW_TRACEPOINT_WRITABLE"),
    "kprobe": ("KPROBE",), "kprobe_multi": ("KPROBE",), "ksyscall": ("KPROBE",),
    "uprobe": ("KPROBE",), "uprobe_multi": ("KPROBE",), "usdt": ("KPROBE",),
    "xdp": ("XDP",), "tc": ("SCHED_CLS", "SCHED_ACT"), "tcx": ("SCHED_CLS",),
    "netkit": ("SCHED_CLS",), "lsm": ("LSM",), "freplace": ("EXT",),
}


def attach_error(err: int, what: str, program: Program,
                 tracepoint: Optional[Tuple[str, str]] = None,
                 uprobe: Optional[Tuple[PathLike, Optional[str]]] = None) -> LibbpfError:
    """The LibbpfError of a failed attach, with why the kernel likely refused
    (``tracepoint``: its (category, name); ``uprobe``: its (binary, function))."""
    err = abs(err)
    text = libbpf_strerror(err)
    kind = what.removeprefix("attach_")
    target = ""
    if what == "attach":  # by SEC(): name the kind from the section
        section, _, target = program.section.partition("/")
        kind = {"kretprobe": "kprobe", "kprobe.multi": "kprobe_multi",
                "kretprobe.multi": "kprobe_multi", "kretsyscall": "ksyscall",
                "tp": "tracepoint"}.get(section, section)
        category, _, name = target.partition("/")
        if kind == "tracepoint" and category and name:
            tracepoint = (category, name)
    hint = ""
    uprobe_hint = None if uprobe is None else _uprobe_target_hint(err, *uprobe)
    no_target = what == "attach" and err in (errno.EOPNOTSUPP, ENOTSUPP)
    if no_target and not target:
        # bpf_program__attach's answer to a section without a target (SEC("xdp"),
        # SEC("socket"), a bare SEC("kprobe")...): nothing the kernel refused
        hint = (f"SEC({program.section!r}) names no target, so libbpf cannot attach the "
                f"program by itself: attach it with its attach_* method (attach_xdp(ifindex), "
                f"attach_kprobe(func), ...; a socket filter: setsockopt(SO_ATTACH_BPF, "
                f"prog.fd))")
    elif err == errno.EINVAL and kind in _KIND_TYPES \
            and program.type.name not in _KIND_TYPES[kind]:
        hint = (f"program {program.name!r} (SEC({program.section!r})) is of type "
                f"{program.type.name}; {what}() needs type "
                f"{' or '.join(_KIND_TYPES[kind])}"
                + (" (SEC('kprobe/...'), SEC('uprobe'), SEC('usdt')... make one)"
                   if _KIND_TYPES[kind] == ("KPROBE",) else ""))
    elif kind == "tracepoint" and tracepoint is not None and err == errno.ENOENT:
        hint = _tracepoint_hint(*tracepoint)
    elif uprobe_hint is not None:
        hint = uprobe_hint
    elif kind in ("kprobe", "kprobe_multi", "ksyscall") and err in (errno.ENOENT, errno.EOPNOTSUPP,
                                                                  errno.EINVAL, ENOTSUPP):
        if kind == "kprobe_multi":  # 6.1 guests: kprobes work, but no fprobe
            hint = ("the kernel has no kprobe support for kprobe_multi (CONFIG_FPROBE or "
                    "CONFIG_KPROBES off), or no such function")
        else:
            hint = ("the kernel has no kprobe support (CONFIG_KPROBES / CONFIG_KPROBE_EVENTS "
                    "off, or no such function)")
    elif err in (errno.EPERM, errno.EACCES):
        mode = _lockdown()
        if os.geteuid() != 0:
            hint = "missing privilege (CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN, CAP_SYS_ADMIN)"
        elif mode and mode != "none":
            hint = (f"the kernel's policy refused it although we are root; the kernel is "
                    f"locked down ({mode}), which refuses BPF trampolines (fentry, fexit, "
                    "fmod_ret, LSM, freplace)")
        else:
            hint = ("the kernel's policy (an LSM, lockdown, a sysctl) refused it although "
                    "we are root")
    elif kind == "netkit" and err in (errno.EINVAL, errno.ENXIO, errno.EOPNOTSUPP, ENOTSUPP):
        hint = "the kernel has no netkit (CONFIG_NETKIT off) or the device is not a netkit"
    elif no_target:
        # also what libbpf says for a section it has no attach function for
        # (SEC("struct_ops/..."), SEC("cgroup_skb/ingress")...)
        hint = (f"libbpf cannot attach SEC({program.section!r}) by itself (use the "
                f"program's attach_* method), or this kernel does not support this "
                f"attach kind")
    elif err in (errno.EOPNOTSUPP, ENOTSUPP):
        hint = "this kernel does not support this attach kind"
    message = f"{text}: {hint}" if hint else text
    return make_error(err, f"{what} of program {program.name!r}", message)
