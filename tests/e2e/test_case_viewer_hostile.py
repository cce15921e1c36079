"""The CaseViewer in a real JupyterLab used the wrong way: the wheel turned while a stroke
is drawn paints the slice the stroke began on, not the one shown when the mouse is up."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tests.e2e.test_case_viewer import _to_screen, open_viewer

pytestmark = pytest.mark.e2e


def test_a_stroke_stays_on_its_slice_when_the_wheel_moves_on(page, expect, server, workspace):
    with workspace.open_store() as store:
        case = store.case(workspace.ct_case_id)
        volume, before = case.volume(0), len(case.history())
    depth, rows, cols = volume.shape
    _, spacing_y, spacing_x = volume.spacing
    viewer, view, canvas = open_viewer(page, server, expect, re.compile(r"^axial:\d+$"))
    viewer.get_by_role("button", name="New label").click()
    viewer.get_by_role("button", name=re.compile(r"^\d+: ")).first.wait_for()
    k = int(view.get_attribute("data-shown").split(":")[1])
    box = canvas.bounding_box()
    size = tuple(canvas.evaluate("c => [c.width, c.height]"))
    aspect = spacing_y / spacing_x
    start = _to_screen(box, size, (rows, cols), aspect, rows // 3, cols // 2)
    end = _to_screen(box, size, (rows, cols), aspect, 2 * rows // 3, cols // 2)
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(start[0], (start[1] + end[1]) / 2)
    page.mouse.wheel(0, -100)  # one slice up, the button still down
    expect(view).to_have_attribute("data-shown", f"axial:{k + 1}")
    page.mouse.move(*end)
    page.mouse.up()
    viewer.get_by_text("unsaved changes").wait_for()
    viewer.get_by_label("Message").fill("Stroke while the wheel turned.")
    viewer.get_by_role("button", name="Save", exact=True).click()
    viewer.get_by_text(re.compile(r"Saved revision \d+\.")).wait_for()
    page.close()
    server.shutdown_kernels()
    with workspace.open_store() as store:
        case = store.case(workspace.ct_case_id)
        assert len(case.history()) == before + 1
        masks = [label.mask() for label in case.latest.series[0].labels]
    painted = np.argwhere(masks[-1])
    assert depth > k + 1 and set(painted[:, 0]) == {k}  # where the stroke began
