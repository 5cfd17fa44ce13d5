"""The probes, checked against independent tools on the real library and kernel.

- ``probe()``: version nodes against ``readelf --dyn-syms -W`` of the loaded
  libbpf.so (dynamic) or the version script of the libbpf built in (static);
  the versions and paths against the process and ctypes; ``missing`` against
  ``lib.has``; the CLI's JSON.
- ``probe_kernel()``: program types, map types, helpers and the BPF sysctls
  against ``bpftool feature probe kernel -j``; kfuncs against
  ``bpftool btf dump``; the attach facts against bpftool's kernel config.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Set

import pytest

import libbpf_py
from libbpf_py import _binding, _buildinfo, _cdefs
from libbpf_py._binding import lib
from libbpf_py.linkcheck import LinkAuditError

# libbpf_py.probe is the function; the module's own names come by a from-import
from libbpf_py.probe import (  # isort: skip
    KERNEL_JSON_KEYS, NOISY_HELPERS, PROBE_JSON_KEYS, exported_version_nodes)

REPO = Path(__file__).resolve().parents[1]
INFO = libbpf_py.build_info()


@pytest.fixture(scope="module")
def report() -> libbpf_py.ProbeReport:
    return libbpf_py.probe()


def readelf_nodes(path: str) -> Dict[str, List[str]]:
    """node -> symbols defined under it, as readelf prints them (sym@@NODE / sym@NODE)."""
    text = subprocess.run(["readelf", "--dyn-syms", "-W", path], check=True,
                          capture_output=True, text=True).stdout
    out: Dict[str, Set[str]] = {}
    for line in text.splitlines():
        cols = line.split()
        if len(cols) < 8 or not cols[0].endswith(":") or cols[6] == "UND":
            continue
        m = re.match(r"^([A-Za-z_]\w*)@@?(LIBBPF_[\d.]+)$", cols[7])
        if m and m.group(1) != m.group(2):
            out.setdefault(m.group(2), set()).add(m.group(1))
    return {node: sorted(names) for node, names in out.items()}


def version_script_nodes(path: Path) -> Dict[str, List[str]]:
    text = re.sub(r"/\*.*?\*/", "", path.read_text(), flags=re.S)
    out: Dict[str, List[str]] = {}
    for m in re.finditer(r"(LIBBPF_[\d.]+)\s*\{(.*?)\}", text, re.S):
        body = m.group(2).split("local:")[0].split("global:", 1)[-1]
        out[m.group(1)] = sorted(re.findall(r"([A-Za-z_]\w*)\s*;", body))
    return out


def builtin_version_script() -> Path:
    """libbpf.map of the libbpf 1.5.0 source the static build links in."""
    src = os.environ.get("LIBBPF_PY_TEST_HEADERS_1_5")
    base = Path(src) if src else REPO / "vendor" / "build" / "src" / "libbpf-1.5.0" / "src"
    path = base / "libbpf.map"
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `python vendor/provision.py all`")
    return path


# ----------------------------------------------------------------------------- probe()


def test_report_facts_match_the_process(report: libbpf_py.ProbeReport) -> None:
    assert report.package_version == libbpf_py.__version__
    assert report.mode == INFO.mode
    assert report.header_version == INFO.header_version_string
    assert report.runtime_version == INFO.runtime_version
    assert report.library_path == INFO.library_path
    if os.environ.get("EXPECT_MODE"):
        assert report.mode == os.environ["EXPECT_MODE"]
        assert report.header_version == os.environ["EXPECT_VERSION"]
    if report.mode == "dynamic":
        assert report.library_path is not None
        # the file really mapped into this process, and its own version string via ctypes
        assert _buildinfo.mapped_libbpf() == [report.library_path]
        assert _binding._runtime_of(report.library_path) == report.runtime_version
    else:
        assert report.library_path is None
        assert _buildinfo.mapped_libbpf() == []
        assert report.runtime_version == report.header_version


@pytest.mark.build(mode="dynamic")
def test_version_nodes_equal_readelf(report: libbpf_py.ProbeReport) -> None:
    assert report.library_path is not None
    expected = readelf_nodes(report.library_path)
    assert len(expected) >= 19 and sum(map(len, expected.values())) > 300
    assert report.version_nodes == expected
    assert report.library_path in report.version_nodes_source
    # the newest node is the runtime's own release
    newest = list(report.version_nodes)[-1]
    assert _cdefs.node_version(newest) == _binding.RUNTIME_VERSION


@pytest.mark.build(mode="static")
def test_static_version_nodes_equal_the_builtin_version_script(
        report: libbpf_py.ProbeReport) -> None:
    script = builtin_version_script()
    expected = version_script_nodes(script)
    assert report.version_nodes == {k: sorted(v) for k, v in expected.items()}
    assert report.version_nodes_source.startswith("version script ")
    assert report.version_nodes_source.endswith("libbpf.map")
    assert max(_cdefs.node_version(n) for n in report.version_nodes) == INFO.header_version
    # the installed extension describes itself: the same, read from the file alone
    stamped = _buildinfo.read_versions_from_file(INFO.extension_path)
    assert stamped is not None
    assert stamped[0] == report.version_nodes_source
    assert {k: sorted(v) for k, v in stamped[1].items()} == report.version_nodes


def test_missing_is_what_lib_lacks(report: libbpf_py.ProbeReport) -> None:
    declared = _binding.declared()
    assert set(report.missing) == {name for name in declared if not lib.has(name)}
    exported = {n for names in report.version_nodes.values() for n in names}
    for name, node in report.missing.items():
        assert _cdefs.node_version(node) > INFO.header_version, (name, node)
        assert _cdefs.node_key(node) >= _cdefs.node_key(declared[name])
        if _binding.RUNTIME_VERSION == INFO.header_version:
            assert name not in exported, f"{name} is missing but the library exports it"
    # headers as new as the declarations leave nothing out; older ones leave out exactly
    # the functions of newer nodes (1.5.0's headers: the 1.6/1.7 ones)
    newest = _cdefs.node_version(max(declared.values(), key=_cdefs.node_key))
    if INFO.header_version >= newest:
        assert report.missing == {}
    elif INFO.header_version >= (1, 5):
        assert set(report.missing) == {n for n, node in declared.items()
                                       if _cdefs.node_version(node) > INFO.header_version}


def test_unwrapped_are_exports_the_bindings_do_not_declare(
        report: libbpf_py.ProbeReport) -> None:
    declared = _binding.declared()
    exported = {n: node for node, names in report.version_nodes.items() for n in names}
    assert report.unwrapped == {n: exported[n] for n in sorted(exported) if n not in declared}
    # each one of a release the declarations cover is deliberately left out, with its
    # reason, in a _cdefs area; a newer libbpf (1.7 when they end at LIBBPF_1.5.0)
    # also exports the nodes the declarations do not reach yet, all unwrapped
    reasons: Dict[str, str] = {}
    for area in _cdefs.AREAS:
        reasons.update(getattr(__import__(f"libbpf_py._cdefs.{area}", fromlist=["x"]),
                               "UNDECLARED", {}))
    newest = max(_cdefs.exported_api().values(), key=_cdefs.node_key)
    newer = {n for n, node in report.unwrapped.items()
             if _cdefs.node_key(node) > _cdefs.node_key(newest)}
    assert set(report.unwrapped) - newer <= set(reasons)
    assert newer == {n for n, node in exported.items()
                     if _cdefs.node_key(node) > _cdefs.node_key(newest)}
    if _binding.RUNTIME_VERSION > _cdefs.node_version(newest):
        assert newer, f"libbpf {INFO.runtime_version} exports nothing newer than {newest}"
    else:
        assert newer == set()
    assert "libbpf_set_print" in report.unwrapped
    # and each says why; those newer than the declarations have no reason to give
    assert report.unwrapped_why == {n: reasons[n][1] for n in report.unwrapped if n in reasons}
    assert set(report.unwrapped) - set(report.unwrapped_why) == newer
    assert "va_list" in report.unwrapped_why["libbpf_set_print"]
    assert re.search(r"^  libbpf_set_print +its libbpf_print_fn_t callback", report.format(), re.M)


def test_stamped_omitted_list_equals_the_assembly() -> None:
    assert _binding.OMITTED == _cdefs.assemble(INFO.header_version).omitted
    facts = _buildinfo.read_from_file(INFO.extension_path)
    assert _buildinfo.parse_omitted(facts["omitted"]) == _binding.OMITTED


def test_import_does_not_assemble_the_declarations() -> None:
    # _binding and _features import the _cdefs package at module level (issue 18: no
    # function-level imports); the declarations are its area modules, loaded on first use
    code = ("import sys, libbpf_py; "
            "print(sorted(m for m in sys.modules if m.startswith('libbpf_py._cdefs.')))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout.strip()
    assert out == "[]"


def test_features_follow_lib_has(report: libbpf_py.ProbeReport) -> None:
    feats = libbpf_py.features
    assert report.features == feats.as_dict()
    assert set(feats) == {name for name, ok in report.features.items() if ok}
    assert ("ring_buffer.consume_n" in feats) == lib.has("ring_buffer__consume_n")
    assert ("link.netfilter" in feats) == lib.has("bpf_program__attach_netfilter")
    assert ("user_ring_buffer" in feats) == lib.has("user_ring_buffer__new")
    assert ("open.bpf_token_path" in feats) == (INFO.header_version >= (1, 4))
    # the 1.6 and 1.7 APIs (issue 17), by function and by option field
    assert ("object.prepare" in feats) == lib.has("bpf_object__prepare")
    assert ("map.exclusive_program" in feats) == lib.has("bpf_map__set_exclusive_program")
    assert ("link.kprobe_multi.unique_match" in feats) == (INFO.header_version >= (1, 6))
    assert ("link.perf_event.dont_enable" in feats) == (INFO.header_version >= (1, 7))
    if INFO.header_version >= (1, 7) and _binding.RUNTIME_VERSION >= (1, 7):
        assert {"object.prepare", "program.func_line_info", "program.stream",
                "program.assoc_struct_ops", "link.cgroup_order", "link.uprobe_multi.session",
                "linker.fd_buf", "btf.permute"} <= set(feats)
    assert "no.such.feature" not in feats
    with pytest.raises(KeyError, match=r"no feature named 'no\.such\.feature'"):
        feats.why_not("no.such.feature")
    for name, feature in feats.registered.items():
        if feature.available:
            assert feats.why_not(name) is None
            feats.require(name)
        else:
            assert feats.why_not(name)


@pytest.mark.build(header_max=(1, 4))
def test_unavailable_feature_raises_version_error() -> None:
    feats = libbpf_py.features
    assert feats.why_not("ring_buffer.consume_n") == (
        "needs ring_buffer__consume_n (LIBBPF_1.5.0), ring__consume_n (LIBBPF_1.5.0); "
        f"built against libbpf {INFO.header_version_string}")
    with pytest.raises(libbpf_py.LibbpfVersionError, match="ring_buffer__consume_n needs "
                       r"libbpf >= 1\.5 \(version node LIBBPF_1\.5\.0\)"):
        feats.require("ring_buffer.consume_n")


def test_register_validates() -> None:
    from libbpf_py._features import register

    existing = libbpf_py.features.registered["ring_buffer"]
    again = register("ring_buffer", existing.description, functions=existing.functions)
    assert again == existing
    with pytest.raises(ValueError, match="already registered"):
        register("ring_buffer", "something else")
    with pytest.raises(ValueError, match="dotted lower case"):
        register("Ring Buffer", "bad name")
    with pytest.raises(ValueError, match="bpf_no_such_function, which libbpf_py does not"):
        register("test.unknown_function", "x", functions=("bpf_no_such_function",))
    assert "test.unknown_function" not in libbpf_py.features.registered


def test_exported_version_nodes_refuses_non_libraries(tmp_path: Path) -> None:
    text = tmp_path / "not-elf"
    text.write_text("hello")
    with pytest.raises(LinkAuditError, match="not an ELF file"):
        exported_version_nodes(str(text))
    with pytest.raises(LinkAuditError, match=r"missing\.so: cannot read: No such file"):
        exported_version_nodes(str(tmp_path / "missing.so"))
    # an ELF executable that defines no version nodes
    with pytest.raises(LinkAuditError, match=r"not a libbpf\.so"):
        exported_version_nodes(sys.executable)


def test_probe_command_json(report: libbpf_py.ProbeReport) -> None:
    proc = subprocess.run([sys.executable, "-m", "libbpf_py", "probe", "--json"],
                          check=True, capture_output=True, text=True)
    data = json.loads(proc.stdout)
    assert tuple(data) == PROBE_JSON_KEYS
    assert data == report.as_dict()
    assert data["library_path"] == INFO.library_path  # null for static builds


def test_probe_command_table(report: libbpf_py.ProbeReport) -> None:
    proc = subprocess.run([sys.executable, "-m", "libbpf_py", "probe"], check=True,
                          capture_output=True, text=True)
    lines = proc.stdout.splitlines()
    assert re.match(rf"^mode\s+{report.mode}$", lines[1])
    assert any(re.match(rf"^  {re.escape(n)}\s+{len(s)}$", ln)
               for ln in lines for n, s in list(report.version_nodes.items())[:1])


# ----------------------------------------------------------------- build-time recording


def test_archive_fallback_records_the_archives_api(pic_prefix: Path, tmp_path: Path) -> None:
    """A static prefix without libbpf.map: the nodes come from the archive's symbols."""
    builder = runpy.run_path(str(REPO / "build_ffi.py"), run_name="libbpf_py_build_test")
    archive = pic_prefix / "lib" / "libbpf.a"
    plan = builder["LinkPlan"](mode="static", origin="LIBBPF_DIR", header_version=(1, 5),
                               include_dir=pic_prefix / "include", library_file=archive)
    bare = tmp_path / "prefix"  # no provision stamp, no libbpf.map
    bare.mkdir()
    source, nodes = builder["static_version_nodes"](plan, bare, _binding.declared())
    assert source.startswith(f"archive {archive}: no libbpf.map")
    script = version_script_nodes(builtin_version_script())
    # libbpf 1.5's archive defines every symbol its map lists
    assert {k: sorted(v) for k, v in nodes.items()} == script
    # the provisioned prefix itself leads back to its source tree's map
    source, nodes = builder["static_version_nodes"](plan, pic_prefix, _binding.declared())
    assert source.startswith("version script ") and nodes == script


