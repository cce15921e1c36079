"""A case frozen for a dataset, and the fingerprint of a dataset's cases.

Pure: no store, no files. What decides a case's arrays is its revision's series
entry (series, range, labels) and the content of each image file it reads.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .case import SeriesEntry
from .labels import Label

__all__ = ["FrozenCase", "fingerprint", "fingerprint_of_keys"]


@dataclass(frozen=True)
class FrozenCase:
    """One case of a dataset: a revision's series entry and the hash of each of its files."""

    case_id: str
    revision: int
    entry: SeriesEntry
    images: tuple[tuple[int, str], ...]  # (instance number, sha256 of the file), range order

    def key(self) -> dict[str, Any]:
        """What decides this case's arrays, as plain JSON (label styles left out)."""
        pv = self.entry.partial_volume
        return {"case_id": self.case_id, "revision": self.revision,
                "series_uid": self.entry.series_uid, "range": [pv.start, pv.end, pv.delta],
                "labels": [_label_key(label) for label in self.entry.labels],
                "images": [list(pair) for pair in self.images]}


def _label_key(label: Label) -> dict[str, Any]:
    data = {k: v for k, v in label.data.items() if k not in ("color", "alpha")}
    return {"type": label.type, "name": label.name, "data": data}


def fingerprint(entry: int, cases: Sequence[FrozenCase]) -> str:
    """The sha256 of everything that decides a dataset's arrays, as hex.

    >>> pv = PartialVolume(1, 3, 1)
    >>> one = FrozenCase("c1", 0, SeriesEntry("1.2.3", pv), ((1, "ab"), (2, "cd"), (3, "ef")))
    >>> fingerprint(0, [one])[:12], fingerprint(1, [one])[:12] == fingerprint(0, [one])[:12]
    ('bf7b34908b76', False)
    """
    return fingerprint_of_keys(entry, [case.key() for case in cases])


def fingerprint_of_keys(entry: int, keys: Sequence[dict[str, Any]]) -> str:
    """:func:`fingerprint` from the cases' :meth:`FrozenCase.key` (as a manifest holds them)."""
    document = {"entry": entry, "cases": list(keys)}
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()
