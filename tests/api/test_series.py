"""Series search, opening series, auto ranges, volumes and thumbnails."""

import contextlib
import gzip
import os
import re
import warnings
import zipfile
from pathlib import Path

import matplotlib
import nibabel
import numpy as np
import pandas as pd
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as PydicomSequence

import circus_nb as cnb
from circus_nb.dicom.pixels import read_image
from circus_nb.thumbnails import make_thumbnail

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo store, opened by the admin acting as alice (tests switch users)."""
    path = tmp_path_factory.mktemp("demo") / "store"
    cnb.demo_store(path).close()
    with cnb.Store.open(path, user="admin@example.org") as store, \
            store.as_user("alice@example.org"):
        yield store


@contextlib.contextmanager
def _as_admin(store):
    """Back to the admin who opened the store: as_user checks the current user (alice),
    so a nested store.as_user("admin@...") is refused."""
    alice, store._user = store._user, "admin@example.org"
    try:
        yield store
    finally:
        store._user = alice


def test_search_is_limited_to_the_users_domains(demo):
    assert len(demo.search_series()) == 5  # alice: default only
    with _as_admin(demo):
        frame = demo.search_series()
    assert len(frame) == 6 and set(frame["domain"]) == {"default", "hospital-b"}
    hidden = frame.loc[frame["domain"] == "hospital-b", "series_uid"].iloc[0]
    with pytest.raises(cnb.PermissionDenied, match="needs the domain 'hospital-b'"):
        demo.series(hidden)


def test_result_columns_and_default_sort(demo):
    frame = demo.search_series()
    for column in ("series_uid", "study_uid", "modality", "series_description", "images",
                   "series_date", "imported_at", "patient_id", "patient_name", "age", "sex"):
        assert column in frame.columns
    assert str(frame["imported_at"].dtype).endswith("UTC]")
    assert frame["imported_at"].is_monotonic_decreasing


def test_patient_fields_are_masked_without_privilege_and_preference(demo):
    frame = demo.search_series()
    assert frame[["patient_id", "patient_name", "age", "sex"]].isna().all().all()
    assert demo.series(frame["series_uid"][0]).patient is None
    with _as_admin(demo):
        assert demo.search_series()["patient_name"].isna().all()  # privilege, no preference
        demo.set_preference("personal_info_view", True)
        try:
            shown = demo.search_series()
            assert set(shown["patient_name"]) == {"Doe^Jane", "Müller^Jürgen"}
            assert "(masked)" not in str(demo.series(shown["series_uid"][0]))
        finally:
            demo.set_preference("personal_info_view", False)
    with _as_admin(demo), demo.as_user("bob@example.org"):
        demo.set_preference("personal_info_view", True)  # a preference alone shows nothing
        assert demo.search_series()["patient_name"].isna().all()


def test_filtering_by_patient_fields_needs_personal_info_view(demo):
    for kwargs in ({"patient_id": "CNB"}, {"patient_name": "doe"}, {"sex": "F"},
                   {"min_age": 10}, {"max_age": 90}):
        with pytest.raises(cnb.PermissionDenied, match="You cannot search using patient"
                                                       " information."):
            demo.search_series(**kwargs)
    with _as_admin(demo):
        assert len(demo.search_series(patient_name="müller")) == 2  # works without preference
        assert len(demo.search_series(sex="f", min_age=50, max_age=53)) == 4
        assert len(demo.search_series(min_age=54)) == 2


def test_text_and_date_filters(demo):
    assert set(demo.search_series(modality="mr")["modality"]) == {"MR"}
    assert len(demo.search_series(description="CHEST")) == 3
    some = demo.search_series()["series_uid"][0]
    assert list(demo.search_series(series_uid=some[-12:])["series_uid"]) == [some]
    assert len(demo.search_series(date_from="2024-04-01", date_to="2024-04-02")) == 1
    assert len(demo.search_series(date_to=pd.Timestamp("2024-03-01").date())) == 3
    assert len(demo.search_series(imported_from="2000-01-01")) == 5
    assert demo.search_series(imported_to="2000-01-01").empty


def test_sort_and_paging(demo):
    frame = demo.search_series(sort=["modality", "-series_description"])
    assert list(frame["modality"]) == ["CT"] * 4 + ["MR"]
    ct = list(frame["series_description"][:4])
    assert ct == sorted(ct, reverse=True)
    pages = [demo.search_series(sort=["series_uid"], limit=2, offset=k) for k in (0, 2, 4)]
    assert list(pd.concat(pages)["series_uid"]) == sorted(frame["series_uid"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"limit": 201}, "limit must be 1 to 200 rows a page, got 201"),
     ({"limit": 0}, "limit must be 1 to 200"),
     ({"offset": -1}, "offset must be an integer >= 0"),
     ({"sort": ["a", "b", "c", "d", "e", "f"]}, "At most 5 sort keys, got 6"),
     ({"sort": ["-colour"]}, "Cannot sort by '-colour'"),
     ({"date_from": "last tuesday"}, "date_from must be a date such as '2024-03-01'")],
)
def test_bad_search_arguments(demo, kwargs, message):
    with pytest.raises(cnb.ValidationError, match=message):
        demo.search_series(**kwargs)


def test_unknown_series_is_not_found(demo):
    with pytest.raises(cnb.NotFoundError, match="No series '9.9.9'"):
        demo.series("9.9.9")


def test_auto_ranges_of_the_samples(imported, samples):
    for sample in samples[1].values():
        assert imported.resolve_auto(sample.series_uid) == cnb.PartialVolume(*sample.auto)


def _series_with_positions(store, samples, tmp_path, z_by_number):
    source = samples[1]["abdomen_ct"].folder / "IM00001.dcm"
    folder = tmp_path / "positions"
    folder.mkdir()
    for number, z in z_by_number.items():
        ds = pydicom.dcmread(source)
        ds.SeriesInstanceUID = "1.2.3.4.5"
        ds.SOPInstanceUID = f"1.2.3.4.5.{number}"
        ds.InstanceNumber = number
        if z is None:
            del ds.ImagePositionPatient
        else:
            ds.ImagePositionPatient = [0, 0, z]
        ds.save_as(folder / f"{number}.dcm")
    store.import_dicom(folder, progress=False)
    return store.series("1.2.3.4.5")


def test_auto_with_a_missing_position_is_a_clear_error(store, samples, tmp_path):
    series = _series_with_positions(store, samples, tmp_path, {1: 0.0, 2: None})
    with pytest.raises(cnb.ValidationError, match="but image 2 has none"):
        series.resolve_auto()
    assert series.volume((1, 2, 1)).positions == ((0.0, 0.0, 0.0), None)


def test_auto_with_z_zero(store, samples, tmp_path):
    series = _series_with_positions(store, samples, tmp_path, {4: 0.0, 5: 7.5})
    assert series.resolve_auto() == cnb.PartialVolume(5, 4, -1)


def test_auto_of_a_single_image_needs_no_position(store, samples, tmp_path):
    series = _series_with_positions(store, samples, tmp_path, {9: None})
    assert series.resolve_auto() == cnb.PartialVolume(9, 9, 1)
    assert series.volume().spacing[0] == pytest.approx(5.0)  # SliceThickness


def test_a_volume_follows_its_range(imported, samples):
    sample = samples[1]["chest_ct_localizer"]
    series = imported.series(sample.series_uid)
    volume = series.volume((3, 62, 1))
    assert volume.array.shape == (60, 64, 64) and volume.array.dtype == np.float32
    assert volume.instance_numbers == tuple(range(3, 63))
    assert volume.spacing[0] == pytest.approx(5.0)
    assert volume.spacing[1:] == pytest.approx((360 / 64, 360 / 64))
    zs = [p[2] for p in volume.positions]
    assert zs == sorted(zs, reverse=True)  # head first
    assert volume.array.min() == pytest.approx(-1000, abs=80)  # air, rescaled to HU
    backwards = series.volume(cnb.PartialVolume(62, 3, -1))
    np.testing.assert_array_equal(backwards.array, volume.array[::-1])
    every_other = series.volume((3, 61, 2))
    np.testing.assert_array_equal(every_other.array, volume.array[::2])
    assert every_other.spacing[0] == pytest.approx(10.0)


def test_volume_values_match_pydicom(imported, samples):
    sample = samples[1]["abdomen_ct"]
    volume = imported.series(sample.series_uid).volume()
    ds = pydicom.dcmread(sample.folder / "IM00010.dcm")
    expected = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    np.testing.assert_allclose(volume.array[9], expected)


def test_auto_volume_of_the_localizer_series_is_the_localizer(imported, samples):
    series = imported.series(samples[1]["chest_ct_localizer"].series_uid)
    assert series.volume().instance_numbers == (1,)


def test_ranges_outside_the_series_are_refused(imported, samples):
    series = imported.series(samples[1]["chest_ct_localizer"].series_uid)
    with pytest.raises(cnb.ValidationError, match=r"Specified range is invalid\. 1, 2, 3 asks for"
                                                  r" image\(s\) 2, which series"):
        series.volume((1, 3, 1))
    with pytest.raises(cnb.ValidationError, match="A range is 'auto', a PartialVolume or"):
        series.volume("all")


def test_images_of_different_sizes_do_not_stack(store, samples, tmp_path):
    series = _series_with_positions(store, samples, tmp_path, {1: 10.0})
    ds = pydicom.dcmread(samples[1]["abdomen_ct"].folder / "IM00002.dcm")
    ds.SeriesInstanceUID = series.series_uid
    ds.PixelData = ds.pixel_array[:32, :48].tobytes()
    ds.Rows, ds.Columns = 32, 48
    ds.save_as(tmp_path / "small.dcm")
    store.import_dicom(tmp_path / "small.dcm", progress=False)
    with pytest.raises(cnb.CircusError, match=r"differ in size \(image 1 is 64 x 64, image 2 is"
                                              r" 32 x 48\)"):
        store.series(series.series_uid).volume((1, 2, 1))


def test_thumbnails_are_small_windowed_and_cached(imported, samples):
    sample = samples[1]["chest_ct_lung"]
    series = imported.series(sample.series_uid)
    thumb = series.thumbnail(30, size=32)
    assert thumb.shape == (32, 32) and thumb.dtype == np.uint8
    assert series.thumbnail(30, size=512).shape == (64, 64)  # never larger than the image
    row = series.instances().set_index("instance_number").loc[30]
    expected = make_thumbnail(series.volume((30, 30, 1)).array[0], 32,
                              (row["window_center"], row["window_width"]))
    np.testing.assert_array_equal(thumb, expected)
    cached = imported._db().execute(
        "SELECT count(*) FROM thumbnails WHERE series_uid = ?", [sample.series_uid]).fetchone()
    assert cached == (2,)
    np.testing.assert_array_equal(series.thumbnail(30, size=32), thumb)
    with pytest.raises(cnb.ValidationError, match="has no image 99"):
        series.thumbnail(99)


def test_thumbnails_work_read_only(imported, samples):
    imported.close()
    uid = samples[1]["abdomen_ct"].series_uid
    with cnb.Store.open(imported.path, user="admin@example.org", read_only=True) as store:
        assert store.series(uid).thumbnail(1, 16).shape == (16, 16)


def test_draw_thumbnails(imported, samples):
    series = imported.series(samples[1]["mr_interleaved"].series_uid)
    ax = series.draw_thumbnails((1, 47, 2), count=4)
    assert len(ax.images) == 4
    labels = [t.get_text() for t in ax.texts]
    assert labels[0].startswith("#1 z=") and labels[-1].startswith("#47 z=")


def test_draw_thumbnails_on_given_axes(imported, samples):
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2)
    series = imported.series(samples[1]["chest_ct_feet_first"].series_uid)
    assert series.draw_thumbnails(count=3, ax=right) is right
    assert len(right.images) == 3 and not left.images
    assert [t.get_text().split()[0] for t in right.texts] == ["#40", "#20", "#1"]  # auto order
    plt.close(figure)


def test_series_reprs(imported, samples):
    series = imported.series(samples[1]["chest_ct_localizer"].series_uid)
    sample = samples[1]["chest_ct_localizer"]
    assert repr(series) == (f"<Series CT {sample.description!r} images=1,3-62"
                            f" uid={sample.series_uid}>")
    for label in ("series_uid", "modality", "images", "patient", "domain"):
        assert label in str(series) and label in series._repr_html_()
    assert "(masked)" in str(series)


# -- helpers for crafted and real files --------------------------------------------


def _small_ct(folder, n=4, **changes):
    """A small CT series written by circus_nb.sample, each file then edited with
    ``changes`` (a keyword -> value, or ``None`` to delete it); returns its files."""
    from circus_nb.sample import write_ct_series

    sample = write_ct_series(folder, n=n, size=16, spacing_z=2.5)
    files = sorted(sample.folder.glob("*.dcm"))
    for file in files:
        ds = pydicom.dcmread(file)
        for keyword, value in changes.items():
            if value is None:
                delattr(ds, keyword)
            else:
                _set_raw(ds, keyword, value)
        ds.save_as(file)
    return sample.series_uid, files


def _set_raw(ds, keyword, text):
    """Write a DS value as raw text, even text pydicom would refuse ('abc\\def')."""
    from pydicom.datadict import tag_for_keyword
    from pydicom.dataelem import RawDataElement
    from pydicom.tag import Tag

    tag = Tag(tag_for_keyword(keyword))
    raw = text.encode() + b" " * (len(text) % 2)
    ds._dict[tag] = RawDataElement(tag, "DS", len(raw), raw, 0, False, True)


def _real(name):
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name, download=False)  # never the network
    if path is None:
        pytest.fail(f"{name} is not installed; pip install pydicom-data")
    return Path(path)


def _import_one(store, path, uid="1.2.826.0.1.3680043.8.498.7", number=1, edit=None, folder=None):
    """Import a copy of ``path`` as image ``number`` of series ``uid``."""
    ds = pydicom.dcmread(path)
    ds.SeriesInstanceUID, ds.InstanceNumber = uid, number
    ds.SOPInstanceUID = f"{uid}.{number}"
    if edit is not None:
        edit(ds)
    target = Path(folder or store.data_dir.parent.parent) / f"{uid}-{number}.dcm"
    ds.save_as(target)
    report = store.import_dicom(target, progress=False)
    assert list(report.files["status"]) == ["imported"], report.files["reason"][0]
    return store.series(uid)


# -- issue 9, item 14: a file changed after import is never read silently -----------


@pytest.fixture
def referenced(store, tmp_path):
    uid, files = _small_ct(tmp_path / "outside")
    store.import_dicom(files, mode="reference", progress=False)
    return store.series(uid), files


def test_a_referenced_file_that_changed_size_is_refused(referenced):
    series, files = referenced
    size = files[1].stat().st_size
    with open(files[1], "ab") as f:
        f.write(b"\0" * 4)
    message = (rf"{re.escape(str(files[1]))} \(image 2 of series {series.series_uid}\) changed"
               rf" after it was imported: its size changed from {size} to {size + 4} bytes\."
               r" Its pixels are no longer those the catalog describes, so they are not read\."
               r" Put the original file back at that path")
    with pytest.raises(cnb.CircusError, match=message) as info:
        series.volume((1, 4, 1))
    assert info.value.field == "path" and info.value.value == str(files[1])
    with pytest.raises(cnb.CircusError, match=message):
        series.thumbnail(2)
    assert series.volume((3, 4, 1)).shape == (2, 16, 16)  # the others still read


def test_a_referenced_file_rewritten_to_the_same_size_is_refused(referenced):
    series, files = referenced
    before = files[0].stat()
    ds = pydicom.dcmread(files[0])
    ds.PixelData = (ds.pixel_array[::-1].copy()).tobytes()  # other pixels, same length
    ds.save_as(files[0])
    os.utime(files[0], (before.st_atime, before.st_mtime + 30))
    assert files[0].stat().st_size == before.st_size
    with pytest.raises(cnb.CircusError, match=r"changed after it was imported: it was modified at"
                                              r" .* UTC \(at import: .* UTC\)"):
        series.volume((1, 2, 1))


def test_a_missing_referenced_file_is_refused_and_a_restored_one_reads_again(referenced):
    series, files = referenced
    original = files[2].read_bytes()
    stamp = files[2].stat()
    expected = series.volume((3, 3, 1)).array
    files[2].unlink()
    with pytest.raises(cnb.CircusError, match=r"\(image 3 of series .*\) changed after it was"
                                              r" imported: it is missing\."):
        series.volume((1, 4, 1))
    with pytest.raises(cnb.CircusError, match="it is missing"):
        series.thumbnail(3, 8)
    files[2].write_bytes(original)
    os.utime(files[2], (stamp.st_atime, stamp.st_mtime))  # as it was: the way out works
    np.testing.assert_array_equal(series.volume((3, 3, 1)).array, expected)


def test_the_stores_own_copy_changed_is_refused(store, tmp_path):
    uid, files = _small_ct(tmp_path / "source")
    store.import_dicom(files, progress=False)  # copied into the store
    series = store.series(uid)
    assert series.volume((1, 4, 1)).shape == (4, 16, 16)  # an untouched copy reads
    root = store.data_dir.parent
    copies = {row.instance_number: root / row.path for row in series.instances().itertuples()}
    stamp = copies[1].stat()
    os.utime(copies[1], (stamp.st_atime, stamp.st_mtime + 60))  # written after the import
    with pytest.raises(cnb.CircusError, match=r"it was modified at .* after the import copied it"
                                              r" at .*\. .* Copy the original file over the"
                                              r" store's copy"):
        series.volume((1, 2, 1))
    copies[2].write_bytes(copies[2].read_bytes()[:-10])
    with pytest.raises(cnb.CircusError, match=r"image 2 .* its size changed from \d+ to \d+"):
        series.thumbnail(2)


# -- issue 9, item 15: series without orientation, with unusable spacings ------------


def test_a_series_without_orientation_loads_with_its_spacing(store, tmp_path):
    uid, _ = _small_ct(tmp_path / "no-iop", ImageOrientationPatient=None)
    store.import_dicom(tmp_path / "no-iop", progress=False)
    series = store.series(uid)
    volume = series.volume()
    assert volume.shape == (4, 16, 16)
    assert volume.spacing == pytest.approx((2.5, 360 / 16, 360 / 16))  # z from positions
    assert volume.notes == ()


def test_cases_and_exports_of_a_series_without_orientation(store, tmp_path):
    uid, _ = _small_ct(tmp_path / "no-iop", ImageOrientationPatient=None)
    store.import_dicom(tmp_path / "no-iop", progress=False)
    project = store.create_project("Orientation")
    case = store.create_case(project.project_id, [uid])
    assert case.volume().spacing[0] == pytest.approx(2.5)
    archive = store.export_cases([case.case_id], tmp_path / "export.zip")
    with zipfile.ZipFile(archive) as z:
        header = next(n for n in z.namelist() if n.endswith("vol000.mhd"))
        assert "ElementSpacing = 22.5 22.5 2.5" in z.read(header).decode()


@pytest.mark.parametrize("text", ["abc\\def", "0\\0", "-1\\-1", "nan\\nan", "1", "inf\\1"])
def test_an_unusable_pixel_spacing_loads_as_one_mm_and_says_so(store, tmp_path, text):
    uid, _ = _small_ct(tmp_path / "spacing", PixelSpacing=text)
    store.import_dicom(tmp_path / "spacing", progress=False)
    with pytest.warns(UserWarning, match=rf"Series {uid}: PixelSpacing '.*' is not two positive"
                                         r" numbers \(row and column spacing in mm\): y and x"
                                         r" spacing taken as 1\.0 mm\."):
        volume = store.series(uid).volume()
    assert volume.spacing == pytest.approx((2.5, 1.0, 1.0))
    assert len(volume.notes) == 1 and "is not two positive numbers" in volume.notes[0]
    assert "taken as 1.0 mm" in str(volume)


def test_no_positions_and_a_bad_thickness_give_one_mm_with_notes(store, tmp_path):
    uid, _ = _small_ct(tmp_path / "thin", ImagePositionPatient=None, SliceThickness="0")
    store.import_dicom(tmp_path / "thin", progress=False)
    with pytest.warns(UserWarning, match=r"SliceThickness '0.0' is not a positive number"):
        volume = store.series(uid).volume((1, 4, 1))
    assert volume.spacing == pytest.approx((1.0, 22.5, 22.5))
    assert volume.notes[-1] == ("z spacing taken as 1.0 mm: not every slice has"
                                " ImagePositionPatient, and there is no usable SliceThickness.")


def test_no_positions_fall_back_to_the_thickness(store, tmp_path):
    uid, _ = _small_ct(tmp_path / "thick", ImagePositionPatient=None, SliceThickness="3")
    store.import_dicom(tmp_path / "thick", progress=False)
    volume = store.series(uid).volume((1, 4, 1))
    assert volume.spacing[0] == 3.0 and "z spacing is SliceThickness (3 mm)" in volume.notes[0]


NIBABEL_DATA = Path(nibabel.__file__).parent / "nicom" / "tests" / "data"


@pytest.mark.parametrize("orientation", [True, False])
def test_real_siemens_slices_with_and_without_orientation(store, tmp_path, orientation):
    for name in ("0.dcm", "1.dcm"):
        ds = pydicom.dcmread(NIBABEL_DATA / name)
        if not orientation:
            del ds.ImageOrientationPatient
        ds.save_as(tmp_path / name)
    report = store.import_dicom([tmp_path / "0.dcm", tmp_path / "1.dcm"], progress=False)
    series = store.series(report.files["series_uid"][0])
    volume = series.volume((1, 2, 1))
    assert volume.shape == (2, 256, 256)
    assert volume.spacing == pytest.approx((3.0, 1.796875, 1.796875), abs=1e-4)


def test_a_real_file_with_an_empty_slice_thickness(store, tmp_path):
    ds = pydicom.dcmread(NIBABEL_DATA / "slicethickness_empty_string.dcm")
    del ds.IconImageSequence  # the importer's business (a nested PixelData), not this test's
    ds.save_as(tmp_path / "empty-thickness.dcm")
    report = store.import_dicom(tmp_path / "empty-thickness.dcm", progress=False)
    series = store.series(report.files["series_uid"][0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an empty value is unknown, not wrong: no warning
        volume = series.volume()
    assert volume.spacing == pytest.approx((1.0, 0.520833, 0.520833))
    assert volume.notes == ("z spacing taken as 1.0 mm: there is no usable SliceThickness.",)


# -- issue 9, item 17: multi-frame volumes, colour thumbnails ----------------------


def test_an_enhanced_mr_without_positions_gives_its_frames_in_file_order(store):
    series = _import_one(store, _real("emri_small.dcm"))
    assert series.volume_shape() == (10, 64, 64)
    volume = series.volume()
    expected = pydicom.dcmread(_real("emri_small.dcm")).pixel_array
    np.testing.assert_array_equal(volume.array, expected)
    assert volume.instance_numbers == (1,) * 10 and volume.frame_numbers == tuple(range(1, 11))
    assert volume.spacing == pytest.approx((1.2, 1.0, 1.0))  # SpacingBetweenSlices
    assert "PixelSpacing is absent" in volume.notes[0]


def test_an_enhanced_ct_gives_its_frames_head_first(store):
    series = _import_one(store, _real("eCT_Supplemental.dcm"))
    volume = series.volume()
    ds = pydicom.dcmread(_real("eCT_Supplemental.dcm"))
    assert volume.frame_numbers == (2, 1)  # z -149 above z -159
    assert [p[2] for p in volume.positions] == [-149.0, -159.0]
    np.testing.assert_array_equal(volume.array, ds.pixel_array[::-1] - 1024.0)
    assert volume.spacing == pytest.approx((10.0, 0.388672, 0.388672))
    assert series.volume_shape() == volume.shape == (2, 512, 512)
    assert "frames 2, 1" in str(volume)


def _with_frame_positions(zs):
    def edit(ds):
        ds.PixelData = ds.pixel_array[:len(zs)].tobytes()
        ds.NumberOfFrames = len(zs)
        orientation, measures = Dataset(), Dataset()
        orientation.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        measures.PixelSpacing, measures.SliceThickness = [0.5, 0.5], 3
        shared = Dataset()
        shared.PlaneOrientationSequence = PydicomSequence([orientation])
        shared.PixelMeasuresSequence = PydicomSequence([measures])
        ds.SharedFunctionalGroupsSequence = PydicomSequence([shared])
        frames = []
        for z in zs:
            position, frame = Dataset(), Dataset()
            position.ImagePositionPatient = [0, 0, z]
            frame.PlanePositionSequence = PydicomSequence([position])
            frames.append(frame)
        ds.PerFrameFunctionalGroupsSequence = PydicomSequence(frames)
    return edit


def test_frames_are_ordered_by_position_along_the_normal(store):
    zs = [0.0, 8.0, -4.0, 4.0, -8.0]
    series = _import_one(store, _real("emri_small.dcm"), edit=_with_frame_positions(zs))
    volume = series.volume()
    stored = pydicom.dcmread(_real("emri_small.dcm")).pixel_array
    assert volume.frame_numbers == (2, 4, 1, 3, 5)
    assert [p[2] for p in volume.positions] == [8.0, 4.0, 0.0, -4.0, -8.0]
    np.testing.assert_array_equal(volume.array, stored[[1, 3, 0, 2, 4]])
    assert volume.spacing == pytest.approx((4.0, 0.5, 0.5))
    assert series.volume_shape() == (5, 64, 64) == volume.shape


def test_frames_in_one_place_are_refused(store):
    series = _import_one(store, _real("emri_small.dcm"),
                         edit=_with_frame_positions([0.0, 5.0, 0.0, 5.0]))
    with pytest.raises(cnb.CircusError, match=r"Cannot make one volume of image 1 of series .*:"
                                              r" frames 1 and 3 lie in the same place, so the"
                                              r" file holds several stacks or time points\."):
        series.volume()


def test_a_real_sagittal_enhanced_mr_from_philips(store, tmp_path):
    with gzip.open(NIBABEL_DATA / "philips_mprage.dcm.gz") as f:
        (tmp_path / "mprage.dcm").write_bytes(f.read())
    report = store.import_dicom(tmp_path / "mprage.dcm", progress=False)
    series = store.series(report.files["series_uid"][0])
    volume = series.volume()
    assert volume.shape == series.volume_shape() == (176, 256, 256)
    # the stack tilts: its last frame in the file lies highest, so it comes first
    assert volume.frame_numbers == tuple(range(176, 0, -1))
    assert volume.positions[0][2] > volume.positions[-1][2]
    assert volume.spacing == pytest.approx((1.0, 1.0, 1.0), abs=1e-5)


def test_several_multi_frame_images_do_not_stack(store):
    series = _import_one(store, _real("emri_small.dcm"), number=1)
    series = _import_one(store, _real("emri_small.dcm"), number=2)
    message = (r"is made of multi-frame images \(10 frames each\): the 2 images of range 1, 2 do"
               r" not stack into one volume\. Choose one image, e\.g\. \(1, 1, 1\)")
    with pytest.raises(cnb.CircusError, match=message):
        series.volume((1, 2, 1))
    with pytest.raises(cnb.CircusError, match=message):
        series.volume_shape((1, 2, 1))
    assert series.volume((2, 2, 1)).shape == (10, 64, 64)


def test_volume_shape_of_single_frame_series_needs_no_pixels(imported, samples, monkeypatch):
    import circus_nb.api.series as api_series

    monkeypatch.setattr(api_series, "read_image", _no_reading)
    series = imported.series(samples[1]["chest_ct_lung"].series_uid)
    assert series.volume_shape() == (60, 64, 64)
    assert series.volume_shape((59, 1, -2)) == (30, 64, 64)
    with pytest.raises(cnb.ValidationError, match="Specified range is invalid"):
        series.volume_shape((1, 61, 1))


def _no_reading(*args, **kwargs):
    raise AssertionError("no pixels may be read")


@pytest.mark.parametrize("name", ["SC_rgb.dcm", "SC_ybr_full_uncompressed.dcm", "US1_UNCR.dcm"])
def test_colour_images_give_colour_thumbnails(store, name):
    series = _import_one(store, _real(name))
    expected = pydicom.dcmread(_real(name)).pixel_array
    thumb = series.thumbnail(1, size=4096)
    assert thumb.dtype == np.uint8 and thumb.shape == expected.shape  # never enlarged
    np.testing.assert_array_equal(thumb, expected)
    small = series.thumbnail(1, size=32)
    assert small.ndim == 3 and max(small.shape[:2]) <= 32 and small.shape[2] == 3
    with pytest.raises(cnb.CircusError, match=r"is a colour image .*a volume takes grayscale"):
        series.volume()


def test_colour_thumbnails_are_cached_as_colour(store, tmp_path):
    series = _import_one(store, _real("SC_rgb.dcm"))
    first = series.thumbnail(1, size=50)
    height, width, pixels = store._db().execute(
        "SELECT height, width, pixels FROM thumbnails WHERE series_uid = ?",
        [series.series_uid]).fetchone()
    assert (height, width, len(pixels)) == (50, 50, 50 * 50 * 3)
    np.testing.assert_array_equal(series.thumbnail(1, size=50), first)  # from the cache
    store.close()
    with cnb.Store.open(store.path, user="admin@example.org", read_only=True) as again:
        np.testing.assert_array_equal(again.series(series.series_uid).thumbnail(1, 50), first)


def test_a_palette_ultrasound_thumbnail_is_in_colour(store):
    series = _import_one(store, _real("OBXXXX1A.dcm"))
    thumb = series.thumbnail(1, size=64)
    assert thumb.shape == (46, 61, 3)  # 800 x 600 in blocks of 13 x 13
    assert (thumb[..., 0] != thumb[..., 2]).any()  # colours, not grey


def test_draw_thumbnails_of_a_colour_series(store):
    import matplotlib.pyplot as plt

    series = _import_one(store, _real("SC_rgb.dcm"))
    ax = series.draw_thumbnails(count=1, size=40)
    assert ax.images[0].get_array().shape == (33, 33, 3)  # 100 x 100 in blocks of 3 x 3
    plt.close(ax.figure)


def test_a_multi_frame_thumbnail_shows_the_middle_frame(store):
    series = _import_one(store, _real("emri_small.dcm"))
    frame = pydicom.dcmread(_real("emri_small.dcm")).pixel_array[5].astype(np.float32)
    np.testing.assert_array_equal(series.thumbnail(1, size=32), make_thumbnail(frame, 32))


@pytest.mark.parametrize("name", ["JPEG-lossy.dcm", "JPEG2000-embedded-sequence-delimiter.dcm"])
def test_a_thumbnail_of_an_undecodable_file_names_the_file(store, name):
    series = _import_one(store, _real(name))
    with pytest.raises(cnb.CircusError, match=r"Cannot load the pixels of .*: the pixel data"
                                              r" cannot be decoded") as info:
        series.thumbnail(1)
    stored = store.data_dir.parent / series.instances()["path"][0]
    assert str(stored) in str(info.value)


# -- issue 9, item 19: bad thumbnail arguments, huge ranges --------------------------


@pytest.mark.parametrize("size", [0, -1, None, "abc", 2**31, 2.5, True])
def test_a_bad_thumbnail_size_is_a_validation_error(imported, samples, size):
    series = imported.series(samples[1]["abdomen_ct"].series_uid)
    with pytest.raises(cnb.ValidationError, match=r"Thumbnail size must be a whole number of"
                                                  r" pixels from 1 to 65535, got") as info:
        series.thumbnail(1, size=size)
    assert info.value.field == "size"
    cached = imported._db().execute("SELECT count(*) FROM thumbnails").fetchone()
    assert cached == (0,)


@pytest.mark.parametrize("number", ["abc", None, True, 2**40, -1, 1.5])
def test_a_bad_instance_number_is_a_validation_error(imported, samples, number):
    series = imported.series(samples[1]["abdomen_ct"].series_uid)
    with pytest.raises(cnb.ValidationError, match=rf"has no image {re.escape(repr(number))}"
                                                  r" \(its images: 1-50\)") as info:
        series.thumbnail(number)
    assert info.value.field == "instance_number"


@pytest.fixture
def no_listing(monkeypatch):
    """Listing a range is refused: a huge one must be judged by arithmetic."""
    def refuse(self):
        raise AssertionError(f"{self} was listed")
    monkeypatch.setattr(cnb.PartialVolume, "to_list", refuse)


def test_a_huge_range_is_refused_without_listing_it(imported, samples, no_listing):
    series = imported.series(samples[1]["abdomen_ct"].series_uid)
    message = (r"Specified range is invalid\. 1, 2, 3, \.\.\., 1000000000 asks for image\(s\)"
               r" 51, 52, 53, 54, 55, which series .* does not have \(its images: 1-50\)")
    for call in (series.volume, series.volume_shape, series.partial_volume):
        with pytest.raises(cnb.ValidationError, match=message):
            call((1, 10**9, 1))
    with pytest.raises(cnb.ValidationError, match=r"asks for image\(s\) 1000000000, 999999999,"):
        series.draw_thumbnails((10**9, 1, -1))


def test_a_volume_larger_than_memory_is_refused_before_reading(imported, samples, monkeypatch):
    import circus_nb.api.series as api_series

    monkeypatch.setattr(api_series, "_memory_limit", lambda: 2**19)  # a 512 KiB machine
    monkeypatch.setattr(api_series, "read_image", _no_reading)
    series = imported.series(samples[1]["abdomen_ct"].series_uid)
    with pytest.raises(cnb.CircusError, match=r"The volume of range 1, 2, 3, \.\.\., 50 of series"
                                              r" .* would be 50 x 64 x 64 float32 voxels \(0\.0"
                                              r" GiB\), more than this machine's memory \(0\.0"
                                              r" GiB\)\. Choose a shorter range"):
        series.volume((1, 50, 1))
    monkeypatch.setattr(api_series, "read_image", read_image)
    assert series.volume((1, 9, 4)).shape == (3, 64, 64)  # 48 KiB fits


def test_a_monochrome1_thumbnail_shows_low_values_white(store, samples):
    source = sorted(samples[1]["abdomen_ct"].folder.glob("*.dcm"))[0]
    plain = _import_one(store, source, uid="1.2.826.0.1.3680043.8.498.21")

    def film(ds):
        ds.PhotometricInterpretation = "MONOCHROME1"

    inverted = _import_one(store, source, uid="1.2.826.0.1.3680043.8.498.22", edit=film)
    shown, normal = inverted.thumbnail(1, size=32), plain.thumbnail(1, size=32)
    assert normal.std() > 0
    np.testing.assert_array_equal(shown, 255 - normal)
