"""The worker pool: chunks in order, read in this process until workers are up, and a
worker that dies costs only the file that killed it."""

import os
import subprocess
import sys
import threading
import time

import pytest

from circus_nb._system import alive
from circus_nb.dicom import parallel
from circus_nb.dicom.header import Header


def pid_of_reader(paths: list[str]) -> list[Header]:
    """A stand-in for read_headers: who read each path (workers import this module)."""
    return [Header("ok", f"{path} read by {os.getpid()}") for path in paths]


def dies_on_poison(paths: list[str]) -> list[Header]:
    if any(path.endswith("poison") for path in paths):
        os._exit(1)  # as a segfault or the out-of-memory killer would end a worker
    return pid_of_reader(paths)


@pytest.fixture
def own_pool(monkeypatch):
    """A pool of this test's own (the one other tests use is put back afterwards)."""
    monkeypatch.setattr(parallel, "_pool", None)
    monkeypatch.setattr(parallel, "_starting", None)
    monkeypatch.setattr(parallel, "_workers", lambda: 2)
    yield
    if (starter := parallel._starting) is not None:
        starter.join(timeout=60)
    if parallel._pool is not None:
        parallel._stop(parallel._pool, terminate=True)


def _chunks(n: int, size: int = 40, poison: int | None = None) -> list[list[str]]:
    names = [f"f{k}" for k in range(n * size)]
    if poison is not None:
        names[poison] = "poison"
    return [names[k:k + size] for k in range(0, len(names), size)]


def test_chunks_are_read_here_until_the_workers_are_up(own_pool, monkeypatch):
    release = threading.Event()
    real_new_pool = parallel._new_pool

    def slow_start():
        assert release.wait(timeout=60)
        return real_new_pool()

    monkeypatch.setattr(parallel, "_new_pool", slow_start)
    chunks = _chunks(8)
    results = parallel.read_header_chunks(chunks, read=pid_of_reader)
    first = next(results)  # the pool is still starting: read in this process
    assert parallel._starting is not None and parallel._pool is None
    starter = parallel._starting
    release.set()
    starter.join(timeout=60)
    rest = list(results)
    readers = [h.reason.split(" read by ")[1] for chunk in [first, *rest] for h in chunk]
    names = [h.reason.split(" read by ")[0] for chunk in [first, *rest] for h in chunk]
    assert names == [name for chunk in chunks for name in chunk]  # in order
    assert set(readers[:40]) == {str(os.getpid())}
    assert str(os.getpid()) not in readers[-40:]  # later chunks went to the workers


def test_a_worker_that_dies_costs_only_its_file(own_pool):
    parallel.start_workers()
    if (starter := parallel._starting) is not None:
        starter.join(timeout=60)
    chunks = _chunks(6, poison=85)  # in the third chunk
    results = list(parallel.read_header_chunks(chunks, read=dies_on_poison))
    flat = [h for chunk in results for h in chunk]
    assert len(flat) == 240
    assert [h.status for h in flat].count("unreadable") == 1
    assert flat[85].status == "unreadable"
    assert flat[85].reason.startswith("reading its header stopped the process that read it")
    names = [h.reason.split(" read by ")[0] for h in flat if h.status == "ok"]
    assert names == [f"f{k}" for k in range(240) if k != 85]
    assert str(os.getpid()) not in {h.reason.split(" read by ")[1] for h in flat[120:]}


def test_small_jobs_never_start_workers(own_pool):
    [headers] = parallel.read_header_chunks([["a", "b"]], read=pid_of_reader)
    assert headers[0].reason == f"a read by {os.getpid()}"
    assert parallel._starting is None and parallel._pool is None


def test_a_killed_importer_that_is_not_reaped_yet_counts_as_gone():
    # A caller reading the importer's output waits to reap it until the output ends, and
    # workers still holding that output must not wait for the reaping: a deadlock.
    child = subprocess.Popen([sys.executable, "-c", "import os; os._exit(3)"])
    deadline = time.monotonic() + 10
    while alive(child.pid):  # a zombie until waited for
        assert time.monotonic() < deadline, "a dead, unreaped process counts as alive"
        time.sleep(0.05)
    assert child.wait() == 3
    assert alive(os.getpid())


def test_python_exits_quietly_while_workers_are_still_starting():
    # An import that ends before its workers are up leaves their start running; exiting
    # then must wait for it, not let the forkserver print a traceback.
    code = "import circus_nb as cnb; cnb.demo_store().close()"
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr


# ---------------------------------------------------------------- the caller's executor


def fails_on_poison(paths: list[str]) -> list[Header]:
    if any(path.endswith("poison") for path in paths):
        raise MemoryError("as a worker out of memory would")
    return pid_of_reader(paths)


def test_an_executor_reads_every_chunk_in_order_and_is_left_running(own_pool):
    from concurrent.futures import ThreadPoolExecutor

    chunks = _chunks(5, size=7, poison=9)  # in the second chunk
    with ThreadPoolExecutor(3) as pool:
        flat = [h for chunk in parallel.read_header_chunks(chunks, read=fails_on_poison,
                                                           executor=pool) for h in chunk]
        assert pool.submit(abs, -1).result() == 1  # not shut down
    assert parallel._starting is None and parallel._pool is None  # no pool of our own
    assert [h.status for h in flat].count("unreadable") == 1
    assert flat[9].status == "unreadable"
    assert "reading its header failed in the executor's worker (MemoryError: as a worker" \
        in flat[9].reason
    names = [h.reason.split(" read by ")[0] for h in flat if h.status == "ok"]
    assert names == [f"f{k}" for k in range(35) if k != 9]


def test_ctrl_c_cancels_the_chunks_the_executor_has_not_started(ctrl_c):
    import signal
    from concurrent.futures import ThreadPoolExecutor

    calls = []

    def interrupted(paths: list[str]) -> list[Header]:
        calls.append(paths[0])
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl+C while the importer waits
        time.sleep(0.05)
        return pid_of_reader(paths)

    with ThreadPoolExecutor(1) as pool:
        with pytest.raises(KeyboardInterrupt):
            list(parallel.read_header_chunks(_chunks(30, size=2), read=interrupted,
                                             executor=pool))
        pool.submit(time.sleep, 0).result()  # whatever still runs is done
    assert len(calls) <= 3


def test_an_executor_that_refuses_work_stops_the_read_with_a_clear_error():
    from concurrent.futures import ThreadPoolExecutor

    from circus_nb import CircusError

    pool = ThreadPoolExecutor(1)
    pool.shutdown()
    with pytest.raises(CircusError, match="The executor refused to read headers .RuntimeError"):
        list(parallel.read_header_chunks(_chunks(2), read=pid_of_reader, executor=pool))


def test_threads_reading_headers_leave_warnings_and_logging_as_they_found_them(tmp_path):
    import logging
    import warnings
    from concurrent.futures import ThreadPoolExecutor

    from circus_nb.dicom.header import read_headers
    from circus_nb.dicom.sample import write_ct_series

    paths = [str(p) for p in sorted(write_ct_series(tmp_path, n=40, size=16).folder.iterdir())]
    show, filters = warnings._showwarnmsg_impl, list(warnings.filters)
    level = logging.getLogger("pydicom").level
    with ThreadPoolExecutor(8) as pool:
        for _ in range(5):
            list(pool.map(read_headers, [paths[k:k + 2] for k in range(0, len(paths), 2)]))
    assert warnings._showwarnmsg_impl is show and warnings.filters == filters
    assert logging.getLogger("pydicom").level == level
