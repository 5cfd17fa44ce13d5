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
                          offsets); bitfields are ctypes bitfields when ctypes lays
                          them out exactly as BTF says, else properties; anonymous
                          members are promoted; a keyword name gets a ``_`` suffix.
                          Reads copy the bytes into a new instance; writes take an
                          instance, bytes, or a dict of fields (packed by a plan made
                          once per class, see :func:`_pack`)
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
import keyword
import struct
import sys
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Type

from . import _validate
from ._binding import Plan, ffi
from .btf import Btf, BtfKind, BtfType
from .errors import LibbpfError

_BYTEORDER = sys.byteorder
# struct codes of the plain int sizes ("=": standard sizes, native byte order)
_STRUCT_INTS = {(1, False): "B", (1, True): "b", (2, False): "H", (2, True): "h",
                (4, False): "I", (4, True): "i", (8, False): "Q", (8, True): "q"}
_MADE_MAX = 1024  # ints whose cdata an IntCodec keeps (see IntCodec.encode)
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
    #: a ctypes class whose fresh instance C may write a value into and that *is* the
    #: decoded value (StructCodec), or None: then alloc() and decode()
    record: Optional[Type[Any]] = None

    def __init__(self, size: int, what: str) -> None:
        self.size = size
        self.what = what
        self._array = f"char[{max(size, 1)}]"
        self._array_t = ffi.typeof(self._array)

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
        """cdata C can read ``size`` bytes from (keeps what it points into alive).

        C must only read it: it may be shared between calls (IntCodec keeps the
        cdata of the ints it has seen).
        """
        return ffi.from_buffer(self.to_bytes(obj))

    def alloc(self) -> Any:
        """A fresh output buffer of ``size`` bytes."""
        return ffi.new(self._array_t)

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
        # the cffi types themselves: ffi.new() of a type skips the parse-cache lookup
        self._ptr_t = ffi.typeof(self._ptr)
        self._one_t = ffi.typeof(self._one)
        # encode()'s cdata of the ints seen first, kept: what C only reads can be shared
        # (threads included), and a map's keys repeat; the encode of a new int (cffi's
        # allocation) costs what a third of a lookup's system call does
        self._made: Dict[int, Any] = {}
        kind = "signed" if signed else "unsigned"
        self.accepts = f"an int ({kind}, {size * 8} bits) or a bytes-like object"

    def _overflow(self, obj: int) -> ValueError:
        return _validate.range_error(self.what, obj, self.size * 8, self.signed)

    def to_bytes(self, obj: Any) -> Any:
        if isinstance(obj, int):  # bool too: a map key/value True is exactly 1
            try:
                # int.to_bytes, not int(obj): an int subclass is the int it is (as
                # encode()'s cffi takes it), not what its own __int__ says
                return int.to_bytes(obj, self.size, _BYTEORDER, signed=self.signed)
            except OverflowError:
                raise self._overflow(obj) from None
        return self._buffer(obj)

    def from_bytes(self, data: bytes) -> Any:
        return int.from_bytes(data, _BYTEORDER, signed=self.signed)

    def encode(self, obj: Any) -> Any:
        if type(obj) is int:
            ptr = self._made.get(obj)
            if ptr is not None:
                return ptr
        if isinstance(obj, int):
            try:
                ptr = ffi.new(self._ptr_t, obj)
            except OverflowError:
                raise self._overflow(obj) from None
            if type(obj) is int and len(self._made) < _MADE_MAX:
                self._made[obj] = ptr
            return ptr
        return ffi.from_buffer(self._buffer(obj))

    def alloc(self) -> Any:
        return ffi.new(self._one_t)

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


class BoolCodec(IntCodec):
    """A C ``_Bool`` key or value (a BTF INT of 1 byte with the BOOL encoding): False,
    True, 0 or 1 in (bytes-like input as is), a bool out. Another int would store a
    _Bool that is neither 0 nor 1, which C compiled on that assumption misreads, so it
    is a ValueError, as for a struct's _Bool field. Not a plain IntCodec, so that
    MapBase's C int path (which knows only the byte's range) leaves it to Python."""

    def __init__(self, what: str) -> None:
        super().__init__(1, what)
        self.accepts = "a bool (or 0 / 1) or a bytes-like object"

    def _check(self, obj: Any) -> None:
        if isinstance(obj, int) and not 0 <= obj <= 1:
            raise _validate.range_error(self.what, obj, 1, False)

    def to_bytes(self, obj: Any) -> Any:
        self._check(obj)
        return super().to_bytes(obj)

    def encode(self, obj: Any) -> Any:
        self._check(obj)
        return super().encode(obj)

    def encode_many(self, objs: Sequence[Any]) -> bytes:
        for obj in objs:
            self._check(obj)
        return super().encode_many(objs)

    def from_bytes(self, data: bytes) -> Any:
        return bool(super().from_bytes(data))

    def decode(self, buf: Any) -> Any:
        return bool(buf[0])

    def decode_many(self, data: bytes, count: int) -> List[Any]:
        return [bool(v) for v in super().decode_many(data, count)]


class FloatCodec(Codec):
    """A C ``float`` or ``double``."""

    def __init__(self, size: int, what: str) -> None:
        super().__init__(size, what)
        self._fmt = "=f" if size == 4 else "=d"
        self.accepts = "a float or a bytes-like object"

    def to_bytes(self, obj: Any) -> Any:
        if isinstance(obj, (int, float)):
            try:
                return struct.pack(self._fmt, obj)
            except (OverflowError, struct.error):
                # a finite value past the type's range (FLT_MAX; an int past a double's):
                # struct's own errors name neither the map nor the value, and struct.error
                # is none of the errors the API promises
                if self.size == 4:
                    raise _float32_error(self.what, obj) from None
                raise ValueError(f"{self.what} = {obj!r} does not fit a 64-bit float "
                                 "(a double)") from None
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


def _write_guard(obj: Any) -> None:
    """Raise if ``obj`` (a ctypes record or array) lives in memory that must not change.

    The owner of the outermost ctypes object marks it with ``_ro_`` (an
    exception class and a message): a .rodata section after load, a stale
    pre-load image, a destroyed skeleton. Costs nothing on reads.
    """
    root = obj
    base = root._b_base_
    while base is not None:
        root = base
        base = root._b_base_
    mark = root.__dict__.get("_ro_")
    if mark is not None:
        raise mark[0](mark[1])


def mark_read_only(obj: Any, exc: Type[Exception], message: str) -> None:
    """Make every later write through ``obj`` (and its nested records/arrays) raise."""
    obj.__dict__["_ro_"] = (exc, message)


