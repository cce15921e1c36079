"""``RangeEditor``: choose the image range of one series, with live slice thumbnails.

Like the Range dialog of CIRCUS: the uploaded images, Start / End / Delta, a preview
of the numbers, Flip, Auto, and OK only while the range is valid and contained in the
series. Start and End take any number typed (they do not clamp): a number outside the
series' images makes the range invalid, with the reason, like every other bad range.
Thumbnails of the first, middle and last selected image follow every change; they are
PNG bytes swapped into ``widgets.Image`` from a cache, never a redrawn figure. While
the range is invalid, the thumbnails still show the last valid range, greyed out and
marked as such.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from ..api.series import as_partial_volume
from ..api.store import Store
from ..domain.image_range import ImageRange
from ..domain.partial_volume import PartialVolume, describe_triple, triple_problem
from ..errors import CircusError
from ._common import STALE_CLASS, STYLE, Guard, Message, ThumbnailCache, button, run_and_show

__all__ = ["RangeEditor", "range_problem"]


def range_problem(start: Any, end: Any, delta: Any, images: ImageRange) -> str | None:
    """Why ``(start, end, delta)`` cannot be used on a series with ``images``, or ``None``.

    >>> images = ImageRange.parse("1,3-62")
    >>> range_problem(3, 70, 1, images)
    "Specified range is invalid: end 70 is after the series' last image, 62 (its images: 1,3-62)."
    >>> range_problem(3, 62, 1, images) is None
    True
    """
    problem = triple_problem(start, end, delta)
    if problem is not None:
        return problem
    for name, number in (("start", start), ("end", end)):
        if images and number > images.last:
            return (f"Specified range is invalid: {name} {number} is after the series' last"
                    f" image, {images.last} (its images: {images}).")
        if images and number < images.first:
            return (f"Specified range is invalid: {name} {number} is before the series' first"
                    f" image, {images.first} (its images: {images}).")
    missing = PartialVolume(start, end, delta).missing_from(images, limit=6)
    if missing:
        shown = ", ".join(map(str, missing[:5])) + (", ..." if len(missing) > 5 else "")
        return (f"Specified range is invalid: the series has no image {shown}"
                f" (its images: {images}).")
    return None


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
    >>> editor.set(3, 70, 1); editor.valid, editor.end.value, editor.stale
    (False, 70, True)
    >>> editor.set(3, 62, 1); editor.valid, editor.value, editor.stale
    (True, PartialVolume(start=3, end=62, delta=1), False)
    >>> editor.flip(); editor.value
    PartialVolume(start=62, end=3, delta=-1)
    >>> store.close()
    """

    def __init__(self, store: Store, series_uid: str, value: Any = "auto"):
        self.series = store.series(series_uid)
        self.images = self.series.images
        self._cache = ThumbnailCache(self.series)
        self._ok_handlers: list[Callable[[Any], Any]] = []
        self._cancel_handlers: list[Callable[[], Any]] = []
        self._quiet = Guard()
        self._value: str | PartialVolume = "auto"
        self._shown: PartialVolume | None = None  # what the thumbnails show
        self._fields_untouched = False  # the fields hold what auto() put there
        self._build()
        super().__init__([widgets.HTML(STYLE), self._header, self._fields, self.slider,
                          self.preview, self._thumbnail_box, self._buttons, self.message],
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
        narrow = widgets.Layout(width="150px")
        # IntText, not BoundedIntText: a bounded field clamps 70 to 62 without a word
        self.start = widgets.IntText(description="Start", value=first, layout=narrow)
        self.end = widgets.IntText(description="End", value=first, layout=narrow)
        self.delta = widgets.IntText(description="Delta", value=1, layout=narrow)
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
        self.stale_note = widgets.HTML()
        self._thumbnail_box = widgets.VBox([self._thumbnail_row, self.stale_note])
        self.flip_button = button("Flip", tooltip="Swap start and end, negate delta")
        self.auto_button = button("Auto", tooltip="Back to auto: the first consecutive run,"
                                                  " head to feet")
        self.ok_button = button("OK", style="primary", tooltip="Use this range")
        self.cancel_button = button("Cancel", tooltip="Close without changing the range")
        self.cancel_button.layout.display = "none"  # shown once someone listens (on_cancel)
        self._buttons = widgets.HBox([self.flip_button, self.auto_button,
                                      widgets.HTML(layout=widgets.Layout(width="24px")),
                                      self.ok_button, self.cancel_button])
        self.message = Message()
        for control in (self.start, self.end, self.delta):
            control.observe(self._on_field, "value")
        self.slider.observe(self._on_slider, "value")
        self.flip_button.on_click(lambda _: run_and_show(self.message, self.flip))
        self.auto_button.on_click(lambda _: run_and_show(self.message, self.auto))
        self.ok_button.on_click(lambda _: run_and_show(self.message, self.ok))
        self.cancel_button.on_click(lambda _: run_and_show(self.message, self.cancel))

    # -- the Python side of every control -------------------------------------------------

    @property
    def value(self) -> str | PartialVolume:
        """``"auto"``, or the range shown when it is valid (else the last valid one)."""
        return self._value

    @property
    def problem(self) -> str | None:
        """Why the shown range cannot be used, in words; ``None`` when it can."""
        return range_problem(self.start.value, self.end.value, self.delta.value, self.images)

    @property
    def valid(self) -> bool:
        return self.problem is None

    @property
    def stale(self) -> bool:
        """Whether the thumbnails show another range than the fields (the last valid one,
        while the fields hold an invalid range)."""
        return STALE_CLASS in self._thumbnail_box._dom_classes

    def set(self, start: int, end: int, delta: int = 1) -> None:
        """Show the range ``(start, end, delta)`` (it may be invalid: see ``problem``)."""
        with self._quiet():
            self.start.value, self.end.value, self.delta.value = start, end, delta
        self._refresh(auto=False)

    def flip(self) -> None:
        """Swap start and end and negate delta: the same images, the other way round."""
        self.set(self.end.value, self.start.value, -self.delta.value)

    def auto(self) -> None:
        """Back to ``auto``; the controls show what auto resolves to."""
        try:
            pv = self.series.resolve_auto()
        except CircusError as e:
            self._value, self._fields_untouched = "auto", True
            self.message.show(f"auto: {e}", "error")
            return
        self.set(pv.start, pv.end, pv.delta)
        self._value, self._fields_untouched = "auto", True
        self._show_state(auto=True)

    def ok(self) -> str | PartialVolume:
        """Accept the range (what the OK button does); handlers get the value.

        Raises
        ------
        CircusError
            The range shown is invalid (``problem`` says why); only an ``auto`` that
            could not be shown in the fields is accepted as it is.
        """
        if not self.valid and not self._fields_untouched:
            ways = "Auto or Cancel" if self._cancel_handlers else "Auto"
            raise CircusError(f"The range cannot be used: {self.problem} Correct it, or press"
                              f" {ways}.")
        for handler in self._ok_handlers:
            handler(self._value)
        return self._value

    def cancel(self) -> None:
        """Leave without a change (what the Cancel button does); handlers are called."""
        for handler in self._cancel_handlers:
            handler()

    def on_ok(self, handler: Callable[[Any], Any]) -> None:
        """Call ``handler(value)`` when OK is pressed."""
        self._ok_handlers.append(handler)

    def on_cancel(self, handler: Callable[[], Any]) -> None:
        """Call ``handler()`` when Cancel is pressed (the Cancel button shows from now)."""
        self._cancel_handlers.append(handler)
        self.cancel_button.layout.display = None

    # -- keeping the view in step -----------------------------------------------------------

    def _on_field(self, _change: dict) -> None:
        if not self._quiet:
            self._refresh(auto=False)

    def _on_slider(self, change: dict) -> None:
        if self._quiet:
            return
        low, high = change["new"]
        descending = self.delta.value < 0
        self.set(high if descending else low, low if descending else high, self.delta.value)

    def _refresh(self, auto: bool) -> None:
        self._fields_untouched = False
        if self.problem is None:
            self._value = PartialVolume(self.start.value, self.end.value, self.delta.value)
        self._sync_slider()
        self._show_state(auto=auto)

    def _sync_slider(self) -> None:
        low, high = sorted((self.start.value, self.end.value))
        clamp = lambda n: min(max(n, self.slider.min), self.slider.max)  # noqa: E731
        with self._quiet():
            self.slider.value = (clamp(low), clamp(high))

    def _show_state(self, auto: bool) -> None:
        problem = self.problem
        text = describe_triple(self.start.value, self.end.value, self.delta.value)
        self.preview.value = f"<b>Preview:</b> {text}" + (" <i>(auto)</i>" if auto else "")
        self.ok_button.disabled = problem is not None
        if problem is None:
            self.message.show("")
            self._show_thumbnails(PartialVolume(self.start.value, self.end.value,
                                                self.delta.value))
        else:
            self.message.show(problem, "error")
        self._mark_stale(problem is not None)

    def _mark_stale(self, stale: bool) -> None:
        if stale:
            self._thumbnail_box.add_class(STALE_CLASS)
            self.stale_note.value = (
                "<i>The images show the last valid range, "
                f"{self._shown.describe(3)}, not the range typed.</i>" if self._shown else
                "<i>No images: the range typed is invalid.</i>")
        else:
            self._thumbnail_box.remove_class(STALE_CLASS)
            self.stale_note.value = ""
        # an Image without bytes is a broken-image icon in the browser
        self._thumbnail_row.layout.display = "none" if self._shown is None else None

    def _show_thumbnails(self, pv: PartialVolume) -> None:
        numbers = pv.to_list()
        picks = [numbers[0], numbers[len(numbers) // 2], numbers[-1]]
        z = self._z_positions()
        for image, caption, number in zip(self.thumbnails, self.captions, picks, strict=True):
            image.value = self._cache.png(number)
            position = z.get(number)
            caption.value = f"#{number}" + ("" if position is None else f" z={position:g}")
        self._shown = pv

    def _z_positions(self) -> dict[int, float | None]:
        if not hasattr(self, "_z"):
            frame = self.series.instances()
            self._z = {int(n): (None if z != z else float(z))  # NaN is "no position"
                       for n, z in zip(frame["instance_number"], frame["position_z"],
                                       strict=True)}
        return self._z
