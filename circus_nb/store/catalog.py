"""``Catalog``: the DuckDB file of one store folder, its schema and transactions.

The catalog knows nothing of privileges: the layer above checks them and calls
the SQL functions of this package with :attr:`Catalog.con`.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path

import duckdb

from ..domain.privileges import GLOBAL_PRIVILEGES
from ..errors import CircusError, ValidationError
from . import accounts, staging
from ._connection import connect, release
from .migrations import migrate
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


def _close(con: duckdb.DuckDBPyConnection, cursors: list[duckdb.DuckDBPyConnection],
           catalog: Path, read_only: bool, temporary: bool) -> None:
    # Runs from close() or, if the user forgot, when the Catalog is collected.
    for cursor in cursors:
        cursor.close()
    con.close()
    release(catalog, read_only)
    if temporary:
        shutil.rmtree(catalog.parent, ignore_errors=True)


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
                 temporary: bool = False):
        self.root = root
        self.read_only = read_only
        self._con = con
        self._owner = threading.get_ident()
        self._cursors: list[duckdb.DuckDBPyConnection] = []  # one per other thread
        self._local = threading.local()
        self._write_lock = threading.RLock()
        self._closer = weakref.finalize(self, _close, con, self._cursors, root / CATALOG,
                                        read_only, temporary)

    @classmethod
    def create(cls, path: Path | None, admin: str) -> Catalog:
        """A new catalog in ``path`` (new or empty; ``None``: a temporary folder that is
        deleted on close) whose first user, ``admin``, is in group ``admins``."""
        temporary = path is None
        root = Path(tempfile.mkdtemp(prefix="circus-nb-") if temporary else path).absolute()
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
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
                          temporary=temporary)
            migrate(catalog.con, read_only=False, where=str(root))
            with catalog.transaction() as con:
                accounts.insert_group(con, ADMIN_GROUP, GLOBAL_PRIVILEGES, ["default"])
                accounts.insert_user(con, admin, None)
                accounts.set_memberships(con, admin, [ADMIN_GROUP])
        except BaseException:
            if catalog is not None:
                catalog.close()
            _empty(root, remove=created_root)  # the folder was empty: leave it so
            raise
        return catalog

    @classmethod
    def open(cls, path: str | Path, read_only: bool) -> Catalog:
        """Open the catalog in ``path`` and migrate it to the newest schema."""
        root = Path(path).absolute()
        file = root / CATALOG
        if not file.is_file():
            raise accounts.not_found(
                "store", str(root), [],
                f"There is no {CATALOG} there. Make one with cnb.Store.create(path).")
        catalog = cls(root, connect(file.resolve(), read_only=read_only), read_only=read_only)
        try:
            migrate(catalog.con, read_only=read_only, where=str(root))
            if not read_only:  # what imports killed before they finished left behind
                staging.recover(root, lambda paths: managed_paths(catalog.con, paths))
        except BaseException:
            catalog.close()
            raise
        return catalog

    @property
    def data_dir(self) -> Path:
        return self.root / DATA_DIR

    @property
    def closed(self) -> bool:
        return not self._closer.alive

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """This thread's connection; a closed catalog raises ``CircusError``.

        A DuckDB connection must not be used by two threads at once, so every
        thread other than the opening one gets a cursor of its own.
        """
        if self.closed:
            raise CircusError(f"The store at '{self.root}' is closed. Open it again with"
                              " cnb.Store.open(path, user=...).")
        if threading.get_ident() == self._owner:
            return self._con
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._local.cursor = self._con.cursor()
            self._cursors.append(cursor)
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
        """Close the connection (and delete a temporary store). Safe to repeat."""
        self._closer()
