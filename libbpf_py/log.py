"""libbpf's own messages, routed to ``logging.getLogger("libbpf_py")``.

libbpf prints through a callback that takes a ``va_list``, which neither ctypes
nor cffi can receive. A small C shim (``libbpf_py_set_print_hook`` in
``_cdefs/libbpf.py``) formats each message in C and hands the text to
``_on_message``. Installed when libbpf_py is imported.

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
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from typing import Dict, Iterator, List

from ._binding import ffi, lib

logger = logging.getLogger("libbpf_py")

LEVELS: Dict[int, int] = {
    int(lib.LIBBPF_WARN): logging.WARNING,
    int(lib.LIBBPF_INFO): logging.INFO,
    int(lib.LIBBPF_DEBUG): logging.DEBUG,
}

_local = threading.local()


@ffi.def_extern()  # type: ignore[untyped-decorator]
def libbpf_py_log_cb(level: int, msg: object) -> None:
    try:
        text = ffi.string(msg).decode("utf-8", "replace")
        captures: List[List[str]] = getattr(_local, "captures", [])
        for capture in captures:
            capture.append(text)
        py_level = LEVELS.get(level, logging.WARNING)
        if logger.isEnabledFor(py_level):
            logger.log(py_level, "%s", text.rstrip("\n"))
    except Exception:
        pass


@contextmanager
def capture() -> Iterator[List[str]]:
    """Collect every libbpf message printed by this thread inside the block.

    The messages are also logged as usual. Used to recover the verifier log
    that libbpf prints when a program fails to load.
    """
    messages: List[str] = []
    stack: List[List[str]] = getattr(_local, "captures", None) or []
    _local.captures = stack
    stack.append(messages)
    try:
        yield messages
    finally:
        stack.remove(messages)


def install() -> None:
    """Route libbpf's printing to the ``libbpf_py`` logger (done at import)."""
    lib.libbpf_py_set_print_hook(lib.LIBBPF_PY_PRINT_PYTHON)


def restore_default() -> None:
    """Give libbpf back the printer it had before libbpf_py (stderr by default)."""
    lib.libbpf_py_set_print_hook(lib.LIBBPF_PY_PRINT_DEFAULT)


install()
