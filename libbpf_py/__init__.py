"""Python bindings over libbpf (the BPF library), linked dynamically or statically.

A map of the API; ``help(libbpf_py.X)`` says more about each name, and the
guides in docs/ (objects, attach, events, btf, skeleton, probe, cli) walk
through them.

Objects, programs and maps
    :class:`BpfObject` opens a BPF ELF file (``BpfObject.open(path)``,
    ``open_mem(data)``); its ``programs`` (:class:`Program`) and ``maps``
    (:class:`Map`) are settings until ``load()``, kernel objects after it.
    ``BpfObject.attach()`` attaches every program whose ``SEC()`` says how and
    returns the links. ``obj.var(name)`` / ``set_var`` read and write global
    variables; :class:`ReadOnlyError` refuses ``.rodata`` after load.
    ``Program.test_run`` runs a program (:class:`TestRunResult`).

Maps
    A loaded :class:`Map` is a mutable mapping (``m[key]``, ``items()``,
    batches, queues and stacks); standalone maps come from ``Map.create``,
    ``Map.from_pinned(path, read_only=False)``, ``Map.from_id``,
    ``Map.from_fd``. Flags: :class:`MapType`, :class:`MapFlag`,
    :class:`UpdateFlag`.

The kernel's objects, by id
    :func:`prog_ids`, :func:`map_ids`, :func:`link_ids`, :func:`btf_ids` walk
    every program, map, link and BTF object of the kernel; ``Program.from_id``
    (a :class:`FdProgram`), ``Map.from_id``, ``Link.from_id`` (an
    :class:`FdLink`) and ``Btf.from_id`` open one; ``Program.from_pinned``,
    ``Link.from_pinned`` open a pin. ``info()`` gives :class:`ProgramInfo`,
    :class:`MapInfo`, :class:`LinkInfo`.

Links
    Every ``Program.attach*()`` method returns a :class:`Link` (libbpf's
    ``struct bpf_link``), an :class:`FdLink` (a kernel link fd) or a
    :class:`TcLink` (a tc filter); ``destroy()`` detaches. Kinds:
    :class:`ProgType`, :class:`AttachType`, :class:`LinkType`.

Events
    :class:`RingBuffer` (with :class:`Ring` and :class:`Batch`) and
    :class:`PerfBuffer` deliver what programs send, by callback, ``drain()``
    or ``async for``; :class:`UserRingBuffer` (with :class:`Reservation`)
    sends to programs.

BTF
    :class:`Btf` (``Btf.load_vmlinux()``, ``from_file``, ``from_bytes``,
    ``from_id``) gives its types as :class:`BtfType` of a :class:`BtfKind`,
    and C text (``dump_c``, the vmlinux.h step).

Skeletons
    :class:`Skeleton` opens, loads and attaches an object in libbpf's
    skeleton way, with typed data sections; ``python -m libbpf_py gen
    skeleton`` (:mod:`libbpf_py.gen`) writes a typed module of one.

Probe, features and the build
    :func:`probe` (:class:`ProbeReport`): the linked libbpf and what it
    exports; :func:`probe_kernel` (:class:`KernelReport`): what the running
    kernel supports; :data:`features` (:class:`Features` of :class:`Feature`):
    which APIs this build has. :func:`build_info` (:class:`BuildInfo`): how
    libbpf_py was built; :mod:`libbpf_py.linkcheck` proves dynamic or static
    linking from the ELF file.

Histograms
    :mod:`libbpf_py.hist` prints log2 and linear histograms of counts the
    way BCC's ``print_log2_hist`` does.

Command line
    ``python -m libbpf_py info|linkcheck|probe|prog|map|link|btf|gen``: the
    kernel's programs, maps, links and BTF as bpftool shows them, with
    ``--json`` (:mod:`libbpf_py.cli`).

Errors and logs
    :class:`LibbpfError` (an ``OSError`` with a positive ``errno``) and its
    subclasses :class:`LibbpfPermissionError`, :class:`LibbpfNotFoundError`,
    :class:`LibbpfExistsError`, :class:`LibbpfNotSupportedError` and
    :class:`VerifierError` (``.program``, ``.log``); :class:`ClosedError`,
    :class:`AlreadyLoadedError`, :class:`NotLoadedError`,
    :class:`LibbpfVersionError` (the linked libbpf is too old). libbpf's own
    messages go to ``logging.getLogger("libbpf_py")`` (:mod:`libbpf_py.log`).

Example (as root; ``prog.bpf.o`` is built from examples/prog.bpf.c by
``python examples/build_prog.py``)::

    import os
    import libbpf_py

    with libbpf_py.BpfObject.open("prog.bpf.o") as obj:
        obj.load()
        links = obj.attach()                 # {"handle_getpid": <Link ...>, ...}
        os.getpid()                          # the tracepoint fires
        print(obj.maps["counts"][os.getpid()])
        for prog_id in libbpf_py.prog_ids():  # every program in the kernel
            with libbpf_py.Program.from_id(prog_id) as prog:
                print(prog_id, prog.name, prog.type)
"""

from __future__ import annotations

from . import log
from ._binding import BUILD, BuildInfo
from ._features import Feature, Features, features
from ._ids import btf_ids, link_ids, map_ids, prog_ids
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
from .program import FdProgram, Program, TestRunResult
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
    "FdProgram",
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
    "btf_ids",
    "build_info",
    "features",
    "link_ids",
    "log",
    "map_ids",
    "probe",
    "probe_kernel",
    "prog_ids",
]


def build_info() -> BuildInfo:
    """How this libbpf_py was built: mode, header and runtime versions, library path."""
    return BUILD
