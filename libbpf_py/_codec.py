"""Encoders and decoders between Python values and the bytes of map keys and values.

A :class:`Codec` is chosen once per map (per key and per value) and then used
for every element; nothing about the layout is worked out again per call.

Without BTF, a key or value of 1, 2, 4 or 8 bytes is an unsigned native
integer (:class:`IntCodec`), anything else raw ``bytes`` (:class:`BytesCodec`).
With BTF (:func:`btf_codec`), the type decides:

========================  ==========================================================
BTF type                  Python value
========================  ==========================================================
int, enum, pointer        ``int`` (signed when the BTF says so)
float, double             ``float``
struct, union, datasec    an instance of a :class:`BtfStruct` / :class:`BtfUnion`
                          subclass built once per map from the BTF members (names,
                          offsets); bitfields are not fields, their bytes stay in
                          ``_raw<offset>`` padding
char array                ``bytes`` of the array's full size
other arrays              ``list`` of the element values
anything else             ``bytes``
========================  ==========================================================

Every codec also accepts any bytes-like object of exactly the right size
(``bytes``, ``bytearray``, ``memoryview``, a ctypes instance...). A value of the
wrong size or type raises ``ValueError`` / ``TypeError`` naming the map and the
size expected, before anything reaches C.
"""

from __future__ import annotations

import ctypes
import struct
import sys
from collections.abc import Mapping
from typing import Any, Dict, List, Optional, Sequence, Tuple, Type

from ._binding import ffi, lib

_BYTEORDER = sys.byteorder
_INT_CTYPES = {1: "unsigned char", 2: "unsigned short", 4: "unsigned int",
               8: "unsigned long long"}
_SINT_CTYPES = {1: "signed char", 2: "short", 4: "int", 8: "long long"}


def _type_name(obj: object) -> str:
    return type(obj).__name__


class Codec:
    """Turns one Python value into ``size`` bytes for C and back.

    ``what`` names the thing in error messages ("key of map 'counts'").
    Subclasses override :meth:`to_bytes` / :meth:`from_bytes`, and may
    override :meth:`encode` / :meth:`alloc` / :meth:`decode` with faster
    typed cdata paths.
    """

    accepts = "a bytes-like object"

    def __init__(self, size: int, what: str) -> None:
        self.size = size
        self.what = what
        self._array = f"char[{max(size, 1)}]"

    # -- validation of the always-accepted bytes-like form ------------------------------

    def _buffer(self, obj: Any) -> Any:
        """``obj`` as a C-contiguous bytes-like object of exactly ``size`` bytes."""
        if isinstance(obj, (bytes, bytearray)):
            n = len(obj)
            if n == self.size:
                return obj
        else:
            try:
                view = memoryview(obj)
            except TypeError:
                raise TypeError(f"{self.what} must be {self.accepts} ({self.size} bytes), "
                                f"not {_type_name(obj)}") from None
            n = view.nbytes
            if n == self.size:
                return obj if view.c_contiguous else view.tobytes()
        raise ValueError(f"{self.what} must be exactly {self.size} bytes, got {n}")

    # -- the interface -----------------------------------------------------------------

    def to_bytes(self, obj: Any) -> Any:
        """A bytes-like object of exactly ``size`` bytes for ``obj``."""
        return self._buffer(obj)

    def from_bytes(self, data: bytes) -> Any:
        """The Python value of ``size`` bytes."""
        return data

    def encode(self, obj: Any) -> Any:
        """cdata C can read ``size`` bytes from (keeps what it points into alive)."""
        return ffi.from_buffer(self.to_bytes(obj))

    def alloc(self) -> Any:
        """A fresh output buffer of ``size`` bytes."""
        return ffi.new(self._array)

    def decode(self, buf: Any) -> Any:
        """The Python value of an output buffer from :meth:`alloc`."""
        return self.from_bytes(ffi.buffer(buf, self.size)[:])

    def encode_many(self, objs: Sequence[Any]) -> bytes:
        """The bytes of ``objs``, one after the other (for batch calls)."""
        return b"".join(bytes(self.to_bytes(o)) for o in objs)

    def decode_many(self, data: bytes, count: int) -> List[Any]:
        """``count`` values packed one after the other in ``data``."""
        n = self.size
        return [self.from_bytes(data[i * n:(i + 1) * n]) for i in range(count)]


