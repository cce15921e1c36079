"""Export cases as CIRCUS does: per case a ``data.json`` and each series volume as
MetaImage (``vol000.mhd`` + ``vol000.raw``) or NIfTI, with its voxel labels, in one
zip or tar.gz archive.

The volume of series entry ``i`` holds exactly the images of its range, in the
range's order (``case.volume(i)``). Voxel label files are numbered by the label's
index in the entry's ``labels`` list of ``data.json``: ``vol000-label002`` is
``labels[2]``, and in a combined file the value ``k + 1`` marks ``labels[k]``.

>>> import shutil, tarfile, tempfile
>>> from pathlib import Path
>>> from circus_nb import Store
>>> from circus_nb.dicom.sample import write_sample_studies
>>> tmp = Path(tempfile.mkdtemp())
>>> chest = write_sample_studies(tmp / "dicom", ct_size=16)[0]
>>> store = Store.create(None)
>>> report = store.import_dicom(tmp / "dicom", progress=False)
>>> project = store.create_project("Lung")
>>> case = store.create_case(project.project_id, [(chest.series_uid, (3, 62, 1))])
>>> target = store.export_cases(case.case_id, tmp, archive="tar.gz")
>>> target.name == f"{case.case_id}.tar.gz"
True
>>> with tarfile.open(target) as tar:
...     [name.split("/", 1)[1] for name in tar.getnames()]
['data.json', 'vol000.mhd', 'vol000.raw']
>>> store.close(); shutil.rmtree(tmp)

The MetaImage header is a pure function of shape, spacing (both z, y, x) and type:

>>> print(mhd_header((60, 16, 16), (5.0, 0.5, 0.75), "MET_SHORT", "vol000.raw"))
ObjectType = Image
NDims = 3
BinaryData = True
BinaryDataByteOrderMSB = False
ElementSpacing = 0.75 0.5 5
DimSize = 16 16 60
ElementType = MET_SHORT
ElementDataFile = vol000.raw
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import re
import shutil
import socket
import tarfile
import tempfile
import time
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm.auto import tqdm

from .._system import DISK_FULL, alive
from ..domain.case import Revision, SeriesEntry
from ..domain.series import Volume
from ..domain.values import check_int, check_names, shown
from ..errors import CircusError, CircusWarning, NotFoundError, ValidationError
from ..formats.nifti import nifti_image
from ._checks import check_flag, check_path
from .cases import MAX_INDEX, Case

if TYPE_CHECKING:
    from .store import Store

__all__ = ["element_type", "mhd_header", "write_export"]

FORMATS = ("mhd", "nifti")
LABEL_MODES = ("isolated", "combined")
ARCHIVES = ("zip", "tar.gz")

# MetaImage element type -> the little-endian numpy type of its RAW bytes
MET_TYPES = {"MET_UCHAR": "<u1", "MET_USHORT": "<u2", "MET_SHORT": "<i2", "MET_FLOAT": "<f4"}

Files = Iterator[tuple[str, bytes]]  # (name inside the case folder, content)


# -- pure helpers --------------------------------------------------------------


def _number(value: float) -> str:
    """The shortest text that reads back as the same float (``5``, ``0.68359375``)."""
    return np.format_float_positional(float(value), trim="-")


def mhd_header(shape_zyx: tuple[int, ...], spacing_zyx: tuple[float, ...], element_type: str,
               data_file: str) -> str:
    """The text of a 3-D MetaImage header for an array shaped (z, y, x).

    MetaImage lists axes x first, so shape and spacing are written reversed.
    """
    if element_type not in MET_TYPES:
        raise ValidationError(f"element_type must be one of {', '.join(MET_TYPES)}, got"
                              f" {shown(element_type)}.", field="element_type", value=element_type)
    return "\n".join([
        "ObjectType = Image",
        "NDims = 3",
        "BinaryData = True",
        "BinaryDataByteOrderMSB = False",
        "ElementSpacing = " + " ".join(_number(s) for s in reversed(spacing_zyx)),
        "DimSize = " + " ".join(str(int(n)) for n in reversed(shape_zyx)),
        f"ElementType = {element_type}",
        f"ElementDataFile = {data_file}",  # MetaImage wants this line last
    ])


def element_type(array: np.ndarray) -> str:
    """``MET_SHORT`` when every value is a whole number within int16, else ``MET_FLOAT``.

    >>> element_type(np.array([-1024.0, 3071.0])), element_type(np.array([0.5]))
    ('MET_SHORT', 'MET_FLOAT')
    """
    if array.size and np.array_equal(array, np.round(array)) \
            and array.min() >= -32768 and array.max() <= 32767:
        return "MET_SHORT"
    return "MET_FLOAT"


def combined_mask(masks: Iterable[tuple[int, np.ndarray]], shape: tuple[int, ...]
                  ) -> np.ndarray:
    """One array from ``(label index, mask)`` pairs: value index + 1, later labels win.

    >>> a = np.array([[[True, True, False]]]); b = np.array([[[False, True, True]]])
    >>> combined_mask([(0, a), (2, b)], a.shape).tolist()
    [[[1, 3, 3]]]
    """
    pairs = list(masks)
    top = max((index + 1 for index, _ in pairs), default=0)
    combined = np.zeros(shape, np.uint8 if top <= 255 else np.uint16)
    for index, mask in pairs:
        combined[mask] = index + 1
    return combined


def _met_of(array: np.ndarray) -> str:
    return {np.dtype(np.uint8): "MET_UCHAR", np.dtype(np.uint16): "MET_USHORT"}.get(
        array.dtype) or element_type(array)


def mhd_files(stem: str, array: np.ndarray, spacing_zyx: tuple[float, ...]) -> Files:
    """``<stem>.mhd`` and ``<stem>.raw`` for a (z, y, x) array."""
    met = _met_of(array)
    raw = np.ascontiguousarray(array.astype(MET_TYPES[met]))
    yield f"{stem}.mhd", (mhd_header(array.shape, spacing_zyx, met, f"{stem}.raw")
                          + "\n").encode()
    yield f"{stem}.raw", raw.tobytes()


def nifti_files(stem: str, array: np.ndarray, affine_zyx: np.ndarray) -> Files:
    """``<stem>.nii.gz``: the array placed in the patient by the volume's affine (as RAS)."""
    met = _met_of(array)
    image = nifti_image(array.astype(MET_TYPES[met]), affine_zyx)
    yield f"{stem}.nii.gz", gzip.compress(image.to_bytes(), compresslevel=6, mtime=0)


