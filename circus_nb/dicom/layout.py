"""Where the elements of a DICOM file lie, from their headers alone.

pydicom reads a file that stops short without a word: a value shorter than its
length, an element cut inside its header, a sequence that never ends all give a
dataset that looks whole. :func:`element_layout` walks the element headers
(tag, VR, length; values are skipped, never read), so it tells where the
top-level PixelData starts, even behind a sequence of undefined length that
holds a PixelData of its own (an icon image), and whether the file ends where
its elements say it does. It is the careful path; the importer's fast path
needs it only when its quick guess does not hold.

A file cut inside its header:

>>> meta = b"\\x02\\x00\\x10\\x00UI\\x14\\x001.2.840.10008.1.2.1\\x00"
>>> element = b"\\x10\\x00\\x10\\x00PN\\x08\\x00Doe^Jane"
>>> whole = b"\\0" * 128 + b"DICM" + meta + element
>>> element_layout(lambda at, n: whole[at:at + n], len(whole))
Layout(pixel_offset=None, pixel_value=None, pixel_length=None)
>>> cut = whole[:-3]
>>> element_layout(lambda at, n: cut[at:at + n], len(cut))
'the file is truncated: element (0010,0010) needs 8 bytes from byte 168, the file ends at byte 173'
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["MAX_DEPTH", "Layout", "element_layout"]

ReadAt = Callable[[int, int], bytes]  # (offset, size) -> the bytes there (fewer at the end)

MAX_DEPTH = 64  # nested sequences followed; deeper files are left to pydicom
UNDEFINED = 0xFFFFFFFF
_ITEM, _ITEM_END, _SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_PIXEL_TAGS = {0x7FE00010, 0x7FE00008, 0x7FE00009}  # PixelData, Float and Double Float
_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR",
             b"UT", b"UV"}  # a 4-byte length after two reserved bytes
_SHORT_VRS = {b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO",
              b"LT", b"PN", b"SH", b"SL", b"SS", b"ST", b"TM", b"UI", b"UL", b"US"}
_IMPLICIT_LE, _EXPLICIT_BE = "1.2.840.10008.1.2", "1.2.840.10008.1.2.2"
_DEFLATED = {"1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.4.95"}
_DATASET_START = 132  # after the preamble and "DICM"


@dataclass(frozen=True)
class Layout:
    """A file whose elements all fit: where its top-level pixel data element starts
    (``None``: it has none), where its value starts, and the declared length of that
    value (``None``: undefined)."""

    pixel_offset: int | None
    pixel_value: int | None
    pixel_length: int | None


class _Cut(Exception):
    """The file ends inside an element: the message says where."""


class _Unsure(Exception):
    """An encoding this walk does not follow (pydicom may still read it)."""


@dataclass(frozen=True)
class _Encoding:
    little: bool
    explicit: bool

    @property
    def order(self) -> str:
        return "<" if self.little else ">"


@dataclass(frozen=True)
class _Level:
    """A dataset (``in_sequence`` False) or a sequence being walked. Below the top
    level only those of undefined length are walked: a delimiter ends them."""

    in_sequence: bool
    encoding: _Encoding


def element_layout(read_at: ReadAt, size: int) -> Layout | str | None:
    """Walk the element headers of a file of ``size`` bytes that has 'DICM' at 128.

    Returns
    -------
    Layout
        Every element before the pixel data (or up to the end) is whole.
    str
        The reason the file is truncated (where it ends inside an element).
    None
        The walk cannot tell (deflated data, an unknown VR, sequences nested
        deeper than :data:`MAX_DEPTH`): read the file with pydicom alone.
    """
    try:
        start, encoding = _file_meta(read_at, size)
        return _walk(read_at, size, start, encoding)
    except _Cut as cut:
        return f"the file is truncated: {cut}"
    except _Unsure:
        return None


def _header(read_at: ReadAt, at: int, size: int, encoding: _Encoding
            ) -> tuple[int, bytes | None, int, int]:
    """``(tag, VR or None, length, offset of the value)`` of the element at ``at``."""
    raw = read_at(at, 12)
    if len(raw) < 8:
        raise _Cut(f"it ends at byte {size}, inside the header of an element")
    group, element, vr = struct.unpack(encoding.order + "HH2s", raw[:6])
    tag = group << 16 | element
    if not encoding.explicit or group == 0xFFFE:  # items and delimiters carry no VR
        return tag, None, struct.unpack(encoding.order + "L", raw[4:8])[0], at + 8
    if vr in _LONG_VRS:
        if len(raw) < 12:
            raise _Cut(f"it ends at byte {size}, inside the header of element {_name(tag)}")
        return tag, vr, struct.unpack(encoding.order + "L", raw[8:12])[0], at + 12
    if vr in _SHORT_VRS:
        return tag, vr, struct.unpack(encoding.order + "H", raw[6:8])[0], at + 8
    raise _Unsure


def _name(tag: int) -> str:
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def _skip(tag: int, value: int, length: int, size: int) -> int:
    end = value + length
    if end > size:
        raise _Cut(f"element {_name(tag)} needs {length} bytes from byte {value}, the file"
                   f" ends at byte {size}")
    return end


def _file_meta(read_at: ReadAt, size: int) -> tuple[int, _Encoding]:
    """Walk the group 0002 elements; return where the dataset starts and its encoding."""
    meta = _Encoding(little=True, explicit=True)
    at, syntax = _DATASET_START, None
    if size == at:
        raise _Cut("nothing follows its 'DICM' marker")
    while at < size:
        if len(peek := read_at(at, 8)) < 8:
            raise _Cut(f"it ends at byte {size}, inside the header of an element")
        if peek[:2] != b"\x02\x00":  # the first element of the dataset
            break
        tag, _, length, value = _header(read_at, at, size, meta)
        at = _skip(tag, value, length, size)
        if tag == 0x00020010:
            syntax = read_at(value, min(length, 64)).strip(b"\0 ").decode("ascii", "replace")
    if syntax is None or syntax in _DEFLATED:
        raise _Unsure
    return at, _Encoding(little=syntax != _EXPLICIT_BE, explicit=syntax != _IMPLICIT_LE)


def _walk(read_at: ReadAt, size: int, at: int, encoding: _Encoding) -> Layout:
    levels = [_Level(False, encoding)]
    while True:
        if at >= size:
            if len(levels) == 1:
                return Layout(None, None, None)
            raise _Cut(f"it ends at byte {size}, inside a sequence that has no end delimiter")
        tag, vr, length, value = _header(read_at, at, size, levels[-1].encoding)
        if len(levels) == 1 and tag in _PIXEL_TAGS:
            return Layout(at, value, None if length == UNDEFINED else length)
        at = _step(levels, tag, vr, length, value, size)
        if len(levels) > MAX_DEPTH:
            raise _Unsure


def _step(levels: list[_Level], tag: int, vr: bytes | None, length: int, value: int,
          size: int) -> int:
    """Account for one element of the innermost level; return where the next starts.

    A value of defined length is skipped (sequences too: their bytes are present,
    pydicom reads them); one of undefined length opens a level its delimiter closes.
    """
    level = levels[-1]
    delimiter = _SEQUENCE_END if level.in_sequence else _ITEM_END
    if tag == delimiter:
        if len(levels) == 1:
            raise _Unsure  # a delimiter where none belongs
        levels.pop()
        return value
    if level.in_sequence and tag != _ITEM:
        raise _Unsure
    if length != UNDEFINED:
        return _skip(tag, value, length, size)
    if level.in_sequence:  # an item of undefined length: a dataset up to its delimiter
        levels.append(_Level(False, level.encoding))
    else:  # a sequence (or encapsulated data) up to its delimiter; UN content is implicit
        inner = _Encoding(True, False) if vr == b"UN" else level.encoding
        levels.append(_Level(True, inner))
    return value
