"""Generated skeletons of hostile objects: names from the ELF and BTF become source text.

Section, file, map and type names are whatever the object says. The generated
module must compile, run nothing but its own definitions at import, and bind every
name to its own map or variable; a name it cannot represent is a clear error at
generation time. The objects are compiled here from small C sources (no kernel needed:
``generate`` only opens them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import types
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

from libbpf_py.gen import generate

CLANG = shutil.which("clang")
pytestmark = pytest.mark.skipif(CLANG is None, reason="clang is needed to compile BPF C")

PROLOGUE = """\
#define SEC(n) __attribute__((section(n), used))
char _license[] SEC("license") = "GPL";
"""
PROG = """
SEC("tracepoint/syscalls/sys_enter_getpid")
int handle(void *ctx) { return 0; }
"""


def compile_c(tmp_path: Path, body: str, name: str = "hostile") -> Path:
    src = tmp_path / f"{name}.bpf.c"
    src.write_text(PROLOGUE + body + PROG)
    out = tmp_path / f"{name}.bpf.o"
    assert CLANG is not None
    subprocess.run([CLANG, "-g", "-O2", "-target", "bpf", "-c", str(src), "-o", str(out)],
                   check=True, capture_output=True)
    return out


def run_module(text: str) -> Any:
    """Compile and execute the generated text as a module (what import does)."""
    module = types.ModuleType("hostile_skel")
    exec(compile(text, "hostile_skel.py", "exec"), module.__dict__)
    return module


def test_section_name_cannot_end_the_docstring(tmp_path: Path) -> None:
    # the section name is quoted into a docstring: three quotes in it used to end
    # the docstring, and the rest of the name ran at import
    marker = tmp_path / "PWNED"
    payload = f'__import__(\\"os\\").mkdir(\\"{marker}\\")#'
    obj = compile_c(tmp_path, f'int counter SEC(".data.x\\"\\"\\";{payload}") = 1;\n')
    text = generate(obj, keep_debug=True)
    module = run_module(text)
    assert not marker.exists(), "the generated module ran code from a section name"
    (sec,) = module.SPEC.sections
    assert sec.map_name.startswith('.data.x""";__import__')
    assert sec.map_name in sec.cls.__doc__
    assert sec.variables == {"counter": "counter"}


@pytest.mark.parametrize("filename", ['a"""b.bpf.o', "a\\N{b}\\x.bpf.o", "a\nb.bpf.o",
                                      'x""";import os#.bpf.o', "caf\u00e9\udcff.bpf.o"])
def test_file_name_is_escaped_in_the_docstrings(tmp_path: Path, filename: str) -> None:
    obj = compile_c(tmp_path, "int counter SEC(\".data\") = 1;\n")
    path = tmp_path / filename
    shutil.copyfile(obj, path)
    module = run_module(generate(path, keep_debug=True))
    # (a name that is not UTF-8 is shown with its bytes escaped)
    shown = filename.encode("utf-8", "backslashreplace").decode("utf-8")
    assert shown in module.__doc__
    cls = getattr(module, module.__all__[0])
    assert shown in cls.__doc__


MAP_NAMED_BSS = """
struct { int (*type)[2]; int (*max_entries)[1]; int *key; int *value; } bss SEC(".maps");
int counter;
"""


@pytest.mark.parametrize("body, first, second", [
    ('int first SEC(".data.a-b") = 1;\nint second SEC(".data.a_b") = 2;\n',
     ".data.a-b", ".data.a_b"),
    (MAP_NAMED_BSS, "bss", ".bss"),
    # Python reads the ligature \ufb01 in an identifier as "fi" (NFKC)
    ('int first SEC(".data.\\xef\\xac\\x81") = 1;\nint second SEC(".data.fi") = 2;\n',
     ".data.\ufb01", ".data.fi"),
])
def test_two_maps_under_one_skeleton_name_are_refused(tmp_path: Path, body: str,
                                                      first: str, second: str) -> None:
    # one of the two used to be unreachable: skel.data_a_b showed .data.a_b only, and
    # "first" was neither a field there nor anywhere else
    from libbpf_py import Skeleton

    obj = compile_c(tmp_path, body)
    for make in (lambda: generate(obj, keep_debug=True), lambda: Skeleton.open(obj)):
        with pytest.raises(ValueError, match="both become the skeleton name") as info:
            make()
        # (an internal map's name is "<object>.bss": its section name is in it)
        assert first in str(info.value) and second in str(info.value), info.value


