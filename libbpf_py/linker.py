"""Linker: libbpf's static BPF linker (``bpf_linker``), what ``bpftool gen object`` runs.

It combines BPF ELF objects (``clang -target bpf -c`` output) into one: the
sections of the same name are concatenated, an ``extern`` function, map or
variable of one input is resolved against the global of another, and the BTF
and .BTF.ext of all inputs are merged. The result opens with
:meth:`BpfObject.open <libbpf_py.BpfObject.open>` like any other object file::

    with Linker("prog.o") as linker:
        linker.add_file("a.bpf.o")
        linker.add_file("b.bpf.o")
    # leaving the block without an exception finalized prog.o

``bpf_linker__new``, ``bpf_linker__add_file``, ``bpf_linker__finalize`` and
``bpf_linker__free`` are in every supported libbpf (node LIBBPF_0.4.0); writing to
an fd (``bpf_linker__new_fd``) and adding from an fd or from memory
(``bpf_linker__add_fd``, ``bpf_linker__add_buf``) need libbpf >= 1.6 (node
LIBBPF_1.6.0): on an older build they raise
:class:`~libbpf_py.errors.LibbpfVersionError`.
"""

from __future__ import annotations

import errno
import os
from typing import Any, Iterable, List, Optional, Union

from . import _validate, log
from ._binding import ffi, lib
from ._call import libbpf_strerror, make_error
from ._validate import PathLike
from .errors import LIBBPF_ERRNO_FORMAT, ClosedError, LibbpfError, not_bpf_elf

__all__ = ["Linker", "link_files"]

Buffer = Union[bytes, bytearray, memoryview]


def _error(err: int, what: str, messages: List[str]) -> LibbpfError:
    """The exception for a failed linker call, with libbpf's own reason when it printed
    one (libbpf says which symbol or section it could not link in its log)."""
    lines = [ln.strip().removeprefix("libbpf: ") for ln in "".join(messages).splitlines()]
    lines = [ln for ln in lines if ln]
    strerror = libbpf_strerror(err) + (f"; libbpf: {lines[-1]}" if lines else "")
    return make_error(err, what, strerror)


