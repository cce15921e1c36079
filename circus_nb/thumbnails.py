"""Small windowed ``uint8`` thumbnails of slices, and matplotlib strips of them.

>>> import numpy as np
>>> image = np.linspace(-1000, 1000, 512 * 512, dtype=np.float32).reshape(512, 512)
>>> thumb = make_thumbnail(image, 128, window=(0, 1800))
>>> thumb.shape, thumb.dtype, int(thumb.min()), int(thumb.max())
((128, 128), dtype('uint8'), 0, 255)
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["draw_strip", "make_thumbnail", "png_bytes"]


def _downsample(image: np.ndarray, size: int) -> np.ndarray:
    """Average blocks so neither side exceeds ``size``; never enlarges."""
    factor = math.ceil(max(image.shape) / size)
    if factor <= 1:
        return image
    h, w = (image.shape[0] // factor) * factor, (image.shape[1] // factor) * factor
    if h == 0 or w == 0:  # a very thin image: take every factor-th pixel instead
        return image[::factor, ::factor]
    blocks = image[:h, :w].reshape(h // factor, factor, w // factor, factor)
    return blocks.mean(axis=(1, 3), dtype=np.float32)


def _window(image: np.ndarray, window: tuple[float, float] | None) -> tuple[float, float]:
    if window is not None and window[1] and window[1] > 0:
        center, width = window
        return center - width / 2, center + width / 2
    low, high = np.percentile(image, [0.5, 99.5]) if image.size else (0.0, 1.0)
    return float(low), float(high) if high > low else float(low) + 1.0


def make_thumbnail(image: np.ndarray, size: int = 128,
                   window: tuple[float, float] | None = None) -> np.ndarray:
    """A ``uint8`` image no larger than ``size`` on its longer side.

    ``window`` is (center, width) in the image's units; without one the 0.5 and
    99.5 percentiles of the data span the grey scale.
    """
    if size < 1:
        raise ValueError(f"Thumbnail size must be >= 1, got {size}.")
    small = _downsample(np.asarray(image, dtype=np.float32), size)
    low, high = _window(small, window)
    scaled = (small - low) * (255.0 / (high - low))
    return np.clip(scaled, 0, 255).astype(np.uint8)


def png_bytes(image: np.ndarray) -> bytes:
    """Encode a 2-D ``uint8`` image as PNG (greyscale), with zlib only: fast for small images.

    >>> png_bytes(np.zeros((2, 3), np.uint8))[:8]
    b'\\x89PNG\\r\\n\\x1a\\n'
    """
    height, width = image.shape
    raw = np.zeros((height, width + 1), np.uint8)  # each row starts with filter type 0
    raw[:, 1:] = image

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw.tobytes(), 1)) + chunk(b"IEND", b""))


def draw_strip(images: Sequence[np.ndarray], labels: Sequence[str] = (), ax: Any = None,
               title: str | None = None) -> Any:
    """Draw thumbnails side by side with a label under each; returns the Axes.

    matplotlib is imported only here, so the rest of the package does not need it.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(1.6 * max(len(images), 1), 2.0))
    height = max((im.shape[0] for im in images), default=1)
    x = 0
    for i, image in enumerate(images):
        h, w = image.shape
        ax.imshow(image, cmap="gray", vmin=0, vmax=255, extent=(x, x + w, height, height - h),
                  interpolation="nearest")
        if i < len(labels):
            ax.text(x + w / 2, height + 2, labels[i], ha="center", va="top", fontsize=8)
        x += w + 4
    ax.set_xlim(0, max(x - 4, 1))
    ax.set_ylim(height + 14, 0)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    return ax
