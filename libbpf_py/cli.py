"""The ``prog``, ``map``, ``link`` and ``btf`` commands of ``python -m libbpf_py``.

Scripting against the kernel's BPF objects with the installed libbpf, in the
manner of bpftool::

    python -m libbpf_py prog list|show ID|PATH        [--json]
    python -m libbpf_py map list|show X|dump X        [--json]   X: id, name or pin path
    python -m libbpf_py link list|show ID|PATH        [--json]
    python -m libbpf_py btf dump [--format c|raw] [--id N] [FILE]   (default: vmlinux)

The JSON keys are stable (docs/cli.md lists them). Errors (no such id, no
permission, not a BPF object...) are one line on stderr, exit status 1; a
wrong command line is argparse's message, exit status 2. Objects are read
with the kernel's id iteration (``bpf_*_get_next_id``), opened by id
(``bpf_*_get_fd_by_id``) or pin path (``bpf_obj_get``) and described by
``bpf_*_get_info_by_fd``.
"""

from __future__ import annotations

import argparse
import ctypes
import errno
import json
import os
import sys
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from . import _validate
from ._binding import ffi, lib
from ._call import make_error
from ._info import link_info, map_info, prog_info
from .btf import Btf
from .errors import ClosedError, LibbpfError, LibbpfVersionError
from .map import Map

PROG = "python -m libbpf_py"


class CliError(Exception):
    """A failure the command line reports as one line on stderr."""


# -- opening kernel objects ------------------------------------------------------------------

_KINDS = {
    # kind: (next-id function, fd-by-id function, /proc/self/fd link)
    "prog": ("bpf_prog_get_next_id", "bpf_prog_get_fd_by_id", "anon_inode:bpf-prog"),
    "map": ("bpf_map_get_next_id", "bpf_map_get_fd_by_id", "anon_inode:bpf-map"),
    "link": ("bpf_link_get_next_id", "bpf_link_get_fd_by_id", "anon_inode:bpf-link"),
}


def _ids(kind: str) -> Iterator[int]:
    """Every id of the kernel's objects of ``kind``, increasing."""
    next_fn = getattr(lib, _KINDS[kind][0])
    out = ffi.new("__u32 *")
    cur = 0
    while True:
        ret = int(next_fn(cur, out))
        if ret < 0:
            err = -ret
            if err == errno.ENOENT:
                return
            raise make_error(err, f"cannot list {kind}s ({_KINDS[kind][0]})")
        cur = int(out[0])
        yield cur


