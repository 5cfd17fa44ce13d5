"""Python bindings over libbpf, linked dynamically (default) or statically.

>>> import libbpf_py
>>> libbpf_py.build_info().mode
'dynamic'
"""

from __future__ import annotations

from . import log
from ._binding import BUILD, BuildInfo
from .enums import AttachType, LinkType, MapFlag, MapType, ProgType, UpdateFlag
from .errors import (
    AlreadyLoadedError,
    ClosedError,
    LibbpfError,
    LibbpfExistsError,
    LibbpfNotFoundError,
    LibbpfNotSupportedError,
    LibbpfPermissionError,
    LibbpfVersionError,
    NotLoadedError,
    VerifierError,
)
from .events import Batch, PerfBuffer, Reservation, Ring, RingBuffer, UserRingBuffer
from .link import Link
from .map import Map, MapInfo
from .object import BpfObject
from .program import Program, TestRunResult

__version__ = "0.1.0"

__all__ = [
    "AlreadyLoadedError",
    "AttachType",
    "Batch",
    "BpfObject",
    "BuildInfo",
    "ClosedError",
    "LibbpfError",
    "LibbpfExistsError",
    "LibbpfNotFoundError",
    "LibbpfNotSupportedError",
    "LibbpfPermissionError",
    "LibbpfVersionError",
    "Link",
    "LinkType",
    "Map",
    "MapFlag",
    "MapInfo",
    "MapType",
    "NotLoadedError",
    "PerfBuffer",
    "ProgType",
    "Program",
    "Reservation",
    "Ring",
    "RingBuffer",
    "TestRunResult",
    "UpdateFlag",
    "UserRingBuffer",
    "VerifierError",
    "__version__",
    "build_info",
    "log",
]


def build_info() -> BuildInfo:
    """How this libbpf_py was built: mode, header and runtime versions, library path."""
    return BUILD
