"""Exporting cases: data.json, MHD/RAW or NIfTI volumes, voxel labels, zip or tar.gz."""

import dataclasses
import gzip
import io
import json
import tarfile
import zipfile

import numpy as np
import pytest

import circus_nb as cnb
from circus_nb.api.export import combined_mask, element_type, mhd_header
from circus_nb.formats.nifti import ras_affine

RAW_TYPES = {"MET_UCHAR": "<u1", "MET_USHORT": "<u2", "MET_SHORT": "<i2", "MET_FLOAT": "<f4"}


# -- helpers reading an export back -------------------------------------------------


def read_archive(path):
    """``{name: bytes}`` of every file in a zip or tar.gz archive."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            return {name: zf.read(name) for name in zf.namelist()}
    with tarfile.open(path, "r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def parse_mhd(data):
    return dict(line.split(" = ", 1) for line in data.decode().splitlines())


def read_mhd(files, folder, stem):
    """The header and the (z, y, x) array of ``<folder>/<stem>.mhd``, checking the RAW size."""
    header = parse_mhd(files[f"{folder}/{stem}.mhd"])
    raw = files[f"{folder}/{header['ElementDataFile']}"]
    x, y, z = map(int, header["DimSize"].split())
    dtype = np.dtype(RAW_TYPES[header["ElementType"]])
    assert len(raw) == x * y * z * dtype.itemsize
    return header, np.frombuffer(raw, dtype).reshape(z, y, x)


def spacing_of(header):
    return [float(v) for v in header["ElementSpacing"].split()]


# -- fixtures ---------------------------------------------------------------------


@pytest.fixture
def out(tmp_path):
    """An empty folder for exports (the store lives elsewhere in tmp_path)."""
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


@pytest.fixture
def uid(samples):
    return samples[1]["chest_ct_localizer"].series_uid


@pytest.fixture
def project_id(imported):
    return imported.create_project("P").project_id


@pytest.fixture
def case(imported, project_id, uid):
    return imported.create_case(project_id, [(uid, (3, 62, 1))], tags=["x"])


def pixel_spacing(store, uid):
    row, column = store.series(uid).parameters["PixelSpacing"]
    return float(column), float(row)  # x, y


def with_labels(case, *labels):
    entry = case.latest.series[0]
    return case.save("labels", series=[dataclasses.replace(entry, labels=labels)])


def two_masks(shape):
    a = np.zeros(shape, bool)
    a[2:10, 10:30, 10:30] = True
    b = np.zeros(shape, bool)
    b[5:20, 20:40, 20:40] = True
    return a, b


# -- pure helpers -------------------------------------------------------------------


def test_mhd_header_lists_axes_x_first():
    text = mhd_header((30, 64, 48), (10.0, 0.68359375, 0.5), "MET_FLOAT", "v.raw")
    header = dict(line.split(" = ") for line in text.splitlines())
    assert header["DimSize"] == "48 64 30"
    assert header["ElementSpacing"] == "0.5 0.68359375 10"
    assert header["ElementType"] == "MET_FLOAT"
    assert text.splitlines()[0] == "ObjectType = Image"
    assert text.splitlines()[-1] == "ElementDataFile = v.raw"
    with pytest.raises(cnb.ValidationError, match="element_type must be one of"):
        mhd_header((1, 1, 1), (1, 1, 1), "MET_DOUBLE", "v.raw")


def test_element_type_is_short_only_for_whole_int16_values():
    assert element_type(np.array([-32768.0, 32767.0], np.float32)) == "MET_SHORT"
    assert element_type(np.array([32768.0], np.float32)) == "MET_FLOAT"
    assert element_type(np.array([1.5], np.float32)) == "MET_FLOAT"
    assert element_type(np.array([np.nan], np.float32)) == "MET_FLOAT"


def test_combined_mask_grows_past_255_labels():
    mask = np.ones((1, 1, 1), bool)
    assert combined_mask([(0, mask)], mask.shape).dtype == np.uint8
    big = combined_mask([(299, mask)], mask.shape)
    assert big.dtype == np.uint16 and big[0, 0, 0] == 300


# -- MHD volumes ----------------------------------------------------------------------


def test_zip_holds_data_json_and_the_volume(imported, case, uid, out):
    target = imported.export_cases([case.case_id], out / "out.zip")
    assert target == out / "out.zip"
    with zipfile.ZipFile(target) as zf:
        assert zf.getinfo(f"{case.case_id}/vol000.raw").compress_type == zipfile.ZIP_DEFLATED
    files = read_archive(target)
    cid = case.case_id
    assert set(files) == {f"{cid}/data.json", f"{cid}/vol000.mhd", f"{cid}/vol000.raw"}
    header, array = read_mhd(files, cid, "vol000")
    assert header["ObjectType"] == "Image" and header["NDims"] == "3"
    assert header["BinaryData"] == "True" and header["BinaryDataByteOrderMSB"] == "False"
    assert header["ElementType"] == "MET_SHORT"
    assert header["DimSize"] == "64 64 60"
    assert spacing_of(header) == pytest.approx([*pixel_spacing(imported, uid), 5.0])
    np.testing.assert_array_equal(array, case.volume().array.astype(np.int16))
    assert list(out.iterdir()) == [target]  # no temporary file left


def test_every_other_image_has_twice_the_pitch(imported, project_id, uid, out):
    case = imported.create_case(project_id, [(uid, (3, 61, 2))])
    files = read_archive(imported.export_cases(case.case_id, out / "out.zip"))
    header, array = read_mhd(files, case.case_id, "vol000")
    assert header["DimSize"] == "64 64 30"
    assert spacing_of(header)[2] == pytest.approx(10.0)
    np.testing.assert_array_equal(array, case.volume().array.astype(np.int16))


def test_a_reversed_range_is_exported_in_its_order(imported, project_id, uid, out):
    forward = imported.create_case(project_id, [(uid, (3, 62, 1))])
    backward = imported.create_case(project_id, [(uid, (62, 3, -1))])
    files = read_archive(imported.export_cases([forward.case_id, backward.case_id], out))
    _, ahead = read_mhd(files, forward.case_id, "vol000")
    _, behind = read_mhd(files, backward.case_id, "vol000")
    np.testing.assert_array_equal(behind, backward.volume().array.astype(np.int16))
    np.testing.assert_array_equal(behind, ahead[::-1])
    assert not np.array_equal(behind, ahead)


def test_several_cases_in_a_folder_go_to_cases_zip(imported, project_id, uid, out):
    cases = [imported.create_case(project_id, [(uid, (3, 5, 1))]) for _ in range(2)]
    target = imported.export_cases([c.case_id for c in cases], out)
    assert target == out / "cases.zip"
    assert {name.split("/")[0] for name in read_archive(target)} == {c.case_id for c in cases}


def test_every_series_entry_gets_its_volume(imported, project_id, samples, out):
    lung = samples[1]["chest_ct_lung"].series_uid
    chest = samples[1]["chest_ct_localizer"].series_uid
    case = imported.create_case(project_id, [(chest, (3, 12, 1)), (lung, (1, 4, 1))])
    files = read_archive(imported.export_cases(case.case_id, out / "two.zip"))
    for i in (0, 1):
        _, array = read_mhd(files, case.case_id, f"vol{i:03d}")
        np.testing.assert_array_equal(array, case.volume(i).array.astype(np.int16))


# -- labels ---------------------------------------------------------------------------


def test_isolated_labels_one_file_per_voxel_label(imported, case, out):
    shape = case.volume().shape
    a, b = two_masks(shape)
    with_labels(case, cnb.Label.voxel(a, name="a"), cnb.Label.point([0, 0, 0], name="p"),
                 cnb.Label.voxel(b, name="b"))
    files = read_archive(imported.export_cases(case.case_id, out / "out.zip"))
    cid = case.case_id
    assert sorted(n for n in files if "label" in n) == [
        f"{cid}/vol000-label000.mhd", f"{cid}/vol000-label000.raw",
        f"{cid}/vol000-label002.mhd", f"{cid}/vol000-label002.raw"]
    for stem, mask in (("vol000-label000", a), ("vol000-label002", b)):
        header, array = read_mhd(files, cid, stem)
        assert header["ElementType"] == "MET_UCHAR"
        assert header["ElementDataFile"] == f"{stem}.raw"
        assert header["ElementSpacing"] == parse_mhd(files[f"{cid}/vol000.mhd"])["ElementSpacing"]
        np.testing.assert_array_equal(array, mask.astype(np.uint8))


def test_combined_labels_later_labels_win(imported, case, out):
    a, b = two_masks(case.volume().shape)
    with_labels(case, cnb.Label.voxel(a, name="a"), cnb.Label.voxel(b, name="b"))
    files = read_archive(imported.export_cases(case.case_id, out / "out.zip",
                                               labels="combined"))
    assert not any("label0" in name for name in files)
    header, array = read_mhd(files, case.case_id, "vol000-label")
    assert header["ElementType"] == "MET_UCHAR"
    expected = np.zeros(a.shape, np.uint8)
    expected[a], expected[b] = 1, 2
    np.testing.assert_array_equal(array, expected)
    assert array[7, 25, 25] == 2 and array[3, 12, 12] == 1  # overlap, then a only


def test_no_voxel_labels_no_label_files(imported, case, out):
    with_labels(case, cnb.Label.point([1, 2, 3], name="p"))
    for mode in ("isolated", "combined"):
        files = read_archive(imported.export_cases(case.case_id, out / f"{mode}.zip",
                                                   labels=mode))
        assert len(files) == 3


# -- data.json, revisions ---------------------------------------------------------------


def test_data_json_describes_the_case_and_revision(imported, case, uid, out):
    a, _ = two_masks(case.volume().shape)
    label = cnb.Label.voxel(a, name="a", color="#00ff00")
    saved = with_labels(case, label, cnb.Label.point([1, 2, 3]))
    files = read_archive(imported.export_cases(case.case_id, out / "out.zip"))
    data = json.loads(files[f"{case.case_id}/data.json"])
    assert data["case_id"] == case.case_id
    assert data["project_id"] == case.project_id and data["project_name"] == "P"
    assert data["tags"] == ["x"]
    revision = data["revision"]
    assert revision["index"] == 1 and revision["description"] == "labels"
    assert revision["creator"] == "admin@example.org" and revision["status"] == "draft"
    assert revision["date"] == saved.date.isoformat() and revision["attributes"] == {}
    [entry] = revision["series"]
    assert entry["series_uid"] == uid
    assert entry["partial_volume"] == {"start": 3, "end": 62, "delta": 1}
    assert entry["labels"][0] == json.loads(json.dumps(label.to_json()))
    assert entry["labels"][1]["type"] == "point"


def test_a_chosen_revision_is_exported(imported, case, out):
    a, _ = two_masks(case.volume().shape)
    with_labels(case, cnb.Label.voxel(a))
    files = read_archive(imported.export_cases(case.case_id, out / "out.zip", revision=0))
    data = json.loads(files[f"{case.case_id}/data.json"])
    assert data["revision"]["index"] == 0
    assert data["revision"]["description"] == "Created new case."
    assert not any("label" in name for name in files)


def test_a_missing_revision_is_not_found(imported, case, out):
    with pytest.raises(cnb.NotFoundError, match="has no revision 5"):
        imported.export_cases(case.case_id, out / "out.zip", revision=5)
    assert list(out.iterdir()) == []


# -- tar.gz and NIfTI -------------------------------------------------------------------


def test_tar_gz_into_a_folder(imported, case, out):
    target = imported.export_cases(case.case_id, out, archive="tar.gz")
    assert target == out / f"{case.case_id}.tar.gz"
    assert tarfile.is_tarfile(target) and not zipfile.is_zipfile(target)
    files = read_archive(target)
    _, array = read_mhd(files, case.case_id, "vol000")
    np.testing.assert_array_equal(array, case.volume().array.astype(np.int16))


def test_nifti_round_trip(imported, case, uid, out):
    nibabel = pytest.importorskip("nibabel")
    a, b = two_masks(case.volume().shape)
    with_labels(case, cnb.Label.voxel(a), cnb.Label.voxel(b))
    files = read_archive(imported.export_cases(case.case_id, out / "out.zip",
                                               format="nifti", labels="combined"))
    cid = case.case_id
    assert set(files) == {f"{cid}/data.json", f"{cid}/vol000.nii.gz",
                          f"{cid}/vol000-label.nii.gz"}

    def load(name):
        return nibabel.Nifti1Image.from_bytes(gzip.decompress(files[f"{cid}/{name}"]))

    image = load("vol000.nii.gz")
    assert image.shape == (64, 64, 60)
    assert image.header.get_zooms() == pytest.approx((*pixel_spacing(imported, uid), 5.0))
    assert image.get_data_dtype() == np.int16
    volume = case.volume().array
    np.testing.assert_array_equal(np.asarray(image.dataobj), volume.transpose(2, 1, 0))
    # placed in the patient: the volume's affine, as RAS (not just the spacing)
    np.testing.assert_allclose(image.affine, ras_affine(case.volume().affine))
    assert image.header.get_qform(coded=True)[1] == image.header.get_sform(coded=True)[1] == 1
    labels = np.asarray(load("vol000-label.nii.gz").dataobj)
    assert labels.dtype == np.uint8
    assert labels[25, 25, 7] == 2 and labels[12, 12, 3] == 1 and labels[0, 0, 0] == 0


# -- refusals ---------------------------------------------------------------------------


def test_exporting_needs_download_volume(imported, populated, uid, out):
    case = imported.create_case(populated.project_id, [(uid, (3, 5, 1))])
    with imported.as_user("reader@example.org"), \
            pytest.raises(cnb.PermissionDenied, match="'downloadVolume'"):
        imported.export_cases(case.case_id, out / "out.zip")
    assert list(out.iterdir()) == []


def test_exporting_needs_read_on_the_project(imported, case, out):
    imported.add_group("downloaders", privileges=["downloadVolume"])
    imported.add_user("dl@example.org", groups=["downloaders"])
    with imported.as_user("dl@example.org"), \
            pytest.raises(cnb.PermissionDenied, match="read privilege"):
        imported.export_cases(case.case_id, out / "out.zip")
    imported.grant("downloaders", case.project_id, ["read"])
    with imported.as_user("dl@example.org"):
        assert imported.export_cases(case.case_id, out / "out.zip").is_file()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"format": "dicom"}, "format must be 'mhd' or 'nifti', got 'dicom'"),
     ({"labels": "merged"}, "labels must be 'isolated' or 'combined', got 'merged'"),
     ({"archive": "7z"}, "archive must be 'zip' or 'tar.gz', got '7z'"),
     ({"revision": "0"}, "revision must be None .* got '0'")],
)
def test_bad_arguments(store, out, kwargs, message):
    with pytest.raises(cnb.ValidationError, match=message):
        store.export_cases("any-case", out / "out.zip", **kwargs)
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("case_ids", [[], [1], None, b"abc"])
def test_case_ids_must_be_ids(store, out, case_ids):
    with pytest.raises(cnb.ValidationError, match="case_ids must be a case id or a non-empty"):
        store.export_cases(case_ids, out / "out.zip")


def test_an_existing_file_is_not_overwritten(imported, case, out):
    target = out / "out.zip"
    target.write_bytes(b"keep me")
    with pytest.raises(cnb.ValidationError, match="out.zip already exists"):
        imported.export_cases(case.case_id, target)
    assert target.read_bytes() == b"keep me"
    imported.export_cases(case.case_id, out)
    with pytest.raises(cnb.ValidationError, match=f"{case.case_id}.zip already exists"):
        imported.export_cases(case.case_id, out)


def test_an_unknown_case_is_not_found_and_nothing_is_written(imported, case, out):
    with pytest.raises(cnb.NotFoundError, match="nope"):
        imported.export_cases([case.case_id, "nope"], out / "out.zip")
    assert list(out.iterdir()) == []


def test_a_missing_folder_is_not_found(store, out):
    with pytest.raises(cnb.NotFoundError, match="Create it first"):
        store.export_cases("any-case", out / "no" / "out.zip")


def test_a_failure_while_writing_leaves_nothing(imported, case, out, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(cnb.Case, "volume", broken)
    with pytest.raises(OSError, match="disk full"):
        imported.export_cases(case.case_id, out / "out.zip")
    assert list(out.iterdir()) == []


def test_a_name_not_matching_the_archive_warns(imported, case, out):
    with pytest.warns(UserWarning, match="does not end with '.tar.gz'"):
        target = imported.export_cases(case.case_id, out / "out.zip", archive="tar.gz")
    assert tarfile.is_tarfile(io.BytesIO(target.read_bytes()))
