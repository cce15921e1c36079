"""CaseEditor: the form follows the schema, saves append revisions, restore, revert,
conflicts, history, diff, tags and read-only users; driven through traits and methods."""

import ipywidgets as widgets
import pytest

import circus_nb as cnb
from circus_nb.widgets.case_editor import CaseEditor
from tests.conftest import SCHEMA, as_user, snapshot


@pytest.fixture
def case(writer):
    return writer.create_case(writer.project_id, [writer.uids["chest_ct_lung"]], tags=["a"])


@pytest.fixture
def editor(writer, case):
    return CaseEditor(writer, case.case_id)


def _graded(case):
    """Two more revisions: 1 graded normal/2 (status reviewed), 2 nodule/4."""
    case.save("Graded.", attributes={"finding": "normal", "grade": 2}, status="reviewed")
    case.save("Regraded.", attributes={"finding": "nodule", "grade": 4})


# -- the form ------------------------------------------------------------------------------


def test_the_form_is_built_from_the_schema(editor):
    assert list(editor.fields) == list(SCHEMA["properties"])
    finding, grade = editor.fields["finding"], editor.fields["grade"]
    assert isinstance(finding, widgets.Dropdown) and isinstance(grade, widgets.Text)
    assert finding.description == "finding *" and grade.description == "grade"
    assert [v for _, v in finding.options] == [None, "normal", "nodule"]
    assert editor.json_input is None
    # the first revision: nothing set, so the required finding blocks Save
    assert editor.attributes == {} and editor.status == "draft" and not editor.dirty
    assert editor.problem == "Required attribute(s) missing: finding. Give a value for each."
    assert editor.save_button.disabled and "finding" in editor.form_message.text


def test_more_kinds_of_field_and_no_schema(cases):
    writer = cases  # as the admin, who may change the project's schema
    case = writer.create_case(writer.project_id, [writer.uids["chest_ct_lung"]])
    schema = {"type": "object", "required": ["urgent"], "properties": {
        "note": {"type": "string", "title": "Note", "maxLength": 5},
        "size": {"type": "number", "minimum": 0},
        "urgent": {"type": "boolean"}, "seen": {"type": "boolean"}}}
    writer.update_project(writer.project_id, case_attributes_schema=schema)
    editor = CaseEditor(writer, case.case_id)
    kinds = {k: type(c).__name__ for k, c in editor.fields.items()}
    assert kinds == {"note": "Text", "size": "Text", "urgent": "Checkbox", "seen": "Checkbox"}
    assert editor.fields["note"].description == "Note"
    assert editor.fields["urgent"].description == "urgent *"
    # a required boolean is always given, an optional one only once set
    assert editor.attributes == {"urgent": False}
    editor.fields["size"].value = "2.5"
    editor.fields["seen"].value = True
    assert editor.attributes == {"urgent": False, "size": 2.5, "seen": True}
    editor.fields["size"].value = ""  # an optional number can be left empty
    assert "size" not in editor.attributes and editor.valid
    writer.update_project(writer.project_id, case_attributes_schema=None)
    plain = CaseEditor(writer, case.case_id)
    assert plain.fields == {} and plain.json_input.value == "{}"
    plain.json_input.value = '{"anything": [1, 2]'
    assert plain.problem.startswith("Attributes are not valid JSON")
    plain.json_input.value = '{"anything": [1, 2]}'
    assert plain.save().attributes == {"anything": [1, 2]}


def test_editing_marks_the_form_dirty(editor):
    assert editor.dirty_html.value == ""
    editor.fields["grade"].value = "3"
    assert editor.dirty and "unsaved changes" in editor.dirty_html.value
    editor.fields["grade"].value = ""
    assert not editor.dirty  # back to what the revision says
    editor.status = "reviewed"
    assert editor.dirty


INVALID = [("7", "attributes.grade must be <= 5 (maximum), got 7."),
           ("abc", "attributes.grade must be an integer, got 'abc'."),
           ("2.5", "attributes.grade must be an integer, got 2.5.")]


