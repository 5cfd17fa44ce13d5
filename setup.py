"""Thin on purpose: build_ffi.py decides everything about the cffi extension.

``libbpf_py._speedups`` is a small CPython extension of our own (Map's int
element path and the ring buffer delivery loop, which a cffi call cannot make
fast enough). It links no libbpf: it calls the libbpf functions the cffi
extension hands over in a table, as a PyCapsule (libbpf_py/_speedups.h), so
each build, dynamic or static, still holds exactly one libbpf. Its compiler
flags that depend on the environment (the sanitizers of ``LIBBPF_PY_SANITIZE``)
come from build_ffi.py's ``BuildConfig``, the one reader of the build variables.
"""

import importlib.util
import os
import sys
from pathlib import Path

from setuptools import Extension, setup


def build_config():  # type: ignore[no-untyped-def]
    """build_ffi.BuildConfig of this environment (build_ffi.py imported, not run)."""
    spec = importlib.util.spec_from_file_location(
        "build_ffi", Path(__file__).resolve().parent / "build_ffi.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module.read_config(os.environ)


config = build_config()

setup(
    cffi_modules=["build_ffi.py:ffibuilder"],
    ext_modules=[Extension(
        "libbpf_py._speedups",
        sources=["libbpf_py/_speedups.c"],
        depends=["libbpf_py/_speedups.h"],
        extra_compile_args=["-Werror=implicit-function-declaration",
                            "-Werror=incompatible-pointer-types",
                            *config.sanitizer_compile_args],
        extra_link_args=config.sanitizer_link_args,
    )],
)
