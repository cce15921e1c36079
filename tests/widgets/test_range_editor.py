"""RangeEditor driven through its traits and methods, as a notebook user would."""

import pytest

import circus_nb as cnb
from circus_nb.widgets import RangeEditor

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def localizer(imported, samples):
    return RangeEditor(imported, samples[1]["chest_ct_localizer"].series_uid)


def test_starts_on_auto_and_shows_the_images(localizer):
    assert localizer.value == "auto"
    assert "1,3-62 (61 images)" in localizer._header.value
    assert (localizer.start.value, localizer.end.value, localizer.delta.value) == (1, 1, 1)
    assert (localizer.start.min, localizer.start.max) == (1, 62)
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
     ((3, 62, 2), "does not reach end 62")],
)
def test_invalid_states_say_why_and_block_ok(localizer, triple, problem):
    localizer.set(3, 61, 1)
    localizer.set(*triple)
    assert not localizer.valid and problem in localizer.problem
    assert localizer.ok_button.disabled
    assert problem in localizer.message.value
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
