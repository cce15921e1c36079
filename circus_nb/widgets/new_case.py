"""``NewCaseForm``: the New Case screen of CIRCUS, in a notebook.

Pick a project you can write to, set the range of each series (Range opens a
:class:`RangeEditor` with thumbnails), add series of the same study or patient,
choose tags from the project's list, and press ``Create Case for <project>``.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from ..api.cases import Case
from ..api.series import as_partial_volume
from ..api.store import Store
from ..domain.partial_volume import PartialVolume
from ._common import Message, button, labelled
from .range_editor import RangeEditor

__all__ = ["NewCaseForm"]

_COLUMNS = ("#", "Modality", "Series Description", "Series UID", "Series Date", "Images",
            "Range", "")
_WIDTHS = ("30px", "70px", "200px", "180px", "150px", "80px", "150px", "90px")


def _range_text(spec: Any) -> str:
    return "auto" if spec == "auto" else spec.describe(3)


class NewCaseForm(widgets.VBox):
    """Make a case from series ``series_uid`` (and more, with Add Series).

    >>> import circus_nb as cnb
    >>> store = cnb.demo_store()
    >>> uid = store.search_series(description="localizer")["series_uid"][0]
    >>> form = NewCaseForm(store, uid)
    >>> form.create_button.description
    'Create Case for Chest CT demo'
    >>> form.set_range(0, (3, 62, 1)); form.tags = ["nodule"]
    >>> case = form.create()
    >>> case.latest.series[0].partial_volume, case.tags
    (PartialVolume(start=3, end=62, delta=1), ['nodule'])
    >>> store.close()
    """

    def __init__(self, store: Store, series_uid: str):
        self.store = store
        self._entries: list[tuple[str, Any]] = []
        self._pending: str | None = None  # a series waiting for confirmation
        self.case: Case | None = None
        self._build()
        super().__init__([self._project_row, self.table, self.editor_box, self._add_row,
                          self.confirm_box,
                          labelled("Tags", self.tags_input),
                          widgets.HBox([self.create_button]), self.message],
                         layout=widgets.Layout(padding="4px"))
        self.add_series(series_uid)
        self._on_project()

    # -- the controls ------------------------------------------------------------------

    def _build(self) -> None:
        writable = self.store.projects(role="write")
        self._projects = {row.project_id: row.name for row in writable.itertuples()}
        self.project_picker = widgets.Dropdown(
            options=[(name, pid) for pid, name in self._projects.items()],
            description="Project", layout=widgets.Layout(width="420px"))
        self.no_project = widgets.HTML()
        if not self._projects:
            self.no_project.value = ("<i>You cannot write to any project, so you cannot create"
                                     " a case. Ask an administrator for the write role.</i>")
        self._project_row = widgets.VBox([self.project_picker, self.no_project])
        self.table = widgets.GridBox(layout=widgets.Layout(
            grid_template_columns=" ".join(_WIDTHS), grid_gap="2px 6px"))
        self.editor_box = widgets.VBox()
        self.related = widgets.Dropdown(description="Add", layout=widgets.Layout(width="520px"))
        self.add_button = button("Add Series")
        self._add_row = widgets.HBox([self.related, self.add_button])
        self.confirm_box = widgets.HBox()
        self.tags_input = widgets.TagsInput(allowed_tags=[], allow_duplicates=False)
        self.create_button = button("Create Case", style="success")
        self.message = Message()
        self.project_picker.observe(lambda _: self._on_project(), "value")
        self.add_button.on_click(lambda _: self.request_add(self.related.value))
        self.create_button.on_click(lambda _: self._create_clicked())

    # -- the Python side -------------------------------------------------------------------

    @property
    def project_id(self) -> str | None:
        return self.project_picker.value

    @project_id.setter
    def project_id(self, value: str) -> None:
        if value not in self._projects:
            raise ValueError(f"{value!r} is not a project you can write to; choose from"
                             f" {', '.join(self._projects) or 'none'}.")
        self.project_picker.value = value

    @property
    def entries(self) -> list[tuple[str, Any]]:
        """``(series_uid, spec)`` per series, spec ``"auto"`` or a PartialVolume."""
        return list(self._entries)

    @property
    def tags(self) -> list[str]:
        return list(self.tags_input.value)

    @tags.setter
    def tags(self, values: list[str]) -> None:
        self.tags_input.value = list(values)

    def add_series(self, series_uid: str, spec: Any = "auto") -> None:
        """Add a series (no questions asked; the Add Series button asks first)."""
        self.store.series(series_uid)  # exists and may be seen
        self._entries.append((series_uid, as_partial_volume(spec)))
        self._render()

    def remove_series(self, i: int) -> None:
        """Remove entry ``i``; the last entry stays (a case needs a series)."""
        if len(self._entries) <= 1:
            raise ValueError("A case needs at least one series; the last one stays.")
        del self._entries[i]
        self._render()

    def set_range(self, i: int, spec: Any) -> None:
        """Set the range of entry ``i``: ``"auto"``, a PartialVolume or a triple."""
        uid, _ = self._entries[i]
        pv = as_partial_volume(spec)
        if isinstance(pv, PartialVolume):
            self.store.series(uid).partial_volume(pv)  # refuses ranges outside the series
        self._entries[i] = (uid, pv)
        self._render()

    def open_range_editor(self, i: int) -> RangeEditor:
        """What the Range button does: an editor under the table; OK applies it."""
        uid, spec = self._entries[i]
        editor = RangeEditor(self.store, uid, spec)
        cancel = button("Cancel")
        cancel.on_click(lambda _: setattr(self.editor_box, "children", ()))

        def apply(value: Any) -> None:
            self.set_range(i, value)
            self.editor_box.children = ()

        editor.on_ok(apply)
        self.editor_box.children = (widgets.HTML(f"<b>Range of series #{i}</b>"), editor,
                                    widgets.HBox([cancel]))
        return editor

    def request_add(self, series_uid: str | None) -> None:
        """The Add Series button: adds, or first asks when the series is already in the
        case or comes from another study."""
        if not series_uid:
            return
        reason = self._doubt(series_uid)
        if reason is None:
            self.add_series(series_uid)
            return
        self._pending = series_uid
        yes, no = button("Add anyway", style="warning"), button("Cancel")
        yes.on_click(lambda _: self.confirm_add(True))
        no.on_click(lambda _: self.confirm_add(False))
        self.confirm_box.children = (widgets.HTML(f"{reason} "), yes, no)

    def confirm_add(self, yes: bool) -> None:
        pending, self._pending = self._pending, None
        self.confirm_box.children = ()
        if yes and pending:
            self.add_series(pending)

    def create(self) -> Case:
        """Create the case the form shows (what the Create button does)."""
        if not self.project_id:
            raise ValueError("Choose a project first.")
        self.case = self.store.create_case(self.project_id, self.entries, tags=self.tags)
        return self.case

    # -- keeping the view in step -----------------------------------------------------------

    def _doubt(self, uid: str) -> str | None:
        if any(u == uid for u, _ in self._entries):
            return "This series is already in the case. Add it again?"
        first_study = self.store.series(self._entries[0][0]).study_uid
        if self.store.series(uid).study_uid != first_study:
            return "This series is from another study. Add it?"
        return None

    def _on_project(self) -> None:
        pid = self.project_id
        allowed = list(self.store.project(pid).tag_names) if pid else []
        self.tags_input.value = [t for t in self.tags_input.value if t in allowed]
        self.tags_input.allowed_tags = allowed
        self._update_create()

    def _update_create(self) -> None:
        name = self._projects.get(self.project_id, "")
        self.create_button.description = f"Create Case for {name}" if name else "Create Case"
        self.create_button.disabled = not (self._entries and self.project_id)

    def _create_clicked(self) -> None:
        try:
            case = self.create()
        except Exception as e:  # shown in the form: the notebook must not get a traceback
            self.message.show_error(e)
        else:
            self.message.show(f"Created case {case.case_id} in"
                              f" {self._projects[self.project_id]}.", "ok")

    def _render(self) -> None:
        cells = [widgets.HTML(f"<b>{c}</b>") for c in _COLUMNS]
        for i, (uid, spec) in enumerate(self._entries):
            cells += self._row(i, uid, spec)
        self.table.children = cells
        self._refresh_related()
        self._update_create()

    def _row(self, i: int, uid: str, spec: Any) -> list[widgets.Widget]:
        series = self.store.series(uid)
        date = f"{series.series_date:%Y-%m-%d %H:%M}" if series.series_date else ""
        range_button = button(_range_text(spec), tooltip="Choose the images")
        range_button.on_click(lambda _, i=i: self.open_range_editor(i))
        remove = button("Remove", tooltip="Remove this series")
        remove.disabled = len(self._entries) <= 1
        remove.on_click(lambda _, i=i: self.remove_series(i))
        texts = (str(i), series.modality or "", series.description or "",
                 f"{uid[:12]}...{uid[-8:]}", date, series.images.summary())
        return [*(widgets.HTML(_cell(t)) for t in texts), range_button, remove]

    def _refresh_related(self) -> None:
        if not self._entries:
            return
        related = self.store.related_series(self._entries[0][0])
        self.related.options = [
            (f"{r.modality} {r.series_description or ''} ({r.images}) {r.relation}",
             r.series_uid) for r in related.itertuples()]
        chosen = {uid for uid, _ in self._entries}
        self.related.value = next((uid for _, uid in self.related.options if uid not in chosen),
                                  None)


def _cell(text: str) -> str:
    from html import escape

    return f'<span title="{escape(text)}">{escape(text)}</span>'
