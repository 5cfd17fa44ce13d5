"""The bpftool-style commands of ``python -m libbpf_py``.

Scripting against the kernel's BPF objects with the installed libbpf, in the
manner of bpftool (docs/cli.md has every command and JSON key)::

    prog list|show PROG, prog dump xlated|jited PROG, prog pin PROG PATH,
    prog load OBJ PATH, prog loadall OBJ DIR, prog tracelog
    map list|show|dump MAP, map lookup|update|delete MAP key K [value V],
    map create PATH type T key N value N entries N name X, map pin MAP PATH
    link list|show|detach LINK, link pin LINK PATH
    btf dump [--format c|raw] [--id N] [FILE], btf list
    net list, cgroup tree [ROOT]

PROG, MAP, LINK: an id, a pin path, a name (prog, map) or a tag (prog), bare or
in bpftool's keyword form (``id N``, ``pinned PATH``, ``name X``, ``tag HEX``).
The JSON keys are stable. Errors (no such id, no permission, not a BPF
object...) are one line on stderr, exit status 1; a wrong command line is
argparse's message, exit status 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Any, Callable

from ..btf import Btf
from ..errors import ClosedError, LibbpfError, LibbpfVersionError
from ._code import _jited_text, _xlated_text, jited_record, xlated_records
from ._core import (
    PROG,
    CliError,
    _emit,
    _ids,
    _link_text,
    _list_or_show,
    _map_text,
    _open_one,
    _parse_id,
    _prog_text,
    command_scope,
    link_record,
    map_entries,
    map_ids_named,
    map_record,
    prog_record,
    to_plain,
)
from ._elems import cmd_map_create, cmd_map_elem, cmd_pin, cmd_prog_load, parse_data
from ._system import cmd_btf_list, cmd_cgroup_tree, cmd_link_detach, cmd_net_list, cmd_tracelog

__all__ = [
    "PROG",
    "CliError",
    "_ids",
    "add_commands",
    "jited_record",
    "link_record",
    "map_entries",
    "map_ids_named",
    "map_record",
    "parse_data",
    "prog_record",
    "to_plain",
    "xlated_records",
]


# -- the commands -------------------------------------------------------------------------------

def cmd_prog(args: argparse.Namespace) -> int:
    if args.action in ("list", "show"):
        return _list_or_show(args, "prog", prog_record, _prog_text)
    with _open_one("prog", args.ref) as fd:
        if args.what == "xlated":
            records = xlated_records(fd)
            _emit(args, records, lambda: _xlated_text(records))
        else:
            jited = jited_record(fd)
            _emit(args, jited, lambda: _jited_text(jited))
    return 0


def cmd_map(args: argparse.Namespace) -> int:
    if args.action != "dump":
        return _list_or_show(args, "map", map_record, _map_text)
    with _open_one("map", args.ref) as fd:
        _, entries = map_entries(fd)

    def text() -> str:
        lines = [f"{json.dumps(e['key'])}: {json.dumps(e['value'])}" for e in entries]
        lines.append(f"Found {len(entries)} element{'s' * (len(entries) != 1)}")
        return "\n".join(lines)

    _emit(args, entries, text)
    return 0


def cmd_link(args: argparse.Namespace) -> int:
    return _list_or_show(args, "link", link_record, _link_text)


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


_REF_HELP = {
    "prog": "a program: ID, PATH (pinned), TAG (16 hex digits) or NAME, or bpftool's "
            "'id ID', 'pinned PATH', 'tag TAG', 'name NAME'",
    "map": "a map: ID, PATH (pinned) or NAME, or bpftool's 'id ID', 'pinned PATH', "
           "'name NAME'",
    "link": "a link: ID or PATH (pinned), or bpftool's 'id ID', 'pinned PATH'",
}


def _action(acts: Any, name: str, func: Callable[[argparse.Namespace], int], help: str,
            description: str) -> argparse.ArgumentParser:
    a: argparse.ArgumentParser = acts.add_parser(name, help=help, description=description)
    a.set_defaults(func=_guarded(func))
    return a


def _ref_arg(a: argparse.ArgumentParser, kind: str) -> None:
    a.add_argument("ref", metavar=kind.upper(), nargs="+", help=_REF_HELP[kind])


def add_commands(sub: Any) -> None:
    """Add ``prog``, ``map``, ``link``, ``btf``, ``net`` and ``cgroup`` to
    ``python -m libbpf_py``'s subparsers."""
    for kind, func, what in (("prog", cmd_prog, "BPF programs loaded in the kernel"),
                             ("map", cmd_map, "BPF maps in the kernel"),
                             ("link", cmd_link, "BPF links in the kernel")):
        p = sub.add_parser(kind, help=what, description=f"Inspect {what}.")
        acts = p.add_subparsers(dest="action", metavar="ACTION", required=True)
        a = _action(acts, "list", func, f"every {kind}", f"List {what} (with the "
                    "processes holding them: pids).")
        _common(a)
        a = _action(acts, "show", func, f"one {kind}" + (" (or every one of a name or tag)"
                                                        if kind == "prog" else ""),
                    f"Show {_REF_HELP[kind]}.")
        _ref_arg(a, kind)
        _common(a)
        a = _action(acts, "pin", cmd_pin, f"pin a {kind} on bpffs",
                    f"Pin {_REF_HELP[kind]} at PATH on a bpf filesystem.")
        a.add_argument("words", metavar=f"{kind.upper()} PATH", nargs="+",
                       help=f"the {kind} then the pin path")
        _common(a)
        if kind == "prog":
            _prog_commands(acts)
        elif kind == "map":
            _map_commands(acts)
        else:
            a = _action(acts, "detach", cmd_link_detach, "detach a link",
                        "Detach a link from its hook (bpf_link_detach): the program stops "
                        "running there; the link object lives on while held or pinned.")
            _ref_arg(a, "link")
            _common(a)

    p = sub.add_parser("btf", help="BPF Type Format", description="Work with BTF.")
    acts = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = _action(acts, "dump", cmd_btf, "dump BTF as C (vmlinux.h) or raw",
                "Dump the BTF of FILE (an ELF object with .BTF or a raw BTF file; default "
                "/sys/kernel/btf/vmlinux) or of the kernel's BTF object --id N. --format c "
                "writes a header like bpftool's vmlinux.h; raw lists the types as bpftool's "
                "format raw does (--json: a list of types).")
    a.add_argument("file", metavar="FILE", nargs="?", help="ELF or raw BTF file")
    a.add_argument("--id", metavar="N", help="the kernel's BTF object number N")
    a.add_argument("--format", "-f", choices=("c", "raw"), default="raw",
                   help="c (a vmlinux.h-style header) or raw (default)")
    _common(a)
    a = _action(acts, "list", cmd_btf_list, "the kernel's BTF objects",
                "List the kernel's BTF objects (vmlinux, modules, programs' and maps') with "
                "the programs and maps using each.")
    _common(a)

    p = sub.add_parser("net", help="BPF programs on network interfaces",
                       description="Network attachments of BPF programs.")
    acts = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = _action(acts, "list", cmd_net_list, "XDP and tcx programs per interface",
                "List the XDP (bpf_xdp_query) and tcx (bpf_prog_query) programs of every "
                "interface of this network namespace. Classic tc (cls_bpf) filters are "
                "not listed.")
    _common(a)

    p = sub.add_parser("cgroup", help="BPF programs on cgroups",
                       description="cgroup attachments of BPF programs.")
    acts = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = _action(acts, "tree", cmd_cgroup_tree, "programs attached in a cgroup tree",
                "Walk the cgroup v2 tree from ROOT (default /sys/fs/cgroup) and list the "
                "programs attached to each cgroup, per attach type (bpf_prog_query).")
    a.add_argument("root", metavar="ROOT", nargs="?", default="/sys/fs/cgroup",
                   help="the cgroup directory to start from")
    _common(a)