def test_invalid_values_block_save_with_the_reason(writer, editor):
    editor.fields["finding"].value = "normal"
    assert not editor.save_button.disabled
    before = snapshot(writer)
    for text, reason in INVALID:
        editor.fields["grade"].value = text
        assert editor.problem == reason and editor.form_message.text == reason
        assert editor.save_button.disabled
        with pytest.raises(cnb.ValidationError, match="attributes.grade"):
            editor.save()
    assert snapshot(writer) == before
    editor.fields["grade"].value = "5"
    assert not editor.save_button.disabled and editor.form_message.text == ""


def test_an_empty_status_or_message_blocks_save_and_says_so(editor):
    editor.fields["finding"].value = "normal"
    editor.status = ""
    assert editor.save_button.disabled and "status must have 1 to 64" in editor.problem
    editor.status = "read\tagain"  # what the store refuses, the form refuses first
    assert editor.save_button.disabled and "control character" in editor.problem
    editor.status = "reviewed"
    editor.description_input.value = " "
    assert editor.save_button.disabled and editor.problem is None
    assert editor.save_note.text == "Write a revision message (what changed) to save."
    editor.description_input.value = "Read."
    assert not editor.save_button.disabled and editor.save_note.text == ""


# -- saving --------------------------------------------------------------------------------


def test_save_writes_exactly_what_the_controls_show(editor, case):
    editor.attributes = {"finding": "nodule", "grade": 3}
    assert editor.fields["grade"].value == "3"
    editor.status = "reviewed"
    editor.description_input.value = "Graded."
    editor.save_button.click()
    latest = case.latest
    assert (latest.index, latest.description, latest.status) == (1, "Graded.", "reviewed")
    assert latest.attributes == {"finding": "nodule", "grade": 3}
    assert latest.creator == "writer@example.org"
    assert latest.series == case.revision(0).series
    # the editor now shows the new latest revision, clean, with the messages offered
    assert editor.opened.index == editor.base == 1 and not editor.dirty
    assert editor.message.text == "Saved revision 1."
    assert editor.revision_picker.value == 1
    assert editor.description_input.value == "Edited."
    assert list(editor.description_input.options) == ["Graded.", "Created new case."]
    assert list(editor.status_input.options) == ["reviewed", "draft"]


def test_the_attributes_setter_refuses_unknown_keys(editor):
    with pytest.raises(cnb.ValidationError, match=r"attributes.size is not defined .*"
                                                  r"\(defined: finding, grade\)"):
        editor.attributes = {"size": 3}


def test_a_conflict_is_shown_and_writes_nothing(writer, editor, case):
    writer.case(case.case_id).save("Theirs.", status="theirs")  # another handle saves first
    editor.fields["finding"].value = "normal"
    before = snapshot(writer)
    editor.save_button.click()
    assert snapshot(writer) == before
    assert editor.message.kind == "error"
    assert editor.message.text.startswith("Revision 0 is not the latest: revision 1")
    assert "Load latest" in editor.message.text
    assert editor.dirty and editor.attributes == {"finding": "normal"}  # changes are kept
    with pytest.raises(cnb.RevisionConflict):
        editor.save("Mine.")
    editor.reload_button.click()
    assert editor.base == 1 and editor.status == "theirs" and not editor.dirty


def test_opening_an_old_revision_and_restoring_it(writer, editor, case):
    _graded(case)
    editor.reload()
    assert editor.attributes == {"finding": "nodule", "grade": 4}
    assert editor.restore_button.layout.display == "none"  # nothing to restore on the latest
    editor.revision_picker.value = 1  # what picking it does
    assert editor.opened.index == 1 and editor.base == 2
    assert editor.attributes == {"finding": "normal", "grade": 2}
    assert editor.status == "reviewed" and not editor.dirty
    assert "Restore this revision appends it again as the latest" in editor.opened_html.value
    assert editor.description_input.value == "Restored revision 1."
    assert editor.save_button.disabled and "Press Restore this revision" in editor.save_note.text
    assert editor.restore_button.layout.display is None and not editor.restore_button.disabled
    editor.restore_button.click()
    restored = case.latest
    assert restored.index == 3 and restored.description == "Restored revision 1."
    assert restored.attributes == {"finding": "normal", "grade": 2}
    assert restored.status == "reviewed"
    assert case.diff(1, 3)["field"].tolist() == ["description"]
    assert editor.message.text == "Restored revision 1 as revision 3."
    assert editor.opened.index == editor.base == 3 and not editor.dirty


