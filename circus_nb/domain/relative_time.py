"""Times named relative to now, for searches that stay meaningful when saved.

"Updated in the last 7 days" is a condition, not a date: a saved search keeps the
text ``"-7d"`` (or ``"7 days ago"``) and each run resolves it against its own now.

>>> from datetime import UTC, datetime
>>> now = datetime(2026, 12, 1, 15, 30, tzinfo=UTC)
>>> relative_time("-7d", now).isoformat()
'2026-11-24T15:30:00+00:00'
>>> relative_time("2 weeks ago", now).date().isoformat()
'2026-11-17'
>>> relative_time("today", now).isoformat(), relative_time("today", now, end_of_day=True).time()
('2026-12-01T00:00:00+00:00', datetime.time(23, 59, 59, 999999))
>>> relative_time("2026-11-01", now) is None  # not relative: an ISO date is read elsewhere
True
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta

from ..errors import ValidationError

__all__ = ["RELATIVE_FORMS", "relative_time"]

#: How the forms read, for messages.
RELATIVE_FORMS = "'now', 'today', 'yesterday', '-7d', '-12h', '-2w' or '7 days ago'"

_UNITS = {"h": "hours", "hour": "hours", "hours": "hours",
          "d": "days", "day": "days", "days": "days",
          "w": "weeks", "week": "weeks", "weeks": "weeks"}
# ASCII digits only: "-\u0667d" (an Arabic-Indic 7) is not an offset
_AGO = re.compile(r"^(?:-\s*(?P<n1>[0-9]+)\s*(?P<u1>[a-z]+)"
                  r"|(?P<n2>[0-9]+)\s*(?P<u2>[a-z]+)\s+ago)$")
_MAX_DAYS = 100 * 366  # a century back: beyond that a date is meant, not an offset


def relative_time(text: str, now: datetime, end_of_day: bool = False) -> datetime | None:
    """The time ``text`` names relative to ``now`` (aware), or ``None`` if it names none.

    ``today`` and ``yesterday`` are whole days (UTC): their start, or their end with
    ``end_of_day`` (for the ``*_to`` end of a range). Offsets are exact.

    Raises
    ------
    ValidationError
        For an offset in an unknown unit or further back than a century.
    """
    words = text.strip().lower()
    if words == "now":
        return now
    if words in ("today", "yesterday"):
        day = now.date() - timedelta(days=words == "yesterday")
        return datetime.combine(day, time.max if end_of_day else time.min, tzinfo=now.tzinfo)
    match = _AGO.match(words)
    if match is None:
        return None
    count = int(match["n1"] or match["n2"])
    unit = _UNITS.get(match["u1"] or match["u2"])
    if unit is None:
        raise ValidationError(f"A relative time counts hours, days or weeks back, such as"
                              f" {RELATIVE_FORMS}; got {text!r}.", value=text)
    offset = timedelta(**{unit: count}) if count <= _MAX_DAYS * 24 else None
    if offset is None or offset > timedelta(days=_MAX_DAYS):
        raise ValidationError(f"A relative time reaches at most a century back; got {text!r}."
                              " Give a date instead, such as '1900-01-01'.", value=text)
    return now - offset
