"""Throw-away store folders (``Store.create(None)``, ``cnb.demo_store()``).

One is made in the system's temporary folder and removed when its store is closed, or
when Python exits. A process that never gets there (a kernel killed at shutdown, kill -9,
the out-of-memory killer) would leave it behind, tens of megabytes each time, so every
scratch folder holds a lock file that its maker keeps locked while it lives; the next
process that makes a scratch folder removes those whose lock it can take. Folders
without that lock file are never touched.

>>> scratch = Scratch.make()
>>> scratch.root.name.startswith(PREFIX), (scratch.root / LOCK_FILE).is_file()
(True, True)
>>> scratch.root in sweep(scratch.root.parent)  # its maker lives: it stays
False
>>> scratch.remove(); scratch.root.exists()
False
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path
from typing import IO

from .._system import fcntl, try_lock  # without fcntl (Windows) nothing is swept

__all__ = ["LOCK_FILE", "PREFIX", "Scratch", "sweep"]

PREFIX = "circus-nb-"
LOCK_FILE = ".scratch-lock"


def sweep(folder: Path) -> list[Path]:
    """Remove the scratch folders in ``folder`` whose makers are gone; return them."""
    removed = []
    if fcntl is None:
        return removed
    for lock in folder.glob(f"{PREFIX}*/{LOCK_FILE}"):
        with contextlib.suppress(OSError):
            handle = try_lock(lock)
            if handle is not None:  # nobody holds it: its process has ended
                shutil.rmtree(lock.parent, ignore_errors=True)
                handle.close()
                removed.append(lock.parent)
    return removed


class Scratch:
    """A scratch folder, locked by this process until :meth:`remove`."""

    def __init__(self, root: Path, handle: IO[bytes]):
        self.root = root
        self._handle = handle

    @classmethod
    def make(cls) -> Scratch:
        """A new, empty (but for its lock file) scratch folder; stale ones are swept first."""
        sweep(Path(tempfile.gettempdir()))
        root = Path(tempfile.mkdtemp(prefix=PREFIX)).resolve()
        handle = try_lock(root / LOCK_FILE)
        assert handle is not None  # a folder nobody else knows of yet
        return cls(root, handle)

    def remove(self) -> None:
        """Delete the folder (safe to repeat)."""
        shutil.rmtree(self.root, ignore_errors=True)
        self._handle.close()
