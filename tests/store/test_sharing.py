"""Several processes on one embedded store: nothing lost, nothing invisible, no deadlock.

The other processes are started with ``spawn``, as separate kernels would be, and open
the store themselves while this process keeps it open too.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections import Counter

import pytest

import circus_nb as cnb
from circus_nb.dicom.sample import write_ct_series
from circus_nb.store import cases as cases_sql

from . import share_workers

SPAWN = multiprocessing.get_context("spawn")


@pytest.fixture
def shared(tmp_path):
    """A store with one imported series and a project, open in this process."""
    files = tmp_path / "files"
    write_ct_series(files, n=12, size=32)
    store = cnb.Store.create(tmp_path / "store")
    uid = store.import_dicom(files, progress=False).series_uids[0]
    store.project_id = store.create_project("Shared").project_id
    store.uid = uid
    yield store
    store.close()


def _case(store) -> str:
    return store.create_case(store.project_id, [store.uid]).case_id


def test_three_processes_save_fifty_times_each_while_this_one_keeps_it_open(shared):
    cases = [_case(shared) for _ in range(3)]
    with SPAWN.Pool(3) as pool:
        pending = [pool.apply_async(share_workers.save_many, (str(shared.path), c, 50))
                   for c in cases]
        while not all(p.ready() for p in pending):  # this process goes on working meanwhile
            assert len(shared.search_cases()) == 3
            pending[0].wait(0.05)
        indices = [p.get(timeout=300) for p in pending]
    assert indices == [list(range(1, 51))] * 3  # every save got the next revision
    for case_id in cases:
        history = shared.case(case_id).history()
        assert list(history["index"]) == list(range(51))  # nothing lost, all visible here
    assert len(set(shared.case(cases[0]).history()["description"])) == 51


def test_two_processes_saving_on_the_same_base_get_exactly_one_conflict_a_round(shared):
    case_id, rounds = _case(shared), 15
    barrier, results = SPAWN.Barrier(2), SPAWN.Queue()
    workers = [SPAWN.Process(target=share_workers.race,
                             args=(str(shared.path), case_id, rounds, barrier, results))
               for _ in range(2)]
    for w in workers:
        w.start()
    outcomes = [results.get(timeout=120) for _ in range(2 * rounds)]
    for w in workers:
        w.join(60)
        assert w.exitcode == 0
    per_round = Counter((r, outcome) for r, outcome in outcomes)
    assert all(per_round[(r, "saved")] == 1 and per_round[(r, "conflict")] == 1
               for r in range(rounds)), per_round
    assert shared.case(case_id).latest.index == rounds  # one revision per round


def test_an_import_in_one_process_while_another_searches(shared, tmp_path):
    more = tmp_path / "more"
    write_ct_series(more, n=300, size=32, seed=3, description="Second")
    started, stop, results = SPAWN.Event(), SPAWN.Event(), SPAWN.Queue()
    searcher = SPAWN.Process(target=share_workers.search_until,
                             args=(str(shared.path), started, stop, results))
    searcher.start()
    assert started.wait(60)
    report = shared.import_dicom(more, progress=False)
    stop.set()
    seen = results.get(timeout=60)
    searcher.join(30)
    assert report.counts["imported"] == 300 and sum(report.counts.values()) == 300
    # searches ran during the import (how many depends on the machine's load), each on a
    # whole state: one series before the import, two after
    assert len(seen) > 1 and set(seen) <= {1, 2}
    assert len(shared.search_series()) == 2


def test_a_process_killed_in_the_middle_of_a_write_leaves_the_store_usable(shared):
    before = set(shared.users()["email"])
    ready = SPAWN.Event()
    holder = SPAWN.Process(target=share_workers.hold_a_write, args=(str(shared.path), ready))
    holder.start()
    assert ready.wait(60)
    os.kill(holder.pid, signal.SIGKILL)
    holder.join(30)
    assert set(shared.users()["email"]) == before  # the half-done change is not there
    shared.create_project("After the kill")  # and the store takes writes
    shared.close()
    with cnb.Store.open(shared.path, user="admin@example.org") as again:
        assert "After the kill" in set(again.projects()["name"])
        assert len(again.search_cases()) == 0 and len(again.search_series()) == 1


@pytest.mark.parametrize("after", [0.05, 0.3, 1.0])
def test_a_process_killed_while_saving_leaves_every_revision_readable(shared, after,
                                                                      monkeypatch):
    """The catalog's write log is replayed with the case_id indexes (migration 8): what
    they find is what a scan finds, revision for revision."""
    case_id, ready = _case(shared), SPAWN.Event()
    shared.close()  # the child keeps the catalog between saves, as a notebook alone does
    saver = SPAWN.Process(target=share_workers.save_until_killed,
                          args=(str(shared.path), case_id, ready))
    saver.start()
    assert ready.wait(60)
    time.sleep(after)
    os.kill(saver.pid, signal.SIGKILL)
    saver.join(30)
    with cnb.Store.open(shared.path, user="admin@example.org") as store:
        case = store.case(case_id)
        history = case.history()
        n = case.latest.index
        assert n >= 1 and list(history["index"]) == list(range(n + 1))
        assert list(history["description"][1:]) == [f"save {i}" for i in range(n)]
        by_index = [case.revision(i).content() for i in range(n + 1)]
        monkeypatch.setattr(cases_sql, "INDEXED_REVISIONS", 0)  # read by a scan
        assert [case.revision(i).content() for i in range(n + 1)] == by_index
        assert case.save("after the kill").index == n + 1