def test_archive_fallback_says_unknown_beyond_its_table(tmp_path: Path) -> None:
    """A newer archive without its libbpf.map (libbpf 1.7.0's): every node the project's
    table reaches is read in full, and the source says what lies beyond is unknown."""
    vendor = Path(os.environ.get("LIBBPF_PY_VENDOR_BUILD", REPO / "vendor" / "build"))
    prefix = vendor / "libbpf-1.7.0"
    script = vendor / "src" / "libbpf-1.7.0" / "src" / "libbpf.map"
    if not (prefix / "lib" / "libbpf.a").is_file() or not script.is_file():
        pytest.fail(f"{prefix} is not provisioned: run `python vendor/provision.py all`")
    builder = runpy.run_path(str(REPO / "build_ffi.py"), run_name="libbpf_py_build_test")
    plan = builder["LinkPlan"](mode="static", origin="LIBBPF_DIR", header_version=(1, 7),
                               include_dir=prefix / "include",
                               library_file=prefix / "lib" / "libbpf.a")
    bare = tmp_path / "prefix"
    bare.mkdir()
    source, nodes = builder["static_version_nodes"](plan, bare, _binding.declared())
    newest = max(_cdefs.exported_api().values(), key=_cdefs.node_key)
    assert f"unknown beyond {newest}" in source
    for node, names in version_script_nodes(script).items():
        if _cdefs.node_key(node) <= _cdefs.node_key(newest):
            assert sorted(nodes.get(node, [])) == names, node
        else:
            assert node not in nodes


