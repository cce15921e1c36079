"""RangeEditor driven through its traits and methods, as a notebook user would."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

import circus_nb as cnb
from circus_nb.widgets import RangeEditor
from circus_nb.widgets.range_editor import range_problem

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def localizer(imported, samples):
    return RangeEditor(imported, samples[1]["chest_ct_localizer"].series_uid)


def test_starts_on_auto_and_shows_the_images(localizer):
    assert localizer.value == "auto"
    assert "1,3-62 (61 images)" in localizer._header.value
    assert (localizer.start.value, localizer.end.value, localizer.delta.value) == (1, 1, 1)
    assert (localizer.slider.min, localizer.slider.max) == (1, 62)
    assert "(auto)" in localizer.preview.value
    assert localizer.valid and not localizer.ok_button.disabled


def test_set_shows_preview_slider_and_thumbnails(localizer):
    localizer.set(3, 62, 1)
    assert localizer.value == cnb.PartialVolume(3, 62, 1)
    assert localizer.slider.value == (3, 62)
    assert "3, 4, 5, ..., 62" in localizer.preview.value
    assert [c.value.split()[0] for c in localizer.captions] == ["#3", "#33", "#62"]
    assert all(bytes(image.value).startswith(PNG) for image in localizer.thumbnails)
    assert "z=150" in localizer.captions[0].value


def test_the_slider_moves_the_range_and_the_thumbnails(localizer):
    localizer.set(3, 62, 1)
    before = localizer.thumbnails[0].value
    localizer.slider.value = (20, 40)
    assert localizer.value == cnb.PartialVolume(20, 40, 1)
    assert localizer.captions[0].value.startswith("#20")
    assert localizer.thumbnails[0].value != before


def test_the_slider_keeps_a_descending_range_descending(localizer):
    localizer.set(62, 3, -1)
    localizer.slider.value = (10, 50)
    assert localizer.value == cnb.PartialVolume(50, 10, -1)


@pytest.mark.parametrize(
    ("triple", "problem"),
    [((1, 62, 1), "the series has no image 2"),
     ((3, 62, 0), "Delta must be a non-zero integer"),
     ((3, 62, -1), "points away from end 62"),
     ((3, 62, 2), "does not reach end 62"),
     ((3, 70, 1), "end 70 is after the series' last image, 62 (its images: 1,3-62)"),
     ((70, 3, -1), "start 70 is after the series' last image, 62"),
     ((0, 62, 1), "Start must be an integer >= 1, got 0")],
)
def test_invalid_states_say_why_and_block_ok(localizer, triple, problem):
    localizer.set(3, 61, 1)
    localizer.set(*triple)
    assert not localizer.valid and problem in localizer.problem
    assert localizer.ok_button.disabled
    assert problem in localizer.message.text
    assert localizer.value == cnb.PartialVolume(3, 61, 1)  # the last valid range
    with pytest.raises(cnb.CircusError, match="cannot be used"):
        localizer.ok()


def test_flip_auto_and_ok(localizer):
    seen = []
    localizer.on_ok(seen.append)
    localizer.set(3, 61, 2)
    localizer.flip()
    assert localizer.value == cnb.PartialVolume(61, 3, -2)
    localizer.ok_button.click()
    localizer.auto()
    assert localizer.value == "auto"
    localizer.ok()
    assert seen == [cnb.PartialVolume(61, 3, -2), "auto"]


def test_start_with_a_given_range(imported, samples):
    editor = RangeEditor(imported, samples[1]["chest_ct_feet_first"].series_uid, (40, 1, -1))
    assert editor.value == cnb.PartialVolume(40, 1, -1)
    assert [c.value.split()[0] for c in editor.captions] == ["#40", "#20", "#1"]


def test_typing_past_the_last_image_is_kept_and_reported_not_clamped(localizer):
    localizer.set(3, 61, 1)
    localizer.end.value = 70  # what typing 70 in End does
    assert localizer.end.value == 70 and localizer.slider.value == (3, 62)
    assert not localizer.valid and localizer.ok_button.disabled
    assert localizer.problem == ("Specified range is invalid: end 70 is after the series'"
                                 " last image, 62 (its images: 1,3-62).")
    assert localizer.message.kind == "error" and "end 70" in localizer.message.text
    assert localizer.value == cnb.PartialVolume(3, 61, 1)
    with pytest.raises(cnb.CircusError, match=r"cannot be used: .*end 70 is after"):
        localizer.ok()


def test_while_invalid_the_thumbnails_are_greyed_out_and_said_to_be_stale(localizer):
    localizer.set(3, 61, 1)
    assert not localizer.stale and localizer.stale_note.value == ""
    assert "cnb-stale" not in localizer._thumbnail_box._dom_classes
    shown = [bytes(image.value) for image in localizer.thumbnails]
    localizer.set(3, 70, 1)
    assert localizer.stale and "cnb-stale" in localizer._thumbnail_box._dom_classes
    assert "last valid range, 3, 4, ..., 61, not the range typed" in localizer.stale_note.value
    assert [bytes(image.value) for image in localizer.thumbnails] == shown
    assert [c.value.split()[0] for c in localizer.captions] == ["#3", "#32", "#61"]
    localizer.set(5, 60, 1)
    assert not localizer.stale and localizer.captions[0].value.startswith("#5")


def test_an_invalid_first_range_shows_no_empty_images(imported, samples):
    editor = RangeEditor(imported, samples[1]["chest_ct_localizer"].series_uid, (1, 62, 1))
    assert editor.stale and "No images" in editor.stale_note.value
    assert editor._thumbnail_row.layout.display == "none"
    editor.set(3, 62, 1)
    assert editor._thumbnail_row.layout.display is None and not editor.stale


def test_cancel_sits_with_ok_and_calls_its_handlers(localizer):
    assert localizer.cancel_button.layout.display == "none"  # nothing to cancel yet
    cancelled = []
    localizer.on_cancel(lambda: cancelled.append(True))
    row = localizer._buttons.children
    assert localizer.cancel_button.layout.display is None
    assert row.index(localizer.cancel_button) == row.index(localizer.ok_button) + 1
    assert row.index(localizer.flip_button) < row.index(localizer.auto_button) < row.index(
        localizer.ok_button)
    localizer.set(3, 70, 1)  # an invalid range may always be cancelled
    localizer.cancel_button.click()
    assert cancelled == [True]


IMAGES = st.lists(st.integers(min_value=1, max_value=80), min_size=1, max_size=40).map(
    cnb.ImageRange)
SIDE = st.integers(min_value=-3, max_value=90)


@given(SIDE, SIDE, st.integers(min_value=-6, max_value=6), IMAGES)
def test_a_range_is_usable_exactly_when_valid_and_inside_the_images(start, end, delta, images):
    problem = range_problem(start, end, delta, images)
    usable = (cnb.PartialVolume.is_valid(start, end, delta)
              and cnb.PartialVolume(start, end, delta).within(images))
    assert (problem is None) == usable
    if problem is not None:
        assert problem.endswith(".") and len(problem) > 20  # a reason, in words


def test_an_invalid_range_typed_after_auto_is_refused_not_taken_as_auto(localizer):
    assert localizer.value == "auto"
    localizer.end.value = 70  # typed while on auto
    assert localizer.value == "auto" and localizer.ok_button.disabled
    with pytest.raises(cnb.CircusError, match="end 70 is after"):
        localizer.ok()
    localizer.auto()
    assert localizer.ok() == "auto"
