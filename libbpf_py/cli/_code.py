"""``prog dump xlated|jited``: a program's code from bpf_prog_info."""

from __future__ import annotations

import glob
import os
import shutil
import struct
import subprocess
from typing import Any, Callable, Dict, List, Optional, Tuple

from .._binding import ffi, lib
from ..btf import Btf
from ..errors import LibbpfError
from . import _disasm
from ._core import CliError, _address, _prog_info_call

# -- prog dump xlated|jited -------------------------------------------------------------------

class ProgCode:
    """What ``bpf_prog_info`` gives of a program's code: the translated instructions,
    the JITed bytes, and the BTF line and function info (raw records)."""

    def __init__(self, fd: int) -> None:
        first = ffi.new("struct bpf_prog_info *")
        _prog_info_call(fd, first)
        self.id = int(first.id)
        self.name = ffi.string(first.name).decode(errors="replace")
        self.btf_id = int(first.btf_id)
        info = ffi.new("struct bpf_prog_info *")
        keep = []

        def buf(size: int) -> int:
            b = ffi.new("char[]", max(size, 1))
            keep.append(b)
            return _address(b)

        n_x, n_j = int(first.xlated_prog_len), int(first.jited_prog_len)
        info.xlated_prog_len, info.xlated_prog_insns = n_x, buf(n_x)
        info.jited_prog_len, info.jited_prog_insns = n_j, buf(n_j)
        n_l, l_sz = int(first.nr_line_info), int(first.line_info_rec_size)
        n_f, f_sz = int(first.nr_func_info), int(first.func_info_rec_size)
        if n_l and l_sz:
            info.nr_line_info, info.line_info_rec_size = n_l, l_sz
            info.line_info = buf(n_l * l_sz)
        if n_f and f_sz:
            info.nr_func_info, info.func_info_rec_size = n_f, f_sz
            info.func_info = buf(n_f * f_sz)
        _prog_info_call(fd, info)
        n_x = min(n_x, int(info.xlated_prog_len))
        n_j = min(n_j, int(info.jited_prog_len))
        self.xlated = bytes(ffi.buffer(ffi.cast("char *", info.xlated_prog_insns), n_x))
        self.jited = bytes(ffi.buffer(ffi.cast("char *", info.jited_prog_insns), n_j))
        self.jited_len = int(first.jited_prog_len)
        self.xlated_len = int(first.xlated_prog_len)
        # (insn_off, file_name_off, line_off, line_col)
        self.line_info: List[Tuple[int, int, int, int]] = []
        if n_l and l_sz and info.line_info:
            raw = bytes(ffi.buffer(ffi.cast("char *", info.line_info), n_l * l_sz))
            self.line_info = [struct.unpack_from("=IIII", raw, i * l_sz) for i in range(n_l)]
        # (insn_off, type_id)
        self.func_info: List[Tuple[int, int]] = []
        if n_f and f_sz and info.func_info:
            raw = bytes(ffi.buffer(ffi.cast("char *", info.func_info), n_f * f_sz))
            self.func_info = [struct.unpack_from("=II", raw, i * f_sz) for i in range(n_f)]


_KSYMS: Dict[int, str] = {}


def _kallsyms() -> Dict[int, str]:
    """address -> name of /proc/kallsyms (addresses are 0 without CAP_SYSLOG): read once."""
    if not _KSYMS:
        try:
            with open("/proc/kallsyms") as f:
                for line in f:
                    parts = line.split()
                    if len(parts) >= 3:
                        _KSYMS.setdefault(int(parts[0], 16), parts[2])
        except OSError:
            pass
        _KSYMS.setdefault(-1, "")  # read (so not read again)
    return _KSYMS


def helper_names() -> Dict[int, str]:
    """helper id -> ``bpf_<name>`` from the binding's ``enum bpf_func_id``."""
    return {value: "bpf_" + name[len("BPF_FUNC_"):]
            for name, value in ffi.typeof("enum bpf_func_id").relements.items()
            if name.startswith("BPF_FUNC_") and value > 0}


def _call_namer() -> Callable[[int, int], Optional[str]]:
    """How ``prog dump xlated`` names a call: a helper call's imm is, after the
    verifier, the target's offset from ``__bpf_call_base`` (resolved with
    /proc/kallsyms, as bpftool does); before, the helper id."""
    syms = _kallsyms()
    base = next((addr for addr, name in syms.items() if name == "__bpf_call_base"), None)
    helpers = helper_names()

    def name(src: int, imm: int) -> Optional[str]:
        if src == _disasm.PSEUDO_CALL:
            return None
        if src == 0 and base:
            found = syms.get(base + imm)
            if found:
                return found
        return helpers.get(imm) if src == 0 else None

    return name


