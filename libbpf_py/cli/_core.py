"""The command line's core: finding the kernel's objects (by id, pin path, name,
tag), their records (the JSON of list/show), the pids column, output."""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import sys
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Set, Tuple

from .. import _validate
from .._binding import ffi, lib
from .._call import check, make_error
from .._ids import KINDS, btf_ids, fd_by_id, link_ids, map_ids, prog_ids
from .._info import link_info, map_info, prog_info
from ..enums import AttachType, LinkType, MapType, ProgType
from ..errors import LibbpfNotFoundError
from ..map import Map

PROG = "python -m libbpf_py"


class CliError(Exception):
    """A failure the command line reports as one line on stderr."""


# -- opening kernel objects ------------------------------------------------------------------



def _ids(kind: str) -> Iterator[int]:
    """Every id of the kernel's objects of ``kind``, increasing (``libbpf_py.prog_ids()``
    and its siblings)."""
    return _ID_WALKS[kind]()


_ID_WALKS: Dict[str, Callable[[], Iterator[int]]] = {
    "prog": prog_ids, "map": map_ids, "link": link_ids, "btf": btf_ids}


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
        _OWN_FDS.add(fd)

    def __enter__(self) -> int:
        return self.fd

    def __exit__(self, *exc: object) -> None:
        _OWN_FDS.discard(self.fd)
        os.close(self.fd)


#: the fds this command holds open, left out of the ``pids`` columns
_OWN_FDS: Set[int] = set()


def _open_by_id(kind: str, obj_id: int) -> _Fd:
    try:
        return _Fd(fd_by_id(kind, obj_id))
    except LibbpfNotFoundError:
        raise CliError(f"no {kind} with id {obj_id}") from None


def _open_pinned(kind: str, path: str) -> _Fd:
    fd = int(lib.bpf_obj_get(_validate.cstr(path, "path", path=True)))
    if fd < 0:
        raise make_error(-fd, f"cannot open pinned {kind} {path!r}")
    try:
        target = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        target = "?"
    if target not in KINDS[kind].anon_inodes:
        os.close(fd)
        what = target.split(":", 1)[-1]
        raise CliError(f"{path!r} is pinned but is not a BPF {kind} (it is a {what})")
    return _Fd(fd)


#: the keywords of bpftool's object references (``prog show name X``...)
_KEYWORDS = {"prog": ("id", "name", "tag", "pinned"), "map": ("id", "name", "pinned"),
             "link": ("id", "pinned")}


def _is_tag(text: str) -> bool:
    return len(text) == 16 and all(c in "0123456789abcdefABCDEF" for c in text)


def _classify(kind: str, words: Sequence[str]) -> Tuple[str, str]:
    """(keyword, value) of a reference: bpftool's ``id N``, ``name X``, ``tag HEX``,
    ``pinned PATH``, or the bare ``X`` (a path if it has a ``/``, a tag if it is 16
    hex digits, an id if it is a number, else a name)."""
    keywords = _KEYWORDS[kind]
    if len(words) == 2 and words[0] in keywords:
        return words[0], words[1]
    if len(words) != 1:
        raise CliError(f"{' '.join(words)!r} is not a {kind} reference: give "
                       + ", ".join(f"{k} {_PLACEHOLDER[k]}" for k in keywords)
                       + f" or one bare {'ID, PATH, TAG or NAME' if kind == 'prog' else 'value'}")
    ref = words[0]
    if "/" in ref:
        return "pinned", ref
    if kind == "prog" and _is_tag(ref) and not ref.isdigit():
        return "tag", ref
    if ref.isdigit() or ref.lower().startswith("0x") or ref.startswith("-"):
        return "id", ref
    if "name" in keywords:
        return "name", ref
    raise CliError(f"{ref!r} is not a {kind} id or pin path")


_PLACEHOLDER = {"id": "ID", "name": "NAME", "tag": "TAG", "pinned": "PATH"}


