"""Reading what the catalog needs from a DICOM file, fast and without pixels.

Most files keep every element before the pixel data in their first few KiB, so
we read only the head of the file, cut it just before the PixelData element and
parse that buffer. That quick guess is kept only when the parse shows the cut
fell right after a whole top-level element; otherwise (a longer header, a
PixelData inside an icon image sequence or inside another value) the careful
path walks the element headers (:mod:`.layout`), so a file cut short anywhere
is refused, then reads the file up to its top-level pixel data. The declared
pixel length is checked against the file size, so a truncated file is refused
at import instead of failing later. Whatever goes wrong with one file becomes
that file's status and reason: :func:`read_header` never raises for a bad file.

>>> result = read_header(__file__)
>>> result.status, result.reason
('not_dicom', "no 'DICM' marker at byte 128: not a DICOM file (The file is not a DICOM file.)")
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import struct
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

from ..domain.series import age_in_years, is_valid_uid
from .layout import UNDEFINED, ReadAt, element_layout
from .sources import open_regular

__all__ = ["HEAD_BYTES", "MAX_INSTANCE_NUMBER", "Header", "read_header", "read_headers"]

HEAD_BYTES = 16 * 1024
MAX_INSTANCE_NUMBER = 2**31 - 1  # the catalog stores instance numbers as 32-bit integers
_PIXEL_TAGS = {b"\xe0\x7f\x10\x00": "<", b"\x7f\xe0\x00\x10": ">"}  # (7FE0,0010), LE / BE
_SEQUENCE_END = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
_TAIL_BYTES = 64 * 1024
_NUMERIC_VRS = {"IS", "DS", "US", "SS", "UL", "SL", "FL", "FD", "UV", "SV"}
_PARAMETER_GROUPS = {0x0018, 0x0020, 0x0028}
_SKIPPED_VRS = {"SQ", "OB", "OW", "OF", "OD", "OL", "OV", "UN"}
# Catching warnings and quieting pydicom's logger change the whole process: threads
# (an executor's) that did it at once would leave warnings silenced after them.
_PROCESS_STATE = threading.RLock()


@dataclass
class Header:
    """The outcome of reading one file: a status, a reason, and the values."""

    status: str  # "ok", or an ImportReport status such as "unreadable"
    reason: str = ""
    instance: dict[str, Any] = field(default_factory=dict)
    series: dict[str, Any] | None = None  # only when asked for (the first file of a series)


def read_headers(paths: list[str], series_seen: set[str] | None = None) -> list[Header]:
    """:func:`read_header` for many files; series values once per series UID.

    This is what import workers run, one chunk of paths per call.
    """
    seen = set() if series_seen is None else series_seen
    results = []
    with _quiet_pydicom():
        for path in paths:
            header = read_header(path, with_series=lambda uid: uid not in seen)
            if header.status == "ok":
                seen.add(header.instance["series_uid"])
            results.append(header)
    return results


@contextlib.contextmanager
def _quiet_pydicom() -> Iterator[None]:
    """pydicom logs a warning for every odd value; the report says what matters."""
    logger = logging.getLogger("pydicom")
    with _PROCESS_STATE:
        level = logger.level
        logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            logger.setLevel(level)


def read_header(path: str | os.PathLike, with_series: Any = True) -> Header:
    """Read one file. ``with_series``: a bool, or a callable taking the series UID.

    Never raises for a bad file (only ``KeyboardInterrupt`` and the like pass):
    whatever fails, from a missing file to a sequence nested too deep for the
    parser, becomes an ``unreadable`` header whose reason says what failed.
    """
    try:
        return _read(os.fspath(path), with_series)
    except RecursionError:
        return Header("unreadable", "cannot parse the DICOM header: its sequences are nested"
                      " too deeply to be read")
    except MemoryError:
        return Header("unreadable", "cannot parse the DICOM header: reading it needs more"
                      " memory than is free")
    except OSError as e:
        return Header("unreadable", f"cannot read the file: {e.strerror or e}")
    except Exception as e:  # pydicom, zlib, struct...: one bad file must not stop an import
        return Header("unreadable", f"cannot parse the DICOM header: {_kind(e)}: {e}")


def _kind(error: Exception) -> str:
    """The name of an error's type; ``zlib.error`` rather than a bare ``error``."""
    kind = type(error)
    return f"{kind.__module__}.{kind.__name__}" if kind.__name__ == "error" else kind.__name__


