"""``prog tracelog``, ``link detach``, ``btf list``, ``net list``, ``cgroup tree``."""

from __future__ import annotations

import argparse
import errno
import json
import os
import select
import socket
import sys
import time
from typing import Any, Dict, List, Tuple

from .._binding import ffi, lib
from .._call import check, make_error
from .._info import map_info, prog_info
from ..enums import AttachType
from ._core import CliError, _address, _emit, _ids, _open_by_id, _open_one, link_record

# -- prog tracelog ----------------------------------------------------------------------------

_TRACE_PIPES = ("/sys/kernel/tracing/trace_pipe", "/sys/kernel/debug/tracing/trace_pipe")


def cmd_tracelog(args: argparse.Namespace) -> int:
    """Copy trace_pipe (bpf_printk's output) to stdout until Ctrl-C, ``--count`` lines
    or ``--timeout`` seconds."""
    if args.count is not None and args.count < 1:
        raise CliError(f"--count must be at least 1, got {args.count}")
    if args.timeout is not None and args.timeout <= 0:
        raise CliError(f"--timeout must be positive, got {args.timeout}")
    pipe = next((p for p in _TRACE_PIPES if os.path.exists(p)), None)
    if pipe is None:
        raise CliError("no trace_pipe: tracefs is not mounted (mount -t tracefs tracefs "
                       "/sys/kernel/tracing)")
    fd = os.open(pipe, os.O_RDONLY | os.O_NONBLOCK)
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    seen, pending = 0, b""
    try:
        while args.count is None or seen < args.count:
            wait = None if deadline is None else deadline - time.monotonic()
            if wait is not None and wait <= 0:
                break
            ready, _, _ = select.select([fd], [], [], 0.5 if wait is None else min(wait, 0.5))
            if not ready:
                continue
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                continue
            pending += chunk
            *done, pending = pending.split(b"\n")
            for raw in done:
                line = raw.decode(errors="replace")
                if args.json:
                    sys.stdout.write(json.dumps(_trace_record(line)) + "\n")
                else:
                    sys.stdout.write(line + "\n")
                sys.stdout.flush()
                seen += 1
                if args.count is not None and seen >= args.count:
                    break
    except KeyboardInterrupt:
        pass
    finally:
        os.close(fd)
    return 0


def _trace_record(line: str) -> Dict[str, Any]:
    """A trace_pipe line, ``<comm>-<pid> [cpu] flags ts: bpf_trace_printk: msg``, as
    {"comm", "pid", "cpu", "timestamp", "message", "line"} (None where it does not parse)."""
    out: Dict[str, Any] = {"comm": None, "pid": None, "cpu": None, "timestamp": None,
                           "message": None, "line": line}
    head, sep, msg = line.partition(": bpf_trace_printk: ")
    if not sep:
        return out
    out["message"] = msg
    parts = head.split()
    try:
        task = parts[0]
        comm, _, pid = task.rpartition("-")
        out["comm"], out["pid"] = comm, int(pid)
        out["cpu"] = int(parts[1].strip("[]"))
        out["timestamp"] = float(parts[-1].rstrip(":"))
    except (IndexError, ValueError):
        pass
    return out


# -- link detach ------------------------------------------------------------------------------

def cmd_link_detach(args: argparse.Namespace) -> int:
    with _open_one("link", args.ref) as fd:
        record = link_record(fd)
        link_id = record["id"]
        ret = int(lib.bpf_link_detach(fd))
        if ret < 0:
            hint = ""
            if -ret in (errno.EOPNOTSUPP, _ENOTSUPP):
                hint = (": the kernel cannot detach this type of link; destroy it (unpin it "
                        "and close the fds that hold it)")
            raise make_error(-ret, f"cannot detach link {link_id} ({record['type']}){hint}")
    _emit(args, {"id": link_id, "detached": True}, lambda: "")
    return 0


# -- btf list ---------------------------------------------------------------------------------

