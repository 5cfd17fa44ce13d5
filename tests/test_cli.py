"""``python -m libbpf_py prog|map|link|btf``, against objects the test loads and pins.

tests/bpf/btf_types.bpf.c is loaded, its tracepoint program attached and run
(getppid), and the program, its map and its link pinned in the test's own
bpffs directory; every command is then run by id, by pin path and (maps) by
name, and its answers compared with what libbpf_py and bpftool say.
"""

from __future__ import annotations

import json
import os
import struct as st
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ContextManager, Iterator, List, Tuple

import pytest
from conftest import Compile, machine_turn

from libbpf_py import BpfObject, Link, _btfguard
from libbpf_py.__main__ import linkcheck_verdict, main
from libbpf_py.cli import map_ids_named
from libbpf_py.cli._disasm import disassemble
from libbpf_py.linkcheck import audit

pytestmark = pytest.mark.kernel


@dataclass
class Loaded:
    obj: BpfObject
    link: Link
    pins: Path
    prog_id: int
    map_id: int
    link_id: int


@pytest.fixture
def loaded(kernel: None, compile_bpf: Compile, bpffs_dir: Path) -> Iterator[Loaded]:
    # The CLI finds the map by its name in the whole kernel: another test run on this
    # machine loading the same object would make it two.
    with machine_turn("btf_types"):
        yield from _loaded(compile_bpf, bpffs_dir)


def _loaded(compile_bpf: Compile, bpffs_dir: Path) -> Iterator[Loaded]:
    obj = BpfObject.open(compile_bpf("btf_types"))
    link = None
    try:
        rodata = next(m for name, m in obj.maps.items() if name.endswith(".rodata"))
        rodata.initial_value = os.getpid().to_bytes(4, sys.byteorder)  # btft_target_pid
        obj.load()
        prog = obj.programs["btft_getppid"]
        link = prog.attach()
        for _ in range(3):  # the first call creates the element, the next ones count
            os.getppid()
        prog.pin(bpffs_dir / "prog")
        obj.maps["btft_values"].pin(bpffs_dir / "values")
        link.pin(bpffs_dir / "link")
        wait_for_unique_name("btft_values")
        yield Loaded(obj, link, bpffs_dir, prog.id, obj.maps["btft_values"].id,
                     link.info()["id"])
    finally:
        if link is not None:
            link.destroy()
        obj.close()


def wait_for_unique_name(name: str, timeout: float = 5.0) -> None:
    """Wait until the kernel has one map called ``name``: the maps of an object
    closed by an earlier test are freed after an RCU grace period, not at once."""
    deadline = time.monotonic() + timeout
    while True:
        count = len(map_ids_named(name))
        if count <= 1 or time.monotonic() > deadline:
            assert count == 1, f"{count} maps named {name!r} after {timeout} s"
            return
        time.sleep(0.02)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> Tuple[int, str, str]:
    """The CLI in this process: (exit status, stdout, stderr)."""
    try:
        rc = main(list(argv))
    except SystemExit as exc:  # argparse
        rc = int(exc.code or 0)
    out, err = capsys.readouterr()
    return rc, out, err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    rc, out, err = run(capsys, *argv, "--json")
    assert rc == 0 and err == "", err
    return json.loads(out)


#: bpftool is not ours to sanitize: under the asan env (tests/sanitized.py preloads ASan
#: into every child) bpftool's prog dump spun at 100 % CPU for minutes
_BPFTOOL_ENV = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}


def bpftool_json(*argv: str) -> Any:
    return json.loads(subprocess.run(
        env=_BPFTOOL_ENV, timeout=120, args=["bpftool", "-j", *argv], check=True,
                                     capture_output=True, text=True).stdout)


PROG_KEYS = ["id", "type", "name", "tag", "loaded_at", "uid", "btf_id", "map_ids",
             "run_time_ns", "run_cnt", "recursion_misses", "verified_insns", "bytes_xlated",
             "jited", "bytes_jited", "bytes_memlock", "gpl_compatible", "pids"]
MAP_KEYS = ["id", "type", "name", "flags", "bytes_key", "bytes_value", "max_entries", "btf_id",
            "btf_key_type_id", "btf_value_type_id", "bytes_memlock", "frozen", "pids"]


# -- prog -------------------------------------------------------------------------------------

def test_prog_show_matches_bpftool(capsys: pytest.CaptureFixture[str], loaded: Loaded) -> None:
    ours = run_json(capsys, "prog", "show", str(loaded.prog_id))
    assert list(ours) == PROG_KEYS
    theirs = bpftool_json("prog", "show", "id", str(loaded.prog_id))
    for key in ("id", "type", "name", "tag", "uid", "bytes_xlated", "jited", "bytes_jited",
                "bytes_memlock", "map_ids", "btf_id", "gpl_compatible"):
        assert ours[key] == theirs[key], key
    # the processes holding it: this one (the object's fd; the command's own is left out).
    # Debian's bpftool is built without the pids iterator: nothing to compare with
    assert ours["pids"] == [{"pid": os.getpid(), "comm": Path("/proc/self/comm").read_text()
                             .strip()}]
    assert theirs.get("pids", ours["pids"]) == ours["pids"]
    assert abs(ours["loaded_at"] - theirs["loaded_at"]) <= 1
    prog = loaded.obj.programs["btft_getppid"]
    assert ours["tag"] == prog.tag and ours["name"] == "btft_getppid"
    assert ours["type"] == "tracepoint"
    assert ours["btf_id"] == prog.info()["btf_id"] > 0
    own_maps = {m.id for m in loaded.obj.maps.values()}
    assert loaded.map_id in ours["map_ids"] and set(ours["map_ids"]) <= own_maps
    assert run_json(capsys, "prog", "show", str(loaded.pins / "prog")) == ours


