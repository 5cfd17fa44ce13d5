"""What the kernel says about a program, a map or a link: the one reader of
``bpf_{prog,map,link}_get_info_by_fd``.

Each reader returns a frozen dataclass, :class:`ProgramInfo`, :class:`MapInfo`
or :class:`LinkInfo`, whose fields are also readable the way a dict's are
(``info["id"]``, ``"id" in info``, ``info.get("tp_name")``, ``info.keys()``,
``info.as_dict()``): ``Program.info()`` and ``Link.info()`` returned dicts
before, and code written against them keeps working.

Layouts come from the ``struct bpf_*_info`` of the headers the extension was
compiled against, read through cffi by field name. One exception, the
attach-specific union of ``struct bpf_link_info``: the binding declares only the
members Debian 12's ``<linux/bpf.h>`` (Linux 6.1) has, and link types added
since (netfilter, tcx, uprobe_multi, netkit, sockmap, the perf_event details...)
are decoded from :data:`LINK_UNION_FIELDS`, a table of the kernel UAPI's
offsets (a stable ABI), in the machine's byte order.
tests/test_info.py checks that table against every ``<linux/bpf.h>`` at hand.
"""

from __future__ import annotations

import errno
import os
import struct
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any, Dict, Iterator, KeysView, Mapping, Optional, Tuple

from . import _validate
from ._binding import ffi, lib
from ._call import check, make_error
from ._ids import obj_get
from .enums import LinkType, MapType, ProgType
from .errors import LibbpfError

__all__ = ["LINK_UNION_FIELDS", "BtfInfo", "LinkInfo", "MapInfo", "ProgramInfo", "btf_info",
           "link_info", "map_info", "prog_info"]


def _get_info(kind: str, fd: int, info: Any, size: int, what: Optional[str]) -> None:
    """``bpf_<kind>_get_info_by_fd`` (LIBBPF_1.2.0), or ``bpf_obj_get_info_by_fd``
    on an older libbpf; an error names the function, after ``what`` when given."""
    name = f"bpf_{kind}_get_info_by_fd"
    size_p = ffi.new("__u32 *", size)
    if lib.has(name):
        ret = getattr(lib, name)(fd, info, size_p)
    else:
        name = "bpf_obj_get_info_by_fd"
        ret = lib.bpf_obj_get_info_by_fd(fd, info, size_p)
    check(int(ret), f"{what} ({name})" if what else name)


def _address(buf: Any) -> int:
    return int(ffi.cast("uintptr_t", buf))


