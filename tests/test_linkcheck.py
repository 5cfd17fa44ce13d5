"""The link audit on real shared objects, linked each way libbpf can be linked.

tests/c/audit_probe.c is built four times with gcc:

- dynamic: against libbpf.so (``-lbpf``);
- static-hidden: against a position-independent libbpf.a, its symbols hidden
  (``-Wl,--exclude-libs,ALL``);
- mixed: the archive plus ``-Wl,--no-as-needed -lbpf``, so libbpf.so.1 is in NEEDED while the
  code runs from the static copy (the bpftool LIBBPF_DYNAMIC pitfall);
- static-exporting: the archive without ``--exclude-libs``, so libbpf's API leaks out of .dynsym.

Each audit is checked against an independent reading of the same file with ``readelf``.

The PIC archive comes from ``LIBBPF_PY_PIC_ARCHIVE`` if set, else from
``python vendor/provision.py static`` (its last stdout line is a prefix holding lib/libbpf.a).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from libbpf_py.linkcheck import LIBBPF_API, LinkAudit, LinkAuditError, audit, main

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
PROBE_SRC = TESTS / "c" / "audit_probe.c"

#: libbpf functions audit_probe.c calls; each must show up as imported or defined.
PROBE_CALLS = {
    "libbpf_major_version",
    "bpf_object__open_file",
    "bpf_object__close",
    "libbpf_get_error",
    "libbpf_strerror",
}
STABLE_KEYS = {"file", "verdict", "needed", "imported", "defined", "exported", "reasons"}


def _need_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (apt-get install binutils gcc)")
    return path


def _run(
    cmd: list[str], cwd: str | None = None, timeout: float | None = None
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=timeout)
    if proc.returncode != 0:
        pytest.fail(
            f"command failed ({proc.returncode}): {' '.join(cmd)}\n"
            f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


# --------------------------------------------------------------------------------------------
# an independent reading with readelf


@dataclass
class ReadelfView:
    needed: list[str]
    imported: dict[str, str]  # undefined libbpf symbol -> LIBBPF_* version
    unversioned: set[str]  # undefined libbpf API names with no version
    defined: set[str]  # libbpf symbols defined in .dynsym
    exported: set[str]  # ... of which GLOBAL/WEAK and DEFAULT/PROTECTED


def readelf_view(path: Path) -> ReadelfView:
    readelf = _need_tool("readelf")
    needed: list[str] = []
    for line in _run([readelf, "-dW", str(path)]).stdout.splitlines():
        if "(NEEDED)" in line:
            needed.append(line.split("[", 1)[1].rsplit("]", 1)[0])

    view = ReadelfView(needed, {}, set(), set(), set())
    # "   Num:    Value          Size Type    Bind   Vis      Ndx Name"
    for line in _run([readelf, "--dyn-syms", "-W", str(path)]).stdout.splitlines():
        fields = line.split()
        if len(fields) < 8 or not fields[0].endswith(":") or not fields[0][:-1].isdigit():
            continue
        _, _, _, _, bind, vis, ndx, full = fields[:8]
        name, _, version = full.partition("@")
        version = version.lstrip("@")
        if name == version:  # version definition marker
            continue
        if name not in LIBBPF_API and not version.startswith("LIBBPF_"):
            continue
        if ndx == "UND":
            if version.startswith("LIBBPF_"):
                view.imported[name] = version
            elif not version:
                view.unversioned.add(name)
        else:
            view.defined.add(name)
            if bind in ("GLOBAL", "WEAK", "UNIQUE") and vis in ("DEFAULT", "PROTECTED"):
                view.exported.add(name)
    return view


def assert_agrees_with_readelf(result: LinkAudit, path: Path) -> ReadelfView:
    view = readelf_view(path)
    assert result.needed == view.needed
    assert result.imported == view.imported
    assert set(result.exported) == view.exported
    assert view.defined <= set(result.defined)
    return view


# --------------------------------------------------------------------------------------------
# building the four shared objects


@pytest.fixture(scope="session")
def pic_archive(pic_prefix: Path) -> Path:
    """The PIC libbpf.a of conftest's vendored prefix."""
    archive = pic_prefix / "lib" / "libbpf.a"
    if not archive.is_file():
        pytest.fail(f"{pic_prefix} holds no lib/libbpf.a")
    return archive


