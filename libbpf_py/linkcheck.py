"""Prove from the ELF file alone whether a shared object links libbpf dynamically or statically.

The bpftool patch series that introduced ``LIBBPF_DYNAMIC`` shipped a build that named
``libbpf.so`` in its dynamic section (``DT_NEEDED``) while every libbpf symbol had been linked
statically.  :func:`audit` makes that impossible to miss.  It reads, with pyelftools only:

- ``DT_NEEDED`` entries of the dynamic section;
- ``.dynsym`` with ``.gnu.version`` / ``.gnu.version_r``: which libbpf symbols are undefined and
  bound to a ``LIBBPF_*`` version needed from ``libbpf.so`` (imported), and which are defined and
  visible to other objects (exported);
- ``.symtab`` when present: which libbpf symbols are defined inside the file, hidden or not.

Verdicts:

``dynamic``
    a ``libbpf.so*`` is in ``DT_NEEDED``, at least one libbpf symbol is imported, every imported
    libbpf symbol carries a ``LIBBPF_*`` version, and no libbpf symbol is defined inside the file.
``static``
    no ``libbpf.so*`` in ``DT_NEEDED``, no libbpf symbol imported, none exported (the defined
    ones are the linked-in static code).
``mixed``
    anything else; the reasons name each problem.

A "libbpf symbol" is a name of libbpf's exported API (``LIBBPF_API``, as the declarations in
``libbpf_py._cdefs`` list it: the declared functions and the deliberately undeclared ones) or any
symbol bound to a ``LIBBPF_*`` version.

Companion: libbpf_py's second extension, ``libbpf_py._speedups`` (Map's int element path,
the ring buffer delivery loop), must hold no libbpf at all: it calls the audited extension's
libbpf through a table that extension hands over as a PyCapsule
(``libbpf_py._libbpf._speedups_api``).
:func:`audit_companion` proves that from its ELF file (no ``libbpf.so*`` in ``DT_NEEDED``, no
libbpf symbol imported, defined or exported); ``linkcheck`` without a FILE audits both.
"""

from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import json
import os
import re
import sys
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from elftools.common.exceptions import ELFError  # type: ignore[import-untyped,unused-ignore]
from elftools.elf.dynamic import DynamicSection  # type: ignore[import-untyped,unused-ignore]
from elftools.elf.elffile import ELFFile  # type: ignore[import-untyped,unused-ignore]
from elftools.elf.gnuversions import (  # type: ignore[import-untyped,unused-ignore]
    GNUVerDefSection,
    GNUVerNeedSection,
    GNUVerSymSection,
)
from elftools.elf.sections import SymbolTableSection  # type: ignore[import-untyped,unused-ignore]

from ._cdefs import exported_api
from ._elfid import LinkAuditError, check_ident, versym_index

__all__ = ["CompanionAudit", "LinkAudit", "LinkAuditError", "Verdict", "audit",
           "audit_companion", "main"]

Verdict = Literal["dynamic", "static", "mixed"]

#: every name of libbpf's exported API (libbpf.map of the newest release declared)
LIBBPF_API: frozenset[str] = frozenset(exported_api())

#: The stable keys of :meth:`LinkAudit.to_dict` (and of ``linkcheck --json``).
JSON_KEYS: tuple[str, ...] = (
    "file",
    "verdict",
    "needed",
    "imported",
    "defined",
    "exported",
    "reasons",
)

_LIBBPF_SONAME = re.compile(r"^libbpf\.so(\.[0-9]+)*$")
_VERSION_PREFIX = "LIBBPF_"
_EXPORTED_BINDINGS = frozenset({"STB_GLOBAL", "STB_WEAK", "STB_GNU_UNIQUE"})
_EXPORTED_VISIBILITIES = frozenset({"STV_DEFAULT", "STV_PROTECTED"})
_NOT_CODE_TYPES = frozenset({"STT_FILE", "STT_SECTION"})
_SAMPLE = 3


@dataclass(frozen=True)
class LinkAudit:
    """How one ELF file links libbpf, and why the verdict is what it is."""

    file: str
    verdict: Verdict
    #: every ``DT_NEEDED`` entry, in file order
    needed: list[str]
    #: libbpf symbol -> ``LIBBPF_*`` version node, for undefined symbols taken from libbpf.so
    imported: dict[str, str]
    #: libbpf symbols defined inside the file (``.symtab`` if present, and ``.dynsym``)
    defined: list[str]
    #: libbpf symbols defined in ``.dynsym`` and visible to other objects
    exported: list[str]
    #: full sentences explaining the verdict
    reasons: list[str]

    def to_dict(self) -> dict[str, Any]:
        """The audit as plain JSON data, with exactly the keys in :data:`JSON_KEYS`."""
        return {
            "file": self.file,
            "verdict": self.verdict,
            "needed": list(self.needed),
            "imported": dict(self.imported),
            "defined": list(self.defined),
            "exported": list(self.exported),
            "reasons": list(self.reasons),
        }


