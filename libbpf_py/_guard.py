"""Closing from one thread while another uses the object: never a use after free.

cffi releases the GIL for the duration of every C call, so a thread can be
inside ``bpf_program__name(prog)`` or ``bpf_map_lookup_elem(fd, ...)`` while
another thread runs ``obj.close()``. Freeing the ``struct bpf_object`` (or
closing the map fd, whose number the kernel may hand out again at once) at that
moment would let the first call read freed memory or act on a stranger's file.

A :class:`Guard` counts the calls in flight on one C object. ``close()``
marks the object closed at once (new calls raise :class:`ClosedError`) and
frees it when the last call in flight returns, in the thread that returns; with
no call in flight, ``close()`` frees it immediately. The count is a list whose
``append``/``pop`` are single atomic operations under the GIL, and a call
enters before it reads the pointer while ``close()`` clears the pointer before
it reads the count, so one of the two always sees the other.

Classes opt in with :func:`guard_methods`, which wraps their public methods and
properties; each instance has a ``_guard`` attribute (its own, or its owner's).
"""

from __future__ import annotations

import functools
import inspect
import threading
from typing import Any, Callable, Iterator, List, Optional, TypeVar

__all__ = ["Guard", "guard_methods"]

T = TypeVar("T")
C = TypeVar("C", bound=type)


class Guard:
    """Calls in flight on one C object, and what to run once it is closed and idle."""

    __slots__ = ("_free", "_hooks", "_inflight", "_lock")

    def __init__(self) -> None:
        self._inflight: List[None] = []
        self._free: Optional[Callable[[], None]] = None
        self._lock = threading.Lock()
        self._hooks: List[Callable[[], None]] = []

    def enter(self) -> None:
        self._inflight.append(None)

    def leave(self) -> None:
        self._inflight.pop()
        if self._free is not None and not self._inflight:
            self._run_free()

    @property
    def busy(self) -> bool:
        """True while a call on the object is in flight (in any thread)."""
        return bool(self._inflight)

    def on_close(self, hook: Callable[[], None]) -> None:
        """Run ``hook()`` when the object is closed (e.g. to wake a waiting poller)."""
        self._hooks.append(hook)

    def retire(self, free: Callable[[], None]) -> None:
        """The object is closed (its pointer already cleared): free it when idle.

        Hooks registered with :meth:`on_close` run first, so that a thread
        blocked in the object's service (a poll) returns and lets it go.
        """
        hooks, self._hooks = self._hooks, []
        for hook in hooks:
            try:
                hook()
            except Exception:  # a hook must not keep the object from closing
                pass
        with self._lock:
            self._free = free
        if not self._inflight:
            self._run_free()

    def _run_free(self) -> None:
        with self._lock:
            free, self._free = self._free, None
        if free is not None:
            free()


def _guarded(method: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(method)
    def call(self: Any, *args: Any, **kwargs: Any) -> T:
        guard = self._guard
        guard._inflight.append(None)
        try:
            return method(self, *args, **kwargs)
        finally:
            guard._inflight.pop()
            if guard._free is not None and not guard._inflight:
                guard._run_free()

    return call


def _guarded_iter(method: Callable[..., Iterator[T]]) -> Callable[..., Iterator[T]]:
    """A generator method whose every step (not the pauses between) is guarded."""

    @functools.wraps(method)
    def call(self: Any, *args: Any, **kwargs: Any) -> Iterator[T]:
        guard = self._guard
        guard.enter()
        try:
            steps = method(self, *args, **kwargs)
        finally:
            guard.leave()
        while True:
            guard.enter()
            try:
                item = next(steps)
            except StopIteration:
                return
            finally:
                guard.leave()
            yield item

    return call


#: never wrapped: they must work on a closed object, or they free it
_UNGUARDED = frozenset({"close", "closed", "destroy"})
#: dunders that use the C object and are wrapped
_GUARDED_DUNDERS = frozenset({"__getitem__", "__setitem__", "__delitem__", "__contains__",
                              "__iter__", "__len__", "__enter__"})


def guard_methods(*, skip: frozenset[str] = frozenset(),
                  only: Optional[frozenset[str]] = None) -> Callable[[C], C]:
    """Class decorator: wrap the public methods and properties defined in the class.

    Methods, property getters/setters and the container dunders are wrapped;
    generator methods are guarded step by step; ``close``/``closed`` and the
    names in ``skip`` are left alone; with ``only``, just those names are wrapped.
    """

    def decorate(cls: C) -> C:
        for name, attr in list(vars(cls).items()):
            if name in _UNGUARDED or name in skip or (only is not None and name not in only):
                continue
            if name.startswith("_") and name not in _GUARDED_DUNDERS:
                continue
            if isinstance(attr, property):
                setattr(cls, name, property(
                    _guarded(attr.fget) if attr.fget else None,
                    _guarded(attr.fset) if attr.fset else None,
                    attr.fdel, attr.__doc__))
            elif inspect.isgeneratorfunction(attr):
                setattr(cls, name, _guarded_iter(attr))
            elif inspect.isfunction(attr):
                setattr(cls, name, _guarded(attr))
        return cls

    return decorate
