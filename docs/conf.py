"""Sphinx configuration for libbpf_py's documentation.

The API reference is autodoc over the installed package: ``import libbpf_py`` must
work (the cffi extension built), so build the docs from a venv that has it, as the
``docs`` tox env does.  The guides are the Markdown pages next to this file, read
with myst-parser; the README's sections are included, not copied.
"""

from __future__ import annotations

import libbpf_py

project = "libbpf_py"
author = "libbpf_py"
copyright = "libbpf_py authors"
release = libbpf_py.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]


autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {
    "members": True,
    "show-inheritance": True,
}

myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

html_theme = "alabaster"
html_title = f"libbpf_py {release}"