def test_prog_run_stats(capsys: pytest.CaptureFixture[str], loaded: Loaded) -> None:
    """run_cnt / run_time_ns count while BPF_ENABLE_STATS is held (an fd, released here)."""
    from libbpf_py._binding import lib

    before = run_json(capsys, "prog", "show", str(loaded.prog_id))
    stats_fd = lib.bpf_enable_stats(lib.BPF_STATS_RUN_TIME)
    assert stats_fd >= 0
    try:
        for _ in range(5):
            os.getppid()
    finally:
        os.close(stats_fd)
    after = run_json(capsys, "prog", "show", str(loaded.prog_id))
    # other processes' getppid() run it too; another test holding stats would add more
    assert after["run_cnt"] >= before["run_cnt"] + 5
    assert after["run_time_ns"] > before["run_time_ns"]
    theirs = bpftool_json("prog", "show", "id", str(loaded.prog_id))
    assert theirs["run_cnt"] >= after["run_cnt"] and theirs["run_time_ns"] >= after["run_time_ns"]


def test_prog_list_and_text(capsys: pytest.CaptureFixture[str], loaded: Loaded) -> None:
    progs = run_json(capsys, "prog", "list")
    mine = [p for p in progs if p["id"] == loaded.prog_id]
    assert len(mine) == 1 and mine[0]["name"] == "btft_getppid"
    assert [p["id"] for p in progs] == sorted(p["id"] for p in progs)
    rc, out, err = run(capsys, "prog", "show", str(loaded.prog_id))
    assert rc == 0 and err == ""
    assert out.startswith(f"{loaded.prog_id}: tracepoint  name btft_getppid  tag ")
    assert "map_ids " in out and "btf_id " in out


# -- map ----------------------------------------------------------------------------------------

def test_map_show_by_id_name_and_path(capsys: pytest.CaptureFixture[str], loaded: Loaded) -> None:
    by_id = run_json(capsys, "map", "show", str(loaded.map_id))
    assert list(by_id) == MAP_KEYS
    assert run_json(capsys, "map", "show", "btft_values") == by_id
    assert run_json(capsys, "map", "show", str(loaded.pins / "values")) == by_id
    info = loaded.obj.maps["btft_values"].info()
    assert (by_id["type"], by_id["name"], by_id["bytes_key"], by_id["bytes_value"],
            by_id["max_entries"]) == ("hash", "btft_values", 4, 24, 16)
    assert by_id["btf_id"] == info.btf_id > 0
    assert by_id["btf_value_type_id"] == info.btf_value_type_id > 0
    theirs = bpftool_json("map", "show", "id", str(loaded.map_id))
    for key in ("id", "type", "name", "flags", "bytes_key", "bytes_value", "max_entries",
                "bytes_memlock", "frozen", "btf_id"):
        assert by_id[key] == theirs[key], key
    assert any(m["id"] == loaded.map_id for m in run_json(capsys, "map", "list"))


def test_map_name_twice(capsys: pytest.CaptureFixture[str], compile_bpf: Compile,
                        loaded: Loaded) -> None:
    with BpfObject.open(compile_bpf("btf_types")) as second:
        second.load()
        other = second.maps["btft_values"].id
        rc, out, err = run(capsys, "map", "show", "btft_values")
        assert (rc, out) == (1, "")
        first, last = sorted((loaded.map_id, other))
        assert err == ("python -m libbpf_py map: error: 2 maps are named 'btft_values' "
                       f"(ids {first}, {last}): give an id or a pin path\n")


def test_map_dump_decodes_with_btf(capsys: pytest.CaptureFixture[str], loaded: Loaded) -> None:
    entries = run_json(capsys, "map", "dump", str(loaded.pins / "values"))
    assert len(entries) == 1 and entries[0]["key"] == 1
    value = entries[0]["value"]
    assert set(value) == {"count", "last_pid", "comm"}
    assert value["count"] == 2 and value["last_pid"] == os.getpid()
    comm = bytes.fromhex(value["comm"])
    with open("/proc/self/comm", "rb") as f:
        assert comm.rstrip(b"\0") == f.read().strip()[:15]
    assert run_json(capsys, "map", "dump", "btft_values") == entries
    same = dict(loaded.obj.maps["btft_values"].items())
    assert same[1].count == value["count"]
    rc, out, _ = run(capsys, "map", "dump", str(loaded.map_id))
    assert rc == 0 and out.startswith('1: {"count": ') and out.endswith("Found 1 element\n")


def test_map_dump_global_data(capsys: pytest.CaptureFixture[str], loaded: Loaded) -> None:
    bss = next(m for name, m in loaded.obj.maps.items() if name.endswith(".bss"))
    entries = run_json(capsys, "map", "dump", str(bss.id))
    assert [e["key"] for e in entries] == [0]
    value = entries[0]["value"]
    assert set(value) == {"btft_flags_var", "btft_holder_var"}
    assert value["btft_flags_var"]["grid"] == [[0, 0, 0], [0, 0, 0]]


def test_map_errors(capsys: pytest.CaptureFixture[str], loaded: Loaded) -> None:
    rc, out, err = run(capsys, "map", "show", str(loaded.pins / "prog"))
    assert rc == 1 and out == ""
    assert err == (f"python -m libbpf_py map: error: '{loaded.pins / 'prog'}' is pinned but "
                   "is not a BPF map (it is a bpf-prog)\n")
    rc, _, err = run(capsys, "map", "dump", f"btft_no_such_{os.getpid()}")
    assert rc == 1 and err == f"python -m libbpf_py map: error: no map named " \
                              f"'btft_no_such_{os.getpid()}'\n"
    rc, _, err = run(capsys, "map", "show", str(loaded.pins / "missing"))
    assert rc == 1 and err.count("\n") == 1
    assert "cannot open pinned map" in err and "[ENOENT]" in err


