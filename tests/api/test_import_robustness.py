"""A bad file never stops an import: it gets its row, the others are imported.

Files that broke whole imports before (issue 9): instance numbers beyond 32 bits,
sequences nested thousands deep, damaged deflated data, bad zip entries, FIFOs,
names that are not UTF-8, truncated files; and the import-side checks of files
that changed after a reference import, duplicate archive entries and DICOM files
named like archives.
"""

import os
import shutil
import socket
import threading
import zipfile

import pytest

import circus_nb as cnb
from circus_nb.api.importing import COMMIT_EVERY, STATUSES
from circus_nb.dicom.sample import write_ct_series
from tests.conftest import snapshot
from tests.dicom.bad_files import (
    before_pixels,
    changed_copy,
    corrupt_deflated,
    nested_sequences,
    private_ob,
)
from tests.dicom.test_sources import _zip_with_bad_entries


def _run_with_timeout(action, seconds=120):
    """Run ``action`` in a thread: an import that hangs fails the test, not the suite."""
    result, error = [], []

    def target():
        try:
            result.append(action())
        except BaseException as e:
            error.append(e)

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(timeout=seconds)
    assert not worker.is_alive(), "the import hung"
    if error:
        raise error[0]
    return result[0]


def _count(series) -> int:
    return sum(1 for _ in series.folder.iterdir())


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    """Two good series: one small, one longer than a commit batch."""
    folder = tmp_path_factory.mktemp("good")
    small = write_ct_series(folder / "small", n=5, size=16, seed=1)
    long = write_ct_series(folder / "long", n=COMMIT_EVERY + 20, size=16, seed=2)
    return small, long


@pytest.mark.filterwarnings("ignore:The value length")  # IS holds 12 characters at most
def test_bad_files_of_every_kind_become_rows_and_the_good_ones_import(store, series, tmp_path):
    small, long = series
    good = next(small.folder.iterdir())
    folder = tmp_path / "mixed"
    shutil.copytree(long.folder, folder / "long")
    shutil.copytree(small.folder, folder / "small")
    bad = folder / "bad"
    bad.mkdir()
    uid = "1.2.826.0.1.3680043.99.1"
    changed_copy(good, bad / "n-2-31.dcm", InstanceNumber=str(2**31), SeriesInstanceUID=uid)
    changed_copy(good, bad / "n-2-40.dcm", InstanceNumber=str(2**40), SeriesInstanceUID=uid)
    before_pixels(good, bad / "deep.dcm", nested_sequences(3000))
    corrupt_deflated(bad / "deflated.dcm")
    (bad / "cut-150.dcm").write_bytes(good.read_bytes()[:150])
    (bad / "dicm-only.dcm").write_bytes(good.read_bytes()[:132])
    long_header = before_pixels(good, tmp_path / "long.dcm", private_ob(b"\1" * 24 * 1024))
    (bad / "cut-20k.dcm").write_bytes(long_header.read_bytes()[:20 * 1024])
    os.mkfifo(bad / "fifo.dcm")
    listening = socket.socket(socket.AF_UNIX)
    listening.bind(str(bad / "socket.dcm"))
    (bad / "dangling.dcm").symlink_to(tmp_path / "nowhere.dcm")
    _zip_with_bad_entries(bad / "entries.zip")
    try:
        report = _run_with_timeout(lambda: store.import_dicom(folder, progress=False))
    finally:
        listening.close()
    rows = report.files.set_index(report.files["path"].map(lambda p: p.split("bad/")[-1]))
    expected_bad = {
        "n-2-31.dcm": "no_instance_number", "n-2-40.dcm": "no_instance_number",
        "deep.dcm": "unreadable", "deflated.dcm": "unreadable", "cut-150.dcm": "unreadable",
        "dicm-only.dcm": "unreadable", "cut-20k.dcm": "unreadable", "fifo.dcm": "unreadable",
        "socket.dcm": "unreadable", "dangling.dcm": "unreadable",
        "entries.zip!/a/corrupt.dcm": "unreadable", "entries.zip!/a/encrypted.dcm":
        "unreadable", "entries.zip!/a/deflate64.dcm": "unreadable",
        "entries.zip!/a/ok1.dcm": "not_dicom", "entries.zip!/a/ok2.dcm": "not_dicom"}
    assert {name: rows.loc[name, "status"] for name in expected_bad} == expected_bad
    good_files = _count(long) + _count(small)
    assert len(report.files) == len(expected_bad) + good_files
    assert report.counts["imported"] == good_files
    assert "from 1 to 2147483647" in rows.loc["n-2-40.dcm", "reason"]
    assert "nested too deeply" in rows.loc["deep.dcm", "reason"]
    assert "truncated" in rows.loc["cut-20k.dcm", "reason"]
    assert "not a regular file" in rows.loc["fifo.dcm", "reason"]
    assert "encrypted" in rows.loc["entries.zip!/a/encrypted.dcm", "reason"]
    assert set(report.files["status"]) <= set(STATUSES)
    assert str(store.series(long.series_uid).images) == long.images


