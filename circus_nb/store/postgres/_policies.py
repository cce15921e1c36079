"""Row-level security, the masked ``series`` view and the table privileges of user roles.

Every policy is written for ``circus_users`` only; the owner is not subject to them.
Rights are read once per query: ``(SELECT circus_domains())`` is an init-plan, where a
bare call in a policy could run per row. A policy's subquery on another table is
itself filtered by that table's policies, so "a revision is visible when its case is"
is simply ``EXISTS (SELECT FROM cases ...)``.
"""

from __future__ import annotations

from ._sql import PATIENT_COLUMNS, USERS_ROLE, VIEW_SCHEMA, identifier, literal, text_array

# table -> {policy name: (command, USING, WITH CHECK)}; {s} is the catalog schema,
# {v} the view schema. Permissive policies of one command are OR'ed.
_ADMIN = "(SELECT {s}.circus_is_admin())"


def _among(column: str, function: str) -> str:
    """``column`` is in the array ``function()`` returns (evaluated once per query)."""
    return f"{column} = ANY ((SELECT {{s}}.{function}())::VARCHAR[])"


# The view holds only the user's domains. EXISTS, not IN: the planner then probes the
# series' primary key per row instead of hashing every series of the domains.
_MY_SERIES = "EXISTS (SELECT FROM {v}.series s WHERE s.series_uid = {t}.series_uid)"
_CASE_VISIBLE = "EXISTS (SELECT FROM {s}.cases c WHERE c.case_id = {t}.case_id)"
_CASE_WRITABLE = ("EXISTS (SELECT FROM {s}.cases c WHERE c.case_id = {t}.case_id"
                  " AND {s}.circus_has_role(c.project_id, 'write'))")
_READABLE = _among("project_id", "circus_readable_projects")
_IN_MY_DOMAINS = "domains <@ (SELECT {s}.circus_domains())"
_MINE = "{col} = (SELECT {{s}}.circus_email())"
_LIST_VISIBLE = _among("list_id", "circus_visible_lists")
_LIST_OWNED = ("EXISTS (SELECT FROM {s}.item_lists l WHERE l.list_id = {t}.list_id"
               " AND l.owner = (SELECT {s}.circus_email()))")


