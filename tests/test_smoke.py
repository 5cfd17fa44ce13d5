"""Per-environment smoke test: a real BPF program opened, loaded and run through
the raw binding (the object API lives in later modules)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import pytest

from libbpf_py._binding import ffi, lib
from libbpf_py._call import make_error

pytestmark = pytest.mark.kernel


def _check_ptr(ptr: object, what: str) -> None:
    if ptr == ffi.NULL:
        raise make_error(ffi.errno, what)


def test_open_load_attach_count(kernel: None, compile_bpf: Callable[[str], Path]) -> None:
    path = compile_bpf("minimal")
    obj = lib.bpf_object__open_file(str(path).encode(), ffi.NULL)
    _check_ptr(obj, "bpf_object__open_file")
    try:
        assert ffi.string(lib.bpf_object__name(obj)) == b"minimal"
        prog = lib.bpf_object__next_program(obj, ffi.NULL)
        assert ffi.string(lib.bpf_program__name(prog)) == b"handle_getpid"
        ret = lib.bpf_object__load(obj)
        assert ret == 0, make_error(-ret, "bpf_object__load")
        link = lib.bpf_program__attach(prog)
        _check_ptr(link, "bpf_program__attach")
        try:
            for _ in range(5):
                os.getpid()
            m = lib.bpf_object__find_map_by_name(obj, b"counts")
            key = ffi.new("__u32 *", os.getpid())
            val = ffi.new("__u64 *")
            ret = lib.bpf_map__lookup_elem(m, key, 4, val, 8, 0)
            assert ret == 0, make_error(-ret, "bpf_map__lookup_elem")
            # os.getpid() is not cached by glibc >= 2.25: every call is a syscall
            assert val[0] >= 5
        finally:
            lib.bpf_link__destroy(link)
    finally:
        lib.bpf_object__close(obj)