def _include_flags(archive: Path) -> list[str]:
    """Compile against the archive's own headers when it sits in a prefix that has them."""
    include = archive.parent.parent / "include"
    return [f"-I{include}"] if (include / "bpf" / "libbpf.h").is_file() else []


@pytest.fixture(scope="session")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("linkcheck")


def _gcc(out: Path, *args: str) -> Path:
    gcc = _need_tool("gcc")
    _run([gcc, "-shared", "-fPIC", "-o", str(out), str(PROBE_SRC), *args])
    return out


@pytest.fixture(scope="session")
def dynamic_so(build_dir: Path) -> Path:
    return _gcc(build_dir / "dynamic.so", "-lbpf")


def _gcc_static(out: Path, archive: Path, *args: str) -> Path:
    """The probe linked with the PIC ``archive`` (against its own headers), then ``args``."""
    return _gcc(out, *_include_flags(archive), str(archive), *args)


@pytest.fixture(scope="session")
def static_hidden_so(build_dir: Path, pic_archive: Path) -> Path:
    return _gcc_static(build_dir / "static-hidden.so", pic_archive,
                       "-lelf", "-lz", "-Wl,--exclude-libs,ALL")


@pytest.fixture(scope="session")
def mixed_so(build_dir: Path, pic_archive: Path) -> Path:
    return _gcc_static(build_dir / "mixed.so", pic_archive,
                       "-Wl,--no-as-needed", "-lbpf", "-lelf", "-lz")


@pytest.fixture(scope="session")
def static_exporting_so(build_dir: Path, pic_archive: Path) -> Path:
    return _gcc_static(build_dir / "static-exporting.so", pic_archive, "-lelf", "-lz")


def _libbpf_needed(needed: list[str]) -> list[str]:
    return [name for name in needed if name.startswith("libbpf.so")]


# --------------------------------------------------------------------------------------------
# the four link modes


def test_dynamic(dynamic_so: Path) -> None:
    result = audit(dynamic_so)
    view = assert_agrees_with_readelf(result, dynamic_so)

    assert result.verdict == "dynamic", result.reasons
    assert _libbpf_needed(result.needed) == ["libbpf.so.1"]
    assert PROBE_CALLS <= set(result.imported)
    assert all(node.startswith("LIBBPF_") for node in result.imported.values())
    assert result.defined == []
    assert result.exported == []
    assert not view.unversioned
    assert main([str(dynamic_so)]) == 0


def test_static_hidden(static_hidden_so: Path) -> None:
    result = audit(static_hidden_so)
    view = assert_agrees_with_readelf(result, static_hidden_so)

    assert result.verdict == "static", result.reasons
    assert _libbpf_needed(result.needed) == []
    assert result.imported == {}
    assert result.exported == []
    # hidden from .dynsym, but .symtab shows the code is in the file
    assert view.defined == set()
    assert PROBE_CALLS <= set(result.defined)
    assert any("defined inside the file" in reason for reason in result.reasons)
    assert main([str(static_hidden_so)]) == 0


def test_static_hidden_stripped(static_hidden_so: Path, tmp_path: Path) -> None:
    strip = _need_tool("strip")
    stripped = tmp_path / "static-hidden-stripped.so"
    shutil.copyfile(static_hidden_so, stripped)
    _run([strip, "--strip-all", str(stripped)])

    result = audit(stripped)
    assert_agrees_with_readelf(result, stripped)
    assert result.verdict == "static", result.reasons
    assert result.defined == []
    assert any(
        ".symtab is stripped" in reason and "nothing is taken from libbpf.so" in reason
        for reason in result.reasons
    ), result.reasons


def test_mixed_bpftool_pitfall(mixed_so: Path) -> None:
    result = audit(mixed_so)
    view = assert_agrees_with_readelf(result, mixed_so)

    assert "libbpf.so.1" in view.needed  # the pitfall really happened ...
    assert view.imported == {}  # ... and nothing is taken from libbpf.so.1
    assert result.verdict == "mixed"
    assert PROBE_CALLS <= set(result.defined)
    pitfall = [
        reason
        for reason in result.reasons
        if reason.startswith("libbpf.so.1 is in NEEDED but")
        and "defined inside the file" in reason
        and "LIBBPF_DYNAMIC pitfall" in reason
    ]
    assert len(pitfall) == 1, result.reasons
    assert f"{len(result.defined)} libbpf symbols" in pitfall[0]
    assert "libbpf.so.1 is in NEEDED but no symbol is imported from it" in result.reasons
    assert main([str(mixed_so)]) == 1


