"""Options of attach calls that newer libbpf releases added to their ``*_opts``
structs (issue 17), and the check that every field of each opts struct the build's
headers declare is a keyword of its attach method, or is listed here with why not."""

from __future__ import annotations

import errno
import inspect
import re
import subprocess
from pathlib import Path
from typing import Callable, ContextManager, Dict, List

import pytest
from conftest import Compile, kprobes_available, lockdown

from libbpf_py import BpfObject, build_info
from libbpf_py.errors import LibbpfError, LibbpfVersionError
from libbpf_py.program import FdProgram, Program

_RUNTIME = tuple(int(part) for part in build_info().runtime_version.split(".")[:2])

# -- every opts field is a keyword, or is here with why not ---------------------------

#: attach method -> the opts struct it fills
OPTS_OF = {
    "attach_kprobe": "bpf_kprobe_opts",
    "attach_kprobe_multi": "bpf_kprobe_multi_opts",
    "attach_ksyscall": "bpf_ksyscall_opts",
    "attach_uprobe": "bpf_uprobe_opts",
    "attach_uprobe_multi": "bpf_uprobe_multi_opts",
    "attach_usdt": "bpf_usdt_opts",
    "attach_tracepoint": "bpf_tracepoint_opts",
    "attach_raw_tracepoint": "bpf_raw_tracepoint_opts",
    "attach_trace": "bpf_trace_opts",
    "attach_perf_event": "bpf_perf_event_opts",
    "attach_netfilter": "bpf_netfilter_opts",
    "attach_tcx": "bpf_tcx_opts",
    "attach_netkit": "bpf_netkit_opts",
    "attach_iter": "bpf_iter_attach_opts",
    "FdProgram.load": "bpf_prog_load_opts",  # bpf.h, the low-level load (issue 17)
}

#: (opts struct, field) -> why it is no keyword of the attach method
NOT_KEYWORDS = {
    ("bpf_kprobe_multi_opts", "cnt"): "the length of syms/addrs",
    ("bpf_uprobe_multi_opts", "cnt"): "the length of syms/offsets",
    ("bpf_iter_attach_opts", "link_info"): "built from the map=/cgroup=/task= keywords",
    ("bpf_iter_attach_opts", "link_info_len"): "the size of link_info",
    ("bpf_prog_load_opts", "attempts"): "libbpf's EAGAIN retries: its default (5) is kept",
    ("bpf_prog_load_opts", "log_buf"): "made by load() of log_size bytes",
    ("bpf_prog_load_opts", "log_true_size"): "an output (ENOSPC's message reports it)",
    ("bpf_prog_load_opts", "prog_btf_fd"): "the BTF of func_info/line_info, not offered",
    ("bpf_prog_load_opts", "func_info"): "raw .BTF.ext records belong to an ELF object: "
                                         "BpfObject loads them",
    ("bpf_prog_load_opts", "func_info_cnt"): "as func_info",
    ("bpf_prog_load_opts", "func_info_rec_size"): "as func_info",
    ("bpf_prog_load_opts", "line_info"): "as func_info",
    ("bpf_prog_load_opts", "line_info_cnt"): "as func_info",
    ("bpf_prog_load_opts", "line_info_rec_size"): "as func_info",
}


def _opts_fields(header: str, struct: str) -> List[str]:
    """The fields of ``struct <struct>`` as the header declares them (not sz)."""
    m = re.search(rf"struct {struct} \{{(.*?)\n\}};", header, re.S)
    assert m is not None, f"{struct} is not in the headers"
    body = re.sub(r"/\*.*?\*/", "", m.group(1), flags=re.S)
    fields = []
    for decl in body.split(";"):
        decl = decl.strip()
        if not decl or decl.startswith("size_t :0") or decl.startswith("#"):
            continue
        name = re.search(r"(\w+)\s*(\[[^\]]*\])?$", decl)
        if name is not None and name.group(1) != "sz":
            fields.append(name.group(1))
    return fields


def _method(name: str) -> Callable[..., object]:
    """``attach_x`` of Program, or ``Class.method`` of libbpf_py.program."""
    owner, _, attr = name.rpartition(".")
    return getattr({"": Program, "FdProgram": FdProgram}[owner], attr)


