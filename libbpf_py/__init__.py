"""Python bindings over libbpf (the BPF library), linked dynamically or statically.

A map of the API. help(libbpf_py.NAME) says more about each name; the guides
in docs/ (objects, attach, events, btf, skeleton, probe, cli) walk through them.

Objects and programs
    BpfObject.open(path) / open_mem(data) opens a BPF ELF file. Its programs
    (obj.programs: name -> Program) and maps (obj.maps: name -> Map) are
    settings until obj.load(), kernel objects after it. obj.attach() attaches
    every program whose SEC() says where and returns {name: Link}.
    obj.var(name) / obj.set_var(name, value) read and write global variables
    (ReadOnlyError for .rodata after load). Program.test_run() runs a program
    in the kernel (TestRunResult). With libbpf >= 1.6: obj.prepare() does all
    of load() but the programs; Program.func_info() / line_info() give the
    FuncInfo and LineInfo records (source lines per instruction);
    Program.stream() reads what the program printed to its BPF stream.
    Linker (libbpf's static linker, "python -m libbpf_py gen object") links
    several BPF objects into one.

Maps
    A loaded Map is a mutable mapping: m[key], m[key] = value, del m[key],
    items(), batches, push/pop for queues and stacks. Standalone maps:
    Map.create(), Map.from_pinned(path, read_only=False), Map.from_id(),
    Map.from_fd(). Constants: MapType, MapFlag, UpdateFlag.

The kernel's objects, by id
    prog_ids(), map_ids(), link_ids() and btf_ids() walk every program, map,
    link and BTF object in the kernel. Program.from_id() (an FdProgram, which
    owns its fd), Map.from_id(), Link.from_id() (an FdLink) and Btf.from_id()
    open one; Program.from_pinned(), Link.from_pinned() open a pin. info()
    returns a ProgramInfo, MapInfo or LinkInfo.

Links
    Every Program.attach*() method returns a Link (libbpf's struct bpf_link),
    an FdLink (a kernel link fd) or a TcLink (a tc filter); destroy() detaches.
    Constants: ProgType, AttachType, LinkType.

Events
    RingBuffer (with Ring, Batch and RecordView) and PerfBuffer deliver what programs
    send: by callback, drain() or async for. UserRingBuffer (with Reservation)
    sends to programs.

BTF
    Btf.load_vmlinux(), Btf.from_file(), from_bytes(), from_id(): the types as
    BtfType of a BtfKind, and C text (dump_c: the vmlinux.h step).

Skeletons
    Skeleton opens, loads and attaches an object the way libbpf's skeletons
    do, with typed data sections; "python -m libbpf_py gen skeleton"
    (libbpf_py.gen) writes a typed module for one object.

Probe, features, the build
    probe() -> ProbeReport: the linked libbpf and what it exports.
    probe_kernel() -> KernelReport: what the running kernel supports.
    features (a Features of Feature): which APIs this build has.
    build_info() -> BuildInfo: how libbpf_py was built. libbpf_py.linkcheck
    proves dynamic or static linking from the ELF file.

Histograms
    libbpf_py.hist prints log2 and linear histograms of counts, as BCC's
    print_log2_hist does.

Command line
    python -m libbpf_py info|linkcheck|probe|prog|map|link|btf|gen: the
    kernel's programs, maps, links and BTF as bpftool shows them, --json for
    scripts (libbpf_py.cli).

Errors and logs
    LibbpfError, an OSError with a positive errno, and its subclasses
    LibbpfPermissionError, LibbpfNotFoundError, LibbpfExistsError,
    LibbpfNotSupportedError and VerifierError (.program, .log). Also
    ClosedError, AlreadyLoadedError, NotLoadedError and LibbpfVersionError
    (the linked libbpf is too old). libbpf's own messages go to
    logging.getLogger("libbpf_py") (libbpf_py.log).

Example (as root; python examples/build_prog.py builds prog.bpf.o from
examples/prog.bpf.c)::

    import os
    import libbpf_py

    with libbpf_py.BpfObject.open("prog.bpf.o") as obj:
        obj.load()
        links = obj.attach()          # {"handle_getpid": <Link ...>, ...}
        os.getpid()                   # the tracepoint fires
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
from .linker import Linker
from .map import Map, MapInfo
from .object import BpfObject
from .perf_buffer import PerfBuffer
from .probe import KernelReport, ProbeReport, probe, probe_kernel
from .program import FdProgram, FuncInfo, LineInfo, Program, TestRunResult
from .ringbuf import Batch, RecordView, Ring, RingBuffer
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
    "FuncInfo",
    "KernelReport",
    "LibbpfError",
    "LibbpfExistsError",
    "LibbpfNotFoundError",
    "LibbpfNotSupportedError",
    "LibbpfPermissionError",
    "LibbpfVersionError",
    "LineInfo",
    "Link",
    "LinkInfo",
    "LinkType",
    "Linker",
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
    "RecordView",
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