# ctypes int types -> (bits, signed); c_bool is checked as an unsigned 1-bit int
_CT_INT_SHAPES: Dict[Any, Tuple[int, bool]] = {
    ctypes.c_int8: (8, True), ctypes.c_uint8: (8, False), ctypes.c_int16: (16, True),
    ctypes.c_uint16: (16, False), ctypes.c_int32: (32, True), ctypes.c_uint32: (32, False),
    ctypes.c_int64: (64, True), ctypes.c_uint64: (64, False), ctypes.c_bool: (1, False),
}
_CT_FLOATS = (ctypes.c_float, ctypes.c_double)

# what a field write checks: (bits, signed, bitfield) for an int, _FLOAT, or None
# (records, arrays, bytes, bitfield properties: checked where they are written)
_Check = Optional[Tuple[int, bool, bool]]
_FLOAT: Tuple[int, bool, bool] = (0, False, False)
_FLOAT32: Tuple[int, bool, bool] = (32, False, False)  # a C float: finite values must fit
_BOOL: Tuple[int, bool, bool] = (1, False, False)
_FLT_MAX = float.fromhex("0x1.fffffep+127")
_F32 = struct.Struct("=f")


def _field_checks(cls: Any) -> Dict[str, _Check]:
    """Every settable name of a ctypes record and how a write to it is checked (cached)."""
    checks: Optional[Dict[str, _Check]] = cls.__dict__.get("_btf_checks_")
    if checks is not None:
        return checks
    checks = {}
    anonymous = set(getattr(cls, "_anonymous_", ()))
    for name, ctype, *bits in getattr(cls, "_fields_", ()):
        if name in anonymous:
            checks.update(_field_checks(ctype))
            continue
        shape = _CT_INT_SHAPES.get(ctype)
        if ctype is ctypes.c_bool and not bits:
            checks[name] = _BOOL
        elif shape is not None:
            checks[name] = (bits[0], shape[1], True) if bits else (shape[0], shape[1], False)
        elif ctype is ctypes.c_float:
            checks[name] = _FLOAT32
        elif ctype in _CT_FLOATS:
            checks[name] = _FLOAT
        else:
            checks[name] = None
    for name in getattr(cls, "_btf_props_", {}):
        checks[name] = None
    cls._btf_checks_ = checks
    return checks


def _array_of(ctype: Any) -> Optional[Tuple[Any, int]]:
    """(element type, length) of a ctypes array type; None for any other type."""
    if isinstance(ctype, type) and issubclass(ctype, ctypes.Array):
        array: Any = ctype
        return array._type_, int(array._length_)
    return None


def _char_fields(cls: Any) -> Dict[str, Tuple[int, int]]:
    """The ``char`` array fields of a ctypes record: name -> (byte offset, length) (cached).

    Anonymous members' char arrays are included, at their offset in ``cls``.
    """
    chars: Optional[Dict[str, Tuple[int, int]]] = cls.__dict__.get("_btf_chars_")
    if chars is not None:
        return chars
    chars = {}
    anonymous = set(getattr(cls, "_anonymous_", ()))
    for name, ctype, *bits in getattr(cls, "_fields_", ()):
        if name in anonymous:
            base = getattr(cls, name).offset
            for sub, (off, n) in _char_fields(ctype).items():
                chars[sub] = (base + off, n)
        elif not bits:
            array = _array_of(ctype)
            if array is not None and array[0] is ctypes.c_char:
                chars[name] = (getattr(cls, name).offset, array[1])
    cls._btf_chars_ = chars
    return chars


def _float32_error(what: str, value: Any) -> ValueError:
    return ValueError(f"{what} = {value!r} does not fit a 32-bit float (finite values up to "
                      f"{_FLT_MAX!r} in magnitude)")


def _check_float32(value: Any, what: str) -> None:
    """Raise unless ``value`` (an int or a float) fits a C float: a finite value beyond
    FLT_MAX would silently become an infinity."""
    try:
        _F32.pack(value)  # OverflowError exactly when a finite value rounds to an infinity
    except (OverflowError, struct.error):  # struct.error: an int past even a double's range
        raise _float32_error(what, value) from None


def _chars_bytes(value: bytes, n: int, what: str) -> bytes:
    """The ``n`` bytes a ``char[n]`` gets for ``value``: its bytes, NUL-padded.

    Every byte given is kept (NULs inside too: a char array may hold binary
    data); bytes past ``n`` are refused unless they are all NUL (a C string
    that fills the array, with its terminator). ctypes alone would store only
    what comes before the first NUL.
    """
    size = len(value)
    if size > n:
        if value.count(0, n) != size - n:
            raise ValueError(f"{what} = {_validate.show(value[:n + 16])}"
                             f"{'...' if size > n + 16 else ''} does not fit char[{n}] "
                             f"({size} bytes; at most {n}, or NULs past them)")
        return value[:n]
    if size < n:
        return value + bytes(n - size)
    return value


def _title(cls: Any) -> str:
    """How an unknown-name message names a record class: ``struct task``, ``section '.bss'``."""
    return str(cls.__dict__.get("_btf_title_") or cls.__name__)


def _cname(cls: Any) -> str:
    """How a value message names a record class: its C name (``task``, ``.bss``)."""
    return str(cls.__dict__.get("_btf_cname_") or cls.__name__)


def check_value(ctype: Any, value: Any, what: str) -> None:
    """Raise unless ``value`` fits a field or element of ctypes type ``ctype`` exactly."""
    shape = _CT_INT_SHAPES.get(ctype)
    if ctype is ctypes.c_bool and value.__class__ is bool:
        return
    if shape is not None:
        _validate.check_int(value, what, *shape)
    elif ctype in _CT_FLOATS:
        if value.__class__ is bool or not isinstance(value, (int, float)):
            raise _validate.type_error(what, value, "a float")
        if ctype is ctypes.c_float:
            _check_float32(value, what)
        elif not isinstance(value, float):
            try:
                float(value)
            except OverflowError:  # an int past a double's range: ctypes' own error says
                raise ValueError(f"{what} = {value!r} does not fit a 64-bit float "
                                 "(a double)") from None  # neither field nor value


