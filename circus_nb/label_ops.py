"""The label processors of CIRCUS as pure functions on boolean masks, axes (z, y, x).

What the CIRCUS label editor does to a voxel label: keep the largest connected
components, fill holes, dilate, erode, fill the slices between painted ones,
add, subtract or intersect another label, pour the bucket into an outline; and
:func:`rasterise`, which turns a geometric label (a point, a cuboid, an
ellipse...) into a mask the others work on. Every function returns a new boolean
array and leaves its inputs alone. Work is cropped to the mask's bounding box,
so a small object in a large volume costs little.

>>> import numpy as np
>>> from circus_nb import label_ops
>>> mask = np.zeros((5, 6, 7), bool)
>>> mask[1:4, 1:5, 1:3] = mask[1:4, 1:5, 4:6] = True  # two bars, a gap between
>>> closed = label_ops.erode(label_ops.dilate(mask))  # a closing bridges the gap
>>> print(closed[2].astype(int))
[[0 0 0 0 0 0 0]
 [0 1 1 0 1 1 0]
 [0 1 1 1 1 1 0]
 [0 1 1 1 1 1 0]
 [0 1 1 0 1 1 0]
 [0 0 0 0 0 0 0]]
>>> bool((closed >= mask).all()), int(closed.sum() - mask.sum())
(True, 2)

Only where the ball of radius 1 fits wholly inside the grown bars: not at the
corners of the gap, nor in its first and last slices.

Masks are boolean; anything
else is refused with the way out:

>>> label_ops.fill_holes(mask.astype(np.uint8))
Traceback (most recent call last):
...
circus_nb.errors.ValidationError: mask must be a boolean array, got dtype uint8;
use mask.astype(bool).
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy import ndimage

from .domain.labels import Label, check_label
from .domain.values import shown
from .errors import ValidationError

__all__ = [
    "MAX_RADIUS",
    "OPERATIONS",
    "bucket_fill",
    "combine",
    "dice",
    "dilate",
    "erode",
    "fill_holes",
    "interpolate_slices",
    "label_key",
    "label_masks",
    "largest_components",
    "rasterise",
]

MAX_RADIUS = 64  # voxels; a wider ball is almost surely a radius given in mm
OPERATIONS = ("add", "subtract", "intersect")
# A box of more voxels than this is dilated or eroded a block at a time (distance
# transforms take ~20 bytes a voxel), skipping the blocks the ball cannot change.
_BLOCKWISE_VOXELS = 1 << 22
_BLOCK = 64  # voxels a block is a side, or twice the radius when more
_SMALL_RADIUS = 3  # up to this radius the ball itself is fastest; beyond, a distance transform
_EPS_MM = 1e-6  # a voxel centre this close to a shape's surface (mm) is inside it
# 4-connected within each axial slice, nothing across slices
_IN_SLICE = np.zeros((3, 3, 3), bool)
_IN_SLICE[1] = ndimage.generate_binary_structure(2, 1)


# -- arguments -------------------------------------------------------------------------------

def _check_mask(value: Any, field: str = "mask", ndim: int = 3) -> np.ndarray:
    axes = "(z, y, x)" if ndim == 3 else "(y, x)"
    if not isinstance(value, np.ndarray):
        raise ValidationError(f"{field} must be a numpy array of bool, axes {axes}; got"
                              f" {shown(value)}.", field=field, value=type(value).__name__)
    if value.dtype != bool:
        raise ValidationError(f"{field} must be a boolean array, got dtype {value.dtype}; use"
                              f" {field}.astype(bool).", field=field, value=str(value.dtype))
    if value.ndim != ndim:
        hint = " Pass one slice, such as mask[z]." if ndim == 2 and value.ndim == 3 else ""
        raise ValidationError(f"{field} must be {ndim}-D {axes}, got {value.ndim}-D with shape"
                              f" {value.shape}.{hint}", field=field, value=value.shape)
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def _check_radius(radius: Any) -> int:
    if not _is_int(radius) or not 0 <= radius <= MAX_RADIUS:
        raise ValidationError(f"radius must be a whole number of voxels from 0 to {MAX_RADIUS},"
                              f" got {shown(radius)}. It counts voxels, not mm: divide a"
                              " distance in mm by the voxel spacing.", field="radius",
                              value=radius)
    return int(radius)


def _check_flag(value: Any, field: str) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise ValidationError(f"{field} must be True or False, got {shown(value)}.", field=field,
                              value=value)
    return bool(value)


# -- cropping --------------------------------------------------------------------------------

def _box(mask: np.ndarray, margin: int = 0) -> tuple[slice, ...] | None:
    """The bounding box of ``mask``'s voxels grown by ``margin`` (clipped), ``None`` if none."""
    box = []
    inner = mask
    for axis in range(mask.ndim):
        present = np.flatnonzero(inner.any(axis=tuple(a for a in range(mask.ndim) if a != axis)))
        if not present.size:
            return None
        first, stop = int(present[0]), int(present[-1]) + 1
        box.append(slice(max(first - margin, 0), min(stop + margin, mask.shape[axis])))
        inner = inner[(slice(None),) * axis + (slice(first, stop),)]  # the next scan is smaller
    return tuple(box)


