"""``SeriesBrowser``: the series search of CIRCUS, in a notebook.

Fill in some fields (modality, UIDs, description, series and import dates; patient
fields too when you hold the global ``personalInfoView``), press Search, page through
the results (the table says how many series match in all, "Series 1–50 of 1,234"),
click a row to see its middle image and details, click a column's header to sort by
it (again for descending), and press New Case to open a :class:`NewCaseForm` for the
series under the browser.

The results are one :class:`~circus_nb.widgets._table.ResultsTable` (``table``): its
``selected`` trait is the selected series, its ``sort`` the order of the results. The
total comes from ``store.count_series(**filters)``, asked once per search.

Every control has a Python method: ``search(**filters)``, ``next_page()``,
``previous_page()``, ``select(uid)`` (a click on a row), ``sort(keys)`` (a click on a
header), ``new_case()``. The methods show an error in the browser's message line
*and* raise it (so a script stops where it failed); the clicks only show it (a
notebook never gets a traceback from a click).

>>> import circus_nb as cnb
>>> store = cnb.demo_store()
>>> browser = SeriesBrowser(store)
>>> browser.table.caption
'Series 1–5 of 5'
>>> browser.table.selected = [browser.table.row_keys[0]]  # what a click on row 1 does
>>> browser.selected == browser.results["series_uid"][0]
True
>>> browser.table.click_header("Series Description")  # what a click on the header does
>>> browser.filters
{'sort': ['series_description']}
>>> browser.sort(["-series_description"])["series_description"].tolist()[:2]
['Chest CT lung 2.5 mm', 'Chest CT feet to head']
>>> store.close()
"""

from __future__ import annotations

import inspect
from html import escape
from typing import Any

import ipywidgets as widgets
import pandas as pd

from ..api._checks import PATIENT_FILTERS
from ..api.series import Series
from ..api.store import Store
from ..domain.image_range import ImageRange
from ..errors import NotFoundError, ValidationError
from ._common import (
    THUMBNAIL_SIZE,
    Guard,
    Message,
    ThumbnailCache,
    button,
    date_of,
    is_relative,
    placeholder_html,
    run_and_show,
)
from ._common import text_of as _text
from ._saved import SavedSearchesAndLists, SearchTools, expand_preset
from ._table import ResultsTable
from .new_case import NewCaseForm

__all__ = ["SEARCH_FILTERS", "SeriesBrowser", "check_date_order"]

#: The keyword arguments ``SeriesBrowser.search`` takes (those of ``store.search_series``
#: except ``limit`` and ``offset``, which the paging sets).
SEARCH_FILTERS = tuple(name for name in inspect.signature(Store.search_series).parameters
                       if name not in ("self", "limit", "offset"))
#: ``(from, to)`` filter pairs, and the labels the fields show.
DATE_PAIRS = (("date_from", "date_to", "Series from", "Series to"),
              ("imported_from", "imported_to", "Imported from", "Imported to"))
COLUMNS = ("Modality", "Patient", "Series Description", "UID", "Images", "Series Date",
           "Import Date")
#: The ``store.search_series`` sort key behind each column (the patient's needs
#: ``personalInfoView``; the images sort by their number, the count the column shows).
SORT_KEYS = ("modality", "patient_name", "series_description", "series_uid", "image_count",
             "series_date", "imported_at")
DEFAULT_SORT = ["-imported_at"]  # what the store sorts by when a search names no sort
MASKED = "(masked)"
NO_SELECTION = "<i>Select a series to see its middle image.</i>"
NO_SERIES_PICTURE = "No series selected"
NO_IMAGE_PICTURE = "No image"
EN_DASH = "\u2013"  # between the first and the last row of a page: "Series 1–50 of 1,234"
SEXES = ("F", "M", "O")
MODALITIES = ("CT", "MR", "PT", "NM", "CR", "DX", "MG", "US", "XA", "RF", "OT")
_TEXT_FILTERS = ("modality", "series_uid", "study_uid", "description", "patient_id",
                 "patient_name")