class _BtfRecord:
    """Helpers shared by the generated ctypes structs and unions.

    Every write is checked (:mod:`libbpf_py._validate`): an unknown name is an
    AttributeError with a close-match suggestion, an int that does not fit its
    field (or bitfield) a ValueError, a value of another type a TypeError;
    ctypes alone would drop the name or wrap the int.
    """

    # No instance layout of its own, and no weak references for the records: a map
    # reuses a record nobody holds any more (MapBase.spare in _speedups.c), which
    # a weak reference, not counted, could see change. BtfStruct/BtfUnion add the
    # __dict__ (the owner's read-only mark, _ro_); every generated class has
    # ``__slots__ = ()`` so that it adds no __weakref__.
    __slots__ = ()

    _btf_names_: Tuple[str, ...] = ()
    _btf_cnames_: Dict[str, str] = {}
    _btf_props_: Dict[str, Tuple[int, int, bool]] = {}

    def __reduce__(self) -> Any:
        # (copy, pickle) the bytes alone: ctypes' own takes the instance __dict__
        # too, and the _ro_ mark of a view would travel into its copy
        cls: Any = type(self)  # (a ctypes class: the mixin is always beside one)
        return (cls.from_buffer_copy, (bytes(self),))

    def _asdict(self) -> Dict[str, Any]:
        """The named fields (no padding), nested records as dicts."""
        out: Dict[str, Any] = {}
        for name in self._btf_names_:
            out[name] = to_python(getattr(self, name))
        return out

    def _unknown(self, name: str) -> AttributeError:
        cls = type(self)
        names = cls._btf_names_ or tuple(n for n in _field_checks(cls)
                                          if not n.startswith("_raw"))
        return _validate.unknown_name(_title(cls), name, names)

    def __getattr__(self, name: str) -> Any:
        # reached only when ctypes has no such field either
        if name.startswith("__") or name in ("_b_base_", "_ro_", "_btf_checks_"):
            raise AttributeError(name)
        raise self._unknown(name)

    def __setattr__(self, name: str, value: Any) -> None:
        _write_guard(self)
        cls = type(self)
        checks = cls.__dict__.get("_btf_checks_") or _field_checks(cls)
        try:
            check = checks[name]
        except KeyError:
            raise self._unknown(name) from None
        t = type(value)
        if check is not None:
            bits, signed, bitfield = check
            if check is _FLOAT:
                if t is not float:
                    check_value(ctypes.c_double, value, f"{_cname(cls)}.{name}")
            elif check is _FLOAT32:
                check_value(ctypes.c_float, value, f"{_cname(cls)}.{name}")
            elif check is _BOOL and t is bool:
                pass
            elif t is not int or not (-(1 << (bits - 1)) if signed else 0) <= value \
                    < (1 << (bits - 1 if signed else bits)):
                _validate.check_int(value, f"{_cname(cls)}.{name}", bits, signed,
                                    bitfield=bitfield)
            object.__setattr__(self, name, value)
            return
        chars = _char_fields(cls).get(name)
        if chars is not None:
            off, n = chars
            if t is not bytes:
                # ctypes' own "expected bytes, str found" names no field
                raise TypeError(f"{_cname(cls)}.{name} must be bytes (char[{n}]), "
                                f"not {t.__name__}")
            rec: Any = self
            ctypes.memmove(ctypes.addressof(rec) + off,
                           _chars_bytes(value, n, f"{_cname(cls)}.{name}"), n)
            return
        if t is int or t is float or t is bytes or t is bool:
            object.__setattr__(self, name, value)
            return
        if isinstance(value, Mapping):
            value = _record_from(type(getattr(self, name)), value)
        elif isinstance(value, (list, tuple)):
            current = getattr(self, name, None)
            if isinstance(current, ctypes.Array):
                value = _array_from(type(current), value, f"{_cname(cls)}.{name}")
            elif isinstance(current, _BtfRecord) and isinstance(value, tuple):
                # built here: ctypes would build it and turn its error into a RuntimeError
                value = type(current)(*value)
        super().__setattr__(name, value)

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={v!r}" for k, v in self._asdict().items())
        return f"{type(self).__name__}({body})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return bool(bytes(self) == bytes(other))

    __hash__ = None  # type: ignore[assignment]  # mutable


def to_python(value: Any) -> Any:
    """A plain Python value: records as dicts, arrays as lists, the rest unchanged."""
    if isinstance(value, _BtfRecord):
        return value._asdict()
    if isinstance(value, ctypes.Array):
        return [to_python(v) for v in value]
    return value


def _record_from(cls: Any, value: Mapping[str, Any]) -> Any:
    if not isinstance(cls, type) or not issubclass(cls, _BtfRecord):
        raise TypeError(f"cannot assign a dict to a {cls.__name__} field")
    names = set(_field_names(cls))
    unknown = [k for k in value if k not in names]
    if unknown:
        raise TypeError(f"{cls.__name__} has no field {unknown[0]!r} (fields: "
                        f"{', '.join(sorted(names))})")
    out = cls()
    for k, v in value.items():
        setattr(out, k, v)
    return out


def _array_from(cls: Any, value: Sequence[Any], what: str = "array") -> Any:
    if len(value) != cls._length_:
        raise ValueError(f"{what}: an array of {cls._length_} elements needs {cls._length_} "
                         f"values, got {len(value)}")
    out = cls()
    for i, v in enumerate(value):
        if isinstance(v, Mapping):
            v = _record_from(cls._type_, v)
        elif isinstance(v, (list, tuple)):
            v = _array_from(cls._type_, v, f"{what}[{i}]")
        else:
            check_value(cls._type_, v, f"{what}[{i}]")
        ctypes.Array.__setitem__(out, i, v)
    return out


def _slice_text(index: slice) -> str:
    """``1:3`` for ``slice(1, 3)``, as it was written."""
    text = ":".join("" if v is None else str(v) for v in (index.start, index.stop))
    return text if index.step is None else f"{text}:{index.step}"


class BtfArray(ctypes.Array):  # type: ignore[type-arg]
    """Base of the guarded ctypes arrays: element writes obey the owner's read-only mark."""

    _type_ = ctypes.c_ubyte
    _length_ = 0

    def __setitem__(self, index: Any, value: Any) -> None:
        _write_guard(self)
        if isinstance(index, slice):
            # every element built and checked as a single write is, before any is
            # written: ctypes refuses a list row ("expected ... instance, got list"),
            # turns a tuple row's range error into a RuntimeError and zero-fills a
            # short one
            where = range(*index.indices(self._length_))
            what = f"{type(self).__name__}[{_slice_text(index)}]"
            if isinstance(value, (Mapping, str)) or not isinstance(value, Iterable):
                raise TypeError(f"{what} takes a sequence of {len(where)} values, not "
                                f"{type(value).__name__}")
            values = list(value)
            if len(values) != len(where):
                raise ValueError(f"{what} takes {len(where)} values, got {len(values)}")
            value = [self._element(i, v) for i, v in zip(where, values)]
        else:
            value = self._element(index, value)
        super().__setitem__(index, value)

    def _element(self, index: int, value: Any) -> Any:
        """``value`` checked (or built, for a row or a record) as element ``index``."""
        elem = self._type_
        what = f"{type(self).__name__}[{index}]"
        if isinstance(value, Mapping):
            return _record_from(elem, value)
        if isinstance(value, (list, tuple)) and isinstance(elem, type) \
                and issubclass(elem, (ctypes.Array, _BtfRecord)):
            # a row of a nested array, or a record from a tuple, built (and checked)
            # here: ctypes refuses a list and turns a tuple's errors into RuntimeError
            return (_array_from(elem, value, what) if issubclass(elem, ctypes.Array)
                    else elem(*value))
        check_value(elem, value, what)
        return value

    def __repr__(self) -> str:
        return repr(to_python(self))


