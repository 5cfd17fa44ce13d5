"""``python -m libbpf_py``: the command line.

Subcommands:

``info [--json]``
    how this libbpf_py was built and which libbpf it runs.
``linkcheck [--verbose] [--json] [FILE]``
    dynamic, static or mixed, proven from the ELF file (default: the installed
    extension): a one-screen verdict; ``--verbose`` lists the symbols, ``--json``
    gives everything. Exit status 0 for dynamic/static, 1 for mixed, 2 for a
    file it cannot read.
``prog``, ``map``, ``link``, ``btf``, ``net``, ``cgroup``
    the kernel's BPF objects, BTF and attachments, as bpftool
    (:mod:`libbpf_py.cli`, docs/cli.md).
``gen skeleton X.bpf.o [-o x_skel.py] [--name NAME] [--keep-debug]``
    write a typed Python skeleton module for a BPF object (stdout without -o).
``gen object OUT.o IN1.o [IN2.o ...]``
    link BPF objects into one with libbpf's static linker, as ``bpftool gen object``
    (:class:`libbpf_py.Linker`).
``probe [--json] [--kernel [--no-helpers] [--full]]``
    which libbpf is linked, how, what it exports by version node, what the
    bindings miss, which features are available; with ``--kernel``, what the
    running kernel supports (needs root). See docs/probe.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import List, Optional, Sequence

from . import cli, linkcheck
from ._binding import BUILD
from ._version import __version__
from .errors import LibbpfError
from .gen import write_skeleton
from .linker import link_files
from .probe import KernelReport, ProbeReport, probe, probe_kernel


def _cmd_info(args: argparse.Namespace) -> int:
    info = BUILD.as_dict()
    info["package_version"] = __version__
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=True))
    else:
        width = max(len(k) for k in info)
        for key in sorted(info):
            value = info[key]
            print(f"{key:<{width}}  {'-' if value is None else value}")
    return 0


def _cmd_linkcheck(args: argparse.Namespace) -> int:
    if args.json or args.verbose:
        # the full report: every symbol by version node (text), or everything (JSON)
        argv: List[str] = ["--json"] if args.json else []
        if args.file:
            argv += ["--", args.file]
        return linkcheck.main(argv)
    path = args.file or linkcheck._default_extension()
    if path is None:
        print("linkcheck: libbpf_py._libbpf is not built; pass a FILE", file=sys.stderr)
        return 2
    companion = None if args.file else linkcheck._default_extension("_speedups")
    try:
        result = linkcheck.audit(path)
        side = linkcheck.audit_companion(companion) if companion else None
    except linkcheck.LinkAuditError as exc:
        print(f"linkcheck: {exc}", file=sys.stderr)
        return 2
    print(linkcheck_verdict(result, side, BUILD.linked_library if not args.file else None))
    return 1 if result.verdict == "mixed" or (side is not None and not side.clean) else 0


def linkcheck_verdict(result: linkcheck.LinkAudit, side: Optional[linkcheck.CompanionAudit],
                      loaded: Optional[str]) -> str:
    """``linkcheck``'s one-screen verdict: mode, library, how it is proven, counts."""
    libs = [n for n in result.needed if n.startswith("libbpf.so")]
    if result.verdict == "dynamic":
        library = ", ".join(libs) + (f" (loaded: {loaded})" if loaded else "")
    elif result.verdict == "static" and result.defined:
        library = "linked into the file"
    elif result.verdict == "static":
        library = "no libbpf.so in NEEDED; no libbpf symbol to see (stripped)"
    else:
        library = ", ".join(libs) + " in NEEDED" if libs else "none in NEEDED"
    nodes = sorted(set(result.imported.values()), key=linkcheck._node_key)
    span = f" ({nodes[0]} to {nodes[-1]})" if nodes else ""
    rows = [("file", result.file), ("verdict", result.verdict), ("library", library),
            ("symbols", f"{len(result.imported)} imported{span}, {len(result.defined)} "
                        f"defined, {len(result.exported)} exported")]
    if side is not None:
        rows.append(("companion", f"{os.path.basename(side.file)}: "
                     + ("holds no libbpf" if side.clean else "; ".join(side.problems))))
    lines = [f"{k + ':':<10} {v}" for k, v in rows]
    lines.append("proof:")
    lines.extend(linkcheck._wrap(reason, "  ") for reason in result.reasons)
    lines.append("(--verbose: the symbols by version node; --json: everything)")
    return "\n".join(lines)