def _policies(case_domains: bool) -> dict[str, dict[str, tuple[str, str | None, str | None]]]:
    read_case = f"{_READABLE} AND {_IN_MY_DOMAINS}" if case_domains else _READABLE
    admin_all = ("ALL", _ADMIN, _ADMIN)  # manageServer administers accounts and projects
    return {
        "users": {"own": ("SELECT", "email = (SELECT {s}.circus_email())", None),
                  "admin": admin_all},
        "groups": {"own": ("SELECT", _among("name", "circus_groups"), None),
                   "admin": admin_all},
        "group_members": {"own": ("SELECT", "email = (SELECT {s}.circus_email())", None),
                          "admin": admin_all},
        "project_roles": {
            "own": ("SELECT", _among("group_name", "circus_groups"), None),
            "admin": admin_all},
        "projects": {"read": ("SELECT", _READABLE, None), "admin": admin_all},
        "preferences": {"own": ("ALL", "email = (SELECT {s}.circus_email())",
                                "email = (SELECT {s}.circus_email())")},
        "cases": {
            "read": ("SELECT", read_case, None),
            # create_case: write on the project, series of the user's domains
            "create": ("INSERT", None,
                       f"{{s}}.circus_has_role(project_id, 'write') AND {_IN_MY_DOMAINS}"),
            # a new revision moves the head; tags change (both need write)
            "write": ("UPDATE", "{s}.circus_has_role(project_id, 'write')",
                      "{s}.circus_has_role(project_id, 'write')"),
        },
        # Append-only: SELECT and INSERT policies, no UPDATE or DELETE privilege at all.
        "revisions": {
            "read": ("SELECT", _CASE_VISIBLE, None),
            # previous_date must be the date of the revision it follows: the search
            # finds a case's revision at a past time by it.
            "append": ("INSERT", None,
                       f"{_CASE_WRITABLE} AND creator = (SELECT {{s}}.circus_email())"
                       " AND {s}.circus_follows(case_id, idx, previous_date)"),
        },
        "revision_series": {
            "read": ("SELECT", _CASE_VISIBLE, None),
            # An entry kept from the previous revision is always fine; a new series
            # needs addSeries (or is one of the case's first series) and its domain.
            "append": ("INSERT", None, _CASE_WRITABLE + """ AND (
                {s}.circus_kept_entry(case_id, idx, series_uid)
                OR ({s}.circus_may_open_series(series_uid)
                    AND ({t}.idx = 0 OR EXISTS (
                        SELECT FROM {s}.cases c WHERE c.case_id = {t}.case_id
                        AND {s}.circus_has_role(c.project_id, 'addSeries')))))"""),
        },
        # Shared by hash between cases: readable where a readable revision names it.
        # A mask another project already stored is invisible, so the api's "already
        # present?" check misses it: insert with ON CONFLICT DO NOTHING, without a
        # conflict target (naming one makes the server check the SELECT policy too).
        "blobs": {
            "read": ("SELECT", "EXISTS (SELECT FROM {s}.revision_series rs"
                               " WHERE strpos(rs.labels, {t}.hash) > 0)", None),
            "store": ("INSERT", None, "(SELECT {s}.circus_may_write())"
                                      " AND hash = encode(sha256(data), 'hex')"),
        },
        # Reached through the view only (its INSERT trigger lands here).
        "series": {"import": ("INSERT", None, _among("domain", "circus_domains"))},
        "instances": {"read": ("SELECT", _MY_SERIES, None),
                      "import": ("INSERT", None, _MY_SERIES)},
        "thumbnails": {"cache": ("ALL", _MY_SERIES, _MY_SERIES)},
        # Saved searches are the user's own; a list is its owner's to create, share
        # and delete, and everyone it is shared with edits its items.
        "saved_searches": {"own": ("ALL", _MINE.format(col="email"), _MINE.format(col="email"))},
        "item_lists": {"read": ("SELECT", _LIST_VISIBLE, None),
                       "create": ("INSERT", None, _MINE.format(col="owner")),
                       "delete": ("DELETE", _MINE.format(col="owner"), None)},
        "list_editors": {"read": ("SELECT", _LIST_VISIBLE, None),
                         "owner": ("ALL", _LIST_OWNED, _LIST_OWNED)},
        "list_items": {"edit": ("ALL", _LIST_VISIBLE, _LIST_VISIBLE)},
        "schema_migrations": {"read": ("SELECT", "true", None)},
        "settings": {"read": ("SELECT", "true", None)},  # where the files are
    }


# table -> privileges of circus_users (all else is refused before any policy runs)
_GRANTS = {
    "schema_migrations": "SELECT",
    "settings": "SELECT",
    "users": "SELECT, INSERT, UPDATE, DELETE",
    "groups": "SELECT, INSERT, UPDATE, DELETE",
    "group_members": "SELECT, INSERT, UPDATE, DELETE",
    "project_roles": "SELECT, INSERT, UPDATE, DELETE",
    "projects": "SELECT, INSERT, UPDATE",
    "preferences": "SELECT, INSERT, UPDATE, DELETE",
    # the head's case_id, project and domains never change
    "cases": "SELECT, INSERT, UPDATE (tags, latest, status, description, first_series_uid,"
             " updated_at, saved_at)",
    "revisions": "SELECT, INSERT",
    "revision_series": "SELECT, INSERT",
    "blobs": "SELECT, INSERT",
    "series": "INSERT",  # no SELECT: patient columns are read through the view only
    "instances": "SELECT, INSERT",
    "thumbnails": "SELECT, INSERT, UPDATE",
    "saved_searches": "SELECT, INSERT, DELETE",
    "item_lists": "SELECT, INSERT, DELETE",
    "list_editors": "SELECT, INSERT, DELETE",
    "list_items": "SELECT, INSERT, DELETE",
}