class BtfChars(ctypes.Array):  # type: ignore[type-arg]
    """Base of the guarded ``char`` arrays. As a record's field one reads as bytes
    (ctypes does that for any char array type), but a row of a 2-D char array
    (``names[0]`` of ``char names[2][4]``) is an array object of its own: its
    element, ``value`` and ``raw`` writes obey the owner's read-only mark like every
    other nested view (a plain ``c_char * n`` row wrote into a frozen .rodata
    snapshot or a destroyed skeleton's orphaned map)."""

    _type_ = ctypes.c_char
    _length_ = 0

    def __setitem__(self, index: Any, value: Any) -> None:
        _write_guard(self)
        super().__setitem__(index, value)

    def __setattr__(self, name: str, value: Any) -> None:
        _write_guard(self)  # ``value`` and ``raw`` (ctypes' setters) write the chars
        super().__setattr__(name, value)


_ARRAYS: Dict[Tuple[Any, int], Any] = {}


def array_type(elem: Any, count: int) -> Any:
    """``elem * count`` as a guarded array class (:class:`BtfArray`; :class:`BtfChars`
    for ``char``, which reads as bytes)."""
    key = (elem, count)
    cls = _ARRAYS.get(key)
    if cls is None and elem is ctypes.c_char:
        cls = _ARRAYS[key] = type(f"c_char_Array_{count}", (BtfChars,),
                                  {"_length_": count, "__module__": __name__})
    if cls is None:
        cls = _ARRAYS[key] = type(f"{elem.__name__}_Array_{count}", (BtfArray,),
                                  {"_type_": elem, "_length_": count,
                                   "__module__": __name__})
    return cls


def bitfield_property(bitoff: int, bits: int, signed: bool, doc: str = "",
                      name: str = "bitfield") -> Any:
    """A property reading/writing ``bits`` bits at bit ``bitoff`` of a little-endian record.

    Used for bitfields ctypes cannot lay out exactly as BTF says. ``name`` is
    the field's name in error messages.
    """
    start = bitoff // 8
    shift = bitoff % 8
    nbytes = (shift + bits + 7) // 8
    mask = (1 << bits) - 1
    lo, hi = _validate.int_bounds(bits, signed)
    buf_t = ctypes.c_ubyte * nbytes

    def get(self: Any) -> int:
        raw = int.from_bytes(ctypes.string_at(ctypes.addressof(self) + start, nbytes), "little")
        v = (raw >> shift) & mask
        if signed and v >> (bits - 1):
            v -= 1 << bits
        return v

    def put(self: Any, value: int) -> None:
        _write_guard(self)
        if type(value) is not int or not lo <= value <= hi:
            value = _validate.check_int(value, f"{_cname(type(self))}.{name}", bits, signed,
                                        bitfield=True)
        buf = buf_t.from_address(ctypes.addressof(self) + start)
        raw = int.from_bytes(bytes(buf), "little")
        raw = (raw & ~(mask << shift)) | ((value & mask) << shift)
        buf[:] = list(raw.to_bytes(nbytes, "little"))

    return property(get, put, doc=doc or f"bitfield: {bits} bits at bit {bitoff}")


class BtfStruct(_BtfRecord, ctypes.Structure):
    """Base of the ctypes structs built from BTF (``_pack_ = 1``, explicit padding)."""

    __slots__ = ("__dict__",)


class BtfUnion(_BtfRecord, ctypes.Union):
    """Base of the ctypes unions built from BTF."""

    __slots__ = ("__dict__",)


class StructCodec(Codec):
    """A struct/union as an instance of its ctypes class (or a dict of its fields).

    Reads copy the C bytes into a new instance of the class (its fields are
    read from those bytes when accessed: nothing is decoded ahead). A dict is
    packed by the plan of the class (:func:`_plan_for`) when every value is
    one it takes as is; anything else builds the record through its checked
    ``__setattr__``, which raises the errors.
    """

    def __init__(self, cls: Type[Any], what: str) -> None:
        super().__init__(ctypes.sizeof(cls), what)
        self.cls = cls
        self._names = frozenset(_field_names(cls))
        self._plan = _plan_for(cls)
        self._full = _full_packer(self._plan) if self._plan else None
        self.cplan = (_c_plan(self._plan, self._full, self.size)
                      if self._plan is not None and self._full is not None else None)
        self._copy = cls.from_buffer_copy
        self.record = cls
        self.accepts = (f"a {cls.__name__} (a ctypes record), a dict of its fields "
                        "or a bytes-like object")

    def encode(self, obj: Any) -> Any:
        t = type(obj)
        if t is self.cls:
            return ffi.from_buffer(obj)  # the record's own bytes, read in place
        if t is dict:  # (to_bytes' fast path, one call less: the update path's)
            cplan = self.cplan
            if cplan is not None:
                data = cplan.pack(obj)
                if data is not None:
                    return ffi.from_buffer(data)
            full = self._full
            packed = full(obj) if full is not None else None
            if packed is None and self._plan is not None:
                packed = _pack(self._plan, obj)
            if packed is not None:
                return ffi.from_buffer(packed.to_bytes(self.size, "little"))
        return ffi.from_buffer(self.to_bytes(obj))

    def decode(self, buf: Any) -> Any:
        return self._copy(ffi.buffer(buf, self.size))

    def to_bytes(self, obj: Any) -> Any:
        plan = self._plan
        if plan is not None and type(obj) is dict:
            cplan = self.cplan
            if cplan is not None:
                data = cplan.pack(obj)
                if data is not None:
                    return data
            full = self._full
            packed = full(obj) if full is not None else None
            if packed is None:
                packed = _pack(plan, obj)
            if packed is not None:
                return packed.to_bytes(self.size, "little")
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
    out.extend(getattr(cls, "_btf_props_", {}))
    return out


