"""Opening the DuckDB catalog, with the in-use guard DuckDB lacks in-process.

DuckDB refuses a second *process* while a writer holds the file, but inside one
process every connection to a file shares one database, so a second read-write
open would silently succeed. We keep our own registry of open catalogs and turn
DuckDB's lock errors into a :class:`CircusError` that says what to do.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

import duckdb

from ..errors import CircusError

# Never reach for the network: a missing extension fails at once, nothing lands
# in the user's home folder.
_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}

_lock = threading.Lock()
_open: dict[Path, list[bool]] = {}  # catalog path -> read_only flag of each open handle


def _in_use(catalog: Path, holder: str) -> CircusError:
    return CircusError(
        f"The store at '{catalog.parent}' is in use: {holder}. A store is open read-write"
        " in one place at a time, and read-only only while no writer holds it. Close the"
        " other handle first (store.close()), or wait for that process to finish.",
        value=str(catalog.parent),
    )


def _claim(catalog: Path, read_only: bool) -> None:
    with _lock:
        modes = _open.get(catalog, [])
        if modes and (not read_only or not all(modes)):
            held = "read-write" if not all(modes) else "read-only"
            raise _in_use(catalog, f"it is already open {held} in this process")
        _open.setdefault(catalog, []).append(read_only)


def release(catalog: Path, read_only: bool) -> None:
    """Forget one open handle of ``catalog``."""
    with _lock:
        modes = _open.get(catalog, [])
        if read_only in modes:
            modes.remove(read_only)
        if not modes:
            _open.pop(catalog, None)


def connect(catalog: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    """Open ``catalog`` (already resolved), or raise ``CircusError`` if it is in use."""
    _claim(catalog, read_only)
    try:
        con = duckdb.connect(str(catalog), read_only=read_only, config=_CONFIG)
        con.execute("SET TimeZone = 'UTC'")
        return con
    except duckdb.IOException as e:
        release(catalog, read_only)
        if "lock" not in str(e).lower():
            raise CircusError(f"Cannot open the catalog '{catalog}': {e}") from e
        pid = re.search(r"PID (\d+)", str(e))
        raise _in_use(catalog, f"another process{f' (PID {pid[1]})' if pid else ''} holds"
                      " it") from None
    except BaseException:
        release(catalog, read_only)
        raise
