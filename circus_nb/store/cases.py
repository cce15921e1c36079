"""Cases and revisions: the SQL side.

``revisions`` and ``revision_series`` are append-only: this module inserts into
them and reads them; the only statement that removes rows is :func:`delete_case`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from ..domain.case import Revision, SeriesEntry
from ..domain.labels import Label
from ..domain.partial_volume import PartialVolume
from ..errors import CircusError, NotFoundError, ValidationError
from .accounts import not_found
from .database import Database

Con = Database  # every function here runs on either backend


def insert_case(con: Con, case_id: str, project_id: str, tags: Sequence[str],
                domains: Sequence[str], first: Revision) -> None:
    con.execute("INSERT INTO cases (case_id, project_id, tags, domains, latest, status,"
                " description, first_series_uid, created_at, updated_at, saved_at)"
                " VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?)",
                [case_id, project_id, list(tags), list(domains), first.status,
                 first.description, first.series[0].series_uid, first.date, first.date,
                 first.date])
    append_revision(con, case_id, first, None)


def append_revision(con: Con, case_id: str, revision: Revision,
                    previous_date: datetime | None) -> None:
    """Insert one revision (its series entries and labels too) and move the case head.

    ``previous_date`` is the date of the revision it follows (``None`` for the first):
    the search finds a case's revision at a past time by it.
    """
    first_uid = revision.series[0].series_uid
    con.execute("INSERT INTO revisions (case_id, idx, creator, date, description, status,"
                " attributes, previous_date, first_series_uid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [case_id, revision.index, revision.creator, revision.date,
                 revision.description, revision.status, json.dumps(revision.attributes),
                 previous_date, first_uid])
    con.executemany(
        "INSERT INTO revision_series VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [[case_id, revision.index, position, e.series_uid, e.partial_volume.start,
          e.partial_volume.end, e.partial_volume.delta,
          json.dumps([label.to_json() for label in e.labels])]
         for position, e in enumerate(revision.series)])
    voxels = {label.data["blob"]: label for entry in revision.series
              for label in entry.labels if label.type == "voxel"}
    if voxels:  # a mask already stored (by an earlier revision, any case) is not read again
        present = {row[0] for row in con.execute(
            "SELECT hash FROM blobs WHERE hash = ANY(?)", [list(voxels)]).fetchall()}
        for digest, label in voxels.items():
            if digest not in present:
                con.execute("INSERT INTO blobs VALUES (?, ?)", [digest, _hashed_blob(label)])
    con.execute("UPDATE cases SET latest = ?, status = ?, description = ?, first_series_uid = ?,"
                " updated_at = ?, saved_at = ? WHERE case_id = ?",
                [revision.index, revision.status, revision.description, first_uid,
                 revision.date, revision.date, case_id])


def load_head(con: Con, case_id: str) -> dict[str, Any]:
    row = con.execute("SELECT case_id, project_id, tags, domains, latest, created_at, updated_at"
                      " FROM cases WHERE case_id = ?", [case_id]).fetchone()
    if row is None:
        raise _no_case(case_id)
    keys = ("case_id", "project_id", "tags", "domains", "latest", "created_at", "updated_at")
    return dict(zip(keys, row, strict=True))


def lock_head(con: Con, case_id: str) -> None:
    """Hold the case's head row until the transaction ends, so that two saves of one case
    (in any processes) run one after the other: each then sees the other's revision.
    An UPDATE takes the row lock on every backend; it changes nothing."""
    con.execute("UPDATE cases SET latest = latest WHERE case_id = ?", [case_id])


def latest_index(con: Con, case_id: str) -> int:
    latest = _latest(con, case_id)
    if latest is None:  # deleted since the Case was got, maybe by another notebook
        raise _no_case(case_id)
    return latest


def _latest(con: Con, case_id: str) -> int | None:
    row = con.execute("SELECT latest FROM cases WHERE case_id = ?", [case_id]).fetchone()
    return None if row is None else row[0]


def _no_case(case_id: str) -> NotFoundError:
    return not_found("case", case_id, [],
                     "Find cases with store.search_cases(); ids are 26 characters.")


def _hashed_blob(label: Label) -> bytes:
    """The mask bytes of a voxel label, if they hash to its ``blob``.

    Blobs are shared by hash and never rewritten: bytes stored under a wrong hash
    would spoil every later label with that hash.
    """
    packed = label.packed()
    if hashlib.sha256(packed).hexdigest() != label.data["blob"]:
        raise ValidationError(f"Voxel label {label.name or ''!r}: its mask bytes do not match"
                              f" its blob hash {label.data['blob']!r}; nothing was saved."
                              " Build the label with Label.voxel(mask).", field="blob",
                              value=label.data["blob"])
    return packed


def _blob_loader(con: Con, digest: str) -> Callable[[], bytes]:
    def load() -> bytes:
        # (after the store is closed, the catalog's connection says so as a CircusError)
        row = con.execute("SELECT data FROM blobs WHERE hash = ?", [digest]).fetchone()
        if row is None or hashlib.sha256(row[0]).hexdigest() != digest:
            problem = "missing from" if row is None else "damaged in"
            raise CircusError(f"The mask {digest[:12]}... of this voxel label is {problem} the"
                              " catalog. Restore the catalog from a backup, or save the case"
                              " again without that label.", field="blob", value=digest)
        return row[0]
    return load


def series_entry(con: Con, uid: str, start: int, end: int, delta: int, labels: str
                 ) -> SeriesEntry:
    """A ``revision_series`` row as a value (voxel masks are read when first used)."""
    return SeriesEntry(uid, PartialVolume(start, end, delta),
                       tuple(Label.from_json(lb, _blob_loader(con, lb["data"]["blob"])
                                             if lb["type"] == "voxel" else None)
                             for lb in json.loads(labels)))


# A revision and its series entries (it has at least one: a case is never without a
# series), each read by (case_id, idx): two short reads were quicker than their join.
_HEAD_ROWS = ("SELECT creator, date, description, status, attributes, idx FROM revisions"
              " WHERE case_id = ?")
_ENTRY_ROWS = ("SELECT series_uid, range_start, range_end, range_delta, labels, idx, position"
               " FROM revision_series WHERE case_id = ?")
# At most this many revisions, a case's rows come through DuckDB's indexes (with room
# for two series entries per revision in revision_series under 2048).
INDEXED_REVISIONS = 1000


def of_revision(rows: str, indexed: bool) -> str:
    """``rows`` of one case (parameter ``case_id``) narrowed to revision ``idx = ?``.

    DuckDB finds rows through an index (migration 8: revisions_case, revision_series_case)
    only for a filter on the one indexed column, and only while it matches at most
    index_scan_max_count (2048) rows: so, ``indexed``, the case's rows are read first and
    the revision picked from them; for a longer case the filter on idx lets a scan skip
    row groups by their idx range.

    >>> of_revision("SELECT * FROM revisions WHERE case_id = ?", False)
    'SELECT * FROM revisions WHERE case_id = ? AND idx = ?'
    """
    if indexed:
        return f"WITH rows AS MATERIALIZED ({rows}) SELECT * FROM rows WHERE idx = ?"
    return f"{rows} AND idx = ?"


def load_revision(con: Con, case_id: str, index: int, latest: int | None = None
                  ) -> Revision | None:
    """Revision ``index`` of the case, or None. ``latest``, the case's latest index when
    the caller has it, saves DuckDB a look-up."""
    indexed = _indexed(con, case_id, index, latest)
    head = con.execute(of_revision(_HEAD_ROWS, indexed), [case_id, index]).fetchone()
    if head is None:
        return None
    entries = con.execute(of_revision(_ENTRY_ROWS, indexed) + " ORDER BY position",
                          [case_id, index]).fetchall()
    creator, date, description, status, attributes, _ = head
    series = tuple(series_entry(con, *row[:5]) for row in entries)
    return Revision(index, creator, date, description, status, json.loads(attributes), series)


def load_latest(con: Con, case_id: str) -> Revision:
    """The case's latest revision (:class:`NotFoundError` if the case is gone)."""
    latest = latest_index(con, case_id)
    return load_revision(con, case_id, latest, latest)