class _Record:
    """Dict-style reading of an info dataclass, on top of its attributes."""

    __slots__ = ()

    def as_dict(self) -> Dict[str, Any]:
        """The fields as a plain dict (``type`` as its enum)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]

    def __getitem__(self, key: str) -> Any:
        """``info["id"]`` as well as ``info.id``; KeyError for a key it lacks."""
        items = self.as_dict()
        if key not in items:
            raise KeyError(key)
        return items[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.as_dict().get(key, default)

    def keys(self) -> KeysView[str]:
        return self.as_dict().keys()

    def __contains__(self, key: object) -> bool:
        return key in self.as_dict()

    def __iter__(self) -> Iterator[str]:
        return iter(self.as_dict())

    def __len__(self) -> int:
        return len(self.as_dict())


# -- programs ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class ProgramInfo(_Record):
    """What the kernel says about a program (``struct bpf_prog_info``)."""

    type: ProgType
    id: int
    tag: str  # hex
    name: str
    btf_id: int
    xlated_prog_len: int
    jited_prog_len: int
    nr_map_ids: int
    map_ids: Tuple[int, ...]
    load_time: int  # ns since boot (CLOCK_BOOTTIME)
    created_by_uid: int
    ifindex: int
    netns_dev: int
    netns_ino: int
    run_time_ns: int  # with BPF stats enabled (sysctl kernel.bpf_stats_enabled)
    run_cnt: int
    recursion_misses: int
    verified_insns: int
    attach_btf_obj_id: int
    attach_btf_id: int


def prog_info(fd: int, what: Optional[str] = None) -> ProgramInfo:
    """The :class:`ProgramInfo` of the program behind ``fd``."""
    ctype = "struct bpf_prog_info"
    info = ffi.new(ctype + " *")
    _get_info("prog", fd, info, ffi.sizeof(ctype), what)
    nr_maps = int(info.nr_map_ids)
    map_ids: Tuple[int, ...] = ()
    if nr_maps:
        again = ffi.new(ctype + " *")
        ids = ffi.new("__u32[]", nr_maps)
        again.nr_map_ids = nr_maps
        again.map_ids = _address(ids)
        _get_info("prog", fd, again, ffi.sizeof(ctype), what)
        map_ids = tuple(int(ids[i]) for i in range(min(nr_maps, int(again.nr_map_ids))))
    return ProgramInfo(
        type=ProgType(int(info.type)), id=int(info.id),
        tag=bytes(ffi.buffer(info.tag)).hex(),
        name=_validate.from_c(ffi.string(info.name)),
        btf_id=int(info.btf_id), xlated_prog_len=int(info.xlated_prog_len),
        jited_prog_len=int(info.jited_prog_len), nr_map_ids=nr_maps, map_ids=map_ids,
        load_time=int(info.load_time), created_by_uid=int(info.created_by_uid),
        ifindex=int(info.ifindex), netns_dev=int(info.netns_dev),
        netns_ino=int(info.netns_ino), run_time_ns=int(info.run_time_ns),
        run_cnt=int(info.run_cnt), recursion_misses=int(info.recursion_misses),
        verified_insns=int(info.verified_insns),
        attach_btf_obj_id=int(info.attach_btf_obj_id), attach_btf_id=int(info.attach_btf_id))


# -- maps -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MapInfo(_Record):
    """What the kernel says about a map (``struct bpf_map_info``)."""

    type: MapType
    id: int
    name: str
    key_size: int
    value_size: int
    max_entries: int
    map_flags: int
    ifindex: int
    btf_id: int
    btf_key_type_id: int
    btf_value_type_id: int
    btf_vmlinux_value_type_id: int
    map_extra: int
    netns_dev: int
    netns_ino: int


def map_info(fd: int, what: Optional[str] = None) -> MapInfo:
    """The :class:`MapInfo` of the map behind ``fd``."""
    ctype = "struct bpf_map_info"
    info = ffi.new(ctype + " *")
    _get_info("map", fd, info, ffi.sizeof(ctype), what)
    return MapInfo(
        type=MapType(int(info.type)), id=int(info.id),
        name=_validate.from_c(ffi.string(info.name)),
        key_size=int(info.key_size), value_size=int(info.value_size),
        max_entries=int(info.max_entries), map_flags=int(info.map_flags),
        ifindex=int(info.ifindex), btf_id=int(info.btf_id),
        btf_key_type_id=int(info.btf_key_type_id),
        btf_value_type_id=int(info.btf_value_type_id),
        btf_vmlinux_value_type_id=int(info.btf_vmlinux_value_type_id),
        map_extra=int(info.map_extra), netns_dev=int(info.netns_dev),
        netns_ino=int(info.netns_ino))


# -- BTF objects ------------------------------------------------------------------------------

@dataclass(frozen=True)
class BtfInfo(_Record):
    """What the kernel says about a BTF object (``struct bpf_btf_info``)."""

    id: int
    name: str  # "vmlinux", a module's name, "" for a program's BTF
    btf_size: int
    kernel_btf: bool  # the kernel's own (vmlinux or a module), not loaded by a program


def btf_info(fd: int, what: Optional[str] = None) -> BtfInfo:
    """The :class:`BtfInfo` of the BTF object behind ``fd``."""
    ctype = "struct bpf_btf_info"
    info = ffi.new(ctype + " *")
    name = ffi.new("char[]", 64)  # the kernel's names are at most MODULE_NAME_LEN (56)
    info.name = _address(name)
    info.name_len = len(name)
    _get_info("btf", fd, info, ffi.sizeof(ctype), what)
    return BtfInfo(id=int(info.id), name=_validate.from_c(ffi.string(name)),
                   btf_size=int(info.btf_size), kernel_btf=bool(info.kernel_btf))


# -- links ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LinkInfo(_Record):
    """What the kernel says about a link (``struct bpf_link_info``).

    The fields every link has are attributes: ``type`` (a :class:`LinkType`),
    ``type_name`` (``"xdp"``, ``"perf_event"``...), ``id``, ``prog_id``. The
    attach-specific ones, which depend on the type (and on the kernel: older
    kernels fill fewer), are in ``details`` and read like a dict's keys:
    ``info["ifindex"]``, ``info.get("tp_name")``, ``"map_id" in info``.
    ``as_dict()`` and ``keys()`` give both, as one flat dict.
    """

    type: LinkType
    type_name: str
    id: int
    prog_id: int
    details: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def as_dict(self) -> Dict[str, Any]:
        """The common fields and the details, as one flat dict."""
        return {"type": self.type, "type_name": self.type_name, "id": self.id,
                "prog_id": self.prog_id, **self.details}


# The attach-specific union of struct bpf_link_info, for the members the binding's
# declaration (Linux 6.1's <linux/bpf.h>) lacks: "member.field" -> (byte offset from
# the start of the union, struct format of the field). Offsets and sizes are those of
# the kernel's include/uapi/linux/bpf.h, a stable ABI; the comment says which Linux
# release added the member. Read and written in the machine's byte order.
LINK_UNION_FIELDS: Dict[str, Tuple[int, str]] = {
    # iter (5.9)
    "iter.target_name": (0, "Q"),
    "iter.target_name_len": (8, "I"),
    "iter.map.map_id": (12, "I"),
    # struct_ops (6.4)
    "struct_ops.map_id": (0, "I"),
    # netfilter (6.4)
    "netfilter.pf": (0, "I"),
    "netfilter.hooknum": (4, "I"),
    "netfilter.priority": (8, "i"),
    "netfilter.flags": (12, "I"),
    # kprobe_multi (6.5: addrs, count, flags; 6.9: missed, cookies)
    "kprobe_multi.count": (8, "I"),
    "kprobe_multi.flags": (12, "I"),
    # uprobe_multi (6.8)
    "uprobe_multi.count": (36, "I"),
    "uprobe_multi.flags": (40, "I"),
    "uprobe_multi.pid": (44, "I"),
    # perf_event (6.6; kprobe.missed 6.7; the cookies 6.9); its union starts at 8
    "perf_event.type": (0, "I"),
    "perf_event.uprobe.file_name": (8, "Q"),
    "perf_event.uprobe.name_len": (16, "I"),
    "perf_event.uprobe.offset": (20, "I"),
    "perf_event.uprobe.cookie": (24, "Q"),
    "perf_event.kprobe.func_name": (8, "Q"),
    "perf_event.kprobe.name_len": (16, "I"),
    "perf_event.kprobe.offset": (20, "I"),
    "perf_event.kprobe.addr": (24, "Q"),
    "perf_event.kprobe.missed": (32, "Q"),
    "perf_event.kprobe.cookie": (40, "Q"),
    "perf_event.tracepoint.tp_name": (8, "Q"),
    "perf_event.tracepoint.name_len": (16, "I"),
    "perf_event.tracepoint.cookie": (24, "Q"),
    "perf_event.event.config": (8, "Q"),
    "perf_event.event.type": (16, "I"),
    "perf_event.event.cookie": (24, "Q"),
    # tcx (6.6)
    "tcx.ifindex": (0, "I"),
    "tcx.attach_type": (4, "I"),
    # netkit (6.7)
    "netkit.ifindex": (0, "I"),
    "netkit.attach_type": (4, "I"),
    # sockmap (6.10)
    "sockmap.map_id": (0, "I"),
    "sockmap.attach_type": (4, "I"),
}

# enum bpf_perf_event_type (include/uapi/linux/bpf.h, Linux 6.6): not in 6.1's header
_PERF_EVENT_TYPES: Dict[int, str] = {
    0: "unspec", 1: "uprobe", 2: "uretprobe", 3: "kprobe", 4: "kretprobe", 5: "tracepoint",
    6: "event",
}
# Room for any kernel's struct bpf_link_info (Linux 6.12's is 64 bytes, 6.1's 48): the
# kernel fills what it has and wants the tail it does not know zero.
_LINK_INFO_SIZE = 256
_NAME_MAX = 4096  # PATH_MAX: the longest name (a uprobe's file) the kernel writes


class _LinkBuffer:
    """A zeroed buffer for BPF_OBJ_GET_INFO_BY_FD of a link: the members the binding
    declares are read through cffi by name, the others from LINK_UNION_FIELDS."""

    def __init__(self) -> None:
        self.raw = ffi.new("char[]", _LINK_INFO_SIZE)
        self.info = ffi.cast("struct bpf_link_info *", self.raw)
        self.union = ffi.offsetof("struct bpf_link_info", "raw_tracepoint")

    def _where(self, path: str) -> Tuple[int, str]:
        off, fmt = LINK_UNION_FIELDS[path]
        return self.union + off, "=" + fmt  # the machine's byte order, standard sizes

    def get(self, path: str) -> int:
        off, fmt = self._where(path)
        return int(struct.unpack_from(fmt, ffi.buffer(self.raw), off)[0])

    def set(self, path: str, value: int) -> None:
        off, fmt = self._where(path)
        struct.pack_into(fmt, ffi.buffer(self.raw), off, value)

    def read(self, fd: int, what: Optional[str]) -> None:
        _get_info("link", fd, self.info, _LINK_INFO_SIZE, what)


def _link_name(fd: int, what: Optional[str], at: Optional[Tuple[str, str]]) -> str:
    """A string of a link's info (tp_name, target_name, file_name...): a second
    call with a buffer at ``at``, the (pointer, length) fields of
    LINK_UNION_FIELDS; None: raw_tracepoint's, which the binding declares."""
    name = ffi.new("char[]", _NAME_MAX)
    buf = _LinkBuffer()
    if at is None:
        buf.info.raw_tracepoint.tp_name = _address(name)
        buf.info.raw_tracepoint.tp_name_len = _NAME_MAX
    else:
        buf.set(at[0], _address(name))
        buf.set(at[1], _NAME_MAX)
    buf.read(fd, what)
    return _validate.from_c(ffi.string(name))