# -- link ---------------------------------------------------------------------------------------

def test_link_show_and_list(capsys: pytest.CaptureFixture[str], loaded: Loaded) -> None:
    ours = run_json(capsys, "link", "show", str(loaded.link_id))
    theirs = bpftool_json("link", "show", "id", str(loaded.link_id))
    assert ours["id"] == theirs["id"] == loaded.link_id
    assert ours["type"] == theirs["type"]
    assert ours["prog_id"] == theirs["prog_id"] == loaded.prog_id
    assert run_json(capsys, "link", "show", str(loaded.pins / "link")) == ours
    links = run_json(capsys, "link", "list")
    assert ours in links
    rc, out, _ = run(capsys, "link", "show", str(loaded.link_id))
    assert rc == 0 and out.startswith(f"{loaded.link_id}: {ours['type']}  prog {loaded.prog_id}")


# -- btf ----------------------------------------------------------------------------------------

def test_btf_dump(capsys: pytest.CaptureFixture[str], compile_bpf: Compile,
                  loaded: Loaded) -> None:
    obj_path = compile_bpf("btf_types")
    rc, out, err = run(capsys, "btf", "dump", str(obj_path))
    assert rc == 0 and err == ""
    assert out == subprocess.run(
        env=_BPFTOOL_ENV, timeout=120, args=["bpftool", "btf", "dump", "file", str(obj_path)],
                                 check=True, capture_output=True, text=True).stdout
    rc, out, _ = run(capsys, "btf", "dump", "--format", "c", str(obj_path))
    assert rc == 0 and out.startswith("#ifndef __VMLINUX_H__")
    assert "struct btft_flags {\n\tunsigned int ready: 1;" in out
    types = run_json(capsys, "btf", "dump", str(obj_path))
    flags = next(t for t in types if t["name"] == "btft_flags")
    assert flags["kind"] == "STRUCT" and flags["members"][2]["bitfield_size"] == 12
    prog_btf = loaded.obj.programs["btft_getppid"].info()["btf_id"]
    by_id = run_json(capsys, "btf", "dump", "--id", str(prog_btf))
    assert any(t["name"] == "btft_value" for t in by_id)


def test_btf_dump_vmlinux_default(capsys: pytest.CaptureFixture[str], kernel: None) -> None:
    rc, out, err = run(capsys, "btf", "dump", "-f", "c")
    assert rc == 0 and err == ""
    assert "struct task_struct {" in out and out.endswith("#endif /* __VMLINUX_H__ */\n")


def test_btf_dump_bad_input(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    junk = tmp_path / "junk"
    junk.write_bytes(b"\x7fELF not really")
    rc, out, err = run(capsys, "btf", "dump", str(junk))
    assert rc == 1 and out == "" and err.count("\n") == 1
    assert err.startswith(f"python -m libbpf_py btf: error: cannot read BTF from '{junk}'")
    rc, _, err = run(capsys, "btf", "dump", str(tmp_path / "missing"))
    assert rc == 1 and "[ENOENT]" in err and err.count("\n") == 1
    rc, _, err = run(capsys, "btf", "dump", "--id", "4294967295")
    assert rc == 1 and "cannot load kernel BTF id 4294967295" in err
    rc, _, err = run(capsys, "btf", "dump", "--id", "1", str(junk))
    assert rc == 1 and "not both" in err
    rc, _, err = run(capsys, "btf", "dump", "--format", "pdf")
    assert rc == 2 and "invalid choice: 'pdf'" in err



@pytest.mark.parametrize("argv", [["--json"], [], ["--format", "c"]])
def test_btf_dump_of_malformed_btf_is_one_error_line(capsys: pytest.CaptureFixture[str],
                                                     tmp_path: Path, argv: List[str]) -> None:
    # raw BTF whose struct member is of type 99 of 2: the raw dump used to end in an
    # IndexError traceback (and format c, on libbpf < 1.3, in SIGSEGV)
    strings = b"\0int\0s\0m\0"
    types = (st.pack("<IIII", 1, 1 << 24, 4, (1 << 24) | 32)     # [1] int
             + st.pack("<III", 5, (4 << 24) | 1, 4)              # [2] struct s
             + st.pack("<III", 7, 99, 0))                        #   m: [99]
    path = tmp_path / "bad.btf"
    path.write_bytes(st.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types),
                             len(strings)) + types + strings)
    rc, out, err = run(capsys, "btf", "dump", str(path), *argv)
    assert rc == 1 and out == "" and err.count("\n") == 1, err
    assert err.startswith("python -m libbpf_py btf: error: "), err
    if _btfguard.ACTIVE:  # libbpf < 1.4 parses it unchecked: our walk or dump_c refuses
        assert "type id 99" in err, err
    else:  # libbpf >= 1.4 refuses it as it parses it (btf_sanity_check)
        assert "cannot read BTF from" in err and "[EINVAL]" in err, err


# -- errors and help --------------------------------------------------------------------------

@pytest.mark.parametrize("argv, message", [
    (["prog", "show", "4294967295"], "no prog with id 4294967295"),
    (["prog", "show", "0"], "prog id 0 is out of range (1..4294967295)"),
    (["prog", "show", "twelve"], "no prog named 'twelve'"),
    (["prog", "show", "tag", "12"], "'12' is not a program tag (16 hex digits)"),
    (["prog", "show", "name", "a", "b"],
     "'name a b' is not a prog reference: give id ID, name NAME, tag TAG, pinned PATH or "
     "one bare ID, PATH, TAG or NAME"),
    (["link", "show", "twelve"], "'twelve' is not a link id or pin path"),
    (["map", "show", "4294967295"], "no map with id 4294967295"),
    (["map", "dump", "99999999999"], "map id 99999999999 is out of range (1..4294967295)"),
    (["link", "show", "4294967295"], "no link with id 4294967295"),
])
def test_bad_ids(capsys: pytest.CaptureFixture[str], kernel: None, argv: List[str],
                 message: str) -> None:
    rc, out, err = run(capsys, *argv)
    assert (rc, out) == (1, "")
    assert err == f"python -m libbpf_py {argv[0]}: error: {message}\n"


