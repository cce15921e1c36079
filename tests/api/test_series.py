"""Series search, opening series, auto ranges, volumes and thumbnails."""

import contextlib

import matplotlib
import numpy as np
import pandas as pd
import pydicom
import pytest

import circus_nb as cnb
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
     ({"date_from": "yesterday"}, "date_from must be a date such as '2024-03-01'")],
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
