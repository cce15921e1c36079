"""DICOM Segmentation (SEG) files of (z, y, x) masks, through highdicom.

:func:`write_seg` writes one BINARY segment per mask, named (SegmentLabel) by its
key, each frame referring to the source image it was drawn on; :func:`read_seg`
places every frame of a SEG onto a volume's slices by its geometry (plane
position, orientation, pixel spacing) and refuses a SEG that is not on the
volume's grid: nothing is resampled.

>>> import tempfile
>>> from pathlib import Path
>>> import numpy as np
>>> from circus_nb.dicom.sample import write_ct_series
>>> tmp = Path(tempfile.mkdtemp())
>>> files = sorted(write_ct_series(tmp / "ct", n=4, size=16).folder.glob("*.dcm"))
>>> volume = volume_of_headers(files)  # a volume's geometry, from the headers alone
>>> mask = np.zeros(volume.shape, bool); mask[1:3, 4:9, 0:5] = True
>>> path = write_seg(tmp / "seg.dcm", {"nodule": mask}, files, volume)
>>> back = read_seg(path, volume)
>>> list(back), bool((back["nodule"] == mask).all())
(['nodule'], True)

A SEG of another grid is refused, saying how the grids differ:

>>> import dataclasses
>>> read_seg(path, dataclasses.replace(volume, spacing=(2.5, 1.0, 1.0)))
Traceback (most recent call last):
...
circus_nb.errors.ValidationError: ... is not on the volume's grid: its frame 1 ...
>>> import shutil; shutil.rmtree(tmp)
"""

from __future__ import annotations

import copy
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from .._version import __version__
from ..domain.labels import check_label_name
from ..domain.series import Volume
from ..domain.values import shown
from ..errors import CircusError, CircusWarning, ValidationError

__all__ = ["ALGORITHM_TYPES", "SEG_SOP_CLASSES", "read_seg", "volume_of_headers", "write_seg"]

ALGORITHM_TYPES = ("MANUAL", "SEMIAUTOMATIC", "AUTOMATIC")
# Segmentation Storage and Label Map Segmentation Storage
SEG_SOP_CLASSES = ("1.2.840.10008.5.1.4.1.1.66.4", "1.2.840.10008.5.1.4.1.1.66.7")
SEGMENT_LABEL_LENGTH = 64  # SegmentLabel is an LO: at most 64 characters
# How far a frame's pixel centres may lie from the volume's voxel centres, as a share
# of the smallest voxel side: DICOM writes decimal strings, so a SEG made elsewhere may
# round its positions and spacings; far below any real misplacement.
SAME_GRID_SHARE = 0.01
MIN_SAME_GRID_MM = 1e-3


def _highdicom() -> Any:
    try:
        import highdicom
    except ImportError:
        raise CircusError("Reading and writing DICOM SEG needs highdicom, which is not"
                          " installed. Run `pip install highdicom`.", field="format",
                          value="seg") from None
    return highdicom


# -- geometry ----------------------------------------------------------------------


def _tolerance(volume: Volume) -> float:
    return max(MIN_SAME_GRID_MM, SAME_GRID_SHARE * min(float(s) for s in volume.spacing))


def _slice_positions(volume: Volume, what: str) -> np.ndarray:
    """The (n, 3) ImagePositionPatient of the volume's slices, or why there are none."""
    if not volume.positions or any(p is None for p in volume.positions):
        raise ValidationError(
            f"{what} places masks by the slices' positions (ImagePositionPatient), but this"
            " volume has slices without one, so no frame can be placed. Only a volume whose"
            " every slice has a position can be matched with a DICOM SEG.",
            field="volume", value=volume.series_uid)
    return np.asarray(volume.positions, float)


def _in_plane(volume: Volume) -> tuple[np.ndarray, np.ndarray]:
    """The step (mm, LPS) along a row (x) and down a column (y) of the volume."""
    affine = volume.affine
    return affine[:3, 2], affine[:3, 1]


