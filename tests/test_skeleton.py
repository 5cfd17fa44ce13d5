"""Skeletons on the real kernel: the runtime Skeleton and generated modules, side by side.

tests/bpf/skel.bpf.c counts this process's getpid()/getppid() calls into .bss,
filtered by a .rodata knob set before load, and copies a struct with
bitfields, anonymous members, keyword names, nested arrays and an enum from
.data to .bss, so the kernel itself checks what Python wrote and Python
decodes what the kernel wrote.
"""

from __future__ import annotations

import ctypes
import gc
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import weakref
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

import pytest
from conftest import Compile

import libbpf_py
from libbpf_py import BpfObject, Skeleton
from libbpf_py.errors import AlreadyLoadedError, ClosedError, LibbpfError, NotLoadedError
from libbpf_py.gen import generate, strip_tool
from libbpf_py.object import kept_object_name
from libbpf_py.skeleton import ReadOnlyError, describe, object_name_for

pytestmark = pytest.mark.kernel
TESTS = Path(__file__).resolve().parent
MYPY_CACHE = TESTS / ".cache" / "mypy"


@pytest.fixture
def skel_o(kernel: None, compile_bpf: Compile) -> Path:
    return compile_bpf("skel")


@pytest.fixture
def generated(skel_o: Path, tmp_path: Path,
              import_generated: Callable[[Path, str], Any]) -> Any:
    out = tmp_path / "skel_skel.py"
    out.write_text(generate(skel_o))
    return import_generated(out, "gen")


@pytest.fixture(params=["runtime", "generated"])
def open_skel(request: pytest.FixtureRequest, skel_o: Path) -> Callable[..., Skeleton]:
    """Both forms behind one opener: Skeleton.open(path) and the generated module's open()."""
    if request.param == "runtime":
        return lambda **kw: Skeleton.open(skel_o, **kw)
    module = request.getfixturevalue("generated")
    return lambda **kw: module.open(**kw)  # type: ignore[no-any-return]


def _calls(fn: Callable[[], int], n: int) -> None:
    for _ in range(n):
        fn()


# -- the flow: knob before load, counters through mmap, attach and detach ------------------

def test_knob_counter_attach_detach(open_skel: Callable[..., Skeleton]) -> None:
    pid = os.getpid()
    with open_skel() as skel:
        assert list(skel.progs) == ["count_getpid", "count_getppid"]
        assert skel.rodata.target_pid == 0 and skel.rodata.step == 1  # the ELF's image
        skel.rodata.target_pid = pid
        skel.rodata.step = 3
        skel.data.lambda_ = 77                     # keyword-named variable
        skel.rodata.ro_layout.lo = 9               # a bitfield sharing a byte with 'kind'
        skel.data.init.grid[1][2] = 100            # nested array
        skel.data.init.x = 300                     # member of an anonymous struct
        skel.load()
        assert skel.loaded and skel.rodata.target_pid == pid and skel.rodata.step == 3
        assert all(link is None for link in skel.links.values())
        with pytest.raises(AlreadyLoadedError):
            skel.maps.kver.max_entries = 2
        skel.attach()
        assert all(skel.links[p] is not None for p in skel.progs)
        link = skel.links["count_getpid"]
        assert link is not None and link.info()["prog_id"] == skel.progs.count_getpid.id
        before = skel.bss.counter
        _calls(os.getpid, 5)
        _calls(os.getppid, 2)
        assert skel.bss.counter - before == 15     # step 3, read from the mmap'd .bss
        assert skel.bss.ppid_calls == 2
        assert skel.var("counter") == skel.bss.counter
        seen = skel.bss.seen                       # the kernel's copy of .data's init
        assert (seen.kind, seen.lo, seen.hi, seen.neg, seen.big) == (1, 9, 4095, -3, 77)
        assert (seen.as_u32, list(seen.as_bytes), seen.x, seen.y) == \
            (0x01020304, [4, 3, 2, 1], 300, 8)
        assert (seen.class_, seen.shade, seen.tail) == (42, -2, 99)
        assert [list(r) for r in seen.grid] == [[1, -2, 3], [-4, 5, 100]]
        assert skel.var("seen")["grid"] == [[1, -2, 3], [-4, 5, 100]]
        assert skel.data_custom.custom_hits == 11 + 5 * (12 + 1 + 5)  # static vars count too
        assert skel.kconfig.LINUX_KERNEL_VERSION > 0
        assert skel.maps.kver[0] == skel.kconfig.LINUX_KERNEL_VERSION
        skel.detach()
        assert all(link is None for link in skel.links.values())
        assert link.closed
        n = skel.bss.counter
        _calls(os.getpid, 3)
        assert skel.bss.counter == n               # nothing attached any more
        skel.attach()                              # attach again after detach
        _calls(os.getpid, 1)
        assert skel.bss.counter == n + 3
    assert skel.closed


