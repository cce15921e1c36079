"""Making and opening a store whose catalog is a PostgreSQL database.

The schema is the embedded store's, migration by migration (types translated), so the
same SQL runs on both. The folder for the managed DICOM files is recorded in the
``settings`` table at creation; every client must reach it at that path (or say where
it is mounted with ``data_dir=`` when opening).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ...errors import CircusError, ValidationError
from ..migrations import current_version, migrate
from .database import PostgresDatabase, _shown
from .schema import INDEXES, translate_types
from .security import security_statements

if TYPE_CHECKING:
    from ..catalog import Catalog

DATA_DIR_KEY = "data_dir"


def _catalog(cls: type[Catalog], url: str, read_only: bool, root: Path) -> Catalog:
    return cls(root, lambda closed: PostgresDatabase(url, read_only=read_only, closed=closed),
               read_only=read_only, url=url, where=_shown(url))


def create(cls: type[Catalog], url: str, admin: str, data_dir: Path) -> Catalog:
    root = Path(data_dir).resolve()
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ValidationError(f"Cannot use '{root}' as the data folder of a new server store:"
                              " it exists and is not an empty folder. Choose a new or empty"
                              " folder that every client reaches.", field="data_dir",
                              value=str(root))
    catalog = _catalog(cls, url, False, root)
    try:
        if current_version(catalog.con):
            raise ValidationError(f"The database at {catalog.where} holds a store already:"
                                  " open it with cnb.Store.open(url, user=...), or create the"
                                  " store in a new database.", field="path",
                                  value=catalog.where)
        migrate(catalog.con, read_only=False, where=catalog.where, translate=translate_types)
        with catalog.transaction() as con:
            for statement in (*INDEXES, *security_statements()):
                con.execute(statement)
            con.execute("INSERT INTO settings VALUES (?, ?)", [DATA_DIR_KEY, str(root)])
        (root / "data").mkdir(parents=True, exist_ok=True)
        catalog._seed(admin)
    except BaseException:
        catalog.close()
        raise
    return catalog


def _index(catalog: Catalog) -> None:
    """Make the indexes the package lists that the tables lack: a store made by an older
    circus_nb gets those its queries now use when its owner opens it (a user's own role
    may not; building one locks the table's writes for a while, once)."""
    with catalog.transaction() as con:
        for statement in INDEXES:  # each IF NOT EXISTS
            con.execute(statement)


def open(cls: type[Catalog], url: str, read_only: bool, data_dir: Path | None) -> Catalog:
    catalog = _catalog(cls, url, read_only, Path())  # its folder is read from the catalog
    try:
        if not current_version(catalog.con):
            raise CircusError(f"The database at {catalog.where} holds no circus_nb store. Make"
                              " one with cnb.Store.create(url, admin=..., data_dir=...).",
                              value=catalog.where)
        migrate(catalog.con, read_only=read_only, where=catalog.where,
                translate=translate_types)
        if not read_only and not catalog.con.user_role:
            _index(catalog)
        row = catalog.con.execute("SELECT value FROM settings WHERE key = ?",
                                  [DATA_DIR_KEY]).fetchone()
        catalog.root = Path(data_dir).resolve() if data_dir is not None else Path(row[0])
        if not read_only:
            catalog.recover_staging()
    except BaseException:
        catalog.close()
        raise
    return catalog
