"""The CaseBrowser in a real JupyterLab: filter, select two cases with the mouse, add a
tag to both, and find it in the store; the wrong way too (Apply twice, a bad age)."""

from __future__ import annotations

import pytest

from circus_nb.demo import DEMO_PROJECT
from tests.e2e.conftest import OPEN_STORE, write_notebook
from tests.e2e.test_jupyterlab import BROKEN_IMAGES, CUT_LABELS, run_notebook

pytestmark = pytest.mark.e2e

TAG = "teaching"  # the cases this test makes are the store's only ones with it


def test_filter_select_two_and_tag_them_in_bulk(page, expect, server, workspace, screenshot):
    write_notebook(workspace.store.parent / "case_browser.ipynb", [
        *OPEN_STORE,
        "from circus_nb.widgets import CaseBrowser",
        "project = store.projects(role='write')['project_id'][0]",
        "uids = store.search_series(modality='CT')['series_uid']",
        f"made = [store.create_case(project, [uid], tags=['{TAG}']).case_id"
        " for uid in uids[:3]]",
        "browser = CaseBrowser(store); browser"])
    run_notebook(page, server, "case_browser.ipynb")
    browser = page.locator(".jp-OutputArea-output .widget-vbox:has(.cnb-table)").first
    browser.get_by_role("button", name="Apply tags").wait_for(timeout=60_000)

    # filter: press the tag's chip, then Search
    browser.get_by_role("button", name=TAG, exact=True).first.click()
    browser.get_by_role("button", name="Search", exact=True).click()
    expect(browser.locator(".cnb-table-caption")).to_have_text("Cases 1–3 of 3")
    rows = browser.locator(".cnb-table tbody tr")
    expect(rows).to_have_count(3)
    expect(browser.get_by_text(DEMO_PROJECT).first).to_be_visible()  # in the facets too

    # select two: a click, then Ctrl+click
    rows.nth(0).click()
    rows.nth(1).click(modifiers=["Control"])
    expect(browser.locator(".cnb-table tbody tr.cnb-selected")).to_have_count(2)
    expect(browser.get_by_text("2 selected")).to_be_visible()
    chosen = [rows.nth(i).get_attribute("data-key") for i in range(2)]

    # add "follow-up" to both; a second click changes nothing more
    actions = browser.locator(".widget-hbox:has(button:text('Apply tags'))")
    actions.get_by_role("button", name="follow-up", exact=True).click()
    apply = browser.get_by_role("button", name="Apply tags")
    apply.click()
    expect(browser.get_by_text("Added follow-up on 2 cases.")).to_be_visible()
    apply.dblclick()
    expect(browser.locator(".cnb-table tbody tr.cnb-selected")).to_have_count(2)
    expect(browser.locator(".cnb-table tbody tr", has_text="follow-up")).to_have_count(2)

    # a wrong number in a field is said, not clamped or dropped
    assert browser.evaluate(f"el => ({BROKEN_IMAGES})([...el.querySelectorAll('img')])") == 0
    cut = browser.evaluate(f"el => ({CUT_LABELS})([...el.querySelectorAll('.widget-label')])")
    assert cut == []
    screenshot(browser, "case_browser.png")

    page.close()
    server.shutdown_kernels()
    with workspace.open_store() as store:
        tagged = store.search_cases(tags=[TAG, "follow-up"])
        assert sorted(tagged["case_id"]) == sorted(chosen)
        assert store.count_cases(tags=[TAG]) == 3
