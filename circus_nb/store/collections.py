"""Saved searches and lists of cases or series: the SQL side.

Functions here take an open connection and trust their caller for privilege
checks and transactions; :class:`circus_nb.Store` does both. A list is visible to
its owner and to the members of its editor groups (on a server, row-level security
says the same).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from .database import Database

Con = Database  # every function here runs on either backend

# -- saved searches -----------------------------------------------------------------


def save_search(con: Con, email: str, kind: str, name: str, filters: dict[str, Any],
                when: datetime) -> None:
    """Insert or replace the user's search ``name`` of ``kind``."""
    con.execute("DELETE FROM saved_searches WHERE email = ? AND kind = ? AND name = ?",
                [email, kind, name])
    con.execute("INSERT INTO saved_searches VALUES (?, ?, ?, ?, ?)",
                [email, kind, name, json.dumps(filters, sort_keys=True), when])


def saved_search(con: Con, email: str, kind: str, name: str) -> dict[str, Any] | None:
    row = con.execute("SELECT filters FROM saved_searches WHERE email = ? AND kind = ?"
                      " AND name = ?", [email, kind, name]).fetchone()
    return None if row is None else json.loads(row[0])


def saved_searches(con: Con, email: str, kinds: Sequence[str]) -> pd.DataFrame:
    frame = con.execute("SELECT kind, name, filters, created_at FROM saved_searches"
                        " WHERE email = ? AND kind = ANY(?) ORDER BY kind, name",
                        [email, list(kinds)]).df()
    frame["filters"] = [json.loads(text) for text in frame["filters"]]
    return frame


def delete_search(con: Con, email: str, kind: str, name: str) -> None:
    con.execute("DELETE FROM saved_searches WHERE email = ? AND kind = ? AND name = ?",
                [email, kind, name])


# -- lists ----------------------------------------------------------------------------

# The lists a user sees: their own, and those shared with one of their groups.
_VISIBLE = """(l.owner = ? OR EXISTS (SELECT 1 FROM list_editors e
                 WHERE e.list_id = l.list_id AND e.group_name = ANY(?)))"""


def _visible(email: str, groups: Iterable[str]) -> list[Any]:
    return [email, sorted(groups)]


def create_list(con: Con, list_id: str, owner: str, kind: str, name: str,
                editors: Sequence[str], when: datetime) -> None:
    con.execute("INSERT INTO item_lists VALUES (?, ?, ?, ?, ?)",
                [list_id, owner, kind, name, when])
    set_editors(con, list_id, editors)


def set_editors(con: Con, list_id: str, editors: Sequence[str]) -> None:
    con.execute("DELETE FROM list_editors WHERE list_id = ?", [list_id])
    if editors:
        con.executemany("INSERT INTO list_editors VALUES (?, ?)",
                        [(list_id, group) for group in editors])


def visible_lists(con: Con, email: str, groups: Iterable[str], kinds: Sequence[str]
                  ) -> pd.DataFrame:
    """One row per list the user sees: ``list_id, kind, name, owner, editors, items,
    created_at``; the user's own first, then by name."""
    frame = con.execute(
        f"""SELECT l.list_id, l.kind, l.name, l.owner, l.created_at,
                (SELECT count(*) FROM list_items i WHERE i.list_id = l.list_id) AS items
            FROM item_lists l WHERE {_VISIBLE} AND l.kind = ANY(?)
            ORDER BY l.owner <> ?, l.name, l.owner""",
        [*_visible(email, groups), list(kinds), email]).df()
    editors = editors_of(con, list(frame["list_id"]))
    frame.insert(4, "editors", [editors.get(i, []) for i in frame["list_id"]])
    frame["items"] = frame["items"].astype("int64")
    return frame


def editors_of(con: Con, list_ids: Sequence[str]) -> dict[str, list[str]]:
    rows = con.execute("SELECT list_id, group_name FROM list_editors WHERE list_id = ANY(?)"
                       " ORDER BY group_name", [list(list_ids)]).fetchall()
    editors: dict[str, list[str]] = {}
    for list_id, group in rows:
        editors.setdefault(list_id, []).append(group)
    return editors


def find_lists(con: Con, email: str, groups: Iterable[str], name_or_id: str
               ) -> list[tuple[str, str, str, str]]:
    """``(list_id, kind, name, owner)`` of the visible lists with that id or name."""
    return con.execute(
        f"SELECT l.list_id, l.kind, l.name, l.owner FROM item_lists l WHERE {_VISIBLE}"
        " AND (l.list_id = ? OR l.name = ?) ORDER BY l.list_id = ? DESC, l.owner <> ?",
        [*_visible(email, groups), name_or_id, name_or_id, name_or_id, email]).fetchall()


def name_taken(con: Con, owner: str, kind: str, name: str) -> bool:
    return con.execute("SELECT count(*) FROM item_lists WHERE owner = ? AND kind = ?"
                       " AND name = ?", [owner, kind, name]).fetchone()[0] > 0


_EXISTING = {"cases": "SELECT 1 FROM cases c WHERE c.case_id = i.item",
             "series": "SELECT 1 FROM series s WHERE s.series_uid = i.item"}


def items(con: Con, list_id: str, kind: str) -> list[str]:
    """The list's items that still exist (a deleted case leaves its lists), in the
    order they were added."""
    return [row[0] for row in con.execute(
        f"SELECT i.item FROM list_items i WHERE i.list_id = ? AND EXISTS ({_EXISTING[kind]})"
        " ORDER BY i.added_at, i.item", [list_id]).fetchall()]


def add_items(con: Con, list_id: str, new: Sequence[str], when: datetime) -> None:
    """Add the items not yet in the list (an item is in a list once)."""
    present = {row[0] for row in con.execute(
        "SELECT item FROM list_items WHERE list_id = ? AND item = ANY(?)",
        [list_id, list(new)]).fetchall()}
    rows = [(list_id, item, when) for item in new if item not in present]
    if rows:
        con.executemany("INSERT INTO list_items VALUES (?, ?, ?)", rows)


def remove_items(con: Con, list_id: str, gone: Sequence[str]) -> None:
    con.execute("DELETE FROM list_items WHERE list_id = ? AND item = ANY(?)",
                [list_id, list(gone)])


def delete_list(con: Con, list_id: str) -> None:
    con.execute("DELETE FROM list_items WHERE list_id = ?", [list_id])
    con.execute("DELETE FROM list_editors WHERE list_id = ?", [list_id])
    con.execute("DELETE FROM item_lists WHERE list_id = ?", [list_id])
