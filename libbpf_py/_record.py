"""Record: a small frozen value class, as ``@dataclass(frozen=True)`` makes one, made cheaply.

``@dataclass`` writes each class's ``__init__``, ``__repr__``, ``__eq__``, ``__hash__``,
``__setattr__`` and ``__delattr__`` as source text and compiles them when the module is
imported: 0.5 to 1.8 ms a class, about 12 ms of ``import libbpf_py`` for the fifteen
records that no document promises to be dataclasses (BTF members, func/line info, test
run results, features, the build's facts...). A Record has the same behaviour, from
methods compiled once into the byte-code cache:

- ``repr()`` is ``Name(field=value, ...)`` in field order, as a dataclass's;
- ``==`` compares two instances of the same class field by field (``NotImplemented``
  for anything else), ``hash()`` hashes the same fields;
- assigning or deleting any attribute raises ``dataclasses.FrozenInstanceError``;
- ``__match_args__`` lists the fields.

The fields are the class's own annotations, in order. A subclass writes its
``__init__`` (the signature users see) and stores the values with :meth:`_set`.
``_hidden`` names fields left out of ``repr()``, ``==`` and ``hash()`` (a dataclass
field's ``repr=False, compare=False``).

The classes the documentation calls dataclasses (``ProgramInfo``, ``MapInfo``,
``LinkInfo``, ``ProbeReport``, ``KernelReport``) stay dataclasses: users may call
``dataclasses.fields()`` and ``asdict()`` on them.
"""

from __future__ import annotations

import reprlib
from dataclasses import FrozenInstanceError
from typing import Any, ClassVar, Tuple

__all__ = ["Record"]


class Record:
    """Base of the frozen records: see the module's docstring."""

    #: the fields, in order (set for each subclass from its annotations)
    _fields: ClassVar[Tuple[str, ...]] = ()
    #: fields that repr(), == and hash() leave out
    _hidden: ClassVar[Tuple[str, ...]] = ()
    #: _fields less _hidden
    _compared: ClassVar[Tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # With ``from __future__ import annotations`` they are strings: leave out the
        # class-level ones (``ClassVar[...]``), as a dataclass does.
        annotations = vars(cls).get("__annotations__", {})
        fields = tuple(name for name, hint in annotations.items()
                       if not str(hint).startswith(("ClassVar", "typing.ClassVar")))
        cls._fields = fields
        cls._compared = tuple(name for name in fields if name not in cls._hidden)
        # setattr: mypy refuses "cls.__match_args__ = ..." (it types match args itself)
        setattr(cls, "__match_args__", fields)  # noqa: B010

    def _set(self, **values: Any) -> None:
        """Store the fields (from ``__init__``): the one way past the frozen __setattr__."""
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def _key(self) -> Tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._compared)

    @reprlib.recursive_repr()
    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._compared)
        return f"{type(self).__qualname__}({shown})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._key() == other._key()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._key())

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")