def _corners(origin: np.ndarray, along_row: np.ndarray, down_column: np.ndarray,
             rows: int, columns: int) -> np.ndarray:
    """The centres (mm) of the four corner pixels of a frame."""
    return np.array([origin + r * down_column + c * along_row
                     for r in (0, rows - 1) for c in (0, columns - 1)])


def volume_of_headers(sources: Sequence[Dataset | str | os.PathLike]) -> Volume:
    """A volume (voxels all 0) with the geometry of single-frame images, in their order.

    What :func:`write_seg` and :func:`read_seg` need when no store is at hand:
    the positions, orientation and spacing of the images, as
    ``Series.volume()`` would give them.

    Raises
    ------
    CircusError
        If a file cannot be read as DICOM.
    ValidationError
        If an image lacks Rows, Columns, PixelSpacing, ImagePositionPatient or
        ImageOrientationPatient.
    """
    datasets = _headers(sources)
    first = datasets[0]
    try:
        positions = tuple(tuple(float(v) for v in d.ImagePositionPatient) for d in datasets)
        row_spacing, column_spacing = (float(v) for v in first.PixelSpacing)
        orientation = tuple(float(v) for v in first.ImageOrientationPatient)
        shape = (len(datasets), int(first.Rows), int(first.Columns))
    except (AttributeError, TypeError, ValueError) as e:
        raise ValidationError(f"A volume's geometry needs Rows, Columns, PixelSpacing,"
                              f" ImagePositionPatient and ImageOrientationPatient of every"
                              f" image: {e}.", field="sources", value=len(datasets)) from None
    if len(positions) > 1:
        step = float(np.linalg.norm(np.subtract(positions[-1], positions[0])))
        spacing_z = step / (len(positions) - 1) or float(first.get("SliceThickness") or 1.0)
    else:
        spacing_z = float(first.get("SliceThickness") or 1.0)
    numbers = tuple(int(d.get("InstanceNumber") or i + 1) for i, d in enumerate(datasets))
    return Volume(np.zeros(shape, np.float32), numbers, (spacing_z, row_spacing, column_spacing),
                  positions, str(first.get("SeriesInstanceUID", "")), orientation=orientation)


# -- writing -----------------------------------------------------------------------


def _headers(sources: Any) -> list[Dataset]:
    """Datasets of ``sources`` (datasets, or paths read without their pixels)."""
    if isinstance(sources, str | os.PathLike | Dataset) or not isinstance(sources, Sequence):
        raise ValidationError(f"source_datasets is a list of pydicom Datasets or paths of the"
                              f" volume's images in its z order, got {shown(sources)}.",
                              field="source_datasets", value=type(sources).__name__)
    if not sources:
        raise ValidationError("source_datasets is empty; give the volume's images in its z"
                              " order.", field="source_datasets", value=0)
    datasets = []
    for source in sources:
        if isinstance(source, Dataset):
            datasets.append(source)
            continue
        if not isinstance(source, str | os.PathLike):
            raise ValidationError(f"source_datasets holds pydicom Datasets or paths, got"
                                  f" {shown(source)}.", field="source_datasets",
                                  value=type(source).__name__)
        try:
            datasets.append(pydicom.dcmread(source, stop_before_pixels=True))
        except (OSError, InvalidDicomError, ValueError, EOFError) as e:
            raise CircusError(f"Cannot read {source} as DICOM: {e}.", field="source_datasets",
                              value=str(source)) from None
    return datasets


