"""What linkcheck and the symbol-version probe both need before pyelftools reads a file:
the error they raise, the identity check of an ELF header, and a ``.gnu.version``
index without its hidden bit. Pure Python, no pyelftools import (``probe`` stays
cheap to import)."""

from __future__ import annotations

from typing import BinaryIO

__all__ = ["LinkAuditError", "check_ident", "versym_index"]

_VERSYM_HIDDEN = 0x8000


class LinkAuditError(ValueError):
    """The file cannot be audited: missing, unreadable, not ELF, or malformed."""

    __module__ = "libbpf_py.linkcheck"  # documented (and pickled) under linkcheck


def check_ident(path: str, stream: BinaryIO) -> None:
    """Raise LinkAuditError unless ``stream`` starts with an ELF identity we can read
    (an ar archive is named as such). Leaves the stream at offset 0."""
    ident = stream.read(16)
    stream.seek(0)
    if ident.startswith(b"!<arch>\n"):
        raise LinkAuditError(
            f"{path}: is an ar archive (a static library), not a linked ELF file; audit the "
            "shared object or executable it was linked into"
        )
    if len(ident) < 16 or ident[:4] != b"\x7fELF":
        raise LinkAuditError(
            f"{path}: not an ELF file (starts with {ident[:4]!r}); "
            "pass a shared object such as the built libbpf_py/_libbpf*.so"
        )
    if ident[4] not in (1, 2):
        raise LinkAuditError(
            f"{path}: unknown ELF class {ident[4]} (expected 1 for 32-bit or 2 for 64-bit); "
            "the file is corrupt or not a real ELF object"
        )
    if ident[5] not in (1, 2):
        raise LinkAuditError(
            f"{path}: unknown ELF data encoding {ident[5]} (expected 1 for little-endian or 2 "
            "for big-endian); the file is corrupt or not a real ELF object"
        )


def versym_index(raw: object) -> int:
    """The version index of one ``.gnu.version`` entry, without its hidden bit."""
    if isinstance(raw, int):
        return raw & ~_VERSYM_HIDDEN
    if raw == "VER_NDX_GLOBAL":
        return 1
    # VER_NDX_LOCAL, or a reserved value: no version
    return 0