@dataclass
class _Facts:
    """What was read from the file, before any judgement."""

    needed: list[str]
    has_dynamic: bool
    has_symtab: bool
    soname: str | None
    # name -> (version node, file of the version need)
    imported: dict[str, tuple[str, str]]
    unversioned: set[str]
    # name -> (version, file) for libbpf names bound to some other library's version
    foreign: dict[str, tuple[str, str]]
    defined: set[str]
    exported: set[str]


def _is_libbpf_soname(name: str) -> bool:
    return _LIBBPF_SONAME.match(os.path.basename(name)) is not None


def _read(path: str, elf: Any) -> _Facts:
    kind = elf["e_type"]
    if kind not in ("ET_DYN", "ET_EXEC"):
        what = {"ET_REL": "a relocatable object (.o)", "ET_CORE": "a core dump"}.get(
            kind, f"of type {kind}"
        )
        raise LinkAuditError(
            f"{path}: is {what}, not a linked shared object or executable; "
            "audit the file it is linked into"
        )
    if elf.num_sections() == 0 and any(True for _ in elf.iter_segments("PT_DYNAMIC")):
        raise LinkAuditError(
            f"{path}: the file has a dynamic segment but no section headers (stripped with "
            "sstrip?), so its symbol versions cannot be read; audit the unstripped build"
        )

    needed: list[str] = []
    soname: str | None = None
    has_dynamic = False
    dynsym: Any = None
    symtab: Any = None
    versym: Any = None
    verneed: dict[int, tuple[str, str]] = {}
    verdef: dict[int, str] = {}
    for section in elf.iter_sections():
        if isinstance(section, DynamicSection):
            has_dynamic = True
            # pyelftools sets .needed / .soname on the tag objects at run time
            tags: Iterable[Any] = section.iter_tags()
            for tag in tags:
                if tag.entry.d_tag == "DT_NEEDED":
                    needed.append(str(tag.needed))
                elif tag.entry.d_tag == "DT_SONAME":
                    soname = str(tag.soname)
        elif isinstance(section, GNUVerSymSection):
            versym = section
        elif isinstance(section, GNUVerNeedSection):
            for need, auxes in section.iter_versions():
                for aux in auxes:
                    verneed[int(aux["vna_other"])] = (str(aux.name), str(need.name))
        elif isinstance(section, GNUVerDefSection):
            for vdef, auxes in section.iter_versions():
                first = next(iter(auxes), None)
                if first is not None:
                    verdef[int(vdef["vd_ndx"])] = str(first.name)
        elif isinstance(section, SymbolTableSection):
            if section["sh_type"] == "SHT_DYNSYM":
                dynsym = section
            elif section["sh_type"] == "SHT_SYMTAB":
                symtab = section

    imported: dict[str, tuple[str, str]] = {}
    unversioned: set[str] = set()
    foreign: dict[str, tuple[str, str]] = {}
    defined: set[str] = set()
    exported: set[str] = set()

    if dynsym is not None:
        count = dynsym.num_symbols()
        if versym is not None and versym.num_symbols() != count:
            raise LinkAuditError(
                f"{path}: .gnu.version has {versym.num_symbols()} entries but .dynsym has "
                f"{count} symbols; the file is malformed"
            )
        for index in range(1, count):
            sym = dynsym.get_symbol(index)
            name = str(sym.name)
            if not name:
                continue
            ndx = versym_index(versym.get_symbol(index)["ndx"]) if versym is not None else 0
            undefined = sym["st_shndx"] == "SHN_UNDEF"
            if undefined:
                version, source = verneed.get(ndx, ("", ""))
            else:
                version, source = verdef.get(ndx, ""), ""
            if name == version:
                # the marker symbol GNU ld writes for each version a library defines
                continue
            versioned_libbpf = version.startswith(_VERSION_PREFIX)
            if name not in LIBBPF_API and not versioned_libbpf:
                continue
            if undefined:
                if versioned_libbpf:
                    imported[name] = (version, source)
                elif version:
                    foreign[name] = (version, source)
                else:
                    unversioned.add(name)
            else:
                defined.add(name)
                if (
                    sym["st_info"]["bind"] in _EXPORTED_BINDINGS
                    and sym["st_other"]["visibility"] in _EXPORTED_VISIBILITIES
                ):
                    exported.add(name)

    if symtab is not None:
        for sym in symtab.iter_symbols():
            if sym["st_shndx"] == "SHN_UNDEF" or sym["st_info"]["type"] in _NOT_CODE_TYPES:
                continue
            # GNU ld writes dynamic symbols into .symtab as name@VERSION or name@@VERSION
            base, _, version = str(sym.name).partition("@")
            if base and (base in LIBBPF_API or version.lstrip("@").startswith(_VERSION_PREFIX)):
                defined.add(base)

    return _Facts(
        needed=needed,
        has_dynamic=has_dynamic,
        has_symtab=symtab is not None,
        soname=soname,
        imported=imported,
        unversioned=unversioned,
        foreign=foreign,
        defined=defined,
        exported=exported,
    )


