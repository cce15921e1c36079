"""Creating, opening, closing, guarding and migrating stores."""

import os
import re
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import circus_nb as cnb
from circus_nb.store import migrations
from circus_nb.store.catalog import CATALOG


def test_create_makes_a_folder_with_catalog_and_data_dir(tmp_path):
    with cnb.Store.create(tmp_path / "s") as store:
        assert store.user == "admin@example.org"
        assert (tmp_path / "s" / CATALOG).is_file()
        assert store.data_dir.is_dir()
        rights = store.rights
        assert rights.global_privileges == {"manageServer", "personalInfoView", "downloadVolume"}
        assert rights.domains == {"default"}
        assert rights.groups == ("admins",)


def test_create_accepts_an_empty_folder_and_a_custom_admin(tmp_path):
    with cnb.Store.create(tmp_path, admin="root@hospital.example") as store:
        assert store.user == "root@hospital.example"


def test_create_refuses_a_folder_with_content(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(cnb.ValidationError, match="exists and is not an empty folder. Choose"):
        cnb.Store.create(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_create_over_an_existing_store_says_open_it(store):
    store.close()
    with pytest.raises(cnb.ValidationError, match=r"holds a store already: open it with"):
        cnb.Store.create(store.path)


def test_create_refuses_a_bad_admin_and_leaves_no_folder(tmp_path):
    with pytest.raises(cnb.ValidationError, match="e-mail address"):
        cnb.Store.create(tmp_path / "s", admin="admin")
    assert not (tmp_path / "s").exists()


def test_a_throw_away_store_disappears_on_close():
    store = cnb.Store.create(None)
    folder = store.path
    assert folder.is_dir()
    store.close()
    assert not folder.exists()


def test_open_as_a_user_and_context_manager(store):
    store.add_user("bob@example.org")
    store.close()
    with cnb.Store.open(store.path, user="bob@example.org") as bob:
        assert bob.user == "bob@example.org"
        assert not bob.read_only
    assert bob.closed


def test_open_missing_store_or_user_is_not_found(store, tmp_path):
    with pytest.raises(cnb.NotFoundError, match="No store .* no catalog.duckdb there. Make one"):
        cnb.Store.open(tmp_path / "nowhere", user="admin@example.org")
    store.close()
    with pytest.raises(cnb.NotFoundError, match="No user 'admin@example.com'. Did you mean "
                                                "'admin@example.org'?"):
        cnb.Store.open(store.path, user="admin@example.com")
    # the failed open released the store
    cnb.Store.open(store.path, user="admin@example.org").close()


def test_a_closed_store_refuses_use_and_close_is_repeatable(store):
    store.close()
    store.close()
    with pytest.raises(cnb.CircusError, match="is closed. Open it again"):
        store.projects()
    assert "closed" in repr(store)


def test_a_second_open_in_the_same_process_shares_the_store(store):
    other = cnb.Store.open(store.path, user="admin@example.org")
    reader = cnb.Store.open(store.path, user="admin@example.org", read_only=True)
    store.create_project("Seen everywhere")
    assert list(other.projects()["name"]) == list(reader.projects()["name"]) == ["Seen everywhere"]
    with pytest.raises(cnb.CircusError, match="is open read-only; open it with read_only=False"):
        reader.create_project("x")
    other.close()
    assert list(store.projects()["name"]) == ["Seen everywhere"]  # the others stay open
    reader.close()


def _run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=60)


def test_another_process_opens_and_writes_a_store_this_one_has_open(store):
    store.create_project("Mine")
    store.projects()  # this process has the file open (it lingers after the operation)
    result = _run_python(f"""
        import circus_nb as cnb
        with cnb.Store.open({str(store.path)!r}, user="admin@example.org", timeout=10) as s:
            s.create_project("Theirs")
            print(sorted(s.projects()["name"]))
        """)
    assert result.stdout.strip() == "['Mine', 'Theirs']", result.stderr
    assert sorted(store.projects()["name"]) == ["Mine", "Theirs"]


def test_a_wait_longer_than_the_timeout_names_the_holder(store):
    with store._write():  # this process is in the middle of a change
        result = _run_python(f"""
            import circus_nb as cnb
            for ro in (False, True):
                try:
                    cnb.Store.open({str(store.path)!r}, user="admin@example.org", read_only=ro,
                                   timeout=0.3)
                except cnb.CircusError as e:
                    print(type(e).__name__, e)
            """)
    lines = result.stdout.splitlines()
    assert len(lines) == 2, result.stderr
    for line in lines:
        assert line.startswith(f"CircusError The store at '{store.path}' is busy: process"
                               f" {os.getpid()} (")
        assert "longer than the store's timeout of 0.3 s" in line
        assert "timeout=120" in line


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), float("inf"), "10", True, 1e9])
def test_a_bad_timeout_is_refused(store, timeout):
    with pytest.raises(cnb.ValidationError, match="timeout must be a number of seconds"):
        cnb.Store.open(store.path, user="admin@example.org", timeout=timeout)


