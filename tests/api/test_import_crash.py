"""kill -9 during an import: the store opens, nothing points at a missing file,
and importing again completes with exact counts."""

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import circus_nb as cnb
from circus_nb.api.importing import COMMIT_EVERY
from circus_nb.dicom.sample import write_ct_series

N_FILES = 4 * COMMIT_EVERY + 37


@pytest.fixture(scope="module")
def many_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("many")
    for k in range(3):  # three series
        write_ct_series(folder / f"s{k}", n=N_FILES // 3 + (k == 0) * (N_FILES % 3), size=32,
                        seed=k, description=f"Crash test {k}", patient_id=f"CRASH-{k}")
    return folder


def _import_in_child(store_path: Path, folder: Path, kill_in: str | None) -> subprocess.Popen:
    """Run an import in another process; ``kill_in`` names a catalog step during whose
    third call the process kills itself with SIGKILL."""
    code = textwrap.dedent(f"""
        import os, signal
        import circus_nb as cnb
        from circus_nb.store import series as series_sql
        kill_in = {kill_in!r}
        if kill_in:
            original, calls = getattr(series_sql, kill_in), []
            def dying(*args, **kwargs):
                calls.append(1)
                if len(calls) == 3:
                    os.kill(os.getpid(), signal.SIGKILL)
                return original(*args, **kwargs)
            setattr(series_sql, kill_in, dying)
        with cnb.Store.open({str(store_path)!r}, user="admin@example.org") as store:
            store.import_dicom({str(folder)!r}, progress=False)
        """)
    return subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)


def _check_whole(store: cnb.Store) -> int:
    """Every row points at a present file; series images agree with their instances."""
    total = 0
    for uid in store.search_series()["series_uid"]:
        series = store.series(uid)
        instances = series.instances()
        assert cnb.ImageRange(instances["instance_number"]) == series.images
        for path in instances["path"]:
            assert (store.path / path).is_file()
        total += len(instances)
    return total


def _finish_and_count(store_path: Path, folder: Path) -> dict[str, int]:
    with cnb.Store.open(store_path, user="admin@example.org") as store:
        before = _check_whole(store)
        report = store.import_dicom(folder, progress=False)
        assert _check_whole(store) == N_FILES
        counts = report.counts
    assert counts["already_present"] == before
    assert counts["imported"] == N_FILES - before
    assert counts["imported"] + counts["already_present"] == N_FILES
    return counts


@pytest.mark.parametrize("kill_in", ["insert_instances", "add_images"])
def test_kill_at_the_worst_moments(tmp_path, many_files, kill_in):
    # insert_instances: files of chunk 3 are in place, its rows not yet written;
    # add_images: chunk 3's rows are written but not committed.
    cnb.Store.create(tmp_path / "store").close()
    child = _import_in_child(tmp_path / "store", many_files, kill_in)
    assert child.wait(timeout=120) == -signal.SIGKILL, child.stderr.read()
    counts = _finish_and_count(tmp_path / "store", many_files)
    assert counts["already_present"] == 2 * COMMIT_EVERY  # exactly the two committed batches


def test_kill_at_a_random_moment(tmp_path, many_files):
    cnb.Store.create(tmp_path / "store").close()
    data = tmp_path / "store" / "data"
    child = _import_in_child(tmp_path / "store", many_files, None)
    deadline = time.monotonic() + 60
    while sum(1 for _ in data.rglob("*.dcm")) < COMMIT_EVERY and time.monotonic() < deadline:
        time.sleep(0.005)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=60)
    _finish_and_count(tmp_path / "store", many_files)
