"""The probes: which libbpf is linked and what it exports; what the kernel supports.

:func:`probe` answers for the library side, from ELF files and the build
facts, without touching the kernel:

* a dynamic build reads the version nodes (``LIBBPF_0.0.1`` ... ``LIBBPF_1.5.0``)
  from the libbpf.so the process really loaded: ``.gnu.version_d`` names the
  nodes, ``.gnu.version`` binds each ``.dynsym`` entry to one;
* a static build has no libbpf.so: ``build_ffi.py`` recorded the nodes of the
  libbpf it linked in (from that libbpf's version script, ``libbpf.map``) in
  the extension's ``.libbpf_py.versions`` section.

:func:`probe_kernel` asks the running kernel, through libbpf's
``libbpf_probe_bpf_prog_type`` / ``_map_type`` / ``_helper`` (each loads a
tiny program or creates a tiny map), reads the kfuncs from the vmlinux BTF
(``BTF_KIND_DECL_TAG "bpf_kfunc"``), and collects the facts that decide what
can attach here. It needs CAP_BPF (root); ``python -m libbpf_py probe
--kernel`` prints it. See docs/probe.md for every key.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from . import _buildinfo, _validate
from ._binding import BUILD, OMITTED, declared, ffi, lib, undeclared_functions
from ._call import libbpf_strerror
from ._elfid import LinkAuditError, check_ident, versym_index
from ._features import features
from ._version import __version__
from .btf import Btf, BtfKind
from .enums import MapType, ProgType
from .errors import LibbpfPermissionError

__all__ = ["KERNEL_JSON_KEYS", "PROBE_JSON_KEYS", "KernelReport", "ProbeReport",
           "exported_version_nodes", "probe", "probe_kernel"]

#: the keys of :meth:`~libbpf_py.ProbeReport.as_dict` (and of ``probe --json``), stable
PROBE_JSON_KEYS: Tuple[str, ...] = (
    "package_version", "mode", "header_version", "runtime_version", "library_path",
    "version_nodes", "version_nodes_source", "missing", "unwrapped", "unwrapped_why",
    "features",
)

#: the keys of :meth:`~libbpf_py.KernelReport.as_dict` (and of ``probe --kernel --json``), stable
KERNEL_JSON_KEYS: Tuple[str, ...] = (
    "kernel_release", "libbpf_version", "program_types", "map_types", "helpers",
    "kfuncs", "kfuncs_source", "attach", "system",
)

_VERSION_PREFIX = "LIBBPF_"


def _node_key(node: str) -> Tuple[int, ...]:
    try:
        return tuple(int(p) for p in node[len(_VERSION_PREFIX):].split("."))
    except ValueError:
        return (1 << 30,)


def _sorted_nodes(nodes: Dict[str, List[str]]) -> Dict[str, List[str]]:
    return {node: sorted(set(nodes[node])) for node in sorted(nodes, key=_node_key)}


# ------------------------------------------------------------------------ library side


def exported_version_nodes(path: str) -> Dict[str, List[str]]:
    """node -> sorted symbols that the shared library at ``path`` defines under it.

    Every defined ``.dynsym`` entry bound (through ``.gnu.version``) to a
    ``LIBBPF_*`` node of ``.gnu.version_d``, default (``sym@@NODE``) or not
    (``sym@NODE``); the marker symbol each node defines is left out. Raises
    :class:`~libbpf_py.linkcheck.LinkAuditError` for a file it cannot read.
    """
    from elftools.common.exceptions import ELFError  # type: ignore[import-untyped,unused-ignore]
    from elftools.elf.elffile import ELFFile  # type: ignore[import-untyped,unused-ignore]
    from elftools.elf.gnuversions import (  # type: ignore[import-untyped,unused-ignore]
        GNUVerDefSection,
    )

    try:
        stream = open(path, "rb")
    except OSError as exc:
        raise LinkAuditError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    out: Dict[str, List[str]] = {}
    with stream:
        check_ident(path, stream)
        try:
            elf = ELFFile(stream)
            dynsym: Any = elf.get_section_by_name(".dynsym")
            versym: Any = elf.get_section_by_name(".gnu.version")
            verdef: Dict[int, str] = {}
            for section in elf.iter_sections():
                if isinstance(section, GNUVerDefSection):
                    for vdef, auxes in section.iter_versions():
                        first = next(iter(auxes), None)
                        if first is not None:
                            verdef[int(vdef["vd_ndx"])] = str(first.name)
            if dynsym is None or versym is None or not verdef:
                raise LinkAuditError(f"{path}: has no versioned .dynsym (.gnu.version_d): "
                                     "not a libbpf.so")
            for index in range(1, dynsym.num_symbols()):
                sym = dynsym.get_symbol(index)
                if sym["st_shndx"] == "SHN_UNDEF":
                    continue
                node = verdef.get(versym_index(versym.get_symbol(index)["ndx"]), "")
                name = str(sym.name)
                if node.startswith(_VERSION_PREFIX) and name and name != node:
                    out.setdefault(node, []).append(name)
        except ELFError as exc:
            raise LinkAuditError(f"{path}: malformed ELF file: {exc}") from exc
    return _sorted_nodes(out)


def _static_version_nodes() -> Tuple[str, Dict[str, List[str]]]:
    text = ffi.string(lib.libbpf_py_version_map()).decode("utf-8", "replace")
    source, nodes = _buildinfo.parse_versions(text)
    return source, _sorted_nodes(nodes)


@dataclass(frozen=True)
class ProbeReport:
    """Which libbpf libbpf_py runs, how it is linked, and what it exports."""

    package_version: str
    mode: str  # "dynamic" | "static"
    header_version: str  # libbpf headers compiled against, "1.1"
    runtime_version: str  # libbpf_version_string() of the code that runs, "1.1"
    library_path: Optional[str]  # the libbpf.so loaded; None for static builds
    #: version node -> sorted symbols the linked libbpf exports under it
    version_nodes: Dict[str, List[str]]
    #: where version_nodes were read from
    version_nodes_source: str
    #: declared functions this build cannot call -> the version node they need
    missing: Dict[str, str]
    #: symbols the library exports that libbpf_py does not declare -> their node
    unwrapped: Dict[str, str]
    #: unwrapped symbol -> why the bindings leave it undeclared (the ``UNDECLARED``
    #: tables of ``libbpf_py._cdefs``; a symbol newer than the declarations has none)
    unwrapped_why: Dict[str, str] = field(default_factory=dict)
    #: registered feature -> available
    features: Dict[str, bool] = field(default_factory=dict)

    def as_dict(self) -> Dict[str, Any]:
        """The report as plain JSON data, with exactly :data:`~libbpf_py.probe.PROBE_JSON_KEYS`."""
        return {
            "package_version": self.package_version,
            "mode": self.mode,
            "header_version": self.header_version,
            "runtime_version": self.runtime_version,
            "library_path": self.library_path,
            "version_nodes": {k: list(v) for k, v in self.version_nodes.items()},
            "version_nodes_source": self.version_nodes_source,
            "missing": dict(self.missing),
            "unwrapped": dict(self.unwrapped),
            "unwrapped_why": dict(self.unwrapped_why),
            "features": dict(self.features),
        }

    def format(self) -> str:
        """The aligned table ``python -m libbpf_py probe`` prints."""
        count = sum(len(v) for v in self.version_nodes.values())
        rows: List[Tuple[str, str]] = [
            ("package_version", self.package_version),
            ("mode", self.mode),
            ("header_version", self.header_version),
            ("runtime_version", self.runtime_version),
            ("library_path", self.library_path or "-"),
            ("version_nodes_source", self.version_nodes_source),
            ("version_nodes", f"{len(self.version_nodes)} nodes, {count} symbols"),
        ]
        rows += [(f"  {node}", f"{len(names)}") for node, names in self.version_nodes.items()]
        rows.append(("missing", _by_node(self.missing)))
        rows.append(("unwrapped", _by_node(self.unwrapped)))
        rows += [(f"  {name}", why) for name, why in self.unwrapped_why.items()]
        newer = [name for name in self.unwrapped if name not in self.unwrapped_why]
        if newer:
            rows.append(("  (the others)", "newer than the declarations of this libbpf_py"))
        on = [name for name, ok in self.features.items() if ok]
        off = [name for name, ok in self.features.items() if not ok]
        rows.append(("features", f"{len(on)} of {len(self.features)}: {' '.join(on) or '-'}"))
        rows.append(("  unavailable", " ".join(off) or "-"))
        return _table(rows)


def _by_node(items: Dict[str, str]) -> str:
    if not items:
        return "-"
    groups: Dict[str, List[str]] = {}
    for name, node in items.items():
        groups.setdefault(node, []).append(name)
    parts = [f"{node}: {' '.join(sorted(groups[node]))}"
             for node in sorted(groups, key=_node_key)]
    return f"{len(items)}; " + "; ".join(parts)


def _table(rows: List[Tuple[str, str]], width: int = 100) -> str:
    import textwrap  # the report's text only: not a cost of ``import libbpf_py``

    key_width = max(len(k) for k, _ in rows)
    indent = " " * (key_width + 2)
    lines = []
    for key, value in rows:
        text = textwrap.fill(value, width=width, initial_indent=f"{key:<{key_width}}  ",
                             subsequent_indent=indent, break_on_hyphens=False,
                             break_long_words=False)
        lines.append(text or key)
    return "\n".join(lines)


def probe() -> ProbeReport:
    """Report the linked libbpf: mode, versions, path, version nodes, gaps, features.

    Reads ELF files only (the loaded libbpf.so, or the extension's build
    facts for a static build); needs no privilege.
    """
    if BUILD.mode == "dynamic" and BUILD.library_path:
        nodes = exported_version_nodes(BUILD.library_path)
        source = f"{BUILD.library_path} (.gnu.version_d, .gnu.version, .dynsym)"
    else:
        source, nodes = _static_version_nodes()
    decl = declared()
    exported = {name: node for node, names in nodes.items() for name in names}
    unwrapped = {name: exported[name] for name in sorted(exported) if name not in decl}
    reasons = undeclared_functions()
    return ProbeReport(
        package_version=__version__,
        mode=BUILD.mode,
        header_version=BUILD.header_version_string,
        runtime_version=BUILD.runtime_version,
        library_path=BUILD.library_path,
        version_nodes=nodes,
        version_nodes_source=source,
        missing=dict(sorted(OMITTED.items())),
        unwrapped=unwrapped,
        unwrapped_why={name: reasons[name][1] for name in unwrapped if name in reasons},
        features=features.as_dict(),
    )


# ------------------------------------------------------------------------- kernel side

#: helpers that write a warning into the kernel log when a program using them
#: loads; probed only with ``full=True`` (bpftool's ``full`` keyword)
NOISY_HELPERS = frozenset({"bpf_trace_printk", "bpf_trace_vprintk", "bpf_probe_write_user"})

_MOUNTS = "/proc/self/mounts"
_VMLINUX = "/sys/kernel/btf/vmlinux"
_LOCKDOWN = "/sys/kernel/security/lockdown"
_SYSCTLS = (
    ("unprivileged_bpf_disabled", "/proc/sys/kernel/unprivileged_bpf_disabled"),
    ("bpf_jit_enable", "/proc/sys/net/core/bpf_jit_enable"),
    ("bpf_jit_harden", "/proc/sys/net/core/bpf_jit_harden"),
    ("bpf_jit_kallsyms", "/proc/sys/net/core/bpf_jit_kallsyms"),
    ("bpf_jit_limit", "/proc/sys/net/core/bpf_jit_limit"),
)


@dataclass(frozen=True)
class KernelReport:
    """What the running kernel supports, as libbpf's probes and sysfs tell."""

    kernel_release: str
    #: the runtime libbpf that ran the probes (its helper probe got finer in 1.2)
    libbpf_version: str
    #: program type name -> supported (None: libbpf could not tell)
    program_types: Dict[str, Optional[bool]]
    #: map type name -> supported (None: libbpf could not tell)
    map_types: Dict[str, Optional[bool]]
    #: program type name -> sorted helper names it may call ([] for an unsupported
    #: type, None where libbpf cannot probe helpers: tracing, ext, lsm, struct_ops)
    helpers: Dict[str, Optional[List[str]]]
    #: sorted kfunc names, or None when the kernel's BTF does not mark them
    kfuncs: Optional[List[str]]
    kfuncs_source: str
    #: btf, bpffs, tracefs, lockdown, kprobes, uprobes
    attach: Dict[str, Any]
    #: the BPF sysctls, named as bpftool's ``system_config`` names them
    system: Dict[str, Optional[int]]

    def as_dict(self) -> Dict[str, Any]:
        """The report as plain JSON data, with exactly :data:`~libbpf_py.probe.KERNEL_JSON_KEYS`."""
        return {
            "kernel_release": self.kernel_release,
            "libbpf_version": self.libbpf_version,
            "program_types": dict(self.program_types),
            "map_types": dict(self.map_types),
            "helpers": {k: (list(v) if v is not None else None)
                        for k, v in self.helpers.items()},
            "kfuncs": list(self.kfuncs) if self.kfuncs is not None else None,
            "kfuncs_source": self.kfuncs_source,
            "attach": dict(self.attach),
            "system": dict(self.system),
        }

    def format(self) -> str:
        """The aligned table ``python -m libbpf_py probe --kernel`` prints."""
        rows: List[Tuple[str, str]] = [
            ("kernel_release", self.kernel_release),
            ("libbpf_version", self.libbpf_version),
        ]
        for label, kinds in (("program_types", self.program_types),
                             ("map_types", self.map_types)):
            yes = [k for k, v in kinds.items() if v]
            no = [k for k, v in kinds.items() if v is False]
            unknown = [k for k, v in kinds.items() if v is None]
            rows.append((label, f"{len(yes)} of {len(kinds)}: {' '.join(yes) or '-'}"))
            rows.append(("  unsupported", " ".join(no) or "-"))
            if unknown:
                rows.append(("  not probed", " ".join(unknown)))
        rows.append(("helpers", "per program type (the JSON lists them)"))
        rows += [(f"  {k}", "not probed" if v is None else str(len(v)))
                 for k, v in self.helpers.items()]
        kf = self.kfuncs
        rows.append(("kfuncs", f"{len(kf)} ({self.kfuncs_source})" if kf is not None
                     else f"- ({self.kfuncs_source})"))
        for key, value in self.attach.items():
            shown = ("yes" if value else "no") if isinstance(value, bool) else (
                " ".join(value) if isinstance(value, list) else value)
            rows.append((f"attach.{key}", "-" if shown in (None, "") else str(shown)))
        for key, num in self.system.items():
            rows.append((f"system.{key}", "-" if num is None else str(num)))
        return _table(rows)


