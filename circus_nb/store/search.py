"""SQL for searches and their counts, built by small pure functions (testable without
a database). A search and its count share one ``WHERE`` builder, so they cannot drift.

>>> sql, params = series_query({"modality": "CT", "description": "chest"}, ["default"],
...                            ["-imported_at"], 200, 0)
>>> params
[['default'], 'CT', 'chest', 200, 0]
>>> sql, params = series_count_query({"modality": "CT"}, ["default"])
>>> sql
'SELECT count(*) FROM series WHERE domain = ANY(?) AND upper(modality) = upper(?)'
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from .database import Database

Con = Database  # every function here runs on either backend

SERIES_RESULT = {  # result column -> SQL expression
    "series_uid": "series_uid",
    "study_uid": "study_uid",
    "modality": "modality",
    "series_description": "series_description",
    "images": "images",
    "image_count": "image_count",
    "series_date": "series_date",
    "imported_at": "created_at",
    "patient_id": "patient_id",
    "patient_name": "patient_name",
    "age": "age",
    "sex": "sex",
    "domain": "domain",
    "width": "width",
    "height": "height",
}

# filter name -> (SQL condition with one placeholder per value)
_SERIES_FILTERS = {
    "modality": "upper(modality) = upper(?)",
    "series_uid": "strpos(series_uid, ?) > 0",
    "study_uid": "strpos(study_uid, ?) > 0",
    "description": "strpos(lower(series_description), lower(?)) > 0",
    "patient_id": "strpos(lower(patient_id), lower(?)) > 0",
    "patient_name": "strpos(lower(patient_name), lower(?)) > 0",
    "sex": "upper(sex) = upper(?)",
    "min_age": "age >= ?",
    "max_age": "age <= ?",
    "date_from": "series_date >= ?",
    "date_to": "series_date <= ?",
    "imported_from": "created_at >= ?",
    "imported_to": "created_at <= ?",
    "in_list": "series_uid IN (SELECT item FROM list_items WHERE list_id = ?)",
}


def order_by(sort: Sequence[str], columns: Mapping[str, str], tie: str) -> str:
    """``ORDER BY`` from keys such as ``["-imported_at", "modality"]`` (checked by the caller)."""
    terms = [f"{columns[key.removeprefix('-')]} {'DESC' if key.startswith('-') else 'ASC'}"
             " NULLS LAST" for key in sort]
    return "ORDER BY " + ", ".join([*terms, tie])


def _series_where(filters: Mapping[str, Any], domains: Sequence[str]) -> tuple[str, list[Any]]:
    """The ``WHERE`` conditions of a series search, and their parameters."""
    conditions = ["domain = ANY(?)"]
    params: list[Any] = [sorted(domains)]
    for name, value in filters.items():
        conditions.append(_SERIES_FILTERS[name])
        params.append(value)
    return " AND ".join(conditions), params


def series_query(filters: Mapping[str, Any], domains: Sequence[str], sort: Sequence[str],
                 limit: int, offset: int) -> tuple[str, list[Any]]:
    """The search SQL and its parameters; ``filters`` holds only the given filters."""
    where, params = _series_where(filters, domains)
    select = ", ".join(f"{expr} AS {name}" for name, expr in SERIES_RESULT.items())
    sql = (f"SELECT {select} FROM series WHERE {where} "
           f"{order_by(sort, SERIES_RESULT, 'series_uid')} LIMIT ? OFFSET ?")
    return sql, [*params, limit, offset]


def series_count_query(filters: Mapping[str, Any], domains: Sequence[str]
                       ) -> tuple[str, list[Any]]:
    """How many series a search with ``filters`` finds, over all its pages."""
    where, params = _series_where(filters, domains)
    return f"SELECT count(*) FROM series WHERE {where}", params


def search_series(con: Con, filters: Mapping[str, Any], domains: Sequence[str],
                  sort: Sequence[str], limit: int, offset: int) -> pd.DataFrame:
    sql, params = series_query(filters, domains, sort, limit, offset)
    return con.execute(sql, params).df()


def count_series(con: Con, filters: Mapping[str, Any], domains: Sequence[str]) -> int:
    sql, params = series_count_query(filters, domains)
    return con.execute(sql, params).fetchone()[0]


# Every case search reads rows of one shape, the cases as they are now or as they were
# at a time (``cases_at``), and joins the first series only where a patient field is used.
CASE_RESULT = {  # result column -> SQL expression
    "case_id": "c.case_id",
    "project_id": "c.project_id",
    "tags": "c.tags",
    "created_at": "c.created_at",
    "patient_id": "s.patient_id",
    "patient_name": "s.patient_name",
    "age": "s.age",
    "sex": "s.sex",
    "updated_at": "c.updated_at",
    "revision": "c.revision",
    "status": "c.status",
    "description": "c.description",
}
_CASE_SELECT = ", ".join(f"{expr} AS {name}" for name, expr in CASE_RESULT.items())
_HEAD = "c.case_id, c.project_id, c.tags, c.created_at"
_LATEST = (f"SELECT {_HEAD}, c.updated_at, c.latest AS revision, c.status, c.description,"
           " c.first_series_uid FROM cases c")
# The revision current at a time T is the last one saved at or before T. A case not saved
# since T (saved_at: its latest revision's date) is at its latest revision, which its own
# row describes; a case saved since T is at the revision before the first one saved after
# T, which is found by that one's previous_date. So no query groups every revision: the
# second branch joins only the revisions saved after T whose predecessor is older.
# (created_at <= T follows from saved_at <= T; said, it lets the newest-first page start
# at T in PostgreSQL's created_at index and skip DuckDB's row groups created later.)
_AS_OF = f"""SELECT {_HEAD}, c.saved_at AS updated_at, c.latest AS revision, c.status,
        c.description, c.first_series_uid FROM cases c
    WHERE c.created_at <= ? AND c.saved_at <= ?
    UNION ALL
    SELECT {_HEAD}, r.date, r.idx, r.status, r.description, r.first_series_uid
    FROM cases c
    JOIN revisions n ON n.case_id = c.case_id AND n.date > ? AND n.previous_date <= ?
    JOIN revisions r ON r.case_id = n.case_id AND r.idx = n.idx - 1 AND r.date = n.previous_date
    WHERE c.created_at <= ? AND c.saved_at > ?"""
# PostgreSQL reads rows (not columns) and has B-trees: for a page in creation order it is
# far quicker to walk the cases newest first (the cases_newest index) and look each case
# saved since T up in its revisions' primary key; it stops after a page, where the union
# above reads every revision saved since T (a million cases: 2 ms of SQL instead of 700).
# Dates never decrease along a case's revisions (api/cases.py: Case._append), so the last
# revision saved at or before T is the one of highest index among them (a case with none
# is left out, as by the union).
_AS_OF_WALK = f"""SELECT {_HEAD}, COALESCE(r.date, c.saved_at) AS updated_at,
        COALESCE(r.idx, c.latest) AS revision, COALESCE(r.status, c.status) AS status,
        COALESCE(r.description, c.description) AS description,
        COALESCE(r.first_series_uid, c.first_series_uid) AS first_series_uid
    FROM cases c LEFT JOIN LATERAL (
        SELECT r.date, r.idx, r.status, r.description, r.first_series_uid FROM revisions r
        WHERE r.case_id = c.case_id AND r.date <= ? ORDER BY r.idx DESC LIMIT 1
    ) r ON c.saved_at > ?
    WHERE c.created_at <= ? AND (c.saved_at <= ? OR r.idx IS NOT NULL)"""
_FIRST_SERIES = " LEFT JOIN series s ON s.series_uid = c.first_series_uid"


def _ranked_series(columns: Collection[str]) -> str:
    """The first-series join, each series also carrying its rank in each of ``columns``
    (equal values, equal ranks; NULL stays NULL), so that a page sorted by a patient field
    sorts integers: over a million cases, 30 ms instead of 47 on DuckDB.

    >>> _ranked_series(["age"])  # doctest: +NORMALIZE_WHITESPACE
    ' LEFT JOIN (SELECT *, CASE WHEN age IS NULL THEN NULL ELSE dense_rank() OVER (ORDER BY age)
    END AS age_rank FROM series) s ON s.series_uid = c.first_series_uid'
    """
    if not columns:
        return _FIRST_SERIES
    ranks = ", ".join(f"CASE WHEN {name} IS NULL THEN NULL ELSE dense_rank() OVER"
                      f" (ORDER BY {name}) END AS {name}_rank" for name in sorted(columns))
    return (f" LEFT JOIN (SELECT *, {ranks} FROM series) s"
            " ON s.series_uid = c.first_series_uid")


def cases_at(as_of: Any, walk: bool = False) -> tuple[str, list[Any]]:
    """The cases as rows ``case_id, project_id, tags, created_at, updated_at, revision,
    status, description, first_series_uid``: now, or as they were at ``as_of`` (cases
    created later left out; ``updated_at`` is then the date of the revision current).
    ``walk``: the same rows, in the form PostgreSQL pages quickly in creation order.

    >>> sql, params = cases_at("T")
    >>> params, sql.count("JOIN revisions")
    (['T', 'T', 'T', 'T', 'T', 'T'], 2)
    >>> cases_at("T", walk=True)[1]
    ['T', 'T', 'T', 'T']
    """
    if as_of is None:
        return _LATEST, []
    source = _AS_OF_WALK if walk else _AS_OF
    return source, [as_of] * source.count("?")


# filter name -> condition on the result columns
_CASE_FILTERS = {
    "case_id": "strpos(c.case_id, ?) > 0",
    "tags": "c.tags @> ?",
    "patient_id": "strpos(lower(s.patient_id), lower(?)) > 0",
    "patient_name": "strpos(lower(s.patient_name), lower(?)) > 0",
    "sex": "upper(s.sex) = upper(?)",
    "min_age": "s.age >= ?",
    "max_age": "s.age <= ?",
    "created_from": "c.created_at >= ?",
    "created_to": "c.created_at <= ?",
    "updated_from": "c.updated_at >= ?",
    "updated_to": "c.updated_at <= ?",
    "status": "c.status = ?",
    "in_list": "c.case_id IN (SELECT item FROM list_items WHERE list_id = ?)",
}
# PostgreSQL finds a part of a case id through a trigram index (postgres/schema.py), which
# LIKE uses and strpos does not (a million cases: 1 ms instead of 500); DuckDB scans
# either way, strpos the faster. The text is matched as typed: % _ and \ escaped.
_POSTGRES_FILTERS = {"case_id": r"""c.case_id LIKE '%' || replace(replace(replace(?,
    '\', '\\'), '%', '\%'), '_', '\_') || '%' ESCAPE '\'"""}
_PATIENT_FILTERS = {"patient_id", "patient_name", "sex", "min_age", "max_age"}
_PATIENT_COLUMNS = {name for name, expr in CASE_RESULT.items() if expr.startswith("s.")}


def one_of(column: str, n: int) -> str:
    """``column IN (?, ...)`` with ``n`` placeholders (``FALSE`` for none). DuckDB turns
    ``= ANY(?)`` of a list into a join, which made a search over a million cases 2x
    slower; both backends filter an ``IN`` list in the scan.

    >>> one_of("c.project_id", 2), one_of("c.project_id", 0)
    ('c.project_id IN (?, ?)', 'FALSE')
    """
    return f"{column} IN ({', '.join('?' * n)})" if n else "FALSE"


def matching_cases(filters: Mapping[str, Any], project_ids: Sequence[str], as_of: Any,
                   series: bool = False, ranks: Collection[str] = (), walk: bool = False,
                   kind: str = "duckdb") -> tuple[str, list[Any]]:
    """``FROM ... WHERE ...`` of the cases a search finds on a ``kind`` of database, and
    its parameters. The first series (``s``) is joined when ``series`` is true, a filter
    is a patient field or ``ranks`` names patient fields to rank (see
    :func:`_ranked_series`); ``walk`` as for :func:`cases_at`.

    >>> matching_cases({"case_id": "7"}, ["p1"], None, kind="postgresql")[0].count("LIKE")
    1
    """
    source, params = cases_at(as_of, walk)
    conditions = [one_of("c.project_id", len(project_ids))]
    params = [*params, *sorted(project_ids)]
    own = _POSTGRES_FILTERS if kind == "postgresql" else {}
    for name, value in filters.items():
        conditions.append(own.get(name, _CASE_FILTERS[name]))
        params.append(value)
    joined = (_ranked_series(ranks) if ranks or series or _PATIENT_FILTERS & filters.keys()
              else "")
    return f"FROM ({source}) c{joined} WHERE {' AND '.join(conditions)}", params


def case_query(filters: Mapping[str, Any], project_ids: Sequence[str], as_of: Any,
               sort: Sequence[str], limit: int, offset: int, kind: str = "duckdb"
               ) -> tuple[str, list[Any]]:
    """The case search SQL (for a ``kind`` of :class:`Database`): the latest revisions,
    or those current at ``as_of``.

    The page is chosen first, from the case rows alone (the series joined only to
    filter or sort by a patient field); the patient columns are joined to its rows.

    >>> sql, params = case_query({"status": "done"}, ["p1"], None, ["-revision"], 50, 0)
    >>> sql.count("LEFT JOIN series"), params
    (1, ['p1', 'done', 50, 0])
    """
    keys = [key.removeprefix("-") for key in sort]
    patient = _PATIENT_COLUMNS.intersection(keys)
    # Each backend pages its own way (measured over a million cases: benchmarks/explain):
    # DuckDB sorts integers faster than text, PostgreSQL walks its creation-order index.
    ranked = patient if kind == "duckdb" else set()
    walk = kind == "postgresql" and keys[:1] == ["created_at"]
    matching, params = matching_cases(filters, project_ids, as_of, bool(patient), ranked, walk,
                                      kind)
    page_order = order_by(sort, {**CASE_RESULT, **{n: f"s.{n}_rank" for n in ranked}},
                          "c.case_id")
    order = order_by(sort, CASE_RESULT, "c.case_id")
    if as_of is None:  # the page holds only ids (far less to sort); rows joined back by key
        page = f"SELECT c.case_id {matching} {page_order} LIMIT ? OFFSET ?"
        rows = f"({page}) p JOIN ({_LATEST}) c ON c.case_id = p.case_id"
    else:  # the rows at a time are no table to join back to: the page holds them whole
        rows = f"(SELECT c.* {matching} {page_order} LIMIT ? OFFSET ?) c"
    return f"SELECT {_CASE_SELECT} FROM {rows}{_FIRST_SERIES} {order}", [*params, limit, offset]


def case_count_query(filters: Mapping[str, Any], project_ids: Sequence[str], as_of: Any,
                     kind: str = "duckdb") -> tuple[str, list[Any]]:
    """How many cases a search with ``filters`` finds (at ``as_of``), over all its pages.

    >>> case_count_query({"tags": ["a"]}, ["p1"], None)[0]  # doctest: +NORMALIZE_WHITESPACE
    'SELECT count(*) FROM (SELECT c.case_id, c.project_id, c.tags, c.created_at, \
c.updated_at, c.latest AS revision, c.status, c.description, c.first_series_uid FROM cases c) c \
WHERE c.project_id IN (?) AND c.tags @> ?'
    """
    matching, params = matching_cases(filters, project_ids, as_of, kind=kind)
    return f"SELECT count(*) {matching}", params


def case_facets_query(filters: Mapping[str, Any], project_ids: Sequence[str], as_of: Any,
                      kind: str = "duckdb") -> tuple[str, list[Any]]:
    """Counts of the matching cases by project, status, modality (of the first series)
    and tag, in one query: rows ``(facet, value, count)``.

    >>> sql, params = case_facets_query({"tags": ["a"]}, ["p1"], None)
    >>> sql.count("GROUP BY"), params
    (4, ['p1', ['a']])
    """
    matching, params = matching_cases(filters, project_ids, as_of, series=True,  # modality
                                      kind=kind)
    groups = " UNION ALL ".join(
        f"SELECT '{facet}' AS facet, {column} AS value, count(*) AS count FROM {rows}"
        f" GROUP BY {column}"
        for facet, column, rows in (("project", "project_id", "m"), ("status", "status", "m"),
                                    ("modality", "modality", "m"),
                                    ("tag", "tag", "(SELECT unnest(tags) AS tag FROM m) t")))
    sql = (f"WITH m AS MATERIALIZED (SELECT c.project_id, c.status, s.modality, c.tags"
           f" {matching}) {groups}")
    return sql, params


def case_facets(con: Con, filters: Mapping[str, Any], project_ids: Sequence[str], as_of: Any
                ) -> pd.DataFrame:
    sql, params = case_facets_query(filters, project_ids, as_of, con.kind)
    return con.execute(sql, params).df()


# DuckDB skips a row group of 122,880 cases when its min/max created_at (zone map) is
# outside a filter, and cases are appended as they are created; in a store of more than
# two row groups, a newest-first page is looked for in a recent window first. If the
# window holds the whole page, so does the store: every case left out is older than all
# of the page's. (PostgreSQL's index walk stops after the page by itself.) A part of a
# case id or a list matches a few cases anywhere, so those go straight to the whole store.
NEWEST_WINDOWS = (timedelta(days=8), timedelta(days=64), timedelta(days=512))
WINDOWED_FROM = 2 * 122_880  # cases
_SCATTERED = {"case_id", "in_list"}


def newest_windows(filters: Mapping[str, Any], as_of: datetime | None, now: datetime
                   ) -> list[dict[str, Any]]:
    """``filters`` narrowed to the recent windows to try, newest first.

    >>> now = datetime(2026, 12, 7, tzinfo=UTC)
    >>> [f["created_from"].date().isoformat() for f in newest_windows({}, None, now)]
    ['2026-11-29', '2026-10-04', '2025-07-13']
    >>> newest_windows({"created_from": datetime(2026, 11, 1, tzinfo=UTC)}, None, now)[0]
    {'created_from': datetime.datetime(2026, 11, 29, 0, 0, tzinfo=datetime.timezone.utc)}
    """
    if _SCATTERED & filters.keys():
        return []
    end = min(t for t in (as_of, filters.get("created_to"), now) if t is not None)
    given = filters.get("created_from")
    return [{**filters, "created_from": end - window} for window in NEWEST_WINDOWS
            if given is None or given < end - window]


def search_cases(con: Con, filters: Mapping[str, Any], project_ids: Sequence[str], as_of: Any,
                 sort: Sequence[str], limit: int, offset: int) -> pd.DataFrame:
    # Below two row groups of cases, DuckDB skips nothing and the plain query is quickest.
    large = (con.kind == "duckdb"
             and con.execute("SELECT count(*) FROM cases").fetchone()[0] > WINDOWED_FROM)
    if large and as_of is not None and _by_case_rows(filters, sort):
        return _cases_then_revisions(con, filters, project_ids, as_of, sort, limit, offset)

    def page(chosen: Mapping[str, Any]) -> pd.DataFrame:
        sql, params = case_query(chosen, project_ids, as_of, sort, limit, offset, con.kind)
        return con.execute(sql, params).df()

    return _newest_first(filters, as_of, sort, limit, page, windowed=large)


def _newest_first(filters: Mapping[str, Any], as_of: Any, sort: Sequence[str], limit: int,
                  page: Callable[[Mapping[str, Any]], Any], windowed: bool) -> Any:
    """``page(filters)``; if ``windowed``, a newest-first page first looked for in the
    recent windows (see above)."""
    if windowed and list(sort[:1]) == ["-created_at"]:
        for narrowed in newest_windows(filters, as_of, datetime.now(UTC)):
            found = page(narrowed)
            if len(found) == limit:
                return found
    return page(filters)


# At a past time T, DuckDB's cases_at reads every revision saved since T: the scan of
# their case ids was 70 ms of 80 over a million cases whose revisions lie apart. So in a
# store of more than two row groups of cases, when a search filters and sorts on what a
# case's row says whatever its revision (its creation, project, id and tags), the page is
# chosen from the cases created by T (each existed at T: its revision 0 is dated at its
# creation), and only the page's revisions are read, through the revisions_case index,
# which DuckDB uses for a list of ids while they match at most 2,048 revisions (a scan
# finds the same rows). PostgreSQL walks its creation-order index instead (cases_at).
_CASE_ROW_FILTERS = {"case_id", "tags", "created_from", "created_to", "in_list"}
_PAGE_AT = """WITH r AS MATERIALIZED (
        SELECT case_id, idx, date, status, description, first_series_uid FROM revisions
        WHERE {ids}),
    current AS (SELECT * FROM r WHERE date <= ?
             QUALIFY row_number() OVER (PARTITION BY case_id ORDER BY idx DESC) = 1)
    SELECT {select} FROM (
        SELECT {head}, t.date AS updated_at, t.idx AS revision, t.status, t.description,
            t.first_series_uid FROM cases c JOIN current t ON t.case_id = c.case_id
        WHERE {c_ids}) c{series} {order}"""


def _by_case_rows(filters: Mapping[str, Any], sort: Sequence[str]) -> bool:
    return (filters.keys() <= _CASE_ROW_FILTERS
            and all(key.removeprefix("-") == "created_at" for key in sort))


def page_at_query(case_ids: Sequence[str], as_of: Any, sort: Sequence[str]
                  ) -> tuple[str, list[Any]]:
    """The rows of ``case_ids`` as they were at ``as_of`` (each case at its last revision
    saved by then), in the search's order: the second step of a page chosen by case rows.

    >>> sql, params = page_at_query(["a", "b"], "T", ["-created_at"])
    >>> params, sql.count("IN (?, ?)")
    (['a', 'b', 'T', 'a', 'b'], 2)
    """
    ids = list(case_ids)
    sql = _PAGE_AT.format(ids=one_of("case_id", len(ids)), select=_CASE_SELECT, head=_HEAD,
                          c_ids=one_of("c.case_id", len(ids)), series=_FIRST_SERIES,
                          order=order_by(sort, CASE_RESULT, "c.case_id"))
    return sql, [*ids, as_of, *ids]


def _cases_then_revisions(con: Con, filters: Mapping[str, Any], project_ids: Sequence[str],
                          as_of: Any, sort: Sequence[str], limit: int, offset: int
                          ) -> pd.DataFrame:
    given = filters.get("created_to")
    existed = {**filters, "created_to": as_of if given is None else min(given, as_of)}

    def page(chosen: Mapping[str, Any]) -> list[tuple]:
        matching, params = matching_cases(chosen, project_ids, None)
        order = order_by(sort, CASE_RESULT, "c.case_id")
        return con.execute(f"SELECT c.case_id {matching} {order} LIMIT ? OFFSET ?",
                           [*params, limit, offset]).fetchall()

    found = _newest_first(existed, as_of, sort, limit, page, windowed=True)
    return con.execute(*page_at_query([case_id for case_id, in found], as_of, sort)).df()


def count_cases(con: Con, filters: Mapping[str, Any], project_ids: Sequence[str], as_of: Any
                ) -> int:
    sql, params = case_count_query(filters, project_ids, as_of, con.kind)
    return con.execute(sql, params).fetchone()[0]