# ------------------------------------------------------------------------ probe_kernel()


@pytest.fixture(scope="session")
def kernel_report(kernel: None) -> libbpf_py.KernelReport:
    return libbpf_py.probe_kernel()


@pytest.fixture(scope="session")
def bpftool_probe(kernel: None) -> Dict[str, Any]:
    out = subprocess.run(["bpftool", "feature", "probe", "kernel", "-j"], check=True,
                         capture_output=True, text=True, timeout=120).stdout
    data: Dict[str, Any] = json.loads(out)
    return data


def bpftool_libbpf() -> Optional[tuple[int, int]]:
    out = subprocess.run(["bpftool", "version"], capture_output=True, text=True).stdout
    m = re.search(r"using libbpf v(\d+)\.(\d+)", out)
    return (int(m.group(1)), int(m.group(2))) if m else None


def _compare_kinds(ours: Dict[str, Optional[bool]], theirs: Dict[str, bool], suffix: str
                   ) -> None:
    both = [name for name in ours if f"have_{name}_{suffix}" in theirs]
    assert len(both) >= 25, f"too few {suffix}s in common: {both}"
    diff = {n: (ours[n], theirs[f"have_{n}_{suffix}"]) for n in both
            if (ours[n] is True) != theirs[f"have_{n}_{suffix}"]}
    assert diff == {}


