"""Pinned vectors of circus-behaviour.md section 3."""

import numpy as np
import pytest

from circus_nb import ImageRange, PartialVolume, ValidationError
from circus_nb.domain import describe_triple, triple_problem

VALIDITY = [
    ((1, 3, 1), True),
    ((1, 11, 5), True),
    ((5, 5, 1), True),
    ((5, 1, -1), True),
    ((3, 1, 1), False),
    ((0, 6, 1), False),
    ((2, 0, 2), False),
    ((3, 6, 0), False),
    ((1, 6, 2), False),
    ((6, 1, -2), False),
    ((7, 7, -1), False),
]


@pytest.mark.parametrize(("triple", "valid"), VALIDITY)
def test_validity_vectors(triple, valid):
    assert PartialVolume.is_valid(*triple) is valid
    assert (triple_problem(*triple) is None) is valid
    if valid:
        assert PartialVolume(*triple)
    else:
        with pytest.raises(ValidationError, match=r"Invalid image range \("):
            PartialVolume(*triple)


@pytest.mark.parametrize(
    ("triple", "message"),
    [
        ((0, 6, 1), "Start must be an integer >= 1, got 0."),
        ((2, 0, 2), "End must be an integer >= 1, got 0."),
        ((3, 6, 0), "Delta must be a non-zero integer, got 0."),
        ((3, 1, 1), "Delta 1 points away from end 1 (start 3): use a negative delta."),
        ((1, 6, 2), "Delta 2 does not reach end 6 from start 1: (6 - 1) / 2 is not a whole"),
        ((7, 7, -1), "A single image is written with delta 1, not -1."),
        ((1.0, 3, 1), "Start must be an integer >= 1, got 1.0."),
        ((1, "3", 1), "End must be an integer >= 1, got '3'."),
        ((1, 3, True), "Delta must be a non-zero integer, got True."),
    ],
)
def test_messages_say_the_rule_and_the_value(triple, message):
    with pytest.raises(ValidationError) as info:
        PartialVolume(*triple)
    assert message in str(info.value)
    assert info.value.value == triple


@pytest.mark.parametrize(
    ("triple", "numbers"), [((1, 5, 2), [1, 3, 5]), ((5, 1, -2), [5, 3, 1]), ((4, 4, 1), [4])]
)
def test_to_list_vectors(triple, numbers):
    assert PartialVolume(*triple).to_list() == numbers
    assert len(PartialVolume(*triple)) == len(numbers)


@pytest.mark.parametrize(
    ("triple", "max_nums", "text"),
    [
        ((1, 11, 2), 4, "1, 3, 5, ..., 11"),
        ((1, 11, 2), 3, "1, 3, ..., 11"),
        ((1, 11, 2), 5, "1, 3, 5, 7, ..., 11"),
        ((1, 11, 2), 10, "1, 3, 5, 7, 9, 11"),
        ((5, 1, -1), 3, "5, 4, ..., 1"),
        ((5, 1, -1), 10, "5, 4, 3, 2, 1"),
        ((1, 4, 1), 4, "1, 2, 3, 4"),
        ((1, 5, 1), 4, "1, 2, 3, ..., 5"),
    ],
)
def test_describe_vectors(triple, max_nums, text):
    assert PartialVolume(*triple).describe(max_nums) == text
    assert describe_triple(*triple, max_nums=max_nums) == text


def test_describe_default_is_four_numbers():
    assert PartialVolume(1, 11, 2).describe() == "1, 3, 5, ..., 11"


def test_invalid_triple_describes_as_invalid():
    assert describe_triple(1, 0, 1) == "Invalid"
    assert describe_triple(3, 6, 0, max_nums=3) == "Invalid"


@pytest.mark.parametrize("max_nums", [1, 0, -3, 2.5, True])
def test_describe_refuses_max_nums_below_two(max_nums):
    with pytest.raises(ValidationError, match="max_nums must be an integer >= 2"):
        PartialVolume(1, 11, 2).describe(max_nums)
    with pytest.raises(ValidationError, match="max_nums must be an integer >= 2"):
        describe_triple(1, 11, 2, max_nums)


