"""The widgets in a real JupyterLab, driven by headless Chromium through Playwright.

Each test opens a notebook, runs it, works the widgets with the mouse and the keyboard,
the wrong way too (a number past the last image, a double click, typing then clicking
without leaving the field), shuts the kernel down (it holds the store) and checks the
store in this process. Screenshots go to the test's own temporary folder, or refresh
``docs/screenshots/`` with ``CIRCUS_NB_SCREENSHOTS=1`` (see the ``screenshot`` fixture).
"""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.request

import pytest

import circus_nb as cnb
from circus_nb.demo import DEMO_PROJECT

pytestmark = pytest.mark.e2e


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
            # (any prompt: a notebook may open with Markdown, whose prompt stays empty)
            prompts.filter(has_text=re.compile(r"\[(\*|\d+)\]")).first.wait_for(
                timeout=5_000)
            return
        except PlaywrightTimeoutError:
            assert all(p.strip() in ("[ ]:", "") for p in prompts.all_inner_texts())
    raise AssertionError("Run All Cells did not run the notebook")


def thumbnails(editor) -> list[tuple[str, bytes]]:
    """``(src, PNG bytes)`` of every image in ``editor`` (``src`` is a new blob URL per
    change, so the bytes tell whether the picture changed)."""
    return [(src, base64.b64decode(data)) for src, data in editor.locator("img").evaluate_all(
        """imgs => Promise.all(imgs.map(async img => {
            const bytes = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
            return [img.src, btoa(String.fromCharCode(...bytes))];
        }))""")]


BROKEN_IMAGES = "imgs => imgs.filter(i => i.offsetParent !== null && !i.naturalWidth).length"
CUT_LABELS = "labels => labels.filter(l => l.scrollWidth > l.clientWidth).map(l => l.innerText)"


def test_new_case_form_creates_a_case_with_the_range_set_in_the_browser(page, expect, server,
                                                                        workspace, screenshot):
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

    # End = 70 on a 62-image series: kept as typed (no clamping to 62), said to be
    # invalid, the thumbnails greyed out. OK clicked without leaving the field is refused.
    ok = editor.get_by_role("button", name="OK", exact=True)
    end.fill("70")
    ok.click()
    expect(editor.get_by_text("The range cannot be used: Specified range is invalid: end 70"
                              " is after the series' last image, 62")).to_be_visible()
    expect(end).to_have_value("70")
    expect(ok).to_be_disabled()
    expect(editor.get_by_text("The images show the last valid range")).to_be_visible()
    assert float(images.first.evaluate("i => getComputedStyle(i).opacity")) < 1
    screenshot(form, "range_invalid.png")
    end.fill("62")
    end.press("Enter")
    expect(ok).to_be_enabled()
    assert images.first.evaluate("i => getComputedStyle(i).opacity") == "1"
    ok.click()
    range_button = form.get_by_role("button", name="3, 4, ..., 62", exact=True)
    range_button.wait_for()
    expect(editor).to_have_count(0)

    # A tag is a toggle: pressed, then Create double-clicked at once: one case, tagged.
    form.get_by_role("button", name="nodule", exact=True).click()
    create.dblclick()
    created = form.get_by_text(re.compile(r"^Created case \S+ in "))
    created.wait_for()
    case_id = re.match(r"Created case (\S+) in", created.inner_text()).group(1)
    expect(create).to_be_disabled()
    expect(form.get_by_text(case_id, exact=True)).to_be_visible()  # the id, to copy
    form.get_by_role("button", name="Open in case editor").click()
    expect(form.get_by_text(f"Case {case_id} in project {DEMO_PROJECT}")).to_be_visible()
    screenshot(form, "new_case_created.png")

    page.close()
    server.shutdown_kernels()
    with workspace.open_store() as store:
        assert list(store.search_cases(tags=["nodule"])["case_id"]) == [case_id]  # one case
        case = store.case(case_id)
        assert store.project(case.project_id).name == DEMO_PROJECT
        assert len(case.history()) == 1
        entry = case.latest.series[0]
        uid = store.search_series(description="localizer")["series_uid"][0]
        assert entry.series_uid == uid
        assert entry.partial_volume == cnb.PartialVolume(3, 62, 1)
        assert case.tags == ["nodule"]


