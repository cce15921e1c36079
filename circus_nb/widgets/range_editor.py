"""``RangeEditor``: choose the image range of one series, with live slice thumbnails.

Like the Range dialog of CIRCUS: the uploaded images, Start / End / Delta bounded
by the series, a preview of the numbers, Flip, Auto, and OK only while the range
is valid and contained in the series. Thumbnails of the first, middle and last
selected image follow every change; they are PNG bytes swapped into
``widgets.Image`` from a cache, never a redrawn figure.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from ..api.series import as_partial_volume
from ..api.store import Store
from ..domain.partial_volume import PartialVolume, describe_triple, triple_problem
from ..errors import CircusError
from ._common import Message, ThumbnailCache, button

__all__ = ["RangeEditor"]


class RangeEditor(widgets.VBox):
    """Edit the range of series ``series_uid``; ``value`` is ``"auto"`` or a PartialVolume.

    >>> import circus_nb as cnb
    >>> store = cnb.demo_store()
    >>> uid = store.search_series(description="localizer")["series_uid"][0]
    >>> editor = RangeEditor(store, uid)
    >>> editor.value, editor.preview.value
    ('auto', '<b>Preview:</b> 1 <i>(auto)</i>')
    >>> editor.set(1, 62, 1); editor.valid, editor.problem
    (False, 'Specified range is invalid: the series has no image 2 (its images: 1,3-62).')
    >>> editor.set(3, 62, 1); editor.valid, editor.value
    (True, PartialVolume(start=3, end=62, delta=1))
    >>> editor.flip(); editor.value
    PartialVolume(start=62, end=3, delta=-1)
    >>> store.close()
    """

    def __init__(self, store: Store, series_uid: str, value: Any = "auto"):
        self.series = store.series(series_uid)
        self.images = self.series.images
        self._cache = ThumbnailCache(self.series)
        self._ok_handlers: list = []
        self._updating = False
        self._value: str | PartialVolume = "auto"
        self._build()
        super().__init__([self._header, self._fields, self.slider, self.preview,
                          self._thumbnail_row, self._buttons, self.message],
                         layout=widgets.Layout(padding="4px"))
        if value == "auto":
            self.auto()
        else:
            pv = as_partial_volume(value)
            self.set(pv.start, pv.end, pv.delta)

    # -- the controls ------------------------------------------------------------------

    def _build(self) -> None:
        first, last = self.images.first or 1, self.images.last or 1
        self._header = widgets.HTML(f"<b>Uploaded images:</b> {self.images}"
                                    f" ({len(self.images)} images)")
        bounded = {"min": first, "max": last, "layout": widgets.Layout(width="150px")}
        self.start = widgets.BoundedIntText(description="Start", **bounded)
        self.end = widgets.BoundedIntText(description="End", **bounded)
        self.delta = widgets.IntText(description="Delta", value=1,
                                     layout=widgets.Layout(width="150px"))
        self._fields = widgets.HBox([self.start, self.end, self.delta])
        self.slider = widgets.IntRangeSlider(min=first, max=last, value=(first, last),
                                             description="Images", continuous_update=True,
                                             layout=widgets.Layout(width="460px"))
        self.preview = widgets.HTML()
        self.thumbnails = [widgets.Image(format="png", layout=widgets.Layout(
            width="128px", height="128px", object_fit="contain")) for _ in range(3)]
        self.captions = [widgets.HTML() for _ in range(3)]
        self._thumbnail_row = widgets.HBox([widgets.VBox([image, caption]) for image, caption
                                            in zip(self.thumbnails, self.captions, strict=True)])
        self.flip_button = button("Flip", tooltip="Swap start and end, negate delta")
        self.auto_button = button("Auto", tooltip="Back to auto: the first consecutive run,"
                                                  " head to feet")
        self.ok_button = button("OK", style="primary")
        self._buttons = widgets.HBox([self.flip_button, self.auto_button, self.ok_button])
        self.message = Message()
        for control in (self.start, self.end, self.delta):
            control.observe(self._on_field, "value")
        self.slider.observe(self._on_slider, "value")
        self.flip_button.on_click(lambda _: self.flip())
        self.auto_button.on_click(lambda _: self.auto())
        self.ok_button.on_click(lambda _: self.ok())

    # -- the Python side of every control -------------------------------------------------

    @property
    def value(self) -> str | PartialVolume:
        """``"auto"``, or the range shown when it is valid (else the last valid one)."""
        return self._value

    @property
    def problem(self) -> str | None:
        """Why the shown range cannot be used, in words; ``None`` when it can."""
        triple = (self.start.value, self.end.value, self.delta.value)
        problem = triple_problem(*triple)
        if problem is not None:
            return problem
        pv = PartialVolume(*triple)
        missing = [n for n in pv.to_list() if n not in self.images]
        if missing:
            shown = ", ".join(map(str, missing[:5])) + (", ..." if len(missing) > 5 else "")
            return (f"Specified range is invalid: the series has no image {shown}"
                    f" (its images: {self.images}).")
        return None

    @property
    def valid(self) -> bool:
        return self.problem is None

    def set(self, start: int, end: int, delta: int = 1) -> None:
        """Show the range ``(start, end, delta)`` (it may be invalid: see ``problem``)."""
        self._updating = True
        try:
            self.start.value, self.end.value, self.delta.value = start, end, delta
        finally:
            self._updating = False
        self._refresh(auto=False)

    def flip(self) -> None:
        """Swap start and end and negate delta: the same images, the other way round."""
        self.set(self.end.value, self.start.value, -self.delta.value)

    def auto(self) -> None:
        """Back to ``auto``; the controls show what auto resolves to."""
        try:
            pv = self.series.resolve_auto()
        except CircusError as e:
            self._value = "auto"
            self.message.show(f"auto: {e}", "error")
            return
        self.set(pv.start, pv.end, pv.delta)
        self._value = "auto"
        self._show_state(auto=True)

    def ok(self) -> str | PartialVolume:
        """Accept the range (what the OK button does); handlers get the value."""
        if not self.valid and self._value != "auto":
            raise CircusError(f"The range cannot be used: {self.problem}")
        for handler in self._ok_handlers:
            handler(self._value)
        return self._value

    def on_ok(self, handler) -> None:
        """Call ``handler(value)`` when OK is pressed."""
        self._ok_handlers.append(handler)

    # -- keeping the view in step -----------------------------------------------------------

    def _on_field(self, _change: dict) -> None:
        if not self._updating:
            self._refresh(auto=False)

    def _on_slider(self, change: dict) -> None:
        if self._updating:
            return
        low, high = change["new"]
        descending = self.delta.value < 0
        self.set(high if descending else low, low if descending else high, self.delta.value)

    def _refresh(self, auto: bool) -> None:
        problem = self.problem
        if problem is None:
            self._value = PartialVolume(self.start.value, self.end.value, self.delta.value)
        self._sync_slider()
        self._show_state(auto=auto)

    def _sync_slider(self) -> None:
        low, high = sorted((self.start.value, self.end.value))
        self._updating = True
        try:
            self.slider.value = (low, high)
        finally:
            self._updating = False

    def _show_state(self, auto: bool) -> None:
        problem = self.problem
        text = describe_triple(self.start.value, self.end.value, self.delta.value)
        self.preview.value = f"<b>Preview:</b> {text}" + (" <i>(auto)</i>" if auto else "")
        self.ok_button.disabled = problem is not None
        if problem is None:
            self.message.show("")
            self._show_thumbnails(PartialVolume(self.start.value, self.end.value,
                                                self.delta.value).to_list())
        else:
            self.message.show(problem, "error")

    def _show_thumbnails(self, numbers: list[int]) -> None:
        picks = [numbers[0], numbers[len(numbers) // 2], numbers[-1]]
        z = self._z_positions()
        for image, caption, number in zip(self.thumbnails, self.captions, picks, strict=True):
            image.value = self._cache.png(number)
            position = z.get(number)
            caption.value = f"#{number}" + ("" if position is None else f" z={position:g}")

    def _z_positions(self) -> dict[int, float | None]:
        if not hasattr(self, "_z"):
            frame = self.series.instances()
            self._z = {int(n): (None if z != z else float(z))  # NaN is "no position"
                       for n, z in zip(frame["instance_number"], frame["position_z"],
                                       strict=True)}
        return self._z