def test_program_types_equal_bpftool(kernel_report: libbpf_py.KernelReport,
                                     bpftool_probe: Dict[str, Any]) -> None:
    _compare_kinds(kernel_report.program_types, bpftool_probe["program_types"], "prog_type")
    assert kernel_report.program_types["xdp"] is True
    names = [p.name.lower() for p in libbpf_py.ProgType if p.value > 0]
    assert names == list(kernel_report.program_types)[:len(names)]


def test_map_types_equal_bpftool(kernel_report: libbpf_py.KernelReport,
                                 bpftool_probe: Dict[str, Any]) -> None:
    _compare_kinds(kernel_report.map_types, bpftool_probe["map_types"], "map_type")
    assert kernel_report.map_types["hash"] is True


def test_helpers_match_bpftool(kernel_report: libbpf_py.KernelReport,
                               bpftool_probe: Dict[str, Any]) -> None:
    theirs = {k[:-len("_available_helpers")]: set(v)
              for k, v in bpftool_probe["helpers"].items()}
    known = set().union(*theirs.values())
    assert "bpf_map_lookup_elem" in known
    tool = bpftool_libbpf()
    runtime = _binding.RUNTIME_VERSION
    checked = 0
    for ptype in ("socket_filter", "xdp", "kprobe", "cgroup_skb", "tracepoint", "syscall"):
        ours_list = kernel_report.helpers[ptype]
        assert ours_list is not None, ptype
        ours = set(ours_list) & known
        assert not ours & NOISY_HELPERS
        # libbpf 1.2 learnt to read "program of this type cannot use helper": an older
        # libbpf (bpftool's or ours) calls more helpers supported than a newer one does
        if tool == (runtime[0], runtime[1]):
            assert ours == theirs[ptype], ptype
        elif tool is not None and tool < runtime:
            assert ours <= theirs[ptype], ptype
        else:
            assert theirs[ptype] <= ours, ptype
        assert "bpf_map_lookup_elem" in ours
        checked += 1
    assert checked == 6
    # what libbpf cannot probe stays unknown, not empty
    assert kernel_report.helpers["struct_ops"] is None


