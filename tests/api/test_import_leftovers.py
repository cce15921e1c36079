"""A full disk, a catalog commit that fails, an export killed half-way: a CircusError
that names the disk, and nothing left behind (no orphan in data/, no *.part)."""

import errno
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import duckdb
import pytest

import circus_nb as cnb
from circus_nb.api.export import part_prefix
from circus_nb.api.importing import COMMIT_EVERY
from circus_nb.dicom.sample import write_ct_series
from circus_nb.store import sharing

FULL = OSError(errno.ENOSPC, "No space left on device")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """One series of two commit batches and a bit."""
    series = write_ct_series(tmp_path_factory.mktemp("in") / "ct", n=2 * COMMIT_EVERY + 30,
                             size=16, seed=7)
    return series.folder


def _files_match_rows(store: cnb.Store) -> int:
    """No orphan in data/, no leftover in tmp/; return the number of instances."""
    rows = store._db().execute("SELECT path FROM instances WHERE managed").fetchall()
    in_data = {p.relative_to(store.data_dir.parent).as_posix() for p in store.data_dir.rglob("*")
               if p.is_file()}
    assert in_data == {path for (path,) in rows}
    tmp = store.data_dir.parent / "tmp"
    assert not tmp.exists() or not any(tmp.iterdir())
    return len(rows)


def _fail_on_call(real, n: int, error: BaseException):
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == n:
            raise error
        return real(*args, **kwargs)

    return failing


def test_a_full_disk_while_copying_stops_with_a_circus_error(store, folder, monkeypatch):
    monkeypatch.setattr(shutil, "copyfile", _fail_on_call(shutil.copyfile, COMMIT_EVERY + 40,
                                                          FULL))
    with pytest.raises(cnb.CircusError, match=r"The disk holding the store at '.*' is full"
                       r" \(No space left on device while writing .*\); the files of the"
                       r" batch being written were removed, earlier batches stay imported"):
        store.import_dicom(folder, progress=False)
    assert _files_match_rows(store) == COMMIT_EVERY  # the first batch, whole
    monkeypatch.undo()  # space was freed
    report = store.import_dicom(folder, progress=False)
    assert report.counts["already_present"] == COMMIT_EVERY
    assert _files_match_rows(store) == 2 * COMMIT_EVERY + 30


def test_a_full_disk_while_extracting_an_archive(store, folder, tmp_path, monkeypatch):
    archive = tmp_path / "in.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted(folder.iterdir())[:80]:
            z.write(path, path.name)
    monkeypatch.setattr(shutil, "copyfileobj", _fail_on_call(shutil.copyfileobj, 50, FULL))
    with pytest.raises(cnb.CircusError, match="The disk holding the store at .* is full"):
        store.import_dicom(archive, progress=False)
    assert _files_match_rows(store) == 0


class _CommitFails:
    """A catalog connection whose COMMIT fails as DuckDB's does on a full disk: the
    transaction is gone, so a ROLLBACK after it fails too."""

    def __init__(self, con, error):
        self._con, self._error = con, error

    def execute(self, sql, *args):
        if sql == "COMMIT":
            self._con.execute("ROLLBACK")
            raise self._error
        return self._con.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self._con, name)


def _commits_fail(store, monkeypatch, error):
    """From now on, every COMMIT of ``store``'s catalog fails with ``error``."""
    shared = store._catalog.con._shared
    with shared.lock:
        shared._let_go()  # the next operation opens the file again, through the patch
    real = sharing.connect
    monkeypatch.setattr(sharing, "connect", lambda *a, **k: _CommitFails(real(*a, **k), error))


@pytest.mark.parametrize("store", ["duckdb"], indirect=True)  # DuckDB's own failure
def test_a_failed_catalog_commit_on_a_full_disk(store, folder, monkeypatch):
    error = duckdb.IOException('IO Error: Could not write file "catalog.duckdb.wal": No space'
                               " left on device")
    _commits_fail(store, monkeypatch, error)
    with pytest.raises(cnb.CircusError, match=r"The disk holding the store at '.*' is full"
                       r" \(IO Error: Could not write file .*\); nothing of this change was"
                       r" written\. Free some space and try again\.") as info:
        store.import_dicom(folder, progress=False)
    assert info.value.__cause__ is error
    monkeypatch.undo()
    assert _files_match_rows(store) == 0  # the batch's files went with its rows


@pytest.mark.parametrize("store", ["duckdb"], indirect=True)
def test_a_failed_commit_reports_its_own_error_not_the_rollbacks(store, monkeypatch):
    error = duckdb.ConstraintException("Constraint Error: something the commit found")
    _commits_fail(store, monkeypatch, error)
    with pytest.raises(duckdb.ConstraintException, match="something the commit found"), \
            store._catalog.transaction() as con:
        con.execute("SELECT 1")


# -- export ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def case_store(tmp_path_factory, folder):
    """A closed store on disk with one case of ten images; ``(path, case_id)``."""
    path = tmp_path_factory.mktemp("export") / "store"
    with cnb.Store.create(path) as store:
        report = store.import_dicom(sorted(folder.iterdir())[:10], progress=False)
        project = store.create_project("Leftovers")
        case = store.create_case(project.project_id, [(report.series_uids[0], (1, 10, 1))])
    return path, case.case_id


def _parts(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


def test_a_killed_export_leaves_a_part_the_next_export_removes(case_store, tmp_path):
    path, case_id = case_store
    out = tmp_path / "out"
    out.mkdir()
    code = textwrap.dedent(f"""
        import os, signal, zipfile
        import circus_nb as cnb
        original = zipfile.ZipFile.writestr
        def dying(self, *args, **kwargs):
            original(self, *args, **kwargs)
            os.kill(os.getpid(), signal.SIGKILL)  # after the first file of the archive
        zipfile.ZipFile.writestr = dying
        with cnb.Store.open({str(path)!r}, user="admin@example.org") as store:
            store.export_cases({case_id!r}, {str(out)!r})
        """)
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           timeout=120)
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert len(_parts(out)) == 1  # what the killed export left
    live = out / (part_prefix(out / "other.zip", pid=os.getpid()) + "abcdefgh.part")
    live.write_bytes(b"an export of this very process, still running")
    with cnb.Store.open(path, user="admin@example.org") as store:
        target = store.export_cases(case_id, out)
    assert _parts(out) == [live.name]  # the dead export's part is gone, the live one stays
    with zipfile.ZipFile(target) as z:
        assert f"{case_id}/data.json" in z.namelist()


def test_a_full_disk_during_an_export(case_store, tmp_path, monkeypatch):
    path, case_id = case_store
    monkeypatch.setattr(zipfile.ZipFile, "writestr", _fail_on_call(zipfile.ZipFile.writestr, 2,
                                                                   FULL))
    with cnb.Store.open(path, user="admin@example.org") as store, pytest.raises(
            cnb.CircusError, match=rf"The disk holding '{tmp_path}' is full \(No space left on"
            rf" device\): the export {case_id}.zip was not written, and its partial file was"
            r" removed\. Free some space, or export to a folder on another disk\."):
        store.export_cases(case_id, tmp_path)
    assert list(tmp_path.iterdir()) == []
