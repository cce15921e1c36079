"""Lists on an embedded store opened by several processes (two notebooks): one deletes
a list while the other adds to it; a process killed inside ``create_list``."""

from __future__ import annotations

import multiprocessing
import signal
import subprocess
import sys
import textwrap

import circus_nb as cnb
from tests.conftest import snapshot

from . import share_workers
from .test_sharing import _case, shared  # noqa: F401  (the fixture)

SPAWN = multiprocessing.get_context("spawn")


def test_one_process_deletes_a_list_while_another_adds_to_it(shared):  # noqa: F811
    made = [_case(shared) for _ in range(3)]
    held = shared.create_list("cases", "busy", items=made[:1])
    started, results = SPAWN.Event(), SPAWN.Queue()
    adder = SPAWN.Process(target=share_workers.add_until_gone,
                          args=(str(shared.path), held.list_id, made, started, results))
    adder.start()
    assert started.wait(60)
    while len(held) < 2:  # the other process is adding
        pass
    shared.delete_list("busy")
    added, error = results.get(timeout=120)
    adder.join(30)
    assert adder.exitcode == 0
    assert added >= 1 and error == "NotFoundError"  # the adder is told, in a CircusError
    rows = snapshot(shared)
    assert not [r for t in ("list_items", "list_editors", "item_lists") for r in rows[t]]


def test_a_process_killed_inside_create_list_leaves_no_half_list(shared, tmp_path):  # noqa: F811
    made = [_case(shared) for _ in range(40)]
    shared.close()
    script = textwrap.dedent(f"""
        import os, signal
        import circus_nb as cnb
        from circus_nb.store import collections as sql
        real = sql.add_items
        def half_then_die(con, list_id, new, when):
            real(con, list_id, new[: len(new) // 2], when)  # half the items are written
            os.kill(os.getpid(), signal.SIGKILL)
        sql.add_items = half_then_die
        store = cnb.Store.open({str(shared.path)!r}, user="admin@example.org")
        store.create_list("cases", "big", items={made!r})
    """)
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           timeout=120)
    assert child.returncode == -signal.SIGKILL, child.stderr
    with cnb.Store.open(shared.path, user="admin@example.org") as again:
        assert again.lists().empty  # all or nothing: nothing
        rows = snapshot(again)
        assert rows["list_items"] == [] and rows["item_lists"] == []
        assert len(again.create_list("cases", "big", items=made)) == 40  # the name is free
