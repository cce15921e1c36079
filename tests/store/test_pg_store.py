"""A store on PostgreSQL through the public API: users' own roles, and several processes.

The api tests run on both backends already (tests/api/conftest.py); these are what only
a server has: the server enforcing privileges for a user connected as its own role,
and many processes writing at once.
"""

from __future__ import annotations

import multiprocessing
import shutil
from collections import Counter

import pytest

import circus_nb as cnb
from circus_nb.dicom.sample import write_ct_series

from . import share_workers

psycopg = pytest.importorskip("psycopg")
from circus_nb.store.postgres.security import role_name  # noqa: E402
from tests.pg_server import role_url  # noqa: E402

SPAWN = multiprocessing.get_context("spawn")


@pytest.fixture
def lab(postgres_database, tmp_path):
    """A server store: two projects, a series each in its own domain, a case in each;
    reader@ reads project A and holds domain a only."""
    files = tmp_path / "files"
    write_ct_series(files / "a", n=6, size=32, seed=1, patient_id="PA")
    write_ct_series(files / "b", n=6, size=32, seed=2, patient_id="PB")
    store = cnb.Store.create(postgres_database, data_dir=tmp_path / "data")
    store.add_group("all", domains=["a", "b"])
    store.set_user_groups("admin@example.org", ["admins", "all"])
    uid_a = store.import_dicom(files / "a", domain="a", progress=False).series_uids[0]
    uid_b = store.import_dicom(files / "b", domain="b", progress=False).series_uids[0]
    a, b = store.create_project("A"), store.create_project("B")
    store.add_group("readers", domains=["a"])
    store.add_user("reader@example.org", groups=["readers"])
    store.grant("readers", a.project_id, ["read", "write"])
    store.case_a = store.create_case(a.project_id, [uid_a]).case_id
    store.case_b = store.create_case(b.project_id, [uid_b]).case_id
    store.uid_a, store.uid_b = uid_a, uid_b
    yield store
    store.close()


def test_add_user_makes_the_users_login_role(lab):
    with psycopg.connect(lab.path) as con:
        rows = con.execute("SELECT rolcanlogin, rolsuper FROM pg_roles WHERE rolname = %s",
                           [role_name("reader@example.org")]).fetchall()
    assert rows == [(True, False)]


def test_a_user_on_its_own_role_works_through_the_api(lab):
    url = role_url(lab.path, "reader@example.org")
    with cnb.Store.open(url, user="reader@example.org") as mine:
        assert list(mine.search_cases()["case_id"]) == [lab.case_a]
        case = mine.case(lab.case_a)
        assert case.save("by the reader, checked by the server too").index == 1
        assert mine.series(lab.uid_a).volume().shape == (6, 32, 32)
        with pytest.raises((cnb.PermissionDenied, cnb.NotFoundError)):
            mine.case(lab.case_b)  # the server does not even show it
    assert lab.case(lab.case_a).latest.creator == "reader@example.org"


def test_the_server_itself_hides_rows_from_a_users_role(lab):
    url = role_url(lab.path, "reader@example.org")
    with cnb.Store.open(url, user="reader@example.org") as mine:
        con = mine._db()  # raw SQL, past every check in Python
        assert con.execute("SELECT case_id FROM cases").fetchall() == [(lab.case_a,)]
        assert con.execute("SELECT series_uid FROM series").fetchall() == [(lab.uid_a,)]
        assert con.execute("SELECT patient_id FROM series").fetchall() == [(None,)]
        with pytest.raises(cnb.PermissionDenied, match="refused this to your role"):
            con.execute("DELETE FROM revisions WHERE case_id = ?", [lab.case_a])
        with pytest.raises(cnb.PermissionDenied, match="permission denied for table"):
            con.execute("UPDATE revisions SET description = 'x' WHERE case_id = ?",
                        [lab.case_a])
    assert len(lab.case(lab.case_a).history()) == 1  # nothing was changed


