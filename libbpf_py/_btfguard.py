"""Refuse, before an old libbpf opens an object, the BTF that newer libbpf refuses itself.

libbpf before 1.4 parses an object's ``.BTF`` section checking its sizes only:
a type id past the last type, a name offset past the string section or a FUNC
that does not point at a FUNC_PROTO is then followed blindly, and
``bpf_object__open`` crashes the process (a NULL dereference while it reads the
``.maps`` definitions). libbpf's ``btf_sanity_check`` (btf.c, "libbpf: Add basic
BTF sanity validation") rejects such BTF at parse time; it is in 1.4.6, 1.5.0
and 1.7.0 (read from their sources), so 1.4.0 is the bound used here.

On an older runtime, :func:`check_image` finds ``.BTF`` with a pure-Python walk
of the ELF section headers (not pyelftools, which the rest of the package reads
ELF files with: its import alone, ~20 ms, is fifty times a whole open + load of a
small object, and this walk runs on every open) and applies the same rules, no more (see
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

This module is the one place that decides what BTF libbpf can follow. Besides
opening objects, :meth:`Btf.dump_c <libbpf_py.btf.Btf.dump_c>` asks it
(:func:`dump_problem`, on the raw form of the parsed BTF, on every libbpf):
libbpf's ``btf_dump`` also follows pointers, arrays and function prototypes,
so there any cycle of references without a struct or union in it is refused.
Both cycle rules are one walk (``_cycle``) over a different set of kinds.
"""

from __future__ import annotations

import array
import errno
import os
import struct
import sys
from typing import Any, Callable, Dict, FrozenSet, List, NamedTuple, Optional, Sequence, Tuple

from ._binding import RUNTIME_VERSION
from ._call import make_error
from .errors import LibbpfError

__all__ = ["ACTIVE", "FIRST_VALIDATING", "btf_problem", "btf_section", "check_btf", "check_image",
           "dump_problem", "file_btf", "mod_cycle", "raise_for"]

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
#: the kinds btf_dump may meet again on a cycle (a struct or union is declared first)
_NOT_COMPOSITE = frozenset(range(1, 20)) - {_STRUCT, _UNION}
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
    view = memoryview(image)
    return _locate(lambda off, size: view[off:off + size], len(image))


def file_btf(fd: int) -> Optional[Tuple[bytes, bool]]:
    """``(.BTF section, needs_btf)`` of the ELF file open as ``fd``, as
    :func:`btf_section` finds it, or None. Reads only the ELF header, the section
    headers, the section-name string table and ``.BTF`` (``os.pread``), so a large
    object costs its BTF only. OSError as ``os.pread`` raises it."""
    n = os.fstat(fd).st_size
    sec = _locate(lambda off, size: os.pread(fd, size, off), n)
    if sec is None:
        return None
    off, size, needs = sec
    data = os.pread(fd, size, off)
    if len(data) != size:  # the file shrank under us: libbpf will say what it finds
        return None
    return data, needs


#: the ELF64 file header up to e_shstrndx, in each byte order
_EHDR = {order: struct.Struct(order + "4sBB10xHHIQQQIHHHHHH") for order in "<>"}
_NATIVE = "<" if sys.byteorder == "little" else ">"
#: the byte at EI_DATA (ELFDATA2LSB, ELFDATA2MSB) of an ELF in host byte order
_NATIVE_DATA = 1 if _NATIVE == "<" else 2


