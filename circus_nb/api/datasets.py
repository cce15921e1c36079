"""Datasets for training: cases frozen at their revisions, loadable again to the same arrays.

A :class:`Dataset` is a list of cases, each pinned to one revision and one series
entry, with the content hash of every image file it reads. Its ``fingerprint``
hashes all of that (the arrays are a function of it), so a paper can cite it and
``Dataset.load`` + ``verify()`` can prove a year later that the arrays are still
those:

>>> import shutil, tempfile
>>> from pathlib import Path
>>> import numpy as np
>>> import circus_nb as cnb
>>> from circus_nb.dicom.sample import write_sample_studies
>>> tmp = Path(tempfile.mkdtemp())
>>> chest = write_sample_studies(tmp / "dicom", ct_size=16)[0]
>>> store = cnb.Store.create(tmp / "store")
>>> report = store.import_dicom(tmp / "dicom", progress=False)
>>> lung = store.create_project("Lung", tags=["train"])
>>> case = store.create_case(lung.project_id, [(chest.series_uid, (10, 19, 1))], tags=["train"])
>>> mask = np.zeros((10, 16, 16), bool); mask[4:6, 5:9, 5:9] = True
>>> def painted(mask):
...     return [cnb.SeriesEntry(chest.series_uid, cnb.PartialVolume(10, 19, 1),
...                             (cnb.Label.voxel(mask, name="nodule"),))]
>>> _ = case.save("Nodule.", series=painted(mask))
>>> ds = store.dataset(lung.project_id, tags=["train"], progress=False)
>>> ds
<Dataset of 1 case (project Lung, entry 0), fingerprint ...>
>>> item = ds[0]
>>> item["image"].shape, item["image"].dtype, item["revision"], int(item["labels"]["nodule"].sum())
((10, 16, 16), dtype('float32'), 1, 32)
>>> manifest = ds.save(tmp / "train.json")
>>> _ = case.save("Bigger nodule.", series=painted(mask | np.roll(mask, 2)))
>>> again = cnb.Dataset.load(store, manifest)
>>> again.fingerprint == ds.fingerprint, again[0]["revision"], again.verify()
(True, 1, True)
>>> store.close(); shutil.rmtree(tmp)
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .._repr import card_html, card_text
from ..domain.case import SeriesEntry
from ..domain.dataset import FrozenCase, fingerprint
from ..domain.values import check_int, check_text, shown
from ..errors import CircusError, CircusWarning, NotFoundError, ValidationError
from ..label_ops import label_key, label_masks
from ..store.datasets import dataset_entries
from ._checks import as_utc, check_flag, check_id, check_path, check_tags
from .cases import MAX_INDEX
from .collections import resolve_list
from .dataset_files import manifest, read_manifest, stored_entries, write_datalist, write_manifest

if TYPE_CHECKING:
    from .series import Series
    from .store import Store

__all__ = ["Dataset", "build_dataset"]

_HASH_THREADS = 4  # hashlib releases the GIL: a few threads keep the disk and cores busy
_BAR_FROM = 20  # files or cases: fewer finish before a bar would be worth drawing


# -- building ---------------------------------------------------------------------------


def build_dataset(store: Store, project_id: Any, tags: Any, status: Any, as_of: Any,
                  entry: Any, progress: Any, in_list: Any = None) -> Dataset:
    """The work of :meth:`Store.dataset`: check, choose the revisions, hash the files."""
    check_id(project_id, "project_id")
    tags = None if tags is None else check_tags(tags)
    if status is not None:
        check_text(status, "status", 64, line=True)
    as_of = as_utc(as_of, "as_of")
    entry = check_int(entry, "entry", 0, MAX_INDEX)
    progress = check_flag(progress, "progress")
    project = store.project(project_id)  # checks read
    list_id = None if in_list is None else resolve_list(store, in_list, "cases")
    found = dataset_entries(store._db(), project_id, tags, status, as_of, list_id, entry)
    chosen = [row for row in found if row[2] is not None]
    lacking = [case_id for case_id, _, e in found if e is None]
    if lacking:
        warnings.warn(f"{len(lacking)} matching case(s) have no series entry {entry} and are"
                      f" not in the dataset (first: {lacking[0]}).", CircusWarning, stacklevel=3)
    query = {"project_id": project_id, "tags": tags, "status": status,
             "as_of": None if as_of is None else as_of.isoformat(), "entry": entry}
    if list_id is not None:
        query["in_list"] = list_id
    hashes = _hash_entries(store, [e for _, _, e in chosen], progress)
    cases = [FrozenCase(case_id, index, e, images)
             for (case_id, index, e), images in zip(chosen, hashes, strict=True)]
    return Dataset(store, project.name, entry, cases, query)


class _SeriesRows:
    """The instance rows of the series of entries, each series read once: entries of
    many cases often share one."""

    def __init__(self, store: Store):
        self._store = store
        self._series: dict[str, tuple[Series, dict[int, Any]]] = {}
        self._files: dict[tuple[str, int], Path] = {}

    def image_rows(self, entry: SeriesEntry) -> tuple[Series, list[tuple[int, Any]]]:
        """The series of an entry and the catalog row of each image of its range, in
        order (``row.Index`` is its instance number)."""
        uid = entry.series_uid
        if uid not in self._series:
            series = self._store.series(uid)
            rows = series.instances().set_index("instance_number")
            self._series[uid] = series, {row.Index: row for row in rows.itertuples()}
        series, by_number = self._series[uid]
        numbers = entry.partial_volume.to_list()
        missing = [n for n in numbers if n not in by_number]
        if missing:
            raise CircusError(f"Series {uid} no longer holds image {missing[0]} of range"
                              f" {entry.partial_volume.describe()}.", field="series_uid",
                              value=uid)
        return series, [(n, by_number[n]) for n in numbers]

    def files(self, entry: SeriesEntry) -> list[tuple[int, Path]]:
        """The checked file of each image of an entry's range, in the range's order (each
        file's size and time looked at once)."""
        series, rows = self.image_rows(entry)
        for n, row in rows:
            if (entry.series_uid, n) not in self._files:
                self._files[entry.series_uid, n] = series._checked_file(row)
        return [(n, self._files[entry.series_uid, n]) for n, _ in rows]


def sha256_of(path: Path) -> str:
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def hash_files(paths: Sequence[Path], done: Callable[[], Any] = lambda: None) -> list[str]:
    """The sha256 of each file, in threads; ``done()`` after each (a progress bar's update)."""
    digests = []
    with ThreadPoolExecutor(_HASH_THREADS) as pool:
        for digest in pool.map(sha256_of, paths):
            digests.append(digest)
            done()  # (a bar's update returns whether it redrew: keep it out of the digests)
    return digests


def _hash_entries(store: Store, entries: Sequence[SeriesEntry], progress: bool
                  ) -> list[tuple[tuple[int, str], ...]]:
    """For each entry, ``(instance number, sha256)`` of its files, hashed in threads; each
    series, range and file is looked at once however many entries share it."""
    rows = _SeriesRows(store)
    keys = [(entry.series_uid, entry.partial_volume) for entry in entries]
    files: dict[tuple[str, Any], list[tuple[int, Path]]] = {}
    for key, entry in zip(keys, entries, strict=True):
        if key not in files:
            files[key] = rows.files(entry)
    unique = list(dict.fromkeys(path for one in files.values() for _, path in one))
    bar = tqdm(total=len(unique), desc="Hashing image files", unit="file",
               disable=not progress or len(unique) < _BAR_FROM)
    with bar:
        digests = dict(zip(unique, hash_files(unique, bar.update), strict=True))
    images = {key: tuple((n, digests[path]) for n, path in one) for key, one in files.items()}
    return [images[key] for key in keys]


class DatasetIndexError(NotFoundError, IndexError):
    """No case at that index of a dataset (an ``IndexError`` too, as sequences raise)."""


# -- the dataset --------------------------------------------------------------------------


class Dataset:
    """Cases frozen at their revisions: ``len``, ``ds[i]``, iteration, ``cases``.

    Make one with :meth:`Store.dataset`, or :meth:`Dataset.load` a saved one.
    ``ds[i]`` reads case ``i``: a dict with ``image`` (float32, z, y, x: the
    entry's range in its order), ``labels`` ({name: bool mask}, geometric labels
    rasterised, labels of one name merged), ``spacing`` (z, y, x mm), ``affine``
    (array index to patient LPS mm), ``case_id``, ``revision``, ``series_uid``.
    Reading checks each file's size and modification time against the import;
    :meth:`verify` re-reads their contents against the hashes.
    """

    def __init__(self, store: Store, project_name: str, entry: int,
                 cases: Sequence[FrozenCase], query: dict[str, Any]):
        self._store = store
        self._project_name = project_name
        self._entry = entry
        self._cases = tuple(cases)
        self._query = query
        self.fingerprint = fingerprint(entry, self._cases)

    # -- reading ----------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._cases)

    def __getitem__(self, i: int) -> dict[str, Any]:
        if isinstance(i, bool) or not isinstance(i, int | np.integer):
            raise ValidationError(f"A dataset is indexed by an integer, got {shown(i)}.",
                                  field="i", value=i)
        if not -len(self) <= i < len(self):
            raise DatasetIndexError(f"The dataset has {len(self)} cases, so i is from"
                                    f" {-len(self)} to {len(self) - 1}; got {i}.", field="i",
                                    value=i)
        return self._read(self._cases[int(i)])

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for case in self._cases:
            yield self._read(case)

    def _read(self, case: FrozenCase) -> dict[str, Any]:
        entry = case.entry
        volume = self._store.series(entry.series_uid).volume(entry.partial_volume)
        return {"image": volume.array,
                "labels": label_masks(entry.labels, volume.shape, volume.affine),
                "spacing": volume.spacing, "affine": volume.affine, "case_id": case.case_id,
                "revision": case.revision, "series_uid": entry.series_uid}

    def materialise(self, progress: bool = True) -> list[dict[str, Any]]:
        """Every item, read now (``ds[i]`` for each ``i``), with a progress bar."""
        progress = check_flag(progress, "progress")
        return list(tqdm(self, total=len(self), desc="Reading cases", unit="case",
                         disable=not progress or len(self) < _BAR_FROM))

    @property
    def cases(self) -> pd.DataFrame:
        """One row per case: case_id, revision, series_uid, partial_volume, images, labels."""
        rows = [(c.case_id, c.revision, c.entry.series_uid, c.entry.partial_volume,
                 len(c.images), [label.name for label in c.entry.labels]) for c in self._cases]
        return pd.DataFrame(rows, columns=["case_id", "revision", "series_uid",
                                           "partial_volume", "images", "labels"])

    @property
    def label_names(self) -> list[str]:
        """The label names of the cases, each once, in the order they first appear."""
        names: dict[str, None] = {}
        for case in self._cases:
            names.update(dict.fromkeys(label_key(label, k)
                                       for k, label in enumerate(case.entry.labels)))
        return list(names)

    # -- saving, loading, checking -----------------------------------------------------

    def save(self, path: str | os.PathLike) -> Path:
        """Write the manifest (JSON: the query, every frozen case, the fingerprint).

        ``path`` is a new file; an existing folder gets ``dataset-<fingerprint>.json``.

        Raises
        ------
        ValidationError
            If the file exists (a manifest is never overwritten).
        """
        target = Path(check_path(path))
        if target.is_dir():
            target = target / f"dataset-{self.fingerprint[:12]}.json"
        if target.exists():
            raise ValidationError(f"{target} exists; a dataset manifest is never overwritten."
                                  " Give a new file name, or a folder.", field="path",
                                  value=str(target))
        about = {"project": self._project_name, "query": self._query,
                 "created_by": self._store.user, "created_at": datetime.now(UTC).isoformat()}
        return write_manifest(target, manifest(self, [c.key() for c in self._cases], about))

    @classmethod
    def load(cls, store: Store, path: str | os.PathLike) -> Dataset:
        """The dataset a manifest describes, whatever was saved in the store since.

        Each case comes back at the revision it was frozen at. The files are not
        re-read: call :meth:`verify` for that.

        Raises
        ------
        CircusError
            If the file is not a dataset manifest, was edited (its fingerprint no
            longer matches), or a case of it was deleted or is not this store's.
        PermissionDenied
            Without ``read`` on the project.
        """
        from .store import Store  # here: the store module imports this one

        if not isinstance(store, Store):
            raise ValidationError(f"Dataset.load takes the store to read the cases from, then"
                                  f" the manifest's path; got {shown(store)}.", field="store",
                                  value=type(store).__name__)
        return read_manifest(cls, store, Path(check_path(path)))

    def verify(self) -> bool:
        """Re-read every file and the stored revisions; ``True`` when all is as frozen.

        Raises
        ------
        CircusError
            Naming each file whose content changed or that is gone, each case that
            was deleted, each label mask that no longer reads.
        """
        project = self._store.project(self._query["project_id"])  # checks read, once
        stored = stored_entries(self._store, project.project_id,
                                [(c.case_id, c.revision) for c in self._cases], self._entry)
        problems = []
        rows = _SeriesRows(self._store)
        for case in tqdm(self._cases, desc="Verifying", unit="case",
                         disable=len(self) < _BAR_FROM):
            problems.extend(_problems(rows, case, self._entry,
                                      stored.get((case.case_id, case.revision))))
        if problems:
            shown_problems = "\n".join(f"- {p}" for p in problems[:20])
            more = f"\n- ... and {len(problems) - 20} more" if len(problems) > 20 else ""
            raise CircusError(
                f"Dataset {self.fingerprint[:12]} no longer matches the store"
                f" ({len(problems)} problem(s)):\n{shown_problems}{more}\nPut the original"
                " files back to reproduce it, or make a new dataset (store.dataset) and cite"
                " the new fingerprint.", field="fingerprint", value=self.fingerprint)
        return True

    # -- field formats --------------------------------------------------------------------

    def to_nifti(self, folder: str | os.PathLike, progress: bool = True) -> list[dict[str, str]]:
        """Write every case as NIfTI for MONAI or nnU-Net; return the datalist.

        ``folder`` (new, or empty) gets ``imagesTr/<case_id>.nii.gz`` (the image, in
        its stored units: int16 when every value fits, else float32),
        ``labelsTr/<case_id>.nii.gz`` (one label map: value ``k`` is
        ``label_names[k - 1]``, 0 background; where labels overlap the later name
        wins, with a warning) and ``datalist.json``, MONAI's decathlon shape
        (``monai.data.load_decathlon_datalist(path, data_list_key="training")``
        reads it): ``labels``, ``training`` (``image``, ``label``, ``case_id``,
        ``revision``) and the dataset's ``fingerprint``. The affine is the
        volume's in RAS, as NIfTI expects. The folder appears whole or not at all.

        Raises
        ------
        PermissionDenied
            Without the global ``downloadVolume`` (as for exports).
        ValidationError
            If ``folder`` is not empty, or there are more than 65,535 label names.
        CircusError
            If nibabel is missing, or a file cannot be read or written.
        """
        self._store.rights.require_global("downloadVolume", "Writing a dataset as NIfTI")
        about = {"name": self._project_name, "fingerprint": self.fingerprint,
                 "query": self._query}
        return write_datalist(Path(check_path(folder, "folder")), len(self), self.__getitem__,
                              self.label_names, about, check_flag(progress, "progress"))

    def torch(self, transform: Any = None) -> Any:
        """A ``torch.utils.data.Dataset`` of the cases (needs the ``torch`` extra).

        Item ``i`` is a dict: ``image`` a float32 tensor (1, z, y, x), ``label`` a
        bool tensor (L, z, y, x) with one channel per :attr:`label_names` (empty
        where a case lacks that label), ``spacing`` a float64 tensor (z, y, x),
        ``case_id`` and ``revision``; then ``transform(item)`` when given.

        Raises
        ------
        CircusError
            If PyTorch is not installed, saying how to install it.
        """
        try:  # PyTorch is optional: imported only when asked for
            from .torch_dataset import CaseTensors
        except ImportError as e:
            raise CircusError(f"Dataset.torch() needs PyTorch ({e}). Install it with `pip install"
                              " 'circus-nb[torch]'` (on a machine without a GPU, the CPU build:"
                              " see pytorch.org), or read the arrays with ds[i].",
                              field="torch", value=None) from None
        return CaseTensors(self, transform)

    # -- display ----------------------------------------------------------------------

    def _rows(self) -> list[tuple[str, Any]]:
        query = {k: v for k, v in self._query.items()
                 if v is not None and k not in ("project_id", "entry")}
        return [("cases", len(self)), ("project", self._project_name), ("entry", self._entry),
                ("query", ", ".join(f"{k}={v}" for k, v in query.items()) or "all cases"),
                ("labels", ", ".join(self.label_names) or "none"),
                ("fingerprint", self.fingerprint)]

    def __repr__(self) -> str:
        n = len(self)
        return (f"<Dataset of {n} case{'' if n == 1 else 's'} (project {self._project_name},"
                f" entry {self._entry}), fingerprint {self.fingerprint[:12]}>")

    def __str__(self) -> str:
        return card_text("Dataset", self._rows())

    def _repr_html_(self) -> str:
        return card_html("Dataset", self._rows())


def _problems(rows: _SeriesRows, case: FrozenCase, entry: int, stored: SeriesEntry | None
              ) -> list[str]:
    """What no longer matches of one frozen case, as sentences (none when all does)."""
    where = f"case {case.case_id} revision {case.revision}"
    if stored is None:
        return [f"{where}: the case or revision no longer exists (deleted)"]
    if FrozenCase(case.case_id, case.revision, stored, case.images).key() != case.key():
        return [f"{where}: its series entry {entry} is not the one frozen (is this the store"
                " the dataset was made from?)"]
    problems = []
    for label in stored.labels:
        if label.type == "voxel":
            try:
                label.packed()
            except CircusError as e:
                problems.append(f"{where}: {e.message}")
    try:
        series, images = rows.image_rows(case.entry)
    except CircusError as e:
        return [*problems, f"{where}: {e.message}"]
    present = []
    for (number, row), (_, digest) in zip(images, case.images, strict=True):
        try:
            present.append((number, series._checked_file(row), digest))
        except CircusError as e:  # gone, or its size or time changed: its first sentence
            problems.append(f"{where}: {e.message.split('. ')[0]}")
    hashed = hash_files([path for _, path, _ in present])
    for (number, path, digest), now in zip(present, hashed, strict=True):
        if now != digest:
            problems.append(f"{where}: {path} (image {number} of series"
                            f" {case.entry.series_uid}) has other content than when the dataset"
                            f" was made (sha256 {digest[:12]}... then, {now[:12]}... now)")
    return problems