def test_bss_write_is_seen_by_the_kernel(open_skel: Callable[..., Skeleton]) -> None:
    with open_skel() as skel:
        skel.rodata.target_pid = os.getpid()
        skel.load()
        skel.bss.counter = 1000                    # a plain store into the mapping
        skel.attach()
        os.getpid()
        assert skel.bss.counter == 1001
        assert skel.maps.bss[0].counter == 1001    # the same memory, through a syscall
        skel.set_var("counter", 5)
        os.getpid()
        assert skel.var("counter") == 6


def test_one_link_destroyed_by_hand(open_skel: Callable[..., Skeleton]) -> None:
    with open_skel() as skel:
        skel.rodata.target_pid = os.getpid()
        skel.load()
        skel.attach()
        link = skel.links.count_getpid
        assert link is not None
        link.destroy()
        link.destroy()
        n = skel.bss.counter
        os.getpid()
        assert skel.bss.counter == n
        skel.detach()                              # no double free of the emptied slot
        assert skel.links.count_getpid is None


# -- read-only and lifetime --------------------------------------------------------------

def test_rodata_is_read_only_after_load(open_skel: Callable[..., Skeleton]) -> None:
    with open_skel() as skel:
        early = skel.bss
        with pytest.raises(ReadOnlyError, match="kconfig"):
            skel.kconfig.LINUX_KERNEL_VERSION = 1
        skel.load()
        for write in (lambda: setattr(skel.rodata, "step", 2),
                      lambda: setattr(skel.rodata.ro_layout, "kind", 2),
                      lambda: setattr(skel.rodata.ro_layout, "lo", 2),     # property bitfield
                      lambda: setattr(skel.rodata.ro_layout, "neg", 2),    # ctypes bitfield
                      lambda: skel.rodata.ro_layout.grid[0].__setitem__(0, 2),
                      lambda: setattr(skel.rodata_custom, "custom_knob", 2),
                      lambda: skel.set_var("step", 2)):
            with pytest.raises(ReadOnlyError, match="read-only after load"):
                write()
        assert skel.rodata.step == 1 and skel.var("custom_knob") == 12
        with pytest.raises(ReadOnlyError, match="pre-load image"):
            early.counter = 1                      # a view kept from before load


def test_use_after_destroy(open_skel: Callable[..., Skeleton]) -> None:
    skel = open_skel()
    skel.load()
    bss, kver = skel.bss, skel.maps.kver
    skel.destroy()
    skel.destroy()                                 # idempotent
    assert skel.closed and repr(skel) == "<Skeleton destroyed>"
    for use in (lambda: skel.bss, lambda: skel.load(), lambda: skel.attach(),
                lambda: skel.detach(), lambda: skel.var("counter"), lambda: kver.fd,
                lambda: skel.obj):
        with pytest.raises(ClosedError):
            use()
    with pytest.raises(ClosedError):
        bss.counter = 1                            # the view's own mapping stays valid
    assert bss.counter == 0
    other = open_skel()
    other.obj.close()                              # closing the object destroys the skeleton
    assert other.closed
    with pytest.raises(ClosedError):
        other.rodata  # noqa: B018


def test_char_array_rows_obey_the_read_only_mark(open_skel: Callable[..., Skeleton]) -> None:
    """A row of a 2-D char array (``char names[2][4]``) is a ctypes char array object
    of its own. array_type() left char arrays plain ctypes, so such a row took writes
    past every guard: into the .rodata snapshot after load (silently lost), and into
    the orphaned .bss map of a destroyed skeleton."""
    skel = open_skel()
    early = skel.bss.names[0]
    skel.load()
    with pytest.raises(ReadOnlyError, match="pre-load image"):
        early[0] = b"x"                            # a row kept from before load
    row = skel.rodata.ro_names[0]
    assert bytes(row) == b"ab\0\0"
    for write in (lambda: row.__setitem__(0, b"z"), lambda: setattr(row, "value", b"zz"),
                  lambda: setattr(row, "raw", b"zzzz"),
                  lambda: skel.rodata.ro_names.__setitem__(1, b"zz")):
        with pytest.raises(ReadOnlyError, match="read-only after load"):
            write()
    assert bytes(skel.rodata.ro_names[0]) == b"ab\0\0"
    live = skel.bss.names[1]
    live.value = b"ok"                             # a live section: the write lands
    live[2] = b"!"
    assert bytes(skel.bss.names[1]) == b"ok!\0"
    skel.destroy()
    for write in (lambda: live.__setitem__(0, b"x"), lambda: setattr(live, "value", b"x")):
        with pytest.raises(ClosedError):
            write()
    assert bytes(live) == b"ok!\0"