# -- the dict fast path of StructCodec ----------------------------------------------------
# A dict given for a whole struct value is packed straight into one little-endian int
# (then its bytes), field by field, by a plan made once per record class, instead of
# building a ctypes record through the checked __setattr__ of each field. The plan holds
# the fields it can pack exactly as the checked path stores them (ints, bitfields, _Bool,
# floats, char arrays, arrays of ints, nested structs), each entry checked against that
# path on probe values when the plan is made. A field outside the plan, or a value the
# plan does not take as is (another type, out of range, an IntEnum, bytes longer than
# the array...), sends the whole dict the checked way, which raises the error or stores
# what it stores: the errors are the checked path's, by construction. Unions (their
# members share bytes) and big-endian hosts have no plan.

_P_INT, _P_BOOL, _P_FLOAT, _P_CHARS, _P_INTS, _P_RECORD = range(6)
_F64 = struct.Struct("=d")

#: field -> (kind, bit shift, a, b, c); by kind: INT (lowest, highest, mask), BOOL (-),
#: FLOAT (struct pack, -, -), CHARS (length, -, -), INTS (count, (lowest, highest, mask,
#: bits), -), RECORD (plan, class, -)
_Plan = Dict[str, Tuple[Any, ...]]


def _pack(plan: _Plan, obj: Dict[str, Any]) -> Optional[int]:
    """The bytes of ``obj`` (a dict of fields) as a little-endian int, or None when a
    field or a value is not one the plan takes as is."""
    acc = 0
    for name, value in obj.items():
        entry = plan.get(name)
        if entry is None:
            return None
        kind, shift, a, b, c = entry
        t = type(value)
        if kind == _P_INT:
            if t is not int or not a <= value <= b:
                return None
            acc |= (value & c) << shift
        elif kind == _P_CHARS:
            if t is not bytes or len(value) > a:
                return None
            acc |= int.from_bytes(value, "little") << shift
        elif kind == _P_BOOL:
            if t is not bool and (t is not int or not 0 <= value <= 1):
                return None
            if value:
                acc |= 1 << shift
        elif kind == _P_FLOAT:
            if t is not float and t is not int:
                return None
            try:
                acc |= int.from_bytes(a(value), "little") << shift
            except (OverflowError, struct.error):  # out of range: the checked path says so
                return None
        elif kind == _P_INTS:
            if (t is not list and t is not tuple) or len(value) != a:
                return None
            lo, hi, mask, bits = b
            for item in value:
                if type(item) is not int or not lo <= item <= hi:
                    return None
                acc |= (item & mask) << shift
                shift += bits
        else:  # _P_RECORD
            if t is dict:
                sub = _pack(a, value)
                if sub is None:
                    return None
                acc |= sub << shift
            elif t is b:
                acc |= int.from_bytes(bytes(value), "little") << shift
            else:
                return None
    return acc


def _full_packer(plan: _Plan) -> Optional[Any]:
    """A function packing a dict of exactly every field of ``plan`` (the usual way to
    write a whole value), compiled once per class; None when the plan has fields other
    than ints, bitfields, _Bool and char arrays, or more than 64 of them.

    Like :func:`_pack` it returns the value as a little-endian int, or None for a dict
    it does not take as is (then :func:`_pack` or the checked path decide). The source
    holds only ints and local names made here: the field names (from BTF) are default
    arguments, never source text.
    """
    if not plan or len(plan) > 64:
        return None
    names = list(plan)
    args = ", ".join(f"k{i}=k{i}" for i in range(len(names)))
    head = [f"def pack(obj, _len=len, _type=type, _int=int, _bytes=bytes, "
            f"_from=int.from_bytes, {args}):",
            f"    if _len(obj) != {len(names)}:",
            "        return None",
            "    try:"]
    head += [f"        v{i} = obj[k{i}]" for i in range(len(names))]
    head += ["    except KeyError:", "        return None"]
    checks: List[str] = []
    terms: List[str] = []
    for i, name in enumerate(names):
        kind, shift, a, b, c = plan[name]
        if kind == _P_INT:
            checks.append(f"_type(v{i}) is not _int or not {int(a)} <= v{i} <= {int(b)}")
            value = f"(v{i} & {int(c)})" if a < 0 else f"v{i}"
        elif kind == _P_CHARS:
            checks.append(f"_type(v{i}) is not _bytes or _len(v{i}) > {int(a)}")
            value = f"_from(v{i}, 'little')"
        elif kind == _P_BOOL:
            checks.append(f"not (v{i} is True or v{i} is False or "
                          f"(_type(v{i}) is _int and 0 <= v{i} <= 1))")
            value = f"(1 if v{i} else 0)"
        else:
            return None
        terms.append(f"({value} << {int(shift)})" if shift else value)
    body = [f"    if {check}:\n        return None" for check in checks]
    source = "\n".join(head + body + ["    return " + " | ".join(terms)]) + "\n"
    namespace: Dict[str, Any] = {f"k{i}": name for i, name in enumerate(names)}
    exec(compile(source, "<libbpf_py._codec packer>", "exec"), namespace)
    pack = namespace["pack"]
    for which in (0, 1):  # it packs as _pack does (itself checked against the checked path)
        probe = {name: _probes(entry)[which] for name, entry in plan.items()}
        if pack(probe) != _pack(plan, probe):
            return None
    return pack


def _c_plan(plan: _Plan, full: Any, size: int) -> Optional[Any]:
    """The full packer's plan as a ``_speedups.Plan`` (the same packing in C, no
    Python per field), or None when it cannot be one or packs a probe otherwise
    than ``full`` (itself checked against the checked path)."""
    entries = []
    for name, (kind, shift, a, b, c) in plan.items():
        if kind == _P_INT:
            entries.append((name, 0, shift, int(c).bit_length(), a, b))
        elif kind == _P_BOOL:
            entries.append((name, 1, shift, 1, 0, 1))
        elif kind == _P_CHARS:
            entries.append((name, 2, shift, a, 0, 0))
        else:
            return None
    try:
        cplan = Plan(size, tuple(entries))
    except ValueError:
        return None
    for which in (0, 1):
        probe = {name: _probes(entry)[which] for name, entry in plan.items()}
        want = full(probe)
        if want is None or cplan.pack(probe) != want.to_bytes(size, "little"):
            return None
    return cplan


def _checked_int(cls: Any, fields: Dict[str, Any]) -> int:
    """What the checked path stores for ``fields``, as a little-endian int."""
    return int.from_bytes(bytes(cls(**fields)), "little")