def _parse_id(text: str, kind: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise CliError(f"{text!r} is not a {kind} id"
                       + (" or pin path" if kind != "BTF" else "")) from None
    if not 0 < value <= 0xFFFFFFFF:
        raise CliError(f"{kind} id {value} is out of range (1..4294967295)")
    return value


class _Fd:
    """An fd the command owns; closed on exit from the ``with`` block."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __enter__(self) -> int:
        return self.fd

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)


def _open_by_id(kind: str, obj_id: int) -> _Fd:
    fd = int(getattr(lib, _KINDS[kind][1])(obj_id))
    if fd < 0:
        err = -fd
        if err == errno.ENOENT:
            raise CliError(f"no {kind} with id {obj_id}")
        raise make_error(err, f"cannot open {kind} id {obj_id}")
    return _Fd(fd)


def _open_pinned(kind: str, path: str) -> _Fd:
    fd = int(lib.bpf_obj_get(_validate.cstr(path, "path", path=True)))
    if fd < 0:
        raise make_error(-fd, f"cannot open pinned {kind} {path!r}")
    try:
        target = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        target = "?"
    if target != _KINDS[kind][2]:
        os.close(fd)
        what = target.split(":", 1)[-1]
        raise CliError(f"{path!r} is pinned but is not a BPF {kind} (it is a {what})")
    return _Fd(fd)


def _open(kind: str, ref: str) -> _Fd:
    """Open a ``kind`` by id or pin path."""
    if "/" in ref:
        return _open_pinned(kind, ref)
    return _open_by_id(kind, _parse_id(ref, kind))


def _fdinfo(fd: int) -> Dict[str, str]:
    """The kernel's /proc/self/fdinfo of a BPF fd (memlock, frozen...)."""
    out: Dict[str, str] = {}
    try:
        with open(f"/proc/self/fdinfo/{fd}") as f:
            for line in f:
                key, _, value = line.partition(":")
                out[key.strip()] = value.strip()
    except OSError:
        pass
    return out


def _type_str(fn: str, value: int) -> str:
    """libbpf's name of a program / map / link / attach type (``unknown(N)`` if none)."""
    s = getattr(lib, fn)(value)
    return f"unknown({value})" if s == ffi.NULL else str(ffi.string(s).decode())


# -- programs -----------------------------------------------------------------------------------

_boot_offset: Optional[float] = None


def _wall_clock(boot_ns: int) -> int:
    """Seconds since the epoch of a CLOCK_BOOTTIME timestamp (as bpftool's loaded_at)."""
    global _boot_offset
    if _boot_offset is None:
        _boot_offset = time.time() - time.clock_gettime(time.CLOCK_BOOTTIME)
    return int(_boot_offset + boot_ns / 1e9)


def prog_record(fd: int) -> Dict[str, Any]:
    """The stable description of the program behind ``fd`` (keys: docs/cli.md)."""
    info = prog_info(fd, "cannot read prog info")
    memlock = _fdinfo(fd).get("memlock")
    return {
        "id": info.id,
        "type": _type_str("libbpf_bpf_prog_type_str", int(info.type)),
        "name": info.name,
        "tag": info.tag,
        "loaded_at": _wall_clock(info.load_time),
        "uid": info.created_by_uid,
        "btf_id": info.btf_id,
        "map_ids": list(info.map_ids),
        "run_time_ns": info.run_time_ns,
        "run_cnt": info.run_cnt,
        "recursion_misses": info.recursion_misses,
        "verified_insns": info.verified_insns,
        "bytes_xlated": info.xlated_prog_len,
        "jited": info.jited_prog_len > 0,
        "bytes_jited": info.jited_prog_len,
        "bytes_memlock": int(memlock) if memlock and memlock.isdigit() else None,
    }


def _prog_text(r: Dict[str, Any]) -> str:
    loaded = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(r["loaded_at"]))
    lines = [f"{r['id']}: {r['type']}  name {r['name'] or '-'}  tag {r['tag']}",
             f"\tloaded_at {loaded}  uid {r['uid']}",
             f"\txlated {r['bytes_xlated']}B  jited {r['bytes_jited']}B  "
             f"memlock {r['bytes_memlock']}B  verified_insns {r['verified_insns']}"]
    extra = []
    if r["map_ids"]:
        extra.append("map_ids " + ",".join(str(i) for i in r["map_ids"]))
    if r["btf_id"]:
        extra.append(f"btf_id {r['btf_id']}")
    extra.append(f"run_cnt {r['run_cnt']}  run_time_ns {r['run_time_ns']}")
    lines.append("\t" + "  ".join(extra))
    return "\n".join(lines)


# -- maps -----------------------------------------------------------------------------------

def map_record(fd: int) -> Dict[str, Any]:
    """The stable description of the map behind ``fd`` (keys: docs/cli.md)."""
    info = map_info(fd, "cannot read map info")
    fdinfo = _fdinfo(fd)
    memlock = fdinfo.get("memlock", "")
    return {
        "id": info.id,
        "type": _type_str("libbpf_bpf_map_type_str", int(info.type)),
        "name": info.name,
        "flags": info.map_flags,
        "bytes_key": info.key_size,
        "bytes_value": info.value_size,
        "max_entries": info.max_entries,
        "btf_id": info.btf_id,
        "btf_key_type_id": info.btf_key_type_id,
        "btf_value_type_id": info.btf_value_type_id,
        "bytes_memlock": int(memlock) if memlock.isdigit() else None,
        "frozen": 1 if fdinfo.get("frozen") == "1" else 0,
    }


def _map_text(r: Dict[str, Any]) -> str:
    lines = [f"{r['id']}: {r['type']}  name {r['name'] or '-'}  flags {r['flags']:#x}",
             f"\tkey {r['bytes_key']}B  value {r['bytes_value']}B  "
             f"max_entries {r['max_entries']}  memlock {r['bytes_memlock']}B"]
    if r["btf_id"]:
        lines.append(f"\tbtf_id {r['btf_id']}  key_type_id {r['btf_key_type_id']}  "
                     f"value_type_id {r['btf_value_type_id']}")
    if r["frozen"]:
        lines.append("\tfrozen")
    return "\n".join(lines)


def map_ids_named(name: str) -> List[int]:
    """The ids of the kernel's maps called ``name`` (names are at most 15 characters)."""
    matches: List[int] = []
    for map_id in _ids("map"):
        try:
            handle = _open_by_id("map", map_id)
        except CliError:
            continue  # freed between the listing and the open
        with handle as fd:
            if map_info(fd, "cannot read map info").name == name:
                matches.append(map_id)
    return matches