def test_flipped_swaps_and_negates():
    assert PartialVolume(1, 50).flipped() == PartialVolume(50, 1, -1)
    assert PartialVolume(1, 11, 2).flipped() == PartialVolume(11, 1, -2)
    # a single image has no order: (5, 5, -1) would be invalid
    assert PartialVolume(5, 5).flipped() == PartialVolume(5, 5)


@pytest.mark.parametrize(
    ("images", "triple", "inside"),
    [
        ("1-50", (1, 5, 1), True),
        ("1-50", (1, 5, 2), True),
        ("1-50", (10, 70, 1), False),
        ("1-50", (3, 1, -1), True),
        ("1,3,5,7,9", (1, 9, 2), True),
        ("1,3,5,7,9", (9, 1, -2), True),
        ("1,3,9", (1, 9, 1), False),
        ("1,3,9", (1, 9, 2), False),
        ("1,3,9", (9, 1, -2), False),
    ],
)
def test_within_vectors(images, triple, inside):
    assert PartialVolume(*triple).within(ImageRange.parse(images)) is inside


def test_within_the_empty_range_is_false():
    assert not PartialVolume(1, 1).within(ImageRange([]))


def test_numpy_integers_become_plain_ints():
    pv = PartialVolume(np.int64(1), np.int32(9), np.int8(2))
    assert pv == PartialVolume(1, 9, 2)
    assert type(pv.start) is int and type(pv.delta) is int


def test_frozen():
    pv = PartialVolume(1, 3)
    with pytest.raises(AttributeError):
        pv.start = 2


@pytest.fixture
def no_listing(monkeypatch):
    """Make listing a range fail: containment must be decided by arithmetic."""
    def refuse(self):
        raise AssertionError(f"{self} was listed")
    monkeypatch.setattr(PartialVolume, "to_list", refuse)
    monkeypatch.setattr(ImageRange, "__iter__", refuse)


@pytest.mark.parametrize(
    ("images", "triple", "inside"),
    [
        ("1-50", (1, 10**9, 1), False),
        ("1-50", (10**12, 1, -1), False),
        ("1-1000000000", (1, 10**9, 1), True),
        ("1-1000000000", (10**9, 1, -3), True),
        ("2-1000000000", (1, 10**9, 1), False),
        ("1-499999999,500000001-1000000000", (1, 10**9 - 1, 2), True),
        ("1-499999999,500000001-1000000000", (1, 10**9, 1), False),
    ],
)
def test_within_huge_ranges_by_arithmetic(no_listing, images, triple, inside):
    assert PartialVolume(*triple).within(ImageRange.parse(images)) is inside


@pytest.mark.parametrize(
    ("images", "triple", "missing"),
    [
        ("1-50", (1, 10**9, 1), [51, 52, 53, 54, 55]),
        ("1-50", (10**9, 1, -1), [10**9, 10**9 - 1, 10**9 - 2, 10**9 - 3, 10**9 - 4]),
        ("1,3,9", (9, 1, -2), [7, 5]),
        ("1,3,9", (1, 9, 1), [2, 4, 5, 6, 7]),
        ("1-10,20-30", (1, 41, 4), [13, 17, 33, 37, 41]),
        ("5-10", (1, 16, 3), [1, 4, 13, 16]),
        ("1-50", (3, 1, -1), []),
        ("", (1, 3, 1), [1, 2, 3]),
    ],
)
def test_missing_from_lists_the_first_missing_numbers_in_volume_order(no_listing, images,
                                                                      triple, missing):
    found = PartialVolume(*triple).missing_from(
        ImageRange.parse(images) if images else ImageRange())
    assert found == missing


@pytest.mark.parametrize("limit", [0, -1, 1.5, None, "3"])
def test_missing_from_refuses_a_bad_limit(limit):
    with pytest.raises(ValidationError, match=f"limit must be an integer >= 1, got {limit!r}"):
        PartialVolume(1, 3).missing_from(ImageRange.parse("1"), limit=limit)
