"""Btf: BPF Type Format, from the kernel, a file, bytes, or a BpfObject.

::

    with Btf.load_vmlinux() as btf:          # /sys/kernel/btf/vmlinux
        task = btf.find("task_struct", BtfKind.STRUCT)
        for m in task.members[:3]:
            print(m.name, m.type.resolve().name, m.bit_offset, m.bitfield_size)
        header = btf.dump_c()                # what bpftool writes as vmlinux.h

Sources: :meth:`Btf.load_vmlinux`, :meth:`Btf.from_file` (an ELF file's
``.BTF`` section or a raw BTF file), :meth:`Btf.from_bytes`,
:meth:`Btf.load_from_kernel_by_id` and :attr:`BpfObject.btf
<libbpf_py.object.BpfObject.btf>` (a view of the object's own BTF, which it
does not free and which raises :class:`~libbpf_py.errors.ClosedError` once the
object is closed).

Type ids: id 0 is ``void`` (kind ``UNKN``). ``btf[id]`` and ``btf[name]`` give
a :class:`BtfType`; ``len(btf)`` and iteration count and walk the types this
BTF adds (ids 1 .. n for a base BTF; for split BTF, such as a kernel module's,
the ids after its base). :class:`BtfType` is a view: it reads the BTF each time
it is asked and raises ClosedError once its Btf is closed.

C output (:meth:`Btf.dump_c`) goes through libbpf's ``btf_dump`` API, the code
``bpftool btf dump ... format c`` uses, and wraps a whole dump in the same
``__VMLINUX_H__`` guard and ``preserve_access_index`` pragma bpftool writes.
:meth:`BtfType.describe` gives the one-entry text of ``bpftool btf dump ...
format raw``.

Writing (libbpf's ``btf__add_*`` API): :meth:`Btf.new_empty` starts an empty
BTF (split over ``base=``), and the ``add_*`` methods append types to any Btf
this process owns, each returning the new type's id::

    with Btf.new_empty() as btf:
        i32 = btf.add_int("int", 4, "signed")
        pair = btf.add_struct("pair", 8)
        btf.add_field("a", i32, 0)
        btf.add_field("b", i32, 32)
        print(btf.dump_c(pair, header=False))
        btf_id = btf.load_into_kernel()     # root; freed with the Btf
"""

from __future__ import annotations

