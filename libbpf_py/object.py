"""BpfObject: an ELF file of BPF programs and maps, opened, configured, loaded.

Phases, as libbpf has them: ``open`` reads the ELF (programs and maps can be
configured), ``load`` creates the maps and loads the programs into the kernel
(they get fds and ids), ``close`` frees everything. Programs and maps are
borrowed handles: they hold their object and raise
:class:`~libbpf_py.errors.ClosedError` once it is closed.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import sys
import weakref
from typing import (
    Any,
    Callable,
    Dict,
    Generic,
    Iterator,
    List,
    Mapping,
    Optional,
    Tuple,
    TypeVar,
    Union,
)

from . import _btfguard, _validate, log
from ._binding import ffi, lib
from ._call import check, check_pin, check_ptr, libbpf_strerror, make_error
from ._features import require_field
from ._guard import Guard, guard_methods
from ._validate import PathLike
from .btf import Btf
from .datasec import ObjectVars, Sections, image_replaced
from .errors import (
    LIBBPF_ERRNO_FORMAT,
    AlreadyLoadedError,
    ClosedError,
    LibbpfError,
    NotLoadedError,
    VerifierError,
    cut_log,
    error_class,
    file_start,
    not_bpf_elf,
    privilege_hint,
)
from .link import Link
from .map import Map
from .program import Program, attach_error

T = TypeVar("T")

#: The longest object name libbpf keeps, in bytes (``char name[BPF_OBJ_NAME_LEN]``).
OBJECT_NAME_MAX = 15


def kept_object_name(name: str) -> bytes:
    """What libbpf keeps of ``name`` as an object name: its first 15 bytes (UTF-8), as
    ``bpf_object__open_skeleton`` does with a skeleton's (bpftool's) longer name."""
    return _validate.cstr(name, "object name")[:OBJECT_NAME_MAX]


# The open options: keyword -> the bpf_object_open_opts field it sets (the version node of
# each field is its declaration's, see _features.node_of_field).
_OPEN_OPTIONS: Dict[str, str] = {
    "name": "object_name",
    "relaxed_maps": "relaxed_maps",
    "pin_root_path": "pin_root_path",
    "kconfig": "kconfig",
    "btf_custom_path": "btf_custom_path",
    "kernel_log_level": "kernel_log_level",
    "kernel_log_size": "kernel_log_size",
    "bpf_token_path": "bpf_token_path",
}

# The patterns of this file are strings, compiled (and cached) by the re module on first
# use, on the error paths of open and load, not at ``import libbpf_py``.
# libbpf: "prog 'p': failed to find kernel BTF type ID of 'target': -3" (libbpf >= 0.6)
_NO_BTF_TARGET_PATTERN = (
    r"prog '(?P<prog>[^']*)': failed to find (?:kernel )?BTF type ID of '(?P<target>[^']*)'")

# the section kinds whose target libbpf looks up in the kernel's BTF at load
_BTF_TARGET_KINDS = ("tp_btf", "fentry", "fexit", "fmod_ret", "fentry.s", "fexit.s",
                     "fmod_ret.s", "lsm", "lsm.s", "lsm_cgroup", "iter", "iter.s")

#: libbpf's LIBBPF_ERRNO__LIBELF ("Something wrong in libelf"); __FORMAT is errors'
_LIBBPF_ERRNO_LIBELF = 4000

#: btf__endianness() of a BTF in this machine's byte order (enum btf_endianness)
_NATIVE_BTF_ENDIAN = lib.BTF_LITTLE_ENDIAN if sys.byteorder == "little" else lib.BTF_BIG_ENDIAN

# libbpf: "prog 'p': BPF program load failed: <strerror>" (the kernel refused it)
_PROG_LOAD_FAILED_PATTERN = r"prog '(?P<name>[^']*)': BPF program load failed"

_VERIFIER_STATS_PATTERN = r"(?m)^processed \d+ insns"

_PROG_LOG_PATTERN = (r"(?s)prog '(?P<name>[^']*)': -- BEGIN PROG LOAD LOG --\n(?P<log>.*?)"
                     r"-- END PROG LOAD LOG --")


class NamedMapping(Mapping[str, T], Generic[T]):
    """Read-only name -> handle mapping in libbpf's order; names are attributes too."""

    __slots__ = ("_items", "_kind")

    def __init__(self, items: Dict[str, T], kind: str) -> None:
        self._items = items
        self._kind = kind

    def __getitem__(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(self._items) or "none"
            raise KeyError(f"no {self._kind} named {name!r} (this object has: {known})") \
                from None

    def __getattr__(self, name: str) -> T:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError as exc:
            raise AttributeError(exc.args[0]) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __dir__(self) -> List[str]:
        return list(self._items)

    def __repr__(self) -> str:
        return f"<{self._kind}s {list(self._items)}>"


def _encode_path(path: PathLike, what: str = "path") -> bytes:
    return _validate.cstr(path, what, path=True)


def _guard_file(raw: bytes, what: str) -> None:
    """The BTF guard (``_btfguard``) on a file libbpf is about to open.

    Only a regular file is read: reading a FIFO or a device first would take the
    bytes libbpf is to read. A file that cannot be read is left to libbpf, which
    says why (ENOENT, EACCES...). Only the ELF header, the section headers, their
    names and ``.BTF`` are read (``_btfguard.file_btf``): libbpf reads the file
    itself, and a large object costs the guard its BTF only.
    """
    try:  # O_NONBLOCK: opening a FIFO must not wait for a writer
        fd = os.open(raw, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return
        found = _btfguard.file_btf(fd)
    except OSError:
        return
    finally:
        os.close(fd)
    if found is not None:
        _btfguard.check_btf(found[0], found[1], what)


@guard_methods()
class BpfObject:
    """A BPF ELF object: its programs, its maps, and the kernel objects after load.

    Open with :meth:`open` (a file) or :meth:`open_mem` (bytes); use as a
    context manager or call :meth:`close`.
    """

    # No __dict__: a misspelt setting (``obj.autolaod = False``) raises AttributeError
    # instead of landing in one, unseen. A subclass without __slots__ gets a __dict__.
    __slots__ = ("__weakref__", "_element_maps", "_guard", "_keep", "_loaded", "_maps",
                 "_opts", "_prepared", "_programs", "_ptr", "_sections", "_source")

    def __init__(self, ptr: Any, keep: List[Any], source: str, opts: Any = None) -> None:
        # ffi.gc is only the safety net; close() releases deterministically.
        self._ptr: Any = ffi.gc(ptr, lib.bpf_object__close)
        self._keep = keep  # memory C may still read: ELF bytes, option strings, log buffer
        self._source = source
        self._opts = opts  # the open options (NULL or cdata), for the kernel log buffer
        self._loaded = False
        self._prepared = False  # bpf_object__prepare ran (by prepare() or load())
        self._programs: Optional[NamedMapping[Program]] = None
        self._maps: Optional[NamedMapping[Map]] = None
        # the maps (cached or not: Map.inner_map makes new ones) with element state
        self._element_maps: Dict[int, weakref.ref[Any]] = {}
        # calls in flight on the C object (any thread): close() frees it after them
        self._guard = Guard()
        self._sections: Optional[Sections] = None  # var()/set_var()'s, built on first use

    # -- opening -------------------------------------------------------------------------

    @staticmethod
    def _make_opts(kwargs: Dict[str, Any], keep: List[Any]) -> Any:
        if not kwargs:
            return ffi.NULL
        opts = ffi.new("struct bpf_object_open_opts *")
        opts.sz = ffi.sizeof("struct bpf_object_open_opts")
        for key, value in kwargs.items():
            if key not in _OPEN_OPTIONS:
                raise TypeError(f"unknown open option {key!r}; libbpf's are: "
                                + ", ".join(sorted(_OPEN_OPTIONS)))
            field = _OPEN_OPTIONS[key]
            require_field("bpf_object_open_opts", field, f"open option {key}")
            if value is None:
                continue
            if key in ("name", "pin_root_path", "kconfig", "btf_custom_path", "bpf_token_path"):
                data = _validate.cstr(value, f"open option {key}", path=key not in (
                    "name", "kconfig"))
                if key == "name" and len(data) > OBJECT_NAME_MAX:
                    # (libbpf would keep its first 15 bytes, without a word)
                    raise ValueError(
                        f"open option name {_validate.show(value)} is {len(data)} bytes: "
                        f"libbpf keeps an object name of at most {OBJECT_NAME_MAX} "
                        "(BPF_OBJ_NAME_LEN - 1)")
                buf = ffi.new("char[]", data)
                keep.append(buf)
                setattr(opts, field, buf)
            elif key == "relaxed_maps":
                # not bool(value): "no", "false" or [0] would turn it on without a word
                opts.relaxed_maps = _validate.check_bool(value, "open option relaxed_maps")
            elif key == "kernel_log_level":
                opts.kernel_log_level = _validate.check_int(value, key)
            elif key == "kernel_log_size":
                size = _validate.check_int(value, key)
                if size <= 0:
                    raise ValueError("kernel_log_size must be positive")
                buf = ffi.new("char[]", size)
                keep.append(buf)
                opts.kernel_log_buf = buf
                opts.kernel_log_size = size
        keep.append(opts)
        return opts

    @classmethod
    def open(cls, path: PathLike, **options: Any) -> BpfObject:
        """Open a BPF ELF file. Options are libbpf's ``bpf_object_open_opts``:

        ``name``, ``relaxed_maps``, ``pin_root_path``, ``kconfig``,
        ``btf_custom_path``, ``kernel_log_level``, ``kernel_log_size`` and
        (libbpf >= 1.4) ``bpf_token_path``. An option this build's libbpf does
        not know raises :class:`~libbpf_py.LibbpfVersionError`. A ``name`` of
        more than 15 bytes raises ValueError (libbpf would keep 15 of them).
        """
        keep: List[Any] = []
        opts = cls._make_opts(options, keep)
        raw = _encode_path(path)
        cpath = ffi.new("char[]", raw)
        keep.append(cpath)
        what = f"bpf_object__open_file({os.fspath(path)!r})"
        _guard_file(raw, what)
        try:
            ptr = check_ptr(lib.bpf_object__open_file(cpath, opts), what)
        except LibbpfError as exc:
            if exc.errno == _LIBBPF_ERRNO_LIBELF and os.path.isdir(raw):
                # libbpf says only "Something wrong in libelf" (elf_begin on a directory)
                raise error_class(errno.EISDIR)(
                    errno.EISDIR, f"{os.fsdecode(raw)!r} is a directory, not a BPF ELF "
                    "object file", what) from None
            if exc.errno != LIBBPF_ERRNO_FORMAT:
                raise
            start = file_start(raw)
            if start is None:
                raise exc from None
            raise not_bpf_elf(exc, what, start, os.fsdecode(raw)) from None
        return cls(ptr, keep, os.fspath(path), opts)

    @classmethod
    def open_mem(cls, data: Union[bytes, bytearray, memoryview], **options: Any) -> BpfObject:
        """Open a BPF ELF image held in memory (same options as :meth:`open`).

        The bytes are copied once and kept alive as long as the object: libbpf
        may read them until close. Without ``name=``, libbpf names the object
        after the copy's address and size (``"55fd84e7...-47e8"``), and its
        ``.bss``/``.data``/``.rodata`` maps after that (``"55fd84e7.bss"``,
        different in every run): pass ``name=`` for names code can use.
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"open_mem needs a bytes-like ELF image, not {type(data).__name__}")
        keep: List[Any] = []
        opts = cls._make_opts(options, keep)
        image = bytes(data)
        if not image:
            raise ValueError("open_mem got an empty image")
        _btfguard.check_image(image, "bpf_object__open_mem")
        buf = ffi.new("char[]", image)
        keep.append(buf)
        try:
            ptr = check_ptr(lib.bpf_object__open_mem(buf, len(image), opts),
                            "bpf_object__open_mem")
        except LibbpfError as exc:
            if exc.errno != LIBBPF_ERRNO_FORMAT:
                raise
            raise not_bpf_elf(exc, "bpf_object__open_mem", image[:64], None) from None
        return cls(ptr, keep, "<memory>", opts)

    # -- state --------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._ptr is None

    @property
    def loaded(self) -> bool:
        return self._loaded and self._ptr is not None

    def _check_open(self) -> Any:
        ptr = self._ptr
        if ptr is None:
            raise ClosedError(f"BPF object {self._source!r} is closed")
        return ptr

    def close(self) -> None:
        """Free the object, its programs and maps (idempotent).

        Links made from its programs stay attached until they are destroyed.
        """
        ptr, self._ptr = self._ptr, None
        if ptr is not None:
            def free() -> None:
                ffi.release(ptr)
                self._keep = []
                self._opts = None

            self._retire(free)

    def _retire(self, free: Callable[[], None]) -> None:
        """The object is closed (``_ptr`` cleared): run ``free`` once no call is in flight.

        A call that another thread is making on the object (a load, a map
        lookup) finishes on live memory; the object is freed when it returns.
        Each map's element state holds its own copy of the map fd, so that fd
        number cannot be handed out again under a lookup still running.
        """
        for ref in list(self._element_maps.values()):
            m = ref()
            if m is not None:
                m._elements = None  # MapBase's int path stops here
        # var()'s section views: each mapping (and its dup of the map fd) holds this
        # object, so they go now rather than with the garbage collector
        self._sections = None
        self._guard.retire(free)

    def _image_replaced(self, ptr: Any) -> None:
        """Map ``ptr``'s initial_value was set: retire the section views of the old
        image (see ``datasec.image_replaced``)."""
        image_replaced(self, ptr)

    def _track_elements(self, m: Any) -> None:
        """Map ``m`` made its element state: close() clears it (see ``_retire``)."""
        key = id(m)
        maps = self._element_maps
        maps[key] = weakref.ref(m, lambda _ref: maps.pop(key, None))

    def __enter__(self) -> BpfObject:
        self._check_open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        if self._ptr is None:
            return f"<BpfObject {_validate.show(self._source)} closed>"
        state = "loaded" if self._loaded else "opened"
        return f"<BpfObject {_validate.show(self.name)} {state}>"

    # -- contents -------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return _validate.from_c(ffi.string(lib.bpf_object__name(self._check_open())))

    @property
    def kernel_version(self) -> int:
        """The kernel version in the ELF's ``version`` section (0 when absent)."""
        return int(lib.bpf_object__kversion(self._check_open()))

    @property
    def programs(self) -> NamedMapping[Program]:
        """name -> Program, in libbpf's order."""
        ptr = self._check_open()
        if self._programs is None:
            items: Dict[str, Program] = {}
            prog = lib.bpf_object__next_program(ptr, ffi.NULL)
            while prog != ffi.NULL:
                p = Program._from_object(self, prog)
                items[p.name] = p
                prog = lib.bpf_object__next_program(ptr, prog)
            self._programs = NamedMapping(items, "program")
        return self._programs

    @property
    def maps(self) -> NamedMapping[Map]:
        """name -> Map, in libbpf's order (.data/.bss/.rodata included)."""
        ptr = self._check_open()
        if self._maps is None:
            items: Dict[str, Map] = {}
            m = lib.bpf_object__next_map(ptr, ffi.NULL)
            while m != ffi.NULL:
                name = _validate.from_c(ffi.string(lib.bpf_map__name(m)))
                items[name] = Map._from_object(self, m)
                m = lib.bpf_object__next_map(ptr, m)
            self._maps = NamedMapping(items, "map")
        return self._maps

    @property
    def btf(self) -> Optional[Btf]:
        """The object's BTF (``bpf_object__btf``) as a :class:`~libbpf_py.btf.Btf` view,
        or None when the ELF file has none.

        The view belongs to the object: closing it frees nothing, and it raises
        :class:`~libbpf_py.errors.ClosedError` once the object is closed.
        """
        ptr = lib.bpf_object__btf(self._check_open())
        if ptr == ffi.NULL:
            return None
        return Btf._view(ptr, self, f"BTF of {self._source}")

    @property
    def kernel_log(self) -> str:
        """The kernel log of the object's BTF load (``kernel_log_size=`` at open)."""
        self._check_open()
        if self._opts is None or self._opts == ffi.NULL or self._opts.kernel_log_buf == ffi.NULL:
            return ""
        return str(ffi.string(self._opts.kernel_log_buf).decode("utf-8", "replace"))

    # -- load and pin ---------------------------------------------------------------------

    def load(self) -> None:
        """Create the maps and load the programs into the kernel.

        A program the verifier rejects raises :class:`~libbpf_py.errors.VerifierError`
        with the verifier log (its first and last lines; see "Errors" in
        docs/objects.md for the whole log); other failures raise LibbpfError.
        """
        ptr = self._check_open()
        if self._loaded:
            raise AlreadyLoadedError(f"BPF object {self.name!r} is already loaded")
        self._load_with(ptr, lambda: lib.bpf_object__load(ptr))
        self._loaded = True

    def _load_with(self, ptr: Any, load: Callable[[], int]) -> None:
        """Run ``load`` (bpf_object__load or __load_skeleton), its messages captured,
        and raise what its failure means."""
        records: Dict[str, bytes] = {}
        with log.capture() as messages:
            ret = 0
            if not self._prepared and self._prepare_first(ptr):
                ret = lib.bpf_object__prepare(ptr)
                self._prepared = ret == 0
            # A close() made inside prepare (from a logging handler) cleared
            # _ptr; the memory stays live until this call returns (the guard),
            # so the load still runs, but there is no object to ask for records.
            if self._prepared and self._ptr is not None:
                records = self._line_info_records()
            if ret == 0:
                ret = load()
        if ret < 0:
            self._raise_load_error(-ret, messages, records)

    def _prepare_first(self, ptr: Any) -> bool:
        """Whether load() runs libbpf's prepare step on its own first, to copy the
        programs' line info (which libbpf frees when the load fails) for the source
        line of a VerifierError: with libbpf >= 1.6, for an object with BTF (no BTF,
        no line info) of this machine's byte order (bpf_object__load refuses another
        before preparing; bpf_object__prepare does not check)."""
        if not lib.has("bpf_object__prepare"):
            return False
        btf = lib.bpf_object__btf(ptr)
        return bool(btf != ffi.NULL and lib.btf__endianness(btf) == _NATIVE_BTF_ENDIAN)

    def _line_info_records(self) -> Dict[str, bytes]:
        return {name: prog._line_info_records() for name, prog in self.programs.items()
                if prog.autoload}

    def prepare(self) -> None:
        """Do everything of :meth:`load` but load the programs (``bpf_object__prepare``,
        libbpf >= 1.6): resolve externs, apply the relocations, load BTF, create (and
        pin) the maps. :meth:`load` then only loads the programs.

        Between the two, program settings (autoload, type, expected attach type,
        flags, log level, attach target) may still change; map settings may not (the
        maps exist: libbpf answers EBUSY), and map elements are reachable from
        :meth:`load` on. A failed prepare leaves the object unloadable (libbpf's
        rule): close it. libbpf < 1.6 raises
        :class:`~libbpf_py.LibbpfVersionError` naming LIBBPF_1.6.0.
        """
        ptr = self._check_open()
        fn = lib.bpf_object__prepare  # LibbpfVersionError before libbpf 1.6
        if self._loaded:
            raise AlreadyLoadedError(f"BPF object {self.name!r} is already loaded")
        with log.capture() as messages:
            ret = fn(ptr)
        self._prepared = self._prepared or ret == 0
        if ret < 0:
            err = -ret
            warn = [ln.strip().removeprefix("libbpf: ") for ln in "".join(messages).splitlines()]
            warn = [ln for ln in warn if ln]
            strerror = libbpf_strerror(err) + (f"; libbpf: {warn[-1]}" if warn else "")
            raise make_error(err, f"bpf_object__prepare({self.name!r})", strerror)

    def _source_lines(self, records: Dict[str, bytes], program: Optional[str]
                      ) -> Optional[List[Tuple[int, str]]]:
        """(first instruction, ``file:N: text``) per source line of ``program``, from
        the line info copied before the load (for VerifierError.source_line)."""
        data = records.get(program or "")
        if not data:
            return None
        # the file's base name, as the verifier log names it (the BTF has the path
        # given to clang)
        return [(li.insn_off,
                 f"{os.path.basename(li.file_name)}:{li.line}: {li.line_text.strip()}")
                for li in self.programs[program or ""]._decode_line_info(data)
                if li.line and li.line_text.strip()]

    def _raise_load_error(self, err: int, messages: List[str],
                          records: Optional[Dict[str, bytes]] = None) -> None:
        text = "".join(messages)
        records = records or {}
        m = re.search(_PROG_LOG_PATTERN, text)
        if m is not None:  # cut by log.capture()
            name = m.group("name")
            raise VerifierError(err, libbpf_strerror(err), "bpf_object__load",
                                program=name, log=m.group("log"),
                                lines=self._source_lines(records, name))
        # a program with a user-supplied log buffer: libbpf does not print it
        for prog in self.programs.values():
            user_log = prog.log_buffer()
            if user_log:
                raise VerifierError(err, libbpf_strerror(err), "bpf_object__load",
                                    program=prog.name,
                                    log=cut_log(user_log, log.HEAD_LINES, log.TAIL_LINES,
                                                "the whole log is in Program.log_buffer()"),
                                    lines=self._source_lines(records, prog.name))
        # the object's log buffer (kernel_log_size= at open): libbpf does not print it
        failed = re.search(_PROG_LOAD_FAILED_PATTERN, text)
        obj_log = self.kernel_log if failed is not None else ""
        # the buffer may still hold the object's BTF log: a verifier log ends with its stats
        if obj_log and err != errno.ENOSPC and re.search(_VERIFIER_STATS_PATTERN, obj_log):
            name = failed.group("name") if failed else None
            raise VerifierError(err, libbpf_strerror(err), "bpf_object__load",
                                program=name,
                                log=cut_log(obj_log, log.HEAD_LINES, log.TAIL_LINES,
                                            "the whole log is in BpfObject.kernel_log"),
                                lines=self._source_lines(records, name))
        what = f"bpf_object__load({self.name!r})"
        # libbpf's last words are "failed to load object"; the line before says why
        warn = [ln.strip().removeprefix("libbpf: ") for ln in text.splitlines()]
        warn = [ln for ln in warn if ln and not ln.startswith("failed to load object")]
        said = f"libbpf: {warn[-1]}" if warn else ""
        strerror = libbpf_strerror(err)
        if err == errno.ESRCH:
            target = self._missing_btf_target(text)
            if target:
                raise error_class(err)(err, f"{strerror}: {target}", what)
        elif err == errno.ENOSPC and self._opts not in (None, ffi.NULL) \
                and self._opts.kernel_log_buf != ffi.NULL:
            size = int(self._opts.kernel_log_size)
            raise error_class(err)(err, (
                f"{strerror}: the verifier log did not fit the kernel_log_size={size} "
                f"buffer given at open; give a bigger one, or leave it out (libbpf then "
                f"grows its own and VerifierError.log shows the error)"), what)
        elif "failed to parse target BTF" in text and self._opts not in (None, ffi.NULL) \
                and self._opts.btf_custom_path != ffi.NULL:
            # libbpf's own line names neither the option nor the file
            custom = os.fsdecode(ffi.string(self._opts.btf_custom_path))
            why = ("does not exist" if not os.path.exists(custom)
                   else "is not BTF (raw BTF, or an ELF file with a .BTF section)")
            raise error_class(err)(err, (
                f"{strerror}: btf_custom_path={custom!r} (given at open) {why}: libbpf "
                f"reads the kernel's BTF from it for the CO-RE relocations"), what)
        elif err == errno.EPERM:
            # our diagnosis first: libbpf's line blames RLIMIT_MEMLOCK, which has not
            # limited BPF since Linux 5.11 (memory cgroup accounting)
            hint = privilege_hint() or ("the kernel's policy refused it although this "
                                        "process has the privileges (an LSM, lockdown, "
                                        "sysctl kernel.unprivileged_bpf_disabled)")
            tail = f"; {said}" if said else ""
            if "RLIMIT_MEMLOCK" in said and _kernel_at_least(5, 11):
                tail += " (RLIMIT_MEMLOCK does not limit BPF on this kernel)"
            raise error_class(err)(err, f"{strerror}: {hint}{tail}", what)
        raise make_error(err, what, strerror + (f"; {said}" if said else ""))

    def _missing_btf_target(self, text: str) -> str:
        """For an ESRCH load: which tracing program's target the kernel's BTF lacks."""
        found = re.search(_NO_BTF_TARGET_PATTERN, text)
        for prog in self.programs.values():
            if not prog.autoload:
                continue
            section = prog.section
            kind, _, target = section.partition("/")
            if kind not in _BTF_TARGET_KINDS:
                continue
            if found is not None:
                if found.group("prog") != prog.name:
                    continue
                target = found.group("target")
            elif not target:
                continue
            where = "the kernel's BTF (vmlinux and modules)"
            if kind == "tp_btf":
                todo = (f"tp_btf/NAME takes a raw tracepoint name, which the kernel's BTF "
                        f"has as the typedef btf_trace_NAME (`bpftool btf dump file "
                        f"/sys/kernel/btf/vmlinux | grep btf_trace_{target}`); "
                        f"/sys/kernel/tracing/available_events lists the tracepoints")
            elif kind.startswith("iter"):
                todo = "the kernel has no such BPF iterator (bpf_iter_NAME in its BTF)"
            else:
                todo = (f"{kind}/FUNC needs a kernel function with BTF (see "
                        f"/proc/kallsyms; an inlined or static function may have none)")
            return (f"no BTF type {target!r} for {kind} program {prog.name!r} "
                    f"(SEC({section!r})) in {where}: {todo}")
        return ""

    def pin_maps(self, path: Optional[PathLike] = None) -> None:
        """Pin every map under ``path`` (None: each map's own pin path); after load."""
        ptr = self._check_open()
        self._pin_after_load("pin_maps")
        c = ffi.NULL if path is None else _encode_path(path)
        where = "at their pin paths" if path is None else f"under {os.fsdecode(c)!r}"
        self._check_pin(lib.bpf_object__pin_maps(ptr, c), f"pin maps {where}", c)

    def unpin_maps(self, path: Optional[PathLike] = None) -> None:
        ptr = self._check_open()
        c = ffi.NULL if path is None else _encode_path(path)
        check(lib.bpf_object__unpin_maps(ptr, c), "bpf_object__unpin_maps")

    def pin_programs(self, path: PathLike) -> None:
        """Pin every program under ``path`` (a bpffs directory); after load."""
        ptr = self._check_open()
        self._pin_after_load("pin_programs")
        c = _encode_path(path)
        self._check_pin(lib.bpf_object__pin_programs(ptr, c),
                        f"pin programs under {os.fsdecode(c)!r}", c)

    def unpin_programs(self, path: PathLike) -> None:
        check(lib.bpf_object__unpin_programs(self._check_open(), _encode_path(path)),
              "bpf_object__unpin_programs")

    def pin(self, path: PathLike) -> None:
        """Pin every map and program under ``path`` (a bpffs directory); after load."""
        ptr = self._check_open()
        self._pin_after_load("pin")
        c = _encode_path(path)
        self._check_pin(lib.bpf_object__pin(ptr, c),
                        f"pin maps and programs under {os.fsdecode(c)!r}", c)

    def _pin_after_load(self, method: str) -> None:
        """libbpf refuses to pin before load with a bare ENOENT, which read as a missing
        directory ("No such file or directory"): say what is missing instead."""
        if not self._loaded:
            raise NotLoadedError(f"load() BPF object {self.name!r} before {method}(): "
                                 f"its maps and programs are not in the kernel yet")

    def _check_pin(self, ret: int, what: str, directory: Any) -> None:
        """A failed pin of the object's maps or programs: say which object, and why
        (``directory`` None: each map's own pin path)."""
        if ret < 0:
            path = None if directory == ffi.NULL else os.path.join(os.fsdecode(directory), "")
            label = f"cannot {what} of BPF object {self.name!r}"
            if path is None:
                check(ret, label)
            check_pin(ret, label, path)

    def unpin(self, path: PathLike) -> None:
        """Unpin what :meth:`pin` pinned (libbpf >= 1.4's bpf_object__unpin, or maps
        and programs one by one)."""
        ptr = self._check_open()
        if lib.has("bpf_object__unpin"):
            check(lib.bpf_object__unpin(ptr, _encode_path(path)), "bpf_object__unpin")
        else:
            self.unpin_maps(path)
            self.unpin_programs(path)

    # -- attaching -------------------------------------------------------------------------

    def attach(self) -> Dict[str, Link]:
        """Attach every program whose ``SEC()`` says how, as a skeleton's ``attach()``
        does, and return the links: program name -> :class:`~libbpf_py.Link`.

        Each program goes through ``bpf_program__attach``. Skipped, as libbpf's
        ``bpf_object__attach_skeleton`` skips them: programs not loaded
        (``autoload`` off), programs whose ``autoattach`` is off, and programs
        whose section does not say where to attach (``SEC("xdp")``,
        ``SEC("socket")``, ``SEC("struct_ops/...")``, a bare ``SEC("kprobe")``
        or ``SEC("uprobe")``...): attach those with their ``attach_*`` method.
        If a program fails to attach, the links made so far are destroyed and
        the error is raised. The links are the caller's: they detach when
        destroyed (or collected), as every Link does, and hold the object.
        """
        self._check_open()
        if not self._loaded:
            raise NotLoadedError(f"load() BPF object {self.name!r} before attach()")
        links: Dict[str, Link] = {}
        try:
            for name, prog in self.programs.items():
                if not prog.autoload or not prog.autoattach:
                    continue
                link = _auto_attach(prog)
                if link is not None:
                    links[name] = link
        except BaseException:
            for link in links.values():
                link.destroy()
            raise
        return links

    # -- global variables -------------------------------------------------------------------

    def var(self, name: str) -> Any:
        """The value of global variable ``name`` (its C name) of a data section.

        Before load: the initial image; after load: the map's memory (mapped
        once). Ints, floats and bytes as such, structs as dicts, arrays as lists.
        """
        self._check_open()
        return ObjectVars.get(self, name)

    def set_var(self, name: str, value: Any) -> None:
        """Set global variable ``name``: before load in the initial image, after load in
        the map's memory. A ``.rodata`` variable after load raises ReadOnlyError."""
        self._check_open()
        ObjectVars.set(self, name, value)


def _auto_attach(prog: Program) -> Optional[Link]:
    """``bpf_program__attach``: the Link, or None when the program's section gives
    no auto-attach (libbpf says EOPNOTSUPP without a word: no attach function for
    the section, or one that found no target in it, which the skeleton skips too);
    any other failure raises."""
    ptr = prog._check_open()
    with log.capture() as messages:
        link = lib.bpf_program__attach(ptr)
        err = ffi.errno  # read before any other call can change it
    if link != ffi.NULL:
        return Link._adopt(link, prog)
    if err == errno.EOPNOTSUPP and not "".join(messages).strip():
        return None
    raise attach_error(err or errno.EINVAL, "attach", prog)


def _kernel_at_least(major: int, minor: int) -> bool:
    m = re.match(r"(\d+)\.(\d+)", os.uname().release)
    return m is not None and (int(m.group(1)), int(m.group(2))) >= (major, minor)


