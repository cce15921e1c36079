"""Two notebooks on one store, as JupyterLab users have them: both open, both writing.

Notebook A shows a CaseEditor; notebook B, open beside it, saves the same case in code.
A's Save then meets B's revision: the editor says so and keeps the user's changes, Load
latest brings B's revision in, and the second Save lands. This process opens the store
meanwhile too.
"""

from __future__ import annotations

import pytest

import circus_nb as cnb

from .conftest import OPEN_STORE, USER, write_notebook
from .test_jupyterlab import run_notebook

pytestmark = pytest.mark.e2e


def test_a_second_notebook_saves_while_the_first_edits_the_same_case(browser, expect, server,
                                                                      workspace, screenshot):
    with cnb.Store.open(workspace.store, user=USER) as store:  # while the server runs
        project_id = store.projects(role="write")["project_id"][0]
        uid = store.search_series(description="localizer")["series_uid"][0]
        case_id = store.create_case(project_id, [uid]).case_id
    folder = workspace.store.parent
    write_notebook(folder / "two_a.ipynb", [*OPEN_STORE,
                                            f'editor = CaseEditor(store, "{case_id}"); editor'])
    write_notebook(folder / "two_b.ipynb", [
        *OPEN_STORE,
        f'case = store.case("{case_id}")',
        'print("notebook B saved revision", case.save("Saved from notebook B").index)'])
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    a, b = context.new_page(), context.new_page()
    try:
        run_notebook(a, server, "two_a.ipynb")
        editor = a.locator(".jp-OutputArea-output .widget-vbox:has(.widget-accordion)").first
        editor.get_by_text("1 revision(s)").wait_for(timeout=60_000)

        run_notebook(b, server, "two_b.ipynb")
        b.get_by_text("notebook B saved revision 1").wait_for(timeout=60_000)

        a.bring_to_front()
        editor.get_by_label("Finding *").select_option(label="nodule")
        editor.get_by_label("Message").fill("Nodule, seen in notebook A.")
        save = editor.get_by_role("button", name="Save", exact=True)
        expect(save).to_be_enabled()  # the kernel has the form's values
        save.click()
        editor.get_by_text("Your changes are still in the form").wait_for()
        screenshot(editor, "two_notebooks_conflict.png")
        editor.get_by_role("button", name="Load latest").click()
        editor.get_by_text("2 revision(s)").wait_for()
        expect(editor.get_by_text("Revision 1 (latest)")).to_be_visible()
        expect(save).to_be_disabled()  # the form shows notebook B's revision, unchanged
        editor.get_by_label("Finding *").select_option(label="nodule")
        editor.get_by_label("Message").fill("Nodule, seen in notebook A.")
        expect(save).to_be_enabled()
        save.click()
        editor.get_by_text("Saved revision 2.").wait_for()
    finally:
        context.close()
        server.shutdown_kernels()
    with cnb.Store.open(workspace.store, user=USER, read_only=True) as store:
        history = store.case(case_id).history()
    assert list(history["description"])[1:] == ["Saved from notebook B",
                                                 "Nodule, seen in notebook A."]
