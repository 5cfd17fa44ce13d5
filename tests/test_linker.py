"""Linker (libbpf's static linker) and ``python -m libbpf_py gen object``, against
``bpftool gen object`` on the same inputs, and the linked object loaded and run."""

from __future__ import annotations

import errno
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import List, Set, Tuple

import pytest
from conftest import Compile

import libbpf_py
from libbpf_py import BpfObject, Linker
from libbpf_py.errors import ClosedError, LibbpfError, LibbpfVersionError
from libbpf_py.linker import link_files

pytestmark = pytest.mark.kernel

HAS_1_6 = libbpf_py.BUILD.header_version >= (1, 6)


@pytest.fixture
def halves(kernel: None, compile_bpf: Compile) -> Tuple[Path, Path]:
    return compile_bpf("linker_a"), compile_bpf("linker_b")


def _elf_names(path: Path) -> Tuple[List[str], Set[str]]:
    """The section names (in order) and the symbol names of an ELF file."""
    from elftools.elf.elffile import ELFFile
    from elftools.elf.sections import SymbolTableSection

    with open(path, "rb") as f:
        elf = ELFFile(f)
        sections = [s.name for s in elf.iter_sections()]
        symbols = {sym.name for s in elf.iter_sections() if isinstance(s, SymbolTableSection)
                   for sym in s.iter_symbols()}
    return sections, symbols


def _run_linked(path: Path) -> None:
    with BpfObject.open(path) as obj:
        assert list(obj.programs) == ["linked_xdp_a", "linked_xdp"]
        assert "linked_counts" in obj.maps
        obj.load()
        prog = obj.programs["linked_xdp"]
        assert prog.test_run(bytes(64)).retval == 2  # linked_add(1, 1): XDP_PASS
        assert prog.test_run(bytes(64)).retval == 2
        assert obj.maps["linked_counts"][0] == 2  # the map of linker_a, shared


