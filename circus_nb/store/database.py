"""What the SQL of this package runs on: one small interface, a backend behind it.

Every function in :mod:`circus_nb.store` takes a :class:`Database` and calls
:meth:`~Database.execute` with SQL written in the subset that DuckDB and PostgreSQL
both accept (``x = ANY(?)``, ``tags @> ?``, ``strpos``, ``starts_with``,
``ON CONFLICT``, ``?`` placeholders). Results are fetched whole before the
backend lets go of its connection, and become DataFrames the same way on every
backend, so the api layer cannot tell them apart.

>>> result = Result(["a", "b"], [(1, "x"), (2, None)])
>>> result.fetchone(), len(result.fetchall())
((1, 'x'), 2)
>>> frame = result.df()
>>> list(frame.columns), frame["a"].tolist(), frame["b"].isna().tolist()
(['a', 'b'], [1, 2], [False, True])
"""

from __future__ import annotations

import contextlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from ..errors import CircusError

__all__ = ["Database", "Result", "frame"]


def frame(columns: Sequence[str], rows: Sequence[tuple]) -> pd.DataFrame:
    """Rows as a DataFrame: the one conversion every backend uses."""
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    return pd.DataFrame.from_records(list(rows), columns=list(columns))


class Result:
    """The rows of one statement, already fetched."""

    __slots__ = ("_columns", "_rows")

    def __init__(self, columns: Sequence[str], rows: list[tuple]):
        self._columns, self._rows = columns, rows

    def fetchone(self) -> tuple | None:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[tuple]:
        return self._rows

    def df(self) -> pd.DataFrame:
        return frame(self._columns, self._rows)


class Database(ABC):
    """A catalog's tables, whatever holds them; use it through :class:`Catalog`.

    Statements outside :meth:`transaction` are reads. Safe to share between the
    threads of a process: each call runs whole before another starts.
    """

    kind = "?"  # "duckdb" or "postgresql": for messages, and where store/ SQL differs
    read_only = False
    user_role = False  # a server connection as a circus user's own role (see postgres/)

    def __init__(self, operations: threading.RLock, closed: Callable[[], CircusError | None]):
        self._operations = operations  # held by each operation, one at a time per process
        self._closed = closed  # the error for use after close(), or None

    def _check_open(self) -> None:
        error = self._closed()
        if error is not None:
            raise error

    def wait_idle(self, seconds: float) -> bool:
        """Wait (at most ``seconds``) for the operation in progress in this process to
        end; whether it did."""
        if not self._operations.acquire(timeout=seconds):
            return False
        self._operations.release()
        return True

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result:
        """Run one statement and fetch its rows."""

    def generation(self) -> int | None:
        """A number that changes whenever the catalog may have changed since it was last
        asked, so that what was read from it can be kept until then; ``None`` where that
        cannot be known (a server others write to at any time): read again each time."""
        return None

    def frame(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        """``execute(sql, params).df()``, which a backend may fetch column by column:
        the same frame, faster for thousands of rows (a long case history)."""
        return self.execute(sql, params).df()

    @abstractmethod
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement once per row of parameters (inside a transaction)."""

    @abstractmethod
    def insert_frame(self, table: str, rows: pd.DataFrame) -> None:
        """Insert many rows at once; the frame's column names are the table's."""

    @abstractmethod
    def transaction(self) -> contextlib.AbstractContextManager[Database]:
        """Everything inside is written, or nothing is. A transaction opened inside
        another on the same thread joins it."""

    @abstractmethod
    def tables(self) -> list[str]:
        """The names of the catalog's tables (for migrations and snapshots)."""

    def user_added(self, email: str) -> None:  # noqa: B027 - most backends need nothing
        """A user was added (inside the transaction): a server makes its login role."""

    @abstractmethod
    def close(self) -> None:
        """Let go of the connection; safe to repeat."""
