"""Thin on purpose: build_ffi.py decides everything about the extension."""

from setuptools import setup

setup(cffi_modules=["build_ffi.py:ffibuilder"])
