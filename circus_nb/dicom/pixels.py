"""Pixel data: one 2-D float32 image per file, rescaled, or a clear ``CircusError``."""

from __future__ import annotations

import os

import numpy as np
import pydicom

from ..errors import CircusError

__all__ = ["read_image"]


def _fail(path: str | os.PathLike, ds: pydicom.Dataset | None, reason: str) -> CircusError:
    syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    named = f" (transfer syntax {syntax.name} {syntax})" if syntax is not None else ""
    return CircusError(f"Cannot load the pixels of {os.fspath(path)}{named}: {reason}",
                       field="path", value=os.fspath(path))


def read_image(path: str | os.PathLike) -> np.ndarray:
    """The image of a single-frame grayscale file, with RescaleSlope/Intercept applied.

    Raises
    ------
    CircusError
        Naming the file, its transfer syntax and the reason: unreadable, no pixel
        data, several frames, colour, or a decoder failure.
    """
    try:
        ds = pydicom.dcmread(path)
    except Exception as e:  # pydicom raises many kinds; all mean the same here
        raise _fail(path, None, f"the file cannot be read ({type(e).__name__}: {e})") from e
    if "PixelData" not in ds:
        raise _fail(path, ds, "it has no pixel data (or it is cut short before it)")
    frames = _int(ds.get("NumberOfFrames")) or 1
    if frames > 1:
        raise _fail(path, ds, f"it holds {frames} frames; a volume takes single-frame images")
    if (_int(ds.get("SamplesPerPixel")) or 1) > 1:
        raise _fail(path, ds, f"it is a colour image ({ds.get('PhotometricInterpretation')});"
                    " a volume takes grayscale images")
    try:
        pixels = ds.pixel_array
    except Exception as e:  # decoder plugins raise RuntimeError, ValueError, ...
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise _fail(path, ds, f"the pixel data cannot be decoded ({first_line})") from e
    if pixels.ndim != 2:
        raise _fail(path, ds, f"its pixel array has shape {pixels.shape}, not rows x columns")
    image = pixels.astype(np.float32, copy=False)
    slope, intercept = _float(ds.get("RescaleSlope"), 1.0), _float(ds.get("RescaleIntercept"), 0.0)
    if slope != 1.0:
        image = image * np.float32(slope)
    if intercept != 0.0:
        image = image + np.float32(intercept)
    return image


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
