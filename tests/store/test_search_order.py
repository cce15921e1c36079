"""Pages found a quicker way are the pages of the plain query.

A case search sorted by patient fields sorts each series' rank in the field, not the field
itself (``store/search.py: _ranked_series``): the pages must be the same as sorting the
values, NULLs last in either direction, ties broken by the next key, then case id. A
newest-first search on DuckDB looks in recent windows first (``newest_windows``).
"""

from datetime import UTC, datetime, timedelta
from unittest import mock

import duckdb
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from circus_nb.store import search
from circus_nb.store.search import case_query

NAMES = st.one_of(st.none(), st.sampled_from(["Müller", "Mueller", "müller", "Abe", "abe", ""]))
SERIES = st.lists(st.tuples(NAMES, st.one_of(st.none(), st.integers(0, 3)),
                            st.sampled_from([None, "F", "M"])), min_size=1, max_size=6)
KEYS = st.lists(st.sampled_from(["patient_name", "patient_id", "age", "sex", "created_at",
                                 "revision"]), min_size=1, max_size=3, unique=True)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def tables(series: list, firsts: list[int], days: list[int], start: datetime = T0,
           statuses: list[str] | None = None) -> duckdb.DuckDBPyConnection:
    """The columns of ``series`` and ``cases`` that a search reads, in a memory database:
    case ``i`` has first series ``firsts[i]`` and was created ``days[i]`` after ``start``."""
    con = duckdb.connect()
    series_rows = pd.DataFrame(
        [(f"s{i}", name and name.upper(), name, age, sex)  # patient_id: ties of its own
         for i, (name, age, sex) in enumerate(series)],
        columns=["series_uid", "patient_id", "patient_name", "age", "sex"])
    cases = pd.DataFrame({
        "case_id": [f"c{i:02}" for i in range(len(firsts))], "project_id": "p",
        "tags": [[] for _ in firsts], "created_at": [start + timedelta(days=d) for d in days],
        "latest": [d % 3 for d in days], "status": statuses or "draft", "description": "",
        "first_series_uid": [f"s{i % len(series)}" for i in firsts]})
    cases["updated_at"] = cases["created_at"]
    con.register("series_frame", series_rows)
    con.register("cases_frame", cases)
    con.execute("CREATE TABLE series AS SELECT * FROM series_frame")
    con.execute("CREATE TABLE cases AS SELECT * FROM cases_frame")
    return con


@settings(max_examples=150, deadline=None)
@given(series=SERIES, firsts=st.lists(st.integers(0, 5), min_size=1, max_size=12),
       keys=KEYS, descending=st.lists(st.booleans(), min_size=3, max_size=3),
       limit=st.integers(1, 5), offset=st.integers(0, 6), data=st.data())
def test_a_page_sorted_by_patient_fields_is_the_page_of_the_sorted_values(
        series, firsts, keys, descending, limit, offset, data):
    days = data.draw(st.lists(st.integers(0, 3), min_size=len(firsts), max_size=len(firsts)))
    con = tables(series, firsts, days)
    sort = [f"-{key}" if down else key for key, down in zip(keys, descending, strict=False)]
    sql, params = case_query({}, ["p"], None, sort, limit, offset)
    found = con.execute(sql, params).df()
    everything = con.execute(*case_query({}, ["p"], None, [], 100, 0)).df()
    expected = everything.sort_values([*keys, "case_id"], na_position="last",
                                      ascending=[not d for d in descending[:len(keys)]] + [True])
    assert found["case_id"].tolist() == expected["case_id"].tolist()[offset:offset + limit]


class Memory:
    """A memory database as the search functions use one."""
    kind = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.execute = con.execute


DAYS = st.one_of(st.integers(-70, 3), st.integers(-900, 3))  # days from now; the windows


@settings(max_examples=100, deadline=None)
@given(days=st.lists(DAYS, min_size=1, max_size=40),
       limit=st.integers(1, 8), offset=st.integers(0, 10),
       created_from=st.one_of(st.none(), DAYS),
       status=st.booleans(), data=st.data())
