"""A case frozen for a dataset, and the fingerprint of a dataset's cases.

Pure: no store, no files. What decides a case's arrays is its revision's series
entry (series, range, labels) and the content of each image file it reads.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ValidationError
from .case import SeriesEntry
from .labels import Label
from .values import shown

__all__ = ["FrozenCase", "fingerprint", "fingerprint_of_keys", "is_image_hash"]


@dataclass(frozen=True)
class FrozenCase:
    """One case of a dataset: a revision's series entry and the hash of each of its files."""

    case_id: str
    revision: int
    entry: SeriesEntry
    images: tuple[tuple[int, str], ...]  # (instance number, sha256 of the file), range order

    def __post_init__(self) -> None:
        bad, numbers = _checked_images(self.images)
        if numbers != self.entry.partial_volume.to_list():
            seen = shown(bad) if bad is not None else f"images {shown(numbers)}"
            raise ValidationError(
                f"A frozen case holds (instance number, sha256 hex) for each image of its"
                f" range {self.entry.partial_volume.describe()}, in order; case"
                f" {self.case_id} has {seen}.", field="images", value=bad)

    def key(self) -> dict[str, Any]:
        """What decides this case's arrays, as plain JSON (label styles left out)."""
        pv = self.entry.partial_volume
        return {"case_id": self.case_id, "revision": self.revision,
                "series_uid": self.entry.series_uid, "range": [pv.start, pv.end, pv.delta],
                "labels": [_label_key(label) for label in self.entry.labels],
                "images": [list(pair) for pair in self.images]}


_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def is_image_hash(pair: Any) -> bool:
    """Whether ``pair`` is ``(instance number, sha256 hex)``, as a frozen case holds them."""
    return (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], int)
            and not isinstance(pair[0], bool) and isinstance(pair[1], str)
            and _SHA256.match(pair[1]) is not None)


def _checked_images(images: Any) -> tuple[Any, list[int] | None]:
    """``(the first pair that is not (number, sha256 hex), None)`` or ``(None, numbers)``.

    The cases of a dataset often share one image list (same series and range): the same
    tuple object is checked once. (By identity, not equality: ``(True, h)`` equals
    ``(1, h)`` yet is refused.)
    """
    if type(images) is not tuple:  # a list may change after the check
        return _check_images(images)
    return _checked_tuple(_Same(images))


def _check_images(images: Any) -> tuple[Any, list[int] | None]:
    bad = next((pair for pair in images if not is_image_hash(pair)), None)
    return bad, None if bad is not None else [pair[0] for pair in images]


class _Same:
    """A value that hashes and compares by identity (the cache keeps it alive, so its id
    is not reused)."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value

    def __hash__(self) -> int:
        return id(self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.value is self.value


@functools.lru_cache(maxsize=1024)
def _checked_tuple(images: _Same) -> tuple[Any, list[int] | None]:
    return _check_images(images.value)


def _label_key(label: Label) -> dict[str, Any]:
    data = {k: v for k, v in label.data.items() if k not in ("color", "alpha")}
    return {"type": label.type, "name": label.name, "data": data}


def fingerprint(entry: int, cases: Sequence[FrozenCase]) -> str:
    """The sha256 of everything that decides a dataset's arrays, as hex.

    >>> from circus_nb.domain.partial_volume import PartialVolume
    >>> digests = [hashlib.sha256(bytes([n])).hexdigest() for n in (1, 2, 3)]
    >>> pv = PartialVolume(1, 3, 1)
    >>> one = FrozenCase("c1", 0, SeriesEntry("1.2.3", pv), tuple(zip((1, 2, 3), digests)))
    >>> fingerprint(0, [one])[:12], fingerprint(1, [one])[:12] == fingerprint(0, [one])[:12]
    ('a5aa6513176c', False)
    """
    return fingerprint_of_keys(entry, [case.key() for case in cases])


def fingerprint_of_keys(entry: int, keys: Sequence[dict[str, Any]]) -> str:
    """:func:`fingerprint` from the cases' :meth:`FrozenCase.key` (as a manifest holds them)."""
    document = {"entry": entry, "cases": list(keys)}
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()
