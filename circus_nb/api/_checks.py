"""Argument checks shared by the searches: pages, sort keys, dates."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from ..errors import ValidationError

MAX_PAGE = 200
MAX_SORT_KEYS = 5
PATIENT_FILTERS = {"patient_id", "patient_name", "sex", "min_age", "max_age"}


def check_page(limit: int, offset: int) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise ValidationError(f"limit must be 1 to {MAX_PAGE} rows a page, got {limit!r};"
                              " use offset= to page further.", field="limit", value=limit)
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValidationError(f"offset must be an integer >= 0, got {offset!r}.",
                              field="offset", value=offset)


def check_sort(sort: list[str] | str, columns: list[str]) -> list[str]:
    """Sort keys such as ``["-imported_at", "modality"]``: at most 5 known columns."""
    keys = [sort] if isinstance(sort, str) else list(sort)
    if len(keys) > MAX_SORT_KEYS:
        raise ValidationError(f"At most {MAX_SORT_KEYS} sort keys, got {len(keys)}.",
                              field="sort", value=keys)
    for key in keys:
        if not isinstance(key, str) or key.lstrip("-") not in columns:
            raise ValidationError(f"Cannot sort by {key!r}; sort by one of {', '.join(columns)}"
                                  " (prefix '-' for descending).", field="sort", value=key)
    return keys


def as_utc(value: Any, field: str, end_of_day: bool = False) -> datetime | None:
    """A timezone-aware UTC datetime from a date, a datetime or ISO text.

    >>> as_utc("2024-03-01", "date_to", end_of_day=True).isoformat()
    '2024-03-01T23:59:59.999999+00:00'
    """
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value) if "T" in value or " " in value \
                else date.fromisoformat(value)
        except ValueError:
            raise ValidationError(f"{field} must be a date such as '2024-03-01', got {value!r}.",
                                  field=field, value=value) from None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, time.max if end_of_day else time.min, tzinfo=UTC)
    raise ValidationError(f"{field} must be a date, a datetime or ISO text, got {value!r}.",
                          field=field, value=value)
