"""``CaseEditor``: the Case detail screen of CIRCUS, in a notebook.

A revision picker (newest first), the case attributes as a form generated from the
project's schema, the status, the series of the opened revision, a tags editor, an
unsaved-changes indicator, Save (asks for a message, appends a revision), Revert,
Restore this revision, a history table and a diff between two revisions.

* **Save** appends what the form shows, and only when it changed something: with
  nothing edited, or with a form identical to the latest revision, Save is disabled
  and says why (``save()`` raises ``CircusError``). When an old revision is open and
  edited, Save appends the edited copy (with that revision's series).
* **Restore this revision** appears when an old revision is open and not edited: it
  appends a copy of it as the latest revision (:meth:`Case.revert`), even when the
  form could not be saved as it is (say the schema now requires a key the old revision
  lacks); when the store refuses, the editor shows why and how to go on.
* **Revert** drops the unsaved changes (it reloads the opened revision; it is not
  :meth:`Case.revert`).

Tags are not versioned, so the tags editor applies each change at once
(``case.set_tags``); tags never make the form dirty and Save does not touch them.
"""

from __future__ import annotations

import warnings
from html import escape
from typing import Any

import ipywidgets as widgets
import pandas as pd

from ..api.store import Store
from ..domain.case import Revision
from ..domain.schema import validate_attributes
from ..domain.values import check_text
from ..errors import (
    CircusError,
    CircusWarning,
    PermissionDenied,
    RevisionConflict,
    ValidationError,
)
from ._common import (
    Guard,
    Message,
    TagPicker,
    button,
    labelled,
    run_and_show,
    table_html,
    write_refusal,
)
from ._form import AttributesForm

__all__ = ["CaseEditor"]

DEFAULT_DESCRIPTION = "Edited."
_WIDE = {"description_width": "160px"}


def _date(value: Any) -> str:
    return "" if value is None or value != value else f"{value:%Y-%m-%d %H:%M:%S}"


def _revision_label(rev: Any) -> str:
    """``#i  date  status  description  creator`` for pickers (rev: Revision or a row)."""
    return (f"#{rev.index}  {_date(rev.date)}  [{rev.status}]  {rev.description}"
            f"  — {rev.creator}")


