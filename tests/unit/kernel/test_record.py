import copy
import pickle

import pytest

from slimbox.kernel.record import Frozen, Record


class Point(Record):
    __slots__ = ("x", "y")

    def __init__(self, x: int, y: int = 0) -> None:
        self.x = x
        self.y = y


class Size(Frozen):
    __slots__ = ("width", "height")

    def __init__(self, width: int, height: int) -> None:
        self._set(width=width, height=height)


def test_a_record_is_equal_by_fields_shown_by_fields_and_unhashable():
    assert Point(1, 2) == Point(1, 2) and Point(1, 2) != Point(1, 3)
    assert Point(1) != (1, 0)
    assert repr(Point(1, b"y")) == "Point(x=1, y=b'y')"
    with pytest.raises(TypeError):
        hash(Point(1))


def test_a_frozen_value_cannot_change_and_hashes_by_fields():
    size = Size(3, 4)
    with pytest.raises(AttributeError):
        size.width = 5
    with pytest.raises(AttributeError):
        del size.height
    assert size == Size(3, 4) and hash(size) == hash(Size(3, 4)) and size != Size(4, 3)
    assert repr(size) == "Size(width=3, height=4)"


def test_records_and_frozen_values_copy_and_pickle():
    point, size = Point(1, [2]), Size(3, 4)
    assert copy.deepcopy(point) == point and copy.deepcopy(point).y is not point.y
    assert copy.copy(size) == size and pickle.loads(pickle.dumps(size)) == size


def test_the_public_limits_copy_and_pickle():
    from slimbox.kernel.limits import Limits

    limits = Limits(memory=1 << 20, open_files=64)
    assert copy.copy(limits) == limits and pickle.loads(pickle.dumps(limits)) == limits
