"""``CaseBrowser``: CIRCUS's Case Search, where a curator works on many cases at once.

Filter by projects, case id, tags (all of them), status, creation and update dates
(or "updated in the last 7 days"), a list, and patient fields where you may; the
counts by project, status, modality and tag show above the results as small bars.
Click rows to select them (Ctrl/Cmd/Shift + click adds or removes one), a header to
sort; then add, remove or set tags on the selection, put it in a list, export it,
or open a selected case in the :class:`CaseEditor` or the :class:`CaseViewer`.

Every control has a Python method: ``search(**filters)``, ``sort(keys)``,
``next_page()``, ``previous_page()``, ``select(case_ids)``, ``select_page()``,
``bulk_tags(operation, tags)``, ``export(path)``, ``open_case(viewer=False)``,
``save_search(name)``, ``apply_preset(name)``, ``add_to_list(name)``,
``remove_from_list(name)``, ``new_list(name)``. Methods raise (and show) a
``CircusError``; buttons only show it.

>>> import circus_nb as cnb
>>> store = cnb.demo_store()
>>> project = store.projects()["project_id"][0]
>>> uids = store.search_series(modality="CT")["series_uid"]
>>> made = [store.create_case(project, [uid], tags=["teaching"]).case_id for uid in uids[:3]]
>>> browser = CaseBrowser(store)
>>> browser.total, browser.table.caption
(3, 'Cases 1–3 of 3')
>>> sorted(browser.select(made[:2])) == sorted(made[:2])
True
>>> changed = browser.bulk_tags("add", ["nodule"])
>>> store.count_cases(tags=["nodule"]), browser.facet_counts("tag")
(2, {'teaching': 3, 'nodule': 2})
>>> store.close()
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import pandas as pd

from ..api._checks import as_utc
from ..api.store import Store
from ..errors import ValidationError
from ._common import (
    Message,
    TagPicker,
    button,
    date_of,
    is_relative,
    labelled,
    run_and_show,
)
from ._common import text_of as _text
from ._facets import facets_html
from ._saved import SavedSearchesAndLists, SearchTools, expand_preset
from ._table import ResultsTable

__all__ = ["CASE_FILTERS", "CaseBrowser"]

#: The keyword arguments ``CaseBrowser.search`` takes: those of ``store.search_cases``
#: but ``limit`` and ``offset`` (the paging sets them).
CASE_FILTERS = tuple(name for name in inspect.signature(Store.search_cases).parameters
                     if name not in ("self", "limit", "offset"))
COLUMNS = ("Case", "Project", "Tags", "Status", "Rev.", "Updated", "Created", "Patient",
           "Description")
SORT_KEYS = ("case_id", "project_id", "", "status", "revision", "updated_at", "created_at",
             "patient_name", "description")
DEFAULT_SORT = ("-created_at",)
UPDATED_WITHIN = (("any time", ""), ("the last 24 hours", "-24h"), ("the last 7 days", "-7d"),
                  ("the last 30 days", "-30d"))
OPERATIONS = (("add", "add"), ("remove", "remove"), ("set (replace all)", "set"))
SEXES = (("any", ""), ("F", "F"), ("M", "M"), ("O", "O"))
MASKED = "(masked)"
EN_DASH = "\u2013"
_DATES = (("created_from", "Created from"), ("created_to", "Created to"),
          ("updated_from", "Updated from"), ("updated_to", "Updated to"))
_LABEL = {"description_width": "100px"}


class CaseBrowser(SavedSearchesAndLists, widgets.VBox):
    """Search, select and act on the cases of the projects you can read."""

    def __init__(self, store: Store, page_size: int = 50):
        if isinstance(page_size, bool) or not isinstance(page_size, int) \
                or not 1 <= page_size <= 200:
            raise ValidationError(f"page_size must be an integer from 1 to 200, got"
                                  f" {page_size!r}.", field="page_size", value=page_size)
        self.store, self.page_size, self.page = store, page_size, 0
        self.results = pd.DataFrame()
        self.facets = pd.DataFrame(columns=["facet", "value", "label", "count"])
        self.opened: widgets.Widget | None = None
        self._filters: dict[str, Any] = {}
        self._kept: dict[str, Any] = {}  # filters of the last search the fields cannot show
        self._build()
        super().__init__([self._fields, self._search_row, self.tools, self.message,
                          self.facets_html, self.table, self._paging_row, self._actions,
                          self.output, self.open_box], layout=widgets.Layout(padding="4px"))
        self.search()

    # -- the controls ------------------------------------------------------------------

    def _build(self) -> None:
        projects = self.store.projects()
        self._project_names = dict(zip(projects["project_id"], projects["name"], strict=True))
        self._tag_colors = self._colors()
        wide = widgets.Layout(width="340px")
        self.projects = widgets.SelectMultiple(
            description="Projects", rows=min(4, max(2, len(projects))), style=_LABEL,
            options=[(name, pid) for pid, name in self._project_names.items()], layout=wide)
        self.case_id = widgets.Text(description="Case ID", layout=wide, style=_LABEL)
        self.status = widgets.Combobox(description="Status", options=["draft", "done"],
                                       ensure_option=False, layout=wide, style=_LABEL)
        self.tags = TagPicker(self._tag_colors, colors=self._tag_colors)
        self.updated_within = widgets.Dropdown(description="Updated in", style=_LABEL,
                                               options=UPDATED_WITHIN, layout=wide)
        for name, label in _DATES:
            setattr(self, name, widgets.DatePicker(description=label, style=_LABEL,
                                                   layout=wide))
        self.patient_id = widgets.Text(description="Patient ID", layout=wide, style=_LABEL)
        self.patient_name = widgets.Text(description="Patient name", layout=wide, style=_LABEL)
        self.sex = widgets.Dropdown(description="Sex", options=SEXES,
                                    layout=wide, style=_LABEL)
        self.min_age = widgets.Text(description="Age from", placeholder="years", style=_LABEL)
        self.max_age = widgets.Text(description="Age to", placeholder="years", style=_LABEL)
        self.patient_fields = widgets.VBox([
            widgets.HBox([self.patient_id, self.patient_name]),
            widgets.HBox([self.sex, self.min_age, self.max_age])])
        self.patient_fields.layout.display = None if self.may_search_patients else "none"
        self._fields = widgets.VBox([
            widgets.HBox([self.projects, widgets.VBox([self.case_id, self.status])]),
            labelled("Tags (all of)", self.tags, width="100px"),
            widgets.HBox([self.updated_within]),
            widgets.HBox([self.created_from, self.created_to]),
            widgets.HBox([self.updated_from, self.updated_to]), self.patient_fields])
        self.search_button = button("Search", style="primary", tooltip="Search the cases")
        self.clear_button = button("Clear", tooltip="Empty every field")
        self._search_row = widgets.HBox([self.search_button, self.clear_button])
        self.message = Message()
        self.tools = SearchTools(self.store, "cases", filters=lambda: self.filters,
                                 selection=lambda: self.selected, run=self._run,
                                 message=self.message)
        self.facets_html = widgets.HTML()
        self.table = ResultsTable(columns=list(COLUMNS), multiple=True,
                                  empty_text="No cases match.")
        self.previous_button = button("Previous", tooltip="The previous page")
        self.next_button = button("Next", tooltip="The next page")
        self.select_page_button = button("Select page", tooltip="Select every row shown")
        self.selection_label = widgets.HTML()
        self._paging_row = widgets.HBox([self.previous_button, self.next_button,
                                         self.select_page_button, self.selection_label])
        self._build_actions()
        self._wire()

    def _build_actions(self) -> None:
        self.operation = widgets.Dropdown(options=OPERATIONS, layout=widgets.Layout(
            width="150px"))
        self.bulk_picker = TagPicker(self._tag_colors, colors=self._tag_colors)
        self.apply_tags_button = button("Apply tags", style="warning",
                                        tooltip="Change the tags of the selected cases")
        self.export_path = widgets.Text(placeholder="cases.zip, or a folder",
                                        layout=widgets.Layout(width="220px"))
        self.export_button = button("Export", tooltip="Export the selected cases (zip)")
        self.open_button = button("Open in editor", tooltip="Open the selected case")
        self.view_button = button("Open in viewer", tooltip="View and label the selected case")
        self._actions = widgets.VBox([
            widgets.HBox([labelled("Tags", self.operation, width="60px"), self.bulk_picker,
                          self.apply_tags_button]),
            widgets.HBox([self.export_path, self.export_button, self.open_button,
                          self.view_button])])
        self.output = widgets.Output()  # the export's progress bar draws here
        self.open_box = widgets.VBox()

    def _wire(self) -> None:
        def on(widget: widgets.Button, action: Any) -> None:
            widget.on_click(lambda _: run_and_show(self.message, action))

        on(self.search_button, self.search_from_form)
        on(self.clear_button, self.clear)
        on(self.previous_button, self.previous_page)
        on(self.next_button, self.next_page)
        on(self.select_page_button, self.select_page)
        on(self.apply_tags_button,
           lambda: self.bulk_tags(self.operation.value, self.bulk_picker.value))
        on(self.export_button, lambda: self.export(self.export_path.value))
        on(self.open_button, self.open_case)
        on(self.view_button, lambda: self.open_case(viewer=True))
        self.table.on_select(lambda _keys: self._show_selection())
        self.table.on_sort(lambda keys: run_and_show(self.message, lambda: self._sorted(keys)))
        self.table.on_error = self.message.show_error

    # -- state -------------------------------------------------------------------------

    @property
    def filters(self) -> dict[str, Any]:
        """The filters of the last search (the paging keeps them)."""
        return dict(self._filters)

    @property
    def total(self) -> int:
        """How many cases the last search finds over all its pages (each case is in
        one project, so the project counts add up to it)."""
        return sum(self.facet_counts("project").values())

    @property
    def selected(self) -> list[str]:
        """The case ids of the selected rows (of the page shown)."""
        return list(self.table.selected)

    @property
    def may_search_patients(self) -> bool:
        """Whether the user may filter by patient fields (global ``personalInfoView``)."""
        return "personalInfoView" in self.store.rights.global_privileges

    def facet_counts(self, facet: str) -> dict[str, int]:
        """``{label: count}`` of one facet (``project``, ``status``, ``modality``, ``tag``)."""
        rows = self.facets[self.facets["facet"] == facet]
        return dict(zip(rows["label"], rows["count"].astype(int), strict=True))

    # -- searching ---------------------------------------------------------------------

    def search(self, **filters: Any) -> pd.DataFrame:
        """Search with ``filters`` (the names of ``store.search_cases``); shows page 1
        with its facets. A ``preset`` fills the fields with that saved search."""
        with self.message.reporting():
            unknown = sorted(set(filters) - set(CASE_FILTERS))
            if unknown:
                raise ValidationError(f"CaseBrowser.search has no filter {unknown[0]!r};"
                                      f" filters: {', '.join(CASE_FILTERS)}.",
                                      field=unknown[0], value=filters[unknown[0]])
            filters = {k: v for k, v in filters.items() if v is not None and v != []}
            _check_date_order(filters)
            frame = self._page(filters, 0)  # checks every filter before anything changes
            self.facets = self.store.case_facets(**_counting(filters))
            self._filters, self.page, self.results = filters, 0, frame
            self._fill_fields(expand_preset(self.store, "cases", filters))
            self._offer_found_tags()
            self._render()
        return self.results

    def search_from_form(self) -> pd.DataFrame:
        """What the Search button does: search with the fields' values."""
        return self.search(**self.form_filters())

    def form_filters(self) -> dict[str, Any]:
        """The filters the fields hold (empty fields left out)."""
        filters: dict[str, Any] = {
            **self._kept,  # a list, an order, as_of, a relative date: kept, not shown
            "project_id": list(self.projects.value) or None,
            "case_id": self.case_id.value.strip() or None,
            "status": self.status.value.strip() or None,
            "tags": self.tags.value or None,
            "updated_from": self.updated_within.value or None,
        }
        for name, _label in _DATES:
            if getattr(self, name).value is not None and (
                    name != "updated_from" or not self.updated_within.value):
                filters[name] = getattr(self, name).value
        if self.may_search_patients:
            filters.update(patient_id=self.patient_id.value.strip() or None,
                           patient_name=self.patient_name.value.strip() or None,
                           sex=self.sex.value or None,
                           min_age=_age(self.min_age.value, "min_age"),
                           max_age=_age(self.max_age.value, "max_age"))
        return {k: v for k, v in filters.items() if v is not None}

    def clear(self) -> pd.DataFrame:
        """Empty every field and search everything."""
        return self.search()

    def sort(self, keys: list[str]) -> pd.DataFrame:
        """Sort by ``keys`` (``search_cases``' sort keys, ``-`` for descending): what a
        click on a header does."""
        return self.search(**{**self._filters, "sort": list(keys)})

    def next_page(self) -> pd.DataFrame:
        """The next page of the last search."""
        if (self.page + 1) * self.page_size >= self.total:
            raise ValidationError("This is the last page.", field="page", value=self.page)
        return self._go(self.page + 1)

    def previous_page(self) -> pd.DataFrame:
        """The previous page of the last search."""
        if self.page == 0:
            raise ValidationError("This is the first page.", field="page", value=0)
        return self._go(self.page - 1)

    # -- the selection and what acts on it ----------------------------------------------

    def select(self, case_ids: list[str] | str) -> list[str]:
        """Select exactly these cases of the page shown; return the selection."""
        with self.message.reporting():
            self.table.select([case_ids] if isinstance(case_ids, str) else list(case_ids))
        return self.selected

    def select_page(self) -> list[str]:
        """Select every case of the page shown."""
        return self.select(self.table.row_keys)

    def bulk_tags(self, operation: str, tags: list[str]) -> dict[str, list[str]]:
        """``add``, ``remove`` or ``set`` ``tags`` on the selected cases (``write``
        on their projects; all or nothing), then show the page again."""
        with self.message.reporting():
            chosen = self._chosen()
            if not tags and operation != "set":
                raise ValidationError(f"Pick the tags to {operation} first.", field="tags",
                                      value=[])
            changed = self.store.bulk_tags(chosen, operation, tags)
            self._refresh(keep=chosen)
            words = {"add": "Added", "remove": "Removed", "set": "Set"}[operation]
            self.message.show(f"{words} {', '.join(tags) or 'no tags'} on {len(changed)}"
                              f" case{'s' * (len(changed) != 1)}.", "ok")
        return changed

    def export(self, path: str | Path, **options: Any) -> Path:
        """Export the selected cases (``store.export_cases``; ``options`` such as
        ``format="nifti"``), with a progress bar under the table."""
        with self.message.reporting():
            chosen = self._chosen()
            if isinstance(path, str) and not path.strip():
                raise ValidationError("Give a path for the archive (e.g. cases.zip) or an"
                                      " existing folder.", field="path", value=path)
            self.output.clear_output()
            with self.output:
                written = self.store.export_cases(chosen, path, **options)
            self.message.show(f"Exported {len(chosen)} case{'s' * (len(chosen) != 1)} to"
                              f" {written}.", "ok")
        return written

    def open_case(self, case_id: str | None = None, viewer: bool = False) -> widgets.Widget:
        """Open ``case_id`` (default: the one selected case) in a ``CaseEditor``, or
        with ``viewer`` in a ``CaseViewer``, under the browser."""
        from .case_editor import CaseEditor  # the browser loads without them
        from .case_viewer import CaseViewer

        with self.message.reporting():
            if case_id is None:
                chosen = self._chosen()
                if len(chosen) != 1:
                    raise ValidationError(f"Select one case to open, not {len(chosen)}.",
                                          field="selection", value=chosen)
                case_id = chosen[0]
            self.opened = (CaseViewer if viewer else CaseEditor)(self.store, case_id)
            self.open_box.children = (self.opened,)
        return self.opened

    # -- helpers --------------------------------------------------------------------------

    def _run(self, filters: dict[str, Any]) -> pd.DataFrame:
        return self.search(**filters)

    def _page(self, filters: dict[str, Any], page: int) -> pd.DataFrame:
        return self.store.search_cases(**filters, limit=self.page_size,
                                       offset=page * self.page_size)

    def _go(self, page: int) -> pd.DataFrame:
        with self.message.reporting():
            self.results, self.page = self._page(self._filters, page), page
            self._render()
        return self.results

    def _refresh(self, keep: list[str]) -> None:
        """The same page and facets again (after a change), keeping the selection."""
        self.results = self._page(self._filters, self.page)
        self.facets = self.store.case_facets(**_counting(self._filters))
        self._render(keep)

    def _sorted(self, keys: list[str]) -> None:
        if list(keys) != list(self._filters.get("sort") or DEFAULT_SORT):
            self.sort(keys)

    def _chosen(self) -> list[str]:
        if not self.selected:
            raise ValidationError("Select cases first: click a row (Ctrl+click adds one,"
                                  " Select page takes them all).", field="selection", value=[])
        return self.selected

    def _colors(self) -> dict[str, str]:
        """Tag -> colour over the readable projects (the first project's wins)."""
        colors: dict[str, str] = {}
        for pid in self._project_names:
            for tag in self.store.project(pid).tags:
                colors.setdefault(tag.name, tag.color)
        return colors

    def _offer_found_tags(self) -> None:
        """Tags the cases have beyond the projects' vocabulary get a chip too (the facets
        show them, so a click must be able to filter by them)."""
        found = [t for t in self.facet_counts("tag") if t not in self.tags.choices]
        if found:
            self.tags.set_choices([*self.tags.choices, *found], self.tags.value,
                                  self._tag_colors)

    def _fill_fields(self, filters: dict[str, Any]) -> None:
        projects = filters.get("project_id") or []
        projects = [projects] if isinstance(projects, str) else list(projects)
        self.projects.value = tuple(p for p in projects if p in self._project_names)
        self.case_id.value = filters.get("case_id") or ""
        self.status.value = filters.get("status") or ""
        tags = list(filters.get("tags") or [])
        unknown = [t for t in tags if t not in self.tags.choices]  # not in the vocabulary
        if unknown:
            self.tags.set_choices([*self.tags.choices, *unknown], colors=self._tag_colors)
        self.tags.value = tags
        self._kept = {k: filters[k] for k in ("in_list", "sort", "as_of") if filters.get(k)}
        relative = filters.get("updated_from")
        offered = list(UPDATED_WITHIN)
        if is_relative(relative) and relative not in {v for _label, v in offered}:
            offered.append((relative.strip(), relative))  # "-14d" from a saved search
        self.updated_within.options = offered
        self.updated_within.value = relative if is_relative(relative) else ""
        for name, _label in _DATES:
            value = filters.get(name)
            if is_relative(value) and name != "updated_from":
                self._kept[name] = value  # a DatePicker shows no "-7d"
            getattr(self, name).value = None if is_relative(value) else date_of(value)
        for name in ("patient_id", "patient_name", "min_age", "max_age"):
            getattr(self, name).value = "" if filters.get(name) is None \
                else str(filters[name])
        sex = str(filters.get("sex") or "").upper()
        self.sex.value = sex if sex in {value for _label, value in SEXES} else ""

    def _render(self, keep: list[str] | None = None) -> None:
        masked = not self.store.may_view_patient_info()
        rows = [self._row_texts(row, masked) for row in self.results.itertuples()]
        with self.table.hold_sync():
            self.table.sort_keys = [k if k != "patient_name" or self.may_search_patients else ""
                                    for k in SORT_KEYS]
            self.table.set_rows(rows, keys=list(self.results.get("case_id", [])),
                                selected=keep or [])
            self.table.sort = list(self._filters.get("sort") or DEFAULT_SORT)
            first = self.page * self.page_size
            self.table.caption = (f"Cases {first + 1}{EN_DASH}{first + len(self.results)} of"
                                  f" {self.total:,}" if len(self.results) else "")
        self.facets_html.value = facets_html(self.facets, self._tag_colors)
        self.previous_button.disabled = self.page == 0
        self.next_button.disabled = (self.page + 1) * self.page_size >= self.total
        self._show_selection()

    def _row_texts(self, row: Any, masked: bool) -> list[str]:
        patient = MASKED if masked or row.patient_id is None else \
            " ".join(filter(None, (_text(row.patient_name), f"({_text(row.patient_id)})")))
        return [row.case_id, self._project_names.get(row.project_id, row.project_id),
                ", ".join(row.tags), _text(row.status), str(row.revision),
                _when(row.updated_at), _when(row.created_at), patient, _text(row.description)]

    def _show_selection(self) -> None:
        count = len(self.table.selected)
        self.selection_label.value = f"&nbsp;{count} selected" if count else ""
        for action in (self.apply_tags_button, self.export_button):
            action.disabled = count == 0
        self.open_button.disabled = self.view_button.disabled = count != 1


def _check_date_order(filters: dict[str, Any]) -> None:
    """Refuse a ``*_from`` after its ``*_to`` (relative times too): nothing could match."""
    for low, high in (("created_from", "created_to"), ("updated_from", "updated_to")):
        start = as_utc(filters.get(low), low)
        end = as_utc(filters.get(high), high, end_of_day=True)
        if start is not None and end is not None and start > end:
            raise ValidationError(f"{low} ({filters[low]}) is after {high} ({filters[high]}):"
                                  " the dates are reversed, so no case could match. Swap"
                                  " them.", field=low, value=(filters[low], filters[high]))


def _counting(filters: dict[str, Any]) -> dict[str, Any]:
    """A search's filters as the counts take them (no order)."""
    return {k: v for k, v in filters.items() if k != "sort"}


def _when(value: Any) -> str:
    return "" if value is None or pd.isna(value) else pd.Timestamp(value).strftime(
        "%Y-%m-%d %H:%M")


def _age(text: str, field: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.isdigit():
        raise ValidationError(f"{field} must be a whole number of years, got {text!r}.",
                              field=field, value=text)
    return int(text)
