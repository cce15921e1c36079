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

from collections.abc import Mapping, Sequence
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


_CASE_COMMON = {
    "case_id": "c.case_id",
    "project_id": "c.project_id",
    "tags": "c.tags",
    "created_at": "c.created_at",
    "patient_id": "s.patient_id",
    "patient_name": "s.patient_name",
    "age": "s.age",
    "sex": "s.sex",
}
CASE_LATEST = {**_CASE_COMMON, "updated_at": "c.updated_at", "revision": "c.latest",
               "status": "c.status", "description": "c.description"}
CASE_AS_OF = {**_CASE_COMMON, "updated_at": "r.date", "revision": "r.idx",
              "status": "r.status", "description": "r.description"}
_CASE_FROM_LATEST = "cases c LEFT JOIN series s ON s.series_uid = c.first_series_uid"
# The revision current at a time: the last one saved at or before it.
CURRENT_AT = "SELECT case_id, max(idx) AS idx FROM revisions WHERE date <= ? GROUP BY case_id"
_REVISION_JOINS = """JOIN revisions r ON r.case_id = c.case_id AND r.idx = {idx}
    JOIN revision_series rs ON rs.case_id = c.case_id AND rs.idx = {idx} AND rs.position = 0
    LEFT JOIN series s ON s.series_uid = rs.series_uid"""
_CASE_FROM_AS_OF = (f"cases c JOIN ({CURRENT_AT}) cur ON cur.case_id = c.case_id "
                    + _REVISION_JOINS.format(idx="cur.idx"))
_CASE_JOIN_PAGE = _REVISION_JOINS.format(idx="c.current_idx")

# filter name -> condition on the result columns (names resolved per mode)
_CASE_FILTERS = {
    "case_id": "strpos({case_id}, ?) > 0",
    "tags": "{tags} @> ?",
    "patient_id": "strpos(lower({patient_id}), lower(?)) > 0",
    "patient_name": "strpos(lower({patient_name}), lower(?)) > 0",
    "sex": "upper({sex}) = upper(?)",
    "min_age": "{age} >= ?",
    "max_age": "{age} <= ?",
    "created_from": "{created_at} >= ?",
    "created_to": "{created_at} <= ?",
    "updated_from": "{updated_at} >= ?",
    "updated_to": "{updated_at} <= ?",
    "status": "{status} = ?",
    "in_list": "{case_id} IN (SELECT item FROM list_items WHERE list_id = ?)",
}


# With only these, the page can be picked from the case rows before anything is joined.
_HEAD_FILTERS = {"case_id", "tags", "created_from", "created_to", "in_list"}
_HEAD_SORT = {"case_id", "project_id", "created_at"}


def _case_where(filters: Mapping[str, Any], project_ids: Sequence[str],
                columns: Mapping[str, str]) -> tuple[str, list[Any]]:
    """The ``WHERE`` conditions of a case search on ``columns``, and their parameters."""
    conditions = ["c.project_id = ANY(?)"]
    values: list[Any] = [sorted(project_ids)]
    for name, value in filters.items():
        conditions.append(_CASE_FILTERS[name].format(**columns))
        values.append(value)
    return " AND ".join(conditions), values


def case_query(filters: Mapping[str, Any], project_ids: Sequence[str], as_of: Any,
               sort: Sequence[str], limit: int, offset: int) -> tuple[str, list[Any]]:
    """The case search SQL: the latest revisions, or those current at ``as_of``."""
    columns = CASE_LATEST if as_of is None else CASE_AS_OF
    where, values = _case_where(filters, project_ids, columns)
    select = ", ".join(f"{expr} AS {name}" for name, expr in columns.items())
    order = order_by(sort, columns, "c.case_id")
    if as_of is None:
        sql = f"SELECT {select} FROM {_CASE_FROM_LATEST} WHERE {where} {order} LIMIT ? OFFSET ?"
        return sql, [*values, limit, offset]
    if filters.keys() <= _HEAD_FILTERS and {k.removeprefix("-") for k in sort} <= _HEAD_SORT:
        # Page first, then join revisions for those rows only: far less to join.
        page = (f"SELECT c.*, cur.idx AS current_idx FROM cases c JOIN ({CURRENT_AT}) cur"
                f" ON cur.case_id = c.case_id WHERE {where} {order} LIMIT ? OFFSET ?")
        sql = f"SELECT {select} FROM ({page}) c {_CASE_JOIN_PAGE} {order}"
        return sql, [as_of, *values, limit, offset]
    sql = f"SELECT {select} FROM {_CASE_FROM_AS_OF} WHERE {where} {order} LIMIT ? OFFSET ?"
    return sql, [as_of, *values, limit, offset]


