"""The labels of one series entry while they are edited: masks, styles, undo and redo.

:class:`Layers` is the model behind :class:`~circus_nb.widgets.CaseViewer`'s label
list; it needs no browser. Each label is a :class:`Layer`; a voxel layer holds its
full mask, a geometric one (point, cuboid...) its rasterised voxels, read only.
Every change of a mask is one :class:`MaskEdit` holding the box it changed, before
and after, so undo and redo cost what the change touched, not the volume.

>>> import numpy as np
>>> layers = Layers([], shape=(4, 8, 8), affine=np.eye(4))
>>> layers.add_voxel("lesion")
0
>>> layers.paint(2, [(3, 3)], radius=1)  # on axial slice 2: a disk at row 3, column 3
True
>>> int(layers[0].mask.sum()), layers.dirty
(5, True)
>>> layers.undo(), int(layers[0].mask.sum())
('paint on slice 2', 0)
>>> layers.labels()[0].data["size"]  # the label as saved: an empty mask
[0, 0, 0]
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import label_ops
from ..domain.labels import Label, check_label_name
from ..domain.project import TAG_PALETTE
from ..domain.values import check_color, check_int, shown
from ..errors import CircusError, ValidationError

__all__ = ["Layer", "Layers", "MaskEdit", "Overlay"]

MAX_RADIUS = 64
MAX_OVERLAPPING = 63  # labels drawn on one slice: those listed last
AXIS_NAMES = ("axial", "coronal", "sagittal")


def plane(array: np.ndarray, axis: int, index: int) -> np.ndarray:
    """The 2-D view of ``array`` at ``index`` along ``axis`` (writing to it writes the array)."""
    return array[(slice(None),) * axis + (index,)]


@dataclass(eq=False)
class Layer:
    """One label being edited: its style, its voxels and the label it was opened from."""

    type: str
    name: str | None
    color: str
    alpha: float
    attributes: dict[str, Any]
    mask: np.ndarray  # (z, y, x) bool: the label's voxels (rasterised for geometric types)
    source: Label | None = None  # as opened; None for a label added here
    visible: bool = True
    edits: int = 0  # mask edits in the undo stack

    @property
    def editable(self) -> bool:
        return self.type == "voxel"

    @property
    def changed(self) -> bool:
        """True when this layer would save differently from the label it was opened from."""
        source = self.source
        return (source is None or self.edits != 0 or self.name != source.name
                or self.color != source.data["color"] or self.alpha != source.data["alpha"]
                or self.attributes != source.attributes)

    def label(self) -> Label:
        """The layer as a label to save (a voxel mask is packed again only if edited)."""
        source = self.source
        if self.type == "voxel" and (source is None or self.edits != 0):
            return Label.voxel(self.mask, self.name, self.color, self.alpha, self.attributes)
        data = {**source.data, "color": self.color, "alpha": self.alpha}
        return dataclasses.replace(source, data=data, name=self.name,
                                   attributes=dict(self.attributes))


@dataclass(eq=False)
class MaskEdit:
    """One undoable change of a layer's mask: the ``box`` it touched, before and after."""

    layer: Layer
    box: tuple[slice, ...]
    before: np.ndarray
    after: np.ndarray
    what: str


@dataclass(eq=False)
class ListEdit:
    """One undoable change of the list: ``layer`` added at (or deleted from) ``position``."""

    layer: Layer
    position: int
    added: bool
    what: str = field(default="")


@dataclass(frozen=True)
class Overlay:
    """Labels on a slice as ``codes`` (rows, columns; 0 = none) into RGBA ``colors``: one
    code per combination of labels, so overlaps keep every label's colour and alpha."""

    codes: np.ndarray
    colors: np.ndarray

    def rgba(self) -> np.ndarray:
        """The overlay as an RGBA image (rows, columns, 4) uint8."""
        return self.colors[self.codes]


def _composite(layers: Sequence[Layer]) -> list[int]:
    """RGBA of ``layers`` laid one over the other, in order ("over" compositing)."""
    rgb, alpha = np.zeros(3), 0.0
    for layer in layers:
        colour = np.array([int(layer.color[i:i + 2], 16) for i in (1, 3, 5)], float)
        out = layer.alpha + alpha * (1 - layer.alpha)
        rgb = (colour * layer.alpha + rgb * alpha * (1 - layer.alpha)) / max(out, 1e-9)
        alpha = out
    return [*np.rint(rgb).astype(int).tolist(), round(alpha * 255)]


