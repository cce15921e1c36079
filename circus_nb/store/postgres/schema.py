"""The catalog schema for PostgreSQL, derived from :data:`~circus_nb.store.migrations.MIGRATIONS`.

The DuckDB migrations are the one source of truth: their statements are replayed in
order (so columns come in the same order, and ``INSERT INTO t VALUES (...)`` means the
same on both), with the few DuckDB type names PostgreSQL lacks translated.

>>> translate_types("x DOUBLE, y DOUBLE[], z BLOB NOT NULL, w VARCHAR[]")
'x DOUBLE PRECISION, y DOUBLE PRECISION[], z BYTEA NOT NULL, w VARCHAR[]'
"""

from __future__ import annotations

import re

from ..._version import __version__
from ..migrations import _LEDGER, MIGRATIONS

__all__ = ["INDEXES", "ledger_statements", "newest_version", "schema_statements",
           "translate_types"]

# DuckDB type -> PostgreSQL type. Type names are upper case in the migrations and
# comments are lower case, so a case-sensitive whole-word match touches types only.
_TYPES = {
    r"\bDOUBLE\b(?!\s+PRECISION)": "DOUBLE PRECISION",
    r"\bBLOB\b": "BYTEA",
}
# Words that would mean a DuckDB-only type slipped into a new migration untranslated.
_UNTRANSLATED = re.compile(r"\b(HUGEINT|UBIGINT|UINTEGER|USMALLINT|UTINYINT|TINYINT|STRUCT"
                           r"|MAP|UNION|LIST|BLOB)\b")

# What the package's queries filter or join on, beyond the primary keys.
INDEXES = (
    "CREATE INDEX IF NOT EXISTS cases_project ON cases (project_id)",
    # the newest-first page, in the search's own order (a plain created_at index scanned
    # backwards gives DESC NULLS FIRST and no tie-break: every case was sorted instead)
    "DROP INDEX IF EXISTS cases_created",
    "CREATE INDEX IF NOT EXISTS cases_newest ON cases (created_at DESC NULLS LAST, case_id)",
    # sorted by revision (the latest): an index scan stopped by LIMIT, as cases_newest
    "CREATE INDEX IF NOT EXISTS cases_latest ON cases (latest DESC NULLS LAST, case_id)",
    # a case at a past time: saved since then or not (search.py: cases_at)
    "CREATE INDEX IF NOT EXISTS cases_saved ON cases (saved_at)",
    # tags @> ? (search by tags)
    "CREATE INDEX IF NOT EXISTS cases_tags ON cases USING gin (tags)",
    # a part of a case id (search.py: case_id LIKE '%...%'), by trigrams. pg_trgm ships
    # with PostgreSQL and is trusted (the database's owner may add it); a server without it
    # still holds a store, whose case-id searches then read every case.
    """DO $$ DECLARE home TEXT; BEGIN
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
        SELECT n.nspname INTO home FROM pg_extension e
            JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm';
        EXECUTE format('CREATE INDEX IF NOT EXISTS cases_id_trgm ON cases'
                       ' USING gin (case_id %I.gin_trgm_ops)', home);
    EXCEPTION WHEN OTHERS THEN
        RAISE NOTICE 'No trigram index on case ids: %', SQLERRM;
    END $$""",
    # the revisions saved after a time (cases_at: date > T AND previous_date <= T)
    "CREATE INDEX IF NOT EXISTS revisions_date ON revisions (date, case_id, idx)",
    "CREATE INDEX IF NOT EXISTS series_domain ON series (domain)",
    "CREATE INDEX IF NOT EXISTS series_study ON series (study_uid)",
    "CREATE INDEX IF NOT EXISTS series_patient ON series (patient_id)",
    "CREATE INDEX IF NOT EXISTS series_created ON series (created_at)",
    # managed_paths: which copied files the catalog already holds
    "CREATE INDEX IF NOT EXISTS instances_path ON instances (path)",
    # load_rights and the privilege functions look memberships up by e-mail
    "CREATE INDEX IF NOT EXISTS group_members_email ON group_members (email)",
)


def translate_types(statement: str) -> str:
    """``statement`` with DuckDB type names replaced by PostgreSQL ones."""
    for pattern, replacement in _TYPES.items():
        statement = re.sub(pattern, replacement, statement)
    return statement


def _checked(statement: str) -> str:
    translated = translate_types(statement)
    code = "\n".join(line.split("--")[0] for line in translated.splitlines())
    if _UNTRANSLATED.search(code):
        raise ValueError(f"A migration uses a DuckDB type with no PostgreSQL translation"
                         f" in schema.py: {statement}")
    return translated


def newest_version() -> int:
    return MIGRATIONS[-1].version


def schema_statements() -> list[str]:
    """The DDL of an empty catalog at the newest version: the ledger, every migration's
    statements in order, then the indexes. Run them in one transaction; then record the
    versions with :func:`ledger_statements`."""
    statements = [_LEDGER]
    for migration in MIGRATIONS:
        statements.extend(_checked(s) for s in migration.statements_for("postgresql"))
    statements.extend(INDEXES)
    return statements


def ledger_statements(package_version: str = __version__) -> list[str]:
    """``INSERT``s recording every migration as applied now (after :func:`schema_statements`)."""
    def quoted(text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    return [f"INSERT INTO schema_migrations VALUES ({m.version}, {quoted(m.description)},"
            f" now(), {quoted(package_version)})" for m in MIGRATIONS]
