"""Issue 16, points 1-3: a quiet, cut verifier log; str(VerifierError) naming the
source line with a hint; errors that name what they refer to and say what to do.

The programs are in tests/bpf/messages.bpf.c, each loaded alone.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Iterator, List

import pytest
from conftest import BPF_SRC, Compile

from libbpf_py import BpfObject, log
from libbpf_py._binding import lib
from libbpf_py.errors import CUT_MARKER, LibbpfError, LibbpfVersionError, VerifierError

pytestmark = pytest.mark.kernel

SOURCE = BPF_SRC / "messages.bpf.c"


@pytest.fixture
def messages_o(kernel: None, compile_bpf: Compile) -> Path:
    return compile_bpf("messages")


def _line_of(text: str) -> int:
    """The line number of ``text`` in messages.bpf.c (for source-line checks)."""
    lines = SOURCE.read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.strip() == text)


def _open_only(path: Path, name: str) -> BpfObject:
    obj = BpfObject.open(path)
    for prog in obj.programs.values():
        prog.autoload = prog.name == name
    return obj


def _load_error(path: Path, name: str) -> LibbpfError:
    with _open_only(path, name) as obj, pytest.raises(LibbpfError) as err:
        obj.load()
    return err.value


class _Records(logging.Handler):
    def __init__(self, level: int) -> None:
        super().__init__(level)
        self.records: List[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def handlers() -> Iterator[List[_Records]]:
    """A WARNING and a DEBUG handler on the libbpf_py logger (set to DEBUG)."""
    logger = logging.getLogger("libbpf_py")
    level = logger.level
    made = [_Records(logging.WARNING), _Records(logging.DEBUG)]
    for h in made:
        logger.addHandler(h)
    logger.setLevel(logging.DEBUG)
    try:
        yield made
    finally:
        for h in made:
            logger.removeHandler(h)
        logger.setLevel(level)


# -- 1. a verifier failure does not flood ------------------------------------------------


def test_long_verifier_log_is_summarised_and_cut(messages_o: Path,
                                                 handlers: List[_Records]) -> None:
    """long_log's log has ~36000 lines: the WARNING handler gets one short line about
    it, DEBUG the whole log, VerifierError.log the first and last lines and a marker."""
    warn, debug = handlers
    exc = _load_error(messages_o, "long_log")
    assert isinstance(exc, VerifierError) and exc.program == "long_log"
    about_log = [r.getMessage() for r in warn.records if "long_log" in r.getMessage()
                 and "verifier log" in r.getMessage()]
    assert len(about_log) == 1, about_log
    assert "\n" not in about_log[0] and len(about_log[0]) < 300
    assert "DEBUG" in about_log[0] and "VerifierError.log" in about_log[0]
    assert not any("BEGIN PROG LOAD LOG" in r.getMessage() for r in warn.records
                   if r.levelno >= logging.WARNING)
    assert sum(len(r.getMessage()) for r in warn.records if r.levelno >= logging.WARNING) \
        < 2000
    whole = [r.getMessage() for r in debug.records if "BEGIN PROG LOAD LOG" in r.getMessage()]
    assert len(whole) == 1 and whole[0].count("\n") > 10000
    # the exception keeps head + tail and says what was cut
    lines = exc.log.splitlines()
    assert len(lines) == log.HEAD_LINES + 1 + log.TAIL_LINES
    marker = lines[log.HEAD_LINES]
    assert marker.startswith(CUT_MARKER) and "lines (" in marker and "bytes) of the" in marker
    cut = int(marker.split()[1])
    body = whole[0].split("-- BEGIN PROG LOAD LOG --\n", 1)[1].split("-- END PROG LOAD")[0]
    assert cut + len(lines) - 1 == body.count("\n")
    assert len(exc.log) < 100_000
    assert "invalid mem access" in lines[-2]  # the tail keeps the error
    assert len(str(exc)) < 1000


def test_capture_keeps_head_and_tail_lines_asked(messages_o: Path) -> None:
    with _open_only(messages_o, "long_log") as obj, log.capture(head=3, tail=4) as messages:
        with pytest.raises(VerifierError):
            obj.load()
    text = "".join(messages)
    body = text.split("-- BEGIN PROG LOAD LOG --\n", 1)[1].split("-- END PROG LOAD LOG --")[0]
    lines = body.splitlines()
    assert len(lines) == 3 + 1 + 4 and lines[3].startswith(CUT_MARKER)


def test_short_log_is_kept_whole(messages_o: Path) -> None:
    exc = _load_error(messages_o, "null_deref")
    assert isinstance(exc, VerifierError)
    assert CUT_MARKER not in exc.log and exc.log.count("\n") < 50


def test_whole_log_from_a_kernel_log_buffer(messages_o: Path) -> None:
    """kernel_log_size= at open: libbpf prints no log, the kernel writes it into the
    buffer; the load still raises VerifierError (a cut log), the buffer has it all."""
    with BpfObject.open(messages_o, kernel_log_size=16 << 20, kernel_log_level=1) as obj:
        for prog in obj.programs.values():
            prog.autoload = prog.name == "long_log"
        with pytest.raises(VerifierError) as err:
            obj.load()
        whole = obj.kernel_log
    exc = err.value
    assert exc.program == "long_log" and whole.count("\n") > 10000
    lines = exc.log.splitlines()
    assert len(lines) == log.HEAD_LINES + 1 + log.TAIL_LINES
    assert "the whole log is in BpfObject.kernel_log" in lines[log.HEAD_LINES]
    assert whole.startswith("\n".join(lines[:log.HEAD_LINES]))
    assert exc.hint is not None and "NULL" in exc.hint
    with BpfObject.open(messages_o, kernel_log_size=4096) as obj:
        for prog in obj.programs.values():
            prog.autoload = prog.name == "long_log"
        with pytest.raises(LibbpfError) as small:
            obj.load()
    assert small.value.errno == errno.ENOSPC
    assert "did not fit the kernel_log_size=4096 buffer" in str(small.value)


# -- 2. str(VerifierError) points at the source line, with a hint ------------------------


def test_null_deref_names_source_line_and_hint(messages_o: Path) -> None:
    exc = _load_error(messages_o, "null_deref")
    assert isinstance(exc, VerifierError)
    line = _line_of("*v += 1;")
    assert exc.source_line == f"messages.bpf.c:{line}: *v += 1;"
    assert exc.hint is not None and "NULL" in exc.hint
    text = str(exc)
    assert f"at messages.bpf.c:{line} (*v += 1;)" in text
    assert "R0 invalid mem access 'map_value_or_null'" in text
    assert "hint: " in text and "if (!v) return 0;" in text


def test_unbounded_loop_names_source_line_and_hint(messages_o: Path) -> None:
    exc = _load_error(messages_o, "spin")
    assert isinstance(exc, VerifierError)
    line = _line_of("while (*(volatile __u64 *)v)")
    assert exc.source_line == f"messages.bpf.c:{line}: while (*(volatile __u64 *)v)"
    assert exc.hint is not None and "loop" in exc.hint and "bpf_loop()" in exc.hint
    assert "infinite loop detected" in str(exc) and "hint: " in str(exc)


def test_failing_insn_is_the_one_the_log_stops_at(messages_o: Path) -> None:
    exc = _load_error(messages_o, "null_deref")
    assert isinstance(exc, VerifierError) and exc.insn is not None
    assert any(line.startswith(f"{exc.insn}: (79) r1 = *(u64 *)(r0 +0)")
               for line in exc.log.splitlines())
    spin = _load_error(messages_o, "spin")
    assert isinstance(spin, VerifierError)
    assert f"infinite loop detected at insn {spin.insn}" in spin.log


def test_source_line_from_line_info_survives_a_cut_log(messages_o: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The log keeps only its last 3 lines, so the ``; *v += 1; @ file:N`` line is cut:
    with libbpf >= 1.6 the program's line info (copied before the load) still names the
    line; before 1.6 there is no line info to read and the error says no line."""
    monkeypatch.setattr(log, "HEAD_LINES", 0)
    monkeypatch.setattr(log, "TAIL_LINES", 3)
    exc = _load_error(messages_o, "null_deref")
    assert isinstance(exc, VerifierError)
    assert "*v += 1" not in exc.log and "invalid mem access" in exc.log
    if lib.has("bpf_program__line_info"):
        assert exc.source_line == f"messages.bpf.c:{_line_of('*v += 1;')}: *v += 1;"
    else:
        assert exc.source_line is None