def _locate(read: Callable[[int, int], Any], n: int) -> Optional[Tuple[int, int, bool]]:
    """:func:`btf_section` of an ELF image of ``n`` bytes, of which ``read(offset,
    size)`` returns a part (shorter only if the image is shorter than ``n``).

    The section headers are read as columns (``memoryview.cast``, the file is in
    host byte order), and the sections whose names matter are found by the offsets
    of those names in the string table, not by decoding every name."""
    head = read(0, 64)
    if n < 64 or len(head) != 64:
        return None
    (magic, elf_class, data_order, e_type, e_machine, _, _, _, shoff, _, _, _, _,
     shentsize, shnum, shstrndx) = _EHDR[_NATIVE].unpack(head)
    # libbpf reads ELF64 only; bpf_object__elf_init refuses what is not a BPF
    # relocatable file in host byte order
    if magic != b"\x7fELF" or elf_class != 2 or data_order != _NATIVE_DATA:
        return None
    if e_type != _ET_REL or e_machine not in (0, _EM_BPF):
        return None
    if shoff == 0 or shentsize != 64 or shoff > n - 64:
        return None
    if shnum == 0 or shstrndx == _SHN_XINDEX:  # the real values are in section 0
        first = read(shoff, 64)
        if len(first) != 64:
            return None
        size0, link0 = struct.unpack_from(_NATIVE + "QI", first, 32)
        shnum = shnum or size0
        if shstrndx == _SHN_XINDEX:
            shstrndx = link0
    if shnum == 0 or shnum > (n - shoff) // 64 or shstrndx >= shnum:
        return None
    table = memoryview(read(shoff, 64 * shnum))
    if len(table) != 64 * shnum:
        return None
    words, quads = table.cast("I"), table.cast("Q")
    str_off, str_size = quads[8 * shstrndx + 3], quads[8 * shstrndx + 4]
    if str_off > n or str_size > n - str_off:
        return None
    strtab = bytes(read(str_off, str_size))
    if len(strtab) != str_size:
        return None
    # section 0 is not a section; of the others, columns: sh_name, sh_type, sh_offset,
    # sh_size
    names, types = words[16::16], words[17::16]
    offs, sizes = quads[11::8], quads[12::8]
    # bpf_object__elf_collect fails before it parses BTF when a section has no name
    # (its name offset has no NUL at or after it), when there is not exactly one
    # symbol table, or when a section it reads (one ignore_elf_section does not
    # skip) has its data past the end of the file
    if max(names, default=0) > strtab.rfind(b"\0"):
        return None
    if types.tolist().count(_SHT_SYMTAB) != 1:
        return None
    if max(map(int.__add__, offs, sizes), default=0) > n:  # rare: look closer
        for name_off, sh_type, off, size in zip(names, types, offs, sizes):
            if sh_type == _SHT_NOBITS or (off <= n and size <= n - off):
                continue
            if sh_type == _SHT_SYMTAB:
                return None
            if not _ignored(sh_type, size, strtab[name_off:strtab.index(b"\0", name_off)]):
                return None
    # the names asked about, by their offsets (a name may be the tail of another)
    wanted: Dict[int, bytes] = {}
    for wanted_name in (b".BTF", *_NEEDS_BTF):
        key = wanted_name + b"\0"
        at = strtab.find(key)
        while at >= 0:
            wanted[at] = wanted_name
            at = strtab.find(key, at + 1)
    found: Optional[Tuple[int, int]] = None
    needs = False
    for index, name_off in enumerate(names):
        name = wanted.get(name_off)
        if name is None:
            continue
        sh_type = types[index]
        if sh_type in (_SHT_STRTAB, _SHT_LLVM_ADDRSIG):  # ignore_elf_section skips them
            continue
        if name != b".BTF":
            needs = True
        elif sh_type == _SHT_NOBITS:
            return None  # no data: not parsed
        else:
            found = (offs[index], sizes[index])  # the last one wins, as in elf_collect
    if found is None:
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


class _Structure(NamedTuple):
    """What one pass over raw BTF finds (:func:`_btf_structure`)."""

    order: str          # struct byte order of the data
    str_len: int        # length of the string section
    starts: List[int]   # byte offset in the data of each type record
    kinds: List[int]    # kind of each type
    max_name: int       # the largest name offset of a type, member, parameter or enumerator
    max_ref: int        # the largest type id btf_sanity_check checks
    max_ret: int        # the largest FUNC_PROTO return type id (no libbpf checks those)
    funcs: List[int]    # what each FUNC refers to