def case_count_query(filters: Mapping[str, Any], project_ids: Sequence[str], as_of: Any
                     ) -> tuple[str, list[Any]]:
    """How many cases a search with ``filters`` finds (at ``as_of``), over all its pages.

    >>> case_count_query({"tags": ["a"]}, ["p1"], None)[0]
    'SELECT count(*) FROM cases c LEFT JOIN series s ON s.series_uid = c.first_series_uid \
WHERE c.project_id = ANY(?) AND c.tags @> ?'
    """
    columns = CASE_LATEST if as_of is None else CASE_AS_OF
    where, values = _case_where(filters, project_ids, columns)
    if as_of is None:
        return f"SELECT count(*) FROM {_CASE_FROM_LATEST} WHERE {where}", values
    # every case current at as_of has exactly one revision and first entry to join
    source = (f"cases c JOIN ({CURRENT_AT}) cur ON cur.case_id = c.case_id"
              if filters.keys() <= _HEAD_FILTERS else _CASE_FROM_AS_OF)
    return f"SELECT count(*) FROM {source} WHERE {where}", [as_of, *values]


def case_facets_query(filters: Mapping[str, Any], project_ids: Sequence[str], as_of: Any
                      ) -> tuple[str, list[Any]]:
    """Counts of the matching cases by project, status, modality (of the first series)
    and tag, in one query: rows ``(facet, value, count)``.

    >>> sql, params = case_facets_query({"tags": ["a"]}, ["p1"], None)
    >>> sql.count("GROUP BY"), params
    (4, [['p1'], ['a']])
    """
    columns = CASE_LATEST if as_of is None else CASE_AS_OF
    where, values = _case_where(filters, project_ids, columns)
    source = _CASE_FROM_LATEST if as_of is None else _CASE_FROM_AS_OF
    matching = (f"SELECT {columns['project_id']} AS project_id, {columns['status']} AS status,"
                f" s.modality AS modality, {columns['tags']} AS tags FROM {source}"
                f" WHERE {where}")
    groups = " UNION ALL ".join(
        f"SELECT '{facet}' AS facet, {column} AS value, count(*) AS count FROM {rows}"
        f" GROUP BY {column}"
        for facet, column, rows in (("project", "project_id", "m"), ("status", "status", "m"),
                                    ("modality", "modality", "m"),
                                    ("tag", "tag", "(SELECT unnest(tags) AS tag FROM m) t")))
    sql = f"WITH m AS MATERIALIZED ({matching}) {groups}"
    return sql, ([] if as_of is None else [as_of]) + values


def case_facets(con: Con, filters: Mapping[str, Any], project_ids: Sequence[str], as_of: Any
                ) -> pd.DataFrame:
    sql, params = case_facets_query(filters, project_ids, as_of)
    return con.execute(sql, params).df()


def search_cases(con: Con, filters: Mapping[str, Any], project_ids: Sequence[str], as_of: Any,
                 sort: Sequence[str], limit: int, offset: int) -> pd.DataFrame:
    sql, params = case_query(filters, project_ids, as_of, sort, limit, offset)
    return con.execute(sql, params).df()


def count_cases(con: Con, filters: Mapping[str, Any], project_ids: Sequence[str], as_of: Any
                ) -> int:
    sql, params = case_count_query(filters, project_ids, as_of)
    return con.execute(sql, params).fetchone()[0]