_DESTROY_MID_READ_CHILD = r"""
import sys
from libbpf_py import Skeleton
from libbpf_py.errors import ClosedError
skel = Skeleton.open(sys.argv[1])
skel.load()
if sys.argv[2] == "var":
    # destroy() in another thread once var() has checked the skeleton: here, as the
    # first thing its section read does
    sections, read = skel._sections, skel._sections.view
    def view(ident):
        skel.destroy()
        return read(ident)
    sections.view = view
    use = lambda: skel.var("counter")
else:
    # ... once skel.bss (not cached yet) has checked the skeleton and enters its guard
    guard = skel._guard
    class Entering:
        def enter(self):
            skel.destroy()
            guard.enter()
        def leave(self):
            guard.leave()
    skel.__dict__["_guard"] = Entering()
    use = lambda: skel.bss.counter
try:
    print("read", use())
except ClosedError:
    print("ClosedError")
"""


@pytest.mark.parametrize("use", ["var", "section"])
def test_destroy_during_a_section_read(skel_o: Path, use: str) -> None:
    """Skeleton.var() / set_var() were not guarded, and ``skel.bss`` (first access)
    checked for destroy() before it entered the guard: a destroy() in another thread
    in between freed the skeleton at once, and the read went on into the freed
    ``struct bpf_map`` (SIGSEGV with MALLOC_PERTURB_, or the fd of a closed map,
    whose number may name another map by then)."""
    proc = subprocess.run([sys.executable, "-c", _DESTROY_MID_READ_CHILD, str(skel_o), use],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "MALLOC_PERTURB_": "165"})
    assert proc.returncode == 0, f"signal {-proc.returncode}: {proc.stderr[-2000:]}"
    assert proc.stdout == "ClosedError\n", proc.stdout


def test_view_keeps_its_skeleton_alive(open_skel: Callable[..., Skeleton]) -> None:
    """A section view is the only reference left to a loaded, attached skeleton (no
    destroy()): the skeleton stays alive, so a write through the view lands in the map
    the attached program uses. The code before the fix let the garbage collector
    destroy the skeleton under the view, whose own mapping kept the orphaned map: the
    write succeeded and no program ever saw it."""
    skel = open_skel()
    skel.rodata.target_pid = os.getpid()
    skel.load()
    skel.attach()
    bss = skel.bss
    alive = weakref.ref(skel)
    del skel
    gc.collect()
    bss.counter = 1000
    os.getpid()
    assert bss.counter == 1001                     # the program still counts into it
    seen = bss.seen                                # a nested view holds it as well
    del bss
    gc.collect()
    seen.tail = 5
    os.getpid()
    assert seen.tail == 99                         # the program copied .data's init over it
    kept = alive()
    assert kept is not None and kept.loaded
    del kept, seen
    gc.collect()
    assert alive() is None                         # the views gone, the skeleton goes too


def test_misspelt_attribute_raises(open_skel: Callable[..., Skeleton], skel_o: Path) -> None:
    """Skeleton has a __dict__ (its section views are cached there): a misspelt name
    (``skel.bsss = ...``) was stored in it without a word, and ``skel.bss = ...`` hid
    the section, so later reads never reached the map."""
    with open_skel() as skel:
        with pytest.raises(AttributeError, match="'bsss' to set; did you mean 'bss'"):
            skel.bsss = 1  # type: ignore[attr-defined]
        rodata = skel.rodata
        with pytest.raises(AttributeError, match=r"section 'rodata' .* cannot be replaced"):
            skel.rodata = bytes(8)  # type: ignore[attr-defined]
        with pytest.raises(AttributeError, match="_destoryed"):
            skel._destoryed = True  # type: ignore[attr-defined]
        with pytest.raises(AttributeError, match="autoload_all"):
            skel.obj.autoload_all = False  # type: ignore[attr-defined]
        assert not {"bsss", "_destoryed"} & set(vars(skel)) and skel.rodata is rodata
        skel.rodata.step = 2
        skel.load()
        assert skel.rodata.step == 2
        view = skel.bss
        with pytest.raises(AttributeError, match="cannot be replaced"):
            skel.bss = view  # type: ignore[attr-defined]
        assert skel.bss is view

    class Mine(Skeleton):  # a user's subclass declares what it adds
        note: str
        count = 0

    with Mine.open(skel_o) as mine:
        assert isinstance(mine, Mine)
        mine.note = "mine"
        mine.count = 1
        with pytest.raises(AttributeError, match="'extra' to set"):
            mine.extra = 1  # type: ignore[attr-defined]
        assert mine.note == "mine" and mine.count == 1 and mine.sections


