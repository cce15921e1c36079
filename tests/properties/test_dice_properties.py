"""Hypothesis properties of label_ops.dice: the overlap of two masks of one shape."""

from fractions import Fraction

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from circus_nb.label_ops import dice

shapes = hnp.array_shapes(min_dims=3, max_dims=3, min_side=1, max_side=6)


@st.composite
def mask_pairs(draw):
    """Two boolean masks of one shape (z, y, x)."""
    shape = draw(shapes)
    return draw(hnp.arrays(bool, shape)), draw(hnp.arrays(bool, shape))


def _count(mask):
    return int(np.count_nonzero(mask))


@given(mask_pairs())
def test_dice_is_symmetric_and_within_0_and_1(pair):
    a, b = pair
    assert dice(a, b) == dice(b, a)
    assert 0.0 <= dice(a, b) <= 1.0


@given(mask_pairs())
def test_dice_is_twice_the_overlap_over_the_sizes(pair):
    a, b = pair
    total = _count(a) + _count(b)
    expected = 1 if total == 0 else Fraction(2 * _count(a & b), total)
    assert dice(a, b) == float(expected)  # the nearest float: one division, no drift


@given(mask_pairs())
def test_dice_is_1_exactly_when_the_masks_are_equal(pair):
    a, b = pair
    assert dice(a, a) == 1.0
    assert (dice(a, b) == 1.0) == bool((a == b).all())  # two empty masks are equal too


@given(mask_pairs())
def test_dice_is_0_exactly_when_non_empty_masks_do_not_overlap(pair):
    a, b = pair
    if a.any() or b.any():
        assert (dice(a, b) == 0.0) == (not (a & b).any())


@given(mask_pairs())
def test_dice_against_the_union_counts_what_the_other_mask_adds(pair):
    a, b = pair
    union = a | b
    if union.any():
        expected = Fraction(2 * _count(a), _count(a) + _count(union))
        assert dice(a, union) == float(expected)
        assert dice(a, union) >= dice(a & b, union)  # a holds a & b: more of the union


@given(mask_pairs(), st.permutations([0, 1, 2]), st.booleans())
def test_dice_does_not_depend_on_how_the_voxels_are_laid_out(pair, axes, flip):
    a, b = pair

    def move(mask):
        moved = np.transpose(mask, axes)
        return moved[::-1] if flip else moved
    assert dice(move(a), move(b)) == dice(a, b)