class Linker:
    """One run of libbpf's static linker: an output, inputs added in order, finalize.

    ``output`` is a path (created or truncated at once, ``bpf_linker__new``) or,
    with libbpf >= 1.6, an open writable fd (``bpf_linker__new_fd``; the fd stays
    the caller's: keep it open until :meth:`finalize`, then close it).

    :meth:`finalize` writes the output and frees the linker; used as a context
    manager, a block left normally finalizes, a block left by an exception only
    frees (the output is then left incomplete). :meth:`close` frees without
    finalizing. Any call after either raises :class:`~libbpf_py.errors.ClosedError`.
    A Linker is not meant to be shared between threads.
    """

    __slots__ = ("_finalized", "_inputs", "_output", "_ptr")

    def __init__(self, output: Union[PathLike, int]) -> None:
        self._ptr: Any = None
        self._finalized = False
        self._inputs: List[str] = []
        if isinstance(output, int) and not isinstance(output, bool):
            fd = _validate.check_fd(output, "Linker output fd")
            self._output = f"<fd {fd}>"
            new_fd = lib.bpf_linker__new_fd  # LibbpfVersionError before libbpf 1.6
            with log.capture() as messages:
                ptr = new_fd(fd, ffi.NULL)
            what = f"bpf_linker__new_fd({fd})"
        else:
            raw = _validate.cstr(output, "Linker output", path=True, empty=False)
            self._output = os.fsdecode(raw)
            with log.capture() as messages:
                ptr = lib.bpf_linker__new(raw, ffi.NULL)
            what = f"bpf_linker__new({self._output!r})"
        if ptr == ffi.NULL:
            raise _error(ffi.errno or errno.EINVAL, what, messages)
        self._ptr = ptr

    # -- state ----------------------------------------------------------------------------

    @property
    def output(self) -> str:
        """The output path (``<fd N>`` for an fd)."""
        return self._output

    @property
    def inputs(self) -> List[str]:
        """What was added so far, in order (paths; ``<fd N>``, ``<buffer of N bytes>``)."""
        return list(self._inputs)

    @property
    def closed(self) -> bool:
        return self._ptr is None

    @property
    def finalized(self) -> bool:
        return self._finalized

    def _check_open(self) -> Any:
        ptr = self._ptr
        if ptr is None:
            state = "finalized" if self._finalized else "closed"
            raise ClosedError(f"the linker of {self._output!r} is {state}")
        return ptr

    # -- inputs ---------------------------------------------------------------------------

    def _add(self, ret_of: Any, what: str, name: str) -> None:
        with log.capture() as messages:
            ret = ret_of()
        if ret < 0:
            raise _error(-ret, what, messages)
        self._inputs.append(name)

    def add_file(self, path: PathLike) -> None:
        """Add a BPF ELF object file (``bpf_linker__add_file``)."""
        ptr = self._check_open()
        raw = _validate.cstr(path, "add_file path", path=True, empty=False)
        name = os.fsdecode(raw)
        what = f"bpf_linker__add_file({name!r})"
        start = _read_start(raw, what, name)
        if start is not None:  # (None: missing, a directory...: libbpf says which)
            _refuse_non_elf(start, what, name)
        self._add(lambda: lib.bpf_linker__add_file(ptr, raw, ffi.NULL), what, name)

    def add_fd(self, fd: int) -> None:
        """Add the BPF ELF object open at ``fd``, read from its start
        (``bpf_linker__add_fd``, libbpf >= 1.6). The fd stays the caller's, its offset
        unmoved. It must be a readable file libbpf can map: a pipe or socket raises
        (read it and use :meth:`add_buf`), as does an input that is not ELF."""
        ptr = self._check_open()
        fd = _validate.check_fd(fd, "add_fd fd")
        fn = lib.bpf_linker__add_fd
        what = f"bpf_linker__add_fd({fd})"
        # the first bytes, read where libelf reads them (from offset 0, whatever the
        # fd's offset), without moving the offset: the same refusal of a non-ELF input
        # as add_file's, before libbpf sees it
        try:
            start = os.pread(fd, 64, 0)
        except OSError as exc:
            raise make_error(exc.errno or errno.EINVAL, what, (
                f"cannot read fd {fd} from its start ({os.strerror(exc.errno or 0)}): "
                "add_fd takes the fd of a readable ELF file; read a pipe or socket "
                "yourself and pass the bytes to add_buf")) from None
        if not start.startswith(b"\x7fELF"):
            try:  # the file's name, for the message
                name = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                name = f"<fd {fd}>"
            _refuse_non_elf(start, what, name)
        self._add(lambda: fn(ptr, fd, ffi.NULL), what, f"<fd {fd}>")

    def add_buf(self, data: Buffer) -> None:
        """Add a BPF ELF object held in memory (``bpf_linker__add_buf``, libbpf >= 1.6)."""
        ptr = self._check_open()
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"add_buf needs a bytes-like ELF image, not {type(data).__name__}")
        image = bytes(data)
        if not image:
            raise ValueError("add_buf got an empty image")
        fn = lib.bpf_linker__add_buf
        _refuse_non_elf(image[:64], "bpf_linker__add_buf", None)
        buf = ffi.new("char[]", image)
        self._add(lambda: fn(ptr, buf, len(image), ffi.NULL), "bpf_linker__add_buf",
                  f"<buffer of {len(image)} bytes>")

    # -- output ---------------------------------------------------------------------------

    def finalize(self) -> None:
        """Resolve the externs, write the output (``bpf_linker__finalize``) and free the
        linker. A failure (an extern no input defines, a symbol defined twice) raises
        LibbpfError with libbpf's reason; the linker is freed either way."""
        ptr = self._check_open()
        with log.capture() as messages:
            ret = lib.bpf_linker__finalize(ptr)
        self._finalized = ret >= 0
        self._free()
        if ret < 0:
            raise _error(-ret, f"bpf_linker__finalize({self._output!r})", messages)

    def close(self) -> None:
        """Free the linker without finalizing (idempotent)."""
        self._free()

    def _free(self) -> None:
        ptr, self._ptr = self._ptr, None
        if ptr is not None:
            lib.bpf_linker__free(ptr)

    def __enter__(self) -> Linker:
        self._check_open()
        return self

    def __exit__(self, exc_type: Optional[type], *exc: object) -> None:
        if exc_type is None and self._ptr is not None:
            self.finalize()
        else:
            self.close()

    def __del__(self) -> None:
        # a call that never reached __init__'s body (a misspelled keyword:
        # Linker(out, outptu=...)) leaves the slot unset: no "Exception ignored" then
        if getattr(self, "_ptr", None) is not None:
            self._free()

    def __repr__(self) -> str:
        state = ("finalized" if self._finalized else "closed") if self._ptr is None else "open"
        return f"<Linker {_validate.show(self._output)} {state}, {len(self._inputs)} inputs>"


def _read_start(path: bytes, what: str, name: str) -> Optional[bytes]:
    """The first 64 bytes of an input file; None when it does not open (missing, a
    directory...: libbpf's own open fails and says which). One that opens but whose
    start cannot be read (/proc/self/mem: EIO) is refused here: libbpf gets no ELF
    header from it either, and its linker crashed the process (SIGSEGV) on that."""
    try:
        f = open(path, "rb")
    except OSError:
        return None
    with f:
        try:
            return f.read(64)
        except OSError as exc:
            raise make_error(exc.errno or errno.EIO, what, (
                f"cannot read the start of {name!r} ({os.strerror(exc.errno or 0)}): "
                "add_file takes a readable BPF ELF object file")) from None


def _refuse_non_elf(start: bytes, what: str, path: Optional[str]) -> None:
    """Refuse an input that is not an ELF file before libbpf sees it: libbpf 1.1's
    linker crashes the process (SIGSEGV) on one (a text file, an empty file), after
    logging "failed to get ELF header". The error is BpfObject.open's for such a file."""
    if start.startswith(b"\x7fELF"):
        return  # an ELF file, BPF or not: libbpf checks the rest and refuses cleanly
    err = LIBBPF_ERRNO_FORMAT
    raise not_bpf_elf(make_error(err, what, libbpf_strerror(err)), what, start, path)


def link_files(output: PathLike, inputs: Iterable[PathLike]) -> None:
    """Link BPF object files into ``output``, as ``bpftool gen object OUTPUT INPUT...``."""
    files = list(inputs)
    if not files:
        raise ValueError("link_files needs at least one input file")
    with Linker(output) as linker:
        for path in files:
            linker.add_file(path)