def test_bad_inputs(skel_o: Path, generated: Any) -> None:
    with pytest.raises(ValueError, match="empty"):
        Skeleton.open(b"")
    with pytest.raises(LibbpfError):
        Skeleton.open(b"\x7fELF not really an object at all")
    with pytest.raises(TypeError, match="unknown open option 'colour'"):
        Skeleton.open(skel_o, colour="red")
    with pytest.raises(TypeError, match="name is fixed"):
        generated.open(name="other")
    with pytest.raises(TypeError, match=r"Skeleton.open"):
        Skeleton()
    with Skeleton.open(skel_o) as skel:
        with pytest.raises(TypeError):
            skel.rodata.step = "three"
        with pytest.raises(ValueError, match="does not fit"):
            skel.data.init.lo = 16                 # 4-bit bitfield
        with pytest.raises(ValueError, match="needs 3 values"):
            skel.data.init.grid = [[1, 2, 3], [1, 2]]
        with pytest.raises(KeyError, match="no global variable named 'nope'"):
            skel.var("nope")
        with pytest.raises(KeyError, match="'countre' in a data section; did you mean 'counter'"):
            skel.set_var("countre", 1)             # a misspelt name suggests the close one
        with pytest.raises(AttributeError):
            skel.rodata.nope  # noqa: B018
        with pytest.raises(NotLoadedError):
            skel.attach()
        skel.set_var("init", {"kind": 4, "lo": 3, "grid": [[0, 0, 1], [0, 0, 2]]})
        assert skel.var("init")["lo"] == 3 and skel.data.init.grid[1][2] == 2
        assert skel.data.init.tail == 0            # assigning a dict rebuilds the record
    with Skeleton.open(skel_o.read_bytes()) as mem:  # from bytes: bpftool has no file name
        assert mem.name == "skeleton" and mem.maps.bss.name == "skeleton.bss"


# -- by name on a plain BpfObject --------------------------------------------------------

def test_object_var_of_a_skeleton_agrees_with_its_sections(skel_o: Path) -> None:
    """``skel.obj.var()`` / ``set_var()`` worked on sections of their own, apart from the
    skeleton's: before load they disagreed with ``skel.var()``, and load() wrote the
    skeleton's changed view over the image, so ``skel.obj.set_var("step", 9)`` made
    beside ``skel.rodata.target_pid = 5`` was silently lost."""
    with Skeleton.open(skel_o) as skel:
        skel.rodata.target_pid = 5
        skel.obj.set_var("step", 9)
        assert skel.var("step") == skel.obj.var("step") == 9
        assert skel.obj.var("target_pid") == 5
        skel.load()
        assert (skel.rodata.step, skel.rodata.target_pid) == (9, 5)
        assert skel.obj.var("step") == 9
        skel.obj.set_var("counter", 3)
        assert skel.bss.counter == 3


def test_initial_value_set_after_a_view_change_is_kept(skel_o: Path) -> None:
    """``skel.maps.rodata.initial_value = image`` after a write through ``skel.rodata``:
    the view still showed the old image, and load() wrote it (changed, so flushed)
    over the new one, silently dropping it. The view is retired instead: the section
    reads the new image, a write through the old view raises."""
    with Skeleton.open(skel_o) as skel:
        old = skel.rodata
        old.target_pid = 5
        image = bytearray(bytes(old))
        at = type(old).step.offset
        image[at:at + 8] = (9).to_bytes(8, "little")
        skel.maps.rodata.initial_value = bytes(image)
        assert (skel.rodata.step, skel.rodata.target_pid) == (9, 5)
        with pytest.raises(ReadOnlyError, match="initial_value"):
            old.step = 2
        skel.rodata.target_pid = 6                 # the new view flushes as any does
        skel.load()
        assert (skel.rodata.step, skel.rodata.target_pid) == (9, 6)


def test_object_var_by_name(skel_o: Path) -> None:
    with BpfObject.open(skel_o) as obj:
        assert obj.var("target_pid") == 0 and obj.var("lambda") == 3
        obj.set_var("target_pid", os.getpid())
        assert obj.var("target_pid") == os.getpid()
        rodata = next(m for n, m in obj.maps.items() if n.endswith(".rodata"))
        assert int.from_bytes(rodata.initial_value[:4], "little") == os.getpid()
        obj.load()
        link = obj.programs.count_getpid.attach()
        try:
            os.getpid()
            assert obj.var("counter") == 1
            obj.set_var("counter", 40)             # straight into the map's memory
            os.getpid()
            assert obj.var("counter") == 41
            with pytest.raises(ReadOnlyError):
                obj.set_var("step", 9)
            assert obj.var("init")["class_"] == 42  # dicts use the Python names
        finally:
            link.destroy()
    with pytest.raises(ClosedError):
        obj.var("counter")


