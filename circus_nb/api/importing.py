"""``store.import_dicom``: fast, parallel, idempotent, with a report row per file.

The order of work is what keeps a store whole: files are placed first (copied
to a temporary name, then renamed into place), and only then are their catalog
rows written, one transaction per chunk. Before a chunk's files are placed, a
journal in the import's own staging folder lists them, so if the process dies
before the rows are committed, the next open (or import) removes exactly those
files (see :mod:`circus_nb.store.staging`). A full disk stops the import with a
:class:`~circus_nb.CircusError` after removing what the chunk placed. Imports
of one store run one after the other, even from several threads.

>>> import tempfile, circus_nb as cnb
>>> folder = tempfile.mkdtemp()
>>> _ = cnb.sample.write_ct_series(folder, n=3, size=16)
>>> store = cnb.Store.create(None)
>>> report = store.import_dicom(folder, progress=False)
>>> isinstance(report, cnb.ImportReport), report.counts["imported"]
(True, 3)
>>> store.import_dicom(folder, progress=False).counts["already_present"]
3

``progress`` may also be a function, told ``(done, total)`` as files are processed:

>>> seen = []
>>> _ = store.import_dicom(folder, progress=lambda done, total: seen.append((done, total)))
>>> seen[-1]
(3, 3)
>>> store.close()
"""

from __future__ import annotations

import contextlib
import filecmp
import os
import shutil
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from .._repr import card_html, card_text, table_html
from .._system import DISK_FULL
from ..dicom.header import Header, read_header
from ..dicom.parallel import SERIAL_BELOW, read_header_chunks, start_workers, stop_workers
from ..dicom.sources import Source, expand, require_paths
from ..domain.series import file_change
from ..domain.values import shown, text_problem
from ..errors import CircusError, ValidationError
from ..store import series as series_sql
from ..store import staging as staging_files
from ..store.catalog import Catalog

__all__ = ["STATUSES", "ImportReport", "import_dicom"]

STATUSES = ("imported", "already_present", "not_dicom", "unreadable", "no_instance_number",
            "invalid_uid", "conflict")
MODES = ("copy", "reference")
READ_CHUNK = 64  # files a worker reads at a time: small, so the pipeline fills fast
COMMIT_EVERY = 512  # files a transaction holds: large, so per-transaction costs stay small
_REPORT_COLUMNS = ["path", "status", "reason", "series_uid", "instance_number"]


class ImportReport:
    """What happened to every input file: ``files`` (a DataFrame) and ``counts``."""

    def __init__(self, files: pd.DataFrame, domain: str, mode: str, seconds: float):
        self.files = files
        self.domain = domain
        self.mode = mode
        self.seconds = seconds

    @property
    def counts(self) -> dict[str, int]:
        """``{status: number of files}`` for every status, zeros included."""
        found = self.files["status"].value_counts()
        return {status: int(found.get(status, 0)) for status in STATUSES}

    @property
    def series_uids(self) -> list[str]:
        """The series that received files in this import."""
        done = self.files[self.files["status"] == "imported"]
        return list(dict.fromkeys(done["series_uid"]))

    def problems(self) -> pd.DataFrame:
        """The rows of files that were not imported and are not already present."""
        return self.files[~self.files["status"].isin(["imported", "already_present"])]

    def _summary(self) -> str:
        parts = [f"{n} {status}" for status, n in self.counts.items() if n]
        return ", ".join(parts) or "no files"

    def _rows(self) -> list[tuple[str, Any]]:
        return [("files", len(self.files)), ("result", self._summary()),
                ("series", len(self.series_uids)), ("domain", self.domain),
                ("mode", self.mode), ("time", f"{self.seconds:.2f} s")]

    def __repr__(self) -> str:
        return f"<ImportReport {len(self.files)} files: {self._summary()}>"

    def __str__(self) -> str:
        return card_text("Import report", self._rows())

    def _repr_html_(self) -> str:
        problems = self.problems().head(20)
        extra = "" if problems.empty else table_html(
            ["path", "status", "reason"], problems[["path", "status", "reason"]].itertuples(
                index=False))
        return card_html("Import report", self._rows(), extra)


@dataclass
class _Chunk:
    """One chunk's decisions, before anything is written."""

    accepted: list[tuple[int, Source, Header, Path | None]] = field(default_factory=list)
    new_series: dict[str, dict[str, Any]] = field(default_factory=dict)

    def numbers_by_series(self) -> dict[str, list[int]]:
        numbers: dict[str, list[int]] = {}
        for _, _, header, _ in self.accepted:
            numbers.setdefault(header.instance["series_uid"], []).append(
                header.instance["instance_number"])
        return numbers

    def destinations(self) -> list[Path]:
        return [dest for _, _, _, dest in self.accepted if dest is not None]

    def without(self, failed: set[int]) -> None:
        """Drop the files of ``failed`` (indexes), and series left with no file."""
        self.accepted = [a for a in self.accepted if a[0] not in failed]
        kept = {header.instance["series_uid"] for _, _, header, _ in self.accepted}
        self.new_series = {uid: row for uid, row in self.new_series.items() if uid in kept}