def test_an_old_revision_the_schema_blocks_can_still_be_restored(writer, editor, case):
    _graded(case)
    editor.reload()
    editor.open_revision(0)  # no finding, which the schema now requires
    assert editor.problem.startswith("Required attribute(s) missing: finding")
    assert editor.save_button.disabled
    assert not editor.restore_button.disabled and editor.restore_problem is None
    editor.restore_button.click()  # the case goes back to how it started, and is told so
    assert case.latest.index == 3 and case.latest.attributes == {}
    assert editor.message.kind == "warning"
    assert editor.message.text.startswith("Restored revision 0 as revision 3. Revision 0 is"
                                          " restored with its attributes as they were")
    assert "Required attribute(s) missing: finding" in editor.message.text


def test_a_restore_the_store_refuses_is_shown_with_the_way_out(writer, editor, case,
                                                              monkeypatch):
    _graded(case)
    editor.reload()
    editor.open_revision(0)

    def refuse(to, description=None):  # what revert does once it checks the schema
        raise cnb.ValidationError("Required attribute(s) missing: finding. Give a value for"
                                  " each.", field="attributes")

    monkeypatch.setattr(editor.case, "revert", refuse)
    before = snapshot(writer)
    editor.restore_button.click()
    assert snapshot(writer) == before
    assert editor.message.kind == "error"
    assert editor.message.text == (
        "Restore refused: Required attribute(s) missing: finding. Give a value for each."
        " Nothing was written. You can edit revision 0 in the form so that it fits, and Save"
        " it as a changed copy.")
    with pytest.raises(cnb.ValidationError, match="Required attribute"):
        editor.restore()
    editor.fields["finding"].value = "normal"  # the way out: edit it, and save the copy
    assert editor.restore_button.disabled and not editor.save_button.disabled
    saved = editor.save()
    assert saved.index == 3 and saved.attributes == {"finding": "normal"}
    assert saved.series == case.revision(0).series


def test_restore_says_why_it_cannot_be_used(writer, editor, case):
    _graded(case)
    editor.reload()
    with pytest.raises(cnb.CircusError, match="Revision 2 is the latest: there is nothing to"
                                              " restore"):
        editor.restore()
    editor.open_revision(1)
    editor.fields["grade"].value = "3"
    assert editor.restore_button.disabled and "Save appends them" in editor.restore_problem
    with pytest.raises(cnb.CircusError, match="The form holds changes to revision 1: Save"):
        editor.restore()
    case.revert(1)  # revision 3 is a copy of 1
    editor.reload()
    editor.open_revision(1)
    with pytest.raises(cnb.CircusError, match="Revision 1 is identical to the latest"
                                              " revision, 3"):
        editor.restore()
    assert len(case.history()) == 4


# -- nothing changed -----------------------------------------------------------------------


def test_save_with_nothing_changed_is_disabled_and_refused(writer, editor, case):
    case.save("Graded.", attributes={"finding": "normal"})
    editor.reload()
    assert editor.valid and not editor.dirty
    assert editor.save_button.disabled
    assert editor.save_note.text == ("Nothing to save: the form shows revision 1 as saved."
                                     " Change an attribute or the status first.")
    before = snapshot(writer)
    with pytest.raises(cnb.CircusError, match="Nothing to save: the form shows revision 1"):
        editor.save("Again.")
    editor.save_button.click()  # a click that gets through: shown, nothing written
    assert editor.message.kind == "error" and "Nothing to save" in editor.message.text
    assert snapshot(writer) == before
    editor.status = "reviewed"
    assert not editor.save_button.disabled and editor.save_note.text == ""


def test_a_form_identical_to_the_latest_revision_is_not_saved(writer, editor, case):
    _graded(case)  # 1: normal/2, 2: nodule/4, both "reviewed"
    editor.reload()
    editor.fields["grade"].value = "04"  # another text, the same number
    assert editor.dirty and editor.save_button.disabled
    assert editor.save_note.text == ("Nothing to save: the form is identical to the latest"
                                     " revision, 2.")
    editor.open_revision(1)
    editor.attributes = {"finding": "nodule", "grade": 4}  # revision 1 edited into 2
    assert editor.dirty and editor.save_button.disabled
    with pytest.raises(cnb.CircusError, match="identical to the latest revision, 2"):
        editor.save()
    assert len(case.history()) == 3