def test_help_everywhere(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["prog"], ["prog", "list"], ["prog", "show"], ["prog", "dump"],
                 ["prog", "pin"], ["prog", "load"], ["prog", "loadall"], ["prog", "tracelog"],
                 ["map"], ["map", "list"], ["map", "show"], ["map", "dump"], ["map", "lookup"],
                 ["map", "update"], ["map", "delete"], ["map", "create"], ["map", "pin"],
                 ["link"], ["link", "list"], ["link", "show"], ["link", "detach"],
                 ["link", "pin"], ["btf"], ["btf", "dump"], ["btf", "list"], ["net"],
                 ["net", "list"], ["cgroup"], ["cgroup", "tree"]):
        rc, out, _ = run(capsys, *argv, "--help")
        assert rc == 0 and out.startswith("usage: python -m libbpf_py " + " ".join(argv)), argv
        if len(argv) == 2:
            assert "--json" in out


def test_no_permission_is_one_line(kernel: None, tmp_path: Path) -> None:
    """Without capabilities (root with an empty bounding set) the kernel says EPERM:
    one line on stderr, exit status 1, no traceback."""
    for argv in (["prog", "list"], ["map", "show", "1"], ["link", "list"]):
        proc = subprocess.run(["setpriv", "--bounding-set=-all", sys.executable, "-m",
                               "libbpf_py", *argv], capture_output=True, text=True,
                              cwd=tmp_path)
        assert proc.returncode == 1 and proc.stdout == "", proc.stderr
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
        assert proc.stderr.startswith(f"python -m libbpf_py {argv[0]}: error: ")
        assert "[EPERM]" in proc.stderr


# -- issue 16: names, tags, bpftool's keyword forms ---------------------------------------------

def test_prog_show_by_name_and_tag(capsys: pytest.CaptureFixture[str], loaded: Loaded) -> None:
    by_id = run_json(capsys, "prog", "show", str(loaded.prog_id))
    tag = by_id["tag"]
    assert run_json(capsys, "prog", "show", "id", str(loaded.prog_id)) == by_id
    assert run_json(capsys, "prog", "show", "pinned", str(loaded.pins / "prog")) == by_id
    # a name or a tag may name several programs: a list, as bpftool's `show name X`
    for argv in (["btft_getppid"], ["name", "btft_getppid"], [tag], ["tag", tag],
                 ["tag", tag.upper()]):
        found = run_json(capsys, "prog", "show", *argv)
        assert by_id in found, argv
        assert all(p["name"] == "btft_getppid" and p["tag"] == tag for p in found)
    theirs = bpftool_json("prog", "show", "name", "btft_getppid")
    theirs = theirs if isinstance(theirs, list) else [theirs]
    assert sorted(p["id"] for p in theirs) == \
        sorted(p["id"] for p in run_json(capsys, "prog", "show", "btft_getppid"))
    rc, out, err = run(capsys, "prog", "show", "btft_getppid")
    assert rc == 0 and err == "" and f"{loaded.prog_id}: tracepoint  name btft_getppid" in out
    rc, out, err = run(capsys, "prog", "show", "tag", "00000000deadbeef")
    assert (rc, out) == (1, "")
    assert err == "python -m libbpf_py prog: error: no prog with tag '00000000deadbeef'\n"


def test_map_show_keywords(capsys: pytest.CaptureFixture[str], loaded: Loaded) -> None:
    by_id = run_json(capsys, "map", "show", str(loaded.map_id))
    assert run_json(capsys, "map", "show", "name", "btft_values") == by_id
    assert run_json(capsys, "map", "show", "id", str(loaded.map_id)) == by_id
    assert run_json(capsys, "map", "show", "pinned", str(loaded.pins / "values")) == by_id
    assert run_json(capsys, "link", "show", "id", str(loaded.link_id))["id"] == loaded.link_id
    rc, _, err = run(capsys, "map", "show", "tag", "0123456789abcdef")
    assert rc == 1 and "is not a map reference" in err


def test_gpl_and_pids_columns(capsys: pytest.CaptureFixture[str], loaded: Loaded) -> None:
    me = {"pid": os.getpid(), "comm": Path("/proc/self/comm").read_text().strip()}
    prog = next(p for p in run_json(capsys, "prog", "list") if p["id"] == loaded.prog_id)
    assert prog["gpl_compatible"] is True and prog["pids"] == [me]
    m = next(m for m in run_json(capsys, "map", "list") if m["id"] == loaded.map_id)
    assert m["pids"] == [me]
    link = run_json(capsys, "link", "show", str(loaded.link_id))
    assert link["pids"] == [me]
    rc, out, _ = run(capsys, "prog", "show", str(loaded.prog_id))
    assert rc == 0 and "  gpl\n" in out and f"pids {me['comm']}({me['pid']})" in out
    # from another process: this one holds it, the command (holding it too) leaves itself out
    other = subprocess.run([sys.executable, "-m", "libbpf_py", "prog", "show", "-j",
                            str(loaded.pins / "prog")], capture_output=True, text=True)
    assert other.returncode == 0, other.stderr
    assert json.loads(other.stdout)["pids"] == [me]


# -- prog dump ------------------------------------------------------------------------------------

