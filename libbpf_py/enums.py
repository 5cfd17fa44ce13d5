"""The kernel's BPF enums as Python enums, with values the compiler supplies.

Each enum is built at import from a C enum of the binding, its members named
after the enumerators without their common prefix::

    MapType.HASH        # BPF_MAP_TYPE_HASH
    ProgType.XDP        # BPF_PROG_TYPE_XDP
    AttachType.XDP      # BPF_XDP
    LinkType.CGROUP     # BPF_LINK_TYPE_CGROUP

No value is written here: they come from the UAPI headers the extension was
compiled against, through ``lib``. A kernel newer than those headers may
report a value that has no name yet (a map type added later, say); it still
converts, to a pseudo-member named ``UNKNOWN_<value>``, so that reading what
the kernel says never fails::

    >>> MapType(33)
    <MapType.UNKNOWN_33: 33>

Where the kernel's UAPI names a value the build's headers may lack (Debian 12's
``<linux/bpf.h>`` is Linux 6.1's), the pseudo-member has that name instead, from
:data:`_LATER_NAMES`, the one table of such names: ``LinkType(11)`` is
``TCX`` on every build, a member when the headers have ``BPF_LINK_TYPE_TCX``.

:class:`UpdateFlag` (``BPF_ANY``...) and :class:`MapFlag` (``BPF_F_*`` flags of
``map_flags``) are :class:`enum.IntFlag` built the same way.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Dict, Optional, Tuple, Type, TypeVar

from ._binding import ffi, lib

__all__ = ["AttachType", "KernelEnum", "KernelFlag", "LinkType", "MapFlag", "MapType", "ProgType",
           "UpdateFlag"]

_E = TypeVar("_E")


class _KernelEnumMeta(enum.EnumMeta):
    if TYPE_CHECKING:
        # The members are made at run time: tell type checkers that any
        # attribute of an enum class is one of its members.
        def __getattr__(cls: Type[_E], name: str) -> _E: ...


# Names of values later than Linux 6.1's UAPI (the oldest headers we build with), by
# enum: values of the kernel's include/uapi/linux/bpf.h (a stable ABI), with the
# release that added them. Used only for a value the build's headers do not declare;
# tests/test_info.py checks them against every <linux/bpf.h> at hand.
_LATER_NAMES: Dict[str, Dict[int, str]] = {
    "LinkType": {
        10: "NETFILTER",  # 6.4
        11: "TCX",  # 6.6
        12: "UPROBE_MULTI",  # 6.8
        13: "NETKIT",  # 6.7
        14: "SOCKMAP",  # 6.10
    },
}


#: enum class -> the libbpf function that names its values (LIBBPF_1.0.0, the floor)
_NAMERS: Dict[str, str] = {
    "MapType": "libbpf_bpf_map_type_str",
    "ProgType": "libbpf_bpf_prog_type_str",
    "AttachType": "libbpf_bpf_attach_type_str",
    "LinkType": "libbpf_bpf_link_type_str",
}
#: format() type characters that ask for the number, not the name
_NUMBER_FORMATS = frozenset("bcdoxXneEfFgG%")
_INT_MAX = (1 << 31) - 1


class KernelEnum(enum.IntEnum, metaclass=_KernelEnumMeta):
    """Base of the enums built from a kernel C enum; unknown values still convert.

    ``str()`` and ``format()`` give libbpf's own name of the value (``hash``,
    ``socket_filter``, ``cgroup_inet_ingress``, ``raw_tracepoint``), the names bpftool
    prints; a value the linked libbpf cannot name gives the member's name in lower case
    (``tcx`` on a libbpf older than tcx) or ``unknown(N)``. ``int()``, comparisons and
    a numeric format (``f"{t:d}"``) give the number.
    """

    @property
    def libbpf_name(self) -> str:
        """libbpf's name of this value, as bpftool prints it (see the class)."""
        namer = _NAMERS.get(type(self).__name__)
        value = int(self)
        if namer is not None and value <= _INT_MAX:
            name = getattr(lib, namer)(value)
            if name != ffi.NULL:
                return str(ffi.string(name).decode("ascii", "replace"))
        own = self._name_ or ""
        return f"unknown({value})" if own.startswith("UNKNOWN_") or not own else own.lower()

    def __str__(self) -> str:
        return self.libbpf_name

    def __format__(self, spec: str) -> str:
        if spec and spec[-1] in _NUMBER_FORMATS:
            return format(int(self), spec)
        return format(self.libbpf_name, spec)

    @classmethod
    def _missing_(cls, value: object) -> Optional[KernelEnum]:
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            return None
        member = int.__new__(cls, value)
        member._name_ = _LATER_NAMES.get(cls.__name__, {}).get(value, f"UNKNOWN_{value}")
        member._value_ = value
        return cls._value2member_map_.setdefault(value, member)  # type: ignore[return-value]


