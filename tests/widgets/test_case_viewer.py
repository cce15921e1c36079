"""CaseViewer: slices, window, labels, painting, undo, saving; driven through methods and the
messages the browser sends (the end-to-end test drives the real browser)."""

import numpy as np
import pytest

import circus_nb as cnb
from circus_nb.widgets.case_viewer import CaseViewer
from tests.conftest import as_user, snapshot


@pytest.fixture
def case(writer):
    return writer.create_case(writer.project_id, [writer.uids["chest_ct_lung"]])


@pytest.fixture
def viewer(writer, case):
    return CaseViewer(writer, case.case_id)


def _browser(viewer, **message):
    """What the browser's slice view sends (a stroke, a fill, undo...)."""
    viewer.view._on_message(viewer.view, message, [])


# -- showing -------------------------------------------------------------------------------

def test_opens_the_latest_revision_at_the_middle_slice(viewer, case):
    volume = case.volume(0)
    assert viewer.opened.index == 0 and viewer.entry == 0
    assert viewer.slice == volume.shape[0] // 2
    assert viewer.view.count == volume.shape[0] and viewer.view.index == viewer.slice
    shown = viewer._slice("axial", viewer.slice)
    np.testing.assert_array_equal(shown.pixels, volume.array[viewer.slice])
    number = volume.instance_numbers[viewer.slice]
    assert f"image {number}" in shown.text and "z " in shown.text
    assert shown.overlay is None  # no labels yet
    assert not viewer.dirty and viewer.save_button.disabled
    assert "Nothing to save" in viewer.save_note.text


def test_slices_axes_and_their_refusals(viewer, case):
    shape = case.volume(0).shape
    viewer.set_slice(3)
    assert viewer.slice == 3 and viewer.view.index == 3 and viewer.slice_slider.value == 3
    viewer.set_axis("coronal")
    assert viewer.axis == "coronal" and viewer.view.count == shape[1]
    assert viewer._slice("coronal", 5).pixels.shape == (shape[0], shape[2])
    viewer.set_slice(7)  # the axial position moves while the coronal view stays
    assert viewer.slice == 7 and viewer.view.index == shape[1] // 2
    viewer.set_axis("axial")
    assert viewer.view.index == 7
    for bad in (-1, shape[0], 2.0, True, "3"):
        with pytest.raises(cnb.ValidationError, match="slice must be an integer"):
            viewer.set_slice(bad)
    with pytest.raises(cnb.ValidationError, match="axial, coronal, sagittal"):
        viewer.set_axis("oblique")
    viewer.view.index = 10_000  # the browser cannot move past the last slice either
    assert viewer.view.index == shape[0] - 1 == viewer.slice


# -- the window ----------------------------------------------------------------------------

@pytest.fixture
def admin_case(cases):
    """A case made and opened by the administrator (who may change the project)."""
    return cases.create_case(cases.project_id, [cases.uids["chest_ct_lung"]])


def test_window_presets_and_manual_values(cases, admin_case):
    cases.update_project(cases.project_id, window_presets=[("lung", -600, 1500),
                                                           ("bone", 400, 1800)])
    viewer = CaseViewer(cases, admin_case.case_id)
    assert viewer.presets == ["lung", "bone"]
    viewer.apply_preset("bone")
    assert viewer.window == (400.0, 1800.0) and viewer.window_picker.value == "preset:bone"
    viewer.view.window = [-600.0, 1500.0]  # key 1 in the browser
    assert viewer.window_picker.value == "preset:lung" and viewer.level_input.value == -600
    viewer.set_window(50, 350)
    assert viewer.window == (50.0, 350.0) and viewer.window_picker.value == "manual"
    with pytest.raises(cnb.ValidationError, match="no window preset 'brain'.*lung, bone"):
        viewer.apply_preset("brain")
    for level, width in ((0, 0), (0, -5), (float("nan"), 10), ("40", 400), (0, True)):
        with pytest.raises(cnb.ValidationError, match="window"):
            viewer.set_window(level, width)
    assert viewer.window == (50.0, 350.0)


@pytest.mark.parametrize(("priority", "source"), [
    ("preset,dicom,auto", "preset:lung"), ("auto", "auto"), ("dicom,auto", None)])
