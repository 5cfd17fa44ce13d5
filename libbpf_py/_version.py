"""The version of libbpf_py, written here only.

pyproject.toml takes it (``[tool.setuptools.dynamic]``, read without importing
the package), ``libbpf_py.__version__`` and docs/conf.py re-export it.
debian/changelog carries its own by Debian's rules; tests/test_build.py checks
that they agree.
"""

__version__ = "0.1.0"
