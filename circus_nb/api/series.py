"""``Series``: one imported DICOM series, its volumes and thumbnails."""

from __future__ import annotations

import json
import math
import operator
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._repr import card_html, card_text
from ..dicom.pixels import frame_count, read_display, read_frames, read_image
from ..domain.geometry import (
    Fallback,
    common_orientation,
    head_first_order,
    orientation_cosines,
    pixel_spacing,
    slice_pitch,
)
from ..domain.image_range import ImageRange
from ..domain.partial_volume import PartialVolume
from ..domain.series import Volume, auto_partial_volume, file_change
from ..domain.values import check_int, shown
from ..errors import CircusError, CircusWarning, ValidationError
from ..store import series as series_sql
from ..thumbnails import check_size, draw_strip, from_bytes, make_thumbnail

if TYPE_CHECKING:
    from .store import Store

__all__ = ["Series", "as_partial_volume"]

MAX_STRIP = 100  # thumbnails in one strip
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
                          f" {shown(spec)}.", field="range", value=spec)


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
        """``spec`` resolved and checked against the images of this series.

        Containment is decided by arithmetic, so even ``(1, 10**9, 1)`` is refused
        at once.

        Raises
        ------
        ValidationError
            For a malformed spec, or a range asking for images the series lacks.
        """
        pv = as_partial_volume(spec)
        pv = self.resolve_auto() if pv == "auto" else pv
        missing = pv.missing_from(self.images, limit=5)
        if missing:
            raise ValidationError(
                f"Specified range is invalid. {pv.describe()} asks for image(s)"
                f" {', '.join(map(str, missing))}, which series {self.series_uid} does not have"
                f" (its images: {self.images}).", field="range", value=pv)
        return pv

    def volume_shape(self, pv: Any = "auto") -> tuple[int, int, int]:
        """The (z, y, x) shape :meth:`volume` gives for range ``pv``, without reading pixels.

        ``(len(pv), height, width)``; for a series of multi-frame images, whose
        volume is the frames of one image, ``(NumberOfFrames, height, width)``.
        Sizes are those of the series' first imported image.

        >>> import tempfile, circus_nb as cnb
        >>> folder = tempfile.mkdtemp()
        >>> sample = cnb.sample.write_ct_series(folder, n=5, size=32)
        >>> store = cnb.Store.create(None)
        >>> _ = store.import_dicom(folder, progress=False)
        >>> store.series(sample.series_uid).volume_shape((1, 5, 2))
        (3, 32, 32)
        >>> store.close()

        Raises
        ------
        ValidationError
            For a range the series does not hold (see :meth:`partial_volume`).
        CircusError
            If the series has no image size (no pixel data), or the range takes
            several multi-frame images, which do not stack into one volume.
        """
        pv = self.partial_volume(pv)
        if not self.height or not self.width:
            raise CircusError(f"Series {self.series_uid} has no image size (its first image has"
                              " no Rows and Columns: no pixel data?), so it makes no volume.",
                              field="series_uid", value=self.series_uid)
        frames = frame_count(self.parameters.get("NumberOfFrames"))
        if frames > 1 and len(pv) > 1:
            raise CircusError(
                f"Series {self.series_uid} is made of multi-frame images ({frames} frames"
                f" each): the {len(pv)} images of range {pv.describe()} do not stack into one"
                f" volume. Choose one image, e.g. ({pv.start}, {pv.start}, 1), to read its"
                " frames as the slices of a volume.", field="range", value=pv)
        return (frames if frames > 1 else len(pv)), int(self.height), int(self.width)

    def volume(self, pv: Any = "auto") -> Volume:
        """The voxels of range ``pv`` (``"auto"`` by default), in the range's order.

        A range of one multi-frame image (an enhanced CT or MR) gives its frames as
        slices, ordered along the slice normal head (high z) first, like ``auto``.
        ``spacing`` is (z, y, x) mm: z from the positions along the slice normal,
        else SliceThickness (for frames: SpacingBetweenSlices, then
        SliceThickness), else 1.0; y and x from PixelSpacing, else 1.0. A value
        that is absent is unknown, one that is not a positive number is plainly
        wrong: either way the volume still loads, ``volume.notes`` says which
        spacing is a guess, and a wrong value also warns (``CircusWarning``).
        ``orientation`` is the ImageOrientationPatient the slices share (for frames:
        the file's), ``None`` when unknown; images that differ in it give ``None``
        too, with a note and a warning. ``volume.affine`` places the voxels in the
        patient (mm).

        Every file is checked against the size and modification time recorded at
        import before its pixels are read.

        Raises
        ------
        ValidationError
            For a range the series does not hold.
        CircusError
            Before anything is allocated, for a volume larger than this machine's
            memory; for images of different sizes, several multi-frame images, a
            colour or undecodable image, frames that share a position, or a file
            missing or changed since its import (naming the file).
        """
        pv = self.partial_volume(pv)
        if self.height and self.width:  # else the reader names the file without pixels
            _require_memory(self.volume_shape(pv), pv, self.series_uid)
        rows = self.instances().set_index("instance_number").loc[pv.to_list()]
        if len(rows) == 1:
            return self._one_image_volume(next(rows.itertuples()))
        numbers = pv.to_list()
        self._require_one_size(numbers, rows)
        files = [self._checked_file(row) for row in rows.itertuples()]
        first = read_image(files[0])
        array = np.empty((len(files), *first.shape), np.float32)
        array[0] = first
        for i, file in enumerate(files[1:], start=1):
            read_image(file, out=array[i])  # straight into the volume: no copies
        return self._stacked(array, rows, numbers)

    def _stacked(self, array: np.ndarray, rows: pd.DataFrame, numbers: list[int]) -> Volume:
        """The volume of a stack of single-frame images: their catalog rows place it."""
        positions = tuple(_position(r) for r in rows.itertuples())
        orientation, orientation_note = common_orientation(list(rows["orientation"]), numbers)
        spacing, notes = self._spacing(self.parameters.get("PixelSpacing"), positions,
                                       rows["orientation"].iloc[0],
                                       [("SliceThickness", self.parameters.get("SliceThickness"))],
                                       orientation_note)
        return Volume(array, tuple(numbers), spacing, positions, self.series_uid, notes=notes,
                      orientation=orientation)

    def _grid(self, pv: Any = "auto") -> tuple[tuple[int, int, int], tuple[float, ...],
                                               np.ndarray]:
        """``(shape, spacing, affine)`` of :meth:`volume` for range ``pv``, the same
        values, without reading pixels where the catalog holds them.

        A stack of images is placed by its catalog rows, as :meth:`volume` places it; a
        range of one image (whose file may hold frames) is read, since its frames'
        positions are in the file only.
        """
        pv = self.partial_volume(pv)
        shape = self.volume_shape(pv)
        if len(pv) == 1:
            volume = self.volume(pv)
            return volume.shape, volume.spacing, volume.affine
        numbers = pv.to_list()
        rows = self.instances().set_index("instance_number").loc[numbers]
        self._require_one_size(numbers, rows)
        # a view of one zero: the shape without the memory; only the geometry is used
        volume = self._stacked(np.broadcast_to(np.float32(0), shape), rows, numbers)
        return shape, volume.spacing, volume.affine

    def dicom_window(self, pv: Any = "auto") -> tuple[float, float] | None:
        """The (center, width) the files state for range ``pv``, or ``None``.

        The window of the middle image of the range (of the range's images in its
        order, the upper middle for an even count), as recorded at import: the first
        WindowCenter and WindowWidth where a file gives several. ``None`` when that
        image has none, or its width is not a positive number. It is the ``dicom``
        source of a project's ``window_priority``
        (:func:`~circus_nb.domain.window.choose_window`).

        >>> import circus_nb as cnb
        >>> store = cnb.demo_store()
        >>> lung = store.search_series(description="lung")["series_uid"][0]
        >>> store.series(lung).dicom_window()
        (-600.0, 1500.0)
        >>> store.close()

        Raises
        ------
        ValidationError
            For a range the series does not hold (see :meth:`partial_volume`).
        """
        pv = self.partial_volume(pv)
        middle = pv.start + (pv.count // 2) * pv.delta
        row = series_sql.instances_frame(self._con(), self.series_uid, [middle]).iloc[0]
        center, width = row["window_center"], row["window_width"]
        if pd.isna(center) or pd.isna(width):
            return None
        center, width = float(center), float(width)
        if not (math.isfinite(center) and math.isfinite(width) and width > 0):
            return None
        return center, width

    def _one_image_volume(self, row: Any) -> Volume:
        """The frames of one file as slices (one slice for a single-frame file)."""
        path = self._checked_file(row)
        frames = read_frames(path)
        number = int(row.Index)
        orientation = orientation_cosines(frames.orientation)
        if len(frames.array) == 1:  # the catalog's position: the one auto was decided on
            spacing, notes = self._spacing(frames.pixel_spacing, (_position(row),), None,
                                           [("SliceThickness", frames.slice_thickness)])
            return Volume(frames.array, (number,), spacing, (_position(row),), self.series_uid,
                          notes=notes, orientation=orientation)
        try:
            order = head_first_order(frames.positions, frames.orientation)
        except ValueError as e:
            raise CircusError(
                f"Cannot make one volume of image {number} of series {self.series_uid}"
                f" ({path}): {e}, so the file holds several stacks or time points. A volume"
                " takes one frame per place; read such a file with pydicom directly.",
                field="path", value=str(path)) from None
        positions = tuple(frames.positions[i] for i in order)
        spacing, notes = self._spacing(
            frames.pixel_spacing, positions, frames.orientation,
            [("SpacingBetweenSlices", frames.spacing_between_slices),
             ("SliceThickness", frames.slice_thickness)])
        return Volume(frames.array[order], (number,) * len(order), spacing, positions,
                      self.series_uid, frame_numbers=tuple(i + 1 for i in order), notes=notes,
                      orientation=orientation)

    def _require_one_size(self, numbers: list[int], rows: pd.DataFrame) -> None:
        sizes = [tuple(None if pd.isna(v) else int(v) for v in pair)
                 for pair in zip(rows["rows"], rows["columns"], strict=True)]
        odd = next((i for i, size in enumerate(sizes) if size != sizes[0]), None)
        if odd is not None:
            raise CircusError(
                f"Images of series {self.series_uid} differ in size (image {numbers[0]} is"
                f" {sizes[0][0]} x {sizes[0][1]}, image {numbers[odd]} is {sizes[odd][0]} x"
                f" {sizes[odd][1]}), so they do not stack into one volume. Choose a range of"
                " same-sized images.", value=numbers[odd])

    def _spacing(self, pixel: Any, positions: tuple, orientation: Any,
                 candidates: list[tuple[str, Any]], *other_notes: Fallback | None
                 ) -> tuple[tuple[float, float, float], tuple[str, ...]]:
        """(z, y, x) spacing and the notes on what is a guess (with ``other_notes``, such
        as the orientation's); warns on a wrong value."""
        (y, x), pixel_note = pixel_spacing(pixel)
        z, z_notes = slice_pitch(positions, orientation, candidates)
        notes = [note for note in (pixel_note, *z_notes, *other_notes) if note is not None]
        for note in notes:
            if note.suspicious:
                warnings.warn(f"Series {self.series_uid}: {note.text}", CircusWarning,
                              stacklevel=3)
        return (z, y, x), tuple(note.text for note in notes)

    def _checked_file(self, row: Any) -> Path:
        """The file of an instance row, once it is known to be the one imported.

        One ``os.stat``: its size and mtime must be those recorded at import (for a
        copy the store made: not written after the import).
        """
        path = self._store._catalog.root / row.path if row.managed else Path(row.path)
        try:
            stat = os.stat(path)
            current = (stat.st_size, stat.st_mtime)
        except FileNotFoundError:
            current = None
        except OSError as e:
            raise CircusError(f"Cannot read {path} (image {row.Index} of series"
                              f" {self.series_uid}): {e.strerror or e}. Check the file's"
                              " permissions and that its folder is reachable.", field="path",
                              value=str(path)) from None
        copied_at = row.imported_at.timestamp() if row.managed else None
        change = file_change((int(row.size), float(row.mtime)), current, copied_at)
        if change is None:
            return path
        way_out = ("Copy the original file over the store's copy" if row.managed
                   else "Put the original file back at that path")
        raise CircusError(
            f"{path} (image {row.Index} of series {self.series_uid}) changed after it was"
            f" imported: {change}. Its pixels are no longer those the catalog describes, so"
            f" they are not read. {way_out}; store.import_dicom() on the original then reports"
            " it as already present. A changed file that is right is a new image: give it"
            " another instance or series number and import it.", field="path", value=str(path))

    def thumbnail(self, instance_number: int, size: int = 128) -> np.ndarray:
        """A ``uint8`` image of one instance, at most ``size`` pixels a side.

        Grayscale images give a 2-D image, windowed with the file's window (else
        its 0.5-99.5 percentiles); colour images (RGB, YBR, palette) give an
        (h, w, 3) RGB image; a multi-frame image shows its middle frame. Cached
        in the catalog after the first call (when the store is writable); the file
        is checked against its import whenever it is read, as for volumes.

        Raises
        ------
        ValidationError
            If ``size`` is not a whole number from 1 to 65535, or the series has no
            image ``instance_number``.
        CircusError
            If the file is missing, changed since its import, or cannot be decoded
            (naming the file).
        """
        size = check_size(size)
        if isinstance(instance_number, bool) or instance_number not in self.images:
            raise ValidationError(f"Series {self.series_uid} has no image {shown(instance_number)}"
                                  f" (its images: {self.images}).", field="instance_number",
                                  value=instance_number)
        number = operator.index(instance_number)
        con = self._con()
        cached = series_sql.get_thumbnail(con, self.series_uid, number, size)
        if cached is not None:
            return from_bytes(*cached)
        row = next(series_sql.instances_frame(con, self.series_uid, [number])
                   .set_index("instance_number").itertuples())
        window = None if pd.isna(row.window_width) else (row.window_center, row.window_width)
        thumb = make_thumbnail(read_display(self._checked_file(row)), size, window)
        if self.parameters.get("PhotometricInterpretation") == "MONOCHROME1":
            thumb = 255 - thumb  # low values are white: shown as a reader sees the film
        if not self._store.read_only:
            with self._store._write() as con:
                series_sql.put_thumbnail(con, self.series_uid, number, size, *thumb.shape[:2],
                                         thumb.tobytes())
        return thumb

    def draw_thumbnails(self, pv: Any = "auto", count: int = 5, size: int = 96, ax: Any = None):
        """Draw ``count`` thumbnails spread over range ``pv``, labelled with number and z.

        Raises
        ------
        ValidationError
            For a range the series does not hold, a ``count`` that is not 1 to 100, a
            bad ``size`` (see :meth:`thumbnail`), or an ``ax`` that is not matplotlib Axes.
        """
        count = check_int(count, "count", 1, MAX_STRIP)
        check_size(size)
        if ax is not None and not callable(getattr(ax, "imshow", None)):
            raise ValidationError(f"ax must be matplotlib Axes (or None for a new figure), got"
                                  f" {shown(ax)}.", field="ax", value=ax)
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


def _memory_limit() -> int | None:
    """This machine's memory in bytes, where the system tells it."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def _require_memory(shape: tuple[int, int, int], pv: PartialVolume, series_uid: str) -> None:
    needed, limit = 4 * math.prod(shape), _memory_limit()
    if limit is not None and needed > limit:
        raise CircusError(
            f"The volume of range {pv.describe()} of series {series_uid} would be"
            f" {' x '.join(map(str, shape))} float32 voxels ({needed / 2**30:.1f} GiB), more"
            f" than this machine's memory ({limit / 2**30:.1f} GiB). Choose a shorter range,"
            " or every n-th image with a larger delta.", field="range", value=pv)
