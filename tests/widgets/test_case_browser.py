"""CaseBrowser: filters, facets, selection, bulk tags, lists, saved searches, export, open."""

from __future__ import annotations

import datetime as dt
import zipfile

import pytest

import circus_nb as cnb
from circus_nb.widgets import CaseBrowser, CaseEditor, CaseViewer
from tests.conftest import as_user, snapshot


@pytest.fixture
def five(cases):
    """Five cases in the project (two tagged nodule), one in a project others cannot read."""
    uids = [cases.uids[k] for k in ("chest_ct_lung", "abdomen_ct", "mr_interleaved")]
    made = [cases.create_case(cases.project_id, [uids[i % 3]],
                              tags=["nodule"] if i < 2 else []).case_id for i in range(5)]
    other = cases.create_project("Other")
    cases.hidden = cases.create_case(other.project_id, [uids[0]]).case_id
    return made


def test_the_first_view_shows_every_readable_case_with_facets(cases, five):
    with as_user(cases, "writer"):
        browser = CaseBrowser(cases)
        assert browser.total == 5 and len(browser.results) == 5
        assert browser.table.caption == "Cases 1–5 of 5"
        assert browser.facet_counts("project") == {"Lung": 5}
        assert browser.facet_counts("tag") == {"nodule": 2}
        assert browser.facet_counts("modality") == {"CT": 4, "MR": 1}
        assert "cnb-facet-bar" in browser.facets_html.value
        assert browser.table.row_keys == list(browser.results["case_id"])
        assert browser.table.rows[0][1] == "Lung"  # the project's name, not its id
    assert CaseBrowser(cases).total == 6  # the admin reads the other project too


def test_filters_from_the_form(cases, five):
    browser = CaseBrowser(cases)
    browser.projects.value = (cases.project_id,)
    browser.tags.value = ["nodule"]
    browser.search_from_form()
    assert sorted(browser.results["case_id"]) == sorted(five[:2])
    assert browser.filters == {"project_id": [cases.project_id], "tags": ["nodule"]}
    browser.tags.value = []
    browser.updated_within.value = "-7d"
    browser.search_from_form()
    assert browser.total == 5 and browser.filters["updated_from"] == "-7d"
    browser.case_id.value = five[3][:12]
    assert list(browser.search_from_form()["case_id"]) == [five[3]]
    browser.clear()
    assert browser.case_id.value == "" and browser.total == 6


def test_bad_filters_are_shown_and_raised_and_change_nothing(cases, five):
    browser = CaseBrowser(cases)
    before = list(browser.results["case_id"])
    with pytest.raises(cnb.ValidationError, match="reversed"):
        browser.search(created_from="2024-05-02", created_to="2024-05-01")
    assert "reversed" in browser.message.value
    with pytest.raises(cnb.ValidationError, match="no filter 'tag'"):
        browser.search(tag=["nodule"])
    cases.add_group("patient viewers", privileges=["personalInfoView"])
    cases.set_user_groups("admin@example.org", ["admins", "b", "patient viewers"])
    browser = CaseBrowser(cases)
    assert browser.patient_fields.layout.display is None
    browser.min_age.value = "seventy"
    browser.search_button.click()  # a button shows the error, never raises
    assert "whole number of years" in browser.message.value
    assert list(browser.results["case_id"]) == before
    with as_user(cases, "reader"):
        reader = CaseBrowser(cases)
        assert reader.patient_fields.layout.display == "none"  # shown only where allowed
        with pytest.raises(cnb.PermissionDenied, match="patient"):
            reader.search(patient_id="P")


def test_status_filter_and_sort_by_header(cases, five):
    cases.case(five[0]).save("done", status="done")
    browser = CaseBrowser(cases)
    browser.status.value = "done"
    assert list(browser.search_from_form()["case_id"]) == [five[0]]
    browser.clear()
    browser.table.click_header("Case")  # what a click on the header does
    assert browser.filters["sort"] == ["case_id"]
    assert list(browser.results["case_id"]) == sorted(browser.results["case_id"])
    browser.table.click_header("Case")
    assert list(browser.results["case_id"]) == sorted(browser.results["case_id"], reverse=True)
    assert browser.table.sort == ["-case_id"]


def test_paging_keeps_the_filters(cases, five):
    browser = CaseBrowser(cases, page_size=2)
    assert browser.table.caption == "Cases 1–2 of 6"
    seen = list(browser.results["case_id"])
    seen += list(browser.next_page()["case_id"])
    seen += list(browser.next_page()["case_id"])
    assert browser.table.caption == "Cases 5–6 of 6" and browser.next_button.disabled
    with pytest.raises(cnb.ValidationError, match="last page"):
        browser.next_page()
    assert sorted(seen) == sorted([*five, cases.hidden])
    browser.previous_page()
    assert browser.page == 1
    with pytest.raises(cnb.ValidationError, match="page_size"):
        CaseBrowser(cases, page_size=500)


