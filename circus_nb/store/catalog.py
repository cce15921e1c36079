"""``Catalog``: the DuckDB file of one store folder, its schema and transactions.

The catalog knows nothing of privileges: the layer above checks them and calls
the SQL functions of this package with :attr:`Catalog.con`.
"""

from __future__ import annotations

import contextlib
import shutil
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path

import duckdb

from ..domain.privileges import GLOBAL_PRIVILEGES
from ..errors import CircusError, ValidationError
from . import accounts, staging
from ._connection import connect, damaged, release
from .migrations import migrate
from .scratch import Scratch
from .series import managed_paths

CATALOG = "catalog.duckdb"
DATA_DIR = "data"
ADMIN_GROUP = "admins"


def _empty(folder: Path, remove: bool) -> None:
    if remove:
        shutil.rmtree(folder, ignore_errors=True)
        return
    for child in folder.iterdir():
        shutil.rmtree(child) if child.is_dir() else child.unlink()


# How long close() waits for another thread's query to finish before it gives up
# on that connection (it is then closed when the thread lets go of it).
CLOSE_WAIT_SECONDS = 30.0
_BUSY = getattr(duckdb, "ResourceInUseException", duckdb.Error)  # DuckDB >= 1.3


def _close_when_idle(con: duckdb.DuckDBPyConnection, deadline: float) -> None:
    # DuckDB refuses to close a connection that another thread is running a query on.
    while True:
        try:
            con.close()
            return
        except _BUSY:
            if time.monotonic() > deadline:
                return
            time.sleep(0.01)


def _closed(root: Path) -> CircusError:
    return CircusError(f"The store at '{root}' is closed. Open it again with"
                       " cnb.Store.open(path, user=...).")


class _Guarded:
    """A DuckDB connection whose errors, once its store is closed, read as every other use
    of a closed store does: a thread may be between two queries when another closes it."""

    __slots__ = ("_con", "_handles", "_root")

    def __init__(self, con: duckdb.DuckDBPyConnection, handles: _Handles, root: Path):
        self._con, self._handles, self._root = con, handles, root

    def _run(self, method: str, *args: object, **kwargs: object) -> object:
        try:
            return getattr(self._con, method)(*args, **kwargs)
        except duckdb.Error:
            if self._handles.closed:  # "connection closed", "no open result set"...
                raise _closed(self._root) from None
            raise

    def execute(self, *args: object, **kwargs: object) -> _Guarded:
        self._run("execute", *args, **kwargs)
        return self  # DuckDB returns the connection, to fetch from

    def executemany(self, *args: object, **kwargs: object) -> _Guarded:
        self._run("executemany", *args, **kwargs)
        return self

    def fetchone(self) -> object:
        return self._run("fetchone")

    def fetchall(self) -> object:
        return self._run("fetchall")

    def df(self) -> object:
        return self._run("df")

    def __getattr__(self, name: str) -> object:
        return getattr(self._con, name)


class _Handles:
    """The DuckDB connection of an open catalog and the cursors lent to other threads.

    Kept apart from :class:`Catalog` so the finalizer that closes them when a
    forgotten catalog is collected does not keep the catalog alive.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, catalog: Path, read_only: bool,
                 scratch: Scratch | None):
        self.con = con
        self.catalog, self.read_only, self.scratch = catalog, read_only, scratch
        self.cursors: list[duckdb.DuckDBPyConnection] = []
        self.lock = threading.Lock()  # between lending a cursor and closing
        self.closed = False

    def cursor(self) -> duckdb.DuckDBPyConnection | None:
        """A new cursor for another thread, or ``None`` once closed."""
        with self.lock:
            if self.closed:
                return None
            cursor = self.con.cursor()
            self.cursors.append(cursor)
            return cursor

    def close(self) -> None:
        """Close everything, once; the in-use guard is released whatever happens."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
        deadline = time.monotonic() + CLOSE_WAIT_SECONDS
        try:
            for con in [*self.cursors, self.con]:
                _close_when_idle(con, deadline)
        finally:
            release(self.catalog, self.read_only)
            if self.scratch is not None:
                self.scratch.remove()


def _roll_back(con: duckdb.DuckDBPyConnection) -> None:
    """End a failed transaction. A COMMIT that failed (a full disk, say) has already
    ended it, and ROLLBACK then fails too: the first error is the one to report."""
    with contextlib.suppress(duckdb.Error):
        con.execute("ROLLBACK")


def _disk_full(error: duckdb.Error) -> bool:
    text = str(error)
    return "No space left on device" in text or "Disk quota exceeded" in text