def test_source_line_comes_from_line_info_of_a_prepared_object(messages_o: Path) -> None:
    """A user's prepare() before load() keeps the line info path (libbpf >= 1.6)."""
    if not lib.has("bpf_object__prepare"):
        with _open_only(messages_o, "null_deref") as obj, \
                pytest.raises(LibbpfVersionError, match=r"LIBBPF_1\.6\.0"):
            obj.prepare()
        pytest.xfail("libbpf < 1.6 has no bpf_object__prepare (LibbpfVersionError asserted)")
    with _open_only(messages_o, "null_deref") as obj:
        obj.prepare()
        info = obj.programs["null_deref"].line_info()
        with pytest.raises(VerifierError) as err:
            obj.load()
    exc = err.value
    covering = [li for li in info if li.insn_off <= (exc.insn or 0) and li.line]
    assert covering, info
    assert covering[-1].file_name.endswith("/messages.bpf.c")
    assert exc.source_line == (f"messages.bpf.c:{covering[-1].line}: "
                               f"{covering[-1].line_text.strip()}")
    assert exc.source_line == f"messages.bpf.c:{_line_of('*v += 1;')}: *v += 1;"


@pytest.mark.parametrize("last", [
    "BPF program is too large. Processed 1000001 insn",
    "The sequence of 8193 jumps is too complex.",
    "back-edge from insn 12 to 8",
])
def test_hints_of_logs_the_suite_cannot_afford(last: str) -> None:
    """Logs of failures that take the verifier too long to reach in a test (a million
    instructions), or that only old kernels give (back-edge)."""
    log_text = (f"; for (i = 0; i < n; i++) @ prog.bpf.c:12\n19: (07) r8 += 1\n{last}\n"
                "processed 1000001 insns (limit 1000000) max_states_per_insn 4\n")
    exc = VerifierError(errno.E2BIG, "Argument list too long", "bpf_object__load", "p", log_text)
    assert exc.source_line == "prog.bpf.c:12: for (i = 0; i < n; i++)"
    assert exc.hint is not None and "loop" in exc.hint
    assert last in str(exc) and "processed 1000001" not in str(exc)