def test_every_opts_field_is_a_keyword() -> None:
    include = Path(build_info().include_dir)
    header = ""
    for name in ("libbpf.h", "bpf.h"):
        candidates = [include / "bpf" / name, include / name]  # a prefix; a source tree
        header += next(p for p in candidates if p.is_file()).read_text()
    missing: Dict[str, List[str]] = {}
    for method, struct in OPTS_OF.items():
        if f"struct {struct} {{" not in header:
            continue  # an opts struct newer than the build's headers
        params = set(inspect.signature(_method(method)).parameters)
        for field in _opts_fields(header, struct):
            if field not in params and (struct, field) not in NOT_KEYWORDS:
                missing.setdefault(method, []).append(field)
    assert missing == {}, f"opts fields of {include} no attach keyword gives: {missing}"


# -- kprobe_multi unique_match (libbpf 1.6) --------------------------------------------

@pytest.fixture
def kprobes_o(kernel: None, compile_bpf: Compile) -> Path:
    return compile_bpf("attach_kernel_config")


def _loaded(path: Path, prog: str) -> BpfObject:
    obj = BpfObject.open(path)
    for name, p in obj.programs.items():
        p.autoload = name == prog
    obj.load()
    return obj


@pytest.mark.build(header_max=(1, 5))
def test_unique_match_needs_libbpf_1_6(kprobes_o: Path) -> None:
    with _loaded(kprobes_o, "on_kprobe_multi") as obj:
        with pytest.raises(LibbpfVersionError, match=r"unique_match.*LIBBPF_1\.6\.0"):
            obj.programs.on_kprobe_multi.attach_kprobe_multi("vfs_rea*", unique_match=True)


@pytest.mark.build(header_min=(1, 6))
def test_unique_match(kprobes_o: Path) -> None:
    with _loaded(kprobes_o, "on_kprobe_multi") as obj:
        prog = obj.programs.on_kprobe_multi
        with pytest.raises(ValueError, match="unique_match needs a pattern"):
            prog.attach_kprobe_multi(syms=["do_nanosleep"], unique_match=True)
        # a pattern matching many functions: libbpf counts the matches (from
        # available_filter_functions[_addrs]) and refuses before asking the kernel
        with pytest.raises(LibbpfError) as many:
            prog.attach_kprobe_multi("vfs_rea*", unique_match=True)
        if many.value.errno == errno.EPERM and lockdown() != "none":
            pytest.xfail(f"lockdown={lockdown()} refuses libbpf the list of traceable "
                         f"functions, so it cannot count matches: {many.value}")
        assert many.value.errno == errno.EINVAL, many.value
        # one match: as far as the kernel lets a kprobe.multi link go
        if not kprobes_available():
            pytest.xfail("one match was counted; this kernel has no kprobes to attach it")
        with prog.attach_kprobe_multi("do_nanosleep", unique_match=True) as link:
            assert link.info()["type_name"] == "kprobe_multi"


# -- uprobe_multi session (libbpf 1.6, kernel 6.13) ------------------------------------

@pytest.mark.build(header_min=(1, 3), header_max=(1, 5))
def test_uprobe_session_needs_libbpf_1_6(load_attach: Callable[..., ContextManager[BpfObject]],
                                         target_bin: Path) -> None:
    with load_attach("on_uprobe_bin") as obj:
        with pytest.raises(LibbpfVersionError, match=r"session.*LIBBPF_1\.6\.0"):
            obj.programs.on_uprobe_bin.attach_uprobe_multi(target_bin, "libbpf_py_*",
                                                           session=True)


@pytest.mark.build(header_min=(1, 6))
def test_uprobe_session_runs_at_entry_and_return(kernel: None, compile_bpf: Compile,
                                                 target_bin: Path) -> None:
    with BpfObject.open(compile_bpf("uprobe_session")) as obj:
        try:
            obj.load()
        except LibbpfError as exc:
            assert exc.errno == errno.EINVAL, exc
            pytest.xfail(f"this kernel has no uprobe sessions (6.13+): {exc}")
        prog = obj.programs.on_session
        with prog.attach_uprobe_multi(target_bin, "libbpf_py_target_add",
                                      session=True) as link:
            subprocess.run([str(target_bin), "3"], capture_output=True, check=True)
            assert obj.maps.runs[0] == 6  # 3 calls, each at entry and at return
            assert link.info()["type_name"] == "uprobe_multi"
