"""``Case``: a versioned selection of series; every save appends a revision.

>>> import circus_nb as cnb
>>> store = cnb.demo_store()
>>> project_id = store.projects()["project_id"][0]
>>> uid = store.search_series(description="lung")["series_uid"][0]
>>> [r.relation for r in store.related_series(uid).itertuples()].count("same study")
3
>>> case = store.create_case(project_id, [uid], tags=["nodule"])
>>> case = store.case(case.case_id)
>>> case.save("Read.", attributes={"finding": "normal"}, base=0).index
1
>>> case.save("Second look.", attributes={"finding": "nodule"}).index
2
>>> case.revision(0).description, case.revert(1).description
('Created new case.', 'Reverted to revision 1.')
>>> import warnings
>>> with warnings.catch_warnings(record=True) as caught:
...     case.revert(0).attributes  # the demo schema requires a finding: a warning says so
{}
>>> caught[0].category is cnb.CircusWarning
True
>>> print(caught[0].message)  # doctest: +ELLIPSIS
Revision 0 is restored with its attributes as they were, which the project's schema no ...
>>> case.add_tags(["teaching"]), case.remove_tags(["nodule"]), case.set_tags(["done"])
(['nodule', 'teaching'], ['teaching'], ['done'])
>>> store.bulk_tags([case.case_id], "add", ["reviewed"])[case.case_id]
['done', 'reviewed']
>>> store.search_cases(tags=["reviewed"])["revision"].tolist()
[4]
>>> with store.as_user("alice@example.org"):
...     store.delete_case(case.case_id)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
circus_nb.errors.PermissionDenied: Acting as another user (store.as_user) requires ...
>>> store.close()
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from numbers import Integral
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from .._repr import card_html, card_text, table_html
from ..domain.case import Revision, SeriesEntry, diff_revisions
from ..domain.labels import Label, check_label
from ..domain.project import Project
from ..domain.schema import validate_attributes
from ..domain.series import Volume
from ..domain.values import check_int, check_text, shown
from ..errors import (
    CircusWarning,
    NotFoundError,
    PermissionDenied,
    RevisionConflict,
    ValidationError,
)
from ..store import cases as cases_sql
from ..store.projects import load_project
from .series import Series, as_partial_volume

if TYPE_CHECKING:
    from .store import Store

__all__ = ["Case", "resolve_entries"]

FIRST_DESCRIPTION = "Created new case."
MAX_INDEX = 2**31 - 1  # revision and entry indices


def _check_description(description: Any) -> str:
    return check_text(description, "description", 1024)


def _series_or_denied(store: Store, uid: Any) -> Series:
    if not isinstance(uid, str):
        raise ValidationError(f"A series is named by its UID (text), got {shown(uid)}.",
                              field="series", value=uid)
    try:
        return store.series(uid)
    except NotFoundError:
        raise NotFoundError(f"Nonexistent series. No series {shown(uid)} in this store; find series"
                            " with store.search_series().", field="series", value=uid) from None


def resolve_entries(store: Store, items: Sequence[Any], labels_of: dict[str, tuple] | None = None
                    ) -> list[SeriesEntry]:
    """Series items (a UID, ``(uid, spec)`` or a ``SeriesEntry``) as checked entries.

    ``auto`` is resolved here, so a revision always stores an explicit range.
    ``labels_of`` gives the labels a tuple item keeps (those of the latest revision).
    """
    if isinstance(items, str | SeriesEntry) or not isinstance(items, Sequence) or not items:
        raise ValidationError(f"A case needs a non-empty list of series, got {shown(items)}. Give"
                              " e.g. [series_uid] or [(series_uid, (1, 50, 1))].",
                              field="series", value=items)
    entries, domains = [], {}
    for item in items:
        if isinstance(item, SeriesEntry):
            uid, spec, labels = item.series_uid, item.partial_volume, item.labels
        elif isinstance(item, tuple | list) and len(item) == 2:
            (uid, spec), labels = item, None
        else:
            uid, spec, labels = item, "auto", None
        series = _series_or_denied(store, uid)
        domains[series.domain] = uid
        pv = series.partial_volume(as_partial_volume(spec))
        if labels is None:
            labels = (labels_of or {}).get(uid, ())
        entries.append(SeriesEntry(uid, pv, tuple(labels)))
    if len(domains) > 1:
        raise ValidationError(f"All series must belong to the same domain. These come from"
                              f" {', '.join(sorted(domains))}.", field="series",
                              value=sorted(domains))
    return entries


class Case:
    """A case as the store's current user sees it at each call. Get one with ``store.case(id)``."""

    def __init__(self, store: Store, case_id: str, project_id: str):
        self._store = store
        self.case_id = case_id
        self.project_id = project_id

    # -- reading -------------------------------------------------------------

    def _con(self, role: str = "read"):
        rights = self._store.rights
        if not rights.has_role(self.project_id, role):  # the project's name is for the message
            rights.require_role(self.project_id, role, self._project().name)
        return self._store._db()

    def _project(self) -> Project:
        """The project row, without a read check (callers check the role they need)."""
        return load_project(self._store._db(), self.project_id)

    def _head(self) -> dict[str, Any]:
        return cases_sql.load_head(self._con(), self.case_id)

    @property
    def tags(self) -> list[str]:
        return list(self._head()["tags"])

    @property
    def domains(self) -> list[str]:
        return list(self._head()["domains"])

    @property
    def latest(self) -> Revision:
        """The last revision."""
        return cases_sql.load_latest(self._con(), self.case_id)

    def revision(self, index: int) -> Revision:
        """Revision ``index`` (0 is the first; negative counts from the latest)."""
        if isinstance(index, bool) or not isinstance(index, Integral):
            raise ValidationError(f"A revision index is an integer, got {shown(index)}.",
                                  field="index", value=index)
        index, con = int(index), self._con()
        if 0 <= index <= MAX_INDEX:  # one read when the revision exists, as it mostly does
            revision = cases_sql.load_revision(con, self.case_id, index)
            if revision is not None:
                return revision
        latest = cases_sql.latest_index(con, self.case_id)
        found = index + latest + 1 if index < 0 else index
        if not 0 <= found <= latest:
            raise NotFoundError(f"Case {self.case_id} has no revision {index}; it has 0 to"
                                f" {latest}.", field="index", value=index)
        return cases_sql.load_revision(con, self.case_id, found, latest)

    def history(self) -> pd.DataFrame:
        """One row per revision, oldest first: index, date, creator, description, status."""
        return cases_sql.history(self._con(), self.case_id)

    def diff(self, a: int, b: int) -> pd.DataFrame:
        """What differs between revisions ``a`` and ``b`` (columns ``field, a, b``)."""
        rows = diff_revisions(self.revision(a), self.revision(b))
        return pd.DataFrame(rows, columns=["field", "a", "b"], dtype=object)

    def compare_labels(self, a: int | str, b: int | str, entry: int = 0) -> pd.DataFrame:
        """How the labels of revisions ``a`` and ``b`` agree on series entry ``entry``.

        ``a`` and ``b`` are revision indices (negative counts from the latest) or a
        creator's e-mail (that user's latest revision). One row per label name in
        either revision: ``label, dice, volume_a_ml, volume_b_ml, voxels_a,
        voxels_b``. See :mod:`circus_nb.api.agreement`.

        Raises
        ------
        ValidationError
            A bad ``a``, ``b`` or ``entry``, or entries that are not the same series
            and range in both revisions.
        NotFoundError
            No such revision, no revision by that user, or no entry ``entry``.
        PermissionDenied
            Without ``read`` on the project, or the series' domain.
        """
        from .agreement import compare_labels  # it imports this module
        return compare_labels(self, a, b, entry)

    def volume(self, i: int = 0, revision: int | None = None) -> Volume:
        """The voxels of series entry ``i`` of a revision (the latest by default).

        Raises
        ------
        ValidationError
            If ``i`` is not an integer >= 0.
        NotFoundError
            If the revision has no entry ``i``, or there is no such revision.
        """
        check_int(i, "i", 0, MAX_INDEX)
        rev = self.latest if revision is None else self.revision(revision)
        if not 0 <= i < len(rev.series):
            raise NotFoundError(f"Revision {rev.index} has series entries 0 to"
                                f" {len(rev.series) - 1}, not {i}.", field="i", value=i)
        entry = rev.series[i]
        return self._store.series(entry.series_uid).volume(entry.partial_volume)

    def to_seg(self, path: str | os.PathLike, entry: int = 0, revision: int | None = None
               ) -> Path:
        """Write the labels of series entry ``entry`` of a revision as a DICOM SEG.

        See :mod:`circus_nb.api.field_formats`; needs ``read`` and ``downloadVolume``.
        The patient's name, ID and birth date are written only for a user who sees
        them (``personalInfoView``, the preference and the project's ``viewPersonalInfo``).
        """
        from .field_formats import case_to_seg

        return case_to_seg(self, path, entry, revision)

    # -- writing -------------------------------------------------------------

    def save(self, description: str, *, attributes: dict | None = None,
             status: str | None = None, series: Sequence[Any] | None = None,
             base: int | None = None) -> Revision:
        """Append a revision; arguments left ``None`` keep the latest values.

        ``base`` is the revision index the caller edited: if a newer revision was
        saved since, nothing is written and :class:`RevisionConflict` is raised.

        Raises
        ------
        PermissionDenied
            Without ``write`` (or ``addSeries`` to add a series).
        ValidationError
            Bad attributes, ranges or labels; removing or re-ranging a labelled series.
        RevisionConflict
            ``base`` is not the latest revision.
        """
        _check_description(description)
        if status is not None:
            check_text(status, "status", 64, line=True)
        if base is not None:
            check_int(base, "base", 0, MAX_INDEX)
        return self._save(description, attributes, status, series, base)

    def revert(self, to: int, description: str | None = None) -> Revision:
        """Append a copy of revision ``to`` (this is how a revision is restored).

        The copy passes every check a save of the same content would (``write``,
        ``addSeries`` to bring back a series, the rules on labelled series, the labels),
        so a revert is never a way around a privilege. Its attributes are restored as
        they were: where the project's schema of today refuses them (revision 0 holds
        none; a schema may have changed since), a ``CircusWarning`` says which rule they
        break. The default description is ``Reverted to revision N.``

        Raises
        ------
        PermissionDenied
            Without ``write``, or ``addSeries`` when revision ``to`` has a series the
            latest lacks.
        ValidationError
            If it would remove or re-range a series that has labels now.
        NotFoundError
            If there is no revision ``to``.
        """
        old = self.revision(to)
        if description is None or description == "":
            description = f"Reverted to revision {old.index}."
        _check_description(description)
        try:
            return self._save(description, old.attributes, old.status, old.series, None,
                              reverting=old)
        except (ValidationError, NotFoundError, PermissionDenied) as e:
            raise type(e)(f"Cannot revert to revision {old.index}: {e.message}",
                          field=e.field, value=e.value) from None

    def _require_write(self) -> Project:
        project = self._project()
        self._store.rights.require_role(self.project_id, "write", project.name)
        return project

    def _save(self, description: str, attributes: Any, status: str | None,
              series: Sequence[Any] | None, base: int | None,
              reverting: Revision | None = None) -> Revision:
        """The checks and the write that a save and a revert share."""
        project = self._require_write()
        with self._store._write() as con:
            cases_sql.lock_head(con, self.case_id)
            latest = cases_sql.load_latest(con, self.case_id)
            _check_base(base, latest)
            if attributes is not None:
                attributes = _checked_attributes(project, attributes, reverting)
            entries = latest.series if series is None else self._new_entries(series, latest,
                                                                              project)
            entries = _check_labels(entries, project, self._store, stored=latest)
            return self._append(con, latest, description, status or latest.status,
                                latest.attributes if attributes is None else attributes,
                                entries)

    def _append(self, con, latest: Revision, description: str, status: str,
                attributes: dict, entries: Sequence[SeriesEntry]) -> Revision:
        # Never dated before the revision it follows (a clock set back, another
        # machine's clock): "the revision current at a time" relies on it.
        date = max(datetime.now(UTC), latest.date)
        revision = Revision(latest.index + 1, self._store.user, date, description, status,
                            attributes, tuple(entries))
        cases_sql.append_revision(con, self.case_id, revision, latest.date)
        return revision

    def _new_entries(self, items: Sequence[Any], latest: Revision, project: Project
                     ) -> list[SeriesEntry]:
        before = {e.series_uid: e for e in latest.series}
        entries = resolve_entries(self._store, items,
                                  {uid: e.labels for uid, e in before.items()})
        added = [e.series_uid for e in entries if e.series_uid not in before]
        if added:
            self._store.rights.require_role(self.project_id, "addSeries", project.name)
        after = {e.series_uid: e for e in entries}
        for uid, old in before.items():
            if not old.labels:
                continue
            if uid not in after:
                raise ValidationError(f"Series {uid} has {len(old.labels)} label(s), so it"
                                      " cannot be removed from the case. Remove its labels"
                                      " first (a SeriesEntry with labels=()).",
                                      field="series", value=uid)
            if after[uid].partial_volume != old.partial_volume:
                change = (f"{old.partial_volume.describe(3)} ->"
                          f" {after[uid].partial_volume.describe(3)}")
                raise ValidationError(
                    f"Series {uid} has {len(old.labels)} label(s), so its range cannot change"
                    f" ({change}): the labels are drawn on those images. Remove the labels"
                    " first.", field="series", value=uid)
        return entries

    # -- tags ------------------------------------------------------------------

    def set_tags(self, tags: Iterable[str]) -> list[str]:
        """Replace the tags (tags are not versioned)."""
        return self._store.bulk_tags([self.case_id], "set", tags)[self.case_id]

    def add_tags(self, tags: Iterable[str]) -> list[str]:
        return self._store.bulk_tags([self.case_id], "add", tags)[self.case_id]

    def remove_tags(self, tags: Iterable[str]) -> list[str]:
        return self._store.bulk_tags([self.case_id], "remove", tags)[self.case_id]

    # -- reprs -----------------------------------------------------------------

    def _rows(self) -> list[tuple[str, Any]]:
        head = self._head()
        project = self._project()
        return [("case_id", self.case_id), ("project", project.name),
                ("revisions", head["latest"] + 1), ("tags", ", ".join(head["tags"])),
                ("created", head["created_at"]), ("updated", head["updated_at"])]

    def __repr__(self) -> str:
        try:
            head = self._head()
        except Exception:  # a repr must not fail: closed store, no access...
            return f"<Case {self.case_id}>"
        return (f"<Case {self.case_id} revisions={head['latest'] + 1}"
                f" tags={list(head['tags'])}>")

    def __str__(self) -> str:
        return card_text(f"Case {self.case_id}", self._rows())

    def _repr_html_(self) -> str:
        history = self.history().iloc[::-1].head(10)
        table = table_html(["#", "date", "creator", "description", "status"],
                           history.itertuples(index=False))
        return card_html(f"Case {self.case_id}", self._rows(),
                         table + self.latest._series_table())


