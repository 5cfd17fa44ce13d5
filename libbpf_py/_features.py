"""The feature registry: what this build of libbpf_py can do, by name.

A feature is a named capability of the wrappers ("ring_buffer.consume_n",
"open.bpf_token_path") together with what it needs from the libbpf the
extension was built against: libbpf functions (``lib.has``), fields of
libbpf's option structs (as the compiler saw them), and optionally the
oldest runtime libbpf that may be handed those fields. A feature is available
when the build has all of it.

Which libbpf version node brought a function or a struct field is written in
one place, the tags of the declarations (``libbpf_py/_cdefs``):
:func:`node_of_function` and :func:`node_of_field` read it for every caller,
so a feature only names what it needs, never a version. The tags are parsed on
the first such question (an error path, ``why_not``, the probe): ``import
libbpf_py`` loads none of the declarations.

The features of the wrappers are registered at the end of this module;
:func:`register` adds more. ``libbpf_py.features`` is a live, read-only set
of the available names::

    >>> "user_ring_buffer" in libbpf_py.features
    True
    >>> print(libbpf_py.features.why_not("ring_buffer.consume_n"))  # built against 1.1
    needs ring_buffer__consume_n (LIBBPF_1.5.0), ring__consume_n (LIBBPF_1.5.0); built \
against libbpf 1.1
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from typing import Dict, List, Mapping, Optional, Tuple

from . import _cdefs
from ._binding import BUILD, OMITTED, RUNTIME_VERSION, ffi, lib
from ._record import Record
from .errors import LibbpfVersionError

__all__ = ["Feature", "Features", "features", "node_of_field", "node_of_function", "register"]


def node_of_function(name: str) -> str:
    """The libbpf.map version node of a libbpf function (KeyError if undeclared)."""
    return str(_cdefs.node_of_function(name))


def node_of_field(struct: str, field: str) -> str:
    """The version node that brought ``struct <struct>``'s member ``field``.

    KeyError if the declarations have no such member: no node is ever guessed.
    A member every supported libbpf has answers the floor, LIBBPF_1.0.0.
    """
    return str(_cdefs.node_of_field(struct, field))


def require_field(struct: str, field: str, what: str) -> None:
    """Raise LibbpfVersionError naming ``what`` unless this build's ``struct <struct>``
    has ``field`` (libbpf rejects non-zero bytes past the size it knows)."""
    if field not in _struct_fields(struct):
        raise LibbpfVersionError(what, node_of_field(struct, field),
                                 BUILD.header_version_string)


def _struct_fields(struct: str) -> AbstractSet[str]:
    """The members of ``struct <struct>`` as this build's compiler saw them."""
    try:
        return {f for f, _ in ffi.typeof(f"struct {struct}").fields}
    except ffi.error:
        return set()

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")


class Feature(Record):
    """One named capability and what it needs from libbpf."""

    name: str
    description: str
    #: libbpf functions the feature calls
    functions: Tuple[str, ...] = ()
    #: (struct, field) pairs of libbpf's option structs the feature sets
    fields: Tuple[Tuple[str, str], ...] = ()
    #: oldest runtime libbpf (major, minor) the feature works with, if later than the build's
    runtime: Optional[Tuple[int, int]] = None

    def __init__(self, name: str, description: str, functions: Tuple[str, ...] = (),
                 fields: Tuple[Tuple[str, str], ...] = (),
                 runtime: Optional[Tuple[int, int]] = None) -> None:
        self._set(name=name, description=description, functions=functions, fields=fields,
                  runtime=runtime)

    def why_not(self) -> Optional[str]:
        """None when available; otherwise what is missing, in one sentence."""
        reasons: List[str] = []
        for name in self.functions:
            if not lib.has(name):
                node = OMITTED.get(name)
                reasons.append(f"{name} ({node})" if node else name)
        for struct, field in self.fields:
            if field not in _struct_fields(struct):
                reasons.append(f"struct {struct}.{field}")
        if reasons:
            return (f"needs {', '.join(reasons)}; built against libbpf "
                    f"{BUILD.header_version_string}")
        if self.runtime is not None and RUNTIME_VERSION < self.runtime:
            return (f"needs runtime libbpf >= {self.runtime[0]}.{self.runtime[1]}; runs "
                    f"libbpf {BUILD.runtime_version}")
        return None

    @property
    def available(self) -> bool:
        return self.why_not() is None


