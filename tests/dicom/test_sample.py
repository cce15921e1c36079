"""The synthetic sample studies: layout, determinism, DICOM validity, geometry and pixels."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import ExplicitVRLittleEndian

from circus_nb.dicom.sample import SampleSeries, write_ct_series, write_sample_studies
from circus_nb.errors import ValidationError

CT_SIZE = 64
EXPECTED = {
    # key: (images, number of files, modality, domain)
    "chest_ct_localizer": ("1,3-62", 61, "CT", "default"),
    "chest_ct_feet_first": ("1-40", 40, "CT", "default"),
    "chest_ct_lung": ("1-60", 60, "CT", "default"),
    "mr_interleaved": ("1-48", 48, "MR", "default"),
    "abdomen_ct": ("1-50", 50, "CT", "default"),
    "followup_ct": ("1-30", 30, "CT", "hospital-b"),
}


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> tuple[Path, dict[str, SampleSeries]]:
    """The sample set written once with seed 0: its folder and its series by key."""
    root = tmp_path_factory.mktemp("sample")
    series = write_sample_studies(root, seed=0, ct_size=CT_SIZE)
    return root, {s.key: s for s in series}


@pytest.fixture(scope="module")
def headers(sample) -> dict[str, dict[int, pydicom.Dataset]]:
    """Every file's header, by series key then instance number."""
    _, series = sample
    return {key: _read_series(s.folder, pixels=False) for key, s in series.items()}


def _read_series(folder: Path, pixels: bool = True) -> dict[int, pydicom.Dataset]:
    datasets = [pydicom.dcmread(p, stop_before_pixels=not pixels)
                for p in sorted(folder.glob("*.dcm"))]
    return {int(ds.InstanceNumber): ds for ds in datasets}


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*.dcm"))}


def _z(ds: pydicom.Dataset) -> float:
    return float(ds.ImagePositionPatient[2])


def _circus_auto(z_by_number: dict[int, float]) -> tuple[int, int, int]:
    """CIRCUS 'auto', computed independently of the module: first run of consecutive numbers."""
    numbers = sorted(z_by_number)
    end = numbers[0]
    while end + 1 in z_by_number:
        end += 1
    start = numbers[0]
    return (start, end, 1) if z_by_number[start] >= z_by_number[end] else (end, start, -1)


def _hu(ds: pydicom.Dataset) -> np.ndarray:
    return ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)


def _patch_at(ds: pydicom.Dataset, x_mm: float, y_mm: float) -> np.ndarray:
    """The 3x3 pixels of an axial slice around patient coordinates (x, y), in HU."""
    x0, y0 = float(ds.ImagePositionPatient[0]), float(ds.ImagePositionPatient[1])
    row_spacing, col_spacing = map(float, ds.PixelSpacing)
    col = round((x_mm - x0) / col_spacing)
    row = round((y_mm - y0) / row_spacing)
    return _hu(ds)[row - 1 : row + 2, col - 1 : col + 2]


# ---------------------------------------------------------------- the set


def test_six_series_with_their_images_files_and_domains(sample):
    root, series = sample
    assert list(series) == list(EXPECTED)
    for key, (images, count, modality, domain) in EXPECTED.items():
        s = series[key]
        assert (s.images, s.modality, s.domain) == (images, modality, domain), key
        assert len(list(s.folder.glob("*.dcm"))) == count, key
        assert s.note.endswith("."), key
    assert len(list(root.rglob("*.dcm"))) == sum(e[1] for e in EXPECTED.values())


def test_folders_are_patient_study_series_with_hospital_b_apart(sample):
    root, series = sample
    assert series["chest_ct_lung"].folder == root / "CNB-0001" / "chest" / "chest_ct_lung"
    assert series["mr_interleaved"].folder == root / "CNB-0001" / "brain" / "mr_interleaved"
    assert series["followup_ct"].folder == (
        root / "hospital-b" / "CNB-0002" / "followup" / "followup_ct")
    assert (series["abdomen_ct"].folder / "IM00001.dcm").is_file()
    assert not (series["chest_ct_localizer"].folder / "IM00002.dcm").exists()


