"""The case half of :class:`~circus_nb.api.store.Store`: create, open, tag, search,
delete and export cases. Kept apart so each module stays readable; ``Store``
inherits these methods."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..domain.values import check_names, new_id, shown
from ..errors import NotFoundError, ValidationError
from ..store import accounts, projects
from ..store import cases as cases_sql
from ..store import search as search_sql
from ._checks import (
    CASE_FILTERS,
    MAX_TAGS,
    PATIENT_COLUMNS,
    as_utc,
    check_filters,
    check_id,
    check_page,
    check_sort,
    check_tags,
    uses_patient_fields,
)
from .agreement import label_agreement
from .cases import Case, first_revision, new_case_entries
from .collections import resolve_list, with_preset
from .datasets import Dataset, build_dataset
from .export import write_export

if TYPE_CHECKING:
    from ..domain.privileges import Rights

MAX_BULK_CASES = 1000


def _retag(current: list[str], operation: str, tags: list[str]) -> list[str]:
    if operation == "set":
        return tags
    if operation == "add":
        return current + [t for t in tags if t not in current]
    return [t for t in current if t not in tags]


def facet_frame(frame: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    """Facet rows in a fixed facet order, largest counts first, with a ``label``."""
    order = {"project": 0, "status": 1, "modality": 2, "tag": 3}
    frame = frame.assign(rank=frame["facet"].map(order), count=frame["count"].astype("int64"))
    frame = frame.sort_values(["rank", "count", "value"], ascending=[True, False, True],
                              na_position="last")
    labels = [names.get(v, v) if f == "project" else v
              for f, v in zip(frame["facet"], frame["value"], strict=True)]
    frame.insert(2, "label", labels)
    return frame.drop(columns="rank").reset_index(drop=True)


class CaseMethods:
    """Methods of ``Store`` about cases (they use its connection, user and rights)."""

    rights: Rights
    user: str

    def create_case(self, project_id: str, series: Sequence[Any], tags: Iterable[str] = ()
                    ) -> Case:
        """Create a case in a project from one or more series (``write`` on the project).

        ``series`` items are a series UID (its ``auto`` range), or ``(uid, spec)`` with
        spec ``"auto"``, a ``PartialVolume`` or ``(start, end, delta)``. ``auto`` is
        resolved now and stored resolved. The first revision is ``Created new case.``
        with status ``draft``.

        Raises
        ------
        NotFoundError
            No such project, or ``Nonexistent series.``
        PermissionDenied
            Without ``write``, or a series outside the user's domains.
        ValidationError
            An empty series list, series from two domains, ``Specified range is
            invalid.``, more than 10 tags, or a tag that is not one line of 1-32
            characters.
        """
        check_id(project_id, "project_id")
        rights = self.rights
        project = projects.load_project(self._db(), project_id, rights)
        rights.require_role(project_id, "write", project.name)
        entries = new_case_entries(self, project, series)
        tags = check_tags(tags)
        domains = [self.series(entries[0].series_uid).domain]  # one, checked above
        case_id = new_id()
        with self._write() as con:
            cases_sql.insert_case(con, case_id, project_id, tags, domains,
                                  first_revision(self.user, entries))
        return Case(self, case_id, project_id)

    def case(self, case_id: str) -> Case:
        """One case (``read`` on its project)."""
        check_id(case_id, "case_id")
        head = cases_sql.load_head(self._db(), case_id)
        case = Case(self, case_id, head["project_id"])
        case._con()  # checks read
        return case

    def delete_case(self, case_id: str) -> None:
        """Delete a case and all its revisions (``moderate`` on its project)."""
        check_id(case_id, "case_id")
        head = cases_sql.load_head(self._db(), case_id)
        project = projects.load_project(self._db(), head["project_id"])
        self.rights.require_role(project.project_id, "moderate", project.name)
        with self._write() as con:
            cases_sql.delete_case(con, case_id)

    def bulk_tags(self, case_ids: Sequence[str], operation: str, tags: Iterable[str]
                  ) -> dict[str, list[str]]:
        """``add``, ``remove`` or ``set`` tags on up to 1,000 cases at once (``write``).

        All or nothing: one refused case leaves every case as it was. Returns the new
        tags of each case.

        Raises
        ------
        ValidationError
            An unknown operation, no case ids or more than 1,000, more than 10 tags, or
            a tag that is not one line of 1-32 characters.
        NotFoundError
            If a case does not exist.
        PermissionDenied
            Without ``write`` on the project of one of the cases.
        """
        if operation not in ("add", "remove", "set"):
            raise ValidationError(f"operation must be 'add', 'remove' or 'set', got"
                                  f" {shown(operation)}.", field="operation", value=operation)
        tags = check_tags(tags)
        case_ids = list(dict.fromkeys(check_names(case_ids, "case_ids", 64, item="case id")))
        if not 1 <= len(case_ids) <= MAX_BULK_CASES:
            raise ValidationError(
                f"Bulk tag changes take 1 to {MAX_BULK_CASES} cases (and at most {MAX_TAGS}"
                f" tags), got {len(case_ids)} cases.", field="case_ids", value=len(case_ids))
        with self._write() as con:
            heads = cases_sql.heads(con, case_ids)
            missing = [c for c in case_ids if c not in heads]
            if missing:
                raise NotFoundError(f"No case {shown(missing[0])} ({len(missing)} of the"
                                    f" {len(case_ids)} cases do not exist). Nothing was changed.",
                                    field="case_ids", value=missing)
            rights = self.rights
            for project_id in {p for p, _ in heads.values()}:
                rights.require_role(project_id, "write",
                                    projects.load_project(con, project_id).name)
            new = {c: _retag(heads[c][1], operation, tags) for c in case_ids}
            cases_sql.set_tags(con, case_ids, new, datetime.now(UTC))
        return new

    def search_cases(self, project_id: str | Sequence[str] | None = None,
                     case_id: str | None = None, tags: Iterable[str] | None = None,
                     patient_id: str | None = None, patient_name: str | None = None,
                     sex: str | None = None, min_age: int | None = None,
                     max_age: int | None = None, created_from: Any = None,
                     created_to: Any = None, updated_from: Any = None, updated_to: Any = None,
                     as_of: Any = None, sort: list[str] | None = None, limit: int = 200,
                     offset: int = 0, *, status: str | None = None, in_list: Any = None,
                     preset: str | None = None) -> pd.DataFrame:
        """Cases in the projects the current user can read, newest created first.

        ``tags`` matches cases having all of them, ``status`` the status of the
        latest revision (or of the one at ``as_of``). Dates take a date, a datetime, ISO
        text or a time relative to now (``updated_from="-7d"``). ``as_of`` shows each
        case as its revision current at that time: a snapshot of whole projects.
        ``in_list`` keeps the cases of a list (its name, id or the ``ItemList``);
        ``preset`` starts from a saved search (:meth:`save_search`), which the other
        arguments given override. Patient columns show only with
        ``personalInfoView``, the preference and the project's ``viewPersonalInfo``.

        Raises
        ------
        PermissionDenied
            Naming a project the user cannot read, or filtering or sorting by patient
            fields without ``personalInfoView``.
        ValidationError
            A filter of the wrong type, ``limit`` above 200, more than 5 sort keys, an
            unknown sort column.
        """
        filters = with_preset(self, "cases", preset, {
            "project_id": project_id, "case_id": case_id, "tags": tags,
            "patient_id": patient_id, "patient_name": patient_name, "sex": sex,
            "min_age": min_age, "max_age": max_age, "created_from": created_from,
            "created_to": created_to, "updated_from": updated_from, "updated_to": updated_to,
            "as_of": as_of, "status": status, "in_list": in_list, "sort": sort})
        sort = check_sort(filters.pop("sort") or [],
                          [c for c in search_sql.CASE_RESULT if c != "tags"]) or ["-created_at"]
        limit, offset = check_page(limit, offset)
        project_id, as_of = filters.pop("project_id"), as_utc(filters.pop("as_of"), "as_of")
        rights, wanted, filters = self._case_scope(project_id, filters, sort, "search_cases")
        frame = search_sql.search_cases(self._db(), filters, wanted, as_of, sort, limit, offset)
        preference = self.preferences()["personal_info_view"]
        visible = {pid for pid in wanted if rights.may_view_patient_info(preference, pid)}
        hidden = ~frame["project_id"].isin(visible)
        for column in PATIENT_COLUMNS:
            frame[column] = frame[column].astype(object).where(~hidden, None)
        return accounts.as_lists(frame, "tags")

    def count_cases(self, **filters: Any) -> int:
        """How many cases ``search_cases(**filters)`` finds over all its pages.

        Takes the filters of :meth:`search_cases` (``project_id``, ``as_of``,
        ``in_list``, ``preset`` and the rest, not ``sort``, ``limit`` or ``offset``),
        with the same checks.

        >>> import circus_nb as cnb
        >>> store = cnb.demo_store()
        >>> store.count_cases(), store.count_cases(tags=["nodule"], as_of="2000-01-01")
        (0, 0)
        >>> store.count_cases(tag=["nodule"])
        Traceback (most recent call last):
        ...
        circus_nb.errors.ValidationError: count_cases has no filter 'tag'. Did you mean 'tags'? ...
        >>> store.close()

        Raises
        ------
        PermissionDenied
            As :meth:`search_cases`.
        ValidationError
            An unknown filter, or one of the wrong type.
        """
        wanted, as_of, checked = self._case_counting(filters, "count_cases")
        return search_sql.count_cases(self._db(), checked, wanted, as_of)

    def case_facets(self, **filters: Any) -> pd.DataFrame:
        """Counts of the cases ``search_cases(**filters)`` finds, by project, status,
        modality (of each case's first series) and tag: what a browser shows above
        its results. Columns ``facet, value, label, count`` (``label`` is the project's
        name for projects, else the value), largest counts first within each facet.

        >>> import circus_nb as cnb
        >>> store = cnb.demo_store()
        >>> case = store.create_case(store.projects()["project_id"][0],
        ...                          [store.search_series(modality="MR")["series_uid"][0]],
        ...                          tags=["teaching"])
        >>> store.case_facets()[["facet", "label", "count"]].values.tolist()
        [['project', 'Chest CT demo', 1], ['status', 'draft', 1], ['modality', 'MR', 1], \
['tag', 'teaching', 1]]
        >>> store.close()

        Raises
        ------
        PermissionDenied, ValidationError
            As :meth:`count_cases`.
        """
        wanted, as_of, checked = self._case_counting(filters, "case_facets")
        frame = search_sql.case_facets(self._db(), checked, wanted, as_of)
        return facet_frame(frame, projects.project_names(self._db(), wanted))

    def _case_counting(self, filters: dict[str, Any], where: str
                       ) -> tuple[list[str], Any, dict[str, Any]]:
        """The projects, ``as_of`` and checked filters of a count or facets call."""
        # a saved search's order means nothing to a count
        filters = with_preset(self, "cases", filters.pop("preset", None), filters,
                              ignore=("sort",))
        project_id = filters.pop("project_id", None)
        as_of = as_utc(filters.pop("as_of", None), "as_of")
        _rights, wanted, checked = self._case_scope(project_id, filters, [], where)
        return wanted, as_of, checked

    def dataset(self, project_id: str, tags: Iterable[str] | None = None,
                status: str | None = None, as_of: Any = None, entry: int = 0, *,
                in_list: Any = None, progress: bool = True) -> Dataset:
        """The project's cases that match, each frozen at a revision, for training.

        Each case comes at its latest revision, or at the one current at ``as_of``
        (a datetime or ISO date: cases created later are left out). ``tags``
        matches cases having all of them, ``status`` the revision's status, and
        ``in_list`` keeps the cases of a list (its name, id or ``ItemList``).
        ``entry`` is the series entry each item reads; cases without one are left
        out with a ``CircusWarning``. Every image file is hashed now (a progress bar
        for many): the :class:`Dataset`'s ``fingerprint`` covers the cases, their
        revisions, ranges, labels and file contents, and ``ds.save(path)`` keeps it.

        Raises
        ------
        PermissionDenied
            Without ``read`` on the project.
        NotFoundError
            No such project.
        ValidationError
            A bad tag, status, ``as_of`` or ``entry``.
        CircusError
            If an image file is missing or changed since its import.
        """
        return build_dataset(self, project_id, tags, status, as_of, entry, progress, in_list)

    def _case_scope(self, project_id: Any, filters: dict[str, Any], sort: list[str],
                    where: str) -> tuple[Rights, list[str], dict[str, Any]]:
        """The rights, the project ids searched and the checked filters of a case search."""
        if filters.get("in_list") is not None:
            filters = {**filters, "in_list": resolve_list(self, filters["in_list"], "cases")}
        filters = check_filters(filters, CASE_FILTERS, where)
        wanted = None if project_id is None else check_names(project_id, "project_id", 64,
                                                             item="project id")
        rights = self.rights
        readable = projects.readable_ids(self._db(), rights)
        for pid in wanted or []:
            if pid not in readable:
                name = projects.load_project(self._db(), pid, rights).name
                rights.require_role(pid, "read", name)
        if uses_patient_fields(filters, sort):
            rights.require_patient_search()
        return rights, readable if wanted is None else wanted, filters

    def export_cases(self, case_ids: str | Sequence[str], path: str | Path,
                     format: str = "mhd", labels: str = "isolated", archive: str = "zip",
                     revision: int | None = None, *, progress: bool = True) -> Path:
        """Write cases into one archive, CIRCUS style; return the archive's path.

        Per case, a folder ``<case_id>/`` holds ``data.json`` (the case and the
        exported revision) and per series entry ``i`` its volume ``vol00i`` (exactly
        the images of its range, in order): ``.mhd`` + ``.raw`` for ``format="mhd"``,
        ``.nii.gz`` for ``format="nifti"`` (needs nibabel). Voxel labels go beside it,
        one file each (``labels="isolated"``: ``vol000-label000``) or one combined file
        (``labels="combined"``: ``vol000-label``, value = label index + 1).

        ``path`` is the archive to write (``archive="zip"`` or ``"tar.gz"``), or an
        existing folder to write ``<case_id>.zip`` (``cases.zip`` for several cases)
        in. ``revision=None`` exports each case's latest revision, an integer that
        revision of every case. Nothing is left behind when the export fails.
        ``case_ids`` may be an ``ItemList``. A progress bar counts the cases
        (``progress=False`` for none).

        >>> import circus_nb as cnb
        >>> store = cnb.Store.create(None)
        >>> store.export_cases("no-such-case", ".", format="dicom")
        Traceback (most recent call last):
        ...
        circus_nb.errors.ValidationError: format must be 'mhd' or 'nifti', got 'dicom'.
        >>> store.close()

        Raises
        ------
        PermissionDenied
            Without the global ``downloadVolume``, or ``read`` on a case's project.
        ValidationError
            An unknown ``format``, ``labels`` or ``archive``, no case ids, or a
            ``path`` that already exists.
        NotFoundError
            No such case, no such revision, or no folder to write ``path`` in.
        """
        return write_export(self, case_ids, path, format=format, labels=labels,
                            archive=archive, revision=revision, progress=progress)

    def label_agreement(self, case_ids: str | Sequence[str], a: int | str, b: int | str,
                        entry: int = 0, *, missing: str = "raise",
                        progress: bool | Callable[[int, int], Any] = True) -> pd.DataFrame:
        """:meth:`Case.compare_labels` over many cases, a row per case and label name.

        Columns ``case_id, revision_a, revision_b`` then those of ``compare_labels``;
        a case whose two revisions hold no labels gives no row. Every case and
        revision is checked before any is compared. ``missing="skip"`` leaves out
        the cases without the revision ``a`` or ``b`` names (say, cases one reader
        never saved) instead of refusing them all. ``progress``: ``True`` (a bar),
        ``False``, or a function called ``progress(done, total)``.

        Raises
        ------
        ValidationError
            Bad arguments, or a case whose two entries are not the same series and range.
        NotFoundError
            No such case, a case without one of the revisions (all such cases are
            named), or without series entry ``entry``.
        PermissionDenied
            Without ``read`` on a case's project, or the domain of its series.
        """
        return label_agreement(self, case_ids, a, b, entry, missing, progress)