def test_the_project_window_priority_chooses_the_opening_window(cases, admin_case, priority,
                                                                 source):
    cases.update_project(cases.project_id, window_presets=[("lung", -600, 1500)],
                         window_priority=priority)
    viewer = CaseViewer(cases, admin_case.case_id)
    series = cases.series(cases.uids["chest_ct_lung"])
    dicom = series.dicom_window(admin_case.latest.series[0].partial_volume)
    if source is None:  # dicom first: the file's window when it has one
        source = "dicom" if dicom else "auto"
    assert viewer._windows[0][2] == source
    if source == "preset:lung":
        assert viewer.window == (-600.0, 1500.0)
    if source == "dicom":
        assert viewer.window == tuple(map(float, dicom))


# -- labels and painting -------------------------------------------------------------------

def test_paint_erase_undo_redo(viewer):
    with pytest.raises(cnb.CircusError, match="No label is selected"):
        viewer.paint(viewer.slice, 10, 10)
    j = viewer.add_voxel_label("lesion")
    assert j == 0 and viewer.selected == 0 and viewer.view.tool == "brush"
    z = viewer.slice
    viewer.paint(z, 20, 30, radius=2)
    mask = viewer.labels[0].mask()
    assert mask[z, 20, 30] and mask[z, 22, 30] and not mask[z, 23, 30]
    assert mask.sum() == 13 and mask[z].sum() == 13  # a round disk on one slice
    viewer.erase(z, 20, 30, radius=0)
    assert not viewer.labels[0].mask()[z, 20, 30]
    assert viewer.undo() == f"erase on slice {z}"
    assert viewer.labels[0].mask()[z, 20, 30]
    viewer.undo()
    viewer.undo()  # the new label itself
    assert len(viewer.labels) == 0 and not viewer.dirty
    with pytest.raises(cnb.CircusError, match="Nothing to undo"):
        viewer.undo()
    viewer.redo()
    viewer.redo()
    assert viewer.labels[0].mask().sum() == 13 and viewer.dirty
    viewer.paint(z, 5, 5, 0)
    with pytest.raises(cnb.CircusError, match="Nothing to redo"):
        viewer.redo()  # a new change clears what could be redone


def test_bad_paint_arguments_change_nothing(viewer):
    viewer.add_voxel_label()
    for args in ((-1, 0, 0), (0, 10_000, 0), (0, 0, 2.5), ("1", 0, 0)):
        with pytest.raises(cnb.ValidationError):
            viewer.paint(*args)
    for radius in (-1, 65, 1.5, None):
        with pytest.raises(cnb.ValidationError, match="radius"):
            viewer.paint(0, 0, 0, radius)
    assert viewer.labels[0].mask().sum() == 0
    with pytest.raises(cnb.ValidationError, match="color"):
        viewer.add_voxel_label(color="red")
    with pytest.raises(cnb.ValidationError, match="label name"):
        viewer.add_voxel_label(name="two\nlines")
    assert [lb.name for lb in viewer.labels] == ["label 1"]
    viewer.add_voxel_label()
    viewer.set_label(0, name="lesion")
    viewer.add_voxel_label()  # the first name not taken
    assert [lb.name for lb in viewer.labels] == ["lesion", "label 2", "label 1"]


def test_a_stroke_from_the_browser_paints_the_same_mask(viewer):
    viewer.add_voxel_label()
    z = viewer.slice
    _browser(viewer, type="stroke", axis="axial", index=z, points=[[10, 20], [14, 20]],
             radius=0, erase=False)  # points are (column, row)
    mask = viewer.labels[0].mask()
    assert mask[z, 20, 10:15].all() and mask.sum() == 5
    overlay = viewer._slice("axial", z).overlay.rgba()
    assert overlay[20, 12].tolist() == [int(viewer.layers[0].color[i:i + 2], 16)
                                        for i in (1, 3, 5)] + [255]
    assert overlay[0, 0, 3] == 0
    viewer.set_axis("coronal")  # a stroke on a coronal slice: row = z, column = x
    _browser(viewer, type="stroke", axis="coronal", index=30, points=[[40, 2]], radius=0,
             erase=False)
    assert viewer.labels[0].mask()[2, 30, 40]
    _browser(viewer, type="undo")
    assert not viewer.labels[0].mask()[2, 30, 40]
    _browser(viewer, type="stroke", axis="axial", index=z, points=[[-50, -50]], radius=1,
             erase=False)  # outside the image: nothing to undo
    assert viewer.layers.can_undo and viewer.undo().startswith("paint on slice")