def btf_record(fd: int, users: Dict[int, Dict[str, List[int]]]) -> Dict[str, Any]:
    info = ffi.new("struct bpf_btf_info *")
    name_buf = ffi.new("char[]", 256)
    info.name = _address(name_buf)
    info.name_len = 256
    size = ffi.new("__u32 *", ffi.sizeof("struct bpf_btf_info"))
    fn = "bpf_btf_get_info_by_fd"
    if lib.has(fn):
        ret = lib.bpf_btf_get_info_by_fd(fd, info, size)
    else:
        fn = "bpf_obj_get_info_by_fd"
        ret = lib.bpf_obj_get_info_by_fd(fd, info, size)
    check(int(ret), f"cannot read BTF info ({fn})")
    btf_id = int(info.id)
    used = users.get(btf_id, {})
    return {"id": btf_id, "name": ffi.string(name_buf).decode(errors="replace"),
            "size": int(info.btf_size), "kernel": bool(info.kernel_btf),
            "prog_ids": used.get("prog", []), "map_ids": used.get("map", [])}


def _btf_users() -> Dict[int, Dict[str, List[int]]]:
    """BTF id -> {"prog": [ids], "map": [ids]} of the programs and maps using it."""
    out: Dict[int, Dict[str, List[int]]] = {}
    for kind, reader in (("prog", prog_info), ("map", map_info)):
        for obj_id in _ids(kind):
            try:
                handle = _open_by_id(kind, obj_id)
            except CliError:
                continue
            with handle as fd:
                info = reader(fd)
            if info.btf_id:
                out.setdefault(info.btf_id, {}).setdefault(kind, []).append(obj_id)
    return out


def cmd_btf_list(args: argparse.Namespace) -> int:
    users = _btf_users()
    records = []
    for btf_id in _ids("btf"):
        try:
            handle = _open_by_id("btf", btf_id)
        except CliError:
            continue
        with handle as fd:
            records.append(btf_record(fd, users))

    def text(r: Dict[str, Any]) -> str:
        line = f"{r['id']}: name {r['name'] or '[none]'}  size {r['size']}B"
        if r["kernel"]:
            line += "  kernel"
        for key in ("prog_ids", "map_ids"):
            if r[key]:
                line += f"  {key} {','.join(map(str, r[key]))}"
        return line

    _emit(args, records, lambda: "\n".join(text(r) for r in records))
    return 0


# -- net list ---------------------------------------------------------------------------------

_XDP_MODES = {1: "driver", 2: "generic", 3: "offload", 4: "multi"}


def _attach_type(name: str, fallback: int) -> int:
    """An ``enum bpf_attach_type`` value by name (UAPI value when the binding's older
    header lacks it: the enum is a stable ABI)."""
    return int(ffi.typeof("enum bpf_attach_type").relements.get(name, fallback))


#: a query's errnos that mean "no such hook here"; 524 is the kernel's ENOTSUPP, which
#: has no name in Python's errno
_ENOTSUPP = 524
_NO_HOOK = {errno.EINVAL, errno.ENOENT, errno.EOPNOTSUPP, errno.EBADF, _ENOTSUPP}


def _query(target_fd: int, attach_type: int, what: str) -> Tuple[List[int], int]:
    """(prog ids, attach flags) attached at ``target_fd`` for ``attach_type``
    (``bpf_prog_query_opts``); ([], 0) where the kernel has none or no such hook."""
    ids = ffi.new("__u32[]", 64)
    opts = ffi.new("struct bpf_prog_query_opts *")
    opts.sz = ffi.sizeof("struct bpf_prog_query_opts")
    opts.prog_ids = ids
    opts.prog_cnt = 64
    ret = int(lib.bpf_prog_query_opts(target_fd, attach_type, opts))
    if ret < 0:
        if -ret in _NO_HOOK:
            return [], 0
        raise make_error(-ret, f"cannot query {what} (bpf_prog_query_opts)")
    return [int(ids[i]) for i in range(int(opts.prog_cnt))], int(opts.attach_flags)


def _prog_name(prog_id: int) -> str:
    try:
        handle = _open_by_id("prog", prog_id)
    except CliError:
        return ""
    with handle as fd:
        return prog_info(fd).name