# -- checking the arguments ----------------------------------------------------


def _check_choice(value: Any, name: str, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ValidationError(f"{name} must be {' or '.join(map(repr, allowed))}, got"
                              f" {shown(value)}.", field=name, value=value)
    return value


def check_case_ids(case_ids: Any) -> list[str]:
    """One case id or a non-empty list of them, without repeats."""
    try:
        items = list(dict.fromkeys(check_names(case_ids, "case_ids", 64, item="case id")))
    except ValidationError:
        items = []
    if not items:
        raise ValidationError(f"case_ids must be a case id or a non-empty list of case ids"
                              f" (text), got {shown(case_ids)}.", field="case_ids", value=case_ids)
    return items


def _check_revision(revision: Any) -> None:
    if revision is None:
        return
    try:  # negative counts back from the latest, as in case.revision
        check_int(revision, "revision", -MAX_INDEX, MAX_INDEX)
    except ValidationError:
        raise ValidationError(f"revision must be None (the latest) or a revision index, got"
                              f" {shown(revision)}.", field="revision", value=revision) from None


def target_path(path: str | os.PathLike, case_ids: list[str], archive: str) -> Path:
    """The archive file to write: ``path``, or a file named after the cases inside it."""
    target = Path(path)
    suffix = f".{archive}"
    if target.is_dir():
        target = target / f"{case_ids[0] if len(case_ids) == 1 else 'cases'}{suffix}"
    elif not target.name.endswith(suffix):
        warnings.warn(f"The export {target.name!r} is a {archive} archive but its name does"
                      f" not end with {suffix!r}.", CircusWarning, stacklevel=4)
    if target.exists():
        raise ValidationError(f"{target} already exists; export_cases does not overwrite"
                              " files. Delete it or choose another path.", field="path",
                              value=str(target))
    if not target.parent.is_dir():
        raise NotFoundError(f"No folder {target.parent} to write the export {target.name}"
                            " in. Create it first.", field="path", value=str(target))
    return target


# -- one case --------------------------------------------------------------------


def _entry_json(entry: SeriesEntry) -> dict[str, Any]:
    pv = entry.partial_volume
    return {"series_uid": entry.series_uid,
            "partial_volume": {"start": pv.start, "end": pv.end, "delta": pv.delta},
            "labels": [label.to_json() for label in entry.labels]}


def case_json(case: Case, project_name: str, revision: Revision) -> dict[str, Any]:
    """What ``data.json`` says about a case and its exported revision."""
    return {
        "case_id": case.case_id,
        "project_id": case.project_id,
        "project_name": project_name,
        "tags": case.tags,
        "revision": {
            "index": revision.index,
            "creator": revision.creator,
            "date": None if revision.date is None else revision.date.isoformat(),
            "description": revision.description,
            "status": revision.status,
            "attributes": revision.attributes,
            "series": [_entry_json(entry) for entry in revision.series],
        },
    }


def _label_arrays(entry: SeriesEntry, shape: tuple[int, ...], mode: str
                  ) -> Iterator[tuple[str, np.ndarray]]:
    voxel = [(k, label) for k, label in enumerate(entry.labels) if label.type == "voxel"]
    if mode == "isolated":
        for k, label in voxel:
            yield f"-label{k:03d}", label.mask().astype(np.uint8)
    elif voxel:
        yield "-label", combined_mask(((k, label.mask()) for k, label in voxel), shape)


def _entry_files(volume: Volume, entry: SeriesEntry, i: int, format: str, labels: str
                 ) -> Files:
    stem = f"vol{i:03d}"
    arrays = [("", volume.array), *_label_arrays(entry, volume.shape, labels)]
    for suffix, array in arrays:
        if format == "mhd":
            yield from mhd_files(stem + suffix, array, volume.spacing)
        else:
            yield from nifti_files(stem + suffix, array, volume.affine)


def case_files(case: Case, project_name: str, revision: Revision, format: str, labels: str
               ) -> Files:
    """Every file of one case folder, one volume at a time."""
    document = case_json(case, project_name, revision)
    yield "data.json", json.dumps(document, indent=2, ensure_ascii=False).encode()
    for i, entry in enumerate(revision.series):
        volume = case.volume(i, revision.index)
        yield from _entry_files(volume, entry, i, format, labels)


# -- the archive -------------------------------------------------------------------


@contextlib.contextmanager
def _archive_writer(file: Path, archive: str) -> Iterator[Callable[[str, bytes], None]]:
    """A function ``add(name, data)`` writing into a new zip or tar.gz ``file``."""
    if archive == "zip":
        with zipfile.ZipFile(file, "w", zipfile.ZIP_DEFLATED) as zf:
            yield zf.writestr
        return
    with tarfile.open(file, "w:gz") as tar:
        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            info.mtime = int(time.time())
            tar.addfile(info, io.BytesIO(data))
        yield add


def part_prefix(target: Path, pid: int | None = None) -> str:
    """How the partial file of an export to ``target`` is named: it says which machine
    and process writes it, so a later export can tell the leftovers of a dead one."""
    return f".{target.name}.{_host()}-{os.getpid() if pid is None else pid}."


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())