def _bpftool_xlated(prog_id: int) -> List[str]:
    out = subprocess.run(
        env=_BPFTOOL_ENV, timeout=120,
        args=["bpftool", "prog", "dump", "xlated", "id", str(prog_id)],
                         check=True, capture_output=True, text=True).stdout
    return [line.split(":", 1)[1].strip() for line in out.splitlines()
            if line[:1] == " " and line.strip().split(":")[0].isdigit()]


def test_prog_dump_xlated_matches_bpftool(capsys: pytest.CaptureFixture[str],
                                          loaded: Loaded) -> None:
    records = run_json(capsys, "prog", "dump", "xlated", str(loaded.prog_id))
    assert list(records[0]) == ["pc", "opcode", "class", "text", "func", "src", "file",
                                "line", "col"]
    theirs = _bpftool_xlated(loaded.prog_id)
    ours = [f"({r['opcode']}) {r['text']}" for r in records]
    assert len(ours) == len(theirs)
    assert ours == theirs  # same text, instruction by instruction
    calls = {r["text"].split()[1].split("#")[0] for r in records if r["text"].startswith("call")}
    assert "bpf_get_current_pid_tgid" in calls and "bpf_get_current_comm" in calls
    assert records[0]["func"] == "btft_getppid"
    assert records[0]["file"].endswith("btf_types.bpf.c") and records[0]["line"] > 0
    assert records[-1]["text"] == "exit"
    n_insns = sum(2 if r["opcode"] == "18" else 1 for r in records)
    assert n_insns * 8 == run_json(capsys, "prog", "show", str(loaded.prog_id))["bytes_xlated"]
    rc, out, err = run(capsys, "prog", "dump", "xlated", "name", "btft_getppid")
    if rc == 1:  # another test's program of the same name is still being freed
        assert "progs are named 'btft_getppid'" in err
        rc, out, err = run(capsys, "prog", "dump", "xlated", str(loaded.prog_id))
    assert rc == 0 and out.startswith("btft_getppid:\n; int btft_getppid(void *ctx) @ "
                                      "btf_types.bpf.c:")
    assert "   0: (b7) r1 = 1\n" in out and "call bpf_get_current_comm#" in out


def test_prog_dump_jited(capsys: pytest.CaptureFixture[str], loaded: Loaded) -> None:
    if Path("/proc/sys/net/core/bpf_jit_enable").read_text().strip() == "0":
        rc, _, err = run(capsys, "prog", "dump", "jited", str(loaded.prog_id))
        assert rc == 1 and "is not JITed (net.core.bpf_jit_enable is 0" in err
        return
    data = run_json(capsys, "prog", "dump", "jited", str(loaded.pins / "prog"))
    assert data["id"] == loaded.prog_id and data["bytes_jited"] == \
        run_json(capsys, "prog", "show", str(loaded.prog_id))["bytes_jited"]
    assert len(bytes.fromhex(data["hex"])) == data["bytes_jited"]
    if data["disassembler"] is None:
        assert data["insns"] is None and "hex bytes only" in data["note"]
    else:
        assert data["insns"] and data["note"] is None
        theirs = subprocess.run(
        env=_BPFTOOL_ENV, timeout=120, args=["bpftool", "prog", "dump", "jited", "id",
                                 str(loaded.prog_id)], capture_output=True, text=True)
        if theirs.returncode == 0 and "disassembler" not in theirs.stderr:
            assert "ret" in " ".join(data["insns"])  # some code that returns


def test_disassembler_forms() -> None:
    """Encodings the tests' programs do not have, checked against the kernel's notation."""
    def insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
        regs = dst | src << 4 if sys.byteorder == "little" else dst << 4 | src
        return st.pack("=BBhi", code, regs, off, imm)

    raw = b"".join([
        insn(0x18, 1, 0, 0, 0x5678), insn(0, 0, 0, 0, 0x1234),   # imm64
        insn(0xbc, 2, 3),                                          # w2 = w3
        insn(0xdb, 1, 2, 8, 0x01),                                 # atomic_fetch_add
        insn(0x71, 3, 1, 2),                                       # r3 = *(u8 *)(r1 +2)
        insn(0x62, 10, 0, -8, 7),                                  # *(u32 *)(r10 -8) = 7
        insn(0xa6, 1, 0, -3, 5),                                   # if w1 < 0x5 goto pc-3
        insn(0x85, 0, 1, 0, 4),                                    # bpf-to-bpf call
        insn(0x85, 0, 0, 0, 6),                                    # helper 6
        insn(0xd4, 0, 0, 0, 16),                                   # le16
        insn(0x95),
    ])
    texts = [i.text for i in disassemble(raw, lambda s, imm: "bpf_trace_printk"
                                         if imm == 6 else None)]
    assert texts == ["r1 = 0x123400005678", "w2 = w3",
                     "r2 = atomic_fetch_add((u64 *)(r1 +8), r2)", "r3 = *(u8 *)(r1 +2)",
                     "*(u32 *)(r10 -8) = 7", "if w1 < 0x5 goto pc-3", "call pc+4",
                     "call bpf_trace_printk#6", "r0 = le16 r0", "exit"]
    with pytest.raises(ValueError, match="not a whole number"):
        disassemble(b"\0" * 12)


# -- prog load|loadall|pin ------------------------------------------------------------------------

