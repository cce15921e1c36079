"""A dataset's files: reading its JSON manifest back, writing it as NIfTI for MONAI.

A manifest's ``cases`` are the frozen cases' keys (:meth:`FrozenCase.key`), so its
``fingerprint`` can be re-computed from the file alone: an edited manifest is told
before the store is asked anything.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm.auto import tqdm

from .._system import DISK_FULL
from ..domain.case import SeriesEntry
from ..domain.dataset import FrozenCase, fingerprint_of_keys, is_image_hash
from ..errors import CircusError, CircusWarning, NotFoundError, ValidationError
from ..formats.nifti import write_nifti
from ..store import cases as cases_sql
from .export import MET_TYPES, element_type, part_prefix, remove_dead_parts

if TYPE_CHECKING:
    from .datasets import Dataset
    from .store import Store

MANIFEST_FORMAT = "circus_nb.dataset"
MANIFEST_VERSION = 1
MAX_LABEL_VALUE = 65535  # label maps are uint16 at most


# -- the manifest --------------------------------------------------------------------------


def manifest(ds: Dataset, keys: list[dict[str, Any]], extra: dict[str, Any]) -> dict[str, Any]:
    """The JSON document of a dataset."""
    return {"format": MANIFEST_FORMAT, "version": MANIFEST_VERSION,
            "fingerprint": ds.fingerprint, **extra, "cases": keys}


def _bad(path: Path, problem: str) -> CircusError:
    return CircusError(f"{path} is not a circus_nb dataset manifest: {problem}. Load a file"
                       " written by Dataset.save().", field="path", value=str(path))


def _read_json(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotFoundError(f"No dataset manifest {path}.", field="path",
                            value=str(path)) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _bad(path, f"it does not read as JSON ({e})") from None
    if not isinstance(document, dict) or document.get("format") != MANIFEST_FORMAT:
        raise _bad(path, "it has no \"format\": \"circus_nb.dataset\"")
    if document.get("version") != MANIFEST_VERSION:
        raise _bad(path, f"version {document.get('version')!r}; this circus_nb reads version"
                         f" {MANIFEST_VERSION}")
    return document


def _check_key(path: Path, key: Any) -> None:
    """A manifest's case entry: the shape :meth:`FrozenCase.key` writes."""
    ok = (isinstance(key, dict) and isinstance(key.get("case_id"), str)
          and isinstance(key.get("revision"), int) and isinstance(key.get("series_uid"), str)
          and isinstance(key.get("labels"), list) and isinstance(key.get("images"), list)
          and all(isinstance(pair, list) and is_image_hash(tuple(pair))
                  for pair in key["images"]))
    if not ok:
        raise _bad(path, f"a case entry is not one Dataset.save writes ({str(key)[:80]})")


def read_manifest(cls: type[Dataset], store: Store, path: Path) -> Dataset:
    """The work of :meth:`Dataset.load`."""
    document = _read_json(path)
    query, keys = document.get("query"), document.get("cases")
    if not isinstance(query, dict) or not isinstance(keys, list) \
            or not isinstance(query.get("entry"), int) \
            or not isinstance(query.get("project_id"), str):
        raise _bad(path, "it lacks its query or its cases")
    for key in keys:
        _check_key(path, key)
    entry = query["entry"]
    if fingerprint_of_keys(entry, keys) != document.get("fingerprint"):
        raise CircusError(
            f"{path} was edited after it was saved: its cases no longer give its fingerprint"
            f" {str(document.get('fingerprint'))[:12]}.... A manifest is the record of a"
            " dataset; restore the saved file, or make a new dataset with store.dataset().",
            field="path", value=str(path))
    project = store.project(query["project_id"])  # checks read on it, once
    stored = stored_entries(store, project.project_id, [(k["case_id"], k["revision"])
                                                        for k in keys], entry)
    gone = [k["case_id"] for k in keys if (k["case_id"], k["revision"]) not in stored]
    if gone:
        raise CircusError(f"{len(gone)} case(s) of dataset {document['fingerprint'][:12]} no"
                          f" longer exist in this store (first: {gone[0]}): they were deleted,"
                          " so the dataset cannot be rebuilt as it was. Restore the store from"
                          " a backup, or make a new dataset.", field="path", value=gone)
    cases = []
    for key in keys:
        frozen = FrozenCase(key["case_id"], key["revision"],
                            stored[key["case_id"], key["revision"]],
                            tuple(tuple(pair) for pair in key["images"]))
        if frozen.key() != key:
            raise CircusError(f"Case {key['case_id']} revision {key['revision']} in this store"
                              f" is not the one {path} froze: is this the store the dataset"
                              " was made from?", field="path", value=str(path))
        cases.append(frozen)
    return cls(store, project.name, entry, cases, query)


def stored_entries(store: Store, project_id: str, wanted: list[tuple[str, int]], entry: int
                   ) -> dict[tuple[str, int], SeriesEntry]:
    """``(case_id, revision) -> series entry`` of those that still exist in the project.

    The caller has checked ``read`` on the project; a case that moved to another
    project, lost that revision or the entry counts as gone.
    """
    con = store._db()
    heads = cases_sql.heads(con, [case_id for case_id, _ in wanted])
    found = {}
    for case_id, index in wanted:
        if heads.get(case_id, (None,))[0] != project_id:
            continue
        revision = cases_sql.load_revision(con, case_id, index)
        if revision is not None and entry < len(revision.series):
            found[case_id, index] = revision.series[entry]
    return found