def test_kfuncs_equal_btf_decl_tags(kernel_report: libbpf_py.KernelReport) -> None:
    text = subprocess.run(["bpftool", "btf", "dump", "file", "/sys/kernel/btf/vmlinux"],
                          check=True, capture_output=True, text=True).stdout
    funcs = dict(re.findall(r"^\[(\d+)\] FUNC '([^']+)'", text, re.M))
    tagged = re.findall(r"^\[\d+\] DECL_TAG 'bpf_kfunc' type_id=(\d+) component_idx=-1$",
                        text, re.M)
    expected = sorted({funcs[t] for t in tagged if t in funcs})
    if not expected:
        assert kernel_report.kfuncs is None
        assert "no \"bpf_kfunc\" decl tags" in kernel_report.kfuncs_source
        return
    assert kernel_report.kfuncs == expected
    assert "bpf_rcu_read_lock" in expected or len(expected) > 10


def test_system_and_attach_facts(kernel_report: libbpf_py.KernelReport,
                                 bpftool_probe: Dict[str, Any]) -> None:
    config = bpftool_probe["system_config"]
    for key, value in kernel_report.system.items():
        assert value == config[key], key
    attach = kernel_report.attach
    assert attach["btf"] is Path("/sys/kernel/btf/vmlinux").exists()
    assert "/sys/fs/bpf" in attach["bpffs"]  # the kernel fixture mounts both
    assert "/sys/kernel/tracing" in attach["tracefs"]
    assert attach["lockdown"] in (None, "none", "integrity", "confidentiality")
    if config.get("CONFIG_BPF") is not None:  # bpftool found the kernel config
        assert attach["kprobes"] is (config.get("CONFIG_KPROBE_EVENTS") == "y")
        assert attach["uprobes"] is (config.get("CONFIG_UPROBE_EVENTS") == "y")


