"""The label processors: pinned vectors, every refusal, and Hypothesis properties."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import ndimage

from circus_nb import Label, ValidationError, label_ops
from circus_nb.label_ops import (
    bucket_fill,
    combine,
    dilate,
    erode,
    fill_holes,
    interpolate_slices,
    largest_components,
    rasterise,
)

SOME = settings(max_examples=60, deadline=None)
shapes = st.tuples(st.integers(1, 6), st.integers(1, 12), st.integers(1, 12))
masks = shapes.flatmap(lambda shape: arrays(bool, shape))
planes = st.tuples(st.integers(1, 12), st.integers(1, 12)).flatmap(lambda s: arrays(bool, s))


def ball(radius):
    offsets = np.indices((2 * radius + 1,) * 3) - radius
    return (offsets**2).sum(axis=0) <= radius**2


def components(mask, connectivity=26):
    structure = ndimage.generate_binary_structure(3, 1 if connectivity == 6 else 3)
    labels, count = ndimage.label(mask, structure)
    return labels, count


def disk(shape, centre, radius):
    yy, xx = np.ogrid[: shape[0], : shape[1]]
    return (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius**2


def ring_slice():
    """A 7x7 slice with a 5x5 ring, its 3x3 inside empty."""
    plane = np.zeros((7, 7), bool)
    plane[1:6, 1:6] = True
    plane[2:5, 2:5] = False
    return plane


# -- largest_components --------------------------------------------------------------------

def test_largest_components_keeps_the_biggest():
    mask = np.zeros((3, 8, 8), bool)
    mask[0, 0, 0] = True            # 1 voxel
    mask[1, 2:4, 2:4] = True        # 4 voxels
    mask[2, 6, 5:8] = True          # 3 voxels
    np.testing.assert_array_equal(largest_components(mask), mask & (np.indices(mask.shape)[0] == 1))
    assert largest_components(mask, n=2).sum() == 7
    assert largest_components(mask, n=10).sum() == 8


def test_connectivity_6_splits_what_26_joins():
    mask = np.zeros((2, 2, 2), bool)
    mask[0, 0, 0] = mask[1, 1, 1] = True  # corner to corner
    assert largest_components(mask, connectivity=26).sum() == 2
    assert largest_components(mask, connectivity=6).sum() == 1


def test_ties_go_to_the_component_first_in_z_y_x_order():
    mask = np.zeros((4, 4, 4), bool)
    mask[3, 0, 0:2] = True
    mask[0, 3, 2:4] = True  # same size, earlier slice
    kept = largest_components(mask)
    assert kept[0, 3, 2:4].all() and not kept[3].any()


def test_largest_components_of_nothing_is_nothing():
    empty = np.zeros((2, 3, 4), bool)
    result = largest_components(empty)
    assert result.shape == empty.shape and not result.any() and result is not empty


@given(masks, st.integers(1, 4), st.sampled_from([6, 26]))
@SOME
def test_largest_components_are_the_n_biggest_whole_components(mask, n, connectivity):
    kept = largest_components(mask, n, connectivity)
    labels, count = components(mask, connectivity)
    sizes = sorted(np.bincount(labels.ravel())[1:].tolist(), reverse=True)
    assert not (kept & ~mask).any()
    assert components(kept, connectivity)[1] == min(n, count)
    assert kept.sum() == sum(sizes[:n])
    for index in np.unique(labels[kept]):  # each kept component is kept whole
        assert kept[labels == index].all()


# -- fill_holes ----------------------------------------------------------------------------

def test_a_ring_in_one_slice_is_filled_per_slice_only():
    mask = np.zeros((3, 7, 7), bool)
    mask[1] = ring_slice()
    assert (fill_holes(mask) == mask).all()  # in 3-D the inside reaches the slices around
    filled = fill_holes(mask, per_slice=True)
    assert filled[1, 1:6, 1:6].all() and filled.sum() == 25


def test_a_closed_box_is_filled_in_3d():
    shell = np.zeros((7, 7, 7), bool)
    shell[1:6, 1:6, 1:6] = True
    shell[2:5, 2:5, 2:5] = False  # a hollow cube
    assert fill_holes(shell).sum() == 125 and fill_holes(shell)[1:6, 1:6, 1:6].all()
    assert fill_holes(shell, per_slice=True).sum() == 125
    shell[0:3, 3, 3] = False  # a tunnel out through the top face
    assert fill_holes(shell).sum() == shell.sum()


@given(masks, st.booleans())
@SOME
def test_fill_holes_is_idempotent_and_contains_its_input(mask, per_slice):
    filled = fill_holes(mask, per_slice=per_slice)
    assert not (mask & ~filled).any()
    np.testing.assert_array_equal(fill_holes(filled, per_slice=per_slice), filled)


@given(masks)
@SOME
def test_fill_holes_per_slice_fills_each_slice_as_2d_and_at_least_the_3d_holes(mask):
    per_slice = fill_holes(mask, per_slice=True)
    for z in range(mask.shape[0]):
        np.testing.assert_array_equal(per_slice[z], ndimage.binary_fill_holes(mask[z]))
    np.testing.assert_array_equal(fill_holes(mask), ndimage.binary_fill_holes(mask))
    assert not (fill_holes(mask) & ~per_slice).any()


# -- dilate and erode ----------------------------------------------------------------------

def test_a_two_voxel_gap_is_bridged_by_dilate_then_erode():
    mask = np.zeros((7, 9, 12), bool)
    mask[2:5, 2:7, 1:5] = True
    mask[2:5, 2:7, 7:11] = True  # x 5 and 6 empty
    closed = erode(dilate(mask))
    assert closed[3, 3:6, 5:7].all()  # bridged inside
    assert not (mask & ~closed).any()


def test_radius_zero_is_the_identity_and_a_new_array():
    mask = np.zeros((2, 3, 3), bool)
    mask[1, 1, 1] = True
    for op in (dilate, erode):
        result = op(mask, 0)
        assert (result == mask).all() and result is not mask


def test_dilate_by_2_is_the_ball_of_radius_2():
    mask = np.zeros((7, 7, 7), bool)
    mask[3, 3, 3] = True
    np.testing.assert_array_equal(dilate(mask, 2), np.pad(ball(2), 1))
    assert dilate(mask, 2).sum() == 33


def test_dilation_is_clipped_at_the_volume_and_erosion_erodes_the_border():
    full = np.ones((3, 4, 5), bool)
    np.testing.assert_array_equal(dilate(full, 3), full)
    eroded = erode(full)
    assert eroded.sum() == 1 * 2 * 3 and eroded[1, 1:3, 1:4].all()


@pytest.mark.parametrize("block", [4, 6, 64])
def test_dilate_and_erode_block_by_block_agree_with_the_ball(monkeypatch, block):
    monkeypatch.setattr(label_ops, "_BLOCKWISE_VOXELS", 100)  # every box goes block-wise
    monkeypatch.setattr(label_ops, "_BLOCK", block)
    rng = np.random.default_rng(0)
    mask = np.zeros((26, 30, 30), bool)
    mask[3:23, 4:26, 2:28] = rng.random((20, 22, 26)) < 0.8
    mask[8:18, 10:20, 10:20] = True  # blocks deep inside, to be skipped
    for radius in (1, 2, 4, 5):
        np.testing.assert_array_equal(dilate(mask, radius),
                                      ndimage.binary_dilation(mask, ball(radius)))
        np.testing.assert_array_equal(erode(mask, radius),
                                      ndimage.binary_erosion(mask, ball(radius), border_value=0))


@given(masks, st.integers(0, 5))  # the ball itself up to 3, a distance transform beyond
@SOME
def test_dilate_and_erode_are_the_ball_of_scipy(mask, radius):
    np.testing.assert_array_equal(dilate(mask, radius),
                                  ndimage.binary_dilation(mask, ball(radius)))
    np.testing.assert_array_equal(erode(mask, radius),
                                  ndimage.binary_erosion(mask, ball(radius), border_value=0))


@given(masks, st.integers(0, 3))
@SOME
def test_erosion_shrinks_dilation_grows_and_their_compositions(mask, radius):
    grown, shrunk = dilate(mask, radius), erode(mask, radius)
    assert not (mask & ~grown).any()
    assert not (shrunk & ~mask).any()
    # opening never adds a voxel; closing keeps every voxel whose ball fits in the volume
    assert not (dilate(shrunk, radius) & ~mask).any()
    interior = np.zeros(mask.shape, bool)
    interior[tuple(slice(radius, n - radius) for n in mask.shape)] = True
    assert not (mask & interior & ~erode(grown, radius)).any()


# -- interpolate_slices --------------------------------------------------------------------

def test_interpolating_two_disks_gives_disks_in_between():
    mask = np.zeros((5, 11, 11), bool)
    mask[0], mask[4] = disk((11, 11), (5, 5), 1), disk((11, 11), (5, 5), 5)
    filled = interpolate_slices(mask)
    for z, radius in ((1, 2), (2, 3), (3, 4)):
        np.testing.assert_array_equal(filled[z], disk((11, 11), (5, 5), radius))


def test_slices_outside_the_painted_ones_stay_empty():
    mask = np.zeros((7, 6, 6), bool)
    mask[2, 1:4, 1:4] = mask[4, 2:5, 2:5] = True
    filled = interpolate_slices(mask)
    assert not filled[:2].any() and not filled[5:].any()
    assert filled[3].any()
    np.testing.assert_array_equal(filled[[2, 4]], mask[[2, 4]])


def test_one_painted_slice_or_none_changes_nothing():
    mask = np.zeros((4, 5, 5), bool)
    assert (interpolate_slices(mask) == mask).all()
    mask[2, 2, 2] = True
    assert (interpolate_slices(mask) == mask).all()


def test_a_full_slice_interpolates_without_a_background():
    mask = np.zeros((3, 4, 4), bool)
    mask[0] = mask[2] = True
    assert interpolate_slices(mask).all()


@st.composite
def painted_gaps(draw):
    """A mask with some painted slices, gaps between them, the rest empty."""
    mask = draw(masks)
    painted = draw(st.lists(st.integers(0, mask.shape[0] - 1), unique=True))
    return mask & np.isin(np.arange(mask.shape[0]), painted)[:, None, None]


@given(painted_gaps())
@SOME
def test_interpolation_keeps_painted_slices_and_stays_between_neighbours(mask):
    filled = interpolate_slices(mask)
    painted = np.flatnonzero(mask.any(axis=(1, 2)))
    np.testing.assert_array_equal(filled[painted], mask[painted])
    if painted.size:
        assert not filled[: painted[0]].any() and not filled[painted[-1] + 1:].any()
    for z0, z1 in itertools.pairwise(painted):
        union, both = mask[z0] | mask[z1], mask[z0] & mask[z1]
        for z in range(z0 + 1, z1):
            assert not (filled[z] & ~union).any() and not (both & ~filled[z]).any()


@given(planes, st.integers(2, 5))
@SOME
def test_between_two_identical_slices_is_that_slice(plane, gap):
    mask = np.zeros((gap + 1, *plane.shape), bool)
    mask[0] = mask[gap] = plane
    assert (interpolate_slices(mask) == plane).all()


# -- bucket_fill ---------------------------------------------------------------------------

def test_bucket_fill_fills_the_inside_of_a_ring():
    plane = ring_slice()
    filled = bucket_fill(plane, 3, 3)
    assert filled[1:6, 1:6].all() and filled.sum() == 25
    assert not plane[3, 3]  # the input is untouched


def test_bucket_fill_on_a_painted_voxel_changes_nothing():
    plane = ring_slice()
    result = bucket_fill(plane, 1, 1)
    assert (result == plane).all() and result is not plane


def test_bucket_fill_fills_only_the_region_clicked():
    plane = np.zeros((5, 9), bool)
    plane[:, [0, 4, 8]] = True
    plane[[0, 4], :] = True  # two closed boxes side by side
    filled = bucket_fill(plane, 2, 2)
    assert filled[1:4, 1:4].all() and not filled[1:4, 5:8].any()


def test_a_diagonal_outline_encloses_for_the_bucket():
    plane = np.zeros((5, 5), bool)
    for y, x in [(0, 2), (1, 1), (2, 0), (3, 1), (4, 2), (1, 3), (2, 4), (3, 3)]:
        plane[y, x] = True
    assert bucket_fill(plane, 2, 2)[2, 2]


def test_an_open_outline_is_refused():
    plane = ring_slice()
    plane[1, 3] = False  # a gap in the top
    with pytest.raises(ValidationError, match=r"\(y=3, x=3\) is not enclosed.*Close the outline"):
        bucket_fill(plane, 3, 3)


@given(planes, st.data())
@SOME
def test_bucket_fill_is_idempotent_and_fills_a_hole_or_refuses(plane, data):
    y = data.draw(st.integers(0, plane.shape[0] - 1))
    x = data.draw(st.integers(0, plane.shape[1] - 1))
    holes = ndimage.binary_fill_holes(plane)
    if not holes[y, x]:  # background that reaches the edge
        with pytest.raises(ValidationError, match="not enclosed"):
            bucket_fill(plane, y, x)
        return
    filled = bucket_fill(plane, y, x)
    assert not (plane & ~filled).any() and not (filled & ~holes).any()
    np.testing.assert_array_equal(bucket_fill(filled, y, x), filled)


# -- combine -------------------------------------------------------------------------------

@st.composite
def mask_pairs(draw):
    shape = draw(shapes)
    return draw(arrays(bool, shape)), draw(arrays(bool, shape))


@given(mask_pairs())
@SOME
def test_combine_laws(pair):
    a, b = pair
    added, taken, common = (combine(a, b, op) for op in ("add", "subtract", "intersect"))
    np.testing.assert_array_equal(added, combine(b, a, "add"))
    np.testing.assert_array_equal(common, combine(b, a, "intersect"))
    assert not (taken & b).any() and not (taken & ~a).any()
    assert not (common & ~a).any() and not (common & ~b).any()
    assert not ((a | b) & ~added).any()
    np.testing.assert_array_equal(taken | common, a)


def test_combine_leaves_its_inputs_alone():
    a, b = np.ones((1, 2, 2), bool), np.zeros((1, 2, 2), bool)
    before = a.copy(), b.copy()
    for op in label_ops.OPERATIONS:
        assert combine(a, b, op) is not a
    assert (a == before[0]).all() and (b == before[1]).all()


# -- rasterise -----------------------------------------------------------------------------

# spacing x 0.7, y 0.7, z 2.5 mm; the first voxel's centre at (-100, 50, 30)
AFFINE = np.array([[0, 0, 0.7, -100.0],
                   [0, 0.7, 0, 50.0],
                   [2.5, 0, 0, 30.0],
                   [0, 0, 0, 1]])
SHAPE = (10, 20, 30)
# 1 mm voxels, the first at the origin: x = i, y = j, z = k
UNIT = np.array([[0, 0, 1, 0], [0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1]], float)


def voxels(mask):
    return [tuple(int(v) for v in voxel) for voxel in np.argwhere(mask)]


def box_of(mask):
    found = np.argwhere(mask)
    return [(int(lo), int(hi)) for lo, hi in zip(found.min(0), found.max(0), strict=True)]


def test_a_point_lands_on_the_voxel_computed_by_hand():
    # x -93.1 -> (-93.1 + 100) / 0.7 = 9.857 -> 10; y 52.0 -> 2.857 -> 3; z 37.4 -> 2.96 -> 3
    mask = rasterise(Label.point([-93.1, 52.0, 37.4]), SHAPE, AFFINE)
    assert voxels(mask) == [(3, 3, 10)]


def test_a_point_outside_the_volume_gives_nothing():
    assert not rasterise(Label.point([-200, 52, 37]), SHAPE, AFFINE).any()
    assert not rasterise(Label.point([-93, 52, 30 - 1.3]), SHAPE, AFFINE).any()  # slice -0.52
    assert voxels(rasterise(Label.point([-93, 52, 30 - 1.2]), SHAPE, AFFINE))[0][0] == 0


def test_a_cuboid_in_mm_covers_the_voxel_box():
    # x -96.5..-93 -> i 5..10; y 51.4..53.5 -> j 2..5; z 35..40 -> k 2..4 (both ends on centres)
    cuboid = Label.cuboid([-93, 53.5, 40], [-96.5, 51.4, 35])  # corners in any order
    mask = rasterise(cuboid, SHAPE, AFFINE)
    assert box_of(mask) == [(2, 4), (2, 5), (5, 10)]
    assert mask.sum() == 3 * 4 * 6


def test_a_cuboid_on_a_flipped_axis():
    flipped = AFFINE.copy()
    flipped[1] = [0, -0.7, 0, 50.0]  # y runs the other way: j = (50 - y) / 0.7
    mask = rasterise(Label.cuboid([-96.5, 46.5, 35], [-93, 48.6, 40]), SHAPE, flipped)
    assert box_of(mask) == [(2, 4), (2, 5), (5, 10)]
    upside = AFFINE.copy()
    upside[2] = [-2.5, 0, 0, 30.0]  # slices go down in z: k = (30 - z) / 2.5
    assert box_of(rasterise(Label.cuboid([-96.5, 51.4, 20], [-93, 53.5, 25]), SHAPE,
                            upside))[0] == (2, 4)


def test_a_cuboid_reaching_out_of_the_volume_is_clipped():
    mask = rasterise(Label.cuboid([-1e9, -1e9, -1e9], [1e300, 1e300, 1e300]), SHAPE, AFFINE)
    assert mask.all()
    assert not rasterise(Label.cuboid([500, 500, 500], [600, 600, 600]), SHAPE, AFFINE).any()


def test_a_cuboid_on_a_rotated_volume_takes_voxels_by_their_centre():
    turn = np.array([[0, 1, 1, 0], [0, -1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 1]], float)
    mask = rasterise(Label.cuboid([-0.5, -0.5, 0], [2.5, 0.5, 0]), (1, 4, 4), turn)
    # x = j + i, y = i - j; centres with x in -0.5..2.5 and y in -0.5..0.5: i == j, i + j <= 2
    assert voxels(mask) == [(0, 0, 0), (0, 1, 1)]


@st.composite
def placed_boxes(draw):
    """An affine with any spacing, flips, axis order and origin, and a box near its volume."""
    spacing = draw(st.lists(st.floats(0.3, 3.0), min_size=3, max_size=3))
    signs = draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=3, max_size=3))
    order = draw(st.permutations([0, 1, 2]))
    affine = np.eye(4)
    affine[:3, :3] = 0
    for axis, row in enumerate(order):  # array axis -> the patient axis it runs along
        affine[row, axis] = spacing[axis] * signs[axis]
    affine[:3, 3] = draw(st.lists(st.floats(-50, 50), min_size=3, max_size=3))
    shape = draw(st.tuples(st.integers(1, 5), st.integers(1, 6), st.integers(1, 6)))
    corners = draw(st.lists(st.lists(st.floats(-70, 70), min_size=3, max_size=3),
                            min_size=2, max_size=2))
    return affine, shape, corners


@given(placed_boxes(), st.sampled_from(["cuboid", "ellipsoid"]))
@SOME
def test_solids_hold_exactly_the_voxels_whose_centre_is_inside(placed, kind):
    affine, shape, (a, b) = placed
    mask = rasterise(Label.of(kind, {"min": a, "max": b}), shape, affine)
    index = np.indices(shape).reshape(3, -1)
    centre = affine[:3, :3] @ index + affine[:3, 3:]
    low, high = np.minimum(a, b)[:, None], np.maximum(a, b)[:, None]
    if kind == "cuboid":
        inside = ((low - 1e-6 <= centre) & (centre <= high + 1e-6)).all(axis=0)
    else:
        half = (high - low) / 2
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            terms = np.where(half > 0, ((centre - (low + high) / 2) / half) ** 2,
                             np.where(np.abs(centre - (low + high) / 2) <= 1e-6, 0, np.inf))
        inside = terms.sum(axis=0) <= 1 + 1e-9
    np.testing.assert_array_equal(mask, inside.reshape(shape))


def test_an_ellipsoid_is_the_ball_inside_its_box():
    mask = rasterise(Label.of("ellipsoid", {"min": [1, 1, 1], "max": [5, 5, 5]}), (7, 7, 7),
                     UNIT)
    np.testing.assert_array_equal(mask, np.pad(ball(2), 1))


def test_a_flat_ellipsoid_is_a_disk():
    mask = rasterise(Label.of("ellipsoid", {"min": [0, 0, 2], "max": [4, 4, 2]}), (5, 5, 5),
                     UNIT)
    np.testing.assert_array_equal(mask[2], disk((5, 5), (2, 2), 2))
    assert mask.sum() == 13


def test_a_rectangle_lands_on_the_nearest_slice():
    rectangle = {"min": [-96.5, 51.4], "max": [-93, 53.5], "z": 36.0}  # slice 2.4 -> 2
    mask = rasterise(Label.of("rectangle", rectangle), SHAPE, AFFINE)
    assert box_of(mask) == [(2, 2), (2, 5), (5, 10)]


def test_a_rectangle_halfway_between_slices_lands_on_both_and_beyond_half_on_none():
    halfway = rasterise(Label.of("rectangle", {"min": [-96.5, 51.4], "max": [-93, 53.5],
                                               "z": 36.25}), SHAPE, AFFINE)
    assert box_of(halfway)[0] == (2, 3) and halfway.sum() == 2 * 24
    below = {"min": [-96.5, 51.4], "max": [-93, 53.5], "z": 30 - 1.3}
    assert not rasterise(Label.of("rectangle", below), SHAPE, AFFINE).any()


def test_an_ellipse_on_its_slice():
    mask = rasterise(Label.of("ellipse", {"min": [0, 0], "max": [4, 4], "z": 2.2}), (5, 5, 5),
                     UNIT)
    np.testing.assert_array_equal(mask[2], disk((5, 5), (2, 2), 2))
    assert mask.sum() == 13


def test_a_polyline_is_an_open_one_voxel_line_on_its_slice():
    points = [[0, 0], [4, 0], [4, 3]]  # x, y on an identity volume
    mask = rasterise(Label.of("polyline", {"points": points, "z": 1}), (3, 5, 5), UNIT)
    expected = np.zeros((5, 5), bool)
    expected[0, 0:5] = True  # y 0, x 0..4
    expected[0:4, 4] = True  # x 4, y 0..3
    np.testing.assert_array_equal(mask[1], expected)
    assert mask.sum() == expected.sum()  # not closed back to the start


def test_a_polyline_partly_outside_is_clipped():
    mask = rasterise(Label.of("polyline", {"points": [[-10, 2], [10, 2]], "z": 0}), (1, 5, 5),
                     UNIT)
    assert voxels(mask) == [(0, 2, x) for x in range(5)]


def test_a_ruler_is_a_connected_3d_line():
    ruler = Label.of("ruler", {"section": None, "start": [0, 0, 0], "end": [6, 3, 2]})
    mask = rasterise(ruler, (3, 4, 7), UNIT)
    found = voxels(mask)
    assert found[0] == (0, 0, 0) and found[-1] == (2, 3, 6) and len(found) == 7
    for a, b in itertools.pairwise(sorted(found, key=lambda v: v[2])):
        assert max(abs(p - q) for p, q in zip(a, b, strict=True)) == 1


def test_a_ruler_through_the_volume_from_far_away():
    ruler = Label.of("ruler", {"section": None, "start": [-1e6, 1, 1], "end": [1e6, 1, 1]})
    assert voxels(rasterise(ruler, (3, 3, 4), UNIT)) == [(1, 1, x) for x in range(4)]


def test_a_voxel_label_is_its_mask():
    mask = np.zeros(SHAPE, bool)
    mask[1, 2:4, 5] = True
    np.testing.assert_array_equal(rasterise(Label.voxel(mask), SHAPE, AFFINE), mask)
    with pytest.raises(ValidationError, match=r"shape \(10, 20, 30\), not \(10, 20, 31\)"):
        rasterise(Label.voxel(mask), (10, 20, 31), AFFINE)


# -- refusals ------------------------------------------------------------------------------

MASK = np.zeros((2, 3, 4), bool)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: fill_holes([[[True]]]), r"mask must be a numpy array of bool, axes \(z, y, x\)"),
    (lambda: dilate(MASK.astype(np.uint8)), r"dtype uint8; use mask.astype\(bool\)"),
    (lambda: erode(MASK[0]), r"mask must be 3-D \(z, y, x\), got 2-D with shape \(3, 4\)"),
    (lambda: interpolate_slices(MASK.astype(float)), "dtype float64"),
    (lambda: largest_components(MASK, n=0), "n, the number of components .* >= 1, got 0"),
    (lambda: largest_components(MASK, n=True), "got True"),
    (lambda: largest_components(MASK, n=1.0), "got 1.0"),
    (lambda: largest_components(MASK, connectivity=8), "6 .* or 26 .* got 8"),
    (lambda: largest_components(MASK, connectivity=6.0), "got 6.0"),
    (lambda: dilate(MASK, -1), "radius must be a whole number of voxels from 0 to 64, got -1"),
    (lambda: erode(MASK, 65), "from 0 to 64, got 65. It counts voxels, not mm"),
    (lambda: dilate(MASK, 1.5), "got 1.5"),
    (lambda: erode(MASK, False), "got False"),
    (lambda: fill_holes(MASK, per_slice=1), "per_slice must be True or False, got 1"),
    (lambda: combine(MASK, MASK, "union"),
     "operation must be one of 'add', 'subtract', 'intersect', got 'union'"),
    (lambda: combine(MASK, MASK[:1], "add"),
     r"same shape, got \(2, 3, 4\) and \(1, 3, 4\); combine masks of one volume"),
    (lambda: combine(MASK, MASK.astype(int), "add"), r"b.astype\(bool\)"),
    (lambda: bucket_fill(MASK, 0, 0), r"slice_mask must be 2-D \(y, x\), got 3-D .*mask\[z\]"),
    (lambda: bucket_fill(MASK[0], 3, 0), r"\(y=3, x=0\) is outside the slice: y must be 0 to 2"),
    (lambda: bucket_fill(MASK[0], 0, -1), "x 0 to 3"),
    (lambda: bucket_fill(MASK[0], 0.5, 0), "y and x must be integer voxel indices, got 0.5"),
    (lambda: rasterise("point", SHAPE, AFFINE), "Labels are cnb.Label values"),
    (lambda: rasterise(Label.point([0, 0, 0]), (10, 20), AFFINE),
     r"shape must be 3 integers >= 1 \(z, y, x\), got \(10, 20\)"),
    (lambda: rasterise(Label.point([0, 0, 0]), (0, 20, 30), AFFINE), "integers >= 1"),
    (lambda: rasterise(Label.point([0, 0, 0]), (2.0, 20, 30), AFFINE), r"got \(2.0, 20, 30\)"),
    (lambda: rasterise(Label.point([0, 0, 0]), SHAPE, np.eye(3)), "affine must be a 4x4 array"),
    (lambda: rasterise(Label.point([0, 0, 0]), SHAPE, np.full((4, 4), np.nan)), "finite"),
    (lambda: rasterise(Label.point([0, 0, 0]), SHAPE, "eye"), "4x4"),
    (lambda: rasterise(Label.point([0, 0, 0]), SHAPE, np.ones((4, 4))), "last row"),
    (lambda: rasterise(Label.point([0, 0, 0]), SHAPE, np.diag([1, 0, 1, 1])), "invertible"),
])
def test_refusals_name_the_rule_and_the_value(call, message):
    with pytest.raises(ValidationError, match=message):
        call()


def test_refusals_carry_the_field():
    with pytest.raises(ValidationError) as caught:
        combine(MASK, MASK, "or")
    assert (caught.value.field, caught.value.value) == ("operation", "or")
    with pytest.raises(ValidationError) as caught:
        dilate(MASK, 100)
    assert (caught.value.field, caught.value.value) == ("radius", 100)


def test_numpy_integers_are_accepted():
    mask = np.zeros((2, 3, 3), bool)
    mask[1, 1, 1] = True
    assert dilate(mask, np.int64(1)).sum() == 6
    assert largest_components(mask, np.int32(2), np.int8(6)).sum() == 1
    assert bucket_fill(mask[1], np.int64(1), np.int64(1)).sum() == 1


def test_masks_with_no_voxels_at_all_pass_through():
    empty = np.zeros((0, 4, 4), bool)
    for op in (largest_components, fill_holes, dilate, erode, interpolate_slices):
        assert op(empty).shape == (0, 4, 4)


def test_no_function_changes_its_input():
    rng = np.random.default_rng(1)
    mask = rng.random((4, 6, 6)) < 0.5
    mask[1] = False
    before = mask.copy()
    for result in (largest_components(mask), fill_holes(mask), fill_holes(mask, per_slice=True),
                   dilate(mask), erode(mask), interpolate_slices(mask),
                   combine(mask, mask, "add")):
        assert result.dtype == bool and result.shape == mask.shape and result is not mask
    np.testing.assert_array_equal(mask, before)


@pytest.mark.parametrize("shape", [(10**6, 10**6, 10**6), (2**100, 1, 1)])
def test_rasterise_refuses_a_shape_too_big_to_hold(shape):
    with pytest.raises(ValidationError, match="too many voxels to hold in memory"):
        label_ops.rasterise(Label.point([0, 0, 0]), shape, np.eye(4))