def _btf_structure(data: bytes, split: bool = False) -> Optional[_Structure]:
    """One pass over raw BTF ``data``, or None if libbpf's size checks (``btf_parse_hdr``,
    ``btf_parse_str_sec``, ``btf_parse_type_sec``: the same from 1.1 to 1.7) refuse it.
    ``split``: ``data`` is the part a split BTF adds to its base (its string section
    may then be empty, and need not start with an empty string)."""
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
    if not (split and not strs):
        if not strs or str_len - 1 > _BTF_MAX_STR_OFFSET or strs[-1] or (strs[0] and not split):
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
    rets = array.array("I")
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
            rets.append(w[i + 2])
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
    return _Structure(order, str_len, starts, kinds, max(names, default=0),
                      max(refs, default=0), max(rets, default=0), funcs)


def _sane(s: _Structure) -> bool:
    """``btf_sanity_check`` passes BTF that is not split (the fast path of
    :func:`btf_problem`, which then says what fails)."""
    count = len(s.kinds) + 1
    return (s.max_name < s.str_len and s.max_ref < count
            and all(ref and s.kinds[ref - 1] == _FUNC_PROTO for ref in s.funcs))


_UNPARSED: Any = object()


def btf_problem(data: bytes, parsed: Optional[_Structure] = _UNPARSED) -> Optional[str]:
    """What libbpf >= 1.4's ``btf_sanity_check`` refuses in raw BTF ``data``, or None.

    None too when libbpf's size checks, which every libbpf has, already refuse it.
    ``parsed``: ``_btf_structure(data)``, if already made.
    """
    if parsed is _UNPARSED:
        parsed = _btf_structure(data)
    if parsed is None or _sane(parsed):
        return None
    order, str_len, starts, kinds = parsed[:4]
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


def _record(data: bytes, s: _Structure, index: int) -> Tuple[List[int], List[int]]:
    """(name offsets, referenced type ids) of the type at ``index`` in ``s``, in
    record order: the type's own first, then its members', parameters' or entries'."""
    order, pos, kind = s.order, s.starts[index], s.kinds[index]
    name_off, info, ref = struct.unpack_from(order + "III", data, pos)
    vlen = info & 0xFFFF
    names, refs = [name_off], []
    if kind in _REFERS or kind == _FUNC_PROTO:
        refs.append(ref)
    if kind == _ARRAY:
        refs += struct.unpack_from(order + "II", data, pos + 12)
    elif kind in (_STRUCT, _UNION, _ENUM64, _DATASEC):
        items = struct.unpack_from(order + "I" * (3 * vlen), data, pos + 12)
        if kind != _DATASEC:
            names += items[0::3]
        if kind != _ENUM64:
            refs += items[0::3] if kind == _DATASEC else items[1::3]
    elif kind in (_FUNC_PROTO, _ENUM):
        items = struct.unpack_from(order + "I" * (2 * vlen), data, pos + 12)
        names += items[0::2]
        if kind == _FUNC_PROTO:
            refs += items[1::2]
    return names, refs


