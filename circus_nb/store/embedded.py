"""The embedded backend: a DuckDB file in the store folder, shared per operation.

Each statement (or transaction) takes the file through :mod:`.sharing` and lets it go,
so other processes can use the store in between.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from ..errors import CircusError
from .database import Database, Result, frame
from .sharing import share

_BATCH = "_circus_batch"  # the name a bulk insert's frame is registered under


def _disk_full(error: BaseException) -> bool:
    text = str(error)
    return isinstance(error, duckdb.Error) and (
        "No space left on device" in text or "Disk quota exceeded" in text)


def as_from_rows(result: pd.DataFrame) -> pd.DataFrame:
    """A frame DuckDB built, with the dtypes :func:`~.database.frame` gives the same rows:
    integers as int64 (float64 with a NULL) and lists as Python lists (DuckDB gives int32,
    nullable integers and numpy arrays).

    >>> con = duckdb.connect()
    >>> built = con.execute("SELECT 1::INTEGER AS i, ['a'] AS l").df()
    >>> built["i"].dtype, type(built["l"][0]).__name__
    (dtype('int32'), 'ndarray')
    >>> fixed = as_from_rows(built)
    >>> fixed["i"].dtype, fixed["l"][0]
    (dtype('int64'), ['a'])
    """
    for name, column in result.items():
        if pd.api.types.is_integer_dtype(column.dtype):  # with a NULL: floats, as from rows
            result[name] = column.astype("float64" if column.isna().any() else "int64")
        elif column.dtype == object:
            result[name] = column.map(lambda v: v.tolist() if isinstance(v, np.ndarray) else v)
    return result


class EmbeddedDatabase(Database):
    """The catalog file ``path`` (resolved), opened as needed for each operation.

    ``closed`` is asked before every operation: it turns use after ``close()`` into
    the caller's error.
    """

    kind = "duckdb"

    def __init__(self, path: Path, *, read_only: bool, timeout: float,
                 closed: Callable[[], CircusError | None]):
        self._shared = share(path)
        super().__init__(self._shared.lock, closed)
        self.path, self.read_only, self.timeout = path, read_only, timeout
        self._unshared = False

    @contextlib.contextmanager
    def _hold(self, write: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        self._check_open()
        # A store open read-write reads read-write too: its next save then needs no reopen
        # (a reopen costs ~10 ms, and in between another process may take the file).
        with self._shared.hold(write or not self.read_only, self.timeout) as con:
            yield con

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result:
        with self._hold() as con:
            cursor = con.execute(sql, params)
            rows = cursor.fetchall()
            return Result([d[0] for d in cursor.description or ()], rows)

    def generation(self) -> int:
        # Asked while holding the file: a closed one opens, which counts as a change. While
        # this process holds the file, no other process can write to it.
        with self._hold():
            return self._shared.generation

    def frame(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        # DuckDB builds the columns itself, ~5x faster than Python rows for 10,000 of them
        with self._hold() as con:
            cursor = con.execute(sql, params)
            result = cursor.df()
        if result.empty:  # typed columns here, object columns from rows: as from rows
            return frame(list(result.columns), [])
        return as_from_rows(result)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._hold() as con:
            con.executemany(sql, rows)

    def insert_frame(self, table: str, rows: pd.DataFrame) -> None:
        with self._hold() as con:
            con.register(_BATCH, rows)
            try:
                con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {_BATCH}")
            finally:
                con.unregister(_BATCH)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[EmbeddedDatabase]:
        with self._hold(write=True) as con:
            shared = self._shared
            if shared.in_transaction:  # this thread is inside one already: join it
                yield self
                return
            con.execute("BEGIN")
            shared.in_transaction = True
            try:
                yield self
                con.execute("COMMIT")
            except BaseException as error:
                # A COMMIT that failed (a full disk) has ended the transaction already,
                # and ROLLBACK then fails too: the first error is the one to report.
                with contextlib.suppress(duckdb.Error):
                    con.execute("ROLLBACK")
                if _disk_full(error):
                    raise CircusError(
                        f"The disk holding the store at '{self.path.parent}' is full"
                        f" ({error}); nothing of this change was written. Free some space"
                        " and try again.", value=str(self.path.parent)) from error
                raise
            finally:
                shared.in_transaction = False
                shared.generation += 1

    def tables(self) -> list[str]:
        return [name for (name,) in self.execute(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = 'main' ORDER BY table_name").fetchall()]

    def close(self) -> None:
        if not self._unshared:
            self._unshared = True
            self._shared.unshare()