def test_no_source_line_without_debug_info() -> None:
    exc = VerifierError(errno.EACCES, "Permission denied", "bpf_object__load", "p",
                        "0: (79) r1 = *(u64 *)(r0 +0)\nR0 invalid mem access 'scalar'\n")
    assert exc.source_line is None and exc.hint is None
    assert str(exc).endswith("verifier says: 0: (79) r1 = *(u64 *)(r0 +0) | "
                             "R0 invalid mem access 'scalar'")


# -- 3. errors name what they refer to and say what to do --------------------------------


def test_missing_tracepoint_names_it_and_where_libbpf_looked(messages_o: Path) -> None:
    with _open_only(messages_o, "good") as obj:
        obj.load()
        with pytest.raises(FileNotFoundError) as err:
            obj.programs["good"].attach_tracepoint("nosuch", "nosuch")
    text = str(err.value)
    assert "no tracepoint nosuch/nosuch" in text
    assert "/events/nosuch/nosuch does not exist" in text and "no category 'nosuch'" in text
    assert "available_events" in text and "[ENOENT]" in text
    with _open_only(messages_o, "good") as obj:
        obj.load()
        with pytest.raises(FileNotFoundError) as err:
            obj.programs["good"].attach_tracepoint("syscalls", "sys_enter_nosuch")
    assert "has no event 'sys_enter_nosuch'" in str(err.value)


def test_a_btf_custom_path_libbpf_cannot_read_is_named(kernel: None, compile_bpf: Compile,
                                                       tmp_path: Path) -> None:
    """libbpf says only "failed to perform CO-RE relocations: -2" (ENOENT), naming
    neither the option nor the file."""
    object_o = compile_bpf("object")  # its programs have CO-RE relocations
    text_file = tmp_path / "not_btf"
    text_file.write_text("not BTF\n")
    for path, why in ((tmp_path / "nosuch", "does not exist"), (text_file, "is not BTF")):
        with BpfObject.open(object_o, btf_custom_path=str(path)) as obj:
            with pytest.raises(LibbpfError) as err:
                obj.load()
        assert f"btf_custom_path={str(path)!r} (given at open) {why}" in str(err.value)
    with BpfObject.open(object_o, btf_custom_path="/sys/kernel/btf/vmlinux") as obj:
        obj.load()  # the kernel's own BTF: fine