def test_static_exporting(static_exporting_so: Path) -> None:
    result = audit(static_exporting_so)
    view = assert_agrees_with_readelf(result, static_exporting_so)

    assert result.verdict == "mixed"
    assert _libbpf_needed(result.needed) == []
    assert result.imported == {}
    assert PROBE_CALLS <= view.exported
    exported = [reason for reason in result.reasons if "exported" in reason]
    assert len(exported) == 1, result.reasons
    assert f"{len(result.exported)} libbpf symbols" in exported[0]
    assert "-Wl,--exclude-libs,ALL" in exported[0]
    assert not any("LIBBPF_DYNAMIC pitfall" in reason for reason in result.reasons)
    assert main([str(static_exporting_so)]) == 1


def test_unversioned_import(build_dir: Path) -> None:
    """References to libbpf that no library resolves are flagged, not taken for static."""
    so = _gcc(build_dir / "unlinked.so")  # no -lbpf: undefined, unversioned references
    result = audit(so)
    view = assert_agrees_with_readelf(result, so)

    assert PROBE_CALLS <= view.unversioned
    assert result.verdict == "mixed"
    assert any("without a LIBBPF_* version" in reason for reason in result.reasons)


# --------------------------------------------------------------------------------------------
# the built extension


def test_built_extension() -> None:
    spec = importlib.util.find_spec("libbpf_py._libbpf")
    if spec is None or not spec.origin:
        pytest.skip("libbpf_py._libbpf is not built")
    result = audit(spec.origin)
    assert_agrees_with_readelf(result, Path(spec.origin))
    assert result.verdict in ("dynamic", "static"), result.reasons
    assert main([]) == 0


def test_default_file_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import libbpf_py.linkcheck as linkcheck

    monkeypatch.setattr(linkcheck, "_default_extension", lambda: None)
    assert main([]) == 2
    assert "libbpf_py._libbpf is not built; pass a FILE" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# output and bad input


def test_json_output(dynamic_so: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--json", str(dynamic_so)]) == 0
    out = capsys.readouterr().out
    data = json.loads(out)
    assert set(data) == STABLE_KEYS
    assert data == audit(dynamic_so).to_dict()
    assert data["verdict"] == "dynamic"
    assert list(data) == sorted(data)  # sorted keys


def test_human_report(dynamic_so: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(dynamic_so)]) == 0
    out = capsys.readouterr().out
    assert "verdict:" in out and "dynamic" in out
    assert "libbpf.so.1" in out
    for call in PROBE_CALLS:
        assert call in out


def test_to_dict_keys(dynamic_so: Path) -> None:
    assert set(audit(dynamic_so).to_dict()) == STABLE_KEYS


def test_not_elf(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bogus = tmp_path / "notelf.so"
    bogus.write_text("this is not an ELF file\n")
    with pytest.raises(LinkAuditError, match="not an ELF file"):
        audit(bogus)
    assert issubclass(LinkAuditError, ValueError)
    assert main([str(bogus)]) == 2
    captured = capsys.readouterr()
    assert "not an ELF file" in captured.err
    assert captured.out == ""


def test_truncated_elf(dynamic_so: Path, tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.so"
    truncated.write_bytes(dynamic_so.read_bytes()[:64])
    with pytest.raises(LinkAuditError, match="malformed ELF"):
        audit(truncated)
    assert main([str(truncated)]) == 2


def test_bad_elf_class(dynamic_so: Path, tmp_path: Path) -> None:
    data = bytearray(dynamic_so.read_bytes())
    data[4] = 7  # EI_CLASS
    bad = tmp_path / "badclass.so"
    bad.write_bytes(bytes(data))
    with pytest.raises(LinkAuditError, match="unknown ELF class"):
        audit(bad)


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "does-not-exist.so"
    with pytest.raises(LinkAuditError, match="no such file"):
        audit(missing)
    assert main(["--json", str(missing)]) == 2
    captured = capsys.readouterr()
    assert "no such file" in captured.err
    assert captured.out == ""