@dataclass(frozen=True)
class _Held:
    """What holds an instance already: a catalog row, or an earlier file of this chunk."""

    path: str  # where its bytes are (absolute)
    shown: str  # how a reason names it
    managed: bool
    size: int
    mtime: float | None = None  # recorded at import (catalog rows only)


class _Progress:
    """Tells ``progress`` how far the import is: ``True`` a tqdm bar, ``False`` no one,
    or a function called ``progress(done, total)``."""

    def __init__(self, progress: bool | Callable[[int, int], Any]):
        if not (isinstance(progress, bool) or callable(progress)):
            raise ValidationError(f"progress must be True (a progress bar), False (none) or a"
                                  f" function progress(done, total), got {shown(progress)}.",
                                  field="progress", value=progress)
        self.call = progress if callable(progress) else None
        self.bar = tqdm(desc="Reading archives and folders", unit="file",
                        disable=progress is not True)
        self.done = self.total = 0

    def found(self, total: int) -> None:
        """``total`` files are known so far (archives may bring more)."""
        self.total = total
        self.bar.total = total
        self.bar.refresh()
        if self.call:
            self.call(self.done, total)

    def started(self) -> None:
        self.bar.set_description("Importing DICOM")
        self.found(self.total)

    def advance(self, files: int) -> None:
        self.done += files
        self.bar.update(files)
        if self.call and files:
            self.call(self.done, self.total)

    def close(self) -> None:
        self.bar.close()


def _check_executor(executor: Any) -> Executor | None:
    """``executor`` if it is ``None`` or a :class:`concurrent.futures.Executor`."""
    if executor is None or isinstance(executor, Executor):
        return executor
    hint = (" A Dask client is not one itself: pass client.get_executor()."
            if callable(getattr(executor, "get_executor", None)) else "")
    raise ValidationError(f"executor must be a concurrent.futures.Executor (a"
                          f" ThreadPoolExecutor, a ProcessPoolExecutor, a Dask client's"
                          f" client.get_executor()) or None (circus_nb's own workers), got"
                          f" {shown(executor)} of type {type(executor).__name__}.{hint}",
                          field="executor", value=executor)


