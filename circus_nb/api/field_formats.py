"""A case's labels out to field formats: :meth:`Case.to_seg` writes DICOM SEG.

The labels of one series entry of a revision become one segment per label name
(geometric labels rasterised, same-name labels united: ``label_ops.label_masks``),
each frame referring to the source image of its slice. The SEG carries the source
images' patient, study and frame of reference, but the patient's name, ID, birth
date, age, sex, size and weight only for a user who sees patient information of the
case's project (as ``search_cases`` shows it); for others they are empty. Writing
needs ``read`` on the project and, as ``export_cases``, ``downloadVolume``.

The way back in is
``cnb.Label.from_seg(path, case.volume(entry))`` (or ``Label.from_nifti``), then a
save:

>>> import dataclasses, shutil, tempfile
>>> from pathlib import Path
>>> import circus_nb as cnb
>>> tmp = Path(tempfile.mkdtemp())
>>> sample = cnb.sample.write_ct_series(tmp / "ct", n=8, size=32)  # z 150 to 132.5 mm
>>> store = cnb.Store.create(None)  # as its admin, who holds downloadVolume
>>> _ = store.import_dicom(tmp / "ct", progress=False)
>>> case = store.create_case(store.create_project("Lung").project_id, [sample.series_uid])
>>> box = cnb.Label.cuboid([-20, -20, 135], [20, 20, 145], name="box")
>>> _ = case.save("A box.", series=[dataclasses.replace(case.latest.series[0],
...                                                     labels=[box])])
>>> path = case.to_seg(tmp / "box.dcm")
>>> [(label.name, int(label.mask().sum()) > 0) for label in
...  cnb.Label.from_seg(path, case.volume())]
[('box', True)]
>>> case.to_seg(path)
Traceback (most recent call last):
...
circus_nb.errors.ValidationError: ... exists; a SEG is never written over a file. ...
>>> store.close(); shutil.rmtree(tmp)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..domain.values import check_int
from ..errors import NotFoundError, ValidationError
from ..formats.seg import write_seg
from ..label_ops import label_key, label_masks
from ._checks import check_path

if TYPE_CHECKING:
    from .cases import Case

__all__ = ["case_to_seg"]

MAX_INDEX = 2**31 - 1


def case_to_seg(case: Case, path: str | os.PathLike, entry: int = 0,
                revision: int | None = None) -> Path:
    """The work of :meth:`Case.to_seg`: check, gather the labels and headers, write."""
    store = case._store
    # the same rule as export_cases: a file of the case leaves the store
    store.rights.require_global("downloadVolume", "Writing a DICOM SEG")
    target = Path(check_path(path))
    if target.exists():
        raise ValidationError(f"{target} exists; a SEG is never written over a file. Choose"
                              " another path, or remove that file first.", field="path",
                              value=str(target))
    check_int(entry, "entry", 0, MAX_INDEX)
    rev = case.latest if revision is None else case.revision(revision)  # checks read
    if not 0 <= entry < len(rev.series):
        raise NotFoundError(f"Revision {rev.index} has series entries 0 to"
                            f" {len(rev.series) - 1}, not {entry}.", field="entry", value=entry)
    chosen = rev.series[entry]
    if not chosen.labels:
        raise ValidationError(f"Series entry {entry} of revision {rev.index} of case"
                              f" {case.case_id} has no labels, so there is no SEG to write.",
                              field="entry", value=entry)
    series = store.series(chosen.series_uid)
    volume = series.volume(chosen.partial_volume)
    masks = label_masks(chosen.labels, volume.shape, volume.affine)
    colors: dict[str, str] = {}
    for position, label in enumerate(chosen.labels):
        colors.setdefault(label_key(label, position), label.data["color"])
    rows = series.instances().set_index("instance_number").loc[chosen.partial_volume.to_list()]
    files = [series._checked_file(row) for row in rows.itertuples()]
    # a SEG copies the patient module of its source images: keep it only for those who
    # see patient information of this project (as search_cases shows it)
    shown = store.rights.may_view_patient_info(store.preferences()["personal_info_view"],
                                               case.project_id)
    return write_seg(target, masks, files, volume, colors=colors, patient_info=shown,
                     series_description=_description(case, rev.index, entry))


def _description(case: Case, revision: int, entry: int) -> str:
    return f"circus_nb case {case.case_id} r{revision} e{entry}"[:64]
