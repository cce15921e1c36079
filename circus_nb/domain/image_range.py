"""``ImageRange``: a set of positive instance numbers, written like ``1-50,52``.

This is the "multi-integer range" CIRCUS uses for the images of a series. It is
stored as sorted, merged segments, so ``1-100000`` costs two integers.

>>> r = ImageRange.parse("3-5, 1,10-12")
>>> str(r), len(r), 4 in r, r.segments()
('1,3-5,10-12', 7, True, [(1, 1), (3, 5), (10, 12)])
>>> ImageRange([3, 1, 2])
ImageRange('1-3')
"""

from __future__ import annotations

import operator
import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator

from .._repr import card_html
from ..errors import ValidationError
from .values import shown

__all__ = ["ImageRange"]

_ITEM = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")
_EXAMPLE = "Write numbers and ranges separated by commas, e.g. '1-50,52'."


def positive_int(value: object, what: str = "An image number") -> int:
    """``value`` as an ``int`` if it is an integer >= 1, else ``ValidationError``."""
    if isinstance(value, bool):
        raise ValidationError(f"{what} must be an integer >= 1, got {shown(value)}.", value=value)
    try:
        number = operator.index(value)
    except TypeError:
        raise ValidationError(
            f"{what} must be an integer >= 1, got {shown(value)}.", value=value
        ) from None
    if number < 1:
        raise ValidationError(f"{what} must be an integer >= 1, got {number}.", value=number)
    return number


def _merge(segments: Iterable[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    merged: list[list[int]] = []
    for lo, hi in sorted(segments):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return tuple((lo, hi) for lo, hi in merged)


class ImageRange:
    """An immutable set of positive integers with a canonical text form.

    Parameters
    ----------
    numbers : iterable of int
        Image (instance) numbers, in any order, duplicates allowed; each >= 1.

    Raises
    ------
    ValidationError
        If a number is not an integer >= 1.
    """

    __slots__ = ("_segments", "_starts")

    def __init__(self, numbers: Iterable[int] = ()):
        checked = (positive_int(n) for n in numbers)
        self._set_segments((n, n) for n in checked)

    def _set_segments(self, segments: Iterable[tuple[int, int]]) -> None:
        self._segments = _merge(segments)
        self._starts = [lo for lo, _ in self._segments]

    @classmethod
    def from_segments(cls, segments: Iterable[tuple[int, int]]) -> ImageRange:
        """Build from ``(low, high)`` pairs; overlapping pairs are merged.

        >>> ImageRange.from_segments([(5, 9), (1, 5)])
        ImageRange('1-9')
        """
        checked = []
        for lo, hi in segments:
            lo, hi = positive_int(lo), positive_int(hi)
            if lo > hi:
                raise ValidationError(
                    f"A range segment must not run backwards, got {lo}-{hi}. Write {hi}-{lo}.",
                    value=(lo, hi),
                )
            checked.append((lo, hi))
        result = cls.__new__(cls)
        result._set_segments(checked)
        return result

    @classmethod
    def parse(cls, text: str) -> ImageRange:
        """Read the text form, such as ``"1-50,52"``; white space is ignored.

        Raises
        ------
        ValidationError
            For empty text, anything but numbers, ``-`` and ``,``, numbers below 1,
            or a backwards segment such as ``5-3``.

        >>> ImageRange.parse("")
        Traceback (most recent call last):
        ...
        circus_nb.errors.ValidationError: An image range needs at least one number, got ''. ...
        """
        if not isinstance(text, str):
            raise ValidationError(f"An image range must be text, got {shown(text)}.", value=text)
        if not text.strip():
            raise ValidationError(
                f"An image range needs at least one number, got {shown(text)}. {_EXAMPLE}",
                value=text,
            )
        segments = []
        for item in text.split(","):
            match = _ITEM.match(item)
            if match is None:
                raise ValidationError(
                    f"Invalid image range {shown(text)}: {shown(item.strip())} is not a number or a"
                    f" range like '3' or '1-50'. {_EXAMPLE}",
                    value=text,
                )
            lo = int(match[1])
            hi = int(match[2]) if match[2] is not None else lo
            if lo < 1 or lo > hi:
                raise ValidationError(
                    f"Invalid image range {shown(text)}: {shown(item.strip())} must run upwards"
                    f" from 1 or more. {_EXAMPLE}",
                    value=text,
                )
            segments.append((lo, hi))
        return cls.from_segments(segments)

    def segments(self) -> list[tuple[int, int]]:
        """The ``(low, high)`` runs of consecutive numbers, ascending."""
        return list(self._segments)

    @property
    def first(self) -> int | None:
        """The smallest number, or ``None`` for the empty range."""
        return self._segments[0][0] if self._segments else None

    @property
    def last(self) -> int | None:
        """The largest number, or ``None`` for the empty range."""
        return self._segments[-1][1] if self._segments else None

    def union(self, other: Iterable[int]) -> ImageRange:
        """Numbers in either range.

        >>> ImageRange.parse("1-3") | ImageRange([4, 9])
        ImageRange('1-4,9')
        """
        other = other if isinstance(other, ImageRange) else ImageRange(other)
        return ImageRange.from_segments(self._segments + other._segments)

    __or__ = union

    def summary(self) -> str:
        """How a result table shows it: ``count``, or ``count (min-max)`` with gaps.

        >>> ImageRange.parse("1-120").summary(), ImageRange.parse("1,3-62").summary()
        ('120', '61 (1-62)')
        """
        count = len(self)
        if not self or (self.first == 1 and self.last == count):
            return str(count)
        return f"{count} ({self.first}-{self.last})"

    def __contains__(self, number: object) -> bool:
        if isinstance(number, bool) or not isinstance(number, int):
            try:
                number = operator.index(number)  # numpy integers
            except TypeError:
                return False
        i = bisect_right(self._starts, number) - 1
        return i >= 0 and number <= self._segments[i][1]

    def __len__(self) -> int:
        return sum(hi - lo + 1 for lo, hi in self._segments)

    def __iter__(self) -> Iterator[int]:
        for lo, hi in self._segments:
            yield from range(lo, hi + 1)

    def __bool__(self) -> bool:
        return bool(self._segments)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ImageRange):
            return NotImplemented
        return self._segments == other._segments

    def __hash__(self) -> int:
        return hash(self._segments)

    def __str__(self) -> str:
        return ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in self._segments)

    def __repr__(self) -> str:
        return f"ImageRange({str(self)!r})"

    def _repr_html_(self) -> str:
        return card_html("ImageRange", [("images", str(self) or "(empty)"), ("count", len(self))])
