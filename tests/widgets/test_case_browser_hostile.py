"""The CaseBrowser used the wrong way: no project, no case, many cases, double clicks,
a preset edited, tags outside the vocabulary, a case deleted by another notebook."""

from __future__ import annotations

import pytest

import circus_nb as cnb
from circus_nb.widgets import CaseBrowser
from tests.conftest import as_user, snapshot


@pytest.fixture
def three(cases):
    """Two cases in the project (tags a, b and a), one in a project readers cannot see."""
    other = cases.create_project("Other")
    made = [cases.create_case(cases.project_id, [cases.uids["chest_ct_lung"]], tags=["a", "b"]),
            cases.create_case(cases.project_id, [cases.uids["abdomen_ct"]], tags=["a"]),
            cases.create_case(other.project_id, [cases.uids["mr_interleaved"]])]
    return made


def test_no_readable_project_and_no_case(cases):
    assert CaseBrowser(cases).total == 0  # no case yet
    with as_user(cases, "nobody"):
        browser = CaseBrowser(cases)
        assert browser.total == 0 and browser.table.caption == ""
        assert browser.projects.options == () and browser.facets_html.value == ""
        assert browser.next_button.disabled and browser.previous_button.disabled
        with pytest.raises(cnb.ValidationError, match="Select cases first"):
            browser.bulk_tags("add", ["nodule"])


def test_250_cases_in_pages_of_200_and_bulk_tags_on_a_page(cases):
    uid = cases.uids["chest_ct_lung"]
    for _ in range(250):
        cases.create_case(cases.project_id, [uid])
    browser = CaseBrowser(cases, page_size=200)
    assert browser.total == 250 and browser.table.caption == "Cases 1–200 of 250"
    assert len(browser.select_page()) == 200
    browser.operation.value, browser.bulk_picker.value = "add", ["ggo"]
    browser.apply_tags_button.click()
    browser.apply_tags_button.click()  # a double click: the same tags, nothing more
    assert "Added ggo on 200 cases" in browser.message.value
    assert cases.count_cases(tags=["ggo"]) == 200 and len(browser.selected) == 200
    browser.next_page()
    assert browser.table.caption == "Cases 201–250 of 250" and len(browser.results) == 50
    assert browser.selected == []  # a selection is of the page shown


def test_double_clicks_and_empty_names(cases, three):
    browser = CaseBrowser(cases)
    browser.select([three[0].case_id])
    browser.tools.list_name.value = "picked"
    browser.tools.new_list_button.click()
    browser.tools.new_list_button.click()  # the field was emptied: refused, said
    assert "Type a name for the new list first." in browser.message.value
    assert list(cases.lists()["name"]) == ["picked"]
    browser.tools.preset_name.value = "mine"
    browser.tools.save_button.click()
    browser.tools.save_button.click()  # the same name again replaces it
    assert list(cases.searches("cases")["name"]) == ["mine"]
    before = snapshot(cases)
    for blank in ("", "   "):
        browser.tools.preset_name.value = blank
        browser.tools.save_button.click()
        assert "Type a name for the search first." in browser.message.value
        browser.tools.list_name.value = blank
        browser.tools.new_list_button.click()
        assert "Type a name for the new list first." in browser.message.value
    assert snapshot(cases) == before


def test_a_preset_edited_then_searched_keeps_what_the_fields_cannot_show(cases, three):
    lung, abdomen, _ = three
    review = cases.create_list("cases", "review", items=[lung.case_id, abdomen.case_id])
    cases.save_search("cases", "P", tags=["a"], in_list=review, updated_from="-14d",
                      sort=["case_id"])
    browser = CaseBrowser(cases)
    browser.tools.preset.value = "P"
    assert sorted(browser.results["case_id"]) == sorted([lung.case_id, abdomen.case_id])
    assert browser.tags.value == ["a"] and browser.updated_within.value == "-14d"
    browser.status.value = "draft"  # edit a field, then Search
    browser.search_button.click()
    assert browser.filters == {"in_list": review.list_id, "sort": ["case_id"], "tags": ["a"],
                               "updated_from": "-14d", "status": "draft"}
    assert sorted(browser.results["case_id"]) == sorted([lung.case_id, abdomen.case_id])
    browser.save_search("P draft")  # saving after a preset keeps what it stands for
    assert cases.searches("cases").set_index("name")["filters"]["P draft"]["tags"] == ["a"]
    browser.clear()  # and Clear drops the list too
    assert browser.total == 3 and browser.updated_within.value == ""


def test_tags_outside_the_vocabulary_show_in_the_facets_and_the_field(cases, three):
    cases.bulk_tags([three[0].case_id], "add", ["zzz"])  # "a", "b", "zzz": none in Lung's
    browser = CaseBrowser(cases)
    assert browser.facet_counts("tag") == {"a": 2, "b": 1, "zzz": 1}
    assert "zzz" in browser.facets_html.value
    assert browser.tags.choices[-1] == "zzz"  # a chip to filter by it
    browser.search(tags=["zzz"])
    assert browser.tags.value == ["zzz"]  # offered, so Search keeps it
    assert list(browser.search_from_form()["case_id"]) == [three[0].case_id]


def test_a_case_deleted_by_another_notebook_before_bulk_tags(cases, three):
    browser = CaseBrowser(cases)
    browser.select_page()
    with cnb.Store.open(cases.path, user="admin@example.org") as other:
        other.delete_case(three[1].case_id)
    before = snapshot(cases)
    with pytest.raises(cnb.NotFoundError, match="Nothing was changed"):
        browser.bulk_tags("add", ["nodule"])
    assert snapshot(cases) == before
    browser.search()
    assert browser.total == 2  # a new search shows it gone


def test_export_to_a_folder_that_does_not_exist(cases, three, tmp_path):
    browser = CaseBrowser(cases)
    browser.select([three[0].case_id])
    browser.export_path.value = str(tmp_path / "no" / "such" / "cases.zip")
    browser.export_button.click()
    assert "No folder" in browser.message.value and "Create it first" in browser.message.value
    assert not (tmp_path / "no").exists()


def test_empty_names_are_said_plainly_and_the_list_menu_shows_its_dash(cases):
    browser = CaseBrowser(cases)
    assert browser.tools.list_picker.value == "" and browser.tools.list_picker.label == "—"
    browser.tools.new_list_button.click()
    assert "Type a name for the new list first." in browser.message.value
    browser.tools.save_button.click()
    assert "Type a name for the search first." in browser.message.value
    assert cases.lists().empty and cases.searches().empty