class _Importer:
    def __init__(self, catalog: Catalog, domain: str, mode: str,
                 staging: staging_files.Staging, progress: _Progress,
                 executor: Executor | None = None):
        self.catalog = catalog
        self.domain = domain
        self.mode = mode
        self.staging = staging
        self.progress = progress
        self.executor = executor  # None: circus_nb's own worker pool
        self.rows: dict[int, tuple] = {}

    def report(self, index: int, source: Source, status: str, reason: str = "",
               header: Header | None = None) -> None:
        uid = header.instance.get("series_uid") if header else None
        number = header.instance.get("instance_number") if header else None
        self.rows[index] = (source.display, status, reason, uid, number)

    def expand(self, paths: Any) -> list[Source]:
        """Every source, told to ``progress`` as they are found; workers start as soon
        as the import is large enough to need them, while the rest is walked."""
        sources = []
        for source in expand(paths, self.staging.folder):
            sources.append(source)
            if len(sources) % READ_CHUNK == 0:
                self.progress.found(len(sources))
            if len(sources) == SERIAL_BELOW and self.executor is None:
                start_workers()
        self.progress.found(len(sources))
        return sources

    def run(self, sources: list[Source]) -> None:
        self.progress.started()
        readable = []
        for index, source in enumerate(sources):
            refused = source.refused if source.path is None else self.unstorable(source)
            if refused is not None:
                self.report(index, source, "unreadable", refused)
            else:
                readable.append((index, source))
        self.progress.advance(len(sources) - len(readable))
        chunks = [readable[k:k + READ_CHUNK] for k in range(0, len(readable), READ_CHUNK)]
        paths = [[source.path for _, source in chunk] for chunk in chunks]
        batch: list[tuple[int, Source]] = []
        headers: list[Header] = []
        # closing: if a batch fails, the chunks still being read are cancelled at once
        with contextlib.closing(read_header_chunks(paths, executor=self.executor)) as results:
            for chunk, read in zip(chunks, results, strict=True):
                batch += chunk
                headers += read
                if len(batch) >= COMMIT_EVERY:
                    self.import_batch(batch, headers)
                    batch, headers = [], []
                self.progress.advance(len(chunk))
        if batch:
            self.import_batch(batch, headers)

    def unstorable(self, source: Source) -> str | None:
        """Why the catalog cannot record where this file is (reference mode only)."""
        if self.mode != "reference" or source.from_archive or text_problem(source.path) is None:
            return None
        return ("its name is not valid UTF-8 text, so the catalog cannot record where it is."
                " Rename the file (or its folder), or import it with mode='copy', which"
                " stores the file under a name of its own")

    def import_batch(self, chunk: list[tuple[int, Source]], headers: list[Header]) -> None:
        """Decide, journal and place the files, then write the rows: one transaction."""
        decided = self.decide(chunk, headers)
        destinations = decided.destinations()
        journal = self.staging.journal(destinations) if destinations else None
        try:
            self.place(decided)
            with self.catalog.transaction() as con:
                series_sql.insert_series(con, list(decided.new_series.values()))
                series_sql.insert_instances(con, [self.instance_row(h, dest, s)
                                                  for _, s, h, dest in decided.accepted])
                series_sql.add_images(con, decided.numbers_by_series())
        except BaseException:
            for dest in destinations:  # no row points at them
                dest.unlink(missing_ok=True)
            raise
        finally:
            if journal is not None:
                journal.unlink(missing_ok=True)
        for index, source, header, _ in decided.accepted:
            self.report(index, source, "imported", "", header)

    def decide(self, chunk: list[tuple[int, Source]], headers: list[Header]) -> _Chunk:
        con = self.catalog.con
        ok = [(i, s, h) for (i, s), h in zip(chunk, headers, strict=True) if h.status == "ok"]
        for (i, s), h in zip(chunk, headers, strict=True):
            if h.status != "ok":
                self.report(i, s, h.status, h.reason)
        keys = [(h.instance["series_uid"], h.instance["instance_number"]) for _, _, h in ok]
        # series values come with the first file of each series in a chunk read
        known = {h.instance["series_uid"]: h.series for _, _, h in ok if h.series}
        domains, rows = series_sql.catalogued(con, keys)
        stored = {key: self.held(row) for key, row in rows.items()}
        decided = _Chunk()
        in_chunk: dict[tuple[str, int], _Held] = {}
        for (index, source, header), key in zip(ok, keys, strict=True):
            uid = key[0]
            domain = domains.get(uid, self.domain)
            if domain != self.domain:
                self.report(index, source, "conflict", f"series {uid} belongs to domain"
                            f" {domain!r}; a series stays in the domain of its first import."
                            f" Import it with domain={domain!r}.", header)
                continue
            previous = stored.get(key) or in_chunk.get(key)
            if previous is not None:
                status, reason = self.compare(previous, source, header)
                self.report(index, source, status, reason, header)
                continue
            if uid not in domains and uid not in decided.new_series:
                values = known.get(uid) or read_header(source.path).series
                if values is None:  # it changed since its header was read
                    self.report(index, source, "unreadable", "the file changed while it was"
                                " imported; import it again", header)
                    continue
                decided.new_series[uid] = {**values, "series_uid": uid, "domain": self.domain}
            in_chunk[key] = _Held(source.path, source.display, False, header.instance["size"])
            decided.accepted.append((index, source, header, self.destination(key, source)))
        return decided

    def held(self, row: tuple) -> _Held:
        path, managed, size, mtime = row
        where = str(self.catalog.root / path) if managed else path
        return _Held(where, where, managed, size, mtime)

    def compare(self, held: _Held, source: Source, header: Header) -> tuple[str, str]:
        same = "already_present", "the same file is stored for this instance"
        different = ("conflict", f"another file holds this instance ({held.shown}); the first"
                     " one is kept. Remove or renumber one of them.")
        try:
            changed = _changed_since_import(held)
            if changed:
                return "conflict", changed
            if not held.managed and not source.from_archive and os.path.samefile(
                    held.path, source.path):
                return same
            if header.instance["size"] != held.size:
                return different
            return same if filecmp.cmp(held.path, source.path, shallow=False) else different
        except OSError as e:
            return ("conflict", f"the file stored for this instance ({held.shown}) cannot be"
                    f" read ({e.strerror or e}); the catalog entry is kept")

    def destination(self, key: tuple[str, int], source: Source) -> Path | None:
        if self.mode == "reference" and not source.from_archive:
            return None
        return self.catalog.root / series_sql.managed_path(*key)

    def instance_row(self, header: Header, dest: Path | None, source: Source) -> dict[str, Any]:
        if dest is None:  # sources are absolute already
            return {**header.instance, "path": source.path, "managed": False}
        relative = dest.relative_to(self.catalog.root).as_posix()
        return {**header.instance, "path": relative, "managed": True}

    def place(self, decided: _Chunk) -> None:
        """Copy (or move, for archive entries) accepted files to their place; a file
        that cannot be copied is reported and left out of the chunk."""
        jobs = [(i, s, dest) for i, s, _, dest in decided.accepted if dest is not None]
        for folder in {dest.parent for _, _, dest in jobs}:
            folder.mkdir(parents=True, exist_ok=True)
        with ThreadPoolExecutor(4) as pool:
            problems = list(pool.map(lambda job: self.place_one(*job[1:]), jobs))
        failed = {i for (i, _, _), problem in zip(jobs, problems, strict=True) if problem}
        for (index, source, _), problem in zip(jobs, problems, strict=True):
            if problem:
                self.report(index, source, "unreadable", problem)
        decided.without(failed)

    def place_one(self, source: Source, dest: Path) -> str | None:
        """Place one file; return why it could not be (a full disk raises)."""
        try:
            if source.from_archive:  # already a private copy in the staging folder
                os.replace(source.path, dest)
                return None
            part = self.staging.part()
            shutil.copyfile(source.path, part)
            os.replace(part, dest)  # atomic: dest is never half-written
        except OSError as e:
            if e.errno in DISK_FULL:
                raise
            return f"cannot copy the file into the store: {e.strerror or e}"
        return None


