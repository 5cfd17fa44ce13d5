"""The private binding: version gating, build facts, and the import-time check
that refuses a runtime libbpf older than the headers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import libbpf_py
from libbpf_py import _binding, _buildinfo, _cdefs
from libbpf_py._libbpf import lib as raw_lib

SYSTEM_LIBDIR = "/usr/lib/x86_64-linux-gnu"


def test_every_declared_function_is_there_or_gated() -> None:
    assert _binding.DECLARED, "the declarations are empty"
    for name, node in _binding.DECLARED.items():
        if name in _binding.OMITTED:
            assert not hasattr(raw_lib, name), f"{name} is omitted but compiled in"
            with pytest.raises(libbpf_py.LibbpfVersionError):
                getattr(_binding.lib, name)
        else:
            assert hasattr(raw_lib, name), f"{name} ({node}) is missing from the extension"
            assert _binding.lib.has(name)


def test_omitted_are_exactly_the_nodes_newer_than_the_headers() -> None:
    have = _binding.HEADER_VERSION
    for name, node in _binding.DECLARED.items():
        gate = _binding.OMITTED.get(name)
        if gate is not None:
            # left out: the node it needs is newer than the headers
            assert _cdefs.node_version(gate) > have, (name, gate)
            assert _cdefs.node_key(gate) >= _cdefs.node_key(node), (name, gate, node)
        else:
            assert _cdefs.node_version(node) <= have, (name, node)


@pytest.mark.build(header_max=(1, 4))
def test_version_error_names_function_node_and_version() -> None:
    # ring_buffer__consume_n arrived in LIBBPF_1.5.0 (libbpf 1.5)
    name = "ring_buffer__consume_n"
    assert _binding.OMITTED.get(name) == "LIBBPF_1.5.0"
    with pytest.raises(libbpf_py.LibbpfVersionError) as err:
        _binding.lib.ring_buffer__consume_n  # noqa: B018
    assert isinstance(err.value, NotImplementedError)
    text = str(err.value)
    assert name in text and "LIBBPF_1.5.0" in text
    assert f"libbpf {libbpf_py.build_info().header_version_string}" in text
    with pytest.raises(libbpf_py.LibbpfVersionError):
        _binding.require(name)


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="declares no 'bpf_no_such_function'"):
        _binding.lib.bpf_no_such_function  # noqa: B018


def test_build_facts_match_the_elf_section_and_the_process() -> None:
    info = libbpf_py.build_info()
    facts = _buildinfo.read_from_file(info.extension_path)
    assert facts["mode"] == info.mode
    assert facts["header_version"] == info.header_version_string
    assert facts["include_dir"] == info.include_dir
    mapped = set(_buildinfo.mapped_libbpf())
    if info.mode == "dynamic":
        assert mapped == {info.library_path}
    else:
        assert mapped == set()
        # the libbpf code runs from the extension itself
        loaded = _binding.ffi.string(raw_lib.libbpf_py_loaded_library()).decode()
        assert os.path.realpath(loaded) == os.path.realpath(info.extension_path)


def test_info_command_json() -> None:
    import json

    proc = subprocess.run([sys.executable, "-m", "libbpf_py", "info", "--json"],
                          capture_output=True, text=True, check=True)
    data = json.loads(proc.stdout)
    assert data["mode"] == libbpf_py.build_info().mode
    assert data["runtime_version"] == libbpf_py.build_info().runtime_version
    assert set(data) >= {"mode", "origin", "header_version", "runtime_version",
                         "library_path", "package_version"}


@pytest.mark.build(mode="dynamic", origin="LIBBPF_DIR")
def test_prefix_build_records_rpath_and_loads_the_prefix_library() -> None:
    info = libbpf_py.build_info()
    prefix = Path(os.environ["LIBBPF_DIR"]).resolve()
    assert info.rpath and Path(info.rpath).resolve().is_relative_to(prefix)
    assert info.library_path and Path(info.library_path).is_relative_to(prefix)
    # the version libbpf reports is the prefix's, not the system's 1.1
    assert info.runtime_version.startswith(info.header_version_string)


@pytest.mark.build(mode="dynamic", origin="LIBBPF_DIR", header_min=(1, 2))
def test_import_refuses_an_older_runtime_with_three_facts() -> None:
    """LD_LIBRARY_PATH beats DT_RUNPATH: force the system's libbpf 1.1.2 in."""
    env = dict(os.environ, LD_LIBRARY_PATH=SYSTEM_LIBDIR)
    proc = subprocess.run([sys.executable, "-c", "import libbpf_py"], env=env,
                          capture_output=True, text=True, cwd="/")
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError:"), proc.stderr
    header = libbpf_py.build_info().header_version_string
    assert f"libbpf {header} headers" in last
    assert "libbpf 1.1" in last
    assert f"{SYSTEM_LIBDIR}/libbpf.so.1" in last
