"""The CaseBrowser in a real JupyterLab, used the wrong way: a double click on a row, a
header clicked twice, Enter on a focused row, a bad age, and a second notebook that adds
a case while the first browser is open (Search shows it)."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import OPEN_STORE, write_notebook
from tests.e2e.test_jupyterlab import run_notebook

pytestmark = pytest.mark.e2e

TAG = "hostile"  # the cases this test makes are the store's only ones with it
MAKE_CASES = ["project = store.projects(role='write')['project_id'][0]",
              "uids = store.search_series(modality='CT')['series_uid']"]


def test_the_browser_used_the_wrong_way(browser, expect, server, workspace, screenshot):
    folder = workspace.store.parent
    write_notebook(folder / "hostile_a.ipynb", [
        *OPEN_STORE, "from circus_nb.widgets import CaseBrowser", *MAKE_CASES,
        f"made = [store.create_case(project, [uid], tags=['{TAG}']).case_id for uid in uids[:2]]",
        "browser = CaseBrowser(store); browser"])
    write_notebook(folder / "hostile_b.ipynb", [
        *OPEN_STORE, *MAKE_CASES,
        f"print('notebook B made', store.create_case(project, [uids[0]], tags=['{TAG}'])"
        ".case_id)"])
    context = browser.new_context(viewport={"width": 1700, "height": 1100})
    a, b = context.new_page(), context.new_page()
    try:
        run_notebook(a, server, "hostile_a.ipynb")
        found = a.locator(".jp-OutputArea-output .widget-vbox:has(.cnb-table)").first
        found.get_by_role("button", name="Apply tags").wait_for(timeout=60_000)
        found.get_by_role("button", name=TAG, exact=True).first.click()
        search = found.get_by_role("button", name="Search", exact=True)
        search.click()
        caption = found.locator(".cnb-table-caption")
        expect(caption).to_have_text("Cases 1–2 of 2")
        rows = found.locator(".cnb-table tbody tr")
        selected = found.locator(".cnb-table tbody tr.cnb-selected")

        rows.nth(1).dblclick()  # two clicks on one row: it stays the one selected
        expect(selected).to_have_count(1)
        expect(found.get_by_text("1 selected")).to_be_visible()

        header = found.locator(".cnb-table thead th", has_text="Case").first
        keys = lambda: [rows.nth(i).get_attribute("data-key") for i in range(2)]  # noqa: E731
        ascending = sorted(keys())
        header.click()
        expect(header).to_have_attribute("aria-sort", "ascending")
        expect(rows.first).to_have_attribute("data-key", ascending[0])
        header.click()  # the same header again: the other way
        expect(header).to_have_attribute("aria-sort", "descending")
        expect(rows.first).to_have_attribute("data-key", ascending[-1])
        assert keys() == ascending[::-1]

        rows.nth(0).focus()  # the keyboard: Enter on a focused row selects it
        a.keyboard.press("Enter")
        expect(selected).to_have_count(1)
        expect(selected.first).to_have_attribute("data-key", keys()[0])

        age = found.get_by_label("Age from")
        if age.is_visible():  # patient fields show only where the user may search them
            age.fill("seventy")
            search.click()
            expect(found.get_by_text("whole number of years")).to_be_visible()
            age.fill("")

        run_notebook(b, server, "hostile_b.ipynb")  # the other notebook adds a case
        b.get_by_text("notebook B made").wait_for(timeout=60_000)
        a.bring_to_front()
        # Notebook B's window restored the workspace, notebook A in it too: a click in A
        # sent at once is lost (the caption stays), one a moment later lands.
        a.wait_for_timeout(2000)
        search.click()
        expect(caption).to_have_text("Cases 1–3 of 3")
        expect(rows).to_have_count(3)
        screenshot(found, "case_browser_hostile.png")
    finally:
        context.close()
        server.shutdown_kernels()
