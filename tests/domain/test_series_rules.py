"""Pure series rules: UIDs, ages, and the CIRCUS auto range (section 3 vectors)."""

from datetime import date

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from circus_nb import ImageRange, PartialVolume, ValidationError
from circus_nb.domain.series import (
    Volume,
    age_in_years,
    auto_partial_volume,
    file_change,
    is_valid_uid,
)


@pytest.mark.parametrize("uid", ["1.2.840.10008.1.2", "1", "0.1", "1.2.3." + "4" * 58])
def test_valid_uids(uid):
    assert is_valid_uid(uid)


@pytest.mark.parametrize("uid", ["", "1.2.abc", "1..2", ".1", "1.", "1.2." + "3" * 61, None, 12,
                                 "dbf60361338b6cb0d8add6f6ea34276642da945f"])
def test_invalid_uids(uid):
    assert not is_valid_uid(uid)


@pytest.mark.parametrize(
    ("age", "birth", "on", "years"),
    [("045Y", None, None, 45), ("018M", None, None, 1), ("011M", None, None, 0),
     ("003W", None, None, 0), ("400D", None, None, 1), (None, "1970-05-14", "2024-03-01", 53),
     (None, "19700514", "20240514", 54), (None, "1970-05-14", date(2024, 5, 13), 53),
     ("bad", "1958-11-02", "2024-05-10", 65), (None, None, "2024-01-01", None),
     (None, "2025-01-01", "2024-01-01", None), (None, "not a date", "2024-01-01", None)],
)
def test_age_in_years(age, birth, on, years):
    assert age_in_years(age, birth, on) == years


@pytest.mark.parametrize(
    ("images", "z", "expected"),
    [
        ("1,3-62", {1: 0.0, 3: 10.0, 62: -100.0}, (1, 1, 1)),  # the localizer alone
        ("2-61,70", {2: 100.0, 61: -200.0}, (2, 61, 1)),  # head first
        ("2-61,70", {2: -200.0, 61: 100.0}, (61, 2, -1)),  # feet first
        ("5", {}, (5, 5, 1)),  # one image needs no position
        ("1-10", {1: 0.0, 10: 0.0}, (1, 10, 1)),  # z == 0 is a position like any other
        ("1-10", {1: 0.0, 10: 45.0}, (10, 1, -1)),
    ],
)
def test_auto_vectors(images, z, expected):
    assert auto_partial_volume(ImageRange.parse(images), z) == PartialVolume(*expected)


def test_auto_needs_positions_and_images():
    with pytest.raises(ValidationError, match=r"series 1.2.3 needs ImagePositionPatient of images"
                                              r" 1 and 10 .* but image 10 has none. Give the"):
        auto_partial_volume(ImageRange.parse("1-10"), {1: 5.0, 10: None}, "1.2.3")
    with pytest.raises(ValidationError, match="has no images"):
        auto_partial_volume(ImageRange([]), {})


@given(st.lists(st.integers(1, 500), min_size=1, max_size=40, unique=True),
       st.floats(-500, 500), st.floats(-500, 500))
def test_auto_always_runs_head_to_feet_over_the_first_run(numbers, z_first, z_last):
    images = ImageRange(numbers)
    first, last = images.segments()[0]
    pv = auto_partial_volume(images, {first: z_first, last: z_last})
    assert sorted(pv.to_list()) == list(range(first, last + 1))
    assert pv.within(images)
    head, feet = ({first: z_first, last: z_last}.get(n) for n in (pv.start, pv.end))
    assert first == last or head >= feet


def test_volume_reprs():
    v = Volume(np.zeros((3, 4, 5), np.float32), (1, 2, 3), (2.5, 0.7, 0.7), (None,) * 3, "1.2")
    assert repr(v) == "<Volume 3x4x5 spacing=(2.5, 0.7, 0.7)>"
    assert "1, 2, 3" in v._repr_html_() and "shape (z, y, x)" in str(v)


def test_a_volume_shows_its_notes_and_frames():
    v = Volume(np.zeros((3, 4, 5), np.float32), (7, 7, 7), (1.0, 1.0, 1.0), (None,) * 3, "1.2",
               frame_numbers=(3, 2, 1), notes=("PixelSpacing is absent: y and x spacing taken"
                                               " as 1.0 mm.",))
    for text in (str(v), v._repr_html_()):
        assert "image 7, frames 3, 2, 1" in text and "PixelSpacing is absent" in text


DAY = 86400.0


@pytest.mark.parametrize(
    ("recorded", "current", "copied_at", "change"),
    [
        ((100, DAY), (100, DAY), None, None),
        ((100, DAY), None, None, "it is missing"),
        ((100, DAY), None, DAY, "it is missing"),
        ((100, DAY), (99, DAY), None, "its size changed from 100 to 99 bytes"),
        ((100, DAY), (101, DAY), 5 * DAY, "its size changed from 100 to 101 bytes"),
        ((100, DAY), (100, DAY + 1), None,
         "it was modified at 1970-01-02 00:00:01 UTC (at import: 1970-01-02 00:00:00 UTC)"),
        ((100, DAY), (100, DAY - 60), None,
         "it was modified at 1970-01-01 23:59:00 UTC (at import: 1970-01-02 00:00:00 UTC)"),
        # a copy the store made carries its own time, written during the import
        ((100, DAY), (100, 2 * DAY), 2 * DAY, None),
        ((100, DAY), (100, 2 * DAY + 1.5), 2 * DAY, None),
        ((100, DAY), (100, 2 * DAY + 60), 2 * DAY,
         "it was modified at 1970-01-03 00:01:00 UTC, after the import copied it at"
         " 1970-01-03 00:00:00 UTC"),
    ],
)
def test_file_change_vectors(recorded, current, copied_at, change):
    assert file_change(recorded, current, copied_at) == change
