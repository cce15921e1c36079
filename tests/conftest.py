"""Shared fixtures: fresh stores, and a snapshot of everything a store holds."""

from __future__ import annotations

import signal

import pytest

import circus_nb as cnb

ROLE_USERS = {
    # e-mail prefix -> the roles its group holds on the project
    "reader": ["read"],
    "writer": ["read", "write"],
    "moderator": ["read", "moderate"],
    "adder": ["read", "addSeries"],
    "viewer": ["read", "viewPersonalInfo"],
    "nobody": [],
}


@pytest.fixture
def store(tmp_path):
    """A new store opened as its admin."""
    with cnb.Store.create(tmp_path / "store") as s:
        yield s


@pytest.fixture
def populated(store):
    """A store with one project and a user per role (``reader@example.org``...)."""
    project = store.create_project("Lung", tags=["nodule", "ggo"])
    for name, roles in ROLE_USERS.items():
        store.add_group(f"{name}s", domains=["default"])
        store.add_user(f"{name}@example.org", groups=[f"{name}s"])
        if roles:
            store.grant(f"{name}s", project.project_id, roles)
    store.project_id = project.project_id  # handy in tests
    return store


def snapshot(store: cnb.Store) -> dict[str, list[tuple]]:
    """Every row of every table: compare before and after a refused operation."""
    con = store._db()
    tables = con.tables()
    return {t: sorted(map(repr, con.execute(f'SELECT * FROM "{t}"').fetchall())) for t in tables}


@pytest.fixture(scope="session")
def samples(tmp_path_factory):
    """The sample studies (small images), written once: ``(folder, {key: SampleSeries})``."""
    from circus_nb.dicom.sample import write_sample_studies

    folder = tmp_path_factory.mktemp("samples")
    written = write_sample_studies(folder, seed=0, ct_size=64)
    return folder, {s.key: s for s in written}


@pytest.fixture
def imported(store, samples):
    """A new store (as admin) with every sample series imported into ``default``."""
    store.import_dicom(samples[0], progress=False)
    return store


SCHEMA = {"type": "object", "required": ["finding"], "properties": {
    "finding": {"type": "string", "enum": ["normal", "nodule"]},
    "grade": {"type": "integer", "minimum": 1, "maximum": 5}}}
LABEL_SCHEMA = {"type": "object", "properties": {"malignant": {"type": "boolean"}}}


@pytest.fixture
def cases(populated, samples):
    """``populated`` (a user per role) with the samples imported, one series also in
    domain ``hospital-b``, and a project with schemas; ``.uids`` maps sample keys."""
    store = populated
    store.add_group("b", domains=["hospital-b"])
    store.set_user_groups("admin@example.org", ["admins", "b"])
    folder, by_key = samples
    store.import_dicom([p for p in folder.iterdir() if p.name != "hospital-b"], progress=False)
    store.import_dicom(folder / "hospital-b", domain="hospital-b", progress=False)
    store.update_project(store.project_id, case_attributes_schema=SCHEMA,
                         label_attributes_schema=LABEL_SCHEMA)
    store.uids = {key: s.series_uid for key, s in by_key.items()}
    return store


def as_user(store, name):
    return store.as_user(f"{name}@example.org")


# -- PostgreSQL ------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server():
    """The URL of a throw-away PostgreSQL server (superuser ``postgres``, trust auth),
    one per test session. Skipped where PostgreSQL is not installed, except on CI
    (``CI`` set), where a missing server is a failure rather than a silent skip."""
    import os

    from tests.pg_server import PostgresServer, find_bin_dir

    if find_bin_dir() is None:
        reason = ("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb);"
                  " scripts/test.sh installs it, or apt-get install postgresql")
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    with PostgresServer() as url:
        yield url


@pytest.fixture
def postgres_database(postgres_server):
    """The URL of a new, empty database on ``postgres_server``, dropped afterwards."""
    pytest.importorskip("psycopg")
    from tests.pg_server import database

    with database(postgres_server) as url:
        yield url


@pytest.fixture
def ctrl_c():
    """Ctrl+C (SIGINT) raises KeyboardInterrupt during the test, even when the tests were
    started with it ignored (as a shell's background job is): what the tests check."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)
