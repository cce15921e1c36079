"""Pure geometry rules: pixel spacing, slice pitch, the head-first order of frames and the
orientation slices share."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from circus_nb.domain.geometry import (
    common_orientation,
    head_first_order,
    orientation_cosines,
    pixel_spacing,
    positive_number,
    slice_normal,
    slice_pitch,
)

AXIAL = [1, 0, 0, 0, 1, 0]
SAGITTAL = [0, 1, 0, 0, 0, -1]


@pytest.mark.parametrize(
    ("value", "spacing", "note", "suspicious"),
    [
        ([0.7, 0.6], (0.7, 0.6), None, None),
        (["0.5", "0.5"], (0.5, 0.5), None, None),
        (None, (1.0, 1.0), "PixelSpacing is absent", False),
        ("", (1.0, 1.0), "PixelSpacing is absent", False),
        (["abc", "def"], (1.0, 1.0), r"PixelSpacing 'abc\def' is not two positive numbers", True),
        ([0.0, 0.0], (1.0, 1.0), r"PixelSpacing '0.0\0.0' is not two positive", True),
        ([-1.0, 2.0], (1.0, 1.0), r"PixelSpacing '-1.0\2.0'", True),
        ([math.nan, math.nan], (1.0, 1.0), r"PixelSpacing 'nan\nan'", True),
        ([math.inf, 1.0], (1.0, 1.0), r"'inf\1.0'", True),
        (1.0, (1.0, 1.0), "PixelSpacing '1.0' is not two", True),
        ([1.0, 2.0, 3.0], (1.0, 1.0), r"'1.0\2.0\3.0'", True),
    ],
)
def test_pixel_spacing_vectors(value, spacing, note, suspicious):
    got, fallback = pixel_spacing(value)
    assert got == spacing
    if note is None:
        assert fallback is None
    else:
        assert note in fallback.text and "taken as 1.0 mm" in fallback.text
        assert fallback.suspicious is suspicious


@pytest.mark.parametrize("value", [0, -2, "0", "abc", math.nan, math.inf, None, True, [1.0], ""])
def test_not_positive_numbers(value):
    assert positive_number(value) is None


@pytest.mark.parametrize(
    ("orientation", "normal"),
    [(AXIAL, [0, 0, 1]), (SAGITTAL, [-1, 0, 0]), (["1", "0", "0", "0", "1", "0"], [0, 0, 1])],
)
def test_slice_normal(orientation, normal):
    np.testing.assert_allclose(slice_normal(orientation), normal, atol=1e-12)


@pytest.mark.parametrize("orientation", [None, "abc", [1, 0, 0], [1, 0, 0, 1, 0, 0],
                                         [1, 0, 0, 0, math.nan, 0], ["a"] * 6, [0] * 6])
def test_unusable_orientations_have_no_normal(orientation):
    assert slice_normal(orientation) is None


def _stack(start, step, count):
    return [tuple(float(c) for c in np.asarray(start) + i * np.asarray(step))
            for i in range(count)]


@pytest.mark.parametrize(
    ("positions", "orientation", "pitch"),
    [
        (_stack((0, 0, 100), (0, 0, -2.5), 5), AXIAL, 2.5),
        (_stack((0, 0, 100), (0, 0, -2.5), 5), None, 2.5),  # no orientation: along the stack
        (_stack((10, 0, 0), (-1.5, 0, 0), 4), None, 1.5),  # sagittal without orientation
        (_stack((10, 0, 0), (-1.5, 0, 0), 4), SAGITTAL, 1.5),
        (_stack((0, 0, 0), (0, 3, 4), 3), None, 5.0),  # oblique
        (_stack((0, 0, 0), (0, 0.1, 3), 3), AXIAL, 3.0),  # the normal, not the distance
    ],
)
def test_pitch_from_positions(positions, orientation, pitch):
    got, notes = slice_pitch(positions, orientation, [("SliceThickness", 9.0)])
    assert got == pytest.approx(pitch) and notes == []


def test_a_missing_position_falls_back_to_the_next_candidate_with_a_note():
    pitch, notes = slice_pitch([(0, 0, 0), None], AXIAL, [("SliceThickness", "5")])
    assert pitch == 5.0
    assert [n.text for n in notes] == [
        "z spacing is SliceThickness (5 mm): not every slice has ImagePositionPatient."]
    assert not notes[0].suspicious


def test_slices_in_one_place_fall_back():
    pitch, notes = slice_pitch([(0, 0, 0)] * 3, AXIAL, [("SliceThickness", 2.0)])
    assert pitch == 2.0 and "the slices share one position" in notes[0].text


def test_an_unusable_candidate_is_skipped_and_suspicious():
    pitch, notes = slice_pitch([(0, 0, 0), None], AXIAL,
                               [("SpacingBetweenSlices", "0"), ("SliceThickness", 3.0)])
    assert pitch == 3.0
    assert notes[0].suspicious and "SpacingBetweenSlices '0' is not a positive number" in \
        notes[0].text


def test_nothing_usable_is_one_millimetre_and_says_so():
    pitch, notes = slice_pitch([(0, 0, 0), None], None, [("SliceThickness", "abc")])
    assert pitch == 1.0
    assert [n.suspicious for n in notes] == [True, False]
    assert notes[-1].text == ("z spacing taken as 1.0 mm: not every slice has"
                              " ImagePositionPatient, and there is no usable SliceThickness.")


def test_one_slice_uses_the_thickness_without_a_note():
    assert slice_pitch([(0, 0, 0)], AXIAL, [("SliceThickness", 5.0)]) == (5.0, [])
    pitch, notes = slice_pitch([None], None, [("SliceThickness", None)])
    assert pitch == 1.0 and notes[0].text == (
        "z spacing taken as 1.0 mm: there is no usable SliceThickness.")


finite = st.floats(-1e4, 1e4, allow_nan=False)
point = st.tuples(finite, finite, finite)
any_value = st.one_of(st.none(), st.text(max_size=5), st.floats(), st.integers(-5, 5))


@given(st.lists(st.one_of(st.none(), point), max_size=6),
       st.one_of(st.none(), st.lists(st.floats(), min_size=6, max_size=6)),
       st.lists(st.tuples(st.sampled_from(["SliceThickness", "SpacingBetweenSlices"]),
                          any_value), max_size=2))
def test_the_pitch_is_always_a_positive_finite_number(positions, orientation, candidates):
    pitch, _ = slice_pitch(positions, orientation, candidates)
    assert math.isfinite(pitch) and pitch > 0


@pytest.mark.parametrize(
    ("positions", "orientation", "order"),
    [
        ([(0, 0, -5.0), (0, 0, 5.0), (0, 0, 0.0)], AXIAL, [1, 2, 0]),
        ([(0, 0, -5.0), (0, 0, 5.0), (0, 0, 0.0)], None, [1, 2, 0]),
        # a normal pointing down (feet) changes nothing: head first all the same
        ([(0, 0, -5.0), (0, 0, 5.0), (0, 0, 0.0)], [-1, 0, 0, 0, 1, 0], [1, 2, 0]),
        # sagittal: every z alike, so the file's own direction stays
        ([(3.0, 0, 0), (1.0, 0, 0), (2.0, 0, 0)], SAGITTAL, [0, 2, 1]),
        ([(1.0, 0, 0), (3.0, 0, 0), (2.0, 0, 0)], SAGITTAL, [0, 2, 1]),
        ([(0, 0, 1.0), None], AXIAL, [0, 1]),  # a frame without position: the file's order
        ([(0, 0, 1.0)], AXIAL, [0]),
    ],
)
def test_head_first_order_vectors(positions, orientation, order):
    assert head_first_order(positions, orientation) == order


def test_frames_in_one_place_have_no_order():
    positions = [(0, 0, 0.0), (0, 0, 5.0), (0, 0, 0.0), (0, 0, 5.0)]  # two time points
    with pytest.raises(ValueError, match="frames 1 and 3 lie in the same place"):
        head_first_order(positions, AXIAL)


@given(st.lists(st.floats(-500, 500, allow_nan=False), min_size=2, max_size=30, unique=True))
def test_axial_frames_come_out_head_first(zs):
    zs = [z for z in zs]
    positions = [(0.0, 0.0, z) for z in zs]
    if min(np.diff(sorted(zs))) <= 1e-3:
        return  # two frames in one place: covered above
    order = head_first_order(positions, AXIAL)
    assert sorted(order) == list(range(len(zs)))
    assert [zs[i] for i in order] == sorted(zs, reverse=True)


@pytest.mark.filterwarnings("error")  # nor any numpy warning on the way
@given(st.lists(st.tuples(*[st.floats(allow_nan=False)] * 3), min_size=2, max_size=5),
       st.lists(st.floats(), min_size=6, max_size=6))
def test_absurd_coordinates_still_give_a_positive_pitch(positions, orientation):
    pitch, _ = slice_pitch(positions, orientation, [])
    assert math.isfinite(pitch) and pitch > 0


# -- the orientation of a stack ---------------------------------------------------------


def test_orientation_cosines_are_six_floats_or_none():
    assert orientation_cosines(np.array(SAGITTAL)) == (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)
    for unusable in (None, [], [1, 0, 0], [1, 0, 0, 1, 0, 0], [0] * 6, "abc", [math.nan] * 6):
        assert orientation_cosines(unusable) is None


def test_slices_that_share_an_orientation_give_it():
    nearly = [1.0, 0.0, 0.0, 0.0, 0.9999996, 0.0008]  # rounded a little differently
    assert common_orientation([AXIAL, nearly, AXIAL], [1, 2, 3]) == (
        (1.0, 0.0, 0.0, 0.0, 1.0, 0.0), None)
    assert common_orientation([None, None], [1, 2]) == (None, None)  # simply unknown
    assert common_orientation([], []) == (None, None)


def test_slices_in_different_planes_have_no_orientation_and_say_so():
    orientation, note = common_orientation([AXIAL, AXIAL, SAGITTAL], [5, 6, 7])
    assert orientation is None and note.suspicious
    assert note.text == ("orientation unknown: images 5 and 7 differ in ImageOrientationPatient"
                         " (1, 0, 0, 0, 1, 0 and 0, 1, 0, 0, 0, -1), so they do not lie in"
                         " parallel planes.")


def test_slices_of_which_only_some_have_an_orientation_say_which_lacks_it():
    orientation, note = common_orientation([AXIAL, [1, 0, 0], AXIAL], [3, 4, 5])
    assert orientation is None and not note.suspicious
    assert note.text == ("orientation unknown: image 4 has no usable ImageOrientationPatient,"
                         " while others have one.")
