"""Window priority, the window a viewer opens with, and the automatic window."""

import numpy as np
import pytest

from circus_nb import Project, ValidationError
from circus_nb.domain import WINDOW_PRIORITIES, Window, WindowPreset, auto_window, choose_window
from circus_nb.domain.window import AUTO_SAMPLE, _sample, check_window_priority

LUNG, BONE = WindowPreset("lung", -600, 1500), WindowPreset("bone", 400, 1800)
DICOM, AUTO = (50.0, 350.0), (12.5, 99.0)

# priority -> what is chosen with (everything, no DICOM window, no preset, neither)
PINNED = {
    "dicom,preset,auto": ("dicom", "preset:lung", "dicom", "auto"),
    "dicom,auto": ("dicom", "auto", "dicom", "auto"),
    "preset,dicom,auto": ("preset:lung", "preset:lung", "dicom", "auto"),
    "preset,auto": ("preset:lung", "preset:lung", "auto", "auto"),
    "auto": ("auto", "auto", "auto", "auto"),
}
VALUES = {"dicom": DICOM, "preset:lung": (-600.0, 1500.0), "auto": AUTO}


def test_the_choices_are_circus_s_five_with_its_default_first():
    assert tuple(PINNED) == WINDOW_PRIORITIES == (
        "dicom,preset,auto", "dicom,auto", "preset,dicom,auto", "preset,auto", "auto")
    assert Project("p", "n").window_priority == "dicom,preset,auto"


@pytest.mark.parametrize("priority", PINNED)
def test_every_priority_takes_the_first_source_available(priority):
    cases = [(DICOM, [LUNG, BONE]), (None, [LUNG, BONE]), (DICOM, []), (None, [])]
    for (dicom, presets), expected in zip(cases, PINNED[priority], strict=True):
        window = choose_window(priority, dicom, presets, AUTO)
        assert window.source == expected, (dicom, presets)
        assert (window.level, window.width) == VALUES[expected]
        assert isinstance(window.level, float) and isinstance(window.width, float)


@pytest.mark.parametrize("dicom", [(40.0, 0.0), (40.0, -10.0), (float("nan"), 400.0),
                                   (40.0, float("inf")), (40.0, float("nan"))])
def test_a_dicom_window_without_a_usable_width_is_not_available(dicom):
    assert choose_window("dicom,preset,auto", dicom, [BONE], AUTO).source == "preset:bone"
    assert choose_window("dicom,auto", dicom, [BONE], AUTO).source == "auto"


def test_the_first_preset_is_the_one_taken():
    window = choose_window("preset,auto", None, (BONE, LUNG), AUTO)
    assert window == Window(400.0, 1800.0, "preset:bone")


@pytest.mark.parametrize("bad", ["preset", "dicom,preset", "auto,dicom", "", "DICOM,AUTO",
                                 "dicom, auto", None, 3, ["dicom", "auto"]])
def test_a_bad_priority_is_refused_listing_the_choices(bad):
    message = ("window_priority must be one of 'dicom,preset,auto', 'dicom,auto',"
               " 'preset,dicom,auto', 'preset,auto', 'auto' (sources tried in turn;")
    with pytest.raises(ValidationError) as info:
        Project("p", "n", window_priority=bad)
    assert str(info.value).startswith(message)
    assert info.value.field == "window_priority" and info.value.value == bad
    with pytest.raises(ValidationError, match="priority must be one of"):
        choose_window(bad, DICOM, [], AUTO)


@pytest.mark.parametrize(("bad", "meant"), [("DICOM,AUTO", "dicom,auto"),
                                            ("preset, dicom, auto", "preset,dicom,auto")])
def test_a_priority_spelled_another_way_gets_the_spelling_meant(bad, meant):
    with pytest.raises(ValidationError, match=f"Write it as '{meant}'."):
        check_window_priority(bad)


@pytest.mark.parametrize("dicom", [40.0, (40.0,), (40.0, 400.0, 1.0), "40\\400"])
def test_a_dicom_window_that_is_not_a_pair_is_refused(dicom):
    with pytest.raises(ValidationError, match="The DICOM window is"):
        choose_window("dicom,auto", dicom, [], AUTO)


@pytest.mark.parametrize("auto", [(0.0, 0.0), (0.0, float("nan")), (float("inf"), 1.0), None,
                                  5.0, (1.0, 2.0, 3.0), ("a", 1.0)])
def test_an_unusable_auto_window_is_refused(auto):
    with pytest.raises(ValidationError, match="The auto window must be"):
        choose_window("dicom,auto", DICOM, [], auto)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"level": 0, "width": 0, "source": "auto"}, "width > 0, got level=0, width=0"),
    ({"level": float("nan"), "width": 1, "source": "auto"}, "must be finite numbers"),
    ({"level": 0, "width": 1, "source": "file"}, "source is 'dicom', 'preset:<label>' or"),
])
def test_a_window_is_checked_on_construction(kwargs, message):
    with pytest.raises(ValidationError, match=message):
        Window(**kwargs)


def test_the_project_repr_shows_the_priority():
    project = Project("p", "n", window_priority="preset,auto")
    assert "window priority" in str(project) and "preset,auto" in project._repr_html_()


# -- auto_window -----------------------------------------------------------------------


def test_auto_window_spans_the_half_percent_tails():
    values = np.arange(-1000.0, 1001.0)  # 2001 values, used whole
    low, high = np.percentile(values, [0.5, 99.5])
    assert auto_window(values) == pytest.approx(((low + high) / 2, high - low))
    assert auto_window(values.astype(np.int16)) == pytest.approx(auto_window(values))


def test_auto_window_ignores_what_is_not_finite_and_has_a_width_of_at_least_one():
    values = np.array([np.nan, np.inf, -np.inf, 3.0, 3.2, 3.4], np.float32)
    level, width = auto_window(values)
    assert 3.0 <= level <= 3.4 and width == 1.0


@pytest.mark.parametrize("array", [np.array([]), np.full(5, np.nan), np.array(["a", "b"]),
                                   np.array([True, False])])
def test_auto_window_refuses_arrays_without_numbers(array):
    with pytest.raises(ValidationError, match="auto_window needs"):
        auto_window(array)


def test_a_whole_ct_volume_is_sampled_not_read_whole():
    # A broadcast array costs no memory: 300 x 512 x 512 voxels all the same value.
    volume = np.broadcast_to(np.float32(-1000), (300, 512, 512))
    sample = _sample(volume, AUTO_SAMPLE)
    assert 0 < sample.size <= AUTO_SAMPLE and sample.base is not None  # a view
    assert all(n > 1 for n in sample.shape)  # every axis is sampled, z too
    assert auto_window(volume) == (-1000.0, 1.0)


def test_a_sampled_window_is_close_to_the_whole_volume_s():
    rng = np.random.default_rng(0)
    volume = rng.normal(-300, 400, (64, 256, 256)).astype(np.float32)  # 4 M voxels: sampled
    low, high = np.percentile(volume, [0.5, 99.5])
    level, width = auto_window(volume)
    assert level == pytest.approx((low + high) / 2, abs=15)
    assert width == pytest.approx(high - low, rel=0.02)
