"""Throw-away stores are removed on close, and by the next process that makes one when
the process that made them was killed before it could."""

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import circus_nb as cnb
from circus_nb.store.scratch import LOCK_FILE, PREFIX, Scratch, sweep

KILLED = """
import os, signal, sys
import circus_nb as cnb
store = cnb.demo_store()
print(store.path, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.fixture
def temp_folder(tmp_path, monkeypatch):
    """The system temporary folder, for this test only."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    yield tmp_path
    tempfile.tempdir = None


def test_a_throw_away_store_is_removed_on_close(temp_folder):
    store = cnb.Store.create(None)
    assert store.path.parent == temp_folder.resolve()
    store.close()
    assert list(temp_folder.iterdir()) == []


def test_the_store_of_a_killed_process_is_removed_by_the_next_one(temp_folder):
    env = {**os.environ, "TMPDIR": str(temp_folder)}
    child = subprocess.run([sys.executable, "-c", KILLED], capture_output=True, text=True,
                           env=env, timeout=300)
    assert child.returncode == -signal.SIGKILL
    left = Path(child.stdout.strip())
    assert (left / "catalog.duckdb").is_file()  # nobody could remove it
    with cnb.Store.create(None) as fresh:
        assert not left.exists()
        assert fresh.path.exists()


def test_only_unlocked_scratch_folders_are_swept(temp_folder):
    alive = Scratch.make()  # this process holds its lock
    foreign = temp_folder / f"{PREFIX}samples-abc"  # the prefix, but not a scratch folder
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    dead = temp_folder / f"{PREFIX}dead"
    dead.mkdir()
    (dead / LOCK_FILE).touch()  # a lock file nobody holds
    assert sweep(temp_folder) == [dead]
    assert alive.root.exists() and (foreign / "keep.txt").read_text() == "mine"
    alive.remove()