class Catalog:
    """An open catalog. Use :meth:`create` or :meth:`open`."""

    def __init__(self, root: Path, con: duckdb.DuckDBPyConnection, *, read_only: bool,
                 scratch: Scratch | None = None):
        self.root = root  # resolved: the in-use guard is keyed by this very path
        self.read_only = read_only
        self._handles = _Handles(con, root / CATALOG, read_only, scratch)
        self._con = _Guarded(con, self._handles, root)
        self._owner = threading.get_ident()
        self._local = threading.local()  # this thread's cursor
        self._write_lock = threading.RLock()
        self._closer = weakref.finalize(self, self._handles.close)

    @classmethod
    def create(cls, path: Path | None, admin: str) -> Catalog:
        """A new catalog in ``path`` (new or empty; ``None``: a temporary folder that is
        deleted on close) whose first user, ``admin``, is in group ``admins``."""
        scratch = Scratch.make() if path is None else None
        # Resolved once: ".." and symlinks must name the same store to the in-use guard.
        root = scratch.root if scratch else Path(path).resolve()
        if scratch is None and root.exists() and (not root.is_dir() or any(root.iterdir())):
            hint = (" It holds a store already: open it with Store.open(path, user=...)."
                    if (root / CATALOG).exists() else " Choose a new or empty folder.")
            raise ValidationError(f"Cannot create a store at '{root}': it exists and is not an"
                                  f" empty folder.{hint}", field="path", value=str(root))
        created_root = not root.exists()
        root.mkdir(parents=True, exist_ok=True)
        catalog = None
        try:
            (root / DATA_DIR).mkdir()
            catalog = cls(root, connect(root / CATALOG, read_only=False), read_only=False,
                          scratch=scratch)
            migrate(catalog.con, read_only=False, where=str(root))
            with catalog.transaction() as con:
                accounts.insert_group(con, ADMIN_GROUP, GLOBAL_PRIVILEGES, ["default"])
                accounts.insert_user(con, admin, None)
                accounts.set_memberships(con, admin, [ADMIN_GROUP])
        except BaseException:
            if catalog is not None:
                catalog.close()
            if scratch is not None:
                scratch.remove()
            else:
                _empty(root, remove=created_root)  # the folder was empty: leave it so
            raise
        return catalog

    @classmethod
    def open(cls, path: str | Path, read_only: bool) -> Catalog:
        """Open the catalog in ``path`` and migrate it to the newest schema.

        Raises
        ------
        NotFoundError
            If there is no catalog in ``path``.
        CircusError
            If it is in use elsewhere, newer than this package, or damaged.
        """
        root = Path(path).resolve()  # once: see create()
        file = root / CATALOG
        if not file.is_file():
            raise accounts.not_found(
                "store", str(root), [],
                f"There is no {CATALOG} there. Make one with cnb.Store.create(path).")
        catalog = cls(root, connect(file, read_only=read_only), read_only=read_only)
        try:
            migrate(catalog.con, read_only=read_only, where=str(root))
            if not read_only:
                catalog.recover_staging()
        except duckdb.IOException as e:  # a block past the end of a truncated file
            catalog.close()
            raise damaged(file, e) from None
        except BaseException:
            catalog.close()
            raise
        return catalog

    def recover_staging(self) -> None:
        """Remove what imports killed before they finished left behind: files placed
        for a batch that no instance row points at, and stale staging folders."""
        staging.recover(self.root, lambda paths: managed_paths(self.con, paths))

    @property
    def data_dir(self) -> Path:
        return self.root / DATA_DIR

    @property
    def closed(self) -> bool:
        return self._handles.closed

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """This thread's connection; a closed catalog raises ``CircusError``.

        A DuckDB connection must not be used by two threads at once, so every
        thread other than the opening one gets a cursor of its own. Each comes in a
        thin guard that turns DuckDB's "connection closed" into that same error.
        """
        if self.closed:
            raise _closed(self.root)
        if threading.get_ident() == self._owner:
            return self._con
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            raw = self._handles.cursor()
            if raw is None:  # closed by another thread a moment ago
                raise _closed(self.root)
            cursor = self._local.cursor = _Guarded(raw, self._handles, self.root)
        return cursor

    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One transaction: everything inside is written, or nothing is.

        Transactions of different threads run one after the other, so a check made
        inside one (such as "is this still the latest revision?") holds until it commits.
        """
        con = self.con
        self.require_writable()
        with self._write_lock:
            con.execute("BEGIN")
            try:
                yield con
                con.execute("COMMIT")
            except BaseException as error:
                _roll_back(con)
                if isinstance(error, duckdb.Error) and _disk_full(error):
                    raise CircusError(f"The disk holding the store at '{self.root}' is full"
                                      f" ({error}); nothing of this change was written. Free"
                                      " some space and try again.", value=str(self.root)
                                      ) from error
                raise

    def require_writable(self) -> None:
        """Raise ``CircusError`` if the catalog is open read-only."""
        if self.read_only:
            raise CircusError(f"The store at '{self.root}' is open read-only; open it with"
                              " read_only=False to change it.")

    def close(self) -> None:
        """Close the connection (and delete a temporary store). Safe to repeat.

        Safe while other threads use the store: a write in progress is let finish
        first, a query in progress is waited for, and afterwards every thread gets
        the "store is closed" error. The store can be opened again at once.
        """
        with self._write_lock:  # a transaction of another thread finishes first
            self._closer()