def test_attach_of_a_program_of_the_wrong_type_says_so(kernel: None,
                                                       compile_bpf: Compile) -> None:
    """attach_tracepoint() of a socket filter, attach_xdp() of a tracepoint program: the
    kernel says only EINVAL."""
    with BpfObject.open(compile_bpf("object")) as obj:
        obj.load()
        progs = obj.programs
        with pytest.raises(LibbpfError) as err:
            progs.sock_filter.attach_tracepoint("syscalls", "sys_enter_getpid")
        assert err.value.errno == errno.EINVAL
        assert ("program 'sock_filter' (SEC('socket')) is of type SOCKET_FILTER; "
                "attach_tracepoint() needs type TRACEPOINT") in str(err.value)
        with pytest.raises(LibbpfError, match=r"is of type TRACEPOINT; attach_xdp\(\) needs "
                                              r"type XDP"):
            progs.on_getpid.attach_xdp(1)
        with pytest.raises(LibbpfError, match=r"attach_uprobe\(\) needs type KPROBE "
                                              r"\(SEC\('kprobe/...'\), SEC\('uprobe'\)"):
            progs.on_getpid.attach_uprobe("/proc/self/exe", offset=0x1000)


def test_uprobe_says_which_target_is_missing(kernel: None, compile_bpf: Compile,
                                             tmp_path: Path) -> None:
    """libbpf's ENOENT is the same for a binary that does not exist and for a function
    the binary lacks: "attach_uprobe of program 'x': No such file or directory"."""
    with BpfObject.open(compile_bpf("attach")) as obj:
        for name, prog in obj.programs.items():
            prog.autoload = name == "on_uprobe_bin"
        obj.load()
        prog = obj.programs.on_uprobe_bin
        missing = tmp_path / "nosuch.so"
        with pytest.raises(FileNotFoundError,
                           match=re.escape(f"binary {str(missing)!r} does not exist")):
            prog.attach_uprobe(missing, "f")
        with pytest.raises(FileNotFoundError,
                           match=re.escape(f"binary {sys.executable!r} has no function "
                                           "'libbpf_py_no_such_function'")):
            prog.attach_uprobe(sys.executable, "libbpf_py_no_such_function")


@pytest.mark.parametrize(("prog", "section"), [("xdp_count", "xdp"),
                                             ("sock_filter", "socket")])
def test_attach_of_a_section_without_target_says_so(kernel: None, compile_bpf: Compile,
                                                   prog: str, section: str) -> None:
    """attach() by SEC() of a section that names no target: libbpf answers EOPNOTSUPP,
    which said "this kernel does not support this attach kind" (the kernel supports XDP
    and socket filters; libbpf has nothing to attach them to)."""
    with BpfObject.open(compile_bpf("object")) as obj:
        obj.load()
        with pytest.raises(LibbpfError) as err:
            obj.programs[prog].attach()
    assert err.value.errno in (errno.EOPNOTSUPP, 524)  # ENOTSUPP, libbpf's own
    text = str(err.value)
    assert f"SEC({section!r}) names no target" in text and "attach_* method" in text
    assert "does not support" not in text


@pytest.mark.parametrize(("prog", "kind", "target"), [
    ("no_tp_btf", "tp_btf", "libbpf_py_no_such_tracepoint"),
    ("no_fentry", "fentry", "libbpf_py_no_such_function"),
])
def test_missing_btf_target_names_it(messages_o: Path, prog: str, kind: str,
                                     target: str) -> None:
    exc = _load_error(messages_o, prog)
    assert exc.errno == errno.ESRCH
    text = str(exc)
    assert f"no BTF type {target!r} for {kind} program {prog!r}" in text
    assert "in the kernel's BTF (vmlinux" in text and "[ESRCH]" in text


def test_non_elf_files_say_what_they_are_and_how_to_compile(tmp_path: Path,
                                                            kernel: None) -> None:
    src = tmp_path / "hello.bpf.c"
    src.write_text('#include "vmlinux.h"\nint x;\n')
    with pytest.raises(LibbpfError) as err:
        BpfObject.open(src)
    text = str(err.value)
    assert err.value.errno == 4001
    assert "is not a BPF ELF object: it looks like C source" in text
    assert f"clang -O2 -g -target bpf -c {src} -o {tmp_path / 'hello.bpf.o'}" in text
    notes = tmp_path / "notes.txt"
    notes.write_text("just some text\n")
    with pytest.raises(LibbpfError) as err:
        BpfObject.open(notes)
    assert "it is text (it starts with b'just some text\\n')" in str(err.value)
    assert "clang -O2 -g -target bpf -c x.bpf.c -o x.bpf.o" in str(err.value)
    with pytest.raises(LibbpfError) as err:
        BpfObject.open_mem(b"\x00\x01binary")
    assert "the image is not a BPF ELF object: it is not an ELF file" in str(err.value)
    with pytest.raises(LibbpfError) as err:
        BpfObject.open(os.path.realpath("/bin/true"))
    assert "an ELF file for another machine" in str(err.value)