def _read(path: str, with_series: Any) -> Header:
    with _PROCESS_STATE, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dataset, stat, problem = _read_dataset(path, caught)
    if problem:
        return Header(*problem)
    cut_short = [str(w.message) for w in caught if "End of file" in str(w.message)]
    if cut_short:
        return Header("unreadable", f"the file ends inside its header ({cut_short[0]})")
    return _header_from(dataset, stat, with_series)


Problem = tuple[str, str] | None  # (status, reason) of a file that cannot be imported


def _read_dataset(path: str, caught: list) -> tuple[Dataset | None, os.stat_result, Problem]:
    with open_regular(path) as f:
        stat = os.fstat(f.fileno())
        head = f.read(HEAD_BYTES)
        if len(head) < 132 or head[128:132] != b"DICM":
            return None, stat, ("not_dicom", "no 'DICM' marker at byte 128: not a DICOM file"
                                " (The file is not a DICOM file.)")
        quick = _quick_read(head)
        if quick is not None:
            dataset, offset, length = quick
            return dataset, stat, _truncation(f, stat.st_size, offset + 12, length)
        caught.clear()  # what the quick parse warned about is heard again if it matters
        return _careful_read(f, head, stat)


def _quick_read(head: bytes) -> tuple[Dataset, int, int | None] | None:
    """The dataset of ``head`` cut before its PixelData, when that is surely the
    top-level PixelData: the last element parsed ends exactly where it starts."""
    cut = _pixel_element(head)
    if cut is None:
        return None
    offset, length = cut
    try:
        dataset = pydicom.dcmread(io.BytesIO(head[:offset]))
    except Exception:  # e.g. the cut fell inside a sequence: the careful read will tell
        return None
    return (dataset, offset, length) if _ends_at(dataset, offset) else None


def _ends_at(dataset: Dataset, offset: int) -> bool:
    """Whether the last top-level element of ``dataset`` is whole and ends at ``offset``.

    Elements stay raw (unconverted) after a read, with the file position of their
    value, in the order they were read; a sequence is parsed at once, so when one
    comes last this says no.
    """
    last_tag = next(reversed(dataset.keys()), None)
    if last_tag is None:
        return False
    last = dataset.get_item(last_tag)
    return (isinstance(last, RawDataElement) and last.length != UNDEFINED
            and last.value_tell + last.length == offset)


def _careful_read(f: io.BufferedReader, head: bytes, stat: os.stat_result
                  ) -> tuple[Dataset | None, os.stat_result, Problem]:
    layout = element_layout(_reader(f, head), stat.st_size)
    if isinstance(layout, str):
        return None, stat, ("unreadable", layout)
    f.seek(0)
    dataset = pydicom.dcmread(f, stop_before_pixels=True)
    if layout is None or layout.pixel_offset is None:  # None: only pydicom could tell
        return dataset, stat, None
    return dataset, stat, _truncation(f, stat.st_size, layout.pixel_value, layout.pixel_length)


def _reader(f: io.BufferedReader, head: bytes) -> ReadAt:
    """Bytes of the file at an offset, from ``head`` when they are in it."""
    def read_at(offset: int, size: int) -> bytes:
        if offset + size <= len(head):
            return head[offset:offset + size]
        f.seek(offset)
        return f.read(size)
    return read_at


def _pixel_element(head: bytes) -> tuple[int, int | None] | None:
    """Offset and declared length (``None``: undefined) of the first explicit-VR
    PixelData tag in ``head`` (``OB``/``OW`` after the tag): a guess to verify."""
    for tag, order in _PIXEL_TAGS.items():
        at = head.find(tag, 132)
        while at != -1 and at + 12 <= len(head):
            if head[at + 4:at + 6] in (b"OB", b"OW"):
                (length,) = struct.unpack(order + "I", head[at + 8:at + 12])
                return at, None if length == UNDEFINED else length
            at = head.find(tag, at + 1)
    return None