class BytesCodec(Codec):
    """Raw bytes: any bytes-like object of the size in, ``bytes`` out."""


class IntCodec(Codec):
    """A native-endian integer of 1, 2, 4 or 8 bytes; bytes-like input works too."""

    def __init__(self, size: int, what: str, signed: bool = False) -> None:
        super().__init__(size, what)
        self.signed = signed
        ctype = (_SINT_CTYPES if signed else _INT_CTYPES)[size]
        self._ptr = ctype + " *"
        self._arr = ctype + "[]"
        self._one = ctype + "[1]"
        kind = "signed" if signed else "unsigned"
        self.accepts = f"an int ({kind}, {size * 8} bits) or a bytes-like object"
        self._range = (f"an {kind} {size * 8}-bit int "
                       f"({-(1 << (size * 8 - 1)) if signed else 0}.."
                       f"{(1 << (size * 8 - (1 if signed else 0))) - 1})")

    def _overflow(self, obj: int) -> ValueError:
        return ValueError(f"{self.what}: {obj} does not fit in {self._range}")

    def to_bytes(self, obj: Any) -> Any:
        if isinstance(obj, int):
            try:
                return int(obj).to_bytes(self.size, _BYTEORDER, signed=self.signed)
            except OverflowError:
                raise self._overflow(obj) from None
        return self._buffer(obj)

    def from_bytes(self, data: bytes) -> Any:
        return int.from_bytes(data, _BYTEORDER, signed=self.signed)

    def encode(self, obj: Any) -> Any:
        if isinstance(obj, int):
            try:
                return ffi.new(self._ptr, obj)
            except OverflowError:
                raise self._overflow(obj) from None
        return ffi.from_buffer(self._buffer(obj))

    def alloc(self) -> Any:
        return ffi.new(self._one)

    def decode(self, buf: Any) -> Any:
        return buf[0]

    def encode_many(self, objs: Sequence[Any]) -> bytes:
        if all(isinstance(o, int) for o in objs):
            try:
                return bytes(ffi.buffer(ffi.new(self._arr, list(objs))))
            except OverflowError:
                for o in objs:
                    self.to_bytes(o)  # raises for the first one out of range
        return super().encode_many(objs)

    def decode_many(self, data: bytes, count: int) -> List[Any]:
        if count == 0:
            return []
        return list(ffi.unpack(ffi.cast(self._ptr, ffi.from_buffer(data)), count))


class FloatCodec(Codec):
    """A C ``float`` or ``double``."""

    def __init__(self, size: int, what: str) -> None:
        super().__init__(size, what)
        self._fmt = "=f" if size == 4 else "=d"
        self.accepts = "a float or a bytes-like object"

    def to_bytes(self, obj: Any) -> Any:
        if isinstance(obj, (int, float)):
            return struct.pack(self._fmt, obj)
        return self._buffer(obj)

    def from_bytes(self, data: bytes) -> Any:
        return struct.unpack(self._fmt, data)[0]


class ArrayCodec(Codec):
    """A C array of ``count`` elements: a list (or tuple) of element values."""

    def __init__(self, elem: Codec, count: int, what: str) -> None:
        super().__init__(elem.size * count, what)
        self.elem = elem
        self.count = count
        self.accepts = f"a list of {count} elements or a bytes-like object"

    def to_bytes(self, obj: Any) -> Any:
        if isinstance(obj, (list, tuple)):
            if len(obj) != self.count:
                raise ValueError(f"{self.what} must have {self.count} elements, "
                                 f"got {len(obj)}")
            return self.elem.encode_many(obj)
        return self._buffer(obj)

    def from_bytes(self, data: bytes) -> Any:
        return self.elem.decode_many(data, self.count)