#: no kernel enum has nearly this many values; a bound on the loop in _kinds
_MAX_KIND = 1024


def _kinds(enum: Any, to_str: Callable[[int], Any]) -> List[Tuple[int, str]]:
    """(value, name) of every kind the headers or the runtime libbpf name, but UNSPEC."""
    known_max = max(int(m) for m in enum)
    out: List[Tuple[int, str]] = []
    for value in range(1, _MAX_KIND):
        text = to_str(value)
        if text == ffi.NULL and value > known_max:
            break
        name = (ffi.string(text).decode() if text != ffi.NULL
                else enum(value).name.lower())
        out.append((value, name))
    return out


def _answer(ret: int, what: str) -> Optional[bool]:
    if ret in (0, 1):
        return bool(ret)
    if -ret in (errno.EPERM, errno.EACCES):
        raise LibbpfPermissionError(
            -ret, libbpf_strerror(-ret),
            f"{what}: probing the kernel needs CAP_BPF and CAP_PERFMON (run as root)")
    return None


def _helpers(prog_types: List[Tuple[int, str]], supported: Dict[str, Optional[bool]],
             full: bool) -> Dict[str, Optional[List[str]]]:
    ids = sorted((value, "bpf_" + name[len("BPF_FUNC_"):])
                 for name, value in ffi.typeof("enum bpf_func_id").relements.items()
                 if name.startswith("BPF_FUNC_") and value > 0)
    if not full:
        ids = [(v, n) for v, n in ids if n not in NOISY_HELPERS]
    out: Dict[str, Optional[List[str]]] = {}
    for ptype, pname in prog_types:
        if supported.get(pname) is None:
            out[pname] = None
            continue
        if not supported[pname]:
            out[pname] = []
            continue
        names: Optional[List[str]] = []
        for hid, hname in ids:
            ret = lib.libbpf_probe_bpf_helper(ptype, hid, ffi.NULL)
            if ret == -errno.EOPNOTSUPP:
                names = None  # libbpf cannot probe helpers for this program type
                break
            if _answer(ret, f"helper {hname} for {pname}") and names is not None:
                names.append(hname)
        out[pname] = sorted(names) if names is not None else None
    return out


