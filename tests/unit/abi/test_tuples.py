"""abi/tuples.py: named_tuple makes the classes collections.namedtuple makes, without
compiling code; each behaviour is compared with a namedtuple of the same fields."""

from __future__ import annotations

import copy
import pickle
from collections import namedtuple

import pytest

from slimbox.abi.tuples import named_tuple

Point = named_tuple("Point", "x y z", defaults=(0,))
Reference = namedtuple("Point", "x y z", defaults=(0,))


class Labelled(named_tuple("Labelled", "label value")):
    """A subclass, as the kernel's tables declare theirs."""

    __slots__ = ()

    def twice(self) -> int:
        return 2 * self.value


@pytest.mark.parametrize("args, kwargs", [
    ((1, 2, 3), {}), ((1, 2), {}), ((1,), {"y": 2}), ((), {"x": 1, "y": 2, "z": 3}), ((), {"z": 3, "y": 2, "x": 1}),
])
def test_built_as_a_namedtuple_is(args, kwargs):
    made, reference = Point(*args, **kwargs), Reference(*args, **kwargs)
    assert tuple(made) == tuple(reference)
    assert (made.x, made.y, made.z) == (reference.x, reference.y, reference.z)
    assert repr(made) == repr(reference)
    assert made == tuple(reference) and hash(made) == hash(reference)
    assert made._asdict() == reference._asdict()
    assert made._replace(y=9) == reference._replace(y=9) and type(made._replace(y=9)) is Point


@pytest.mark.parametrize("args, kwargs", [
    ((), {}), ((1,), {}), ((1, 2, 3, 4), {}), ((1, 2), {"x": 1}), ((1, 2), {"w": 1}),
])
def test_bad_calls_fail_as_a_namedtuple_does(args, kwargs):
    with pytest.raises(TypeError):
        Reference(*args, **kwargs)
    with pytest.raises(TypeError):
        Point(*args, **kwargs)


def test_class_attributes_match():
    assert Point._fields == Reference._fields == Point.__match_args__
    assert Point._field_defaults == Reference._field_defaults == {"z": 0}
    assert Point._make([1, 2, 3]) == Reference._make([1, 2, 3]) and type(Point._make([1, 2, 3])) is Point
    with pytest.raises(TypeError):
        Point._make([1, 2])
    with pytest.raises(ValueError):
        Point(1, 2)._replace(w=1)
    assert Point.__module__ == __name__ and Point.__name__ == "Point"
    with pytest.raises(AttributeError):
        Point(1, 2).w = 1  # no __dict__: as light as a tuple
    with pytest.raises(AttributeError):
        Point(1, 2).x = 5
    with pytest.raises(TypeError):
        named_tuple("Bad", "a", defaults=(1, 2))


def test_copied_and_pickled_as_themselves():
    point = Point(1, [2], 3)
    for other in (copy.copy(point), copy.deepcopy(point), pickle.loads(pickle.dumps(point))):
        assert other == point and type(other) is Point
    assert copy.deepcopy(point).y is not point.y


def test_matched_by_position_and_subclassed():
    match Point(1, 2):
        case Point(a, b, c):
            assert (a, b, c) == (1, 2, 0)
    item = Labelled("n", 21)
    assert item.twice() == 42 and repr(item) == "Labelled(label='n', value=21)" and item == ("n", 21)
