"""Pure rules for the geometry of a volume: voxel spacing and the order of slices.

DICOM states the geometry in several places, any of which may be absent or wrong.
The rules here use what can be used and say, in a :class:`Fallback`, what they
fell back on, so that a volume can still load (with spacing 1.0, as CIRCUS does)
while telling its reader which numbers are guesses.

>>> pixel_spacing([0.7, 0.7])
((0.7, 0.7), None)
>>> spacing, fallback = pixel_spacing([0.0, 0.0])
>>> spacing, fallback.suspicious
((1.0, 1.0), True)
>>> print(fallback.text)  # doctest: +NORMALIZE_WHITESPACE
PixelSpacing '0.0\\0.0' is not two positive numbers (row and column spacing in mm):
y and x spacing taken as 1.0 mm.
>>> slice_pitch([(0, 0, 10.0), (0, 0, 7.5), (0, 0, 5.0)], None, [("SliceThickness", 2.0)])
(2.5, [])
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Fallback", "common_orientation", "head_first_order", "orientation_cosines",
           "pixel_spacing", "positive_number", "slice_normal", "slice_pitch"]

Point = tuple[float, float, float]
# Frames closer than this along the slice normal are taken as the same place (mm).
SAME_PLACE_MM = 1e-3
# Direction cosines that differ by less than this are one orientation (0.06 degrees):
# scanners round them a little differently from slice to slice.
SAME_DIRECTION = 1e-3


@dataclass(frozen=True)
class Fallback:
    """What a spacing rule fell back on, in words.

    ``suspicious`` is true when the file did state a value but that value cannot
    be right (zero, negative, not a number): worth a warning, not only a note.
    """

    text: str
    suspicious: bool = False


def positive_number(value: Any) -> float | None:
    """``value`` as a finite number > 0 (a number or numeric text), else ``None``.

    >>> positive_number("2.5"), positive_number(0), positive_number("abc"), positive_number(True)
    (2.5, None, None, None)
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) and number > 0 else None


def _absent(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | tuple) and len(value) == 0)


def _dicom_text(value: Any) -> str:
    """A value as DICOM writes it (``'0\\0'``), quoted, without Python's escaping."""
    if isinstance(value, list | tuple):
        return "'" + "\\".join(str(v) for v in value) + "'"
    return f"'{value}'"


def pixel_spacing(value: Any) -> tuple[tuple[float, float], Fallback | None]:
    """(y, x) spacing in mm from a PixelSpacing value (row spacing, column spacing).

    Absent: unknown, so 1.0 each, as CIRCUS does. Present but not two positive
    finite numbers (text, one or three values, zero, negative, NaN): plainly wrong,
    so 1.0 each too, with a suspicious :class:`Fallback` saying what was seen.

    >>> pixel_spacing(None)[1].text
    'PixelSpacing is absent: y and x spacing taken as 1.0 mm.'
    """
    if _absent(value):
        return (1.0, 1.0), Fallback("PixelSpacing is absent: y and x spacing taken as 1.0 mm.")
    pair = [positive_number(v) for v in value] if isinstance(value, list | tuple) else []
    if len(pair) == 2 and None not in pair:
        return (pair[0], pair[1]), None
    return (1.0, 1.0), Fallback(
        f"PixelSpacing {_dicom_text(value)} is not two positive numbers (row and column spacing"
        " in mm): y and x spacing taken as 1.0 mm.", suspicious=True)


def slice_normal(orientation: Any) -> np.ndarray | None:
    """The unit normal of the slices from ImageOrientationPatient, or ``None``.

    ``None`` when the orientation is absent or is not six finite numbers whose row
    and column directions span a plane.

    >>> slice_normal([1, 0, 0, 0, 1, 0]).tolist(), slice_normal(None), slice_normal([1, 0, 0] * 2)
    ([0.0, 0.0, 1.0], None, None)
    """
    if not isinstance(orientation, Sequence | np.ndarray) or isinstance(orientation, str):
        return None
    try:
        values = np.asarray(orientation, dtype=float)
    except (TypeError, ValueError):
        return None
    if values.shape != (6,) or not np.isfinite(values).all():
        return None
    with np.errstate(all="ignore"):  # absurd magnitudes end as non-finite: refused below
        row, column = (v / np.linalg.norm(v) for v in (values[:3], values[3:]))
        cross = np.cross(row, column)
        length = float(np.linalg.norm(cross))
        normal = cross / length
    return normal if length > 1e-6 and np.isfinite(normal).all() else None


def orientation_cosines(orientation: Any) -> tuple[float, ...] | None:
    """ImageOrientationPatient as six floats (row direction, then column direction),
    or ``None`` where :func:`slice_normal` finds no plane in it.

    >>> orientation_cosines(["1", "0", "0", "0", "1", "0"]), orientation_cosines([1, 0, 0] * 2)
    ((1.0, 0.0, 0.0, 0.0, 1.0, 0.0), None)
    """
    if slice_normal(orientation) is None:
        return None
    return tuple(float(v) for v in np.asarray(orientation, dtype=float))


