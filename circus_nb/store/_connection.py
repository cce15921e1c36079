"""Opening a DuckDB catalog file once: its lock, and the damage checks.

DuckDB lets one process hold a file read-write, or several hold it read-only.
A lock held elsewhere comes out as :class:`Locked` (with the holder's PID), for
:mod:`.sharing` to wait on. A damaged catalog file (truncated, emptied, overwritten)
is refused with a :class:`CircusError`, before anything is written to it.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from ..errors import CircusError

# Never reach for the network: a missing extension fails at once, nothing lands
# in the user's home folder.
_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}

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
    # A truncated file opens, and fails only when a missing block is read. While a write
    # log is there (a process ended without a checkpoint) the size counts its blocks too.
    if catalog.with_name(catalog.name + ".wal").exists():
        return
    # Free blocks at the end are cut off the file, so only the used ones bound its size.
    _, _, block_size, _, used_blocks, *_ = con.execute("PRAGMA database_size").fetchone()
    expected = _HEADERS + block_size * used_blocks
    size = catalog.stat().st_size
    if size < expected:
        raise damaged(catalog, f"the file has {size} bytes where its header promises"
                               f" {expected}; it was cut short")


class Locked(Exception):
    """Another process holds the catalog file (DuckDB's file lock); ``pid`` if DuckDB said."""

    def __init__(self, pid: int | None):
        super().__init__(pid)
        self.pid = pid


def connect(catalog: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    """Open ``catalog`` (already resolved).

    Raises
    ------
    Locked
        If another process holds it (the caller waits and tries again).
    CircusError
        If it is damaged.
    """
    try:
        con = duckdb.connect(str(catalog), read_only=read_only, config=_CONFIG)
    except duckdb.IOException as e:
        if "lock" not in str(e).lower():
            raise damaged(catalog, e) from None
        pid = re.search(r"PID (\d+)", str(e))
        raise Locked(int(pid[1]) if pid else None) from None
    except duckdb.Error as e:  # e.g. a serialization error in a garbled header
        raise damaged(catalog, e) from None
    try:
        _check_size(con, catalog)
        con.execute("SET TimeZone = 'UTC'")
        # DuckDB's own progress bar would draw on stderr in the middle of a notebook's
        # output during a long migration.
        con.execute("SET enable_progress_bar = false")
    except BaseException:
        con.close()
        raise
    return con