class _BtfRecord:
    """Helpers shared by the generated ctypes structs and unions."""

    _btf_names_: Tuple[str, ...] = ()

    def _asdict(self) -> Dict[str, Any]:
        """The named fields (no padding), nested records as dicts."""
        out: Dict[str, Any] = {}
        for name in self._btf_names_:
            value = getattr(self, name)
            if isinstance(value, _BtfRecord):
                value = value._asdict()
            elif isinstance(value, ctypes.Array) and not isinstance(value, bytes):
                value = list(value)
            out[name] = value
        return out

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={v!r}" for k, v in self._asdict().items())
        return f"{type(self).__name__}({body})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return bool(bytes(self) == bytes(other))  # type: ignore[call-overload]

    __hash__ = None  # type: ignore[assignment]  # mutable


class BtfStruct(_BtfRecord, ctypes.Structure):
    """Base of the ctypes structs built from BTF (``_pack_ = 1``, explicit padding)."""


class BtfUnion(_BtfRecord, ctypes.Union):
    """Base of the ctypes unions built from BTF."""


class StructCodec(Codec):
    """A struct/union as an instance of its ctypes class (or a dict of its fields)."""

    def __init__(self, cls: Type[Any], what: str) -> None:
        super().__init__(ctypes.sizeof(cls), what)
        self.cls = cls
        self._names = frozenset(_field_names(cls))
        self.accepts = (f"a {cls.__name__} (a ctypes record), a dict of its fields "
                        "or a bytes-like object")

    def to_bytes(self, obj: Any) -> Any:
        if isinstance(obj, Mapping):
            unknown = [k for k in obj if k not in self._names]
            if unknown:
                raise TypeError(f"{self.what}: cannot build a {self.cls.__name__} from "
                                f"{dict(obj)!r}: no field {unknown[0]!r} (fields: "
                                f"{', '.join(sorted(self._names))})")
            try:
                obj = self.cls(**obj)
            except (TypeError, AttributeError) as exc:
                raise TypeError(f"{self.what}: cannot build a {self.cls.__name__} "
                                f"from {dict(obj)!r}: {exc}") from None
        return self._buffer(obj)

    def from_bytes(self, data: bytes) -> Any:
        return self.cls.from_buffer_copy(data)


def _field_names(cls: Any) -> List[str]:
    """The settable field names of a ctypes record, anonymous members' fields included."""
    anonymous = set(getattr(cls, "_anonymous_", ()))
    out: List[str] = []
    for name, ctype, *_ in cls._fields_:
        if name in anonymous:
            out.extend(_field_names(ctype))
        elif not name.startswith("_raw"):
            out.append(name)
    return out


# -- BTF -------------------------------------------------------------------------------

def _kind(t: Any) -> int:
    return int((t.info >> 24) & 0x1F)


def _vlen(t: Any) -> int:
    return int(t.info & 0xFFFF)


def _kflag(t: Any) -> bool:
    return bool(t.info >> 31)


_MODIFIERS = frozenset(int(getattr(lib, n)) for n in (
    "BTF_KIND_TYPEDEF", "BTF_KIND_VOLATILE", "BTF_KIND_CONST", "BTF_KIND_RESTRICT",
    "BTF_KIND_TYPE_TAG") if lib.has(n))