def test_probe_kernel_command_json(kernel_report: libbpf_py.KernelReport) -> None:
    proc = subprocess.run([sys.executable, "-m", "libbpf_py", "probe", "--kernel", "--json",
                           "--no-helpers"], check=True, capture_output=True, text=True)
    data = json.loads(proc.stdout)
    assert tuple(data) == KERNEL_JSON_KEYS
    assert data["program_types"] == kernel_report.program_types
    assert data["map_types"] == kernel_report.map_types
    assert data["helpers"] == {}
    assert data["kfuncs"] == kernel_report.kfuncs
    table = subprocess.run([sys.executable, "-m", "libbpf_py", "probe", "--kernel",
                            "--no-helpers"], check=True, capture_output=True, text=True).stdout
    assert re.search(r"^program_types\s+\d+ of \d+: ", table, re.M)


def test_probe_kernel_without_privilege_raises(kernel: None) -> None:
    """Root with every capability dropped: a clear EPERM, not "nothing supported"."""
    code = ("import libbpf_py\n"
            "try:\n"
            "    libbpf_py.probe_kernel()\n"
            "except libbpf_py.LibbpfPermissionError as exc:\n"
            "    print(exc.errno, exc)\n")
    drop = ["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--ambient-caps=-all", "--"]
    out = subprocess.run([*drop, sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout.strip()
    assert out == ("1 bpf_map_create: probing the kernel needs CAP_BPF and CAP_PERFMON (run as "
                   "root): Operation not permitted [EPERM]")
    proc = subprocess.run([*drop, sys.executable, "-m", "libbpf_py", "probe", "--kernel"],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and proc.stdout == ""
    assert "probing the kernel needs CAP_BPF" in proc.stderr
    # the library side needs no privilege
    proc = subprocess.run([*drop, sys.executable, "-m", "libbpf_py", "probe", "--json"],
                          check=True, capture_output=True, text=True)
    assert json.loads(proc.stdout)["mode"] == INFO.mode


def test_probe_kernel_takes_bools_only() -> None:
    # helpers and full were tested for truth: helpers="no" probed every helper (a
    # program load per helper and program type), full=[0] left the noisy ones out;
    # refused before any probing
    for name in ("helpers", "full"):
        for bad in ("no", "false", None, [0], 1.0):
            with pytest.raises(TypeError, match=rf"^{name} must be a bool, not "):
                libbpf_py.probe_kernel(**{name: bad})
        with pytest.raises(ValueError, match=rf"^{name} = 2 is not a bool"):
            libbpf_py.probe_kernel(**{name: 2})