def _find_map(ref: str) -> _Fd:
    """A map by id, pin path, or name (the kernel's name, at most 15 characters)."""
    if "/" in ref:
        return _open_pinned("map", ref)
    if ref.isdigit() or ref.lower().startswith("0x"):
        return _open_by_id("map", _parse_id(ref, "map"))
    matches = map_ids_named(ref)
    if not matches:
        raise CliError(f"no map named {ref!r}")
    if len(matches) > 1:
        raise CliError(f"{len(matches)} maps are named {ref!r} (ids "
                       f"{', '.join(map(str, matches))}): give an id or a pin path")
    return _open_by_id("map", matches[0])


def to_plain(value: Any) -> Any:
    """A decoded key or value as JSON-able data: records as dicts, arrays as lists,
    ``bytes`` (char arrays, raw values) as a hex string."""
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    asdict = getattr(value, "_asdict", None)
    if callable(asdict):
        return {k: to_plain(v) for k, v in asdict().items()}
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, ctypes.Array)):
        return [to_plain(v) for v in value]
    if isinstance(value, ctypes._SimpleCData):
        return to_plain(value.value)
    return repr(value)


def map_entries(fd: int) -> Tuple[Dict[str, Any], List[Dict[str, Any]]]:
    """The map's record and its elements, decoded with BTF when the map has it."""
    record = map_record(fd)
    entries: List[Dict[str, Any]] = []
    with Map.from_fd(fd) as m:
        if m.type.name in ("QUEUE", "STACK", "BLOOM_FILTER", "RINGBUF", "USER_RINGBUF",
                           "PERF_EVENT_ARRAY", "STRUCT_OPS", "ARENA"):
            raise CliError(f"map {record['id']} ({record['type']}) has no elements to dump")
        for key, value in m.items():
            entries.append({"key": to_plain(key), "value": to_plain(value)})
    return record, entries


# -- links ----------------------------------------------------------------------------------

# the attach-specific keys of `link show`, per link type (docs/cli.md): bpftool's
_LINK_KEYS = {
    "raw_tracepoint": ("tp_name",),
    "tracing": ("attach_type", "target_obj_id", "target_btf_id"),
    "cgroup": ("attach_type", "cgroup_id"),
    "netns": ("attach_type", "netns_ino"),
    "xdp": ("ifindex",),
}


def link_record(fd: int) -> Dict[str, Any]:
    """The stable description of the link behind ``fd`` (keys: docs/cli.md)."""
    info = link_info(fd, "cannot read link info")
    ltype = _type_str("libbpf_bpf_link_type_str", int(info.type))
    out: Dict[str, Any] = {"id": info.id, "type": ltype, "prog_id": info.prog_id}
    for key in _LINK_KEYS.get(ltype, ()):
        value = info.get(key)
        if key == "tp_name" and not value:
            continue  # the kernel gave no name
        if key == "attach_type":
            value = _type_str("libbpf_bpf_attach_type_str", value)
        out[key] = value
    return out


def _link_text(r: Dict[str, Any]) -> str:
    head = f"{r['id']}: {r['type']}  prog {r['prog_id']}"
    rest = [f"{k} {v}" for k, v in r.items() if k not in ("id", "type", "prog_id")]
    return head + ("\n\t" + "  ".join(rest) if rest else "")


# -- output -------------------------------------------------------------------------------------

def _emit(args: argparse.Namespace, data: Any, text: Callable[[], str]) -> None:
    if args.json:
        sys.stdout.write(json.dumps(data, indent=2 if args.pretty else None) + "\n")
    else:
        out = text()
        if out:
            sys.stdout.write(out + "\n")


def _list(kind: str, record: Callable[[int], Dict[str, Any]]) -> List[Dict[str, Any]]:
    out = []
    for obj_id in _ids(kind):
        try:
            handle = _open_by_id(kind, obj_id)
        except CliError:
            continue  # gone between the listing and the open
        with handle as fd:
            out.append(record(fd))
    return out


# -- commands ---------------------------------------------------------------------------------

def _list_or_show(args: argparse.Namespace, kind: str,
                  record: Callable[[int], Dict[str, Any]],
                  text: Callable[[Dict[str, Any]], str],
                  find: Callable[[str], _Fd]) -> int:
    """``list`` (every object of ``kind``) or ``show`` (the one ``find(args.ref)`` opens)."""
    if args.action == "list":
        records = _list(kind, record)
        _emit(args, records, lambda: "\n".join(text(r) for r in records))
    else:
        with find(args.ref) as fd:
            one = record(fd)
        _emit(args, one, lambda: text(one))
    return 0


def cmd_prog(args: argparse.Namespace) -> int:
    return _list_or_show(args, "prog", prog_record, _prog_text, lambda ref: _open("prog", ref))


