"""``SliceView``: one slice of a volume on a canvas in the browser, labels on top.

The kernel keeps the voxels and sends each slice in one message: its pixels (int16
when they are whole numbers that fit, else float32) and, where labels cut the slice, a
code per pixel with the colour of each code. Windowing, zoom and pan happen in the
browser, so a preset key redraws at once. The kernel also sends the slices next to the
one shown (three ahead in the direction of travel, one behind), so stepping through a
stack draws from the browser's cache; a change of the voxels or labels (``refresh()``)
makes everything sent before stale.
Strokes drawn with the mouse come back as small messages (see ``on_stroke``).

The view knows nothing about cases: :class:`~circus_nb.widgets.CaseViewer` gives it a
``source`` (what to show for an axis and index) and handlers for what the user does.

>>> import numpy as np
>>> volume = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
>>> view = SliceView(lambda axis, index: Slice(np.take(volume, index, AXES.index(axis))))
>>> view.count = 2
>>> view.index = 1  # the browser (or Python) moves; the view sends slice 1 of "axial"
>>> view.window = [10.0, 20.0]
>>> view
<SliceView axial 2/2 window L 10 W 20>
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets

from ..domain.values import shown
from ..errors import ValidationError
from .layers import Overlay

__all__ = ["AXES", "Slice", "SliceView"]

AXES = ("axial", "coronal", "sagittal")  # along axis 0, 1, 2 of a (z, y, x) volume
TOOLS = ("view", "brush", "eraser", "fill")
MAX_POINTS = 100_000  # in one stroke; a drag sends one a mouse move


@dataclass(frozen=True)
class Slice:
    """What the browser draws: ``pixels`` (rows, columns), the labels' ``overlay`` or
    ``None``, the pixel ``aspect`` (row spacing / column spacing) and a ``text`` line."""

    pixels: np.ndarray
    overlay: Overlay | None = None
    aspect: float = 1.0
    text: str = ""


class SliceView(anywidget.AnyWidget):
    """A slice on a canvas: ``axis``, ``index`` (on that axis), ``window`` ``[level, width]``,
    ``tool``, brush ``radius``, ``zoom`` and ``center`` are synced with the browser."""

    _esm = Path(__file__).with_name("slice_view.js")
    _css = """
    .cnb-slice-view { display: inline-block; }
    .cnb-slice-canvas { display: block; background: #000; cursor: crosshair; outline: none; }
    .cnb-slice-canvas:focus { box-shadow: 0 0 0 2px #1976d2; }
    .cnb-slice-info { font: 12px monospace; padding: 2px 0; white-space: pre; }
    """
    axis = traitlets.Unicode("axial").tag(sync=True)
    index = traitlets.Int(0).tag(sync=True)
    count = traitlets.Int(1).tag(sync=True)
    window = traitlets.List(traitlets.Float(), [40.0, 400.0], minlen=2, maxlen=2).tag(sync=True)
    presets = traitlets.List([]).tag(sync=True)  # [[label, level, width], ...]: keys 1-9
    tool = traitlets.Unicode("view").tag(sync=True)
    radius = traitlets.Int(2).tag(sync=True)
    brush_color = traitlets.Unicode("#ff0000").tag(sync=True)
    zoom = traitlets.Float(1.0).tag(sync=True)
    center = traitlets.List([]).tag(sync=True)  # [column, row] the view centres; [] = middle
    display_size = traitlets.Int(512).tag(sync=True)
    cache_size = traitlets.Int(24).tag(sync=True)  # slices the browser keeps, oldest out

    def __init__(self, source: Callable[[str, int], Slice], **kwargs: Any):
        super().__init__(**kwargs)
        self.source = source
        self.on_stroke: Callable[[str, int, list, int, bool], Any] = lambda *a: None
        self.on_fill: Callable[[str, int, int, int], Any] = lambda *a: None
        self.on_key: Callable[[str], Any] = lambda name: None  # "undo" / "redo"
        self.on_error: Callable[[Exception], Any] = _raise  # a handler or a message failed
        # what the browser's cache holds, as it holds it: oldest first, same size
        self.sent: OrderedDict[tuple[str, int], None] = OrderedDict()
        self.version = 0  # of the voxels and labels: a refresh makes a new one
        self._moving = False
        self._last_index = 0
        self.on_msg(self._on_message)
        self.observe(lambda _: None if self._moving else self._send_around(),
                     names=["axis", "index"])

    @traitlets.validate("index")
    def _valid_index(self, proposal: dict) -> int:
        return min(max(int(proposal["value"]), 0), max(self.count - 1, 0))

    @traitlets.validate("tool")
    def _valid_tool(self, proposal: dict) -> str:
        if proposal["value"] not in TOOLS:
            raise traitlets.TraitError(f"tool is one of {', '.join(TOOLS)}")
        return proposal["value"]

    def show(self, axis: str, index: int, count: int) -> None:
        """Show slice ``index`` of ``count`` on ``axis``: one message at most."""
        self._moving = True
        try:
            with self.hold_trait_notifications():
                self.count, self.axis, self.index = count, axis, index
        finally:
            self._moving = False
        self._send_around()

    def refresh(self) -> None:
        """The voxels or labels changed: send the slice shown again, and its neighbours."""
        self.version += 1
        self.sent.clear()
        self._send_around()

    def _send_around(self) -> None:
        """Send the slice shown and its neighbours, those the browser does not have."""
        step = -1 if self.index < self._last_index else 1
        self._last_index = self.index
        for index in (self.index, *(self.index + k * step for k in (1, 2, 3)),
                      self.index - step):
            if 0 <= index < self.count and (self.axis, index) not in self.sent:
                self._send_slice(self.axis, index)

    def _send_slice(self, axis: str, index: int) -> None:
        shown = self.source(axis, index)
        pixels = _compact(shown.pixels)
        buffers = [memoryview(pixels)]
        header = {"type": "slice", "axis": axis, "index": index, "version": self.version,
                  "h": pixels.shape[0], "w": pixels.shape[1], "aspect": shown.aspect,
                  "text": shown.text, "pixels": pixels.dtype.name, "codes": None}
        if shown.overlay is not None:
            codes = np.ascontiguousarray(shown.overlay.codes)
            header["codes"] = codes.dtype.name
            buffers += [memoryview(codes), memoryview(np.ascontiguousarray(shown.overlay.colors))]
        self.send(header, buffers=buffers)
        self.sent[axis, index] = None
        while len(self.sent) > self.cache_size:
            self.sent.popitem(last=False)

    def _on_message(self, _widget: Any, content: Any, _buffers: list) -> None:
        try:
            self._handle(content)
        except Exception as e:  # a comm handler must not raise into the notebook
            self.on_error(e)

    def _handle(self, content: Any) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "ready":  # a new view, with an empty cache
            self.sent.clear()
            self._send_around()
        elif kind == "stroke":
            erase = _field(content, kind, "erase", bool)
            self.on_stroke(_field(content, kind, "axis", str), _field(content, kind, "index"),
                           _points(content),
                           _field(content, kind, "radius"), erase)
        elif kind == "fill":
            self.on_fill(_field(content, kind, "axis", str), _field(content, kind, "index"),
                         _field(content, kind, "row"), _field(content, kind, "col"))
        elif kind in ("undo", "redo"):
            self.on_key(kind)
        else:
            raise ValidationError(f"The browser sent a message this view does not know:"
                                  f" {shown(content)}. Run the cell again to load the viewer"
                                  " afresh.", field="type", value=kind)

    def __repr__(self) -> str:
        level, width = self.window
        return (f"<SliceView {self.axis} {self.index + 1}/{self.count} window"
                f" L {level:g} W {width:g}>")


def _raise(error: Exception) -> None:
    raise error


def _field(content: dict, kind: str, key: str, expected: type = int) -> Any:
    """``content[key]`` if it is of the ``expected`` type (a whole number for ``int``)."""
    value = content.get(key)
    if expected is int and isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise ValidationError(f"The browser sent a {kind} whose {key} is {shown(value)}, not"
                              f" {_KINDS[expected]}; nothing was changed. Run the cell again"
                              " to load the viewer afresh.", field=key, value=value)
    return value


def _points(content: dict) -> list:
    """A stroke's points: pairs (column, row) of finite numbers, at most ``MAX_POINTS``."""
    points = _field(content, "stroke", "points", list)
    if len(points) > MAX_POINTS or not all(
            isinstance(p, list) and len(p) == 2 and all(
                isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                for v in p) for p in points):
        raise ValidationError(f"The browser sent a stroke whose points are {shown(points)}, not"
                              f" up to {MAX_POINTS} pairs [column, row] of finite numbers;"
                              " nothing was changed. Run the cell again to load the viewer"
                              " afresh.", field="points", value=len(points))
    return points


_KINDS = {int: "a whole number", str: "text", list: "a list", bool: "true or false"}


def _compact(pixels: np.ndarray) -> np.ndarray:
    """``pixels`` as int16 when that loses nothing (CT, most MR: half the bytes to send),
    else float32."""
    with np.errstate(invalid="ignore"):  # NaN or out of range: not equal, so float32
        whole = pixels.astype(np.int16)
    if np.array_equal(whole, pixels):
        return whole
    return np.ascontiguousarray(pixels, np.float32)
