"""``SearchTools``: the saved searches and lists row both browsers show.

A saved search is picked from a menu (it runs at once) or saved under a name from
the browser's current filters; a list is picked from a menu, shown (a search of its
items), filled with the selected rows, emptied of them, or made from them. Each
control calls a method; the browsers offer the same methods under their own names.

>>> import circus_nb as cnb
>>> store = cnb.demo_store()
>>> ran = []
>>> tools = SearchTools(store, "series", filters=lambda: {"modality": "MR"},
...                     selection=lambda: [], run=ran.append)
>>> tools.save_search("MR only")
{'modality': 'MR'}
>>> tools.preset.options
(('—', ''), ('MR only', 'MR only'))
>>> tools.apply_preset("MR only"); ran
[{'preset': 'MR only'}]
>>> store.close()
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from ..api.collections import ItemList
from ..api.store import Store
from ..errors import ValidationError
from ._common import Guard, Message, button, run_and_show

__all__ = ["SavedSearchesAndLists", "SearchTools", "expand_preset"]

NONE = ("—", "")


class SearchTools(widgets.VBox):
    """Saved searches and lists of one ``kind`` (``"cases"`` or ``"series"``).

    ``filters()`` gives the browser's current filters (what Save keeps),
    ``selection()`` the selected ids, and ``run(filters)`` searches.
    """

    def __init__(self, store: Store, kind: str, *, filters: Callable[[], dict[str, Any]],
                 selection: Callable[[], list[str]], run: Callable[[dict[str, Any]], Any],
                 message: Message | None = None):
        self.store, self.kind = store, kind
        self._filters, self._selection, self._run = filters, selection, run
        self.message = message or Message()
        self._quiet = Guard()
        wide = widgets.Layout(width="260px")
        self.preset = widgets.Dropdown(description="Saved search", layout=wide,
                                       style={"description_width": "90px"})
        self.preset_name = widgets.Text(placeholder="name for these filters",
                                        layout=widgets.Layout(width="180px"))
        self.save_button = button("Save search", tooltip="Keep the filters under this name")
        self.list_picker = widgets.Dropdown(description="List", layout=wide,
                                            style={"description_width": "90px"})
        self.show_list_button = button("Show", tooltip="Search the items of the list")
        self.add_button = button("Add selected", tooltip="Add the selected rows to the list")
        self.remove_button = button("Remove selected",
                                    tooltip="Remove the selected rows from the list")
        self.list_name = widgets.Text(placeholder="new list name",
                                      layout=widgets.Layout(width="180px"))
        self.new_list_button = button("New list", tooltip="A new list of the selected rows")
        super().__init__([
            widgets.HBox([self.preset, self.preset_name, self.save_button]),
            widgets.HBox([self.list_picker, self.show_list_button, self.add_button,
                          self.remove_button, self.list_name, self.new_list_button])])
        self.refresh()
        self._wire()

    def _wire(self) -> None:
        show = lambda action: lambda _: run_and_show(self.message, action)  # noqa: E731
        self.preset.observe(self._on_preset, "value")
        self.save_button.on_click(show(lambda: self.save_search(self.preset_name.value)))
        self.show_list_button.on_click(show(lambda: self.show_list(self._picked_list())))
        self.add_button.on_click(show(lambda: self.add_selected(self._picked_list())))
        self.remove_button.on_click(show(lambda: self.remove_selected(self._picked_list())))
        self.new_list_button.on_click(show(lambda: self.new_list(self.list_name.value)))

    # -- the Python side -------------------------------------------------------------------

    def refresh(self) -> None:
        """Offer the saved searches and lists as the store has them now."""
        names = list(self.store.searches(self.kind)["name"])
        lists = self.store.lists(self.kind)
        labels = [name if owner == self.store.user else f"{name} ({owner})"
                  for name, owner in zip(lists["name"], lists["owner"], strict=True)]
        with self._quiet():
            self.preset.options = [NONE, *((n, n) for n in names)]
            self.preset.value = ""
        chosen = self.list_picker.value
        self.list_picker.options = [NONE, *zip(labels, lists["list_id"], strict=True)]
        # "—" until a list is picked (a Dropdown without a value shows a blank)
        self.list_picker.value = chosen if chosen in set(lists["list_id"]) else ""

    def save_search(self, name: str) -> dict[str, Any]:
        """Keep the browser's current filters as ``name`` (replacing a search of that name)."""
        _require_name(name, "the search")
        # after a saved search was run, the filters name it: keep what it stands for
        kept = self.store.save_search(self.kind, name,
                                      **expand_preset(self.store, self.kind, self._filters()))
        self.refresh()
        self.message.show(f"Saved the search {name!r}.", "ok")
        return kept

    def apply_preset(self, name: str) -> Any:
        """Search with the saved search ``name``."""
        return self._run({"preset": name})

    def show_list(self, name: str | ItemList) -> Any:
        """Search the items of a list."""
        return self._run({"in_list": self.store.get_list(name, self.kind).list_id})

    def add_selected(self, name: str | ItemList) -> ItemList:
        """Add the selected rows to a list."""
        chosen = self.store.get_list(name, self.kind).add(self._selected())
        self.refresh_keeping(chosen)
        self.message.show(f"The list {chosen.name!r} holds {len(chosen)} {self.kind}.", "ok")
        return chosen

    def remove_selected(self, name: str | ItemList) -> ItemList:
        """Remove the selected rows from a list."""
        chosen = self.store.get_list(name, self.kind).remove(self._selected())
        self.refresh_keeping(chosen)
        self.message.show(f"The list {chosen.name!r} holds {len(chosen)} {self.kind}.", "ok")
        return chosen

    def new_list(self, name: str) -> ItemList:
        """A new list of the selected rows (none selected: an empty list)."""
        _require_name(name, "the new list")
        made = self.store.create_list(self.kind, name, items=self._selection())
        self.refresh_keeping(made)
        self.list_name.value = ""
        self.message.show(f"Made the list {made.name!r} of {len(made)} {self.kind}.", "ok")
        return made

    def refresh_keeping(self, chosen: ItemList) -> None:
        self.refresh()
        self.list_picker.value = chosen.list_id

    # -- helpers -------------------------------------------------------------------------

    def _selected(self) -> list[str]:
        chosen = self._selection()
        if not chosen:
            raise ValidationError(f"Select some {self.kind} first (click rows; Ctrl+click"
                                  " adds one).", field="selection", value=[])
        return chosen

    def _picked_list(self) -> str:
        if not self.list_picker.value:
            raise ValidationError("Pick a list first (or make one with New list).",
                                  field="list", value=None)
        return self.list_picker.value

    def _on_preset(self, change: dict) -> None:
        if change["new"] and not self._quiet:
            run_and_show(self.message, lambda: self.apply_preset(change["new"]))