def _fields_by_c_name(runtime: Any, module: Any, var: str) -> List[Tuple[Any, Dict[str, Any],
                                                                         bytes]]:
    """(record class, {C member name: value}, the record's bytes) of the data variable
    ``var``, through the runtime Skeleton and through the generated module's."""
    out = []
    for skel in (runtime, module.open()):
        with skel:
            value = getattr(skel.data, var)
            cls = type(value)
            out.append((cls, {cls._btf_cnames_[n]: getattr(value, n) for n in cls._btf_names_},
                        bytes(value)))
    return out


def test_names_python_cannot_spell_or_reads_as_one(tmp_path: Path) -> None:
    # "\u00bd" (one half) is alphanumeric but no identifier character: the generated
    # module was a SyntaxError ("class T_s\u00bd"); "m\ufb01" (a ligature) and "mfi" are
    # one identifier to Python (NFKC): a bitfield property or class written under
    # both names in the generated source binds one of them only
    obj = compile_c(tmp_path, "struct sQQ { int mQQQ; int mfi; int bfQ1 : 3; int bfQ2 : 5; };\n"
                              "struct sQQ valQ = {1, 2, 3, 4};\n"
                              "SEC(\"tracepoint/syscalls/sys_enter_getppid\")\n"
                              "int use(void *ctx) { return valQ.mQQQ; }\n")
    data = obj.read_bytes()
    for old, new in ((b"mQQQ", "m\ufb01"), (b"sQQ", "s\u00bd"), (b"bfQ1", "b\u00bd1")):
        assert len(new.encode()) == len(old) and old in data
        data = data.replace(old, new.encode())
    patched = tmp_path / "names.bpf.o"
    patched.write_bytes(data)
    want = {"m\ufb01": 1, "mfi": 2, "b\u00bd1": 3, "bfQ2": 4}

    from libbpf_py import Skeleton

    module = run_module(generate(patched, keep_debug=True))
    for cls, got, _ in _fields_by_c_name(Skeleton.open(patched), module, "valQ"):
        assert got == want
        assert all(n.isidentifier() for n in cls._btf_names_)


def test_members_named_like_what_the_class_needs(tmp_path: Path) -> None:
    # members named _fields_, __class__ or __init__ (bitfield) made the whole variable
    # vanish ("data has no field 'val'"), _btf_names_ raised TypeError, from_buffer_copy
    # hid the method copies use; a struct named __all__ replaced the generated
    # module's __all__. Such members get a suffix; their C names stay in _btf_cnames_.
    obj = compile_c(tmp_path, "struct __all__ { int _fields_; int __class__; "
                              "int from_buffer_copy; int _asdict; int __init__ : 3; "
                              "int _btf_names_ : 5; };\n"
                              "struct __all__ val = {1, 2, 3, 4, 3, 5};\n"
                              "SEC(\"tracepoint/syscalls/sys_enter_getppid\")\n"
                              "int use(void *ctx) { return val._fields_; }\n")
    want = {"_fields_": 1, "__class__": 2, "from_buffer_copy": 3, "_asdict": 4,
            "__init__": 3, "_btf_names_": 5}

    from libbpf_py import Skeleton

    module = run_module(generate(obj, keep_debug=True))
    assert module.__all__ == ["HostileBpf", "open"]
    for cls, got, raw in _fields_by_c_name(Skeleton.open(obj), module, "val"):
        assert got == want
        assert bytes(cls.from_buffer_copy(raw)) == raw


def test_written_module_is_utf8_whatever_the_locale(tmp_path: Path) -> None:
    # Python source is UTF-8; the module was written in the locale's encoding, so under
    # LC_ALL=C without UTF-8 mode a non-ASCII member name failed ('ascii' codec)
    obj = compile_c(tmp_path, "struct s { int caQ; };\nstruct s val = {5};\n")
    patched = tmp_path / "acc.bpf.o"
    patched.write_bytes(obj.read_bytes().replace(b"caQ", "c\u00e9".encode()))
    out = tmp_path / "acc_skel.py"
    env = {**os.environ, "LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": ""}
    proc = subprocess.run([sys.executable, "-m", "libbpf_py", "gen", "skeleton", str(patched),
                           "-o", str(out), "--keep-debug"], capture_output=True, text=True,
                          env=env, cwd=tmp_path)  # (the package under test, not the checkout)
    assert proc.returncode == 0, proc.stderr
    module = run_module(out.read_bytes().decode("utf-8"))
    with module.open() as skel:
        value = skel.data.val
        assert type(value)._btf_cnames_ == {"c\u00e9": "c\u00e9"}
        assert value._asdict() == {"c\u00e9": 5}
