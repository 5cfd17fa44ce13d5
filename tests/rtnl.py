"""Just enough rtnetlink to make a netkit device pair, for the netkit attach test.

Debian 12's iproute2 (6.1) predates netkit (iproute2 6.7 added ``type netkit``)
and pyroute2 has no netkit link kind, so the one RTM_NEWLINK request is built
here from the kernel's uapi (linux/rtnetlink.h, linux/if_link.h). Standard
library only; the request is made in the network namespace of the calling
thread (enter one with ``NetNs.entered()``).
"""

from __future__ import annotations

import errno
import os
import socket
import struct

RTM_NEWLINK = 16
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
NLMSG_ERROR = 2
NLA_F_NESTED = 0x8000
IFLA_IFNAME, IFLA_LINKINFO = 3, 18
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
IFLA_NETKIT_PEER_INFO = 1  # enum { IFLA_NETKIT_UNSPEC, IFLA_NETKIT_PEER_INFO, ... }

_NLMSGHDR = struct.Struct("=IHHII")   # len, type, flags, seq, pid
_IFINFOMSG = struct.Struct("=BxHiII")  # family, pad, type, index, flags, change
_NLATTR = struct.Struct("=HH")         # len, type


def _attr(kind: int, payload: bytes) -> bytes:
    """One netlink attribute, padded to 4 bytes (NLA_ALIGN)."""
    size = _NLATTR.size + len(payload)
    return _NLATTR.pack(size, kind) + payload + b"\0" * (-size % 4)


def _name(ifname: str) -> bytes:
    raw = ifname.encode()
    if not raw or len(raw) >= 16 or b"\0" in raw:  # IFNAMSIZ
        raise ValueError(f"bad interface name {ifname!r}")
    return raw + b"\0"


def add_netkit(primary: str, peer: str) -> None:
    """``ip link add PRIMARY type netkit peer name PEER`` (L3 mode, both policies
    "forward": the kernel's defaults). OSError with the kernel's errno on refusal."""
    peer_info = _IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0) + _attr(IFLA_IFNAME, _name(peer))
    linkinfo = (_attr(IFLA_INFO_KIND, b"netkit\0")
                + _attr(IFLA_INFO_DATA | NLA_F_NESTED,
                        _attr(IFLA_NETKIT_PEER_INFO, peer_info)))
    body = (_IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
            + _attr(IFLA_IFNAME, _name(primary))
            + _attr(IFLA_LINKINFO | NLA_F_NESTED, linkinfo))
    flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
    msg = _NLMSGHDR.pack(_NLMSGHDR.size + len(body), RTM_NEWLINK, flags, 1, 0) + body
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE) as s:
        s.sendto(msg, (0, 0))
        reply = s.recv(65536)
    _len, kind, _flags, _seq, _pid = _NLMSGHDR.unpack_from(reply)
    if kind != NLMSG_ERROR:
        raise OSError(errno.EPROTO, f"rtnetlink: expected an ack, got message type {kind}")
    (code,) = struct.unpack_from("=i", reply, _NLMSGHDR.size)
    if code:
        raise OSError(-code, f"RTM_NEWLINK {primary} type netkit peer {peer}: "
                             f"{os.strerror(-code)}")