def link_info(fd: int, what: Optional[str] = None) -> LinkInfo:
    """The :class:`LinkInfo` of the link behind ``fd``."""
    buf = _LinkBuffer()
    buf.read(fd, what)
    info = buf.info
    ltype = int(info.type)
    out: Dict[str, Any] = {}
    kind = LinkType(ltype).name
    if kind == "RAW_TRACEPOINT":
        out["tp_name"] = _link_name(fd, what, None)
    elif kind == "TRACING":
        out.update(attach_type=int(info.tracing.attach_type),
                   target_obj_id=int(info.tracing.target_obj_id),
                   target_btf_id=int(info.tracing.target_btf_id))
    elif kind == "CGROUP":
        out.update(cgroup_id=int(info.cgroup.cgroup_id),
                   attach_type=int(info.cgroup.attach_type))
    elif kind == "ITER":
        target = _link_name(fd, what, ("iter.target_name", "iter.target_name_len"))
        out["target_name"] = target
        if target == "bpf_map_elem" or target.startswith("bpf_sk"):
            out["map_id"] = buf.get("iter.map.map_id")
    elif kind == "NETNS":
        out.update(netns_ino=int(info.netns.netns_ino), attach_type=int(info.netns.attach_type))
    elif kind == "XDP":
        out["ifindex"] = int(info.xdp.ifindex)
    elif kind in ("TCX", "NETKIT"):
        member = kind.lower()
        out.update(ifindex=buf.get(f"{member}.ifindex"),
                   attach_type=buf.get(f"{member}.attach_type"))
    elif kind == "PERF_EVENT":
        out.update(_perf_event(fd, what, buf))
    elif kind == "KPROBE_MULTI":
        out.update(count=buf.get("kprobe_multi.count"), flags=buf.get("kprobe_multi.flags"))
    elif kind == "STRUCT_OPS":
        out["map_id"] = buf.get("struct_ops.map_id")
    elif kind == "NETFILTER":
        out.update({key: buf.get(f"netfilter.{key}")
                    for key in ("pf", "hooknum", "priority", "flags")})
    elif kind == "UPROBE_MULTI":
        out.update({key: buf.get(f"uprobe_multi.{key}") for key in ("count", "flags", "pid")})
    elif kind == "SOCKMAP":
        out.update(map_id=buf.get("sockmap.map_id"), attach_type=buf.get("sockmap.attach_type"))
    return LinkInfo(type=LinkType(ltype), type_name=str(LinkType(ltype)), id=int(info.id),
                    prog_id=int(info.prog_id), details=MappingProxyType(out))