def net_records() -> Dict[str, List[Dict[str, Any]]]:
    """``net list --json``: XDP (bpf_xdp_query) and tcx (bpf_prog_query) programs per
    interface of this network namespace."""
    xdp: List[Dict[str, Any]] = []
    tcx: List[Dict[str, Any]] = []
    tcx_types = (("tcx/ingress", _attach_type("BPF_TCX_INGRESS", 46)),
                 ("tcx/egress", _attach_type("BPF_TCX_EGRESS", 47)))
    for ifindex, devname in socket.if_nameindex():
        opts = ffi.new("struct bpf_xdp_query_opts *")
        opts.sz = ffi.sizeof("struct bpf_xdp_query_opts")
        ret = int(lib.bpf_xdp_query(ifindex, 0, opts))
        if ret < 0 and -ret not in (errno.EOPNOTSUPP, errno.ENODEV):
            raise make_error(-ret, f"cannot query XDP on {devname} (bpf_xdp_query)")
        if ret == 0:
            for mode, prog_id in (("driver", opts.drv_prog_id), ("generic", opts.skb_prog_id),
                                  ("offload", opts.hw_prog_id)):
                if prog_id:
                    xdp.append({"devname": devname, "ifindex": ifindex, "mode": mode,
                                "id": int(prog_id), "name": _prog_name(int(prog_id))})
        for kind, atype in tcx_types:
            ids, _ = _query(ifindex, atype, f"{kind} on {devname}")
            for prog_id in ids:
                tcx.append({"devname": devname, "ifindex": ifindex, "kind": kind,
                            "id": prog_id, "name": _prog_name(prog_id)})
    return {"xdp": xdp, "tc": tcx}


def cmd_net_list(args: argparse.Namespace) -> int:
    data = net_records()

    def text() -> str:
        lines = ["xdp:"]
        lines += [f"{r['devname']}({r['ifindex']}) {r['mode']} id {r['id']} name {r['name']}"
                  for r in data["xdp"]]
        lines.append("\ntc:")
        lines += [f"{r['devname']}({r['ifindex']}) {r['kind']} id {r['id']} name {r['name']}"
                  for r in data["tc"]]
        return "\n".join(lines)

    _emit(args, data, text)
    return 0


# -- cgroup tree ------------------------------------------------------------------------------

def _cgroup_types() -> List[Tuple[str, int]]:
    out = []
    for name, value in ffi.typeof("enum bpf_attach_type").relements.items():
        if name.startswith("BPF_CGROUP_"):
            out.append((str(AttachType(value)), int(value)))
    return sorted(out, key=lambda t: t[1])


#: attach_flags as bpftool names them
_ATTACH_FLAGS = {int(lib.BPF_F_ALLOW_OVERRIDE): "override", int(lib.BPF_F_ALLOW_MULTI): "multi"}


def cgroup_records(root: str) -> List[Dict[str, Any]]:
    """``cgroup tree --json``: every cgroup under ``root`` with programs attached."""
    if not os.path.isdir(root):
        raise CliError(f"{root!r} is not a directory (cgroup v2 is normally mounted at "
                       "/sys/fs/cgroup)")
    types = _cgroup_types()
    out = []
    for path, dirs, _ in os.walk(root):
        dirs.sort()
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            continue
        try:
            progs = []
            for tname, tvalue in types:
                ids, flags = _query(fd, tvalue, f"cgroup {path!r}")
                for prog_id in ids:
                    progs.append({"id": prog_id, "attach_type": tname,
                                  "attach_flags": _ATTACH_FLAGS.get(flags, "") if flags
                                  else "", "name": _prog_name(prog_id)})
        finally:
            os.close(fd)
        if progs:
            out.append({"cgroup": path, "programs": progs})
    return out


def cmd_cgroup_tree(args: argparse.Namespace) -> int:
    records = cgroup_records(args.root)

    def text() -> str:
        lines = []
        for r in records:
            lines.append(r["cgroup"])
            lines += [f"\t{p['id']}  {p['attach_type']}  {p['attach_flags'] or '-'}  "
                      f"{p['name']}" for p in r["programs"]]
        return "\n".join(lines)

    _emit(args, records, text)
    return 0