def test_other_processes_may_read_when_no_writer_holds_it(store):
    store.create_project("Shared")
    store.close()
    reader = cnb.Store.open(store.path, user="admin@example.org", read_only=True)
    result = _run_python(f"""
        import circus_nb as cnb
        with cnb.Store.open({str(store.path)!r}, user="admin@example.org", read_only=True) as s:
            print(list(s.projects()["name"]))
        """)
    reader.close()
    assert result.stdout.strip() == "['Shared']", result.stderr


def test_forgotten_store_releases_its_guard_when_collected(tmp_path):
    store = cnb.Store.create(tmp_path / "s")
    path = store.path
    del store
    import gc

    gc.collect()
    cnb.Store.open(path, user="admin@example.org").close()


def _versions(store):
    return [r[0] for r in store._db().execute(
        "SELECT version FROM schema_migrations ORDER BY version").fetchall()]


def test_an_older_store_is_migrated_on_open(store, monkeypatch):
    assert _versions(store) == [m.version for m in migrations.MIGRATIONS]
    store.close()
    newest = migrations.MIGRATIONS[-1].version
    extra = migrations.Migration(newest + 1, "test: a table",
                                 ("CREATE TABLE test_table (name VARCHAR)",))
    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, extra])
    with pytest.raises(cnb.CircusError, match=f"needs migrating to {newest + 1}, which a"):
        cnb.Store.open(store.path, user="admin@example.org", read_only=True)
    with cnb.Store.open(store.path, user="admin@example.org") as s:
        assert _versions(s)[-1] == newest + 1
        s._db().execute("SELECT * FROM test_table").fetchall()


def test_a_store_made_before_window_priority_opens_with_the_default(tmp_path, monkeypatch):
    monkeypatch.setattr(migrations, "MIGRATIONS", [m for m in migrations.MIGRATIONS
                                                   if m.version < 4])
    with cnb.Store.create(tmp_path / "old") as old:
        assert _versions(old) == [1, 2, 3]
        # the row as circus_nb wrote it then: every column of schema version 3
        old._db().execute("""INSERT INTO projects VALUES ('p-old', 'Lung', 'lung', 'kept', '[]',
            NULL, NULL, '[{"label": "lung", "level": -600, "width": 1500}]', now(), now())""")
    monkeypatch.undo()
    with cnb.Store.open(tmp_path / "old", user="admin@example.org") as store:
        assert _versions(store)[-1] == migrations.MIGRATIONS[-1].version >= 4
        project = store.project("p-old")
        assert project.window_priority == "dicom,preset,auto"
        assert (project.description, project.window_presets[0].label) == ("kept", "lung")
        changed = store.update_project("p-old", window_priority="preset,auto")
        assert changed.window_priority == "preset,auto" and changed.description == "kept"
        assert store.create_project("Brain").window_priority == "dicom,preset,auto"