def test_revert_drops_unsaved_changes(editor, case):
    _graded(case)
    editor.reload()
    editor.open_revision(1)
    editor.fields["grade"].value = "5"
    editor.status = "other"
    assert editor.dirty
    editor.revert_button.click()
    assert editor.opened.index == 1 and not editor.dirty
    assert editor.attributes == {"finding": "normal", "grade": 2} and editor.status == "reviewed"
    assert len(case.history()) == 3  # Revert writes nothing


def test_picking_a_revision_drops_changes_and_says_so(editor, case):
    _graded(case)
    editor.reload()
    editor.fields["grade"].value = "1"
    editor.revision_picker.value = 0
    assert editor.attributes == {} and editor.message.text == (
        "Opened revision 0 (unsaved changes were dropped).")


# -- history and diff ----------------------------------------------------------------------


def test_the_picker_and_history_list_newest_first(editor, case):
    _graded(case)
    editor.reload()
    assert [v for _, v in editor.revision_picker.options] == [2, 1, 0]
    label = editor.revision_picker.options[1][0]
    assert label.startswith("#1  20") and "[reviewed]  Graded.  — writer@example.org" in label
    rows = editor.history_html.value.split("<tr>")[2:]  # after the header
    assert ["Regraded." in rows[0], "Graded." in rows[1], "Created new case." in rows[2]] == [
        True, True, True]


def test_the_history_table_escapes_text(editor, case):
    case.save("<b>bold</b> & more")
    editor.reload()
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; more" in editor.history_html.value
    assert "<b>bold</b>" not in editor.history_html.value


def test_the_diff_view(editor, case):
    _graded(case)
    editor.reload()
    assert (editor.diff_a.value, editor.diff_b.value) == (1, 2)  # the last change
    frame = editor.show_diff(0, 2)
    assert frame.values.tolist() == [["description", "Created new case.", "Regraded."],
                                     ["status", "draft", "reviewed"],
                                     ["attributes.finding", None, "nodule"],
                                     ["attributes.grade", None, 4]]
    assert "attributes.finding" in editor.diff_html.value and "nodule" in editor.diff_html.value
    editor.diff_a.value = 2  # picking in the dropdowns shows the same
    assert "do not differ" in editor.diff_html.value


def test_the_series_table(editor, case):
    entry = case.latest.series[0]
    html = editor.series_html.value
    assert entry.series_uid in html and entry.partial_volume.describe(3) in html


# -- tags ----------------------------------------------------------------------------------


def _click_tag(editor, name):
    toggle = next(t for t in editor.tags_input.children if t.description == name)
    toggle.value = not toggle.value


def test_tags_are_applied_at_once_and_do_not_dirty_the_form(editor, case):
    assert editor.tags == ["a"]
    assert editor.tags_input.choices == ["nodule", "ggo", "a"]
    assert editor.tags_input.value == ["a"]
    _click_tag(editor, "nodule")  # what clicking a tag does
    assert case.tags == ["a", "nodule"] and not editor.dirty
    assert editor.message.text == "Tags saved: a, nodule."
    assert editor.set_tags(["ggo"]) == ["ggo"] and case.tags == ["ggo"]
    assert editor.tags == ["ggo"] and len(case.history()) == 1  # no revision for tags


# -- read-only users -----------------------------------------------------------------------


def test_a_reader_sees_the_form_but_cannot_save(cases, case):
    before = snapshot(cases)
    admin = cases._handed_to("admin@example.org")  # as_user checks the current user, writer
    with as_user(admin, "reader"):
        editor = CaseEditor(admin, case.case_id)
        assert list(editor.fields) == ["finding", "grade"] and not editor.writable
        editor.fields["finding"].value = "normal"
        assert editor.valid and editor.save_button.disabled
        assert "You do not have write privilege for this project." in editor.notice.text
        editor.save_button.click()  # disabled in the browser; here it reports the refusal
        assert "You do not have write privilege" in editor.message.text
        with pytest.raises(cnb.PermissionDenied, match="write privilege"):
            editor.save("No.")
        _click_tag(editor, "ggo")
        assert editor.message.kind == "error" and editor.tags == ["a"]
        assert editor.tags_input.value == ["a"]  # the buttons show the stored tags again
        assert editor.restore_button.layout.display == "none"
    assert snapshot(cases) == before