_K_INT = int(lib.BTF_KIND_INT)
_K_PTR = int(lib.BTF_KIND_PTR)
_K_ARRAY = int(lib.BTF_KIND_ARRAY)
_K_STRUCT = int(lib.BTF_KIND_STRUCT)
_K_UNION = int(lib.BTF_KIND_UNION)
_K_ENUM = int(lib.BTF_KIND_ENUM)
_K_ENUM64 = int(lib.BTF_KIND_ENUM64)
_K_FLOAT = int(lib.BTF_KIND_FLOAT)
_K_DATASEC = int(lib.BTF_KIND_DATASEC)
_K_VAR = int(lib.BTF_KIND_VAR)
_INT_SIGNED = int(lib.BTF_INT_SIGNED)
_INT_CHAR = int(lib.BTF_INT_CHAR)
_INT_BOOL = int(lib.BTF_INT_BOOL)

_CT_INTS: Dict[Tuple[int, bool], Any] = {
    (1, False): ctypes.c_uint8, (1, True): ctypes.c_int8,
    (2, False): ctypes.c_uint16, (2, True): ctypes.c_int16,
    (4, False): ctypes.c_uint32, (4, True): ctypes.c_int32,
    (8, False): ctypes.c_uint64, (8, True): ctypes.c_int64,
}