def _matches(kind: str, keyword: str, value: str, fd: int) -> bool:
    info = prog_info(fd, "cannot read prog info") if kind == "prog" else \
        map_info(fd, "cannot read map info")
    if keyword == "tag":
        return str(getattr(info, "tag", "")).lower() == value.lower()
    # the kernel keeps 15 characters of a name (BPF_OBJ_NAME_LEN - 1)
    return bool(info.name == value or (len(value) > 15 and info.name == value[:15]))


def _ids_where(kind: str, keyword: str, value: str) -> List[int]:
    """The ids of the kernel's ``kind`` objects whose ``keyword`` (name, tag) is ``value``."""
    found: List[int] = []
    for obj_id in _ids(kind):
        try:
            handle = _open_by_id(kind, obj_id)
        except CliError:
            continue  # freed between the listing and the open
        with handle as fd:
            if _matches(kind, keyword, value, fd):
                found.append(obj_id)
    return found


def _resolve(kind: str, words: Sequence[str], many: bool = False) -> List[_Fd]:
    """Open what a reference names: one object, or (``many``) every object of a
    name or tag. A name or tag matching several objects is an error unless ``many``."""
    keyword, value = _classify(kind, words)
    if keyword == "pinned":
        return [_open_pinned(kind, value)]
    if keyword == "id":
        return [_open_by_id(kind, _parse_id(value, kind))]
    if keyword == "tag" and not _is_tag(value):
        raise CliError(f"{value!r} is not a program tag (16 hex digits)")
    found = _ids_where(kind, keyword, value)
    what = "named" if keyword == "name" else "with tag"
    if not found:
        raise CliError(f"no {kind} {what} {value!r}")
    if len(found) > 1 and not many:
        raise CliError(f"{len(found)} {kind}s are {what} {value!r} (ids "
                       f"{', '.join(map(str, found))}): give an id or a pin path")
    handles: List[_Fd] = []
    for obj_id in found:
        try:
            handles.append(_open_by_id(kind, obj_id))
        except CliError:
            continue  # freed since
    return handles


def _open_one(kind: str, words: Sequence[str]) -> _Fd:
    return _resolve(kind, words)[0]


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


def _address(buf: Any) -> int:
    return int(ffi.cast("uintptr_t", buf))


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
        "type": str(ProgType(int(info.type))),
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
        "gpl_compatible": _gpl_compatible(fd),
        "pids": holders("prog", info.id),
    }


def _prog_info_call(fd: int, info: Any) -> None:
    name = "bpf_prog_get_info_by_fd"
    size = ffi.new("__u32 *", ffi.sizeof("struct bpf_prog_info"))
    if lib.has(name):
        ret = lib.bpf_prog_get_info_by_fd(fd, info, size)
    else:
        name = "bpf_obj_get_info_by_fd"
        ret = lib.bpf_obj_get_info_by_fd(fd, info, size)
    check(int(ret), f"cannot read prog info ({name})")


def _gpl_compatible(fd: int) -> bool:
    """``bpf_prog_info.gpl_compatible``: a one-bit field right after ``ifindex`` (the
    binding does not declare bitfields, so it is read by its UAPI place)."""
    info = ffi.new("struct bpf_prog_info *")
    _prog_info_call(fd, info)
    at = ffi.offsetof("struct bpf_prog_info", "ifindex") + 4
    word = int.from_bytes(ffi.buffer(info)[at:at + 4], sys.byteorder)
    return bool(word & 1 if sys.byteorder == "little" else word >> 31)


# -- which processes hold an object (the pids column) ---------------------------------------

_HOLDERS: Dict[str, Dict[int, List[Dict[str, Any]]]] = {}


