"""Editing the section headers of a little-endian ELF64 BPF object, for bad-input tests.

Only what the tests need: the sections by name (header offset, type, file offset,
size) and writing one field of one header. No validation: the point is to make
objects that lie.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Dict, List, Tuple

_SHDR = struct.Struct("<IIQQQQIIQQ")  # Elf64_Shdr
#: field name -> byte offset inside Elf64_Shdr, and its struct format
SHDR_FIELDS = {"sh_name": (0, "<I"), "sh_type": (4, "<I"), "sh_flags": (8, "<Q"),
               "sh_addr": (16, "<Q"), "sh_offset": (24, "<Q"), "sh_size": (32, "<Q"),
               "sh_link": (40, "<I"), "sh_info": (44, "<I"), "sh_addralign": (48, "<Q"),
               "sh_entsize": (56, "<Q")}


@dataclass(frozen=True)
class Section:
    index: int
    name: str
    header: int  # file offset of its Elf64_Shdr
    type: int
    offset: int
    size: int


def sections(data: bytes) -> Dict[str, Section]:
    """The sections of an ELF64 LE image by name (the first of each name)."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError("not a little-endian ELF64 image")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    heads = [_SHDR.unpack_from(data, shoff + i * shentsize) for i in range(shnum)]
    strtab = heads[shstrndx]
    names = data[strtab[4]:strtab[4] + strtab[5]]
    out: Dict[str, Section] = {}
    for i, h in enumerate(heads):
        end = names.find(b"\0", h[0])
        name = names[h[0]:end].decode("latin-1")
        out.setdefault(name, Section(i, name, shoff + i * shentsize, h[1], h[4], h[5]))
    return out


def set_field(data: bytes, section: str, field: str, value: int) -> bytes:
    """``data`` with one header field of ``section`` replaced."""
    sec = sections(data)[section]
    off, fmt = SHDR_FIELDS[field]
    out = bytearray(data)
    struct.pack_into(fmt, out, sec.header + off, value)
    return bytes(out)


#: bytes after the 12-byte btf_type record, per kind: (fixed, per vlen item)
_BTF_EXTRA = {1: (4, 0), 3: (12, 0), 4: (0, 12), 5: (0, 12), 6: (0, 8), 13: (0, 8), 14: (4, 0),
              15: (0, 12), 17: (4, 0), 19: (0, 12)}


def btf_records(data: bytes) -> List[Tuple[int, int, int, int]]:
    """The types of the ``.BTF`` section: (type id, kind, vlen, file offset of the record)."""
    sec = sections(data)[".BTF"]
    base = sec.offset
    hdr_len, type_off, type_len = struct.unpack_from("<III", data, base + 4)
    pos = base + hdr_len + type_off
    end = pos + type_len
    out = []
    tid = 1
    while pos < end:
        info, = struct.unpack_from("<I", data, pos + 4)
        kind, vlen = (info >> 24) & 0x1F, info & 0xFFFF
        fixed, per = _BTF_EXTRA.get(kind, (0, 0))
        out.append((tid, kind, vlen, pos))
        pos += 12 + fixed + per * vlen
        tid += 1
    return out


def btf_set_member_type(data: bytes, struct_name: str, kind_of_new: int) -> bytes:
    """``data`` with the first member of struct ``struct_name`` typed as the first BTF
    type of kind ``kind_of_new`` (12, a FUNC: BTF libbpf opens, no C layout has it)."""
    sec = sections(data)[".BTF"]
    hdr_len, _, _, str_off, _ = struct.unpack_from("<IIIII", data, sec.offset + 4)
    strings = sec.offset + hdr_len + str_off
    records = btf_records(data)
    new = next(tid for tid, kind, _, _ in records if kind == kind_of_new)
    out = bytearray(data)
    for _tid, kind, vlen, pos in records:
        name_off, = struct.unpack_from("<I", data, pos)
        name = data[strings + name_off:data.index(b"\0", strings + name_off)]
        if kind in (4, 5) and vlen and name == struct_name.encode():
            struct.pack_into("<I", out, pos + 12 + 4, new)
            return bytes(out)
    raise KeyError(f"no struct {struct_name!r} with members in the BTF")
