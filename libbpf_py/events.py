"""The buffer classes under their former module name, kept for compatibility.

The ring buffer, the user ring buffer and the perf buffer each have their own
module now, as in libbpf-rs (``ringbuf.rs``, ``user_ringbuf.rs``,
``perf_buffer.rs``):

* :mod:`libbpf_py.ringbuf`: :class:`RingBuffer`, :class:`Ring`, :class:`Batch`
  (and what a callback receives, ``record=``);
* :mod:`libbpf_py.user_ringbuf`: :class:`UserRingBuffer`, :class:`Reservation`,
  :class:`ReserveTimeoutError`;
* :mod:`libbpf_py.perf_buffer`: :class:`PerfBuffer`.

This module only re-exports them, so that code written against
``libbpf_py.events`` (``from libbpf_py.events import ReserveTimeoutError``, as
docs/events.md once said) keeps working. New code imports the buffer classes
from ``libbpf_py`` and :class:`ReserveTimeoutError` from
:mod:`libbpf_py.user_ringbuf`. Nothing in the package imports this module.
"""

from __future__ import annotations

from .perf_buffer import PerfBuffer
from .ringbuf import Batch, Ring, RingBuffer
from .user_ringbuf import Reservation, ReserveTimeoutError, UserRingBuffer

__all__ = ["Batch", "PerfBuffer", "Reservation", "ReserveTimeoutError", "Ring", "RingBuffer",
           "UserRingBuffer"]
