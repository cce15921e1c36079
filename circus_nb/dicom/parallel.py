"""Reading headers on every core, in chunks, results in input order.

Workers come from a ``forkserver`` that has already imported pydicom, so they
never inherit the catalog's threads or connection. Starting them still costs
about a second in a fresh process, so they are started in a helper thread
(:func:`start_workers`, called as soon as an import is known to be large) while
this process walks the folders and reads the first chunks itself; the chunks
left when the workers are up go to them. Small jobs are read in this process.

The helper thread also keeps Ctrl+C away from the pool: a KeyboardInterrupt
lands in the main thread only, so it can never cut a worker's start in half
(which left a worker that no one would stop, and Python waiting for it at exit).
When one arrives during an import, :func:`stop_workers` lets a pool that is
starting finish its start, then terminates its workers; the next import starts
a fresh pool.

A worker that dies (a crash, the out-of-memory killer) costs only its chunk's
files a second read, one file per task in a fresh pool: the file that kills a
worker again is reported ``unreadable``, every other file is read.

An import may bring its own :class:`~concurrent.futures.Executor` instead (threads,
processes, or a Dask cluster's ``client.get_executor()``): every chunk is then
submitted to it, and a chunk whose task fails (its worker died, the task raised) is
read again one file per task, where a file that fails again is ``unreadable``. The
executor is the caller's: it is never shut down here.
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing
import os
import signal
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from .._system import alive
from ..errors import CircusError
from .header import Header, read_headers

__all__ = ["SERIAL_BELOW", "read_header_chunks", "start_workers", "stop_workers"]

SERIAL_BELOW = 64  # files; fewer are read in this process
Read = Callable[[list[str]], list[Header]]  # what a worker runs on a chunk of paths

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None  # set once every worker is running
_starting: threading.Thread | None = None


def _workers() -> int:
    return max(1, min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                      else os.cpu_count() or 1, 8))


@contextlib.contextmanager
def _main_script_hidden() -> Iterator[None]:
    """Keep workers from running the user's script.

    multiprocessing re-imports a script's ``__main__`` in every new process, which
    re-runs a script that lacks an ``if __name__ == "__main__":`` guard (notebooks
    have no script, so they are not affected). Workers only need circus_nb, so
    while they start, ``__main__`` is shown to multiprocessing as an empty module.
    """
    main = sys.modules.get("__main__")
    if main is None or not getattr(main, "__file__", None):
        yield
        return
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


def _new_pool() -> ProcessPoolExecutor:
    """A pool whose workers are all running (each has answered a first task)."""
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() \
        else "spawn"
    context = multiprocessing.get_context(method)
    if method == "forkserver":
        context.set_forkserver_preload(["circus_nb.dicom.header"])
    pool = ProcessPoolExecutor(_workers(), mp_context=context, initializer=_exit_with,
                               initargs=(os.getpid(),))
    try:
        with _main_script_hidden():  # a worker starts on each submit while none is idle
            started = [pool.submit(_hello) for _ in range(_workers())]
        for future in started:
            future.result()
    except BaseException:
        _stop(pool, terminate=True)
        raise
    return pool


def _hello() -> int:
    """A worker's first task: long enough that every first task gets a worker of its own."""
    time.sleep(0.05)
    return os.getpid()


def _start() -> None:
    global _pool, _starting
    pool = None
    try:
        pool = _new_pool()
    except BaseException:  # no workers here (a sandbox, Python exiting): read in process
        pass
    finally:
        with _lock:
            _pool, _starting = pool, None


def start_workers() -> None:
    """Start the worker pool in a helper thread, unless it runs or is starting."""
    global _starting
    with _lock:
        if _pool is not None or _starting is not None or _workers() == 1:
            return
        _starting = threading.Thread(target=_start, daemon=True, name="circus-nb-workers")
        _starting.start()


def _ready_pool() -> ProcessPoolExecutor | None:
    with _lock:
        return _pool


def _healthy_pool() -> ProcessPoolExecutor | None:
    """The running pool, or a new one (started here) if it broke; ``None``: no workers."""
    global _pool
    pool = _ready_pool()
    if pool is not None and not getattr(pool, "_broken", False):
        return pool
    if pool is not None:
        _stop(pool, terminate=True)
    try:
        fresh = _new_pool()
    except Exception:
        return None
    with _lock:
        _pool = fresh
    return fresh