def _prog_commands(acts: Any) -> None:
    a = _action(acts, "dump", cmd_prog, "a program's instructions",
                "Dump a program's translated (xlated: eBPF, disassembled, with the "
                "source lines of its BTF line info) or JITed (machine code, through "
                "llvm-mc when installed) instructions.")
    a.add_argument("what", choices=("xlated", "jited"), help="xlated or jited")
    _ref_arg(a, "prog")
    _common(a)
    for name, what in (("load", "load the object and pin its first program at PATH"),
                       ("loadall", "load the object and pin every program under DIR")):
        a = _action(acts, name, cmd_prog_load, what,
                    f"{what[0].upper()}{what[1:]} (on a bpf filesystem), as bpftool's "
                    f"prog {name}; --pinmaps DIR also pins its maps.")
        a.add_argument("object", metavar="OBJ", help="the BPF ELF object")
        a.add_argument("path", metavar="PATH" if name == "load" else "DIR",
                       help="where to pin")
        a.add_argument("--pinmaps", metavar="DIR", help="pin the maps under DIR too")
        _common(a)
    a = _action(acts, "tracelog", cmd_tracelog, "print bpf_printk output",
                "Copy /sys/kernel/tracing/trace_pipe (what bpf_printk writes) to stdout "
                "until Ctrl-C, --count lines or --timeout seconds. --json: one JSON object "
                "a line.")
    a.add_argument("--count", "-n", type=int, help="stop after N lines")
    a.add_argument("--timeout", "-t", type=float, help="stop after SECONDS")
    _common(a)


