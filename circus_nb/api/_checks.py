"""Argument checks shared by the searches and counts: filters, pages, sort keys, dates.

One table per search says how each filter is checked, so ``search_series`` and
``count_series`` (and the case pair) cannot drift apart.

>>> check_filters({"modality": "CT", "min_age": None}, SERIES_FILTERS, "search_series")
{'modality': 'CT'}
>>> check_filters({"modaliti": "CT"}, SERIES_FILTERS, "count_series")
Traceback (most recent call last):
...
circus_nb.errors.ValidationError: count_series has no filter 'modaliti'. Did you mean ...
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time
from difflib import get_close_matches
from functools import partial
from numbers import Integral
from typing import Any

from ..domain.project import TAG_MAX_LEN
from ..domain.relative_time import RELATIVE_FORMS, relative_time
from ..domain.values import check_int, check_names, check_text, shown
from ..errors import ValidationError

MAX_PAGE = 200
MAX_SORT_KEYS = 5
MAX_OFFSET = 2**63 - 1  # the database counts rows in 64 bits
MAX_AGE = 999  # PatientAge holds at most three digits
MAX_TAGS = 10  # tags given in one call: creating a case, bulk changes, a search
PATIENT_FILTERS = {"patient_id", "patient_name", "sex", "min_age", "max_age"}
PATIENT_COLUMNS = ("patient_id", "patient_name", "age", "sex")


def check_tags(tags: Any) -> list[str]:
    """Tags as a list without repeats: at most 10, each one line of 1 to 32 characters.

    >>> check_tags(["a", "b", "a"])
    ['a', 'b']

    Raises
    ------
    ValidationError
        If ``tags`` is not a tag or a list of tags, holds more than 10, or holds a
        tag that is empty, too long, or has a control character.
    """
    checked = check_names(tags, "tags", TAG_MAX_LEN, item="tag", max_items=MAX_TAGS)
    return list(dict.fromkeys(checked))


def check_id(value: Any, field: str) -> str:
    """A project, case or series id: one line of 1 to 64 characters."""
    return check_text(value, field, 64, line=True)


def check_path(value: Any, field: str = "path") -> str | os.PathLike:
    """A file-system path: text or a path object, without NUL.

    Paths may hold the surrogates of ``errors="surrogateescape"``: that is how
    Python spells file names that are not UTF-8, and they must keep working.

    Raises
    ------
    ValidationError
        If ``value`` is neither text nor a path, holds a NUL, or cannot be spelled
        as a file name of this system.
    """
    if not isinstance(value, str | os.PathLike) or not isinstance(os.fspath(value), str):
        raise ValidationError(f"{field} must be a path (text or pathlib.Path), got {shown(value)}.",
                              field=field, value=value)
    text = os.fspath(value)
    try:
        os.fsencode(text)
    except UnicodeEncodeError as e:
        raise ValidationError(f"{field} cannot be a file name on this system ({e.reason} at"
                              f" position {e.start}), got {shown(value)}.", field=field,
                              value=value) from None
    if "\x00" in text:
        raise ValidationError(f"{field} must not hold a NUL character, got {shown(value)}.",
                              field=field, value=value)
    return value


def check_flag(value: Any, field: str) -> bool:
    """``value`` if it is ``True`` or ``False``."""
    if not isinstance(value, bool):
        raise ValidationError(f"{field} must be True or False, got {shown(value)}.", field=field,
                              value=value)
    return value


MAX_TIMEOUT = 3600.0  # seconds; a longer wait is a mistake, not patience


def check_timeout(value: Any) -> float:
    """How long to wait for another process's turn on a store, in seconds."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not number or not 0 < value <= MAX_TIMEOUT:
        raise ValidationError(f"timeout must be a number of seconds above 0 and at most"
                              f" {MAX_TIMEOUT:g}, got {shown(value)}.", field="timeout",
                              value=value)
    return float(value)


def as_utc(value: Any, field: str, end_of_day: bool = False) -> datetime | None:
    """A timezone-aware UTC datetime from a date, a datetime, ISO text or a time
    relative to now (``"-7d"``, ``"7 days ago"``, ``"today"``: see
    :mod:`~circus_nb.domain.relative_time`).

    >>> as_utc("2024-03-01", "date_to", end_of_day=True).isoformat()
    '2024-03-01T23:59:59.999999+00:00'
    >>> as_utc("-1d", "updated_from") < datetime.now(UTC)
    True

    Raises
    ------
    ValidationError
        If ``value`` is none of those, or text that is neither an ISO date nor a
        relative time.
    """
    if value is None:
        return None
    if isinstance(value, str):
        check_text(value, field, 64)
        relative = _relative(value, field, end_of_day)
        if relative is not None:
            return relative
        try:
            value = datetime.fromisoformat(value) if "T" in value or " " in value \
                else date.fromisoformat(value)
        except ValueError:
            raise ValidationError(f"{field} must be a date such as '2024-03-01' or a time"
                                  f" relative to now ({RELATIVE_FORMS}), got {shown(value)}.",
                                  field=field, value=value) from None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, time.max if end_of_day else time.min, tzinfo=UTC)
    raise ValidationError(f"{field} must be a date, a datetime or ISO text, got {shown(value)}.",
                          field=field, value=value)


