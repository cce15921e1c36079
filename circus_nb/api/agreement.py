"""Agreement between the labels of two revisions: Dice and volumes, label by label.

Two readers label a case, each saving revisions of their own; how well do they
agree? :func:`compare_labels` (``case.compare_labels(a, b)``) takes two
revisions of one case, chosen by index or by the e-mail of their creator (that
user's latest revision), and gives one row per label name of a series entry;
:func:`label_agreement` (``store.label_agreement(case_ids, a, b)``) does it
over many cases.

>>> import dataclasses, numpy as np, circus_nb as cnb
>>> store = cnb.demo_store()                                  # opened as alice
>>> uid = store.search_series(description="lung")["series_uid"][0]
>>> case = store.create_case(store.projects(role="write")["project_id"][0], [uid])
>>> def read(box, name="nodule"):                             # a reader paints a box
...     mask = np.zeros(store.series(uid).volume_shape(), bool); mask[box] = True
...     entry = dataclasses.replace(case.latest.series[0], labels=(cnb.Label.voxel(mask, name),))
...     return case.save("Read.", attributes={"finding": "nodule"}, series=[entry]).index
>>> read(np.s_[10:20, 100:110, 100:110]), read(np.s_[10:20, 100:110, 105:115])
(1, 2)
>>> print(case.compare_labels(1, 2).to_string(index=False))   # half of each box is shared
 label  dice  volume_a_ml  volume_b_ml  voxels_a  voxels_b
nodule   0.5     4.943848     4.943848      1000      1000

A volume is its voxels times the voxel size (2.5 x 1.40625 x 1.40625 mm here)
in ml. Geometric labels are rasterised on the entry's volume, and labels that
share a name are one mask (:func:`~circus_nb.label_ops.label_masks`); an unnamed
label goes by its position (``label2``), so name labels to pair them whatever
their order. A label only one revision has gets Dice 0 (1.0 if its mask is
empty: two empty masks agree). Chosen by reader, over cases:

>>> table = store.label_agreement([case.case_id], "alice@example.org", 0, progress=False)
>>> table[["revision_a", "revision_b", "label", "dice", "volume_b_ml"]].to_dict("records")
[{'revision_a': 2, 'revision_b': 0, 'label': 'nodule', 'dice': 0.0, 'volume_b_ml': 0.0}]
>>> case.compare_labels("bob@example.org", -1)
Traceback (most recent call last):
...
circus_nb.errors.NotFoundError: Case ... has no revision saved by 'bob@example.org'; its revisions
were saved by alice@example.org. Give one of them, or a revision index.
>>> store.close()
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from numbers import Integral
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .. import label_ops
from ..domain.case import Revision, SeriesEntry
from ..domain.values import check_email, check_int, shown
from ..errors import NotFoundError, ValidationError
from .cases import MAX_INDEX
from .export import check_case_ids

if TYPE_CHECKING:
    from .cases import Case
    from .store import Store

__all__ = ["CASE_COLUMNS", "COLUMNS", "compare_labels", "label_agreement"]

COLUMNS = ("label", "dice", "volume_a_ml", "volume_b_ml", "voxels_a", "voxels_b")
CASE_COLUMNS = ("case_id", "revision_a", "revision_b", *COLUMNS)
_DTYPES = {"case_id": object, "revision_a": "int64", "revision_b": "int64", "label": object,
           "dice": "float64", "volume_a_ml": "float64", "volume_b_ml": "float64",
           "voxels_a": "int64", "voxels_b": "int64"}
MISSING = ("raise", "skip")


# -- arguments -------------------------------------------------------------------------------

def check_selector(value: Any, field: str) -> int | str:
    """A revision selector: an index (negative from the latest) or a creator's e-mail.

    >>> check_selector(-1, "a"), check_selector("ann@example.org", "b")
    (-1, 'ann@example.org')
    >>> check_selector(True, "a")
    Traceback (most recent call last):
    ...
    circus_nb.errors.ValidationError: a selects a revision: an integer index (0 the first, -1 ...

    Raises
    ------
    ValidationError
        For a bool, a non-integer, an index beyond +-(2**31 - 1), or text that is
        not an e-mail address.
    """
    if isinstance(value, str):
        try:
            return check_email(value)
        except ValidationError:
            pass
    elif (not isinstance(value, bool) and isinstance(value, Integral)
          and -MAX_INDEX <= value <= MAX_INDEX):
        return int(value)
    raise ValidationError(f"{field} selects a revision: an integer index (0 the first, -1 the"
                          f" latest) or the e-mail of a user such as 'ann@example.org' (that"
                          f" user's latest revision of the case), got {shown(value)}.",
                          field=field, value=value)


def _check_missing(value: Any) -> str:
    if not isinstance(value, str) or value not in MISSING:
        raise ValidationError(f"missing must be 'raise' (refuse when a case lacks a revision)"
                              f" or 'skip' (leave such cases out), got {shown(value)}.",
                              field="missing", value=value)
    return value


def _check_progress(value: Any) -> bool | Callable[[int, int], Any]:
    if not (isinstance(value, bool) or callable(value)):
        raise ValidationError(f"progress must be True (a progress bar), False (none) or a"
                              f" function progress(done, total), got {shown(value)}.",
                              field="progress", value=value)
    return value


# -- choosing the revisions ------------------------------------------------------------------

def _find_revision(case: Case, selector: int | str, history: pd.DataFrame) -> Revision | None:
    """The revision ``selector`` names, ``None`` when the case has no such revision.

    ``history`` is the case's (``case.history()``): its indices and creators.
    """
    if isinstance(selector, int):
        latest = int(history["index"].max())
        found = selector + latest + 1 if selector < 0 else selector
        return case.revision(found) if 0 <= found <= latest else None
    mine = history.loc[history["creator"] == selector, "index"]
    return case.revision(int(mine.max())) if len(mine) else None


def _no_revision(case: Case, selector: int | str, field: str, history: pd.DataFrame
                 ) -> NotFoundError:
    if isinstance(selector, int):
        latest = int(history["index"].max())
        return NotFoundError(f"Case {case.case_id} has no revision {selector}; it has 0 to"
                             f" {latest} (or -1 to {-latest - 1} from the latest).",
                             field=field, value=selector)
    # no "did you mean": a close e-mail is another person, not a typo to correct
    creators = list(dict.fromkeys(history["creator"]))
    return NotFoundError(f"Case {case.case_id} has no revision saved by {selector!r}; its"
                         f" revisions were saved by {', '.join(creators)}. Give one of them,"
                         " or a revision index.", field=field, value=selector)


def _revision(case: Case, selector: int | str, field: str, history: pd.DataFrame) -> Revision:
    found = _find_revision(case, selector, history)
    if found is None:
        raise _no_revision(case, selector, field, history)
    return found


def _entries(case: Case, a: Revision, b: Revision, entry: int
             ) -> tuple[SeriesEntry, SeriesEntry]:
    """Series entry ``entry`` of both revisions, which must be the same series and range."""
    for rev in (a, b):
        if entry >= len(rev.series):
            raise NotFoundError(f"Revision {rev.index} of case {case.case_id} has series entries"
                                f" 0 to {len(rev.series) - 1}, not {entry}; choose entry= one"
                                " of them.", field="entry", value=entry)
    ea, eb = a.series[entry], b.series[entry]
    if ea.series_uid != eb.series_uid:
        differ = f"series {ea.series_uid} and series {eb.series_uid}"
    elif ea.partial_volume != eb.partial_volume:
        differ = (f"series {ea.series_uid} over {ea.partial_volume.describe(3)} and over"
                  f" {eb.partial_volume.describe(3)}")
    else:
        return ea, eb
    raise ValidationError(
        f"Series entry {entry} of revisions {a.index} and {b.index} of case {case.case_id}"
        f" differ ({differ}): labels are compared only on the same images. Choose revisions"
        f" (or an entry=) whose entry is the same series over the same range.",
        field="entry", value=entry)


# -- comparing -------------------------------------------------------------------------------

def entry_rows(store: Store, ea: SeriesEntry, eb: SeriesEntry) -> list[tuple]:
    """One ``COLUMNS`` tuple per label name of two entries of one series and range.

    Names in ``ea``'s order, then those only ``eb`` has. The grid (shape, spacing
    and affine, exactly those of the entry's volume) comes from the catalog: no
    pixels are read, except for a range of one image.
    """
    if not ea.labels and not eb.labels:
        return []
    shape, spacing, affine = store.series(ea.series_uid)._grid(ea.partial_volume)
    ml = math.prod(spacing) / 1000.0  # mm³ a voxel -> ml
    masks_a = label_ops.label_masks(ea.labels, shape, affine)
    masks_b = label_ops.label_masks(eb.labels, shape, affine)
    nothing = np.zeros(shape, bool)
    rows = []
    for name in dict.fromkeys([*masks_a, *masks_b]):
        mask_a, mask_b = masks_a.get(name, nothing), masks_b.get(name, nothing)
        voxels_a, voxels_b = int(np.count_nonzero(mask_a)), int(np.count_nonzero(mask_b))
        rows.append((name, label_ops.dice(mask_a, mask_b), voxels_a * ml, voxels_b * ml,
                     voxels_a, voxels_b))
    return rows


def _frame(rows: list[tuple], columns: Sequence[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(columns))
    return frame.astype({c: _DTYPES[c] for c in columns})


def compare_labels(case: Case, a: Any, b: Any, entry: Any = 0) -> pd.DataFrame:
    """The work of :meth:`Case.compare_labels`."""
    a, b = check_selector(a, "a"), check_selector(b, "b")
    entry = check_int(entry, "entry", 0, MAX_INDEX)
    history = case.history()
    ea, eb = _entries(case, _revision(case, a, "a", history), _revision(case, b, "b", history),
                      entry)
    return _frame(entry_rows(case._store, ea, eb), COLUMNS)


def label_agreement(store: Store, case_ids: Any, a: Any, b: Any, entry: Any = 0,
                    missing: str = "raise", progress: Any = True) -> pd.DataFrame:
    """The work of :meth:`Store.label_agreement`: every case and revision is chosen and
    checked first, then the labels are compared a case at a time."""
    a, b = check_selector(a, "a"), check_selector(b, "b")
    entry = check_int(entry, "entry", 0, MAX_INDEX)
    missing, progress = _check_missing(missing), _check_progress(progress)
    ids = check_case_ids(case_ids)
    chosen, lacking = [], {}
    for case_id in ids:
        case = store.case(case_id)  # NotFoundError, PermissionDenied without read
        history = case.history()
        revisions = []
        for selector, field in ((a, "a"), (b, "b")):
            found = _find_revision(case, selector, history)
            if found is None:
                lacking.setdefault((selector, field), []).append(case)
            revisions.append(found)
        if None not in revisions:
            chosen.append((case, *revisions, *_entries(case, *revisions, entry)))
    if lacking and missing == "raise":
        raise _lacking(lacking, len(ids))
    bar = tqdm(total=len(chosen), desc="Comparing labels", unit="case",
               disable=progress is not True)
    rows = []
    try:
        for done, (case, ra, rb, ea, eb) in enumerate(chosen, start=1):
            rows += [(case.case_id, ra.index, rb.index, *row)
                     for row in entry_rows(store, ea, eb)]
            bar.update()
            if callable(progress):
                progress(done, len(chosen))
    finally:
        bar.close()
    return _frame(rows, CASE_COLUMNS)


def _lacking(lacking: dict[tuple[int | str, str], list[Case]], total: int) -> NotFoundError:
    """One error naming, for each of ``a`` and ``b``, the cases without its revision."""
    parts = []
    for (selector, field), cases in lacking.items():
        what = (f"no revision saved by {selector!r}" if isinstance(selector, str)
                else f"no revision {selector}")
        listed = ", ".join(c.case_id for c in cases[:10]) + (", ..." if len(cases) > 10 else "")
        verb = "has" if len(cases) == 1 else "have"
        parts.append(f"{len(cases)} of the {total} cases {verb} {what} ({field}): {listed}.")
    (selector, field), cases = next(iter(lacking.items()))
    return NotFoundError(" ".join(parts) + " Leave them out of case_ids, or pass missing='skip'"
                         " to compare the cases that have both revisions.", field=field,
                         value=[c.case_id for c in cases])
