"""``store.import_dicom``: fast, parallel, idempotent, with a report row per file.

The order of work is what keeps a store whole: files are placed first (copied
to a temporary name, then renamed into place), and only then are their catalog
rows written, one transaction per chunk. A crash leaves at worst files that no
row points at; the next import of the same files overwrites them and completes.

>>> import tempfile, circus_nb as cnb
>>> folder = tempfile.mkdtemp()
>>> _ = cnb.sample.write_ct_series(folder, n=3, size=16)
>>> store = cnb.Store.create(None)
>>> report = store.import_dicom(folder, progress=False)
>>> isinstance(report, cnb.ImportReport), report.counts["imported"]
(True, 3)
>>> store.import_dicom(folder, progress=False).counts["already_present"]
3
>>> store.close()
"""

from __future__ import annotations

import filecmp
import os
import shutil
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from .._repr import card_html, card_text, table_html
from ..dicom.header import Header, read_header
from ..dicom.parallel import read_header_chunks
from ..dicom.sources import Source, expand
from ..domain.values import new_id
from ..errors import ValidationError
from ..store import series as series_sql
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


class _Importer:
    def __init__(self, catalog: Catalog, domain: str, mode: str):
        self.catalog = catalog
        self.domain = domain
        self.mode = mode
        self.rows: dict[int, tuple] = {}

    def report(self, index: int, source: Source, status: str, reason: str = "",
               header: Header | None = None) -> None:
        uid = header.instance.get("series_uid") if header else None
        number = header.instance.get("instance_number") if header else None
        self.rows[index] = (source.display, status, reason, uid, number)

    def run(self, sources: list[Source], bar: tqdm) -> None:
        readable = []
        for index, source in enumerate(sources):
            if source.path is None:
                self.report(index, source, "unreadable", source.refused or "")
            else:
                readable.append((index, source))
        bar.update(len(sources) - len(readable))
        chunks = [readable[k:k + READ_CHUNK] for k in range(0, len(readable), READ_CHUNK)]
        paths = [[source.path for _, source in chunk] for chunk in chunks]
        batch: list[tuple[int, Source]] = []
        headers: list[Header] = []
        for chunk, read in zip(chunks, read_header_chunks(paths), strict=True):
            batch += chunk
            headers += read
            if len(batch) >= COMMIT_EVERY:
                self.import_batch(batch, headers)
                batch, headers = [], []
            bar.update(len(chunk))
        if batch:
            self.import_batch(batch, headers)

    def import_batch(self, chunk: list[tuple[int, Source]], headers: list[Header]) -> None:
        """Decide, place the files, then write the rows: one transaction."""
        decided = self.decide(chunk, headers)
        placed = self.place(decided)
        try:
            with self.catalog.transaction() as con:
                series_sql.insert_series(con, list(decided.new_series.values()))
                series_sql.insert_instances(con, [self.instance_row(h, dest, s)
                                                  for _, s, h, dest in decided.accepted])
                series_sql.add_images(con, decided.numbers_by_series())
        except BaseException:
            for dest in placed:  # no row will point at them
                dest.unlink(missing_ok=True)
            raise
        for index, source, header, _ in decided.accepted:
            self.report(index, source, "imported", "", header)

    def decide(self, chunk: list[tuple[int, Source]], headers: list[Header]) -> _Chunk:
        con = self.catalog.con
        ok = [(i, s, h) for (i, s), h in zip(chunk, headers, strict=True) if h.status == "ok"]
        for (i, s), h in zip(chunk, headers, strict=True):
            if h.status != "ok":
                self.report(i, s, h.status, h.reason)
        keys = [(h.instance["series_uid"], h.instance["instance_number"]) for _, _, h in ok]
        stored = series_sql.stored_instances(con, keys)
        domains = series_sql.series_domains(con, {uid for uid, _ in keys})
        decided = _Chunk()
        in_chunk: dict[tuple[str, int], tuple[str, bool, int]] = {}
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
                status, reason = self.compare(previous, source)
                self.report(index, source, status, reason, header)
                continue
            in_chunk[key] = (source.path, False, header.instance["size"])
            if uid not in domains and uid not in decided.new_series:
                decided.new_series[uid] = self.series_row(header, source)
            decided.accepted.append((index, source, header, self.destination(key, source)))
        return decided

    def compare(self, previous: tuple[str, bool, int], source: Source) -> tuple[str, str]:
        path, managed, size = previous
        stored = self.catalog.root / path if managed else Path(path)
        same = "already_present", "the same file is stored for this instance"
        different = ("conflict", f"another file holds this instance ({stored}); the first one"
                     " is kept. Remove or renumber one of them.")
        try:
            if not managed and not source.from_archive and os.path.samefile(stored, source.path):
                return same
            if os.path.getsize(source.path) != size:
                return different
            return same if filecmp.cmp(stored, source.path, shallow=False) else different
        except OSError as e:
            return ("conflict", f"the file stored for this instance cannot be read ({e}); the"
                    " catalog entry is kept")

    def series_row(self, header: Header, source: Source) -> dict[str, Any]:
        values = header.series or read_header(source.path).series
        return {**values, "series_uid": header.instance["series_uid"], "domain": self.domain}

    def destination(self, key: tuple[str, int], source: Source) -> Path | None:
        if self.mode == "reference" and not source.from_archive:
            return None
        uid, number = key
        return self.catalog.data_dir / uid / f"{number:08d}.dcm"

    def instance_row(self, header: Header, dest: Path | None, source: Source) -> dict[str, Any]:
        if dest is None:  # sources are absolute already
            return {**header.instance, "path": source.path, "managed": False}
        relative = dest.relative_to(self.catalog.root).as_posix()
        return {**header.instance, "path": relative, "managed": True}

    def place(self, decided: _Chunk) -> list[Path]:
        """Copy (or move, for archive entries) accepted files to their place."""
        jobs = [(s, dest) for _, s, _, dest in decided.accepted if dest is not None]
        for folder in {dest.parent for _, dest in jobs}:
            folder.mkdir(parents=True, exist_ok=True)
        with ThreadPoolExecutor(4) as pool:
            return list(pool.map(lambda job: self.place_one(*job), jobs))

    def place_one(self, source: Source, dest: Path) -> Path:
        if source.from_archive:  # already a private copy in the staging folder
            os.replace(source.path, dest)
            return dest
        part = self.catalog.root / "tmp" / f"{new_id()}.part"
        shutil.copyfile(source.path, part)
        os.replace(part, dest)  # atomic: dest is never half-written
        return dest


def import_dicom(catalog: Catalog, paths: str | os.PathLike | Iterable, domain: str, mode: str,
                 progress: bool) -> ImportReport:
    """Import ``paths`` into ``domain`` (the caller has checked the user may)."""
    if mode not in MODES:
        raise ValidationError(f"mode must be 'copy' or 'reference', got {mode!r}.",
                              field="mode", value=mode)
    started = time.perf_counter()
    tmp = catalog.root / "tmp"
    shutil.rmtree(tmp, ignore_errors=True)  # leftovers of an interrupted import
    tmp.mkdir()
    staging = tmp / f"import-{new_id()}"
    importer = _Importer(catalog, domain, mode)
    try:
        with tqdm(desc="Reading archives and folders", unit="file", disable=not progress) as bar:
            sources = list(expand(paths, staging))
            bar.set_description("Importing DICOM")
            bar.reset(total=len(sources))
            importer.run(sources, bar)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    files = pd.DataFrame([importer.rows[i] for i in sorted(importer.rows)],
                         columns=_REPORT_COLUMNS)
    files["instance_number"] = files["instance_number"].astype("Int64")
    return ImportReport(files, domain, mode, time.perf_counter() - started)
