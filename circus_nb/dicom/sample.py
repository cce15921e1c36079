"""Synthetic DICOM studies, so a fresh machine can demo and test with no real data.

:func:`write_sample_studies` writes two patients, four studies and six series, each
chosen to teach one thing about choosing an image range (a localizer with a gap, a
series numbered feet to head, interleaved MR echoes, a Latin-1 name, a missing
SeriesDate, a series for a second domain). :func:`write_ct_series` writes one plain
axial CT series of any length, fast enough for benchmarks.

Everything is deterministic: the same ``seed`` gives byte-identical files, a
different seed gives different UIDs. Pixels come from a simple vectorised phantom
(body, fat, lungs, a nodule, liver, kidneys, spine; a head for MR) with a little
Gaussian noise.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as tmp:
...     for s in write_sample_studies(tmp, ct_size=32):
...         print(s.key, s.modality, s.images, s.auto, s.domain)
chest_ct_localizer CT 1,3-62 (1, 1, 1) default
chest_ct_feet_first CT 1-40 (40, 1, -1) default
chest_ct_lung CT 1-60 (1, 60, 1) default
mr_interleaved MR 1-48 (1, 48, 1) default
abdomen_ct CT 1-50 (1, 50, 1) default
followup_ct CT 1-30 (1, 30, 1) hospital-b
"""

from __future__ import annotations

import copy
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from ..domain.image_range import ImageRange
from ..domain.series import auto_partial_volume
from ..errors import ValidationError

__all__ = ["SampleSeries", "write_ct_series", "write_sample_studies"]

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
CORONAL = (1.0, 0.0, 0.0, 0.0, 0.0, -1.0)
CT_FOV_MM = 360.0
MR_FOV_MM = 230.0
MR_SIZE = 128
CT_INTERCEPT = -1024
MANUFACTURER = "circus_nb sample"
_IMPLEMENTATION_UID = generate_uid(entropy_srcs=["circus_nb.dicom.sample implementation"])


@dataclass(frozen=True)
class SampleSeries:
    """What one written series holds, and what CIRCUS should make of it.

    ``images`` is the range text of its instance numbers; ``auto`` is the
    ``(start, end, delta)`` CIRCUS 'auto' gives: the first run of consecutive
    instance numbers, forwards if its first image is at least as high (z) as its
    last, else backwards.
    """

    key: str
    series_uid: str
    study_uid: str
    patient_id: str
    patient_name: str
    modality: str
    description: str
    folder: Path
    images: str
    auto: tuple[int, int, int]
    domain: str
    note: str


# ---------------------------------------------------------------- phantoms


@dataclass(frozen=True)
class _Ellipsoid:
    """An elliptic cross-section (mm) that shrinks away from ``zc``; static if ``zc`` is None."""

    label: int
    cx: float
    cy: float
    ax: float
    ay: float
    zc: float | None = None
    half: float = 1.0  # half its extent along z
    power: float = 0.5  # 0.5: an ellipsoid; smaller: fuller, flatter ends

    def scale(self, z: float) -> float:
        """Cross-section scale at ``z``: 1 at the centre, 0 outside."""
        if self.zc is None:
            return 1.0
        t = (z - self.zc) / self.half
        return max(0.0, 1.0 - t * t) ** self.power


# CT labels and the HU each one stands for.
AIR, FAT, SOFT, LUNG, NODULE, LIVER, SPLEEN, KIDNEY, BONE = range(9)
_CT_HU = np.array([-1000, -100, 40, -850, 50, 60, 48, 32, 700], dtype=np.int16)