_REGISTRY: Dict[str, Feature] = {}


def register(name: str, description: str, *, functions: Tuple[str, ...] = (),
             fields: Tuple[Tuple[str, str], ...] = (),
             runtime: Optional[Tuple[int, int]] = None) -> Feature:
    """Register a feature (idempotent for an identical definition).

    ``name`` is dotted lower case (``"link.netfilter"``). Registering a
    different definition under a taken name raises ValueError.
    """
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(f"feature name {name!r} must be dotted lower case, e.g. 'link.tcx'")
    unknown = [f for f in functions if not lib.has(f) and f not in OMITTED]
    if unknown:
        raise ValueError(f"feature {name!r} needs {', '.join(unknown)}, which libbpf_py "
                         "does not declare")
    feature = Feature(name, description, tuple(functions),
                      tuple((str(s), str(f)) for s, f in fields), runtime)
    old = _REGISTRY.get(name)
    if old is not None and old != feature:
        raise ValueError(f"feature {name!r} is already registered with another definition")
    _REGISTRY[name] = feature
    return feature


class Features(AbstractSet[str]):
    """The available features, a live read-only set of names.

    ``name in features`` is False for an unavailable or unknown feature;
    :meth:`Features.why_not` says why, :meth:`Features.require` raises.
    """

    def __contains__(self, name: object) -> bool:
        feature = _REGISTRY.get(name) if isinstance(name, str) else None
        return feature is not None and feature.available

    def __iter__(self) -> Iterator[str]:
        return iter([name for name in sorted(_REGISTRY) if _REGISTRY[name].available])

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __repr__(self) -> str:
        return f"Features({sorted(self)!r})"

    @property
    def registered(self) -> Mapping[str, Feature]:
        """Every registered feature, available or not, by name."""
        return dict(sorted(_REGISTRY.items()))

    def _get(self, name: str) -> Feature:
        try:
            return _REGISTRY[name]
        except KeyError:
            raise KeyError(f"no feature named {name!r}; known: "
                           + ", ".join(sorted(_REGISTRY))) from None

    def why_not(self, name: str) -> Optional[str]:
        """None if ``name`` is available, else the reason; KeyError if unknown."""
        return self._get(name).why_not()

    def require(self, name: str) -> None:
        """Raise unless ``name`` is available.

        LibbpfVersionError (a NotImplementedError) names the first missing
        function or struct field and its version node; KeyError for an
        unknown name.
        """
        feature = self._get(name)
        reason = feature.why_not()
        if reason is None:
            return
        for func in feature.functions:
            if not lib.has(func):
                raise LibbpfVersionError(func, OMITTED[func], BUILD.header_version_string)
        for struct, field in feature.fields:
            require_field(struct, field, f"struct {struct}.{field}")
        raise NotImplementedError(f"feature {name}: {reason}")

    def as_dict(self) -> Dict[str, bool]:
        """name -> available, for every registered feature."""
        return {name: feature.available for name, feature in sorted(_REGISTRY.items())}


features = Features()


