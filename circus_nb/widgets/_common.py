"""Small pieces the forms share: messages, tables, thumbnails as PNG bytes, layout helpers.

One error convention for every widget: a Python method raises a ``CircusError``; a
button runs its method through :func:`run_and_show`, which shows the error in the
widget's message line instead (a notebook never gets a traceback from a click).

>>> text_of(None), text_of(float("nan")), text_of(3)
('', '', '3')
>>> print(table_html(["a", "b"], [("<x>", None)]))  # doctest: +ELLIPSIS
<table ...><thead>...<tbody><tr><td ...>&lt;x&gt;</td><td ...></td></tr></tbody></table>
>>> quiet = Guard()
>>> with quiet():
...     bool(quiet)
True
>>> bool(quiet)
False
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from html import escape
from typing import Any

import ipywidgets as widgets
import pandas as pd

from ..api.series import Series
from ..domain.relative_time import relative_time
from ..errors import CircusError, PermissionDenied, ValidationError
from ..thumbnails import png_bytes

THUMBNAIL_SIZE = 128
_COLORS = {"error": "#b00020", "warning": "#b06000", "ok": "#1b7f3b", "info": "#555555"}
_CELL = "text-align:left; padding:2px 8px; vertical-align:top"
STALE_CLASS = "cnb-stale"
#: CSS the widgets need (an invisible HTML widget carries it into the page).
STYLE = (f"<style>.{STALE_CLASS} img {{ opacity: 0.3; filter: grayscale(1); }}"
         f" .{STALE_CLASS} .widget-html {{ color: #999; }}</style>")


def text_of(value: Any) -> str:
    """``value`` as text for a cell: ``None`` and pandas' missing values are empty."""
    if value is None or (pd.api.types.is_scalar(value) and not isinstance(value, str)
                         and pd.isna(value)):
        return ""
    return str(value)


def table_html(columns: Sequence[str], rows: Iterable[Sequence[Any]],
               highlight: Callable[[int], str | None] | None = None) -> str:
    """A table with a header row; every cell is escaped (see :func:`text_of`).

    ``highlight(i)`` may return a background colour for row ``i``.
    """
    head = "".join(f"<th style='{_CELL}'>{escape(c)}</th>" for c in columns)
    body = []
    for i, row in enumerate(rows):
        colour = highlight(i) if highlight else None
        opening = f"<tr style='background:{colour}'>" if colour else "<tr>"
        cells = "".join(f"<td style='{_CELL}'>{escape(text_of(v))}</td>" for v in row)
        body.append(f"{opening}{cells}</tr>")
    return (f"<table style='border-collapse:collapse; font-size:90%'><thead><tr>{head}</tr>"
            f"</thead><tbody>{''.join(body)}</tbody></table>")


def placeholder_html(text: str, size: int = THUMBNAIL_SIZE) -> str:
    """A neutral grey square with a short ``text`` where a picture will be (an empty
    ``widgets.Image`` would show a broken-image icon instead).

    >>> placeholder_html("No image")  # doctest: +ELLIPSIS
    '<div class="cnb-placeholder" style="...width:128px; height:128px...">No image</div>'
    """
    return (f'<div class="cnb-placeholder" style="box-sizing:border-box; width:{size}px;'
            f" height:{size}px; display:flex; align-items:center; justify-content:center;"
            " text-align:center; padding:8px; font-size:12px; line-height:1.3;"
            " background:var(--jp-layout-color3, #e0e0e0);"
            " color:var(--jp-ui-font-color2, #616161);"
            f' border:1px solid var(--jp-border-color2, #cccccc)">{escape(text)}</div>')


def message_html(text: str, kind: str = "info") -> str:
    """A one-line message; ``kind`` is ``error``, ``warning``, ``ok`` or ``info``."""
    if not text:
        return ""
    return f'<span style="color: {_COLORS[kind]}">{escape(text)}</span>'


class Message(widgets.HTML):
    """An HTML line that shows the last outcome (and keeps its text for tests)."""

    text = ""
    kind = "info"

    def show(self, text: str, kind: str = "info") -> None:
        self.text, self.kind = text, kind
        self.value = message_html(text, kind)

    def show_error(self, error: Exception) -> None:
        self.show(str(error) if isinstance(error, CircusError) else f"{type(error).__name__}:"
                  f" {error}", "error")

    @contextmanager
    def reporting(self) -> Iterator[None]:
        """Show a ``CircusError`` raised inside, and let it go on (for methods that a
        script calls: the script stops where it failed, the widget says why)."""
        try:
            yield
        except CircusError as e:
            self.show_error(e)
            raise


def write_refusal(store: Any, project: Any) -> str:
    """"Read only: why" when the store's user may not write on ``project``, else ``""``."""
    try:
        store.rights.require_role(project.project_id, "write", project.name)
    except PermissionDenied as e:
        return f"Read only: {e}"
    return ""


