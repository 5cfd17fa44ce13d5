"""build_ffi.py: the environment, finding libbpf, and every bad input.

Each bad input must stop the build with one clear sentence that says what to
install or set. The builder is run as ``python build_ffi.py --plan``, the step
setup.py's build_ext runs first; it fails before compiling anything.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import pytest

import libbpf_py
from libbpf_py import _binding, _buildinfo

REPO = Path(__file__).resolve().parents[1]
BUILDER = REPO / "build_ffi.py"
SYSTEM_INCLUDE = Path("/usr/include")

BUILD_VARS = ("LIBBPF_DYNAMIC", "LIBBPF_DIR", "LIBBPF_PY_NO_RPATH", "LIBBPF_PY_SANITIZE",
              "LIBBPF_SRC", "LIBBPF_SRC_TARBALL", "LIBBPF_SRC_SHA256", "PKG_CONFIG_LIBDIR",
              "PKG_CONFIG_PATH")


def run_builder(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in BUILD_VARS}
    clean.update(env)
    return subprocess.run([sys.executable, str(BUILDER), "--plan"], env=clean, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)


def builder_module() -> Dict[str, Any]:
    return runpy.run_path(str(BUILDER), run_name="libbpf_py_build_test")


def assert_one_sentence(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert proc.returncode != 0, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("libbpf_py build error:")]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def fake_prefix(root: Path, version: Optional[str] = None) -> Path:
    """A prefix with the real libbpf headers, optionally claiming another version."""
    inc = root / "include" / "bpf"
    inc.mkdir(parents=True)
    for header in (SYSTEM_INCLUDE / "bpf").glob("*.h"):
        shutil.copy(header, inc / header.name)
    if version is not None:
        major, minor = version.split(".")
        (inc / "libbpf_version.h").write_text(
            f"#define LIBBPF_MAJOR_VERSION {major}\n#define LIBBPF_MINOR_VERSION {minor}\n")
    return root


def test_dynamic_value_is_strict(tmp_path: Path) -> None:
    proc = run_builder(tmp_path, LIBBPF_DYNAMIC="maybe")
    assert_one_sentence(proc, "LIBBPF_DYNAMIC='maybe'", "LIBBPF_DYNAMIC=1", "LIBBPF_DYNAMIC=0")


def test_no_rpath_value_is_strict(tmp_path: Path) -> None:
    proc = run_builder(tmp_path, LIBBPF_PY_NO_RPATH="yes")
    assert_one_sentence(proc, "LIBBPF_PY_NO_RPATH='yes'")


def test_sanitize_value_is_strict(tmp_path: Path) -> None:
    proc = run_builder(tmp_path, LIBBPF_PY_SANITIZE="address,thread")
    assert_one_sentence(proc, "LIBBPF_PY_SANITIZE='address,thread'", "address,undefined")


def test_sanitize_flags_for_both_extensions_in_the_plan() -> None:
    """One variable gives the flags; setup.py takes the same for _speedups."""
    mod = builder_module()
    config = mod["BuildConfig"].from_environ({"LIBBPF_PY_SANITIZE": " undefined,address "})
    assert config.sanitize == ("address", "undefined")
    assert config.sanitizer_compile_args[:2] == ["-fsanitize=address,undefined",
                                                 "-fno-sanitize-recover=all"]
    assert config.sanitizer_link_args == ["-fsanitize=address,undefined"]
    described = mod["make_plan"](config).describe(config)
    assert "sanitize" in described and "-fsanitize=address,undefined" in described
    plain = mod["BuildConfig"].from_environ({})
    assert plain.sanitize == () and plain.sanitizer_compile_args == []
    assert plain.sanitizer_link_args == []


def test_prefix_that_does_not_exist(tmp_path: Path) -> None:
    proc = run_builder(tmp_path, LIBBPF_DIR=str(tmp_path / "nowhere"))
    assert_one_sentence(proc, "does not exist", str(tmp_path / "nowhere"))


def test_prefix_without_headers(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    proc = run_builder(tmp_path, LIBBPF_DIR=str(tmp_path / "empty"))
    assert_one_sentence(proc, "has no libbpf headers", "libbpf.h")


@pytest.mark.parametrize("dynamic, name", [("1", "libbpf.so"), ("0", "libbpf.a")])
def test_prefix_without_library_names_every_path_tried(tmp_path: Path, dynamic: str,
                                                       name: str) -> None:
    prefix = fake_prefix(tmp_path / "p")
    proc = run_builder(tmp_path, LIBBPF_DIR=str(prefix), LIBBPF_DYNAMIC=dynamic)
    line = assert_one_sentence(proc, f"has no {name}")
    for sub in ("lib64", "lib", "lib/x86_64-linux-gnu"):
        assert str(prefix / sub / name) in line


def test_prefix_older_than_1_0(tmp_path: Path) -> None:
    prefix = fake_prefix(tmp_path / "old", version="0.8")
    proc = run_builder(tmp_path, LIBBPF_DIR=str(prefix))
    assert_one_sentence(proc, "libbpf 0.8", "older than 1.0")


def test_missing_libbpf_dev_names_packages_and_alternatives(tmp_path: Path) -> None:
    (tmp_path / "pc").mkdir()
    proc = run_builder(tmp_path, PKG_CONFIG_LIBDIR=str(tmp_path / "pc"))
    assert_one_sentence(proc, "libbpf-dev", "libbpf-devel", "LIBBPF_DIR", "LIBBPF_DYNAMIC=0")


def test_static_refuses_a_non_pic_archive(tmp_path: Path) -> None:
    debian_archive = Path("/usr/lib/x86_64-linux-gnu/libbpf.a")
    assert debian_archive.exists(), "libbpf-dev installs libbpf.a"
    proc = run_builder(tmp_path, LIBBPF_DYNAMIC="0", LIBBPF_DIR="/usr")
    assert_one_sentence(proc, "not position-independent", "vendor/provision.py static")


def test_static_without_libelf_or_zlib_dev(tmp_path: Path, pic_prefix: Path) -> None:
    (tmp_path / "pc").mkdir()
    proc = run_builder(tmp_path, LIBBPF_DYNAMIC="0", LIBBPF_DIR=str(pic_prefix),
                       PKG_CONFIG_LIBDIR=str(tmp_path / "pc"))
    assert_one_sentence(proc, "libelf-dev", "zlib1g-dev")


def test_plan_rpath_and_its_switch(pic_prefix: Path) -> None:
    """A dynamic build against a prefix records its libdir as rpath unless told not."""
    shared = pic_prefix.parent / "libbpf-1.5.0"
    mod = builder_module()
    config = mod["BuildConfig"].from_environ({"LIBBPF_DIR": str(shared)})
    plan = mod["make_plan"](config)
    assert plan.mode == "dynamic" and plan.origin == "LIBBPF_DIR"
    assert plan.runtime_library_dirs == [str(Path(plan.library_file).parent)]
    assert Path(plan.library_file).is_relative_to(shared)
    config = mod["BuildConfig"].from_environ({"LIBBPF_DIR": str(shared),
                                              "LIBBPF_PY_NO_RPATH": "1"})
    assert mod["make_plan"](config).runtime_library_dirs == []


def test_static_plan_links_archive_by_path_and_hides_it(pic_prefix: Path) -> None:
    mod = builder_module()
    config = mod["BuildConfig"].from_environ({"LIBBPF_DYNAMIC": "0",
                                              "LIBBPF_DIR": str(pic_prefix)})
    plan = mod["make_plan"](config)
    assert plan.extra_objects == [str(pic_prefix / "lib" / "libbpf.a")]
    assert "bpf" not in plan.libraries
    assert plan.libraries == ["elf", "z"]
    assert "-Wl,--exclude-libs,ALL" in plan.extra_link_args


def test_missing_clang_stops_the_tests_with_one_sentence(tmp_path: Path) -> None:
    env = dict(os.environ, PATH=str(tmp_path))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(Path(__file__).parent / "test_smoke.py"), "--co"],
                          env=env, capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode != 0
    assert "clang is missing" in proc.stdout + proc.stderr
    assert "apt-get install clang" in proc.stdout + proc.stderr


def test_build_facts_are_readable_from_python() -> None:
    info = libbpf_py.build_info()
    assert info.mode in ("dynamic", "static")
    assert info.header_version >= (1, 0)
    assert Path(info.include_dir, "bpf", "libbpf.h").is_file()
    if info.mode == "dynamic":
        assert info.library_path and Path(info.library_path).name.startswith("libbpf.so")
    else:
        assert info.library_path is None
        assert info.origin in ("vendored", "LIBBPF_DIR")


def test_version_is_written_once() -> None:
    """libbpf_py/_version.py holds it; the metadata, the package and Debian agree."""
    import importlib.metadata

    from libbpf_py import _version

    assert libbpf_py.__version__ == _version.__version__
    assert importlib.metadata.version("libbpf_py") == libbpf_py.__version__
    project = (REPO / "pyproject.toml").read_text()
    assert not re.search(r"^version\s*=", project, re.M), "pyproject.toml writes a version"
    assert re.search(r'^dynamic = \[.*"version".*\]', project, re.M)
    init = (REPO / "libbpf_py" / "__init__.py").read_text()
    assert "from ._version import __version__" in init
    assert not re.search(r"^__version__\s*=", init, re.M)
    # Debian's own version: upstream part, without epoch and Debian revision
    head = (REPO / "debian" / "changelog").read_text().splitlines()[0]
    match = re.match(r"^libbpf-py \(([^)]+)\)", head)
    assert match, head
    debian = match.group(1).split(":", 1)[-1].rsplit("-", 1)[0]
    assert debian == libbpf_py.__version__, (head, libbpf_py.__version__)


def test_license_is_declared_and_shipped() -> None:
    """One SPDX expression in the metadata; the license texts travel in the .dist-info
    of whatever was installed (editable, sdist, wheel) and in the sdist."""
    import importlib.metadata

    spdx = "LGPL-2.1-or-later OR BSD-2-Clause"
    meta = importlib.metadata.metadata("libbpf_py")
    assert spdx in (meta.get("License-Expression"), meta.get("License")), dict(meta)
    if libbpf_py.__file__.startswith("/usr/lib/python3/dist-packages/"):
        # the Debian package: dh_python drops license files from the .dist-info, as
        # Debian policy wants; debian/copyright carries both licenses instead
        copyright_file = Path("/usr/share/doc/python3-libbpf/copyright")
        assert "BSD-2-Clause" in copyright_file.read_text()
    else:
        shipped = {Path(str(f)).name for f in importlib.metadata.files("libbpf_py") or ()}
        assert {"LICENSE", "LGPL-2.1-or-later.txt", "BSD-2-Clause.txt"} <= shipped, shipped
    assert "LICENSE" in (REPO / "MANIFEST.in").read_text()
    assert "LGPL-2.1" in (REPO / "debian" / "copyright").read_text()


def test_python_floor_is_the_same_everywhere() -> None:
    """requires-python is what ruff, mypy and vermin (tox lint) check against."""
    project = (REPO / "pyproject.toml").read_text()
    floor = re.search(r'^requires-python = ">=3\.(\d+)"', project, re.M)
    assert floor, "requires-python is not a plain >=3.N floor"
    minor = floor.group(1)
    assert f'target-version = "py3{minor}"' in project
    assert f'python_version = "3.{minor}"' in project
    assert f"vermin -q --no-tips --violations -t=3.{minor}- " in (REPO / "tox.ini").read_text()
    assert sys.version_info >= (3, int(minor))


def _pinned_source() -> Tuple[Path, Path]:
    """The pinned libbpf source provision.py keeps: (unpacked tree, orig tarball)."""
    pin = json.loads((REPO / "vendor" / "libbpf.pin").read_text())["libbpf"]
    base = Path(os.environ.get("LIBBPF_PY_VENDOR_BUILD") or REPO / "vendor" / "build")
    tree = base / "src" / f"libbpf-{pin['version']}"
    tarball = base / "downloads" / pin["orig_tarball"]
    if not (tree.is_dir() and tarball.is_file()):
        proc = subprocess.run([sys.executable, str(REPO / "vendor" / "provision.py"), "source"],
                              capture_output=True, text=True, timeout=1800)
        assert proc.returncode == 0, proc.stderr[-2000:]
    return tree, tarball


# It builds its own extension from source, whatever build is under test: once a matrix.
@pytest.mark.independent
@pytest.mark.parametrize("form", ["tree", "tarball"])
def test_static_build_from_libbpf_src_is_offline(tmp_path: Path, form: str) -> None:
    """LIBBPF_SRC (a source tree or its tarball) builds a static extension with no network.

    The build runs in a network namespace of its own, which has no network at all,
    and provision.py builds into an empty directory, so nothing can come from the
    vendored copy, a cache or a mirror. The tarball is built into an extension and
    audited; the tree (the same source) is planned only, which builds its libbpf.a.
    """
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.fail("this test needs root and unshare (util-linux) to cut the network off")
    tree, tarball = _pinned_source()
    vendor_build = tmp_path / "vendor-build"
    out = tmp_path / "out"
    out.mkdir()
    clean = {k: v for k, v in os.environ.items() if k not in BUILD_VARS}
    clean.update(LIBBPF_DYNAMIC="0", LIBBPF_SRC=str(tree if form == "tree" else tarball),
                 LIBBPF_PY_VENDOR_BUILD=str(vendor_build))
    plan_only = ["--plan"] if form == "tree" else []
    proc = subprocess.run(["unshare", "--net", "--", sys.executable, str(BUILDER), *plan_only],
                          env=clean, cwd=out, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr.count("libbpf_py build: mode") == 1, proc.stderr
    assert "libbpf_py build: LIBBPF_SRC" in proc.stderr
    # provision.py never set up its apt list, let alone downloaded
    assert not (vendor_build / "apt").exists() and not (vendor_build / "downloads").exists()
    stamp = json.loads((vendor_build / "libbpf-1.5.0-static" / "provision-stamp.json")
                       .read_text())
    assert stamp["identity"]["origin"] == (f"tree {tree.resolve()}" if form == "tree"
                                           else f"tarball {tarball.resolve()}")
    if plan_only:
        return
    (extension,) = (out / "libbpf_py").glob("_libbpf*.so")
    facts = _buildinfo.read_from_file(str(extension))
    assert facts["mode"] == "static" and facts["origin"] == "vendored"
    assert Path(facts["library_file"]).is_relative_to(vendor_build)
    source, nodes = _buildinfo.read_versions_from_file(str(extension)) or ("", {})
    assert source.startswith("version script") and "LIBBPF_1.5.0" in nodes
    audit = subprocess.run([sys.executable, "-m", "libbpf_py", "linkcheck", "--json",
                            str(extension)], capture_output=True, text=True, timeout=120)
    assert json.loads(audit.stdout)["verdict"] == "static", audit.stdout + audit.stderr


@pytest.mark.parametrize("env, needles", [
    ({"LIBBPF_DYNAMIC": "0", "LIBBPF_SRC": "{tmp}/nowhere"}, ("LIBBPF_SRC=", "does not exist")),
    ({"LIBBPF_SRC": "{tmp}"}, ("LIBBPF_SRC is set", "LIBBPF_DYNAMIC=0")),
    ({"LIBBPF_DYNAMIC": "0", "LIBBPF_SRC": "{tmp}", "LIBBPF_DIR": "{tmp}"},
     ("LIBBPF_SRC and LIBBPF_DIR",)),
    ({"LIBBPF_DYNAMIC": "0", "LIBBPF_SRC": "{tmp}", "LIBBPF_SRC_TARBALL": "{tmp}"},
     ("LIBBPF_SRC and LIBBPF_SRC_TARBALL",)),
    ({"LIBBPF_DYNAMIC": "0", "LIBBPF_SRC_TARBALL": "{tmp}"}, ("is not a file",)),
    ({"LIBBPF_DYNAMIC": "0", "LIBBPF_SRC": "{tmp}", "LIBBPF_SRC_SHA256": "abc"},
     ("LIBBPF_SRC_SHA256=abc", "64 hex")),
])
def test_libbpf_src_values_are_strict(tmp_path: Path, env: Dict[str, str],
                                      needles: Tuple[str, ...]) -> None:
    env = {k: v.format(tmp=tmp_path) for k, v in env.items()}
    assert_one_sentence(run_builder(tmp_path, **env), *needles)


def test_extension_carries_every_fact_the_binding_reads() -> None:
    """No fallback for an extension without them: this tree's build stamps them all."""
    facts = _buildinfo.read_from_file(libbpf_py.build_info().extension_path)
    assert set(facts) == {"mode", "origin", "header_version", "include_dir", "library_file",
                          "rpath", "sanitize", "omitted"}
    assert _binding.OMITTED == _buildinfo.parse_omitted(facts["omitted"])
