"""Refuse, before an old libbpf opens an object, the BTF that newer libbpf refuses itself.

libbpf before 1.4 parses an object's ``.BTF`` section checking its sizes only:
a type id past the last type, a name offset past the string section or a FUNC
that does not point at a FUNC_PROTO is then followed blindly, and
``bpf_object__open`` crashes the process (a NULL dereference while it reads the
``.maps`` definitions). libbpf's ``btf_sanity_check`` (btf.c, "libbpf: Add basic
BTF sanity validation") rejects such BTF at parse time; it is in 1.4.6, 1.5.0
and 1.7.0 (read from their sources), so 1.4.0 is the bound used here.

On an older runtime, :func:`check_image` finds ``.BTF`` with a pure-Python walk
of the ELF section headers and applies the same rules, no more (see
``btf_validate_type``): every type's name offset inside the string section; the
referenced id of PTR, TYPEDEF, VOLATILE, CONST, RESTRICT, VAR, DECL_TAG,
TYPE_TAG, FUNC, ARRAY (element and index), members, parameters and DATASEC
entries a valid id (0, void, included); member, parameter and enumerator names
inside the string section; FUNC pointing at a FUNC_PROTO. BTF whose header,
string section or type records libbpf's own parser already refuses is left to
libbpf (it answers those the same in every version), and so is an ELF too
broken to walk (libelf answers for it). No cycle check: libbpf's open does not
follow reference chains, and newer libbpf does not refuse cycles either.

What newer libbpf does with BTF that fails validation (``bpf_object__init_btf``):
it fails the open with EINVAL when the object needs BTF (a ``.maps`` or
``.struct_ops`` section), and otherwise warns and opens the object without
BTF, also dropping ``.BTF.ext`` -- so without CO-RE relocations: the programs
then load with the field offsets they were compiled with, which is silently
wrong on another kernel. libbpf_py on an old runtime refuses both cases with
the same EINVAL: a clear error instead of a program that reads the wrong
fields, and opening the user's own bytes rather than a rewritten copy. The
message says which of the two newer libbpf would do.

On libbpf >= 1.4 the rules above are libbpf's own, and its answers are kept.

One check runs on every libbpf (:func:`mod_cycle`): a chain of typedefs and type
modifiers (const, volatile, restrict, type tags) that leads back to itself. No
libbpf refuses it, and its ``skip_mods_and_typedefs`` follows such a chain
forever: ``bpf_object__open`` of an object whose ``.maps`` definition has one
never returns (1.1.2, 1.4.6 and 1.7.0 alike). The kernel refuses such BTF too
("Loop detected"). Cost: one pass over the type words, ~40-60 us per object of
the test suite.
"""

from __future__ import annotations

import array
import errno
import struct
import sys
from typing import Any, List, Optional, Tuple

from ._binding import RUNTIME_VERSION
from ._call import make_error
from .errors import LibbpfError

__all__ = ["ACTIVE", "FIRST_VALIDATING", "btf_problem", "btf_section", "check_image",
           "mod_cycle", "raise_for"]

#: the first libbpf that validates BTF when it parses it
FIRST_VALIDATING = (1, 4)
#: whether this process's libbpf needs the guard
ACTIVE = RUNTIME_VERSION < FIRST_VALIDATING

_ET_REL = 1
_EM_BPF = 247
_SHT_PROGBITS = 1
_SHT_SYMTAB = 2
_SHT_STRTAB = 3
_SHT_NOBITS = 8
_SHT_LLVM_ADDRSIG = 0x6FFF4C03
_SHN_XINDEX = 0xFFFF
_BTF_MAGIC = 0xEB9F
_BTF_MAX_STR_OFFSET = 0x7FFFFFFF
#: sections that make libbpf need BTF (libbpf_needs_btf): BTF-defined maps, struct_ops
_NEEDS_BTF = (b".maps", b".struct_ops", b".struct_ops.link")

# BTF kinds (linux/btf.h)
_INT, _PTR, _ARRAY, _STRUCT, _UNION, _ENUM, _FWD, _TYPEDEF = 1, 2, 3, 4, 5, 6, 7, 8
_VOLATILE, _CONST, _RESTRICT, _FUNC, _FUNC_PROTO, _VAR, _DATASEC = 9, 10, 11, 12, 13, 14, 15
_FLOAT, _DECL_TAG, _TYPE_TAG, _ENUM64 = 16, 17, 18, 19
_REFERS = frozenset({_PTR, _TYPEDEF, _VOLATILE, _CONST, _RESTRICT, _VAR, _DECL_TAG,
                     _TYPE_TAG, _FUNC})