def test_link_two_objects_loads_and_runs(halves: Tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "linked.o"
    with Linker(out) as linker:
        assert linker.output == str(out) and not linker.closed
        linker.add_file(halves[0])
        linker.add_file(str(halves[1]).encode())
        assert linker.inputs == [str(halves[0]), str(halves[1])]
    assert linker.finalized and linker.closed
    with pytest.raises(ClosedError, match="finalized"):
        linker.add_file(halves[0])
    _run_linked(out)
    with BpfObject.open(halves[1]) as alone:  # unlinked: its own weak linked_add
        alone.load()
        assert alone.programs["linked_xdp"].test_run(bytes(64)).retval == 0


def test_gen_object_matches_bpftool(halves: Tuple[Path, Path], tmp_path: Path) -> None:
    bpftool = shutil.which("bpftool") or "/usr/sbin/bpftool"
    if not os.path.exists(bpftool):
        pytest.skip("no bpftool")
    ours, theirs = tmp_path / "ours.o", tmp_path / "theirs.o"
    proc = subprocess.run([sys.executable, "-m", "libbpf_py", "gen", "object", str(ours),
                           *map(str, halves)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    subprocess.run([bpftool, "gen", "object", str(theirs), *map(str, halves)], check=True,
                   capture_output=True)
    assert _elf_names(ours) == _elf_names(theirs)
    # Byte for byte when both sides run the same libbpf release (Debian 12's bpftool
    # links libbpf 1.1, as the default build does); newer linkers lay out BTF otherwise.
    version = subprocess.run([bpftool, "version"], capture_output=True, text=True).stdout
    same_linker = f"using libbpf v{libbpf_py.BUILD.runtime_version.rsplit('.', 1)[0]}" \
        in version
    if same_linker:
        assert ours.read_bytes() == theirs.read_bytes()
    _run_linked(ours)


def test_gen_object_errors(halves: Tuple[Path, Path], tmp_path: Path) -> None:
    # linker_a twice: its global function is defined twice (an extern left undefined is
    # not an error: a static link may leave it to the loader)
    proc = subprocess.run([sys.executable, "-m", "libbpf_py", "gen", "object",
                           str(tmp_path / "x.o"), str(halves[0]), str(halves[0])],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert "gen object: bpf_linker__add_file(" in proc.stderr
    assert "conflicting non-weak symbol" in proc.stderr and "linked_add" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "libbpf_py", "gen", "object",
                           str(tmp_path / "x.o"), str(tmp_path / "missing.o")],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "missing.o" in proc.stderr


def test_linker_errors(halves: Tuple[Path, Path], tmp_path: Path) -> None:
    with pytest.raises(LibbpfError) as info:
        link_files(tmp_path / "x.o", [halves[0], halves[0]])
    assert "linked_add" in str(info.value)  # libbpf's reason: defined twice
    with pytest.raises(LibbpfError, match="not-an-elf"):
        with Linker(tmp_path / "y.o") as linker:
            (tmp_path / "not-an-elf").write_bytes(b"hello")
            linker.add_file(tmp_path / "not-an-elf")
    assert linker.closed and not linker.finalized
    with pytest.raises(LibbpfError, match="bpf_linker__new"):
        Linker(tmp_path / "no" / "such" / "dir" / "z.o")
    with pytest.raises(TypeError):
        Linker(1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="NUL"):
        Linker("a\0b")
    with pytest.raises(ValueError, match="at least one"):
        link_files(tmp_path / "x.o", [])
    linker = Linker(tmp_path / "w.o")
    linker.close()
    linker.close()
    with pytest.raises(ClosedError, match="closed"):
        linker.finalize()


def test_a_misspelled_keyword_leaves_no_exception_in_del(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # the TypeError came before __init__'s body ran, and __del__ then read the unset
    # _ptr slot: "Exception ignored in: <function Linker.__del__>" on stderr
    import gc

    unraisable: List[object] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    with pytest.raises(TypeError, match="unexpected keyword"):
        Linker(tmp_path / "v.o", outptu=1)  # type: ignore[call-arg]
    gc.collect()
    assert unraisable == []


def test_fd_and_buf(halves: Tuple[Path, Path], tmp_path: Path) -> None:
    """libbpf >= 1.6: an fd output, fd and memory inputs; before: the exact refusal."""
    if not HAS_1_6:
        _fd_and_buf_refused(tmp_path)
        return
    out = tmp_path / "linked.o"
    fd_out = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    fd_in = os.open(halves[0], os.O_RDONLY)
    try:
        with Linker(fd_out) as linker:
            linker.add_fd(fd_in)
            linker.add_buf(halves[1].read_bytes())
            assert linker.inputs == [f"<fd {fd_in}>",
                                     f"<buffer of {halves[1].stat().st_size} bytes>"]
    finally:
        os.close(fd_in)
        os.close(fd_out)
    ref = tmp_path / "ref.o"
    link_files(ref, halves)
    assert _elf_names(out) == _elf_names(ref)
    _run_linked(out)
    with Linker(tmp_path / "v.o") as linker:
        with pytest.raises(ValueError, match="empty"):
            linker.add_buf(b"")
        with pytest.raises(TypeError):
            linker.add_buf("text")  # type: ignore[arg-type]
        with pytest.raises(LibbpfError):
            linker.add_buf(b"not an ELF file")
        linker.close()


def _fd_and_buf_refused(tmp_path: Path) -> None:
    with pytest.raises(LibbpfVersionError, match=r"LIBBPF_1\.6\.0") as info:
        Linker(1)
    assert info.value.name == "bpf_linker__new_fd"
    with Linker(tmp_path / "x.o") as linker:
        with pytest.raises(LibbpfVersionError, match=r"bpf_linker__add_buf.*LIBBPF_1\.6\.0"):
            linker.add_buf(b"\x7fELF")
        with pytest.raises(LibbpfVersionError, match=r"bpf_linker__add_fd.*LIBBPF_1\.6\.0"):
            linker.add_fd(0)
        linker.close()


def test_an_input_that_is_not_elf_is_refused_not_a_crash(tmp_path: Path) -> None:
    # libbpf 1.1's bpf_linker__add_file segfaults on a file that is not ELF (after
    # "failed to get ELF header"): `gen object out.o notes.txt` killed the interpreter.
    # Run in a child, so the old code's crash fails this test instead of the run.
    text, empty = tmp_path / "notes.txt", tmp_path / "empty.o"
    text.write_text("hello\n")
    empty.write_bytes(b"")
    script = (
        "import sys\n"
        "from libbpf_py import Linker, LibbpfError\n"
        "for path in sys.argv[1:]:\n"
        "    with Linker(sys.argv[1] + '.out') as linker:\n"
        "        try:\n"
        "            linker.add_file(path)\n"
        "        except LibbpfError as exc:\n"
        "            print(exc.errno, exc)\n"
        "        linker.close()\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, str(text), str(empty)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("4001 ") and "is not a BPF ELF object: it is text" in lines[0]
    assert lines[1].startswith("4001 ")
    assert "empty.o' is not a BPF ELF object: it is empty;" in lines[1]
    cli = subprocess.run([sys.executable, "-m", "libbpf_py", "gen", "object",
                          str(tmp_path / "out.o"), str(text)],
                         capture_output=True, text=True, timeout=60)
    assert cli.returncode == 1 and "Traceback" not in cli.stderr
    assert "is not a BPF ELF object" in cli.stderr


def test_an_input_whose_start_cannot_be_read_is_refused_not_a_crash(tmp_path: Path) -> None:
    # /proc/self/mem opens but reading its start fails (EIO): the non-ELF check read
    # nothing and let the file through, and libbpf 1.1's linker, getting no ELF header
    # either, segfaulted (`gen object out.o /proc/self/mem`: exit -11). In a child.
    script = (
        "import sys\n"
        "from libbpf_py import Linker, LibbpfError\n"
        "with Linker(sys.argv[1]) as linker:\n"
        "    try:\n"
        "        linker.add_file('/proc/self/mem')\n"
        "    except LibbpfError as exc:\n"
        "        print(exc.errno, exc)\n"
        "    linker.close()\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path / "x.o")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, (proc.returncode, proc.stderr)
    assert proc.stdout.startswith(f"{errno.EIO} ") and \
        "cannot read the start of '/proc/self/mem'" in proc.stdout, proc.stdout
    cli = subprocess.run([sys.executable, "-m", "libbpf_py", "gen", "object",
                          str(tmp_path / "out.o"), "/proc/self/mem"],
                         capture_output=True, text=True, timeout=60)
    assert cli.returncode == 1 and "Traceback" not in cli.stderr, (cli.returncode, cli.stderr)
    assert "cannot read the start of '/proc/self/mem'" in cli.stderr


@pytest.mark.build(header_min=(1, 6))  # add_fd: older builds raise LibbpfVersionError,
def test_add_fd_refuses_what_is_not_elf(halves: Tuple[Path, Path],  # see test_fd_and_buf
                                        tmp_path: Path) -> None:
    # add_file/add_buf refused a non-ELF input before libbpf saw it, add_fd passed it
    # on: libbpf 1.7 then said EINVAL, "failed to get ELF header for fd:3: invalid
    # `Elf' handle" for a text file, and "failed to parse ELF file 'fd:3': invalid file
    # descriptor" for a pipe or socket, where add_file says what the file is
    text, source = tmp_path / "notes.txt", tmp_path / "prog.c"
    text.write_text("hello\n")
    source.write_text("#include <vmlinux.h>\n")
    elf = halves[0].read_bytes()
    r, w = os.pipe()
    a, b = socket.socketpair()
    fds = [r, w, os.open(text, os.O_RDONLY), os.open(source, os.O_RDONLY),
           os.open(text, os.O_WRONLY), os.open(halves[0], os.O_RDONLY),
           os.open(halves[1], os.O_RDONLY)]
    _, _, fd_text, fd_source, fd_wronly, fd_a, fd_b = fds
    try:
        os.write(w, elf[:64])
        b.send(elf[:64])
        os.lseek(fd_text, 3, os.SEEK_SET)
        out = tmp_path / "linked.o"
        with Linker(out) as linker:
            with pytest.raises(LibbpfError, match=r"notes\.txt' is not a BPF ELF object: it "
                                                  r"is text") as info:
                linker.add_fd(fd_text)
            assert info.value.errno == 4001        # add_file's error for the same file
            assert os.lseek(fd_text, 0, os.SEEK_CUR) == 3  # its offset is left alone
            with pytest.raises(LibbpfError, match=r"looks like C source.*clang .* -c "
                                                  r"\S*prog\.c -o \S*prog\.o"):
                linker.add_fd(fd_source)
            for fd in (r, a.fileno()):
                with pytest.raises(LibbpfError, match=r"cannot read fd \d+ from its start "
                                                      r"\(Illegal seek\).*add_buf") as info:
                    linker.add_fd(fd)
                assert info.value.errno == errno.ESPIPE
            with pytest.raises(LibbpfError, match=r"cannot read fd \d+ from its start "
                                                  r"\(Bad file descriptor\)"):
                linker.add_fd(fd_wronly)
            assert os.read(r, 64) == elf[:64]       # nothing was taken from the pipe
            assert linker.inputs == []
            os.lseek(fd_a, 0, os.SEEK_END)         # libbpf reads from the start anyway
            linker.add_fd(fd_a)
            linker.add_fd(fd_b)
        _run_linked(out)
    finally:
        for fd in fds:
            os.close(fd)
        a.close()
        b.close()
