"""``PartialVolume``: the per-series image range of a case (start, end, delta).

It selects the instance numbers ``start, start + delta, ..., end``: a negative
delta reads the series backwards, a delta above 1 takes every n-th image.

>>> pv = PartialVolume(1, 11, 2)
>>> pv.to_list(), pv.describe(), pv.flipped()
([1, 3, 5, 7, 9, 11], '1, 3, 5, ..., 11', PartialVolume(start=11, end=1, delta=-2))
>>> PartialVolume.is_valid(3, 1, 1)
False
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

from .._repr import card_html
from ..errors import ValidationError
from .image_range import ImageRange
from .values import shown

__all__ = ["PartialVolume", "describe_triple", "triple_problem"]


def _gaps(segments: list[tuple[int, int]], low: int, high: int):
    """The runs of ``low..high`` that no segment covers, ascending (segments sorted)."""
    cursor = low
    for lo, hi in segments:
        if hi < cursor:
            continue
        if lo > high:
            break
        if lo > cursor:
            yield cursor, lo - 1
        cursor = hi + 1
        if cursor > high:
            return
    if cursor <= high:
        yield cursor, high


def _as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return operator.index(value)
    except TypeError:
        return None


def _check_max_nums(max_nums: object) -> None:
    value = _as_int(max_nums)
    if value is None or value < 2:
        raise ValidationError(
            f"max_nums must be an integer >= 2, got {shown(max_nums)}: a shortened list shows"
            " at least the first number and the end.",
            field="max_nums",
            value=max_nums,
        )


def triple_problem(start: object, end: object, delta: object) -> str | None:
    """Why ``(start, end, delta)`` is not a valid descriptor, or ``None`` if it is.

    The rules of CIRCUS: start and end are integers >= 1, delta a non-zero
    integer whose sign agrees with the direction from start to end,
    ``(end - start) / delta + 1`` a whole number >= 1, and not
    ``start == end`` with ``delta == -1``.

    >>> triple_problem(1, 6, 2)
    'Delta 2 does not reach end 6 from start 1: (6 - 1) / 2 is not a whole number.'
    """
    s, e, d = _as_int(start), _as_int(end), _as_int(delta)
    if s is None or s < 1:
        return f"Start must be an integer >= 1, got {shown(start)}."
    if e is None or e < 1:
        return f"End must be an integer >= 1, got {shown(end)}."
    if d is None or d == 0:
        return f"Delta must be a non-zero integer, got {shown(delta)}."
    if s == e and d == -1:
        return "A single image is written with delta 1, not -1."
    if (e - s) * d < 0:
        way = "negative" if e < s else "positive"
        return f"Delta {d} points away from end {e} (start {s}): use a {way} delta."
    if (e - s) % d:
        return (
            f"Delta {d} does not reach end {e} from start {s}:"
            f" ({e} - {s}) / {d} is not a whole number."
        )
    return None


def describe_triple(start: object, end: object, delta: object, max_nums: int = 4) -> str:
    """:meth:`PartialVolume.describe` for any triple; an invalid one reads ``Invalid``.

    >>> describe_triple(5, 1, -1, max_nums=3), describe_triple(1, 0, 1)
    ('5, 4, ..., 1', 'Invalid')
    """
    _check_max_nums(max_nums)
    if triple_problem(start, end, delta) is not None:
        return "Invalid"
    return PartialVolume(start, end, delta).describe(max_nums)


@dataclass(frozen=True)
class PartialVolume:
    """A valid ``(start, end, delta)`` image range of one series.

    Raises
    ------
    ValidationError
        If the triple breaks a rule; the message says which and how to fix it.

    >>> PartialVolume(1, 6, 2)
    Traceback (most recent call last):
    ...
    circus_nb.errors.ValidationError: Invalid image range (1, 6, 2): Delta 2 does not reach ...
    """

    start: int
    end: int
    delta: int = 1

    def __post_init__(self) -> None:
        problem = triple_problem(self.start, self.end, self.delta)
        if problem is not None:
            raise ValidationError(
                f"Invalid image range ({shown(self.start)}, {shown(self.end)},"
                f" {shown(self.delta)}): {problem}",
                value=(self.start, self.end, self.delta),
            )
        # Store plain ints even when given numpy integers, so equality and JSON work.
        for name in ("start", "end", "delta"):
            object.__setattr__(self, name, operator.index(getattr(self, name)))

    @staticmethod
    def is_valid(start: object, end: object, delta: object) -> bool:
        """Whether the triple obeys every rule (see :func:`triple_problem`)."""
        return triple_problem(start, end, delta) is None

    @property
    def count(self) -> int:
        """How many images the range selects (``len()`` too, but any size: ``len()``
        stops at ``sys.maxsize``).

        >>> PartialVolume(1, 2**70).count == 2**70
        True
        """
        return (self.end - self.start) // self.delta + 1

    def __len__(self) -> int:
        return self.count

    def to_list(self) -> list[int]:
        """The selected instance numbers, in volume order.

        >>> PartialVolume(5, 1, -2).to_list()
        [5, 3, 1]
        """
        step_past = 1 if self.delta > 0 else -1
        return list(range(self.start, self.end + step_past, self.delta))

    def describe(self, max_nums: int = 4) -> str:
        """The numbers as text, abbreviated to at most ``max_nums`` numbers.

        >>> PartialVolume(1, 11, 2).describe(3)
        '1, 3, ..., 11'
        """
        _check_max_nums(max_nums)
        count = self.count
        if count >= max_nums + 1:
            head = [self.start + self.delta * i for i in range(max_nums - 1)]
            return ", ".join(map(str, head)) + f", ..., {self.end}"
        return ", ".join(map(str, self.to_list()))

    def flipped(self) -> PartialVolume:
        """The same images in the opposite order (start and end swapped, delta negated).

        A single image has no order, so it flips to itself.

        >>> PartialVolume(1, 50).flipped()
        PartialVolume(start=50, end=1, delta=-1)
        """
        if self.start == self.end:
            return self
        return PartialVolume(self.end, self.start, -self.delta)

    def within(self, images: ImageRange) -> bool:
        """Whether every selected number is among a series' ``images``.

        Decided by arithmetic on the segments of ``images``, never by listing the
        range, so ``PartialVolume(1, 10**9)`` costs no more than ``(1, 3)``.

        >>> PartialVolume(1, 9, 2).within(ImageRange.parse("1,3,5,7,9"))
        True
        >>> PartialVolume(1, 10**9).within(ImageRange.parse("1-50"))
        False
        """
        return not self.missing_from(images, limit=1)

    def missing_from(self, images: ImageRange, limit: int = 5) -> list[int]:
        """The first ``limit`` selected numbers (in volume order) that ``images`` lacks.

        Walks the gaps between the segments of ``images``, taking the selected
        numbers in each gap as an arithmetic progression: the cost grows with the
        number of segments, not with the length of the range.

        >>> PartialVolume(1, 10**9 + 1, 2).missing_from(ImageRange.parse("1-50"), limit=3)
        [51, 53, 55]
        >>> PartialVolume(9, 1, -2).missing_from(ImageRange.parse("1,3,9"))
        [7, 5]

        Raises
        ------
        ValidationError
            If ``limit`` is not an integer >= 1.
        """
        count = _as_int(limit)
        if count is None or count < 1:
            raise ValidationError(f"limit must be an integer >= 1, got {shown(limit)}.",
                                  field="limit", value=limit)
        low, high = sorted((self.start, self.end))
        gaps = list(_gaps(images.segments(), low, high))
        found: list[int] = []
        for lo, hi in reversed(gaps) if self.delta < 0 else gaps:
            selected = self._selected_between(lo, hi)
            selected = selected[::-1] if self.delta < 0 else selected
            found.extend(selected[:count - len(found)])
            if len(found) == count:
                break
        return found

    def _selected_between(self, lo: int, hi: int) -> range:
        """The selected numbers in ``lo..hi``, ascending, as a lazy ``range``."""
        low, high = sorted((self.start, self.end))
        step = abs(self.delta)
        lo, hi = max(lo, low), min(hi, high)
        first = low + -(-(lo - low) // step) * step  # the first member at or above lo
        return range(first, hi + 1, step)

    def _repr_html_(self) -> str:
        rows = [
            ("start", self.start),
            ("end", self.end),
            ("delta", self.delta),
            ("images", f"{self.describe()} ({self.count} images)"),
        ]
        return card_html("PartialVolume", rows)
