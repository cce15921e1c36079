"""The PostgreSQL catalog schema is the DuckDB one: same tables, columns, order, types."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

import circus_nb as cnb
from circus_nb.store import migrations
from circus_nb.store.postgres import schema

psycopg = pytest.importorskip("psycopg")

# DuckDB's information_schema data_type -> PostgreSQL's udt_name
_SAME_TYPE = {
    "VARCHAR": "varchar", "VARCHAR[]": "_varchar", "INTEGER": "int4", "BIGINT": "int8",
    "BOOLEAN": "bool", "DATE": "date", "DOUBLE": "float8", "DOUBLE[]": "_float8",
    "BLOB": "bytea", "TIMESTAMP WITH TIME ZONE": "timestamptz",
}
_COLUMNS = """SELECT table_name, column_name, {type}, is_nullable, column_default IS NOT NULL
    FROM information_schema.columns WHERE table_schema = {schema}
    ORDER BY table_name, ordinal_position"""


@pytest.fixture
def pg(postgres_database):
    with psycopg.connect(postgres_database) as con:
        for statement in (*schema.schema_statements(), *schema.ledger_statements()):
            con.execute(statement)
        yield con


@pytest.fixture(scope="module")
def duck():
    """An embedded catalog, made and migrated as Store.create makes one."""
    with cnb.Store.create(None) as store:
        yield store._db()


def test_tables_and_columns_match_a_migrated_duckdb_catalog(pg, duck):
    expected = [(t, c, _SAME_TYPE[ty], n, d) for t, c, ty, n, d in duck.execute(
        _COLUMNS.format(type="data_type", schema="'main'")).fetchall()]
    got = pg.execute(_COLUMNS.format(type="udt_name::text", schema="'public'")).fetchall()
    assert got == expected


def test_primary_keys_match(pg, duck):
    query = """SELECT tc.table_name, string_agg(k.column_name, ',' ORDER BY k.ordinal_position)
               FROM information_schema.table_constraints tc
               JOIN information_schema.key_column_usage k
                 ON k.constraint_name = tc.constraint_name AND k.table_name = tc.table_name
               WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = {schema}
               GROUP BY tc.table_name ORDER BY tc.table_name"""
    assert (pg.execute(query.format(schema="'public'")).fetchall()
            == duck.execute(query.format(schema="'main'")).fetchall())


def test_the_ledger_records_the_newest_version(pg):
    versions = [r[0] for r in pg.execute("SELECT version FROM schema_migrations ORDER BY 1")]
    assert versions == [m.version for m in migrations.MIGRATIONS]
    assert schema.newest_version() == migrations.MIGRATIONS[-1].version


def test_the_shared_sql_runs_on_the_schema(pg):
    """Statements in the subset both databases accept, in the package's row shapes."""
    pg.execute("INSERT INTO cases VALUES ('c', 'p', %s, %s, 0, 'draft', '', 's', now(), now())",
               [["a", "b"], ["default"]])
    assert pg.execute("SELECT case_id FROM cases WHERE tags @> %s AND project_id = ANY(%s)",
                      [["a"], ["p"]]).fetchall() == [("c",)]
    pg.execute("INSERT INTO projects (project_id, name, name_key, description, tags,"
               " window_presets, created_at, updated_at) VALUES ('p', 'P', 'p', '', '[]', '[]',"
               " now(), now())")
    assert pg.execute("SELECT window_priority FROM projects").fetchone() == ("dicom,preset,auto",)
    pg.execute("INSERT INTO blobs VALUES ('h', %s) ON CONFLICT DO NOTHING", [b"\x00\x01"])
    assert pg.execute("SELECT data FROM blobs").fetchone() == (b"\x00\x01",)


def test_a_duckdb_only_type_in_a_migration_is_refused(monkeypatch):
    monkeypatch.setattr(schema, "MIGRATIONS", [migrations.Migration(
        1, "x", ("CREATE TABLE t (x HUGEINT)  -- a huge blob of text",))])
    with pytest.raises(ValueError, match="HUGEINT"):
        schema.schema_statements()


def test_the_postgres_modules_import_without_psycopg():
    code = ("import sys, circus_nb.store.postgres.schema, circus_nb.store.postgres.security;"
            " print('psycopg' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "False"



def test_a_store_opened_by_its_owner_gets_the_indexes_of_a_newer_circus_nb(
        postgres_database, tmp_path):
    """Indexes are made with the store; one made by an older circus_nb gets those the
    newer one lists (its queries rely on them) when the tables' owner opens it."""
    def indexes(store):
        return {row[0] for row in store._db().execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()").fetchall()}

    listed = {re.search(r"INDEX IF NOT EXISTS (\w+)", s)[1] for s in schema.INDEXES
              if "CREATE INDEX" in s}
    with cnb.Store.create(postgres_database, data_dir=tmp_path / "files") as old:
        assert listed <= indexes(old)
        old._db().execute("DROP INDEX cases_newest, cases_latest")  # as an older one made it
    with cnb.Store.open(postgres_database, user="admin@example.org", read_only=True) as store:
        assert "cases_latest" not in indexes(store)  # a read-only open changes nothing
    with cnb.Store.open(postgres_database, user="admin@example.org") as store:
        assert listed <= indexes(store)


def test_a_migration_with_nothing_for_postgresql_does_not_stop_a_read_only_open(
        postgres_database, tmp_path, monkeypatch):
    """Migration 8 makes DuckDB indexes only: a server store made before it opens
    read-only as it is, and its owner's next open records the version."""
    def versions(store):
        return [r[0] for r in store._db().execute(
            "SELECT version FROM schema_migrations ORDER BY version").fetchall()]

    up_to_8 = [m for m in migrations.MIGRATIONS if m.version <= 8]
    assert up_to_8[-1].version == 8 and up_to_8[-1].statements_for("postgresql") == ()
    monkeypatch.setattr(migrations, "MIGRATIONS", up_to_8)
    with cnb.Store.create(postgres_database, data_dir=tmp_path / "files") as old:
        old._db().execute("DELETE FROM schema_migrations WHERE version = 8")
    with cnb.Store.open(postgres_database, user="admin@example.org", read_only=True) as store:
        assert versions(store)[-1] == 7 and store.search_cases().empty
    with cnb.Store.open(postgres_database, user="admin@example.org") as store:
        assert versions(store)[-1] == 8