def cmd_map(args: argparse.Namespace) -> int:
    if args.action != "dump":
        return _list_or_show(args, "map", map_record, _map_text, _find_map)
    with _find_map(args.ref) as fd:
        _, entries = map_entries(fd)

    def text() -> str:
        lines = [f"{json.dumps(e['key'])}: {json.dumps(e['value'])}" for e in entries]
        lines.append(f"Found {len(entries)} element{'s' * (len(entries) != 1)}")
        return "\n".join(lines)

    _emit(args, entries, text)
    return 0


def cmd_link(args: argparse.Namespace) -> int:
    return _list_or_show(args, "link", link_record, _link_text, lambda ref: _open("link", ref))


def cmd_btf(args: argparse.Namespace) -> int:
    if args.id is not None and args.file is not None:
        raise CliError("give a FILE or --id, not both")
    if args.id is not None:
        btf = Btf.load_from_kernel_by_id(_parse_id(args.id, "BTF"))
    else:
        btf = Btf.from_file(args.file or "/sys/kernel/btf/vmlinux")
    with btf:
        if args.format == "c":
            if args.json:
                raise CliError("--json goes with --format raw (C is C)")
            sys.stdout.write(btf.dump_c())
        elif args.json:
            _emit(args, [t.as_dict() for t in btf], str)
        else:
            sys.stdout.write(btf.dump_raw())
    return 0


# -- argparse -----------------------------------------------------------------------------

def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", "-j", action="store_true",
                   help="print JSON with stable keys (see docs/cli.md)")
    p.add_argument("--pretty", "-p", action="store_true", help="indent the JSON")


def add_commands(sub: Any) -> None:
    """Add ``prog``, ``map``, ``link`` and ``btf`` to ``python -m libbpf_py``'s subparsers."""
    for kind, func, what in (("prog", cmd_prog, "BPF programs loaded in the kernel"),
                             ("map", cmd_map, "BPF maps in the kernel"),
                             ("link", cmd_link, "BPF links in the kernel")):
        p = sub.add_parser(kind, help=what, description=f"Inspect {what}.")
        acts = p.add_subparsers(dest="action", metavar="ACTION", required=True)
        a = acts.add_parser("list", help=f"every {kind}", description=f"List {what}.")
        _common(a)
        a.set_defaults(func=_guarded(func))
        ref_help = ("map id, pin path or (kernel) map name" if kind == "map"
                    else f"{kind} id or pin path on bpffs")
        a = acts.add_parser("show", help=f"one {kind}",
                            description=f"Show one {kind} ({ref_help}).")
        a.add_argument("ref", metavar="ID" if kind != "map" else "MAP", help=ref_help)
        _common(a)
        a.set_defaults(func=_guarded(func))
        if kind == "map":
            a = acts.add_parser("dump", help="the elements of one map",
                                description="Print every element of a map, keys and "
                                            "values decoded with the map's BTF when it "
                                            "has one (structs as objects, char arrays "
                                            "and raw bytes as hex).")
            a.add_argument("ref", metavar="MAP", help=ref_help)
            _common(a)
            a.set_defaults(func=_guarded(func))

    p = sub.add_parser("btf", help="BPF Type Format", description="Work with BTF.")
    acts = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = acts.add_parser("dump", help="dump BTF as C (vmlinux.h) or raw",
                        description="Dump the BTF of FILE (an ELF object with .BTF or a "
                                    "raw BTF file; default /sys/kernel/btf/vmlinux) or of "
                                    "the kernel's BTF object --id N. --format c writes a "
                                    "header like bpftool's vmlinux.h; raw lists the types "
                                    "as bpftool's format raw does (--json: a list of "
                                    "types).")
    a.add_argument("file", metavar="FILE", nargs="?", help="ELF or raw BTF file")
    a.add_argument("--id", metavar="N", help="the kernel's BTF object number N")
    a.add_argument("--format", "-f", choices=("c", "raw"), default="raw",
                   help="c (a vmlinux.h-style header) or raw (default)")
    _common(a)
    a.set_defaults(func=_guarded(cmd_btf))


def _guarded(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Run a command; report an expected failure as one line on stderr, exit status 1."""

    def run(args: argparse.Namespace) -> int:
        # libbpf's own warnings go to the "libbpf_py" logger; the error line says it all
        import logging

        logger = logging.getLogger("libbpf_py")
        quiet = logging.NullHandler()
        if not logger.handlers:
            logger.addHandler(quiet)
        try:
            return func(args)
        except BrokenPipeError:
            # the reader went away (| head): not an error of ours
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return 0
        except (CliError, LibbpfError, LibbpfVersionError, ClosedError, OSError,
                ValueError, KeyError) as exc:
            msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
            sys.stderr.write(f"{PROG} {args.command}: error: {msg}\n")
            return 1
        finally:
            logger.removeHandler(quiet)

    return run