def test_case_editor_saves_a_revision_made_in_the_browser(page, expect, server, workspace,
                                                          screenshot):
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
    # nothing changed since: Save is disabled, and says why
    expect(save).to_be_disabled()
    expect(editor.get_by_text("Nothing to save: the form shows revision 1 as saved.")
           ).to_be_visible()
    # an empty message: said too
    editor.get_by_label("Finding *").select_option(label="normal")
    message.fill("")
    expect(editor.get_by_text("Write a revision message (what changed) to save.")
           ).to_be_visible()
    expect(save).to_be_disabled()
    message.fill("Normal after all.")
    expect(save).to_be_enabled()
    save.click()
    editor.get_by_text("3 revision(s)").wait_for()

    # revision 1 opened again and restored as it was
    editor.get_by_label("Revision").select_option(index=1)  # newest first: #2, #1, #0
    expect(editor.get_by_text(re.compile(r"^Revision 1 \(the editor's latest is 2\)"))
           ).to_be_visible()
    restore = editor.get_by_role("button", name="Restore this revision")
    expect(restore).to_be_enabled()
    restore.click()
    editor.get_by_text("Restored revision 1 as revision 3.").wait_for()
    expect(restore).to_be_hidden()

    page.close()
    server.shutdown_kernels()
    with workspace.open_store() as store:
        case = store.case(workspace.case_id)
        assert len(case.history()) == 4
        first = case.revision(1)
        assert first.attributes == {"finding": "nodule"}
        assert first.status == "reviewed"
        assert first.description == "Nodule found in the browser."
        assert first.creator == "alice@example.org"
        latest = case.latest
        assert (latest.index, latest.attributes, latest.status) == (3, first.attributes,
                                                                    "reviewed")
        assert case.revision(2).attributes == {"finding": "normal"}


def test_series_browser_and_import_panel_as_a_user_sees_them(page, expect, server, workspace,
                                                             screenshot):
    run_notebook(page, server, "browse_and_import.ipynb")
    outputs = page.locator(".jp-OutputArea-output")
    browser = outputs.filter(has=page.get_by_role("button", name="New Case")).first
    panel = outputs.filter(has=page.get_by_role("button", name="Import", exact=True)).first
    expect(browser.get_by_text(re.compile(r"^Showing series 1-2 of (\d+|more than 2)\.$"))
           ).to_be_visible(timeout=60_000)
    expect(browser.get_by_text("Select a series to see its middle image.")).to_be_visible()
    assert browser.locator("img").evaluate_all(BROKEN_IMAGES) == 0
    assert browser.locator(".widget-label").evaluate_all(CUT_LABELS) == []
    browser.get_by_label("Series from").fill("2024-05-02")
    browser.get_by_label("Series to").fill("2024-05-01")
    browser.get_by_role("button", name="Search", exact=True).click()
    expect(browser.get_by_text("Series from (2024-05-02) is after Series to (2024-05-01): the"
                               " dates are reversed")).to_be_visible()
    browser.locator(".cnb-table tbody tr").first.click()  # the first row
    expect(browser.get_by_text(re.compile(r"^image #\d+ \(middle\)$"))).to_be_visible()
    assert browser.locator("img").evaluate_all(
        "imgs => imgs.filter(i => i.offsetParent !== null && i.naturalWidth > 0).length") == 1
    screenshot(browser, "series_browser.png")

    label, copy = panel.get_by_text("Mode", exact=True), panel.get_by_role("button", name="copy")
    middle = [box["y"] + box["height"] / 2 for box in (label.bounding_box(),
                                                        copy.bounding_box())]
    assert abs(middle[0] - middle[1]) < 4, middle  # the label beside its buttons
    panel.get_by_label("Path").fill(str(workspace.to_import))
    panel.get_by_role("button", name="Import", exact=True).click()
    summary = panel.get_by_text(re.compile(r"^5 files into domain 'default' \(1 series\)"))
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("1 file(s) that are not DICOM were skipped.")
    assert summary.evaluate("e => getComputedStyle(e).color") == "rgb(27, 127, 59)"  # green
    expect(panel.get_by_text("Skipped (not DICOM)")).to_be_visible()
    screenshot(panel, "import_panel.png")



