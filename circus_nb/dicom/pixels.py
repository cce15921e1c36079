"""Pixel data: float32 images and frames, rescaled, or a clear ``CircusError``.

Three readers, each for one use:

- :func:`read_image`: the one grayscale image of a single-frame file, for a
  volume stacked from many files (fast: reads only what decoding needs);
- :func:`read_frames`: every frame of a file, with the per-frame geometry of an
  enhanced multi-frame object, for a volume made of one file's frames;
- :func:`read_display`: what a thumbnail shows: grayscale values, or RGB for a
  colour image (YBR converted, palettes applied).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut, pixel_array

from ..errors import CircusError

__all__ = ["Frames", "frame_count", "read_display", "read_frames", "read_image"]

Point = tuple[float, float, float]


def read_image(path: str | os.PathLike, out: np.ndarray | None = None) -> np.ndarray:
    """The image of a single-frame grayscale file, with RescaleSlope/Intercept applied.

    ``out``, a float32 array of the image's shape, receives the values (this is
    how a volume is filled slice by slice without copies).

    Raises
    ------
    CircusError
        Naming the file, its transfer syntax and the reason: unreadable, no pixel
        data, several frames, colour, a decoder failure, or not the shape of ``out``.
    """
    pixels, meta = _decode(path)
    _require_grayscale(path, meta)
    frames = frame_count(meta.get("NumberOfFrames"))
    if frames > 1 or pixels.ndim != 2:
        raise _fail(path, f"it holds {frames} frames; a range of several images takes"
                    " single-frame images. Choose this image alone, as (n, n, 1), to read its"
                    " frames as the slices of a volume")
    if out is None:
        out = np.empty(pixels.shape, np.float32)
    elif out.shape != pixels.shape:
        raise _fail(path, f"its image is {pixels.shape[0]} x {pixels.shape[1]}, not"
                    f" {out.shape[0]} x {out.shape[1]} like the others")
    _rescale(pixels, _rescale_of(meta), out)
    return out


@dataclass(frozen=True, eq=False)
class Frames:
    """Every frame of one file, in the file's order, with what places them.

    ``array`` is (frames, rows, columns) float32, rescaled frame by frame.
    ``positions`` holds each frame's ImagePositionPatient (``None`` where the file
    gives none). The geometry values are as the file states them (they may be
    absent or wrong; :mod:`circus_nb.domain.geometry` decides what to use).
    """

    array: np.ndarray
    positions: tuple[Point | None, ...]
    orientation: Any
    pixel_spacing: Any
    slice_thickness: Any
    spacing_between_slices: Any


def read_frames(path: str | os.PathLike) -> Frames:
    """Every frame of a grayscale file (one frame for a single-frame file).

    Positions, orientation, pixel spacing and rescaling come from the frame's
    per-frame functional groups, else the shared ones, else the top-level
    elements, as in enhanced CT and MR objects.

    Raises
    ------
    CircusError
        Naming the file and the reason: unreadable, no pixel data, colour, or a
        decoder failure.
    """
    pixels, meta = _decode(path)
    _require_grayscale(path, meta)
    ds = _header(path)
    pixels = pixels.reshape(-1, *pixels.shape[-2:])  # (frames, rows, columns) for one too
    count = len(pixels)
    groups = _FunctionalGroups(ds)
    array = np.empty(pixels.shape, np.float32)
    for i in range(count):
        slope, intercept = groups.rescale(i)
        _rescale(pixels[i], (slope, intercept), array[i])
    # A multi-frame file without per-frame positions places only its first frame.
    return Frames(array, tuple(groups.position(i, top_level=count == 1) for i in range(count)),
                  groups.value("PlaneOrientationSequence", "ImageOrientationPatient", 0),
                  groups.value("PixelMeasuresSequence", "PixelSpacing", 0),
                  groups.value("PixelMeasuresSequence", "SliceThickness", 0),
                  groups.value("PixelMeasuresSequence", "SpacingBetweenSlices", 0))


def read_display(path: str | os.PathLike) -> np.ndarray:
    """What a thumbnail of the file shows: a 2-D float32 grayscale image (rescaled),
    or an (rows, columns, 3) ``uint8`` RGB image for a colour file.

    A multi-frame file shows its middle frame. YBR colour is converted to RGB by
    pydicom; a PALETTE COLOR image is shown through its palette.

    Raises
    ------
    CircusError
        Naming the file and the reason: unreadable, no pixel data, a decoder failure.
    """
    pixels, meta = _decode(path, index=0)
    count = frame_count(meta.get("NumberOfFrames"))
    if count > 1:
        pixels, meta = _decode(path, index=count // 2)
    photometric = str(meta.get("PhotometricInterpretation", ""))
    if photometric == "PALETTE COLOR":
        return _palette_rgb(path, pixels, meta)
    if (_int(meta.get("SamplesPerPixel")) or 1) > 1:
        return _as_uint8(pixels, _int(meta.get("BitsStored")) or 8)
    rescale = _FunctionalGroups(_header(path)).rescale(count // 2) if count > 1 \
        else _rescale_of(meta)
    return _rescale(pixels, rescale, np.empty(pixels.shape, np.float32))


# -- decoding ------------------------------------------------------------------


def _decode(path: str | os.PathLike, index: int | None = None) -> tuple[np.ndarray, Dataset]:
    meta = Dataset()  # pydicom fills in the elements that describe the pixels
    try:
        # Reads only what decoding needs: much faster than dcmread(path).pixel_array.
        # Frames beyond NumberOfFrames are dropped, so a volume has the declared count.
        return pixel_array(os.fspath(path), ds_out=meta, index=index,
                           allow_excess_frames=False), meta
    except Exception as e:  # pydicom raises many kinds; explain them in one way
        raise _explain(path, e) from e


def _header(path: str | os.PathLike) -> Dataset:
    try:
        return pydicom.dcmread(os.fspath(path), stop_before_pixels=True)
    except Exception as e:  # decoding worked, so this is a file changed under our feet
        raise _fail(path, f"the file cannot be read ({type(e).__name__}: {e})") from e


def _require_grayscale(path: str | os.PathLike, meta: Dataset) -> None:
    if (_int(meta.get("SamplesPerPixel")) or 1) > 1:
        raise _fail(path, f"it is a colour image ({meta.get('PhotometricInterpretation')});"
                    " a volume takes grayscale images (its thumbnails show the colour)")


def _rescale(pixels: np.ndarray, rescale: tuple[float, float], out: np.ndarray) -> np.ndarray:
    slope, intercept = rescale
    np.multiply(pixels, np.float32(slope), out=out, casting="unsafe")
    if intercept:
        out += np.float32(intercept)
    return out


def _rescale_of(ds: Dataset) -> tuple[float, float]:
    return _float(ds.get("RescaleSlope"), 1.0), _float(ds.get("RescaleIntercept"), 0.0)


def _as_uint8(rgb: np.ndarray, bits: int) -> np.ndarray:
    """Colour samples of ``bits`` bits as 0..255."""
    if rgb.dtype == np.uint8 and bits <= 8:
        return rgb
    top = float(2 ** min(max(bits, 1), 32) - 1)
    scaled = rgb.astype(np.float64) * (255.0 / top)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _palette_rgb(path: str | os.PathLike, pixels: np.ndarray, meta: Dataset) -> np.ndarray:
    try:
        rgb = apply_color_lut(pixels, meta)
    except Exception as e:  # a palette that does not fit its image
        raise _fail(path, f"its colour palette cannot be applied ({type(e).__name__}: {e})",
                    ) from e
    descriptor = meta.get("RedPaletteColorLookupTableDescriptor") or [0, 0, 8]
    return _as_uint8(rgb, _int(descriptor[2]) or 8)


class _FunctionalGroups:
    """Per-frame values of an enhanced object: the frame's functional group, else the
    shared one, else the top-level element (which single-frame files use)."""

    def __init__(self, ds: Dataset):
        self._ds = ds
        self._per_frame = ds.get("PerFrameFunctionalGroupsSequence") or []
        shared = ds.get("SharedFunctionalGroupsSequence") or []
        self._shared = shared[0] if len(shared) else None

    def value(self, sequence: str, keyword: str, frame: int, top_level: bool = True) -> Any:
        own = self._per_frame[frame] if frame < len(self._per_frame) else None
        for group in (own, self._shared):
            items = group.get(sequence) if group is not None else None
            if items and keyword in items[0]:
                return _plain(items[0].get(keyword))
        return _plain(self._ds.get(keyword)) if top_level else None

    def position(self, frame: int, top_level: bool) -> Point | None:
        """The frame's ImagePositionPatient; the top-level one only if ``top_level``."""
        value = self.value("PlanePositionSequence", "ImagePositionPatient", frame, top_level)
        try:
            point = tuple(float(v) for v in value)
        except (TypeError, ValueError):
            return None
        return point if len(point) == 3 and all(np.isfinite(point)) else None

    def rescale(self, frame: int) -> tuple[float, float]:
        sequence = "PixelValueTransformationSequence"
        return (_float(self.value(sequence, "RescaleSlope", frame), 1.0),
                _float(self.value(sequence, "RescaleIntercept", frame), 0.0))


