"""CaseViewer used the wrong way: bad arguments, malformed browser messages. Each is
refused with a CircusError that says why, and changes nothing."""

import time

import numpy as np
import pytest

import circus_nb as cnb
from circus_nb.widgets.case_viewer import CaseViewer
from tests.conftest import snapshot


@pytest.fixture
def viewer(writer):
    case = writer.create_case(writer.project_id, [writer.uids["chest_ct_lung"]])
    viewer = CaseViewer(writer, case.case_id)
    viewer.add_voxel_label("lesion")
    viewer.paint(viewer.slice, 20, 20, 2)
    return viewer


def _browser(viewer, content):
    viewer.message.show("")
    viewer.view._on_message(viewer.view, content, [])


STROKE = {"type": "stroke", "axis": "axial", "index": 0, "points": [[1, 1]], "radius": 1,
          "erase": False}
FILL = {"type": "fill", "axis": "axial", "index": 0, "row": 1, "col": 1}


@pytest.mark.parametrize("content", [
    {"type": "stroke"}, {**STROKE, "index": "x"}, {**STROKE, "index": None},
    {**STROKE, "radius": "big"}, {**STROKE, "points": None}, {**STROKE, "points": "abc"},
    {**STROKE, "points": [[1, 2, 3]]}, {**STROKE, "points": [[None, 2]]},
    {**STROKE, "points": [[float("nan"), 2]]}, {**STROKE, "points": [[1, "2"]]},
    {**STROKE, "erase": "false"}, {"type": "fill"}, {**FILL, "axis": "oblique"},
    {**FILL, "row": "x"}, {**FILL, "col": [1]}, ["stroke"], "stroke"])
def test_a_malformed_browser_message_is_shown_not_raised(viewer, content):
    before = viewer.layers[0].mask.copy()
    _browser(viewer, content)  # must not raise into the notebook
    assert viewer.message.kind == "error"
    assert "Error:" not in viewer.message.text  # a CircusError's message, not a raw one
    np.testing.assert_array_equal(viewer.layers[0].mask, before)


@pytest.mark.parametrize("far", [1e12, 1e300])
def test_a_stroke_to_a_far_point_is_clipped_to_the_slice(viewer, far):
    z, width = viewer.slice, viewer._volume.shape[2]
    start = time.perf_counter()
    _browser(viewer, {**STROKE, "index": z, "points": [[0, 5], [far, 5]], "radius": 0})
    assert time.perf_counter() - start < 2
    assert viewer.message.kind != "error", viewer.message.text
    assert viewer.layers[0].mask[z, 5].sum() == width  # the whole row, nothing more
    across = min(far, 1e12)  # a line between two points both 1e300 away has no precision
    _browser(viewer, {**STROKE, "index": z, "points": [[-across, 7], [across, 7]],
                      "radius": 1})
    mask = viewer.layers[0].mask[z]
    assert mask[6:9].all() and not mask[9].any() and not mask[4].any()


def test_set_label_refuses_wrong_types_and_changes_nothing(viewer):
    layer = viewer.layers[0]
    for bad in ({"visible": "no"}, {"visible": None}, {"visible": float("nan")},
                {"name": 0}, {"name": False}, {"name": []},
                {"name": "renamed", "color": "bad"}, {"name": "renamed", "alpha": 2},
                {"color": "#00ff00", "attributes": {"malignant": "yes"}}):
        with pytest.raises(cnb.ValidationError):
            viewer.set_label(0, **bad)
        assert (layer.name, layer.color, layer.alpha, layer.visible, layer.attributes) == (
            "lesion", viewer.labels[0].data["color"], 1.0, True, {}), bad
    viewer.set_label(0, alpha=np.float32(0.5), visible=np.bool_(False), name="")
    assert (layer.alpha, layer.visible, layer.name) == (0.5, False, None)


@pytest.mark.parametrize("operation", [["dilate"], {}, ("dilate",)])
def test_apply_refuses_an_operation_that_is_not_a_name(viewer, operation):
    before = viewer.layers[0].mask.copy()
    with pytest.raises(cnb.ValidationError, match="Unknown label operation"):
        viewer.apply(operation)
    np.testing.assert_array_equal(viewer.layers[0].mask, before)


def test_numpy_numbers_set_the_window(viewer):
    viewer.set_window(np.int64(40), np.float32(400))
    assert viewer.window == (40.0, 400.0)


def test_bad_arguments_write_nothing(writer, viewer):
    before = snapshot(writer)
    for call in (lambda: viewer.save(5), lambda: viewer.save(""),
                 lambda: viewer.set_label(0, visible="no"), lambda: viewer.apply([1]),
                 lambda: viewer.show_entry("0"), lambda: viewer.set_slice(np.nan)):
        with pytest.raises(cnb.CircusError):
            call()
    assert snapshot(writer) == before and viewer.dirty


def test_a_label_missing_a_required_attribute_is_named_and_nothing_is_written(cases):
    cases.update_project(cases.project_id, label_attributes_schema={
        "type": "object", "required": ["malignant"],
        "properties": {"malignant": {"type": "boolean"}}})
    case = cases.create_case(cases.project_id, [cases.uids["chest_ct_lung"]])
    viewer = CaseViewer(cases, case.case_id)
    for name in ("first", "second"):
        viewer.add_voxel_label(name)
        viewer.paint(viewer.slice, 20, 20, 2)
    viewer.set_label(0, attributes={"malignant": True})
    assert viewer.save_button.disabled
    assert "Label 1 ('second')" in viewer.save_note.text and "malignant" in viewer.save_note.text
    before = snapshot(cases)
    with pytest.raises(cnb.ValidationError, match=r"Label 1 \('second'\).*malignant.*set_label"):
        viewer.save("Two labels.")
    assert snapshot(cases) == before and viewer.dirty
    viewer.set_label(1, attributes={"malignant": False})
    assert not viewer.save_button.disabled
    assert viewer.save("Two labels.").index == 1