def test_a_newest_first_page_looked_for_in_recent_windows_is_the_plain_page(
        days, limit, offset, created_from, status, data):
    now = datetime.now(UTC)
    statuses = data.draw(st.lists(st.sampled_from(["a", "b"]), min_size=len(days),
                                  max_size=len(days)))
    con = tables([("A", 1, "F")], [0] * len(days), days, now, statuses)
    filters = {} if created_from is None else {"created_from": now + timedelta(days=created_from)}
    if status:
        filters["status"] = "a"
    with mock.patch.object(search, "WINDOWED_FROM", 0):  # windows for a store this small
        found = search.search_cases(Memory(con), filters, ["p"], None, ["-created_at"], limit,
                                    offset)
    plain = con.execute(*case_query(filters, ["p"], None, ["-created_at"], limit, offset)).df()
    assert found["case_id"].tolist() == plain["case_id"].tolist()


def with_revisions(cases: list[tuple[int, list[int]]], now: datetime
                   ) -> duckdb.DuckDBPyConnection:
    """Cases created ``day`` days from ``now``, each revision ``gap`` hours after the one
    before, as the API writes them (``cases`` rows and their ``revisions``)."""
    revisions, heads = [], []
    for i, (day, gaps) in enumerate(cases):
        dates = [now + timedelta(days=day)]
        for gap in gaps:
            dates.append(dates[-1] + timedelta(hours=gap))
        for idx, date in enumerate(dates):
            revisions.append((f"c{i:02}", idx, date, f"st{idx % 2}", f"rev {idx}", "s0",
                              dates[idx - 1] if idx else None))
        heads.append((f"c{i:02}", "p", ["t"] if i % 2 else [], dates[0], dates[-1],
                      len(gaps), f"st{len(gaps) % 2}", f"rev {len(gaps)}", "s0", dates[-1]))
    con = tables([("A", 1, "F")], [], [])
    con.execute("DROP TABLE cases")
    con.register("revisions_frame", pd.DataFrame(revisions, columns=[
        "case_id", "idx", "date", "status", "description", "first_series_uid", "previous_date"]))
    con.register("heads_frame", pd.DataFrame(heads, columns=[
        "case_id", "project_id", "tags", "created_at", "updated_at", "latest", "status",
        "description", "first_series_uid", "saved_at"]))
    con.execute("CREATE TABLE revisions AS SELECT * FROM revisions_frame")
    con.execute("CREATE TABLE cases AS SELECT * FROM heads_frame")
    return con


@settings(max_examples=100, deadline=None)
@given(cases=st.lists(st.tuples(st.integers(-600, 0), st.lists(st.integers(0, 24 * 90),
                                                                max_size=4)),
                      min_size=1, max_size=20),
       at=st.integers(-700, 10), limit=st.integers(1, 8), offset=st.integers(0, 10),
       tagged=st.booleans(), newest=st.booleans())
def test_a_page_at_a_past_time_chosen_by_case_rows_is_the_page_of_the_union(
        cases, at, limit, offset, tagged, newest):
    """On a large DuckDB store, a search at a past time filtered and sorted by case rows
    alone picks the page from the cases, then reads their revisions
    (``_cases_then_revisions``): the same rows as ``cases_at``'s union, oldest first or
    newest first (looked for in the recent windows)."""
    now = datetime.now(UTC)
    con, when = with_revisions(cases, now), now + timedelta(days=at)
    filters, sort = {"tags": ["t"]} if tagged else {}, ["-created_at" if newest else "created_at"]
    with mock.patch.object(search, "WINDOWED_FROM", 0):  # as if the store were large
        found = search.search_cases(Memory(con), filters, ["p"], when, sort, limit, offset)
    union = con.execute(*case_query(filters, ["p"], when, sort, limit, offset)).df()
    pd.testing.assert_frame_equal(found, union)
