"""Version nodes: one table, the declarations' tags (libbpf_py/_cdefs).

Every option-struct field a wrapper writes must be declared, so that a build
that lacks it raises LibbpfVersionError with the field's real node instead of a
guess. The fields are found by reading the wrappers' source (ast): struct
pointers from ``ffi.new("struct X *")`` and friends and the members assigned
through them, and the field dicts handed to ``program._opts``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

import pytest

import libbpf_py
from libbpf_py import _cdefs
from libbpf_py._binding import ffi
from libbpf_py._features import node_of_field, node_of_function, require_field
from libbpf_py.object import _OPEN_OPTIONS

PACKAGE = Path(libbpf_py.__file__).resolve().parent
INFO = libbpf_py.build_info()

Pair = Tuple[str, str]

_STRUCT_RE = re.compile(r"^struct (\w+)\s*(\*|\[\])")


def _struct_of(call: ast.expr) -> Optional[str]:
    """X when ``call`` is a call with a ``"struct X *"``/``"struct X[]"`` argument."""
    if not isinstance(call, ast.Call):
        return None
    for arg in call.args:
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            m = _STRUCT_RE.match(arg.value)
            if m:
                return m.group(1)
    return None


def _base_name(node: ast.expr) -> Optional[str]:
    """``v`` of ``v``, ``v[i]``; None otherwise."""
    if isinstance(node, ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _assign_targets(func: ast.AST) -> List[Tuple[ast.expr, Optional[ast.expr]]]:
    out: List[Tuple[ast.expr, Optional[ast.expr]]] = []
    for node in ast.walk(func):
        if isinstance(node, ast.Assign):
            out += [(t, node.value) for t in node.targets]
        elif isinstance(node, ast.AnnAssign):
            out.append((node.target, node.value))
    return out


def _member_writes(func: ast.AST) -> Set[Pair]:
    """(struct, member) for ``v.member = ...`` (or ``v[i].member``, ``v.member.x``)
    where ``v`` holds a ``struct X`` pointer or array made in ``func``."""
    structs: Dict[str, str] = {}
    for target, value in _assign_targets(func):
        name = _struct_of(value) if value is not None else None
        if name and isinstance(target, ast.Name):
            structs[target.id] = name
    out: Set[Pair] = set()
    for target, _value in _assign_targets(func):
        chain: List[str] = []
        node: ast.expr = target
        while isinstance(node, ast.Attribute):
            chain.append(node.attr)
            node = node.value
        base = _base_name(node)
        if chain and base in structs and chain[-1] != "sz":
            out.add((structs[base], chain[-1]))
    return out


def _dict_keys(func: ast.FunctionDef, var: str, funcs: Dict[str, ast.FunctionDef],
               seen: Set[str]) -> Set[str]:
    """The constant keys written into dict ``var`` in ``func`` and in the module's
    functions it hands ``var`` to."""
    keys: Set[str] = set()
    loops: Dict[str, Set[str]] = {}  # loop variable -> the constants it takes
    for node in ast.walk(func):
        if isinstance(node, ast.For) and isinstance(node.target, ast.Tuple) \
                and isinstance(node.iter, ast.Tuple):
            for i, elt in enumerate(node.target.elts):
                if isinstance(elt, ast.Name):
                    loops[elt.id] = {row.elts[i].value for row in node.iter.elts
                                     if isinstance(row, ast.Tuple)
                                     and isinstance(row.elts[i], ast.Constant)}
    for target, _value in _assign_targets(func):
        if isinstance(target, ast.Subscript) and _base_name(target) == var:
            key = target.slice
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                keys.add(key.value)
            elif isinstance(key, ast.Name) and key.id in loops:
                keys |= loops[key.id]
            else:
                raise AssertionError(f"{func.name}: cannot read the key of "
                                     f"{ast.unparse(target)}")
    for node in ast.walk(func):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in funcs and node.func.id not in seen:
            callee = funcs[node.func.id]
            for i, arg in enumerate(node.args):
                if isinstance(arg, ast.Name) and arg.id == var:
                    keys |= _dict_keys(callee, callee.args.args[i].arg, funcs,
                                       seen | {node.func.id})
    return keys


def _struct_names(arg: ast.expr, func: ast.FunctionDef, tree: ast.Module) -> List[str]:
    """The struct names of ``_opts``'s first argument: a constant, or an f-string over
    one parameter of ``func``, resolved through the module's calls of ``func``."""
    if isinstance(arg, ast.Constant):
        return [arg.value]
    assert isinstance(arg, ast.JoinedStr), ast.unparse(arg)
    holes = [v.value for v in arg.values if isinstance(v, ast.FormattedValue)]
    assert len(holes) == 1 and isinstance(holes[0], ast.Name), ast.unparse(arg)
    params = [a.arg for a in func.args.args]
    index = params.index(holes[0].id) - (1 if params[0] == "self" else 0)
    values = [call.args[index].value for call in ast.walk(tree)
              if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
              and call.func.attr == func.name]
    assert values, f"no calls of {func.name}"
    names = []
    for value in values:
        text = "".join(v.value if isinstance(v, ast.Constant) else value
                       for v in arg.values)
        names.append(text)
    return names


