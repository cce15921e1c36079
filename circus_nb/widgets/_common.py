"""Small pieces the forms share: messages, thumbnails as PNG bytes, layout helpers."""

from __future__ import annotations

from collections import OrderedDict
from html import escape

import ipywidgets as widgets

from ..api.series import Series
from ..errors import CircusError
from ..thumbnails import png_bytes

THUMBNAIL_SIZE = 128
_COLORS = {"error": "#b00020", "ok": "#1b7f3b", "info": "#555555"}


def message_html(text: str, kind: str = "info") -> str:
    """A one-line message; ``kind`` is ``error``, ``ok`` or ``info``."""
    if not text:
        return ""
    return f'<span style="color: {_COLORS[kind]}">{escape(text)}</span>'


class Message(widgets.HTML):
    """An HTML line that shows the last outcome (and keeps its text for tests)."""

    def show(self, text: str, kind: str = "info") -> None:
        self.text, self.kind = text, kind
        self.value = message_html(text, kind)

    def show_error(self, error: Exception) -> None:
        self.show(str(error) if isinstance(error, CircusError) else f"{type(error).__name__}:"
                  f" {error}", "error")


class ThumbnailCache:
    """PNG bytes of thumbnails, kept in memory: a slider must not wait for the catalog."""

    def __init__(self, series: Series, size: int = THUMBNAIL_SIZE, capacity: int = 512):
        self.series = series
        self.size = size
        self.capacity = capacity
        self._png: OrderedDict[int, bytes] = OrderedDict()

    def png(self, instance_number: int) -> bytes:
        cached = self._png.get(instance_number)
        if cached is None:
            cached = png_bytes(self.series.thumbnail(instance_number, self.size))
            self._png[instance_number] = cached
            if len(self._png) > self.capacity:
                self._png.popitem(last=False)
        else:
            self._png.move_to_end(instance_number)
        return cached


def button(description: str, style: str = "", tooltip: str = "", width: str = "auto"
           ) -> widgets.Button:
    return widgets.Button(description=description, button_style=style, tooltip=tooltip,
                          layout=widgets.Layout(width=width))


def labelled(text: str, widget: widgets.Widget, width: str = "90px") -> widgets.HBox:
    """``widget`` with a label on its left (for controls that have no description)."""
    return widgets.HBox([widgets.Label(text, layout=widgets.Layout(width=width)), widget])
