"""``int`` properties made by a factory, typed for mypy like written-out ones.

``x = property(get, set)`` in a class body is an untyped ``property`` to mypy:
``obj.x`` would be ``Any``. :func:`int_property` returns that same real
``property`` (so :func:`~libbpf_py._guard.guard_methods` wraps it and Sphinx
documents it as a property, its type from the getter's annotation), typed as a
descriptor of ``int``: reading gives an ``int``, assigning takes one, and
assigning to a read-only one is an error to mypy as it is at run time.
"""

from __future__ import annotations

from typing import Any, Callable, NoReturn, Optional, Protocol, cast, overload

__all__ = ["IntProperty", "ReadOnlyIntProperty", "int_property"]


class ReadOnlyIntProperty(Protocol):
    """An ``int`` to read."""

    @overload
    def __get__(self, obj: None, owner: Any, /) -> ReadOnlyIntProperty: ...
    @overload
    def __get__(self, obj: object, owner: Any, /) -> int: ...
    def __set__(self, obj: Any, value: NoReturn, /) -> None: ...  # no value fits


class IntProperty(ReadOnlyIntProperty, Protocol):
    """An ``int`` to read and to assign."""

    def __set__(self, obj: Any, value: int, /) -> None: ...


@overload
def int_property(fget: Callable[[Any], int], fset: None = None, *,
                 doc: str) -> ReadOnlyIntProperty: ...
@overload
def int_property(fget: Callable[[Any], int], fset: Callable[[Any, int], None], *,
                 doc: str) -> IntProperty: ...
def int_property(fget: Callable[[Any], int], fset: Optional[Callable[[Any, int], None]] = None,
                 *, doc: str) -> ReadOnlyIntProperty:
    """``property(fget, fset, doc=doc)``, typed as an ``int`` descriptor."""
    return cast(ReadOnlyIntProperty, property(fget, fset, doc=doc))