#: the kinds libbpf's skip_mods_and_typedefs walks through
_MODS = frozenset({_TYPEDEF, _VOLATILE, _CONST, _RESTRICT, _TYPE_TAG})
_KIND_NAMES = {_TYPEDEF: "TYPEDEF", _VOLATILE: "VOLATILE", _CONST: "CONST",
               _RESTRICT: "RESTRICT", _TYPE_TAG: "TYPE_TAG"}
#: bytes after the 12-byte common header: (fixed, per vlen item); None: libbpf refuses the kind
_EXTRA = {0: None, _INT: (4, 0), _PTR: (0, 0), _ARRAY: (12, 0), _STRUCT: (0, 12),
          _UNION: (0, 12), _ENUM: (0, 8), _FWD: (0, 0), _TYPEDEF: (0, 0), _VOLATILE: (0, 0),
          _CONST: (0, 0), _RESTRICT: (0, 0), _FUNC: (0, 0), _FUNC_PROTO: (0, 8),
          _VAR: (4, 0), _DATASEC: (0, 12), _FLOAT: (0, 0), _DECL_TAG: (4, 0),
          _TYPE_TAG: (0, 0), _ENUM64: (0, 12)}


def btf_section(image: bytes) -> Optional[Tuple[int, int, bool]]:
    """``(offset, size, needs_btf)`` of the ``.BTF`` section libbpf would parse.

    None when there is none, or when the ELF is too broken to tell (libbpf's
    libelf refuses it on its own). ``needs_btf``: a section makes libbpf
    require BTF. Every offset is checked against the image's length.
    """
    n = len(image)
    if n < 64 or image[:4] != b"\x7fELF" or image[4] != 2:  # libbpf reads ELF64 only
        return None
    # bpf_object__elf_init refuses what is not a BPF relocatable file in host byte order
    order = {1: "<", 2: ">"}.get(image[5])
    if order != ("<" if sys.byteorder == "little" else ">"):
        return None
    e_type, e_machine = struct.unpack_from(order + "HH", image, 0x10)
    if e_type != _ET_REL or e_machine not in (0, _EM_BPF):
        return None
    header = struct.Struct(order + "IIQQQQIIQQ")
    shoff, = struct.unpack_from(order + "Q", image, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from(order + "HHH", image, 0x3A)
    if shoff == 0 or shentsize != 64 or shoff > n - 64:
        return None
    if shnum == 0 or shstrndx == _SHN_XINDEX:  # the real values are in section 0
        _, _, _, _, _, size0, link0, _, _, _ = header.unpack_from(image, shoff)
        shnum = shnum or size0
        if shstrndx == _SHN_XINDEX:
            shstrndx = link0
    if shnum == 0 or shnum > (n - shoff) // 64 or shstrndx >= shnum:
        return None
    _, _, _, _, str_off, str_size, _, _, _, _ = header.unpack_from(image, shoff + 64 * shstrndx)
    if str_off > n or str_size > n - str_off:
        return None
    strtab = image[str_off:str_off + str_size]
    found: Optional[Tuple[int, int]] = None
    needs = False
    symtabs = 0
    table = memoryview(image)[shoff + 64:shoff + 64 * shnum]
    # bpf_object__elf_collect fails before it parses BTF when a section has no name,
    # when there is not exactly one symbol table, or when a section it reads (one
    # ignore_elf_section does not skip) has its data past the end of the file
    for name_off, sh_type, _, _, off, size, _, _, _, _ in header.iter_unpack(table):
        end = strtab.find(b"\0", name_off)
        if end < 0:
            return None
        outside = sh_type != _SHT_NOBITS and (off > n or size > n - off)
        if sh_type == _SHT_SYMTAB:
            symtabs += 1
            if outside:
                return None
        name = strtab[name_off:end]
        if _ignored(sh_type, size, name):
            continue
        if outside:
            return None
        if name in _NEEDS_BTF:
            needs = True
        elif name == b".BTF":
            if sh_type == _SHT_NOBITS:
                return None  # no data: not parsed
            found = (off, size)  # the last one wins, as in libbpf's elf_collect
    if found is None or symtabs != 1:
        return None
    return found[0], found[1], needs


def _ignored(sh_type: int, size: int, name: bytes) -> bool:
    """libbpf's ignore_elf_section (the same in 1.1 and 1.4): sections it never reads."""
    if sh_type in (_SHT_STRTAB, _SHT_LLVM_ADDRSIG):
        return True
    if sh_type == _SHT_PROGBITS and size == 0 and name == b".text":
        return True
    if name.startswith(b".rel"):
        rest = name[4:]
        if rest.startswith(b".debug_") or rest in (b".BTF", b".BTF.ext"):
            return True
    return name.startswith(b".debug_")


def _btf_structure(data: bytes) -> Optional[Tuple[str, int, List[int], List[int], bool]]:
    """``(byte order, string section length, offset of each type, kind of each type,
    valid)``, or None if libbpf's size checks (``btf_parse_hdr``, ``btf_parse_str_sec``,
    ``btf_parse_type_sec``: the same from 1.1 to 1.7) refuse ``data``. ``valid``:
    ``btf_sanity_check`` passes (one pass over the type words, for speed;
    :func:`btf_problem` then says what fails)."""
    if len(data) < 24:
        return None
    magic, = struct.unpack_from("<H", data, 0)
    order = "<" if magic == _BTF_MAGIC else ">" if magic == 0x9FEB else None
    if order is None:
        return None
    _, _, _, hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from(
        order + "HBBIIIII", data, 0)
    if order == ">" and hdr_len != 24:
        return None
    if hdr_len > len(data):
        return None
    meta = len(data) - hdr_len
    if meta < str_off + str_len or type_off + type_len > str_off or type_off % 4:
        return None
    strs = data[hdr_len + str_off:hdr_len + str_off + str_len]
    if not strs or str_len - 1 > _BTF_MAX_STR_OFFSET or strs[-1] or strs[0]:
        return None
    if type_len % 4:  # every record is a whole number of words: libbpf finds one cut
        return None
    base = hdr_len + type_off
    w = array.array("I", data[base:base + type_len])
    if (order == "<") != (sys.byteorder == "little"):
        w.byteswap()
    nwords = len(w)
    starts: List[int] = []
    kinds: List[int] = []
    names = array.array("I")  # arrays: their slices are appended without an int per word
    refs = array.array("I")
    funcs: List[int] = []
    i = 0
    while i + 3 <= nwords:
        info = w[i + 1]
        kind = (info >> 24) & 0x1F
        extra = _EXTRA.get(kind)
        if extra is None:
            return None  # libbpf: "Unsupported BTF_KIND"
        end = i + 3 + (extra[0] + (info & 0xFFFF) * extra[1]) // 4
        if end > nwords:
            return None  # libbpf: "BTF type [%d] is malformed"
        starts.append(base + 4 * i)
        kinds.append(kind)
        names.append(w[i])
        if kind in _REFERS:
            refs.append(w[i + 2])
            if kind == _FUNC:
                funcs.append(w[i + 2])
        elif kind == _ARRAY:
            refs += w[i + 3:i + 5]
        elif kind == _STRUCT or kind == _UNION:
            names += w[i + 3:end:3]
            refs += w[i + 4:end:3]
        elif kind == _FUNC_PROTO:
            names += w[i + 3:end:2]
            refs += w[i + 4:end:2]
        elif kind == _ENUM:
            names += w[i + 3:end:2]
        elif kind == _ENUM64:
            names += w[i + 3:end:3]
        elif kind == _DATASEC:
            refs += w[i + 3:end:3]
        i = end
    if i != nwords:
        return None  # libbpf: "BTF types data is malformed"
    count = len(kinds) + 1
    valid = (max(names, default=0) < str_len and max(refs, default=0) < count
             and all(ref and kinds[ref - 1] == _FUNC_PROTO for ref in funcs))
    return order, str_len, starts, kinds, valid


_Parsed = Optional[Tuple[str, int, List[int], List[int], bool]]
_UNPARSED: Any = object()


def btf_problem(data: bytes, parsed: _Parsed = _UNPARSED) -> Optional[str]:
    """What libbpf >= 1.4's ``btf_sanity_check`` refuses in raw BTF ``data``, or None.

    None too when libbpf's size checks, which every libbpf has, already refuse it.
    ``parsed``: ``_btf_structure(data)``, if already made.
    """
    if parsed is _UNPARSED:
        parsed = _btf_structure(data)
    if parsed is None or parsed[4]:
        return None
    order, str_len, starts, kinds, _ = parsed
    count = len(starts) + 1  # ids 0 (void) .. count - 1
    # btf_validate_type, type by type, in libbpf's order: its message for the first
    for tid, (pos, kind) in enumerate(zip(starts, kinds), 1):
        name_off, info, ref = struct.unpack_from(order + "III", data, pos)
        if name_off >= str_len:
            return f"type [{tid}]: invalid type name (string offset {name_off})"
        vlen = info & 0xFFFF
        if kind in _REFERS or kind == _ARRAY:
            for r in ((ref,) if kind in _REFERS
                      else struct.unpack_from(order + "II", data, pos + 12)):
                if r >= count:
                    return f"type [{tid}]: invalid referenced type ID {r}"
            if kind == _FUNC and (ref == 0 or kinds[ref - 1] != _FUNC_PROTO):
                return f"type [{tid}]: referenced type [{ref}] is not FUNC_PROTO"
            continue
        step = {_STRUCT: 3, _UNION: 3, _FUNC_PROTO: 2, _ENUM: 2, _ENUM64: 3,
                _DATASEC: 3}.get(kind)
        if step is None:
            continue
        what = {_STRUCT: "field", _UNION: "field", _FUNC_PROTO: "param"}.get(kind, "enum")
        items = struct.unpack_from(order + "I" * (step * vlen), data, pos + 12)
        for k in range(0, len(items), step):
            if kind == _DATASEC:
                r = items[k]
            else:
                if items[k] >= str_len:
                    return f"type [{tid}]: invalid {what} name (string offset {items[k]})"
                if kind in (_ENUM, _ENUM64):
                    continue
                r = items[k + 1]
            if r >= count:
                return f"type [{tid}]: invalid referenced type ID {r}"
    return "invalid BTF"  # not reached: _btf_structure found a problem above


def mod_cycle(data: bytes, parsed: _Parsed = _UNPARSED) -> Optional[str]:
    """A chain of typedefs and modifiers in raw BTF ``data`` that leads back to itself
    (which libbpf would follow forever), or None. None too for BTF that libbpf's size
    checks or ``btf_sanity_check`` refuse (ids out of range: nothing to follow)."""
    if parsed is _UNPARSED:
        parsed = _btf_structure(data)
    if parsed is None or not parsed[4]:
        return None
    order, _, starts, kinds, _ = parsed
    nxt = {tid: struct.unpack_from(order + "I", data, starts[tid - 1] + 8)[0]
           for tid, kind in enumerate(kinds, 1) if kind in _MODS}
    walked: dict[int, int] = {}  # type id -> the walk that reached it
    for first in nxt:
        tid = first
        while tid in nxt and tid not in walked:
            walked[tid] = first
            tid = nxt[tid]
        if tid in nxt and walked[tid] == first:  # met this walk's own path: a loop
            loop = [tid]
            while nxt[loop[-1]] != tid:
                loop.append(nxt[loop[-1]])
            shown = " -> ".join(f"[{i}] {_KIND_NAMES[kinds[i - 1]]}" for i in loop)
            return (f"type [{tid}]: a chain of typedefs and modifiers leads back to itself "
                    f"({shown} -> [{tid}])")
    return None


def check_image(image: bytes, what: str) -> None:
    """Raise LibbpfError (EINVAL) if this libbpf would parse ``image``'s BTF unchecked
    and newer libbpf refuses it (libbpf < 1.4 only), or if any libbpf would loop
    forever on it (:func:`mod_cycle`)."""
    raise_for(image, what, ACTIVE)


def raise_for(image: bytes, what: str, sanity: bool = True) -> None:
    """:func:`check_image` whatever the runtime (the tests call it directly);
    ``sanity``: apply newer libbpf's ``btf_sanity_check`` rules too."""
    sec = btf_section(image)
    if sec is None:
        return
    off, size, needs = sec
    data = image[off:off + size]
    parsed = _btf_structure(data)
    loop = mod_cycle(data, parsed)
    if loop is not None:
        exc: LibbpfError = make_error(
            errno.EINVAL, what,
            f"corrupt .BTF section: {loop}: libbpf would follow it forever (the kernel "
            "refuses such BTF too)")
        raise exc
    if not sanity:
        return
    problem = btf_problem(data, parsed)
    if problem is None:
        return
    newer = ("libbpf >= 1.4 refuses it too: the object needs BTF" if needs else
             "libbpf >= 1.4 would open the object without BTF, so without CO-RE relocations")
    exc = make_error(
        errno.EINVAL, what,
        f"corrupt .BTF section: {problem}; libbpf {RUNTIME_VERSION[0]}.{RUNTIME_VERSION[1]} "
        f"does not check BTF and would crash on it ({newer})")
    raise exc
