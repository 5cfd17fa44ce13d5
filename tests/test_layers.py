"""The package's import layers (issue 18), read from the source: no kernel, no import.

Bottom to top::

    errors                      pure Python: no FFI, nothing of libbpf_py
    _binding _call _validate _info ...   the FFI and what wraps a single call
    btf _codec
    map link _buffers ringbuf user_ringbuf perf_buffer
    program object datasec
    skeleton gen cli __main__

A module imports only from its own layer or below, at module level: no
function-level import of a libbpf_py module (the usual way to dodge a cycle,
and a cost paid on a first call instead of at import), and no cycle in the
graph of module-level imports. Imports under ``if TYPE_CHECKING:`` are left out
of the graph: they never run (every module has ``from __future__ import
annotations``), and they are how a lower module names a higher one's class in
an annotation (``Program`` in link.py, ``BpfObject`` in program.py).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Set, Tuple

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "libbpf_py"

#: Modules allowed a function-level import of the package: none. (A third-party import
#: inside a function, as probe's pyelftools import, is not counted: it keeps
#: ``import libbpf_py`` from loading pyelftools.)
PENDING_FUNCTION_LEVEL_IMPORTS: Set[str] = set()

#: module -> layer; a module may import from its own layer or a lower one (the cycle
#: test orders modules within a layer). A new module needs its line here.
LAYERS: Dict[str, int] = {
    # 1: pure Python, imports nothing of libbpf_py that touches the FFI
    "errors": 1, "_version": 1, "_buildinfo": 1, "_cdefs": 1, "_guard": 1, "_props": 1,
    "_validate": 1, "hist": 1, "_elfid": 1, "_record": 1,
    # 2: the FFI and single-call helpers
    "_binding": 2, "_call": 2, "_features": 2, "_ids": 2, "_info": 2, "enums": 2, "log": 2,
    "linkcheck": 2, "_btfguard": 2,
    # 3: BTF and the value codecs over it
    "btf": 3, "_codec": 3,
    # 4: maps, links, event buffers
    "map": 4, "_map_core": 4, "_map_settings": 4, "link": 4, "_buffers": 4, "ringbuf": 4,
    "user_ringbuf": 4, "perf_buffer": 4,
    "events": 4, "linker": 4,
    # 5: programs, objects, their global variables; the probe
    "program": 5, "object": 5, "datasec": 5, "probe": 5,
    # 6: what users and the command line start from
    "skeleton": 6, "gen": 6, "cli": 6, "__main__": 6, "__init__": 6,
}

#: modules that load the compiled extension (directly or through _binding)
FFI_MODULES = {"_binding", "_libbpf", "_speedups"}


def _modules() -> Dict[str, List[Path]]:
    """module -> its source files: one for a module, every .py of a subpackage (cli/,
    _cdefs/), which is one node of the graph."""
    mods = {p.stem: [p] for p in PACKAGE.glob("*.py")}
    mods.update({p.parent.name: sorted(p.parent.glob("*.py"))
                 for p in PACKAGE.glob("*/__init__.py")})
    return mods


MODULES = _modules()
#: the compiled modules (no source to read; they import nothing of the package). By
#: name, not by a built .so in the checkout: under tox the package is built into
#: site-packages and the checkout has none
EXTENSIONS = {"_libbpf", "_speedups"}
#: module -> [(tree of one of its files, the subpackage the file is in or None)]
TREES = {name: [(ast.parse(path.read_text(), str(path)),
                 name if path.parent != PACKAGE else None) for path in paths]
         for name, paths in MODULES.items()}


def _name_in_package(name: str) -> str:
    """``from . import name``: a module, or a name the package's __init__ defines."""
    return name if name in MODULES or name in EXTENSIONS else "__init__"