def test_close_releases_var_mappings_at_once(skel_o: Path) -> None:
    """``obj.var()`` after load maps the section (Python's mmap holds a dup of the map
    fd, and with it the map). close() / destroy() left that mapping to the object, so
    it stayed, one fd and the .bss map in the kernel per closed object, until the
    object itself was collected: with the garbage collector (the object sits in
    reference cycles), or never while the caller still held it."""
    def fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    before = fds()
    obj = BpfObject.open(skel_o)
    skel = Skeleton.open(skel_o)
    obj.load()
    skel.load()
    assert obj.var("counter") == 0 and skel.obj.var("counter") == 0
    obj.close()
    skel.destroy()
    assert fds() == before                         # both objects still referenced here
    with pytest.raises(ClosedError):
        obj.var("counter")


# -- the generated module ----------------------------------------------------------------

USAGE = """\
from __future__ import annotations
from typing import Optional
import libbpf_py
import {mod} as gen

def use() -> int:
    with gen.open() as skel:
        skel.rodata.target_pid = 1
        skel.data.init.class_ = 2
        skel.data.init.lo = 3
        m: libbpf_py.Map = skel.maps.kver
        p: libbpf_py.Program = skel.progs.count_getppid
        link: Optional[libbpf_py.Link] = skel.links.count_getpid
        x: int = skel.bss.seen.x + skel.bss.seen.as_u32 + skel.kconfig.LINUX_KERNEL_VERSION
        del m, p, link
        return x + skel.bss.counter
"""


def _mypy(tmp_path: Path, *files: Path) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "mypy.ini"
    config.write_text("[mypy]\nstrict = True\n\n[mypy-libbpf_py._libbpf]\n"
                      "ignore_missing_imports = True\n")
    env = dict(os.environ)
    package_root = str(Path(libbpf_py.__file__).resolve().parent.parent)
    import site

    # an editable install (or a checkout): mypy needs the path; an installed copy is
    # found in site-packages / dist-packages, which mypy refuses to see in MYPYPATH
    if package_root not in site.getsitepackages():
        env["MYPYPATH"] = package_root
    MYPY_CACHE.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(config), "--cache-dir",
         str(MYPY_CACHE), "--no-error-summary", *map(str, files)],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)


def test_generated_module_passes_mypy_strict(skel_o: Path, tmp_path: Path) -> None:
    mod = tmp_path / "skel_skel.py"
    mod.write_text(generate(skel_o))
    good = tmp_path / "use_good.py"
    good.write_text(USAGE.format(mod="skel_skel"))
    proc = _mypy(tmp_path, mod, good)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    bad = tmp_path / "use_bad.py"
    bad.write_text(USAGE.format(mod="skel_skel").replace(
        "        del m, p, link\n",
        "        del m, p, link\n        s: str = skel.bss.seen.class_\n"
        "        q: int = skel.progs.count_getpid\n        skel.links.count_getpid.fd\n"))
    proc = _mypy(tmp_path, mod, bad)
    assert proc.returncode == 1
    out = proc.stdout
    assert 'expression has type "int", variable has type "str"' in out, out
    assert 'expression has type "Program", variable has type "int"' in out, out
    # mypy < 1.x spells the optional "Optional[Link]", later ones "Link | None"
    assert re.search(r'Item "None" of "(Link \| None|Optional\[Link\])" has no '
                     r'attribute "fd"', out), out