_AGE_FILTERS = ("min_age", "max_age")
_DATE_FILTERS = ("date_from", "date_to", "imported_from", "imported_to")
_LABEL = {"description_width": "120px"}  # room for "Imported from", "Patient name" in any font


class SeriesBrowser(SavedSearchesAndLists, widgets.VBox):
    """Search the series of your domains and start a case from one.

    >>> import circus_nb as cnb
    >>> store = cnb.demo_store()
    >>> browser = SeriesBrowser(store)
    >>> len(browser.search(modality="CT", description="chest"))
    3
    >>> browser.select(browser.results["series_uid"][0]).description
    'Chest CT lung 2.5 mm'
    >>> browser.table.selected == [browser.selected]
    True
    >>> form = browser.new_case()
    >>> form.entries[0][0] == browser.results["series_uid"][0]
    True
    >>> store.close()
    """

    def __init__(self, store: Store, page_size: int = 50):
        if not 1 <= page_size <= 200:
            raise ValidationError(f"page_size must be between 1 and 200, got {page_size}.",
                                  field="page_size", value=page_size)
        self.store = store
        self.page_size = page_size
        self.page = 0
        self.results: pd.DataFrame = pd.DataFrame()
        self.form: NewCaseForm | None = None
        self._filters: dict[str, Any] = {}
        self._kept: dict[str, Any] = {}  # filters of the last search the fields cannot show
        self._has_next = False
        self._selected: str | None = None
        self._total: int | None = None  # series matching the last search, when known
        self._quiet = Guard()
        self._build()
        self.tools = SearchTools(store, "series", filters=lambda: self.filters,
                                 selection=lambda: [self._selected] if self._selected else [],
                                 run=lambda filters: self.search(**filters),
                                 message=self.message)
        super().__init__([self._fields, self._search_row, self.tools, self.message,
                          self.table, self._paging_row, self._detail_row, self.new_case_box],
                         layout=widgets.Layout(padding="4px"))
        self.search()

    # -- the controls ------------------------------------------------------------------

    def _build(self) -> None:
        wide, narrow = widgets.Layout(width="340px"), widgets.Layout(width="220px")
        self.modality = widgets.Combobox(description="Modality", options=MODALITIES,
                                         ensure_option=False, layout=narrow, style=_LABEL)
        self.series_uid = widgets.Text(description="Series UID", layout=wide, style=_LABEL)
        self.study_uid = widgets.Text(description="Study UID", layout=wide, style=_LABEL)
        self.description = widgets.Text(description="Description", layout=wide, style=_LABEL)
        self.patient_id = widgets.Text(description="Patient ID", layout=wide, style=_LABEL)
        self.patient_name = widgets.Text(description="Patient name", layout=wide,
                                         style=_LABEL)
        self.sex = widgets.Dropdown(description="Sex", layout=narrow, style=_LABEL,
                                    options=[("any", ""), *((s, s) for s in SEXES)])
        self.min_age = widgets.Text(description="Age from", placeholder="years", layout=narrow,
                                    style=_LABEL)
        self.max_age = widgets.Text(description="Age to", placeholder="years", layout=narrow,
                                    style=_LABEL)
        for name, description in [(n, label) for pair in DATE_PAIRS
                                  for n, label in zip(pair[:2], pair[2:], strict=True)]:
            setattr(self, name, widgets.DatePicker(description=description, style=_LABEL,
                                                   layout=wide))
        self.patient_note = widgets.HTML()
        self._fields = widgets.VBox([
            widgets.HBox([self.modality, self.series_uid, self.study_uid]),
            widgets.HBox([self.description]),
            widgets.HBox([self.patient_id, self.patient_name]),
            widgets.HBox([self.sex, self.min_age, self.max_age]),
            self.patient_note,
            widgets.HBox([self.date_from, self.date_to]),
            widgets.HBox([self.imported_from, self.imported_to]),
        ])
        self.search_button = button("Search", style="primary", tooltip="Search the series")
        self.clear_button = button("Clear", tooltip="Empty every field")
        self._search_row = widgets.HBox([self.search_button, self.clear_button])
        self.message = Message()
        self.table = ResultsTable(columns=list(COLUMNS), empty_text="No series.",
                                  layout=widgets.Layout(max_width="100%"))
        self.previous_button = button("Previous", tooltip="The previous page of results")
        self.next_button = button("Next", tooltip="The next page of results")
        self.page_label = widgets.HTML()
        self._paging_row = widgets.HBox([self.previous_button, self.page_label,
                                         self.next_button])
        # hidden while it has no picture (an empty Image is a broken-image icon): a grey
        # placeholder stands there instead
        self.thumbnail = widgets.Image(format="png", layout=widgets.Layout(
            width=f"{THUMBNAIL_SIZE}px", height=f"{THUMBNAIL_SIZE}px", object_fit="contain",
            display="none"))
        self.thumbnail_placeholder = widgets.HTML(placeholder_html(NO_SERIES_PICTURE))
        self.thumbnail_caption = widgets.HTML(NO_SELECTION)
        self.details = widgets.HTML()
        self.new_case_button = button("New Case", style="success",
                                      tooltip="Start a case with the selected series")
        self.new_case_button.disabled = True
        self._detail_row = widgets.HBox([
            widgets.VBox([self.thumbnail, self.thumbnail_placeholder, self.thumbnail_caption]),
            widgets.VBox([self.details, self.new_case_button],
                         layout=widgets.Layout(padding="0 0 0 12px"))])
        self.new_case_box = widgets.VBox()
        self._update_patient_fields()
        self.search_button.on_click(lambda _: run_and_show(self.message, self.search_from_form))
        self.clear_button.on_click(lambda _: run_and_show(self.message, self.clear))
        self.previous_button.on_click(lambda _: run_and_show(self.message, self.previous_page))
        self.next_button.on_click(lambda _: run_and_show(self.message, self.next_page))
        self.new_case_button.on_click(lambda _: run_and_show(self.message, self.new_case))
        self.table.on_select(self._on_table_select)
        self.table.on_sort(self._on_table_sort)

    # -- the Python side -------------------------------------------------------------------

    @property
    def filters(self) -> dict[str, Any]:
        """The filters of the last search (the paging keeps them)."""
        return dict(self._filters)

    @property
    def selected(self) -> str | None:
        """The UID of the selected series, or ``None``."""
        return self._selected

    @property
    def total(self) -> int | None:
        """How many series match the last search in all (``None`` while unknown)."""
        return self._total

    @property
    def may_search_patients(self) -> bool:
        """Whether the current user may filter by patient fields (global personalInfoView)."""
        return "personalInfoView" in self.store.rights.global_privileges

    def search(self, **filters: Any) -> pd.DataFrame:
        """Search with ``filters`` (the names of ``store.search_series``); shows page 1.

        The fields show the filters; ``results`` holds the page as the store returns
        it. Raises (and shows) ``PermissionDenied`` for a patient filter without
        ``personalInfoView``, ``ValidationError`` for a bad value or a date range whose
        start is after its end.
        """
        with self.message.reporting():
            unknown = sorted(set(filters) - set(SEARCH_FILTERS))
            if unknown:
                raise ValidationError(
                    f"Unknown search filter(s) {', '.join(unknown)}; use"
                    f" {', '.join(SEARCH_FILTERS)} (paging sets limit and offset: see"
                    " page_size, next_page and previous_page).", field="filters",
                    value=unknown)
            filters = {k: v for k, v in filters.items() if v is not None and v != ""}
            check_date_order(filters)
            self._fill_fields(expand_preset(self.store, "series", filters))
            self._filters = filters
            return self._load(0)

    def search_from_form(self) -> pd.DataFrame:
        """What the Search button does: search with the filters the fields hold."""
        with self.message.reporting():
            filters = self.form_filters()
        return self.search(**filters)

    def form_filters(self) -> dict[str, Any]:
        """The filters the fields hold (empty fields left out)."""
        filters: dict[str, Any] = {}
        for name in _TEXT_FILTERS:
            text = getattr(self, name).value.strip()
            if text:
                filters[name] = text
        if self.sex.value:
            filters["sex"] = self.sex.value
        for name in _AGE_FILTERS:
            text = getattr(self, name).value.strip()
            if text:
                if not text.isdigit():
                    raise ValidationError(f"{getattr(self, name).description} is an age in"
                                          f" whole years, got {text!r}.", field=name,
                                          value=text)
                filters[name] = int(text)
        for name in _DATE_FILTERS:
            if getattr(self, name).value is not None:
                filters[name] = getattr(self, name).value
        # what the fields cannot show (a list, the order, "-7d") stays from the last search
        return {**self._kept, **filters}

    def clear(self) -> None:
        """Empty every field (what the Clear button does); the results stay."""
        self._fill_fields({})

    def sort(self, keys: list[str]) -> pd.DataFrame:
        """Search again with the filters of the last search, sorted by ``keys`` (the sort
        keys of ``store.search_series``, ``-`` first for descending); shows page 1.

        What a click on a column's header does (the fields keep what they hold).
        Raises (and shows) ``ValidationError`` for an unknown key, ``PermissionDenied``
        for a patient key without ``personalInfoView``.
        """
        with self.message.reporting():
            previous = self._filters
            rest = {k: v for k, v in previous.items() if k != "sort"}
            self._filters = {**rest, "sort": list(keys)} if keys else rest
            try:
                frame = self._load(0)
            except Exception:
                self._filters = previous
                raise
            kept = {k: v for k, v in self._kept.items() if k != "sort"}
            self._kept = {**kept, "sort": list(keys)} if keys else kept
            return frame

    def next_page(self) -> pd.DataFrame:
        """Show the next page of the last search (what Next does)."""
        if not self._has_next:
            self.message.show("This is the last page.", "info")
            return self.results
        return self._reload(self.page + 1)

    def previous_page(self) -> pd.DataFrame:
        """Show the previous page of the last search (what Previous does)."""
        if self.page == 0:
            self.message.show("This is the first page.", "info")
            return self.results
        return self._reload(self.page - 1)

    def select(self, uid: str) -> Series:
        """Select the result row of series ``uid``: its thumbnail and details show."""
        with self.message.reporting():
            if self.results.empty or uid not in set(self.results["series_uid"]):
                raise NotFoundError(f"Series {uid} is not among the results shown; search for"
                                    " it first, e.g. search(series_uid=...).",
                                    field="series_uid", value=uid)
            series = self.store.series(uid)
        self._selected = uid
        with self._quiet():
            self.table.selected = [uid]
        self._show_series(series)
        self.new_case_button.disabled = False
        return series

    def new_case(self) -> NewCaseForm:
        """Open a New Case form for the selected series under the browser (New Case)."""
        with self.message.reporting():
            if self._selected is None:
                raise ValidationError("Select a series first: click a row of the results.",
                                      field="series_uid")
            form = NewCaseForm(self.store, self._selected)
        close = button("Close", tooltip="Close the New Case form")
        close.on_click(lambda _: self.close_new_case())
        self.form = form
        self.new_case_box.children = (widgets.HTML("<b>New case</b>"), form,
                                      widgets.HBox([close]))
        return form

    def close_new_case(self) -> None:
        self.form = None
        self.new_case_box.children = ()

    # -- keeping the view in step -----------------------------------------------------------

    def _reload(self, page: int) -> pd.DataFrame:
        with self.message.reporting():
            return self._load(page)

    def _load(self, page: int) -> pd.DataFrame:
        self._update_patient_fields()
        offset = page * self.page_size
        frame = self.store.search_series(**self._filters, limit=self.page_size, offset=offset)
        total = self._count(page, frame)
        has_next = offset + len(frame) < total
        self.page, self.results, self._has_next, self._total = page, frame, has_next, total
        if self._selected is not None and self._selected not in set(frame["series_uid"]):
            self._unselect()
        self._render()
        if frame.empty:
            self.message.show("No series match." if page == 0 else "No more series.", "info")
        else:
            self.message.show(f"Showing series {self._span()}.", "ok")
        return frame

    def _count(self, page: int, frame: pd.DataFrame) -> int:
        """The number of matching series (asked once per search, not per page)."""
        if page == 0 and len(frame) < self.page_size:
            return len(frame)  # one page holds them all: no need to ask
        if page > 0 and self._total is not None:
            return self._total  # the same search, another page
        filters = {k: v for k, v in self._filters.items() if k != "sort"}
        return self.store.count_series(**filters)

    def _span(self, dash: str = "-") -> str:
        """``first-last of total`` of the page shown."""
        first = self.page * self.page_size
        return f"{first + 1}{dash}{first + len(self.results)} of {self._total:,}"

    def _update_patient_fields(self) -> None:
        allowed = self.may_search_patients
        for name in sorted(PATIENT_FILTERS):
            getattr(self, name).disabled = not allowed
        self.patient_note.value = "" if allowed else (
            "<i>Searching by patient fields needs the global privilege personalInfoView,"
            " which you do not hold.</i>")

    def _fill_fields(self, filters: dict[str, Any]) -> None:
        self._kept = {k: v for k, v in filters.items()
                      if k in ("in_list", "sort") or (k in _DATE_FILTERS and is_relative(v))}
        for name in (*_TEXT_FILTERS, *_AGE_FILTERS):
            value = filters.get(name)
            getattr(self, name).value = "" if value is None else str(value)
        sex = str(filters.get("sex") or "").upper()
        self.sex.value = sex if sex in SEXES else ""
        for name in _DATE_FILTERS:
            getattr(self, name).value = date_of(filters.get(name))

    def _render(self) -> None:
        self._render_table()
        shown = f"series {self._span()}" if len(self.results) else "no series"
        pages = (f" of {max(1, -(-self._total // self.page_size))}"
                 if self._total is not None else "")
        self.page_label.value = f"&nbsp;Page {self.page + 1}{pages} ({shown})&nbsp;"
        self.previous_button.disabled = self.page == 0
        self.next_button.disabled = not self._has_next

    def _render_table(self) -> None:
        masked = not self.store.may_view_patient_info()
        # sorting by patient needs personalInfoView; a masked column has nothing to sort
        patient_sorts = self.may_search_patients and not masked
        with self._quiet(), self.table.hold_sync():
            self.table.sort_keys = [key if key != "patient_name" or patient_sorts else ""
                                    for key in SORT_KEYS]
            self.table.set_rows((row_texts(row, masked) for row in self.results.itertuples()),
                                keys=list(self.results.get("series_uid", [])),
                                selected=[] if self._selected is None else [self._selected])
            self.table.sort = list(self._filters.get("sort") or DEFAULT_SORT)
            self.table.caption = f"Series {self._span(EN_DASH)}" if len(self.results) else ""

    def _on_table_select(self, keys: list[str]) -> None:
        """A click on a row (or ``table.selected`` set from Python)."""
        if self._quiet:
            return
        if not keys:
            self._unselect()
        elif keys[0] != self._selected:
            run_and_show(self.message, lambda: self.select(keys[0]))

    def _on_table_sort(self, sort: list[str]) -> None:
        """A click on a header (or ``table.sort`` set from Python)."""
        if self._quiet:
            return
        run_and_show(self.message, lambda: self.sort(sort))
        with self._quiet():  # a refused sort leaves the arrow where the results are
            self.table.sort = list(self._filters.get("sort") or DEFAULT_SORT)

    def _unselect(self) -> None:
        self._selected = None
        with self._quiet():
            self.table.clear_selection()
        self._show_thumbnail(b"", NO_SELECTION, NO_SERIES_PICTURE)
        self.details.value = ""
        self.new_case_button.disabled = True

    def _show_thumbnail(self, png: bytes, caption: str, placeholder: str = "") -> None:
        """The picture, or (without one) the grey placeholder saying ``placeholder``."""
        self.thumbnail.value = png
        self.thumbnail.layout.display = None if png else "none"
        self.thumbnail_placeholder.value = "" if png else placeholder_html(placeholder)
        self.thumbnail_placeholder.layout.display = "none" if png else None
        self.thumbnail_caption.value = caption

    def _show_series(self, series: Series) -> None:
        numbers = list(series.images)
        self._show_thumbnail(b"", "<i>No images.</i>", NO_IMAGE_PICTURE)
        if numbers:
            middle = numbers[len(numbers) // 2]
            try:
                self._show_thumbnail(ThumbnailCache(series, capacity=1).png(middle),
                                     f"image #{middle} (middle)")
            except Exception as e:  # a picture that cannot be drawn must not hide the rest
                self._show_thumbnail(b"", f"<i>No thumbnail: {escape(str(e))}</i>",
                                     NO_IMAGE_PICTURE)
        self.details.value = describe_series(series)


def row_texts(row: Any, masked: bool) -> list[str]:
    """The texts of one results row, in the order of ``COLUMNS``."""
    if masked:
        patient = MASKED
    else:
        name, pid = _text(row.patient_name), _text(row.patient_id)
        patient = f"{name} ({pid})" if name and pid else name or pid
    return [_text(row.modality), patient, _text(row.series_description), row.series_uid,
            _images(row.images), _when(row.series_date), _when(row.imported_at)]


def describe_series(series: Series) -> str:
    """A few HTML lines about a series (escaped)."""
    patient = series.patient
    if patient is None:
        who = MASKED
    else:
        parts = [_text(patient.get("patient_name")), f"ID {_text(patient.get('patient_id'))}"]
        if patient.get("age") is not None:
            parts.append(f"{patient['age']} y")
        if patient.get("sex"):
            parts.append(str(patient["sex"]))
        who = ", ".join(p for p in parts if p)
    lines = [
        ("Series", f"{series.modality or ''} {series.description or ''}".strip()),
        ("Series UID", series.series_uid),
        ("Study UID", series.study_uid or ""),
        ("Images", f"{series.images} ({len(series.images)} images)"),
        ("Size", f"{series.width} x {series.height}" if series.width else ""),
        ("Series date", _when(series.series_date)),
        ("Patient", who),
        ("Domain", series.domain),
    ]
    return "<br>".join(f"<b>{name}:</b> {escape(str(value))}" for name, value in lines)


def check_date_order(filters: dict[str, Any]) -> None:
    """Refuse a ``*_from`` date after its ``*_to`` date (no series could match).

    >>> check_date_order({"date_from": "2024-05-02", "date_to": "2024-05-01"})
    Traceback (most recent call last):
    ...
    circus_nb.errors.ValidationError: Series from (2024-05-02) is after Series to (2024-05-01): ...
    """
    for low, high, low_label, high_label in DATE_PAIRS:
        start, end = date_of(filters.get(low)), date_of(filters.get(high))
        if start is not None and end is not None and start > end:
            raise ValidationError(
                f"{low_label} ({start}) is after {high_label} ({end}): the dates are"
                " reversed, so no series could match. Swap them.", field=low,
                value=(filters[low], filters[high]))


def _images(text: Any) -> str:
    return ImageRange.parse(text).summary() if _text(text) else "0"


def _when(value: Any) -> str:
    if value is None or pd.isna(value):
        return ""
    return f"{pd.Timestamp(value):%Y-%m-%d %H:%M}"