# x grows to the patient's left, y to the back (DICOM LPS): the right lung is at x < 0.
_BODY = (
    _Ellipsoid(FAT, 0, 0, 165, 115),
    _Ellipsoid(SOFT, 0, 0, 153, 106),
    _Ellipsoid(LUNG, -72, -5, 58, 82, zc=30, half=170, power=0.3),
    _Ellipsoid(LUNG, 74, -8, 52, 78, zc=30, half=170, power=0.3),
    _Ellipsoid(AIR, 0, -25, 9, 9, zc=150, half=60),  # trachea
    _Ellipsoid(NODULE, -80, -25, 8, 8, zc=60, half=8),  # a sphere in the right lung
    _Ellipsoid(LIVER, -60, -5, 80, 70, zc=-200, half=95),
    _Ellipsoid(SPLEEN, 85, -20, 32, 45, zc=-190, half=60),
    _Ellipsoid(FAT, -70, 50, 32, 42, zc=-260, half=60),  # perirenal fat
    _Ellipsoid(FAT, 70, 50, 32, 42, zc=-260, half=60),
    _Ellipsoid(KIDNEY, -70, 50, 24, 34, zc=-260, half=60),
    _Ellipsoid(KIDNEY, 70, 50, 24, 34, zc=-260, half=60),
    _Ellipsoid(BONE, 0, 58, 17, 17),  # vertebral body
    _Ellipsoid(BONE, 0, 88, 6, 15),  # spinous process
)

# MR labels, with proton density and T2 (ms): the echo time sets the contrast.
SCALP, SKULL, CSF, GREY, WHITE = range(1, 6)
_MR_TISSUE = {AIR: (0.0, 1.0), SCALP: (0.9, 80.0), SKULL: (0.05, 5.0), CSF: (1.0, 1500.0),
              GREY: (0.85, 100.0), WHITE: (0.7, 75.0)}
_HEAD = (
    _Ellipsoid(SCALP, 0, 0, 75, 92, zc=0, half=100),
    _Ellipsoid(SKULL, 0, 0, 70, 87, zc=0, half=100),
    _Ellipsoid(CSF, 0, 0, 64, 81, zc=0, half=100),
    _Ellipsoid(GREY, 0, 0, 62, 79, zc=0, half=100),
    _Ellipsoid(WHITE, 0, 2, 50, 66, zc=5, half=85),
    _Ellipsoid(CSF, -9, -8, 6, 22, zc=10, half=25),  # lateral ventricles
    _Ellipsoid(CSF, 9, -8, 6, 22, zc=10, half=25),
)


class _Phantom:
    """A label image per z on a square axial grid centred on the isocentre.

    Each shape keeps its bounding box and normalised radius, computed once, so a
    slice costs a copy plus a few small masked writes.
    """

    def __init__(self, shapes: Sequence[_Ellipsoid], size: int, spacing: float):
        coords = (np.arange(size) - (size - 1) / 2) * spacing
        self._static = np.zeros((size, size), dtype=np.uint8)
        self._dynamic: list[tuple[_Ellipsoid, tuple[slice, slice], np.ndarray]] = []
        for shape in shapes:
            window, radius2 = _footprint(shape, coords)
            # Shapes before the first z-dependent one can be painted once for good;
            # later ones must be repainted per slice to keep the painting order.
            if shape.zc is None and not self._dynamic:
                self._static[window][radius2 < 1.0] = shape.label
            else:
                self._dynamic.append((shape, window, radius2))

    def labels(self, z: float) -> np.ndarray:
        """The label image of the axial slice at ``z`` (rows go to the patient's back)."""
        out = self._static.copy()
        for shape, window, radius2 in self._dynamic:
            s = shape.scale(z)
            if s > 0.0:
                out[window][radius2 < s * s] = shape.label
        return out


def _footprint(shape: _Ellipsoid, coords: np.ndarray) -> tuple[tuple[slice, slice], np.ndarray]:
    """The bounding box of ``shape`` on the grid and its normalised squared radius there."""
    cols = np.flatnonzero(np.abs(coords - shape.cx) <= shape.ax)
    rows = np.flatnonzero(np.abs(coords - shape.cy) <= shape.ay)
    if cols.size == 0 or rows.size == 0:  # too small to hit a pixel centre
        return (slice(0, 0), slice(0, 0)), np.zeros((0, 0), dtype=np.float32)
    c0, c1, r0, r1 = cols[0], cols[-1] + 1, rows[0], rows[-1] + 1
    u = ((coords[c0:c1] - shape.cx) / shape.ax) ** 2
    v = ((coords[r0:r1] - shape.cy) / shape.ay) ** 2
    return (slice(r0, r1), slice(c0, c1)), (v[:, None] + u[None, :]).astype(np.float32)