def test_prog_load_pin(capsys: pytest.CaptureFixture[str], compile_bpf: Compile,
                       bpffs_dir: Path) -> None:
    obj = str(compile_bpf("minimal"))
    pinned = run_json(capsys, "prog", "load", obj, str(bpffs_dir / "first"))
    assert len(pinned) == 1 and pinned[0]["kind"] == "prog"
    shown = run_json(capsys, "prog", "show", str(bpffs_dir / "first"))
    assert shown["id"] == pinned[0]["id"] and shown["name"] == pinned[0]["name"][:15]
    theirs = bpftool_json("prog", "show", "pinned", str(bpffs_dir / "first"))
    assert theirs["id"] == shown["id"] and theirs["tag"] == shown["tag"]
    every = run_json(capsys, "prog", "loadall", obj, str(bpffs_dir / "all"),
                     "--pinmaps", str(bpffs_dir / "maps"))
    progs = [p for p in every if p["kind"] == "prog"]
    maps = [p for p in every if p["kind"] == "map"]
    assert progs and maps
    assert sorted(os.listdir(bpffs_dir / "all")) == sorted(p["name"] for p in progs)
    assert sorted(os.listdir(bpffs_dir / "maps")) == sorted(m["name"].replace(".", "_")
                                                            for m in maps)
    again = run_json(capsys, "prog", "pin", str(shown["id"]), str(bpffs_dir / "again"))
    assert again == {"id": shown["id"], "path": str(bpffs_dir / "again")}
    assert run_json(capsys, "prog", "show", str(bpffs_dir / "again"))["id"] == shown["id"]
    rc, _, err = run(capsys, "prog", "pin", str(shown["id"]), "/tmp/not-bpffs")
    assert rc == 1 and "cannot pin prog at '/tmp/not-bpffs' (not on a bpf filesystem" in err
    rc, _, err = run(capsys, "prog", "load", "/nonexistent.bpf.o", str(bpffs_dir / "x"))
    assert rc == 1 and err == ("python -m libbpf_py prog: error: '/nonexistent.bpf.o' does "
                               "not exist\n")


def test_prog_tracelog(capsys: pytest.CaptureFixture[str], compile_bpf: Compile,
                       kernel: None) -> None:
    # (the turn: two readers of trace_pipe, in two test runs, would share its records)
    with machine_turn("trace_pipe"), BpfObject.open(compile_bpf("cli_printk")) as obj:
        obj.load()
        link = obj.programs["cli_printk"].attach()
        try:
            calls = {r["text"].split()[1].split("#")[0]
                     for r in run_json(capsys, "prog", "dump", "xlated",
                                       str(obj.programs["cli_printk"].id))
                     if r["text"].startswith("call")}
            theirs = {line.split()[2].split("#")[0]
                      for line in _bpftool_xlated(obj.programs["cli_printk"].id)
                      if line.split()[1] == "call"}
            assert calls == theirs and "bpf_trace_printk" in calls
            stop = threading.Event()

            def poke() -> None:  # one printk a poke: 200 records in about a second
                while not stop.wait(0.005):
                    os.getpgid(0)

            poker = threading.Thread(target=poke)
            poker.start()
            try:
                rc, out, err = run(capsys, "prog", "tracelog", "--json", "--timeout", "10",
                                   "--count", "200")
            finally:
                stop.set()
                poker.join()
        finally:
            link.destroy()
    assert rc == 0 and err == ""
    mine = [json.loads(line) for line in out.splitlines()
            if f"libbpf_py cli tracelog {os.getpid()}" in line]
    assert mine, out[-2000:]
    assert mine[0]["message"] == f"libbpf_py cli tracelog {os.getpid()}"
    assert mine[0]["pid"] is not None and mine[0]["cpu"] is not None
    for argv, message in ((["--count", "0"], "--count must be at least 1, got 0"),
                          (["--timeout", "-1"], "--timeout must be positive, got -1.0")):
        rc, _, err = run(capsys, "prog", "tracelog", *argv)
        assert rc == 1 and err == f"python -m libbpf_py prog: error: {message}\n"


# -- map lookup|update|delete|create|pin ------------------------------------------------------

def test_map_elements(capsys: pytest.CaptureFixture[str], loaded: Loaded) -> None:
    values = loaded.obj.maps["btft_values"]
    pin = str(loaded.pins / "values")
    one = run_json(capsys, "map", "lookup", pin, "key", "1")
    assert one["key"] == 1 and one["value"]["count"] == 2
    assert run_json(capsys, "map", "lookup", "name", "btft_values", "key", "hex", "01", "00",
                    "00", "00") == one
    assert run_json(capsys, "map", "lookup", "btft_values", "key", "1", "0", "0", "0") == one
    theirs = bpftool_json("map", "lookup", "id", str(loaded.map_id), "key", "1", "0", "0", "0")
    assert theirs["formatted"]["value"]["count"] == one["value"]["count"]
    new = {"count": 7, "last_pid": 42, "comm": "cli"}
    assert run_json(capsys, "map", "update", pin, "key", "9", "value", json.dumps(new),
                    "noexist")["value"]["count"] == 7
    assert values[9].count == 7 and values[9].last_pid == 42 and values[9].comm == b"cli"
    theirs = bpftool_json("map", "lookup", "id", str(loaded.map_id), "key", "9", "0", "0", "0")
    assert theirs["formatted"]["value"]["last_pid"] == 42
    rc, _, err = run(capsys, "map", "update", pin, "key", "9", "value", json.dumps(new),
                     "noexist")
    assert rc == 1 and "[EEXIST]" in err
    rc, out, err = run(capsys, "map", "lookup", pin, "key", "9")
    assert rc == 0 and out.startswith('9: {"count": 7, "last_pid": 42, "comm": "636c69')
    assert run_json(capsys, "map", "delete", str(loaded.map_id), "key", "9") == {"key": 9}
    assert 9 not in values
    for argv, message in (
            (["lookup", pin, "key", "9"], "key 9 is not in map "),
            (["delete", pin, "key", "9"], "key 9 is not in map "),
            (["update", pin, "key", "9", "value", "{}", "exist"], "key 9 is not in map "),
            (["lookup", pin, "key", "zz"], "key 'zz' is neither a number nor JSON"),
            (["lookup", pin, "key", "1", "300"], "key: '300' is not a byte"),
            (["lookup", pin, "key", "hex", "0g"], "key 'hex 0g' is not hex bytes"),
            (["lookup", pin], "expected 'key' and the key"),
            (["update", pin, "key", "1"], "expected 'value' and the value after the key"),
            (["update", pin, "key", "1", "value", "1", "2"],
             "value of HASH map 'btft_values' must be exactly 24 bytes, got 2"),
            (["update", pin, "key", "1", "value", '{"nope": 1}'], "no field 'nope'"),
            (["lookup", "btft_no_such_map", "key", "1"], "no map named 'btft_no_such_map'")):
        rc, out, err = run(capsys, "map", *argv)
        assert (rc, out) == (1, ""), argv
        assert err.startswith("python -m libbpf_py map: error: ") and message in err, err
        assert err.count("\n") == 1