def _targets(node: ast.AST, sub: Optional[str] = None) -> List[str]:
    """The libbpf_py modules (first component under the package) an import names;
    "__init__" for a name taken from the package itself (``from . import __version__``).
    In a file of subpackage ``sub``, ``from .x import`` is the subpackage itself and
    ``from ..x import`` is the package's module x."""
    if isinstance(node, ast.ImportFrom):
        if node.level and sub is not None:
            if node.level == 1:
                return [sub]
            if node.module:
                return [node.module.split(".")[0]]
            return [_name_in_package(a.name) for a in node.names]
        if node.level:
            if node.level > 1:  # from .. import: the subpackage's parent is libbpf_py
                return [node.module.split(".")[0]] if node.module else ["__init__"]
            if node.module:
                return [node.module.split(".")[0]]
            return [_name_in_package(a.name) for a in node.names]
        if node.module and (node.module == "libbpf_py" or node.module.startswith("libbpf_py.")):
            parts = node.module.split(".")
            if len(parts) > 1:
                return [parts[1]]
            return [_name_in_package(a.name) for a in node.names]
    elif isinstance(node, ast.Import):
        out = []
        for alias in node.names:
            if alias.name == "libbpf_py":
                out.append("__init__")
            elif alias.name.startswith("libbpf_py."):
                out.append(alias.name.split(".")[1])
        return out
    return []


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _module_level(body: List[ast.stmt]) -> Iterator[ast.AST]:
    """Import statements that run at import: module body, if/try blocks, not functions,
    not classes' methods, not ``if TYPE_CHECKING:``."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If):
            if not _is_type_checking(node):
                yield from _module_level(node.body)
            yield from _module_level(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody,
                          *(h.body for h in node.handlers)):
                yield from _module_level(block)
        elif isinstance(node, (ast.With, ast.ClassDef)):
            yield from _module_level(node.body)


def _graph() -> Dict[str, Set[str]]:
    graph: Dict[str, Set[str]] = {}
    for name, files in TREES.items():
        graph[name] = {t for tree, sub in files for node in _module_level(tree.body)
                       for t in _targets(node, sub) if t in MODULES and t != name}
    return graph


def _function_level_imports(files: List[Tuple[ast.Module, Optional[str]]]
                            ) -> List[Tuple[int, str]]:
    found = []
    for tree, sub in files:
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(fn):
                    if _targets(node, sub):
                        found.append((node.lineno, ast.unparse(node)))
    return sorted(set(found))


def _find_cycle(graph: Dict[str, Set[str]]) -> Optional[List[str]]:
    state: Dict[str, int] = {}  # 1 on the stack, 2 done
    stack: List[str] = []

    def visit(node: str) -> Optional[List[str]]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_scan_sees_the_package() -> None:
    graph = _graph()
    assert {"errors", "_binding", "_call", "object", "datasec", "skeleton"} <= set(graph)
    assert "_binding" in graph["_call"] and "errors" in graph["_call"]
    assert "datasec" in graph["object"] and "datasec" in graph["skeleton"]
    # annotations-only imports are not edges: link names Program, program names BpfObject
    assert "program" not in graph["link"] and "object" not in graph["program"]
    # a subpackage is one node: its files' imports are its edges
    assert {"_ids", "map", "enums"} <= graph["cli"]


@pytest.mark.parametrize("module", sorted(set(MODULES) - PENDING_FUNCTION_LEVEL_IMPORTS))
def test_no_function_level_import_of_the_package(module: str) -> None:
    found = _function_level_imports(TREES[module])
    assert found == [], f"{module}.py imports libbpf_py modules inside functions: {found}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_import_dodged_through_a_call(module: str) -> None:
    """``__import__`` / ``importlib.import_module`` of the package would be a function-level
    import the AST test cannot see."""
    calls = []
    for node in (n for tree, _ in TREES[module] for n in ast.walk(tree)):
        if isinstance(node, ast.Call):
            fn = node.func
            name = fn.id if isinstance(fn, ast.Name) else (
                fn.attr if isinstance(fn, ast.Attribute) else "")
            if name in ("__import__", "import_module"):
                calls.append((node.lineno, ast.unparse(node)))
    if module == "_cdefs":  # loads its own data modules by name (build_ffi.py loads it by path)
        calls = [c for c in calls if "__name__" not in c[1]]
    assert calls == []


def test_import_graph_has_no_cycle() -> None:
    cycle = _find_cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_imports_only_go_down_the_layers() -> None:
    graph = _graph()
    missing = sorted(set(graph) - set(LAYERS))
    assert missing == [], f"modules without a layer (add them to LAYERS): {missing}"
    upward = sorted((m, t) for m, targets in graph.items() for t in targets
                    if LAYERS[t] > LAYERS[m])
    assert upward == [], f"imports going up a layer: {upward}"


def test_errors_imports_nothing_of_the_package_and_no_ffi() -> None:
    tree = TREES["errors"][0][0]
    package = [ast.unparse(n) for n in ast.walk(tree) if _targets(n)]
    assert package == []
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not {m for m in names if m.split(".")[0] in {"cffi", "ctypes", *FFI_MODULES}}


def test_errors_runs_without_the_extension() -> None:
    """errors.py loaded alone (by path, no package import): no cffi, no extension."""
    path = str(PACKAGE / "errors.py")
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('lone_errors', {path!r})\n"
        "mod = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(mod)\n"
        "assert issubclass(mod.LibbpfPermissionError, PermissionError)\n"
        "assert mod.error_class(1) is mod.LibbpfPermissionError\n"
        "print(sorted(m for m in sys.modules if m.startswith(('libbpf_py', 'cffi', '_cffi'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout.strip()
    assert out == "[]"
