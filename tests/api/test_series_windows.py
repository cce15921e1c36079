"""Series.dicom_window: the window the files state for a range."""

import pytest

import circus_nb as cnb
from circus_nb.domain import choose_window
from tests.api.test_series import _small_ct


def test_the_window_of_a_sample_series(imported, samples):
    lung = imported.series(samples[1]["chest_ct_lung"].series_uid)
    assert lung.dicom_window() == (-600.0, 1500.0)
    assert lung.dicom_window((60, 1, -1)) == (-600.0, 1500.0)
    assert all(isinstance(v, float) for v in lung.dicom_window())


def test_it_is_the_window_of_the_middle_image_of_the_range(imported, samples):
    # Interleaved echoes: odd instances are echo 1 (600, 1200), even ones echo 2 (450, 900).
    mr = imported.series(samples[1]["mr_interleaved"].series_uid)
    assert mr.dicom_window((1, 47, 2)) == (600.0, 1200.0)
    assert mr.dicom_window((2, 48, 2)) == (450.0, 900.0)
    assert mr.dicom_window((1, 3, 1)) == (450.0, 900.0)  # 1, 2, 3: the middle is 2
    assert mr.dicom_window((3, 1, -1)) == (450.0, 900.0)
    assert mr.dicom_window((1, 4, 1)) == (600.0, 1200.0)  # even count: the upper middle, 3
    assert mr.dicom_window((4, 1, -1)) == (450.0, 900.0)  # 4, 3, 2, 1: the third is 2
    assert mr.dicom_window() == (600.0, 1200.0)  # auto (1, 48, 1): image 25


def test_the_localizer_of_the_auto_range_gives_its_own_window(imported, samples):
    series = imported.series(samples[1]["chest_ct_localizer"].series_uid)
    center, width = series.dicom_window()  # auto: the localizer alone
    assert center == width // 2 and width > 1000
    assert series.dicom_window((3, 62, 1)) == (40.0, 400.0)


@pytest.mark.parametrize("changes", [{"WindowCenter": None, "WindowWidth": None},
                                     {"WindowWidth": None}, {"WindowWidth": "0"},
                                     {"WindowWidth": "-400"}])
def test_no_window_or_an_unusable_width_gives_none(store, tmp_path, changes):
    uid, _ = _small_ct(tmp_path / "w", **changes)
    store.import_dicom(tmp_path / "w", progress=False)
    series = store.series(uid)
    assert series.dicom_window() is None
    window = choose_window("dicom,auto", series.dicom_window(), [], (7.0, 50.0))
    assert window.source == "auto"


def test_several_windows_in_a_file_give_the_first(store, tmp_path):
    uid, _ = _small_ct(tmp_path / "w", WindowCenter="40\\-600", WindowWidth="400\\1500")
    store.import_dicom(tmp_path / "w", progress=False)
    assert store.series(uid).dicom_window() == (40.0, 400.0)


def test_a_range_the_series_lacks_is_refused(imported, samples):
    lung = imported.series(samples[1]["chest_ct_lung"].series_uid)
    with pytest.raises(cnb.ValidationError, match="Specified range is invalid"):
        lung.dicom_window((1, 61, 1))


def test_reading_the_window_needs_the_series_domain(cases):
    series = cases.series(cases.uids["followup_ct"])  # in hospital-b
    assert series.dicom_window() == (40.0, 400.0)
    cases.set_user_groups("admin@example.org", ["admins"])  # no longer in hospital-b
    with pytest.raises(cnb.PermissionDenied, match="hospital-b"):
        series.dicom_window()