def test_series_browser_selects_with_a_click_on_a_row_and_sorts_with_a_header(
        page, expect, server, screenshot):
    run_notebook(page, server, "series_browser.ipynb")
    browser = page.locator(".jp-OutputArea-output").filter(
        has=page.get_by_role("button", name="New Case")).first
    table = browser.locator(".cnb-table")
    expect(table.get_by_text("Series 1\u20135 of 5", exact=True)).to_be_visible(
        timeout=90_000)
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(5)
    new_case = browser.get_by_role("button", name="New Case")
    expect(new_case).to_be_disabled()
    # before a series is selected: a grey placeholder, no image (no broken-image icon)
    expect(browser.locator(".cnb-placeholder")).to_have_text("No series selected")
    assert browser.locator("img").evaluate_all(BROKEN_IMAGES) == 0
    assert browser.locator(".widget-label").evaluate_all(CUT_LABELS) == []
    headers = table.locator("thead th")
    expect(headers).to_have_text(["Modality", "Patient", "Series Description", "UID",
                                  "Images", "Series Date", "Import Date \u25BC"])
    header_colours = headers.first.evaluate(
        "th => [getComputedStyle(th).color, getComputedStyle(th).backgroundColor]")
    assert header_colours[0] != header_colours[1], header_colours
    screenshot(browser, "series_browser_unselected.png")

    # a click on a row: it is highlighted, its thumbnail drawn, New Case enabled
    row = rows.filter(has_text="Abdomen CT 5 mm")
    row.click()
    expect(row).to_have_attribute("aria-selected", "true")
    expect(new_case).to_be_enabled()
    expect(browser.get_by_text(re.compile(r"^image #\d+ \(middle\)$"))).to_be_visible()
    expect(browser.locator(".cnb-placeholder")).to_have_count(0)
    assert browser.locator("img").evaluate_all(
        "imgs => imgs.filter(i => i.offsetParent !== null && i.naturalWidth > 0).length") == 1
    assert row.evaluate("r => getComputedStyle(r).backgroundColor") != "rgba(0, 0, 0, 0)"
    # a Ctrl + click on another row: this table selects one row at a time
    other = rows.filter(has_text="Chest CT lung 2.5 mm")
    other.click(modifiers=["Control"])
    expect(other).to_have_attribute("aria-selected", "true")
    expect(table.locator('tbody tr[aria-selected="true"]')).to_have_count(1)

    # a long cell is cut with an ellipsis; its title holds the whole text
    uid_cell = other.locator("td").nth(3)
    uid = uid_cell.get_attribute("title")
    assert uid.startswith("1.2.") and len(uid) > 40
    assert uid_cell.evaluate("td => getComputedStyle(td).textOverflow") == "ellipsis"

    # a click on a header sorts by it, ascending; a second click, descending
    cells = table.locator("tbody tr td:nth-child(3)")
    texts = sorted(t.strip() for t in cells.all_inner_texts())
    assert len(set(texts)) == 5 and cells.all_inner_texts() != texts  # not in order yet
    description = table.locator("thead th", has_text="Series Description")
    description.click()
    expect(description).to_have_text("Series Description \u25B2")
    expect(description).to_have_attribute("aria-sort", "ascending")
    expect(cells).to_have_text(texts)  # the arrow first, the rows when the search is back
    expect(other).to_have_attribute("aria-selected", "true")  # still selected, moved
    screenshot(browser, "series_browser_sorted.png")
    description.click()
    expect(description).to_have_text("Series Description \u25BC")
    expect(cells).to_have_text(texts[::-1])
    # the patient column does not sort for a user without personalInfoView
    patient = table.locator("thead th", has_text="Patient")
    assert "cnb-sortable" not in (patient.get_attribute("class") or "")
    patient.click()
    expect(description).to_have_text("Series Description \u25BC")


def _theme(server, name: str) -> None:
    """Make ``name`` JupyterLab's theme (for the pages opened from now on)."""
    body = json.dumps({"raw": json.dumps({"theme": name})}).encode()
    request = urllib.request.Request(
        f"{server.url}/lab/api/settings/@jupyterlab/apputils-extension:themes", data=body,
        method="PUT", headers={"Authorization": f"token {server.token}",
                               "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30):
        pass


def _contrast(locator) -> float:
    """The WCAG contrast of ``locator``'s text on its background (both opaque here)."""
    return locator.evaluate("""e => {
        const rgb = s => s.match(/[\\d.]+/g).slice(0, 3).map(Number);
        const lum = c => { const [r, g, b] = c.map(v => { v /= 255;
            return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
            return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
        const style = getComputedStyle(e);
        const [a, b] = [lum(rgb(style.color)), lum(rgb(style.backgroundColor))];
        return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    }""")


def test_the_results_table_reads_in_the_light_and_the_dark_theme(page, expect, server,
                                                                 screenshot):
    contrasts = {}
    try:
        for theme, light in [("JupyterLab Light", "true"), ("JupyterLab Dark", "false")]:
            _theme(server, theme)
            run_notebook(page, server, "series_browser.ipynb")
            page.locator(f'body[data-jp-theme-light="{light}"]').wait_for(state="attached")
            table = page.locator(".cnb-table").first
            expect(table.get_by_text("Series 1\u20135 of 5", exact=True)).to_be_visible(
                timeout=90_000)
            table.locator("tbody tr").first.click()
            expect(table.locator('tbody tr[aria-selected="true"]')).to_have_count(1)
            header = table.locator("thead th").first
            contrasts[theme] = _contrast(header), header.evaluate(
                "th => getComputedStyle(th).backgroundColor")
            screenshot(table, f"results_table_{'light' if light == 'true' else 'dark'}.png")
            server.shutdown_kernels()
    finally:
        _theme(server, "JupyterLab Light")  # the server keeps the setting for later tests
    assert all(contrast > 4.5 for contrast, _ in contrasts.values()), contrasts
    light, dark = (contrasts[t][1] for t in ("JupyterLab Light", "JupyterLab Dark"))
    assert light != dark, contrasts  # the header follows the theme
