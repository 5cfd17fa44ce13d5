"""A small eBPF instruction disassembler for ``prog dump xlated``.

Pure Python over the raw instructions (``struct bpf_insn``, 8 bytes each, in the
machine's byte order): no libbpf_py import. The text follows the kernel's
verifier and bpftool's ``prog dump xlated`` notation (``r1 = *(u32 *)(r2 +8)``,
``if r0 == 0x0 goto pc+1``, ``call bpf_map_lookup_elem#1``), so that a bpftool
user reads it the same way.
"""

from __future__ import annotations

import struct
import sys
from dataclasses import dataclass
from typing import Callable, List, Optional

# instruction classes (code & 0x07)
LD, LDX, ST, STX, ALU, JMP, JMP32, ALU64 = range(8)
CLASS_NAMES = ("ld", "ldx", "st", "stx", "alu", "jmp", "jmp32", "alu64")

_SIZES = {0x00: "u32", 0x08: "u16", 0x10: "u8", 0x18: "u64"}
_SSIZES = {0x00: "s32", 0x08: "s16", 0x10: "s8", 0x18: "s64"}
_ALU_OPS = {0x00: "+=", 0x10: "-=", 0x20: "*=", 0x30: "/=", 0x40: "|=", 0x50: "&=",
            0x60: "<<=", 0x70: ">>=", 0x90: "%=", 0xa0: "^=", 0xb0: "=", 0xc0: "s>>="}
_JMP_OPS = {0x10: "==", 0x20: ">", 0x30: ">=", 0x40: "&", 0x50: "!=", 0x60: "s>",
            0x70: "s>=", 0xa0: "<", 0xb0: "<=", 0xc0: "s<", 0xd0: "s<="}
_ATOMIC_OPS = {0x00: "add", 0x40: "or", 0x50: "and", 0xa0: "xor"}
_FETCH = 0x01
_XCHG = 0xe0 | _FETCH
_CMPXCHG = 0xf0 | _FETCH

# src_reg of a BPF_LD | BPF_IMM | BPF_DW (imm64) and of a call
PSEUDO_MAP_FD, PSEUDO_MAP_VALUE, PSEUDO_BTF_ID, PSEUDO_FUNC = 1, 2, 3, 4
PSEUDO_MAP_IDX, PSEUDO_MAP_IDX_VALUE = 5, 6
PSEUDO_CALL, PSEUDO_KFUNC_CALL = 1, 2

_INSN = struct.Struct("=BBhi")
INSN_SIZE = _INSN.size


@dataclass(frozen=True)
class Insn:
    """One decoded instruction (an imm64 load is one Insn over two slots)."""

    pc: int
    code: int
    dst: int
    src: int
    off: int
    imm: int
    #: the second slot's imm of an imm64 load, else None
    imm_hi: Optional[int]
    text: str

    @property
    def klass(self) -> str:
        return CLASS_NAMES[self.code & 7]

    @property
    def slots(self) -> int:
        return 1 if self.imm_hi is None else 2


def _regs(byte: int) -> tuple[int, int]:
    low, high = byte & 0x0F, byte >> 4
    return (low, high) if sys.byteorder == "little" else (high, low)


def _alu(code: int, dst: int, src: int, off: int, imm: int) -> str:
    r = "r" if code & 7 == ALU64 else "w"
    op = code & 0xF0
    operand = f"{r}{src}" if code & 0x08 else str(imm)
    if op == 0x80:
        return f"{r}{dst} = -{r}{dst}"
    if op == 0xD0:  # byte swap
        if code & 7 == ALU64:
            return f"r{dst} = bswap{imm} r{dst}"
        return f"r{dst} = {'be' if code & 0x08 else 'le'}{imm} r{dst}"
    if op == 0xB0 and off in (8, 16, 32) and code & 0x08:
        return f"{r}{dst} = (s{off}){r}{src}"
    if op not in _ALU_OPS:
        return f"invalid alu opcode {code:#04x}"
    sym = _ALU_OPS[op]
    if op in (0x30, 0x90) and off == 1:
        sym = "s" + sym
    return f"{r}{dst} {sym} {operand}"


def _mem(code: int, reg: int, off: int, signed: bool = False) -> str:
    size = (_SSIZES if signed else _SIZES)[code & 0x18]
    return f"*({size} *)(r{reg} {off:+d})"


def _call(insn_src: int, imm: int, name: Optional[str]) -> str:
    if insn_src == PSEUDO_CALL:
        return f"call pc{imm:+d}"
    if insn_src == PSEUDO_KFUNC_CALL:
        return f"call {name}#{imm}" if name else "call kernel-function"
    return f"call {name}#{imm}" if name else f"call #{imm}"