def _opts_writes(tree: ast.Module) -> Set[Pair]:
    """(struct, field) of every ``_opts(struct, what, fields)`` call."""
    funcs = {f.name: f for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)}
    out: Set[Pair] = set()
    for func in funcs.values():
        for node in ast.walk(func):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id == "_opts" and len(node.args) == 3):
                continue
            fields = node.args[2]
            if isinstance(fields, ast.Dict):
                keys = {k.value for k in fields.keys if isinstance(k, ast.Constant)}
                assert len(keys) == len(fields.keys), ast.unparse(fields)
            else:
                assert isinstance(fields, ast.Name), ast.unparse(fields)
                keys = _dict_keys(func, fields.id, funcs, {func.name})
            for struct in _struct_names(node.args[0], func, tree):
                out |= {(struct, key) for key in keys}
    return out


def written_fields() -> Set[Pair]:
    """Every (struct, member) the package's modules write."""
    out: Set[Pair] = set()
    for path in sorted(PACKAGE.glob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for func in ast.walk(tree):
            if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                out |= _member_writes(func)
        out |= _opts_writes(tree)
    # BpfObject.open's options go through setattr(opts, field, ...)
    out |= {("bpf_object_open_opts", field) for field in _OPEN_OPTIONS.values()}
    return out


WRITTEN = written_fields()


def test_the_walk_finds_the_fields_that_came_late() -> None:
    """The walk sees the kinds of writes the wrappers make (else the next test proves
    nothing)."""
    assert {
        ("bpf_kprobe_opts", "attach_mode"),            # fields[...] = in the method
        ("bpf_kprobe_multi_opts", "session"),
        ("bpf_kprobe_multi_opts", "syms"),             # written by _symbol_list()
        ("bpf_uprobe_multi_opts", "ref_ctr_offsets"),  # fields[key] over a tuple
        ("bpf_perf_event_opts", "force_ioctl_attach"),
        ("bpf_tcx_opts", "expected_revision"),         # f"bpf_{kind}_opts"
        ("bpf_netkit_opts", "relative_fd"),
        ("bpf_netfilter_opts", "priority"),            # a dict literal
        ("bpf_link_create_opts", "flags"),
        ("bpf_object_open_opts", "bpf_token_path"),    # _OPEN_OPTIONS
        ("bpf_tc_opts", "priority"),                   # opts.priority = ...
        ("bpf_map_skeleton", "link"),                  # maps[i].link = ...
    } <= WRITTEN


@pytest.mark.parametrize("pair", sorted(WRITTEN), ids="{0[0]}.{0[1]}".format)
def test_every_field_the_wrappers_write_has_a_node(pair: Pair) -> None:
    struct, field = pair
    node = node_of_field(struct, field)  # KeyError: not declared
    # the tags agree with what this build's compiler saw
    try:
        known = {f for f, _ in ffi.typeof(f"struct {struct}").fields}
    except ffi.error:
        known = set()
    assert (field in known) == (_cdefs.node_version(node) <= INFO.header_version), node


def test_nodes_of_late_fields() -> None:
    """The nodes the error messages quote (formerly program._OPT_NODES and
    object._OPEN_OPTIONS)."""
    assert node_of_field("bpf_kprobe_opts", "attach_mode") == "LIBBPF_1.4.0"
    assert node_of_field("bpf_uprobe_opts", "attach_mode") == "LIBBPF_1.4.0"
    assert node_of_field("bpf_perf_event_opts", "force_ioctl_attach") == "LIBBPF_1.4.0"
    assert node_of_field("bpf_kprobe_multi_opts", "session") == "LIBBPF_1.5.0"
    assert node_of_field("bpf_object_open_opts", "bpf_token_path") == "LIBBPF_1.4.0"
    assert node_of_field("bpf_tcx_opts", "relative_fd") == "LIBBPF_1.3.0"
    assert node_of_field("bpf_link_create_opts", "tcx") == "LIBBPF_1.3.0"
    # in every supported libbpf: the floor
    assert node_of_field("bpf_object_open_opts", "kconfig") == _cdefs.FLOOR_NODE


def test_unknown_field_or_function_is_a_key_error() -> None:
    with pytest.raises(KeyError, match=r"no member 'no_such_field' of struct bpf_kprobe_opts"):
        node_of_field("bpf_kprobe_opts", "no_such_field")
    with pytest.raises(KeyError, match="no member"):
        node_of_field("no_such_opts", "sz")
    with pytest.raises(KeyError, match="bpf_no_such_function"):
        node_of_function("bpf_no_such_function")
    with pytest.raises(KeyError):
        require_field("bpf_kprobe_opts", "no_such_field", "attach_kprobe option x")


def test_nodes_of_functions() -> None:
    assert node_of_function("bpf_program__attach_tcx") == "LIBBPF_1.3.0"
    assert node_of_function("ring_buffer__consume_n") == "LIBBPF_1.5.0"
    # exported under 0.7.0, hidden until 1.4: the node is libbpf.map's
    assert node_of_function("libbpf_set_memlock_rlim") == "LIBBPF_0.7.0"
    # deliberately undeclared, still libbpf API
    assert node_of_function("libbpf_set_print") == "LIBBPF_0.0.1"


def test_struct_member_parser() -> None:
    text = """
struct a {
    int x;
    char name[...];
    int (*fn)(void *, int);
    struct {                                // @LIBBPF_1.3.0
        int y; int z;                       // @LIBBPF_1.3.0
    } nested;                               // @LIBBPF_1.3.0
    union { struct { int p; } one; int two; };
    unsigned bits : 3;
    ...;
};
@LIBBPF_1.4.0
struct b { int only; };
"""
    assert _cdefs._struct_fields(text) == {
        ("a", "x"): "LIBBPF_1.0.0", ("a", "name"): "LIBBPF_1.0.0",
        ("a", "fn"): "LIBBPF_1.0.0", ("a", "nested"): "LIBBPF_1.3.0",
        ("a", "one"): "LIBBPF_1.0.0", ("a", "two"): "LIBBPF_1.0.0",
        ("a", "bits"): "LIBBPF_1.0.0", ("b", "only"): "LIBBPF_1.4.0",
    }
    with pytest.raises(ValueError, match="declares x twice"):
        _cdefs._struct_fields("struct c { int x; long x; };")
    with pytest.raises(ValueError, match="unterminated struct d"):
        _cdefs._struct_fields("struct d { int x;")


def test_features_name_declared_things() -> None:
    """Every registered feature's functions and fields are in the declarations, and
    nothing is registered for an API no wrapper calls."""
    for feature in libbpf_py.features.registered.values():
        for func in feature.functions:
            node_of_function(func)
        for struct, field in feature.fields:
            node_of_field(struct, field)
    assert "token" not in libbpf_py.features.registered
    assert "link.update_map" not in libbpf_py.features.registered


@pytest.mark.build(header_max=(1, 3))
def test_require_names_a_missing_fields_node() -> None:
    with pytest.raises(libbpf_py.LibbpfVersionError,
                       match=r"bpf_object_open_opts\.bpf_token_path needs libbpf >= 1\.4 "
                             r"\(version node LIBBPF_1\.4\.0\)"):
        libbpf_py.features.require("open.bpf_token_path")
