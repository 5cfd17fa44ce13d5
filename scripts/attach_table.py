#!/usr/bin/env python3
"""Write docs/attach.md's per-kernel table of attach kinds from a kernel-matrix run.

The tests record one JSON line per attach kind they tried (conftest.record_kind,
under LIBBPF_PY_KERNEL_RESULTS): the kernel, the kind, "fired" or "refused" and the
errno. scripts/kernels.sh collects them per kernel in .kernels/results/*/kinds.jsonl
(the host's own run in .kernels/results/host/). This script turns them into a
Markdown table, one column per kernel, and replaces the part of docs/attach.md
between the two kernel-matrix markers. Nothing in the table is typed by hand.

Usage: scripts/attach_table.py [--check] [RESULTS_DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "attach.md"
BEGIN = "<!-- kernel-matrix:begin (scripts/attach_table.py writes this part) -->"
END = "<!-- kernel-matrix:end -->"
#: the order of the rows; kinds not listed here follow, sorted
ORDER = ["kprobe", "kretprobe", "kprobe_by_section", "kprobe_multi_pattern",
         "kprobe_multi_syms", "kprobe_session", "ksyscall", "fentry", "fexit", "fmod_ret",
         "lsm", "freplace", "struct_ops", "uprobe_multi", "tcx", "netkit", "netfilter",
         "sockmap_link"]


def _version_key(release: str) -> tuple[int, ...]:
    head = release.split("-")[0].split("+")[0]
    return tuple(int(p) for p in head.split(".") if p.isdigit())


def load(results: Path) -> dict[str, dict[str, str]]:
    """kernel release -> kind -> cell text. Where runs with different libbpf builds (a
    --python venv) got different outcomes for one kind, the cell names each libbpf."""
    seen: dict[tuple[str, str], dict[str, str]] = {}
    for path in sorted(results.glob("*/kinds.jsonl")):
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            entry = json.loads(line)
            text = "fired" if entry["outcome"] == "fired" else f"refused ({entry['errno']})"
            seen.setdefault((entry["kernel"], entry["kind"]), {})[
                entry.get("libbpf", "?")] = text
    table: dict[str, dict[str, str]] = {}
    for (kernel, kind), by_libbpf in seen.items():
        if len(set(by_libbpf.values())) == 1:
            cell = next(iter(by_libbpf.values()))
        else:
            cell = "; ".join(f"{text} (libbpf {version})" for version, text
                             in sorted(by_libbpf.items(), key=lambda i: _version_key(i[0])))
        table.setdefault(kernel, {})[kind] = cell
    return table


def render(table: dict[str, dict[str, str]]) -> str:
    kernels = sorted(table, key=_version_key)
    kinds = {k for cells in table.values() for k in cells}
    rows = [k for k in ORDER if k in kinds] + sorted(kinds - set(ORDER))
    out = ["| kind | " + " | ".join(f"`{k}`" for k in kernels) + " |",
           "|---" * (len(kernels) + 1) + "|"]
    for kind in rows:
        out.append(f"| {kind} | " + " | ".join(table[k].get(kind, "not run")
                                               for k in kernels) + " |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="?", type=Path, default=REPO / ".kernels" / "results")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if docs/attach.md differs instead of writing it")
    args = parser.parse_args(argv)
    table = load(args.results)
    if not table:
        print(f"attach_table: no */kinds.jsonl under {args.results}: run scripts/kernels.sh",
              file=sys.stderr)
        return 2
    text = DOC.read_text()
    if BEGIN not in text or END not in text:
        print(f"attach_table: {DOC} lacks the markers {BEGIN!r} ... {END!r}", file=sys.stderr)
        return 2
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{BEGIN}\n{render(table)}{END}{tail}"
    if args.check:
        return 0 if new == text else 1
    DOC.write_text(new)
    print(f"attach_table: wrote {len(table)} kernel columns into {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