def policy_statements(schema: str, case_domains: bool = False) -> list[str]:
    """Enable row-level security, (re)create the policies, grant the privileges."""
    s, v = identifier(schema), VIEW_SCHEMA
    statements = []
    for table, policies in _policies(case_domains).items():
        t = f"{s}.{identifier(table)}"
        statements += [f"ALTER TABLE {t} ENABLE ROW LEVEL SECURITY",
                       f"REVOKE ALL ON {t} FROM PUBLIC, {USERS_ROLE}",
                       f"GRANT {_GRANTS[table]} ON {t} TO {USERS_ROLE}"]
        for name, (command, using, check) in policies.items():
            policy = identifier(f"circus_{name}")
            clauses = "".join(
                f" {word} ({text.format(s=s, v=v, t=t)})"
                for word, text in (("USING", using), ("WITH CHECK", check)) if text)
            statements += [f"DROP POLICY IF EXISTS {policy} ON {t}",
                           f"CREATE POLICY {policy} ON {t} FOR {command} TO {USERS_ROLE}"
                           f"{clauses}"]
    return statements


def series_view_statements(schema: str) -> list[str]:
    """The view ``circus_masked.series``: the user's domains, patient columns masked.

    Built from the table's columns in the server's catalog, in their order, so it
    follows migrations (re-run after one). It runs as its owner (not
    ``security_invoker``), which is what lets it read the patient columns that the
    user may not; so it filters the rows itself, behind a ``security_barrier`` that
    keeps a user's own functions from seeing rows before that filter. Updating it
    writes the table (the import's ``images`` update: only those columns are granted;
    CHECK OPTION keeps rows in the user's domains); inserting goes through a trigger
    into the table, whose INSERT policy checks the domain.
    """
    s, v = identifier(schema), VIEW_SCHEMA
    masked = text_array(PATIENT_COLUMNS)
    return [
        f"CREATE SCHEMA IF NOT EXISTS {v}",
        f"REVOKE ALL ON SCHEMA {v} FROM PUBLIC",
        f"GRANT USAGE ON SCHEMA {v} TO {USERS_ROLE}",
        f"""DO $$
            DECLARE columns TEXT;
            BEGIN
              SELECT string_agg(CASE WHEN column_name = ANY({masked})
                  THEN format('CASE WHEN (SELECT {s}.circus_may_view_patient()) THEN t.%1$I'
                              ' END AS %1$I', column_name)
                  ELSE format('t.%I', column_name) END, ', ' ORDER BY ordinal_position)
                INTO columns
                FROM information_schema.columns
                WHERE table_schema = {literal(schema)} AND table_name = 'series';
              EXECUTE format('CREATE OR REPLACE VIEW {v}.series WITH (security_barrier)'
                             ' AS SELECT %s FROM {s}.series t'
                             ' WHERE t.domain = ANY ((SELECT {s}.circus_domains())::VARCHAR[])'
                             ' WITH LOCAL CHECK OPTION', columns);
            END $$""",
        # SECURITY INVOKER: the row goes in as the user, so the table's policy applies.
        f"""CREATE OR REPLACE FUNCTION {v}.insert_series() RETURNS trigger
            LANGUAGE plpgsql SET search_path = {s}, pg_temp AS $$
            BEGIN
              INSERT INTO {s}.series SELECT (NEW).*;
              RETURN NEW;
            END $$""",
        f"""CREATE OR REPLACE TRIGGER insert_series INSTEAD OF INSERT ON {v}.series
            FOR EACH ROW EXECUTE FUNCTION {v}.insert_series()""",
        f"REVOKE ALL ON {v}.series FROM PUBLIC, {USERS_ROLE}",
        f"GRANT SELECT, INSERT, UPDATE (images, image_count, updated_at) ON {v}.series"
        f" TO {USERS_ROLE}",
    ]