class KernelFlag(enum.IntFlag, metaclass=_KernelEnumMeta):
    """Base of the flag sets built from the kernel's ``#define`` constants."""


def _enumerators(c_enum: str, prefix: str) -> Dict[str, int]:
    """name-without-prefix -> value for every enumerator the binding declares."""
    relements: Dict[str, int] = ffi.typeof(f"enum {c_enum}").relements
    out = {name[len(prefix):]: value for name, value in relements.items()
           if name.startswith(prefix) and not name.startswith("__")}
    return dict(sorted(out.items(), key=lambda item: item[1]))


def _constants(names: Tuple[str, ...], prefix: str) -> Dict[str, int]:
    """name-without-prefix -> value of the #define constants the binding has."""
    return {name[len(prefix):]: int(getattr(lib, name)) for name in names
            if lib.has(name)}


if TYPE_CHECKING:
    class MapType(KernelEnum):
        """``enum bpf_map_type``: ``MapType.HASH`` is ``BPF_MAP_TYPE_HASH``."""

    class ProgType(KernelEnum):
        """``enum bpf_prog_type``: ``ProgType.XDP`` is ``BPF_PROG_TYPE_XDP``."""

    class AttachType(KernelEnum):
        """``enum bpf_attach_type``: ``AttachType.CGROUP_INET_INGRESS`` is
        ``BPF_CGROUP_INET_INGRESS``."""

    class LinkType(KernelEnum):
        """``enum bpf_link_type``: ``LinkType.XDP`` is ``BPF_LINK_TYPE_XDP``."""

    class UpdateFlag(KernelFlag):
        """Flags of a map update: ANY, NOEXIST, EXIST, F_LOCK (``BPF_ANY``...)."""

    class MapFlag(KernelFlag):
        """``map_flags`` bits: ``MapFlag.NO_PREALLOC`` is ``BPF_F_NO_PREALLOC``."""
else:
    MapType = KernelEnum("MapType", _enumerators("bpf_map_type", "BPF_MAP_TYPE_"),
                         module=__name__)
    MapType.__doc__ = "``enum bpf_map_type``: ``MapType.HASH`` is ``BPF_MAP_TYPE_HASH``."
    ProgType = KernelEnum("ProgType", _enumerators("bpf_prog_type", "BPF_PROG_TYPE_"),
                          module=__name__)
    ProgType.__doc__ = "``enum bpf_prog_type``: ``ProgType.XDP`` is ``BPF_PROG_TYPE_XDP``."
    AttachType = KernelEnum("AttachType", _enumerators("bpf_attach_type", "BPF_"),
                            module=__name__)
    AttachType.__doc__ = ("``enum bpf_attach_type``: ``AttachType.CGROUP_INET_INGRESS`` is "
                          "``BPF_CGROUP_INET_INGRESS``.")
    LinkType = KernelEnum("LinkType", _enumerators("bpf_link_type", "BPF_LINK_TYPE_"),
                          module=__name__)
    LinkType.__doc__ = "``enum bpf_link_type``: ``LinkType.XDP`` is ``BPF_LINK_TYPE_XDP``."
    UpdateFlag = KernelFlag(
        "UpdateFlag", _constants(("BPF_ANY", "BPF_NOEXIST", "BPF_EXIST", "BPF_F_LOCK"), "BPF_"),
        module=__name__)
    UpdateFlag.__doc__ = "Flags of a map update: ANY, NOEXIST, EXIST, F_LOCK (``BPF_ANY``...)."
    MapFlag = KernelFlag(
        "MapFlag", _constants((
            "BPF_F_NO_PREALLOC", "BPF_F_NO_COMMON_LRU", "BPF_F_NUMA_NODE", "BPF_F_RDONLY",
            "BPF_F_WRONLY", "BPF_F_STACK_BUILD_ID", "BPF_F_ZERO_SEED", "BPF_F_RDONLY_PROG",
            "BPF_F_WRONLY_PROG", "BPF_F_CLONE", "BPF_F_MMAPABLE", "BPF_F_PRESERVE_ELEMS",
            "BPF_F_INNER_MAP"), "BPF_F_"),
        module=__name__)
    MapFlag.__doc__ = "``map_flags`` bits: ``MapFlag.NO_PREALLOC`` is ``BPF_F_NO_PREALLOC``."