def common_orientation(orientations: Sequence[Any], numbers: Sequence[int]
                       ) -> tuple[tuple[float, ...] | None, Fallback | None]:
    """The orientation every slice shares (see :func:`orientation_cosines`), and what
    was fallen back on; ``numbers`` name the slices (instance numbers) in the note.

    ``None`` with no note when no slice has a usable orientation (it is simply
    unknown); ``None`` with a note when only some have one, and a suspicious note
    when two differ: such slices do not lie in parallel planes, so no one
    orientation describes them.

    >>> axial, coronal = [1, 0, 0, 0, 1, 0], [1, 0, 0, 0, 0, -1]
    >>> common_orientation([axial, axial], [3, 4])
    ((1.0, 0.0, 0.0, 0.0, 1.0, 0.0), None)
    >>> print(common_orientation([coronal, axial], [1, 3])[1].text)
    orientation unknown: images 1 and 3 differ in ImageOrientationPatient
    (1, 0, 0, 0, 0, -1 and 1, 0, 0, 0, 1, 0), so they do not lie in parallel planes.
    """
    cosines = [orientation_cosines(o) for o in orientations]
    known = [(n, c) for n, c in zip(numbers, cosines, strict=True) if c is not None]
    if not known:
        return None, None
    if len(known) < len(cosines):
        lacking = numbers[cosines.index(None)]
        return None, Fallback(f"orientation unknown: image {lacking} has no usable"
                              " ImageOrientationPatient, while others have one.")
    first_number, first = known[0]
    for number, other in known[1:]:
        if max(abs(a - b) for a, b in zip(first, other, strict=True)) > SAME_DIRECTION:
            shown = [", ".join(f"{c:g}" for c in v) for v in (first, other)]
            return None, Fallback(
                f"orientation unknown: images {first_number} and {number} differ in"
                f" ImageOrientationPatient ({shown[0]} and {shown[1]}), so they do not lie in"
                " parallel planes.", suspicious=True)
    return first, None


def _offsets(points: np.ndarray, orientation: Any) -> np.ndarray:
    """Distance of each point along the slice normal; without a usable orientation,
    along the line from the first point to the farthest one."""
    normal = slice_normal(orientation)
    with np.errstate(all="ignore"):  # absurd coordinates give non-finite offsets: refused
        if normal is None:
            away = points - points[0]
            far = away[int(np.argmax(np.linalg.norm(away, axis=1)))]
            length = float(np.linalg.norm(far))
            normal = far / length if length > 0 else np.array([0.0, 0.0, 1.0])
        return points @ normal


def slice_pitch(positions: Sequence[Point | None], orientation: Any,
                candidates: Sequence[tuple[str, Any]]) -> tuple[float, list[Fallback]]:
    """The z spacing in mm of slices at ``positions`` (in volume order).

    The median distance between neighbouring slices along the slice normal (from
    ``orientation``; without one, along the line the positions lie on). When that
    cannot be had (one slice, a missing position, slices in one place), the first
    usable of ``candidates`` (``(name, value)`` pairs such as
    ``("SliceThickness", 5.0)``), else 1.0. Returns the pitch and what was
    fallen back on.

    >>> slice_pitch([(0, 0, 0), None], None, [("SliceThickness", "abc")])[0]
    1.0
    """
    notes: list[Fallback] = []
    known = [p for p in positions if p is not None]
    if len(positions) >= 2:
        if len(known) == len(positions):
            offsets = _offsets(np.asarray(known, dtype=float), orientation)
            with np.errstate(all="ignore"):  # infinite offsets: a NaN pitch, refused below
                pitch = float(np.median(np.abs(np.diff(offsets))))
            if math.isfinite(pitch) and pitch > SAME_PLACE_MM:
                return pitch, notes
            why = "the slices share one position"
        else:
            why = "not every slice has ImagePositionPatient"
    for name, value in candidates:
        number = positive_number(value)
        if number is not None:
            if len(positions) >= 2:
                notes.append(Fallback(f"z spacing is {name} ({number:g} mm): {why}."))
            return number, notes
        if not _absent(value):
            notes.append(Fallback(f"{name} {_dicom_text(value)} is not a positive number; ignored.",
                                  suspicious=True))
    names = " or ".join(name for name, _ in candidates) or "a slice spacing"
    reason = f"{why}, and there is no usable {names}" if len(positions) >= 2 else (
        f"there is no usable {names}")
    notes.append(Fallback(f"z spacing taken as 1.0 mm: {reason}."))
    return 1.0, notes


def head_first_order(positions: Sequence[Point | None], orientation: Any) -> list[int]:
    """Indices of frames sorted along the slice normal, head (high z) first.

    Like the ``auto`` range: of the two directions along the normal, the one whose
    first frame has the higher z. When both ends have the same z (a sagittal or
    coronal stack), the file's own direction is kept. Frames without positions
    keep the file's order.

    Raises
    ------
    ValueError
        If two frames lie in the same place (several stacks or time points in one
        file), so that no single order along the normal exists; the message names
        the two frames (counted from 1).

    >>> head_first_order([(0, 0, -5.0), (0, 0, 5.0), (0, 0, 0.0)], [1, 0, 0, 0, 1, 0])
    [1, 2, 0]
    """
    if len(positions) < 2 or any(p is None for p in positions):
        return list(range(len(positions)))
    points = np.asarray(positions, dtype=float)
    offsets = _offsets(points, orientation)
    order = [int(i) for i in np.argsort(offsets, kind="stable")]
    gaps = np.diff(offsets[order])
    if gaps.size and float(gaps.min()) <= SAME_PLACE_MM:
        at = int(np.argmin(gaps))
        first, second = sorted((order[at] + 1, order[at + 1] + 1))
        raise ValueError(f"frames {first} and {second} lie in the same place")
    rise = points[order[-1], 2] - points[order[0], 2]  # z gained along ascending offsets
    level = abs(rise) <= SAME_PLACE_MM
    if (not level and rise > 0) or (level and offsets[-1] < offsets[0]):
        order.reverse()
    return order
