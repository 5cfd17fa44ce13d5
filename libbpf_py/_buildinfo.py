"""The build facts of the extension, read without importing it.

``build_ffi.py`` compiles ``key=value`` lines into an ELF section named
``.libbpf_py.buildinfo``. Reading it from the file works even for a build that
refuses to load (the error message then still names the header version).
"""

from __future__ import annotations

import importlib.util
from typing import Dict, List, Optional

SECTION = ".libbpf_py.buildinfo"


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


def read_from_file(path: str) -> Dict[str, str]:
    """The build facts stamped into ``path``, or {} if it has none."""
    from elftools.elf.elffile import ELFFile

    with open(path, "rb") as f:
        section = ELFFile(f).get_section_by_name(SECTION)
        if section is None:
            return {}
        data: bytes = section.data()
    return parse(data.split(b"\0", 1)[0].decode("utf-8", "replace"))


def mapped_libbpf() -> List[str]:
    """Real paths of every libbpf.so* mapped into this process (/proc/self/maps)."""
    import os

    paths = set()
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split(None, 5)
            if len(parts) == 6 and os.path.basename(parts[5].strip()).startswith("libbpf.so"):
                paths.add(os.path.realpath(parts[5].strip()))
    return sorted(paths)