def test_a_name_that_is_not_utf8_in_reference_mode(store, series, tmp_path):
    folder = os.fsencode(tmp_path / "in")
    os.makedirs(folder)
    good = next(series[0].folder.iterdir())
    shutil.copy(good, folder + b"/scan-\xff.dcm")
    before = snapshot(store)
    report = store.import_dicom(tmp_path / "in", mode="reference", progress=False)
    row = report.files.iloc[0]
    assert row["path"] == f"{tmp_path}/in/scan-\\xff.dcm"
    assert row["status"] == "unreadable"
    assert "not valid UTF-8" in row["reason"] and "mode='copy'" in row["reason"]
    assert snapshot(store) == before


def test_a_name_that_is_not_utf8_in_copy_mode_imports(store, series, tmp_path):
    folder = os.fsencode(tmp_path / "in")
    os.makedirs(folder)
    good = next(series[0].folder.iterdir())
    shutil.copy(good, folder + b"/scan-\xff.dcm")
    report = store.import_dicom(tmp_path / "in", progress=False)
    row = report.files.iloc[0]
    assert row["status"] == "imported"
    assert row["path"] == f"{tmp_path}/in/scan-\\xff.dcm"
    row["path"].encode("utf-8")  # valid text, which a DataFrame can show and save
    stored = store.series(series[0].series_uid).instances()["path"].iloc[0]
    assert (store.data_dir.parent / stored).read_bytes() == good.read_bytes()


def test_a_referenced_file_that_changed_is_a_conflict_on_reimport(store, series, tmp_path):
    shutil.copytree(series[0].folder, tmp_path / "in")
    store.import_dicom(tmp_path / "in", mode="reference", progress=False)
    changed = sorted((tmp_path / "in").iterdir())[2]
    before = changed.stat()
    with open(changed, "ab") as f:
        f.write(b"\0" * 10)
    again = store.import_dicom(tmp_path / "in", mode="reference", progress=False)
    statuses = dict(zip(again.files["path"], again.files["status"], strict=True))
    assert statuses.pop(str(changed)) == "conflict"
    assert set(statuses.values()) == {"already_present"}
    reason = again.files.set_index("path").loc[str(changed), "reason"]
    assert f"the file {changed} changed since it was imported" in reason
    assert f"its size changed from {before.st_size} to {before.st_size + 10} bytes" in reason
    assert "Put the original file back" in reason


def test_a_touched_file_is_a_conflict_too(store, series, tmp_path):
    shutil.copytree(series[0].folder, tmp_path / "in")
    store.import_dicom(tmp_path / "in", mode="reference", progress=False)
    touched = sorted((tmp_path / "in").iterdir())[0]
    os.utime(touched, (1_700_000_000, 1_700_000_000))
    report = store.import_dicom(touched, mode="reference", progress=False)
    assert list(report.files["status"]) == ["conflict"]
    assert "it was modified at 2023-11-14 22:13:20 UTC (at import: " in report.files["reason"][0]


def test_a_duplicate_zip_entry_is_named_by_its_archive_path(store, series, tmp_path):
    good = next(series[0].folder.iterdir())
    other = changed_copy(good, tmp_path / "other.dcm", WindowCenter=99)
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("x/1.dcm", good.read_bytes())
        z.writestr("y/1.dcm", other.read_bytes())
        z.writestr("z/1.dcm", good.read_bytes())
    report = store.import_dicom(archive, progress=False)
    assert list(report.files["status"]) == ["imported", "conflict", "already_present"]
    assert f"another file holds this instance ({archive}!/x/1.dcm)" in report.files["reason"][1]
    assert "import-" not in report.files["reason"][1]  # no staging folder


def test_a_dicom_file_named_zip_is_imported(store, series, tmp_path):
    named = tmp_path / "scan.zip"
    shutil.copy(next(series[0].folder.iterdir()), named)
    report = store.import_dicom(named, progress=False)
    assert list(report.files["status"]) == ["imported"]


