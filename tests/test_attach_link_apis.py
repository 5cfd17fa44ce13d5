"""Attach kinds whose libbpf API came after 1.1: tcx, netkit and netfilter
(LIBBPF_1.3.0), sockmap links (LIBBPF_1.5.0). Builds against an older libbpf
raise LibbpfVersionError for them; that is tested too."""

from __future__ import annotations

import contextlib
import errno
import socket
import subprocess
from pathlib import Path
from typing import Any, Callable, ContextManager, Iterator

import pytest
import rtnl
from conftest import Compile, config_enabled, kernel_config, kernel_enum

from libbpf_py import BpfObject
from libbpf_py.errors import LibbpfError, LibbpfVersionError

pytestmark = pytest.mark.kernel
LoadAttach = Callable[..., ContextManager[BpfObject]]  # the conftest fixture load_attach

NFPROTO_IPV4, NF_INET_LOCAL_OUT = 2, 3
C_SK_MSG = 15  # slot of `counts` in tests/bpf/attach.bpf.c


def count(obj: BpfObject, slot: int) -> int:
    return int(obj.maps.counts[slot])


@pytest.fixture
def new_o(kernel: None, compile_bpf: Compile) -> Path:
    return compile_bpf("attach_link_apis")


@contextlib.contextmanager
def only(path: Path, prog: str) -> Iterator[BpfObject]:
    """The object opened with only ``prog`` to load: a kernel without one of these
    kinds refuses that program alone, not the others."""
    with BpfObject.open(path) as obj:
        for name, p in obj.programs.items():
            p.autoload = name == prog
        yield obj


def refused(record_kind: Callable[..., None], kind: str, err: LibbpfError, why: str) -> None:
    record_kind(kind, "refused", err)
    pytest.xfail(f"refused by this kernel ({why}): {err}")


def _has(enum: str, name: str) -> bool:
    return name in kernel_enum(enum)


@pytest.mark.build(header_min=(1, 3))
def test_tcx_on_veth(new_o: Path, veth: Any, record_kind: Callable[..., None]) -> None:
    with only(new_o, "on_tcx") as obj:
        obj.load()
        vb = veth.ifindex("vb")
        if not _has("bpf_attach_type", "BPF_TCX_INGRESS"):
            with veth.entered(), pytest.raises(LibbpfError) as exc:
                obj.programs.on_tcx.attach_tcx(vb)
            assert exc.value.errno == errno.EINVAL, exc.value
            assert "'on_tcx'" in str(exc.value)
            refused(record_kind, "tcx", exc.value,
                    "no tcx: BPF_TCX_INGRESS is not in the kernel's enum bpf_attach_type")
        with veth.entered():
            link = obj.programs.on_tcx.attach_tcx(vb)
        with link:
            veth.send_frames("va", 3)
            assert obj.maps.hits[0] == 3
            info = link.info()
            assert info["type_name"] == "tcx"
            assert info["ifindex"] == vb
            assert info["prog_id"] == obj.programs.on_tcx.id
        veth.send_frames("va", 1)
        assert obj.maps.hits[0] == 3
    record_kind("tcx", "fired")


@pytest.mark.build(header_min=(1, 3))
def test_netfilter_local_out_in_a_netns(new_o: Path, netns: Any,
                                        record_kind: Callable[..., None]) -> None:
    with only(new_o, "on_netfilter") as obj:
        if not _has("bpf_prog_type", "BPF_PROG_TYPE_NETFILTER"):
            with pytest.raises(LibbpfError) as exc:
                obj.load()
            assert exc.value.errno == errno.EINVAL, exc.value
            refused(record_kind, "netfilter", exc.value, "no netfilter programs: "
                    "BPF_PROG_TYPE_NETFILTER is not in the kernel's enum bpf_prog_type")
        obj.load()
        with netns.entered():
            link = obj.programs.on_netfilter.attach_netfilter(NFPROTO_IPV4, NF_INET_LOCAL_OUT,
                                                              100)
            tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with link, tx:
            info = link.info()
            assert info["type_name"] == "netfilter"
            assert (info["pf"], info["hooknum"], info["priority"]) == (2, 3, 100)
            tx.sendto(b"x", ("127.0.0.1", 9))
            assert obj.maps.hits[1] >= 1
        with pytest.raises(ValueError, match="priority"):
            obj.programs.on_netfilter.attach_netfilter(2, 3, 1 << 40)
    record_kind("netfilter", "fired")