def _scan_holders() -> Dict[str, Dict[int, List[Dict[str, Any]]]]:
    """kind -> id -> [{"pid", "comm"}]: every process's BPF fds, from /proc/PID/fd and
    /proc/PID/fdinfo (``prog_id:``, ``map_id:``, ``link_id:``), as bpftool's pids."""
    table: Dict[str, Dict[int, Dict[int, str]]] = {k: {} for k in KINDS}
    kinds = {inode: k for k, v in KINDS.items() for inode in v.anon_inodes}
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        comm: Optional[str] = None
        for fd_name in fds:
            if pid == me and int(fd_name) in _OWN_FDS:
                continue
            try:
                kind = kinds.get(os.readlink(f"/proc/{pid}/fd/{fd_name}"))
                if kind is None:
                    continue
                with open(f"/proc/{pid}/fdinfo/{fd_name}") as f:
                    text = f.read()
            except OSError:
                continue
            for line in text.splitlines():
                key, _, value = line.partition(":")
                if key == f"{kind}_id" and value.strip().isdigit():
                    if comm is None:
                        try:
                            with open(f"/proc/{pid}/comm") as f:
                                comm = f.read().strip()
                        except OSError:
                            comm = "?"
                    table[kind].setdefault(int(value), {})[pid] = comm
    return {k: {i: [{"pid": p, "comm": c} for p, c in sorted(by.items())]
                for i, by in ids.items()} for k, ids in table.items()}


def holders(kind: str, obj_id: int) -> List[Dict[str, Any]]:
    """The processes (other than this command) that hold an fd of ``kind`` ``obj_id``;
    /proc is read once per command (:func:`command_scope`), else on every call."""
    table = _HOLDERS if _HOLDERS_SCOPE else {}
    if not table:
        table.update(_scan_holders())
    return list(table.get(kind, {}).get(obj_id, []))


#: non-empty while a command runs: the /proc scan is kept for its duration
_HOLDERS_SCOPE: List[bool] = []


class command_scope:
    """``with command_scope():`` one command: /proc is scanned at most once inside."""

    def __enter__(self) -> None:
        _HOLDERS.clear()
        _HOLDERS_SCOPE.append(True)

    def __exit__(self, *exc: object) -> None:
        _HOLDERS_SCOPE.pop()
        if not _HOLDERS_SCOPE:
            _HOLDERS.clear()


def _pids_text(pids: List[Dict[str, Any]]) -> str:
    return ", ".join(f"{p['comm']}({p['pid']})" for p in pids)