def _cycle(data: bytes, s: _Structure, first_id: int,
           through: FrozenSet[int]) -> Optional[List[int]]:
    """A cycle of references among the types of ``s`` whose kinds are all in
    ``through`` (type ids, the first id met again first), or None. Every kind's
    references count: its type, array element and index, members, parameters,
    DATASEC entries. ``first_id``: the id of the first type (1, or a split BTF's
    first after its base: references into the base cannot lead back)."""
    kinds, starts = s.kinds, s.starts
    n = len(kinds)
    word = struct.Struct(s.order + "I").unpack_from
    edges: Dict[int, List[int]] = {}
    for index in [i for i, kind in enumerate(kinds) if kind in through]:
        if kinds[index] in _REFERS:  # one reference, in the type word: no more to decode
            refs: Sequence[int] = word(data, starts[index] + 8)
        else:
            refs = _record(data, s, index)[1]
        edges[index] = [r - first_id for r in refs
                        if 0 <= r - first_id < n and kinds[r - first_id] in through]
    # an iterative depth-first walk: a reference back to a type on the path is a cycle
    state: Dict[int, int] = {}  # 1: on the walk's path, 2: done
    for root in edges:
        if root in state:
            continue
        path = [root]
        todo = [iter(edges[root])]
        state[root] = 1
        while todo:
            nxt = next(todo[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                todo.pop()
                continue
            seen = state.get(nxt)
            if seen == 1:
                return [i + first_id for i in path[path.index(nxt):]]
            if seen is None:
                state[nxt] = 1
                path.append(nxt)
                todo.append(iter(edges[nxt]))
    return None


def mod_cycle(data: bytes, parsed: Optional[_Structure] = _UNPARSED) -> Optional[str]:
    """A chain of typedefs and modifiers in raw BTF ``data`` that leads back to itself
    (which libbpf would follow forever), or None. None too for BTF that libbpf's size
    checks or ``btf_sanity_check`` refuse (ids out of range: nothing to follow)."""
    if parsed is _UNPARSED:
        parsed = _btf_structure(data)
    if parsed is None or not _sane(parsed):
        return None
    loop = _cycle(data, parsed, 1, _MODS)
    if loop is None:
        return None
    kinds = parsed.kinds
    shown = " -> ".join(f"[{i}] {_KIND_NAMES[kinds[i - 1]]}" for i in loop)
    return (f"type [{loop[0]}]: a chain of typedefs and modifiers leads back to itself "
            f"({shown} -> [{loop[0]}])")


def dump_problem(data: bytes, first_id: int = 1,
                 name_ok: Optional[Callable[[int], bool]] = None) -> Optional[str]:
    """What makes libbpf's ``btf_dump`` crash or recurse without end on the BTF whose
    raw form is ``data``, or None: a type id past the last type (FUNC_PROTO return
    types included, which no libbpf checks), a name past the string section, or a
    cycle of references with no struct or union in it (a typedef, pointer, array or
    function prototype that leads back to itself; a struct or union is declared
    before it is pointed to, so cycles through one are fine). The kernel refuses
    all three.

    ``first_id``: for a split BTF, the id of its first type (``data`` is then the
    part it adds, whose base has been checked already). ``name_ok``: whether libbpf
    resolves a name offset (for split BTF, whose offsets continue its base's); by
    default, an offset inside ``data``'s string section. The offsets libbpf
    resolves form one range from 0, so the largest one decides.
    """
    s = _btf_structure(data, split=first_id > 1)
    if s is None:
        return "BTF libbpf_py cannot read (libbpf's own size checks would refuse it)"
    if name_ok is None:
        str_len = s.str_len
        name_ok = lambda off: off < str_len  # noqa: E731
    end = first_id + len(s.kinds)  # ids 0 .. end - 1
    if not name_ok(s.max_name) or max(s.max_ref, s.max_ret) >= end:
        for index in range(len(s.kinds)):  # the first type at fault, as libbpf would say
            names, refs = _record(data, s, index)
            for off in names:
                if not name_ok(off):
                    return (f"type [{index + first_id}] names string offset {off}, "
                            "past the string section")
            for ref in refs:
                if ref >= end:
                    return f"type [{index + first_id}] refers to type id {ref} (ids 0..{end - 1})"
    loop = _cycle(data, s, first_id, _NOT_COMPOSITE)
    if loop is None:
        return None
    return (f"type [{loop[0]}] refers back to itself through "
            + " -> ".join(f"[{i}]" for i in [*loop[1:], loop[0]])
            + " with no struct or union between")


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
    check_btf(image[off:off + size], needs, what, sanity)


def check_btf(data: bytes, needs: bool, what: str, sanity: bool = ACTIVE) -> None:
    """:func:`raise_for` on an object's ``.BTF`` section, ``data``, found with
    :func:`btf_section` or :func:`file_btf` (``needs``: its ``needs_btf``)."""
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