class CaseEditor(widgets.VBox):
    """Edit case ``case_id``: open a revision, change attributes and status, save.

    >>> import circus_nb as cnb
    >>> store = cnb.demo_store()
    >>> uid = store.search_series(description="lung")["series_uid"][0]
    >>> case = store.create_case(store.projects()["project_id"][0], [uid])
    >>> editor = CaseEditor(store, case.case_id)
    >>> editor.attributes = {"finding": "nodule", "grade": 2}
    >>> editor.dirty, editor.save("Graded.").index, editor.dirty
    (True, 1, False)
    >>> editor.save_button.disabled, editor.save_note.text  # nothing changed since
    (True, 'Nothing to save: the form shows revision 1 as saved. Change an attribute or the...')
    >>> editor.attributes = {"finding": "normal"}; _ = editor.save("Regraded.")
    >>> _ = editor.open_revision(1); editor.restore().index, case.latest.attributes
    (3, {'finding': 'nodule', 'grade': 2})
    >>> store.close()
    """

    def __init__(self, store: Store, case_id: str):
        self.store = store
        self.case = store.case(case_id)
        self.project = store.project(self.case.project_id)
        self.schema = self.project.case_attributes_schema
        self._quiet = Guard()
        self._tags: list[str] = []
        self._loaded_state: Any = None
        self._base = -1
        self._opened: Revision | None = None
        self._latest: Revision | None = None
        self._writable = False
        self._build()
        super().__init__([self.header, self._picker_row, self._state_row, self.form,
                          self.status_input, self.form_message, self.series_html,
                          labelled("Tags", self.tags_input), self._save_row, self.save_note,
                          self.notice, self.message, self.panels],
                         layout=widgets.Layout(padding="4px"))
        self.reload()
        self.message.show("")

    # -- the controls ------------------------------------------------------------------

    def _build(self) -> None:
        self.header = widgets.HTML()
        self.revision_picker = widgets.Dropdown(description="Revision", style=_WIDE,
                                                layout=widgets.Layout(width="640px"))
        self.reload_button = button("Load latest", tooltip="Reload the case; drops unsaved"
                                                           " changes")
        self._picker_row = widgets.HBox([self.revision_picker, self.reload_button])
        self.opened_html = widgets.HTML()
        self.dirty_html = widgets.HTML()
        self._state_row = widgets.HBox([self.opened_html, self.dirty_html])
        self.form = AttributesForm(self.schema)
        self.fields, self.json_input = self.form.fields, self.form.json_input
        self.status_input = widgets.Combobox(description="Status", style=_WIDE,
                                             ensure_option=False,
                                             layout=widgets.Layout(width="460px"))
        self.form_message = Message()
        self.series_html = widgets.HTML()
        self.tags_input = TagPicker()
        self.description_input = widgets.Combobox(
            description="Message", value=DEFAULT_DESCRIPTION, ensure_option=False,
            placeholder="What changed (the revision message)",
            layout=widgets.Layout(width="460px"))
        self.save_button = button("Save", style="primary", tooltip="Append a revision")
        self.revert_button = button("Revert", tooltip="Drop unsaved changes: reload the"
                                                      " opened revision")
        self.restore_button = button("Restore this revision", style="warning",
                                     tooltip="Append a copy of the opened revision as the"
                                             " latest one")
        self._save_row = widgets.HBox([self.description_input, self.save_button,
                                       self.revert_button, self.restore_button])
        self.save_note = Message()
        self.notice = Message()
        self.message = Message()
        self.history_html = widgets.HTML()
        self.diff_a = widgets.Dropdown(description="a", layout=widgets.Layout(width="320px"))
        self.diff_b = widgets.Dropdown(description="b", layout=widgets.Layout(width="320px"))
        self.diff_html = widgets.HTML()
        self.panels = widgets.Accordion(
            children=[self.history_html, widgets.VBox([widgets.HBox([self.diff_a, self.diff_b]),
                                                       self.diff_html])],
            titles=("History", "Differences between two revisions"))
        self.form.on_change(self._update)
        for control in (self.status_input, self.description_input):
            control.observe(lambda _: self._update(), "value")
        self.revision_picker.observe(self._on_pick, "value")
        self.reload_button.on_click(lambda _: run_and_show(self.message, self.reload))
        self.save_button.on_click(lambda _: self._save_clicked())
        self.revert_button.on_click(lambda _: run_and_show(self.message, self.revert))
        self.restore_button.on_click(lambda _: self._restore_clicked())
        self.tags_input.on_change(self._on_tags)
        for picker in (self.diff_a, self.diff_b):
            picker.observe(lambda _: self._on_diff_pick(), "value")

    # -- the Python side of every control -------------------------------------------------

    @property
    def opened(self) -> Revision:
        """The revision the form was loaded from."""
        assert self._opened is not None
        return self._opened

    @property
    def base(self) -> int:
        """The latest revision index seen at the last (re)load: saves are based on it."""
        return self._base

    @property
    def attributes(self) -> dict[str, Any]:
        """The attributes the form shows (unset optional fields are left out).

        Raises ``ValidationError`` only when the JSON text (no schema) does not parse.
        """
        return self.form.value

    @attributes.setter
    def attributes(self, values: dict[str, Any]) -> None:
        self.form.value = values
        self._update()

    @property
    def status(self) -> str:
        return self.status_input.value

    @status.setter
    def status(self, value: str) -> None:
        self.status_input.value = value

    @property
    def tags(self) -> list[str]:
        """The case's tags, as stored (each click on a tag is applied at once)."""
        return list(self._tags)

    @property
    def unchanged(self) -> str | None:
        """Why Save would add nothing new (the form shows a saved revision as it was, or
        a copy of the latest one); ``None`` when the form holds a change."""
        opened, latest = self.opened, self._latest
        if not self.dirty:
            if opened.index == latest.index:
                return (f"Nothing to save: the form shows revision {opened.index} as saved."
                        " Change an attribute or the status first.")
            return (f"Nothing to save: the form shows revision {opened.index} as saved."
                    " Press Restore this revision to make it the latest again, or edit it"
                    " and Save a changed copy.")
        try:
            series = self._series_to_save()
            same = (self.attributes == latest.attributes and self.status == latest.status
                    and (series is None or tuple(series) == tuple(latest.series)))
        except ValidationError:
            return None  # the form does not parse: ``problem`` says why
        if same:
            return (f"Nothing to save: the form is identical to the latest revision,"
                    f" {latest.index}.")
        return None

    @property
    def save_problem(self) -> str | None:
        """Why Save is disabled, in words (the first reason); ``None`` when it is not."""
        if not self.writable:
            return write_refusal(self.store, self.project)
        if self.problem is not None:
            return f"Save needs a valid form: {self.problem}"
        if not self.description_input.value.strip():
            return "Write a revision message (what changed) to save."
        return self.unchanged

    @property
    def restore_problem(self) -> str | None:
        """Why Restore this revision cannot be used now; ``None`` when it can."""
        opened, latest = self.opened, self._latest
        if opened.index == latest.index:
            return f"Revision {opened.index} is the latest: there is nothing to restore."
        if self.dirty:
            return (f"The form holds changes to revision {opened.index}: Save appends them as"
                    " a changed copy; Revert drops them, then Restore this revision restores"
                    " it as it was.")
        if (opened.attributes, opened.status, opened.series) == (
                latest.attributes, latest.status, latest.series):
            return (f"Revision {opened.index} is identical to the latest revision,"
                    f" {latest.index}: there is nothing to restore.")
        if not self.writable:
            return write_refusal(self.store, self.project)
        return None

    @property
    def problem(self) -> str | None:
        """Why the form cannot be saved, in words; ``None`` when it can."""
        try:
            validate_attributes(self.schema, self.attributes)
            check_text(self.status, "status", 64, line=True)
        except ValidationError as e:
            return str(e)
        return None

    @property
    def valid(self) -> bool:
        return self.problem is None

    @property
    def dirty(self) -> bool:
        """Whether the form differs from the opened revision (unsaved changes)."""
        return self._state() != self._loaded_state

    @property
    def writable(self) -> bool:
        """Whether the current user may save revisions and change tags of this case."""
        return self._writable

    def open_revision(self, index: int) -> Revision:
        """Load revision ``index`` into the form (negative counts from the latest).

        Unsaved changes are dropped. Saving an old revision appends it again.
        """
        revision = self.case.revision(index)
        self._load(revision)
        return revision

    def revert(self) -> Revision:
        """Drop unsaved changes: reload the opened revision (what Revert does)."""
        return self.open_revision(self.opened.index)

    def reload(self) -> Revision:
        """Reload the case from the store and open its latest revision (Load latest)."""
        latest = self.case.latest
        self._base, self._latest = latest.index, latest
        self._refresh_case()
        self._load(latest)
        return latest

    def save(self, description: str | None = None) -> Revision:
        """Append a revision with what the form shows (what Save does) and open it.

        ``description`` defaults to the message box. When an old revision is open, its
        series are saved too, so saving it restores it.

        Raises
        ------
        CircusError
            Nothing changed: the form shows a saved revision as it was, or the same as
            the latest revision (see ``unchanged``).
        ValidationError
            The form is invalid (see ``problem``) or the message is empty.
        PermissionDenied
            Without ``write`` on the project.
        RevisionConflict
            Someone saved a revision since this editor loaded the case; nothing is written.
        """
        description = self.description_input.value if description is None else description
        unchanged = self.unchanged
        if unchanged is not None:
            raise CircusError(unchanged)
        revision = self.case.save(description, attributes=self.attributes, status=self.status,
                                  series=self._series_to_save(), base=self._base)
        self.reload()
        self.message.show(f"Saved revision {revision.index}.", "ok")
        return revision

    def restore(self, description: str | None = None) -> Revision:
        """Append a copy of the opened old revision as the latest (Restore this revision).

        ``description`` defaults to the message box (else the store's default). The copy
        is made by :meth:`Case.revert`, not from the form, so it is exactly the old
        revision.

        Raises
        ------
        CircusError
            The opened revision is the latest, holds unsaved edits, or is identical to
            the latest (see ``restore_problem``).
        ValidationError, PermissionDenied
            When the store refuses the copy (``revert`` checks the privileges and the
            project's current schema); nothing is written.
        """
        problem = self.restore_problem
        if problem is not None:
            raise CircusError(problem)
        if description is None:
            description = self.description_input.value.strip() or None
        index = self.opened.index
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", CircusWarning)
            revision = self.case.revert(index, description)
        self.reload()
        said = " ".join(str(w.message) for w in caught if issubclass(w.category, CircusWarning))
        self.message.show(f"Restored revision {index} as revision {revision.index}."
                          + (f" {said}" if said else ""), "warning" if said else "ok")
        return revision

    def set_tags(self, tags: list[str]) -> list[str]:
        """Replace the case's tags at once (tags are not versioned; Save ignores them)."""
        new = self.case.set_tags(tags)
        self._show_tags(new)
        self.message.show(f"Tags saved: {', '.join(new) or 'none'}.", "ok")
        return new

    def show_diff(self, a: int, b: int) -> pd.DataFrame:
        """Show what differs between revisions ``a`` and ``b`` and return it."""
        frame = self.case.diff(a, b)
        a, b = self.case.revision(a).index, self.case.revision(b).index
        if max(a, b) not in [v for _, v in self.diff_a.options]:
            self._refresh_case()  # saved elsewhere since: list it
        with self._quiet():
            self.diff_a.value, self.diff_b.value = a, b
        if frame.empty:
            self.diff_html.value = f"<i>Revisions {a} and {b} do not differ.</i>"
        else:
            self.diff_html.value = table_html(["field", f"#{a}", f"#{b}"],
                                              frame.itertuples(index=False))
        return frame

    # -- keeping the view in step -----------------------------------------------------------

    def _state(self) -> tuple:
        return self.form.state(), self.status

    def _series_to_save(self) -> list | None:
        """The series Save passes: ``None`` (keep the latest's) unless an old revision is
        open, whose series are saved with it."""
        return None if self.opened.index == self._base else list(self.opened.series)

    def _load(self, revision: Revision) -> None:
        dropped = self._opened is not None and self.dirty
        if revision.index not in [v for _, v in self.revision_picker.options]:
            self._refresh_case()  # saved elsewhere since: list it (the base stays)
        self._opened = revision
        self.form.show(revision.attributes)
        with self._quiet():
            self.status_input.value = revision.status
            self.revision_picker.value = revision.index
            latest = revision.index == self._base
            self.description_input.value = (DEFAULT_DESCRIPTION if latest else
                                            f"Restored revision {revision.index}.")
        self._loaded_state = self._state()
        self.opened_html.value = (
            f"Revision {revision.index} (latest)" if latest else
            f"Revision {revision.index} (the editor's latest is {self._base}) — an old"
            " revision: Restore this revision appends it again as the latest; or edit it and"
            " Save a changed copy.")
        self.series_html.value = "<b>Series</b>" + table_html(
            ["#", "Series UID", "Range", "Labels"],
            [(i, e.series_uid, e.partial_volume.describe(3), len(e.labels))
             for i, e in enumerate(revision.series)])
        self.message.show(f"Opened revision {revision.index}"
                          + (" (unsaved changes were dropped)." if dropped else "."))
        self._update()

    def _refresh_case(self) -> None:
        history = self.case.history().iloc[::-1]
        rows = list(history.itertuples(index=False))
        options = [(_revision_label(r), int(r.index)) for r in rows]
        with self._quiet():
            self.revision_picker.options = options
            short = [(f"#{int(r.index)} {r.description}", int(r.index)) for r in rows]
            self.diff_a.options, self.diff_b.options = short, short
        self.status_input.options = list(dict.fromkeys(history["status"]))
        self.description_input.options = list(dict.fromkeys(history["description"]))
        self.history_html.value = table_html(
            ["#", "date", "creator", "description", "status"],
            [(int(r.index), _date(r.date), r.creator, r.description, r.status) for r in rows])
        self.header.value = (f"<b>Case {escape(self.case.case_id)}</b> in project"
                             f" <b>{escape(self.project.name)}</b>, {len(rows)} revision(s)")
        self._show_tags(self.case.tags)
        self._writable = self.store.rights.has_role(self.case.project_id, "write")
        self.notice.show("" if self._writable else write_refusal(self.store, self.project), "info")
        self.show_diff(max(self._base - 1, 0), self._base)

    def _show_tags(self, tags: list[str]) -> None:
        # the project's tags, and any other tag the case has (the API takes free tags)
        self.tags_input.set_choices([*self.project.tag_names, *tags], tags)
        self._tags = list(tags)

    def _update(self) -> None:
        if self._quiet or self._opened is None:
            return
        problem = self.problem
        self.form_message.show(problem or "", "error")
        self.dirty_html.value = ('&nbsp;&nbsp;<b style="color: #b06000">● unsaved changes</b>'
                                 if self.dirty else "")
        save_problem = self.save_problem
        self.save_button.disabled = save_problem is not None
        # the form's own problem is already shown above it; the note says the other reasons
        self.save_note.show("" if problem is not None or not self.writable
                            else save_problem or "", "info")
        restore_problem = self.restore_problem
        old = self.opened.index != self._latest.index
        self.restore_button.layout.display = None if old else "none"
        self.restore_button.disabled = restore_problem is not None
        self.restore_button.tooltip = restore_problem or (
            f"Append a copy of revision {self.opened.index} as the latest revision")

    def _on_pick(self, change: dict) -> None:
        if not self._quiet and change["new"] is not None:
            run_and_show(self.message, lambda: self.open_revision(change["new"]))

    def _on_diff_pick(self) -> None:
        if not self._quiet and self.diff_a.value is not None and self.diff_b.value is not None:
            run_and_show(self.message, lambda: self.show_diff(self.diff_a.value,
                                                              self.diff_b.value))

    def _on_tags(self, pressed: list[str]) -> None:
        # keep the case's order; a newly pressed tag goes last
        tags = [t for t in self._tags if t in pressed] + [t for t in pressed
                                                          if t not in self._tags]
        try:
            self.set_tags(tags)
        except Exception as e:  # shown in the form; the input goes back to the stored tags
            self.message.show_error(e)
            self._show_tags(self.case.tags)

    def _save_clicked(self) -> None:
        try:
            self.save()
        except RevisionConflict as e:
            self.message.show(f"{e} Your changes are still in the form: note them, press"
                              " Load latest and apply them again.", "error")
        except Exception as e:  # shown in the form: the notebook must not get a traceback
            self.message.show_error(e)

    def _restore_clicked(self) -> None:
        index = self.opened.index
        try:
            self.restore()
        except (ValidationError, PermissionDenied) as e:  # the store refused the copy
            self.message.show(f"Restore refused: {e} Nothing was written. You can edit"
                              f" revision {index} in the form so that it fits, and Save it"
                              " as a changed copy.", "error")
        except Exception as e:  # shown in the form: the notebook must not get a traceback
            self.message.show_error(e)