def test_map_create_and_pin(capsys: pytest.CaptureFixture[str], bpffs_dir: Path) -> None:
    path = str(bpffs_dir / "made")
    made = run_json(capsys, "map", "create", path, "type", "hash", "key", "4", "value", "8",
                    "entries", "16", "name", "cli_made")
    assert (made["type"], made["name"], made["bytes_key"], made["bytes_value"],
            made["max_entries"]) == ("hash", "cli_made", 4, 8, 16)
    assert made["pids"] == []  # only pinned: no process holds it
    theirs = bpftool_json("map", "show", "pinned", path)
    assert (theirs["id"], theirs["type"], theirs["name"]) == (made["id"], "hash", "cli_made")
    run_json(capsys, "map", "update", path, "key", "3", "value", "0x1234")
    assert run_json(capsys, "map", "dump", path) == [{"key": 3, "value": 0x1234}]
    assert bpftool_json("map", "dump", "pinned", path)[0]["value"] == \
        ["0x34", "0x12", "0x00", "0x00", "0x00", "0x00", "0x00", "0x00"]
    assert run_json(capsys, "map", "pin", str(made["id"]), str(bpffs_dir / "again")) == \
        {"id": made["id"], "path": str(bpffs_dir / "again")}
    assert run_json(capsys, "map", "show", str(bpffs_dir / "again"))["id"] == made["id"]
    for argv, message in (
            ([path + "2", "type", "hash"], "missing key, value, entries, name"),
            ([path + "2", "type", "hash", "key", "four", "value", "8", "entries", "1", "name",
              "x"], "key 'four' is not a number"),
            ([path + "2", "colour", "red"], "unknown word 'colour'"),
            ([path + "2", "type", "nosuch", "key", "4", "value", "8", "entries", "1", "name",
              "x"], "nosuch"),
            (["/tmp/cli-not-bpffs", "type", "hash", "key", "4", "value", "8", "entries", "1",
              "name", "x"], "not on a bpf filesystem")):
        rc, out, err = run(capsys, "map", "create", *argv)
        assert (rc, out) == (1, "") and message in err and err.count("\n") == 1, err
    assert not os.path.exists(path + "2")


# -- link detach, btf list ----------------------------------------------------------------------

def test_link_detach_refused(capsys: pytest.CaptureFixture[str], loaded: Loaded) -> None:
    """A tracepoint's perf_event link cannot be detached (the kernel says ENOTSUP): one
    clear line; test_cgroup_tree detaches a cgroup link."""
    rc, out, err = run(capsys, "link", "detach", str(loaded.pins / "link"))
    assert (rc, out) == (1, "")
    assert err == (f"python -m libbpf_py link: error: cannot detach link {loaded.link_id} "
                   "(perf_event): the kernel cannot detach this type of link; destroy it "
                   "(unpin it and close the fds that hold it): Operation not supported "
                   "[ENOTSUP]\n")
    rc, _, err = run(capsys, "link", "detach", "4294967295")
    assert rc == 1 and err == "python -m libbpf_py link: error: no link with id 4294967295\n"


def test_btf_list_matches_bpftool(capsys: pytest.CaptureFixture[str], loaded: Loaded) -> None:
    ours = {b["id"]: b for b in run_json(capsys, "btf", "list")}
    theirs = {b["id"]: b for b in bpftool_json("btf", "list")}
    btf_id = loaded.obj.programs["btft_getppid"].info()["btf_id"]
    for key in (1, btf_id):
        mine, other = ours[key], theirs[key]
        assert list(mine) == ["id", "name", "size", "kernel", "prog_ids", "map_ids"]
        assert (mine["size"], mine["kernel"], mine["name"]) == \
            (other["size"], other["kernel"], other.get("name", ""))
        assert sorted(mine["prog_ids"]) == sorted(other["prog_ids"])
        assert sorted(mine["map_ids"]) == sorted(other["map_ids"])
    assert ours[1]["name"] == "vmlinux" and ours[1]["kernel"]
    assert loaded.prog_id in ours[btf_id]["prog_ids"]
    rc, out, _ = run(capsys, "btf", "list")
    assert rc == 0 and "1: name vmlinux  size " in out


# -- net list, cgroup tree ---------------------------------------------------------------------

LoadAttach = Callable[..., ContextManager[BpfObject]]


def test_net_list_matches_bpftool(capsys: pytest.CaptureFixture[str],
                                  load_attach: LoadAttach, veth: Any) -> None:
    with load_attach("on_xdp") as obj:
        vb = veth.ifindex("vb")
        with veth.entered():
            link = obj.programs["on_xdp"].attach_xdp(vb)
        with link:
            with veth.entered():
                data = run_json(capsys, "net", "list")
                rc, out, _ = run(capsys, "net", "list")
            theirs = json.loads(veth.exec("bpftool", "-j", "net", "list"))
    assert list(data) == ["xdp", "tc"]
    prog_id = obj_id = data["xdp"][0]["id"]
    assert data["xdp"] == [{"devname": "vb", "ifindex": vb, "mode": "driver", "id": obj_id,
                            "name": "on_xdp"}]
    their_xdp = theirs[0]["xdp"]
    assert [(x["devname"], x["ifindex"], x["mode"], x["id"]) for x in their_xdp] == \
        [("vb", vb, "driver", prog_id)]
    assert data["tc"] == []
    assert rc == 0 and f"vb({vb}) driver id {prog_id} name on_xdp" in out


