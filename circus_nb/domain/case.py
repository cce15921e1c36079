"""Case values: series entries, revisions, and the difference between two revisions.

>>> a = Revision(0, "ann@example.org", None, "Created new case.", "draft", {},
...              (SeriesEntry("1.2.3", PartialVolume(1, 50)),))
>>> b = Revision(1, "ann@example.org", None, "Graded.", "reviewed", {"grade": 2},
...              (SeriesEntry("1.2.3", PartialVolume(3, 50)),))
>>> for row in diff_revisions(a, b): print(row)
('description', 'Created new case.', 'Graded.')
('status', 'draft', 'reviewed')
('attributes.grade', None, 2)
('series[0].range', '1, 2, 3, ..., 50', '3, 4, 5, ..., 50')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .._repr import card_html, card_text, table_html
from ..errors import ValidationError
from .labels import Label
from .partial_volume import PartialVolume

__all__ = ["Revision", "SeriesEntry", "diff_revisions"]

_MISSING = object()


@dataclass(frozen=True)
class SeriesEntry:
    """One series of a revision: its UID, its image range and its labels.

    Make a changed copy with ``dataclasses.replace(entry, labels=(...))``.
    """

    series_uid: str
    partial_volume: PartialVolume
    labels: tuple[Label, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.series_uid, str):
            raise ValidationError(f"A series entry names its series by UID (text), got"
                                  f" {self.series_uid!r}.", field="series_uid",
                                  value=self.series_uid)
        if not isinstance(self.partial_volume, PartialVolume):
            raise ValidationError(f"A series entry's range is a PartialVolume, got"
                                  f" {self.partial_volume!r}.", field="partial_volume",
                                  value=self.partial_volume)
        labels = self.labels
        if isinstance(labels, str | Mapping | Label) or not isinstance(labels, Iterable):
            raise ValidationError(f"A series entry's labels are a list of cnb.Label values, got"
                                  f" {labels!r}.", field="labels", value=labels)
        # each label is checked in full when the entry is saved (labels.check_label)
        object.__setattr__(self, "labels", tuple(labels))


@dataclass(frozen=True, eq=False)
class Revision:
    """One saved state of a case. Revisions are never changed once written."""

    index: int
    creator: str
    date: datetime | None
    description: str
    status: str
    attributes: dict[str, Any]
    series: tuple[SeriesEntry, ...]

    def content(self) -> tuple:
        """What a revision says, without who wrote it when (for comparing copies)."""
        return (self.description, self.status, self.attributes,
                [(e.series_uid, e.partial_volume, [lb.to_json() for lb in e.labels])
                 for e in self.series])

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Revision) and (self.index, self.creator, self.date)
                == (other.index, other.creator, other.date) and self.content() == other.content())

    def __hash__(self) -> int:
        return hash((self.index, self.creator, self.date))

    def _rows(self) -> list[tuple[str, Any]]:
        attributes = ", ".join(f"{k}={v!r}" for k, v in self.attributes.items())
        return [("revision", self.index), ("date", self.date), ("creator", self.creator),
                ("description", self.description), ("status", self.status),
                ("attributes", attributes)]

    def _series_table(self) -> str:
        return table_html(
            ["#", "series", "range", "labels"],
            [(i, e.series_uid, e.partial_volume.describe(3),
              ", ".join(lb.name or lb.type for lb in e.labels))
             for i, e in enumerate(self.series)])

    def __repr__(self) -> str:
        return (f"<Revision {self.index} {self.status!r} {self.description!r}"
                f" by {self.creator}, {len(self.series)} series>")

    def __str__(self) -> str:
        lines = [f"  series[{i}]: {e.series_uid} {e.partial_volume.describe(3)}"
                 for i, e in enumerate(self.series)]
        return "\n".join([card_text(f"Revision {self.index}", self._rows()), *lines])

    def _repr_html_(self) -> str:
        return card_html(f"Revision {self.index}", self._rows(), self._series_table())


def _describe(entry: SeriesEntry) -> str:
    return entry.partial_volume.describe()


def diff_revisions(a: Revision, b: Revision) -> list[tuple[str, Any, Any]]:
    """``(field, value in a, value in b)`` for every difference, in a stable order."""
    rows: list[tuple[str, Any, Any]] = []
    for name in ("description", "status"):
        if getattr(a, name) != getattr(b, name):
            rows.append((name, getattr(a, name), getattr(b, name)))
    for key in sorted(a.attributes.keys() | b.attributes.keys()):
        va, vb = a.attributes.get(key, _MISSING), b.attributes.get(key, _MISSING)
        if va != vb:
            rows.append((f"attributes.{key}", None if va is _MISSING else va,
                         None if vb is _MISSING else vb))
    for i in range(max(len(a.series), len(b.series))):
        ea = a.series[i] if i < len(a.series) else None
        eb = b.series[i] if i < len(b.series) else None
        rows += _entry_diff(i, ea, eb)
    return rows


def _entry_diff(i: int, ea: SeriesEntry | None, eb: SeriesEntry | None) -> list[tuple]:
    if ea is None or eb is None or ea.series_uid != eb.series_uid:
        return [(f"series[{i}]", ea and ea.series_uid, eb and eb.series_uid)]
    rows = []
    if ea.partial_volume != eb.partial_volume:
        rows.append((f"series[{i}].range", _describe(ea), _describe(eb)))
    for j in range(max(len(ea.labels), len(eb.labels))):
        la = ea.labels[j] if j < len(ea.labels) else None
        lb = eb.labels[j] if j < len(eb.labels) else None
        if la != lb:
            rows.append((f"series[{i}].labels[{j}]", la and _label_text(la),
                         lb and _label_text(lb)))
    return rows


def _label_text(label: Label) -> str:
    return f"{label.type} {label.name or ''}".strip()
