"""The one exception hierarchy of circus_nb.

Every error the package raises on purpose is a :class:`CircusError`. The leaves
also subclass the matching built-in, so ``except ValueError`` keeps working in
code that knows nothing about circus_nb.

Messages state the rule, the value seen and the way out; the code that detects
a problem fills ``field`` and ``value`` so a user interface can point at it.

>>> try:
...     raise ValidationError("Delta must not be 0.", field="delta", value=0)
... except ValueError as e:
...     (e.field, e.value, str(e))
('delta', 0, 'Delta must not be 0.')
>>> [issubclass(error, CircusError) for error in
...  (ValidationError, PermissionDenied, NotFoundError, RevisionConflict)]
[True, True, True, True]
>>> issubclass(NotFoundError, KeyError), issubclass(PermissionDenied, PermissionError)
(True, True)
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CircusError",
    "CircusWarning",
    "NotFoundError",
    "PermissionDenied",
    "RevisionConflict",
    "ValidationError",
]


class CircusError(Exception):
    """Base class of every error circus_nb raises on purpose."""

    def __init__(self, message: str, *, field: str | None = None, value: Any = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.value = value

    def __str__(self) -> str:
        # KeyError would otherwise quote the message; every leaf reads the same.
        return self.message


class ValidationError(CircusError, ValueError):
    """A value breaks a rule: a malformed range, an unknown role, a bad color..."""


class PermissionDenied(CircusError, PermissionError):
    """The current user lacks a privilege, role or domain the action needs."""


class NotFoundError(CircusError, KeyError):
    """A store, user, group, project, series or case that does not exist."""


class CircusWarning(UserWarning):
    """Something legal but worth knowing: a guessed spacing, a restored revision whose
    attributes the project's schema would no longer accept..."""


class RevisionConflict(CircusError):
    """A save was based on a revision that is no longer the latest."""

    def __init__(self, message: str, *, base: int, latest: int):
        super().__init__(message, field="base", value=base)
        self.base = base
        self.latest = latest
