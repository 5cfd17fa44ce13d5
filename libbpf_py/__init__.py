"""Python bindings over libbpf, linked dynamically (default) or statically.

>>> import libbpf_py
>>> libbpf_py.build_info().mode
'dynamic'
"""

from __future__ import annotations

from . import log
from ._binding import BUILD, BuildInfo
from ._features import Feature, Features, features
from ._info import LinkInfo, ProgramInfo
from ._version import __version__
from .btf import Btf, BtfKind, BtfType
from .datasec import ReadOnlyError
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
from .link import FdLink, Link, TcLink
from .map import Map, MapInfo
from .object import BpfObject
from .perf_buffer import PerfBuffer
from .probe import KernelReport, ProbeReport, probe, probe_kernel
from .program import Program, TestRunResult
from .ringbuf import Batch, Ring, RingBuffer
from .skeleton import Skeleton
from .user_ringbuf import Reservation, UserRingBuffer

__all__ = [
    "AlreadyLoadedError",
    "AttachType",
    "Batch",
    "BpfObject",
    "Btf",
    "BtfKind",
    "BtfType",
    "BuildInfo",
    "ClosedError",
    "FdLink",
    "Feature",
    "Features",
    "KernelReport",
    "LibbpfError",
    "LibbpfExistsError",
    "LibbpfNotFoundError",
    "LibbpfNotSupportedError",
    "LibbpfPermissionError",
    "LibbpfVersionError",
    "Link",
    "LinkInfo",
    "LinkType",
    "Map",
    "MapFlag",
    "MapInfo",
    "MapType",
    "NotLoadedError",
    "PerfBuffer",
    "ProbeReport",
    "ProgType",
    "Program",
    "ProgramInfo",
    "ReadOnlyError",
    "Reservation",
    "Ring",
    "RingBuffer",
    "Skeleton",
    "TcLink",
    "TestRunResult",
    "UpdateFlag",
    "UserRingBuffer",
    "VerifierError",
    "__version__",
    "build_info",
    "features",
    "log",
    "probe",
    "probe_kernel",
]


def build_info() -> BuildInfo:
    """How this libbpf_py was built: mode, header and runtime versions, library path."""
    return BUILD