def expand_preset(store: Store, kind: str, filters: dict[str, Any]) -> dict[str, Any]:
    """The filters a search with ``preset`` stands for (the given ones on top), for a
    browser's fields to show."""
    name = filters.get("preset")
    if not name:
        return filters
    saved = store.searches(kind).set_index("name")["filters"].get(name, {})
    return {**saved, **{k: v for k, v in filters.items() if k != "preset"}}


class SavedSearchesAndLists:
    """The methods both browsers offer for their :class:`SearchTools` (``self.tools``)."""

    tools: SearchTools

    def save_search(self, name: str) -> dict[str, Any]:
        """Keep the filters of the last search as the saved search ``name``."""
        return self.tools.save_search(name)

    def apply_preset(self, name: str) -> Any:
        """Search with the saved search ``name``."""
        return self.tools.apply_preset(name)

    def add_to_list(self, name: str | ItemList) -> ItemList:
        """Add the selected rows to a list (its name, id or ``ItemList``)."""
        return self.tools.add_selected(name)

    def remove_from_list(self, name: str | ItemList) -> ItemList:
        """Remove the selected rows from a list."""
        return self.tools.remove_selected(name)

    def new_list(self, name: str) -> ItemList:
        """A new list of the selected rows."""
        return self.tools.new_list(name)


def _require_name(name: Any, what: str) -> None:
    """A typed name, said plainly when the field is empty (the store checks the rest)."""
    if isinstance(name, str) and not name.strip():
        raise ValidationError(f"Type a name for {what} first.", field="name", value=name)
