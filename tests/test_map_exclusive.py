"""Exclusive maps (libbpf 1.7, LIBBPF_1.7.0; kernel >= 6.18): a map that only one
program of its object may use, set before load with ``Map.exclusive_program``."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Callable

import pytest

from libbpf_py import BpfObject
from libbpf_py.errors import (
    AlreadyLoadedError,
    LibbpfError,
    LibbpfVersionError,
    VerifierError,
)


@pytest.fixture(scope="module")
def exclusive_o(compile_bpf: Callable[[str], Path]) -> Path:
    return compile_bpf("exclusive_map")


@pytest.mark.build(header_max=(1, 6))
def test_exclusive_program_needs_libbpf_1_7(exclusive_o: Path) -> None:
    with BpfObject.open(exclusive_o) as obj:
        with pytest.raises(LibbpfVersionError, match=r"bpf_map__set_exclusive_program.*"
                                                     r"LIBBPF_1\.7\.0"):
            obj.maps.owned.exclusive_program = obj.programs.writer
        with pytest.raises(LibbpfVersionError, match=r"LIBBPF_1\.7\.0"):
            obj.maps.owned.exclusive_program  # noqa: B018


@pytest.mark.build(header_min=(1, 7))
def test_exclusive_program_settings(exclusive_o: Path) -> None:
    with BpfObject.open(exclusive_o) as obj:
        owned = obj.maps.owned
        assert owned.exclusive_program is None
        owned.exclusive_program = "writer"
        assert owned.exclusive_program is obj.programs.writer
        with pytest.raises(KeyError, match="nope"):
            owned.exclusive_program = "nope"
        with BpfObject.open(exclusive_o) as other:
            with pytest.raises(ValueError, match="must be a Program of the same BpfObject"):
                owned.exclusive_program = other.programs.writer
        with pytest.raises(ValueError, match="must be a Program of the same BpfObject"):
            owned.exclusive_program = 3


@pytest.mark.build(header_min=(1, 7))
def test_exclusive_map_is_refused_to_other_programs(kernel: None, exclusive_o: Path) -> None:
    # "owned" is used by writer alone: exclusive to writer, the object loads and runs
    with BpfObject.open(exclusive_o) as obj:
        obj.maps.owned.exclusive_program = obj.programs.writer
        try:
            obj.load()
        except LibbpfError as exc:
            pytest.xfail(f"this kernel refuses exclusive maps: {exc}")
        assert obj.programs.writer.test_run(bytes(64)).retval == 0
        assert obj.maps.owned[0] == 1 and obj.maps.shared[0] == 1
        with pytest.raises(AlreadyLoadedError, match="exclusive_program"):
            obj.maps.owned.exclusive_program = obj.programs.writer
    # "shared" is used by reader too: exclusive to writer, the kernel refuses reader
    with BpfObject.open(exclusive_o) as obj:
        obj.maps.shared.exclusive_program = obj.programs.writer
        with pytest.raises(VerifierError) as refused:
            obj.load()
        assert refused.value.errno == errno.EACCES and refused.value.program == "reader"
        assert "excl_prog_hash" in refused.value.log, refused.value.log