def test_a_failing_migration_changes_nothing(store, monkeypatch):
    store.close()
    newest = migrations.MIGRATIONS[-1].version
    bad = migrations.Migration(newest + 1, "broken", ("CREATE TABLE t (x INT)", "NOT SQL"))
    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, bad])
    with pytest.raises(Exception, match="syntax error"):
        cnb.Store.open(store.path, user="admin@example.org")
    monkeypatch.undo()
    with cnb.Store.open(store.path, user="admin@example.org") as s:
        assert _versions(s)[-1] == newest
        tables = s._db().execute("SELECT table_name FROM information_schema.tables").fetchall()
        assert ("t",) not in tables


def test_a_store_newer_than_the_package_is_refused(store):
    store._db().execute("INSERT INTO schema_migrations VALUES (999, 'future', now(), '9.9')")
    store.close()
    with pytest.raises(cnb.CircusError, match="has schema version 999, newer than this circus_nb"
                                              r" .* Upgrade circus_nb"):
        cnb.Store.open(store.path, user="admin@example.org")


# -- paths spelled another way, closing from another thread --------------------------------


def _spellings(store, tmp_path):
    (tmp_path / "elsewhere").mkdir()
    link = tmp_path / "link"
    link.symlink_to(store.path, target_is_directory=True)
    return [tmp_path / "elsewhere" / ".." / store.path.name, link]


def test_a_store_opened_through_dots_or_a_symlink_can_be_reopened_after_close(store, tmp_path):
    store.close()
    for spelling in _spellings(store, tmp_path):
        opened = cnb.Store.open(spelling, user="admin@example.org")
        assert opened.path == store.path  # resolved once
        opened.close()
        cnb.Store.open(spelling, user="admin@example.org").close()
        cnb.Store.open(store.path, user="admin@example.org", read_only=True).close()


def test_every_spelling_of_a_store_shares_one_file(store, tmp_path):
    for spelling in _spellings(store, tmp_path):
        with cnb.Store.open(spelling, user="admin@example.org") as other:
            assert other._catalog.con._shared is store._catalog.con._shared


def test_a_store_created_through_dots_is_shared_under_its_real_path(tmp_path):
    (tmp_path / "a").mkdir()
    with cnb.Store.create(tmp_path / "a" / ".." / "s") as store:
        assert store.path == tmp_path / "s"
        assert cnb.Store.open_elsewhere(tmp_path / "s") == "this process"
    assert cnb.Store.open_elsewhere(tmp_path / "s") is None


def test_close_while_another_thread_is_in_a_change_waits_for_it(store):
    inside, gate = threading.Event(), threading.Event()

    def change():
        with store._write() as con:  # a transaction that runs until the test lets it end
            con.execute("INSERT INTO users VALUES ('late@example.org', NULL, now())")
            inside.set()
            gate.wait(30)

    worker = threading.Thread(target=change)
    worker.start()
    assert inside.wait(30)
    closer = threading.Thread(target=store.close)
    closer.start()
    while not store.closed:
        time.sleep(0.01)
    time.sleep(0.1)  # the closer meets the busy file
    assert closer.is_alive()
    gate.set()
    worker.join(30)
    closer.join(30)
    with pytest.raises(cnb.CircusError, match="is closed. Open it again"):
        store.projects()
    with cnb.Store.open(store.path, user="admin@example.org") as again:
        assert "late@example.org" in list(again.users()["email"])  # the change was kept


def test_close_while_another_thread_keeps_calling_leaves_it_reopenable(store):
    started, errors = threading.Event(), []

    def work():
        try:
            while True:
                started.set()
                store.projects()
                store.search_cases()
        except Exception as e:  # the store was closed under it
            errors.append(e)

    worker = threading.Thread(target=work)
    worker.start()
    started.wait(30)
    time.sleep(0.05)
    store.close()
    worker.join(30)
    assert not worker.is_alive() and store.closed
    assert len(errors) == 1  # whichever query it was in, it reads as a closed store
    assert isinstance(errors[0], cnb.CircusError) and "is closed. Open it again" in str(errors[0])
    cnb.Store.open(store.path, user="admin@example.org").close()
    cnb.Store.open(store.path, user="admin@example.org", read_only=True).close()