def _exit_with(pid: int) -> None:
    """In a worker: leave when process ``pid`` (the importer) is gone, even if it was
    killed with no chance to stop its workers.

    Ctrl+C (a kernel interrupt) is for the importer: it stops the import and the
    workers with it; workers printing their own KeyboardInterrupt would only be noise.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while alive(pid):
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="circus-nb-parent-watch").start()


def _stop(pool: ProcessPoolExecutor, terminate: bool) -> None:
    global _pool
    with _lock:
        if _pool is pool:
            _pool = None
    # The pool's own table of its workers: shutdown(wait=False) alone lets them finish
    # their chunk, and a worker left waiting for work is what Python joins at exit.
    workers = list((getattr(pool, "_processes", None) or {}).values()) if terminate else []
    pool.shutdown(wait=False, cancel_futures=True)
    for worker in workers:
        with contextlib.suppress(Exception):
            worker.terminate()


@atexit.register
def stop_workers() -> None:
    """Stop the pool now (after Ctrl+C, and when Python exits): wait until a pool being
    started is up (a start cut short is what leaves a worker behind, and a forkserver
    printing a traceback at exit), then terminate its workers."""
    with _lock:
        starting = _starting
    if starting is not None:
        starting.join(timeout=60)
    pool = _ready_pool()
    if pool is not None:
        _stop(pool, terminate=True)


def read_header_chunks(chunks: Sequence[Sequence[str]], read: Read = read_headers,
                       executor: Executor | None = None) -> Iterator[list[Header]]:
    """Yield ``read(chunk)`` (the headers of each chunk of paths), in order.

    Chunks are read in this process until the workers are up, then by them,
    ahead of the caller; or all by ``executor``, if one is given. ``read`` must be
    importable by the workers.
    """
    if executor is not None:
        yield from _read_on(executor, chunks, read)
        return
    if sum(len(c) for c in chunks) < SERIAL_BELOW or _workers() == 1:
        for chunk in chunks:
            yield read(list(chunk))
        return
    start_workers()
    futures: dict[int, Future] = {}
    submitted = False
    try:
        for k, chunk in enumerate(chunks):
            if not submitted and (pool := _ready_pool()) is not None:
                futures, submitted = _submit_all(pool, read, chunks, k), True
            if k in futures:
                yield _result(futures, k, read, chunks)
            else:
                yield read(list(chunk))
    finally:
        for future in futures.values():
            future.cancel()


def _submit_all(pool: ProcessPoolExecutor, read: Read, chunks: Sequence[Sequence[str]],
                start: int) -> dict[int, Future]:
    try:
        return {k: pool.submit(read, list(chunks[k])) for k in range(start, len(chunks))}
    except (BrokenProcessPool, RuntimeError):  # broken, or Python is exiting
        return {}


def _result(futures: dict[int, Future], k: int, read: Read, chunks: Sequence[Sequence[str]]
            ) -> list[Header]:
    """Chunk ``k``'s headers. If its worker died, read it again one file per task,
    and hand the chunks still to come to the pool that replaced the broken one."""
    try:
        return futures.pop(k).result()
    except BrokenProcessPool:
        pass
    headers = [_alone(read, path) for path in chunks[k]]
    for future in futures.values():
        future.cancel()
    futures.clear()
    pool = _healthy_pool()
    if pool is not None and k + 1 < len(chunks):
        futures.update(_submit_all(pool, read, chunks, k + 1))
    return headers


def _alone(read: Read, path: str) -> Header:
    """Read one file in a task of its own; a file that kills its worker is unreadable."""
    pool = _healthy_pool()
    if pool is None:
        return read([path])[0]
    try:
        return pool.submit(read, [path]).result()[0]
    except BrokenProcessPool:
        return Header("unreadable", "reading its header stopped the process that read it (it"
                      " crashed or ran out of memory): the file is probably malformed. Check"
                      " it with another DICOM reader.")


def _read_on(executor: Executor, chunks: Sequence[Sequence[str]], read: Read
             ) -> Iterator[list[Header]]:
    """Every chunk read by the caller's executor, in order; a chunk whose task failed
    is read again one file per task. Pending tasks are cancelled when the caller stops
    (Ctrl+C, an error), and the executor is left running."""
    futures: list[Future] = []
    try:
        futures += [_submit(executor, read, chunk) for chunk in chunks]
        for k, future in enumerate(futures):
            try:
                headers = future.result()
            except Exception:  # the worker died, or the task failed there
                headers = [_alone_on(executor, read, path) for path in chunks[k]]
            yield headers
    finally:
        for future in futures:
            future.cancel()


def _alone_on(executor: Executor, read: Read, path: str) -> Header:
    """Read one file in a task of its own; a file whose task fails again is unreadable."""
    future = _submit(executor, read, [path])
    try:
        return future.result()[0]
    except Exception as e:
        return Header("unreadable", f"reading its header failed in the executor's worker"
                      f" ({type(e).__name__}: {e}); the worker may have crashed or run out of"
                      " memory on it, or the file is malformed. Check it with another DICOM"
                      " reader.")
    finally:
        future.cancel()  # after Ctrl+C; a finished task is left as it is


def _submit(executor: Executor, read: Read, paths: Sequence[str]) -> Future:
    try:
        return executor.submit(read, list(paths))
    except RuntimeError as e:  # shut down, or broken (a ProcessPoolExecutor whose worker died)
        raise CircusError(f"The executor refused to read headers ({type(e).__name__}: {e}): it"
                          " was shut down, or it broke when one of its workers died. Pass a"
                          " running executor, or executor=None for circus_nb's own workers;"
                          " files already imported stay imported, and importing again"
                          " reports them already_present.", field="executor",
                          value=executor) from e