def test_a_file_that_vanishes_before_its_copy_gets_a_row(store, series, tmp_path, monkeypatch):
    shutil.copytree(series[0].folder, tmp_path / "in")
    doomed = sorted((tmp_path / "in").iterdir())[1]
    real_copy = shutil.copyfile

    def copy(source, target, **kwargs):
        if source == str(doomed):
            os.unlink(doomed)  # gone between reading its header and copying it
        return real_copy(source, target, **kwargs)

    monkeypatch.setattr(shutil, "copyfile", copy)
    report = store.import_dicom(tmp_path / "in", progress=False)
    row = report.files.set_index("path").loc[str(doomed)]
    assert row["status"] == "unreadable"
    assert row["reason"] == "cannot copy the file into the store: No such file or directory"
    assert report.counts["imported"] == 4
    assert len(store.series(series[0].series_uid).images) == 4


# -- progress -----------------------------------------------------------------------------


def test_progress_may_be_a_function(store, series):
    calls = []
    report = store.import_dicom(series[1].folder, progress=lambda d, t: calls.append((d, t)))
    done = [d for d, _ in calls]
    assert done == sorted(done) and len(set(done)) > 3  # moves, never back
    assert calls[-1] == (len(report.files), len(report.files))
    assert all(d <= t for d, t in calls)


def test_progress_moves_while_the_workers_start(store, series, monkeypatch):
    from circus_nb.dicom import parallel

    monkeypatch.setattr(parallel, "_pool", None)
    monkeypatch.setattr(parallel, "_starting", None)
    monkeypatch.setattr(parallel, "_workers", lambda: 2)
    moved, moved_first = threading.Event(), []
    real_new_pool = parallel._new_pool

    def slow_start():  # the workers come up only once the bar has moved (or never)
        moved_first.append(moved.wait(timeout=60))
        return real_new_pool()

    monkeypatch.setattr(parallel, "_new_pool", slow_start)

    def progress(done, total):
        if done > 0:
            moved.set()

    try:
        store.import_dicom(series[1].folder, progress=progress)
    finally:
        if (starter := parallel._starting) is not None:
            starter.join(timeout=60)
        if parallel._pool is not None:
            parallel._stop(parallel._pool, terminate=True)
    assert moved_first == [True]  # files were read before any worker was up


def test_the_progress_bar_moves_during_the_import(store, series, monkeypatch):
    from circus_nb.api import importing

    positions = []

    class Recording(importing.tqdm):
        def update(self, n=1):
            positions.append(self.n + n)
            return super().update(n)

    monkeypatch.setattr(importing, "tqdm", Recording)
    report = store.import_dicom(series[1].folder, progress=True)
    assert positions[-1] == len(report.files)
    assert len([p for p in positions if 0 < p < len(report.files)]) >= 5


def test_progress_must_be_a_bool_or_a_function(store, series):
    with pytest.raises(cnb.ValidationError, match=r"progress must be True \(a progress bar\),"
                       r" False \(none\) or a function progress\(done, total\), got 'yes'"):
        store.import_dicom(series[0].folder, progress="yes")


# -- threads --------------------------------------------------------------------------------


def test_two_threads_importing_into_one_store(store, series, tmp_path):
    small, long = series
    archive = tmp_path / "small.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in small.folder.iterdir():
            z.write(path, f"small/{path.name}")
    reports, errors = {}, []

    def run(name, paths):
        try:
            reports[name] = store.import_dicom(paths, progress=False)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=run, args=("long", long.folder)),
               threading.Thread(target=run, args=("zip", archive))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert errors == []
    assert reports["long"].counts["imported"] == _count(long)
    assert reports["zip"].counts["imported"] == _count(small)
    assert not (store.data_dir.parent / "tmp").exists()  # each removed its own staging, then tmp/


def test_a_missing_path_is_refused_before_any_progress_bar(store, tmp_path, capsys):
    (tmp_path / "here.dcm").write_bytes(b"x")
    with pytest.raises(cnb.NotFoundError, match=r"No file or folder 'nowhere' to import\. Check"
                                                r" the path \(relative paths start from the"
                                                r" current folder, "):
        store.import_dicom([tmp_path / "here.dcm", "nowhere"], progress=True)
    assert capsys.readouterr().err == ""  # no bar was drawn
    assert not (store.data_dir.parent / "tmp").exists()
