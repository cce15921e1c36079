"""Facts of the operating system the store layers share: whether a process still runs
(workers watch their importer; a dead export's leftovers are told from a live one's),
which errors mean a full disk, and a lock file nobody else holds.

>>> import os
>>> alive(os.getpid())
True
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import IO

try:
    import fcntl
except ImportError:  # Windows: no file locks; try_lock() then always succeeds
    fcntl = None

__all__ = ["DISK_FULL", "alive", "try_lock"]

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)  # errors that mean: no room left to write


def alive(pid: int) -> bool:
    """Whether process ``pid`` runs.

    A killed process that its parent has not reaped yet (a zombie) still answers
    ``kill(pid, 0)``; on Linux its state says it is gone. A process of another user
    (``PermissionError``) runs.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in (b"Z", b"X")


def try_lock(path: Path) -> IO[bytes] | None:
    """``path`` opened and locked (exclusively), or ``None`` when another process holds
    a lock on it. The lock lasts while the returned file stays open."""
    handle = open(path, "ab")  # noqa: SIM115 - the caller keeps it open to keep the lock
    if fcntl is None:
        return handle
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    return handle
