"""Small ``uint8`` thumbnails of slices, and matplotlib strips of them.

A grayscale thumbnail is 2-D and windowed; a colour one is (h, w, 3) RGB.

>>> import numpy as np
>>> image = np.linspace(-1000, 1000, 512 * 512, dtype=np.float32).reshape(512, 512)
>>> thumb = make_thumbnail(image, 128, window=(0, 1800))
>>> thumb.shape, thumb.dtype, int(thumb.min()), int(thumb.max())
((128, 128), dtype('uint8'), 0, 255)
>>> make_thumbnail(np.zeros((512, 256, 3), np.uint8), 128).shape
(128, 64, 3)
"""

from __future__ import annotations

import math
import operator
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from .domain.values import shown
from .errors import ValidationError

__all__ = ["check_size", "draw_strip", "from_bytes", "make_thumbnail", "png_bytes"]

# Rows and Columns are 16-bit in DICOM: no image is larger, so no larger size can matter.
MAX_SIZE = 65535


def check_size(size: object) -> int:
    """``size`` as an ``int`` if it is a whole number from 1 to 65535.

    >>> check_size(128)
    128
    >>> check_size(0)
    Traceback (most recent call last):
    ...
    circus_nb.errors.ValidationError: Thumbnail size must be a whole number of pixels ...

    Raises
    ------
    ValidationError
        For anything else (``None``, text, a fraction, ``True``, 0, a negative or
        a larger number), naming the argument ``size``.
    """
    try:
        number = None if isinstance(size, bool) else operator.index(size)
    except TypeError:
        number = None
    if number is None or not 1 <= number <= MAX_SIZE:
        raise ValidationError(
            f"Thumbnail size must be a whole number of pixels from 1 to {MAX_SIZE}, got"
            f" {shown(size)}. It bounds the longer side, e.g. size=128; an image is never"
            " enlarged.", field="size", value=size)
    return number


def _downsample(image: np.ndarray, size: int) -> np.ndarray:
    """Average blocks so neither side exceeds ``size``; never enlarges.

    Works on (h, w) and, channel by channel, on (h, w, 3).
    """
    factor = math.ceil(max(image.shape[:2]) / size)
    if factor <= 1:
        return image
    h, w = (image.shape[0] // factor) * factor, (image.shape[1] // factor) * factor
    if h == 0 or w == 0:  # a very thin image: take every factor-th pixel instead
        return image[::factor, ::factor]
    blocks = image[:h, :w].reshape(h // factor, factor, w // factor, factor, *image.shape[2:])
    return blocks.mean(axis=(1, 3), dtype=np.float32)


def _is_colour(image: np.ndarray) -> bool:
    return image.ndim == 3 and image.shape[2] == 3


def _window(image: np.ndarray, window: tuple[float, float] | None) -> tuple[float, float]:
    if window is not None and window[1] and window[1] > 0:
        center, width = window
        return center - width / 2, center + width / 2
    low, high = np.percentile(image, [0.5, 99.5]) if image.size else (0.0, 1.0)
    return float(low), float(high) if high > low else float(low) + 1.0


def make_thumbnail(image: np.ndarray, size: int = 128,
                   window: tuple[float, float] | None = None) -> np.ndarray:
    """A ``uint8`` image no larger than ``size`` on its longer side.

    A 2-D image is grayscale: ``window`` is (center, width) in the image's units;
    without one the 0.5 and 99.5 percentiles of the data span the grey scale.
    An (h, w, 3) image is RGB already in 0..255 (see
    :func:`circus_nb.dicom.pixels.read_display`): it is only made smaller, and
    ``window`` does not apply.

    Raises
    ------
    ValidationError
        If ``size`` is not a whole number from 1 to 65535, or the image is neither
        2-D nor (h, w, 3).
    """
    size = check_size(size)
    image = np.asarray(image)
    if _is_colour(image):
        small = _downsample(image, size)
        return small if small.dtype == np.uint8 else np.clip(np.rint(small), 0, 255).astype(
            np.uint8)
    if image.ndim != 2:
        raise ValidationError(f"A thumbnail is made of a 2-D grayscale or an (h, w, 3) RGB"
                              f" image, got shape {image.shape}.", field="image",
                              value=image.shape)
    small = _downsample(image.astype(np.float32, copy=False), size)
    low, high = _window(small, window)
    scaled = (small - low) * (255.0 / (high - low))
    return np.clip(scaled, 0, 255).astype(np.uint8)


def from_bytes(height: int, width: int, pixels: bytes) -> np.ndarray:
    """A thumbnail back from its cached bytes: the length tells grayscale from RGB.

    >>> from_bytes(2, 3, bytes(18)).shape, from_bytes(2, 3, bytes(6)).shape
    ((2, 3, 3), (2, 3))
    """
    channels = len(pixels) // max(height * width, 1)
    shape = (height, width, 3) if channels == 3 else (height, width)
    return np.frombuffer(pixels, np.uint8).reshape(shape)


def png_bytes(image: np.ndarray) -> bytes:
    """Encode a ``uint8`` image as PNG, with zlib only: fast for small images.

    2-D is greyscale; (h, w, 3) is RGB.

    >>> png_bytes(np.zeros((2, 3), np.uint8))[:8]
    b'\\x89PNG\\r\\n\\x1a\\n'
    >>> png_bytes(np.zeros((2, 3, 3), np.uint8))[25]  # colour type 2: RGB
    2
    """
    colour = _is_colour(image)
    height, width = image.shape[:2]
    row_bytes = width * (3 if colour else 1)
    raw = np.zeros((height, row_bytes + 1), np.uint8)  # each row starts with filter type 0
    raw[:, 1:] = image.reshape(height, row_bytes)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    kind = 2 if colour else 0  # PNG colour types: 0 greyscale, 2 RGB
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, kind, 0, 0, 0])
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw.tobytes(), 1)) + chunk(b"IEND", b""))


def draw_strip(images: Sequence[np.ndarray], labels: Sequence[str] = (), ax: Any = None,
               title: str | None = None) -> Any:
    """Draw thumbnails side by side with a label under each; returns the Axes.

    Grayscale thumbnails are drawn in grey, (h, w, 3) ones in their own colours.
    matplotlib is imported only here, so the rest of the package does not need it.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(1.6 * max(len(images), 1), 2.0))
    height = max((im.shape[0] for im in images), default=1)
    x = 0
    for i, image in enumerate(images):
        h, w = image.shape[:2]
        grey = {} if _is_colour(image) else {"cmap": "gray", "vmin": 0, "vmax": 255}
        ax.imshow(image, extent=(x, x + w, height, height - h), interpolation="nearest", **grey)
        if i < len(labels):
            ax.text(x + w / 2, height + 2, labels[i], ha="center", va="top", fontsize=8)
        x += w + 4
    ax.set_xlim(0, max(x - 4, 1))
    ax.set_ylim(height + 14, 0)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    return ax
