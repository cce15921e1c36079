"""What the processes of the sharing tests run (top-level, so ``spawn`` can import it).

Each function opens the store itself, as a second notebook or a script would, and
reports through its return value or a queue.
"""

from __future__ import annotations

import os
import time

import circus_nb as cnb

USER = "admin@example.org"


def save_many(path: str, case_id: str, saves: int) -> list[int]:
    """``saves`` saves on one case, with a search after each; the revision indices."""
    indices = []
    with cnb.Store.open(path, user=USER, timeout=60) as store:
        case = store.case(case_id)
        for i in range(saves):
            indices.append(case.save(f"save {i} by {os.getpid()}").index)
            assert case_id in set(store.search_cases(limit=200)["case_id"])
    return indices


def race(path: str, case_id: str, rounds: int, barrier, results) -> None:
    """Each round: read the latest revision, wait for the other process, save on it."""
    with cnb.Store.open(path, user=USER, timeout=60) as store:
        case = store.case(case_id)
        for r in range(rounds):
            base = case.latest.index
            barrier.wait()
            try:
                case.save(f"round {r}", base=base)
                results.put((r, "saved"))
            except cnb.RevisionConflict:
                results.put((r, "conflict"))
            barrier.wait()  # both are done before either reads the next base


def search_until(path: str, started, stop, results) -> None:
    """Search until ``stop`` is set; put how many searches ran, and the series counts seen."""
    counts = []
    with cnb.Store.open(path, user=USER, read_only=True, timeout=60) as store:
        started.set()
        while not stop.is_set():
            counts.append(len(store.search_series(limit=50)))
            store.search_cases(limit=50)
    results.put(counts)


def hold_a_write(path: str, ready) -> None:
    """Start a change and stay in it until killed."""
    with cnb.Store.open(path, user=USER) as store, store._write() as con:
        con.execute("INSERT INTO users VALUES ('half@example.org', NULL, now())")
        ready.set()
        time.sleep(600)


def add_until_gone(path: str, list_id: str, case_ids: list[str], started, results) -> None:
    """Add ``case_ids`` to a list one at a time, over and over, until it is gone; put
    how many adds worked and the error's class name (``None`` if it never went)."""
    added = 0
    with cnb.Store.open(path, user=USER, timeout=60) as store:
        held = store.get_list(list_id)
        started.set()
        for round_ in range(2000):
            try:
                held.add([case_ids[round_ % len(case_ids)]])
                added += 1
            except cnb.CircusError as e:
                results.put((added, type(e).__name__))
                return
    results.put((added, None))


def save_until_killed(path: str, case_id: str, ready) -> None:
    """Save on one case again and again; ``ready`` after the first save."""
    with cnb.Store.open(path, user=USER, timeout=60) as store:
        case = store.case(case_id)
        for i in range(100_000):
            case.save(f"save {i}")
            ready.set()