def _truncation(f: io.BufferedReader, size: int, value: int, length: int | None) -> Problem:
    """Whether the pixel data whose value starts at byte ``value`` is all there."""
    if length is not None:
        if value + length > size:
            return ("unreadable", f"the file is truncated: its pixel data needs {length} bytes,"
                    f" {max(size - value, 0)} are present")
        return None
    # Encapsulated pixel data ends with a sequence delimiter; a few elements may
    # follow it, so look for it in the tail rather than in the last 8 bytes.
    tail_start = max(value, size - _TAIL_BYTES)
    f.seek(tail_start)
    if _SEQUENCE_END not in f.read(size - tail_start):
        return ("unreadable", "the file is truncated: its compressed pixel data does not end"
                " with a sequence delimiter")
    return None


def _get(ds: Dataset, keyword: str, kind: type | None = None) -> Any:
    """A value, or ``None`` if absent, empty or malformed; ``kind`` converts it."""
    try:
        value = ds.get(keyword)
    except (ValueError, TypeError, KeyError, OverflowError):
        return None
    if value is None or value == "":
        return None
    if kind is None:
        return value
    try:
        return kind(value)
    except (ValueError, TypeError, OverflowError):
        return None


# Read for every file straight from the raw bytes: pydicom's value conversion
# costs as much as parsing the header, and we need only these few.
_SERIES_UID, _INSTANCE_NUMBER, _SOP_UID = 0x0020000E, 0x00200013, 0x00080018
_POSITION, _ORIENTATION, _SLICE_LOCATION = 0x00200032, 0x00200037, 0x00201041
_ROWS, _COLUMNS, _WINDOW_CENTER, _WINDOW_WIDTH = 0x00280010, 0x00280011, 0x00281050, 0x00281051


def _texts(ds: Dataset, tag: int) -> list[str] | None:
    """The values of a text element (UI, IS, DS...), split at backslashes."""
    element = ds.get_item(tag)
    if element is None:
        return None
    value = element.value
    if isinstance(value, bytes):
        text = value.decode("latin-1").strip("\x00 ")
        return [part.strip() for part in text.split("\\")] if text else None
    if value is None or value == "":
        return None
    if isinstance(value, pydicom.multival.MultiValue | list | tuple):
        return [str(v) for v in value]
    return [str(value)]


def _numbers(ds: Dataset, tag: int, count: int | None = None) -> list[float] | None:
    texts = _texts(ds, tag)
    try:
        numbers = [float(t) for t in texts] if texts else None
    except ValueError:
        return None
    return numbers if numbers and (count is None or len(numbers) == count) else None


def _unsigned_short(ds: Dataset, tag: int) -> int | None:
    element = ds.get_item(tag)
    if element is None:
        return None
    value = element.value
    if isinstance(value, bytes):
        order = "little" if element.is_little_endian else "big"
        return int.from_bytes(value, order) if len(value) == 2 else None
    return value if isinstance(value, int) else None


def _instance_number(texts: list[str] | None) -> int | None:
    try:
        number = float(texts[0]) if texts else None
    except ValueError:
        return None
    return int(number) if number is not None and number.is_integer() else None


def _header_from(ds: Dataset, stat: os.stat_result, with_series: Any) -> Header:
    uid_texts = _texts(ds, _SERIES_UID)
    series_uid = uid_texts[0] if uid_texts and len(uid_texts) == 1 else None
    if not is_valid_uid(series_uid):
        shown = "\\".join(uid_texts) if uid_texts else None
        return Header("invalid_uid", f"SeriesInstanceUID {shown!r} is not a valid UID"
                      " (digits and dots, at most 64 characters). (Series UID of this DICOM"
                      " file is invalid.)")
    number_texts = _texts(ds, _INSTANCE_NUMBER)
    number = _instance_number(number_texts)
    if number is None or not 1 <= number <= MAX_INSTANCE_NUMBER:
        seen = repr("\\".join(number_texts)) if number_texts else "missing"
        return Header("no_instance_number", f"InstanceNumber is {seen}; it must be a whole"
                      f" number from 1 to {MAX_INSTANCE_NUMBER}. (Instance number not set)")
    position = _numbers(ds, _POSITION, 3) or [None] * 3
    sop = _texts(ds, _SOP_UID)
    center, width = _numbers(ds, _WINDOW_CENTER), _numbers(ds, _WINDOW_WIDTH)
    slice_location = _numbers(ds, _SLICE_LOCATION, 1)
    instance = {
        "series_uid": series_uid,
        "instance_number": number,
        "sop_instance_uid": sop[0] if sop else None,
        "size": stat.st_size,
        "mtime": stat.st_mtime,
        "position_x": position[0],
        "position_y": position[1],
        "position_z": position[2],
        "orientation": _numbers(ds, _ORIENTATION, 6),
        "slice_location": slice_location[0] if slice_location else None,
        "rows": _unsigned_short(ds, _ROWS),
        "columns": _unsigned_short(ds, _COLUMNS),
        "transfer_syntax": _transfer_syntax(ds),
        "window_center": center[0] if center else None,
        "window_width": width[0] if width else None,
    }
    wanted = with_series(series_uid) if callable(with_series) else with_series
    return Header("ok", "", instance, _series_values(ds, instance) if wanted else None)