def _kfuncs() -> Tuple[Optional[List[str]], str]:
    """kfunc names from the vmlinux BTF's ``bpf_kfunc`` decl tags."""
    if not os.path.exists(_VMLINUX):
        return None, f"no vmlinux BTF ({_VMLINUX} is missing)"
    with Btf.load_vmlinux() as btf:
        names = set()
        for t in btf.of_kind(BtfKind.DECL_TAG):
            if t.name != "bpf_kfunc" or t.component_idx != -1:
                continue
            target = t.type
            if target is not None and target.id in btf and target.kind == BtfKind.FUNC:
                names.add(target.name)
    if not names:
        return None, ('the vmlinux BTF has no "bpf_kfunc" decl tags (kernel < 6.9 or '
                      "pahole < 1.26)")
    return sorted(names), f'{_VMLINUX}: BTF_KIND_DECL_TAG "bpf_kfunc" on BTF_KIND_FUNC'


def _mounts(fstype: str) -> List[str]:
    try:
        with open(_MOUNTS) as f:
            return [cols[1] for cols in (line.split() for line in f)
                    if len(cols) > 2 and cols[2] == fstype]
    except OSError:
        return []


def _lockdown() -> Optional[str]:
    try:
        with open(_LOCKDOWN) as f:
            text = f.read()
    except OSError:
        return None  # securityfs not mounted, or no lockdown LSM
    start, end = text.find("["), text.find("]")
    return text[start + 1:end] if 0 <= start < end else None


