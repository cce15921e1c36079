"""Header reading: the fast path, the fallback, and the values kept."""

import json

import pydicom
import pytest
from pydicom.data import get_testdata_file

from circus_nb.dicom import header as header_module
from circus_nb.dicom.header import read_header, read_headers


@pytest.fixture
def ct(samples):
    return samples[1]["chest_ct_lung"].folder / "IM00005.dcm"


def test_the_fast_path_and_a_full_read_agree(ct, monkeypatch):
    fast = read_header(ct)
    monkeypatch.setattr(header_module, "HEAD_BYTES", 200)  # too short: full read
    full = read_header(ct)
    assert fast.status == full.status == "ok"
    assert fast.instance == full.instance
    assert fast.series == full.series


def test_instance_values(ct):
    ds = pydicom.dcmread(ct)
    values = read_header(ct).instance
    assert values["instance_number"] == 5
    assert values["sop_instance_uid"] == ds.SOPInstanceUID
    assert (values["position_x"], values["position_y"], values["position_z"]) == tuple(
        map(float, ds.ImagePositionPatient))
    assert values["orientation"] == [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    assert values["rows"] == values["columns"] == 64
    assert values["window_center"] == float(ds.WindowCenter)
    assert values["size"] == ct.stat().st_size


def test_series_values_and_parameters(ct):
    series = read_header(ct).series
    assert series["modality"] == "CT" and series["manufacturer"] == "circus_nb sample"
    assert series["series_date"].isoformat().startswith("2024-03-01T")
    parameters = json.loads(series["parameters"])
    assert parameters["TransferSyntaxUID"] == "1.2.840.10008.1.2.1"
    assert parameters["SliceThickness"] == 2.5  # a number
    assert parameters["PixelSpacing"] == [5.625, 5.625]  # a list when multi-valued
    assert parameters["Rows"] == 64 and parameters["BitsAllocated"] == 16
    assert parameters["ImageOrientationPatient"] == [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    assert parameters["PatientPosition"] == "HFS"  # text stays text
    assert all(not key.startswith("Patient") or key == "PatientPosition" for key in parameters)


def test_series_values_only_once_per_series_in_a_batch(samples):
    folder = samples[1]["chest_ct_feet_first"].folder
    headers = read_headers([str(p) for p in sorted(folder.iterdir())[:5]])
    assert [h.series is not None for h in headers] == [True, False, False, False, False]


def test_a_file_that_cannot_be_opened(tmp_path):
    result = read_header(tmp_path)
    assert result.status == "unreadable" and "cannot read the file" in result.reason


def test_big_endian_and_implicit_files_read_too():
    for name in ("MR_small_bigendian.dcm", "MR_small_implicit.dcm", "CT_small.dcm"):
        assert read_header(get_testdata_file(name, download=False)).status == "ok"
