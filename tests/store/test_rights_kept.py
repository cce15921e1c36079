"""``store.rights`` is read before nearly every call, so an embedded store keeps it until
the catalog may have changed: any write of this process (through any Store on the folder)
or a turn of another process. A change of privileges shows at the next call, always."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import circus_nb as cnb

READER = "reader@example.org"


@pytest.fixture
def store(tmp_path):
    with cnb.Store.create(tmp_path / "store") as store:
        store.add_group("readers")
        store.add_user(READER, groups=["readers"])
        store.project_id = store.create_project("Kept").project_id
        yield store


def _reads_of_rights(store) -> int:
    """How many times the next ``store.rights`` asks the catalog for the groups."""
    db, calls = store._db(), []
    real = db.execute
    db.execute = lambda sql, params=(): (calls.append(sql), real(sql, params))[1]
    try:
        store.rights  # noqa: B018
    finally:
        del db.execute
    return sum("group_members" in sql for sql in calls)


def test_rights_are_read_once_while_nothing_changes(store):
    assert _reads_of_rights(store) in (0, 1)
    assert _reads_of_rights(store) == 0
    with store._write():  # any transaction may have changed them: read again
        pass
    assert _reads_of_rights(store) == 1
    assert _reads_of_rights(store) == 0
    with store.as_user(READER):  # another user: read again
        assert _reads_of_rights(store) == 1


def test_a_grant_shows_at_once_through_another_store_on_the_folder(store):
    with cnb.Store.open(store.path, READER) as reader:
        assert not reader.rights.has_role(store.project_id, "read")
        store.grant("readers", store.project_id, ["read"])
        assert reader.rights.has_role(store.project_id, "read")
        store.grant("readers", store.project_id, [])
        assert not reader.rights.has_role(store.project_id, "read")


def test_a_grant_by_another_process_shows_at_the_next_call(store):
    with cnb.Store.open(store.path, READER) as reader:
        assert not reader.rights.has_role(store.project_id, "read")
        script = textwrap.dedent(f"""
            import circus_nb as cnb
            with cnb.Store.open({str(store.path)!r}, "admin@example.org") as admin:
                admin.grant("readers", {store.project_id!r}, ["read"])
        """)
        subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
        assert reader.rights.has_role(store.project_id, "read")