def test_same_seed_gives_identical_bytes(sample, tmp_path):
    root, _ = sample
    write_sample_studies(tmp_path, seed=0, ct_size=CT_SIZE)
    assert _hashes(tmp_path) == _hashes(root)


def test_different_seed_gives_different_uids(sample, headers, tmp_path):
    _, series = sample
    other = {s.key: s for s in write_sample_studies(tmp_path, seed=1, ct_size=CT_SIZE)}
    for key, s in series.items():
        assert other[key].series_uid != s.series_uid
        assert other[key].study_uid != s.study_uid
    ours = {ds.SOPInstanceUID for by_number in headers.values() for ds in by_number.values()}
    theirs = {pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID
              for p in tmp_path.rglob("*.dcm")}
    assert len(ours) == len(theirs) == 289
    assert ours.isdisjoint(theirs)


# ---------------------------------------------------------------- DICOM validity


def test_every_file_is_a_part10_file_with_consistent_uids(sample, headers):
    root, series = sample
    sop_class = {"CT": "1.2.840.10008.5.1.4.1.1.2", "MR": "1.2.840.10008.5.1.4.1.1.4"}
    for path in root.rglob("*.dcm"):
        assert path.read_bytes()[128:132] == b"DICM", path
    for key, by_number in headers.items():
        s = series[key]
        for ds in by_number.values():
            meta = ds.file_meta
            assert meta.TransferSyntaxUID == ExplicitVRLittleEndian
            assert meta.MediaStorageSOPClassUID == ds.SOPClassUID == sop_class[s.modality]
            assert meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
            assert meta.ImplementationClassUID
            assert (ds.SeriesInstanceUID, ds.StudyInstanceUID) == (s.series_uid, s.study_uid)
            assert (ds.Modality, ds.PatientID, ds.SeriesDescription) == (
                s.modality, s.patient_id, s.description)
            assert ds.Manufacturer == "circus_nb sample"
            assert ds.PhotometricInterpretation == "MONOCHROME2"
            assert (ds.BitsAllocated, ds.SamplesPerPixel) == (16, 1)


def test_patient_one_headers(headers):
    ds = headers["chest_ct_lung"][1]
    assert str(ds.PatientName) == "Doe^Jane"
    assert (ds.PatientSex, ds.PatientBirthDate, ds.PatientAge) == ("F", "19700514", "053Y")
    assert (float(ds.PatientSize), float(ds.PatientWeight)) == (1.65, 62.0)
    assert ds.StudyDate == "20240301"
    assert (ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType) == (-1024, 1, "HU")
    assert (ds.WindowCenter, ds.WindowWidth) == (-600, 1500)  # a lung window


def test_frame_of_reference_is_shared_within_a_study_only(headers):
    frames = {key: {ds.FrameOfReferenceUID for ds in by_number.values()}
              for key, by_number in headers.items()}
    assert all(len(f) == 1 for f in frames.values())
    chest = ["chest_ct_localizer", "chest_ct_feet_first", "chest_ct_lung"]
    assert frames[chest[0]] == frames[chest[1]] == frames[chest[2]]
    assert len(set().union(*frames.values())) == 4  # four studies


def test_latin1_name_decodes_and_is_latin1_on_disk(sample, headers):
    _, series = sample
    ds = headers["abdomen_ct"][1]
    assert ds.SpecificCharacterSet == "ISO_IR 100"
    assert str(ds.PatientName) == series["abdomen_ct"].patient_name == "Müller^Jürgen"
    raw = (series["abdomen_ct"].folder / "IM00001.dcm").read_bytes()
    assert b"M\xfcller^J\xfcrgen" in raw
    assert "Müller".encode() not in raw  # not UTF-8
    assert "PatientAge" not in ds  # the age must come from the birth date
    assert ds.PatientBirthDate == "19581102"