def test_select_and_add_a_tag_in_bulk(cases, five):
    with as_user(cases, "writer"):
        browser = CaseBrowser(cases)
        assert browser.apply_tags_button.disabled
        browser.table.click_row(five[2])
        browser.table.click_row(five[3], toggle=True)  # Ctrl+click adds
        assert sorted(browser.selected) == sorted(five[2:4])
        assert "2 selected" in browser.selection_label.value
        browser.operation.value = "add"
        browser.bulk_picker.value = ["nodule"]
        browser.apply_tags_button.click()
        assert "Added nodule on 2 cases" in browser.message.value
        assert cases.count_cases(tags=["nodule"]) == 4
        assert browser.facet_counts("tag") == {"nodule": 4}
        assert sorted(browser.selected) == sorted(five[2:4])  # the selection stays
        browser.apply_tags_button.click()  # a second click changes nothing more
        assert cases.count_cases(tags=["nodule"]) == 4
        browser.bulk_tags("remove", ["nodule"])
        assert cases.count_cases(tags=["nodule"]) == 2


def test_bulk_tags_refused_without_write_and_nothing_changes(cases, five):
    with as_user(cases, "reader"):
        browser = CaseBrowser(cases)
        browser.select_page()
        before = snapshot(cases)
        with pytest.raises(cnb.PermissionDenied):
            browser.bulk_tags("add", ["x"])
        assert snapshot(cases) == before
        with pytest.raises(cnb.ValidationError, match="Pick the tags"):
            browser.bulk_tags("add", [])
        browser.table.clear_selection()
        with pytest.raises(cnb.ValidationError, match="Select cases first"):
            browser.bulk_tags("add", ["x"])


def test_export_the_selection(cases, five, tmp_path):
    browser = CaseBrowser(cases)
    browser.select(five[:2])
    written = browser.export(tmp_path / "two.zip")
    with zipfile.ZipFile(written) as archive:
        assert {name.split("/")[0] for name in archive.namelist()} == set(five[:2])
    assert "Exported 2 cases" in browser.message.value
    browser.export_path.value = str(tmp_path / "two.zip")
    browser.export_button.click()  # the same path again: refused, shown
    assert "exists" in browser.message.value
    with as_user(cases, "writer"):
        writer = CaseBrowser(cases)
        writer.select(five[0])
        with pytest.raises(cnb.PermissionDenied, match="downloadVolume"):
            writer.export(tmp_path / "no.zip")


def test_open_the_selected_case(cases, five):
    browser = CaseBrowser(cases)
    with pytest.raises(cnb.ValidationError, match="Select cases first"):
        browser.open_case()
    browser.select(five[:2])
    assert browser.open_button.disabled
    with pytest.raises(cnb.ValidationError, match="one case to open, not 2"):
        browser.open_case()
    browser.select([five[0]])
    browser.open_button.click()
    assert isinstance(browser.opened, CaseEditor)
    assert browser.open_box.children == (browser.opened,)
    browser.view_button.click()
    assert isinstance(browser.opened, CaseViewer)


def test_lists_from_the_browser(cases, five):
    browser = CaseBrowser(cases)
    browser.select(five[:3])
    made = browser.new_list("to review")
    assert sorted(made.items) == sorted(five[:3])
    assert browser.tools.list_picker.value == made.list_id
    browser.select([five[0]])
    browser.tools.remove_button.click()
    assert sorted(cases.get_list("to review").items) == sorted(five[1:3])
    browser.tools.show_list_button.click()
    assert sorted(browser.results["case_id"]) == sorted(five[1:3])
    browser.tags.value = ["nodule"]  # narrowing a list keeps the list
    assert list(browser.search_from_form()["case_id"]) == [five[1]]
    browser.select([five[1]])
    browser.add_to_list("to review")
    with pytest.raises(cnb.ValidationError, match="already have a cases list"):
        browser.new_list("to review")


def test_saved_searches_from_the_browser(cases, five):
    browser = CaseBrowser(cases)
    browser.tags.value = ["nodule"]
    browser.updated_within.value = "-7d"
    browser.search_from_form()
    browser.tools.preset_name.value = "recent nodules"
    browser.tools.save_button.click()
    assert cases.searches("cases")["filters"][0] == {"tags": ["nodule"], "updated_from": "-7d"}
    browser.clear()
    assert browser.total == 6
    browser.tools.preset.value = "recent nodules"  # picking it runs it
    assert sorted(browser.results["case_id"]) == sorted(five[:2])
    assert browser.tags.value == ["nodule"] and browser.updated_within.value == "-7d"
    other = CaseBrowser(cases)  # a second browser offers it too
    assert ("recent nodules", "recent nodules") in other.tools.preset.options


def test_dates_from_the_form_include_their_whole_day(cases, five):
    browser = CaseBrowser(cases)
    today = dt.datetime.now(dt.UTC).date()
    browser.created_from.value = today
    browser.created_to.value = today
    assert browser.search_from_form().shape[0] == 6
