"""Saved searches and lists ("My List" in CIRCUS), per user.

A saved search is a name for the arguments of ``search_cases`` or ``search_series``,
kept as given: ``updated_from="-7d"`` stays "the last 7 days" on every run. A list is
a named set of case ids or series UIDs that its owner (and the members of the groups
it is shared with) add to and remove from; it filters searches (``in_list=``) and
feeds ``store.dataset(..., in_list=)`` and ``store.export_cases(the_list, ...)``.

>>> import circus_nb as cnb
>>> store = cnb.demo_store()
>>> store.save_search("series", "recent CT", modality="CT", imported_from="-7d")
{'imported_from': '-7d', 'modality': 'CT'}
>>> len(store.search_series(preset="recent CT")), len(store.search_series(preset="recent CT",
...                                                                       description="lung"))
(4, 1)
>>> chosen = store.create_list("series", "to label", items=store.search_series(modality="MR")
...                            ["series_uid"])
>>> chosen
<ItemList 'to label' (series, 1 item) of alice@example.org>
>>> list(store.search_series(in_list="to label")["modality"])
['MR']
>>> store.close()
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from difflib import get_close_matches
from numbers import Integral
from typing import TYPE_CHECKING, Any

import pandas as pd

from .._repr import card_html, card_text
from ..domain.values import check_names, check_text, new_id, shown
from ..errors import NotFoundError, PermissionDenied, ValidationError
from ..store import accounts, projects
from ..store import cases as cases_sql
from ..store import collections as sql
from ..store import series as series_sql

if TYPE_CHECKING:
    from .store import Store

__all__ = ["KINDS", "ItemList"]

KINDS = ("cases", "series")
MAX_NAME = 128
MAX_ITEMS_PER_CALL = 1000
MAX_EDITORS = 32
_NOT_KEPT = ("limit", "offset", "preset")


def check_kind(kind: Any) -> str:
    if kind not in KINDS:
        raise ValidationError(f"kind must be 'cases' or 'series', got {shown(kind)}.",
                              field="kind", value=kind)
    return kind


def _kinds(kind: Any) -> tuple[str, ...]:
    return KINDS if kind is None else (check_kind(kind),)


def _check_name(name: Any, field: str = "name") -> str:
    """One line of 1 to 128 characters, not blank and without spaces around it (a name
    that differs from another only by them could not be told apart in a menu)."""
    name = check_text(name, field, MAX_NAME, line=True)
    if name != name.strip() or not name.strip():
        fixed = name.strip()
        way_out = f" Use {fixed!r}." if fixed else " Give a name, such as 'to review'."
        raise ValidationError(f"{field} must not be blank or start or end with spaces, got"
                              f" {name!r}.{way_out}", field=field, value=name)
    return name


# -- saved searches ---------------------------------------------------------------------

def _jsonable(value: Any, field: str) -> Any:
    """A filter value as JSON keeps it: dates as ISO text, a list by its id."""
    if isinstance(value, ItemList):
        return value.list_id
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, list | tuple):
        return [_jsonable(v, field) for v in value]
    if value is None or isinstance(value, str | float | bool):
        return value
    raise ValidationError(f"A saved search keeps text, numbers, dates and lists; {field}"
                          f" is {shown(value)}.", field=field, value=value)


def save_search(store: Store, kind: Any, name: Any, filters: dict[str, Any]) -> dict[str, Any]:
    """Check ``filters`` by running the search once, then keep them under ``name``."""
    kind, name = check_kind(kind), _check_name(name)
    run = store.search_cases if kind == "cases" else store.search_series
    _check_keywords(filters, run, f"search_{kind}")
    given = {key: value for key, value in filters.items() if value is not None}
    run(**given, limit=1)  # every check of the search itself, permissions included
    kept = {key: _jsonable(value, key) for key, value in sorted(given.items())}
    if "in_list" in kept:
        kept["in_list"] = resolve_list(store, kept["in_list"], kind)
    with store._write() as con:
        sql.save_search(con, store.user, kind, name, kept, datetime.now(UTC))
    return kept


def _check_keywords(filters: dict[str, Any], search: Any, where: str) -> None:
    """Refuse a name the search does not take, or one a saved search cannot keep."""
    taken = [p for p in inspect.signature(search).parameters if p not in _NOT_KEPT]
    for field in filters:
        if field in _NOT_KEPT:
            raise ValidationError(f"A saved search keeps conditions, not {field!r}: the"
                                  " browser pages through the results.", field=field,
                                  value=filters[field])
        if field not in taken:
            close = get_close_matches(field, taken, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValidationError(f"{where} has no filter {field!r}.{hint}", field=field,
                                  value=filters[field])


def preset_filters(store: Store, kind: str, name: Any, field: str = "preset"
                   ) -> dict[str, Any]:
    """The filters saved under ``name``; ``NotFoundError`` with the names there are."""
    name = check_text(name, field, MAX_NAME, line=True)
    filters = sql.saved_search(store._db(), store.user, kind, name)
    if filters is None:
        known = list(sql.saved_searches(store._db(), store.user, (kind,))["name"])
        raise accounts.not_found(f"saved {kind} search", name, known,
                                 f"Save one with store.save_search({kind!r}, name, ...).")
    return filters


def with_preset(store: Store, kind: str, preset: Any, given: dict[str, Any],
                ignore: tuple[str, ...] = ()) -> dict[str, Any]:
    """``given`` with what it leaves ``None`` taken from the saved search ``preset``
    (but for the names in ``ignore``)."""
    if preset is None:
        return given
    saved = {k: v for k, v in preset_filters(store, kind, preset).items() if k not in ignore}
    if saved.get("in_list") is not None and given.get("in_list") is None:
        rights = store.rights
        if not sql.find_lists(store._db(), rights.user, rights.groups, saved["in_list"]):
            raise NotFoundError(f"The saved search {preset!r} keeps the list"
                                f" {saved['in_list']!r}, which is gone (deleted, or no longer"
                                " shared with you). Give in_list= another list, or save the"
                                f" search again without it (store.save_search({kind!r},"
                                f" {preset!r}, ...)).", field="in_list",
                                value=saved["in_list"])
    return {**given, **saved, **{k: v for k, v in given.items() if v is not None}}


def searches(store: Store, kind: Any = None) -> pd.DataFrame:
    return sql.saved_searches(store._db(), store.user, _kinds(kind))


def delete_search(store: Store, kind: Any, name: Any) -> None:
    kind = check_kind(kind)
    preset_filters(store, kind, name, "name")  # NotFoundError for an unknown name
    with store._write() as con:
        sql.delete_search(con, store.user, kind, name)


# -- lists ------------------------------------------------------------------------------

class ItemList:
    """A named list of case ids or series UIDs; reads its items from the store.

    ``len``, iteration and ``in`` see the items that still exist; ``add`` and
    ``remove`` take up to 1,000 ids at a time; ``share(groups)`` (the owner only)
    lets the members of those groups see and edit it.

    >>> import circus_nb as cnb
    >>> store = cnb.demo_store()
    >>> picked = store.create_list("series", "to label")
    >>> isinstance(picked, cnb.ItemList), len(picked.add(store.search_series()["series_uid"]))
    (True, 5)
    >>> picked.share(["students"]).editors, len(picked.remove(picked.items[:2]))
    (['students'], 3)
    >>> store.close()
    """

    def __init__(self, store: Store, list_id: str, kind: str, name: str, owner: str):
        self._store = store
        self.list_id, self.kind, self.name, self.owner = list_id, kind, name, owner

    @property
    def items(self) -> list[str]:
        """The ids in the list, in the order they were added."""
        return sql.items(self._store._db(), self.list_id, self.kind)

    @property
    def editors(self) -> list[str]:
        """The groups the list is shared with."""
        return sql.editors_of(self._store._db(), [self.list_id]).get(self.list_id, [])

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[str]:
        return iter(self.items)

    def __contains__(self, item: object) -> bool:
        return item in self.items

    def add(self, ids: Any) -> ItemList:
        """Add cases (you need ``read`` on their projects) or series (of your domains)."""
        ids = _ids(ids, self.kind)
        with self._store._write() as con:
            self._require_visible(con)
            _require_readable(self._store, con, self.kind, ids)
            sql.add_items(con, self.list_id, ids, datetime.now(UTC))
        return self

    def remove(self, ids: Any) -> ItemList:
        """Remove ids from the list (ids not in it are ignored)."""
        ids = _ids(ids, self.kind)
        with self._store._write() as con:
            self._require_visible(con)
            sql.remove_items(con, self.list_id, ids)
        return self

    def share(self, groups: Iterable[str]) -> ItemList:
        """Make the members of ``groups`` editors (replacing the groups shared with)."""
        groups = _editors(groups)
        with self._store._write() as con:
            self._require_owner("share")
            self._require_visible(con)
            accounts.require_groups(con, groups)
            sql.set_editors(con, self.list_id, groups)
        return self

    def _require_visible(self, con: Any) -> None:
        rights = self._store.rights
        if not sql.find_lists(con, rights.user, rights.groups, self.list_id):
            raise NotFoundError(f"The list {self.name!r} is gone, or no longer shared with"
                                " you.", field="list", value=self.name)

    def _require_owner(self, action: str) -> None:
        if self.owner != self._store.user:
            raise PermissionDenied(f"Only the owner ({self.owner}) may {action} the list"
                                   f" {self.name!r}; you are {self._store.user}.",
                                   field="list", value=self.name)

    def _rows(self) -> list[tuple[str, Any]]:
        return [("kind", self.kind), ("owner", self.owner), ("items", len(self)),
                ("shared with", ", ".join(self.editors) or "nobody"), ("id", self.list_id)]

    def __repr__(self) -> str:
        count = len(self)
        return (f"<ItemList {self.name!r} ({self.kind}, {count} item{'s' * (count != 1)})"
                f" of {self.owner}>")

    def __str__(self) -> str:
        return card_text(f"List {self.name}", self._rows())

    def _repr_html_(self) -> str:
        return card_html(f"List {self.name}", self._rows())


def _ids(ids: Any, kind: str) -> list[str]:
    if isinstance(ids, pd.DataFrame):  # a search's results: their ids, not column names
        column = "case_id" if kind == "cases" else "series_uid"
        if column not in ids.columns:
            raise ValidationError(f"A table of {kind} needs a {column!r} column; this one has"
                                  f" {', '.join(map(str, ids.columns[:6])) or 'none'}. Pass"
                                  f" the ids, such as frame[{column!r}].", field="ids",
                                  value=list(ids.columns))
        ids = ids[column]
    if isinstance(ids, pd.Series | pd.Index):
        ids = ids.tolist()
    if isinstance(ids, ItemList):
        ids = ids.items
    what = "case id" if kind == "cases" else "series UID"
    return list(dict.fromkeys(check_names(ids, "ids", 64, item=what,
                                          max_items=MAX_ITEMS_PER_CALL)))


def _editors(groups: Any) -> list[str]:
    return list(dict.fromkeys(check_names(groups, "editors", 64, item="group",
                                          max_items=MAX_EDITORS)))


def _require_readable(store: Store, con: Any, kind: str, ids: list[str]) -> None:
    """Every id names a case of a readable project, or a series of the user's domains."""
    rights = store.rights
    if kind == "cases":
        found = {case_id: head[0] for case_id, head in cases_sql.heads(con, ids).items()}
        allowed = set(projects.readable_ids(con, rights))
    else:
        found = series_sql.series_domains(con, ids)
        allowed = set(rights.domains)
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFoundError(f"No {'case' if kind == 'cases' else 'series'}"
                            f" {missing[0]!r} ({len(missing)} of {len(ids)} not found)."
                            " Nothing was added.", field="ids", value=missing)
    hidden = [i for i in ids if found[i] not in allowed]
    if hidden:
        where = "projects you cannot read" if kind == "cases" else "domains not yours"
        raise PermissionDenied(f"{len(hidden)} of the {kind} are in {where}, such as"
                               f" {hidden[0]!r}. Nothing was added.", field="ids", value=hidden)


