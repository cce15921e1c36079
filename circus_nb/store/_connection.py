"""Opening the DuckDB catalog, with the in-use guard DuckDB lacks in-process.

DuckDB refuses a second *process* while a writer holds the file, but inside one
process every connection to a file shares one database, so a second read-write
open would silently succeed. We keep our own registry of open catalogs (keyed by
the resolved path) and turn DuckDB's lock errors into a :class:`CircusError` that
says what to do. A damaged catalog file (truncated, emptied, overwritten) is
refused the same way, before anything is written to it.
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


# A DuckDB file is a 4 KiB main header and two 4 KiB database headers, then its blocks.
_HEADERS = 3 * 4096


def damaged(catalog: Path, reason: object) -> CircusError:
    """The error for a catalog file DuckDB cannot read."""
    return CircusError(
        f"The catalog '{catalog}' is damaged and cannot be opened ({reason}). Nothing in the"
        f" store folder was changed. Restore {catalog.name} from a backup; the DICOM files in"
        f" '{catalog.parent / 'data'}' are untouched, and a new store can import them again.",
        value=str(catalog),
    )


def _check_size(con: duckdb.DuckDBPyConnection, catalog: Path) -> None:
    # A truncated file opens, and fails only when a missing block is read.
    _, _, block_size, total_blocks, *_ = con.execute("PRAGMA database_size").fetchone()
    expected = _HEADERS + block_size * total_blocks
    size = catalog.stat().st_size
    if size < expected:
        raise damaged(catalog, f"the file has {size} bytes where its header promises"
                               f" {expected}; it was cut short")


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


def _connect(catalog: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    try:
        con = duckdb.connect(str(catalog), read_only=read_only, config=_CONFIG)
    except duckdb.IOException as e:
        if "lock" not in str(e).lower():
            raise damaged(catalog, e) from None
        pid = re.search(r"PID (\d+)", str(e))
        raise _in_use(catalog, f"another process{f' (PID {pid[1]})' if pid else ''} holds"
                      " it") from None
    except duckdb.Error as e:  # e.g. a serialization error in a garbled header
        raise damaged(catalog, e) from None
    try:
        _check_size(con, catalog)
        con.execute("SET TimeZone = 'UTC'")
    except BaseException:
        con.close()
        raise
    return con


def connect(catalog: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    """Open ``catalog`` (already resolved).

    Raises
    ------
    CircusError
        If it is in use elsewhere, or damaged.
    """
    _claim(catalog, read_only)
    try:
        return _connect(catalog, read_only)
    except BaseException:
        release(catalog, read_only)
        raise