@pytest.mark.build(header_min=(1, 3))
def test_netkit_fires_or_is_refused(new_o: Path, netns: Any,
                                    record_kind: Callable[..., None]) -> None:
    """A netkit/primary program on a netkit pair made over rtnetlink (tests/rtnl.py:
    Debian 12's ip cannot make one) runs for each packet the primary sends. Where the
    kernel has no netkit, no such device can be made and the attach type is unknown."""
    has_netkit = bool(config_enabled("CONFIG_NETKIT"))
    with only(new_o, "on_netkit") as obj:
        obj.load()
        prog = obj.programs.on_netkit
        lo = netns.ifindex("lo")
        with netns.entered(), pytest.raises(LibbpfError) as exc:
            prog.attach_netkit(lo)
        # with netkit, the kernel looks the device up and finds it is none (ENXIO);
        # without, the attach type itself is unknown (EINVAL)
        assert exc.value.errno == (errno.ENXIO if has_netkit else errno.EINVAL), exc.value
        assert "netkit" in str(exc.value)
        if not has_netkit:
            with netns.entered(), pytest.raises(OSError) as made:
                rtnl.add_netkit("nk0", "nk1")
            assert made.value.errno == errno.EOPNOTSUPP, made.value
            record_kind("netkit", "refused", exc.value)
            pytest.xfail(f"refused by this kernel: no netkit ({kernel_config('CONFIG_NETKIT')}):"
                         f" making a netkit device fails with {made.value}; attaching to a "
                         f"device that is none: {exc.value}")
        with netns.entered():
            rtnl.add_netkit("nk0", "nk1")
        netns.ip("addr", "add", "10.199.0.1/24", "dev", "nk0")
        netns.up("nk0", "nk1")
        nk0 = netns.ifindex("nk0")
        with netns.entered():
            link = prog.attach_netkit(nk0)
            tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with link, tx:
            for _ in range(3):
                tx.sendto(b"x", ("10.199.0.2", 9))  # routed out of nk0, the primary
            assert obj.maps.hits[2] >= 3
            info = link.info()
            assert info["type_name"] == "netkit"
            assert info["ifindex"] == nk0
            assert info["prog_id"] == prog.id
        seen = int(obj.maps.hits[2])
        with netns.entered(), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            tx.sendto(b"x", ("10.199.0.2", 9))
        assert obj.maps.hits[2] == seen  # detached: no more runs
    record_kind("netkit", "fired")


@pytest.mark.build(header_min=(1, 3))
def test_uprobe_multi_by_pattern(new_o: Path, target_bin: Path,
                                 record_kind: Callable[..., None]) -> None:
    with only(new_o, "on_uprobe_multi") as obj:
        obj.load()
        prog = obj.programs.on_uprobe_multi
        if not _has("bpf_attach_type", "BPF_TRACE_UPROBE_MULTI"):
            with pytest.raises(LibbpfError) as exc:
                prog.attach_uprobe_multi(target_bin, "libbpf_py_target_*")
            assert exc.value.errno == errno.EINVAL, exc.value
            assert "'on_uprobe_multi'" in str(exc.value)
            refused(record_kind, "uprobe_multi", exc.value, "no uprobe_multi: "
                    "BPF_TRACE_UPROBE_MULTI is not in the kernel's enum bpf_attach_type")
        with prog.attach_uprobe_multi(target_bin, "libbpf_py_target_*") as link:
            subprocess.run([str(target_bin), "4"], capture_output=True, check=True)
            assert obj.maps.hits[3] == 4
            info = link.info()
            assert info["type_name"] == "uprobe_multi"
            assert info["count"] == 1
        with prog.attach_uprobe_multi(target_bin, syms=["libbpf_py_target_add", "main"]) as link:
            subprocess.run([str(target_bin), "2"], capture_output=True, check=True)
            assert obj.maps.hits[3] == 4 + 2 + 1
            assert link.info()["count"] == 2
        with pytest.raises(ValueError, match="exactly one"):
            prog.attach_uprobe_multi(target_bin)
    record_kind("uprobe_multi", "fired")


@pytest.mark.build(header_max=(1, 2))
def test_tcx_netkit_netfilter_need_libbpf_1_3(load_attach: LoadAttach) -> None:
    with load_attach("on_tc") as obj:
        prog = obj.programs.on_tc
        with pytest.raises(LibbpfVersionError, match=r"attach_tcx.*LIBBPF_1\.3\.0"):
            prog.attach_tcx(1)
        with pytest.raises(LibbpfVersionError, match=r"attach_netkit.*LIBBPF_1\.3\.0"):
            prog.attach_netkit(1)
        with pytest.raises(LibbpfVersionError, match=r"attach_netfilter.*LIBBPF_1\.3\.0"):
            prog.attach_netfilter(2, 3, 100)


def _tcp_pair() -> tuple[socket.socket, socket.socket, socket.socket]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    cli = socket.create_connection(srv.getsockname())
    conn, _ = srv.accept()
    return srv, cli, conn


@pytest.mark.build(header_min=(1, 5))
def test_sk_msg_on_a_sockmap_link(load_attach: LoadAttach,
                                  record_kind: Callable[..., None]) -> None:
    with load_attach("on_sk_msg") as obj:
        socks = obj.maps.socks
        if not _has("bpf_link_type", "BPF_LINK_TYPE_SOCKMAP"):
            with pytest.raises(LibbpfError) as exc:
                obj.programs.on_sk_msg.attach_sockmap(socks)
            assert exc.value.errno == errno.EINVAL, exc.value
            assert "'on_sk_msg'" in str(exc.value)
            refused(record_kind, "sockmap_link", exc.value, "no sockmap links: "
                    "BPF_LINK_TYPE_SOCKMAP is not in the kernel's enum bpf_link_type")
        with obj.programs.on_sk_msg.attach_sockmap(socks) as link:
            info = link.info()
            assert info["type_name"] == "sockmap"
            assert info["map_id"] == socks.id
            srv, cli, conn = _tcp_pair()
            with srv, cli, conn:
                socks[0] = cli.fileno()
                for _ in range(3):
                    cli.sendall(b"hello")
                got = b""
                while len(got) < 15:
                    got += conn.recv(64)
                assert got == b"hello" * 3
                assert count(obj, C_SK_MSG) == 3
                del socks[0]
    record_kind("sockmap_link", "fired")


@pytest.mark.build(header_max=(1, 4))
def test_sockmap_link_needs_libbpf_1_5(load_attach: LoadAttach) -> None:
    with load_attach("on_sk_msg") as obj:
        with pytest.raises(LibbpfVersionError, match=r"attach_sockmap.*LIBBPF_1\.5\.0"):
            obj.programs.on_sk_msg.attach_sockmap(obj.maps.socks)