def _check_base(base: int | None, latest: Revision) -> None:
    if base is None or base == latest.index:
        return
    raise RevisionConflict(
        f"Revision {base} is not the latest: revision {latest.index} was saved since (by"
        f" {latest.creator}, {latest.date:%Y-%m-%d %H:%M:%S} UTC). Nothing was saved; load"
        f" the latest revision, apply your change to it and save with base={latest.index}.",
        base=base, latest=latest.index)


def _checked_attributes(project: Project, attributes: Any, reverting: Revision | None
                        ) -> dict[str, Any]:
    """Attributes checked against the project's schema.

    A revert restores a state the case really had, so attributes that the schema of today
    refuses are restored as they were, with a ``CircusWarning`` that says which rule they
    break and why (the first revision of every case holds none; a schema may change).
    """
    try:
        return validate_attributes(project.case_attributes_schema, attributes)
    except ValidationError as e:
        if reverting is None:
            raise
        problem = e.message
    if reverting.index == 0 and not reverting.attributes:
        why = "Revision 0 holds no attributes (every case starts without any)."
    else:
        why = f"The project's schema changed since revision {reverting.index} was saved."
    warnings.warn(f"Revision {reverting.index} is restored with its attributes as they were,"
                  f" which the project's schema no longer accepts: {problem} {why} Save the"
                  " values the schema asks for when you have them.", CircusWarning,
                  stacklevel=4)
    return validate_attributes(None, attributes)