def _count(n: int, what: str = "libbpf symbol") -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


def _verb(n: int, singular: str, plural: str) -> str:
    return singular if n == 1 else plural


def _sample(names: Iterable[str]) -> str:
    ordered = sorted(names)
    shown = ", ".join(ordered[:_SAMPLE])
    return f"{shown}, ..." if len(ordered) > _SAMPLE else shown


def _judge(facts: _Facts) -> tuple[Verdict, list[str]]:
    libbpf_needed = [name for name in facts.needed if _is_libbpf_soname(name)]
    libs = " and ".join(libbpf_needed)
    problems: list[str] = []

    if facts.soname is not None and _is_libbpf_soname(facts.soname):
        problems.append(
            f"the file is libbpf itself (SONAME {facts.soname}), not something linked against it"
        )

    if libbpf_needed:
        if facts.defined:
            n = len(facts.defined)
            problems.append(
                f"{libs} {_verb(len(libbpf_needed), 'is', 'are')} in NEEDED but "
                f"{_count(n)} ({_sample(facts.defined)}) {_verb(n, 'is', 'are')} defined inside "
                "the file: the code runs from a static copy (the bpftool LIBBPF_DYNAMIC pitfall)"
            )
        for lib in libbpf_needed:
            if not any(src == lib for _, src in facts.imported.values()):
                problems.append(f"{lib} is in NEEDED but no symbol is imported from it")
    elif facts.imported:
        n = len(facts.imported)
        problems.append(
            f"{_count(n)} ({_sample(facts.imported)}) {_verb(n, 'is', 'are')} bound to a "
            "LIBBPF_* version but no libbpf.so is in NEEDED: the file takes libbpf from a "
            "library it does not name"
        )

    odd_sources = sorted(
        {src for _, src in facts.imported.values() if src and not _is_libbpf_soname(src)}
    )
    if odd_sources:
        names = [name for name, (_, src) in facts.imported.items() if src in odd_sources]
        problems.append(
            f"{_count(len(names))} ({_sample(names)}) {_verb(len(names), 'is', 'are')} bound to "
            f"LIBBPF_* versions needed from {', '.join(odd_sources)}, which is not a libbpf.so"
        )

    if facts.unversioned:
        n = len(facts.unversioned)
        problems.append(
            f"{_count(n)} ({_sample(facts.unversioned)}) {_verb(n, 'is', 'are')} imported "
            "without a LIBBPF_* version: the dynamic linker binds "
            f"{_verb(n, 'it', 'them')} to whatever definition it meets first, not necessarily "
            "libbpf.so's (link against libbpf.so itself, whose symbols are versioned)"
        )

    if facts.foreign:
        n = len(facts.foreign)
        bindings = sorted({f"{ver} of {src}" for ver, src in facts.foreign.values()})
        problems.append(
            f"{_count(n)} ({_sample(facts.foreign)}) {_verb(n, 'is', 'are')} bound to "
            f"{', '.join(bindings)}, not to a LIBBPF_* version of libbpf.so"
        )

    if facts.exported:
        n = len(facts.exported)
        problems.append(
            f"{_count(n)} ({_sample(facts.exported)}) {_verb(n, 'is', 'are')} exported: a static "
            "build must hide them with -Wl,--exclude-libs,ALL"
        )

    if problems:
        return "mixed", problems

    if libbpf_needed:
        # No problems: every libbpf symbol is imported, versioned, from the named libbpf.so.
        n = len(facts.imported)
        nodes = sorted({ver for ver, _ in facts.imported.values()}, key=_node_key)
        where = (
            "neither .symtab nor .dynsym defines any libbpf symbol"
            if facts.has_symtab
            else ".symtab is stripped and .dynsym defines no libbpf symbol"
        )
        span = nodes[0] if len(nodes) == 1 else f"{nodes[0]} to {nodes[-1]}"
        return "dynamic", [
            f"{libs} {_verb(len(libbpf_needed), 'is', 'are')} in NEEDED and all {_count(n)} the "
            f"file uses {_verb(n, 'is', 'are')} imported from it, each bound to a LIBBPF_* "
            f"version ({span})",
            f"{where}: no static copy of libbpf is linked in",
        ]

    reasons = [
        "no libbpf.so is in NEEDED and no libbpf symbol is imported, so nothing is taken from "
        "libbpf.so at run time"
    ]
    if not facts.has_dynamic:
        reasons.append("the file has no dynamic section at all")
    if facts.has_symtab:
        if facts.defined:
            n = len(facts.defined)
            reasons.append(
                f"{_count(n)} ({_sample(facts.defined)}) {_verb(n, 'is', 'are')} defined inside "
                "the file: libbpf's code is linked in statically, and none of it is exported"
            )
        else:
            reasons.append(
                "no libbpf symbol is defined inside the file either (.symtab has none): "
                "the file does not appear to use libbpf at all"
            )
    elif facts.defined:
        n = len(facts.defined)
        reasons.append(
            f".symtab is stripped; .dynsym defines {_count(n)} "
            f"({_sample(facts.defined)}), none of them exported"
        )
    else:
        reasons.append(
            ".symtab is stripped, so the presence of libbpf's code cannot be shown, but nothing "
            "is taken from libbpf.so and no libbpf symbol is exported"
        )
    return "static", reasons