def _fstype(path: Path) -> str:
    best, kind = "", ""
    with open("/proc/self/mounts") as mounts:
        for line in mounts:
            point, fstype = line.split()[1:3]
            if (str(path) + "/").startswith(point.rstrip("/") + "/") and len(point) >= len(best):
                best, kind = point, fstype
    return kind


def test_pins_off_bpffs_say_so(messages_o: Path, tmp_path: Path) -> None:
    assert _fstype(tmp_path) != "bpf"
    bpffs = [line.split()[1] for line in open("/proc/self/mounts") if line.split()[2] == "bpf"]
    where = f"bpffs is mounted at {', '.join(sorted(set(bpffs)))}"
    cases = [
        ("map", lambda obj: obj.maps["counts"].pin(tmp_path / "m"),
         f"cannot pin map 'counts' at '{tmp_path / 'm'}'"),
        ("program", lambda obj: obj.programs["good"].pin(tmp_path / "p"),
         f"cannot pin program 'good' at '{tmp_path / 'p'}'"),
        ("maps", lambda obj: obj.pin_maps(tmp_path / "mm"),
         f"cannot pin maps under '{tmp_path / 'mm'}' of BPF object 'messages'"),
        ("programs", lambda obj: obj.pin_programs(tmp_path / "pp"),
         f"cannot pin programs under '{tmp_path / 'pp'}' of BPF object 'messages'"),
        ("object", lambda obj: obj.pin(tmp_path / "o"),
         f"cannot pin maps and programs under '{tmp_path / 'o'}' of BPF object 'messages'"),
    ]
    for _label, pin, what in cases:
        with _open_only(messages_o, "good") as obj:
            obj.load()
            with pytest.raises(LibbpfError) as err:
                pin(obj)
        text = str(err.value)
        assert text.startswith(what), text
        assert f"'{tmp_path}' is not on a bpf filesystem (bpffs)" in text and where in text
    with _open_only(messages_o, "good") as obj:
        obj.load()
        link = obj.programs["good"].attach()
        try:
            with pytest.raises(LibbpfError) as err:
                link.pin(tmp_path / "l")
        finally:
            link.destroy()
    assert "is not on a bpf filesystem" in str(err.value) and where in str(err.value)


def test_eperm_puts_the_privilege_hint_before_libbpfs_line(messages_o: Path) -> None:
    """libbpf's "RLIMIT_MEMLOCK is set to big enough value" line misleads on kernels
    that do not use it: our diagnosis comes first."""
    obj = _open_only(messages_o, "good")
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        result = "no error"
        try:
            os.close(rfd)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)  # drops every capability
            try:
                obj.load()
            except Exception as exc:
                result = f"{getattr(exc, 'errno', None)}|{exc}"
        finally:
            os.write(wfd, result.encode())
            os._exit(0)
    os.close(wfd)
    with os.fdopen(rfd, "rb") as pipe:
        out = pipe.read().decode()
    os.waitpid(pid, 0)
    obj.close()
    err, message = out.split("|", 1)
    assert err == str(errno.EPERM), out
    assert message.index("missing privilege") < message.index("libbpf:"), message
    if "RLIMIT_MEMLOCK" in message:
        assert message.index("run it as root") < message.index("RLIMIT_MEMLOCK")


def test_logging_is_imported_at_the_first_message_not_with_libbpf_py() -> None:
    """``import libbpf_py`` leaves ``logging`` alone (~4 ms of import time); the first
    libbpf message imports it and goes to the same ``libbpf_py`` logger a user may
    have configured before (``log.logger`` is that logger)."""
    code = ("import sys, libbpf_py\n"
            "assert 'logging' not in sys.modules, 'logging imported with libbpf_py'\n"
            "from libbpf_py import log\n"
            "from libbpf_py._binding import lib\n"
            "log.libbpf_py_log_cb(lib.LIBBPF_WARN, log.ffi.new('char[]', b'hello\\n'))\n"
            "import logging\n"
            "assert log.logger is logging.getLogger('libbpf_py')\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    # no handler configured: logging's last resort printed the WARNING to stderr
    assert "hello" in proc.stderr
    assert log.logger is logging.getLogger("libbpf_py")
    with pytest.raises(AttributeError, match="no attribute 'loger'"):
        log.loger  # noqa: B018  (a misspelled name is an error, not None)