def _read_int(path: str) -> Optional[int]:
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _attach_facts() -> Dict[str, Any]:
    tracefs = _mounts("tracefs")
    kprobes = os.path.exists("/sys/bus/event_source/devices/kprobe") or any(
        os.path.exists(os.path.join(t, "kprobe_events")) for t in tracefs)
    uprobes = os.path.exists("/sys/bus/event_source/devices/uprobe") or any(
        os.path.exists(os.path.join(t, "uprobe_events")) for t in tracefs)
    return {
        "btf": os.path.exists(_VMLINUX),
        "bpffs": _mounts("bpf"),
        "tracefs": tracefs,
        "lockdown": _lockdown(),
        "kprobes": kprobes,
        "uprobes": uprobes,
    }


#: the kernel's ENOTSUPP (include/linux/errno.h; not a userspace errno)
_ENOTSUPP = 524


def _struct_ops_maps() -> bool:
    """Whether the kernel has struct_ops maps, asked the way libbpf < 1.4 did.

    libbpf >= 1.4 probes with ``value_type_btf_obj_fd = -1``, a bpf_attr field
    Linux 6.9 added: an older kernel refuses the non-zero tail with E2BIG, so
    libbpf answers "no" on kernels (6.1) that run struct_ops programs. Without
    that field, a type id that names no struct_ops gives ENOTSUPP from a kernel
    that has struct_ops maps, EINVAL from one that does not.
    """
    opts = ffi.new("struct bpf_map_create_opts *")
    opts.sz = ffi.sizeof("struct bpf_map_create_opts")
    opts.btf_vmlinux_value_type_id = 1
    fd = lib.bpf_map_create(int(MapType.STRUCT_OPS), ffi.NULL, 4, 4, 1, opts)
    if fd >= 0:
        os.close(fd)
        return True
    return bool(-fd == _ENOTSUPP)