def create_list(store: Store, kind: Any, name: Any, items: Any, editors: Any) -> ItemList:
    kind, name, editors = check_kind(kind), _check_name(name), _editors(editors)
    ids = _ids(items, kind)
    list_id = new_id()
    with store._write() as con:
        if sql.name_taken(con, store.user, kind, name):
            raise ValidationError(f"You already have a {kind} list named {name!r}; choose"
                                  " another name, or add to it with store.get_list(name).add().",
                                  field="name", value=name)
        accounts.require_groups(con, editors)
        _require_readable(store, con, kind, ids)
        sql.create_list(con, list_id, store.user, kind, name, editors, datetime.now(UTC))
        sql.add_items(con, list_id, ids, datetime.now(UTC))
    return ItemList(store, list_id, kind, name, store.user)


def lists(store: Store, kind: Any = None) -> pd.DataFrame:
    rights = store.rights
    return sql.visible_lists(store._db(), rights.user, rights.groups, _kinds(kind))


def get_list(store: Store, name: Any, kind: Any = None, field: str = "name") -> ItemList:
    """Your list ``name`` (else one shared with you), or the list with that id."""
    if isinstance(name, ItemList):
        name = name.list_id
    name = check_text(name, field, MAX_NAME, line=True)
    wanted = _kinds(kind)
    rights = store.rights
    found = [row for row in sql.find_lists(store._db(), rights.user, rights.groups, name)
             if row[1] in wanted]
    if not found:
        known = list(lists(store, kind)["name"])
        raise accounts.not_found("list", name, known,
                                 "Make one with store.create_list(kind, name, items).")
    list_id, kind, name, owner = found[0]
    return ItemList(store, list_id, kind, name, owner)


def resolve_list(store: Store, value: Any, kind: str) -> str:
    """The id of the list a search's ``in_list`` names (a name, an id or an ItemList)."""
    found = get_list(store, value, field="in_list")
    if found.kind != kind:
        raise ValidationError(f"The list {found.name!r} holds {found.kind}; a {kind} search"
                              f" needs a list of {kind}.", field="in_list", value=found.name)
    return found.list_id


def delete_list(store: Store, name: Any) -> None:
    found = get_list(store, name)
    found._require_owner("delete")
    with store._write() as con:
        sql.delete_list(con, found.list_id)
