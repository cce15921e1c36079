"""Shared fixtures: fresh stores, and a snapshot of everything a store holds."""

from __future__ import annotations

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
    tables = [r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables ORDER BY table_name").fetchall()]
    return {t: sorted(map(repr, con.execute(f'SELECT * FROM "{t}"').fetchall())) for t in tables}