def test_errors_from_browser_messages_are_shown_not_raised(viewer):
    _browser(viewer, type="stroke", axis="axial", index=0, points=[[1, 1]], radius=1,
             erase=False)
    assert viewer.message.kind == "error" and "No label is selected" in viewer.message.text
    _browser(viewer, type="redo")
    assert "Nothing to redo" in viewer.message.text


def test_fill_and_label_operations_are_undoable_steps(viewer):
    viewer.add_voxel_label("ring")
    z = viewer.slice
    for row, col in [(10, c) for c in range(10, 17)] + [(16, c) for c in range(10, 17)] + [
            (r, 10) for r in range(10, 17)] + [(r, 16) for r in range(10, 17)]:
        viewer.paint(z, row, col, 0)
    ring = viewer.labels[0].mask().sum()
    viewer.fill(z, 13, 13)
    assert viewer.labels[0].mask().sum() == 49
    _browser(viewer, type="fill", axis="axial", index=z, row=0, col=0)
    assert "not enclosed" in viewer.message.text
    viewer.apply("dilate", 1)
    dilated = viewer.labels[0].mask()
    assert dilated.sum() > 49 and dilated[z - 1].any()
    viewer.apply("erode", 1)
    viewer.undo()
    viewer.undo()
    viewer.undo()
    assert viewer.labels[0].mask().sum() == ring
    other = viewer.add_voxel_label("other")
    viewer.paint(z, 13, 13, 1)
    viewer.select_label(0)
    viewer.apply("add", other=other)
    assert viewer.labels[0].mask()[z, 13, 13]
    with pytest.raises(cnb.ValidationError, match="give other="):
        viewer.apply("subtract")
    with pytest.raises(cnb.ValidationError, match="Unknown label operation 'smooth'"):
        viewer.apply("smooth")


def test_delete_and_restyle_labels(viewer):
    viewer.add_voxel_label("a", color="#00ff00")
    viewer.add_voxel_label("b")
    viewer.set_label(0, name="renamed", color="#0000ff", alpha=0.5, visible=False)
    layer = viewer.layers[0]
    assert (layer.name, layer.color, layer.alpha, layer.visible) == ("renamed", "#0000ff",
                                                                     0.5, False)
    for bad in ({"alpha": 2}, {"alpha": "x"}, {"color": "blue"}, {"name": 5}):
        with pytest.raises(cnb.ValidationError):
            viewer.set_label(0, **bad)
    with pytest.raises(cnb.ValidationError, match="malignant"):
        viewer.set_label(0, attributes={"malignant": "yes"})
    viewer.set_label(0, attributes={"malignant": True})
    viewer.delete_label(1)
    assert [lb.name for lb in viewer.labels] == ["renamed"]
    viewer.undo()
    assert [lb.name for lb in viewer.labels] == ["renamed", "b"]
    with pytest.raises(cnb.ValidationError):
        viewer.select_label(5)


# -- saving --------------------------------------------------------------------------------

def test_save_appends_a_revision_and_reopening_shows_the_labels(writer, viewer, case):
    viewer.add_voxel_label("lesion")
    z = viewer.slice
    viewer.paint(z, 30, 30, 3)
    viewer.set_label(0, attributes={"malignant": False})
    assert not viewer.save_button.disabled and "unsaved" in viewer.dirty_html.value
    revision = viewer.save("Outlined.")
    assert revision.index == 1 and not viewer.dirty and viewer.opened.index == 1
    stored = case.latest.series[0].labels[0]
    assert stored.name == "lesion" and stored.attributes == {"malignant": False}
    assert stored.mask()[z, 30, 30] and stored.mask().sum() == viewer.labels[0].mask().sum()
    again = CaseViewer(writer, case.case_id)
    assert again.slice == z  # opens where the labels are
    assert again._slice("axial", z).overlay.rgba()[30, 30, 3] == 255
    with pytest.raises(cnb.CircusError, match="Nothing to save"):
        again.save("Again.")
    old = CaseViewer(writer, case.case_id, revision=0)
    assert len(old.labels) == 0


def test_an_unchanged_label_is_carried_without_repacking(viewer, case):
    viewer.add_voxel_label("lesion")
    viewer.paint(viewer.slice, 30, 30, 3)
    viewer.save("One.")
    viewer.set_label(0, name="renamed")
    viewer.save("Two.")
    one, two = (case.revision(i).series[0].labels[0] for i in (1, 2))
    assert one.data["blob"] == two.data["blob"] and two.name == "renamed"