def _check_privilege() -> None:
    """Raise LibbpfPermissionError unless this process may use bpf().

    libbpf's probes turn a refused load into "not supported", so an
    unprivileged run would report every program type missing: ask first, by
    creating (and closing) a one-element array map.
    """
    fd = lib.bpf_map_create(int(MapType.ARRAY), ffi.NULL, 4, 4, 1, ffi.NULL)
    if fd >= 0:
        os.close(fd)
    else:
        _answer(fd, "bpf_map_create")  # libbpf >= 1.0 returns -errno


def probe_kernel(*, helpers: bool = True, full: bool = False) -> KernelReport:
    """Probe the running kernel: program, map types, helpers, kfuncs, attach facts.

    ``helpers=False`` skips the helper probes (about one program load per
    helper and program type). ``full=True`` also probes the helpers that
    write a warning into the kernel log (:data:`~libbpf_py.probe.NOISY_HELPERS`), which are
    otherwise left out, as bpftool does without ``full``.

    Raises :class:`~libbpf_py.LibbpfPermissionError` without CAP_BPF.
    """
    # not their truth: helpers="no" probed every helper, full=[0] none of the noisy ones
    helpers = _validate.check_bool(helpers, "helpers")
    full = _validate.check_bool(full, "full")
    _check_privilege()
    prog_types = _kinds(ProgType, lib.libbpf_bpf_prog_type_str)
    map_types = _kinds(MapType, lib.libbpf_bpf_map_type_str)
    progs = {name: _answer(lib.libbpf_probe_bpf_prog_type(value, ffi.NULL),
                           f"program type {name}")
             for value, name in prog_types}
    maps = {name: _answer(lib.libbpf_probe_bpf_map_type(value, ffi.NULL), f"map type {name}")
            for value, name in map_types}
    if maps.get("struct_ops") is False:
        maps["struct_ops"] = _struct_ops_maps()
    kfuncs, kfuncs_source = _kfuncs()
    return KernelReport(
        kernel_release=os.uname().release,
        libbpf_version=BUILD.runtime_version,
        program_types=progs,
        map_types=maps,
        helpers=_helpers(prog_types, progs, full) if helpers else {},
        kfuncs=kfuncs,
        kfuncs_source=kfuncs_source,
        attach=_attach_facts(),
        system={name: _read_int(path) for name, path in _SYSCTLS},
    )