def xlated_records(fd: int) -> List[Dict[str, Any]]:
    """``prog dump xlated --json``: one record per instruction (keys: docs/cli.md)."""
    code = ProgCode(fd)
    if not code.xlated:
        raise CliError(f"prog {code.id}: the kernel gave no translated instructions "
                       "(it hides them without CAP_SYS_ADMIN, or when "
                       "kernel.kptr_restrict / bpf_jit_harden forbid it)")
    insns = _disasm.disassemble(code.xlated, _call_namer())
    lines: Dict[int, Tuple[str, str, int, int]] = {}
    funcs: Dict[int, str] = {}
    btf: Optional[Btf] = None
    if code.btf_id and (code.line_info or code.func_info):
        try:
            btf = Btf.load_from_kernel_by_id(code.btf_id)
        except LibbpfError:
            btf = None
    if btf is not None:
        with btf:
            ptr = btf._check_open()

            def text(off: int) -> str:
                s = lib.btf__str_by_offset(ptr, off)
                return "" if s == ffi.NULL else ffi.string(s).decode(errors="replace")

            for insn_off, file_off, line_off, line_col in code.line_info:
                lines[insn_off] = (text(line_off).strip(), text(file_off), line_col >> 10,
                                   line_col & 0x3FF)
            for insn_off, type_id in code.func_info:
                try:
                    funcs[insn_off] = btf[type_id].name
                except (KeyError, IndexError, ValueError):
                    pass
    out = []
    for insn in insns:
        src = lines.get(insn.pc)
        out.append({
            "pc": insn.pc,
            "opcode": f"{insn.code:02x}",
            "class": insn.klass,
            "text": insn.text,
            "func": funcs.get(insn.pc),
            "src": src[0] if src else None,
            "file": src[1] if src else None,
            "line": src[2] if src else None,
            "col": src[3] if src else None,
        })
    return out


def _xlated_text(records: List[Dict[str, Any]]) -> str:
    lines = []
    for r in records:
        if r["func"]:
            lines.append(f"{r['func']}:")
        if r["src"] is not None:
            where = f"{os.path.basename(r['file'])}:{r['line']}" if r["file"] else "?"
            lines.append(f"; {r['src']} @ {where}")
        lines.append(f"{r['pc']:4d}: ({r['opcode']}) {r['text']}")
    return "\n".join(lines)


def _find_tool(name: str) -> Optional[str]:
    """``name`` on PATH, or Debian's versioned LLVM binary (llvm-mc-14...)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/bin/{name}-[0-9]*") +
                        glob.glob(f"/usr/lib/llvm-*/bin/{name}"))
    return candidates[-1] if candidates else None


_TRIPLES = {"x86_64": "x86_64", "aarch64": "aarch64", "riscv64": "riscv64",
            "s390x": "s390x", "ppc64le": "powerpc64le", "armv7l": "armv7"}


def jited_record(fd: int) -> Dict[str, Any]:
    """``prog dump jited --json``: the JITed code, disassembled when llvm-mc is there."""
    code = ProgCode(fd)
    jit_enable = _read_sysctl("/proc/sys/net/core/bpf_jit_enable")
    if not code.jited_len:
        raise CliError(f"prog {code.id} is not JITed (net.core.bpf_jit_enable is "
                       f"{jit_enable}; 1 turns the JIT on for programs loaded after)")
    if not code.jited:
        raise CliError(f"prog {code.id}: the kernel gave no JITed code (it hides it without "
                       "CAP_SYS_ADMIN or when kernel.kptr_restrict forbids it)")
    machine = os.uname().machine
    tool = _find_tool("llvm-mc")
    insns: Optional[List[str]] = None
    note = None
    if tool is None:
        note = "llvm-mc not found (Debian: apt install llvm): hex bytes only"
    else:
        triple = _TRIPLES.get(machine, machine)
        proc = subprocess.run([tool, "--disassemble", f"-triple={triple}"],
                              input=" ".join(f"0x{b:02x}" for b in code.jited),
                              capture_output=True, text=True, check=False)
        if proc.returncode == 0:
            insns = [line.strip() for line in proc.stdout.splitlines()
                     if line.strip() and not line.strip().startswith(".")]
        else:
            note = f"{tool} failed: {proc.stderr.strip().splitlines()[:1]}: hex bytes only"
    return {"id": code.id, "name": code.name, "bytes_jited": len(code.jited),
            "arch": machine, "disassembler": tool if insns is not None else None,
            "insns": insns, "hex": code.jited.hex(), "note": note}


def _jited_text(r: Dict[str, Any]) -> str:
    lines = [f"{r['name'] or '-'}: {r['bytes_jited']} bytes of {r['arch']} code"]
    if r["insns"] is not None:
        lines += [f"\t{i}" for i in r["insns"]]
    else:
        lines.append(f"; {r['note']}")
        h = r["hex"]
        lines += [" ".join(h[i:i + 2] for i in range(j, min(j + 32, len(h)), 2))
                  for j in range(0, len(h), 32)]
    return "\n".join(lines)


def _read_sysctl(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return "unknown"


