"""NewCaseForm driven through its traits and methods; create() writes what it shows."""

import pytest

import circus_nb as cnb
from circus_nb.widgets import NewCaseForm
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
    assert form.tags_input.allowed_tags == ["nodule", "ggo"]
    form.tags = ["nodule", "ggo"]
    form.project_id = other.project_id
    assert form.tags == ["ggo"] and form.create_button.description == "Create Case for Other"
    with pytest.raises(ValueError, match="not a project you can write to"):
        form.project_id = "nope"


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