def _probes(entry: Tuple[Any, ...]) -> List[Any]:
    """Values that show whether a plan entry packs as the checked path stores."""
    kind, _, a, b, _ = entry
    if kind == _P_INT:
        return [b, a, 1, -1 if a < 0 else b]
    if kind == _P_BOOL:
        return [True, 1]
    if kind == _P_FLOAT:
        return [1.5, -2]
    if kind == _P_CHARS:
        return [bytes(i % 255 + 1 for i in range(a)), b"\x5a"]
    if kind == _P_INTS:
        lo, hi, _, _ = b
        return [[hi] * a, [lo] * a, [min(i, hi) for i in range(a)]]
    sub: _Plan = a
    return [{}, {name: _probes(e)[0] for name, e in sub.items()}]


def _plan_entries(cls: Any) -> Iterator[Tuple[str, Tuple[Any, ...]]]:
    """The candidate plan entries of a ctypes struct, before they are checked."""
    anonymous = set(getattr(cls, "_anonymous_", ()))
    for name, ctype, *bits in cls._fields_:
        if name in anonymous or name.startswith("_raw"):
            continue
        shift = getattr(cls, name).offset * 8
        shape = _CT_INT_SHAPES.get(ctype)
        if bits:
            if shape is None or ctype is ctypes.c_bool:
                continue
            lo, hi = _validate.int_bounds(bits[0], shape[1])
            try:  # where ctypes put it: the bits an all-ones value sets
                ones = _checked_int(cls, {name: -1 if shape[1] else hi})
            except (TypeError, ValueError, AttributeError):
                continue
            yield name, (_P_INT, (ones & -ones).bit_length() - 1, lo, hi, (1 << bits[0]) - 1)
        elif ctype is ctypes.c_bool:
            yield name, (_P_BOOL, shift, 0, 0, 0)
        elif shape is not None:
            lo, hi = _validate.int_bounds(*shape)
            yield name, (_P_INT, shift, lo, hi, (1 << shape[0]) - 1)
        elif ctype in _CT_FLOATS:
            yield name, (_P_FLOAT, shift, (_F32 if ctype is ctypes.c_float else _F64).pack,
                         0, 0)
        elif _array_of(ctype) is not None:
            elem, length = _array_of(ctype) or (None, 0)
            eshape = _CT_INT_SHAPES.get(elem)
            if elem is ctypes.c_char:
                yield name, (_P_CHARS, shift, length, 0, 0)
            elif eshape is not None and elem is not ctypes.c_bool:
                lo, hi = _validate.int_bounds(*eshape)
                yield name, (_P_INTS, shift, length, (lo, hi, (1 << eshape[0]) - 1, eshape[0]),
                             0)
        elif isinstance(ctype, type) and issubclass(ctype, BtfStruct):
            sub = _plan_for(ctype)
            if sub is not None:
                yield name, (_P_RECORD, shift, sub, ctype, 0)
    for name, (bitoff, nbits, signed) in getattr(cls, "_btf_props_", {}).items():
        lo, hi = _validate.int_bounds(nbits, signed)
        yield name, (_P_INT, bitoff, lo, hi, (1 << nbits) - 1)


def _plan_for(cls: Any) -> Optional[_Plan]:
    """The dict plan of a ctypes struct class (cached on it), or None when it has none."""
    plan: Optional[_Plan] = cls.__dict__.get("_btf_plan_")
    if plan is not None:
        return plan or None
    plan = {}
    if _BYTEORDER == "little" and issubclass(cls, BtfStruct):
        for name, entry in _plan_entries(cls):
            try:
                same = all(_pack({name: entry}, {name: v}) == _checked_int(cls, {name: v})
                           for v in _probes(entry))
            except (TypeError, ValueError, AttributeError, OverflowError):
                same = False
            if same:
                plan[name] = entry
    cls._btf_plan_ = plan
    return plan or None


# -- BTF -------------------------------------------------------------------------------
# The BTF is read through libbpf_py.btf (BtfType and its accessors), the one reader of
# BTF records in the package; what follows only turns types into codecs and classes.

_K_INT = BtfKind.INT
_K_PTR = BtfKind.PTR
_K_ARRAY = BtfKind.ARRAY
_K_STRUCT = BtfKind.STRUCT
_K_UNION = BtfKind.UNION
_K_ENUM = BtfKind.ENUM
_K_ENUM64 = BtfKind.ENUM64
_K_FLOAT = BtfKind.FLOAT
_K_DATASEC = BtfKind.DATASEC
_K_VAR = BtfKind.VAR
_RECORDS = frozenset({_K_STRUCT, _K_UNION, _K_DATASEC})
_ENUMS = frozenset({_K_ENUM, _K_ENUM64})

_CT_INTS: Dict[Tuple[int, bool], Any] = {
    (1, False): ctypes.c_uint8, (1, True): ctypes.c_int8,
    (2, False): ctypes.c_uint16, (2, True): ctypes.c_int16,
    (4, False): ctypes.c_uint32, (4, True): ctypes.c_int32,
    (8, False): ctypes.c_uint64, (8, True): ctypes.c_int64,
}

#: (name, type, bit offset of the value, bitfield size) of a record member
_Member = Tuple[str, BtfType, int, int]


def _is_char(t: BtfType) -> bool:
    """A 1-byte INT that is a character: ``char``, ``signed char``, ``unsigned char``."""
    if t.kind != _K_INT or t.size != 1:
        return False
    return t.int_info.is_char or t.name in ("char", "signed char", "unsigned char")


def _is_plain_char(t: BtfType) -> bool:
    """C ``char`` itself (a string), not ``__u8`` / ``signed char`` (small ints)."""
    if t.kind != _K_INT or t.size != 1:
        return False
    return t.int_info.is_char or t.name == "char"


def _size(t: BtfType) -> int:
    """``t.resolved_size``, or -1 when libbpf cannot size the type (no codec fits it)."""
    try:
        return t.resolved_size
    except LibbpfError:
        return -1


