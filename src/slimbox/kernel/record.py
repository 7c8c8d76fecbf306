"""Plain-data classes without `dataclasses`.

A @dataclass generates and compiles its methods when its module is imported, which
made up a large share of start-up; these bases give plain-data classes the same
equality and repr with ordinary methods. A subclass names its fields in `__slots__`
(in order) and writes its own `__init__`.
"""

from __future__ import annotations


class Record:
    """Mutable plain data: equal when of the same type with equal fields, and (being
    mutable) unhashable, as a @dataclass is."""

    __slots__ = ()

    def _values(self) -> tuple:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()

    __hash__ = None

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"


class Frozen(Record):
    """Immutable plain data, hashable by its fields: `__init__` sets them with `_set`
    and takes them positionally in `__slots__` order (copy and pickle rebuild it so)."""

    __slots__ = ()

    def _set(self, **values) -> None:
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot delete {name!r}")

    def __hash__(self) -> int:
        return hash(self._values())

    def __reduce__(self) -> tuple:
        return type(self), self._values()
