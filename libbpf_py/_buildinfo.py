"""The build facts of the extension, read without importing it.

``build_ffi.py`` compiles ``key=value`` lines into an ELF section named
``.libbpf_py.buildinfo``. Reading it from the file works even for a build that
refuses to load (the error message then still names the header version).

A second section, ``.libbpf_py.versions``, holds libbpf's version nodes for a
static build (``source=...`` then ``LIBBPF_x.y.z=sym sym ...`` lines): the
libbpf linked in has no ``.gnu.version_d`` of its own left to read at run time.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Dict, List, Optional, Tuple

SECTION = ".libbpf_py.buildinfo"
VERSIONS_SECTION = ".libbpf_py.versions"


def extension_path() -> Optional[str]:
    """Path of the installed ``libbpf_py._libbpf`` extension, without importing it."""
    try:
        spec = importlib.util.find_spec("libbpf_py._libbpf")
    except (ImportError, ValueError):
        return None
    return spec.origin if spec and spec.origin else None


def parse(text: str) -> Dict[str, str]:
    out: Dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


def parse_omitted(value: str) -> Dict[str, str]:
    """The ``omitted`` fact (``name@LIBBPF_x.y.z ...``) as name -> version node."""
    out: Dict[str, str] = {}
    for item in value.split():
        name, sep, node = item.partition("@")
        if not sep or not name or not node:
            raise ValueError(f"malformed omitted entry {item!r} in the build facts")
        out[name] = node
    return out


def parse_versions(text: str) -> Tuple[str, Dict[str, List[str]]]:
    """The ``.libbpf_py.versions`` text as (source, node -> symbols)."""
    facts = parse(text)
    source = facts.pop("source", "")
    return source, {node: value.split() for node, value in facts.items()}


def _read_section(path: str, name: str) -> Optional[str]:
    # pyelftools (~20 ms) only when a file is read: not at the import of libbpf_py
    from elftools.elf.elffile import ELFFile  # type: ignore[import-untyped,unused-ignore]

    with open(path, "rb") as f:
        section = ELFFile(f).get_section_by_name(name)
        if section is None:
            return None
        data: bytes = section.data()
    return data.split(b"\0", 1)[0].decode("utf-8", "replace")


def read_from_file(path: str) -> Dict[str, str]:
    """The build facts stamped into ``path``, or {} if it has none."""
    text = _read_section(path, SECTION)
    return parse(text) if text is not None else {}


def read_versions_from_file(path: str) -> Optional[Tuple[str, Dict[str, List[str]]]]:
    """The version nodes stamped into ``path`` (static builds), or None if it has none."""
    text = _read_section(path, VERSIONS_SECTION)
    return parse_versions(text) if text is not None else None


def mapped_libbpf() -> List[str]:
    """Real paths of every libbpf.so* mapped into this process (/proc/self/maps)."""
    paths = set()
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split(None, 5)
            if len(parts) == 6 and os.path.basename(parts[5].strip()).startswith("libbpf.so"):
                paths.add(os.path.realpath(parts[5].strip()))
    return sorted(paths)