def _plain(value: Any) -> Any:
    """pydicom's multi-values as lists, so the pure rules see plain Python values."""
    if isinstance(value, pydicom.multival.MultiValue):
        return list(value)
    return value


# -- errors --------------------------------------------------------------------


def _explain(path: str | os.PathLike, error: Exception) -> CircusError:
    """Why decoding failed, from the header (read again: this is the rare path)."""
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    except Exception as e:
        return _fail(path, f"the file cannot be read ({type(e).__name__}: {e})")
    pixel_tags = {0x7FE00010, 0x7FE00008, 0x7FE00009}
    with open(path, "rb") as f:  # stop_before_pixels hides the pixel element itself
        has_pixels = b"\xe0\x7f\x10\x00" in f.read() or any(t in ds for t in pixel_tags)
    if not has_pixels:
        return _fail(path, "it has no pixel data (or it is cut short before it)", ds)
    text = str(error).strip()
    first_line = text.splitlines()[0] if text else type(error).__name__
    return _fail(path, f"the pixel data cannot be decoded ({first_line})", ds)


def _fail(path: str | os.PathLike, reason: str, ds: Dataset | None = None) -> CircusError:
    if ds is None:
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        except Exception:
            ds = None
    syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    named = f" (transfer syntax {syntax.name} {syntax})" if syntax is not None else ""
    return CircusError(f"Cannot load the pixels of {os.fspath(path)}{named}: {reason}",
                       field="path", value=os.fspath(path))


def frame_count(value: object) -> int:
    """A NumberOfFrames value as a count: 1 when absent, malformed or below 1.

    >>> frame_count("10"), frame_count(None), frame_count("1A"), frame_count(-3)
    (10, 1, 1, 1)
    """
    count = _int(value)
    return count if count is not None and count > 1 else 1


def _int(value: object) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _float(value: object, default: float) -> float:
    try:
        return float(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        return default