class _Noise:
    """Gaussian noise fields: windows into one tile drawn once per series.

    Drawing a fresh 512x512 normal field costs more than everything else a slice
    needs; a window at a per-slice random offset is as good for a phantom.
    """

    def __init__(self, words: Sequence[int], size: int, sigma: float):
        self._words = list(words)
        self._size = size
        self._pad = max(8, size // 8)
        rng = np.random.default_rng(self._words)
        tile = rng.standard_normal((size + self._pad, size + self._pad)) * sigma
        self._tile = np.rint(tile).astype(np.int16)

    def field(self, number: int) -> np.ndarray:
        """The noise of image ``number``: the same every time it is asked for."""
        rng = np.random.default_rng([*self._words, number])
        dy, dx = rng.integers(0, self._pad + 1, size=2)
        return self._tile[dy : dy + self._size, dx : dx + self._size]


def _ct_stored(labels: np.ndarray, noise: np.ndarray) -> bytes:
    """CT pixel bytes: HU plus noise, shifted by the intercept into 12 unsigned bits."""
    hu = _CT_HU[labels] + noise
    return np.clip(hu - CT_INTERCEPT, 0, 4095).astype("<u2").tobytes()


def _mr_lut(echo_time: float) -> np.ndarray:
    """Signal per MR label at ``echo_time``: 1000 * PD * exp(-TE / T2)."""
    lut = np.zeros(len(_MR_TISSUE), dtype=np.int16)
    for label, (density, t2) in _MR_TISSUE.items():
        lut[label] = round(1000 * density * np.exp(-echo_time / t2))
    return lut


def _mr_stored(labels: np.ndarray, lut: np.ndarray, noise: np.ndarray) -> bytes:
    """MR pixel bytes: a magnitude image, so noise folds back above zero."""
    signal = np.abs(lut[labels] + noise)
    return np.clip(signal, 0, 4095).astype("<u2").tobytes()


def _projection(phantom: _Phantom, z_rows: Sequence[float], spacing: float) -> np.ndarray:
    """Line integrals of attenuation front to back (mm of water), one row per z."""
    mu = np.clip((_CT_HU.astype(np.float32) + 1000) / 1000, 0, None)
    return np.stack([mu[phantom.labels(z)].sum(axis=0) * spacing for z in z_rows])


# ---------------------------------------------------------------- plans


@dataclass(frozen=True)
class _Patient:
    patient_id: str
    name: str
    sex: str
    birth_date: str
    age: str | None
    size: float
    weight: float
    charset: str | None = None  # SpecificCharacterSet, when the name needs it


@dataclass(frozen=True)
class _Study:
    patient: _Patient
    key: str  # short name: a folder and part of the UIDs' entropy
    date: str
    time: str
    description: str
    study_id: str
    accession: str
    body_part: str
    referring: str
    institution: str = "Sample General Hospital"
    station: str = "CT01"
    uid: str | None = None  # None: derived from the seed


@dataclass(frozen=True)
class _Series:
    key: str
    number: int
    description: str
    time: str | None  # None: no SeriesDate/SeriesTime, only the study's
    note: str
    window: tuple[float, float] = (40.0, 400.0)
    kernel: str = "STANDARD"
    domain: str = "default"


_JANE = _Patient("CNB-0001", "Doe^Jane", "F", "19700514", "053Y", 1.65, 62.0)
_JURGEN = _Patient("CNB-0002", "Müller^Jürgen", "M", "19581102", None, 1.80, 85.0,
                   charset="ISO_IR 100")
_CHEST = _Study(_JANE, "chest", "20240301", "083000", "CT Chest", "1001", "ACC0001001",
                "CHEST", "Smith^Alex")
_BRAIN = _Study(_JANE, "brain", "20240402", "141500", "MR Brain", "1002", "ACC0001002",
                "HEAD", "Smith^Alex", station="MR01")
_ABDOMEN = _Study(_JURGEN, "abdomen", "20240510", "101000", "CT Abdomen", "2001",
                  "ACC0002001", "ABDOMEN", "Schäfer^Anna")
_FOLLOWUP = _Study(_JURGEN, "followup", "20240920", "090500", "CT Abdomen follow-up", "B17",
                   "HB0000017", "ABDOMEN", "Schäfer^Anna", institution="Hospital B",
                   station="HB-CT1")


# ---------------------------------------------------------------- public API


def write_sample_studies(folder: str | Path, seed: int = 0, ct_size: int = 256
                         ) -> list[SampleSeries]:
    """Write the demo set: 2 patients, 4 studies, 6 series.

    Parameters
    ----------
    folder
        Where to write; created if needed. Files go to
        ``<patient_id>/<study>/<series key>/IM00001.dcm``, the series for a second
        domain under ``hospital-b/`` first.
    seed
        Noise and UIDs; the same seed writes byte-identical files.
    ct_size
        Rows and columns of the CT images (the field of view stays 360 mm).

    Returns
    -------
    list of SampleSeries
        One per series, in a fixed order.
    """
    root = Path(folder)
    _check(seed >= 0, "The seed must be a non-negative integer.", "seed", seed)
    _check(ct_size >= 16, "ct_size must be at least 16.", "ct_size", ct_size)
    root.mkdir(parents=True, exist_ok=True)
    return [
        _write_chest_localizer(root, seed, ct_size),
        _write_ct(root, seed, ct_size, _CHEST, _Series(
            "chest_ct_feet_first", 2, "Chest CT feet to head", "083540",
            "Numbered feet to head: 'auto' runs backwards, (40, 1, -1), to start at the head."),
            _numbered(1, _positions(-50.0, 5.0, 40), head_first=False)),
        _write_ct(root, seed, ct_size, _CHEST, _Series(
            "chest_ct_lung", 3, "Chest CT lung 2.5 mm", "083702",
            "A plain head-first series in a lung window: 'auto' is simply (1, 60, 1).",
            window=(-600.0, 1500.0), kernel="LUNG"),
            _numbered(1, _positions(150.0, -2.5, 60), head_first=True)),
        _write_mr_interleaved(root, seed),
        _write_ct(root, seed, ct_size, _ABDOMEN, _Series(
            "abdomen_ct", 1, "Abdomen CT 5 mm", "101230",
            "A Latin-1 name and no PatientAge: the age must come from the birth date."),
            _numbered(1, _positions(-130.0, -5.0, 50), head_first=True)),
        _write_ct(root / "hospital-b", seed, ct_size, _FOLLOWUP, _Series(
            "followup_ct", 1, "Abdomen CT follow-up", None,
            "No SeriesDate, only StudyDate; meant to be imported into a second domain.",
            domain="hospital-b"),
            _numbered(1, _positions(-150.0, -5.0, 30), head_first=True)),
    ]


def write_ct_series(folder: str | Path, *, n: int, size: int = 512, seed: int = 0,
                    head_first: bool = True, first_instance: int = 1,
                    description: str = "Chest CT", patient_id: str = "BENCH-1",
                    study_uid: str | None = None, z_start: float = 150.0,
                    spacing_z: float = 2.5) -> SampleSeries:
    """Write one contiguous axial CT series straight into ``folder``.

    The slices cover ``z_start`` down to ``z_start - (n - 1) * spacing_z``;
    ``head_first`` numbers them from the top (z decreasing with the instance
    number), else from the bottom.

    Parameters
    ----------
    folder
        Where the ``IM00001.dcm``... files go; created if needed.
    n, size
        Number of slices, and rows and columns of each (field of view 360 mm).
    study_uid
        Join an existing study; by default one derived from the seed, patient and
        description.

    Returns
    -------
    SampleSeries
        Its ``auto`` is ``(first, last, 1)`` head first, else ``(last, first, -1)``.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     s = write_ct_series(tmp, n=3, size=32, head_first=False, first_instance=5)
    ...     s.key, s.images, s.auto, len(list(s.folder.glob("*.dcm")))
    ('chest_ct', '5-7', (7, 5, -1), 3)
    """
    _check(n >= 1, "A series needs at least one slice (n >= 1).", "n", n)
    _check(size >= 16, "size must be at least 16.", "size", size)
    _check(seed >= 0, "The seed must be a non-negative integer.", "seed", seed)
    _check(first_instance >= 1, "Instance numbers start at 1.", "first_instance", first_instance)
    _check(spacing_z > 0, "spacing_z must be positive.", "spacing_z", spacing_z)
    key = re.sub(r"[^a-z0-9]+", "_", description.lower()).strip("_") or "ct"
    patient = _Patient(patient_id, f"Sample^{patient_id}", "O", "19800101", None, 1.75, 70.0)
    study = _Study(patient, key, "20240115", "120000", description, "1",
                   f"A{zlib.crc32(patient_id.encode()) % 10**9:09d}", "CHEST", "Smith^Alex",
                   uid=study_uid)
    # Everything that shapes the series goes into its key, so its UID differs too.
    tag = f"{key}|{n}|{size}|{int(head_first)}|{first_instance}|{z_start}|{spacing_z}"
    order = "head to feet" if head_first else "feet to head"
    series = _Series(key, 1, description, "120130",
                     f"{n} contiguous axial CT slices numbered {order}.")
    positions = _numbered(first_instance, _positions(z_start, -spacing_z, n), head_first)
    return _write_ct(Path(folder), seed, size, study, series, positions, uid_tag=tag,
                     flat=True)


# ---------------------------------------------------------------- series writers


def _write_chest_localizer(root: Path, seed: int, size: int) -> SampleSeries:
    """Instance 1 a coronal localizer, no instance 2, then 60 axial slices head first."""
    series = _Series("chest_ct_localizer", 1, "Chest CT 5 mm with localizer", "083112",
                     "A localizer, then a gap: 'auto' takes only the localizer, (1, 1, 1).")
    axial = _numbered(3, _positions(150.0, -5.0, 60), head_first=True)
    return _write_ct(root, seed, size, _CHEST, series, axial, localizer=True)


def _write_ct(root: Path, seed: int, size: int, study: _Study, series: _Series,
              positions: list[tuple[int, float]], *, localizer: bool = False,
              uid_tag: str = "", flat: bool = False) -> SampleSeries:
    """Write an axial CT series (after a localizer as instance 1 if asked)."""
    uids = _Uids(seed, study, series.key + uid_tag)
    folder = root if flat else _series_folder(root, study, series)
    folder.mkdir(parents=True, exist_ok=True)
    spacing = round(CT_FOV_MM / size, 6)
    phantom = _Phantom(_BODY, size, spacing)
    noise = _Noise([seed, zlib.crc32(uids.series.encode())], size, sigma=10.0)
    ds = _header(study, series, uids, "CT", CT_IMAGE_STORAGE)
    _set_ct_image(ds, series, size, spacing)
    if len(positions) > 1:  # contiguous slices: as thick as they are apart
        ds.SliceThickness = abs(positions[1][1] - positions[0][1])
    z_by_number = {}
    if localizer:
        z_by_number[1] = _write_localizer(ds, folder, uids, phantom, noise, spacing)
    corner = round(-(size - 1) / 2 * spacing, 6)
    for number, z in positions:
        ds.ImagePositionPatient = [corner, corner, z]
        ds.SliceLocation = z
        ds.PixelData = _ct_stored(phantom.labels(z), noise.field(number))
        _save(ds, folder, number, uids.instance(number))
        z_by_number[number] = z
    return _summary(study, series, uids, "CT", folder, z_by_number)


def _write_localizer(template: Dataset, folder: Path, uids: _Uids, phantom: _Phantom,
                     noise: _Noise, spacing: float) -> float:
    """Write instance 1, a coronal projection; return its z (that of its top row)."""
    size = template.Rows
    z_top = 190.0
    z_rows = [z_top - row * spacing for row in range(size)]
    # 10 stored units per mm of water: bone bright, lungs dark, as on a scout view.
    stored = np.rint(_projection(phantom, z_rows, spacing) * 10).astype(np.int16)
    pixels = np.clip(stored + noise.field(1), 0, 4095).astype("<u2")
    ds = copy.deepcopy(template)  # before any SliceLocation: not an axial slice
    ds.ImageType = ["ORIGINAL", "PRIMARY", "LOCALIZER"]
    ds.ImageOrientationPatient = list(CORONAL)
    ds.ImagePositionPatient = [round(-(size - 1) / 2 * spacing, 6), 0.0, z_top]
    ds.SliceThickness = 1.0
    # A projection is not in HU; its values start at 0.
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = 0, 1, "US"
    top = int(pixels.max())
    ds.WindowCenter, ds.WindowWidth = top // 2, max(top, 1)
    ds.ConvolutionKernel = "SCOUT"
    ds.PixelData = pixels.tobytes()
    _save(ds, folder, 1, uids.instance(1))
    return z_top


def _write_mr_interleaved(root: Path, seed: int) -> SampleSeries:
    """24 positions, two echoes each: instance 2k-1 echo 1 and 2k echo 2 at one z."""
    series = _Series("mr_interleaved", 1, "Axial PD/T2 dual echo", "142010",
                     "Two echoes interleaved at each z: (1, 47, 2) selects echo 1 alone.")
    study = _BRAIN
    uids = _Uids(seed, study, series.key)
    folder = _series_folder(root, study, series)
    folder.mkdir(parents=True, exist_ok=True)
    spacing = round(MR_FOV_MM / MR_SIZE, 6)
    phantom = _Phantom(_HEAD, MR_SIZE, spacing)
    noise = _Noise([seed, zlib.crc32(uids.series.encode())], MR_SIZE, sigma=15.0)
    ds = _header(study, series, uids, "MR", MR_IMAGE_STORAGE)
    _set_mr_image(ds, spacing)
    echoes = [(1, 15.0, _mr_lut(15.0), (600, 1200)), (2, 90.0, _mr_lut(90.0), (450, 900))]
    corner = round(-(MR_SIZE - 1) / 2 * spacing, 6)
    z_by_number = {}
    for index, z in enumerate(_positions(57.5, -5.0, 24)):
        labels = phantom.labels(z)
        for echo, echo_time, lut, (center, width) in echoes:
            number = 2 * index + echo
            ds.EchoNumbers, ds.EchoTime = echo, echo_time
            ds.WindowCenter, ds.WindowWidth = center, width
            ds.ImagePositionPatient = [corner, corner, z]
            ds.SliceLocation = z
            ds.PixelData = _mr_stored(labels, lut, noise.field(number))
            _save(ds, folder, number, uids.instance(number))
            z_by_number[number] = z
    return _summary(study, series, uids, "MR", folder, z_by_number)


# ---------------------------------------------------------------- headers


class _Uids:
    """Deterministic UIDs: the seed and stable names are the only entropy."""

    def __init__(self, seed: int, study: _Study, series_key: str):
        base = (str(seed), study.patient.patient_id, study.key)
        self.study = study.uid or _uid(*base, "study")
        self.frame = _uid(str(seed), self.study, "frame")
        self.series = _uid(*base, self.study, series_key, "series")

    def instance(self, number: int) -> str:
        """The SOPInstanceUID of image ``number``."""
        return _uid(self.series, str(number))


def _uid(*names: str) -> str:
    # generate_uid joins its sources with no separator, so ("ab", "c") would equal
    # ("a", "bc"); join them here with one that names never hold.
    return generate_uid(entropy_srcs=["\x1f".join(("circus_nb sample", *names))])


def _header(study: _Study, series: _Series, uids: _Uids, modality: str, sop_class: str
            ) -> Dataset:
    """A dataset with file meta, patient, study, series and equipment modules."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.ImplementationClassUID = _IMPLEMENTATION_UID
    ds.file_meta.ImplementationVersionName = "CIRCUS_NB_SAMPLE"
    patient = study.patient
    if patient.charset:
        ds.SpecificCharacterSet = patient.charset
    ds.SOPClassUID = sop_class
    _set_patient(ds, patient)
    _set_study(ds, study, uids)
    _set_series(ds, study, series, uids, modality)
    return ds


def _set_patient(ds: Dataset, patient: _Patient) -> None:
    ds.PatientName = patient.name
    ds.PatientID = patient.patient_id
    ds.PatientBirthDate = patient.birth_date
    ds.PatientSex = patient.sex
    if patient.age:
        ds.PatientAge = patient.age
    ds.PatientSize = patient.size
    ds.PatientWeight = patient.weight


def _set_study(ds: Dataset, study: _Study, uids: _Uids) -> None:
    ds.StudyInstanceUID = uids.study
    ds.StudyDate = study.date
    ds.StudyTime = study.time
    ds.StudyID = study.study_id
    ds.AccessionNumber = study.accession
    ds.StudyDescription = study.description
    ds.ReferringPhysicianName = study.referring
    ds.InstitutionName = study.institution


def _set_series(ds: Dataset, study: _Study, series: _Series, uids: _Uids, modality: str
                ) -> None:
    ds.SeriesInstanceUID = uids.series
    ds.SeriesNumber = series.number
    ds.Modality = modality
    ds.SeriesDescription = series.description
    if series.time is not None:
        ds.SeriesDate = study.date
        ds.SeriesTime = series.time
    ds.BodyPartExamined = study.body_part
    ds.PatientPosition = "HFS"
    ds.Manufacturer = MANUFACTURER
    ds.ManufacturerModelName = f"Phantom {modality}"
    ds.StationName = study.station
    ds.FrameOfReferenceUID = uids.frame
    ds.PositionReferenceIndicator = ""


def _set_pixel_format(ds: Dataset, size: int, spacing: float) -> None:
    ds.ImageOrientationPatient = list(AXIAL)
    ds.PixelSpacing = [spacing, spacing]
    ds.Rows = ds.Columns = size
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
    ds.PixelRepresentation = 0
    ds.AcquisitionNumber = 1


def _set_ct_image(ds: Dataset, series: _Series, size: int, spacing: float) -> None:
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    _set_pixel_format(ds, size, spacing)
    ds.SliceThickness = 5.0
    ds.KVP = 120
    ds.XRayTubeCurrent = 200
    ds.ConvolutionKernel = series.kernel
    ds.ReconstructionDiameter = CT_FOV_MM
    ds.GantryDetectorTilt = 0
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = CT_INTERCEPT, 1, "HU"
    ds.WindowCenter, ds.WindowWidth = series.window


def _set_mr_image(ds: Dataset, spacing: float) -> None:
    ds.ImageType = ["ORIGINAL", "PRIMARY", "M"]
    _set_pixel_format(ds, MR_SIZE, spacing)
    ds.SliceThickness = 4.0
    ds.SpacingBetweenSlices = 5.0
    ds.ScanningSequence, ds.SequenceVariant, ds.MRAcquisitionType = "SE", "NONE", "2D"
    ds.RepetitionTime = 3000.0
    ds.EchoTrainLength = 2
    ds.MagneticFieldStrength = 1.5
    ds.ImagingFrequency = 63.87
    ds.ImagedNucleus = "1H"
    ds.FlipAngle = 90.0


def _save(ds: Dataset, folder: Path, number: int, sop_uid: str) -> None:
    ds.SOPInstanceUID = sop_uid
    ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
    ds.InstanceNumber = number
    ds.save_as(folder / f"IM{number:05d}.dcm", enforce_file_format=True)


# ---------------------------------------------------------------- helpers


def _positions(z_first: float, step: float, count: int) -> list[float]:
    """``count`` z values from ``z_first`` by ``step``, rounded for short DS strings."""
    return [round(z_first + i * step, 4) for i in range(count)]


def _numbered(first: int, z_values: Sequence[float], head_first: bool
              ) -> list[tuple[int, float]]:
    """Number slices from ``first``, from the highest z if ``head_first`` else the lowest."""
    ordered = sorted(z_values, reverse=head_first)
    return [(first + i, z) for i, z in enumerate(ordered)]


def _series_folder(root: Path, study: _Study, series: _Series) -> Path:
    return root / study.patient.patient_id / study.key / series.key


def _summary(study: _Study, series: _Series, uids: _Uids, modality: str, folder: Path,
             z_by_number: dict[int, float]) -> SampleSeries:
    return SampleSeries(
        key=series.key, series_uid=uids.series, study_uid=uids.study,
        patient_id=study.patient.patient_id, patient_name=study.patient.name,
        modality=modality, description=series.description, folder=folder,
        images=str(ImageRange(z_by_number)), auto=_auto(z_by_number),
        domain=series.domain, note=series.note,
    )


def _auto(z_by_number: dict[int, float]) -> tuple[int, int, int]:
    pv = auto_partial_volume(ImageRange(z_by_number), z_by_number)
    return (pv.start, pv.end, pv.delta)


def _check(ok: bool, message: str, field: str, value: object) -> None:
    if not ok:
        raise ValidationError(message, field=field, value=value)