def _cmd_gen_skeleton(args: argparse.Namespace) -> int:
    try:
        text = write_skeleton(args.object, args.output, args.name, keep_debug=args.keep_debug)
    except (OSError, ValueError) as exc:
        print(f"gen skeleton: {exc}", file=sys.stderr)
        return 1
    if args.output is None:
        sys.stdout.write(text)
    return 0


def _cmd_gen_object(args: argparse.Namespace) -> int:
    try:
        link_files(args.output, args.inputs)
    except (OSError, ValueError, LibbpfError) as exc:
        print(f"gen object: {exc}", file=sys.stderr)
        return 1
    return 0


def _cmd_probe(args: argparse.Namespace) -> int:
    report: ProbeReport | KernelReport
    try:
        report = (probe_kernel(helpers=not args.no_helpers, full=args.full) if args.kernel
                  else probe())
    except LibbpfError as exc:
        print(f"python -m libbpf_py probe: {exc}", file=sys.stderr)
        return 1
    text = json.dumps(report.as_dict(), indent=2) if args.json else report.format()
    try:
        print(text, flush=True)
    except BrokenPipeError:
        # the reader went away (`probe | head`): not an error, and no traceback at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m libbpf_py",
        description="libbpf_py: Python bindings over libbpf.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("info", help="how libbpf_py was built and which libbpf it runs",
                       description="Print the build mode, libbpf header and runtime "
                                   "versions and the path of the libbpf actually loaded.")
    p.add_argument("--json", action="store_true", help="print JSON with stable keys")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("linkcheck", help="prove from the ELF file how libbpf is linked",
                       description="Audit an ELF file (default: the installed extension) "
                                   "and say whether libbpf is linked dynamically, "
                                   "statically, or mixed. Exit 0 dynamic/static, 1 mixed, "
                                   "2 unreadable.")
    p.add_argument("--json", action="store_true",
                   help="print everything (the symbol lists too) as JSON with stable keys")
    p.add_argument("--verbose", "-v", action="store_true",
                   help="the full report: every libbpf symbol by version node")
    p.add_argument("file", nargs="?", help="ELF file to audit")
    p.set_defaults(func=_cmd_linkcheck)

    cli.add_commands(sub)

    p = sub.add_parser("gen", help="generate code from a BPF object",
                       description="Generate code from a BPF object.")
    gen = p.add_subparsers(dest="gen_command", metavar="WHAT", required=True)
    p = gen.add_parser("skeleton", help="a typed Python skeleton module",
                       description="Write a Python module embedding the object, with typed "
                                   "maps, programs, links and data sections (as bpftool "
                                   "gen skeleton does for C).")
    p.add_argument("object", help="the BPF ELF object (X.bpf.o)")
    p.add_argument("-o", "--output", help="the module to write (default: stdout)")
    p.add_argument("--name", help="object name (default: from the file name, as bpftool)")
    p.add_argument("--keep-debug", action="store_true",
                   help="embed the object with its DWARF (default: llvm-strip -g, BTF kept)")
    p.set_defaults(func=_cmd_gen_skeleton)
    p = gen.add_parser("object", help="link BPF objects into one (libbpf's static linker)",
                       description="Link BPF ELF objects into one with libbpf's static "
                                   "linker, as bpftool gen object does.")
    p.add_argument("output", help="the linked object to write")
    p.add_argument("inputs", nargs="+", help="the BPF ELF objects to link, in order")
    p.set_defaults(func=_cmd_gen_object)

    p = sub.add_parser("probe", help="which libbpf is linked and what it exports; "
                                     "with --kernel, what the kernel supports",
                       description="Report the linked libbpf (mode, header and runtime "
                                   "versions, library path, exported symbols by version "
                                   "node, declared API it lacks, exports not wrapped, "
                                   "features), or with --kernel the running kernel's "
                                   "program types, map types, helpers, kfuncs and attach "
                                   "facts (needs root).")
    p.add_argument("--json", action="store_true", help="print JSON with stable keys")
    p.add_argument("--kernel", action="store_true", help="probe the running kernel")
    p.add_argument("--no-helpers", action="store_true",
                   help="with --kernel: skip the per-program-type helper probes")
    p.add_argument("--full", action="store_true",
                   help="with --kernel: also probe helpers that warn in the kernel log")
    p.set_defaults(func=_cmd_probe)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        status = int(args.func(args))
        sys.stdout.flush()  # here, not at exit: a closed pipe must be seen by the except
    except BrokenPipeError:
        # the reader went away (`info --json | head -c 100`): not an error, no traceback;
        # stdout goes to /dev/null so that the flush at exit does not fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return status


if __name__ == "__main__":
    sys.exit(main())
