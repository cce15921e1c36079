"""Users, groups, memberships, project roles and preferences: the SQL side.

Functions here take an open connection and trust their caller for privilege
checks and transactions; :class:`circus_nb.Store` does both.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from difflib import get_close_matches
from typing import Any

import pandas as pd

from ..domain.privileges import GroupGrant, Rights
from ..errors import NotFoundError
from .database import Database

Con = Database  # every function here runs on either backend


def now() -> datetime:
    return datetime.now(UTC)


def _column(con: Con, sql: str, params: Iterable[Any] = ()) -> list[Any]:
    return [row[0] for row in con.execute(sql, list(params)).fetchall()]


def not_found(kind: str, name: str, known: list[str], way_out: str) -> NotFoundError:
    """A ``NotFoundError`` with a did-you-mean hint taken from ``known``."""
    close = get_close_matches(name, known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return NotFoundError(f"No {kind} {name!r}.{hint} {way_out}", field=kind, value=name)


def user_emails(con: Con) -> list[str]:
    return _column(con, "SELECT email FROM users ORDER BY email")


def group_names(con: Con) -> list[str]:
    return _column(con, "SELECT name FROM groups ORDER BY name")


def require_user(con: Con, email: str) -> None:
    if not _column(con, "SELECT 1 FROM users WHERE email = ?", [email]):
        raise not_found("user", email, user_emails(con),
                        "An administrator adds users with store.add_user(email, groups=...).")


def require_groups(con: Con, names: Iterable[str]) -> None:
    known = group_names(con)
    for name in names:
        if name not in known:
            raise not_found("group", name, known,
                            "An administrator adds groups with store.add_group(name, ...).")


def insert_group(con: Con, name: str, privileges: Iterable[str], domains: Iterable[str]) -> None:
    con.execute("INSERT INTO groups VALUES (?, ?, ?, ?)",
                [name, sorted(privileges), sorted(domains), now()])


def insert_user(con: Con, email: str, display_name: str | None) -> None:
    con.execute("INSERT INTO users VALUES (?, ?, ?)", [email, display_name, now()])
    con.user_added(email)


def set_memberships(con: Con, email: str, groups: Iterable[str]) -> None:
    con.execute("DELETE FROM group_members WHERE email = ?", [email])
    for group in sorted(set(groups)):
        con.execute("INSERT INTO group_members VALUES (?, ?)", [group, email])


def set_roles(con: Con, group: str, project_id: str, roles: Iterable[str]) -> None:
    con.execute("DELETE FROM project_roles WHERE group_name = ? AND project_id = ?",
                [group, project_id])
    roles = sorted(roles)
    if roles:
        con.execute("INSERT INTO project_roles VALUES (?, ?, ?)", [group, project_id, roles])


def load_rights(con: Con, email: str) -> Rights:
    """The effective rights of ``email``: the union over the user's groups (one query:
    it runs before nearly every call)."""
    rows = con.execute(
        """SELECT g.name, g.privileges, g.domains, r.project_id, r.roles FROM groups g
           JOIN group_members m ON m.group_name = g.name
           LEFT JOIN project_roles r ON r.group_name = g.name
           WHERE m.email = ? ORDER BY g.name""",
        [email],
    ).fetchall()
    groups: dict[str, tuple[Any, Any]] = {}
    roles: dict[str, dict[str, Any]] = {}
    for name, privileges, domains, project_id, project_roles in rows:
        groups[name] = privileges, domains
        roles.setdefault(name, {})
        if project_id is not None:
            roles[name][project_id] = project_roles
    return Rights.combine(email, [GroupGrant(name, privileges, domains, roles[name])
                                  for name, (privileges, domains) in groups.items()])


def admin_count(con: Con) -> int:
    """How many users hold ``manageServer`` through some group."""
    return con.execute(
        """SELECT count(DISTINCT m.email) FROM group_members m
           JOIN groups g ON g.name = m.group_name
           WHERE 'manageServer' = ANY(g.privileges)"""
    ).fetchone()[0]


def as_lists(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """List columns as Python lists (``[]`` for none), on every backend."""
    for column in columns:
        frame[column] = [list(v) if v is not None else [] for v in frame[column]]
    return frame


def users_frame(con: Con) -> pd.DataFrame:
    return as_lists(con.execute(
        """SELECT u.email, u.display_name,
                  (SELECT array_agg(m.group_name ORDER BY m.group_name) FROM group_members m
                   WHERE m.email = u.email) AS groups,
                  u.created_at
           FROM users u ORDER BY u.email"""
    ).df(), "groups")


def groups_frame(con: Con) -> pd.DataFrame:
    return as_lists(con.execute(
        """SELECT g.name, g.privileges, g.domains,
                  (SELECT count(*) FROM group_members m WHERE m.group_name = g.name) AS members,
                  g.created_at
           FROM groups g ORDER BY g.name"""
    ).df(), "privileges", "domains")


def roles_frame(con: Con, project_id: str | None = None) -> pd.DataFrame:
    where = "WHERE project_id = ?" if project_id else ""
    return as_lists(con.execute(
        f"SELECT group_name, project_id, roles FROM project_roles {where}"
        " ORDER BY project_id, group_name",
        [project_id] if project_id else [],
    ).df(), "roles")


def set_preference(con: Con, email: str, key: str, value: Any) -> None:
    con.execute(
        """INSERT INTO preferences VALUES (?, ?, ?)
           ON CONFLICT (email, key) DO UPDATE SET value = excluded.value""",
        [email, key, json.dumps(value)],
    )


def preferences(con: Con, email: str) -> dict[str, Any]:
    rows = con.execute("SELECT key, value FROM preferences WHERE email = ?", [email]).fetchall()
    return {key: json.loads(value) for key, value in rows}