def _disk(radius: int) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    inside = rows**2 + cols**2 <= radius**2
    return rows[inside], cols[inside]


def _clip(start: np.ndarray, end: np.ndarray, low: np.ndarray, high: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray] | None:
    """The part of the segment start-end inside the box ``low``..``high``, or ``None``."""
    delta, t0, t1 = end - start, 0.0, 1.0
    for s, d, lo, hi in zip(start, delta, low, high, strict=True):
        if d == 0:
            if not lo <= s <= hi:
                return None
            continue
        a, b = sorted(((lo - s) / d, (hi - s) / d))
        t0, t1 = max(t0, a), min(t1, b)
    if t0 > t1:
        return None
    return start + t0 * delta, start + t1 * delta


def stroke_voxels(points: np.ndarray, radius: int, height: int, width: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """The (rows, columns) a brush of ``radius`` covers along ``points`` (row, column)."""
    points = np.asarray(points, float).reshape(-1, 2)
    # Centres more than radius + 1 outside the slice paint nothing: each segment is cut
    # to that reach first, so a point far away costs no more than one at the edge.
    low, high = np.array([-radius - 1.0] * 2), np.array([height + radius, width + radius], float)
    centres = [points[:1][((points[:1] >= low) & (points[:1] <= high)).all(axis=1)]]
    for start, end in itertools.pairwise(points):
        cut = _clip(start, end, low, high)
        if cut is None:
            continue
        start, end = cut
        steps = int(np.ceil(np.abs(end - start).max())) + 1
        centres.append(start + (end - start) * np.linspace(0, 1, steps)[:, None])
    centres = np.unique(np.rint(np.concatenate(centres)).astype(np.int64), axis=0)
    disk_rows, disk_cols = _disk(radius)
    rows = (centres[:, :1] + disk_rows).ravel()
    cols = (centres[:, 1:] + disk_cols).ravel()
    keep = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
    return rows[keep], cols[keep]


def _changed_box(before: np.ndarray, after: np.ndarray) -> tuple[slice, ...] | None:
    """The smallest box holding every voxel where ``before`` and ``after`` differ."""
    differ = before != after
    box = []
    for axis in range(differ.ndim):
        others = tuple(a for a in range(differ.ndim) if a != axis)
        hit = np.flatnonzero(differ.any(axis=others))
        if not hit.size:
            return None
        box.append(slice(int(hit[0]), int(hit[-1]) + 1))
    return tuple(box)


class Layers:
    """The labels of one series entry of shape ``shape`` (z, y, x) while they are edited.

    ``labels`` are the entry's labels as opened; ``affine`` maps array indices
    (z, y, x) to patient mm, for drawing the geometric ones.
    """

    def __init__(self, labels: Sequence[Label], shape: tuple[int, int, int],
                 affine: np.ndarray):
        self.shape = tuple(shape)
        self.items: list[Layer] = [self._open(label, affine) for label in labels]
        self.selected: int | None = next(
            (i for i, layer in enumerate(self.items) if layer.editable), None)
        self._undo: list[MaskEdit | ListEdit] = []
        self._redo: list[MaskEdit | ListEdit] = []
        self._dropped: list[Layer] = []  # opened layers deleted since: they make it dirty

    def _open(self, label: Label, affine: np.ndarray) -> Layer:
        mask = label.mask() if label.type == "voxel" else label_ops.rasterise(
            label, self.shape, affine)
        if mask.shape != self.shape:
            raise CircusError(f"Label {shown(label.name or '')} is shaped {mask.shape}, but its"
                              f" series entry is {self.shape} (z, y, x): it was drawn on other"
                              " images. Open the revision it was saved in.", value=mask.shape)
        return Layer(label.type, label.name, label.data["color"], label.data["alpha"],
                     dict(label.attributes), mask, source=label)

    # -- reading ---------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Layer:
        return self.items[index]

    @property
    def dirty(self) -> bool:
        """True when saving would write labels other than the ones opened."""
        return bool(self._dropped) or any(layer.changed for layer in self.items)

    def labels(self) -> list[Label]:
        """The labels as they would be saved now."""
        return [layer.label() for layer in self.items]

    def overlay(self, axis: int, index: int) -> Overlay | None:
        """The visible labels on one slice, or ``None`` where none cuts it."""
        cuts = [(layer, cut) for layer in self.items
                if layer.visible and (cut := plane(layer.mask, axis, index)).any()]
        if not cuts:
            return None
        cuts = cuts[-MAX_OVERLAPPING:]  # more would not fit the bits of a voxel's key
        key = np.zeros(cuts[0][1].shape, np.int64)  # bit j: the j-th label cutting here
        for j, (_, cut) in enumerate(cuts):
            key[cut] |= 1 << j
        where = key != 0
        combinations, inverse = np.unique(key[where], return_inverse=True)
        codes = np.zeros(key.shape, np.uint8 if len(combinations) < 256 else np.uint16)
        codes[where] = inverse + 1
        colors = np.zeros((len(combinations) + 1, 4), np.uint8)
        for code, combination in enumerate(combinations.tolist(), start=1):
            colors[code] = _composite([layer for j, (layer, _) in enumerate(cuts)
                                       if combination >> j & 1])
        return Overlay(codes, colors)

    # -- the list --------------------------------------------------------------------

    def at(self, index: int) -> Layer:
        """Label ``index``, refused with the valid range when there is none."""
        if not self.items:
            raise CircusError("This series entry has no labels yet: add one with"
                              " add_voxel_label().")
        return self.items[check_int(index, "label index", 0, len(self.items) - 1)]

    def select(self, index: int) -> Layer:
        layer = self.at(index)
        self.selected = self.items.index(layer)
        return layer

    def add_voxel(self, name: str | None = None, color: str | None = None) -> int:
        """Add an empty voxel label at the end and select it; its index. Without a name it
        is called ``label 1``, ``label 2``... (the first not taken)."""
        if color is None:
            used = {layer.color for layer in self.items}
            color = next((c for c in TAG_PALETTE if c not in used),
                         TAG_PALETTE[len(self.items) % len(TAG_PALETTE)])
        check_color(color, "label color")
        if name is None:  # a name to tell it by (datasets give masks by label name)
            names = {layer.name for layer in self.items}
            name = next(f"label {k}" for k in range(1, len(names) + 2)
                        if f"label {k}" not in names)
        layer = Layer("voxel", check_label_name(name), color, 1.0, {},
                      np.zeros(self.shape, bool))
        self._push(ListEdit(layer, len(self.items), True, f"new label {name or ''}".strip()))
        self.items.append(layer)
        self.selected = len(self.items) - 1
        return self.selected

    def delete(self, index: int) -> Layer:
        """Delete label ``index`` (undo brings it back)."""
        layer = self.select(index)
        self._push(ListEdit(layer, index, False, f"delete label {layer.name or index}"))
        self._remove(index)
        return layer

    def _remove(self, index: int) -> None:
        layer = self.items.pop(index)
        if layer.source is not None:
            self._dropped.append(layer)
        if self.selected is not None and self.selected >= len(self.items):
            self.selected = len(self.items) - 1 if self.items else None

    def _insert(self, index: int, layer: Layer) -> None:
        self.items.insert(index, layer)
        if layer in self._dropped:
            self._dropped.remove(layer)
        self.selected = index

    # -- painting ----------------------------------------------------------------------

    def editable(self) -> Layer:
        """The selected layer, if it is a voxel label (the one painting changes)."""
        if self.selected is None:
            raise CircusError("No label is selected: add a voxel label (add_voxel_label())"
                              " or select one before painting.")
        layer = self.items[self.selected]
        if not layer.editable:
            raise CircusError(f"Label {self.selected} ({shown(layer.name or '')}) is a"
                              f" {layer.type} label, which is drawn from its geometry and"
                              " cannot be painted. Select a voxel label or add one.")
        return layer

    def paint(self, index: int, points: Sequence[Sequence[float]], radius: int,
              erase: bool = False, axis: int = 0) -> bool:
        """Paint (or erase) a brush of ``radius`` along ``points`` (row, column) on slice
        ``index`` of ``axis``; False when it changed nothing (nothing to undo)."""
        layer = self.editable()
        radius = check_int(radius, "radius", 0, MAX_RADIUS)
        index = check_int(index, "slice", 0, self.shape[axis] - 1)
        target = plane(layer.mask, axis, index)
        rows, cols = stroke_voxels(points, radius, *target.shape)
        if not rows.size:
            return False
        box2 = (slice(int(rows.min()), int(rows.max()) + 1),
                slice(int(cols.min()), int(cols.max()) + 1))
        box = (*box2[:axis], slice(index, index + 1), *box2[axis:])
        before = layer.mask[box].copy()
        target[rows, cols] = not erase
        return self._record(layer, box, before,
                            f"{'erase' if erase else 'paint'} on {_slice_name(axis, index)}")

    def fill(self, index: int, row: int, col: int, axis: int = 0) -> bool:
        """Bucket fill of the region enclosed by the label around (row, col) on one slice."""
        layer = self.editable()
        index = check_int(index, "slice", 0, self.shape[axis] - 1)
        target = plane(layer.mask, axis, index)
        filled = label_ops.bucket_fill(target, row, col)
        box = (slice(None),) * axis + (slice(index, index + 1),)
        before = layer.mask[box].copy()
        target[...] = filled
        return self._record(layer, box, before, f"fill on {_slice_name(axis, index)}")

    def replace_mask(self, mask: np.ndarray, what: str, layer: Layer | None = None) -> bool:
        """Set a layer's whole mask (the result of a label operation) as one step."""
        layer = self.editable() if layer is None else layer
        box = _changed_box(layer.mask, mask)
        if box is None:
            return False
        self._push(MaskEdit(layer, box, layer.mask[box].copy(), mask[box].copy(), what))
        layer.mask[box] = mask[box]
        layer.edits += 1
        return True

    def _record(self, layer: Layer, box: tuple[slice, ...], before: np.ndarray,
                what: str) -> bool:
        after = layer.mask[box].copy()
        if np.array_equal(before, after):
            return False
        self._push(MaskEdit(layer, box, before, after, what))
        layer.edits += 1
        return True

    def saved(self, labels: Sequence[Label]) -> None:
        """The layers were saved as ``labels``: they are the new "as opened"."""
        for layer, label in zip(self.items, labels, strict=True):
            layer.source, layer.edits = label, 0
        self._undo.clear()
        self._redo.clear()
        self._dropped.clear()

    # -- undo and redo -----------------------------------------------------------------

    def _push(self, edit: MaskEdit | ListEdit) -> None:
        self._undo.append(edit)
        self._redo.clear()

    def undo(self) -> str:
        """Undo the last change; what it was."""
        return self._replay(self._undo, self._redo, "Nothing to undo: every change since the"
                            " revision was opened has been undone.", backwards=True)

    def redo(self) -> str:
        """Redo the last undone change; what it was."""
        return self._replay(self._redo, self._undo, "Nothing to redo: redo follows an undo,"
                            " and a new change clears what could be redone.", backwards=False)

    def _replay(self, source: list, target: list, nothing: str, backwards: bool) -> str:
        """Move the last edit of ``source`` to ``target``, applying it (backwards to undo)."""
        if not source:
            raise CircusError(nothing)
        edit = source.pop()
        self._apply(edit, backwards)
        target.append(edit)
        return edit.what

    def _apply(self, edit: MaskEdit | ListEdit, backwards: bool) -> None:
        if isinstance(edit, MaskEdit):
            edit.layer.mask[edit.box] = edit.before if backwards else edit.after
            edit.layer.edits += -1 if backwards else 1
        elif edit.added != backwards:  # redo an add, or undo a delete
            self._insert(edit.position, edit.layer)
        else:
            self._remove(edit.position)

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)


def _slice_name(axis: int, index: int) -> str:
    """``slice 3`` (axial) or ``coronal slice 3``, for the undo history."""
    return f"slice {index}" if axis == 0 else f"{AXIS_NAMES[axis]} slice {index}"


def check_axis(axis: Any) -> int:
    """An axis name (or 0, 1, 2) as its index along (z, y, x)."""
    if isinstance(axis, str) and axis in AXIS_NAMES:
        return AXIS_NAMES.index(axis)
    if isinstance(axis, int) and not isinstance(axis, bool) and 0 <= axis <= 2:
        return axis
    raise ValidationError(f"An axis is one of {', '.join(AXIS_NAMES)}, got {shown(axis)}.",
                          field="axis", value=axis)
