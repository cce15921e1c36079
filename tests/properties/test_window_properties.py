"""Hypothesis properties of the window rules: which window is chosen, and auto_window."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from circus_nb.domain import WINDOW_PRIORITIES, WindowPreset, auto_window, choose_window

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
positive = st.floats(min_value=1e-3, max_value=1e6)
# A DICOM window as files state it: absent, usable, or with a width no viewer can use.
dicom_windows = st.none() | st.tuples(finite | st.just(float("nan")),
                                      positive | st.sampled_from([0.0, -5.0, float("inf")]))
presets = st.lists(st.builds(WindowPreset, st.sampled_from(["lung", "bone", "brain"]),
                             finite, positive), max_size=3)
autos = st.tuples(finite, positive)


def _available(source, dicom, presets):
    if source == "dicom":
        return dicom is not None and np.isfinite(dicom).all() and dicom[1] > 0
    return source == "auto" or (source == "preset" and len(presets) > 0)


@given(st.sampled_from(WINDOW_PRIORITIES), dicom_windows, presets, autos)
def test_the_window_is_the_first_available_source_of_the_priority(priority, dicom, presets,
                                                                   auto):
    window = choose_window(priority, dicom, presets, auto)
    expected = next(s for s in priority.split(",") if _available(s, dicom, presets))
    assert window.source.split(":")[0] == expected
    value = {"dicom": dicom, "auto": auto,
             "preset": presets and (presets[0].level, presets[0].width)}[expected]
    assert (window.level, window.width) == tuple(map(float, value))
    if expected == "preset":
        assert window.source == f"preset:{presets[0].label}"
    assert window.width > 0 and np.isfinite([window.level, window.width]).all()


@given(st.sampled_from(WINDOW_PRIORITIES), dicom_windows, presets, autos)
def test_a_source_missing_from_the_priority_is_never_chosen(priority, dicom, presets, auto):
    source = choose_window(priority, dicom, presets, auto).source.split(":")[0]
    assert source in priority.split(",")


@given(dicom_windows, presets, autos)
def test_auto_alone_ignores_the_file_and_the_presets(dicom, presets, auto):
    assert choose_window("auto", dicom, presets, auto).source == "auto"


float_volumes = hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=3, max_side=12),
                           elements=st.floats(-4096, 4096, width=32))


@given(float_volumes)
def test_auto_window_lies_within_the_values_with_a_width_of_at_least_one(array):
    level, width = auto_window(array)
    assert float(array.min()) <= level <= float(array.max())
    assert width >= 1.0
    if width > 1.0:  # the window spans the central 99 % of the values
        low, high = level - width / 2, level + width / 2
        inside = np.mean((array >= low - 1e-3) & (array <= high + 1e-3))
        assert inside >= 0.98 or array.size < 200


@given(float_volumes, st.floats(-1000, 1000, width=32))
def test_auto_window_moves_with_the_values(array, shift):
    level, width = auto_window(array)
    moved_level, moved_width = auto_window(array.astype(np.float64) + shift)
    assert abs(moved_level - (level + shift)) <= 1e-2 + 1e-5 * abs(level)
    assert abs(moved_width - width) <= 1e-2 + 1e-5 * width


@given(float_volumes)
def test_the_order_of_the_voxels_does_not_matter_when_all_are_seen(array):
    assert auto_window(array) == auto_window(array[::-1].copy())