def write_manifest(target: Path, document: dict[str, Any]) -> Path:
    """Write ``document`` to ``target`` whole (a partial file, then a rename)."""
    remove_dead_parts(target.parent)
    partial = target.with_name(f"{part_prefix(target)}manifest.part")
    try:
        partial.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
        os.replace(partial, target)
    except OSError as e:
        partial.unlink(missing_ok=True)
        raise _write_error(e, target) from None
    return target


def _write_error(error: OSError, target: Path) -> CircusError:
    hint = " The disk is full: free some space." if error.errno in DISK_FULL else ""
    return CircusError(f"Cannot write {target}: {error.strerror or error}.{hint} Nothing was"
                       " left behind.", field="path", value=str(target))


# -- NIfTI ---------------------------------------------------------------------------------


def _image_array(image: np.ndarray) -> np.ndarray:
    """The image in the smallest type that holds it exactly (int16 for CT, else float32)."""
    return image.astype(MET_TYPES[element_type(image)], copy=False)


def label_map(masks: dict[str, np.ndarray], values: dict[str, int], shape: tuple[int, ...],
              case_id: str) -> np.ndarray:
    """One array of label values (``values[name]``), 0 where no label is; later names win.

    >>> a = np.array([[[True, False, False]]]); b = np.array([[[False, True, True]]])
    >>> label_map({"a": a, "b": b}, {"a": 1, "b": 2}, a.shape, "c1").tolist()
    [[[1, 2, 2]]]
    """
    top = max(values.values(), default=0)
    out = np.zeros(shape, np.uint8 if top <= 255 else np.uint16)
    for name, mask in masks.items():
        overlap = int(np.count_nonzero(out[mask]))
        if overlap:
            warnings.warn(f"Case {case_id}: label {name!r} overlaps an earlier label on"
                          f" {overlap} voxels; the label map gives them to {name!r}.",
                          CircusWarning, stacklevel=4)
        out[mask] = values[name]
    return out


def _pipelined(count: int, read: Callable[[int], dict[str, Any]],
               write: Callable[[dict[str, Any]], dict[str, Any]], progress: bool
               ) -> list[dict[str, Any]]:
    """``write(read(i))`` for each ``i``: case ``i + 1`` is read while ``i`` compresses.

    One writer thread: reading DICOM holds the GIL, gzip lets it go, so the two
    overlap; more writers only fight over the GIL (measured: slower on 2 CPUs). At
    most two cases are in memory.
    """
    done = []
    with ThreadPoolExecutor(1) as writer, tqdm(total=count, unit="case", desc="Writing NIfTI",
                                               disable=not progress or count < 2) as bar:
        pending = None
        for i in range(count):
            item = read(i)
            if pending is not None:
                done.append(pending.result())
                bar.update()
            pending = writer.submit(write, item)
        if pending is not None:
            done.append(pending.result())
            bar.update()
    return done


def _target_folder(folder: Path) -> None:
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ValidationError(f"{folder} exists and is not an empty folder; to_nifti writes a"
                              " new folder. Give a new path.", field="folder", value=str(folder))
    if not folder.parent.is_dir():
        raise NotFoundError(f"No folder {folder.parent} to write {folder.name} in.",
                            field="folder", value=str(folder))


def write_datalist(folder: Path, count: int, read: Callable[[int], dict[str, Any]],
                   label_names: list[str], about: dict[str, Any], progress: bool
                   ) -> list[dict[str, str]]:
    """The work of :meth:`Dataset.to_nifti`: ``read(i)`` gives item ``i``."""
    _target_folder(folder)
    if len(label_names) > MAX_LABEL_VALUE:
        raise ValidationError(f"A label map holds at most {MAX_LABEL_VALUE} labels; this"
                              f" dataset has {len(label_names)} label names.",
                              field="labels", value=len(label_names))
    values = {name: k for k, name in enumerate(label_names, start=1)}
    remove_dead_parts(folder.parent)  # what a to_nifti killed before left behind
    try:
        partial = Path(tempfile.mkdtemp(prefix=part_prefix(folder), suffix=".part",
                                        dir=folder.parent))
    except OSError as e:
        raise _write_error(e, folder) from None
    try:
        for sub in ("imagesTr", "labelsTr"):
            (partial / sub).mkdir()

        def write(item: dict[str, Any]) -> dict[str, Any]:
            name = f"{item['case_id']}.nii.gz"
            write_nifti(partial / "imagesTr" / name, _image_array(item["image"]), item["affine"])
            labels = label_map(item["labels"], values, item["image"].shape, item["case_id"])
            write_nifti(partial / "labelsTr" / name, labels, item["affine"])
            return {"image": f"./imagesTr/{name}", "label": f"./labelsTr/{name}",
                    "case_id": item["case_id"], "revision": item["revision"]}

        training = _pipelined(count, read, write, progress)
        document = {**about, "labels": {"0": "background", **{str(v): n for n, v in
                                                                values.items()}},
                    "numTraining": len(training), "training": training}
        (partial / "datalist.json").write_text(json.dumps(document, indent=1) + "\n",
                                               encoding="utf-8")
        if folder.exists():
            folder.rmdir()  # empty, checked above
        partial.rename(folder)
    except OSError as e:
        raise _write_error(e, folder) from None
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return [{"image": str(folder / t["image"][2:]), "label": str(folder / t["label"][2:])}
            for t in training]
