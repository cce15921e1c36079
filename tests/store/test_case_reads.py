"""DuckDB reads a case's revisions through its ``case_id`` indexes (migration 8).

Revisions are appended in save order, so in a store that has been used for a while one
case's revisions lie in many row groups, and a read by a scan reads every revision.
These tests look at DuckDB's own profile of each statement that ``case.history()``,
``case.revision(i)`` and ``case.latest`` run: a table scan of ``revisions`` or
``revision_series`` must be an index scan.
"""

from __future__ import annotations

import re
from unittest import mock

import pytest

from circus_nb.store import cases as cases_sql
from circus_nb.store import migrations

_SCAN = re.compile(r"Table Scan.*?Table: \S+\.(\w+)\s.*?Type: ([\w ]+?)\s*│", re.S)


def _scans(db, sql: str, params) -> dict[str, str]:
    """``table -> scan type`` of the statement, as DuckDB ran it."""
    plan = "\n".join(row[1] for row in db.execute("EXPLAIN ANALYZE " + sql, params).fetchall())
    return dict(_SCAN.findall(plan))


def _statements(db, read) -> list[tuple[str, list]]:
    seen = []

    def recording(method):
        def recorded(sql, params=()):
            seen.append((sql, list(params)))
            return method(sql, params)
        return recorded

    with (mock.patch.object(db, "execute", recording(db.execute)),
          mock.patch.object(db, "frame", recording(db.frame))):
        read()
    return [(sql, params) for sql, params in seen if "revision" in sql]


@pytest.fixture
def case(cases):
    case = cases.create_case(cases.project_id, [cases.uids["chest_ct_lung"]])
    case.save("second")
    return case


@pytest.mark.parametrize("read", ["history", "revision", "latest", "last"])
def test_a_case_of_few_revisions_is_read_through_the_indexes(cases, case, read):
    call = {"history": case.history, "revision": lambda: case.revision(0),
            "latest": lambda: case.latest, "last": lambda: case.revision(-1)}[read]
    db = cases._db()
    statements = _statements(db, call)
    assert statements
    for sql, params in statements:
        scans = _scans(db, sql, params)
        assert set(scans) & {"revisions", "revision_series"}, sql
        for table in ("revisions", "revision_series"):
            assert scans.get(table, "Index Scan") == "Index Scan", (table, sql)


def test_a_long_case_is_read_by_a_scan_that_skips_row_groups_by_index(cases, case,
                                                                      monkeypatch):
    """Past INDEXED_REVISIONS the plain queries run (DuckDB would probe the index, find
    too many rows and scan anyway); their filter on idx is what lets the scan skip."""
    monkeypatch.setattr(cases_sql, "INDEXED_REVISIONS", 1)
    db = cases._db()
    statements = _statements(db, lambda: case.revision(0))
    assert [params for _, params in statements] == [[case.case_id, 0]] * 2
    for sql, params in statements:
        assert "MATERIALIZED" not in sql and sql.count("idx = ?") == 1
        assert set(_scans(db, sql, params).values()) == {"Sequential Scan"}


def test_a_store_made_before_the_indexes_gets_them_on_open(tmp_path, monkeypatch):
    import circus_nb as cnb

    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:7])
    with cnb.Store.create(tmp_path / "old") as old:
        assert old._db().execute("SELECT count(*) FROM duckdb_indexes()").fetchone() == (0,)
    monkeypatch.undo()
    with cnb.Store.open(tmp_path / "old", user="admin@example.org") as store:
        indexes = store._db().execute("SELECT index_name, table_name, expressions"
                                      " FROM duckdb_indexes() ORDER BY 1").fetchall()
    assert indexes == [("revision_series_case", "revision_series", "[case_id]"),
                       ("revisions_case", "revisions", "[case_id]")]
