"""Privileges enforced by the PostgreSQL server, for users who connect as themselves.

The store's creator owns the tables (and, as owner, is not subject to row-level
security: the administrator's connection sees everything). Each circus user gets a
LOGIN role (:func:`role_name`) that is a member of the group role ``circus_users``;
``user_roles`` maps roles to e-mails. Connected as such a role, the server itself
applies the rules of :mod:`circus_nb.domain.privileges`:

* rights come from ``SECURITY DEFINER`` functions over users, groups, group_members and
  project_roles (:data:`FUNCTIONS`): ``circus_email()``, ``circus_domains()``,
  ``circus_privileges()``, ``circus_project_roles(project_id)``,
  ``circus_has_role(project_id, role)``, ``circus_readable_projects()``,
  ``circus_may_view_patient()``...;
* row-level security policies (:mod:`._policies`) let a role see the projects it can
  read, their cases and revisions, the series, instances and thumbnails of its
  domains, and write only what the api would let it write; revisions are append-only;
* ``series`` as a user role sees it is the view ``circus_masked.series`` (first in the
  role's ``search_path``): the rows of its domains, with the patient columns NULL
  unless it holds ``personalInfoView``. The real table grants user roles nothing but
  ``INSERT`` (through the view), so reading it directly is refused.

Run :func:`security_statements` once as the owner after the schema (and again after a
migration: every statement is idempotent), and :func:`user_role_statements` per user.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any

from ._functions import FUNCTIONS, function_statements
from ._policies import policy_statements, series_view_statements
from ._sql import USERS_ROLE, VIEW_SCHEMA, identifier, literal

if TYPE_CHECKING:
    from psycopg import sql

__all__ = ["FUNCTIONS", "USERS_ROLE", "VIEW_SCHEMA", "role_name", "security_statements",
           "set_password_statement", "user_role_statements"]

_ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_PREFIX = "circus_"
_HASH = 8  # hex digits of sha256(email): tells apart e-mails with the same slug


def role_name(email: str) -> str:
    """The login role of a user: ``circus_`` + a slug of the e-mail + a short hash.

    Deterministic, a valid unquoted identifier, at most 63 characters (PostgreSQL's
    limit), and distinct for distinct e-mails (the hash is of the exact e-mail).

    >>> role_name("Ann.Lee@example.org")
    'circus_ann_lee_example_org_...'
    >>> len(role_name("x" * 300 + "@example.org")) <= 63
    True
    """
    digest = hashlib.sha256(email.encode()).hexdigest()[:_HASH]
    slug = re.sub(r"[^a-z0-9]+", "_", email.lower()).strip("_")
    room = 63 - len(_PREFIX) - 1 - _HASH
    slug = slug[:room].rstrip("_") or "user"
    return f"{_PREFIX}{slug}_{digest}"


def _check_role(role: str) -> str:
    if not _ROLE.match(role):
        raise ValueError(f"Role name {role!r} is not a lower-case identifier of at most 63"
                         " characters; use role_name(email).")
    return role


def security_statements(schema: str = "public", case_domains: bool = False) -> list[str]:
    """Everything the owner runs once: the user group role, ``user_roles``, the rights
    functions, the masked ``series`` view, row-level security and table privileges.

    ``schema`` is where the catalog tables are. ``case_domains=True`` also hides cases
    whose domains are not all among the user's (CIRCUS's rule); the default mirrors the
    api, which lets anyone with ``read`` on a project see its cases.
    """
    s = identifier(schema)
    return [
        # Roles are per cluster: another store on the same server may have made it.
        f"""DO $$ BEGIN
              IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {literal(USERS_ROLE)}) THEN
                CREATE ROLE {USERS_ROLE} NOLOGIN;
              END IF;
            END $$""",
        # Servers upgraded from before 15 still let everyone create in public.
        f"REVOKE CREATE ON SCHEMA {s} FROM PUBLIC",
        f"GRANT USAGE ON SCHEMA {s} TO {USERS_ROLE}",
        f"""CREATE TABLE IF NOT EXISTS {s}.user_roles (
              email VARCHAR PRIMARY KEY,
              role NAME NOT NULL UNIQUE)""",
        f"REVOKE ALL ON {s}.user_roles FROM PUBLIC",
        *function_statements(schema),
        *series_view_statements(schema),
        *policy_statements(schema, case_domains),
    ]


def user_role_statements(email: str, role: str | None = None, schema: str = "public"
                         ) -> list[str]:
    """Create (if needed) the login role of ``email`` and map it to the e-mail.

    No password is set: give one with :func:`set_password_statement` (or let the
    server authenticate otherwise, e.g. by certificate). The role's ``search_path``
    puts the masked views before the tables, so the package's SQL runs unchanged.
    """
    role = _check_role(role or role_name(email))
    name = identifier(role)
    return [
        f"""DO $$ BEGIN
              IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {literal(role)}) THEN
                CREATE ROLE {name} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
              END IF;
            END $$""",
        f"GRANT {USERS_ROLE} TO {name}",
        f"ALTER ROLE {name} SET search_path = {VIEW_SCHEMA}, {identifier(schema)}",
        f"""INSERT INTO {identifier(schema)}.user_roles (email, role)
            VALUES ({literal(email)}, {literal(role)})
            ON CONFLICT (email) DO UPDATE SET role = excluded.role""",
    ]


def set_password_statement(role: str, password: str, connection: Any = None
                           ) -> sql.Composed:
    """``ALTER ROLE role PASSWORD ...``, quoted by psycopg.

    Given a psycopg ``connection``, the password is hashed on this side
    (SCRAM-SHA-256, by libpq) so the plain text never reaches the server or its logs.
    """
    from psycopg import sql

    _check_role(role)
    secret = password
    if connection is not None:
        secret = connection.pgconn.encrypt_password(
            password.encode(), role.encode(), b"scram-sha-256").decode()
    return sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role),
                                                        sql.Literal(secret))
