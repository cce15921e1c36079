"""Pure thumbnail rules: sizes, grayscale and colour images, PNG bytes, strips."""

import io
import re

import matplotlib
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from circus_nb import ValidationError
from circus_nb.thumbnails import check_size, draw_strip, from_bytes, make_thumbnail, png_bytes

matplotlib.use("Agg")


@pytest.mark.parametrize("size", [0, -1, None, "abc", 2**31, 65536, 2.5, 128.0, True, [128]])
def test_a_bad_size_is_a_validation_error_naming_the_argument(size):
    with pytest.raises(ValidationError, match=r"Thumbnail size must be a whole number of pixels"
                                              rf" from 1 to 65535, got {re.escape(repr(size))}\.",
                       ) as info:
        check_size(size)
    assert info.value.field == "size"
    with pytest.raises(ValidationError, match="Thumbnail size must be"):
        make_thumbnail(np.zeros((4, 4), np.float32), size)


@pytest.mark.parametrize("size", [1, 128, 65535, np.int64(64)])
def test_good_sizes(size):
    assert check_size(size) == int(size)


def test_colour_thumbnails_are_rgb_made_smaller_by_block_means():
    rgb = np.zeros((4, 6, 3), np.uint8)
    rgb[:2, :2] = (255, 0, 0)  # a red block, top left
    rgb[2:, 4:] = (0, 0, 200)  # a blue block, bottom right
    thumb = make_thumbnail(rgb, 3, window=(0, 1))  # the window is for grayscale only
    assert thumb.shape == (2, 3, 3) and thumb.dtype == np.uint8
    assert thumb[0, 0].tolist() == [255, 0, 0] and thumb[1, 2].tolist() == [0, 0, 200]
    assert thumb[0, 1].tolist() == [0, 0, 0]
    np.testing.assert_array_equal(make_thumbnail(rgb, 100), rgb)  # never enlarged


def test_an_image_neither_grey_nor_rgb_is_refused():
    with pytest.raises(ValidationError, match=r"2-D grayscale or an \(h, w, 3\) RGB image, got"
                                              r" shape \(2, 3, 4\)"):
        make_thumbnail(np.zeros((2, 3, 4), np.uint8))


@given(arrays(np.uint8, st.tuples(st.integers(1, 9), st.integers(1, 9), st.just(3))))
def test_colour_png_decodes_to_the_same_pixels(image):
    decoded = np.asarray(Image.open(io.BytesIO(png_bytes(image))))
    assert decoded.shape == image.shape
    np.testing.assert_array_equal(decoded, image)


@given(arrays(np.uint8, st.tuples(st.integers(1, 9), st.integers(1, 9))))
def test_grey_png_decodes_to_the_same_pixels(image):
    decoded = np.asarray(Image.open(io.BytesIO(png_bytes(image))))
    np.testing.assert_array_equal(decoded, image)


@given(arrays(np.uint8, st.one_of(st.tuples(st.integers(1, 9), st.integers(1, 9)),
                                  st.tuples(st.integers(1, 9), st.integers(1, 9), st.just(3)))))
def test_cached_bytes_come_back_with_their_channels(image):
    back = from_bytes(image.shape[0], image.shape[1], image.tobytes())
    np.testing.assert_array_equal(back, image)


def test_a_strip_draws_colour_in_colour_and_grey_in_grey():
    import matplotlib.pyplot as plt

    grey, rgb = np.full((4, 4), 100, np.uint8), np.zeros((4, 5, 3), np.uint8)
    ax = draw_strip([grey, rgb], ["#1", "#2"])
    assert ax.images[0].get_array().shape == (4, 4) and ax.images[0].get_cmap().name == "gray"
    assert ax.images[1].get_array().shape == (4, 5, 3)
    plt.close(ax.figure)
