"""Thin on purpose: build_ffi.py decides everything about the cffi extension.

Two extensions. ``libbpf_py._libbpf`` is the cffi one (API mode). Its link plan,
which runs pkg-config and, for a static build, may build libbpf first, is made
in the ``build_ext`` step only, by build_ffi.prepare: an sdist, ``egg_info`` and
the metadata hooks of a PEP 517 build need none of it, and the plan is printed
once per build. (cffi's ``cffi_modules`` keyword would run the build script
whenever setup.py runs, so two or three times per ``pip install``.)

``libbpf_py._speedups`` is a small CPython extension of our own (Map's int
element path and the ring buffer delivery loop, which a cffi call cannot make
fast enough). It links no libbpf: it calls the libbpf functions the cffi
extension hands over in a table, as a PyCapsule (libbpf_py/_speedups.h), so
each build, dynamic or static, still holds exactly one libbpf. Its flags that
depend on the environment (the sanitizers of ``LIBBPF_PY_SANITIZE``) come from
build_ffi.py's ``BuildConfig``, the one reader of the build variables.
"""

import importlib.util
import os
import re
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent


def _load_build_ffi():  # type: ignore[no-untyped-def]
    """build_ffi.py as a module (importing it only defines; it is not a package module)."""
    spec = importlib.util.spec_from_file_location("build_ffi", HERE / "build_ffi.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _version() -> str:
    """libbpf_py/_version.py's, the one place the version is written (read, not imported)."""
    text = (HERE / "libbpf_py" / "_version.py").read_text()
    match = re.search(r'^__version__ = "([^"]+)"$', text, re.M)
    assert match, "libbpf_py/_version.py defines no __version__"
    return match.group(1)


build_ffi = _load_build_ffi()

# Filled in by BuildExt.run; named here so every command knows the file it makes
# (the abi3 name cffi gives it: cffi's C code uses the limited API).
LIBBPF_EXT = Extension(build_ffi.EXTENSION, sources=[], py_limited_api=True)
SPEEDUPS_ARGS = ["-Werror=implicit-function-declaration", "-Werror=incompatible-pointer-types"]
SPEEDUPS_EXT = Extension("libbpf_py._speedups", sources=["libbpf_py/_speedups.c"],
                         depends=["libbpf_py/_speedups.h"], extra_compile_args=SPEEDUPS_ARGS)


class BuildExt(build_ext):
    """build_ext that plans the libbpf link first (build_ffi.prepare)."""

    def run(self) -> None:
        config = build_ffi.read_config(os.environ)
        ffi, kwargs = build_ffi.prepare_or_exit(config)
        c_file = Path(self.build_temp) / f"{build_ffi.EXTENSION}.c"
        c_file.parent.mkdir(parents=True, exist_ok=True)
        ffi.emit_c_code(str(c_file))  # rewritten only when it changes
        LIBBPF_EXT.sources = [str(c_file)]
        for name, value in kwargs.items():
            setattr(LIBBPF_EXT, name, list(value))
        SPEEDUPS_EXT.extra_compile_args = SPEEDUPS_ARGS + config.sanitizer_compile_args
        SPEEDUPS_EXT.extra_link_args = list(config.sanitizer_link_args)
        super().run()


# version and license here, not in pyproject.toml: see its [project] dynamic
setup(
    version=_version(),
    license="LGPL-2.1-or-later OR BSD-2-Clause",
    # shipped in the sdist and in the wheel's .dist-info (setuptools >= 56 reads this)
    license_files=["LICENSE", "LICENSES/*.txt"],
    packages=["libbpf_py", "libbpf_py._cdefs", "libbpf_py.cli"],
    package_data={"libbpf_py": ["py.typed", "_speedups.pyi", "_speedups.h"]},
    ext_modules=[LIBBPF_EXT, SPEEDUPS_EXT],
    cmdclass={"build_ext": BuildExt},
)
