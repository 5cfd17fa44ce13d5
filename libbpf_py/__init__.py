"""Python bindings over libbpf, linked dynamically (default) or statically.

>>> import libbpf_py
>>> libbpf_py.build_info().mode
'dynamic'
"""

from __future__ import annotations

from ._binding import BUILD, BuildInfo
from .errors import (
    LibbpfError,
    LibbpfExistsError,
    LibbpfNotFoundError,
    LibbpfNotSupportedError,
    LibbpfPermissionError,
    LibbpfVersionError,
)

__version__ = "0.1.0"

__all__ = [
    "BuildInfo",
    "LibbpfError",
    "LibbpfExistsError",
    "LibbpfNotFoundError",
    "LibbpfNotSupportedError",
    "LibbpfPermissionError",
    "LibbpfVersionError",
    "__version__",
    "build_info",
]


def build_info() -> BuildInfo:
    """How this libbpf_py was built: mode, header and runtime versions, library path."""
    return BUILD