def _relative(value: str, field: str, end_of_day: bool) -> datetime | None:
    try:
        return relative_time(value, datetime.now(UTC), end_of_day)
    except ValidationError as e:
        raise ValidationError(f"{field}: {e}", field=field, value=value) from None


def _text(max_len: int) -> Callable[[Any, str], Any]:
    # "" is a filter that every row passes (substrings) or none (exact): as before
    return lambda value, field: check_text(value, field, max_len, min_len=0)


def _age(value: Any, field: str) -> int:
    return check_int(value, field, 0, MAX_AGE)


def _date(end_of_day: bool) -> Callable[[Any, str], Any]:
    return partial(as_utc, end_of_day=end_of_day)


# filter name -> its check (which also converts): one table per search
SERIES_FILTERS: dict[str, Callable[[Any, str], Any]] = {
    "modality": _text(16), "series_uid": _text(64), "study_uid": _text(64),
    "description": _text(1024), "patient_id": _text(64), "patient_name": _text(1024),
    "sex": _text(16), "min_age": _age, "max_age": _age,
    "date_from": _date(False), "date_to": _date(True),
    "imported_from": _date(False), "imported_to": _date(True),
    "in_list": _text(64),  # a list id, once the api has resolved the name
}
CASE_FILTERS: dict[str, Callable[[Any, str], Any]] = {
    "case_id": _text(64), "tags": lambda value, field: check_tags(value),
    "patient_id": _text(64), "patient_name": _text(1024), "sex": _text(16),
    "min_age": _age, "max_age": _age,
    "created_from": _date(False), "created_to": _date(True),
    "updated_from": _date(False), "updated_to": _date(True),
    "status": lambda value, field: check_text(value, field, 64, line=True),
    "in_list": _text(64),
}


def check_filters(given: Mapping[str, Any], checks: Mapping[str, Callable[[Any, str], Any]],
                  where: str) -> dict[str, Any]:
    """The filters that are not ``None``, each checked and converted.

    Raises
    ------
    ValidationError
        For a filter ``checks`` does not know (with the closest name), or a value
        its check refuses.
    """
    for name in given:
        if name not in checks:
            close = get_close_matches(name, list(checks), n=1)
            hint = f" Did you mean {shown(close[0])}?" if close else ""
            raise ValidationError(f"{where} has no filter {shown(name)}.{hint} Filters:"
                                  f" {', '.join(checks)}.", field=name, value=given[name])
    return {name: checks[name](value, name) for name, value in given.items()
            if value is not None}


def check_page(limit: Any, offset: Any) -> tuple[int, int]:
    """``limit`` 1 to 200 rows, ``offset`` an integer >= 0, as plain ints (NumPy
    integers are welcome; the database is given Python's).

    Raises
    ------
    ValidationError
        If either is not an integer in its range.
    """
    if isinstance(limit, bool) or not isinstance(limit, Integral) or not 1 <= limit <= MAX_PAGE:
        raise ValidationError(f"limit must be 1 to {MAX_PAGE} rows a page, got {shown(limit)};"
                              " use offset= to page further.", field="limit", value=limit)
    if (isinstance(offset, bool) or not isinstance(offset, Integral)
            or not 0 <= offset <= MAX_OFFSET):
        raise ValidationError(f"offset must be an integer >= 0 (at most 2**63 - 1), got"
                              f" {shown(offset)}.", field="offset", value=offset)
    return int(limit), int(offset)


def sort_column(key: str) -> str:
    """The column of a sort key: ``"-age"`` sorts by ``age``, descending."""
    return key.removeprefix("-")


def check_sort(sort: Any, columns: list[str]) -> list[str]:
    """Sort keys such as ``["-imported_at", "modality"]``: at most 5 known columns.

    >>> check_sort(["--modality"], ["modality"])
    Traceback (most recent call last):
    ...
    circus_nb.errors.ValidationError: Cannot sort by '--modality'; sort by one of modality ...

    Raises
    ------
    ValidationError
        For more than 5 keys, a key that is not text, or an unknown column.
    """
    if isinstance(sort, str):
        sort = [sort]
    if isinstance(sort, Mapping) or not isinstance(sort, list | tuple):
        raise ValidationError(f"sort must be a list of column names, got {shown(sort)}.",
                              field="sort", value=sort)
    keys = list(sort)
    if len(keys) > MAX_SORT_KEYS:
        raise ValidationError(f"At most {MAX_SORT_KEYS} sort keys, got {len(keys)}.",
                              field="sort", value=keys)
    for key in keys:
        if not isinstance(key, str) or sort_column(key) not in columns:
            raise ValidationError(f"Cannot sort by {shown(key)}; sort by one of"
                                  f" {', '.join(columns)} (prefix '-' for descending).",
                                  field="sort", value=key)
    return keys


def uses_patient_fields(filters: Mapping[str, Any], sort: list[str]) -> bool:
    """Whether a search filters or sorts by patient information.

    Sorting by a masked column would still hand out patient order, so it needs
    what a patient filter needs.
    """
    return bool(filters.keys() & PATIENT_FILTERS
                or {sort_column(key) for key in sort} & set(PATIENT_COLUMNS))
