"""``CaseViewer``: look at a case's series, draw labels on it, save them as a revision.

The case detail screen of CIRCUS in a notebook. One series entry of a revision is
shown as slices (axial, coronal or sagittal) with its labels on top; the window is the
one the project's ``window_priority`` chooses, the project's presets are keys 1-9.
Voxel labels are painted with a brush or an eraser, bucket-filled on a slice, and
changed by the label operations of :mod:`circus_nb.label_ops`; every change can be
undone. Save appends a revision based on the one opened.

Every control is a method too:

>>> import circus_nb as cnb
>>> from circus_nb.widgets import CaseViewer
>>> store = cnb.demo_store()
>>> uid = store.search_series(description="lung")["series_uid"][0]
>>> case = store.create_case(store.projects()["project_id"][0], [uid])
>>> viewer = CaseViewer(store, case.case_id)
>>> viewer.presets
['lung', 'mediastinum', 'bone']
>>> viewer.apply_preset("lung"); viewer.window
(-600.0, 1500.0)
>>> j = viewer.add_voxel_label("nodule")
>>> viewer.paint(viewer.slice, 120, 100, radius=3)
>>> viewer.dirty, int(viewer.labels[j].mask().sum())
(True, 29)
>>> viewer.save("Nodule outlined.").description
'Nodule outlined.'
>>> viewer.dirty
False
>>> store.close()

Keys on the image (click it first): arrows, PageUp/PageDown and the wheel move
through slices; 1-9 apply the presets; V, B, E, F choose view, brush, eraser and
fill; [ and ] change the brush; + and - zoom (Ctrl+wheel too), 0 fits; Shift+drag pans;
Ctrl+Z undoes, Ctrl+Shift+Z redoes.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable
from html import escape
from typing import Any

import ipywidgets as widgets
import numpy as np

from .. import label_ops
from ..api.store import Store
from ..domain.case import Revision
from ..domain.labels import check_label_name
from ..domain.schema import validate_attributes
from ..domain.series import Volume
from ..domain.values import check_color, check_int, check_text, shown
from ..domain.window import auto_window, choose_window
from ..errors import CircusError, RevisionConflict, ValidationError
from ._common import Guard, Message, button, run_and_show, write_refusal
from ._form import AttributesForm
from .layers import AXIS_NAMES, Layers, check_axis, plane
from .slice_view import Slice, SliceView

__all__ = ["CaseViewer"]

DEFAULT_DESCRIPTION = "Labels edited."
_AUTO, _DICOM = "auto", "DICOM"

# label operations: name -> (function, what its number means, its default)
OPERATIONS: dict[str, tuple[Callable[..., np.ndarray], str | None, int]] = {
    "largest component": (lambda m, n: label_ops.largest_components(m, n=n), "keep", 1),
    "fill holes (3-D)": (lambda m, _: label_ops.fill_holes(m), None, 0),
    "fill holes (each slice)": (lambda m, _: label_ops.fill_holes(m, per_slice=True), None, 0),
    "dilate": (lambda m, r: label_ops.dilate(m, radius=r), "radius", 1),
    "erode": (lambda m, r: label_ops.erode(m, radius=r), "radius", 1),
    "interpolate slices": (lambda m, _: label_ops.interpolate_slices(m), None, 0),
}
COMBINATIONS = ("add", "subtract", "intersect")


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real) or not (
            math.isfinite(value)):
        raise ValidationError(f"The window {what} is a finite number, got {shown(value)}.",
                              field=what, value=value)
    return float(value)


class CaseViewer(widgets.VBox):
    """Slices of one series entry of a case with its labels; paint, undo, save.

    ``revision`` is the revision to open (default: the latest); a save is based on it,
    so saving after someone else saved raises :class:`~circus_nb.RevisionConflict`
    and keeps the edits on screen.
    """

    def __init__(self, store: Store, case_id: str, revision: int | None = None):
        self.store = store
        self.case = store.case(case_id)
        self.project = store.project(self.case.project_id)
        opened = self.case.latest if revision is None else self.case.revision(revision)
        self._quiet = Guard()
        self._layers: dict[int, Layers] = {}  # entry -> its labels as edited
        self._windows: dict[int, tuple[float, float, str]] = {}  # entry -> window chosen
        self._dicom_windows: dict[int, tuple[float, float] | None] = {}  # entry -> its file's
        self._position = [0, 0, 0]  # the slice shown on each axis
        self._entry = -1
        self._volume: Volume | None = None
        self._conflict = False
        self._rows: list[_LabelRow] = []
        self._latest_index: int | None = None  # as of the last look at the history
        self._build()
        super().__init__([self.header, self._top_row,
                          widgets.HBox([self.view, self._side]), self._save_row,
                          self.message], layout=widgets.Layout(padding="4px"))
        self._open(opened)

    # -- the controls ------------------------------------------------------------------

    def _build(self) -> None:
        self.header = widgets.HTML()
        self.entry_picker = widgets.Dropdown(description="Series",
                                             layout=widgets.Layout(width="420px"))
        self.axis_buttons = widgets.ToggleButtons(options=list(AXIS_NAMES), value="axial",
                                                  style={"button_width": "80px"})
        self.slice_slider = widgets.IntSlider(description="Slice", min=0, max=0,
                                              continuous_update=True,
                                              layout=widgets.Layout(width="360px"))
        self._top_row = widgets.HBox([self.entry_picker, self.axis_buttons, self.slice_slider])
        self.view = SliceView(self._slice, presets=[[p.label, p.level, p.width]
                                                    for p in self.project.window_presets])
        self.window_picker = widgets.Dropdown(description="Window", layout=widgets.Layout(
            width="230px"))
        self.level_input = widgets.FloatText(description="Level", layout=widgets.Layout(
            width="160px"))
        self.width_input = widgets.FloatText(description="Width", layout=widgets.Layout(
            width="160px"))
        self.tool_buttons = widgets.ToggleButtons(
            options=[("View", "view"), ("Brush", "brush"), ("Eraser", "eraser"),
                     ("Fill", "fill")], value="view", style={"button_width": "62px"})
        self.radius_slider = widgets.IntSlider(description="Brush", min=0, max=20, value=2,
                                               layout=widgets.Layout(width="260px"))
        self.undo_button = button("Undo", tooltip="Undo the last change (Ctrl+Z)")
        self.redo_button = button("Redo", tooltip="Redo (Ctrl+Shift+Z)")
        self.label_rows = widgets.VBox()
        self.new_label_button = button("New label", tooltip="Add an empty voxel label")
        self.delete_label_button = button("Delete label", style="danger",
                                          tooltip="Delete the selected label (undo brings it"
                                                  " back)")
        self.name_input = widgets.Text(description="Name", layout=widgets.Layout(width="300px"))
        self.attributes_form = AttributesForm(self.project.label_attributes_schema,
                                              "Label attributes", width="300px")
        self.label_note = Message()
        self.operation_picker = widgets.Dropdown(
            description="Operation", options=[*OPERATIONS, *COMBINATIONS],
            layout=widgets.Layout(width="300px"))
        self.operation_number = widgets.BoundedIntText(value=1, min=0, max=64,
                                                       description="radius",
                                                       layout=widgets.Layout(width="160px"))
        self.operation_other = widgets.Dropdown(description="with",
                                                layout=widgets.Layout(width="220px"))
        self.apply_button = button("Apply", tooltip="Apply the operation to the selected"
                                                    " label (one undoable step)")
        self._side = widgets.VBox([
            widgets.HTML("<b>Window</b>"), self.window_picker,
            widgets.HBox([self.level_input, self.width_input]),
            widgets.HTML("<b>Tools</b>"), self.tool_buttons,
            widgets.HBox([self.radius_slider, self.undo_button, self.redo_button]),
            widgets.HTML("<b>Labels</b>"), self.label_rows,
            widgets.HBox([self.new_label_button, self.delete_label_button]),
            self.name_input, self.attributes_form, self.label_note,
            widgets.HTML("<b>Label operations</b>"), self.operation_picker,
            widgets.HBox([self.operation_number, self.operation_other]), self.apply_button,
        ], layout=widgets.Layout(padding="0 0 0 12px", width="440px"))
        self.description_input = widgets.Combobox(
            description="Message", value=DEFAULT_DESCRIPTION, ensure_option=False,
            placeholder="What changed (the revision message)",
            layout=widgets.Layout(width="460px"))
        self.save_button = button("Save", style="primary", tooltip="Append a revision")
        self.save_latest_button = button(
            "Save on latest", style="warning",
            tooltip="Save these labels on the latest revision instead of the one opened")
        self.save_latest_button.layout.display = "none"
        self.reload_button = button("Load latest", tooltip="Open the latest revision; drops"
                                                           " unsaved changes")
        self.dirty_html = widgets.HTML()
        self.save_note = Message()
        self._save_row = widgets.VBox([
            widgets.HBox([self.description_input, self.save_button, self.save_latest_button,
                          self.reload_button, self.dirty_html]), self.save_note])
        self.message = Message()
        self._connect()

    def _connect(self) -> None:
        def act(handler: Callable[..., Any]) -> Callable[..., None]:
            return lambda *args: run_and_show(self.message, lambda: handler(*args))

        def when_user(handler: Callable[[Any], Any]) -> Callable[[dict], None]:
            return lambda change: None if self._quiet else act(handler)(change["new"])

        self.entry_picker.observe(when_user(self.show_entry), "value")
        self.axis_buttons.observe(when_user(self.set_axis), "value")
        self.slice_slider.observe(when_user(self._show_index), "value")
        self.view.observe(lambda change: self._on_view_index(change["new"]), "index")
        self.view.observe(lambda _: self._show_window(), "window")
        self.view.observe(lambda change: self._sync(self.tool_buttons, change["new"]), "tool")
        self.view.observe(lambda change: self._sync(self.radius_slider, change["new"]),
                          "radius")
        self.window_picker.observe(when_user(self._pick_window), "value")
        for box in (self.level_input, self.width_input):
            box.observe(when_user(lambda _: self.set_window(self.level_input.value,
                                                            self.width_input.value)), "value")
        self.tool_buttons.observe(when_user(self.set_tool), "value")
        self.radius_slider.observe(when_user(self._set_radius), "value")
        self.undo_button.on_click(act(lambda _: self.undo()))
        self.redo_button.on_click(act(lambda _: self.redo()))
        self.new_label_button.on_click(act(lambda _: self.add_voxel_label()))
        self.delete_label_button.on_click(act(lambda _: self.delete_label(self.selected)))
        self.name_input.observe(when_user(lambda name: self.set_label(self.selected,
                                                                      name=name)), "value")
        self.attributes_form.on_change(self._on_attributes)
        self.operation_picker.observe(lambda _: self._show_operation(), "value")
        self.apply_button.on_click(act(lambda _: self._apply_clicked()))
        self.description_input.observe(lambda _: self._update(), "value")
        self.save_button.on_click(lambda _: self._save_clicked())
        self.save_latest_button.on_click(lambda _: self._save_clicked(on_latest=True))
        self.reload_button.on_click(act(lambda _: self.reload()))
        self.view.on_stroke = lambda axis, index, points, radius, erase: act(self._stroke)(
            axis, index, points, radius, erase)
        self.view.on_fill = lambda axis, index, row, col: act(
            lambda: self._fill_view(check_axis(axis), index, row, col))()
        self.view.on_key = lambda name: act(getattr(self, name))()
        self.view.on_error = self.message.show_error

    def _sync(self, control: widgets.Widget, value: Any) -> None:
        with self._quiet():
            control.value = value

    # -- what is shown -----------------------------------------------------------------

    @property
    def opened(self) -> Revision:
        """The revision the viewer opened: saves are based on it."""
        return self._opened

    @property
    def entry(self) -> int:
        """The index of the series entry shown."""
        return self._entry

    def show_entry(self, i: int) -> None:
        """Show series entry ``i`` of the opened revision (its edits are kept per entry)."""
        count = len(self._opened.series)
        i = check_int(i, "entry", 0, count - 1)
        entry = self._opened.series[i]
        series = self.store.series(entry.series_uid)
        volume = series.volume(entry.partial_volume)
        if i not in self._layers:
            self._layers[i] = Layers(entry.labels, volume.shape, volume.affine)
            self._dicom_windows[i] = series.dicom_window(entry.partial_volume)
            self._windows[i] = self._chosen_window(self._dicom_windows[i], volume)
        self._entry, self._volume = i, volume
        self._position = [self._first_slice(), volume.shape[1] // 2, volume.shape[2] // 2]
        with self._quiet():
            self.entry_picker.value = i
        level, width, source = self._windows[i]
        self._window_options(source)
        self.view.window = [level, width]
        self._show_axis(self.axis)
        self._show_labels()
        if self._latest_index is not None:
            self._show_header()

    def _chosen_window(self, dicom: tuple[float, float] | None, volume: Volume
                       ) -> tuple[float, float, str]:
        window = choose_window(self.project.window_priority, dicom,
                               self.project.window_presets, auto_window(volume.array))
        return window.level, window.width, window.source

    def _first_slice(self) -> int:
        """The middle of the labelled slices, else the middle slice."""
        painted = [np.flatnonzero(layer.mask.any(axis=(1, 2))) for layer in self.layers]
        painted = np.concatenate(painted) if painted else np.empty(0, int)
        if painted.size:
            return int(painted[painted.size // 2])
        return self._volume.shape[0] // 2

    @property
    def layers(self) -> Layers:
        """The labels of the shown entry as edited (the model behind the label list)."""
        return self._layers[self._entry]

    @property
    def axis(self) -> str:
        """The view shown: ``axial``, ``coronal`` or ``sagittal``."""
        return self.view.axis

    def set_axis(self, axis: str) -> None:
        """Show the ``axial``, ``coronal`` or ``sagittal`` view."""
        self._show_axis(AXIS_NAMES[check_axis(axis)])

    def _show_axis(self, name: str) -> None:
        axis = AXIS_NAMES.index(name)
        count = self._volume.shape[axis]
        with self._quiet():
            self.axis_buttons.value = name
            self.slice_slider.max = count - 1
            self.slice_slider.value = self._position[axis]
            self.slice_slider.description = "Slice" if axis == 0 else name.capitalize()
        self.view.show(name, self._position[axis], count)

    @property
    def slice(self) -> int:
        """The axial slice: an index along axis 0 of ``case.volume(entry)``."""
        return self._position[0]

    def set_slice(self, k: int) -> None:
        """Move to axial slice ``k`` (0 to the number of slices - 1)."""
        k = check_int(k, "slice", 0, self._volume.shape[0] - 1)
        self._position[0] = k
        if self.axis == "axial":
            self._show_index(k)

    def _show_index(self, index: int) -> None:
        self.view.index = index  # the view sends the slice; _on_view_index follows

    def _on_view_index(self, index: int) -> None:
        self._position[AXIS_NAMES.index(self.axis)] = index
        self._sync(self.slice_slider, index)

    def _slice(self, axis_name: str, index: int) -> Slice:
        """What the browser shows for ``index`` on ``axis_name`` (the view's source)."""
        axis, volume = AXIS_NAMES.index(axis_name), self._volume
        spacing_z, spacing_y, spacing_x = volume.spacing
        aspect = (spacing_y / spacing_x, spacing_z / spacing_x, spacing_z / spacing_y)[axis]
        return Slice(plane(volume.array, axis, index), self.layers.overlay(axis, index),
                     aspect, self._slice_text(axis, index))

    def _slice_text(self, axis: int, index: int) -> str:
        volume = self._volume
        last = volume.shape[axis] - 1
        if axis:
            return f"{AXIS_NAMES[axis]} {index} of 0-{last}"
        text = f"slice {index} of 0-{last}   image {volume.instance_numbers[index]}"
        if volume.frame_numbers is not None:
            text += f" frame {volume.frame_numbers[index]}"
        position = volume.positions[index]
        return text + ("" if position is None else f"   z {position[2]:.1f} mm")

    # -- the window ---------------------------------------------------------------------

    @property
    def window(self) -> tuple[float, float]:
        """``(level, width)`` of the window shown."""
        level, width = self.view.window
        return float(level), float(width)

    def set_window(self, level: float, width: float) -> None:
        """Show the window ``level``/``width`` (width > 0)."""
        level, width = _number(level, "level"), _number(width, "width")
        if width <= 0:
            raise ValidationError(f"The window width must be > 0, got {width:g}.",
                                  field="width", value=width)
        self.view.window = [level, width]

    @property
    def presets(self) -> list[str]:
        """The project's window presets, in order (keys 1-9 in the browser)."""
        return [p.label for p in self.project.window_presets]

    def apply_preset(self, label: str) -> None:
        """Show the project's window preset ``label``."""
        for preset in self.project.window_presets:
            if preset.label == label:
                self.set_window(preset.level, preset.width)
                return
        raise ValidationError(f"Project {self.project.name} has no window preset"
                              f" {shown(label)}; its presets are"
                              f" {', '.join(self.presets) or 'none'}.", field="preset",
                              value=label)

    def _window_options(self, source: str) -> None:
        options = [(f"preset {p}", f"preset:{p}") for p in self.presets]
        if self._dicom_window() is not None:
            options.append(("DICOM file", "dicom"))
        options += [("automatic", "auto"), ("manual", "manual")]
        with self._quiet():
            self.window_picker.options = options
            self.window_picker.value = source if source in dict(options).values() else "manual"
        self._show_window()

    def _dicom_window(self) -> tuple[float, float] | None:
        return self._dicom_windows[self._entry]

    def _pick_window(self, source: str) -> None:
        if source.startswith("preset:"):
            self.apply_preset(source.removeprefix("preset:"))
        elif source == "dicom":
            self.set_window(*self._dicom_window())
        elif source == "auto":
            self.set_window(*auto_window(self._volume.array))

    def _show_window(self) -> None:
        level, width = self.window
        with self._quiet():
            self.level_input.value, self.width_input.value = level, width
            match = [f"preset:{p.label}" for p in self.project.window_presets
                     if (p.level, p.width) == (level, width)]
            if match:
                self.window_picker.value = match[0]
            elif (self.window_picker.value or "").startswith("preset:"):
                self.window_picker.value = "manual"

    # -- tools and labels -------------------------------------------------------------

    def set_tool(self, tool: str) -> None:
        """``view`` (drag pans), ``brush``, ``eraser`` or ``fill`` for the mouse."""
        if tool not in ("view", "brush", "eraser", "fill"):
            raise ValidationError(f"A tool is view, brush, eraser or fill, got {shown(tool)}.",
                                  field="tool", value=tool)
        self.view.tool = tool

    def _set_radius(self, radius: int) -> None:
        self.view.radius = check_int(radius, "brush radius", 0, 64)

    @property
    def labels(self) -> list:
        """The labels of the shown entry as they would be saved now (edits included)."""
        return self.layers.labels()

    @property
    def selected(self) -> int | None:
        """The index of the selected label (the one painting changes), or ``None``."""
        return self.layers.selected

    def select_label(self, j: int) -> None:
        """Select label ``j`` (painting, erasing and operations change it)."""
        self.layers.select(j)
        self._show_labels()

    def add_voxel_label(self, name: str | None = None, color: str | None = None) -> int:
        """Add an empty voxel label, select it and pick the brush; its index."""
        index = self.layers.add_voxel(name, color)
        if self.view.tool in ("view", "fill"):
            self.view.tool = "brush"
        self._changed(f"Added label {index}.")
        return index

    def delete_label(self, j: int | None) -> None:
        """Delete label ``j`` (undo brings it back)."""
        if j is None:
            raise CircusError("No label is selected, so none was deleted.")
        layer = self.layers.delete(j)
        self._changed(f"Deleted label {j} ({layer.name or layer.type}); Undo brings it back.")

    def set_label(self, j: int, *, name: Any = ..., color: Any = ..., alpha: Any = ...,
                  visible: Any = ..., attributes: Any = ...) -> None:
        """Change label ``j``'s name, colour, alpha, visibility or attributes."""
        layer = self.layers.at(j)
        changes = {}  # every value is checked before any is set
        if name is not ...:
            changes["name"] = check_label_name(None if name == "" else name)
        if color is not ...:
            changes["color"] = check_color(color, "label color")
        if alpha is not ...:
            if isinstance(alpha, bool | np.bool_) or not isinstance(alpha, numbers.Real) or not (
                    0 <= alpha <= 1):
                raise ValidationError(f"A label's alpha is a number from 0 to 1, got"
                                      f" {shown(alpha)}.", field="alpha", value=alpha)
            changes["alpha"] = float(alpha)
        if visible is not ...:
            if not isinstance(visible, bool | np.bool_):
                raise ValidationError(f"A label's visible is True or False, got"
                                      f" {shown(visible)}.", field="visible", value=visible)
            changes["visible"] = bool(visible)
        if attributes is not ...:
            changes["attributes"] = validate_attributes(self.project.label_attributes_schema,
                                                        attributes)
        for key, value in changes.items():
            setattr(layer, key, value)
        self._changed()

    def _show_labels(self) -> None:
        """Show the label list and the selected label's form as they are now."""
        layers = list(self.layers)
        if [row.layer for row in self._rows] != layers:  # added, deleted: new rows
            for row in self._rows:
                row.close()
            self._rows = [_LabelRow(self, layer) for layer in layers]
            self.label_rows.children = self._rows or [widgets.HTML(
                "<i>No labels: New label adds one.</i>")]
        selected = self.selected
        layer = None if selected is None else layers[selected]
        with self._quiet():
            for j, row in enumerate(self._rows):
                row.show(j, j == selected)
            self.name_input.value = "" if layer is None else layer.name or ""
            self.attributes_form.show({} if layer is None else layer.attributes)
            self.operation_other.options = [(f"{j}: {other.name or other.type}", j)
                                            for j, other in enumerate(layers) if j != selected]
        for control in (self.name_input, self.attributes_form, self.delete_label_button):
            control.layout.display = "none" if layer is None else None
        self.view.brush_color = "#ffffff" if layer is None else layer.color
        self._show_operation()
        self._update()

    def _on_attributes(self) -> None:
        if self.selected is None:
            return
        try:
            self.set_label(self.selected, attributes=self.attributes_form.value)
        except ValidationError as e:
            self.label_note.show(str(e), "error")
        else:
            self.label_note.show("")

    # -- painting -----------------------------------------------------------------------

    def paint(self, z: int, y: int, x: int, radius: int = 2) -> None:
        """Paint a disk of ``radius`` voxels at (``y``, ``x``) on axial slice ``z`` into
        the selected voxel label."""
        self._brush(z, y, x, radius, erase=False)

    def erase(self, z: int, y: int, x: int, radius: int = 2) -> None:
        """Erase a disk of ``radius`` voxels at (``y``, ``x``) on axial slice ``z`` from
        the selected voxel label."""
        self._brush(z, y, x, radius, erase=True)

    def _brush(self, z: int, y: int, x: int, radius: int, erase: bool) -> None:
        shape = self._volume.shape
        z = check_int(z, "z", 0, shape[0] - 1)
        y, x = check_int(y, "y", 0, shape[1] - 1), check_int(x, "x", 0, shape[2] - 1)
        if self.layers.paint(z, [(y, x)], radius, erase=erase):
            self._changed()

    def fill(self, z: int, y: int, x: int) -> None:
        """Bucket fill: the region around (``y``, ``x``) that the selected label encloses on
        axial slice ``z`` becomes part of it."""
        shape = self._volume.shape
        z = check_int(z, "z", 0, shape[0] - 1)
        self._fill_view(0, z, check_int(y, "y", 0, shape[1] - 1),
                        check_int(x, "x", 0, shape[2] - 1))

    def _fill_view(self, axis: int, index: int, row: int, col: int) -> None:
        if self.layers.fill(index, row, col, axis=axis):
            self._changed()

    def _stroke(self, axis: str, index: int, points: list, radius: int, erase: bool) -> None:
        """A stroke drawn in the browser: ``points`` are (column, row) on the slice."""
        rows_cols = [(row, col) for col, row in points]
        if self.layers.paint(index, rows_cols, radius, erase=erase, axis=check_axis(axis)):
            self._changed()
        else:
            self.view.refresh()  # the stroke left the image: take its preview away

    def apply(self, operation: str, value: int | None = None, other: int | None = None
              ) -> None:
        """Apply a label operation to the selected label, as one undoable step.

        ``operation`` is one of ``OPERATIONS`` (``value``: the radius of dilate and
        erode, how many components to keep) or ``add``, ``subtract``, ``intersect``
        with label ``other``.
        """
        layer = self.layers.editable()
        if not isinstance(operation, str) or operation not in (*OPERATIONS, *COMBINATIONS):
            raise ValidationError(f"Unknown label operation {shown(operation)}; they are"
                                  f" {', '.join([*OPERATIONS, *COMBINATIONS])}.",
                                  field="operation", value=operation)
        if operation in OPERATIONS:
            function, _, default = OPERATIONS[operation]
            result = function(layer.mask, default if value is None else value)
        else:
            if other is None:
                raise ValidationError(f"{operation} combines the selected label with another:"
                                      " give other=its index.", field="other", value=None)
            other_layer = self.layers[check_int(other, "other", 0, len(self.layers) - 1)]
            result = label_ops.combine(layer.mask, other_layer.mask, operation)
        if self.layers.replace_mask(result, operation):
            self._changed(f"Applied {operation}.")
        else:
            self.message.show(f"{operation.capitalize()} changed nothing.")

    def _show_operation(self) -> None:
        operation = self.operation_picker.value
        meaning = OPERATIONS[operation][1] if operation in OPERATIONS else None
        self.operation_number.layout.display = None if meaning else "none"
        if meaning:
            self.operation_number.description = meaning
        self.operation_other.layout.display = None if operation in COMBINATIONS else "none"

    def _apply_clicked(self) -> None:
        operation = self.operation_picker.value
        self.apply(operation, self.operation_number.value,
                   self.operation_other.value if operation in COMBINATIONS else None)

    def undo(self) -> str:
        """Undo the last change of the shown entry's labels; what it was."""
        what = self.layers.undo()
        self._changed(f"Undid {what}.")
        return what

    def redo(self) -> str:
        """Redo the last undone change; what it was."""
        what = self.layers.redo()
        self._changed(f"Redid {what}.")
        return what

    def _changed(self, note: str = "") -> None:
        self.view.refresh()
        self._show_labels()
        if note:
            self.message.show(note)

    # -- saving -------------------------------------------------------------------------

    @property
    def dirty(self) -> bool:
        """True when there are unsaved changes (in any series entry)."""
        return any(layers.dirty for layers in self._layers.values())

    @property
    def save_problem(self) -> str | None:
        """Why Save cannot append a revision now, or ``None``."""
        if not self.store.rights.has_role(self.case.project_id, "write"):
            return write_refusal(self.store, self.project)
        if not self.dirty:
            return (f"Nothing to save: the labels are as in revision {self._opened.index}."
                    " Paint, add or delete a label first.")
        if not self.description_input.value.strip():
            return "Write a revision message to save."
        return self._attributes_problem()

    def _attributes_problem(self) -> str | None:
        """The first label whose attributes the project's schema refuses, and why."""
        schema = self.project.label_attributes_schema
        for i, layers in self._layers.items():
            for j, layer in enumerate(layers):
                try:
                    validate_attributes(schema, layer.attributes)
                except ValidationError as e:
                    entry = (f" of series entry {i} (show_entry({i}) first)"
                             if len(self._opened.series) > 1 else "")
                    return (f"Label {j} ({shown(layer.name or '')}){entry} cannot be saved: {e}"
                            f" Set them in the Label attributes form or with set_label({j},"
                            " attributes={...}).")
        return None

    def save(self, description: str | None = None, *, on_latest: bool = False) -> Revision:
        """Append a revision with the labels as edited; base = the revision opened.

        With ``on_latest=True`` (the way on after a conflict), the edited entries'
        labels are saved on the latest revision instead, replacing its labels of
        those series.

        Raises
        ------
        CircusError
            Nothing changed since the revision was opened.
        PermissionDenied
            Without ``write`` on the project; nothing is written.
        RevisionConflict
            Someone saved since the revision was opened; nothing is written and the
            edits stay.
        ValidationError
            An empty message, or label attributes the project's schema refuses.
        """
        description = self.description_input.value if description is None else description
        check_text(description, "revision message", 1024)
        if not description.strip():
            raise ValidationError("A revision needs a message: say what changed.",
                                  field="description", value=description)
        self.store.rights.require_role(self.case.project_id, "write", self.project.name)
        if not self.dirty:
            raise CircusError(self.save_problem or "Nothing to save.")
        problem = self._attributes_problem()
        if problem:
            raise ValidationError(problem, field="attributes")
        base = self.case.latest if on_latest else self._opened
        series = self._entries_on(base)
        try:
            revision = self.case.save(description, series=series, base=base.index)
        except RevisionConflict as e:
            self._conflict = True
            self._update()
            first = e.message.split(" Nothing was saved")[0]
            raise RevisionConflict(
                f"{first} Nothing was saved, and your edits are still in the viewer:"
                " save(..., on_latest=True) (the Save on latest button) puts these labels on"
                " the latest revision, replacing its labels of this series; reload() (Load"
                " latest) drops them.", base=e.base, latest=e.latest) from None
        if on_latest:  # other entries may differ from what is on screen: open it afresh
            self._open(revision)
        else:
            self._saved(revision)
        self.message.show(f"Saved revision {revision.index}.", "ok")
        return revision

    def _entries_on(self, base: Revision) -> list:
        """The series entries of ``base`` with the edited labels in place."""
        entries = list(base.series)
        for i, layers in self._layers.items():
            if not layers.dirty:
                continue
            edited = self._opened.series[i]
            at = next((j for j, e in enumerate(entries) if e.series_uid == edited.series_uid
                       and e.partial_volume == edited.partial_volume), None)
            if at is None:
                raise CircusError(f"Revision {base.index} no longer has series"
                                  f" {edited.series_uid} over"
                                  f" {edited.partial_volume.describe(3)}, so these labels"
                                  " cannot be saved on it. Save them in a new case, or note"
                                  " them and press Load latest.")
            entries[at] = dataclasses.replace(entries[at], labels=tuple(layers.labels()))
        return entries

    def _saved(self, revision: Revision) -> None:
        self._opened = revision
        for i, layers in self._layers.items():
            layers.saved(revision.series[i].labels)
        self._conflict = False
        self._refresh_history()
        self._show_labels()

    def reload(self) -> Revision:
        """Open the latest revision (unsaved changes are dropped)."""
        self._open(self.case.latest)
        self.message.show(f"Opened revision {self._opened.index}.")
        return self._opened

    def _open(self, revision: Revision) -> None:
        self._opened = revision
        self._layers.clear()
        self._conflict = False
        with self._quiet():
            self.entry_picker.options = [
                (f"{i}: {e.series_uid} ({e.partial_volume.describe(3)})", i)
                for i, e in enumerate(revision.series)]
        self.entry_picker.layout.display = None if len(revision.series) > 1 else "none"
        self.show_entry(min(max(self._entry, 0), len(revision.series) - 1))
        self._refresh_history()

    def _refresh_history(self) -> None:
        history = self.case.history()
        self.description_input.options = list(dict.fromkeys(history["description"]))
        self._latest_index = int(history["index"].iloc[-1])
        self._show_header()
        self._update()

    def _show_header(self) -> None:
        opened = self._opened.index
        state = "latest" if opened == self._latest_index else (
            f"the latest is {self._latest_index}")
        entry = self._opened.series[self._entry]
        self.header.value = (f"<b>Case {escape(self.case.case_id)}</b> in project"
                             f" <b>{escape(self.project.name)}</b>, revision {opened} ({state})"
                             f" · series {escape(entry.series_uid)}"
                             f" ({escape(entry.partial_volume.describe(3))})")

    def _update(self) -> None:
        problem = self.save_problem
        self.save_button.disabled = problem is not None
        self.save_note.show(problem or "", "info")
        self.save_latest_button.layout.display = None if self._conflict else "none"
        self.undo_button.disabled = not self.layers.can_undo
        self.redo_button.disabled = not self.layers.can_redo
        self.dirty_html.value = ('&nbsp;<b style="color: #b06000">● unsaved changes</b>'
                                 if self.dirty else "")

    def _save_clicked(self, on_latest: bool = False) -> None:
        if self.save_problem is not None:  # a second click before Save greyed out: the note
            return                         # under the button already says why
        try:
            self.save(on_latest=on_latest)
        except Exception as e:  # shown in the widget: the notebook must not get a traceback
            self.message.show_error(e)

    def __repr__(self) -> str:
        return (f"<CaseViewer {self.case.case_id} revision {self._opened.index} entry"
                f" {self._entry} {self.axis} slice {self.slice} labels {len(self.layers)}"
                f"{' unsaved' if self.dirty else ''}>")


class _LabelRow(widgets.HBox):
    """One line of the label list: shown, select (with the name), colour, alpha, type."""

    def __init__(self, viewer: CaseViewer, layer: Any):
        self.viewer, self.layer, self.index = viewer, layer, 0
        self.visible = widgets.Checkbox(indent=False, description="", tooltip="show",
                                        layout=widgets.Layout(width="24px"))
        self.pick = widgets.ToggleButton(layout=widgets.Layout(width="150px"),
                                         tooltip=f"{layer.type} label: select it to paint"
                                                 " or edit it")
        self.colour = widgets.ColorPicker(concise=True, layout=widgets.Layout(width="32px"))
        self.alpha = widgets.FloatSlider(min=0, max=1, step=0.05, readout=False,
                                         layout=widgets.Layout(width="90px"))
        self.pick.observe(self._on_pick, "value")
        for control, key in ((self.visible, "visible"), (self.colour, "color"),
                             (self.alpha, "alpha")):
            control.observe(self._setter(key), "value")
        super().__init__([self.visible, self.pick, self.colour, self.alpha,
                          widgets.HTML(f"<small>{escape(layer.type)}</small>")])

    def show(self, index: int, selected: bool) -> None:
        layer, self.index = self.layer, index
        self.pick.description = f"{index}: {layer.name or '(no name)'}"
        self.pick.value = selected
        self.visible.value, self.colour.value, self.alpha.value = (layer.visible, layer.color,
                                                                   layer.alpha)

    def _setter(self, key: str) -> Callable[[dict], None]:
        def set_(change: dict) -> None:
            if not self.viewer._quiet:
                run_and_show(self.viewer.message,
                             lambda: self.viewer.set_label(self.index, **{key: change["new"]}))
        return set_

    def _on_pick(self, change: dict) -> None:
        if self.viewer._quiet:
            return
        if change["new"]:
            run_and_show(self.viewer.message, lambda: self.viewer.select_label(self.index))
        else:  # a toggle cannot be pressed off: the selected label stays selected
            self.viewer._show_labels()
