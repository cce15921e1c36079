"""``Series``: one imported DICOM series, its volumes and thumbnails."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._repr import card_html, card_text
from ..dicom.pixels import read_image
from ..domain.image_range import ImageRange
from ..domain.partial_volume import PartialVolume
from ..domain.series import Volume, auto_partial_volume
from ..errors import CircusError, ValidationError
from ..store import series as series_sql
from ..thumbnails import draw_strip

if TYPE_CHECKING:
    from .store import Store

__all__ = ["Series", "as_partial_volume"]

PATIENT_FIELDS = ("patient_id", "patient_name", "birth_date", "age", "sex", "patient_size",
                  "patient_weight")


def as_partial_volume(spec: Any) -> PartialVolume | str:
    """``"auto"``, a ``PartialVolume`` or a ``(start, end, delta)`` tuple, checked."""
    if isinstance(spec, str) and spec == "auto":
        return "auto"
    if isinstance(spec, PartialVolume):
        return spec
    if isinstance(spec, tuple | list) and len(spec) in (2, 3):
        return PartialVolume(*spec)
    raise ValidationError(f"A range is 'auto', a PartialVolume or (start, end, delta), got"
                          f" {spec!r}.", field="range", value=spec)


class Series:
    """An imported series, as the store's current user sees it at each call.

    Get one with ``store.series(uid)``.
    """

    def __init__(self, store: Store, row: dict[str, Any]):
        self._store = store
        self._row = row
        self.series_uid: str = row["series_uid"]
        self.study_uid: str | None = row["study_uid"]
        self.modality: str | None = row["modality"]
        self.description: str | None = row["series_description"]
        self.domain: str = row["domain"]
        self.images = ImageRange.parse(row["images"]) if row["images"] else ImageRange()
        self.series_date = row["series_date"]
        self.width: int | None = row["width"]
        self.height: int | None = row["height"]
        self.parameters: dict[str, Any] = json.loads(row["parameters"])

    @property
    def patient(self) -> dict[str, Any] | None:
        """Patient information, or ``None`` where the current user may not see it."""
        if not self._store.may_view_patient_info():
            return None
        patient = {k: self._row[k] for k in PATIENT_FIELDS}
        patient["birth_date"] = str(patient["birth_date"]) if patient["birth_date"] else None
        return patient

    def _con(self):
        return self._store._series_access(self.series_uid, self.domain)

    def instances(self) -> pd.DataFrame:
        """One row per instance: number, file, position, window..."""
        return series_sql.instances_frame(self._con(), self.series_uid)

    def resolve_auto(self) -> PartialVolume:
        """The ``auto`` range: the first consecutive run, oriented head to feet."""
        first, last = self.images.segments()[0] if self.images else (None, None)
        z = series_sql.z_positions(self._con(), self.series_uid, [first, last]) if first else {}
        return auto_partial_volume(self.images, z, self.series_uid)

    def partial_volume(self, spec: Any = "auto") -> PartialVolume:
        """``spec`` resolved and checked against the images of this series."""
        pv = as_partial_volume(spec)
        pv = self.resolve_auto() if pv == "auto" else pv
        if not pv.within(self.images):
            missing = [n for n in pv.to_list() if n not in self.images][:5]
            raise ValidationError(
                f"Specified range is invalid. {pv.describe()} asks for image(s)"
                f" {', '.join(map(str, missing))}, which series {self.series_uid} does not have"
                f" (its images: {self.images}).", field="range", value=pv)
        return pv

    def volume(self, pv: Any = "auto") -> Volume:
        """The voxels of range ``pv`` (``"auto"`` by default), in the range's order."""
        pv = self.partial_volume(pv)
        numbers = pv.to_list()
        rows = self.instances().set_index("instance_number").loc[numbers]
        sizes = [tuple(None if pd.isna(v) else int(v) for v in pair)
                 for pair in zip(rows["rows"], rows["columns"], strict=True)]
        self._require_one_size(numbers, sizes)
        files = [self._store._file(path, managed)
                 for path, managed in zip(rows["path"], rows["managed"], strict=True)]
        first = read_image(files[0])
        array = np.empty((len(files), *first.shape), np.float32)
        array[0] = first
        for i, file in enumerate(files[1:], start=1):
            read_image(file, out=array[i])  # straight into the volume: no copies
        positions = tuple(_position(r) for r in rows.itertuples())
        return Volume(array, tuple(numbers), self._spacing(rows, positions), positions,
                      self.series_uid)

    def _require_one_size(self, numbers: list[int], sizes: list[tuple]) -> None:
        odd = next((i for i, size in enumerate(sizes) if size != sizes[0]), None)
        if odd is not None:
            raise CircusError(
                f"Images of series {self.series_uid} differ in size (image {numbers[0]} is"
                f" {sizes[0][0]} x {sizes[0][1]}, image {numbers[odd]} is {sizes[odd][0]} x"
                f" {sizes[odd][1]}), so they do not stack into one volume. Choose a range of"
                " same-sized images.", value=numbers[odd])

    def _spacing(self, rows: pd.DataFrame, positions: tuple) -> tuple[float, float, float]:
        pixel = self.parameters.get("PixelSpacing")
        y, x = (float(pixel[0]), float(pixel[1])) if isinstance(pixel, list) and len(pixel) == 2 \
            else (1.0, 1.0)
        return _slice_pitch(positions, rows["orientation"].iloc[0],
                            self.parameters.get("SliceThickness")), y, x

    def thumbnail(self, instance_number: int, size: int = 128) -> np.ndarray:
        """A windowed ``uint8`` image of one instance, at most ``size`` pixels a side.

        Cached in the catalog after the first call (when the store is writable).
        """
        if instance_number not in self.images:
            raise ValidationError(f"Series {self.series_uid} has no image {instance_number}"
                                  f" (its images: {self.images}).", field="instance_number",
                                  value=instance_number)
        return self._store._thumbnail(self, int(instance_number), int(size))

    def draw_thumbnails(self, pv: Any = "auto", count: int = 5, size: int = 96, ax: Any = None):
        """Draw ``count`` thumbnails spread over range ``pv``, labelled with number and z."""
        numbers = self.partial_volume(pv).to_list()
        picks = sorted({numbers[round(i * (len(numbers) - 1) / max(count - 1, 1))]
                        for i in range(min(count, len(numbers)))}, key=numbers.index)
        z = series_sql.z_positions(self._con(), self.series_uid, picks)
        labels = [f"#{n}" + (f" z={z[n]:g}" if z.get(n) is not None else "") for n in picks]
        return draw_strip([self.thumbnail(n, size) for n in picks], labels, ax=ax,
                          title=f"{self.modality} {self.description or ''}".strip())

    def _rows(self) -> list[tuple[str, Any]]:
        patient = self.patient
        shown = ("(masked)" if patient is None
                 else f"{patient['patient_name']} ({patient['patient_id']})")
        return [
            ("series_uid", self.series_uid),
            ("modality", self.modality),
            ("description", self.description),
            ("images", f"{self.images} ({len(self.images)})"),
            ("size", f"{self.width} x {self.height}"),
            ("series date", self.series_date),
            ("patient", shown),
            ("domain", self.domain),
        ]

    def __repr__(self) -> str:
        return (f"<Series {self.modality} {self.description!r} images={self.images}"
                f" uid={self.series_uid}>")

    def __str__(self) -> str:
        return card_text("Series", self._rows())

    def _repr_html_(self) -> str:
        return card_html("Series", self._rows())


def _position(row: Any) -> tuple[float, float, float] | None:
    values = (row.position_x, row.position_y, row.position_z)
    return None if any(v is None or pd.isna(v) for v in values) else tuple(map(float, values))


def _slice_pitch(positions: tuple, orientation: Any, thickness: Any) -> float:
    """z spacing: the median distance between slice positions along the slice normal,
    else SliceThickness, else 1.0."""
    known = [p for p in positions if p is not None]
    if len(known) >= 2 and len(known) == len(positions):
        points = np.asarray(known)
        normal = np.array([0.0, 0.0, 1.0])
        if orientation is not None and len(orientation) == 6:
            row, col = np.asarray(orientation[:3]), np.asarray(orientation[3:])
            cross = np.cross(row, col)
            normal = cross / np.linalg.norm(cross) if np.linalg.norm(cross) > 0 else normal
        pitch = float(np.median(np.abs(np.diff(points @ normal))))
        if pitch > 0:
            return pitch
    try:
        return float(thickness) if thickness and float(thickness) > 0 else 1.0
    except (TypeError, ValueError):
        return 1.0
