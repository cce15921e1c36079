"""The PostgreSQL backend: the package's SQL on a server, through psycopg 3.

The SQL of :mod:`circus_nb.store` is written once, with ``?`` placeholders; here they
become psycopg's ``%s``. Lists of text go to the server as ``text[]`` and columns are
``varchar[]``, so list parameters are cast where the column's type decides
(:func:`to_server`). One connection per open store, used by one thread at a time;
:meth:`transaction` is a server transaction (nested ones join it).

>>> to_server("SELECT a FROM t WHERE b = ANY(?) AND c LIKE '%x' AND d = ?")
"SELECT a FROM t WHERE b = ANY(%s) AND c LIKE '%%x' AND d = %s"
"""

from __future__ import annotations

import contextlib
import functools
import math
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
import psycopg

from ...errors import CircusError, PermissionDenied
from ..database import Database, Result
from .security import user_role_statements


@functools.lru_cache(maxsize=1024)
def to_server(sql: str) -> str:
    """``sql`` with psycopg's placeholders (and its ``%`` escaped)."""
    return sql.replace("%", "%%").replace("?", "%s")


def _plain(value: Any) -> Any:
    """A frame's cell as psycopg adapts it: numpy scalars as Python ones, NaN as NULL."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NaT:
        return None
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


class PostgresDatabase(Database):
    """The catalog tables in the database at ``url``."""

    kind = "postgresql"

    def __init__(self, url: str, *, read_only: bool, closed: Callable[[], CircusError | None]):
        super().__init__(threading.RLock(), closed)
        self.url, self.read_only = url, read_only
        # jit=off: compiling a search's plan took 140 ms of its 1,100 over a million cases,
        # and a catalog's queries are short (benchmarks/explain)
        options = "-c TimeZone=UTC -c jit=off" + (" -c default_transaction_read_only=on"
                                       if read_only else "")
        try:
            self._con = psycopg.connect(url, autocommit=True, options=options)
        except psycopg.Error as e:
            raise CircusError(f"Cannot connect to the PostgreSQL server at {_shown(url)}:"
                              f" {str(e).strip()}. Check the URL (postgresql://user@host:port"
                              "/database), that the server runs, and the credentials.",
                              value=_shown(url)) from None
        self._depth = 0

    @contextlib.contextmanager
    def _held(self) -> Iterator[psycopg.Connection]:
        self._check_open()
        with self._operations:
            try:
                yield self._con
            except psycopg.Error as e:
                raise self._refusal(e) from e

    def _refusal(self, error: psycopg.Error) -> CircusError:
        """The server's refusal as this package's errors say things."""
        text = (error.diag.message_primary or str(error)).strip()
        where = _shown(self.url)
        if isinstance(error, psycopg.errors.InsufficientPrivilege):
            return PermissionDenied(
                f"The PostgreSQL server at {where} refused this to your role: {text}. The"
                " server applies the store's privileges to users connected as their own"
                " role; ask an administrator for the group that grants it.", value=text)
        if isinstance(error, psycopg.OperationalError):
            return CircusError(f"The connection to the PostgreSQL server at {where} failed"
                               f" ({text}); nothing of the change in progress was written."
                               " Open the store again when the server is back.", value=text)
        return CircusError(f"The PostgreSQL server at {where} refused a statement ({text});"
                           " nothing of it was written.", value=text)

    @functools.cached_property
    def user_role(self) -> bool:
        """Whether this connection is a circus user's own role (not the tables' owner):
        the server then enforces the privileges, and some changes go through its
        functions rather than plain SQL."""
        row = self.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'circus_users')"
            " AND pg_has_role(current_user, 'circus_users', 'MEMBER')"
            " AND current_user <> (SELECT tableowner FROM pg_tables"
            "                      WHERE tablename = 'cases' LIMIT 1)").fetchone()
        return bool(row[0])

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result:
        with self._held() as con:
            cursor = con.execute(to_server(sql), list(params))
            if cursor.description is None:
                return Result([], [])
            return Result([d.name for d in cursor.description], cursor.fetchall())

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._held() as con, con.cursor() as cursor:
            cursor.executemany(to_server(sql), [list(row) for row in rows])

    def insert_frame(self, table: str, rows: pd.DataFrame) -> None:
        columns = ", ".join(rows.columns)
        with self._held() as con, con.cursor() as cursor, \
                cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows.itertuples(index=False, name=None):
                copy.write_row([_plain(v) for v in row])

    @contextlib.contextmanager
    def transaction(self) -> Iterator[PostgresDatabase]:
        with self._held() as con:
            if self._depth:  # this thread is inside one already: join it
                yield self
                return
            self._depth += 1
            try:
                with con.transaction():
                    yield self
            finally:
                self._depth -= 1

    def tables(self) -> list[str]:
        return [name for (name,) in self.execute(
            "SELECT table_name FROM information_schema.tables"
            # a user's role has the masking views first in its path: the tables come after
            " WHERE table_schema = ANY(current_schemas(false)) AND table_type = 'BASE TABLE'"
            " ORDER BY table_name").fetchall()]

    def user_added(self, email: str) -> None:
        for statement in user_role_statements(email):
            self.execute(statement)

    def close(self) -> None:
        with contextlib.suppress(psycopg.Error):
            self._con.close()


def _shown(url: str) -> str:
    """``url`` without its password."""
    head, at, tail = url.rpartition("@")
    if not at or ":" not in head.split("//", 1)[-1]:
        return url
    scheme, _, credentials = head.partition("//")
    return f"{scheme}//{credentials.split(':', 1)[0]}:***@{tail}"
