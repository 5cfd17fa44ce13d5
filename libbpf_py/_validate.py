"""The one place a Python value is checked before it is written into C or kernel memory.

Every module that hands a Python value to C goes through here, so that every
wrong value fails the same way, with the same words:

* ints (plain or bitfields): :func:`check_int` / :func:`range_error`.
  ``TypeError`` for anything but an ``int`` (``bool`` and ``float`` included:
  they would be converted silently), ``ValueError`` when it does not fit::

      ValueError: task.pid = 8589934592 does not fit an unsigned 32-bit int (range 0..4294967295)

* strings that reach C as a ``char *`` (paths, names): :func:`cstr`, which
  refuses an embedded NUL (C would cut the string there) and names the
  argument.
* C strings coming back (names used as keys): :func:`from_c` decodes UTF-8
  with ``surrogateescape``, so a name that is not UTF-8 still works and
  :func:`cstr` gives the very same bytes back to C; :func:`show` is the name
  for a repr or an error message (bytes that are not UTF-8 as ``\\xff``).
* attribute names: :func:`unknown_name` is the ``AttributeError`` for a name
  a record or section does not have, with a close-match suggestion.

A leaf module: the standard library only.
"""

from __future__ import annotations

import os
import re
from typing import Any, Iterable, Tuple, Union

#: what every path argument of the package accepts (one definition for all modules)
PathLike = Union[str, "os.PathLike[str]"]

__all__ = ["INT_MAX", "check_bool", "check_fd", "check_int", "cstr", "from_c", "int_bounds",
           "int_kind", "range_error", "show", "type_error", "unknown_name"]

INT_MAX = (1 << 31) - 1


def int_bounds(bits: int, signed: bool) -> Tuple[int, int]:
    """(lowest, highest) value of a ``bits``-bit int."""
    if signed:
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def int_kind(bits: int, signed: bool, bitfield: bool = False) -> str:
    """What the C side is, in words: ``an unsigned 32-bit int``, ``a signed 3-bit bitfield``."""
    kind = "signed" if signed else "unsigned"
    noun = "bitfield" if bitfield else "int"
    article = "an" if kind == "unsigned" else "a"
    return f"{article} {kind} {bits}-bit {noun}"


def range_error(what: str, value: int, bits: int, signed: bool,
                bitfield: bool = False) -> ValueError:
    """The ValueError for ``value`` out of range of a ``bits``-bit (bit)field."""
    lo, hi = int_bounds(bits, signed)
    return ValueError(f"{what} = {value} does not fit {int_kind(bits, signed, bitfield)} "
                      f"(range {lo}..{hi})")


def type_error(what: str, value: object, expected: str = "an int") -> TypeError:
    """The TypeError for a value of the wrong type."""
    return TypeError(f"{what} must be {expected}, not {type(value).__name__}")


def check_int(value: object, what: str, bits: int = 32, signed: bool = False, *,
              bitfield: bool = False) -> int:
    """``value`` as an int that fits ``bits`` bits; TypeError / ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise type_error(what, value)
    # the int it is (an IntEnum / IntFlag as a plain int), never what an int subclass's
    # __int__ says: int(value) checked and returned that, while cffi writes the value
    number = int.__int__(value)
    lo, hi = int_bounds(bits, signed)
    if not lo <= number <= hi:
        raise range_error(what, number, bits, signed, bitfield)
    return number


def check_bool(value: object, what: str) -> bool:
    """A C ``bool`` setting: ``True``/``False``, 0 or 1 (what a ``_Bool`` field takes).
    ``bool(value)`` would read ``"no"``, ``"false"`` or ``[0]`` as true and ``None`` as
    false without a word."""
    if value.__class__ is bool:
        return bool(value)
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, int):
        raise ValueError(f"{what} = {value} is not a bool (True/False, 0 or 1)")
    raise type_error(what, value, "a bool")


def check_fd(value: object, what: str = "fd") -> int:
    """A file descriptor: an int in 0..INT_MAX (C's ``int``)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise type_error(what, value, "an int file descriptor")
    if not 0 <= value <= INT_MAX:
        raise ValueError(f"{what} = {value} does not fit a file descriptor "
                         f"(range 0..{INT_MAX})")
    return int.__int__(value)


def cstr(value: object, what: str, *, path: bool = False, empty: bool = True) -> bytes:
    """The bytes C gets for a name (``str``/``bytes``) or, with ``path``, a path.

    ``str`` is encoded as UTF-8 with ``surrogateescape`` (what :func:`from_c`
    and ``os.fsdecode`` give back), ``bytes`` pass as they are, ``os.PathLike``
    through ``os.fsencode`` when ``path`` is true. An embedded NUL raises
    ValueError: C would silently use only what comes before it.
    """
    if isinstance(value, str):
        try:
            data = value.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError as exc:  # a lone surrogate outside U+DC80..U+DCFF
            raise ValueError(f"{what} {show(value)} cannot be encoded for C: {exc.reason} "
                             f"at index {exc.start}") from None
    elif isinstance(value, (bytes, bytearray)):
        data = bytes(value)
    elif path and isinstance(value, os.PathLike):
        data = os.fsencode(value)
    else:
        raise type_error(what, value, "a path (str, bytes or os.PathLike)" if path
                         else "a str")
    nul = data.find(b"\0")
    if nul >= 0:
        raise ValueError(f"{what} contains a NUL byte at offset {nul} ({show(data)}): "
                         "C would cut it there")
    if not data and not empty:
        raise ValueError(f"{what} is empty")
    return data


def from_c(data: bytes) -> str:
    """A C string (a name) as str; bytes that are not UTF-8 survive (surrogateescape)."""
    return data.decode("utf-8", "surrogateescape")


_SURROGATE = re.compile(r"(?<!\\)((?:\\\\)*)\\udc([89a-f][0-9a-f])")


def show(name: Any) -> str:
    """``repr(name)`` for messages, bytes that are not UTF-8 shown as ``\\xff``."""
    if isinstance(name, (bytes, bytearray)):
        name = bytes(name).decode("utf-8", "surrogateescape")
    text = repr(name)
    if "\\udc" in text:
        text = _SURROGATE.sub(r"\1\\x\2", text)
    return text


def unknown_name(owner: str, name: str, known: Iterable[str]) -> AttributeError:
    """AttributeError for ``name`` not in ``known``, with a close match if there is one."""
    fields = list(known)
    import difflib  # here: only an error needs it, and it costs ~1.5 ms of import time

    close = difflib.get_close_matches(name, fields, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    listed = ", ".join(fields) if fields else "none"
    return AttributeError(f"{owner} has no field {name!r}{hint} (fields: {listed})")