def test_a_conflict_keeps_the_edits_and_save_on_latest_goes_on(writer, viewer, case):
    viewer.add_voxel_label("mine")
    viewer.paint(viewer.slice, 30, 30, 2)
    case.save("Someone else.", status="reviewed")
    before = snapshot(writer)
    with pytest.raises(cnb.RevisionConflict, match="edits are still in the viewer.*on_latest"):
        viewer.save("Mine.")
    assert snapshot(writer) == before and viewer.dirty
    viewer._save_clicked()
    assert viewer.message.kind == "error" and "Save on latest" in viewer.message.text
    assert viewer.save_latest_button.layout.display is None
    revision = viewer.save("Mine.", on_latest=True)
    assert revision.index == 2 and revision.status == "reviewed"
    assert revision.series[0].labels[0].name == "mine" and not viewer.dirty


def test_a_reader_sees_but_cannot_save(cases, admin_case):
    with as_user(cases, "reader"):
        viewer = CaseViewer(cases, admin_case.case_id)
        viewer.add_voxel_label()
        viewer.paint(viewer.slice, 5, 5, 1)
        assert viewer.save_button.disabled and "Read only" in viewer.save_note.text
        before = snapshot(cases)
        with pytest.raises(cnb.PermissionDenied, match="write"):
            viewer.save("Not allowed.")
        viewer._save_clicked()  # a click on the greyed-out button: the note says why
        assert snapshot(cases) == before and viewer.dirty


def test_an_empty_message_is_refused(viewer):
    viewer.add_voxel_label()
    viewer.description_input.value = "  "
    assert viewer.save_button.disabled and "message" in viewer.save_note.text
    with pytest.raises(cnb.ValidationError, match="needs a message"):
        viewer.save()


def test_geometric_labels_are_drawn_but_not_painted(writer, case):
    volume = case.volume(0)
    z = 10
    centre = volume.affine @ np.array([z, 32, 32, 1.0])
    entry = case.latest.series[0]
    point = cnb.Label.point(centre[:3].tolist(), name="apex", color="#00ff00")
    case.save("A point.", series=[cnb.SeriesEntry(entry.series_uid, entry.partial_volume,
                                                  (point,))])
    viewer = CaseViewer(writer, case.case_id)
    assert viewer.slice == z and viewer.layers[0].mask[z, 32, 32]
    assert viewer._slice("axial", z).overlay.rgba()[32, 32].tolist() == [0, 255, 0, 255]
    viewer.select_label(0)
    with pytest.raises(cnb.CircusError, match="is a point.*cannot be painted"):
        viewer.paint(z, 1, 1)
    viewer.set_label(0, color="#ff00ff")
    revision = viewer.save("Recoloured.")
    assert revision.series[0].labels[0].data["color"] == "#ff00ff"
    assert revision.series[0].labels[0].data["location"] == point.data["location"]


def test_repr(viewer):
    assert repr(viewer).startswith(f"<CaseViewer {viewer.case.case_id} revision 0 entry 0")
    viewer.add_voxel_label()
    assert repr(viewer).endswith("labels 1 unsaved>")


def test_each_series_entry_keeps_its_edits_and_one_save_holds_them_all(writer):
    uids = writer.uids
    case = writer.create_case(writer.project_id, [uids["chest_ct_lung"], uids["abdomen_ct"]])
    viewer = CaseViewer(writer, case.case_id)
    assert viewer.entry_picker.layout.display is None  # two entries: the picker shows
    viewer.add_voxel_label("lung")
    viewer.paint(viewer.slice, 10, 10, 1)
    viewer.show_entry(1)
    assert viewer.entry == 1 and len(viewer.labels) == 0 and viewer.dirty
    assert uids["abdomen_ct"] in viewer.header.value
    viewer.add_voxel_label("abdomen")
    viewer.paint(viewer.slice, 20, 20, 1)
    viewer.entry_picker.value = 0  # the picker, as a user changes it
    assert viewer.entry == 0 and [lb.name for lb in viewer.labels] == ["lung"]
    with pytest.raises(cnb.ValidationError, match="entry must be an integer from 0 to 1"):
        viewer.show_entry(2)
    revision = viewer.save("Both.")
    assert [[lb.name for lb in e.labels] for e in revision.series] == [["lung"], ["abdomen"]]
    assert not viewer.dirty
