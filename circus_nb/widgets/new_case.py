"""``NewCaseForm``: the New Case screen of CIRCUS, in a notebook.

Pick a project you can write to, set the range of each series (Range opens a
:class:`RangeEditor` with thumbnails), add series of the same study or patient,
choose tags among the project's tags (one toggle button each: what is pressed is
exactly what the case gets), and press ``Create Case for <project>``. Once the case
exists the form says so, with its id and a button that opens it in a
:class:`CaseEditor`; pressing Create again (a double click) makes no second case
until something in the form changes.
"""

from __future__ import annotations

from html import escape
from typing import Any

import ipywidgets as widgets

from ..api.cases import Case
from ..api.series import as_partial_volume
from ..api.store import Store
from ..domain.partial_volume import PartialVolume
from ..errors import CircusError, ValidationError
from ._common import Message, TagPicker, button, labelled, run_and_show
from .case_editor import CaseEditor
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
    >>> form.create_button.disabled, form.open_case_editor().case.case_id == case.case_id
    (True, True)
    >>> form.tags = ["nodule", "teaching"]; form.create_button.disabled
    False
    >>> store.close()
    """

    def __init__(self, store: Store, series_uid: str):
        self.store = store
        self._entries: list[tuple[str, Any]] = []
        self._pending: str | None = None  # a series waiting for confirmation
        self._created: tuple | None = None  # what the form showed when it made self.case
        self.case: Case | None = None
        self._build()
        super().__init__([self._project_row, self.table, self.editor_box, self._add_row,
                          self.confirm_box, self._tags_row,
                          widgets.HBox([self.create_button]), self.message, self.created_box,
                          self.case_box], layout=widgets.Layout(padding="4px"))
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
        self.tag_box = TagPicker()
        self.tags_note = widgets.HTML()
        self._tags_row = widgets.VBox([labelled("Tags", self.tag_box), self.tags_note])
        self.create_button = button("Create Case", style="success")
        self.message = Message()
        self.created_box = widgets.HBox(layout=widgets.Layout(align_items="center"))
        self.case_box = widgets.VBox()
        self.project_picker.observe(lambda _: run_and_show(self.message, self._on_project),
                                    "value")
        self.add_button.on_click(
            lambda _: run_and_show(self.message, lambda: self.request_add(self.related.value)))
        self.create_button.on_click(lambda _: self._create_clicked())
        self.tag_box.on_change(lambda _: self._update_create())

    # -- the Python side -------------------------------------------------------------------

    @property
    def project_id(self) -> str | None:
        return self.project_picker.value

    @project_id.setter
    def project_id(self, value: str) -> None:
        if value not in self._projects:
            raise ValidationError(f"{value!r} is not a project you can write to; choose from"
                                  f" {', '.join(self._projects) or 'none'}.",
                                  field="project_id", value=value)
        self.project_picker.value = value

    @property
    def entries(self) -> list[tuple[str, Any]]:
        """``(series_uid, spec)`` per series, spec ``"auto"`` or a PartialVolume."""
        return list(self._entries)

    @property
    def tag_choices(self) -> list[str]:
        """The tags the form offers: the tag list of the chosen project."""
        return self.tag_box.choices

    @property
    def tags(self) -> list[str]:
        """The tags pressed, in the project's order: exactly what ``create()`` uses."""
        return self.tag_box.value

    @tags.setter
    def tags(self, values: list[str]) -> None:
        """Press exactly ``values`` (each must be one of ``tag_choices``).

        Raises ``ValidationError`` for a tag outside the project's list (nothing changes).
        """
        values = [values] if isinstance(values, str) else list(values)
        unknown = [t for t in values if t not in self.tag_choices]
        if unknown:
            raise ValidationError(
                f"Tag {unknown[0]!r} is not in the tag list of project"
                f" {self._projects.get(self.project_id, '(none)')!r}"
                f" ({', '.join(self.tag_choices) or 'it has no tags'}); choose from that"
                " list, or ask an administrator to add the tag to the project.",
                field="tags", value=unknown[0])
        self.tag_box.value = values
        self._update_create()

    def add_series(self, series_uid: str, spec: Any = "auto") -> None:
        """Add a series (no questions asked; the Add Series button asks first)."""
        self.store.series(series_uid)  # exists and may be seen
        self._entries.append((series_uid, as_partial_volume(spec)))
        self._render()

    def remove_series(self, i: int) -> None:
        """Remove entry ``i``; the last entry stays (a case needs a series).

        Raises ``ValidationError`` for the last entry or an index the form does not have.
        """
        self._check_index(i)
        if len(self._entries) <= 1:
            raise ValidationError("A case needs at least one series; the last one stays.",
                                  field="series", value=i)
        del self._entries[i]
        self._render()

    def set_range(self, i: int, spec: Any) -> None:
        """Set the range of entry ``i``: ``"auto"``, a PartialVolume or a triple.

        Raises ``ValidationError`` for a range the series does not hold.
        """
        self._check_index(i)
        uid, _ = self._entries[i]
        pv = as_partial_volume(spec)
        if isinstance(pv, PartialVolume):
            self.store.series(uid).partial_volume(pv)  # refuses ranges outside the series
        self._entries[i] = (uid, pv)
        self._render()

    def open_range_editor(self, i: int) -> RangeEditor:
        """What the Range button does: an editor under the table; OK applies it, Cancel
        closes it."""
        self._check_index(i)
        uid, spec = self._entries[i]
        editor = RangeEditor(self.store, uid, spec)

        def apply(value: Any) -> None:
            self.set_range(i, value)
            self.editor_box.children = ()

        editor.on_ok(apply)
        editor.on_cancel(lambda: setattr(self.editor_box, "children", ()))
        self.editor_box.children = (widgets.HTML(f"<b>Range of series #{i}</b>"), editor)
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
        yes.on_click(lambda _: run_and_show(self.message, lambda: self.confirm_add(True)))
        no.on_click(lambda _: run_and_show(self.message, lambda: self.confirm_add(False)))
        self.confirm_box.children = (widgets.HTML(f"{reason} "), yes, no)

    def confirm_add(self, yes: bool) -> None:
        pending, self._pending = self._pending, None
        self.confirm_box.children = ()
        if yes and pending:
            self.add_series(pending)

    def create(self) -> Case:
        """Create the case the form shows (what the Create button does).

        Raises
        ------
        ValidationError
            No project is chosen.
        CircusError
            This very case was just created from the form: change the series, a range,
            the tags or the project to create another.
        PermissionDenied
            Without ``write`` on the project.
        """
        if not self.project_id:
            raise ValidationError("Choose a project first: you need one you can write to.",
                                  field="project_id")
        if self.created:
            raise CircusError(f"Case {self.case.case_id} was already created from what the form"
                              " shows; change the series, a range, the tags or the project to"
                              " create another case.")
        case = self.store.create_case(self.project_id, self.entries, tags=self.tags)
        self.case, self._created = case, self._state()
        self._show_created(case)
        self._update_create()
        return case

    @property
    def created(self) -> bool:
        """Whether the case the form shows has just been created (Create is disabled)."""
        return self._created is not None and self._created == self._state()

    def open_case_editor(self) -> CaseEditor:
        """Open the case just created in a :class:`CaseEditor` under the form.

        Raises ``CircusError`` when no case has been created yet.
        """
        if self.case is None:
            raise CircusError("No case created yet: press Create Case first.")
        editor = CaseEditor(self.store, self.case.case_id)
        close = button("Close", tooltip="Close the case editor")
        close.on_click(lambda _: setattr(self.case_box, "children", ()))
        self.case_box.children = (editor, widgets.HBox([close]))
        return editor

    # -- keeping the view in step -----------------------------------------------------------

    def _state(self) -> tuple:
        return self.project_id, tuple(self._entries), tuple(self.tags)

    def _check_index(self, i: int) -> None:
        if not isinstance(i, int) or not -len(self._entries) <= i < len(self._entries):
            raise ValidationError(f"The form has no series #{i}; its series are #0 to"
                                  f" #{len(self._entries) - 1}.", field="series", value=i)

    def _doubt(self, uid: str) -> str | None:
        if any(u == uid for u, _ in self._entries):
            return "This series is already in the case. Add it again?"
        first_study = self.store.series(self._entries[0][0]).study_uid
        if self.store.series(uid).study_uid != first_study:
            return "This series is from another study. Add it?"
        return None

    def _on_project(self) -> None:
        pid = self.project_id
        offered = list(self.store.project(pid).tag_names) if pid else []
        kept = [t for t in self.tags if t in offered]
        dropped = [t for t in self.tags if t not in offered]
        self.tag_box.set_choices(offered, kept)
        name = self._projects.get(pid, "")
        self.tags_note.value = (
            f"<i>Tags dropped (not in the tag list of {escape(name)}):"
            f" {escape(', '.join(dropped))}.</i>" if dropped else
            "" if offered or not pid else
            f"<i>{escape(name)} has no tags; an administrator defines them.</i>")
        self._update_create()

    def _update_create(self) -> None:
        name = self._projects.get(self.project_id, "")
        self.create_button.description = f"Create Case for {name}" if name else "Create Case"
        self.create_button.disabled = not (self._entries and self.project_id) or self.created
        self.create_button.tooltip = ("This case is created; change the form to create another"
                                      if self.created else "Create the case the form shows")

    def _create_clicked(self) -> None:
        if self.created:
            return  # the second click of a double click: the form already shows the case
        try:
            case = self.create()
        except Exception as e:  # shown in the form: the notebook must not get a traceback
            self.message.show_error(e)
        else:
            self.message.show(f"Created case {case.case_id} in"
                              f" {self._projects[self.project_id]}.", "ok")

    def _show_created(self, case: Case) -> None:
        open_button = button("Open in case editor", tooltip="Edit the new case under the form")
        open_button.on_click(lambda _: run_and_show(self.message, self.open_case_editor))
        self.created_box.children = (
            widgets.HTML(f"Case id: <code style='user-select: all'>{escape(case.case_id)}"
                         "</code>&nbsp;"), open_button)

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
        range_button.on_click(
            lambda _, i=i: run_and_show(self.message, lambda: self.open_range_editor(i)))
        remove = button("Remove", tooltip="Remove this series")
        remove.disabled = len(self._entries) <= 1
        remove.on_click(lambda _, i=i: run_and_show(self.message, lambda: self.remove_series(i)))
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
    return f'<span title="{escape(text)}">{escape(text)}</span>'