def _check_labels(entries: Sequence[SeriesEntry], project: Project, store: Store,
                  stored: Revision | None = None) -> list[SeriesEntry]:
    """The entries with every label checked in full (see ``check_label``) and normalised.

    A label exactly as it is in the ``stored`` revision (its data names its series
    entry's shape and its mask's hash) was checked when it was stored, and its mask is
    checked against that hash whenever it is read, so it is not read and checked again:
    a save that changes only the status stays fast. Label attributes are checked against
    the project's schema of today either way.
    """
    schema = project.label_attributes_schema
    known = [lb.to_json() for e in (stored.series if stored else ()) for lb in e.labels]
    checked = []
    for entry in entries:
        shape = None
        labels = []
        for label in entry.labels:
            carried = isinstance(label, Label) and label.to_json() in known
            if not carried:
                label = check_label(label)
            validate_attributes(schema, label.attributes)
            labels.append(label)
            if label.type != "voxel" or carried:  # a carried label's shape was checked
                continue
            if shape is None:  # multi-frame images: as many slices as frames
                shape = list(store.series(entry.series_uid).volume_shape(entry.partial_volume))
            if list(label.data["shape"]) != shape:
                raise ValidationError(
                    f"Voxel label {label.name or ''} is shaped {tuple(label.data['shape'])}, but"
                    f" the volume of series {entry.series_uid} over"
                    f" {entry.partial_volume.describe(3)} is {tuple(shape)} (z, y, x).",
                    field="labels", value=tuple(label.data["shape"]))
        checked.append(dataclasses.replace(entry, labels=tuple(labels)))
    return checked


def new_case_entries(store: Store, project: Project, series: Sequence[Any]) -> list[SeriesEntry]:
    """Checks of case creation that need the series (after ``write`` is checked)."""
    return _check_labels(resolve_entries(store, series), project, store)


def first_revision(user: str, entries: Sequence[SeriesEntry]) -> Revision:
    return Revision(0, user, datetime.now(UTC), FIRST_DESCRIPTION, "draft", {}, tuple(entries))


