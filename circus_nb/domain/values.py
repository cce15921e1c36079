"""Small checks shared by the domain values: text, colors, e-mails and ids.

>>> check_color("#FF0000")
Traceback (most recent call last):
...
circus_nb.errors.ValidationError: color must be lowercase '#rrggbb', got '#FF0000'. Write it as ...
>>> len(new_id()), new_id().islower()
(26, True)
"""

from __future__ import annotations

import os
import re
import time
from typing import Any

from ..errors import ValidationError

__all__ = ["check_color", "check_email", "check_text", "new_id"]

_COLOR = re.compile(r"^#[0-9a-f]{6}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def check_text(value: Any, field: str, max_len: int, min_len: int = 1) -> str:
    """``value`` if it is text of ``min_len`` to ``max_len`` characters."""
    if not isinstance(value, str):
        raise ValidationError(f"{field} must be text, got {value!r}.", field=field, value=value)
    if not min_len <= len(value) <= max_len:
        shown = value if len(value) <= 40 else value[:37] + "..."
        raise ValidationError(
            f"{field} must have {min_len} to {max_len} characters, got {len(value)}"
            f" ({shown!r}).",
            field=field,
            value=value,
        )
    return value


def check_color(value: Any, field: str = "color") -> str:
    """``value`` if it is a lowercase ``#rrggbb`` color."""
    if isinstance(value, str) and _COLOR.match(value):
        return value
    hint = ""
    if isinstance(value, str) and _COLOR.match(value.lower()):
        hint = f" Write it as {value.lower()!r}."
    raise ValidationError(
        f"{field} must be lowercase '#rrggbb', got {value!r}.{hint}", field=field, value=value
    )


def check_email(value: Any) -> str:
    """``value`` if it looks like an e-mail address (users are keyed by e-mail)."""
    if isinstance(value, str) and len(value) <= 254 and _EMAIL.match(value):
        return value
    raise ValidationError(
        f"A user is named by an e-mail address such as 'ann@example.org', got {value!r}.",
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
