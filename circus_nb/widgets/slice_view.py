"""``SliceView``: one slice of a volume on a canvas in the browser, labels on top.

The kernel keeps the voxels; the view asks for the slice it shows and gets it in
one message (float32 pixels and, where a label cuts the slice, an RGBA overlay).
Windowing, zoom and pan happen in the browser, so a preset key redraws at once.
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

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets

__all__ = ["AXES", "Slice", "SliceView"]

AXES = ("axial", "coronal", "sagittal")  # along axis 0, 1, 2 of a (z, y, x) volume
TOOLS = ("view", "brush", "eraser", "fill")


@dataclass(frozen=True)
class Slice:
    """What the browser draws: ``pixels`` (rows, columns), an RGBA ``overlay`` or
    ``None``, the pixel ``aspect`` (row spacing / column spacing) and a ``text`` line."""

    pixels: np.ndarray
    overlay: np.ndarray | None = None
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

    def __init__(self, source: Callable[[str, int], Slice], **kwargs: Any):
        super().__init__(**kwargs)
        self.source = source
        self.on_stroke: Callable[[str, int, list, int, bool], Any] = lambda *a: None
        self.on_fill: Callable[[str, int, int, int], Any] = lambda *a: None
        self.on_key: Callable[[str], Any] = lambda name: None  # "undo" / "redo"
        self.sent: tuple[str, int] | None = None  # what the last slice message showed
        self._moving = False
        self.on_msg(self._on_message)
        self.observe(lambda _: None if self._moving else self.refresh(),
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
        """Show slice ``index`` of ``count`` on ``axis``: one message, however many change."""
        self._moving = True
        try:
            with self.hold_trait_notifications():
                self.count, self.axis, self.index = count, axis, index
        finally:
            self._moving = False
        self.refresh()

    def refresh(self) -> None:
        """Send the slice shown now (after its voxels or labels changed)."""
        shown = self.source(self.axis, self.index)
        pixels = np.ascontiguousarray(shown.pixels, np.float32)
        buffers = [memoryview(pixels)]
        if shown.overlay is not None:
            buffers.append(memoryview(np.ascontiguousarray(shown.overlay, np.uint8)))
        header = {"type": "slice", "axis": self.axis, "index": self.index,
                  "h": pixels.shape[0], "w": pixels.shape[1], "aspect": shown.aspect,
                  "text": shown.text}
        self.send(header, buffers=buffers)
        self.sent = (self.axis, self.index)

    def _on_message(self, _widget: Any, content: dict, _buffers: list) -> None:
        kind = content.get("type")
        if kind == "ready":
            self.refresh()
        elif kind == "stroke":
            self.on_stroke(content["axis"], int(content["index"]), content["points"],
                           int(content["radius"]), bool(content["erase"]))
        elif kind == "fill":
            self.on_fill(content["axis"], int(content["index"]), int(content["row"]),
                         int(content["col"]))
        elif kind in ("undo", "redo"):
            self.on_key(kind)

    def __repr__(self) -> str:
        level, width = self.window
        return (f"<SliceView {self.axis} {self.index + 1}/{self.count} window"
                f" L {level:g} W {width:g}>")