# The capabilities of the wrappers, each with the libbpf functions it calls and the option
# fields it sets (their version nodes come from the declarations, see node_of_*).
for _name, _description, _functions, _fields in (
    ("open.btf_custom_path", "BpfObject.open(btf_custom_path=...)", (),
     (("bpf_object_open_opts", "btf_custom_path"),)),
    ("open.kernel_log", "BpfObject.open(kernel_log_level=..., kernel_log_size=...)", (),
     (("bpf_object_open_opts", "kernel_log_level"),)),
    ("open.bpf_token_path", "BpfObject.open(bpf_token_path=...): load through a BPF token",
     (), (("bpf_object_open_opts", "bpf_token_path"),)),
    ("object.unpin", "BpfObject.unpin(path) in one libbpf call", ("bpf_object__unpin",), ()),
    ("info_by_fd", "typed bpf_{prog,map,link,btf}_get_info_by_fd",
     ("bpf_prog_get_info_by_fd", "bpf_map_get_info_by_fd", "bpf_link_get_info_by_fd"), ()),
    ("ring_buffer", "BPF ring buffers (ring_buffer__new/add/consume, polled with epoll)",
     ("ring_buffer__new", "ring_buffer__add", "ring_buffer__consume"), ()),
    ("ring_buffer.ring", "per-ring access: sizes, positions, consume one ring",
     ("ring_buffer__ring", "ring__consume"), ()),
    ("ring_buffer.consume_n", "consume at most n records",
     ("ring_buffer__consume_n", "ring__consume_n"), ()),
    ("user_ring_buffer", "user-space producer ring buffers (BPF_MAP_TYPE_USER_RINGBUF)",
     ("user_ring_buffer__new", "user_ring_buffer__reserve", "user_ring_buffer__submit"), ()),
    ("perf_buffer", "perf event ring buffers (perf_buffer__new_raw, polled with epoll)",
     ("perf_buffer__new_raw", "perf_buffer__consume_buffer"), ()),
    ("link.kprobe_multi", "attach a kprobe to many functions",
     ("bpf_program__attach_kprobe_multi_opts",), ()),
    ("link.uprobe_multi", "attach a uprobe to many offsets",
     ("bpf_program__attach_uprobe_multi",), ()),
    ("link.usdt", "attach to a USDT probe", ("bpf_program__attach_usdt",), ()),
    ("link.netfilter", "attach a netfilter program", ("bpf_program__attach_netfilter",), ()),
    ("link.tcx", "attach to tcx ingress/egress", ("bpf_program__attach_tcx",), ()),
    ("link.netkit", "attach to a netkit device", ("bpf_program__attach_netkit",), ()),
    ("link.sockmap", "attach a program to a sockmap as a link",
     ("bpf_program__attach_sockmap",), ()),
    ("link.raw_tracepoint_cookie", "raw tracepoint attach with a BPF cookie",
     ("bpf_program__attach_raw_tracepoint_opts",), ()),
    ("map.autoattach", "struct_ops maps attached by the skeleton (bpf_map_skeleton.link)",
     (), (("bpf_map_skeleton", "link"),)),
    ("object.prepare", "BpfObject.prepare(): everything of load() but loading the programs",
     ("bpf_object__prepare",), ()),
    ("program.func_line_info", "Program.func_info() and line_info(); VerifierError's "
     "source line from the line info", ("bpf_program__func_info", "bpf_program__func_info_cnt",
                                         "bpf_program__line_info", "bpf_program__line_info_cnt"),
     ()),
    ("program.load_raw", "FdProgram.load(): load a program from raw instructions "
     "(bpf_prog_load)", ("bpf_prog_load",), ()),
    ("program.load_raw.fd_array_cnt", "FdProgram.load(fd_array_cnt=...): bind every map "
     "of fd_array to the program (kernel >= 6.14)", ("bpf_prog_load",),
     (("bpf_prog_load_opts", "fd_array_cnt"),)),
    ("program.stream", "Program.stream(): read a program's BPF stdout/stderr",
     ("bpf_prog_stream_read",), ()),
    ("program.assoc_struct_ops", "Program.assoc_struct_ops(map)",
     ("bpf_program__assoc_struct_ops", "bpf_prog_assoc_struct_ops"), ()),
    ("link.cgroup_order", "attach_cgroup(before=, after=, expected_revision=)",
     ("bpf_program__attach_cgroup_opts",), ()),
    ("link.kprobe_multi.unique_match", "attach_kprobe_multi(unique_match=True)", (),
     (("bpf_kprobe_multi_opts", "unique_match"),)),
    ("link.uprobe_multi.session", "attach_uprobe_multi(session=True)", (),
     (("bpf_uprobe_multi_opts", "session"),)),
    ("link.perf_event.dont_enable", "attach_perf_event(dont_enable=True)", (),
     (("bpf_perf_event_opts", "dont_enable"),)),
    ("map.exclusive_program", "Map.exclusive_program: a map only one program may use",
     ("bpf_map__set_exclusive_program", "bpf_map__exclusive_program"), ()),
    ("linker.fd_buf", "Linker(fd), Linker.add_fd() and add_buf()",
     ("bpf_linker__new_fd", "bpf_linker__add_fd", "bpf_linker__add_buf"), ()),
    ("btf.permute", "Btf.permute(id_map)", ("btf__permute",), ()),
    ("kernel_probes", "probe program types, map types and helpers of the running kernel",
     ("libbpf_probe_bpf_prog_type", "libbpf_probe_bpf_map_type", "libbpf_probe_bpf_helper"),
     ()),
):
    register(_name, _description, functions=_functions, fields=_fields)