def _check_masks(masks: Any, volume: Volume) -> dict[str, np.ndarray]:
    if not isinstance(masks, Mapping):
        raise ValidationError(f"masks maps segment names to boolean arrays (z, y, x), got"
                              f" {shown(masks)}.", field="masks", value=type(masks).__name__)
    if not masks:
        raise ValidationError("masks is empty: a SEG holds at least one segment. Give"
                              " {name: mask}.", field="masks", value=0)
    checked = {}
    for name, mask in masks.items():
        if not isinstance(name, str) or not name or len(name) > SEGMENT_LABEL_LENGTH \
                or "\\" in name:
            raise ValidationError(f"A segment name (SegmentLabel) is text of 1 to"
                                  f" {SEGMENT_LABEL_LENGTH} characters without a backslash,"
                                  f" got {shown(name)}. Rename the label to fit.",
                                  field="masks", value=name)
        check_label_name(name)
        if not isinstance(mask, np.ndarray) or mask.dtype != bool \
                or mask.shape != volume.shape:
            seen = (f"{mask.ndim}-D {mask.dtype} {mask.shape}" if isinstance(mask, np.ndarray)
                    else shown(mask))
            raise ValidationError(f"The mask of segment {shown(name)} must be a boolean array"
                                  f" of the volume's shape {volume.shape} (z, y, x), got {seen}."
                                  " Use mask.astype(bool) for a 0/1 array.", field="masks",
                                  value=name)
        checked[name] = mask
    return checked


def _check_sources(datasets: list[Dataset], volume: Volume) -> None:
    """The source images are the volume's slices, one each, in its z order."""
    if volume.frame_numbers is not None or any(int(d.get("NumberOfFrames") or 1) > 1
                                               for d in datasets):
        raise ValidationError("write_seg takes single-frame source images, one per slice; this"
                              " volume is the frames of one multi-frame image, which is not"
                              " supported yet.", field="source_datasets",
                              value=len(datasets))
    if len(datasets) != volume.shape[0]:
        raise ValidationError(f"source_datasets must hold one image per slice of the volume"
                              f" ({volume.shape[0]}), got {len(datasets)}.",
                              field="source_datasets", value=len(datasets))
    positions = _slice_positions(volume, "write_seg")
    tolerance = _tolerance(volume)
    for k, (dataset, position) in enumerate(zip(datasets, positions, strict=True)):
        seen = dataset.get("ImagePositionPatient")
        try:
            apart = float(np.linalg.norm(np.asarray([float(v) for v in seen]) - position))
        except (TypeError, ValueError):
            apart = np.inf
        if not apart <= tolerance:
            raise ValidationError(
                f"source_datasets[{k}] lies at {shown(seen and [float(v) for v in seen])}, but"
                f" slice {k} of the volume at {position.tolist()}: the source images must be"
                " the volume's, in its z order (instance numbers"
                f" {', '.join(map(str, volume.instance_numbers[:3]))}, ...).",
                field="source_datasets",
                value=k)


# What a user without personalInfoView may not see (the store's patient columns)
PATIENT_KEYWORDS = ("PatientName", "PatientID", "PatientBirthDate", "PatientAge", "PatientSex",
                    "PatientSize", "PatientWeight")


def _without_patient(dataset: Dataset) -> Dataset:
    """A copy of a header whose patient attributes are empty (the SEG copies them)."""
    blank = copy.deepcopy(dataset)  # a header: a few kilobytes
    for keyword in PATIENT_KEYWORDS:
        if keyword in blank:
            blank[keyword].value = None
    return blank


def _descriptions(hd: Any, names: list[str], algorithm_type: str, category: Any,
                  property_type: Any, colors: Mapping[str, str] | None) -> list[Any]:
    from pydicom.sr.codedict import codes

    category = codes.SCT.Tissue if category is None else category
    property_type = codes.SCT.Tissue if property_type is None else property_type
    identification = None
    if algorithm_type != "MANUAL":
        identification = hd.AlgorithmIdentificationSequence(
            name="circus_nb", family=codes.cid7162.ArtificialIntelligence, version=__version__)
    colors = colors or {}
    return [hd.seg.SegmentDescription(
        segment_number=number, segment_label=name, segmented_property_category=category,
        segmented_property_type=property_type, algorithm_type=algorithm_type,
        algorithm_identification=identification,
        display_color=hd.color.CIELabColor.from_string(colors[name]) if name in colors
        else None)
        for number, name in enumerate(names, start=1)]