# -- a damaged catalog file ---------------------------------------------------------------


def _files(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


@pytest.mark.parametrize("damage", ["half", "nearly all", "empty", "garbage"])
@pytest.mark.parametrize("read_only", [False, True])
def test_a_damaged_catalog_is_refused_and_nothing_is_touched(store, damage, read_only):
    for i in range(5):
        store.create_project(f"p{i}", description="d" * 1000)
    (store.data_dir / "kept.dcm").write_bytes(b"DICM")
    store.close()
    catalog = store.path / CATALOG
    content = catalog.read_bytes()
    catalog.write_bytes({"half": content[: len(content) // 2],
                         "nearly all": content[:-100], "empty": b"",
                         "garbage": os.urandom(len(content))}[damage])
    before = _files(store.path)
    with pytest.raises(cnb.CircusError, match=(
            f"The catalog '{re.escape(str(catalog))}' is damaged and cannot be opened .*"
            " Nothing in the store folder was changed. Restore catalog.duckdb from a backup")):
        cnb.Store.open(store.path, user="admin@example.org", read_only=read_only)
    assert _files(store.path) == before
    catalog.write_bytes(content)  # the guard was released: the restored store opens
    with cnb.Store.open(store.path, user="admin@example.org") as restored:
        assert len(restored.projects()) == 5


def test_a_store_made_before_the_time_columns_finds_cases_at_past_times(tmp_path, monkeypatch):
    """Migration 7 fills saved_at, previous_date and first_series_uid from the rows a
    version-6 store holds, so that its cases at past times are what they were."""
    monkeypatch.setattr(migrations, "MIGRATIONS", [m for m in migrations.MIGRATIONS
                                                   if m.version < 7])
    d = [f"2024-05-0{day} 12:00:00+00" for day in (1, 2, 3, 4)]
    with cnb.Store.create(tmp_path / "old") as old:
        project = old.create_project("Lung").project_id
        con = old._db()
        # the rows as circus_nb wrote them then: a tag change (d[3]) after the last save
        con.execute("INSERT INTO cases VALUES ('c-old', ?, ['t'], ['default'], 2, 'done',"
                    " 'third', 's2', ?, ?)", [project, d[0], d[3]])
        for idx, (status, first) in enumerate((("draft", "s1"), ("read", "s1"), ("done", "s2"))):
            con.execute("INSERT INTO revisions VALUES ('c-old', ?, 'admin@example.org', ?,"
                        " ?, ?, '{}')", [idx, d[idx], f"save {idx}", status])
            for position, uid in enumerate((first, "s9")):  # entry 0 is the first series
                con.execute("INSERT INTO revision_series VALUES ('c-old', ?, ?, ?, 1, 2, 1,"
                            " '[]')", [idx, position, uid])
    monkeypatch.undo()
    with cnb.Store.open(tmp_path / "old", user="admin@example.org") as store:
        con = store._db()
        assert con.execute("SELECT saved_at = ?::TIMESTAMPTZ FROM cases", [d[2]]).fetchone()[0]
        rows = con.execute("SELECT idx, previous_date, first_series_uid FROM revisions"
                           " ORDER BY idx").fetchall()
        assert [(i, str(p)[:10] if p else None, f) for i, p, f in rows] == [
            (0, None, "s1"), (1, "2024-05-01", "s1"), (2, "2024-05-02", "s2")]
        for when, revision in (("2024-05-01 18:00+00", 0), ("2024-05-02 18:00+00", 1),
                               ("2024-05-03 18:00+00", 2), ("2024-05-05", 2)):
            found = store.search_cases(as_of=when)
            assert found["revision"].tolist() == [revision]
        assert store.search_cases(as_of="2024-04-30").empty
