"""Reading headers on every core, in chunks, results in input order.

Workers come from a ``forkserver`` that has already imported pydicom, so a pool
starts in milliseconds and never inherits the catalog's threads or connection.
Small jobs are read in this process: starting workers would cost more.
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
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from .header import Header, read_headers

__all__ = ["read_header_chunks"]

SERIAL_BELOW = 64  # files; fewer are read in this process
_pool: ProcessPoolExecutor | None = None


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


def _get_pool() -> ProcessPoolExecutor:
    global _pool
    if _pool is None:
        method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() \
            else "spawn"
        context = multiprocessing.get_context(method)
        if method == "forkserver":
            context.set_forkserver_preload(["circus_nb.dicom.header"])
        _pool = ProcessPoolExecutor(_workers(), mp_context=context,
                                    initializer=_exit_with, initargs=(os.getpid(),))
    return _pool


def _exit_with(pid: int) -> None:
    """In a worker: leave when process ``pid`` (the importer) is gone, even if it was
    killed with no chance to stop its workers.

    Ctrl+C (a kernel interrupt) is for the importer: it stops the import and the
    workers with it; workers printing their own KeyboardInterrupt would only be noise.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while True:
            time.sleep(0.5)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                os._exit(0)

    threading.Thread(target=watch, daemon=True, name="circus-nb-parent-watch").start()


@atexit.register
def shutdown() -> None:
    """Stop the worker processes (they also stop when Python exits)."""
    global _pool
    if _pool is not None:
        _pool.shutdown(wait=False, cancel_futures=True)
        _pool = None


def read_header_chunks(chunks: Sequence[Sequence[str]]) -> Iterator[list[Header]]:
    """Yield the headers of each chunk of paths, in order, while later chunks are read."""
    if sum(len(c) for c in chunks) < SERIAL_BELOW or _workers() == 1:
        for chunk in chunks:
            yield read_headers(list(chunk))
        return
    with _main_script_hidden():  # workers start on the first submits
        try:
            futures: list[Future] = [_get_pool().submit(read_headers, list(c)) for c in chunks]
        except BrokenProcessPool:  # a worker died earlier: start afresh once
            shutdown()
            futures = [_get_pool().submit(read_headers, list(c)) for c in chunks]
    try:
        for future in futures:
            yield future.result()
    finally:
        for future in futures:
            future.cancel()
