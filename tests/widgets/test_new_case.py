"""NewCaseForm driven through its traits and methods; create() writes what it shows."""

import pytest

import circus_nb as cnb
from circus_nb.widgets import CaseEditor, NewCaseForm
from tests.conftest import as_user


@pytest.fixture
def form(cases):
    with as_user(cases, "writer"):
        return NewCaseForm(cases, cases.uids["chest_ct_localizer"])


def test_the_form_starts_with_the_series_and_writable_projects(cases, form):
    assert form.entries == [(cases.uids["chest_ct_localizer"], "auto")]
    assert form.project_id == cases.project_id
    assert form.create_button.description == "Create Case for Lung"
    assert not form.create_button.disabled
    header = [cell.value for cell in form.table.children[:8]]
    assert "<b>Series Description</b>" in header and "<b>Range</b>" in header
    row = form.table.children[8:16]
    assert row[6].description == "auto" and row[7].disabled  # the last series stays


def test_no_writable_project_is_said(cases):
    with as_user(cases, "reader"):
        form = NewCaseForm(cases, cases.uids["abdomen_ct"])
    assert "cannot write to any project" in form.no_project.value
    assert form.create_button.disabled and form.project_id is None


def test_range_editor_applies_on_ok(cases, form):
    editor = form.open_range_editor(0)
    editor.set(3, 62, 1)
    editor.ok_button.click()
    assert form.entries[0][1] == cnb.PartialVolume(3, 62, 1)
    assert form.editor_box.children == ()
    assert form.table.children[14].description == "3, 4, ..., 62"


def test_add_series_asks_for_another_study_or_the_same_series(cases, form):
    related = dict((uid, label) for label, uid in form.related.options)
    assert cases.uids["chest_ct_lung"] in related and cases.uids["mr_interleaved"] in related
    assert "same study" in related[cases.uids["chest_ct_lung"]]
    form.request_add(cases.uids["chest_ct_lung"])  # same study: added at once
    assert len(form.entries) == 2
    form.request_add(cases.uids["mr_interleaved"])  # another study: asks
    assert "another study" in form.confirm_box.children[0].value and len(form.entries) == 2
    form.confirm_add(False)
    assert len(form.entries) == 2 and form.confirm_box.children == ()
    form.request_add(cases.uids["chest_ct_lung"])  # already there: asks
    assert "already in the case" in form.confirm_box.children[0].value
    form.confirm_box.children[1].click()
    assert len(form.entries) == 3
    form.remove_series(2)
    assert [u for u, _ in form.entries] == [cases.uids["chest_ct_localizer"],
                                            cases.uids["chest_ct_lung"]]


def test_tags_come_from_the_project_and_switching_project_drops_the_rest(cases, form):
    other = cases.create_project("Other", tags=["ggo"])
    cases.grant("writers", other.project_id, ["read", "write"])
    with as_user(cases, "writer"):
        form = NewCaseForm(cases, cases.uids["abdomen_ct"])
    assert form.tag_choices == ["nodule", "ggo"]
    assert [b.description for b in form.tag_box.children] == ["nodule", "ggo"]
    form.tags = ["nodule", "ggo"]
    form.project_id = other.project_id
    assert form.tags == ["ggo"] and form.create_button.description == "Create Case for Other"
    assert [b.description for b in form.tag_box.children] == ["ggo"]
    assert "Tags dropped (not in the tag list of Other): nodule." in form.tags_note.value
    with pytest.raises(cnb.ValidationError, match="not a project you can write to"):
        form.project_id = "nope"


def test_the_pressed_tag_buttons_are_exactly_the_tags_created(cases, form):
    nodule, ggo = form.tag_box.children
    assert form.tags == [] and not nodule.value and not ggo.value
    ggo.value = True  # what clicking the ggo button does
    assert form.tags == ["ggo"] and ggo.icon == "check" and nodule.icon == ""
    with as_user(cases, "writer"):
        form.create_button.click()
    assert form.case.tags == ["ggo"]


