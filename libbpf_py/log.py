"""libbpf's own messages, routed to ``logging.getLogger("libbpf_py")``.

libbpf prints through a callback that takes a ``va_list``, which neither ctypes
nor cffi can receive. A small C shim (``libbpf_py_set_print_hook`` in
``_cdefs/libbpf.py``) formats each message in C and hands the text to
``_on_message``. Installed when libbpf_py is imported; ``logging`` itself is
imported at libbpf's first message (``get_logger()``), so an import of
libbpf_py does not pay for it.

Level mapping:

==================  =================
libbpf              logging
==================  =================
``LIBBPF_WARN``     ``WARNING``
``LIBBPF_INFO``     ``INFO``
``LIBBPF_DEBUG``    ``DEBUG``
==================  =================

With no handler configured, Python's last-resort handler prints WARNING and
above to stderr, which is what libbpf's default printer does.
``logging.getLogger("libbpf_py").setLevel(logging.ERROR)`` silences libbpf.

A verifier log that libbpf prints at WARNING (a program failed to load) is not
poured into the logger: the logger gets one WARNING line (the program, the
size of the log) and the whole log at DEBUG. ``capture()``, hence
``VerifierError.log``, keeps its first ``HEAD_LINES`` and last ``TAIL_LINES``
lines with a marker line saying how much was cut.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Tuple

from ._binding import ffi, lib
from .errors import cut_log_bytes

if TYPE_CHECKING:
    import logging

# logging's levels (fixed, documented values): the module itself is imported at the
# first message (get_logger), not with libbpf_py: ~4 ms of import time that a
# program which never hears from libbpf does not pay.
_DEBUG, _INFO, _WARNING = 10, 20, 30

LEVELS: Dict[int, int] = {
    int(lib.LIBBPF_WARN): _WARNING,
    int(lib.LIBBPF_INFO): _INFO,
    int(lib.LIBBPF_DEBUG): _DEBUG,
}

_logger: Optional[logging.Logger] = None


def get_logger() -> logging.Logger:
    """``logging.getLogger("libbpf_py")``, where every message of libbpf_py goes;
    ``logging`` is imported at the first call."""
    global _logger
    if _logger is None:
        import logging

        _logger = logging.getLogger("libbpf_py")
    return _logger


def __getattr__(name: str) -> Any:
    """``log.logger``: the logger of :func:`get_logger`, made on first use."""
    if name == "logger":
        return get_logger()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

#: lines kept from the start of a verifier log by capture() (VerifierError.log)
HEAD_LINES = 200
#: lines kept from the end of a verifier log (where the error is)
TAIL_LINES = 200

_BEGIN = b"-- BEGIN PROG LOAD LOG --\n"
_END = b"-- END PROG LOAD LOG --"

_local = threading.local()

# one capture: its messages, and how many head and tail lines of a verifier log it keeps
_Capture = Tuple[List[str], int, int]


def _split_prog_log(raw: bytes) -> Optional[Tuple[bytes, bytes, bytes]]:
    """libbpf's "prog 'p': -- BEGIN PROG LOAD LOG --\\n<log>-- END PROG LOAD LOG --"
    message as (text before the log, the log, text after it); None for other messages."""
    begin = raw.find(_BEGIN)
    if begin < 0:
        return None
    end = raw.rfind(_END)
    if end < begin:
        return None
    start = begin + len(_BEGIN)
    return raw[:start], raw[start:end], raw[end:]


@ffi.def_extern()  # type: ignore[untyped-decorator]
def libbpf_py_log_cb(level: int, msg: object) -> None:
    try:
        raw: bytes = ffi.string(msg)
        py_level = LEVELS.get(level, _WARNING)
        logger = get_logger()
        captures: List[_Capture] = getattr(_local, "captures", [])
        parts = _split_prog_log(raw)
        if parts is None:
            text = raw.decode("utf-8", "replace")
            for messages, _head, _tail in captures:
                messages.append(text)
            if logger.isEnabledFor(py_level):
                logger.log(py_level, "%s", text.rstrip("\n"))
            return
        before, body, after = parts
        for messages, head, tail in captures:
            messages.append((before + cut_log_bytes(body, head, tail) + after)
                            .decode("utf-8", "replace"))
        if py_level > _DEBUG and logger.isEnabledFor(py_level):
            # "libbpf: prog 'p': " and a summary; the log itself only at DEBUG
            prefix = before[:-len(_BEGIN)].decode("utf-8", "replace").rstrip()
            lines = body.count(b"\n") + (0 if body.endswith(b"\n") or not body else 1)
            logger.log(py_level, "%s verifier log of %d lines (%d bytes) not shown: its "
                       "first and last lines are in VerifierError.log, the whole log at "
                       "DEBUG level of logger 'libbpf_py'", prefix, lines, len(body))
        if logger.isEnabledFor(_DEBUG):
            logger.debug("%s", raw.decode("utf-8", "replace").rstrip("\n"))
    except Exception:
        pass


@contextmanager
def capture(head: Optional[int] = None, tail: Optional[int] = None) -> Iterator[List[str]]:
    """Collect every libbpf message printed by this thread inside the block.

    The messages are also logged as usual. Used to recover the verifier log
    that libbpf prints when a program fails to load; that log is kept cut to
    its first ``head`` and last ``tail`` lines (default ``HEAD_LINES``,
    ``TAIL_LINES``) around a line saying how much was cut.
    """
    messages: List[str] = []
    entry: _Capture = (messages, HEAD_LINES if head is None else head,
                       TAIL_LINES if tail is None else tail)
    stack: List[_Capture] = getattr(_local, "captures", None) or []
    _local.captures = stack
    stack.append(entry)
    try:
        yield messages
    finally:
        for i, other in enumerate(stack):
            if other is entry:
                del stack[i]
                break


def install() -> None:
    """Route libbpf's printing to the ``libbpf_py`` logger (done at import)."""
    lib.libbpf_py_set_print_hook(lib.LIBBPF_PY_PRINT_PYTHON)


def restore_default() -> None:
    """Give libbpf back the printer it had before libbpf_py (stderr by default)."""
    lib.libbpf_py_set_print_hook(lib.LIBBPF_PY_PRINT_DEFAULT)


install()
