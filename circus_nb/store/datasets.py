"""Which case revisions make a dataset: the SQL side of ``store.dataset``.

>>> dataset_query("p1", ["a"], "done", None)[0]
'SELECT c.case_id, c.latest FROM cases c WHERE c.project_id = ? AND c.tags @> ? AND \
c.status = ? ORDER BY c.created_at, c.case_id'
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from .database import Database
from .search import CURRENT_AT


def dataset_query(project_id: str, tags: Sequence[str] | None, status: str | None,
                  as_of: datetime | None, list_id: str | None = None
                  ) -> tuple[str, list[Any]]:
    """``(case_id, revision index)`` of the matching cases, oldest case first.

    Latest revisions, or (``as_of``) the revision each case had then: cases created
    later are not in it, and ``status`` is that revision's. Tags are the case's
    tags now (tags are not versioned).
    """
    conditions, params = ["c.project_id = ?"], [project_id]
    if tags:
        conditions.append("c.tags @> ?")
        params.append(list(tags))
    if list_id is not None:
        conditions.append("c.case_id IN (SELECT item FROM list_items WHERE list_id = ?)")
        params.append(list_id)
    if as_of is None:
        source, index, status_column = "cases c", "c.latest", "c.status"
    else:
        source = (f"cases c JOIN ({CURRENT_AT}) cur ON cur.case_id = c.case_id"
                  " JOIN revisions r ON r.case_id = c.case_id AND r.idx = cur.idx")
        index, status_column = "cur.idx", "r.status"
        params.insert(0, as_of)
    if status is not None:
        conditions.append(f"{status_column} = ?")
        params.append(status)
    sql = (f"SELECT c.case_id, {index} FROM {source} WHERE {' AND '.join(conditions)}"
           " ORDER BY c.created_at, c.case_id")
    return sql, params


def dataset_cases(con: Database, project_id: str, tags: Sequence[str] | None,
                  status: str | None, as_of: datetime | None, list_id: str | None = None
                  ) -> list[tuple[str, int]]:
    sql, params = dataset_query(project_id, tags, status, as_of, list_id)
    return [(case_id, int(index)) for case_id, index in con.execute(sql, params).fetchall()]