class _BtfReader:
    """Walks one ``struct btf`` and builds codecs and ctypes classes, memoized by id."""

    def __init__(self, btf: Any, map_name: str) -> None:
        self.btf = btf
        self.map_name = map_name
        self.ctypes_cache: Dict[int, Any] = {}

    def type(self, tid: int) -> Any:
        t = lib.btf__type_by_id(self.btf, tid)
        if t == ffi.NULL:
            raise ValueError(f"BTF of map {self.map_name!r} has no type {tid}")
        return t

    def resolve(self, tid: int) -> Tuple[int, Any]:
        """Skip typedefs and qualifiers."""
        t = self.type(tid)
        for _ in range(64):
            if _kind(t) not in _MODIFIERS:
                break
            tid = int(t.type)
            t = self.type(tid)
        return tid, t

    def name(self, t: Any) -> str:
        """The name of a type or member record (anything with a ``name_off``)."""
        s = lib.btf__name_by_offset(self.btf, t.name_off)
        return "" if s == ffi.NULL else str(ffi.string(s).decode("utf-8", "replace"))

    def int_info(self, t: Any) -> Tuple[int, int, int]:
        """(encoding, bit offset, bits) of a BTF_KIND_INT."""
        v = int(ffi.cast("__u32 *", t + 1)[0])
        return (v >> 24) & 0x0F, (v >> 16) & 0xFF, v & 0xFF

    # -- Python codecs ----------------------------------------------------------------

    def codec(self, tid: int, what: str) -> Codec:
        tid, t = self.resolve(tid)
        kind = _kind(t)
        size = int(lib.btf__resolve_size(self.btf, tid))
        if kind == _K_INT:
            enc, off, bits = self.int_info(t)
            if size in _INT_CTYPES and off == 0 and bits == size * 8:
                return IntCodec(size, what, signed=bool(enc & _INT_SIGNED))
        elif kind in (_K_ENUM, _K_ENUM64):
            if size in _INT_CTYPES:
                return IntCodec(size, what, signed=_kflag(t))
        elif kind == _K_PTR:
            return IntCodec(8, what)
        elif kind == _K_FLOAT:
            if size in (4, 8):
                return FloatCodec(size, what)
        elif kind in (_K_STRUCT, _K_UNION, _K_DATASEC):
            cls = self.ctype(tid)
            if cls is not None and ctypes.sizeof(cls) == size:
                return StructCodec(cls, what)
        elif kind == _K_ARRAY:
            arr = ffi.cast("struct btf_array *", t + 1)
            count = int(arr.nelems)
            etid, et = self.resolve(int(arr.type))
            if self.is_char(et):
                return BytesCodec(size, what)
            elem = self.codec(etid, f"element of {what}")
            if elem.size * count == size:
                return ArrayCodec(elem, count, what)
        return BytesCodec(size, what)

    def is_char(self, t: Any) -> bool:
        if _kind(t) != _K_INT or t.size != 1:
            return False
        enc, _, _ = self.int_info(t)
        return bool(enc & _INT_CHAR) or self.name(t) in ("char", "signed char",
                                                           "unsigned char")

    # -- ctypes classes -----------------------------------------------------------------

    def ctype(self, tid: int) -> Any:
        """A ctypes type of exactly the BTF type's size, or None."""
        tid, t = self.resolve(tid)
        if tid in self.ctypes_cache:
            return self.ctypes_cache[tid]
        self.ctypes_cache[tid] = None  # a cycle (through a pointer it cannot be) ends here
        result = self._make_ctype(tid, t)
        if result is not None and ctypes.sizeof(result) != lib.btf__resolve_size(self.btf, tid):
            result = None
        self.ctypes_cache[tid] = result
        return result

    def _make_ctype(self, tid: int, t: Any) -> Any:
        kind = _kind(t)
        size = int(lib.btf__resolve_size(self.btf, tid)) if tid else 0
        if kind == _K_INT:
            enc, _, _ = self.int_info(t)
            if size == 1 and enc & _INT_BOOL:
                return ctypes.c_bool
            return _CT_INTS.get((size, bool(enc & _INT_SIGNED)), ctypes.c_ubyte * size)
        if kind in (_K_ENUM, _K_ENUM64):
            return _CT_INTS.get((size, _kflag(t)), ctypes.c_ubyte * size)
        if kind == _K_PTR:
            return ctypes.c_uint64
        if kind == _K_FLOAT:
            return {4: ctypes.c_float, 8: ctypes.c_double}.get(size, ctypes.c_ubyte * size)
        if kind == _K_ARRAY:
            arr = ffi.cast("struct btf_array *", t + 1)
            _, et = self.resolve(int(arr.type))
            elem = ctypes.c_char if self.is_char(et) else self.ctype(int(arr.type))
            if elem is None:
                return ctypes.c_ubyte * size
            return elem * int(arr.nelems)
        if kind in (_K_STRUCT, _K_UNION, _K_DATASEC):
            return self._record(tid, t, kind, size)
        return ctypes.c_ubyte * size

    def _members(self, t: Any, kind: int) -> List[Tuple[str, int, int, int]]:
        """(name, type id, bit offset, bitfield size) of a struct/union/datasec."""
        out: List[Tuple[str, int, int, int]] = []
        n = _vlen(t)
        if kind == _K_DATASEC:
            infos = ffi.cast("struct btf_var_secinfo *", t + 1)
            for i in range(n):
                vt = self.type(int(infos[i].type))
                if _kind(vt) == _K_VAR:
                    out.append((self.name(vt), int(vt.type), int(infos[i].offset) * 8, 0))
            return out
        members = ffi.cast("struct btf_member *", t + 1)
        kflag = _kflag(t)
        for i in range(n):
            m = members[i]
            off = int(m.offset)
            bitsize = (off >> 24) if kflag else 0
            bitoff = (off & 0xFFFFFF) if kflag else off
            _, mt = self.resolve(int(m.type))
            if not kflag and _kind(mt) == _K_INT:
                _, ioff, bits = self.int_info(mt)
                if ioff or bits != mt.size * 8:
                    bitsize = bits or 1
            out.append((_identifier(self.name(m)), int(m.type), bitoff, bitsize))
        return out

    def _record(self, tid: int, t: Any, kind: int, size: int) -> Any:
        base: Type[Any] = BtfUnion if kind == _K_UNION else BtfStruct
        cname = _identifier(self.name(t)) or f"anon_{tid}"
        fields: List[Tuple[Any, ...]] = []
        names: List[str] = []
        anonymous: List[str] = []
        pos = 0
        for index, (mname, mtid, bitoff, bitsize) in enumerate(
                sorted(self._members(t, kind), key=lambda m: m[2])):
            if bitsize or bitoff % 8:
                continue  # a bitfield: its bytes stay in padding
            off = bitoff // 8
            ct = self.ctype(mtid)
            if ct is None:
                continue
            if kind == _K_UNION:
                off = 0
            elif off < pos:
                continue  # overlapping (should not happen in a struct)
            elif off > pos:
                fields.append((f"_raw{pos}", ctypes.c_ubyte * (off - pos)))
                pos = off
            if not mname:
                _, mt = self.resolve(mtid)
                mname = f"_anon{index}"
                if _kind(mt) in (_K_STRUCT, _K_UNION):
                    anonymous.append(mname)
            elif mname in names or mname.startswith("_raw"):
                mname = f"{mname}_{index}"
            fields.append((mname, ct))
            names.append(mname)
            if kind != _K_UNION:
                pos = off + ctypes.sizeof(ct)
        if kind == _K_UNION:
            fields.append(("_raw0", ctypes.c_ubyte * size))
        elif size > pos:
            fields.append((f"_raw{pos}", ctypes.c_ubyte * (size - pos)))
        ns: Dict[str, Any] = {"_pack_": 1, "_layout_": "ms", "_fields_": fields,
                              "_btf_names_": tuple(n for n in names if n not in anonymous),
                              "__module__": "libbpf_py.btf_types"}
        if anonymous:
            ns["_anonymous_"] = anonymous
        return type(cname, (base,), ns)


