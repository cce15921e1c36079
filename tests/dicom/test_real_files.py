"""Real DICOM files shipped in registry packages (pydicom's test files, pydicom-data)."""

import os
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file, get_testdata_files

import circus_nb as cnb
from circus_nb.api.importing import STATUSES


def real(name: str) -> Path:
    path = get_testdata_file(name, download=False)  # never the network
    if path is None:
        pytest.fail(f"{name} is not installed; pip install pydicom-data")
    return Path(path)


@pytest.fixture(scope="module")
def all_files():
    return sorted(p for p in map(Path, get_testdata_files()) if p.is_file())


@pytest.fixture(scope="module")
def report(all_files, tmp_path_factory):
    with cnb.Store.create(tmp_path_factory.mktemp("real") / "store") as store:
        yield store.import_dicom(all_files, progress=False)


def test_every_real_file_gets_a_status_and_a_reason(all_files, report):
    assert len(all_files) > 240  # pydicom's own files and pydicom-data's
    assert len(report.files) == len(all_files)
    assert set(report.files["status"]) <= set(STATUSES)
    refused = report.files[report.files["status"] != "imported"]
    assert refused["reason"].str.len().gt(10).all()
    assert report.counts["imported"] > 100


@pytest.mark.parametrize(
    ("name", "status", "reason"),
    [
        ("MR_truncated.dcm", "unreadable", "pixel data needs 8192 bytes, 8130 are present"),
        ("emri_small_jpeg_2k_lossless_too_short.dcm", "unreadable", "does not end with a"),
        ("no_meta.dcm", "not_dicom", "no 'DICM' marker at byte 128"),
        ("ExplVR_BigEndNoMeta.dcm", "not_dicom", "no 'DICM' marker"),
        ("rtplan_truncated.dcm", "unreadable",
         "element (300A,00B0) needs 976 bytes from byte 1418, the file ends at byte 2129"),
        ("badVR.dcm", "no_instance_number", "InstanceNumber is missing"),
        ("bad_sequence.dcm", "invalid_uid", "is not a valid UID"),
        ("meta_missing_tsyntax.dcm", "invalid_uid", "SeriesInstanceUID None"),
    ],
)
def test_malformed_files(report, name, status, reason):
    row = report.files[report.files["path"] == str(real(name))].iloc[0]
    assert row["status"] == status
    assert reason in row["reason"]


def _store_with(tmp_path, name):
    store = cnb.Store.create(tmp_path / name)
    result = store.import_dicom(real(name), progress=False)
    assert list(result.files["status"]) == ["imported"], result.files["reason"][0]
    return store, store.series(result.files["series_uid"][0])


@pytest.mark.parametrize("name", [
    "MR_small_RLE.dcm", "MR_small_jp2klossless.dcm", "MR_small_jpeg_ls_lossless.dcm",
    "JPEG2000.dcm", "JPEG-LL.dcm", "JPGExtended.dcm", "693_J2KR.dcm", "OBXXXX1A_rle.dcm",
])
def test_compressed_real_files_load_as_volumes(tmp_path, name):
    store, series = _store_with(tmp_path, name)
    volume = series.volume()
    ds = pydicom.dcmread(real(name))
    expected = ds.pixel_array * float(ds.get("RescaleSlope", 1)) + float(
        ds.get("RescaleIntercept", 0))
    np.testing.assert_allclose(volume.array[0], expected, rtol=1e-6)
    assert series.thumbnail(series.images.first, 64).max() > 0
    store.close()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("JPEG-lossy.dcm", r"cannot be decoded"),
        ("JPEG2000-embedded-sequence-delimiter.dcm", r"cannot be decoded"),
        ("SC_rgb.dcm", r"is a colour image \(RGB\)"),
    ],
)
def test_files_a_volume_cannot_hold_are_clear_errors(tmp_path, name, message):
    store, series = _store_with(tmp_path, name) if name != "SC_rgb.dcm" else _colour(tmp_path)
    with pytest.raises(cnb.CircusError, match=message) as info:
        series.volume((series.images.first, series.images.first, 1))
    text = str(info.value)
    assert os.fspath(store.path) in text and "transfer syntax" in text
    store.close()


def _colour(tmp_path):
    ds = pydicom.dcmread(real("SC_rgb.dcm"))
    ds.SeriesInstanceUID, ds.InstanceNumber = "1.2.3.99", 1
    ds.save_as(tmp_path / "rgb.dcm")
    store = cnb.Store.create(tmp_path / "rgb")
    store.import_dicom(tmp_path / "rgb.dcm", progress=False)
    return store, store.series("1.2.3.99")
