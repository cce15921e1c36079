"""Series, instances and thumbnails: the SQL side.

Batches go in as DataFrames (one ``INSERT ... SELECT`` each), never a row at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from ..domain.image_range import ImageRange
from .accounts import not_found, now
from .database import Database

Con = Database  # every function here runs on either backend

SERIES_COLUMNS = (
    "series_uid", "study_uid", "domain", "images", "image_count", "width", "height",
    "series_date", "modality", "series_description", "body_part", "station_name",
    "model_name", "manufacturer", "patient_id", "patient_name", "birth_date", "age", "sex",
    "patient_size", "patient_weight", "parameters", "created_at", "updated_at",
)
INSTANCE_COLUMNS = (
    "series_uid", "instance_number", "sop_instance_uid", "path", "managed", "size", "mtime",
    "position_x", "position_y", "position_z", "orientation", "slice_location", "rows",
    "columns", "transfer_syntax", "window_center", "window_width", "imported_at",
)


def series_domains(con: Con, uids: Iterable[str]) -> dict[str, str]:
    """The domain of each of ``uids`` that is already in the catalog."""
    rows = con.execute("SELECT series_uid, domain FROM series WHERE series_uid = ANY(?)",
                       [sorted(set(uids))]).fetchall()
    return dict(rows)


# Instances are looked up one series at a time: DuckDB applies ``series_uid = ?`` inside
# its scan of the table (~5 ms for a million instances), while a join with a list of keys,
# or ``= ANY`` of several series, reads and matches every row (~60 ms); on PostgreSQL the
# primary key serves both. Past this many series, one such scan costs less than the queries.
SERIES_AT_A_TIME = 8


def catalogued(con: Con, keys: Sequence[tuple[str, int]]
               ) -> tuple[dict[str, str], dict[tuple[str, int], tuple]]:
    """What the catalog holds of ``(series_uid, instance_number)`` keys: the domain of
    each series it has, and :func:`stored_instances` of the keys of those series (a new
    series has no instances, so its keys cost no look-up)."""
    domains = series_domains(con, {uid for uid, _ in keys})
    return domains, stored_instances(con, [key for key in keys if key[0] in domains])


def stored_instances(con: Con, keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], tuple]:
    """``(series_uid, instance_number) -> (path, managed, size, mtime)`` for the keys present."""
    uids = sorted({uid for uid, _ in keys})
    if len(uids) > SERIES_AT_A_TIME:
        return _stored_by_join(con, keys)
    wanted = set(keys)
    found = {}
    for uid in uids:
        for number, *rest in con.execute(
                "SELECT instance_number, path, managed, size, mtime FROM instances"
                " WHERE series_uid = ?", [uid]).fetchall():
            if (uid, number) in wanted:
                found[uid, number] = tuple(rest)
    return found


def _stored_by_join(con: Con, keys: Sequence[tuple[str, int]]
                    ) -> dict[tuple[str, int], tuple]:
    uids, numbers = zip(*keys, strict=True)
    rows = con.execute(
        """SELECT i.series_uid, i.instance_number, i.path, i.managed, i.size, i.mtime
           FROM instances i
           JOIN (SELECT unnest(CAST(? AS VARCHAR[])) AS series_uid,
                       unnest(CAST(? AS INTEGER[])) AS instance_number) w
             USING (series_uid, instance_number)""", [list(uids), list(numbers)]).fetchall()
    return {(uid, n): tuple(rest) for uid, n, *rest in rows}


def managed_path(uid: str, number: int) -> str:
    """Where a copied instance lives, relative to the store folder (``data``: the
    catalog's ``DATA_DIR``)."""
    return f"data/{uid}/{number:08d}.dcm"


def managed_paths(con: Con, paths: Sequence[str]) -> set[str]:
    """Those of ``paths`` (relative to the store folder) that a managed instance has.

    A managed path names its series (:func:`managed_path`), so the instances are looked
    up by series, as in :func:`stored_instances`.
    """
    wanted = set(paths)
    uids = sorted({parts[1] for parts in (p.split("/") for p in wanted) if len(parts) == 3})
    if len(uids) > SERIES_AT_A_TIME:
        rows = con.execute("SELECT path FROM instances WHERE managed AND path = ANY(?)",
                           [sorted(wanted)]).fetchall()
        return {path for (path,) in rows}
    found = set()
    for uid in uids:
        found.update(path for (path,) in con.execute(
            "SELECT path FROM instances WHERE series_uid = ? AND managed", [uid]).fetchall()
            if path in wanted)
    return found


def insert_series(con: Con, rows: list[dict[str, Any]]) -> None:
    """New series rows, with no images yet (see :func:`add_images`).

    A batch brings few new series, for which plain inserts beat building a frame.
    """
    if not rows:
        return
    stamp = now()
    values = {"images": "", "image_count": 0, "created_at": stamp, "updated_at": stamp}
    placeholders = ", ".join("?" * len(SERIES_COLUMNS))
    con.executemany(f"INSERT INTO series ({', '.join(SERIES_COLUMNS)}) VALUES ({placeholders})",
                    [[{**row, **values}[c] for c in SERIES_COLUMNS] for row in rows])


def insert_instances(con: Con, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    stamp = now()
    columns = {c: [row.get(c, stamp) for row in rows] for c in INSTANCE_COLUMNS}
    con.insert_frame("instances", pd.DataFrame(columns))


def add_images(con: Con, numbers_by_series: dict[str, list[int]]) -> None:
    """Add instance numbers to the ``images`` (and ``image_count``) of series."""
    if not numbers_by_series:
        return
    current = dict(con.execute("SELECT series_uid, images FROM series"
                               " WHERE series_uid = ANY(?)",
                               [sorted(numbers_by_series)]).fetchall())
    stamp = now()
    for uid, numbers in numbers_by_series.items():
        images = ImageRange.parse(current[uid]) if current[uid] else ImageRange()
        images = images | numbers
        con.execute("UPDATE series SET images = ?, image_count = ?, updated_at = ?"
                    " WHERE series_uid = ?", [str(images), len(images), stamp, uid])


def load_series(con: Con, uid: str, domains: Sequence[str]) -> dict[str, Any]:
    """One series row as a dict, or ``NotFoundError`` whose "did you mean" offers only
    series of ``domains`` (those the caller may open)."""
    cursor = con.execute(f"SELECT {', '.join(SERIES_COLUMNS)} FROM series WHERE series_uid = ?",
                         [uid])
    row = cursor.fetchone()
    if row is None:
        known = [r[0] for r in con.execute(
            "SELECT series_uid FROM series WHERE domain = ANY(?)"
            " AND starts_with(series_uid, ?) ORDER BY series_uid LIMIT 50",
            [sorted(domains), uid[: max(len(uid) - 6, 1)]]).fetchall()]
        raise not_found("series", uid, known, "Find series with store.search_series().")
    return dict(zip(SERIES_COLUMNS, row, strict=True))


def instances_frame(con: Con, uid: str, numbers: Sequence[int] | None = None) -> pd.DataFrame:
    """Instances of a series by instance number (all, or those in ``numbers``)."""
    where = "" if numbers is None else "AND instance_number = ANY(?)"
    params: list[Any] = [uid] if numbers is None else [uid, list(numbers)]
    return con.execute(
        f"""SELECT {', '.join(INSTANCE_COLUMNS)} FROM instances
            WHERE series_uid = ? {where} ORDER BY instance_number""", params).df()


def z_positions(con: Con, uid: str, numbers: Sequence[int]) -> dict[int, float | None]:
    rows = con.execute(
        """SELECT instance_number, position_z FROM instances
           WHERE series_uid = ? AND instance_number = ANY(?)""",
        [uid, list(numbers)]).fetchall()
    return dict(rows)


def counts(con: Con) -> tuple[int, int]:
    """How many series and instances the catalog holds."""
    return con.execute(
        "SELECT (SELECT count(*) FROM series), (SELECT count(*) FROM instances)").fetchone()


def get_thumbnail(con: Con, uid: str, number: int, size: int) -> tuple[int, int, bytes] | None:
    return con.execute(
        """SELECT height, width, pixels FROM thumbnails
           WHERE series_uid = ? AND instance_number = ? AND size = ?""",
        [uid, number, size]).fetchone()


def put_thumbnail(con: Con, uid: str, number: int, size: int, height: int, width: int,
                  pixels: bytes) -> None:
    con.execute("INSERT INTO thumbnails VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (series_uid, instance_number, size) DO UPDATE SET"
                " height = excluded.height, width = excluded.width, pixels = excluded.pixels",
                [uid, number, size, height, width, pixels])


def related(con: Con, uid: str, domains: Sequence[str]) -> pd.DataFrame:
    """Series in ``domains`` sharing the study or the patient of series ``uid``."""
    return con.execute(
        """SELECT s.series_uid, s.study_uid, s.modality, s.series_description, s.images,
                  CASE WHEN s.study_uid = o.study_uid THEN 'same study' ELSE 'same patient'
                  END AS relation
           FROM series s, (SELECT study_uid, patient_id FROM series WHERE series_uid = ?) o
           WHERE s.domain = ANY(?)
             AND (s.study_uid = o.study_uid
                  OR (o.patient_id IS NOT NULL AND s.patient_id = o.patient_id))
           ORDER BY (s.study_uid = o.study_uid) DESC, s.series_date NULLS LAST, s.series_uid""",
        [uid, list(domains)]).df()
