"""The widgets in a real JupyterLab, driven by headless Chromium through Playwright.

Each test opens a notebook, runs it, works the widgets with the mouse and the keyboard,
shuts the kernel down (it holds the store) and checks the store in this process.
Screenshots go to ``docs/screenshots/`` when ``CIRCUS_NB_SCREENSHOTS=1`` is set (that is
how the README's pictures are refreshed), else to a temporary folder, so a test run
leaves the working tree alone.
"""

from __future__ import annotations

import base64
import os
import re
import tempfile
import time
from pathlib import Path

import pytest

import circus_nb as cnb
from circus_nb.demo import DEMO_PROJECT

pytestmark = pytest.mark.e2e

SCREENSHOTS = (Path(__file__).resolve().parents[2] / "docs" / "screenshots"
               if os.environ.get("CIRCUS_NB_SCREENSHOTS") == "1"
               else Path(tempfile.gettempdir()) / "circus-nb-screenshots")


def run_notebook(page, server, name: str) -> None:
    """Open notebook ``name``, wait for its kernel, and Run > Run All Cells."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    page.goto(server.notebook_url(name))
    page.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]').wait_for(
        timeout=60_000)
    deadline = time.monotonic() + 30
    while not server.kernel_connected():  # a Run All sent earlier can be lost
        assert time.monotonic() < deadline, "the notebook did not connect to its kernel"
        time.sleep(0.1)
    prompts = page.locator(".jp-InputArea-prompt")
    for _attempt in range(3):
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        try:  # queued ([*]) or run ([1]); retrying is safe while no cell has run
            prompts.first.filter(has_text=re.compile(r"\[(\*|\d+)\]")).wait_for(
                timeout=5_000)
            return
        except PlaywrightTimeoutError:
            assert all(p.strip() in ("[ ]:", "") for p in prompts.all_inner_texts())
    raise AssertionError("Run All Cells did not run the notebook")


def screenshot(locator, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    locator.screenshot(path=SCREENSHOTS / name)


def thumbnails(editor) -> list[tuple[str, bytes]]:
    """``(src, PNG bytes)`` of every image in ``editor`` (``src`` is a new blob URL per
    change, so the bytes tell whether the picture changed)."""
    return [(src, base64.b64decode(data)) for src, data in editor.locator("img").evaluate_all(
        """imgs => Promise.all(imgs.map(async img => {
            const bytes = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
            return [img.src, btoa(String.fromCharCode(...bytes))];
        }))""")]


def test_new_case_form_creates_a_case_with_the_range_set_in_the_browser(page, expect, server,
                                                                        workspace):
    run_notebook(page, server, "new_case.ipynb")
    form = page.locator(".jp-OutputArea-output .widget-vbox:has(.widget-gridbox)").first
    create = form.get_by_role("button", name=re.compile(r"^Create Case for "))
    create.wait_for(timeout=60_000)

    picker = form.get_by_label("Project")
    picker.select_option(label=DEMO_PROJECT)
    expect(picker.locator("option:checked")).to_have_text(DEMO_PROJECT)  # nbsp-safe
    expect(create).to_have_text(f"Create Case for {DEMO_PROJECT}")

    # The Range button of the first series opens the RangeEditor under the table.
    form.get_by_role("button", name="auto", exact=True).click()
    editor = form.locator(".widget-vbox:has(> .widget-slider)")
    images = editor.locator("img")
    expect(images).to_have_count(3)
    for i in range(3):
        expect(images.nth(i)).to_have_attribute("src", re.compile("."))
    start, end = editor.get_by_label("Start"), editor.get_by_label("End")
    assert (start.input_value(), end.input_value()) == ("1", "1")  # auto: image 1 alone
    before = thumbnails(editor)
    assert len({png for _, png in before}) == 1  # image 1, three times

    # The keyboard on the slider: End moves the upper handle to the last image, 62, and
    # the kernel's observer puts it in the End field (1-62 is invalid: there is no 2).
    handle = editor.locator(".widget-slider .noUi-handle-upper")
    handle.focus()
    handle.press("End")
    expect(end).to_have_value("62")
    # Typing Start = 3 makes 3-62, a valid range: the thumbnails show images 3, 33, 62.
    start.fill("3")
    start.press("Enter")
    for number in (3, 33, 62):  # first, middle and last of 3-62
        expect(editor.get_by_text(re.compile(rf"^#{number}( |$)"))).to_be_visible()
    for i, (src, _) in enumerate(before):
        expect(images.nth(i)).not_to_have_attribute("src", src)
    after = thumbnails(editor)
    assert all(a[0] != b[0] for a, b in zip(after, before, strict=True))
    assert len({png for _, png in after}) == 3  # images 3, 33 and 62 differ...
    assert before[0][1] not in {png for _, png in after}  # ...and differ from image 1
    screenshot(form, "new_case_form.png")

    editor.get_by_role("button", name="OK", exact=True).click()
    range_button = form.get_by_role("button", name="3, 4, ..., 62", exact=True)
    range_button.wait_for()
    expect(editor).to_have_count(0)

    create.click()
    created = form.get_by_text(re.compile(r"^Created case \S+ in "))
    created.wait_for()
    case_id = re.match(r"Created case (\S+) in", created.inner_text()).group(1)
    screenshot(form, "new_case_created.png")

    page.close()
    server.shutdown_kernels()
    with workspace.open_store() as store:
        assert case_id in set(store.search_cases()["case_id"])
        case = store.case(case_id)
        assert store.project(case.project_id).name == DEMO_PROJECT
        assert len(case.history()) == 1
        entry = case.latest.series[0]
        uid = store.search_series(description="localizer")["series_uid"][0]
        assert entry.series_uid == uid
        assert entry.partial_volume == cnb.PartialVolume(3, 62, 1)


def test_case_editor_saves_a_revision_made_in_the_browser(page, expect, server, workspace):
    run_notebook(page, server, "case_editor.ipynb")
    editor = page.locator(".jp-OutputArea-output .widget-vbox:has(.widget-accordion)").first
    save = editor.get_by_role("button", name="Save", exact=True)
    save.wait_for(timeout=60_000)
    editor.get_by_text("1 revision(s)").wait_for()
    expect(save).to_be_disabled()  # the required "finding" is not set yet

    editor.get_by_label("Finding *").select_option(label="nodule")
    editor.get_by_label("Status").fill("reviewed")
    message = editor.get_by_label("Message")
    message.fill("Nodule found in the browser.")
    editor.get_by_text("unsaved changes").wait_for()
    expect(save).to_be_enabled()
    save.click()
    editor.get_by_text("Saved revision 1.").wait_for()
    editor.get_by_text("2 revision(s)").wait_for()
    screenshot(editor, "case_editor.png")

    page.close()
    server.shutdown_kernels()
    with workspace.open_store() as store:
        case = store.case(workspace.case_id)
        assert len(case.history()) == 2
        latest = case.latest
        assert latest.index == 1
        assert latest.attributes == {"finding": "nodule"}
        assert latest.status == "reviewed"
        assert latest.description == "Nodule found in the browser."
        assert latest.creator == "alice@example.org"
