import numpy as np
import pytest

from circus_nb import ImageRange, ValidationError


@pytest.mark.parametrize(
    ("text", "canonical", "segments"),
    [
        ("1-50,52", "1-50,52", [(1, 50), (52, 52)]),
        ("1,2,3", "1-3", [(1, 3)]),
        (" 3-5 , 1 ,10-12 ", "1,3-5,10-12", [(1, 1), (3, 5), (10, 12)]),
        ("1-5,3-7", "1-7", [(1, 7)]),
        ("1-5,6-9", "1-9", [(1, 9)]),
        ("7", "7", [(7, 7)]),
        ("1,3-62", "1,3-62", [(1, 1), (3, 62)]),
    ],
)
def test_parse_gives_canonical_text_and_segments(text, canonical, segments):
    r = ImageRange.parse(text)
    assert str(r) == canonical
    assert r.segments() == segments


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "needs at least one number, got ''"),
        ("   ", "needs at least one number"),
        ("1-x", "'1-x' is not a number or a range"),
        ("1,,2", "'' is not a number"),
        ("5-3", "'5-3' must run upwards"),
        ("0-3", "'0-3' must run upwards from 1"),
        ("-3", "'-3' is not a number"),
        ("1.5", "'1.5' is not a number"),
    ],
)
def test_bad_text_is_a_validation_error_naming_the_value(text, message):
    with pytest.raises(ValidationError, match="e.g. '1-50,52'") as info:
        ImageRange.parse(text)
    assert message in str(info.value)
    assert info.value.value == text


def test_parse_refuses_non_text():
    with pytest.raises(ValidationError, match="must be text, got 5"):
        ImageRange.parse(5)


def test_constructor_sorts_and_deduplicates():
    r = ImageRange([3, 1, 2, 2])
    assert str(r) == "1-3"
    assert list(r) == [1, 2, 3]
    assert len(r) == 3
    assert ImageRange(np.array([4, 5], dtype=np.int16)) == ImageRange.parse("4-5")


@pytest.mark.parametrize("bad", [0, -1, 1.5, "3", True, None])
def test_constructor_refuses_non_positive_integers(bad):
    with pytest.raises(ValidationError, match="integer >= 1"):
        ImageRange([1, bad])


def test_empty_range():
    r = ImageRange([])
    assert len(r) == 0 and not r and str(r) == "" and list(r) == []
    assert r.first is None and r.last is None
    assert 1 not in r
    assert r.summary() == "0"


def test_membership_by_bisection_across_segments():
    r = ImageRange.parse("2-4,10,20-30")
    inside = [n for n in range(0, 40) if n in r]
    assert inside == [2, 3, 4, 10, *range(20, 31)]
    assert np.int64(3) in r
    assert "3" not in r and 3.0 not in r and True not in r


def test_huge_ranges_stay_small():
    r = ImageRange.parse("1-1000000000")
    assert len(r) == 1_000_000_000
    assert 999_999_999 in r


def test_union_equality_hash():
    a = ImageRange.parse("1-3")
    assert (a | [4, 9]) == ImageRange.parse("1-4,9")
    assert a.union(ImageRange([10])) == ImageRange.parse("1-3,10")
    assert hash(a) == hash(ImageRange([1, 2, 3]))
    assert a != "1-3"


def test_from_segments_refuses_backwards_segment():
    with pytest.raises(ValidationError, match="must not run backwards, got 5-3. Write 3-5."):
        ImageRange.from_segments([(5, 3)])


@pytest.mark.parametrize(
    ("text", "summary"),
    [("1-120", "120"), ("1,3-62", "61 (1-62)"), ("2-61,70", "61 (2-70)"), ("5", "1 (5-5)")],
)
def test_summary_as_series_results_show_it(text, summary):
    assert ImageRange.parse(text).summary() == summary