def test_cgroup_tree(capsys: pytest.CaptureFixture[str], load_attach: LoadAttach,
                     cgroup2: Path) -> None:
    with load_attach("on_sock_create") as obj:
        prog = obj.programs["on_sock_create"]
        prog_id = prog.id
        with prog.attach_cgroup(cgroup2) as link:
            ours = run_json(capsys, "cgroup", "tree", str(cgroup2.parent))
            theirs = bpftool_json("cgroup", "tree", str(cgroup2.parent))
            rc, out, _ = run(capsys, "cgroup", "tree", str(cgroup2))
            # a cgroup link can be detached (a perf_event link cannot: test_link_detach)
            link_id = link.info()["id"]
            assert run_json(capsys, "link", "detach", str(link_id)) == \
                {"id": link_id, "detached": True}
            assert run_json(capsys, "cgroup", "tree", str(cgroup2)) == []
            assert run_json(capsys, "link", "show", str(link_id))["prog_id"] == prog_id
    mine = [c for c in ours if c["cgroup"] == str(cgroup2)]
    assert mine == [{"cgroup": str(cgroup2), "programs": [
        {"id": prog_id, "attach_type": "cgroup_inet_sock_create", "attach_flags": "multi",
         "name": "on_sock_create"}]}]
    other = [c for c in theirs if c["cgroup"] == str(cgroup2)]
    assert [(p["id"], p["name"], p["attach_type"], p["attach_flags"])
            for p in other[0]["programs"]] == \
        [(prog_id, "on_sock_create", "cgroup_inet_sock_create", "multi")]
    assert rc == 0 and out.startswith(f"{cgroup2}\n\t{prog_id}  cgroup_inet_sock_create")
    rc, _, err = run(capsys, "cgroup", "tree", str(cgroup2 / "missing"))
    assert rc == 1 and "is not a directory" in err


# -- linkcheck ------------------------------------------------------------------------------------

def test_linkcheck_verdict_fits_a_screen(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, "linkcheck")
    assert rc == 0 and err == ""
    lines = out.splitlines()
    assert len(lines) <= 20
    assert lines[1].split() == ["verdict:", audit(lines[0].split()[1]).verdict]
    assert lines[2].startswith("library:") and lines[3].startswith("symbols:")
    assert "proof:" in lines and lines[-1].startswith("(--verbose")
    rc, verbose, _ = run(capsys, "linkcheck", "--verbose")
    assert rc == 0 and len(verbose.splitlines()) > len(lines) and "reasons:" in verbose
    data = run_json(capsys, "linkcheck")
    assert set(data) >= {"verdict", "imported", "defined", "exported", "reasons"}
    result = audit(lines[0].split()[1])
    assert linkcheck_verdict(result, None, None).splitlines()[:2] == lines[:2]
    rc, _, err = run(capsys, "linkcheck", "/nonexistent.so")
    assert rc == 2 and "linkcheck: " in err


def test_map_fields_by_their_c_names(kernel: None, compile_bpf: Compile, bpffs_dir: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """A C field named as a Python keyword (`class`) is `class` in `map dump` and `map
    lookup`, as bpftool prints it, and `map update` takes that name: the CLI printed
    Python's `class_` and refused `class` ("no field 'class'")."""
    with BpfObject.open(compile_bpf("skel")) as obj:
        obj.load()
        bss = next(m for name, m in obj.maps.items() if name.endswith(".bss"))
        bss.pin(bpffs_dir / "bss")
        path = str(bpffs_dir / "bss")
        dumped = run_json(capsys, "map", "dump", path)
        assert "class" in dumped[0]["value"]["seen"]
        assert "class_" not in dumped[0]["value"]["seen"]
        assert "x" in dumped[0]["value"]["seen"]  # a promoted anonymous member's field
        updated = run_json(capsys, "map", "update", path, "key", "0", "value",
                           '{"seen": {"class": 7, "x": 3}}')
        assert updated["value"]["seen"]["class"] == 7 and updated["value"]["seen"]["x"] == 3
        assert obj.var("seen")["class_"] == 7
        # the Python name still works
        run_json(capsys, "map", "update", path, "key", "0", "value", '{"seen": {"class_": 8}}')
        assert run_json(capsys, "map", "lookup", path, "key", "0")["value"]["seen"]["class"] == 8


def test_probe_command_into_a_closed_pipe() -> None:
    """`probe | head -0`: exit 0 and no traceback when the reader is gone."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # closed before the command writes: its write fails with EPIPE
    try:
        proc = subprocess.run([sys.executable, "-m", "libbpf_py", "probe"], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(write_end)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("command", [
    ["info"], ["info", "--json"], ["linkcheck"], ["linkcheck", "--verbose"],
    ["linkcheck", "--json"], ["gen", "skeleton", "{obj}"],
])
def test_other_commands_into_a_closed_pipe(command: List[str], compile_bpf: Compile) -> None:
    """`info --json | head -c 100` and the like: as `probe`, exit 0 and no
    traceback (they printed a BrokenPipeError traceback and exited 1, or 120 at exit)."""
    argv = [a.format(obj=compile_bpf("skel")) for a in command]
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run([sys.executable, "-m", "libbpf_py", *argv], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