def _boxed(mask: np.ndarray, margin: int, work: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``work`` applied to the bounding box of ``mask`` (+ ``margin``), placed in an empty mask."""
    box = _box(mask, margin)
    if box is None:
        return mask.copy()
    result = np.zeros(mask.shape, bool)
    result[box] = work(mask[box])
    return result


# -- components, holes, balls ----------------------------------------------------------------

def largest_components(mask: np.ndarray, n: int = 1, connectivity: int = 26) -> np.ndarray:
    """The ``n`` largest connected components of ``mask``; all of them if it has fewer.

    ``connectivity`` 26 joins voxels that share a face, an edge or a corner; 6 only
    a face. Among components of equal size, the one whose first voxel comes first
    in (z, y, x) order is kept first.

    >>> mask = np.zeros((1, 3, 7), bool)
    >>> mask[0, 0, 0] = mask[0, 1, 1] = True; mask[0, :, 4:6] = True
    >>> print(largest_components(mask)[0].astype(int))
    [[0 0 0 0 1 1 0]
     [0 0 0 0 1 1 0]
     [0 0 0 0 1 1 0]]
    >>> int(largest_components(mask, n=2, connectivity=6).sum())  # the diagonal pair is two
    7

    Raises
    ------
    ValidationError
        If ``mask`` is not a 3-D boolean array, ``n`` not an integer >= 1, or
        ``connectivity`` neither 6 nor 26.
    """
    mask = _check_mask(mask)
    if not _is_int(n) or n < 1:
        raise ValidationError(f"n, the number of components to keep, must be an integer >= 1,"
                              f" got {shown(n)}.", field="n", value=n)
    if not _is_int(connectivity) or connectivity not in (6, 26):
        raise ValidationError(f"connectivity must be 6 (voxels sharing a face) or 26 (a face,"
                              f" an edge or a corner), got {shown(connectivity)}.",
                              field="connectivity", value=connectivity)
    structure = ndimage.generate_binary_structure(3, 1 if connectivity == 6 else 3)

    def keep_largest(part: np.ndarray) -> np.ndarray:
        labels, count = ndimage.label(part, structure)
        sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
        kept = np.zeros(count + 1, bool)
        kept[np.argsort(-sizes, kind="stable")[:n] + 1] = True  # labels follow (z, y, x) order
        return kept[labels]

    return _boxed(mask, 0, keep_largest)


def fill_holes(mask: np.ndarray, per_slice: bool = False) -> np.ndarray:
    """``mask`` with its holes filled: background that cannot reach the volume's edge.

    In 3-D, background reaches the edge through voxels that share a face; with
    ``per_slice=True`` each axial slice is filled on its own (background reaching
    the slice's edge through voxels sharing a side), so a tube is filled too.

    >>> tube = np.zeros((3, 5, 5), bool); tube[:, 1:4, 1:4] = True; tube[:, 2, 2] = False
    >>> int(fill_holes(tube).sum()), int(fill_holes(tube, per_slice=True).sum())
    (24, 27)

    Raises
    ------
    ValidationError
        If ``mask`` is not a 3-D boolean array or ``per_slice`` not a bool.
    """
    mask = _check_mask(mask)
    structure = _IN_SLICE if _check_flag(per_slice, "per_slice") else None
    # Background on the box's faces touches the (empty) rest of the volume: the box is enough.
    return _boxed(mask, 0, lambda part: ndimage.binary_fill_holes(part, structure))


def _ball(radius: int) -> np.ndarray:
    offsets = np.indices((2 * radius + 1,) * 3) - radius
    return (offsets**2).sum(axis=0) <= radius**2


def _by_ball(region: np.ndarray, radius: int, grow: bool) -> np.ndarray:
    """``region`` dilated (``grow``) or eroded by the ball; background all round it."""
    if radius <= _SMALL_RADIUS:
        if grow:
            return ndimage.binary_dilation(region, _ball(radius))
        return ndimage.binary_erosion(region, _ball(radius), border_value=0)
    if grow:
        if not region.any():  # a distance to nothing is undefined
            return np.zeros(region.shape, bool)
        return ndimage.distance_transform_edt(~region) <= radius
    return ndimage.distance_transform_edt(np.pad(region, 1))[1:-1, 1:-1, 1:-1] > radius


def _blockwise(part: np.ndarray, radius: int, grow: bool) -> np.ndarray:
    """:func:`_by_ball` on a big box, a block at a time with ``radius`` of context around.

    A block the ball cannot change is set without work: growing, one with no voxel
    near it (in it or its neighbours) stays empty and a full one stays full;
    shrinking, an empty one stays empty and one whose neighbours are all full stays
    full. The context cut around a block lies ``radius`` + 1 voxels from it or more,
    so taking it as background changes nothing.
    """
    side = max(_BLOCK, 2 * radius)
    starts = [np.arange(0, n, side) for n in part.shape]
    some, every = part, part
    for axis, at in enumerate(starts):
        some = np.logical_or.reduceat(some, at, axis=axis)
        every = np.logical_and.reduceat(every, at, axis=axis)
    if grow:
        done, todo = every, ndimage.maximum_filter(some, size=3, mode="constant") & ~every
    else:
        done = ndimage.minimum_filter(every, size=3, mode="constant", cval=False)
        todo = some & ~done
    result = np.zeros(part.shape, bool)
    for block in itertools.product(*(range(len(at)) for at in starts)):
        inner = tuple(slice(b * side, min((b + 1) * side, n))
                      for b, n in zip(block, part.shape, strict=True))
        if done[block]:
            result[inner] = True
        elif todo[block]:
            outer = tuple(slice(max(s.start - radius, 0), min(s.stop + radius, n))
                          for s, n in zip(inner, part.shape, strict=True))
            changed = _by_ball(part[outer], radius, grow)
            result[inner] = changed[tuple(slice(i.start - o.start, i.stop - o.start)
                                          for i, o in zip(inner, outer, strict=True))]
    return result


def _morphology(mask: np.ndarray, radius: int, grow: bool) -> np.ndarray:
    if radius == 0:
        return mask.copy()

    def work(part: np.ndarray) -> np.ndarray:
        if part.size > _BLOCKWISE_VOXELS:
            return _blockwise(part, radius, grow)
        return _by_ball(part, radius, grow)

    # Growing needs room around the box; shrinking stays inside it, its rim background.
    return _boxed(mask, radius if grow else 0, work)


def dilate(mask: np.ndarray, radius: int = 1) -> np.ndarray:
    """``mask`` grown by a ball of ``radius`` voxels: every voxel within ``radius`` of it.

    The ball holds the offsets (dz, dy, dx) with dz² + dy² + dx² <= radius²,
    counted in voxels whatever the spacing; radius 0 changes nothing.

    >>> dot = np.zeros((1, 5, 5), bool); dot[0, 2, 2] = True
    >>> print(dilate(dot, radius=2)[0].astype(int))
    [[0 0 1 0 0]
     [0 1 1 1 0]
     [1 1 1 1 1]
     [0 1 1 1 0]
     [0 0 1 0 0]]

    Raises
    ------
    ValidationError
        If ``mask`` is not a 3-D boolean array or ``radius`` not an integer from 0
        to :data:`MAX_RADIUS`.
    """
    return _morphology(_check_mask(mask), _check_radius(radius), grow=True)


def erode(mask: np.ndarray, radius: int = 1) -> np.ndarray:
    """``mask`` shrunk by a ball of ``radius`` voxels: the voxels whose whole ball is in it.

    Outside the volume counts as background, so voxels within ``radius`` of the
    volume's faces always erode. The ball is that of :func:`dilate`.

    >>> square = np.zeros((3, 5, 5), bool); square[:, 1:4, 1:4] = True
    >>> print(erode(square)[1].astype(int))
    [[0 0 0 0 0]
     [0 0 0 0 0]
     [0 0 1 0 0]
     [0 0 0 0 0]
     [0 0 0 0 0]]

    Raises
    ------
    ValidationError
        As :func:`dilate`.
    """
    return _morphology(_check_mask(mask), _check_radius(radius), grow=False)


# -- slices ----------------------------------------------------------------------------------

def _signed_distance(plane: np.ndarray) -> np.ndarray:
    """Distance to the outline, in voxels: below 0 inside ``plane``'s voxels, above outside.

    Half a voxel is taken off each side, so that for a disk the value is close to the
    distance from its true edge (midway between the last voxel in and the first out).
    Outside the slice counts as background.
    """
    outside = ndimage.distance_transform_edt(~plane)
    inside = ndimage.distance_transform_edt(np.pad(plane, 1))[1:-1, 1:-1]
    return np.where(plane, 0.5 - inside, outside - 0.5)


def interpolate_slices(mask: np.ndarray) -> np.ndarray:
    """``mask`` with the slices between painted (non-empty) axial slices filled in.

    Shape-based interpolation: each empty slice between two painted ones gets the
    voxels where the linear blend of those two slices' signed distance maps is
    <= 0. Painted slices stay exactly as they were; slices before the first and
    after the last painted one stay empty. A blended slice lies within the union of
    its two painted neighbours and holds their intersection.

    >>> mask = np.zeros((5, 9, 9), bool)
    >>> mask[0, 3:6, 3:6] = True; mask[4, 1:8, 1:8] = True  # a 3x3 square, then a 7x7
    >>> filled = interpolate_slices(mask)
    >>> print(filled[2].astype(int))
    [[0 0 0 0 0 0 0 0 0]
     [0 0 0 0 0 0 0 0 0]
     [0 0 1 1 1 1 1 0 0]
     [0 0 1 1 1 1 1 0 0]
     [0 0 1 1 1 1 1 0 0]
     [0 0 1 1 1 1 1 0 0]
     [0 0 1 1 1 1 1 0 0]
     [0 0 0 0 0 0 0 0 0]
     [0 0 0 0 0 0 0 0 0]]
    >>> [int(plane.sum()) for plane in filled]
    [9, 21, 25, 37, 49]

    Raises
    ------
    ValidationError
        If ``mask`` is not a 3-D boolean array.
    """
    mask = _check_mask(mask)
    result = mask.copy()
    painted = [int(z) for z in np.flatnonzero(mask.any(axis=(1, 2)))]
    gaps = [(z0, z1) for z0, z1 in itertools.pairwise(painted) if z1 - z0 > 1]
    if not gaps:
        return result
    # Blended slices stay within the union of the painted ones, and a background margin of
    # one voxel keeps every distance that matters: the painted slices' box is enough.
    box = (slice(None), *_box(mask, 1)[1:])
    part, out = mask[box], result[box]
    distances: dict[int, np.ndarray] = {}
    for z0, z1 in gaps:
        d0 = distances.pop(z0, None)
        d0 = _signed_distance(part[z0]) if d0 is None else d0
        d1 = distances[z1] = _signed_distance(part[z1])
        for z in range(z0 + 1, z1):
            out[z] = (z1 - z) * d0 + (z - z0) * d1 <= 0  # the blend, times z1 - z0 > 0
    return result


def bucket_fill(slice_mask: np.ndarray, y: int, x: int) -> np.ndarray:
    """One axial slice with the background region around (``y``, ``x``) filled in.

    The region is the background reachable from (y, x) through voxels sharing a
    side. It is filled only when the mask encloses it; clicking a painted voxel
    changes nothing.

    >>> ring = np.zeros((5, 5), bool); ring[1:4, 1:4] = True; ring[2, 2] = False
    >>> int(bucket_fill(ring, 2, 2).sum()), int(bucket_fill(ring, 1, 1).sum())
    (9, 8)
    >>> bucket_fill(ring, 0, 0)
    Traceback (most recent call last):
    ...
    circus_nb.errors.ValidationError: The background at (y=0, x=0) is not enclosed by the mask:
    it reaches the edge of the slice. Close the outline first, then fill inside it.

    Raises
    ------
    ValidationError
        If ``slice_mask`` is not a 2-D boolean array, (y, x) is not a voxel of it,
        or the region around (y, x) reaches the slice's edge.
    """
    plane = _check_mask(slice_mask, "slice_mask", ndim=2)
    if not (_is_int(y) and _is_int(x)):
        raise ValidationError(f"y and x must be integer voxel indices, got {shown(y)} and"
                              f" {shown(x)}.", field="y" if not _is_int(y) else "x",
                              value=(y, x))
    rows, cols = plane.shape
    if not (0 <= y < rows and 0 <= x < cols):
        raise ValidationError(f"(y={y}, x={x}) is outside the slice: y must be 0 to {rows - 1}"
                              f" and x 0 to {cols - 1} (its shape is {plane.shape}).",
                              field="y" if not 0 <= y < rows else "x", value=(y, x))
    if plane[y, x]:
        return plane.copy()
    labels, _ = ndimage.label(~plane)  # background joined through sides
    region = labels == labels[y, x]
    if region[0].any() or region[-1].any() or region[:, 0].any() or region[:, -1].any():
        raise ValidationError(f"The background at (y={y}, x={x}) is not enclosed by the mask: it"
                              " reaches the edge of the slice. Close the outline first, then"
                              " fill inside it.", field="slice_mask", value=(int(y), int(x)))
    return plane | region


def combine(a: np.ndarray, b: np.ndarray, operation: str) -> np.ndarray:
    """Two masks of one volume combined: ``"add"`` (a or b), ``"subtract"`` (a and not b)
    or ``"intersect"`` (a and b).

    >>> a = np.zeros((1, 1, 4), bool); a[..., :3] = True
    >>> b = np.zeros((1, 1, 4), bool); b[..., 2:] = True
    >>> [combine(a, b, op)[0, 0].astype(int).tolist() for op in OPERATIONS]
    [[1, 1, 1, 1], [1, 1, 0, 0], [0, 0, 1, 0]]

    Raises
    ------
    ValidationError
        If ``a`` or ``b`` is not a 3-D boolean array, their shapes differ, or
        ``operation`` is not one of :data:`OPERATIONS`.
    """
    a, b = _check_mask(a, "a"), _check_mask(b, "b")
    if not isinstance(operation, str) or operation not in OPERATIONS:
        raise ValidationError(f"operation must be one of {', '.join(map(repr, OPERATIONS))}, got"
                              f" {shown(operation)}.", field="operation", value=operation)
    if a.shape != b.shape:
        raise ValidationError(f"a and b must have the same shape, got {a.shape} and {b.shape};"
                              " combine masks of one volume.", field="b", value=b.shape)
    if operation == "add":
        return a | b
    if operation == "subtract":
        return a & ~b
    return a & b


# -- geometric labels ------------------------------------------------------------------------

def _check_shape(value: Any) -> tuple[int, ...]:
    try:
        items = tuple(value)
    except TypeError:
        items = ()
    if len(items) != 3 or not all(_is_int(n) and n >= 1 for n in items):
        raise ValidationError(f"shape must be 3 integers >= 1 (z, y, x), got {shown(value)}.",
                              field="shape", value=value)
    return tuple(int(n) for n in items)


def _check_affine(value: Any) -> tuple[np.ndarray, np.ndarray]:
    """The affine as floats and its inverse."""
    try:
        matrix = np.array(value, dtype=float)
    except (TypeError, ValueError):
        matrix = np.zeros(0)
    if matrix.shape != (4, 4) or not np.isfinite(matrix).all():
        raise ValidationError(f"affine must be a 4x4 array of finite numbers (array index"
                              f" (z, y, x, 1) to patient (x, y, z, 1) in mm), got {shown(value)}."
                              " Use the volume's affine.", field="affine", value=value)
    if matrix[3].tolist() != [0, 0, 0, 1]:
        raise ValidationError(f"affine's last row must be 0, 0, 0, 1, got {matrix[3].tolist()}."
                              " Use the volume's affine.", field="affine", value=value)
    try:
        inverse = np.linalg.inv(matrix)
    except np.linalg.LinAlgError:
        inverse = np.full((4, 4), np.nan)
    if not np.isfinite(inverse).all():
        raise ValidationError(f"affine must be invertible (no zero spacing, no two array axes"
                              f" along one direction), got {matrix[:3].tolist()}. Use the"
                              " volume's affine.", field="affine", value=value)
    return matrix, inverse


def _to_index(inverse: np.ndarray, points: Any) -> np.ndarray:
    """Patient points (..., x y z) as fractional array indices (..., z y x)."""
    return np.asarray(points, float) @ inverse[:3, :3].T + inverse[:3, 3]


def _centres(affine: np.ndarray, k: int, rows: slice, cols: slice) -> list[np.ndarray]:
    """Patient x, y and z of the centres of voxels [k, rows, cols], each a 2-D array."""
    j = np.arange(rows.start, rows.stop, dtype=float)[:, None]
    i = np.arange(cols.start, cols.stop, dtype=float)[None, :]
    return [affine[c, 0] * k + affine[c, 1] * j + affine[c, 2] * i + affine[c, 3]
            for c in range(3)]


def _line(target: np.ndarray, start: np.ndarray, end: np.ndarray) -> None:
    """Set the voxels of ``target`` along start-end (fractional indices), clipped to it.

    One voxel per step along the segment's longest axis, so the line is connected
    through faces, edges and corners, and one voxel wide.
    """
    delta, low, high = end - start, 0.0, 1.0
    if not (np.isfinite(start).all() and np.isfinite(delta).all()):
        return
    for s, d, size in zip(start, delta, target.shape, strict=True):  # keep -0.5 .. size - 0.5
        if d == 0:
            if not -0.5 <= s <= size - 0.5:
                return
            continue
        t0, t1 = sorted(((-0.5 - s) / d, (size - 0.5 - s) / d))
        low, high = max(low, t0), min(high, t1)
    if low > high:
        return
    a, b = start + low * delta, start + high * delta
    steps = math.ceil(float(np.abs(b - a).max()))
    points = np.floor(a + np.linspace(0, 1, steps + 1)[:, None] * (b - a) + 0.5).astype(int)
    points = points[((points >= 0) & (points < target.shape)).all(axis=1)]
    target[tuple(points.T)] = True


def _solid(out: np.ndarray, affine: np.ndarray, inverse: np.ndarray, low: np.ndarray,
           high: np.ndarray, inside: Callable[..., np.ndarray]) -> None:
    """Set the voxels whose centre is ``inside`` a shape within the box ``low``..``high``."""
    # A box far bigger than the volume is first clipped to a little more than the volume's
    # extent in patient coordinates, so that the arithmetic stays finite.
    sizes = np.array(out.shape, float)
    middle = affine[:3, :3] @ ((sizes - 1) / 2) + affine[:3, 3]
    reach = np.abs(affine[:3, :3]) @ ((sizes + 1) / 2)
    corners = np.clip(list(itertools.product(*zip(low, high, strict=True))), middle - reach,
                      middle + reach)
    index = _to_index(inverse, corners)
    first = np.maximum(np.floor(index.min(axis=0)), 0).astype(int)
    last = np.minimum(np.ceil(index.max(axis=0)), np.array(out.shape) - 1).astype(int)
    if (first > last).any():
        return
    rows, cols = slice(first[1], last[1] + 1), slice(first[2], last[2] + 1)
    for k in range(first[0], last[0] + 1):
        out[k, rows, cols] = inside(*_centres(affine, k, rows, cols))


def _within(low: np.ndarray, high: np.ndarray) -> Callable[..., np.ndarray]:
    def inside(*coordinates: np.ndarray) -> np.ndarray:
        result = np.ones(coordinates[0].shape, bool)
        for c, lo, hi in zip(coordinates, low, high, strict=True):
            result &= (lo - _EPS_MM <= c) & (c <= hi + _EPS_MM)
        return result
    return inside


def _within_ellipse(low: np.ndarray, high: np.ndarray) -> Callable[..., np.ndarray]:
    centre, half = low / 2 + high / 2, high / 2 - low / 2

    def inside(*coordinates: np.ndarray) -> np.ndarray:
        total = np.zeros(coordinates[0].shape)
        for c, m, h in zip(coordinates, centre, half, strict=True):
            if h > 0:
                total += ((c - m) / h) ** 2
            else:  # a flat ellipse: only the plane through its centre
                total += np.where(np.abs(c - m) <= _EPS_MM, 0.0, np.inf)
        return total <= 1 + 1e-9
    return inside


def _slices_at(inverse: np.ndarray, depth: int, point: list[float]) -> list[int]:
    """The slices whose centre is nearest ``point``, when within half a slice; both on a tie."""
    k = float(_to_index(inverse, point)[0])
    if not math.isfinite(k):
        return []
    return [s for s in (math.floor(k), math.floor(k) + 1)
            if 0 <= s < depth and abs(s - k) <= 0.5 + 1e-9]


def rasterise(label: Label, shape: tuple[int, int, int], affine: np.ndarray) -> np.ndarray:
    """The voxels of ``label`` in a volume of ``shape`` (z, y, x) placed by ``affine``.

    ``affine`` (4x4) maps array indices (z, y, x, 1) to patient coordinates
    (x, y, z, 1) in mm, as a volume's ``affine`` does; a label's geometry is in
    patient coordinates. What each type covers:

    - ``point``: the voxel nearest ``location`` (halves round up).
    - ``cuboid``, ``ellipsoid``: the voxels whose centre is inside the box
      ``min``..``max`` (corners in any order), or the ellipsoid filling it.
    - ``rectangle``, ``ellipse``: on the slice whose centre is nearest ``z`` (both
      slices on a tie, none beyond half a slice), the voxels whose centre (x, y)
      is inside the shape.
    - ``polyline``: on that slice, the line through ``points`` in order, one voxel
      wide; it is open, so close it by repeating the first point last.
    - ``ruler``: the 3-D line from ``start`` to ``end``, one voxel wide.
    - ``voxel``: its mask, which must have ``shape``.

    Centres within 1e-6 mm of a surface count as inside. What lies outside the
    volume is left out; a label entirely outside gives an empty mask.

    >>> affine = np.array([[0, 0, 0.5, -10], [0, 0.5, 0, -10], [2, 0, 0, 0], [0, 0, 0, 1]])
    >>> box = rasterise(Label.cuboid([-9, -10, 2], [-8, -9, 4]), (4, 8, 8), affine)
    >>> [sorted({int(v) for v in axis}) for axis in np.nonzero(box)]  # z, y, x
    [[1, 2], [0, 1, 2], [2, 3, 4]]
    >>> np.argwhere(rasterise(Label.point([-8.9, -9.3, 2.9]), (4, 8, 8), affine)).tolist()
    [[1, 1, 2]]

    Raises
    ------
    ValidationError
        If ``label`` breaks a rule of its type, ``shape`` is not 3 integers >= 1
        (or too big to hold in memory),
        ``affine`` is not an invertible 4x4 affine of finite numbers, or a voxel
        label's mask has another shape.
    CircusError
        If a stored voxel label's mask cannot be read.
    """
    label, shape = check_label(label), _check_shape(shape)
    affine, inverse = _check_affine(affine)
    data = label.data
    if label.type == "voxel":
        if tuple(data["shape"]) != shape:
            raise ValidationError(f"Voxel label {shown(label.name or '')} has a mask of shape"
                                  f" {tuple(data['shape'])}, not {shape}; rasterise it with the"
                                  " shape of its own volume.", field="shape", value=shape)
        return label.mask()
    try:
        out = np.zeros(shape, bool)
    except (MemoryError, ValueError):
        raise ValidationError(f"shape {shape} is {math.prod(shape):,} voxels, too many voxels to"
                              " hold in memory; rasterise with the shape of the label's"
                              " volume.", field="shape", value=shape) from None
    with np.errstate(over="ignore", invalid="ignore"):  # labels may lie very far away
        _draw(label.type, data, out, affine, inverse)
    return out


def _draw(type: str, data: dict[str, Any], out: np.ndarray, affine: np.ndarray,
          inverse: np.ndarray) -> None:
    if type == "point":
        index = np.floor(_to_index(inverse, data["location"]) + 0.5)
        if np.isfinite(index).all() and ((index >= 0) & (index < out.shape)).all():
            out[tuple(index.astype(int))] = True
    elif type == "ruler":
        _line(out, _to_index(inverse, data["start"]), _to_index(inverse, data["end"]))
    elif type in ("cuboid", "ellipsoid"):
        low, high = np.sort([data["min"], data["max"]], axis=0)
        inside = _within(low, high) if type == "cuboid" else _within_ellipse(low, high)
        _solid(out, affine, inverse, low, high, inside)
    else:  # drawn on a slice: rectangle, ellipse, polyline
        z = data["z"]
        xy = np.array(data["points"] if type == "polyline" else [data["min"], data["max"]])
        low, high = xy.min(axis=0), xy.max(axis=0)
        full = slice(0, out.shape[1]), slice(0, out.shape[2])
        for k in _slices_at(inverse, out.shape[0], [*(low / 2 + high / 2), z]):
            if type == "polyline":
                vertices = _to_index(inverse, [[px, py, z] for px, py in xy])[:, 1:]
                for start, end in itertools.pairwise(vertices):
                    _line(out[k], start, end)
            else:
                inside = (_within if type == "rectangle" else _within_ellipse)(low, high)
                out[k] = inside(*_centres(affine, k, *full)[:2])


def label_key(label: Label, position: int) -> str:
    """The name a label goes by in masks and comparisons: its name, else ``label<position>``.

    >>> label_key(Label.point([0, 0, 0], name="apex"), 3), label_key(Label.point([0, 0, 0]), 3)
    ('apex', 'label3')
    """
    return label.name if label.name else f"label{position}"


def label_masks(labels: Sequence[Label], shape: tuple[int, int, int], affine: np.ndarray
                ) -> dict[str, np.ndarray]:
    """Every label of a series entry as a boolean mask, by :func:`label_key`.

    Geometric labels are rasterised (:func:`rasterise`); labels that share a name
    make one mask, their union (two "nodule" labels are all the nodule voxels).
    Keys follow the labels' order.

    >>> affine = np.diag([2.0, 1.0, 1.0, 1.0])[[2, 1, 0, 3]]  # (z, y, x) -> (x, y, z)
    >>> masks = label_masks([Label.point([1, 2, 0], name="a"), Label.point([3, 3, 2], name="a"),
    ...                      Label.cuboid([0, 0, 0], [1, 1, 2])], (2, 4, 4), affine)
    >>> {key: int(mask.sum()) for key, mask in masks.items()}
    {'a': 2, 'label2': 8}
    """
    masks: dict[str, np.ndarray] = {}
    for position, label in enumerate(labels):
        key = label_key(label, position)
        mask = rasterise(label, shape, affine)
        masks[key] = masks[key] | mask if key in masks else mask
    return masks


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """The Dice coefficient 2|A n B| / (|A| + |B|) of two masks; 1.0 when both are empty.

    >>> a = np.zeros((1, 2, 4), bool); b = a.copy()
    >>> a[0, :, :2] = True; b[0, :, 1:3] = True
    >>> dice(a, b), dice(a, a), dice(a & False, b & False)
    (0.5, 1.0, 1.0)
    """
    a, b = _check_mask(a, "a"), _check_mask(b, "b")
    if a.shape != b.shape:
        raise ValidationError(f"Dice compares masks of one shape, got {a.shape} and {b.shape}.",
                              field="b", value=b.shape)
    total = int(np.count_nonzero(a)) + int(np.count_nonzero(b))
    if total == 0:
        return 1.0  # two empty masks agree: nobody marked anything
    return 2.0 * int(np.count_nonzero(a & b)) / total