def _changed_since_import(held: _Held) -> str | None:
    """Why a referenced file no longer is the one imported (size or mtime differ)."""
    if held.managed or held.mtime is None:
        return None
    now = os.stat(held.path)
    change = file_change((held.size, held.mtime), (now.st_size, now.st_mtime))
    if change is None:
        return None
    return (f"the file {held.shown} changed since it was imported ({change}); the catalog"
            " still describes the file as imported and keeps it. Put the original file back,"
            " or give the changed file a SeriesInstanceUID of its own to import it as a new"
            " series.")


_locks: weakref.WeakKeyDictionary[Catalog, threading.Lock] = weakref.WeakKeyDictionary()
_locks_guard = threading.Lock()


def _import_lock(catalog: Catalog) -> threading.Lock:
    """One lock per open catalog: its imports run one after the other."""
    with _locks_guard:
        return _locks.setdefault(catalog, threading.Lock())


def _disk_full(error: OSError, catalog: Catalog) -> CircusError:
    where = error.filename or catalog.root
    return CircusError(f"The disk holding the store at '{catalog.root}' is full ({error.strerror}"
                       f" while writing '{where}'); the files of the batch being written were"
                       " removed, earlier batches stay imported. Free some space and import"
                       " again: what is already imported is reported already_present.",
                       field="paths", value=str(catalog.root))


def import_dicom(catalog: Catalog, paths: str | os.PathLike | Iterable, domain: str, mode: str,
                 progress: bool | Callable[[int, int], Any], executor: Executor | None = None
                 ) -> ImportReport:
    """Import ``paths`` into ``domain`` (the caller has checked the user may).

    ``progress``: ``True`` (a tqdm bar), ``False`` (none) or a function called
    ``progress(done, total)`` as files are processed, last with ``done == total``.
    ``executor``: where headers are read (``None``: circus_nb's own worker pool).

    Raises
    ------
    ValidationError
        If ``mode``, ``progress`` or ``executor`` is not one of the accepted values.
    NotFoundError
        If a path names nothing.
    CircusError
        If the disk holding the store fills up (the batch being written is
        removed; earlier batches stay imported), or ``executor`` refuses work.
    """
    if mode not in MODES:
        raise ValidationError(f"mode must be 'copy' or 'reference', got {mode!r}.",
                              field="mode", value=mode)
    executor = _check_executor(executor)
    paths = require_paths(paths)  # before a progress bar shows
    told = _Progress(progress)
    started = time.perf_counter()
    try:
        with _import_lock(catalog):
            catalog.recover_staging()  # another process may have died importing
            rows = _import(catalog, paths, domain, mode, told, executor)
    finally:
        told.close()
    files = pd.DataFrame([rows[i] for i in sorted(rows)], columns=_REPORT_COLUMNS)
    files["instance_number"] = files["instance_number"].astype("Int64")
    return ImportReport(files, domain, mode, time.perf_counter() - started)


def _import(catalog: Catalog, paths: Any, domain: str, mode: str, progress: _Progress,
            executor: Executor | None = None) -> dict[int, tuple]:
    try:
        staging = staging_files.Staging(catalog.root)
    except OSError as e:
        raise (_disk_full(e, catalog) if e.errno in DISK_FULL else e) from e
    importer = _Importer(catalog, domain, mode, staging, progress, executor)
    try:
        importer.run(importer.expand(paths))
    except OSError as e:
        if e.errno in DISK_FULL:
            raise _disk_full(e, catalog) from e
        raise
    except KeyboardInterrupt:  # Ctrl+C: stop the workers too, or Python waits for them
        stop_workers()
        raise
    finally:
        staging.remove()
    return importer.rows
