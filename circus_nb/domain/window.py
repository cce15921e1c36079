"""Display windows: which one a volume opens with, and the automatic one.

A project's ``window_priority`` says where the first window of a viewer comes
from, as in CIRCUS: the DICOM file's own window (``dicom``), the project's first
window preset (``preset``), or a window made from the voxel values (``auto``),
tried in the order given until one is available. ``auto`` always is, so every
choice ends with it.

>>> from circus_nb.domain.project import WindowPreset
>>> lung = [WindowPreset("lung", -600, 1500)]
>>> choose_window("dicom,preset,auto", None, lung, (40.0, 400.0))
Window(level=-600.0, width=1500.0, source='preset:lung')
>>> choose_window("dicom,preset,auto", (50.0, 350.0), lung, (40.0, 400.0)).source
'dicom'
>>> choose_window("preset,auto", (50.0, 350.0), [], (40.0, 400.0)).source
'auto'
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ValidationError
from .values import shown

if TYPE_CHECKING:
    from .project import WindowPreset

__all__ = ["DEFAULT_WINDOW_PRIORITY", "WINDOW_PRIORITIES", "Window", "auto_window",
           "check_window_priority", "choose_window"]

# The choices CIRCUS offers, in the order it lists them; the first is its default.
WINDOW_PRIORITIES = ("dicom,preset,auto", "dicom,auto", "preset,dicom,auto", "preset,auto",
                     "auto")
DEFAULT_WINDOW_PRIORITY = WINDOW_PRIORITIES[0]
AUTO_PERCENTILES = (0.5, 99.5)  # the values an automatic window spans
AUTO_SAMPLE = 1 << 18  # at most about this many voxels are looked at
MIN_AUTO_WIDTH = 1.0


def check_window_priority(value: Any, field: str = "window_priority") -> str:
    """``value`` if it is one of :data:`WINDOW_PRIORITIES`.

    >>> check_window_priority("preset,auto")
    'preset,auto'
    >>> check_window_priority("dicom, preset, auto")
    Traceback (most recent call last):
    ...
    circus_nb.errors.ValidationError: window_priority must be one of 'dicom,preset,auto', ...

    Raises
    ------
    ValidationError
        For anything else, listing the choices (and the spelling meant, for one
        written with spaces or capitals).
    """
    if isinstance(value, str) and value in WINDOW_PRIORITIES:
        return value
    choices = ", ".join(map(repr, WINDOW_PRIORITIES))
    hint = ""
    if isinstance(value, str):
        meant = value.replace(" ", "").lower()
        if meant in WINDOW_PRIORITIES:
            hint = f" Write it as {meant!r}."
    raise ValidationError(
        f"{field} must be one of {choices} (sources tried in turn; 'auto' is always"
        f" available, so each ends with it), got {shown(value)}.{hint}", field=field,
        value=value)


@dataclass(frozen=True)
class Window:
    """A display window: ``level`` (center) and ``width`` (> 0) in the volume's units,
    and where it came from: ``"dicom"``, ``"preset:<label>"`` or ``"auto"``.

    >>> Window(40, 0, "auto")
    Traceback (most recent call last):
    ...
    circus_nb.errors.ValidationError: A window's level and width must be finite numbers ...
    """

    level: float
    width: float
    source: str

    def __post_init__(self) -> None:
        if not _usable((self.level, self.width)):
            raise ValidationError(f"A window's level and width must be finite numbers with a"
                                  f" width > 0, got level={shown(self.level)},"
                                  f" width={shown(self.width)}.", field="width",
                                  value=(self.level, self.width))
        if not (isinstance(self.source, str) and (self.source in ("dicom", "auto")
                                                  or self.source.startswith("preset:"))):
            raise ValidationError(f"A window's source is 'dicom', 'preset:<label>' or 'auto',"
                                  f" got {shown(self.source)}.", field="source",
                                  value=self.source)


def _is_pair(value: Any) -> bool:
    return isinstance(value, tuple | list) and len(value) == 2


def _usable(pair: Any) -> bool:
    """A (level, width) pair of finite numbers with a positive width."""
    if not _is_pair(pair):
        return False
    level, width = pair
    return _finite(level) and _finite(width) and width > 0


def _finite(value: Any) -> bool:
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and math.isfinite(value))


def choose_window(priority: str, dicom: tuple[float, float] | None,
                  presets: Sequence[WindowPreset], auto: tuple[float, float]) -> Window:
    """The window a viewer opens with: the first source of ``priority`` available.

    ``dicom`` is the file's (center, width), available when not ``None`` and its
    numbers are finite with a width > 0 (a file may state a width of 0); a preset is
    available when the project has one, and the first is taken; ``auto`` (level,
    width, e.g. from :func:`auto_window`) always is.

    >>> choose_window("auto", (50.0, 350.0), [], (40.0, 400.0))
    Window(level=40.0, width=400.0, source='auto')
    >>> choose_window("dicom,auto", (50.0, 0.0), [], (40.0, 400.0)).source
    'auto'

    Raises
    ------
    ValidationError
        For a ``priority`` that is not one of :data:`WINDOW_PRIORITIES`, a
        ``dicom`` window that is neither ``None`` nor a pair, or an ``auto`` window
        that is not two finite numbers with a width > 0.
    """
    check_window_priority(priority, "priority")
    if dicom is not None and not _is_pair(dicom):
        raise ValidationError(f"The DICOM window is (center, width), or None where the file has"
                              f" none, got {shown(dicom)}. Take it from series.dicom_window().",
                              field="dicom", value=dicom)
    if not _usable(auto):
        raise ValidationError(f"The auto window must be (level, width), finite numbers with a"
                              f" width > 0, got {shown(auto)}. Make it with auto_window(array).",
                              field="auto", value=auto)
    for source in priority.split(","):
        if source == "dicom" and _usable(dicom):
            return Window(float(dicom[0]), float(dicom[1]), "dicom")
        if source == "preset" and presets:
            first = presets[0]
            return Window(float(first.level), float(first.width), f"preset:{first.label}")
    return Window(float(auto[0]), float(auto[1]), "auto")  # every priority ends with auto


def _sample(array: np.ndarray, target: int) -> np.ndarray:
    """At most about ``target`` voxels of ``array``, every k-th along each axis (a view)."""
    if array.size <= target:
        return array
    step = math.ceil((array.size / target) ** (1 / array.ndim))
    while math.prod(math.ceil(n / step) for n in array.shape) > target:
        step += 1
    return array[(slice(None, None, step),) * array.ndim]


def auto_window(array: Any) -> tuple[float, float]:
    """(level, width) spanning the 0.5th to the 99.5th percentile of the voxel values.

    Looks at every k-th voxel along each axis, about a quarter million in all, so a whole
    CT volume costs milliseconds; arrays that small (2**18 voxels) are used whole. Values that are
    not finite are left out. The width is at least 1, so a uniform image still has
    a window.

    >>> auto_window(np.arange(1001.0))
    (500.0, 990.0)
    >>> auto_window(np.full((4, 4), 7.0))
    (7.0, 1.0)

    Raises
    ------
    ValidationError
        If ``array`` is not numeric or holds no finite value.
    """
    array = np.asarray(array)
    if array.dtype.kind not in "iuf":
        raise ValidationError(f"auto_window needs an array of numbers, got one of"
                              f" {array.dtype}.", field="array", value=str(array.dtype))
    sample = np.ravel(_sample(array, AUTO_SAMPLE))
    if sample.dtype.kind == "f":
        finite = np.isfinite(sample)
        if not finite.all():
            sample = sample[finite]
    if sample.size == 0:
        raise ValidationError(f"auto_window needs at least one finite voxel value, got an array"
                              f" of shape {array.shape} with none.", field="array",
                              value=array.shape)
    low, high = (float(v) for v in np.percentile(sample, AUTO_PERCENTILES))
    return low / 2 + high / 2, max(high - low, MIN_AUTO_WIDTH)