_PART = re.compile(r"^\..+\.(?P<host>[A-Za-z0-9-]+)-(?P<pid>\d+)\.[A-Za-z0-9_]+\.part$")


def remove_dead_parts(folder: Path) -> list[str]:
    """Delete the partial files (and folders) that writers killed on this machine left in
    ``folder`` (those of writers still running stay); return their names."""
    host = _host()
    removed = []
    with os.scandir(folder) as entries:
        for entry in entries:
            found = _PART.match(entry.name)
            if found and found["host"] == host and not alive(int(found["pid"])):
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    Path(entry.path).unlink(missing_ok=True)
                removed.append(entry.name)
    return removed


def _write_atomically(target: Path, archive: str, files: Files) -> None:
    """Write into a temporary file beside ``target``; rename it only once all went well.

    A full disk raises ``CircusError`` naming the folder; nothing is left behind.
    """
    remove_dead_parts(target.parent)
    try:
        handle, name = tempfile.mkstemp(prefix=part_prefix(target), suffix=".part",
                                        dir=target.parent)
    except OSError as e:
        raise (_disk_full(e, target) if e.errno in DISK_FULL else e) from e
    os.close(handle)
    temporary = Path(name)
    try:
        with _archive_writer(temporary, archive) as add:
            for arcname, data in files:
                add(arcname, data)
        if target.exists():  # appeared while we were writing
            raise ValidationError(f"{target} appeared while exporting; it was left as is."
                                  " Choose another path.", field="path", value=str(target))
        temporary.replace(target)
    except OSError as e:
        temporary.unlink(missing_ok=True)
        raise (_disk_full(e, target) if e.errno in DISK_FULL else e) from e
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _disk_full(error: OSError, target: Path) -> CircusError:
    return CircusError(f"The disk holding '{target.parent}' is full ({error.strerror}): the"
                       f" export {target.name} was not written, and its partial file was"
                       " removed. Free some space, or export to a folder on another disk.",
                       field="path", value=str(target))


def write_export(store: Store, case_ids: Any, path: str | os.PathLike, format: str = "mhd",
                 labels: str = "isolated", archive: str = "zip", revision: int | None = None,
                 progress: bool = False) -> Path:
    """The work of :meth:`Store.export_cases`: check everything, then write the archive."""
    store.rights.require_global("downloadVolume", "Exporting volumes")
    _check_choice(format, "format", FORMATS)
    _check_choice(labels, "labels", LABEL_MODES)
    _check_choice(archive, "archive", ARCHIVES)
    _check_revision(revision)
    progress = check_flag(progress, "progress")
    ids = check_case_ids(case_ids)
    target = target_path(check_path(path), ids, archive)
    chosen = []  # every case and revision is read (and checked) before writing starts
    for case_id in ids:
        case = store.case(case_id)
        rev = case.latest if revision is None else case.revision(revision)
        chosen.append((case, store.project(case.project_id).name, rev))
    _write_atomically(target, archive, (
        (f"{case.case_id}/{name}", data)
        for case, project_name, rev in tqdm(chosen, desc="Exporting", unit="case",
                                            disable=not progress)
        for name, data in case_files(case, project_name, rev, format, labels)))
    return target