def test_followup_has_study_date_but_no_series_date(headers):
    for ds in headers["followup_ct"].values():
        assert "SeriesDate" not in ds and "SeriesTime" not in ds
        assert (ds.StudyDate, ds.StudyTime) == ("20240920", "090500")
    assert headers["abdomen_ct"][1].SeriesDate == "20240510"


# ---------------------------------------------------------------- geometry


def test_localizer_is_coronal_and_the_rest_axial(headers):
    localizer = headers["chest_ct_localizer"][1]
    assert list(localizer.ImageType) == ["ORIGINAL", "PRIMARY", "LOCALIZER"]
    assert [float(v) for v in localizer.ImageOrientationPatient] == [1, 0, 0, 0, 0, -1]
    for key, by_number in headers.items():
        for number, ds in by_number.items():
            if (key, number) != ("chest_ct_localizer", 1):
                assert [float(v) for v in ds.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
                assert float(ds.SliceLocation) == _z(ds)


def test_axial_fov_is_centred_on_the_isocentre(headers):
    for key, fov in [("chest_ct_lung", 360.0), ("mr_interleaved", 230.0)]:
        ds = headers[key][1]
        spacing = float(ds.PixelSpacing[0])
        assert ds.Rows * spacing == pytest.approx(fov)
        corner = -(ds.Rows - 1) / 2 * spacing
        assert [float(v) for v in ds.ImagePositionPatient[:2]] == pytest.approx(
            [corner, corner], abs=1e-5)


@pytest.mark.parametrize(
    ("key", "first_axial", "step"),
    [("chest_ct_localizer", 3, -5.0), ("chest_ct_feet_first", 1, 5.0),
     ("chest_ct_lung", 1, -2.5), ("abdomen_ct", 1, -5.0), ("followup_ct", 1, -5.0)],
)
def test_ct_z_runs_head_first_down_or_feet_first_up(headers, key, first_axial, step):
    by_number = headers[key]
    numbers = sorted(n for n in by_number if n >= first_axial)
    steps = np.diff([_z(by_number[n]) for n in numbers])
    assert steps == pytest.approx(step)


def test_localizer_gap_and_highest_axial_first(headers):
    by_number = headers["chest_ct_localizer"]
    assert 2 not in by_number
    axial_z = {n: _z(ds) for n, ds in by_number.items() if n >= 3}
    assert max(axial_z, key=axial_z.get) == 3


def test_mr_echo_pairs_share_z_which_decreases(headers):
    by_number = headers["mr_interleaved"]
    pairs = [(by_number[2 * k - 1], by_number[2 * k]) for k in range(1, 25)]
    for echo1, echo2 in pairs:
        assert _z(echo1) == _z(echo2)
        assert (echo1.EchoNumbers, echo2.EchoNumbers) == (1, 2)
        assert float(echo1.EchoTime) < float(echo2.EchoTime)
    assert np.all(np.diff([_z(e1) for e1, _ in pairs]) < 0)


@pytest.mark.parametrize("key", list(EXPECTED))
def test_auto_follows_the_circus_rule_on_the_files(sample, headers, key):
    _, series = sample
    z_by_number = {n: _z(ds) for n, ds in headers[key].items()}
    assert series[key].auto == _circus_auto(z_by_number)


# ---------------------------------------------------------------- pixels


def test_ct_values_are_air_lung_and_soft_tissue(sample):
    _, series = sample
    ds = pydicom.dcmread(series["chest_ct_lung"].folder / "IM00030.dcm")
    hu = _hu(ds)
    assert hu.shape == (CT_SIZE, CT_SIZE)
    assert np.median(hu[:4, :4]) == pytest.approx(-1000, abs=30)  # air in the corner
    right_lung = _patch_at(ds, x_mm=-72, y_mm=-5)  # x < 0: the patient's right
    assert np.median(right_lung) < -500
    mediastinum = _patch_at(ds, x_mm=0, y_mm=-60)
    assert 0 < np.median(mediastinum) < 100
    assert hu.max() > 500  # the spine


def test_abdomen_has_no_lungs(sample):
    _, series = sample
    ds = pydicom.dcmread(series["abdomen_ct"].folder / "IM00025.dcm")
    inside = _hu(ds)[CT_SIZE // 4 : 3 * CT_SIZE // 4, CT_SIZE // 4 : 3 * CT_SIZE // 4]
    assert np.mean(inside < -500) < 0.02


def test_nodule_shows_on_a_few_chest_slices(sample):
    _, series = sample
    slices = _read_series(series["chest_ct_localizer"].folder)
    # The phantom's nodule sits in the right lung at x=-80, y=-25 mm; lower down the
    # liver dome would be dense there too.
    dense = [n for n, ds in slices.items()
             if n >= 3 and _z(ds) > 0 and _patch_at(ds, -80, -25)[1, 1] > -300]
    assert 2 <= len(dense) <= 5
    assert dense == list(range(dense[0], dense[-1] + 1))


def test_localizer_projection_is_brightest_down_the_spine(sample):
    _, series = sample
    ds = pydicom.dcmread(series["chest_ct_localizer"].folder / "IM00001.dcm")
    assert ds.RescaleType != "HU"
    columns = ds.pixel_array[CT_SIZE // 2].astype(float)
    assert columns.argmax() in range(CT_SIZE // 2 - 2, CT_SIZE // 2 + 2)
    assert columns[0] < 0.05 * columns.max()  # air beside the body


def test_mr_echo2_is_darker_and_has_no_rescale(sample):
    _, series = sample
    by_number = _read_series(series["mr_interleaved"].folder)
    echo1, echo2 = by_number[23], by_number[24]
    assert (echo1.Rows, echo1.Columns, echo1.PixelRepresentation) == (128, 128, 0)
    assert "RescaleIntercept" not in echo1
    assert echo2.pixel_array.mean() < 0.8 * echo1.pixel_array.mean()


# ---------------------------------------------------------------- write_ct_series


@pytest.mark.parametrize(("head_first", "auto"), [(True, (1, 5, 1)), (False, (5, 1, -1))])
def test_write_ct_series_orders(tmp_path, head_first, auto):
    s = write_ct_series(tmp_path, n=5, size=32, head_first=head_first)
    by_number = _read_series(tmp_path)
    assert sorted(by_number) == [1, 2, 3, 4, 5]
    z = [_z(by_number[n]) for n in range(1, 6)]
    assert sorted(z) == [140.0, 142.5, 145.0, 147.5, 150.0]  # one slab from z_start down
    assert np.all(np.diff(z) < 0) if head_first else np.all(np.diff(z) > 0)
    assert (s.images, s.auto, s.folder) == ("1-5", auto, tmp_path)
    assert s.auto == _circus_auto(dict(zip(range(1, 6), z, strict=True)))
    assert by_number[1].Rows == 32


def test_write_ct_series_joins_a_study_with_its_own_numbers(tmp_path):
    first = write_ct_series(tmp_path / "a", n=2, size=16)
    second = write_ct_series(tmp_path / "b", n=3, size=16, study_uid=first.study_uid,
                             first_instance=10, description="Chest CT 2")
    assert second.study_uid == first.study_uid
    assert second.series_uid != first.series_uid
    assert (second.images, second.key) == ("10-12", "chest_ct_2")


@pytest.mark.parametrize("bad", [{"n": 0}, {"size": 8}, {"first_instance": 0},
                                 {"spacing_z": 0}, {"seed": -1}])
def test_write_ct_series_refuses_bad_arguments(tmp_path, bad):
    args = {"n": 2, "size": 16} | bad
    with pytest.raises(ValidationError):
        write_ct_series(tmp_path, **args)
