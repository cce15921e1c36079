"""Builders of malformed DICOM files, from a good one, byte by byte.

Each writes a file a user (or an attacker) could hand to the importer: cut
short, with a sequence nested thousands deep, with PixelData bytes where no
PixelData element is, with a 4 GB element that is not there.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pydicom
from pydicom.data import get_testdata_file

from circus_nb.dicom.sample import write_ct_series

PIXEL_TAG = b"\xe0\x7f\x10\x00"
ITEM, ITEM_END, SEQUENCE_END = b"\xfe\xff\x00\xe0", b"\xfe\xff\x0d\xe0", b"\xfe\xff\xdd\xe0"
UNDEFINED = b"\xff\xff\xff\xff"


def good_file(folder: Path, seed: int = 0) -> Path:
    """One small CT slice (explicit VR little endian, native pixel data)."""
    series = write_ct_series(folder / f"good-{seed}", n=1, size=16, seed=seed)
    return next(series.folder.iterdir())


def pixel_offset(data: bytes) -> int:
    """Where the top-level PixelData element of a file written by write_ct_series starts."""
    return data.rindex(PIXEL_TAG + b"OW")


def before_pixels(source: Path, target: Path, extra: bytes) -> Path:
    """``source`` with ``extra`` (whole elements) inserted just before its PixelData."""
    data = source.read_bytes()
    at = pixel_offset(data)
    target.write_bytes(data[:at] + extra + data[at:])
    return target


def private_ob(value: bytes, declared: int | None = None) -> bytes:
    """A private creator and a private OB element (0029,1010) holding ``value``."""
    creator = b"CIRCUS TEST "
    length = len(value) if declared is None else declared
    return (b"\x29\x00\x10\x00LO" + struct.pack("<H", len(creator)) + creator
            + b"\x29\x00\x10\x10OB\x00\x00" + struct.pack("<I", length) + value)


def nested_sequences(depth: int) -> bytes:
    """A ContentSequence holding a sequence ... ``depth`` deep, all of undefined length."""
    opening = b"\x40\x00\x30\xa7SQ\x00\x00" + UNDEFINED + ITEM + UNDEFINED
    closing = ITEM_END + b"\0" * 4 + SEQUENCE_END + b"\0" * 4
    return opening * depth + closing * depth


def changed_copy(source: Path, target: Path, **changes) -> Path:
    """``source`` saved again with the given keywords set (``None``: removed)."""
    ds = pydicom.dcmread(source)
    for keyword, value in changes.items():
        if value is None:
            delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    target.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(target)
    return target


def corrupt_deflated(target: Path) -> Path:
    """pydicom's deflated test file with its compressed dataset damaged."""
    data = bytearray(Path(get_testdata_file("image_dfl.dcm", download=False)).read_bytes())
    data[400:440] = b"\xff" * 40
    target.write_bytes(bytes(data))
    return target
