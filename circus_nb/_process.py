"""Whether a process still runs (for workers watching their importer, and for telling
the leftovers of a dead export from an export in progress).

>>> import os
>>> alive(os.getpid())
True
"""

from __future__ import annotations

import os

__all__ = ["alive"]


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