class _BtfReader:
    """Builds codecs and ctypes classes from one BTF, memoized by type id.

    ``btf`` is a :class:`~libbpf_py.btf.Btf`, or a ``struct btf *`` the caller
    frees after the call (borrowed for it). A type the BTF does not have, or
    cannot size, raises ValueError.
    """

    def __init__(self, btf: Any, map_name: str) -> None:
        self.btf: Btf = btf if isinstance(btf, Btf) else Btf._borrow(
            btf, f"BTF of {map_name!r}")
        self.map_name = map_name
        self.ctypes_cache: Dict[int, Any] = {}

    def _missing(self, exc: BaseException) -> ValueError:
        return ValueError(f"BTF of map {self.map_name!r}: {exc}")

    def codec(self, tid: int, what: str) -> Codec:
        """The codec of type ``tid``."""
        try:
            return self._codec(self.btf[tid], what)
        except (IndexError, LibbpfError) as exc:
            raise self._missing(exc) from None

    def ctype(self, tid: int) -> Any:
        """A ctypes type of exactly the size of type ``tid``, or None."""
        try:
            return self._ctype(self.btf[tid])
        except (IndexError, LibbpfError) as exc:
            raise self._missing(exc) from None

    # -- Python codecs ----------------------------------------------------------------

    def _codec(self, t: BtfType, what: str) -> Codec:
        t = t.resolve()
        kind = t.kind
        size = _size(t)
        if kind == _K_INT:
            info = t.int_info
            if size == 1 and info.is_bool and info.offset == 0:
                return BoolCodec(what)
            if size in _INT_CTYPES and info.offset == 0 and info.bits == size * 8:
                return IntCodec(size, what, signed=info.is_signed)
        elif kind in _ENUMS:
            if size in _INT_CTYPES:
                return IntCodec(size, what, signed=t.signed)
        elif kind == _K_PTR:
            return IntCodec(8, what)
        elif kind == _K_FLOAT:
            if size in (4, 8):
                return FloatCodec(size, what)
        elif kind in _RECORDS:
            cls = self._ctype(t)
            if cls is not None and ctypes.sizeof(cls) == size:
                return StructCodec(cls, what)
        elif kind == _K_ARRAY:
            arr = t.array
            if _is_char(arr.type.resolve()):
                return BytesCodec(size, what)
            elem = self._codec(arr.type, f"element of {what}")
            if elem.size * arr.nelems == size:
                return ArrayCodec(elem, arr.nelems, what)
        return BytesCodec(size, what)

    # -- ctypes classes -----------------------------------------------------------------

    def _ctype(self, t: BtfType) -> Any:
        t = t.resolve()
        tid = t.id
        if tid in self.ctypes_cache:
            return self.ctypes_cache[tid]
        self.ctypes_cache[tid] = None  # a cycle (through a pointer it cannot be) ends here
        result = self._make_ctype(t)
        if result is not None and ctypes.sizeof(result) != _size(t):
            result = None
        self.ctypes_cache[tid] = result
        return result

    def _make_ctype(self, t: BtfType) -> Any:
        kind = t.kind
        size = _size(t) if t.id else 0
        if kind == _K_INT:
            info = t.int_info
            if size == 1 and info.is_bool:
                return ctypes.c_bool
            return _CT_INTS.get((size, info.is_signed), ctypes.c_ubyte * size)
        if kind in _ENUMS:
            return _CT_INTS.get((size, t.signed), ctypes.c_ubyte * size)
        if kind == _K_PTR:
            return ctypes.c_uint64
        if kind == _K_FLOAT:
            return {4: ctypes.c_float, 8: ctypes.c_double}.get(size, ctypes.c_ubyte * size)
        if kind == _K_ARRAY:
            arr = t.array
            elem = (ctypes.c_char if _is_plain_char(arr.type.resolve())
                    else self._ctype(arr.type))
            if elem is None:
                return ctypes.c_ubyte * size
            return array_type(elem, arr.nelems)
        if kind in _RECORDS:
            return self._record(t, kind, size)
        return ctypes.c_ubyte * size

    @staticmethod
    def _members(t: BtfType, kind: BtfKind) -> List[_Member]:
        """(name, type, bit offset, bitfield size) of a struct/union/datasec.

        A datasec lists its non-static variables only (static ones are not
        exposed, as in bpftool's skeletons; their bytes stay padding).
        """
        if kind == _K_DATASEC:
            out: List[_Member] = []
            for info in t.secinfos:
                var = info.type
                if var.kind != _K_VAR or var.linkage == "static":
                    continue
                vtype = var.type
                assert vtype is not None
                out.append((var.name, vtype, info.offset * 8, 0))
            return out
        return [(m.name, m.type, m.value_bit_offset, m.bitfield_size) for m in t.members]

    @staticmethod
    def _int_shape(t: BtfType) -> Optional[Tuple[int, bool]]:
        """(size, signed) of an int or enum type (the storage of a bitfield)."""
        t = t.resolve()
        kind = t.kind
        if kind == _K_INT or kind in _ENUMS:
            return int(t.size or 0), t.signed
        return None

    def _record(self, t: BtfType, kind: BtfKind, size: int) -> Any:
        cname = t.name
        pyname = _identifier(cname) or f"anon_{t.id}"
        members = sorted(self._members(t, kind), key=lambda m: m[2])
        cls = None
        if kind != _K_UNION and _BYTEORDER == "little":
            cls = self._record_layout(pyname, kind, size, members, ctypes_bits=True)
        if cls is None:
            cls = self._record_layout(pyname, kind, size, members, ctypes_bits=False)
        if cls is not None:
            shown = cname or pyname
            title = {_K_STRUCT: f"struct {shown}", _K_UNION: f"union {shown}"}.get(
                kind, f"section {_validate.show(shown)}")
            cls._btf_title_ = title
            cls._btf_cname_ = shown
        return cls

    def _record_layout(self, pyname: str, kind: BtfKind, size: int,
                       members: List[_Member], ctypes_bits: bool) -> Any:
        """The ctypes class, bitfields as ctypes bitfields or as properties.

        Returns None when ``ctypes_bits`` is asked and ctypes would not place
        every field exactly where BTF says (checked on the built class).
        """
        base: Type[Any] = BtfUnion if kind == _K_UNION else BtfStruct
        fields: List[Tuple[Any, ...]] = []
        names: List[str] = []      # visible names, in member order
        cnames: Dict[str, str] = {}
        anonymous: List[str] = []
        props: Dict[str, Tuple[int, int, bool]] = {}
        expect: Dict[str, int] = {}  # field -> byte offset, checked after build
        bit_expect: Dict[str, Tuple[int, int, bool]] = {}
        taken: set[str] = set()
        pos = 0
        npad = 0

        def unique(name: str, index: int) -> str:
            # a C member may be named like what the class itself needs: ctypes' and
            # our _sunder_ settings (_fields_, _btf_names_), dunders (__class__,
            # __init__) and the methods (from_buffer_copy, _asdict); as a class
            # attribute it would break the class or hide the member
            if not name or name in taken or name.startswith("_raw") or \
                    hasattr(base, name) or (name.startswith("_") and name.endswith("_")):
                name = f"{name or '_anon'}_{index}"
            taken.add(name)
            return name

        def pad_to(off: int) -> None:
            nonlocal pos
            if off > pos:
                fields.append((f"_raw{pos}", ctypes.c_ubyte * (off - pos)))
                pos = off

        i = 0
        while i < len(members):
            cmname, mtype, bitoff, bitsize = members[i]
            index = i
            i += 1
            mname = _identifier(cmname)
            if bitsize or bitoff % 8:
                shape = self._int_shape(mtype)
                if shape is None:
                    continue
                unit, signed = shape
                bits = bitsize or unit * 8
                mname = unique(mname, index)
                cnames[mname] = cmname
                names.append(mname)
                if not ctypes_bits or unit not in (1, 2, 4, 8):
                    props[mname] = (bitoff, bits, signed)
                    continue
                # one storage unit of the member's type, aligned to its size
                ustart = (bitoff // (unit * 8)) * unit * 8
                group = [(mname, bitoff, bits, signed)]
                while i < len(members):
                    n2, t2, b2, s2 = members[i]
                    sh2 = self._int_shape(t2) if (s2 or b2 % 8) else None
                    if sh2 is None or sh2[0] != unit or b2 < ustart or \
                            b2 + (s2 or unit * 8) > ustart + unit * 8:
                        break
                    nm2 = unique(_identifier(n2), i)
                    cnames[nm2] = n2
                    names.append(nm2)
                    group.append((nm2, b2, s2 or unit * 8, sh2[1]))
                    i += 1
                if bitoff + bits > ustart + unit * 8 or ustart // 8 < pos:
                    # the unit overlaps a field before it: these bits are properties
                    for gname, gbit, gbits, gsigned in group:
                        props[gname] = (gbit, gbits, gsigned)
                    continue
                pad_to(ustart // 8)
                cur = ustart
                for gname, gbit, gbits, gsigned in group:
                    if gbit < cur:
                        return None
                    if gbit > cur:
                        fields.append((f"_rawbits{npad}", _CT_INTS[(unit, False)], gbit - cur))
                        npad += 1
                    fields.append((gname, _CT_INTS[(unit, gsigned)], gbits))
                    bit_expect[gname] = (gbit, gbits, gsigned)
                    cur = gbit + gbits
                if cur < ustart + unit * 8:
                    fields.append((f"_rawbits{npad}", _CT_INTS[(unit, False)],
                                   ustart + unit * 8 - cur))
                    npad += 1
                pos = ustart // 8 + unit
                continue
            off = bitoff // 8
            ct = self._ctype(mtype)
            if ct is None:
                continue
            if kind == _K_UNION:
                off = 0
            elif off < pos:
                if ctypes_bits and bit_expect:
                    return None  # overlaps a bitfield unit: use properties
                continue
            else:
                pad_to(off)
            if not cmname:
                mname = unique("", index)
                if mtype.resolve().kind in (_K_STRUCT, _K_UNION):
                    anonymous.append(mname)
                    names.extend(getattr(ct, "_btf_names_", ()))
                else:
                    names.append(mname)
            else:
                mname = unique(mname, index)
                names.append(mname)
                cnames[mname] = cmname
            fields.append((mname, ct))
            expect[mname] = off
            if kind != _K_UNION:
                pos = off + ctypes.sizeof(ct)
        if kind == _K_UNION:
            fields.append(("_raw0", ctypes.c_ubyte * size))
        elif size > pos:
            fields.append((f"_raw{pos}", ctypes.c_ubyte * (size - pos)))
        ns: Dict[str, Any] = {"_pack_": 1, "_layout_": "ms", "_fields_": fields,
                              "_btf_names_": tuple(names), "_btf_cnames_": cnames,
                              "_btf_props_": dict(props), "__module__": "libbpf_py.btf_types",
                              "__slots__": ()}
        for pname, (pbit, pbits, psigned) in props.items():
            ns[pname] = bitfield_property(pbit, pbits, psigned, name=pname)
        if anonymous:
            ns["_anonymous_"] = anonymous
        cls = type(pyname, (base,), ns)
        if ctypes.sizeof(cls) != size:
            return None if ctypes_bits else cls
        for fname, off in expect.items():
            if getattr(cls, fname).offset != off:
                return None if ctypes_bits else cls
        for fname, (bit, bits, signed) in bit_expect.items():
            probe = cls()
            setattr(probe, fname, -1 if signed else (1 << bits) - 1)
            if int.from_bytes(bytes(probe), "little") != ((1 << bits) - 1) << bit:
                return None
        return cls


def identifier_chars(name: str) -> str:
    """``name`` as Python spells it, each character no identifier may hold as ``_``.

    Python reads identifiers NFKC-normalized (the ligature ``\ufb01`` is ``fi``), so the
    name is normalized first: two names that Python would read as one are then equal
    here and told apart where they are made unique. ``isalnum`` is not the test:
    ``\u00bd`` (one half) is numeric but no identifier character, and a generated
    module naming it would not compile.
    """
    name = unicodedata.normalize("NFKC", name)
    return "".join(c if ("_" + c).isidentifier() else "_" for c in name)


def _identifier(name: str) -> str:
    """A Python identifier for a C name: invalid characters to ``_``, keywords get ``_``."""
    if not name.isidentifier() or unicodedata.normalize("NFKC", name) != name:
        name = identifier_chars(name)
        if name and not name.isidentifier():  # starts with a digit or a combining mark
            name = "_" + name
    if keyword.iskeyword(name):
        name += "_"
    return name


def btf_codec(btf: Any, type_id: int, size: int, what: str, map_name: str) -> Optional[Codec]:
    """The codec for BTF type ``type_id`` of ``btf`` (a :class:`~libbpf_py.btf.Btf`, or a
    ``struct btf *`` the caller frees after the call), or None when it cannot be used.

    ``size`` is what the kernel says the key or value is: a BTF type of
    another size is not trusted.
    """
    if not type_id or (not isinstance(btf, Btf) and btf == ffi.NULL):
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
        # Reads of plain ints and floats: every slot in one precompiled unpack.
        code = None
        if type(elem) is IntCodec:
            code = _STRUCT_INTS[(elem.size, elem.signed)]
        elif type(elem) is FloatCodec:
            code = "f" if elem.size == 4 else "d"
        pad = f"{self.stride - elem.size}x" if self.stride > elem.size else ""
        self._unpack = struct.Struct("=" + (code + pad) * ncpus).unpack if code else None
        self._copy = elem.cls.from_buffer_copy if type(elem) is StructCodec else None

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
        if self._unpack is not None:
            return list(self._unpack(data))
        stride = self.stride
        if self._copy is not None:
            copy = self._copy
            return [copy(data, i * stride) for i in range(self.ncpus)]
        n, elem = self.elem.size, self.elem
        return [elem.from_bytes(data[i * stride:i * stride + n]) for i in range(self.ncpus)]

    def decode(self, buf: Any) -> Any:
        unpack = self._unpack
        if unpack is not None:
            return list(unpack(ffi.buffer(buf, self.size)))
        return self.from_bytes(ffi.buffer(buf, self.size))

