"""Which case revisions make a dataset: the SQL side of ``store.dataset``.

>>> sql, params = dataset_query("p1", ["a"], "done", None, entry=0)
>>> sql.startswith("SELECT c.case_id, c.revision, e.series_uid"), params
(True, ['p1', ['a'], 'done', 0])
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ..domain.case import SeriesEntry
from .cases import series_entry
from .database import Database
from .search import matching_cases


def dataset_query(project_id: str, tags: Sequence[str] | None, status: str | None,
                  as_of: datetime | None, list_id: str | None = None, entry: int | None = None
                  ) -> tuple[str, list[Any]]:
    """``(case_id, revision index)`` of the matching cases, oldest case first, and with
    ``entry`` the ``series_uid, range_start, range_end, range_delta, labels`` of that
    revision's series entry ``entry`` (``NULL`` where it has fewer entries).

    Latest revisions, or (``as_of``) the revision each case had then: cases created
    later are not in it, and ``status`` is that revision's. Tags are the case's
    tags now (tags are not versioned). The cases are those a search with the same
    filters finds (:func:`~.search.matching_cases`).
    """
    filters = {"tags": list(tags) if tags else None, "in_list": list_id, "status": status}
    matching, params = matching_cases({k: v for k, v in filters.items() if v is not None},
                                      [project_id], as_of)
    columns, joined = "c.case_id, c.revision", ""
    if entry is not None:
        columns += ", e.series_uid, e.range_start, e.range_end, e.range_delta, e.labels"
        joined = (" LEFT JOIN revision_series e ON e.case_id = c.case_id"
                  " AND e.idx = c.revision AND e.position = ?")
        params = [*params, entry]
    sql = f"SELECT {columns} FROM (SELECT c.* {matching}) c{joined}"
    return f"{sql} ORDER BY c.created_at, c.case_id", params


def dataset_entries(con: Database, project_id: str, tags: Sequence[str] | None,
                    status: str | None, as_of: datetime | None, list_id: str | None,
                    entry: int) -> list[tuple[str, int, SeriesEntry | None]]:
    """``(case_id, revision index, its series entry number entry)`` of the matching
    cases, in one query; the entry is ``None`` where that revision has fewer."""
    sql, params = dataset_query(project_id, tags, status, as_of, list_id, entry)
    return [(case_id, int(index), None if uid is None else series_entry(con, uid, *rest))
            for case_id, index, uid, *rest in con.execute(sql, params).fetchall()]
