"""Thin on purpose: build_ffi.py decides everything about the cffi extension.

``libbpf_py._speedups`` is a small CPython extension of our own (Map's int
element path and the ring buffer delivery loop, which a cffi call cannot make
fast enough). It links no libbpf: it calls the libbpf functions the cffi
extension hands over in a table, as a PyCapsule (libbpf_py/_speedups.h), so each
build, dynamic or static, still holds exactly one libbpf.
"""

from setuptools import Extension, setup

setup(
    cffi_modules=["build_ffi.py:ffibuilder"],
    ext_modules=[Extension(
        "libbpf_py._speedups",
        sources=["libbpf_py/_speedups.c"],
        depends=["libbpf_py/_speedups.h"],
        extra_compile_args=["-Werror=implicit-function-declaration",
                            "-Werror=incompatible-pointer-types"],
    )],
)
