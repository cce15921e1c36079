"""SQL for searches, built by small pure functions (testable without a database).

>>> sql, params = series_query({"modality": "CT", "description": "chest"}, ["default"],
...                            ["-imported_at"], 200, 0)
>>> params
[['default'], 'CT', 'chest', 200, 0]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
import pandas as pd

Con = duckdb.DuckDBPyConnection

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
}


def order_by(sort: Sequence[str], columns: Mapping[str, str], tie: str) -> str:
    """``ORDER BY`` from keys such as ``["-imported_at", "modality"]`` (checked by the caller)."""
    terms = [f"{columns[key.lstrip('-')]} {'DESC' if key.startswith('-') else 'ASC'} NULLS LAST"
             for key in sort]
    return "ORDER BY " + ", ".join([*terms, tie])


def series_query(filters: Mapping[str, Any], domains: Sequence[str], sort: Sequence[str],
                 limit: int, offset: int) -> tuple[str, list[Any]]:
    """The search SQL and its parameters; ``filters`` holds only the given filters."""
    conditions = ["list_contains(?, domain)"]
    params: list[Any] = [sorted(domains)]
    for name, value in filters.items():
        conditions.append(_SERIES_FILTERS[name])
        params.append(value)
    select = ", ".join(f"{expr} AS {name}" for name, expr in SERIES_RESULT.items())
    sql = (f"SELECT {select} FROM series WHERE {' AND '.join(conditions)} "
           f"{order_by(sort, SERIES_RESULT, 'series_uid')} LIMIT ? OFFSET ?")
    return sql, [*params, limit, offset]


def search_series(con: Con, filters: Mapping[str, Any], domains: Sequence[str],
                  sort: Sequence[str], limit: int, offset: int) -> pd.DataFrame:
    sql, params = series_query(filters, domains, sort, limit, offset)
    return con.execute(sql, params).df()
