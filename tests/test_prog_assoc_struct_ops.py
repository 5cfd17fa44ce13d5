"""Program.assoc_struct_ops (libbpf 1.7, LIBBPF_1.7.0; the kernel's
BPF_PROG_ASSOC_STRUCT_OPS command, Linux >= 6.19)."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Callable

import pytest

from libbpf_py import BpfObject, MapType
from libbpf_py.errors import LibbpfError, LibbpfVersionError, NotLoadedError


@pytest.fixture(scope="module")
def assoc_o(compile_bpf: Callable[[str], Path]) -> Path:
    return compile_bpf("assoc_struct_ops")


@pytest.mark.build(header_max=(1, 6))
def test_assoc_struct_ops_needs_libbpf_1_7(kernel: None, assoc_o: Path) -> None:
    with BpfObject.open(assoc_o) as obj:
        obj.load()
        with pytest.raises(LibbpfVersionError, match=r"bpf_program__assoc_struct_ops.*"
                                                     r"LIBBPF_1\.7\.0"):
            obj.programs.lbpy_as_filter.assoc_struct_ops(obj.maps.lbpy_as_cc)
        with pytest.raises(LibbpfVersionError, match=r"bpf_prog_assoc_struct_ops.*"
                                                     r"LIBBPF_1\.7\.0"):
            obj.programs.lbpy_as_filter.assoc_struct_ops(obj.maps.lbpy_as_cc.fd)
        # with flags the opts struct (LIBBPF_1.7.0 too) was made first: cffi's
        # "undefined struct/union name" (ffi.error), not LibbpfVersionError
        for target in (obj.maps.lbpy_as_cc, obj.maps.lbpy_as_cc.fd):
            with pytest.raises(LibbpfVersionError, match=r"LIBBPF_1\.7\.0"):
                obj.programs.lbpy_as_filter.assoc_struct_ops(target, flags=1)


@pytest.mark.build(header_min=(1, 7))
def test_assoc_struct_ops(kernel: None, assoc_o: Path) -> None:
    with BpfObject.open(assoc_o) as obj:
        prog = obj.programs.lbpy_as_filter
        with pytest.raises(NotLoadedError, match="struct_ops association"):
            prog.assoc_struct_ops(obj.maps.lbpy_as_cc)
        obj.load()
        # libbpf's own checks, before the kernel is asked
        with pytest.raises(LibbpfError) as not_struct_ops:
            prog.assoc_struct_ops(obj.maps.plain)
        assert not_struct_ops.value.errno == errno.EINVAL
        with pytest.raises(LibbpfError) as struct_ops_prog:
            obj.programs.lbpy_as_ssthresh.assoc_struct_ops(obj.maps.lbpy_as_cc)
        assert struct_ops_prog.value.errno == errno.EINVAL
        try:
            prog.assoc_struct_ops(obj.maps.lbpy_as_cc)
        except LibbpfError as exc:
            # an unknown bpf() command is EINVAL: the kernel predates 6.19
            assert exc.errno == errno.EINVAL, exc
            pytest.xfail(f"this kernel has no BPF_PROG_ASSOC_STRUCT_OPS: {exc}")
    # by fd, through bpf_prog_assoc_struct_ops, on a second object
    with BpfObject.open(assoc_o) as obj:
        obj.load()
        obj.programs.lbpy_as_filter.assoc_struct_ops(obj.maps.lbpy_as_cc.fd)
        assert obj.maps.lbpy_as_cc.type == MapType.STRUCT_OPS
