"""``ResultsTable``: one clickable HTML table of search results, for any browser widget.

The kernel holds the state as traits: the ``columns`` and the ``sort_keys`` behind
them, the ``rows`` (text, already formatted) and the ``row_keys`` that name them (a series
UID, a case id; not ``keys``, which every ipywidget has: the names of its synced
traits), the ``selected`` keys and the ``sort``. The browser only draws them and reports clicks
(a row, with or without Ctrl/Cmd/Shift; a header); the kernel decides what a click
does, so a click and its Python twin (:meth:`ResultsTable.click_row`,
:meth:`ResultsTable.click_header`) take the same path.

>>> table = ResultsTable(columns=["Case", "Created"], sort_keys=["case_id", "created_at"])
>>> table.set_rows([["c1", "2024-05-01"], ["c2", "2024-05-02"]], keys=["c1", "c2"])
>>> table.click_row("c2")
>>> table.selected
['c2']
>>> table.click_header("Created")  # ascending, then descending
>>> table.click_header("Created")
>>> table.sort
['-created_at']
>>> table
<ResultsTable 2 rows, 1 selected, sort -created_at>
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from ..domain.values import shown
from ..errors import ValidationError

__all__ = ["ResultsTable", "toggled_sort"]


def toggled_sort(sort: Sequence[str], key: str) -> list[str]:
    """The sort after a click on the header of ``key``: ascending, then descending.

    >>> toggled_sort([], "modality"), toggled_sort(["modality"], "modality")
    (['modality'], ['-modality'])
    >>> toggled_sort(["-modality", "series_uid"], "modality"), toggled_sort(["-x"], "y")
    (['modality'], ['y'])
    """
    return [f"-{key}"] if list(sort[:1]) == [key] else [key]


class ResultsTable(anywidget.AnyWidget):
    """A table whose rows select and whose headers sort.

    Traits (synced with the browser): ``columns``, ``sort_keys`` (one a column, ``""``
    when it does not sort), ``rows``, ``row_keys`` (one a row), ``selected``, ``multiple``,
    ``sort`` (e.g. ``["-created_at"]``), ``caption`` and ``empty_text``. A click on a
    row selects it alone; with ``multiple``, Ctrl/Cmd/Shift + click adds or removes it.
    """

    _esm = Path(__file__).with_name("_table.js")
    _css = Path(__file__).with_name("_table.css")
    columns = traitlets.List(traitlets.Unicode()).tag(sync=True)
    sort_keys = traitlets.List(traitlets.Unicode()).tag(sync=True)
    rows = traitlets.List(traitlets.List(traitlets.Unicode())).tag(sync=True)
    row_keys = traitlets.List(traitlets.Unicode()).tag(sync=True)
    selected = traitlets.List(traitlets.Unicode()).tag(sync=True)
    multiple = traitlets.Bool(False).tag(sync=True)
    sort = traitlets.List(traitlets.Unicode()).tag(sync=True)
    caption = traitlets.Unicode("").tag(sync=True)
    empty_text = traitlets.Unicode("No rows.").tag(sync=True)

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.on_error: Callable[[Exception], Any] = _raise  # a message failed
        self.on_msg(self._on_message)

    # -- the Python side -------------------------------------------------------------------

    def set_rows(self, rows: Iterable[Sequence[Any]], keys: Iterable[str],
                 selected: Iterable[str] | None = None) -> None:
        """Show ``rows`` named by ``keys``; the selection keeps the keys still shown
        (or becomes ``selected``). Every row has one text a column."""
        rows = [[str(cell) for cell in row] for row in rows]
        keys = [str(key) for key in keys]
        if len(rows) != len(keys):
            raise ValidationError(f"{len(rows)} rows but {len(keys)} keys: give one key a"
                                  " row.", field="row_keys", value=len(keys))
        wrong = [i for i, row in enumerate(rows) if len(row) != len(self.columns)]
        if wrong:
            raise ValidationError(f"Row {wrong[0]} has {len(rows[wrong[0]])} cells, not one"
                                  f" for each of the {len(self.columns)} columns.",
                                  field="rows", value=wrong[0])
        _check_unique(keys)
        chosen = set(self.selected if selected is None else selected)
        with self.hold_sync():  # one message to the browser
            self.rows, self.row_keys = rows, keys  # the selection drops keys no longer shown
            self.selected = [key for key in keys if key in chosen][:None if self.multiple else 1]

    def select(self, keys: Iterable[str]) -> None:
        """Select exactly ``keys`` (at most one unless ``multiple``)."""
        self.selected = list(keys)

    def clear_selection(self) -> None:
        self.selected = []

    def click_row(self, key: str, toggle: bool = False) -> None:
        """What a click on the row of ``key`` does: select it alone; with ``toggle``
        (Ctrl/Cmd/Shift held) and ``multiple``, add it to the selection or remove it."""
        self._check_known([key])
        if not (self.multiple and toggle):
            self.selected = [key]
        elif key in self.selected:
            self.selected = [k for k in self.selected if k != key]
        else:
            self.selected = [k for k in self.row_keys if k in {*self.selected, key}]

    def click_header(self, column: str) -> None:
        """What a click on the header of ``column`` does: sort by its key ascending, or
        descending when it sorts ascending already (see :func:`toggled_sort`)."""
        if column not in self.columns:
            raise ValidationError(f"No column {shown(column)}; the columns are"
                                  f" {', '.join(self.columns)}.", field="column", value=column)
        key = self._sort_key(self.columns.index(column))
        if not key:
            raise ValidationError(f"The column {column} does not sort.", field="column",
                                  value=column)
        self.sort = toggled_sort(self.sort, key)

    def on_select(self, handler: Callable[[list[str]], Any]) -> None:
        """Call ``handler(selected)`` after each change of the selection."""
        self.observe(lambda change: handler(list(change["new"])), "selected")

    def on_sort(self, handler: Callable[[list[str]], Any]) -> None:
        """Call ``handler(sort)`` after each change of the sort."""
        self.observe(lambda change: handler(list(change["new"])), "sort")

    # -- invariants ------------------------------------------------------------------------

    @traitlets.validate("selected")
    def _valid_selected(self, proposal: dict) -> list[str]:
        keys = list(dict.fromkeys(proposal["value"]))
        self._check_known(keys)
        if len(keys) > 1 and not self.multiple:
            raise ValidationError(f"This table selects one row at a time, got {len(keys)}:"
                                  f" {', '.join(keys)}. Set multiple=True to select several.",
                                  field="selected", value=keys)
        return keys

    @traitlets.validate("row_keys")
    def _valid_keys(self, proposal: dict) -> list[str]:
        _check_unique(proposal["value"])
        return proposal["value"]

    @traitlets.observe("row_keys")
    def _keep_shown(self, change: dict) -> None:
        shown_keys = set(change["new"])
        if any(key not in shown_keys for key in self.selected):
            self.selected = [key for key in self.selected if key in shown_keys]

    @traitlets.observe("multiple")
    def _keep_one(self, change: dict) -> None:
        if not change["new"] and len(self.selected) > 1:
            self.selected = self.selected[:1]

    def _check_known(self, keys: Iterable[str]) -> None:
        known = set(self.row_keys)
        unknown = [key for key in keys if key not in known]
        if unknown:
            raise ValidationError(f"No row has the key(s) {', '.join(map(str, unknown))};"
                                  " select among the keys shown (the row_keys trait).",
                                  field="selected", value=unknown)

    def _sort_key(self, index: int) -> str:
        return self.sort_keys[index] if index < len(self.sort_keys) else ""

    # -- the browser's messages ------------------------------------------------------------

    def _on_message(self, _widget: Any, content: Any, _buffers: list) -> None:
        try:
            self._handle(content)
        except Exception as e:  # a comm handler must not raise into the notebook
            self.on_error(e)

    def _handle(self, content: Any) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "click":
            if content.get("key") in self.row_keys:  # else a row of rows since replaced
                self.click_row(content["key"], toggle=bool(content.get("toggle")))
        elif kind == "header":
            column = content.get("column")
            if (isinstance(column, int) and 0 <= column < len(self.columns)
                    and self._sort_key(column)):  # else a header that does not sort
                self.click_header(self.columns[column])
        else:
            raise ValidationError(f"The browser sent a message this table does not know:"
                                  f" {shown(content)}. Run the cell again to load the table"
                                  " afresh.", field="type", value=kind)

    def __repr__(self) -> str:
        sort = f", sort {', '.join(self.sort)}" if self.sort else ""
        return f"<ResultsTable {len(self.rows)} rows, {len(self.selected)} selected{sort}>"


def _check_unique(keys: Sequence[str]) -> None:
    repeated = sorted(key for key, n in Counter(keys).items() if n > 1)
    if repeated:
        raise ValidationError(f"Row keys must differ; repeated: {', '.join(repeated)}.",
                              field="row_keys", value=repeated)


def _raise(error: Exception) -> None:
    raise error
