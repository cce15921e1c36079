"""Hypothesis properties of the pure range rules."""

import itertools

from hypothesis import assume, given
from hypothesis import strategies as st

from circus_nb import ImageRange, PartialVolume
from circus_nb.domain import describe_triple

numbers = st.integers(min_value=1, max_value=10_000)
triples = st.tuples(numbers, numbers, st.integers(min_value=-50, max_value=50))


@st.composite
def partial_volumes(draw):
    start, end = draw(numbers), draw(numbers)
    span = abs(end - start)
    divisors = [d for d in range(1, min(span, 200) + 1) if span % d == 0] or [1]
    step = draw(st.sampled_from(divisors))
    delta = step if end >= start else -step
    assume(PartialVolume.is_valid(start, end, delta))
    return PartialVolume(start, end, delta)


@given(st.lists(numbers, max_size=60))
def test_image_range_text_round_trips(values):
    r = ImageRange(values)
    assert ImageRange.parse(str(r)) == r if r else str(r) == ""
    assert list(r) == sorted(set(values))
    assert len(r) == len(set(values))


@given(st.lists(st.tuples(numbers, st.integers(0, 300)), min_size=1, max_size=10))
def test_segments_are_sorted_disjoint_and_not_adjacent(pairs):
    r = ImageRange.from_segments((lo, lo + n) for lo, n in pairs)
    segments = r.segments()
    assert all(lo <= hi for lo, hi in segments)
    assert all(a[1] + 1 < b[0] for a, b in itertools.pairwise(segments))
    assert ImageRange.parse(str(r)) == r


@given(partial_volumes())
def test_valid_descriptors_list_count_numbers_from_start_to_end(pv):
    listed = pv.to_list()
    assert len(listed) == (pv.end - pv.start) // pv.delta + 1
    assert listed[0] == pv.start and listed[-1] == pv.end
    assert all(b - a == pv.delta for a, b in itertools.pairwise(listed))


@given(partial_volumes())
def test_flipping_twice_is_identity(pv):
    assert pv.flipped().flipped() == pv
    assert pv.flipped().to_list() == pv.to_list()[::-1]


@given(partial_volumes(), st.integers(min_value=2, max_value=30))
def test_describe_never_shows_more_than_max_nums_numbers(pv, max_nums):
    text = pv.describe(max_nums)
    shown = [part for part in text.split(", ") if part != "..."]
    assert len(shown) <= max_nums
    assert shown[0] == str(pv.start) and shown[-1] == str(pv.end)
    assert ("..." in text) == (len(pv) > max_nums)


@given(triples)
def test_is_valid_agrees_with_construction_and_describe(triple):
    valid = PartialVolume.is_valid(*triple)
    assert (describe_triple(*triple) == "Invalid") is not valid
    if valid:
        pv = PartialVolume(*triple)
        assert pv.within(ImageRange(pv.to_list()))


@given(partial_volumes())
def test_within_needs_every_listed_number(pv):
    listed = pv.to_list()
    assert pv.within(ImageRange(listed))
    if len(listed) > 1:
        assert not pv.within(ImageRange(listed[1:]))


small_images = st.lists(st.integers(min_value=1, max_value=120), max_size=80).map(ImageRange)


@st.composite
def small_partial_volumes(draw):
    start, end = draw(st.integers(1, 120)), draw(st.integers(1, 120))
    span = abs(end - start)
    step = draw(st.sampled_from([d for d in range(1, span + 1) if span % d == 0] or [1]))
    return PartialVolume(start, end, step if end >= start else -step)


@given(small_partial_volumes(), small_images, st.integers(min_value=1, max_value=8))
def test_arithmetic_containment_agrees_with_the_listing(pv, images, limit):
    listed_missing = [n for n in pv.to_list() if n not in set(images)]
    assert pv.within(images) is (not listed_missing)
    assert pv.missing_from(images, limit) == listed_missing[:limit]