def _identifier(name: str) -> str:
    return name if name.isidentifier() else "".join(c if c.isalnum() else "_" for c in name)


def btf_codec(btf: Any, type_id: int, size: int, what: str, map_name: str) -> Optional[Codec]:
    """The codec for BTF type ``type_id`` of ``btf``, or None when it cannot be used.

    ``size`` is what the kernel says the key or value is: a BTF type of
    another size is not trusted.
    """
    if btf == ffi.NULL or not type_id:
        return None
    try:
        codec = _BtfReader(btf, map_name).codec(type_id, what)
    except (ValueError, TypeError, AttributeError):
        return None
    return codec if codec.size == size else None


def plain_codec(size: int, what: str, *, as_bytes: bool = False) -> Codec:
    """Without BTF: an unsigned int for 1, 2, 4 or 8 bytes, else bytes."""
    if size in _INT_CTYPES and not as_bytes:
        return IntCodec(size, what)
    return BytesCodec(size, what)


class PerCpuCodec(Codec):
    """One value per possible CPU, each padded to a multiple of 8 bytes.

    Reads give a list of ``ncpus`` values (index = CPU number). Writes take a
    list/tuple of ``ncpus`` values, or one value replicated to every CPU.
    """

    def __init__(self, elem: Codec, ncpus: int, what: str) -> None:
        self.stride = (elem.size + 7) & ~7
        super().__init__(self.stride * ncpus, what)
        self.elem = elem
        self.ncpus = ncpus
        self.accepts = (f"a list of {ncpus} values (one per possible CPU) or one value "
                        "for every CPU")

    def to_bytes(self, obj: Any) -> Any:
        if isinstance(obj, (list, tuple)):
            if len(obj) != self.ncpus:
                raise ValueError(f"{self.what} must have one value per possible CPU: "
                                 f"{self.ncpus} values, got {len(obj)}")
            items: Sequence[Any] = obj
        else:
            one = bytes(self.elem.to_bytes(obj))
            if self.stride == self.elem.size:
                return one * self.ncpus
            return (one + bytes(self.stride - self.elem.size)) * self.ncpus
        buf = bytearray(self.size)
        n, stride = self.elem.size, self.stride
        for i, item in enumerate(items):
            buf[i * stride:i * stride + n] = self.elem.to_bytes(item)
        return buf

    def from_bytes(self, data: bytes) -> Any:
        n, stride, elem = self.elem.size, self.stride, self.elem
        return [elem.from_bytes(data[i * stride:i * stride + n]) for i in range(self.ncpus)]