def _node_key(node: str) -> tuple[int, ...]:
    parts = node[len(_VERSION_PREFIX) :].split(".") if node.startswith(_VERSION_PREFIX) else []
    try:
        return tuple(int(p) for p in parts)
    except ValueError:
        return ()


def audit(path: str | os.PathLike[str]) -> LinkAudit:
    """Audit how the ELF file at ``path`` links libbpf.

    Raises :class:`LinkAuditError` if the file is missing, unreadable, not ELF, or malformed.
    """
    name = os.fspath(path)
    try:
        stream = open(name, "rb")
    except FileNotFoundError:
        raise LinkAuditError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise LinkAuditError(f"{name}: is a directory, not an ELF file") from None
    except OSError as exc:
        raise LinkAuditError(f"{name}: cannot read: {exc.strerror or exc}") from exc
    with stream:
        try:
            check_ident(name, stream)
            elf = ELFFile(stream)
            facts = _read(name, elf)
        except LinkAuditError:
            raise
        except ELFError as exc:
            raise LinkAuditError(f"{name}: malformed ELF file: {exc}") from exc
        except OSError as exc:
            raise LinkAuditError(f"{name}: cannot read: {exc}") from exc
        except Exception as exc:  # pyelftools raises construct/struct errors on corrupt input
            raise LinkAuditError(
                f"{name}: malformed ELF file ({type(exc).__name__}: {exc})"
            ) from exc

    verdict, reasons = _judge(facts)
    return LinkAudit(
        file=name,
        verdict=verdict,
        needed=facts.needed,
        imported={sym: facts.imported[sym][0] for sym in sorted(facts.imported)},
        defined=sorted(facts.defined),
        exported=sorted(facts.exported),
        reasons=reasons,
    )


@dataclass(frozen=True)
class CompanionAudit:
    """Whether a companion extension (``libbpf_py._speedups``) holds no libbpf at all."""

    file: str
    #: True when it needs no libbpf.so and imports, defines and exports no libbpf symbol
    clean: bool
    needed: list[str]
    #: what ties it to libbpf (empty when clean)
    problems: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "clean": self.clean, "needed": list(self.needed),
                "problems": list(self.problems)}


def audit_companion(path: str | os.PathLike[str]) -> CompanionAudit:
    """Audit a companion extension: it must hold and link no libbpf.

    Raises :class:`LinkAuditError` as :func:`audit` does.
    """
    found = audit(path)
    problems = [f"{name} is in NEEDED" for name in found.needed if _is_libbpf_soname(name)]
    for label, names in (("imported", list(found.imported)), ("defined", found.defined),
                         ("exported", found.exported)):
        if names:
            problems.append(f"{_count(len(names))} {_verb(len(names), 'is', 'are')} {label} "
                            f"({_sample(names)})")
    return CompanionAudit(file=found.file, clean=not problems, needed=found.needed,
                          problems=problems)