def _map_commands(acts: Any) -> None:
    a = _action(acts, "dump", cmd_map, "the elements of one map",
                "Print every element of a map, keys and values decoded with the map's BTF "
                "when it has one (structs as objects, char arrays and raw bytes as hex).")
    _ref_arg(a, "map")
    _common(a)
    data_help = ("K and V: one JSON word or number (1, 0x10, '{\"count\": 1}', '[1, 2]'), "
                 "bytes as bpftool (1 0 0 0), or 'hex 01 00 00 00'")
    for name, grammar, what in (
            ("lookup", "MAP key K", "read one element"),
            ("update", "MAP key K value V [any|noexist|exist]", "write one element"),
            ("delete", "MAP key K", "delete one element")):
        a = _action(acts, name, cmd_map_elem, what,
                    f"{what[0].upper()}{what[1:]}: {name} {grammar}. {data_help}. Keys "
                    "and values are encoded with the map's BTF when it has one.")
        a.add_argument("words", metavar=grammar, nargs="+", help=data_help)
        _common(a)
    a = _action(acts, "create", cmd_map_create, "create a map and pin it",
                "Create a map and pin it at PATH: create PATH type TYPE key KEY_SIZE value "
                "VALUE_SIZE entries MAX_ENTRIES name NAME [flags FLAGS], as bpftool.")
    a.add_argument("words", metavar="PATH type TYPE ...", nargs="+",
                   help="the pin path and the map's settings")
    _common(a)


def _guarded(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Run a command; report an expected failure as one line on stderr, exit status 1."""

    def run(args: argparse.Namespace) -> int:
        # libbpf's own warnings go to the "libbpf_py" logger; the error line says it all
        logger = logging.getLogger("libbpf_py")
        quiet = logging.NullHandler()
        if not logger.handlers:
            logger.addHandler(quiet)
        try:
            with command_scope():
                return func(args)
        except BrokenPipeError:
            # the reader went away (| head): not an error of ours
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return 0
        except (CliError, LibbpfError, LibbpfVersionError, ClosedError, OSError,
                ValueError, KeyError, TypeError, IndexError) as exc:
            # (IndexError: an id or index given on the command line that is out of range)
            msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
            sys.stderr.write(f"{PROG} {args.command}: error: {msg}\n")
            return 1
        finally:
            logger.removeHandler(quiet)

    return run