def _indexed(con: Con, case_id: str, index: int, latest: int | None) -> bool:
    """Whether DuckDB reads this case's revisions fastest through its case_id indexes.
    (PostgreSQL's primary keys serve the plain query.)"""
    if con.kind != "duckdb" or index >= INDEXED_REVISIONS:
        return False
    if latest is None:  # (a case gone: either form finds nothing)
        latest = _latest(con, case_id) or 0
    return latest < INDEXED_REVISIONS


def history(con: Con, case_id: str) -> pd.DataFrame:
    return con.frame("SELECT idx AS index, date, creator, description, status FROM revisions"
                     " WHERE case_id = ? ORDER BY idx", [case_id])


def set_tags(con: Con, case_ids: Iterable[str], tags_by_case: dict[str, list[str]],
             when: datetime) -> None:
    for case_id in case_ids:
        con.execute("UPDATE cases SET tags = ?, updated_at = ? WHERE case_id = ?",
                    [tags_by_case[case_id], when, case_id])


def heads(con: Con, case_ids: Sequence[str]) -> dict[str, tuple[str, list[str]]]:
    """``case_id -> (project_id, tags)`` for the cases that exist."""
    rows = con.execute("SELECT case_id, project_id, tags FROM cases"
                       " WHERE case_id = ANY(?)", [list(case_ids)]).fetchall()
    return {case_id: (project_id, list(tags)) for case_id, project_id, tags in rows}


def delete_case(con: Con, case_id: str) -> None:
    """The one place rows of a case are removed (blobs stay: others may share them)."""
    if con.user_role:  # revisions are append-only to user roles: the server's function
        con.execute("SELECT circus_delete_case(?)", [case_id])  # checks 'moderate' itself
        return
    for table in ("revision_series", "revisions", "cases"):
        con.execute(f"DELETE FROM {table} WHERE case_id = ?", [case_id])
