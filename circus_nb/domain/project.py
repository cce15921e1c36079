"""``Project``: the container of cases, with its tags, schemas and window settings.

>>> p = Project("p1", "Lung nodules", tags=["nodule", {"name": "GGO", "color": "#00aa00"}])
>>> p.tag_names, p.tags[1]
(('nodule', 'GGO'), Tag(name='GGO', color='#00aa00'))
>>> p.window_priority
'dicom,preset,auto'
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .._repr import card_html, card_text
from ..errors import ValidationError
from .schema import check_schema
from .values import check_color, check_text, shown
from .window import DEFAULT_WINDOW_PRIORITY, check_window_priority

__all__ = ["Project", "Tag", "WindowPreset"]

# Colors given to tags named without one, in turn.
TAG_PALETTE = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6")
TAG_MAX_LEN = 32


def _palette(index: int) -> str:
    return TAG_PALETTE[index % len(TAG_PALETTE)]


@dataclass(frozen=True)
class Tag:
    """A project tag: a name of 1-32 characters and a ``#rrggbb`` color."""

    name: str
    color: str = TAG_PALETTE[0]

    def __post_init__(self) -> None:
        check_text(self.name, "tag name", TAG_MAX_LEN, line=True)
        check_color(self.color, f"color of tag {shown(self.name)}")

    @classmethod
    def coerce(cls, value: Any, index: int = 0) -> Tag:
        """A ``Tag`` from a ``Tag``, a name, a ``(name, color)`` pair or a dict."""
        if isinstance(value, Tag):
            return value
        if isinstance(value, str):
            return cls(value, _palette(index))
        if isinstance(value, Mapping):
            unknown = set(value) - {"name", "color"}
            if unknown:
                raise ValidationError(f"A tag has only 'name' and 'color', got {sorted(unknown)}.",
                                      field="tags", value=value)
            return cls(value.get("name"), value.get("color", _palette(index)))
        if isinstance(value, tuple) and len(value) == 2:
            return cls(*value)
        raise ValidationError(f"A tag is a name, (name, color) or {{'name', 'color'}},"
                              f" got {shown(value)}.", field="tags", value=value)


@dataclass(frozen=True)
class WindowPreset:
    """A display window: ``label``, ``level`` (center) and ``width`` (> 0), finite numbers.

    >>> WindowPreset("lung", -600, float("inf"))
    Traceback (most recent call last):
    ...
    circus_nb.errors.ValidationError: Window preset 'lung': width must be a finite number, ...
    """

    label: str
    level: float
    width: float

    def __post_init__(self) -> None:
        check_text(self.label, "window preset label", 64, line=True)
        for name in ("level", "width"):
            value = getattr(self, name)
            if (isinstance(value, bool) or not isinstance(value, (int, float))
                    or not math.isfinite(value)):
                raise ValidationError(f"Window preset {shown(self.label)}: {name} must be a finite"
                                      f" number, got {shown(value)}.", field=name, value=value)
        if self.width <= 0:
            raise ValidationError(f"Window preset {shown(self.label)}: width must be > 0, got"
                                  f" {shown(self.width)}.", field="width", value=self.width)

    @classmethod
    def coerce(cls, value: Any) -> WindowPreset:
        """A preset from a ``WindowPreset``, a dict or a ``(label, level, width)`` tuple."""
        if isinstance(value, WindowPreset):
            return value
        if isinstance(value, Mapping):
            if set(value) != {"label", "level", "width"}:
                raise ValidationError(f"A window preset has exactly 'label', 'level' and"
                                      f" 'width', got {sorted(value)}.", value=value)
            return cls(value["label"], value["level"], value["width"])
        if isinstance(value, tuple) and len(value) == 3:
            return cls(*value)
        raise ValidationError(f"A window preset is {{label, level, width}}, got {shown(value)}.",
                              value=value)


def _sequence(values: Any, field: str) -> Iterable[Any]:
    if isinstance(values, (bytes, str, Mapping)) or not isinstance(values, Iterable):
        raise ValidationError(f"{field} must be a list, got {shown(values)}.", field=field,
                              value=values)
    return values


def _unique_tags(tags: Iterable[Any]) -> tuple[Tag, ...]:
    if isinstance(tags, (str, Mapping)):
        tags = [tags]
    tags = _sequence(tags, "tags")
    result = tuple(Tag.coerce(t, i) for i, t in enumerate(tags))
    names = [t.name for t in result]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValidationError(f"Tag names must be unique in a project, got {duplicates} twice.",
                              field="tags", value=duplicates)
    return result


@dataclass(frozen=True)
class Project:
    """A project: validated on construction, so a bad one is never written.

    ``window_priority`` says where a viewer's first window comes from: one of
    :data:`~circus_nb.domain.window.WINDOW_PRIORITIES`, tried in turn by
    :func:`~circus_nb.domain.window.choose_window`. The default, as in CIRCUS,
    ``"dicom,preset,auto"``: the file's window, else the first preset, else one
    made from the voxels.

    >>> Project("p1", "Lung", window_priority="preset")
    Traceback (most recent call last):
    ...
    circus_nb.errors.ValidationError: window_priority must be one of 'dicom,preset,auto', ...
    """

    project_id: str
    name: str
    description: str = ""
    tags: tuple[Tag, ...] = ()
    case_attributes_schema: dict[str, Any] | None = None
    label_attributes_schema: dict[str, Any] | None = None
    window_presets: tuple[WindowPreset, ...] = ()
    window_priority: str = DEFAULT_WINDOW_PRIORITY
    created_at: datetime | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: normalise once, here
        check_text(self.project_id, "project_id", 64, line=True)
        if isinstance(self.name, str):
            set_(self, "name", self.name.strip())
        check_text(self.name, "project name", 64, line=True)
        check_text(self.description, "project description", 1024, min_len=0)
        set_(self, "tags", _unique_tags(self.tags))
        set_(self, "window_presets", tuple(WindowPreset.coerce(w) for w in
                                           _sequence(self.window_presets, "window_presets")))
        check_window_priority(self.window_priority)
        set_(self, "case_attributes_schema", check_schema(self.case_attributes_schema))
        set_(self, "label_attributes_schema", check_schema(self.label_attributes_schema))

    @property
    def tag_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tags)

    def _rows(self) -> list[tuple[str, Any]]:
        schema = self.case_attributes_schema or {}
        return [
            ("project_id", self.project_id),
            ("description", self.description),
            ("tags", ", ".join(self.tag_names)),
            ("case attributes", ", ".join(schema.get("properties", {}))),
            ("window presets", ", ".join(w.label for w in self.window_presets)),
            ("window priority", self.window_priority),
        ]

    def __repr__(self) -> str:
        return f"<Project {shown(self.name)} id={self.project_id} tags={len(self.tags)}>"

    def __str__(self) -> str:
        return card_text(f"Project {self.name}", self._rows())

    def _repr_html_(self) -> str:
        return card_html(f"Project {self.name}", self._rows())
