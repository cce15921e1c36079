"""``Catalog``: the DuckDB file of one store folder, its schema and transactions.

The catalog knows nothing of privileges: the layer above checks them and calls
the SQL functions of this package with :attr:`Catalog.con`.
"""

from __future__ import annotations

import contextlib
import shutil
import weakref
from collections.abc import Callable
from pathlib import Path

import duckdb

from ..domain.privileges import GLOBAL_PRIVILEGES
from ..errors import CircusError, ValidationError
from . import accounts, staging
from ._connection import damaged
from .database import Database
from .embedded import EmbeddedDatabase
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


def _closed(where: object) -> CircusError:
    return CircusError(f"The store at '{where}' is closed. Open it again with"
                       " cnb.Store.open(path, user=...).")


def is_server_url(target: object) -> bool:
    """Whether ``target`` names a PostgreSQL server rather than a store folder.

    >>> is_server_url("postgresql://lab@db.example.org/circus"), is_server_url("stores/a")
    (True, False)
    """
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


DEFAULT_TIMEOUT = 30.0  # seconds to wait for another process's turn on the store
CLOSE_WAIT_SECONDS = 30.0  # how long close() lets another thread's operation finish


class Catalog:
    """An open catalog: its :class:`Database`, and the folder of its files.

    Use :meth:`create` / :meth:`open` (a store folder with an embedded DuckDB file) or
    :meth:`create_on_server` / :meth:`open_on_server` (PostgreSQL).
    """

    def __init__(self, root: Path, database: Callable[[Callable[[], CircusError | None]],
                                                      Database],
                 *, read_only: bool, url: str | None = None, where: str | None = None,
                 scratch: Scratch | None = None):
        self.root = root  # resolved: every process must name the same files
        self.location: Path | str = url or root  # what Store.open takes to open it again
        self.where = where or str(root)  # the store, as messages name it
        self.read_only = read_only
        self._closed = False
        self.con: Database = database(lambda: _closed(self.where) if self._closed else None)
        self._closer = weakref.finalize(self, _close, self.con, scratch)

    @classmethod
    def _embedded(cls, root: Path, read_only: bool, timeout: float,
                  scratch: Scratch | None = None) -> Catalog:
        return cls(root, lambda closed: EmbeddedDatabase(
            root / CATALOG, read_only=read_only, timeout=timeout, closed=closed),
            read_only=read_only, scratch=scratch)

    def _seed(self, admin: str) -> None:
        with self.transaction() as con:
            accounts.insert_group(con, ADMIN_GROUP, GLOBAL_PRIVILEGES, ["default"])
            accounts.insert_user(con, admin, None)
            accounts.set_memberships(con, admin, [ADMIN_GROUP])

    @classmethod
    def create(cls, path: Path | None, admin: str, timeout: float = DEFAULT_TIMEOUT
               ) -> Catalog:
        """A new catalog in ``path`` (new or empty; ``None``: a temporary folder that is
        deleted on close) whose first user, ``admin``, is in group ``admins``."""
        scratch = Scratch.make() if path is None else None
        # Resolved once: ".." and symlinks must name the one file every process shares.
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
            catalog = cls._embedded(root, read_only=False, timeout=timeout, scratch=scratch)
            with catalog.transaction():  # makes the file
                pass
            migrate(catalog.con, read_only=False, where=str(root))
            catalog._seed(admin)
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
    def open(cls, path: str | Path, read_only: bool, timeout: float = DEFAULT_TIMEOUT
             ) -> Catalog:
        """Open the catalog in ``path`` and migrate it to the newest schema.

        Raises
        ------
        NotFoundError
            If there is no catalog in ``path``.
        CircusError
            If another process keeps it busy for longer than ``timeout`` seconds, or it
            is newer than this package, or damaged.
        """
        root = Path(path).resolve()  # once: see create()
        file = root / CATALOG
        if not file.is_file():
            raise accounts.not_found(
                "store", str(root), [],
                f"There is no {CATALOG} there. Make one with cnb.Store.create(path).")
        catalog = cls._embedded(root, read_only=read_only, timeout=timeout)
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

    @classmethod
    def create_on_server(cls, url: str, admin: str, data_dir: Path) -> Catalog:
        """A new catalog in the (empty) PostgreSQL database at ``url``; the managed DICOM
        files go to ``data_dir``, a folder every client reaches at that path."""
        from .postgres import server

        return server.create(cls, url, admin, data_dir)

    @classmethod
    def open_on_server(cls, url: str, read_only: bool, data_dir: Path | None = None
                       ) -> Catalog:
        """The catalog in the PostgreSQL database at ``url``; ``data_dir`` overrides the
        folder recorded at creation (a client that mounts it elsewhere)."""
        from .postgres import server

        return server.open(cls, url, read_only, data_dir)

    def recover_staging(self) -> None:
        """Remove what imports killed before they finished left behind: files placed
        for a batch that no instance row points at, and stale staging folders."""
        staging.recover(self.root, lambda paths: managed_paths(self.con, paths))

    @property
    def data_dir(self) -> Path:
        return self.root / DATA_DIR

    @property
    def closed(self) -> bool:
        return self._closed

    def transaction(self) -> contextlib.AbstractContextManager[Database]:
        """One transaction: everything inside is written, or nothing is.

        Transactions run one after the other (across processes too: a writer holds
        the file), so a check made inside one (such as "is this still the latest
        revision?") holds until it commits.
        """
        self.require_writable()
        return self.con.transaction()

    def require_writable(self) -> None:
        """Raise ``CircusError`` if the catalog is open read-only (or closed)."""
        if self._closed:
            raise _closed(self.where)
        if self.read_only:
            raise CircusError(f"The store at '{self.where}' is open read-only; open it with"
                              " read_only=False to change it.")

    def close(self) -> None:
        """Let go of the catalog (and delete a temporary store). Safe to repeat.

        Safe while other threads use the store: an operation in progress is let
        finish first (up to CLOSE_WAIT_SECONDS), and afterwards every thread gets
        the "store is closed" error.
        """
        self._closed = True
        self.con.wait_idle(CLOSE_WAIT_SECONDS)
        self._closer()


def _close(con: Database, scratch: Scratch | None) -> None:
    try:
        con.close()
    finally:
        if scratch is not None:
            scratch.remove()
