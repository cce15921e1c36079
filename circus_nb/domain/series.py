"""Pure rules about series: UIDs, patient age, the ``auto`` range, and ``Volume``.

>>> is_valid_uid("1.2.840.10008.1.2"), is_valid_uid("1.2.abc")
(True, False)
>>> age_in_years("045Y"), age_in_years("018M"), age_in_years(None, "1970-05-14", "2024-03-01")
(45, 1, 53)
>>> auto_partial_volume(ImageRange.parse("1,3-62"), {1: 0.0})
PartialVolume(start=1, end=1, delta=1)
>>> auto_partial_volume(ImageRange.parse("2-61,70"), {2: -100.0, 61: 200.0})
PartialVolume(start=61, end=2, delta=-1)
>>> file_change((1946, 1700000000.0), (1946, 1700000000.0)) is None
True
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np

from .._repr import card_html, card_text
from ..errors import ValidationError
from .geometry import SAME_PLACE_MM, orientation_cosines
from .image_range import ImageRange
from .partial_volume import PartialVolume
from .values import shown

__all__ = ["Volume", "age_in_years", "auto_partial_volume", "file_change", "is_valid_uid"]

_AGE = re.compile(r"^(\d{3})([DWMY])$")
_DAYS_PER_UNIT = {"D": 1, "W": 7, "M": 365.25 / 12, "Y": 365.25}


def is_valid_uid(uid: object) -> bool:
    """A DICOM UID: digits in dot-separated components, at most 64 characters.

    Components may not have leading zeros (PS3.5 9.1); CIRCUS only asks for digits
    and dots, so we accept a leading zero too rather than refuse real-world files.
    """
    return (isinstance(uid, str) and 0 < len(uid) <= 64
            and re.fullmatch(r"[0-9]+(\.[0-9]+)*", uid) is not None)


def age_in_years(patient_age: str | None, birth_date: str | date | None = None,
                 on: str | date | None = None) -> int | None:
    """Whole years from a DICOM PatientAge (``nnnY/M/W/D``), else from birth and study date."""
    match = _AGE.match(patient_age.strip()) if isinstance(patient_age, str) else None
    if match:
        return int(int(match[1]) * _DAYS_PER_UNIT[match[2]] // 365.25)
    born, seen = _as_date(birth_date), _as_date(on)
    if born is None or seen is None or seen < born:
        return None
    return seen.year - born.year - ((seen.month, seen.day) < (born.month, born.day))


def _as_date(value: str | date | None) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        digits = value.replace("-", "").strip()
        if len(digits) == 8 and digits.isdigit():
            try:
                return date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
            except ValueError:
                return None
    return None


def auto_partial_volume(images: ImageRange, z_of: Mapping[int, float | None],
                        series_uid: str = "") -> PartialVolume:
    """The CIRCUS ``auto`` range: the first consecutive run of instance numbers,
    oriented head (high z) to feet.

    ``z_of`` maps an instance number to its ImagePositionPatient z (``None`` or
    absent when the file has no position).

    Raises
    ------
    ValidationError
        If the series has no images, or the first or last image of the run has no
        ImagePositionPatient (the orientation cannot be told).
    """
    if not images:
        raise ValidationError(f"Series {series_uid} has no images, so it has no auto range.",
                              field="images", value=str(images))
    first, last = images.segments()[0]
    if first == last:
        return PartialVolume(first, first, 1)
    missing = [n for n in (first, last) if z_of.get(n) is None]
    if missing:
        raise ValidationError(
            f"The auto range of series {series_uid} needs ImagePositionPatient of images"
            f" {first} and {last} to tell head from feet, but image {missing[0]} has none."
            f" Give the range explicitly, e.g. ({first}, {last}, 1).",
            field="ImagePositionPatient", value=missing[0])
    if z_of[first] >= z_of[last]:
        return PartialVolume(first, last, 1)
    return PartialVolume(last, first, -1)


# A copy the store made may carry a timestamp a little after the import's own clock
# (coarse file-system clocks, network shares): seconds of slack before calling it changed.
COPY_SLACK_SECONDS = 2.0


def file_change(recorded: tuple[int, float], current: tuple[int, float] | None,
                copied_at: float | None = None) -> str | None:
    """How a file differs from what the catalog recorded at import, or ``None``.

    ``recorded`` and ``current`` are ``(size in bytes, mtime in seconds)``;
    ``current`` is ``None`` for a file that is gone. A file the store copied
    (``copied_at``: the import's time) keeps the source's recorded mtime, while the
    copy has its own, written during the import: it counts as changed only when
    written later than that.

    >>> file_change((1946, 100.0), None)
    'it is missing'
    >>> file_change((1946, 100.0), (1900, 100.0))
    'its size changed from 1946 to 1900 bytes'
    >>> file_change((1946, 0.0), (1946, 86400.0))
    'it was modified at 1970-01-02 00:00:00 UTC (at import: 1970-01-01 00:00:00 UTC)'
    >>> file_change((1946, 0.0), (1946, 50.0), copied_at=51.0) is None
    True
    """
    if current is None:
        return "it is missing"
    (size, mtime), (now_size, now_mtime) = recorded, current
    if now_size != size:
        return f"its size changed from {size} to {now_size} bytes"
    if now_mtime == mtime:
        return None
    if copied_at is not None:
        if now_mtime <= copied_at + COPY_SLACK_SECONDS:
            return None
        return f"it was modified at {_stamp(now_mtime)}, after the import copied it at" \
               f" {_stamp(copied_at)}"
    return f"it was modified at {_stamp(now_mtime)} (at import: {_stamp(mtime)})"


def _stamp(seconds: float) -> str:
    """UTC time to the second, or finer where the second alone would hide a change."""
    when = datetime.fromtimestamp(seconds, UTC)
    fraction = f".{when.microsecond:06d}" if when.microsecond else ""
    return f"{when:%Y-%m-%d %H:%M:%S}{fraction} UTC"


@dataclass(frozen=True, eq=False)
class Volume:
    """Voxels of one series range: ``array`` (z, y, x) float32 in rescaled units.

    ``instance_numbers``, ``positions`` and (for the frames of one multi-frame
    image) ``frame_numbers`` follow the volume's z order; ``spacing`` is (z, y, x)
    in mm, always positive. ``notes`` says which spacing is a guess and why (an
    absent or unusable PixelSpacing, slices without positions...): a spacing of
    1.0 there means "unknown", not one millimetre. ``orientation`` is the
    ImageOrientationPatient of the slices, six direction cosines (the direction
    of a row, then of a column), or ``None`` when unknown; :attr:`affine` places
    the voxels in the patient.

    >>> volume = Volume(np.zeros((3, 2, 2), np.float32), (1, 2, 3), (2.5, 0.5, 0.5),
    ...                 ((0, 0, 10.0), (0, 0, 7.5), (0, 0, 5.0)),
    ...                 orientation=(1, 0, 0, 0, 1, 0))
    >>> volume.orientation
    (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    >>> (volume.affine @ [2, 1, 1, 1]).tolist()  # voxel (z, y, x) = (2, 1, 1)
    [0.5, 0.5, 5.0, 1.0]

    Raises
    ------
    ValidationError
        For an ``orientation`` that is not six finite numbers whose row and column
        directions span a plane.
    """

    array: np.ndarray
    instance_numbers: tuple[int, ...]
    spacing: tuple[float, float, float]
    positions: tuple[tuple[float, float, float] | None, ...]
    series_uid: str = ""
    frame_numbers: tuple[int, ...] | None = None
    notes: tuple[str, ...] = ()
    orientation: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.orientation is None:
            return
        cosines = orientation_cosines(self.orientation)
        if cosines is None:
            raise ValidationError(
                f"A volume's orientation is the six direction cosines of ImageOrientationPatient"
                f" (a row's direction, then a column's), got {shown(self.orientation)}. Give"
                " None when the orientation is unknown.", field="orientation",
                value=self.orientation)
        object.__setattr__(self, "orientation", cosines)  # frozen: normalised once, here

    @property
    def shape(self) -> tuple[int, ...]:
        return self.array.shape

    @property
    def affine(self) -> np.ndarray:
        """The 4 x 4 float64 matrix taking array indices to patient coordinates.

        ``affine @ (k, j, i, 1)``, for the voxel ``array[k, j, i]``, is its centre
        ``(x, y, z, 1)`` in mm in the patient (DICOM LPS: x to the patient's left,
        y to the back, z to the head). Its columns:

        * for ``i`` (along a row): the row direction times the x spacing;
        * for ``j`` (down a column): the column direction times the y spacing;
        * for ``k`` (slice to slice): ``(positions[-1] - positions[0]) / (n - 1)``
          when the first and last slices have positions and lie apart, so a
          range in either order, or a tilted stack, is placed as it lies; else
          the slice normal (row x column) times the z spacing;
        * the translation: ``positions[0]``, or 0 when it is unknown.

        The direction cosines are taken as unit vectors. An unknown
        ``orientation`` counts as axial (rows along x, columns along y, slices
        along z): the matrix is then only as right as that guess. A linear map
        is exact only for evenly spaced slices; for others (two echoes at each
        position, a gap) the slice column is the mean step, so the first and
        last slices land where they are and those between may not.

        >>> Volume(np.zeros((1, 2, 2), np.float32), (1,), (3.0, 0.5, 0.5), (None,)).affine
        array([[0. , 0. , 0.5, 0. ],
               [0. , 0.5, 0. , 0. ],
               [3. , 0. , 0. , 0. ],
               [0. , 0. , 0. , 1. ]])
        """
        cosines = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0) if self.orientation is None else self.orientation
        row, column = (_unit(np.array(cosines[i:i + 3])) for i in (0, 3))
        spacing_z, spacing_y, spacing_x = (float(s) for s in self.spacing)
        matrix = np.eye(4)
        matrix[:3, 2] = row * spacing_x
        matrix[:3, 1] = column * spacing_y
        matrix[:3, 0] = _unit(np.cross(row, column)) * spacing_z
        first = self.positions[0] if self.positions else None
        last = self.positions[-1] if self.positions else None
        if first is not None:
            matrix[:3, 3] = first
        if first is not None and last is not None and len(self.positions) > 1:
            step = (np.asarray(last, float) - np.asarray(first, float)) / (len(self.positions) - 1)
            if np.isfinite(step).all() and float(np.linalg.norm(step)) > SAME_PLACE_MM:
                matrix[:3, 0] = step
        return matrix + 0.0  # no -0.0 from the cross product

    def _rows(self) -> list[tuple[str, object]]:
        if self.frame_numbers is None:
            images = _as_range_text(self.instance_numbers)
        else:
            images = (f"image {self.instance_numbers[0]}, frames"
                      f" {_as_range_text(self.frame_numbers)}")
        rows = [
            ("series", self.series_uid),
            ("shape (z, y, x)", " x ".join(map(str, self.array.shape))),
            ("spacing (mm)", ", ".join(f"{s:g}" for s in self.spacing)),
            ("images", images),
            ("orientation", "unknown (the affine takes it as axial)" if self.orientation is None
             else ", ".join(f"{c:g}" for c in self.orientation)),
            ("values", f"{float(self.array.min()):g} .. {float(self.array.max()):g}"
             if self.array.size else "—"),
        ]
        return rows + [("note", note) for note in self.notes]

    def __repr__(self) -> str:
        shape = "x".join(map(str, self.array.shape))
        return f"<Volume {shape} spacing={tuple(round(s, 3) for s in self.spacing)}>"

    def __str__(self) -> str:
        return card_text("Volume", self._rows())

    def _repr_html_(self) -> str:
        return card_html("Volume", self._rows())


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


def _as_range_text(numbers: Sequence[int]) -> str:
    if len(numbers) < 2:
        return ", ".join(map(str, numbers))
    delta = numbers[1] - numbers[0]
    steps = {b - a for a, b in itertools.pairwise(numbers)}
    if steps == {delta} and delta != 0 and PartialVolume.is_valid(numbers[0], numbers[-1], delta):
        return PartialVolume(numbers[0], numbers[-1], delta).describe()
    return ", ".join(map(str, numbers[:3])) + ", ..."