def _transfer_syntax(ds: Dataset) -> str | None:
    meta = getattr(ds, "file_meta", None)
    return str(meta.TransferSyntaxUID) if meta is not None and "TransferSyntaxUID" in meta else None


def _when(date_text: str | None, time_text: str | None) -> datetime | None:
    if not date_text or len(date_text) < 8 or not date_text[:8].isdigit():
        return None
    digits = "".join(c for c in (time_text or "").split(".")[0] if c.isdigit())
    digits = (digits + "000000")[:6]
    try:
        return datetime.strptime(date_text[:8] + digits, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def _date(text: str | None) -> date | None:
    stamp = _when(text, None)
    return stamp.date() if stamp else None


def _series_values(ds: Dataset, instance: dict[str, Any]) -> dict[str, Any]:
    series_date = (_when(_get(ds, "SeriesDate", str), _get(ds, "SeriesTime", str))
                   or _when(_get(ds, "StudyDate", str), _get(ds, "StudyTime", str)))
    birth = _date(_get(ds, "PatientBirthDate", str))
    sex = _get(ds, "PatientSex", str)
    return {
        "study_uid": _get(ds, "StudyInstanceUID", str),
        "width": instance["columns"],
        "height": instance["rows"],
        "series_date": series_date,
        "modality": _get(ds, "Modality", str),
        "series_description": _get(ds, "SeriesDescription", str),
        "body_part": _get(ds, "BodyPartExamined", str),
        "station_name": _get(ds, "StationName", str),
        "model_name": _get(ds, "ManufacturerModelName", str),
        "manufacturer": _get(ds, "Manufacturer", str),
        "patient_id": _get(ds, "PatientID", str),
        "patient_name": _get(ds, "PatientName", str),
        "birth_date": birth,
        "age": age_in_years(_get(ds, "PatientAge", str), birth,
                            _get(ds, "StudyDate", str) or _get(ds, "SeriesDate", str)),
        "sex": sex.strip().upper() if sex and sex.strip().upper() in ("F", "M", "O") else None,
        "patient_size": _get(ds, "PatientSize", float),
        "patient_weight": _get(ds, "PatientWeight", float),
        "parameters": json.dumps(parameters(ds)),
    }


def parameters(ds: Dataset) -> dict[str, Any]:
    """TransferSyntaxUID and every standard element of groups 0018, 0020 and 0028,
    keyed by keyword: numbers as numbers (lists when multi-valued), the rest as text."""
    result: dict[str, Any] = {"TransferSyntaxUID": _transfer_syntax(ds)}
    for element in ds:
        if element.tag.group not in _PARAMETER_GROUPS or element.VR in _SKIPPED_VRS:
            continue
        keyword = element.keyword
        if keyword:
            result[keyword] = _plain(element)
    return result


def _plain(element: Any) -> Any:
    try:
        value = element.value
    except (ValueError, TypeError):
        return None
    many = isinstance(value, pydicom.multival.MultiValue | list | tuple)
    values = list(value) if many else [value]
    if element.VR in _NUMERIC_VRS:
        try:
            numbers = [float(v) if element.VR in ("DS", "FL", "FD") else int(v) for v in values]
        except (ValueError, TypeError):
            numbers = None
        if numbers is not None:
            return numbers if many else (numbers[0] if numbers else None)
    texts = [str(v) for v in values]
    return texts if many else (texts[0] if texts else None)