def run_and_show(message: Message, action: Callable[[], Any]) -> None:
    """What every button does: run its method; an error is shown, never raised."""
    try:
        action()
    except Exception as e:  # shown in the widget: the notebook must not get a traceback
        message.show_error(e)


class Guard:
    """A flag for "the code, not the user, is changing the controls": observers that
    see it set do nothing. ``with guard(): ...`` sets it for the block."""

    def __init__(self) -> None:
        self._depth = 0

    def __bool__(self) -> bool:
        return self._depth > 0

    @contextmanager
    def __call__(self) -> Iterator[None]:
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1


class TagPicker(widgets.HBox):
    """One toggle button per tag: what is pressed is the value, so nothing typed can be
    lost or silently refused (as a TagsInput with ``allowed_tags`` does).

    >>> picker = TagPicker(["nodule", "ggo"], ["ggo"])
    >>> picker.choices, picker.value
    (['nodule', 'ggo'], ['ggo'])
    >>> picker.children[0].value = True  # a click on "nodule"
    >>> picker.value
    ['nodule', 'ggo']
    """

    def __init__(self, choices: Iterable[str] = (), value: Iterable[str] = (),
                 colors: Mapping[str, str] | None = None):
        super().__init__(layout=widgets.Layout(flex_flow="row wrap"))
        self._handlers: list[Callable[[list[str]], Any]] = []
        self._quiet = Guard()
        self._colors: Mapping[str, str] = {}
        self.set_choices(choices, value, colors)

    @property
    def choices(self) -> list[str]:
        return [toggle.description for toggle in self.children]

    @property
    def value(self) -> list[str]:
        """The pressed tags, in the order of ``choices``."""
        return [toggle.description for toggle in self.children if toggle.value]

    @value.setter
    def value(self, values: Iterable[str]) -> None:
        """Press exactly ``values`` (handlers are not called: only clicks call them)."""
        values = list(values)
        unknown = [t for t in values if t not in self.choices]
        if unknown:
            raise ValidationError(f"Tag {unknown[0]!r} is not offered; the tags are"
                                  f" {', '.join(self.choices) or 'none'}.", field="tags",
                                  value=unknown[0])
        with self._quiet():
            for toggle in self.children:
                toggle.value = toggle.description in values

    def set_choices(self, choices: Iterable[str], value: Iterable[str] = (),
                    colors: Mapping[str, str] | None = None) -> None:
        """Offer ``choices`` (repeats dropped), ``value`` pressed; ``colors`` maps a
        tag to its project colour (its chip's text)."""
        pressed = set(value)
        self._colors = dict(colors or {})
        self.children = tuple(self._toggle(name, name in pressed)
                              for name in dict.fromkeys(choices))

    def on_change(self, handler: Callable[[list[str]], Any]) -> None:
        """Call ``handler(value)`` after each click on a tag."""
        self._handlers.append(handler)

    def _toggle(self, name: str, pressed: bool) -> widgets.ToggleButton:
        toggle = widgets.ToggleButton(value=pressed, description=name, tooltip=name,
                                      icon="check" if pressed else "",
                                      layout=widgets.Layout(width="auto"))
        self._paint(toggle)
        toggle.observe(self._on_toggle, "value")
        return toggle

    def _paint(self, toggle: widgets.ToggleButton) -> None:
        # A toggle button's style has no background colour: the tag's colour is its
        # text, bold when pressed (beside the check mark).
        toggle.style.text_color = self._colors.get(toggle.description)
        toggle.style.font_weight = "bold" if toggle.value else ""

    def _on_toggle(self, change: dict) -> None:
        change["owner"].icon = "check" if change["new"] else ""
        self._paint(change["owner"])
        if not self._quiet:
            for handler in self._handlers:
                handler(self.value)


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
    label = widgets.Label(text, layout=widgets.Layout(width=width, min_width=width))
    return widgets.HBox([label, widget], layout=widgets.Layout(align_items="center"))


def date_of(value: Any) -> dt.date | None:
    """What a DatePicker can show of a date filter (``None`` when it cannot)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime | pd.Timestamp):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return pd.Timestamp(str(value)).date()
    except ValueError:
        return None


def is_relative(value: Any) -> bool:
    """Whether a date filter is a time relative to now (``"-7d"``, ``"today"``), which
    a DatePicker cannot show.

    >>> is_relative("-7d"), is_relative("2024-05-01"), is_relative("-5y"), is_relative(None)
    (True, False, False, False)
    """
    try:
        return isinstance(value, str) and relative_time(value, dt.datetime.now(dt.UTC)) \
            is not None
    except ValidationError:
        return False
