"""Volume.orientation and Volume.affine: array indices to patient millimetres."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from circus_nb import ValidationError, Volume

AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def _volume(n, positions, spacing=(2.0, 0.5, 0.75), orientation=AXIAL, shape=(3, 4)):
    return Volume(np.zeros((n, *shape), np.float32), tuple(range(1, n + 1)), spacing,
                  tuple(positions), "1.2", orientation=orientation)


def _at(volume, k, j, i):
    return (volume.affine @ np.array([k, j, i, 1.0]))[:3]


def test_an_axial_volume_head_first():
    positions = [(-90.0, -80.0, 100.0 - 2.0 * k) for k in range(5)]
    volume = _volume(5, positions)
    affine = volume.affine
    assert affine.shape == (4, 4) and affine.dtype == np.float64
    np.testing.assert_array_equal(affine, [[0, 0, 0.75, -90], [0, 0.5, 0, -80],
                                           [-2, 0, 0, 100], [0, 0, 0, 1]])
    np.testing.assert_allclose(_at(volume, 3, 2, 1), (-90 + 0.75, -80 + 1.0, 94.0))


def test_the_slice_column_follows_the_positions_in_either_order():
    positions = [(0.0, 0.0, 10.0 + 3.0 * k) for k in range(4)]  # feet to head
    up, down = _volume(4, positions), _volume(4, positions[::-1])
    np.testing.assert_allclose(up.affine[:3, 0], (0, 0, 3))
    np.testing.assert_allclose(down.affine[:3, 0], (0, 0, -3))
    for k in range(4):
        np.testing.assert_allclose(_at(down, k, 0, 0), positions[::-1][k])


def test_a_tilted_stack_is_placed_as_it_lies():
    # gantry tilt: each slice 2 mm further back as well as 5 mm lower, axial cosines
    positions = [(0.0, 2.0 * k, -5.0 * k) for k in range(6)]
    volume = _volume(6, positions, spacing=(5.0, 1.0, 1.0))
    for k in range(6):
        np.testing.assert_allclose(_at(volume, k, 0, 0), positions[k])


def test_one_slice_or_no_positions_use_the_normal_and_the_z_spacing():
    coronal = (1.0, 0.0, 0.0, 0.0, 0.0, -1.0)  # rows along x, columns to the feet
    one = _volume(1, [(-10.0, 20.0, 30.0)], spacing=(4.0, 1.0, 1.0), orientation=coronal)
    np.testing.assert_allclose(one.affine[:3, :], [[0, 0, 1, -10], [4, 0, 0, 20],
                                                   [0, -1, 0, 30]])
    unplaced = _volume(3, [None] * 3, spacing=(4.0, 1.0, 1.0), orientation=coronal)
    np.testing.assert_allclose(unplaced.affine[:3, 3], (0, 0, 0))
    np.testing.assert_allclose(unplaced.affine[:3, 0], (0, 4, 0))
    same_place = _volume(2, [(1.0, 2.0, 3.0)] * 2, spacing=(4.0, 1.0, 1.0))
    np.testing.assert_allclose(same_place.affine[:3, 0], (0, 0, 4))


def test_an_unknown_orientation_counts_as_axial():
    volume = _volume(3, [(5.0, 6.0, 7.0 + k) for k in range(3)], spacing=(1.0, 0.5, 0.25),
                     orientation=None)
    assert volume.orientation is None
    np.testing.assert_allclose(volume.affine, [[0, 0, 0.25, 5], [0, 0.5, 0, 6], [1, 0, 0, 7],
                                               [0, 0, 0, 1]])
    assert "unknown (the affine takes it as axial)" in str(volume)


def test_the_orientation_is_kept_as_six_floats_and_shown():
    volume = _volume(1, [None], orientation=[1, 0, 0, 0, 0, -1])
    assert volume.orientation == (1.0, 0.0, 0.0, 0.0, 0.0, -1.0)
    assert all(isinstance(c, float) for c in volume.orientation)
    for text in (str(volume), volume._repr_html_()):
        assert "orientation" in text and "1, 0, 0, 0, 0, -1" in text


def test_cosines_a_little_off_unit_length_are_normalised():
    volume = _volume(1, [None], spacing=(1.0, 2.0, 3.0), orientation=(0.9999, 0, 0, 0, 1.0001, 0))
    np.testing.assert_allclose(volume.affine[:3, 1:3], [[0, 3], [2, 0], [0, 0]])


@pytest.mark.parametrize("orientation", [(1, 0, 0), (1, 0, 0, 1, 0, 0), (1, 0, 0, 0, 1, "a"),
                                         (1, 0, 0, 0, float("nan"), 1), "100010", 7])
def test_an_orientation_that_spans_no_plane_is_refused(orientation):
    with pytest.raises(ValidationError, match="A volume's orientation is the six direction"
                                              " cosines") as info:
        _volume(1, [None], orientation=orientation)
    assert info.value.field == "orientation"


def test_volumes_made_without_an_orientation_still_work():
    volume = Volume(np.zeros((2, 2, 2), np.float32), (1, 2), (1.0, 1.0, 1.0), (None, None))
    assert volume.orientation is None and volume.affine.shape == (4, 4)


# -- properties --------------------------------------------------------------------


def _rotation(a, b, c):
    """A rotation from three angles (z, y, x axes)."""
    cz, sz, cy, sy, cx, sx = np.cos(a), np.sin(a), np.cos(b), np.sin(b), np.cos(c), np.sin(c)
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    return rz @ ry @ rx


angles = st.floats(-np.pi, np.pi)
spacings = st.floats(0.1, 10.0)
coordinates = st.floats(-500.0, 500.0)


@given(angles, angles, angles, st.booleans(), st.booleans(), st.integers(1, 8),
       st.tuples(spacings, spacings, spacings), st.tuples(coordinates, coordinates, coordinates),
       st.sampled_from([-1.0, 1.0]))
def test_every_voxel_lands_at_its_slice_position_plus_the_in_plane_offset(
        a, b, c, flip_row, flip_column, n, spacing, origin, direction):
    rotation = _rotation(a, b, c)
    row = rotation[:, 0] * (-1 if flip_row else 1)
    column = rotation[:, 1] * (-1 if flip_column else 1)
    normal = np.cross(row, column)
    spacing_z, spacing_y, spacing_x = spacing
    positions = [tuple(np.asarray(origin) + direction * k * spacing_z * normal) for k in range(n)]
    volume = _volume(n, positions, spacing=spacing, orientation=(*row, *column))
    for k, j, i in [(0, 0, 0), (n - 1, 3, 2), (n // 2, 1, 0), (n - 1, 0, 2)]:
        expected = np.asarray(positions[k]) + i * spacing_x * row + j * spacing_y * column
        np.testing.assert_allclose(_at(volume, k, j, i), expected, atol=1e-6)
    assert abs(np.linalg.det(volume.affine)) == pytest.approx(
        spacing_x * spacing_y * spacing_z, rel=1e-6)