def test_gen_cli(skel_o: Path, tmp_path: Path,
                 import_generated: Callable[[Path, str], Any]) -> None:
    out = tmp_path / "named.py"
    proc = subprocess.run([sys.executable, "-m", "libbpf_py", "gen", "skeleton", str(skel_o),
                           "-o", str(out), "--name", "named"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    module = import_generated(out, "cli")
    assert module.__all__ == ["Named", "open"]
    with module.open() as skel:
        assert type(skel).__name__ == "Named" and skel.name == "named"
        assert skel.maps.rodata.name == "named.rodata"
    proc = subprocess.run([sys.executable, "-m", "libbpf_py", "gen", "skeleton",
                           str(tmp_path / "missing.o")], capture_output=True, text=True)
    assert proc.returncode == 1 and "missing.o" in proc.stderr


# -- the embedded object: DWARF stripped, BTF kept (issue 16) ----------------------------

def _sections(data: bytes) -> List[str]:
    from elftools.elf.elffile import ELFFile  # type: ignore[import-untyped,unused-ignore]

    return [sec.name for sec in ELFFile(io.BytesIO(data)).iter_sections()]


def test_generated_object_is_stripped_of_dwarf(skel_o: Path, tmp_path: Path,
                                               import_generated: Callable[[Path, str], Any]
                                               ) -> None:
    original = skel_o.read_bytes()
    assert ".debug_info" in _sections(original)          # conftest compiles with -g
    out = tmp_path / "skel_skel.py"
    out.write_text(generate(skel_o))
    module = import_generated(out, "stripped")
    names = _sections(module.ELF)
    assert not [n for n in names if n.startswith((".debug_", ".rel.debug_"))], names
    assert ".BTF" in names and ".BTF.ext" in names
    assert len(module.ELF) < len(original)
    assert (f"DWARF stripped by llvm-strip -g ({len(original)} -> {len(module.ELF)} bytes), "
            ".BTF and .BTF.ext kept") in module.__doc__
    assert hashlib.sha256(original).hexdigest() in module.__doc__  # the file's, as given
    # the stripped object loads, attaches and counts; its .BTF.ext still gives the
    # verifier the source lines (what -g is kept for in a BPF object)
    with module.open(kernel_log_level=2, kernel_log_size=1 << 22) as skel:
        skel.rodata.target_pid = os.getpid()
        skel.load()
        assert "@ skel.bpf.c:" in skel.obj.kernel_log
        skel.attach()
        _calls(os.getpid, 3)
        assert skel.bss.counter == 3

    full = tmp_path / "skel_full.py"
    full.write_text(generate(skel_o, keep_debug=True))
    kept = import_generated(full, "kept")
    assert kept.ELF == original and ".debug_info" in _sections(kept.ELF)
    assert f"debug info kept (keep_debug); {len(original)} bytes" in kept.__doc__
    with kept.open() as skel:
        skel.load()


def test_gen_without_a_strip_tool_says_so(skel_o: Path, tmp_path: Path,
                                          import_generated: Callable[[Path, str], Any]) -> None:
    out = tmp_path / "plain.py"
    env = dict(os.environ, PATH=str(tmp_path / "empty"))  # no llvm-strip, no llvm-objcopy
    proc = subprocess.run([sys.executable, "-m", "libbpf_py", "gen", "skeleton", str(skel_o),
                           "-o", str(out)], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "UserWarning: gen skeleton: skel.bpf.o: the embedded object keeps its debug info" \
        in proc.stderr and "no llvm-strip or llvm-objcopy on PATH" in proc.stderr
    module = import_generated(out, "plain")
    assert module.ELF == skel_o.read_bytes()
    assert "Embedded object: NOT stripped, no llvm-strip or llvm-objcopy on PATH" \
        in module.__doc__
    proc = subprocess.run([sys.executable, "-W", "error", "-m", "libbpf_py", "gen", "skeleton",
                           str(skel_o), "--keep-debug"], capture_output=True, text=True,
                          env=env)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr  # asked for: no warning
    assert "debug info kept (keep_debug)" in proc.stdout


def test_strip_tool_is_llvm_and_falls_back(skel_o: Path, tmp_path: Path) -> None:
    tool = strip_tool()
    assert tool is not None, "the llvm package gives llvm-strip"
    assert os.path.basename(tool[0]).startswith(("llvm-strip", "llvm-objcopy"))
    # Debian installs llvm-strip-NN / llvm-objcopy-NN; the unversioned names are the
    # llvm package's symlinks: each real binary, alone on PATH, is found and used
    where = Path(tool[0]).parent
    versioned = sorted(p.name for p in where.glob("llvm-*-[0-9]*")
                       if re.fullmatch(r"llvm-(strip|objcopy)-\d+", p.name))
    assert versioned, f"no llvm-strip-NN / llvm-objcopy-NN in {where}"
    for name in versioned:
        only = tmp_path / name / "bin"
        only.mkdir(parents=True)
        (only / name).symlink_to((where / name).resolve())
        flag = "-g" if "strip" in name else "--strip-debug"
        proc = subprocess.run([sys.executable, "-W", "error", "-m", "libbpf_py", "gen",
                               "skeleton", str(skel_o)], capture_output=True, text=True,
                              env=dict(os.environ, PATH=str(only)))
        assert proc.returncode == 0, proc.stderr
        assert f"Embedded object: DWARF stripped by {name} {flag} (" in proc.stdout, name


# -- mypy knows every map, program and link: a misspelt one is an error (issue 16) --------

TYPOS = """\
from __future__ import annotations
from typing import Optional
import libbpf_py
import {mod} as gen

def use() -> None:
    with gen.open() as skel:
        m: libbpf_py.Map = skel.maps.kver
        m = skel.maps.kvre
        p: libbpf_py.Program = skel.progs.count_getppid
        p = skel.progs.count_getpdi
        link: Optional[libbpf_py.Link] = skel.links.count_getpid
        link = skel.links.count_getpdi
        del m, p, link
"""


def test_mypy_flags_misspelt_map_and_program_names(skel_o: Path, tmp_path: Path,
                                                   import_generated: Callable[[Path, str], Any]
                                                   ) -> None:
    mod = tmp_path / "typo_skel.py"
    mod.write_text(generate(skel_o))
    use = tmp_path / "use_typos.py"
    use.write_text(TYPOS.format(mod="typo_skel"))
    proc = _mypy(tmp_path, mod, use)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    errors = [ln for ln in proc.stdout.splitlines() if ": error:" in ln]
    lines = TYPOS.splitlines()
    flagged = {int(ln.split(":")[1]) for ln in errors}
    typo_lines = {i for i, ln in enumerate(lines, 1)
                  if any(t in ln for t in ("kvre", "count_getpdi"))}
    assert flagged == typo_lines, proc.stdout             # the correct names are not
    assert all("[attr-defined]" in ln and ln.startswith("use_typos.py:") for ln in errors), \
        proc.stdout
    assert '"Maps" has no attribute "kvre"' in proc.stdout
    assert '"Progs" has no attribute "count_getpdi"' in proc.stdout
    assert '"Links" has no attribute "count_getpdi"' in proc.stdout
    # at run time a misspelt name still raises, naming what the object has
    module = import_generated(mod, "typos")
    with module.open() as skel:
        with pytest.raises(AttributeError, match=r"no map named 'kvre' \(this object has: "
                                                 r"kver, rodata"):
            skel.maps.kvre  # noqa: B018
        with pytest.raises(AttributeError, match=r"no program named 'count_getpdi'.*"
                                                 r"count_getpid, count_getppid"):
            skel.progs.count_getpdi  # noqa: B018
        with pytest.raises(KeyError, match="no link named 'count_getpdi'"):
            skel.links["count_getpdi"]
        assert isinstance(skel.maps, libbpf_py.object.NamedMapping)
        assert skel.maps.kver is skel.maps["kver"] and skel.progs.count_getpid.name == \
            "count_getpid"


# -- the layout against BTF, member by member --------------------------------------------

def test_layout_matches_btf(skel_o: Path) -> None:
    """Every named field sits at the BTF offset; set alone it changes exactly its bits."""
    with Skeleton.open(skel_o) as skel:
        layout = type(skel.data.init)
        expected = {  # from the C struct, as clang lays it out (x86-64/BPF)
            "kind": (0, 8), "lo": (8, 4), "hi": (12, 12), "as_u32": (32, 32),
            "x": (64, 16), "y": (80, 16), "class_": (96, 32), "shade": (176 + 16, 32),
            "neg": (224, 5), "big": (229, 27), "tail": (256, 64)}
        assert ctypes.sizeof(layout) == 40
        for name, (bit, bits) in expected.items():
            rec = layout()
            setattr(rec, name, (1 << bits) - 1 if name not in ("neg", "shade") else -1)
            got = int.from_bytes(bytes(rec), "little")
            assert got == ((1 << bits) - 1) << bit, name
        assert layout._btf_cnames_["class_"] == "class"


# -- parity with bpftool -----------------------------------------------------------------

def _bpftool_names(header: str) -> Tuple[List[str], List[str], Dict[str, List[str]]]:
    """maps, progs and {section: [variables]} of a bpftool-generated skeleton header."""
    def block(kind: str) -> List[str]:
        m = re.search(r"struct \{\n((?:\t\tstruct " + kind + r" \*\w+;\n)*)\t\} "
                      + {"bpf_map": "maps", "bpf_program": "progs"}[kind] + ";", header)
        return re.findall(r"\*(\w+);", m.group(1)) if m else []

    sections: Dict[str, List[str]] = {}
    for m in re.finditer(r"\n\tstruct \w+__(\w+) \{\n(.*?)\n?\t\} \*(\w+);", header, re.S):
        names: List[str] = []
        depth = 0
        for line in m.group(2).splitlines():
            depth_before = depth
            depth += line.count("{") - line.count("}")
            if depth == 0 and (depth_before == 0 or "}" in line):
                found = re.search(r"(\w+)(\[[^\]]*\])*;\s*$", line)
                if found and not re.fullmatch(r"__pad\d+", found.group(1)):
                    names.append(found.group(1))
        sections[m.group(3)] = names
    return block("bpf_map"), block("bpf_program"), sections


def test_parity_with_bpftool(compile_bpf: Compile, kernel: None, tmp_path: Path) -> None:
    bpftool = shutil.which("bpftool") or "/usr/sbin/bpftool"
    sources = sorted(p.name[:-len(".bpf.c")] for p in (TESTS / "bpf").glob("*.bpf.c"))
    assert "skel" in sources
    compared = 0
    for name in sources:
        obj_path = compile_bpf(name)
        proc = subprocess.run([bpftool, "gen", "skeleton", str(obj_path)], capture_output=True,
                              text=True, timeout=60)
        assert proc.returncode == 0, f"{name}: {proc.stderr}"
        maps, progs, sections = _bpftool_names(proc.stdout)
        with BpfObject.open_mem(obj_path.read_bytes(),
                                name=kept_object_name(object_name_for(obj_path))) as obj:
            spec = describe(obj)
        assert [ident for _, ident in spec.maps] == maps, name
        assert list(spec.programs) == progs, name
        assert {s.ident: list(s.variables) for s in spec.sections} == sections, name
        with Skeleton.open(obj_path) as skel:
            assert list(skel.maps) == maps and list(skel.progs) == progs
            assert list(skel.sections) == list(sections)
        compared += 1
    assert compared == len(sources)
    assert _bpftool_names(subprocess.run(
        [bpftool, "gen", "skeleton", str(compile_bpf("skel"))], capture_output=True,
        text=True).stdout)[2]["data"] == ["lambda", "init"]


# -- sizes and names from the ELF file are not trusted (issue 14) ------------------------

_HUGE_BSS_CHILD = r"""
import errno, resource, sys, time
sys.path.insert(0, sys.argv[2])
import elfpatch
from libbpf_py import BpfObject, Skeleton, build_info
from libbpf_py.errors import LibbpfError
if not build_info().sanitize:  # ASan reserves terabytes of shadow: VmHWM bounds it
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
data = elfpatch.set_field(open(sys.argv[1], "rb").read(), ".bss", "sh_size", 1 << 31)
start = time.monotonic()
with Skeleton.open(data) as skel:
    try:
        skel.bss
        print("bss: no error")
    except ValueError as exc:
        print("bss:", "more than the kernel accepts" in str(exc))
    try:
        skel.load()
    except LibbpfError as exc:
        print("load:", errno.errorcode.get(exc.errno))
print("seconds:", time.monotonic() - start < 5)
# VmHWM: this process's own peak (ru_maxrss would carry the forking parent's over exec)
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print("rss:", hwm < 512 * 1024, hwm)
"""


def test_huge_bss_is_never_copied(skel_o: Path) -> None:
    # a 2 GiB .bss header: Skeleton.open took 12 s and 6 GB before load failed E2BIG
    proc = subprocess.run([sys.executable, "-c", _HUGE_BSS_CHILD, str(skel_o), str(TESTS)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.split("\n")
    assert lines[:3] == ["bss: True", "load: E2BIG", "seconds: True"], proc.stdout
    assert lines[3].startswith("rss: True "), f"peak RSS (kB): {proc.stdout}"


def test_btf_python_cannot_type_reads_as_bytes(skel_o: Path) -> None:
    import elfpatch

    # struct layout's first member typed as a FUNC: libbpf opens and loads it (the
    # kernel refuses the BTF, which libbpf treats as optional); Skeleton raised ValueError
    data = elfpatch.btf_set_member_type(skel_o.read_bytes(), "layout", 12)
    with BpfObject.open_mem(data) as obj:
        obj.load()
    with Skeleton.open(data) as skel:
        assert ctypes.sizeof(skel.bss) == skel.maps.bss.value_size
        raw = bytes(skel.data)
        assert raw[:4] == (3).to_bytes(4, "little")  # lambda = 3, as raw bytes
        skel.load()
        assert bytes(skel.data)[:4] == (3).to_bytes(4, "little")


def test_names_that_are_not_utf8(kernel: None, compile_bpf: Compile) -> None:
    data = compile_bpf("object").read_bytes()
    data = data.replace(b"stats\0", b"st\xffts\0").replace(b"xdp_count\0", b"xdp_c\xffunt\0")
    with BpfObject.open_mem(data) as obj:
        obj.load()
    with Skeleton.open(data) as skel:
        assert "st\udcffts" in skel.maps and "xdp_c\udcffunt" in skel.progs
        skel.progs["sock_filter"].autoload = False
        skel.load()
        assert skel.maps["st\udcffts"].name.startswith("st")


_ENDLESS_CHILD = """
import resource
import libbpf_py
from libbpf_py import LibbpfError, Skeleton
from libbpf_py.gen import generate
if not libbpf_py.build_info().sanitize:  # ASan maps more address space than this
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
for opener in (Skeleton.open, generate):
    try:
        opener("/dev/zero")
    except LibbpfError as exc:
        print(exc.errno, exc)
"""


def test_a_file_that_is_no_object_is_refused_before_it_is_read_whole() -> None:
    # Skeleton.open(path) and generate(path) read the whole file before looking at it:
    # /dev/zero (`python -m libbpf_py gen skeleton /dev/zero`) filled memory until
    # MemoryError or the OOM killer. In a child, under a 2 GiB address-space limit.
    proc = subprocess.run([sys.executable, "-c", _ENDLESS_CHILD], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert len(lines) == 2, proc.stdout
    for line in lines:
        assert line.startswith("4001 ") and "'/dev/zero' is not a BPF ELF object: it is " \
            "not an ELF file" in line, line
