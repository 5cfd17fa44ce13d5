"""``map lookup|update|delete|create``, ``prog|map|link pin``, ``prog load|loadall``."""

from __future__ import annotations

import argparse
import errno
import json
import os
from typing import Any, Dict, List, Sequence, Tuple

from .. import _validate
from .._binding import lib
from .._call import make_error
from ..map import Map
from ..object import BpfObject
from ._core import (
    _KEYWORDS,
    CliError,
    _emit,
    _Fd,
    _map_text,
    _open_one,
    link_record,
    map_record,
    prog_record,
    python_names,
    to_plain,
)

# -- map elements: parsing keys and values ------------------------------------------------------

def _split_ref(kind: str, words: Sequence[str], what: str) -> Tuple[List[str], List[str]]:
    """(the reference's words, the rest) of ``MAP ...`` / ``id N ...``."""
    if not words:
        raise CliError(f"missing the {kind} ({what})")
    n = 2 if words[0] in _KEYWORDS[kind] and len(words) >= 2 else 1
    return list(words[:n]), list(words[n:])


def _plain_input(value: Any) -> Any:
    """JSON data as a Map takes it: strings (char arrays) as bytes."""
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, list):
        return [_plain_input(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain_input(v) for k, v in value.items()}
    return value


def parse_data(tokens: Sequence[str], what: str) -> Any:
    """A key or value from the command line: ``hex 01 00 00 00`` (bytes, as bpftool),
    several numbers (one per byte, as bpftool: ``1 0 0 0``, ``0x01 0 0 0``), or one
    JSON word (an int, an object of fields, an array, a string for a char array) or
    a number in any base (``0x10``)."""
    if not tokens:
        raise CliError(f"missing the {what}")
    if tokens[0] == "hex":
        digits = "".join(tokens[1:])
        try:
            return bytes.fromhex(digits)
        except ValueError:
            raise CliError(f"{what} 'hex {' '.join(tokens[1:])}' is not hex bytes") from None
    if len(tokens) > 1:
        out = bytearray()
        for tok in tokens:
            try:
                byte = int(tok, 0)
            except ValueError:
                byte = -1
            if not 0 <= byte <= 255:
                raise CliError(f"{what}: {tok!r} is not a byte (give one JSON word, or "
                               "bytes 0..255, or 'hex' and hex bytes)")
            out.append(byte)
        return bytes(out)
    tok = tokens[0]
    try:
        return int(tok, 0)
    except ValueError:
        pass
    try:
        return _plain_input(json.loads(tok))
    except ValueError:
        raise CliError(f"{what} {tok!r} is neither a number nor JSON") from None


def _kv(rest: Sequence[str], want_value: bool) -> Tuple[Any, Any, List[str]]:
    """``key K... [value V...] [FLAG]``: (key, value, trailing words)."""
    if not rest or rest[0] != "key":
        raise CliError("expected 'key' and the key" + (" then 'value' and the value"
                                                        if want_value else ""))
    rest = list(rest[1:])
    if not want_value:
        return parse_data(rest, "key"), None, []
    if "value" not in rest:
        raise CliError("expected 'value' and the value after the key")
    at = rest.index("value")
    tail = rest[at + 1:]
    flags: List[str] = []
    if tail and tail[-1] in _UPDATE_FLAGS:
        flags = [tail.pop()]
    return parse_data(rest[:at], "key"), parse_data(tail, "value"), flags


_UPDATE_FLAGS = {"any": 0, "noexist": 1, "exist": 2}


def _key_text(key: Any) -> str:
    return json.dumps(to_plain(key))


def _as_typed(m: Map, key: Any) -> Any:
    """A key given as bytes (``hex ...``) decoded as the map's key type, so that the
    output shows ``1`` or ``{"pid": 1}`` rather than ``"01000000"``."""
    if not isinstance(key, bytes):
        return key
    codec = m._check_loaded().key  # the map's own key codec (BTF-typed when it has BTF)
    if codec is None or len(key) != codec.size:
        return key
    return codec.from_bytes(key)


def _open_map(words: Sequence[str]) -> Tuple[_Fd, List[str]]:
    ref, rest = _split_ref("map", words, "id, name or pin path")
    return _open_one("map", ref), rest


def cmd_map_elem(args: argparse.Namespace) -> int:
    """``map lookup|update|delete MAP key K [value V] [any|noexist|exist]``."""
    handle, rest = _open_map(args.words)
    with handle as fd, Map.from_fd(fd) as m:
        record_id = m.id
        if args.action == "lookup":
            key, _, _ = _kv(rest, False)
            try:
                value = m.lookup(key)
                key = _as_typed(m, key)
            except KeyError:
                raise CliError(f"key {_key_text(key)} is not in map {record_id}") from None
            data = {"key": to_plain(key), "value": to_plain(value)}
            _emit(args, data, lambda: f"{_key_text(key)}: {json.dumps(data['value'])}")
        elif args.action == "update":
            key, value, flag = _kv(rest, True)
            elements = m._check_loaded()
            key = python_names(getattr(elements.key, "cls", None), key)
            value = python_names(getattr(elements.value, "cls", None), value)
            try:
                m.update(key, value, _UPDATE_FLAGS[flag[0]] if flag else 0)
                key = _as_typed(m, key)
            except KeyError:
                raise CliError(f"key {_key_text(key)} is not in map {record_id} "
                               "(flag 'exist' updates only an existing element)") from None
            _emit(args, {"key": to_plain(key), "value": to_plain(m.lookup(key))
                         if m.type.name not in ("PROG_ARRAY", "ARRAY_OF_MAPS",
                                                "HASH_OF_MAPS") else None},
                  lambda: "")
        else:
            key, _, _ = _kv(rest, False)
            try:
                del m[key]
                key = _as_typed(m, key)
            except KeyError:
                raise CliError(f"key {_key_text(key)} is not in map {record_id}") from None
            _emit(args, {"key": to_plain(key)}, lambda: "")
    return 0


def _pin(kind: str, fd: int, path: str) -> None:
    ret = int(lib.bpf_obj_pin(fd, _validate.cstr(path, "path", path=True)))
    if ret < 0:
        raise make_error(-ret, f"cannot pin {kind} at {path!r}" + _bpffs_hint(path, -ret))


def _bpffs_hint(path: str, err: int) -> str:
    if err not in (errno.EPERM, errno.EINVAL, errno.ENOENT):
        return ""
    parent = os.path.dirname(os.path.abspath(path)) or "/"
    try:
        st = os.statvfs(parent)
        del st
    except OSError:
        return f" (its directory {parent!r} does not exist)"
    mounts = []
    try:
        with open("/proc/self/mounts") as f:
            mounts = [line.split()[1] for line in f if line.split()[2] == "bpf"]
    except (OSError, IndexError):
        pass
    on = any(parent == m or parent.startswith(m.rstrip("/") + "/") for m in mounts)
    if on:
        return ""
    return (f" (not on a bpf filesystem; bpffs is mounted at {', '.join(mounts)})" if mounts
            else " (not on a bpf filesystem, and none is mounted: mount -t bpf bpf /sys/fs/bpf)")


def cmd_pin(args: argparse.Namespace) -> int:
    """``prog|map|link pin REF PATH``."""
    kind = args.command
    words = list(args.words)
    if len(words) < 2:
        raise CliError(f"give the {kind} and the pin path")
    path = words.pop()
    with _open_one(kind, words) as fd:
        _pin(kind, fd, path)
        rec = {"prog": prog_record, "map": map_record, "link": link_record}[kind](fd)
    _emit(args, {"id": rec["id"], "path": path}, lambda: "")
    return 0


def _map_create_words(words: Sequence[str]) -> Dict[str, str]:
    if not words:
        raise CliError("give the pin path first: map create PATH type TYPE key N value N "
                       "entries N name NAME [flags N]")
    opts: Dict[str, str] = {"path": words[0]}
    rest = list(words[1:])
    allowed = ("type", "key", "value", "entries", "name", "flags")
    while rest:
        word = rest.pop(0)
        if word not in allowed:
            raise CliError(f"unknown word {word!r} (expected one of {', '.join(allowed)})")
        if not rest:
            raise CliError(f"{word!r} needs a value")
        opts[word] = rest.pop(0)
    missing = [w for w in ("type", "key", "value", "entries", "name") if w not in opts]
    if missing:
        raise CliError(f"missing {', '.join(missing)}")
    return opts


def cmd_map_create(args: argparse.Namespace) -> int:
    """``map create PATH type TYPE key N value N entries N name NAME [flags N]``."""
    opts = _map_create_words(args.words)
    sizes = {}
    for word in ("key", "value", "entries", "flags"):
        if word in opts:
            try:
                sizes[word] = int(opts[word], 0)
            except ValueError:
                raise CliError(f"{word} {opts[word]!r} is not a number") from None
    with Map.create(opts["type"], sizes["key"], sizes["value"], sizes["entries"],
                    name=opts["name"], map_flags=sizes.get("flags", 0)) as m:
        _pin("map", m.fd, opts["path"])
    with _open_one("map", ["pinned", opts["path"]]) as fd:
        record = map_record(fd)
    _emit(args, record, lambda: _map_text(record))
    return 0


# -- prog load|loadall ------------------------------------------------------------------------

def cmd_prog_load(args: argparse.Namespace) -> int:
    """``prog load OBJ PATH`` (the first program at PATH) or ``prog loadall OBJ DIR``
    (every program at DIR/NAME), maps pinned under ``--pinmaps DIR``."""
    pinned: List[Dict[str, Any]] = []
    if not os.path.exists(args.object):
        raise CliError(f"{args.object!r} does not exist")
    with BpfObject.open(args.object) as obj:
        obj.load()
        progs = list(obj.programs.items())
        if not progs:
            raise CliError(f"{args.object!r} has no programs")
        if args.action == "load":
            targets = [(progs[0][0], progs[0][1], args.path)]
        else:
            if not os.path.isdir(args.path):
                os.mkdir(args.path)
            targets = [(name, prog, os.path.join(args.path, name.replace(".", "_")))
                       for name, prog in progs]
        for name, prog, path in targets:
            _pin("prog", prog.fd, path)
            pinned.append({"kind": "prog", "name": name, "id": prog.id, "path": path})
        if args.pinmaps:
            if not os.path.isdir(args.pinmaps):
                os.mkdir(args.pinmaps)
            for name, m in obj.maps.items():
                # bpffs refuses '.' in names: libbpf pins "x.rodata" as "x_rodata" too
                path = os.path.join(args.pinmaps, name.replace(".", "_"))
                _pin("map", m.fd, path)
                pinned.append({"kind": "map", "name": name, "id": m.id, "path": path})
    _emit(args, pinned, lambda: "\n".join(
        f"{p['kind']} {p['id']} {p['name']}: pinned at {p['path']}"
        for p in pinned))
    return 0