import enum
import errno
import os
import re
import threading
import weakref
from typing import (
    Any,
    Callable,
    Dict,
    FrozenSet,
    Iterator,
    List,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from . import _btfguard, _validate, log
from ._binding import ffi, lib
from ._call import check, libbpf_strerror, make_error
from ._guard import Guard
from ._ids import fd_by_id
from ._info import btf_info
from ._record import Record
from ._validate import PathLike
from .errors import ClosedError

__all__ = [
    "Btf",
    "BtfArray",
    "BtfEnumValue",
    "BtfIntInfo",
    "BtfKind",
    "BtfMember",
    "BtfParam",
    "BtfType",
    "BtfVarSecinfo",
]

TypeRef = Union[int, str, "BtfType"]


class BtfKind(enum.IntEnum):
    """``BTF_KIND_*``: the kind of a BTF type (values from <linux/btf.h>)."""

    UNKN = int(lib.BTF_KIND_UNKN)
    INT = int(lib.BTF_KIND_INT)
    PTR = int(lib.BTF_KIND_PTR)
    ARRAY = int(lib.BTF_KIND_ARRAY)
    STRUCT = int(lib.BTF_KIND_STRUCT)
    UNION = int(lib.BTF_KIND_UNION)
    ENUM = int(lib.BTF_KIND_ENUM)
    FWD = int(lib.BTF_KIND_FWD)
    TYPEDEF = int(lib.BTF_KIND_TYPEDEF)
    VOLATILE = int(lib.BTF_KIND_VOLATILE)
    CONST = int(lib.BTF_KIND_CONST)
    RESTRICT = int(lib.BTF_KIND_RESTRICT)
    FUNC = int(lib.BTF_KIND_FUNC)
    FUNC_PROTO = int(lib.BTF_KIND_FUNC_PROTO)
    VAR = int(lib.BTF_KIND_VAR)
    DATASEC = int(lib.BTF_KIND_DATASEC)
    FLOAT = int(lib.BTF_KIND_FLOAT)
    DECL_TAG = int(lib.BTF_KIND_DECL_TAG)
    TYPE_TAG = int(lib.BTF_KIND_TYPE_TAG)
    ENUM64 = int(lib.BTF_KIND_ENUM64)


#: kinds whose ``size`` field is a size (the others use it as a type id)
_SIZED = frozenset({BtfKind.INT, BtfKind.STRUCT, BtfKind.UNION, BtfKind.ENUM,
                    BtfKind.ENUM64, BtfKind.FLOAT, BtfKind.DATASEC})
#: kinds whose ``type`` field refers to another type
_REFERS = frozenset({BtfKind.PTR, BtfKind.TYPEDEF, BtfKind.VOLATILE, BtfKind.CONST,
                     BtfKind.RESTRICT, BtfKind.FUNC, BtfKind.FUNC_PROTO, BtfKind.VAR,
                     BtfKind.DECL_TAG, BtfKind.TYPE_TAG})
#: what :meth:`BtfType.resolve` skips
_MODIFIERS = frozenset({BtfKind.TYPEDEF, BtfKind.VOLATILE, BtfKind.CONST, BtfKind.RESTRICT,
                        BtfKind.TYPE_TAG})
_MODIFIER_VALUES = frozenset(int(k) for k in _MODIFIERS)
_INT_VALUE = int(BtfKind.INT)
_REFER_VALUES = frozenset(int(k) for k in _REFERS)
_COMPOSITE_VALUES = frozenset({int(BtfKind.STRUCT), int(BtfKind.UNION)})
_ARRAY_VALUE = int(BtfKind.ARRAY)
_FUNC_PROTO_VALUE = int(BtfKind.FUNC_PROTO)
_ENUM_VALUE = int(BtfKind.ENUM)
_ENUM64_VALUE = int(BtfKind.ENUM64)
_DATASEC_VALUE = int(BtfKind.DATASEC)
_LINKAGE = {0: "static", 1: "global", 2: "extern"}
_KIND_OF: Dict[int, BtfKind] = {int(k): k for k in BtfKind}


def _kind_of(t: Any) -> BtfKind:
    value = int(lib.btf_kind(t))
    kind = _KIND_OF.get(value)
    if kind is None:
        raise ValueError(f"BTF kind {value} is newer than libbpf_py knows")
    return kind
_INT_SIGNED = int(lib.BTF_INT_SIGNED)
_INT_CHAR = int(lib.BTF_INT_CHAR)
_INT_BOOL = int(lib.BTF_INT_BOOL)


class BtfMember(Record):
    """A member of a struct or union."""

    name: str  # "" for an anonymous member
    type: BtfType
    bit_offset: int  # from the start of the struct
    bitfield_size: int  # 0 unless a bitfield
    #: a legacy bitfield's (no kind_flag) bit offset inside its INT type
    #: (``int_info.offset``); 0 otherwise. Not in repr(), ==, hash()
    int_offset: int = 0
    _hidden = ("int_offset",)

    def __init__(self, name: str, type: BtfType, bit_offset: int, bitfield_size: int,
                 int_offset: int = 0) -> None:
        self._set(name=name, type=type, bit_offset=bit_offset, bitfield_size=bitfield_size,
                  int_offset=int_offset)

    @property
    def byte_offset(self) -> int:
        """``bit_offset // 8`` (for a bitfield, the byte its first bit is in)."""
        return self.bit_offset // 8

    @property
    def value_bit_offset(self) -> int:
        """Where the member's value starts, in bits from the start of the struct
        (``bit_offset + int_offset``)."""
        return self.bit_offset + self.int_offset


class BtfEnumValue(Record):
    """An enumerator of an ENUM or ENUM64 (``value`` signed when the enum is)."""

    name: str
    value: int

    def __init__(self, name: str, value: int) -> None:
        self._set(name=name, value=value)


class BtfArray(Record):
    """What an ARRAY type says: element type, index type, number of elements."""

    type: BtfType
    index_type: BtfType
    nelems: int

    def __init__(self, type: BtfType, index_type: BtfType, nelems: int) -> None:
        self._set(type=type, index_type=index_type, nelems=nelems)


class BtfParam(Record):
    """A parameter of a FUNC_PROTO (``name`` may be ""; a variadic ``...`` is type void)."""

    name: str
    type: BtfType

    def __init__(self, name: str, type: BtfType) -> None:
        self._set(name=name, type=type)


class BtfVarSecinfo(Record):
    """A variable of a DATASEC: the VAR type, its offset and size in the section."""

    type: BtfType
    offset: int
    size: int

    def __init__(self, type: BtfType, offset: int, size: int) -> None:
        self._set(type=type, offset=offset, size=size)


class BtfIntInfo(Record):
    """The encoding word of an INT type."""

    bits: int  # number of value bits
    offset: int  # bit offset of the value (legacy bitfields)
    is_signed: bool
    is_char: bool
    is_bool: bool

    def __init__(self, bits: int, offset: int, is_signed: bool, is_char: bool,
                 is_bool: bool) -> None:
        self._set(bits=bits, offset=offset, is_signed=is_signed, is_char=is_char,
                  is_bool=is_bool)

    @property
    def encoding(self) -> str:
        """bpftool's name of the encoding: ``SIGNED``, ``CHAR``, ``BOOL`` or ``(none)``."""
        if self.is_signed:
            return "SIGNED"
        if self.is_char:
            return "CHAR"
        if self.is_bool:
            return "BOOL"
        return "(none)"


class _DumpSink:
    """Collects what btf_dump prints; remembers an exception of the callback."""

    __slots__ = ("error", "parts")

    def __init__(self) -> None:
        self.parts: List[str] = []
        self.error: Optional[BaseException] = None


@ffi.def_extern()  # type: ignore[untyped-decorator]
def libbpf_py_btf_dump_cb(ctx: Any, text: Any) -> None:
    sink: _DumpSink = ffi.from_handle(ctx)
    if sink.error is not None:
        return
    try:
        sink.parts.append(ffi.string(text).decode("utf-8", "replace"))
    except BaseException as exc:  # raised again after the C call returns
        sink.error = exc


_VMLINUX_HEADER = """\
#ifndef __VMLINUX_H__
#define __VMLINUX_H__

#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)
#endif

"""
_VMLINUX_FOOTER = """\
#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute pop
#endif

#endif /* __VMLINUX_H__ */
"""


def _u32(value: object, what: str) -> int:
    return _validate.check_int(value, what, 32)


class Btf:
    """A parsed BTF: its types by id and name, and C output through btf_dump.

    Build one with :meth:`load_vmlinux`, :meth:`from_file`, :meth:`from_bytes`,
    :meth:`load_from_kernel_by_id` or :meth:`new_empty`; use it as a context
    manager or call :meth:`close`. :attr:`BpfObject.btf
    <libbpf_py.object.BpfObject.btf>` gives a view of an object's BTF instead,
    which belongs to the object and cannot be written.
    """

    def __init__(self, ptr: Any, source: str, *, owner: Any = None,
                 base: Optional[Btf] = None) -> None:
        # An owned BTF is freed by close() (ffi.gc is the safety net); a view of
        # a BpfObject's BTF is never freed here and dies with its owner.
        self._ptr: Any = ptr if owner is not None else ffi.gc(ptr, lib.btf__free)
        self._owner = owner
        self._source = source
        # what close() frees, kept until the split BTFs built over this one are gone
        self._held: Any = self._ptr if owner is None else None
        # split BTFs over this one hold the guard of whoever frees the struct btf
        # (this Btf, or the BpfObject a view belongs to) until they are closed
        self._guard: Guard = Guard() if owner is None else owner._guard
        self._base = base  # a split BTF reads its base's types: keep it alive
        self._dump_checked = 0  # type count up to which _check_dumpable passed
        self._base_hold: Optional[weakref.finalize[[], Btf]] = None
        if base is not None:
            base._guard.enter()
            self._base_hold = weakref.finalize(self, base._guard.leave)
            self._base_hold.atexit = False

    # -- construction ------------------------------------------------------------------

    @classmethod
    def _adopt(cls, ptr: Any, what: str, source: str, base: Optional[Btf] = None) -> Btf:
        if ptr == ffi.NULL:
            raise make_error(ffi.errno or errno.EINVAL, what)
        return cls(ptr, source, base=base)

    @classmethod
    def load_vmlinux(cls) -> Btf:
        """The running kernel's BTF (``btf__load_vmlinux_btf``: /sys/kernel/btf/vmlinux
        or the places libbpf looks for a vmlinux image)."""
        return cls._adopt(lib.btf__load_vmlinux_btf(), "btf__load_vmlinux_btf: cannot load "
                          "the kernel's BTF", "vmlinux")._kernel_checked()

    @classmethod
    def from_file(cls, path: PathLike, *, base: Optional[Btf] = None) -> Btf:
        """Parse the ``.BTF`` section of an ELF file, or a raw BTF file (``btf__parse``).

        ``base`` is the base BTF of a split BTF file (a kernel module's
        /sys/kernel/btf/<module> needs ``Btf.load_vmlinux()``). A missing file
        raises FileNotFoundError (a LibbpfError), a file that is neither
        raises LibbpfError with libbpf's errno (EPROTO/EINVAL: not BTF,
        ENODATA/ENOENT: an ELF without .BTF).
        """
        raw = _validate.cstr(path, "path", path=True)
        shown = os.fspath(path)
        if not os.path.exists(raw):
            raise make_error(errno.ENOENT, f"cannot read BTF from {shown!r}")
        if os.path.isdir(raw):
            raise make_error(errno.EISDIR, f"cannot read BTF from {shown!r}")
        if base is None:
            ptr = lib.btf__parse(raw, ffi.NULL)
        else:
            base_ptr = _base_ptr(base)  # (checked before the function's version)
            ptr = lib.btf__parse_split(raw, base_ptr)
        if ptr == ffi.NULL:
            err = ffi.errno or errno.EINVAL
            hint = ("no .BTF section in this ELF file" if err in (errno.ENOENT, errno.ENODATA)
                    else "neither an ELF file with a .BTF section nor raw BTF")
            raise make_error(err, f"cannot read BTF from {shown!r} ({hint})")
        return cls(ptr, shown, base=base)

    @classmethod
    def from_bytes(cls, data: Union[bytes, bytearray, memoryview], *,
                   base: Optional[Btf] = None) -> Btf:
        """Parse raw BTF held in memory (``btf__new``; with ``base``, split BTF).

        libbpf copies the bytes. Splitting needs libbpf >= 1.4
        (``btf__new_split``) and raises LibbpfVersionError before.
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"BTF data must be bytes-like, not {type(data).__name__}")
        image = bytes(data)
        if not image:
            raise ValueError("empty BTF data")
        if base is None:
            ptr = lib.btf__new(image, len(image))
        else:
            base_ptr = _base_ptr(base)  # (checked before the function's version)
            ptr = lib.btf__new_split(image, len(image), base_ptr)
        return cls._adopt(ptr, "btf__new: not valid BTF", "<memory>", base)

    @classmethod
    def load_from_kernel_by_id(cls, btf_id: int, *, base: Optional[Btf] = None) -> Btf:
        """The kernel's BTF object number ``btf_id`` (a program's or map's ``btf_id``).

        A module's BTF is split BTF: pass ``base=Btf.load_vmlinux()``.
        """
        _u32(btf_id, "btf id")
        if base is None:
            ptr = lib.btf__load_from_kernel_by_id(btf_id)
        else:
            base_ptr = _base_ptr(base)  # (checked before the function's version)
            ptr = lib.btf__load_from_kernel_by_id_split(btf_id, base_ptr)
        return cls._adopt(ptr, f"cannot load kernel BTF id {btf_id}", f"btf id {btf_id}",
                          base)._kernel_checked()

    @classmethod
    def from_id(cls, btf_id: int, *, base: Optional[Btf] = None) -> Btf:
        """The kernel's BTF object number ``btf_id`` (``btf__load_from_kernel_by_id``):
        one of :func:`libbpf_py.btf_ids`, or the ``btf_id`` of a program's or map's info.

        A kernel module's BTF is split BTF over vmlinux's: unless ``base`` is
        given, the running kernel's is loaded as its base. An id not in the
        kernel raises :class:`~libbpf_py.errors.LibbpfNotFoundError` naming it.
        """
        fd = fd_by_id("btf", btf_id)
        try:
            info = btf_info(fd, f"cannot read BTF id {btf_id}")
        finally:
            os.close(fd)
        if base is None and info.kernel_btf and info.name != "vmlinux":
            base = cls.load_vmlinux()
        if base is None:
            ptr = lib.btf__load_from_kernel_by_id(btf_id)
        else:
            base_ptr = _base_ptr(base)  # (checked before the function's version)
            ptr = lib.btf__load_from_kernel_by_id_split(btf_id, base_ptr)
        source = f"btf id {btf_id}" + (f" ({info.name})" if info.name else "")
        return cls._adopt(ptr, f"cannot load kernel BTF id {btf_id}", source,
                          base)._kernel_checked()

    @classmethod
    def _view(cls, ptr: Any, owner: Any, source: str) -> Btf:
        """A Btf over a ``struct btf`` that ``owner`` (anything with ``closed``) frees."""
        return cls(ptr, source, owner=owner)

    @classmethod
    def _borrow(cls, ptr: Any, source: str) -> Btf:
        """A Btf over a ``struct btf`` its caller frees, for the length of one call
        (building a map's codecs): never freed here, never used after the call."""
        return cls(ptr, source, owner=_Lender())

    # -- life cycle ---------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once closed (or, for an object's BTF, once the object is closed)."""
        if self._ptr is None:
            return True
        return self._owner is not None and bool(self._owner.closed)

    def _check_open(self) -> Any:
        ptr = self._ptr
        if ptr is None:
            raise ClosedError(f"BTF {self._source!r} is closed")
        if self._owner is not None and self._owner.closed:
            raise ClosedError(f"BTF {self._source!r} belongs to a closed BPF object")
        return ptr

    def close(self) -> None:
        """Free the BTF (idempotent). A view of an object's BTF only lets go of it.

        A base BTF with split BTFs still open is closed at once (every use
        raises ClosedError) and freed when the last of them is closed.
        """
        ptr, self._ptr = self._ptr, None
        if ptr is not None and self._owner is None:
            self._guard.retire(self._free)
        if self._base_hold is not None:
            self._base_hold()  # the base may be freed now (once, also via the gc)
        self._base = None

    def _free(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            ffi.release(held)

    def __enter__(self) -> Btf:
        self._check_open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        if self.closed:
            return f"<Btf {self._source!r} closed>"
        return f"<Btf {self._source!r} {len(self)} types>"

    # -- facts --------------------------------------------------------------------------

    @property
    def base(self) -> Optional[Btf]:
        """The base BTF of a split BTF (None for a base BTF)."""
        self._check_open()
        return self._base

    @property
    def start_id(self) -> int:
        """The first type id this BTF adds (1, or the base's type count for split BTF)."""
        ptr = self._check_open()
        base = lib.btf__base_btf(ptr)
        return 1 if base == ffi.NULL else int(lib.btf__type_cnt(base))

    @property
    def pointer_size(self) -> int:
        """Size of a pointer for the BTF's target (0 when libbpf cannot tell)."""
        return int(lib.btf__pointer_size(self._check_open()))

    @property
    def endianness(self) -> str:
        """``"little"`` or ``"big"``."""
        return "big" if lib.btf__endianness(self._check_open()) == lib.BTF_BIG_ENDIAN else "little"

    def permute(self, id_map: Sequence[int]) -> None:
        """Renumber the types in place (``btf__permute``, libbpf >= 1.7, LIBBPF_1.7.0):
        ``id_map[old_id] = new_id`` for every type of a base BTF, void included
        (``id_map[0]`` must be 0); for a split BTF, ``id_map[old_id - start_id]``
        for the types it adds. Every reference between types follows.

        :class:`BtfType` objects taken before keep their ids, so they name other
        types afterwards. Only a BTF this process owns can be permuted: not the view
        of a BpfObject's BTF, nor a base that split BTFs are built on.
        """
        ptr = self._check_open()
        if self._owner is not None:
            raise ValueError(f"BTF {self._source!r} belongs to a BPF object; permute a "
                             "copy (Btf.from_bytes(btf.raw_data()))")
        ids = [_u32(v, "id_map entry") for v in id_map]
        with _WRITING:  # a writer: never at once with another writer (see _write)
            if self._guard.busy:
                raise ValueError(f"BTF {self._source!r} is the base of split BTFs still "
                                 "open; close them before permuting it")
            want = self._count() - self.start_id if self._base is not None else self._count()
            if len(ids) != want:
                raise ValueError(f"id_map has {len(ids)} entries; BTF {self._source!r} needs "
                                 f"{want} (one per type"
                                 f"{' it adds' if self._base else ', void too'})")
            arr = ffi.new("__u32[]", ids)
            check(lib.btf__permute(ptr, arr, len(ids), ffi.NULL),
                  f"btf__permute of BTF {self._source!r}")

    def raw_data(self) -> bytes:
        """The BTF in its raw binary form (header, types, strings)."""
        size = ffi.new("__u32 *")
        data = lib.btf__raw_data(self._check_open(), size)
        if data == ffi.NULL:
            raise make_error(ffi.errno or errno.ENOMEM, "btf__raw_data")
        return bytes(ffi.buffer(data, size[0]))

    # -- writing: libbpf's btf__add_* API ------------------------------------------------

    @classmethod
    def new_empty(cls, *, base: Optional[Btf] = None) -> Btf:
        """An empty BTF to fill with the ``add_*`` methods (``btf__new_empty``).

        With ``base`` (``btf__new_empty_split``) it is split BTF over ``base``:
        its ids start at ``base``'s type count and its types may refer to the
        base's. It holds its base the way :meth:`from_file` with ``base`` does:
        closing the base first defers its free until this BTF is closed.
        """
        if base is None:
            ptr = lib.btf__new_empty()
            return cls._adopt(ptr, "btf__new_empty", "<new>")
        base_ptr = _base_ptr(base)  # (checked before the function's version)
        ptr = lib.btf__new_empty_split(base_ptr)
        return cls._adopt(ptr, "btf__new_empty_split", f"<new, split over {base._source}>",
                          base)

    @property
    def fd(self) -> Optional[int]:
        """The fd of this BTF's kernel object (``btf__fd``) once :meth:`load_into_kernel`
        (or, for an object's BTF, the object's load) put it there; None before. It
        belongs to the Btf (or the object): closed with it."""
        fd = int(lib.btf__fd(self._check_open()))
        return fd if fd >= 0 else None

    def load_into_kernel(self) -> int:
        """Load this BTF into the kernel (``btf__load_into_kernel``) and return the
        kernel's id of it (``Btf.from_id(id)`` reads it back; :func:`libbpf_py.btf_ids`
        lists it).

        The kernel object lives as long as this Btf: libbpf keeps its fd
        (:attr:`fd`) and ``btf__free`` closes it, so :meth:`close` lets it go.
        Needs CAP_BPF or CAP_SYS_ADMIN (LibbpfPermissionError otherwise). BTF
        the kernel rejects raises LibbpfError with the last line of the
        kernel's BTF log (the whole log goes to the ``libbpf_py`` logger); a
        second load raises LibbpfExistsError; the BTF of a BPF object
        (:attr:`BpfObject.btf <libbpf_py.object.BpfObject.btf>`) is loaded by the
        object, and ValueError says so. Types added after the load change this
        Btf only, not the kernel's copy.
        """
        what = "btf__load_into_kernel"
        with log.capture() as messages:
            ret = self._write(what, lib.btf__load_into_kernel, raw=True, splits_ok=True)
        if ret < 0:
            err = -ret
            text = libbpf_strerror(err)
            if err == errno.EEXIST:
                text = f"{text} (already loaded: kernel BTF id {self._kernel_id()})"
            else:
                found = re.search(_BTF_LOG_PATTERN, "".join(messages))
                lines = [ln.strip() for ln in (found.group(1) if found else "").splitlines()
                         if ln.strip()]
                if lines:
                    text = f"{text}; kernel: {lines[-1]}"
            raise make_error(err, f"{what} of BTF {self._source!r}", text)
        return self._kernel_id()

    def _kernel_id(self) -> int:
        fd = self.fd
        if fd is None:
            raise ValueError(f"BTF {self._source!r} is not in the kernel")
        return btf_info(fd, f"cannot read the info of BTF {self._source!r}").id

    def add_str(self, s: Union[str, bytes]) -> int:
        """Add a string to the string section (``btf__add_str``; an equal string is
        shared) and return its offset, as a type's ``name_off`` would hold it."""
        raw = _validate.cstr(s, "string")
        return self._write(f"btf__add_str({_validate.show(s)})",
                           lambda p: lib.btf__add_str(p, raw))

    def find_str(self, s: Union[str, bytes]) -> Optional[int]:
        """The offset of string ``s`` in the string section (of the base first, for
        split BTF), or None when absent (``btf__find_str``). A writer in libbpf's
        eyes: it readies the BTF for changes, so an object's BTF refuses it too."""
        raw = _validate.cstr(s, "string")
        what = f"btf__find_str({_validate.show(s)})"
        ret = self._write(what, lambda p: lib.btf__find_str(p, raw), raw=True)
        if ret == -errno.ENOENT:
            return None
        return check(ret, f"{what} on BTF {self._source!r}")

    def add_int(self, name: Union[str, bytes], size: int,
                encoding: Union[str, BtfIntInfo, None] = None) -> int:
        """Add an INT ``name`` of ``size`` bytes (1, 2, 4, 8 or 16; ``btf__add_int``).

        ``encoding`` is None (unsigned), ``"signed"``, ``"char"`` or ``"bool"``
        (case does not matter; bpftool's ``"(none)"`` is None), or a
        :class:`BtfIntInfo` (what :attr:`BtfType.int_info` gives) whose ``bits``
        are the whole size and ``offset`` 0: libbpf writes no legacy bitfield INT.
        """
        raw = _validate.cstr(name, "INT name", empty=False)
        nbytes = _validate.check_int(size, "INT size", 64)
        enc = _int_encoding(encoding, nbytes)
        return self._write(f"btf__add_int({_validate.show(name)}, size={nbytes})",
                           lambda p: lib.btf__add_int(p, raw, nbytes, enc),
                           hint="an INT's size is 1, 2, 4, 8 or 16 bytes")

    def add_float(self, name: Union[str, bytes], size: int) -> int:
        """Add a FLOAT ``name`` of ``size`` bytes (2, 4, 8, 12 or 16; ``btf__add_float``)."""
        raw = _validate.cstr(name, "FLOAT name", empty=False)
        nbytes = _validate.check_int(size, "FLOAT size", 64)
        return self._write(f"btf__add_float({_validate.show(name)}, size={nbytes})",
                           lambda p: lib.btf__add_float(p, raw, nbytes),
                           hint="a FLOAT's size is 2, 4, 8, 12 or 16 bytes")

    def add_ptr(self, type: TypeRef) -> int:
        """Add a PTR to ``type`` (``btf__add_ptr``); see :meth:`add_struct` on ids."""
        tid = self._type_id(type, "PTR target")
        return self._write(f"btf__add_ptr({tid})", lambda p: lib.btf__add_ptr(p, tid))

    def add_const(self, type: TypeRef) -> int:
        """Add a CONST of ``type`` (``btf__add_const``)."""
        tid = self._type_id(type, "CONST target")
        return self._write(f"btf__add_const({tid})", lambda p: lib.btf__add_const(p, tid))

    def add_volatile(self, type: TypeRef) -> int:
        """Add a VOLATILE of ``type`` (``btf__add_volatile``)."""
        tid = self._type_id(type, "VOLATILE target")
        return self._write(f"btf__add_volatile({tid})",
                           lambda p: lib.btf__add_volatile(p, tid))

    def add_restrict(self, type: TypeRef) -> int:
        """Add a RESTRICT of ``type`` (``btf__add_restrict``)."""
        tid = self._type_id(type, "RESTRICT target")
        return self._write(f"btf__add_restrict({tid})",
                           lambda p: lib.btf__add_restrict(p, tid))

    def add_typedef(self, name: Union[str, bytes], type: TypeRef) -> int:
        """Add a TYPEDEF ``name`` of ``type`` (``btf__add_typedef``)."""
        raw = _validate.cstr(name, "TYPEDEF name", empty=False)
        tid = self._type_id(type, "TYPEDEF target")
        return self._write(f"btf__add_typedef({_validate.show(name)}, {tid})",
                           lambda p: lib.btf__add_typedef(p, raw, tid))

    def add_type_tag(self, value: Union[str, bytes], type: TypeRef) -> int:
        """Add a TYPE_TAG ``value`` on ``type`` (``btf__add_type_tag``:
        ``__attribute__((btf_type_tag(value)))``)."""
        raw = _validate.cstr(value, "TYPE_TAG value", empty=False)
        tid = self._type_id(type, "TYPE_TAG target")
        return self._write(f"btf__add_type_tag({_validate.show(value)}, {tid})",
                           lambda p: lib.btf__add_type_tag(p, raw, tid))

    def add_type_attr(self, value: Union[str, bytes], type: TypeRef) -> int:
        """Add a TYPE_TAG with kind_flag set (``btf__add_type_attr``, libbpf >= 1.6,
        LIBBPF_1.6.0): ``value`` is an ``__attribute__`` of ``type``, not a
        ``btf_type_tag``. Older libbpf raises LibbpfVersionError."""
        fn = lib.btf__add_type_attr  # LibbpfVersionError before libbpf 1.6
        raw = _validate.cstr(value, "TYPE_TAG attribute", empty=False)
        tid = self._type_id(type, "TYPE_TAG target")
        return self._write(f"btf__add_type_attr({_validate.show(value)}, {tid})",
                           lambda p: fn(p, raw, tid))

    def add_decl_tag(self, value: Union[str, bytes], type: TypeRef,
                     component_idx: int = -1) -> int:
        """Add a DECL_TAG ``value`` on ``type`` (``btf__add_decl_tag``): on the
        type, function or variable itself (``component_idx=-1``) or on its member
        or parameter number ``component_idx``."""
        raw = _validate.cstr(value, "DECL_TAG value", empty=False)
        tid = self._type_id(type, "DECL_TAG target")
        idx = _component_idx(component_idx)
        return self._write(f"btf__add_decl_tag({_validate.show(value)}, {tid}, {idx})",
                           lambda p: lib.btf__add_decl_tag(p, raw, tid, idx))

    def add_decl_attr(self, value: Union[str, bytes], type: TypeRef,
                      component_idx: int = -1) -> int:
        """Add a DECL_TAG with kind_flag set (``btf__add_decl_attr``, libbpf >= 1.6,
        LIBBPF_1.6.0): ``value`` is an ``__attribute__`` of the declaration. Older
        libbpf raises LibbpfVersionError."""
        fn = lib.btf__add_decl_attr  # LibbpfVersionError before libbpf 1.6
        raw = _validate.cstr(value, "DECL_TAG attribute", empty=False)
        tid = self._type_id(type, "DECL_TAG target")
        idx = _component_idx(component_idx)
        return self._write(f"btf__add_decl_attr({_validate.show(value)}, {tid}, {idx})",
                           lambda p: fn(p, raw, tid, idx))

    def add_array(self, index_type: TypeRef, elem_type: TypeRef, nelems: int) -> int:
        """Add an ARRAY of ``nelems`` ``elem_type`` indexed by ``index_type`` (an INT,
        by convention ``int`` or ``__ARRAY_SIZE_TYPE__``; ``btf__add_array``)."""
        index = self._type_id(index_type, "ARRAY index type")
        elem = self._type_id(elem_type, "ARRAY element type")
        n = _u32(nelems, "ARRAY nelems")
        return self._write(f"btf__add_array({index}, {elem}, {n})",
                           lambda p: lib.btf__add_array(p, index, elem, n))

    def add_struct(self, name: Union[str, bytes, None], size: int) -> int:
        """Add a STRUCT of ``size`` bytes (``btf__add_struct``; ``name`` None or ""
        for an anonymous one), then its members with :meth:`add_field`.

        Type arguments here and in every ``add_*`` are an id, a name (looked up
        with ``btf[name]``: KeyError when absent) or a :class:`BtfType` of this
        BTF or of its base. An id may name a type not added yet (a struct that
        points to itself needs the pointer first): libbpf and this method only
        check that it fits BTF's ids (0..2**31-1); the kernel checks the rest at
        :meth:`load_into_kernel`.
        """
        raw = _optional_name(name, "STRUCT name")
        nbytes = _u32(size, "STRUCT size")
        return self._write(f"btf__add_struct({_validate.show(name or '')}, size={nbytes})",
                           lambda p: lib.btf__add_struct(p, raw, nbytes))

    def add_union(self, name: Union[str, bytes, None], size: int) -> int:
        """Add a UNION of ``size`` bytes (``btf__add_union``), then its members with
        :meth:`add_field` (every one at bit offset 0)."""
        raw = _optional_name(name, "UNION name")
        nbytes = _u32(size, "UNION size")
        return self._write(f"btf__add_union({_validate.show(name or '')}, size={nbytes})",
                           lambda p: lib.btf__add_union(p, raw, nbytes))

    def add_field(self, name: Union[str, bytes, None], type: TypeRef, bit_offset: int,
                  bit_size: int = 0) -> None:
        """Add a member to the STRUCT or UNION added last (``btf__add_field``).

        ``bit_offset`` is from the start of the struct; ``bit_size`` is 0, or a
        bitfield's width (1..255, its offset below 2**24; libbpf then sets the
        struct's kind_flag). ValueError when the last type added is not a
        STRUCT or UNION.
        """
        raw = _optional_name(name, "member name")
        tid = self._type_id(type, "member type")
        off = _u32(bit_offset, "member bit_offset")
        bits = _u32(bit_size, "member bit_size")
        self._write(f"btf__add_field({_validate.show(name or '')}, {tid}, {off}, {bits})",
                    lambda p: lib.btf__add_field(p, raw, tid, off, bits),
                    after=_COMPOSITE, adder="add_struct() or add_union()",
                    hint="a bitfield is 1..255 bits at a bit offset below 2**24; a UNION's "
                         "members are at bit offset 0")

    def add_enum(self, name: Union[str, bytes, None], size: int = 4) -> int:
        """Add an ENUM of ``size`` bytes (1, 2, 4 or 8; ``btf__add_enum``), then its
        values with :meth:`add_enum_value` (-2**31..2**32-1 whatever the size; a
        negative one makes the enum signed, libbpf's rule). 64-bit values:
        :meth:`add_enum64`."""
        raw = _optional_name(name, "ENUM name")
        nbytes = _u32(size, "ENUM size")
        return self._write(f"btf__add_enum({_validate.show(name or '')}, size={nbytes})",
                           lambda p: lib.btf__add_enum(p, raw, nbytes),
                           hint="an ENUM's size is 1, 2, 4 or 8 bytes")

    def add_enum64(self, name: Union[str, bytes, None], size: int = 8, *,
                   signed: bool = False) -> int:
        """Add an ENUM64 of ``size`` bytes (1, 2, 4 or 8; ``btf__add_enum64``), then its
        values with :meth:`add_enum_value`: 0..2**64-1, or -2**63..2**63-1 when
        ``signed`` (recorded in the kind_flag, as :attr:`BtfType.signed` reads)."""
        raw = _optional_name(name, "ENUM64 name")
        nbytes = _u32(size, "ENUM64 size")
        if not isinstance(signed, bool):
            raise _validate.type_error("signed", signed, "a bool")
        return self._write(f"btf__add_enum64({_validate.show(name or '')}, size={nbytes})",
                           lambda p: lib.btf__add_enum64(p, raw, nbytes, signed),
                           hint="an ENUM64's size is 1, 2, 4 or 8 bytes")

    def add_enum_value(self, name: Union[str, bytes], value: int) -> None:
        """Add an enumerator to the ENUM or ENUM64 added last (``btf__add_enum_value``
        or ``btf__add_enum64_value``); ValueError when the value does not fit (see
        :meth:`add_enum`, :meth:`add_enum64`) or the last type is neither."""
        raw = _validate.cstr(name, "enumerator name", empty=False)
        if isinstance(value, bool) or not isinstance(value, int):
            raise _validate.type_error("enumerator value", value)
        number = int(value)

        def call(p: Any) -> int:
            t = lib.btf__type_by_id(p, int(lib.btf__type_cnt(p)) - 1)
            if lib.btf_kind(t) == lib.BTF_KIND_ENUM:
                if not -(1 << 31) <= number <= (1 << 32) - 1:
                    raise ValueError(f"enumerator {_validate.show(name)} = {number} does not "
                                     "fit an ENUM (range -2147483648..4294967295): use "
                                     "add_enum64()")
                return int(lib.btf__add_enum_value(p, raw, number))
            signed = bool(lib.btf_kflag(t))
            _validate.check_int(number, f"enumerator {_validate.show(name)} of "
                                        f"{'a signed' if signed else 'an unsigned'} ENUM64",
                                64, signed)
            return int(lib.btf__add_enum64_value(p, raw, number & ((1 << 64) - 1)))

        self._write(f"add_enum_value({_validate.show(name)}, {number})", call,
                    after=_ENUMS, adder="add_enum() or add_enum64()")

    def add_fwd(self, name: Union[str, bytes], kind: str = "struct") -> int:
        """Add a forward declaration (``btf__add_fwd``): ``kind`` ``"struct"`` or
        ``"union"`` gives a FWD; ``"enum"`` gives an ENUM of 4 bytes without values
        (BTF has no enum FWD)."""
        raw = _validate.cstr(name, "FWD name", empty=False)
        fwd = _choice(kind, "FWD kind", _FWD_KINDS)
        return self._write(f"btf__add_fwd({_validate.show(name)}, {kind!r})",
                           lambda p: lib.btf__add_fwd(p, raw, fwd))

    def add_func_proto(self, ret: TypeRef) -> int:
        """Add a FUNC_PROTO returning ``ret`` (0, or ``"void"``, for void;
        ``btf__add_func_proto``), then its parameters with :meth:`add_func_param`."""
        tid = self._type_id(ret, "return type")
        return self._write(f"btf__add_func_proto({tid})",
                           lambda p: lib.btf__add_func_proto(p, tid))

    def add_func_param(self, name: Union[str, bytes, None], type: TypeRef) -> None:
        """Add a parameter to the FUNC_PROTO added last (``btf__add_func_param``;
        name None or "" and type 0 is a variadic ``...``, last); ValueError when
        the last type is not a FUNC_PROTO."""
        raw = _optional_name(name, "parameter name")
        tid = self._type_id(type, "parameter type")
        self._write(f"btf__add_func_param({_validate.show(name or '')}, {tid})",
                    lambda p: lib.btf__add_func_param(p, raw, tid),
                    after=_PROTO, adder="add_func_proto()")

    def add_func(self, name: Union[str, bytes], proto: TypeRef,
                 linkage: str = "global") -> int:
        """Add a FUNC ``name`` of prototype ``proto`` (``btf__add_func``), ``linkage``
        ``"static"``, ``"global"`` or ``"extern"`` (as :attr:`BtfType.linkage`)."""
        raw = _validate.cstr(name, "FUNC name", empty=False)
        tid = self._type_id(proto, "FUNC prototype")
        link = _choice(linkage, "FUNC linkage", _FUNC_LINKAGE)
        return self._write(f"btf__add_func({_validate.show(name)}, {tid}, {linkage!r})",
                           lambda p: lib.btf__add_func(p, raw, link, tid))

    def add_var(self, name: Union[str, bytes], type: TypeRef, linkage: str = "global") -> int:
        """Add a VAR ``name`` of ``type`` (``btf__add_var``), ``linkage``
        ``"static"``, ``"global"`` (allocated) or ``"extern"``."""
        raw = _validate.cstr(name, "VAR name", empty=False)
        tid = self._type_id(type, "VAR type")
        link = _choice(linkage, "VAR linkage", _VAR_LINKAGE)
        return self._write(f"btf__add_var({_validate.show(name)}, {tid}, {linkage!r})",
                           lambda p: lib.btf__add_var(p, raw, link, tid))

    def add_datasec(self, name: Union[str, bytes], size: int) -> int:
        """Add a DATASEC ``name`` (``.data``, ``.bss``...) of ``size`` bytes
        (``btf__add_datasec``), then its variables with :meth:`add_datasec_var_info`."""
        raw = _validate.cstr(name, "DATASEC name", empty=False)
        nbytes = _u32(size, "DATASEC size")
        return self._write(f"btf__add_datasec({_validate.show(name)}, size={nbytes})",
                           lambda p: lib.btf__add_datasec(p, raw, nbytes))

    def add_datasec_var_info(self, var: TypeRef, offset: int, size: int) -> None:
        """Add variable ``var`` (a VAR's id), at ``offset`` bytes and ``size`` bytes
        long, to the DATASEC added last (``btf__add_datasec_var_info``);
        ValueError when the last type is not a DATASEC."""
        tid = self._type_id(var, "DATASEC variable")
        off = _u32(offset, "variable offset")
        nbytes = _u32(size, "variable size")
        self._write(f"btf__add_datasec_var_info({tid}, {off}, {nbytes})",
                    lambda p: lib.btf__add_datasec_var_info(p, tid, off, nbytes),
                    after=_DATASEC, adder="add_datasec()")

    def add_type(self, src: Btf, type: Union[int, BtfType]) -> int:
        """Copy one type of ``src`` (``btf__add_type``): its record and its strings.

        The type ids inside the record are copied as they are: they name
        ``src``'s ids, so they mean the same here only when the ids agree (to
        copy types with their references renumbered, use :meth:`add_btf`).
        ``type`` is an id of ``src`` or a :class:`BtfType` of ``src``. ``src``
        may be any open Btf but this one.
        """
        if not isinstance(src, Btf):
            raise _validate.type_error("src", src, "a Btf")
        if isinstance(type, BtfType):
            if type.btf is not src:
                raise ValueError(f"type {type!r} is not a type of {src!r}")
            tid = type.id
        else:
            tid = _validate.check_int(type, "source type id", 31)

        def call(p: Any) -> int:
            t = src._type_ptr(tid)  # IndexError when src has no such id
            return int(lib.btf__add_type(p, src._check_open(), t))

        return self._copy(src, f"btf__add_type({src._source!r}, {tid})", call,
                          shared_base_ok=False)

    def add_btf(self, src: Btf) -> int:
        """Append every type of ``src`` (``btf__add_btf``), their references renumbered,
        and return the id the first one gets. All or nothing: on error this BTF is
        unchanged. ``src`` may not be split BTF (libbpf >= 1.7: unless it is split
        over this BTF's own base), else LibbpfNotSupportedError."""
        if not isinstance(src, Btf):
            raise _validate.type_error("src", src, "a Btf")
        return self._copy(src, f"btf__add_btf({src._source!r})",
                          lambda p: lib.btf__add_btf(p, src._check_open()))

    def _copy(self, src: Btf, what: str, call: Callable[[Any], int], *,
              shared_base_ok: bool = True) -> int:
        """Run a copy from ``src`` unless libbpf would read freed memory doing it.

        libbpf copies a string by handing a pointer into the source's string
        memory to btf__add_str, which first looks the string up in the target's
        bases with btf__find_str; that lookup grows the base's string memory
        (realloc) and then copies the string from the pointer. When the string
        lives in that very base (the source is the base, or is split over it and
        names a base string) the copy reads freed memory (AddressSanitizer saw it
        with libbpf 1.1). btf__add_btf skips a split source's strings that live in
        the shared base (libbpf >= 1.7, the only one that allows such a source),
        so only the source being one of the target's bases is refused there.
        """
        if src is self:
            raise ValueError(f"{what}: cannot copy BTF {self._source!r} into itself (libbpf "
                             "reads the source while it grows the target); copy from "
                             "Btf.from_bytes(btf.raw_data()) instead")
        bases = []
        base = self._base
        while base is not None:
            bases.append(base)
            base = base._base
        if any(b is src for b in bases):
            raise ValueError(f"{what}: {src._source!r} is a base of this BTF, whose strings "
                             "libbpf would move while it copies them (a use after free in "
                             "libbpf); copy from Btf.from_bytes(base.raw_data()) instead")
        if not shared_base_ok:
            shared = src._base
            while shared is not None and not any(b is shared for b in bases):
                shared = shared._base
            if shared is not None:
                raise ValueError(f"{what}: {src._source!r} is split over {shared._source!r}, "
                                 "a base of this BTF too, whose strings libbpf would move "
                                 "while it copies them (a use after free in libbpf); copy "
                                 "from a BTF that does not share a base with this one")
        guard = src._guard
        guard.enter()  # src is freed after the copy if closed meanwhile
        try:
            src._check_open()
            return self._write(what, call, ready_base=True)
        finally:
            guard.leave()

    # the machinery of every writer

    def _type_id(self, ref: TypeRef, what: str) -> int:
        """A type argument of a writer as an id (see :meth:`add_struct`)."""
        if isinstance(ref, BtfType):
            owner: Optional[Btf] = self
            while owner is not None and owner is not ref.btf:
                owner = owner._base
            if owner is None:
                raise ValueError(f"{what}: {ref!r} is a type of another BTF, not of "
                                 f"{self!r} or its base")
            ref.btf._check_open()
            return ref.id
        if isinstance(ref, str):
            return self[ref].id
        return _validate.check_int(ref, f"{what} id", 31)

    def _write(self, what: str, call: Callable[[Any], int], *,
               after: Optional[FrozenSet[int]] = None, adder: str = "", hint: str = "",
               ready_base: bool = False, raw: bool = False, splits_ok: bool = False) -> int:
        """Run one writer ``call(struct btf *)`` (a libbpf ``-errno`` return) on this BTF.

        Writers run one at a time, process-wide (``_WRITING``): libbpf grows a
        BTF's memory with realloc, so two at once on one BTF (or a copy from a
        BTF being written) would corrupt it. The call holds the guard, so a
        close() from another thread frees the BTF after it returns. Refused: the
        BTF of a BPF object (a view), a split BTF over one, and a base that
        split BTFs are built on (their ids follow the base's last one; not
        refused with ``splits_ok``, for a call that adds no type). With ``raw``,
        a negative return is returned, not raised.
        """
        where = f"{what} on BTF {self._source!r}"
        if self._owner is not None:
            raise ValueError(f"{where}: this BTF belongs to a BPF object and is read-only "
                             "here; write to a copy (Btf.from_bytes(btf.raw_data()))")
        base = self._base
        while base is not None:
            if base._owner is not None:
                raise ValueError(f"{where}: its base is the BTF of a BPF object, which "
                                 "libbpf would rewrite; split over a copy "
                                 "(Btf.from_bytes(obj.btf.raw_data()))")
            base = base._base
        guard = self._guard
        with _WRITING:
            if guard.busy and not splits_ok:
                raise ValueError(f"{where}: split BTFs built on this BTF are still open "
                                 "(or another thread copies from it); close them before "
                                 "adding types")
            guard.enter()
            try:
                ptr = self._check_open()
                if after is not None:
                    self._check_last(ptr, what, after, adder)
                if ready_base:
                    _ready_base(ptr)
                ret = int(call(ptr))
            finally:
                guard.leave()
        if ret < 0 and not raw:
            err = -ret
            text = libbpf_strerror(err)
            if hint and err in (errno.EINVAL, errno.E2BIG):
                text = f"{text} ({hint})"
            raise make_error(err, where, text)
        return ret

    def _check_last(self, ptr: Any, what: str, kinds: FrozenSet[int], adder: str) -> None:
        count = int(lib.btf__type_cnt(ptr))
        names = " or ".join(_KIND_OF[k].name for k in sorted(kinds))
        names = ("an " if names[0] in "AEIOU" else "a ") + names
        if count <= self.start_id:
            raise ValueError(f"{what}: BTF {self._source!r} has no type of its own yet; "
                             f"it needs {names} just before: call {adder} first")
        last = BtfType(self, count - 1)
        if int(lib.btf_kind(lib.btf__type_by_id(ptr, count - 1))) not in kinds:
            raise ValueError(f"{what}: the last type added, {last!r}, is not {names}: "
                             f"call {adder} first (members follow their type at once)")

    # -- types --------------------------------------------------------------------------

    def _count(self) -> int:
        return int(lib.btf__type_cnt(self._check_open()))

    def __len__(self) -> int:
        return self._count() - self.start_id

    def __iter__(self) -> Iterator[BtfType]:
        """The types this BTF adds, by increasing id (void, id 0, is not included)."""
        start, end = self.start_id, self._count()
        for tid in range(start, end):
            yield BtfType(self, tid)

    def of_kind(self, kind: Union[BtfKind, int, str]) -> Iterator[BtfType]:
        """The types of one kind this BTF adds, by increasing id: ``btf.of_kind("FUNC")``.

        Reads each record's kind directly, several times faster than filtering
        ``iter(btf)`` on :attr:`BtfType.kind` (vmlinux has ~150k types)."""
        want = int(_kind(kind))
        start, end = self.start_id, self._count()
        for tid in range(start, end):
            t = lib.btf__type_by_id(self._check_open(), tid)
            if t != ffi.NULL and lib.btf_kind(t) == want:
                yield BtfType(self, tid)

    def _type_ptr(self, tid: int) -> Any:
        t = lib.btf__type_by_id(self._check_open(), tid)
        if t == ffi.NULL:
            raise IndexError(f"BTF {self._source!r} has no type id {tid} "
                             f"(ids 0..{self._count() - 1})")
        return t

    def _ref_ptr(self, tid: int, holder: int) -> Any:
        """The record of type ``tid``, which type ``holder`` refers to: ValueError when
        there is none, for this BTF is malformed (``btf[id]`` raises IndexError: the id
        is the caller's there, not the BTF's)."""
        t = lib.btf__type_by_id(self._check_open(), tid)
        if t == ffi.NULL:
            raise ValueError(f"BTF {self._source!r}: type [{holder}] refers to type id {tid} "
                             f"(ids 0..{self._count() - 1}): malformed BTF")
        return t

    def __getitem__(self, key: Union[int, str]) -> BtfType:
        """``btf[id]`` (IndexError when absent) or ``btf[name]`` (KeyError when absent)."""
        if isinstance(key, str):
            found = self.find(key)
            if found is None:
                raise KeyError(f"BTF {self._source!r} has no type named {key!r}")
            return found
        tid = _u32(key, "type id")
        self._type_ptr(tid)
        return BtfType(self, tid)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            return self.find(key) is not None
        if isinstance(key, int) and not isinstance(key, bool):
            return 0 <= key < self._count()
        return False

    def find(self, name: str, kind: Union[BtfKind, int, str, None] = None) -> Optional[BtfType]:
        """The first type named ``name`` (of ``kind``, a BtfKind or its name), or None."""
        if not isinstance(name, str):
            raise TypeError(f"type name must be a str, not {type(name).__name__}")
        raw = _validate.cstr(name, "type name")
        ptr = self._check_open()
        if kind is None:
            tid = int(lib.btf__find_by_name(ptr, raw))
        else:
            tid = int(lib.btf__find_by_name_kind(ptr, raw, int(_kind(kind))))
        return None if tid < 0 else BtfType(self, tid)

    def _ref(self, ref: TypeRef) -> BtfType:
        if isinstance(ref, BtfType):
            if ref.btf is not self:
                raise ValueError(f"type {ref!r} belongs to another BTF")
            return ref
        return self[ref]

    # -- C output -----------------------------------------------------------------------

    def dump_c(self, type: Optional[TypeRef] = None, *, header: Optional[bool] = None) -> str:
        """C declarations through libbpf's btf_dump.

        Without ``type``: every type, as ``bpftool btf dump file F format c``
        writes them (with its ``__VMLINUX_H__`` guard and
        ``preserve_access_index`` pragma unless ``header=False``). With
        ``type`` (an id, a name or a BtfType): that type's definition,
        preceded by the definitions it needs (no header unless ``header=True``).
        """
        if header is not None and not isinstance(header, bool):
            raise _validate.type_error("header", header, "None, True or False")
        ptr = self._check_open()
        if type is None:
            ids: Iterator[int] = iter(range(self.start_id, self._count()))
            wrap = True if header is None else header
        else:
            ids = iter([self._ref(type).id])
            wrap = bool(header)
        self._check_dumpable(ptr)
        sink = _DumpSink()
        handle = ffi.new_handle(sink)
        d = lib.libbpf_py_btf_dump_new(ptr, handle, ffi.NULL)
        if d == ffi.NULL:
            raise make_error(ffi.errno or errno.EINVAL, "btf_dump__new")
        try:
            for tid in ids:
                check(lib.btf_dump__dump_type(d, tid), f"btf_dump__dump_type({tid})")
                if sink.error is not None:
                    raise sink.error
        finally:
            lib.btf_dump__free(d)
        body = "".join(sink.parts)
        if wrap:
            return _VMLINUX_HEADER + body + _VMLINUX_FOOTER
        return body

    def _kernel_checked(self) -> Btf:
        # the kernel verified what it hands out (ids, names, cycles): no second walk
        self._dump_checked = self._count()
        return self

    def _check_dumpable(self, ptr: Any) -> None:
        """ValueError unless libbpf's btf_dump can walk this BTF without crashing.

        btf_dump trusts what it reads, and libbpf before 1.4 parses BTF without
        checking it: a type id past the last type, a name past the string section
        or a cycle of references with no struct or union in it (a typedef, pointer,
        array or function prototype that leads back to itself) crash the process
        (NULL dereference, unbounded recursion). The kernel refuses all three.
        The rules are ``_btfguard``'s (:func:`~libbpf_py._btfguard.dump_problem`),
        applied to the raw form of the parsed BTF. Checked once per type count:
        what the ``add_*`` writers append is valid.
        """
        count = self._count()
        if self._dump_checked == count:
            return
        if self._base is not None:
            self._base._check_dumpable(self._base._check_open())
        size = ffi.new("__u32 *")
        raw = lib.btf__raw_data(ptr, size)
        if raw == ffi.NULL:
            raise make_error(ffi.errno or errno.ENOMEM, "btf__raw_data")
        data = bytes(ffi.buffer(raw, size[0]))
        name_ok = None
        if self._base is not None:  # a split BTF's name offsets continue its base's
            def name_ok(off: int) -> bool:
                return bool(lib.btf__name_by_offset(ptr, off) != ffi.NULL)
        problem = _btfguard.dump_problem(data, self.start_id, name_ok)
        if problem is not None:
            raise ValueError(f"BTF {self._source!r}: {problem}: malformed BTF, not dumped")
        self._dump_checked = count

    def dump_raw(self) -> str:
        """Every type as ``bpftool btf dump file F format raw`` prints it."""
        return "".join(t.describe() + "\n" for t in self)


class _Lender:
    """The owner of a borrowed ``struct btf`` (:meth:`Btf._borrow`): open while lent."""

    closed = False

    def __init__(self) -> None:
        self._guard = Guard()


def _kind(kind: Union[BtfKind, int, str]) -> BtfKind:
    if isinstance(kind, str):
        try:
            return BtfKind[kind.upper()]
        except KeyError:
            raise ValueError(f"unknown BTF kind {kind!r}; kinds: "
                             + ", ".join(k.name for k in BtfKind)) from None
    return BtfKind(kind)


# -- the writers' helpers ------------------------------------------------------------------

#: held by every writer (Btf._write): libbpf grows BTF memory with realloc
_WRITING = threading.Lock()
_COMPOSITE = frozenset({int(BtfKind.STRUCT), int(BtfKind.UNION)})
_ENUMS = frozenset({int(BtfKind.ENUM), int(BtfKind.ENUM64)})
_PROTO = frozenset({int(BtfKind.FUNC_PROTO)})
_DATASEC = frozenset({int(BtfKind.DATASEC)})
_FWD_KINDS = {"struct": int(lib.BTF_FWD_STRUCT), "union": int(lib.BTF_FWD_UNION),
              "enum": int(lib.BTF_FWD_ENUM)}
_FUNC_LINKAGE = {"static": int(lib.BTF_FUNC_STATIC), "global": int(lib.BTF_FUNC_GLOBAL),
                 "extern": int(lib.BTF_FUNC_EXTERN)}
_VAR_LINKAGE = {"static": int(lib.BTF_VAR_STATIC), "global": int(lib.BTF_VAR_GLOBAL_ALLOCATED),
                "extern": int(lib.BTF_VAR_GLOBAL_EXTERN)}
_INT_ENCODINGS = {"": 0, "(none)": 0, "signed": _INT_SIGNED, "char": _INT_CHAR,
                  "bool": _INT_BOOL}
#: the kernel's BTF log, as libbpf prints it when btf__load_into_kernel fails
# a string, compiled (and cached) by the re module on the first failed load, not at import
_BTF_LOG_PATTERN = r"(?s)BEGIN BTF LOAD LOG -+\n(.*?)\n?-- END BTF LOAD LOG"


def _choice(value: object, what: str, table: Dict[str, int]) -> int:
    names = ", ".join(repr(k) for k in table)
    if not isinstance(value, str):
        raise _validate.type_error(what, value, f"one of {names}")
    found = table.get(value.lower())
    if found is None:
        raise ValueError(f"{what} {value!r} is not one of {names}")
    return found


def _optional_name(name: object, what: str) -> Any:
    """A name that may be absent (anonymous): None (NULL) or checked bytes."""
    return ffi.NULL if name is None else _validate.cstr(name, what)


def _base_ptr(base: object) -> Any:
    """The libbpf pointer of the ``base=`` of a split BTF: TypeError unless a Btf."""
    if not isinstance(base, Btf):
        raise _validate.type_error("base", base, "a Btf")
    return base._check_open()


def _int_encoding(encoding: Union[str, BtfIntInfo, None], nbytes: int) -> int:
    """The BTF_INT_* encoding bits of add_int's ``encoding`` (the kernel takes one)."""
    if encoding is None:
        return 0
    if isinstance(encoding, str):
        found = _INT_ENCODINGS.get(encoding.lower())
        if found is None:
            raise ValueError(f"INT encoding {encoding!r} is not one of None, 'signed', "
                             "'char', 'bool'")
        return found
    if isinstance(encoding, BtfIntInfo):
        if encoding.bits != nbytes * 8 or encoding.offset:
            raise ValueError(f"INT encoding {encoding!r}: libbpf writes whole INTs only "
                             f"(bits={nbytes * 8} for {nbytes} bytes, offset=0)")
        flags = [bit for bit, on in ((_INT_SIGNED, encoding.is_signed),
                                     (_INT_CHAR, encoding.is_char),
                                     (_INT_BOOL, encoding.is_bool)) if on]
        if len(flags) > 1:
            raise ValueError(f"INT encoding {encoding!r}: the kernel takes one of signed, "
                             "char, bool")
        return flags[0] if flags else 0
    raise _validate.type_error("INT encoding", encoding,
                               "None, 'signed', 'char', 'bool' or a BtfIntInfo")


def _component_idx(value: object) -> int:
    idx = _validate.check_int(value, "component_idx", 32, True)
    if idx < -1:
        raise ValueError(f"component_idx = {idx}: -1 for the declaration itself, else the "
                         "index (>= 0) of a member or parameter")
    return idx


def _ready_base(ptr: Any) -> None:
    """Make the base of split BTF ``ptr`` (and its own bases) modifiable, before a copy.

    A split BTF's btf__add_str looks each string up in its base with
    btf__find_str, which the first time turns the base into its modifiable form
    and frees the memory the base was read from. btf__add_type/btf__add_btf
    take the source's strings (and records) before that, so a source that is
    (or shares) the target's base would be read after free: doing it first,
    with a string that needs no copy, keeps those pointers valid.
    """
    base = lib.btf__base_btf(ptr)
    if base != ffi.NULL:
        ret = int(lib.btf__find_str(ffi.cast("struct btf *", base), b""))
        if ret < 0 and ret != -errno.ENOENT:
            raise make_error(-ret, "btf__find_str on the base BTF")


class BtfType:
    """One type of a :class:`Btf`: a view that reads the BTF on each access."""

    __slots__ = ("_btf", "_id")

    def __init__(self, btf: Btf, type_id: int) -> None:
        self._btf = btf
        self._id = type_id

    @property
    def btf(self) -> Btf:
        return self._btf

    @property
    def id(self) -> int:
        return self._id

    def _c_type(self) -> Any:
        return self._btf._type_ptr(self._id)

    def _str(self, off: int, btf_ptr: Any = None) -> str:
        # A walk over members, enumerators or parameters checks that the BTF is open
        # once (it already holds the record's pointer) and passes the struct btf in.
        if btf_ptr is None:
            btf_ptr = self._btf._check_open()
        text = lib.btf__name_by_offset(btf_ptr, off)
        if text == ffi.NULL:
            raise ValueError(f"BTF {self._btf._source!r}: type [{self._id}] names string "
                             f"offset {off}, past the string section")
        return _validate.from_c(ffi.string(text))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BtfType):
            return NotImplemented
        return self._btf is other._btf and self._id == other._id

    def __hash__(self) -> int:
        return hash((id(self._btf), self._id))

    def __repr__(self) -> str:
        if self._btf.closed:
            return f"<BtfType [{self._id}] (BTF closed)>"
        name = self.name or "(anon)"
        return f"<BtfType [{self._id}] {self.kind.name} {name!r}>"

    # -- the btf_type record --------------------------------------------------------------

    @property
    def kind(self) -> BtfKind:
        return _kind_of(self._c_type())

    @property
    def vlen(self) -> int:
        """The record's vlen: members, enumerators, parameters or variables."""
        return int(lib.btf_vlen(self._c_type()))

    @property
    def kind_flag(self) -> bool:
        return bool(lib.btf_kflag(self._c_type()))

    @property
    def name(self) -> str:
        """The name ("" for an anonymous type; "void" for id 0)."""
        if self._id == 0:
            return "void"
        return self._str(self._c_type().name_off)

    @property
    def size(self) -> Optional[int]:
        """The size in bytes of INT, STRUCT, UNION, ENUM, ENUM64, FLOAT, DATASEC;
        None for the other kinds (see :attr:`resolved_size`)."""
        t = self._c_type()
        return int(t.size) if _kind_of(t) in _SIZED else None

    @property
    def resolved_size(self) -> int:
        """``btf__resolve_size``: the size through typedefs, modifiers and arrays."""
        return check(int(lib.btf__resolve_size(self._btf._check_open(), self._id)),
                     f"btf__resolve_size({self._id})")

    @property
    def type(self) -> Optional[BtfType]:
        """The type referred to (PTR, TYPEDEF, modifiers, FUNC, VAR, DECL_TAG, TYPE_TAG;
        the return type of a FUNC_PROTO); None for the other kinds."""
        t = self._c_type()
        if _kind_of(t) not in _REFERS:
            return None
        return self._referred(int(t.type))

    def _referred(self, tid: int, check: bool = True) -> BtfType:
        """The type this one refers to by id ``tid`` (ValueError if the BTF has none;
        ``check=False``: the id as written, for :meth:`as_dict`, which prints ids as
        bpftool does without following them)."""
        if check:
            self._btf._ref_ptr(tid, self._id)
        return BtfType(self._btf, tid)

    def _need(self, *kinds: BtfKind) -> Any:
        t = self._c_type()
        kind = _kind_of(t)
        if kind not in kinds:
            names = "/".join(k.name for k in kinds)
            raise TypeError(f"type [{self._id}] is {kind.name}, not {names}")
        return t

    @property
    def int_info(self) -> BtfIntInfo:
        """The encoding of an INT (TypeError for other kinds)."""
        t = self._need(BtfKind.INT)
        enc = int(lib.btf_int_encoding(t))
        return BtfIntInfo(bits=int(lib.btf_int_bits(t)), offset=int(lib.btf_int_offset(t)),
                          is_signed=bool(enc & _INT_SIGNED), is_char=bool(enc & _INT_CHAR),
                          is_bool=bool(enc & _INT_BOOL))

    @property
    def members(self) -> List[BtfMember]:
        """Members of a STRUCT or UNION, with bit offsets and bitfield sizes
        (ValueError if one's type is not in the BTF: malformed BTF)."""
        return self._members()

    def _members(self, check: bool = True) -> List[BtfMember]:
        t = self._need(BtfKind.STRUCT, BtfKind.UNION)
        n = int(lib.btf_vlen(t))
        kflag = bool(lib.btf_kflag(t))
        raw = lib.btf_members(t)
        bp = self._btf._check_open()
        out = []
        for i in range(n):
            m = raw[i]
            mtype = self._referred(int(m.type), check)
            name = self._str(m.name_off, bp)
            off = int(lib.btf_member_bit_offset(t, i))
            if kflag:
                out.append(BtfMember(name, mtype, off, int(lib.btf_member_bitfield_size(t, i))))
            else:
                bits, int_offset = _legacy_bitfield(self._btf, int(m.type), self._id)
                out.append(BtfMember(name, mtype, off, bits, int_offset))
        return out

    @property
    def signed(self) -> bool:
        """Whether an INT is signed, or an ENUM/ENUM64's values are.

        An enum is signed when its kind_flag says so (clang >= 15, pahole >=
        1.24) or, for BTF whose producer does not set kind_flag on ENUM, when
        one of its values is negative as stored (a 32-bit value with the top
        bit set). The codecs of map keys and values use this rule too.
        """
        t = self._c_type()
        kind = _kind_of(t)
        if kind == BtfKind.INT:
            return self.int_info.is_signed
        self._need(BtfKind.ENUM, BtfKind.ENUM64)
        return _enum_signed(t, kind)

    @property
    def enum_values(self) -> List[BtfEnumValue]:
        """Enumerators of an ENUM or ENUM64, in order (negative values when :attr:`signed`)."""
        t = self._need(BtfKind.ENUM, BtfKind.ENUM64)
        return self._enumerators(t, _enum_signed(t, _kind_of(t)))

    def _enumerators(self, t: Any, signed: bool) -> List[BtfEnumValue]:
        n = int(lib.btf_vlen(t))
        bp = self._btf._check_open()
        out = []
        if _kind_of(t) == BtfKind.ENUM:
            raw = lib.btf_enum(t)
            for i in range(n):
                val = int(raw[i].val)
                out.append(BtfEnumValue(self._str(raw[i].name_off, bp),
                                        val if signed else val & 0xFFFFFFFF))
        else:
            raw64 = lib.btf_enum64(t)
            for i in range(n):
                val = int(lib.btf_enum64_value(raw64 + i))
                if signed and val >= 1 << 63:
                    val -= 1 << 64
                out.append(BtfEnumValue(self._str(raw64[i].name_off, bp), val))
        return out

    @property
    def array(self) -> BtfArray:
        """Element type, index type and length of an ARRAY."""
        t = self._need(BtfKind.ARRAY)
        a = lib.btf_array(t)
        return BtfArray(self._referred(int(a.type)), self._referred(int(a.index_type)),
                        int(a.nelems))

    @property
    def params(self) -> List[BtfParam]:
        """Parameters of a FUNC_PROTO (of the prototype, for a FUNC)."""
        if self.kind == BtfKind.FUNC:
            proto = self.type
            assert proto is not None
            return proto.params
        t = self._need(BtfKind.FUNC_PROTO)
        raw = lib.btf_params(t)
        bp = self._btf._check_open()
        return [BtfParam(self._str(raw[i].name_off, bp), self._referred(int(raw[i].type)))
                for i in range(int(lib.btf_vlen(t)))]

    @property
    def linkage(self) -> str:
        """``static``, ``global`` or ``extern`` for a FUNC or VAR."""
        t = self._need(BtfKind.FUNC, BtfKind.VAR)
        if _kind_of(t) == BtfKind.FUNC:
            value = int(lib.btf_vlen(t))  # a FUNC keeps its linkage in vlen
        else:
            value = int(lib.btf_var(t).linkage)
        return _LINKAGE.get(value, f"unknown({value})")

    @property
    def secinfos(self) -> List[BtfVarSecinfo]:
        """The variables of a DATASEC."""
        t = self._need(BtfKind.DATASEC)
        raw = lib.btf_var_secinfos(t)
        return [BtfVarSecinfo(self._referred(int(raw[i].type)), int(raw[i].offset),
                              int(raw[i].size)) for i in range(int(lib.btf_vlen(t)))]

    @property
    def component_idx(self) -> int:
        """A DECL_TAG's member/parameter index (-1: the type or function itself)."""
        t = self._need(BtfKind.DECL_TAG)
        return int(lib.btf_decl_tag(t).component_idx)

    @property
    def fwd_kind(self) -> str:
        """``struct`` or ``union`` for a FWD."""
        t = self._need(BtfKind.FWD)
        return "union" if lib.btf_kflag(t) else "struct"

    # -- derived --------------------------------------------------------------------------

    def resolve(self) -> BtfType:
        """The type under any typedef, const, volatile, restrict and type tag."""
        btf, tid = self._btf, self._id
        t = btf._type_ptr(tid)
        for _ in range(65):
            if _kind_of(t) not in _MODIFIERS:
                return self if tid == self._id else BtfType(btf, tid)
            holder, tid = tid, int(t.type)
            t = btf._ref_ptr(tid, holder)
        raise ValueError(f"BTF type chain from [{self._id}] loops")

    def dump_c(self) -> str:
        """This type's C definition, preceded by the definitions it needs."""
        return self._btf.dump_c(self)

    def as_dict(self) -> Dict[str, Any]:
        """The type as plain data (stable keys, see docs/btf.md): id, kind, name, and
        the kind's own fields; types referred to appear as their ids."""
        t = self._c_type()
        kind = _kind_of(t)
        out: Dict[str, Any] = {"id": self._id, "kind": kind.name, "name": self.name}
        if kind in _SIZED:
            out["size"] = int(t.size)
        if kind in _REFERS:
            out["ret_type_id" if kind == BtfKind.FUNC_PROTO else "type_id"] = int(t.type)
        if kind == BtfKind.INT:
            info = self.int_info
            out.update(bits_offset=info.offset, nr_bits=info.bits, encoding=info.encoding)
        elif kind in (BtfKind.STRUCT, BtfKind.UNION):
            out["members"] = [{"name": m.name, "type_id": m.type.id,
                               "bits_offset": m.bit_offset, "bitfield_size": m.bitfield_size}
                              for m in self._members(check=False)]
        elif kind in (BtfKind.ENUM, BtfKind.ENUM64):
            # the record as stored, as bpftool prints it: the kind_flag bit alone
            # (:attr:`signed` also reads a negative ENUM value as signed)
            kflag = bool(lib.btf_kflag(t))
            out["encoding"] = "SIGNED" if kflag else "UNSIGNED"
            out["values"] = [{"name": v.name, "val": v.value}
                             for v in self._enumerators(t, kflag)]
        elif kind == BtfKind.ARRAY:
            a = lib.btf_array(t)
            out.update(type_id=int(a.type), index_type_id=int(a.index_type),
                       nr_elems=int(a.nelems))
        elif kind == BtfKind.FWD:
            out["fwd_kind"] = self.fwd_kind
        elif kind in (BtfKind.FUNC, BtfKind.VAR):
            out["linkage"] = self.linkage
        elif kind == BtfKind.FUNC_PROTO:
            raw = lib.btf_params(t)
            out["params"] = [{"name": self._str(raw[i].name_off), "type_id": int(raw[i].type)}
                             for i in range(int(lib.btf_vlen(t)))]
        elif kind == BtfKind.DATASEC:
            infos = lib.btf_var_secinfos(t)
            out["vars"] = [{"type_id": int(infos[i].type), "offset": int(infos[i].offset),
                            "size": int(infos[i].size)} for i in range(int(lib.btf_vlen(t)))]
        elif kind == BtfKind.DECL_TAG:
            out["component_idx"] = self.component_idx
        return out

    def describe(self) -> str:
        """This type as one entry of ``bpftool btf dump ... format raw``."""
        d = self.as_dict()
        kind = BtfKind[d["kind"]]
        head = f"[{self._id}] {kind.name} '{d['name'] or '(anon)'}'"
        if kind == BtfKind.INT:
            return (f"{head} size={d['size']} bits_offset={d['bits_offset']} "
                    f"nr_bits={d['nr_bits']} encoding={d['encoding']}")
        if kind in (BtfKind.PTR, BtfKind.TYPEDEF, BtfKind.VOLATILE, BtfKind.CONST,
                    BtfKind.RESTRICT, BtfKind.TYPE_TAG):
            return f"{head} type_id={d['type_id']}"
        if kind == BtfKind.ARRAY:
            return (f"{head} type_id={d['type_id']} index_type_id={d['index_type_id']} "
                    f"nr_elems={d['nr_elems']}")
        if kind in (BtfKind.STRUCT, BtfKind.UNION):
            kflag = self.kind_flag
            lines = [f"{head} size={d['size']} vlen={len(d['members'])}"]
            for m in d["members"]:
                line = (f"\t'{m['name'] or '(anon)'}' type_id={m['type_id']} "
                        f"bits_offset={m['bits_offset']}")
                if m["bitfield_size"] and kflag:
                    line += f" bitfield_size={m['bitfield_size']}"
                lines.append(line)
            return "\n".join(lines)
        if kind in (BtfKind.ENUM, BtfKind.ENUM64):
            lines = [f"{head} encoding={d['encoding']} size={d['size']} "
                     f"vlen={len(d['values'])}"]
            suffix = ("" if kind == BtfKind.ENUM
                      else "LL" if d["encoding"] == "SIGNED" else "ULL")
            lines += [f"\t'{v['name']}' val={v['val']}{suffix}" for v in d["values"]]
            return "\n".join(lines)
        if kind == BtfKind.FWD:
            return f"{head} fwd_kind={d['fwd_kind']}"
        if kind == BtfKind.FUNC:
            return f"{head} type_id={d['type_id']} linkage={d['linkage']}"
        if kind == BtfKind.FUNC_PROTO:
            lines = [f"{head} ret_type_id={d['ret_type_id']} vlen={len(d['params'])}"]
            lines += [f"\t'{p['name'] or '(anon)'}' type_id={p['type_id']}"
                      for p in d["params"]]
            return "\n".join(lines)
        if kind == BtfKind.VAR:
            return f"{head} type_id={d['type_id']}, linkage={d['linkage']}"
        if kind == BtfKind.DATASEC:
            lines = [f"{head} size={d['size']} vlen={len(d['vars'])}"]
            lines += [f"\ttype_id={v.type.id} offset={v.offset} size={v.size} "
                      f"({v.type.kind.name} '{v.type.name or '(anon)'}')"
                      for v in self.secinfos]
            return "\n".join(lines)
        if kind == BtfKind.FLOAT:
            return f"{head} size={d['size']}"
        if kind == BtfKind.DECL_TAG:
            return f"{head} type_id={d['type_id']} component_idx={d['component_idx']}"
        return head


def _enum_signed(t: Any, kind: BtfKind) -> bool:
    """The one signedness rule of ENUM/ENUM64 records (see :attr:`BtfType.signed`)."""
    if lib.btf_kflag(t):
        return True
    if kind != BtfKind.ENUM:
        return False
    raw = lib.btf_enum(t)
    return any(int(raw[i].val) < 0 for i in range(int(lib.btf_vlen(t))))


def _legacy_bitfield(btf: Btf, tid: int, holder: int) -> Tuple[int, int]:
    """(bitfield size, offset in the INT) of a member of type ``holder`` without
    kind_flag: a bitfield is an INT narrower than its size. Reads the records
    directly: struct walks call this once per member, and vmlinux has ~100k of them."""
    t = btf._ref_ptr(tid, holder)
    for _ in range(65):
        kind = lib.btf_kind(t)
        if kind not in _MODIFIER_VALUES:
            break
        holder, tid = tid, int(t.type)
        t = btf._ref_ptr(tid, holder)
    else:
        raise ValueError(f"BTF type chain from [{tid}] loops")
    if kind != _INT_VALUE:
        return 0, 0
    bits = int(lib.btf_int_bits(t))
    if bits == int(t.size) * 8:
        return 0, 0
    return bits, int(lib.btf_int_offset(t))
