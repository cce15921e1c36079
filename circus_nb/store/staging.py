"""The files an import writes before its catalog rows, and undoing them after a crash.

Each import works in a folder of its own, ``tmp/import-<id>/``: archive entries
are extracted there and copies are written there first (``*.part``), then
renamed into ``data/``. Before a batch's files are placed, a journal listing
their destinations is written to that folder; it is deleted once the batch's
rows are committed (or its files removed). A journal that is still there means
the import died in between (``kill -9``, a power cut): :func:`recover`, run
when a store is opened read-write and before each import, removes the files it
lists that no instance row points at, then every staging folder. So a crash
costs at most a batch of work, never an orphan file, and no scan of ``data/``
(which may hold a million files) is ever needed.

>>> import tempfile
>>> from pathlib import Path
>>> root = Path(tempfile.mkdtemp())
>>> staging = Staging(root)
>>> placed = root / "data" / "1.2.3" / "00000001.dcm"
>>> journal = staging.journal([placed])
>>> placed.parent.mkdir(parents=True); _ = placed.write_bytes(b"x")   # then the crash
>>> undone = recover(root, committed=lambda paths: set())
>>> undone, placed.exists(), (root / "tmp").exists() and any((root / "tmp").iterdir())
(1, False, False)
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from ..domain.values import new_id

__all__ = ["TMP_DIR", "Staging", "recover"]

TMP_DIR = "tmp"
_JOURNAL = "journal-{}.txt"


class Staging:
    """The staging folder of one import, created at once, removed by :meth:`remove`."""

    def __init__(self, root: Path):
        self.root = root
        self.folder = root / TMP_DIR / f"import-{new_id()}"
        self.folder.mkdir(parents=True)

    def part(self) -> Path:
        """A new name for a file being copied in (renamed into place once complete)."""
        return self.folder / f"{new_id()}.part"

    def journal(self, destinations: Iterable[Path]) -> Path:
        """Write the journal of a batch about to place files at ``destinations``.

        Raises
        ------
        OSError
            If it cannot be written (a full disk, for one): then nothing is placed.
        """
        journal = self.folder / _JOURNAL.format(new_id())
        lines = "".join(f"{dest.relative_to(self.root).as_posix()}\n" for dest in destinations)
        try:
            journal.write_text(lines, encoding="utf-8")
        except BaseException:
            journal.unlink(missing_ok=True)
            raise
        return journal

    def remove(self) -> None:
        """Delete the staging folder and everything still in it (and ``tmp/`` if empty)."""
        shutil.rmtree(self.folder, ignore_errors=True)
        _remove_if_empty(self.folder.parent)


def recover(root: Path, committed: Callable[[list[str]], set[str]]) -> int:
    """Undo what killed imports left in store ``root``; return the files removed.

    Only call it while no import of this store runs. ``committed`` tells which
    of the given store-relative paths an instance row points at: those stay.
    """
    tmp = root / TMP_DIR
    if not tmp.is_dir():
        return 0
    removed = 0
    for leftover in sorted(tmp.iterdir()):
        for journal in sorted(leftover.glob(_JOURNAL.format("*"))) if leftover.is_dir() else ():
            removed += _undo(root, journal, committed)
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
    return removed


def _undo(root: Path, journal: Path, committed: Callable[[list[str]], set[str]]) -> int:
    listed = [line for line in journal.read_text(encoding="utf-8", errors="replace")
              .splitlines() if line.startswith("data/")]  # a path of ours, nothing else
    keep = committed(listed) if listed else set()
    removed = 0
    for relative in listed:
        if relative not in keep and ".." not in relative.split("/"):
            path = root / relative
            if path.is_file():
                path.unlink()
                removed += 1
            _remove_if_empty(path.parent)
    journal.unlink()
    return removed


def _remove_if_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not empty (or already gone): leave it
        folder.rmdir()