def write_seg(path: str | os.PathLike, masks: Mapping[str, np.ndarray],
              source_datasets: Sequence[Dataset | str | os.PathLike], volume: Volume, *,
              algorithm_type: str = "MANUAL", series_description: str = "circus_nb labels",
              series_number: int = 1, colors: Mapping[str, str] | None = None,
              category: Any = None, property_type: Any = None, patient_info: bool = True
              ) -> Path:
    """Write ``masks`` ({name: bool array (z, y, x)}) as a BINARY DICOM SEG; return its path.

    One segment per mask, in the dict's order, numbered from 1, its SegmentLabel the
    name; frames that hold nothing are left out. ``source_datasets`` are the
    volume's images in its z order (``pydicom`` datasets, which need no pixels, or
    paths, read without them): every frame refers to its source image, and the
    patient, study and frame of reference are theirs.

    Parameters
    ----------
    algorithm_type
        ``MANUAL`` (drawn by hand, the default), ``SEMIAUTOMATIC`` or ``AUTOMATIC``
        (then circus_nb is named as the algorithm).
    colors
        ``{name: "#rrggbb"}``: a segment's recommended display colour.
    category, property_type
        The segmented property category and type, a ``pydicom.sr.coding.Code``
        (default: SCT 85756007 "Tissue" for both, the most generic).
    patient_info
        ``False`` leaves the patient's name, ID, birth date, age, sex, size and
        weight empty in the SEG (the study, series and frame of reference stay).

    Raises
    ------
    ValidationError
        If ``path`` exists, ``masks`` is empty or holds a name or an array that is
        not a segment's (wrong shape or dtype), or the source images are not the
        volume's slices in its order.
    CircusError
        If a source file cannot be read, or highdicom refuses the images.
    """
    hd = _highdicom()
    path = Path(path)
    if path.exists():
        raise ValidationError(f"{path} exists; a SEG is never written over a file. Choose"
                              " another path, or remove that file first.", field="path",
                              value=str(path))
    if algorithm_type not in ALGORITHM_TYPES:
        raise ValidationError(f"algorithm_type is one of {', '.join(ALGORITHM_TYPES)}, got"
                              f" {shown(algorithm_type)}.", field="algorithm_type",
                              value=algorithm_type)
    checked = _check_masks(masks, volume)
    datasets = _headers(source_datasets)
    _check_sources(datasets, volume)
    if not patient_info:
        datasets = [_without_patient(dataset) for dataset in datasets]
    names = list(checked)
    stacked = np.stack([checked[name] for name in names], axis=-1).astype(np.uint8)
    try:
        seg = hd.seg.Segmentation(
            source_images=datasets, pixel_array=stacked, segmentation_type="BINARY",
            segment_descriptions=_descriptions(hd, names, algorithm_type, category,
                                               property_type, colors),
            series_instance_uid=hd.UID(), series_number=series_number,
            sop_instance_uid=hd.UID(), instance_number=1, manufacturer="circus_nb",
            manufacturer_model_name="circus_nb", software_versions=__version__,
            device_serial_number="0", series_description=series_description)
    except (ValueError, TypeError, AttributeError, KeyError) as e:
        raise CircusError(f"highdicom cannot make a SEG of these images: {e}. Check that the"
                          " source images are the volume's.", field="source_datasets",
                          value=len(datasets)) from None
    try:
        with open(path, "xb") as out:
            seg.save_as(out)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


# -- reading -----------------------------------------------------------------------


def _load(source: Any) -> tuple[Any, str]:
    """The highdicom Segmentation of a path or dataset, and how to name it in messages."""
    hd = _highdicom()
    if isinstance(source, Dataset):
        what, dataset, copy = "The dataset", source, True
    elif isinstance(source, str | os.PathLike):
        what = str(source)
        try:
            dataset, copy = pydicom.dcmread(source), False
        except (OSError, InvalidDicomError, ValueError, EOFError) as e:
            raise CircusError(f"Cannot read {source} as DICOM: {e}.", field="path",
                              value=what) from None
    else:
        raise ValidationError(f"A SEG is a path or a pydicom Dataset, got {shown(source)}.",
                              field="path", value=type(source).__name__)
    sop_class = str(dataset.get("SOPClassUID", ""))
    if sop_class not in SEG_SOP_CLASSES:
        raise ValidationError(f"{what} is not a DICOM Segmentation: its SOP class is"
                              f" {shown(sop_class or None)} (modality"
                              f" {shown(dataset.get('Modality'))}), not Segmentation Storage"
                              f" ({SEG_SOP_CLASSES[0]}). Give a SEG file.", field="path",
                              value=sop_class)
    try:
        return hd.seg.Segmentation.from_dataset(dataset, copy=copy), what
    except (ValueError, TypeError, AttributeError, KeyError, IndexError) as e:
        raise CircusError(f"{what} is a damaged DICOM SEG: {e}.", field="path",
                          value=what) from None


