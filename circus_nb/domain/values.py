r"""Argument checks shared by every public entry point: text, integers, lists of
names, JSON values, colors, e-mails and ids.

Each check returns the value it accepts (normalised where that is harmless) or
raises :class:`~circus_nb.errors.ValidationError` naming the argument, the rule
and the value seen, so nothing malformed reaches the database or numpy.

>>> check_color("#FF0000")
Traceback (most recent call last):
...
circus_nb.errors.ValidationError: color must be lowercase '#rrggbb', got '#FF0000'. Write it as ...
>>> check_text("a\ud800", "description", 1024)
Traceback (most recent call last):
...
circus_nb.errors.ValidationError: description must be valid Unicode text, but it holds a lone ...
>>> check_int("3", "limit", 1, 200)
Traceback (most recent call last):
...
circus_nb.errors.ValidationError: limit must be an integer from 1 to 200, got '3'.
>>> check_names("nodule", "tags", 32), check_names(("a", "b"), "groups", 64)
(['nodule'], ['a', 'b'])
>>> len(new_id()), new_id().islower()
(26, True)
"""

from __future__ import annotations

import math
import numbers
import os
import re
import reprlib
import time
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import ValidationError

__all__ = ["MAX_JSON_DEPTH", "check_color", "check_email", "check_int", "check_json",
           "check_names", "check_text", "new_id", "shown", "text_problem"]

_COLOR = re.compile(r"^#[0-9a-f]{6}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")  # Unicode category Cc
_NUL = re.compile("\x00")
MAX_JSON_DEPTH = 32  # nesting of attribute values: deep enough for any real use


def _short_text(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:37] + "...")


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxdict, _REPR.maxlist, _REPR.maxtuple = 3, 4, 6, 6
_REPR.maxstring = _REPR.maxother = 80


def shown(value: Any) -> str:
    """A short ``repr`` for messages: a huge or deeply nested value must not crash one.

    >>> print(shown({"a": {"a": {"a": {"a": {}}}}}), len(shown("x" * 1000)))
    {'a': {'a': {'a': {...}}}} 80
    """
    return _REPR.repr(value)


def text_problem(value: str, *, line: bool = False) -> str | None:
    r"""Why ``value`` cannot be stored as text, or ``None``.

    Text must encode as UTF-8 (no lone surrogates, which Python uses for bytes it
    could not decode) and hold no NUL. ``line=True`` (names, tags, statuses) also
    refuses every other control character: newlines, tabs, escapes.

    >>> text_problem("ok"), text_problem("two\nlines"), text_problem("two\nlines", line=True)
    (None, None, "holds the control character '\\n' at position 3")
    """
    found = _SURROGATE.search(value)
    if found:
        return (f"holds a lone surrogate {found[0]!r} at position {found.start()}, which is"
                " not valid UTF-8 (text decoded with errors='surrogateescape' has them)")
    found = (_CONTROL if line else _NUL).search(value)
    if found:
        return f"holds the control character {found[0]!r} at position {found.start()}"
    return None


def check_text(value: Any, field: str, max_len: int, min_len: int = 1, *,
               line: bool = False) -> str:
    """``value`` if it is text of ``min_len`` to ``max_len`` characters that can be stored.

    Raises
    ------
    ValidationError
        If ``value`` is not a ``str``, has the wrong length, or breaks
        :func:`text_problem` (``line=True``: one line without control characters).
    """
    if not isinstance(value, str):
        raise ValidationError(f"{field} must be text, got {shown(value)}.", field=field,
                              value=value)
    if not min_len <= len(value) <= max_len:
        raise ValidationError(
            f"{field} must have {min_len} to {max_len} characters, got {len(value)}"
            f" ({_short_text(value)}).",
            field=field,
            value=value,
        )
    problem = text_problem(value, line=line)
    if problem:
        kind = "one line of printable text" if line else "valid Unicode text"
        raise ValidationError(f"{field} must be {kind}, but it {problem}: {_short_text(value)}."
                              " Remove that character.", field=field, value=value)
    return value


def check_int(value: Any, field: str, min_value: int, max_value: int) -> int:
    """``value`` as an ``int`` if it is an integer (not a bool) from ``min_value`` to
    ``max_value``. NumPy integers are accepted; floats and numeric text are not.

    Raises
    ------
    ValidationError
        If ``value`` is not an integer, or is outside the range.
    """
    if (isinstance(value, bool) or not isinstance(value, numbers.Integral)
            or not min_value <= value <= max_value):
        raise ValidationError(f"{field} must be an integer from {min_value} to {max_value},"
                              f" got {shown(value)}.", field=field, value=value)
    return int(value)


