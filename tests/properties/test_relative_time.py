"""Relative times: what "-7d", "7 days ago", "today" mean, for any now and any count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

import circus_nb as cnb
from circus_nb.domain.relative_time import relative_time

NOW = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1),
                   timezones=st.just(UTC))
UNITS = {"h": "hours", "d": "days", "w": "weeks"}


@given(now=NOW, count=st.integers(0, 5000), unit=st.sampled_from(sorted(UNITS)))
def test_an_offset_and_its_words_name_the_same_time(now, count, unit):
    expected = now - timedelta(**{UNITS[unit]: count})
    assert relative_time(f"-{count}{unit}", now) == expected
    assert relative_time(f"{count} {UNITS[unit]} ago", now) == expected
    assert relative_time(f" -{count} {UNITS[unit].upper()} ", now) == expected


@given(now=NOW)
def test_today_and_yesterday_are_whole_days_around_now(now):
    start, end = relative_time("today", now), relative_time("today", now, end_of_day=True)
    assert start <= now <= end and start.date() == end.date() == now.date()
    assert relative_time("yesterday", now) == start - timedelta(days=1)
    assert relative_time("now", now) == now


@given(now=NOW, text=st.text(max_size=30))
def test_any_text_is_a_time_none_or_a_validation_error(now, text):
    try:
        value = relative_time(text, now)
    except cnb.ValidationError as e:
        assert "relative time" in str(e)
    else:
        assert value is None or value <= now


def test_only_ascii_digits_count():
    assert relative_time("-\u0667d", datetime(2026, 1, 1, tzinfo=UTC)) is None


@pytest.mark.parametrize("text", ["-36601d", "-99999999999999999999w", "-5y", "3 fortnights ago"])
def test_beyond_a_century_or_unknown_units_are_refused(text):
    with pytest.raises(cnb.ValidationError):
        relative_time(text, datetime(2026, 1, 1, tzinfo=UTC))
