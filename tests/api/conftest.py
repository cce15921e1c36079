"""The api tests run on both backends: the embedded DuckDB store and PostgreSQL.

``store`` (and every fixture built on it) is parametrized. A ``postgresql`` store is a
copy of one made once per session with ``Store.create`` (PostgreSQL copies a template
database in a fraction of the time the schema and its security take to build), opened
as its admin with its files in ``tmp_path``.
"""

from __future__ import annotations

import secrets
import time

import pytest

import circus_nb as cnb
from tests.pg_server import database, database_url


@pytest.fixture(scope="session")
def postgres_template(postgres_server, tmp_path_factory):
    """The name of a database holding a new store, for ``store`` to copy."""
    psycopg = pytest.importorskip("psycopg")
    name = f"template_{secrets.token_hex(4)}"
    with psycopg.connect(postgres_server, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    url = database_url(postgres_server, name)
    cnb.Store.create(url, data_dir=tmp_path_factory.mktemp("template")).close()
    return name


@pytest.fixture(params=["duckdb", "postgresql"])
def store(request, tmp_path):
    """A new store opened as its admin, on each backend."""
    if request.param == "duckdb":
        with cnb.Store.create(tmp_path / "store") as s:
            yield s
        return
    import psycopg

    server = request.getfixturevalue("postgres_server")
    with database(server, request.getfixturevalue("postgres_template")) as url:
        with psycopg.connect(url, autocommit=True) as con:  # the copy's files: in tmp_path
            con.execute("UPDATE settings SET value = %s WHERE key = 'data_dir'",
                        [str(tmp_path / "store")])
        (tmp_path / "store" / "data").mkdir(parents=True)
        with cnb.Store.open(url, user="admin@example.org") as s:
            yield s


@pytest.fixture
def three(cases):
    """Three cases: two in the project, one in a project readers cannot see."""
    other = cases.create_project("Other")
    lung = cases.create_case(cases.project_id, [cases.uids["chest_ct_lung"]], tags=["a", "b"])
    time.sleep(0.01)
    abdomen = cases.create_case(cases.project_id, [cases.uids["abdomen_ct"]], tags=["a"])
    hidden = cases.create_case(other.project_id, [cases.uids["mr_interleaved"]])
    cases.other_project = other.project_id
    return lung, abdomen, hidden