def check_names(values: Any, field: str, max_len: int, *, item: str = "name",
                max_items: int | None = None) -> list[str]:
    """A list of names (each one line of 1 to ``max_len`` characters), in order.

    ``field`` names the argument, ``item`` one of its names in messages.

    A lone string is one name, not a sequence of letters. ``None``, a mapping or
    anything that is not a collection is refused.

    Raises
    ------
    ValidationError
        If ``values`` is not a name or a collection of names, holds a bad name, or
        holds more than ``max_items``.
    """
    if isinstance(values, str):
        values = [values]
    if isinstance(values, (bytes, Mapping)) or not isinstance(values, Iterable):
        raise ValidationError(f"{field} must be a list of names (text), got {shown(values)}.",
                              field=field, value=values)
    items = list(values)
    if max_items is not None and len(items) > max_items:
        raise ValidationError(f"{field}: at most {max_items} {item}s at a time, got"
                              f" {len(items)}.", field=field, value=len(items))
    for name in items:
        try:
            check_text(name, item, max_len, line=True)
        except ValidationError as e:
            e.field = field  # the argument, for a form to point at
            raise
    return items


def _json_problem(value: Any, path: str, depth: int, max_depth: int,
                  stack: list[tuple[Any, str, int]]) -> str | None:
    if value is None or isinstance(value, bool | numbers.Integral):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{path} is {value}, not a finite number"
    if isinstance(value, str):
        problem = text_problem(value)
        return f"{path} {problem}" if problem else None
    if not isinstance(value, Mapping | list | tuple):
        return f"{path} is a {type(value).__name__}, not a JSON value"
    if depth >= max_depth:
        return f"{path} is nested deeper than {max_depth} levels"
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):  # JSON would turn 1 into "1": two keys could collide
                return f"{path} has the key {shown(key)}, but keys must be text"
            problem = text_problem(key, line=True)
            if problem:
                return f"{path} has a key that {problem}"
            stack.append((item, f"{path}.{key}", depth + 1))
    else:
        stack.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value))
    return None


def check_json(value: Any, field: str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``value`` if it is plain JSON: dicts with text keys, lists, text, finite
    numbers, booleans and ``None``, at most ``max_depth`` levels deep.

    Walked without recursion, so a very deep value is refused, not a crash.

    >>> check_json({1: "a", "1": "b"}, "attributes")
    Traceback (most recent call last):
    ...
    circus_nb.errors.ValidationError: attributes must be plain JSON, but attributes has the ...

    Raises
    ------
    ValidationError
        Naming the first part of ``value`` that is not plain JSON.
    """
    stack: list[tuple[Any, str, int]] = [(value, field, 0)]
    while stack:
        item, path, depth = stack.pop()
        problem = _json_problem(item, path, depth, max_depth, stack)
        if problem:
            raise ValidationError(f"{field} must be plain JSON, but {problem}.", field=path,
                                  value=item)
    return value


def check_color(value: Any, field: str = "color") -> str:
    """``value`` if it is a lowercase ``#rrggbb`` color."""
    if isinstance(value, str) and _COLOR.match(value):
        return value
    hint = ""
    if isinstance(value, str) and _COLOR.match(value.lower()):
        hint = f" Write it as {value.lower()!r}."
    raise ValidationError(
        f"{field} must be lowercase '#rrggbb', got {shown(value)}.{hint}", field=field,
        value=value
    )


def check_email(value: Any) -> str:
    """``value`` if it looks like an e-mail address (users are keyed by e-mail)."""
    if (isinstance(value, str) and len(value) <= 254 and _EMAIL.match(value)
            and text_problem(value, line=True) is None):
        return value
    raise ValidationError(
        f"A user is named by an e-mail address such as 'ann@example.org', got {shown(value)}.",
        field="email",
        value=value,
    )


def new_id() -> str:
    """A new 26-character lowercase ULID-style id: sortable by creation time.

    48 bits of milliseconds since the epoch then 80 random bits, in Crockford's
    base 32 (no i, l, o, u).
    """
    number = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        number, digit = divmod(number, 32)
        chars.append(_CROCKFORD[digit])
    return "".join(reversed(chars))