def test_a_tag_outside_the_projects_list_is_refused_and_changes_nothing(form):
    form.tags = ["nodule"]
    with pytest.raises(cnb.ValidationError,
                       match=r"Tag 'Nodule ' is not in the tag list of project 'Lung'"
                             r" \(nodule, ggo\); choose from that list, or ask an"
                             " administrator"):
        form.tags = ["ggo", "Nodule "]
    assert form.tags == ["nodule"]


def test_a_project_without_tags_says_so(cases):
    bare = cases.create_project("Bare")
    cases.grant("writers", bare.project_id, ["read", "write"])
    with as_user(cases, "writer"):
        form = NewCaseForm(cases, cases.uids["abdomen_ct"])
        form.project_id = bare.project_id
    assert form.tag_choices == [] and "Bare has no tags" in form.tags_note.value
    with pytest.raises(cnb.ValidationError, match="it has no tags"):
        form.tags = ["nodule"]


def test_create_writes_exactly_what_the_form_shows(cases, form):
    form.set_range(0, (3, 61, 2))
    form.add_series(cases.uids["chest_ct_feet_first"])
    form.tags = ["nodule"]
    with as_user(cases, "writer"):
        form.create_button.click()
    assert "Created case" in form.message.text
    latest = form.case.latest
    assert [(e.series_uid, e.partial_volume) for e in latest.series] == [
        (cases.uids["chest_ct_localizer"], cnb.PartialVolume(3, 61, 2)),
        (cases.uids["chest_ct_feet_first"], cnb.PartialVolume(40, 1, -1))]
    assert form.case.tags == ["nodule"] and latest.creator == "writer@example.org"


def test_errors_show_in_the_form(cases, form):
    form.set_range(0, (3, 62, 1))
    with as_user(cases, "reader"):
        form.create_button.click()
    assert form.message.kind == "error" and "write privilege" in form.message.text
    with pytest.raises(cnb.ValidationError, match="Specified range is invalid"):
        form.set_range(0, (1, 62, 1))


def _case_ids(store):
    return list(store.search_cases(project_id=store.project_id)["case_id"])


def test_create_clicked_twice_makes_one_case_and_says_which(cases, form):
    form.set_range(0, (3, 62, 1))
    with as_user(cases, "writer"):
        form.create_button.click()
        form.create_button.click()  # a double click: the second one arrives too
        case_id = form.case.case_id
        assert _case_ids(cases) == [case_id]
        assert form.message.text == f"Created case {case_id} in Lung."
        assert form.created and form.create_button.disabled
        assert case_id in form.created_box.children[0].value
        with pytest.raises(cnb.CircusError, match=f"Case {case_id} was already created from"
                                                  " what the form shows; change the series"):
            form.create()
        assert _case_ids(cases) == [case_id]
        opener = form.created_box.children[1]
        assert opener.description == "Open in case editor"
        opener.click()
        editor = form.case_box.children[0]
        assert isinstance(editor, CaseEditor) and editor.case.case_id == case_id
        form.tags = ["nodule"]  # something changed: another case may be made
        assert not form.created and not form.create_button.disabled
        second = form.create()
    assert second.case_id != case_id and set(_case_ids(cases)) == {case_id, second.case_id}
    assert second.tags == ["nodule"]


def test_open_case_editor_before_create_is_refused(form):
    with pytest.raises(cnb.CircusError, match="No case created yet"):
        form.open_case_editor()


def test_bad_entries_are_validation_errors(form):
    with pytest.raises(cnb.ValidationError, match="A case needs at least one series"):
        form.remove_series(0)
    with pytest.raises(cnb.ValidationError, match=r"The form has no series #3; its series are"
                                                  r" #0 to #0\."):
        form.set_range(3, "auto")
    with pytest.raises(cnb.ValidationError, match="no series #-2"):
        form.remove_series(-2)


def test_the_range_editors_cancel_closes_it_and_keeps_the_range(form):
    editor = form.open_range_editor(0)
    assert editor.cancel_button.layout.display is None
    assert editor.cancel_button in editor._buttons.children  # next to OK, not apart
    editor.set(3, 70, 1)
    editor.cancel_button.click()
    assert form.editor_box.children == () and form.entries[0][1] == "auto"