def test_a_moderator_on_its_own_role_deletes_a_case_through_the_server(lab):
    lab.add_group("mods", domains=["a"])
    lab.add_user("mod@example.org", groups=["mods"])
    lab.grant("mods", lab.case(lab.case_a).project_id, ["read", "moderate"])
    with cnb.Store.open(role_url(lab.path, "mod@example.org"), user="mod@example.org") as mine:
        assert mine._db().user_role
        mine.delete_case(lab.case_a)
    with pytest.raises(cnb.NotFoundError):
        lab.case(lab.case_a)
    assert lab._db().execute("SELECT count(*) FROM revisions WHERE case_id = ?",
                             [lab.case_a]).fetchone() == (0,)


def test_four_processes_save_and_search_with_no_revision_lost(lab):
    project_id = lab.case(lab.case_a).project_id
    cases = [lab.create_case(project_id, [lab.uid_a]).case_id for _ in range(4)]
    with SPAWN.Pool(4) as pool:
        indices = pool.starmap(share_workers.save_many, [(lab.path, c, 50) for c in cases])
    assert indices == [list(range(1, 51))] * 4
    for case_id in cases:
        assert list(lab.case(case_id).history()["index"]) == list(range(51))


def test_saves_on_one_base_conflict_exactly_once_a_round_on_the_server(lab):
    rounds = 10
    barrier, results = SPAWN.Barrier(2), SPAWN.Queue()
    workers = [SPAWN.Process(target=share_workers.race,
                             args=(lab.path, lab.case_a, rounds, barrier, results))
               for _ in range(2)]
    for w in workers:
        w.start()
    outcomes = Counter(results.get(timeout=120) for _ in range(2 * rounds))
    for w in workers:
        w.join(60)
    assert outcomes == Counter({(r, o): 1 for r in range(rounds) for o in ("saved", "conflict")})
    assert lab.case(lab.case_a).latest.index == rounds


def test_a_client_that_mounts_the_files_elsewhere_says_where(lab, tmp_path):
    elsewhere = tmp_path / "mounted-here"
    shutil.copytree(lab.data_dir.parent, elsewhere)  # the same files, reached elsewhere
    with cnb.Store.open(lab.path, user="admin@example.org", read_only=True,
                        data_dir=elsewhere) as other:
        assert other.data_dir == elsewhere.resolve() / "data"
        assert other.series(lab.uid_a).volume().shape == (6, 32, 32)
    with cnb.Store.open(lab.path, user="admin@example.org", read_only=True) as same:
        assert same.data_dir == lab.data_dir  # recorded at creation


def test_lists_and_saved_searches_on_a_users_own_role(lab):
    lab.create_list("cases", "admin only", items=[lab.case_b])
    shared = lab.create_list("cases", "shared", items=[lab.case_a], editors=["readers"])
    lab.save_search("cases", "admin's", tags=["x"])
    url = role_url(lab.path, "reader@example.org")
    with cnb.Store.open(url, user="reader@example.org") as mine:
        assert mine._db().user_role
        mine.create_list("cases", "mine", items=[lab.case_a])
        mine.save_search("cases", "recent", updated_from="-7d")
        assert list(mine.search_cases(preset="recent")["case_id"]) == [lab.case_a]
        mine.get_list("shared").remove([lab.case_a])  # an editor edits the items
        con = mine._db()  # raw SQL, past every check in Python: the server hides the rest
        assert sorted(r[0] for r in con.execute("SELECT name FROM item_lists").fetchall()) \
            == ["mine", "shared"]
        assert con.execute("SELECT name FROM saved_searches").fetchall() == [("recent",)]
        with pytest.raises(cnb.PermissionDenied):
            con.execute("INSERT INTO list_editors VALUES (?, 'readers')",
                        [mine.get_list("shared").list_id])
    assert shared.items == []
    assert sorted(lab.lists()["name"]) == ["admin only", "shared"]  # not the reader's own
