"""Named tuples made without compiling code.

`collections.namedtuple` compiles a `__new__` with `eval` for every class it makes:
about 0.15 ms a class here, and the fourteen on the run path were 2-3 ms of every start.
`named_tuple` makes the same kind of class from ordinary functions: a tuple subclass with
its fields by name, built positionally or by keyword with defaults, and the same repr,
`_fields`, `_field_defaults`, `_make`, `_replace`, `_asdict`, equality, hashing, copying
and pickling.
"""

from __future__ import annotations

import sys

try:  # the C accessor collections.namedtuple uses, where the interpreter has it
    from _collections import _tuplegetter
except ImportError:  # pragma: no cover - other interpreters
    from operator import itemgetter

    def _tuplegetter(index: int, doc: str) -> property:
        return property(itemgetter(index), doc=doc)


def named_tuple(typename: str, field_names: str, *, defaults: tuple = ()) -> type:
    """A tuple subclass named `typename` with the space-separated `field_names`, the last
    len(`defaults`) of which take those defaults, as collections.namedtuple makes it."""
    fields = tuple(field_names.split())
    count = len(fields)
    defaults = tuple(defaults)
    if len(defaults) > count:
        raise TypeError("got more default values than field names")
    new = tuple.__new__
    fewest = count - len(defaults)

    def __new__(cls, *args, **kwargs):
        if kwargs or len(args) != count:
            if not kwargs and fewest <= len(args) < count:
                args += defaults[len(args) - fewest:]
            else:
                args = _bind(cls, fields, defaults, args, kwargs)
        return new(cls, args)

    namespace = {
        "__doc__": f"{typename}({', '.join(fields)})",
        "__slots__": (),
        "_fields": fields,
        "_field_defaults": dict(zip(fields[fewest:], defaults)),
        "__match_args__": fields,
        "__new__": __new__,
        "_make": classmethod(_make),
        "_replace": _replace,
        "_asdict": _asdict,
        "__repr__": _repr,
        "__getnewargs__": _getnewargs,
        "__module__": sys._getframe(1).f_globals.get("__name__", "__main__"),
    }
    for index, name in enumerate(fields):
        namespace[name] = _tuplegetter(index, f"Alias for field number {index}")
    return type(typename, (tuple,), namespace)


def _bind(cls, fields: tuple, defaults: tuple, args: tuple, kwargs: dict) -> tuple:
    """The values of a call that is not simply every field in order."""
    count = len(fields)
    if len(args) > count:
        raise TypeError(f"{cls.__name__}() takes {count} positional arguments but {len(args)} were given")
    values = list(args)
    first_default = count - len(defaults)
    for index in range(len(args), count):
        name = fields[index]
        if name in kwargs:
            values.append(kwargs.pop(name))
        elif index >= first_default:
            values.append(defaults[index - first_default])
        else:
            raise TypeError(f"{cls.__name__}() missing required argument: {name!r}")
    if kwargs:
        name = next(iter(kwargs))
        if name in fields:
            raise TypeError(f"{cls.__name__}() got multiple values for argument {name!r}")
        raise TypeError(f"{cls.__name__}() got an unexpected keyword argument {name!r}")
    return tuple(values)


def _make(cls, iterable):
    values = tuple(iterable)
    if len(values) != len(cls._fields):
        raise TypeError(f"Expected {len(cls._fields)} arguments, got {len(values)}")
    return tuple.__new__(cls, values)


def _replace(self, **changes):
    values = [changes.pop(name, value) for name, value in zip(self._fields, self)]
    if changes:
        raise ValueError(f"Got unexpected field names: {list(changes)!r}")
    return self._make(values)


def _asdict(self) -> dict:
    return dict(zip(self._fields, self))


def _repr(self) -> str:
    return f"{type(self).__name__}({', '.join(f'{name}={value!r}' for name, value in zip(self._fields, self))})"


def _getnewargs(self) -> tuple:
    return tuple(self)
