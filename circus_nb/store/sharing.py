"""Several processes on one embedded store: each holds the catalog file only while it works.

DuckDB lets one process hold a file read-write, or several hold it read-only, and a
file held read-write cannot be opened elsewhere at all. So a process opens the
catalog for an operation (read-only for a read, read-write for a transaction), keeps
it open while it goes on working (an open costs ~10 ms), and lets go

- when another process waits for the file (a waiter leaves a marker named after its
  PID in the store's ``waiting/`` folder while it retries): at the end of the first
  operation after it has had the file for :data:`TURN` seconds, or at once when idle,
- after :data:`LINGER` seconds without an operation, so an idle notebook holds nothing.

A process that let go for a waiter gives it the first turn (it waits while a marker
is there, at most :data:`GRACE` seconds), so two busy processes take turns instead of
one starving the other. Only a wait longer than the store's timeout is an error, and
the error names the process holding the file. A process killed while holding the
file loses its lock with it: the next open goes on (DuckDB replays its log).

Inside one process every :class:`Catalog` of a file shares one :class:`SharedFile`
(DuckDB shares one database per file within a process anyway), and its operations
run one at a time.

>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> shared = share(folder / "catalog.duckdb")
>>> with shared.hold(write=True, timeout=5) as con:
...     _ = con.execute("CREATE TABLE t AS SELECT 42 AS answer")
>>> with shared.hold(write=False, timeout=5) as con:
...     con.execute("SELECT answer FROM t").fetchall()
[(42,)]
>>> shared.unshare(); shared.con is None
True
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TypeVar

import duckdb

from .._system import alive, fcntl, try_lock  # fcntl None on Windows: no locks
from ..errors import CircusError
from ._connection import Locked, connect

__all__ = ["GRACE", "LINGER", "TURN", "WAITING", "SharedFile", "open_elsewhere", "share"]

T = TypeVar("T")

LINGER = 1.0  # seconds an idle process keeps the file open
GRACE = 0.5  # seconds a process that let go waits for the waiter to take its turn
WAITING = "waiting"  # folder of the store where waiting processes leave their marker
OPEN_LOCK = "open.lock"  # in WAITING: every process with the store open holds it shared
TURN_LOCK = "turn.lock"  # in WAITING: held while a process has the catalog file open
TURN = 0.1  # seconds a busy process keeps the file once it has it, though others wait
IDLE = 0.02  # seconds without a statement after which a process is idle, not between two
_REAP_EVERY = 0.01  # seconds between looks at idle files


def _describe(pid: int | None) -> str:
    """A process, as a person can find it in a process list."""
    if pid is None:
        return "another process"
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            command = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        command = ""
    if len(command) > 80:
        command = command[:77] + "..."
    return f"process {pid}" + (f" ({command})" if command else "")


def _busy(store: Path, holder: str, timeout: float) -> CircusError:
    return CircusError(
        f"The store at '{store}' is busy: {holder} held it for longer than the store's timeout"
        f" of {timeout:g} s. Processes sharing a store take turns between operations; a long"
        " import or a kernel stopped in the middle of a change holds it meanwhile. Try again"
        " when it is done, open the store with a longer wait (cnb.Store.open(path, user=...,"
        " timeout=120)), or end that process.",
        value=str(store),
    )


class _Marker:
    """This process's marker in the ``waiting/`` folder, while it waits for the file."""

    def __init__(self, folder: Path):
        self.path: Path | None = folder / str(os.getpid())
        try:
            folder.mkdir(exist_ok=True)
            self.path.touch()
        except OSError:  # a read-only folder: waiting still works, only slower
            self.path = None

    def remove(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def others_waiting(folder: Path) -> bool:
    """Whether a live process other than this one waits for the file (stale markers of
    processes that died waiting are removed)."""
    try:
        names = os.listdir(folder)
    except OSError:
        return False
    me = str(os.getpid())
    for name in names:
        if name == me or not name.isdigit():
            continue
        if alive(int(name)):
            return True
        with contextlib.suppress(OSError):
            (folder / name).unlink()
    return False


class SharedFile:
    """This process's hold on one catalog file. Use :func:`share`."""

    def __init__(self, path: Path):
        self.path = path
        self.waiting = path.parent / WAITING
        self.lock = threading.RLock()  # one operation at a time in this process
        self.con: duckdb.DuckDBPyConnection | None = None
        self.writable = False
        self.depth = 0  # operations in progress on the thread holding the lock
        self.in_transaction = False
        # Changes whenever the catalog may have changed: after each transaction of this
        # process, and at each open (another process may have written in between).
        self.generation = 0
        self.last_used = self.opened_at = 0.0
        self.yielded_at: float | None = None
        self.users = 0  # catalogs of this process sharing it
        self._turn: IO[bytes] | None = None  # the turn lock, while the file is open
        self._presence = _hold_presence(self.waiting)

    @contextlib.contextmanager
    def hold(self, write: bool, timeout: float) -> Iterator[duckdb.DuckDBPyConnection]:
        """The open connection for one operation (nested ones join the outer one).

        Raises
        ------
        CircusError
            If another process (or thread) keeps the file longer than ``timeout``.
        """
        if not self.lock.acquire(timeout=timeout):
            raise _busy(self.path.parent, "another thread of this process", timeout)
        try:
            if self.depth == 0 and (self.con is None or (write and not self.writable)):
                self._open(write, timeout)
            self.depth += 1
            try:
                yield self.con
            finally:
                self.depth -= 1
                if self.depth == 0:
                    self._done()
        finally:
            self.lock.release()

    def _done(self) -> None:
        # A call of the API is many statements: letting go after each would pay a close and
        # an open (~10 ms) per statement. So a busy process keeps its turn for TURN seconds.
        self.last_used = time.monotonic()
        if self.last_used - self.opened_at >= TURN and others_waiting(self.waiting):
            self._let_go()
            self.yielded_at = self.last_used

    def _open(self, write: bool, timeout: float) -> None:
        self._let_go()
        deadline = time.monotonic() + timeout
        self._give_turn(deadline)
        try:
            self._turn = self._take_turn(write, deadline, timeout)
            self.con = self._retry(
                lambda: connect(self.path, read_only=not write), deadline, longest=0.005,
                # held by a process outside this protocol
                timed_out=lambda locked: _busy(self.path.parent, _describe(locked.pid),
                                               timeout))
            self.writable, self.opened_at = write, time.monotonic()
            self.generation += 1
        except BaseException:
            self._release_turn()
            raise
        finally:
            _start_reaper()

    def _retry(self, attempt: Callable[[], T], deadline: float, longest: float,
               timed_out: Callable[[Exception], CircusError]) -> T:
        """``attempt()`` until it is not refused as busy (``Locked``, ``BlockingIOError``),
        with this process's marker left in ``waiting/`` meanwhile, so the holder lets go."""
        marker, delay = None, 0.001
        try:
            while True:
                try:
                    return attempt()
                except (Locked, BlockingIOError) as busy:
                    if time.monotonic() >= deadline:
                        raise timed_out(busy) from None
                    marker = marker or _Marker(self.waiting)
                    time.sleep(delay)
                    delay = min(2 * delay, longest)
        finally:
            if marker is not None:
                marker.remove()

    def _take_turn(self, write: bool, deadline: float, timeout: float) -> IO[bytes] | None:
        """The turn lock (exclusive to write, shared to read), taken before DuckDB's.

        Waiting on our own lock file costs a system call a millisecond, where trying
        DuckDB's open again costs ~7 ms of CPU each time; the waiter leaves its marker
        meanwhile, so the holder knows to let go.
        """
        if fcntl is None:
            return None
        try:
            handle = open(self.waiting / TURN_LOCK, "ab")  # noqa: SIM115 - held for the turn
        except OSError:  # a read-only folder: DuckDB's own lock is all there is
            return None
        mode = (fcntl.LOCK_EX if write else fcntl.LOCK_SH) | fcntl.LOCK_NB
        try:
            self._retry(lambda: fcntl.flock(handle, mode), deadline, longest=0.001,
                        timed_out=lambda _: self._busy_error(timeout))
        except BaseException:
            handle.close()
            raise
        return handle

    def _busy_error(self, timeout: float) -> CircusError:
        """The timeout, naming the holder: DuckDB's lock error says who holds the file."""
        try:
            connect(self.path, read_only=True).close()
            holder = "another process"
        except Locked as locked:
            holder = _describe(locked.pid)
        return _busy(self.path.parent, holder, timeout)

    def _release_turn(self) -> None:
        turn, self._turn = self._turn, None
        if turn is not None:
            turn.close()  # closing the file releases its lock

    def _give_turn(self, deadline: float) -> None:
        """After letting go for a waiter, wait until it has had the file (or GRACE)."""
        if self.yielded_at is None:
            return
        until = min(deadline, self.yielded_at + GRACE)
        while time.monotonic() < until and others_waiting(self.waiting):
            time.sleep(0.002)
        self.yielded_at = None

    def _let_go(self) -> None:
        if self.con is not None:
            con, self.con = self.con, None
            try:
                con.close()
            finally:
                self._release_turn()

    def reap(self) -> None:
        """Let go of the file if it is idle for LINGER, or idle (between calls, not between
        the statements of one) or past its turn while someone waits."""
        if not self.lock.acquire(blocking=False):
            return
        try:
            now = time.monotonic()
            idle = now - self.last_used
            if self.con is not None and self.depth == 0 and (
                    idle > LINGER or (others_waiting(self.waiting)
                                      and (idle > IDLE or now - self.opened_at >= TURN))):
                self._let_go()
        finally:
            self.lock.release()

    def unshare(self) -> None:
        """One catalog of this process is done with the file; the last one closes it."""
        with _registry_lock:
            self.users -= 1
            if self.users > 0:
                return
            _files.pop(self.path, None)
        with self.lock:
            self._let_go()
            if self._presence is not None:
                self._presence.close()


def _hold_presence(folder: Path) -> IO[bytes] | None:
    """The open-lock of a store, held shared while this process has the store open."""
    if fcntl is None:
        return None
    try:
        folder.mkdir(exist_ok=True)
        handle = open(folder / OPEN_LOCK, "ab")  # noqa: SIM115 - held while the store is open
    except OSError:  # a read-only folder
        return None
    fcntl.flock(handle, fcntl.LOCK_SH)
    return handle


def open_elsewhere(store: Path) -> str | None:
    """Who else has the store folder ``store`` (resolved) open: this process, another
    one, or ``None``. For what must not run under anyone's feet, like deleting it."""
    with _registry_lock:
        if any(path.parent == store for path in _files):
            return "this process"
    lock = store / WAITING / OPEN_LOCK
    if fcntl is None or not lock.exists():
        return None
    handle = try_lock(lock)
    if handle is None:
        return "another process"
    handle.close()
    return None


_registry_lock = threading.Lock()
_files: dict[Path, SharedFile] = {}
_reaper: threading.Thread | None = None


def share(path: Path) -> SharedFile:
    """The shared hold on the catalog file ``path`` (resolved), one more user counted."""
    with _registry_lock:
        shared = _files.get(path)
        if shared is None:
            shared = _files[path] = SharedFile(path)
        shared.users += 1
        return shared


def _reap_forever() -> None:
    while True:
        time.sleep(_REAP_EVERY)
        with _registry_lock:
            files = list(_files.values())
        for shared in files:
            with contextlib.suppress(Exception):  # a file closed meanwhile
                shared.reap()


def _start_reaper() -> None:
    global _reaper
    with _registry_lock:
        if _reaper is None or not _reaper.is_alive():
            _reaper = threading.Thread(target=_reap_forever, name="circus-nb-catalog-reaper",
                                       daemon=True)
            _reaper.start()


def _forget_after_fork() -> None:
    # A forked child must not touch its parent's connections: it opens its own. It must
    # not keep the parent's locks either: a lock lives while any copy of its file is open
    # (closing a copy, unlike unlocking, leaves the parent's lock alone).
    global _reaper, _registry_lock
    for shared in _files.values():
        for handle in (shared._turn, shared._presence):
            if handle is not None:
                with contextlib.suppress(OSError):
                    handle.close()
        shared._turn = shared._presence = None
    _files.clear()
    _reaper, _registry_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)


@atexit.register
def _close_all() -> None:
    with _registry_lock:
        files = list(_files.values())
    for shared in files:
        if shared.lock.acquire(timeout=5):
            try:
                shared._let_go()
            finally:
                shared.lock.release()