def format_companion(result: CompanionAudit) -> str:
    """The companion's lines of the ``linkcheck`` report."""
    head = f"{'companion:':<10} {result.file}"
    if result.clean:
        return (head + "\n" + _wrap(
            "no libbpf: no libbpf.so in NEEDED (" + (", ".join(result.needed) or "none")
            + "), no libbpf symbol imported, defined or exported; it calls the extension's "
            "libbpf through the capsule libbpf_py._libbpf._speedups_api", "  "))
    return head + "\n" + "\n".join(
        _wrap(f"holds or links libbpf: {problem}", "  ") for problem in result.problems)


# --------------------------------------------------------------------------------------------
# command line


def _default_extension(name: str = "_libbpf") -> str | None:
    """The built ``libbpf_py.<name>`` extension's path, without importing it."""
    try:
        spec = importlib.util.find_spec(f"libbpf_py.{name}")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.origin:
        return spec.origin
    # The package itself may fail to import (e.g. the extension does not load): look beside us.
    here = Path(__file__).resolve().parent
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        candidate = here / f"{name}{suffix}"
        if candidate.is_file():
            return str(candidate)
    return None


def _wrap(text: str, indent: str) -> str:
    return textwrap.fill(
        text, width=100, initial_indent=indent + "- ", subsequent_indent=indent + "  "
    )


def format_report(result: LinkAudit) -> str:
    """The human-readable report printed by ``linkcheck``."""
    label_width = 10
    lines: list[str] = []

    def row(label: str, value: str) -> None:
        lines.append(f"{label + ':':<{label_width}} {value}")

    row("file", result.file)
    row("verdict", result.verdict)
    row("needed", ", ".join(result.needed) if result.needed else "(none)")

    row("imported", _count(len(result.imported)))
    by_node: dict[str, list[str]] = {}
    for sym, node in result.imported.items():
        by_node.setdefault(node, []).append(sym)
    if by_node:
        node_width = max(len(node) for node in by_node)
        for node in sorted(by_node, key=_node_key):
            text = ", ".join(sorted(by_node[node]))
            prefix = " " * (label_width + 3) + f"{node:<{node_width}}  "
            lines.append(
                textwrap.fill(
                    text,
                    width=100,
                    initial_indent=prefix,
                    subsequent_indent=" " * len(prefix),
                    break_on_hyphens=False,
                )
            )

    for label, names in (("defined", result.defined), ("exported", result.exported)):
        if names:
            row(label, f"{_count(len(names))} ({_sample(names)})")
        else:
            row(label, _count(0))

    lines.append("reasons:")
    lines.extend(_wrap(reason, "  ") for reason in result.reasons)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``linkcheck [--json] [FILE]``: exit 0 for dynamic/static, 1 for mixed, 2 on error."""
    parser = argparse.ArgumentParser(
        prog="python -m libbpf_py linkcheck",
        description=(
            "Prove from the ELF file alone whether it links libbpf dynamically (imports "
            "versioned symbols from libbpf.so) or statically (contains libbpf, names no "
            "libbpf.so, exports nothing of it). Exit 0 for dynamic or static, 1 for mixed, "
            "2 if the file cannot be read."
        ),
    )
    parser.add_argument("--json", action="store_true", help="print the audit as JSON")
    parser.add_argument(
        "file",
        nargs="?",
        metavar="FILE",
        help="ELF file to audit (default: the built libbpf_py._libbpf extension, and its "
        "companion libbpf_py._speedups, which must hold no libbpf)",
    )
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))

    path: str | None = args.file
    companion: str | None = None
    if path is None:
        path = _default_extension()
        if path is None:
            print("linkcheck: libbpf_py._libbpf is not built; pass a FILE", file=sys.stderr)
            return 2
        companion = _default_extension("_speedups")
        if companion is None:
            print("linkcheck: libbpf_py._speedups is not built", file=sys.stderr)
            return 2

    try:
        result = audit(path)
        side = audit_companion(companion) if companion is not None else None
    except LinkAuditError as exc:
        print(f"linkcheck: {exc}", file=sys.stderr)
        return 2

    if args.json:
        data = result.to_dict()
        if side is not None:
            data["companions"] = [side.to_dict()]
        print(json.dumps(data, sort_keys=True, indent=2))
    else:
        print(format_report(result))
        if side is not None:
            print(format_companion(side))
    return 1 if result.verdict == "mixed" or (side is not None and not side.clean) else 0
