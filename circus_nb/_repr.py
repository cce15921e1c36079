"""Text and HTML reprs, built by small pure functions that escape everything.

Every user-facing object shows a one-line ``repr`` and, in a notebook, a small
card: a title and a list of ``(label, value)`` rows, optionally followed by a
table. Both views are made from the same rows so they cannot drift apart.

>>> print(card_html("Range", [("start", "<1>")]))  # doctest: +ELLIPSIS
<div class="cnb-card" ...><b>Range</b>...&lt;1&gt;...
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

_CARD_STYLE = (
    "font-family: var(--jp-ui-font-family, sans-serif); font-size: 13px;"
    " border-left: 3px solid #4a7ebb; padding: 4px 10px; margin: 4px 0;"
)
_CELL = "padding: 1px 10px 1px 0; text-align: left; vertical-align: top;"


def _text(value: Any) -> str:
    return "—" if value is None or value == "" else str(value)


def rows_html(rows: Iterable[tuple[str, Any]]) -> str:
    """A two-column table of labels and escaped values."""
    body = "".join(
        f'<tr><th style="{_CELL} color: #666; font-weight: normal;">{escape(label)}</th>'
        f'<td style="{_CELL}">{escape(_text(value))}</td></tr>'
        for label, value in rows
    )
    return f"<table>{body}</table>"


def table_html(columns: Sequence[str], records: Iterable[Sequence[Any]]) -> str:
    """A plain table with a header row; every cell is escaped."""
    head = "".join(f'<th style="{_CELL}">{escape(c)}</th>' for c in columns)
    body = "".join(
        "<tr>" + "".join(f'<td style="{_CELL}">{escape(_text(v))}</td>' for v in rec) + "</tr>"
        for rec in records
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def card_html(title: str, rows: Iterable[tuple[str, Any]], extra: str = "") -> str:
    """A titled card; ``extra`` is trusted HTML built by the functions above."""
    return (
        f'<div class="cnb-card" style="{_CARD_STYLE}"><b>{escape(title)}</b>'
        f"{rows_html(rows)}{extra}</div>"
    )


def card_text(title: str, rows: Iterable[tuple[str, Any]]) -> str:
    """The plain-text twin of :func:`card_html`."""
    lines = [title] + [f"  {label}: {_text(value)}" for label, value in rows]
    return "\n".join(lines)