def _jmp(code: int, dst: int, src: int, off: int, imm: int,
         name: Optional[str]) -> str:
    op = code & 0xF0
    cls = code & 7
    if op == 0x00:
        return f"gotol pc{imm:+d}" if cls == JMP32 else f"goto pc{off:+d}"
    if op == 0x80 and cls == JMP:
        return _call(src, imm, name)
    if op == 0x90 and cls == JMP:
        return "exit"
    if op == 0xE0 and cls == JMP:
        return f"may_goto pc{off:+d}"
    if op not in _JMP_OPS:
        return f"invalid jmp opcode {code:#04x}"
    r = "r" if cls == JMP else "w"
    operand = f"{r}{src}" if code & 0x08 else f"{imm & 0xFFFFFFFF:#x}"
    return f"if {r}{dst} {_JMP_OPS[op]} {operand} goto pc{off:+d}"


def _stx(code: int, dst: int, src: int, off: int, imm: int) -> str:
    mode = code & 0xE0
    if mode == 0x60:
        return f"{_mem(code, dst, off)} = r{src}"
    if mode != 0xC0:
        return f"invalid stx opcode {code:#04x}"
    size = _SIZES[code & 0x18]
    r = "r" if size == "u64" else "w"
    where = f"({size} *)(r{dst} {off:+d})"
    if imm == _XCHG:
        return f"{r}{src} = atomic_xchg({where}, {r}{src})"
    if imm == _CMPXCHG:
        return f"r0 = atomic_cmpxchg({where}, r0, {r}{src})"
    name = _ATOMIC_OPS.get(imm & ~_FETCH)
    if name is None:
        return f"invalid atomic op {imm:#x}"
    if imm & _FETCH:
        return f"{r}{src} = atomic_fetch_{name}({where}, {r}{src})"
    sym = {"add": "+=", "or": "|=", "and": "&=", "xor": "^="}[name]
    return f"lock *{where} {sym} {r}{src}"


def _imm64(dst: int, src: int, lo: int, hi: int) -> str:
    if src in (PSEUDO_MAP_FD, PSEUDO_MAP_IDX):
        return f"r{dst} = map[id:{lo}]"
    if src in (PSEUDO_MAP_VALUE, PSEUDO_MAP_IDX_VALUE):
        return f"r{dst} = map[id:{lo}][0]+{hi}"
    value = (hi & 0xFFFFFFFF) << 32 | (lo & 0xFFFFFFFF)
    if src == PSEUDO_BTF_ID:
        return f"r{dst} = btf_id {lo}"
    if src == PSEUDO_FUNC:
        return f"r{dst} = func pc{lo:+d}"
    return f"r{dst} = {value:#x}"


def disassemble(raw: bytes, call_name: Callable[[int, int], Optional[str]] = lambda s, i: None
                ) -> List[Insn]:
    """The instructions of ``raw`` (a multiple of 8 bytes). ``call_name(src_reg, imm)``
    names a call's target (a helper or kernel function) or returns None."""
    if len(raw) % INSN_SIZE:
        raise ValueError(f"{len(raw)} bytes is not a whole number of {INSN_SIZE}-byte "
                         "BPF instructions")
    out: List[Insn] = []
    pc, count = 0, len(raw) // INSN_SIZE
    while pc < count:
        code, regs, off, imm = _INSN.unpack_from(raw, pc * INSN_SIZE)
        dst, src = _regs(regs)
        cls = code & 7
        hi: Optional[int] = None
        if cls in (ALU, ALU64):
            text = _alu(code, dst, src, off, imm)
        elif cls in (JMP, JMP32):
            name = call_name(src, imm) if code == (JMP | 0x80) else None
            text = _jmp(code, dst, src, off, imm, name)
        elif cls == LDX:
            mode = code & 0xE0
            text = (f"r{dst} = {_mem(code, src, off, signed=mode == 0x80)}"
                    if mode in (0x60, 0x80) else f"invalid ldx opcode {code:#04x}")
        elif cls == ST:
            text = (f"{_mem(code, dst, off)} = {imm}" if code & 0xE0 == 0x60
                    else f"invalid st opcode {code:#04x}")
        elif cls == STX:
            text = _stx(code, dst, src, off, imm)
        else:  # LD
            mode = code & 0xE0
            if code == 0x18 and pc + 1 < count:
                hi = _INSN.unpack_from(raw, (pc + 1) * INSN_SIZE)[3]
                text = _imm64(dst, src, imm, hi)
            elif mode == 0x20:
                text = f"r0 = *({_SIZES[code & 0x18]} *)skb[{imm}]"
            elif mode == 0x40:
                text = f"r0 = *({_SIZES[code & 0x18]} *)skb[r{src} + {imm}]"
            else:
                text = f"invalid ld opcode {code:#04x}"
        out.append(Insn(pc, code, dst, src, off, imm, hi, text))
        pc += 1 if hi is None else 2
    return out
