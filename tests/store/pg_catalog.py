"""A small PostgreSQL catalog for the security tests: schema, security, rows, user roles.

Rows are inserted as the owner with plain SQL in the shapes of circus_nb.store
(accounts.py, cases.py, series.py). Who holds what:

========  =====================================  =========================  ==========
user      project roles                          domains                    privileges
========  =====================================  =========================  ==========
reader    p1: read                               default                    -
writer    p1: read, write                        default                    personalInfoView
adder     p1: read, write, addSeries             default, hospital-b        -
mod       p1: read, moderate                     default                    -
admin     (all, through manageServer)            default, hospital-b        manageServer
nobody    -                                      default                    -
========  =====================================  =========================  ==========

Series ``s-a`` (default) and ``s-b`` (hospital-b); cases ``c1`` (p1, default),
``c2`` (p2, default) and ``c3`` (p1, hospital-b), one revision each.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest

from circus_nb.domain.privileges import GroupGrant, Rights
from circus_nb.store.postgres.schema import ledger_statements, schema_statements
from circus_nb.store.postgres.security import (
    security_statements,
    user_role_statements,
)
from tests.pg_server import role_url

psycopg = pytest.importorskip("psycopg")  # (pytest imports this file for its doctests)

NOW = datetime(2024, 5, 1, tzinfo=UTC)
GROUPS = {  # group -> (privileges, domains, {project: roles}, members)
    "readers": ([], ["default"], {"p1": ["read"]}, ["reader"]),
    "writers": (["personalInfoView"], ["default"], {"p1": ["read", "write"]}, ["writer"]),
    "adders": ([], ["default"], {"p1": ["read", "write", "addSeries"]}, ["adder"]),
    "b": ([], ["hospital-b"], {}, ["adder", "admin"]),
    "mods": ([], ["default"], {"p1": ["read", "moderate"]}, ["mod"]),
    "admins": (["manageServer"], ["default"], {}, ["admin"]),
    "others": ([], ["default"], {}, ["nobody"]),
}
USERS = ("reader", "writer", "adder", "mod", "admin", "nobody")
MASK = b"\x01\x02\x03"  # the bytes of a voxel label's mask
BLOB_1 = hashlib.sha256(MASK).hexdigest()
BLOB_2 = hashlib.sha256(b"other").hexdigest()


def email(user: str) -> str:
    return f"{user}@example.org"


def python_rights(user: str) -> Rights:
    """What circus_nb.domain.privileges makes of the same groups."""
    grants = [GroupGrant(g, p, d, r) for g, (p, d, r, members) in GROUPS.items()
              if user in members]
    return Rights.combine(email(user), grants)


def labels(blob: str) -> str:
    return json.dumps([{"type": "voxel", "name": "mask", "data": {"blob": blob}}])


def _series_row(uid: str, domain: str, patient: str) -> list:
    return [uid, "st-1", domain, "1-2", 2, 64, 64, NOW, "CT", "chest", "CHEST", None, None,
            None, f"PID-{uid}", patient, datetime(1960, 1, 2).date(), 64, "F", 1.6, 60.0,
            "{}", NOW, NOW]


def _insert_rows(con: psycopg.Connection) -> None:
    for user in USERS:
        con.execute("INSERT INTO users VALUES (%s, %s, %s)", [email(user), user, NOW])
    for group, (privileges, domains, roles, members) in GROUPS.items():
        con.execute("INSERT INTO groups VALUES (%s, %s, %s, %s)",
                    [group, privileges, domains, NOW])
        for member in members:
            con.execute("INSERT INTO group_members VALUES (%s, %s)", [group, email(member)])
        for project, project_roles in roles.items():
            con.execute("INSERT INTO project_roles VALUES (%s, %s, %s)",
                        [group, project, project_roles])
    for project in ("p1", "p2"):
        con.execute("INSERT INTO projects VALUES (%s, %s, %s, '', '[]', NULL, NULL, '[]',"
                    " %s, %s, 'dicom,preset,auto')", [project, project, project, NOW, NOW])
    con.execute("INSERT INTO series VALUES (" + ", ".join(["%s"] * 24) + ")",
                _series_row("s-a", "default", "DOE^JANE"))
    con.execute("INSERT INTO series VALUES (" + ", ".join(["%s"] * 24) + ")",
                _series_row("s-b", "hospital-b", "ROE^RICHARD"))
    for uid in ("s-a", "s-b"):
        for number in (1, 2):
            con.execute("INSERT INTO instances VALUES (%s, %s, NULL, %s, true, 10, 0.0,"
                        " 0, 0, %s, ARRAY[1,0,0,0,1,0], NULL, 64, 64, NULL, NULL, NULL, %s)",
                        [uid, number, f"{uid}/{number}.dcm", float(number), NOW])
        con.execute("INSERT INTO thumbnails VALUES (%s, 1, 96, 2, 2, %s)", [uid, b"\0" * 4])
    for case, project, domain, uid, blob in (("c1", "p1", "default", "s-a", BLOB_1),
                                             ("c2", "p2", "default", "s-a", BLOB_2),
                                             ("c3", "p1", "hospital-b", "s-b", None)):
        con.execute("INSERT INTO cases VALUES (%s, %s, %s, %s, 0, 'draft', 'Created new case.',"
                    " %s, %s, %s, %s)", [case, project, ["t"], [domain], uid, NOW, NOW, NOW])
        con.execute("INSERT INTO revisions VALUES (%s, 0, %s, %s, 'Created new case.', 'draft',"
                    " '{}', NULL, %s)", [case, email("admin"), NOW, uid])
        con.execute("INSERT INTO revision_series VALUES (%s, 0, 0, %s, 1, 2, 1, %s)",
                    [case, uid, labels(blob) if blob else "[]"])
    con.execute("INSERT INTO blobs VALUES (%s, %s), (%s, %s)",
                [BLOB_1, MASK, BLOB_2, b"other"])
    con.execute("INSERT INTO preferences VALUES (%s, 'personal_info_view', 'true')",
                [email("writer")])


def build(url: str, case_domains: bool = False) -> None:
    """Create the schema, the security and the rows as the owner; map every user."""
    with psycopg.connect(url) as con:
        for statement in (*schema_statements(), *ledger_statements(),
                          *security_statements(case_domains=case_domains)):
            con.execute(statement)
        _insert_rows(con)
        for user in USERS:
            for statement in user_role_statements(email(user)):
                con.execute(statement)


def user_url(url: str, user: str) -> str:
    """``url`` with the login role of ``user`` (trust auth: no password needed)."""
    return role_url(url, email(user))


def connect_as(url: str, user: str) -> psycopg.Connection:
    """A connection logged in as the user's own role (not SET ROLE)."""
    return psycopg.connect(user_url(url, user))
