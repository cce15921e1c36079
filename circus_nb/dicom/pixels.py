"""Pixel data: one 2-D float32 image per file, rescaled, or a clear ``CircusError``."""

from __future__ import annotations

import os

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.pixels import pixel_array

from ..errors import CircusError

__all__ = ["read_image"]


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
    meta = Dataset()  # pydicom fills in the elements that describe the pixels
    try:
        # Reads only what decoding needs: much faster than dcmread(path).pixel_array.
        pixels = pixel_array(os.fspath(path), ds_out=meta)
    except Exception as e:  # pydicom raises many kinds; explain them in one way
        raise _explain(path, e) from e
    if (_int(meta.get("SamplesPerPixel")) or 1) > 1:
        raise _fail(path, f"it is a colour image ({meta.get('PhotometricInterpretation')});"
                    " a volume takes grayscale images")
    frames = _int(meta.get("NumberOfFrames")) or 1
    if frames > 1 or pixels.ndim != 2:
        raise _fail(path, f"it holds {frames} frames; a volume takes single-frame images")
    if out is None:
        out = np.empty(pixels.shape, np.float32)
    elif out.shape != pixels.shape:
        raise _fail(path, f"its image is {pixels.shape[0]} x {pixels.shape[1]}, not"
                    f" {out.shape[0]} x {out.shape[1]} like the others")
    slope, intercept = _float(meta.get("RescaleSlope"), 1.0), _float(meta.get("RescaleIntercept"),
                                                                      0.0)
    np.multiply(pixels, np.float32(slope), out=out, casting="unsafe")
    if intercept:
        out += np.float32(intercept)
    return out


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