def _frame_item(seg: Any, index: int, keyword: str) -> Any:
    """Item 0 of a functional group of frame ``index``: its own, else the shared one."""
    for groups in (seg.PerFrameFunctionalGroupsSequence[index],
                   seg.SharedFunctionalGroupsSequence[0]):
        sequence = groups.get(keyword)
        if sequence:
            return sequence[0]
    return None


def _frame_geometry(seg: Any, index: int, what: str
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Position of frame ``index`` (mm), and its steps along a row and down a column."""
    try:
        position = np.array([float(v) for v in _frame_item(
            seg, index, "PlanePositionSequence").ImagePositionPatient])
        cosines = [float(v) for v in _frame_item(
            seg, index, "PlaneOrientationSequence").ImageOrientationPatient]
        row_spacing, column_spacing = (float(v) for v in _frame_item(
            seg, index, "PixelMeasuresSequence").PixelSpacing)
    except (AttributeError, TypeError, ValueError) as e:
        raise ValidationError(f"{what} does not say where its frame {index + 1} lies in the"
                              f" patient ({e}); only a SEG with ImagePositionPatient,"
                              " ImageOrientationPatient and PixelSpacing can be placed on a"
                              " volume.", field="path", value=index + 1) from None
    row, column = np.array(cosines[:3]), np.array(cosines[3:])
    return position, row * column_spacing, column * row_spacing


def _not_on_grid(what: str, index: int, detail: str) -> ValidationError:
    return ValidationError(
        f"{what} is not on the volume's grid: its frame {index + 1} {detail}. A SEG is read"
        " only where its pixels are the volume's voxels, so nothing is resampled; open the"
        " series (and range) it was drawn on, or resample it onto this volume first.",
        field="path", value=index + 1)


def _place(seg: Any, volume: Volume, what: str) -> list[int]:
    """The volume slice of every frame of ``seg``, once its pixels are the volume's."""
    positions = _slice_positions(volume, "read_seg")
    tolerance = _tolerance(volume)
    along_row, down_column = _in_plane(volume)
    rows, columns = int(seg.Rows), int(seg.Columns)
    if (rows, columns) != volume.shape[1:]:
        raise _not_on_grid(what, 0, f"is {rows} x {columns} pixels (rows x columns), the"
                           f" volume's slices {volume.shape[1]} x {volume.shape[2]}")
    slices = []
    for index in range(int(seg.get("NumberOfFrames") or 1)):
        position, row_step, column_step = _frame_geometry(seg, index, what)
        apart = np.linalg.norm(positions - position, axis=1)
        near = np.flatnonzero(apart <= tolerance)
        if not near.size:
            nearest = int(np.argmin(apart))
            raise _not_on_grid(what, index, f"lies at {_mm(position)} mm, {apart[nearest]:.4g}"
                               f" mm from the nearest slice ({nearest}, at"
                               f" {_mm(positions[nearest])} mm)")
        if near.size > 1:
            raise ValidationError(
                f"{what}: its frame {index + 1} lies at {_mm(position)} mm, where the volume"
                f" has {near.size} slices ({', '.join(map(str, near))}; two echoes or times"
                " at one place), so it cannot tell which the frame belongs to. Choose a range"
                " with one image per place.", field="path", value=index + 1)
        k = int(near[0])
        ours = _corners(positions[k], along_row, down_column, rows, columns)
        theirs = _corners(position, row_step, column_step, rows, columns)
        off = float(np.abs(ours - theirs).max())
        if not off <= tolerance:
            raise _not_on_grid(what, index, f"has {_pixels(row_step, column_step)}, where"
                               f" slice {k} has {_pixels(along_row, down_column)}: its corner"
                               f" pixels lie up to {off:.4g} mm from the slice's")
        slices.append(k)
    return slices


def _pixels(along_row: np.ndarray, down_column: np.ndarray) -> str:
    """PixelSpacing (between rows, between columns) and the directions of rows and columns."""
    across, down = float(np.linalg.norm(along_row)), float(np.linalg.norm(down_column))
    return (f"PixelSpacing {down:.4g}, {across:.4g} mm, rows along {_mm(along_row / across)}"
            f" and columns along {_mm(down_column / down)}")


def _mm(values: Any) -> str:
    return "(" + ", ".join(f"{float(v):.4g}" for v in values) + ")"


def _warn_other_series(seg: Any, volume: Volume, what: str) -> None:
    referenced = {str(item.get("SeriesInstanceUID", ""))
                  for item in seg.get("ReferencedSeriesSequence", [])}
    if volume.series_uid and referenced and volume.series_uid not in referenced:
        warnings.warn(f"{what} was drawn on series {', '.join(sorted(referenced))}, not on"
                      f" this volume's {volume.series_uid}; it was placed by geometry, which"
                      " is right only if both share a frame of reference.", CircusWarning,
                      stacklevel=3)


def read_seg(path_or_dataset: str | os.PathLike | Dataset, volume: Volume
             ) -> dict[str, np.ndarray]:
    """The segments of a DICOM SEG on a volume: {SegmentLabel: bool mask (z, y, x)}.

    Every frame is placed on the slice of the volume at its ImagePositionPatient,
    and its pixels must be that slice's voxels (same orientation, spacing and
    size, within 1% of a voxel): the SEG may hold fewer frames than the volume has
    slices (absent frames are empty) but never a frame between slices or beside
    them. Segments sharing a label make one mask, their union; a segment without a
    label is named ``segment<number>``. BINARY and LABELMAP SEGs are read (in a
    LABELMAP, segment 0 is the background and gives no mask).

    Raises
    ------
    ValidationError
        If the file is not a DICOM SEG, is FRACTIONAL, or is not on the volume's
        grid (saying how), or the volume's slices have no positions.
    CircusError
        If the file cannot be read, or is a damaged SEG.
    """
    seg, what = _load(path_or_dataset)
    kind = str(seg.get("SegmentationType", ""))
    if kind not in ("BINARY", "LABELMAP"):
        raise ValidationError(f"{what} is a {shown(kind)} SEG; masks are read from BINARY or"
                              " LABELMAP SEGs only. Threshold the fractions into a BINARY SEG"
                              " first.", field="path", value=kind)
    names = {int(item.SegmentNumber): str(item.get("SegmentLabel") or
                                          f"segment{int(item.SegmentNumber)}")
             for item in seg.SegmentSequence}
    if kind == "LABELMAP":
        names.pop(0, None)  # the pixel value 0 is the background, which may be described
    masks = {name: np.zeros(volume.shape, bool) for name in dict.fromkeys(names.values())}
    slices = _place(seg, volume, what)
    _warn_other_series(seg, volume, what)
    for index, k in enumerate(slices):
        try:
            frame = seg.get_stored_frame(index, as_index=True)
        except (ValueError, TypeError, AttributeError, KeyError, IndexError) as e:
            raise CircusError(f"{what}: frame {index + 1} cannot be decoded ({e}).",
                              field="path", value=index + 1) from None
        if kind == "LABELMAP":
            for number, name in names.items():
                masks[name][k] |= frame == number
            continue
        identification = _frame_item(seg, index, "SegmentIdentificationSequence")
        number = None if identification is None else int(
            identification.ReferencedSegmentNumber)
        if number not in names:
            raise CircusError(f"{what}: frame {index + 1} refers to segment {number}, which"
                              f" its SegmentSequence does not describe ({sorted(names)}).",
                              field="path", value=index + 1)
        masks[names[number]][k] |= frame.astype(bool)
    return masks