def _perf_event(fd: int, what: Optional[str], buf: _LinkBuffer) -> Dict[str, Any]:
    """The perf_event member (Linux 6.6+; older kernels leave it zero: "unspec")."""
    ptype = buf.get("perf_event.type")
    out: Dict[str, Any] = {"perf_event_type": _PERF_EVENT_TYPES.get(ptype, str(ptype))}
    if ptype in (1, 2):  # uprobe, uretprobe
        p = "perf_event.uprobe."
        out["file_name"] = _link_name(fd, what, (p + "file_name", p + "name_len"))
        out.update(offset=buf.get(p + "offset"), cookie=buf.get(p + "cookie"))
    elif ptype in (3, 4):  # kprobe, kretprobe
        p = "perf_event.kprobe."
        out["func_name"] = _link_name(fd, what, (p + "func_name", p + "name_len"))
        out.update({key: buf.get(p + key) for key in ("offset", "addr", "missed", "cookie")})
    elif ptype == 5:  # tracepoint
        p = "perf_event.tracepoint."
        out["tp_name"] = _link_name(fd, what, (p + "tp_name", p + "name_len"))
        out["cookie"] = buf.get(p + "cookie")
    elif ptype == 6:  # event
        p = "perf_event.event."
        out.update(config=buf.get(p + "config"), event_type=buf.get(p + "type"),
                   cookie=buf.get(p + "cookie"))
    return out


def check_pinned_here(path: Any, kind: str, own_id: int, what: str) -> None:
    """Raise LibbpfError unless ``path`` pins the ``kind`` ("map", "prog") object of id
    ``own_id``: ENOENT when nothing is there, EINVAL for a file that is not such a pin
    or a pin of another object. The one check before an ``unpin()`` removes the file
    at ``path`` (``os.unlink`` or libbpf's unlink, which take any file: a regular one
    off bpffs, or another object's pin)."""
    noun = "map" if kind == "map" else "program"
    try:
        fd = obj_get(path, kind)
    except LibbpfError as exc:
        if exc.errno == errno.ENOENT:
            raise make_error(exc.errno, what) from None
        raise make_error(errno.EINVAL, what, f"it is not a pin of a BPF {noun}: nothing "
                                             "removed") from None
    try:
        pinned = (map_info if kind == "map" else prog_info)(fd, what).id
    finally:
        os.close(fd)
    if pinned != own_id:
        raise make_error(errno.EINVAL, what, f"it pins {noun} id {pinned}, not this {noun} "
                                             f"(id {own_id}): nothing removed")