def _prog_text(r: Dict[str, Any]) -> str:
    loaded = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(r["loaded_at"]))
    lines = [f"{r['id']}: {r['type']}  name {r['name'] or '-'}  tag {r['tag']}"
             + ("  gpl" if r["gpl_compatible"] else ""),
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
    if r["pids"]:
        lines.append(f"\tpids {_pids_text(r['pids'])}")
    return "\n".join(lines)


# -- maps -----------------------------------------------------------------------------------

def map_record(fd: int) -> Dict[str, Any]:
    """The stable description of the map behind ``fd`` (keys: docs/cli.md)."""
    info = map_info(fd, "cannot read map info")
    fdinfo = _fdinfo(fd)
    memlock = fdinfo.get("memlock", "")
    return {
        "id": info.id,
        "type": str(MapType(int(info.type))),
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
        "pids": holders("map", info.id),
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
    if r["pids"]:
        lines.append(f"\tpids {_pids_text(r['pids'])}")
    return "\n".join(lines)


def map_ids_named(name: str) -> List[int]:
    """The ids of the kernel's maps called ``name`` (names are at most 15 characters)."""
    return _ids_where("map", "name", name)


def c_name(cls: Any, name: str) -> str:
    """The C name of field ``name`` of a BTF record class (promoted anonymous members
    included): a C keyword field keeps its C spelling (``in``, not Python's ``in_``)."""
    cnames = getattr(cls, "_btf_cnames_", None) or {}
    if name in cnames:
        return str(cnames[name])
    for member in getattr(cls, "_anonymous_", ()):
        inner = {f[0]: f[1] for f in cls._fields_}.get(member)
        if inner is not None and name in getattr(inner, "_btf_names_", ()):
            return c_name(inner, name)
    return name


def _field(cls: Any, name: str) -> Tuple[str, Any]:
    """(the Python name, the ctypes type) of the field called ``name`` in Python or in C
    in record class ``cls`` (anonymous members searched too); (name, None) if none."""
    fields = {f[0]: f[1] for f in getattr(cls, "_fields_", ())}  # (bitfields: 3 items)
    if name in getattr(cls, "_btf_names_", ()) and name in fields:
        return name, fields[name]
    for py, c in (getattr(cls, "_btf_cnames_", None) or {}).items():
        if c == name and py in fields:
            return py, fields[py]
    for member in getattr(cls, "_anonymous_", ()):
        found = _field(fields[member], name)
        if found[1] is not None:
            return found
    return name, None


def python_names(cls: Any, data: Any) -> Any:
    """JSON data from the command line, whose fields have their C names (as ``map dump``
    prints them), with the names the record class ``cls`` takes (``in`` -> ``in_``)."""
    if isinstance(data, dict) and getattr(cls, "_btf_names_", None) is not None:
        out: Dict[Any, Any] = {}
        for key, value in data.items():
            py, ctype = _field(cls, key) if isinstance(key, str) else (key, None)
            out[py] = python_names(ctype, value)
        return out
    if isinstance(data, list):
        if isinstance(cls, type) and issubclass(cls, ctypes.Array):
            return [python_names(cls._type_, v) for v in data]
        if getattr(cls, "_btf_names_", None) is not None:  # per-CPU: one record per CPU
            return [python_names(cls, v) for v in data]
    return data


def to_plain(value: Any) -> Any:
    """A decoded key or value as JSON-able data: records as dicts, arrays as lists,
    ``bytes`` (char arrays, raw values) as a hex string."""
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    names = getattr(type(value), "_btf_names_", None)
    if names is not None and callable(getattr(value, "_asdict", None)):
        # a BTF record: its fields by their C names, as bpftool prints them (a C field
        # `in` is `in_` in Python, and `map update` takes the C name)
        return {c_name(type(value), n): to_plain(getattr(value, n)) for n in names}
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
    ltype = str(LinkType(int(info.type)))
    out: Dict[str, Any] = {"id": info.id, "type": ltype, "prog_id": info.prog_id}
    for key in _LINK_KEYS.get(ltype, ()):
        value = info.get(key)
        if key == "tp_name" and not value:
            continue  # the kernel gave no name
        if key == "attach_type":
            value = str(AttachType(value))
        out[key] = value
    out["pids"] = holders("link", info.id)
    return out


def _link_text(r: Dict[str, Any]) -> str:
    head = f"{r['id']}: {r['type']}  prog {r['prog_id']}"
    rest = [f"{k} {v}" for k, v in r.items() if k not in ("id", "type", "prog_id", "pids")]
    text = head + ("\n\t" + "  ".join(rest) if rest else "")
    if r["pids"]:
        text += f"\n\tpids {_pids_text(r['pids'])}"
    return text


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


# -- prog, map, link list|show ------------------------------------------------------------------

def _list_or_show(args: argparse.Namespace, kind: str,
                  record: Callable[[int], Dict[str, Any]],
                  text: Callable[[Dict[str, Any]], str]) -> int:
    """``list`` (every object of ``kind``) or ``show`` (what ``args.ref`` names: a prog
    name or tag may name several, shown as a list with --json, as bpftool)."""
    if args.action == "list":
        records = _list(kind, record)
        _emit(args, records, lambda: "\n".join(text(r) for r in records))
        return 0
    handles = _resolve(kind, args.ref, many=kind == "prog")
    records = []
    for handle in handles:
        with handle as fd:
            records.append(record(fd))
    keyword, _ = _classify(kind, args.ref)
    one = records if keyword in ("name", "tag") and kind == "prog" else records[0]
    _emit(args, one, lambda: "\n".join(text(r) for r in records))
    return 0


