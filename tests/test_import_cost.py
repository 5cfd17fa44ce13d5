"""What ``import libbpf_py`` loads (bench workload 6: its target is < 50 ms).

Not timed (bench/ times it): these tests check what the import pulls in, in a fresh
interpreter started with ``-S``, so that an editable install's finder (which imports
pathlib at start-up) cannot hide a module the package itself imports; and that the
records made as :class:`libbpf_py._record.Record` behave as the frozen dataclasses
they replaced.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import pickle
import subprocess
import sys
from typing import Any, Dict, List, Tuple

import pytest

import libbpf_py
from libbpf_py._record import Record

#: stdlib modules ``import libbpf_py`` no longer loads: pathlib (with urllib.parse,
#: ~5 ms on 3.11) for one path in _cdefs and two file reads in probe, textwrap (~1 ms)
#: for the probe report's text
NOT_IMPORTED = ("pathlib", "urllib.parse", "textwrap")

#: the classes the documentation calls dataclasses (docs/api.rst, docs/probe.md,
#: docs/attach.md): users may call dataclasses.fields() / asdict() on them. Every other
#: record of the import path is a Record (making a dataclass compiles six methods at
#: import, 0.5 to 1.8 ms a class).
DOCUMENTED_DATACLASSES = {"libbpf_py._info.ProgramInfo", "libbpf_py._info.MapInfo",
                          "libbpf_py._info.BtfInfo", "libbpf_py._info.LinkInfo",
                          "libbpf_py.probe.ProbeReport", "libbpf_py.probe.KernelReport"}


def _fresh_import(code: str) -> str:
    """Run ``code`` after ``import libbpf_py`` in ``python -S`` with this sys.path (this
    checkout's package first), and return its output. ``before`` holds the names of
    the modules loaded before the import."""
    package_parent = os.path.dirname(os.path.dirname(libbpf_py.__file__))
    path = os.pathsep.join([package_parent, *(p for p in sys.path if p)])
    env = {**os.environ, "PYTHONPATH": path}
    full = ("import sys\nbefore = set(sys.modules)\nimport libbpf_py\n"
            f"print(libbpf_py.__file__)\n{code}")
    proc = subprocess.run([sys.executable, "-S", "-c", full], capture_output=True, text=True,
                          env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    where, _, out = proc.stdout.partition("\n")
    assert where == libbpf_py.__file__
    return out.strip()


def test_import_leaves_these_modules_alone() -> None:
    # only what the import itself loads: another Python may load some at start-up
    out = _fresh_import(f"print(sorted(m for m in {NOT_IMPORTED!r} "
                        "if m in sys.modules and m not in before))")
    assert out == "[]", f"import libbpf_py loaded {out}"


def test_only_the_documented_dataclasses_are_made_at_import() -> None:
    out = _fresh_import(
        "found = set()\n"
        "for name, mod in list(sys.modules.items()):\n"
        "    if name.startswith('libbpf_py'):\n"
        "        for obj in list(vars(mod).values()):\n"
        "            if isinstance(obj, type) and '__dataclass_fields__' in vars(obj) \\\n"
        "                    and obj.__module__ == name:\n"
        "                found.add(f'{name}.{obj.__qualname__}')\n"
        "print(sorted(found))")
    assert out == str(sorted(DOCUMENTED_DATACLASSES))


def test_documented_dataclasses_stay_dataclasses() -> None:
    for cls in (libbpf_py.ProgramInfo, libbpf_py.MapInfo, libbpf_py.LinkInfo,
                libbpf_py.ProbeReport, libbpf_py.KernelReport):
        assert dataclasses.is_dataclass(cls), cls
        assert cls.__dataclass_params__.frozen  # type: ignore[attr-defined]


# -- Record against the frozen dataclass it stands for -----------------------------------------

@dataclasses.dataclass(frozen=True)
class _Dc:
    name: str
    value: Any
    hidden: int = dataclasses.field(default=0, repr=False, compare=False)


class _Rec(Record):
    name: str
    value: Any
    hidden: int = 0
    _hidden = ("hidden",)

    def __init__(self, name: str, value: Any, hidden: int = 0) -> None:
        self._set(name=name, value=value, hidden=hidden)


def _behaviour(cls: Any) -> Dict[str, Any]:
    a, b, c = cls("a", (1, "x")), cls("a", (1, "x"), hidden=9), cls("b", 2)
    out: Dict[str, Any] = {"repr": repr(a).replace(cls.__qualname__, "Same"),
                           "eq": (a == b, a != c, a == ("a", (1, "x"))),
                           "hash": (hash(a) == hash(b), hash(a) == hash(("a", (1, "x")))),
                           "match": cls.__match_args__, "hidden": b.hidden,
                           "copy": (copy.copy(a) == a, pickle.loads(pickle.dumps(b)).hidden)}
    errors: List[Tuple[str, str]] = []
    for attempt in (lambda: setattr(a, "name", "z"), lambda: setattr(a, "new", 1),
                    lambda: delattr(a, "name")):
        with pytest.raises(dataclasses.FrozenInstanceError) as info:
            attempt()
        errors.append((type(info.value).__name__, str(info.value)))
    out["frozen"] = errors
    with pytest.raises(TypeError):
        a < c  # noqa: B015 (no order, as a dataclass without order=True)
    unhashable = cls("a", [1])
    with pytest.raises(TypeError, match="unhashable"):
        hash(unhashable)
    return out


def test_record_behaves_as_the_frozen_dataclass() -> None:
    assert _behaviour(_Rec) == _behaviour(_Dc)


@pytest.mark.parametrize("cls", [_Rec, _Dc])
def test_record_repr_of_a_cycle(cls: Any) -> None:
    box: List[Any] = []
    rec = cls("a", box)
    box.append(rec)
    assert repr(rec) == f"{cls.__qualname__}(name='a', value=[...])"
