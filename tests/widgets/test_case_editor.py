"""CaseEditor: the form follows the schema, saves append revisions, restore, revert,
conflicts, history, diff, tags and read-only users; driven through traits and methods."""

import ipywidgets as widgets
import pytest

import circus_nb as cnb
from circus_nb.widgets.case_editor import CaseEditor
from tests.conftest import SCHEMA, as_user, snapshot


@pytest.fixture
def writer(cases):
    with as_user(cases, "writer"):
        yield cases


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


def test_an_empty_status_or_message_blocks_save(editor):
    editor.fields["finding"].value = "normal"
    editor.status = ""
    assert editor.save_button.disabled and "status must have 1 to 64" in editor.problem
    editor.status = "reviewed"
    editor.description_input.value = " "
    assert editor.save_button.disabled and editor.problem is None


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


def test_opening_an_old_revision_and_saving_restores_it(writer, editor, case):
    _graded(case)
    editor.reload()
    assert editor.attributes == {"finding": "nodule", "grade": 4}
    editor.revision_picker.value = 1  # what picking it does
    assert editor.opened.index == 1 and editor.base == 2
    assert editor.attributes == {"finding": "normal", "grade": 2}
    assert editor.status == "reviewed" and not editor.dirty
    assert "restores it" in editor.opened_html.value
    assert editor.description_input.value == "Restored revision 1."
    restored = editor.save()
    assert restored.index == 3 and restored.description == "Restored revision 1."
    assert case.latest.attributes == {"finding": "normal", "grade": 2}
    assert case.latest.status == "reviewed"
    assert case.diff(1, 3)["field"].tolist() == ["description"]


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


def test_tags_are_applied_at_once_and_do_not_dirty_the_form(editor, case):
    assert editor.tags == ["a"]
    assert list(editor.tags_input.allowed_tags) == ["nodule", "ggo", "a"]
    editor.tags_input.value = ["a", "nodule"]  # what editing the tags does
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
        editor.tags_input.value = ["a", "ggo"]
        assert editor.message.kind == "error" and editor.tags == ["a"]
    assert snapshot(cases) == before
