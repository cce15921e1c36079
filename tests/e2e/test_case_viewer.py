"""The CaseViewer in a real JupyterLab: keys move slices and set the window, a mouse stroke
on a new label is saved as a revision, and the saved label is drawn when the case is
opened again. The store is checked in this process, voxel by voxel."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tests.e2e.test_jupyterlab import run_notebook

pytestmark = pytest.mark.e2e

# the colour of the canvas pixel at (x, y) in canvas pixels
PIXEL = """(canvas, [x, y]) => Array.from(canvas.getContext('2d')
    .getImageData(Math.round(x), Math.round(y), 1, 1).data)"""


def _to_screen(box: dict, canvas_size: tuple[int, int], shape: tuple[int, int],
               aspect: float, row: float, col: float) -> tuple[float, float]:
    """Where voxel (row, col) of an unzoomed slice is on the page."""
    width, height = canvas_size
    rows, cols = shape
    fit = width / max(cols, rows * aspect)
    x = width / 2 + (col + 0.5 - cols / 2) * fit
    y = height / 2 + (row + 0.5 - rows / 2) * fit * aspect
    return box["x"] + x * box["width"] / width, box["y"] + y * box["height"] / height


def open_viewer(page, server, expect, shown):
    """Run the viewer's notebook; ``(viewer, view, canvas)`` once the view shows ``shown``
    (the text, or a pattern, of its ``data-shown``: ``"axial:30"``)."""
    run_notebook(page, server, "case_viewer.ipynb")
    viewer = page.locator(".jp-OutputArea-output .widget-vbox:has(.cnb-slice-view)").first
    view = viewer.locator(".cnb-slice-view")
    expect(view).to_have_attribute("data-shown", shown, timeout=60_000)
    return viewer, view, viewer.locator("canvas.cnb-slice-canvas")


def test_view_keys_stroke_save_and_reopen(page, expect, server, workspace, screenshot):
    with workspace.open_store() as store:
        volume = store.case(workspace.ct_case_id).volume(0)
    depth, rows, cols = volume.shape
    _, spacing_y, spacing_x = volume.spacing
    middle = depth // 2
    viewer, view, canvas = open_viewer(page, server, expect, f"axial:{middle}")

    # keys on the image: the slice moves, presets apply, notebook shortcuts stay out
    canvas.click()
    for key in ("ArrowUp", "ArrowUp", "ArrowDown", "m", "j", "b"):
        canvas.press(key)
    k = middle + 1
    expect(view).to_have_attribute("data-shown", f"axial:{k}")
    expect(viewer.locator(".cnb-slice-info")).to_contain_text(f"slice {k} of 0-{depth - 1}")
    assert page.locator(".jp-Notebook .jp-MarkdownCell").count() == 0  # M made no Markdown
    canvas.press("2")  # the demo's second preset: mediastinum, L 40 W 400
    expect(viewer.locator(".cnb-slice-info")).to_contain_text("W 400 L 40")
    expect(viewer.get_by_label("Level")).to_have_value("40")
    canvas.press("+")
    expect(viewer.locator(".cnb-slice-info")).to_contain_text("zoom 1.25x")
    canvas.press("0")  # fit again: the stroke below is placed on the unzoomed image
    expect(viewer.locator(".cnb-slice-info")).not_to_contain_text("zoom")
    canvas.press("v")  # back to the view tool: B chose the brush, with no label yet

    # a new label, and a stroke across the image with the mouse
    viewer.get_by_role("button", name="New label").click()
    viewer.get_by_role("button", name=re.compile(r"^0: ")).wait_for()
    expect(viewer.get_by_role("button", name="Brush")).to_have_class(re.compile("mod-active"))
    box = canvas.bounding_box()
    size = tuple(canvas.evaluate("c => [c.width, c.height]"))
    aspect = spacing_y / spacing_x
    start_row, end_row, at_col = rows // 3, 2 * rows // 3, cols // 2
    start = _to_screen(box, size, (rows, cols), aspect, start_row, at_col)
    end = _to_screen(box, size, (rows, cols), aspect, end_row, at_col)
    page.mouse.move(*start)
    page.mouse.down()
    for t in np.linspace(0, 1, 12)[1:]:
        page.mouse.move(start[0] + (end[0] - start[0]) * t, start[1] + (end[1] - start[1]) * t)
    page.mouse.up()
    viewer.get_by_text("unsaved changes").wait_for()
    save = viewer.get_by_role("button", name="Save", exact=True)
    expect(save).to_be_enabled()
    viewer.get_by_label("Message").fill("Stroke drawn in the browser.")
    save.dblclick()  # a double click saves once: the second click finds nothing to save
    viewer.get_by_text("Saved revision 1.").wait_for()
    expect(save).to_be_disabled()
    screenshot(viewer, "case_viewer.png")

    page.close()
    server.shutdown_kernels()
    with workspace.open_store() as store:
        case = store.case(workspace.ct_case_id)
        assert len(case.history()) == 2
        latest = case.latest
        assert latest.description == "Stroke drawn in the browser."
        label, = latest.series[0].labels
        mask = label.mask()
    painted = np.argwhere(mask)
    assert set(painted[:, 0]) == {k}  # on the slice shown, and only there
    brush = 2  # the default radius: the stroke is 5 voxels wide
    assert abs(painted[:, 1].min() - (start_row - brush)) <= 1
    assert abs(painted[:, 1].max() - (end_row + brush)) <= 1
    assert abs(np.median(painted[:, 2]) - at_col) <= 1
    assert painted[:, 2].max() - painted[:, 2].min() <= 2 * brush + 2

    # opened again: at the labelled slice, with the label drawn in its colour
    page = page.context.new_page()
    viewer, _, canvas = open_viewer(page, server, expect, f"axial:{k}")
    size = tuple(canvas.evaluate("c => [c.width, c.height]"))
    middle_row = (start_row + end_row) / 2
    x, y = _to_screen({"x": 0, "y": 0, "width": size[0], "height": size[1]}, size,
                      (rows, cols), aspect, middle_row, at_col)
    red, green, blue, _ = canvas.evaluate(PIXEL, [x, y])
    colour = label.data["color"]
    expected = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    assert [red, green, blue] == expected  # alpha 1: the label's own colour
    viewer.get_by_role("button", name="coronal").click()  # head at the top, z stretched
    expect(viewer.locator(".cnb-slice-view")).to_have_attribute("data-shown",
                                                                f"coronal:{rows // 2}")
    assert canvas.evaluate("c => c.height") < size[1]  # 60 slices of 5 mm: a wide picture
    page.close()
