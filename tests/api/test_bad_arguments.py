"""Every public Store, Case and Series method, called with arguments of the wrong type or
range (alone, and inside the items of a series list or a range): only a CircusError may
come out, and a refusal writes nothing.

Each method gets valid arguments (made fresh for each call, so a name is never taken
twice), then one argument at a time is swapped for each bad value.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable
from typing import Any

import pytest

import circus_nb as cnb
from circus_nb.api._checks import CASE_FILTERS, SERIES_FILTERS
from tests.conftest import snapshot


def _deep(levels: int) -> dict:
    value: dict = {}
    for _ in range(levels):
        value = {"a": value}
    return value


DEEP = _deep(5000)
SURROGATE = "\ud800"
BAD = [None, 123, "abc", 2**70, ["a"], SURROGATE, DEEP]
# Values no argument of any method may accept.
NEVER = (2**70, SURROGATE, DEEP)
BAD_IDS = ["None", "123", "abc", "2**70", "['a']", "surrogate", "deep-dict"]

_names = itertools.count()


class World:
    """A store (as its admin) with a project, a case and the samples imported."""

    def __init__(self, store: cnb.Store, sample_file, folder):
        self.store, self.sample_file, self.folder = store, sample_file, folder
        store.add_group("readers", domains=["default"])
        store.add_user("bob@example.org", groups=["readers"])
        self.project_id = store.create_project("Fuzz").project_id
        self.other_id = store.create_project("Fuzz target").project_id
        store.import_dicom(sample_file, progress=False)
        self.uid = store.search_series()["series_uid"][0]
        self.case = self.new_case()
        self.list = store.create_list("cases", "fuzz list", items=[self.case.case_id])

    def saved_search(self) -> str:
        name = self.name("s")
        self.store.save_search("cases", name, tags=["a"])
        return name

    def new_list(self) -> str:
        return self.store.create_list("cases", self.name("l")).name

    def new_case(self) -> cnb.Case:
        return self.store.create_case(self.project_id, [self.uid])

    def name(self, prefix: str = "n") -> str:
        return f"{prefix}{next(_names)}"


# method -> valid keyword arguments, made from the world at each call
STORE_CALLS: dict[str, Callable[[World], dict[str, Any]]] = {
    "add_group": lambda w: {"name": w.name("g"), "privileges": (), "domains": ("default",)},
    "add_user": lambda w: {"email": f"{w.name('u')}@example.org", "groups": (),
                           "display_name": None},
    "set_user_groups": lambda w: {"email": "bob@example.org", "groups": ["readers"]},
    "set_preference": lambda w: {"key": "personal_info_view", "value": False},
    "create_project": lambda w: {"name": w.name("p"), "description": "", "tags": (),
                                 "case_attributes_schema": None,
                                 "label_attributes_schema": None, "window_presets": (),
                                 "window_priority": "dicom,preset,auto"},
    "update_project": lambda w: {"project_id": w.other_id, "name": w.name("p"),
                                 "description": "d", "tags": ["t"],
                                 "case_attributes_schema": None,
                                 "label_attributes_schema": None, "window_presets": (),
                                 "window_priority": "dicom,preset,auto"},
    "project": lambda w: {"project_id": w.project_id},
    "projects": lambda w: {"role": "read"},
    "grant": lambda w: {"group": "readers", "project_id": w.project_id, "roles": ["read"]},
    "roles": lambda w: {"project_id": None},
    "import_dicom": lambda w: {"paths": w.sample_file, "domain": "default", "mode": "copy",
                               "progress": False},
    "series": lambda w: {"series_uid": w.uid},
    "resolve_auto": lambda w: {"series_uid": w.uid},
    "related_series": lambda w: {"series_uid": w.uid},
    "search_series": lambda w: {},
    "count_series": lambda w: dict.fromkeys([*SERIES_FILTERS, "preset"]),
    "create_case": lambda w: {"project_id": w.project_id, "series": [w.uid], "tags": ()},
    "case": lambda w: {"case_id": w.case.case_id},
    "delete_case": lambda w: {"case_id": w.new_case().case_id},
    "bulk_tags": lambda w: {"case_ids": [w.case.case_id], "operation": "add", "tags": ["t"]},
    "label_agreement": lambda w: {"case_ids": w.case.case_id, "a": 0, "b": -1, "entry": 0,
                                  "missing": "raise", "progress": False},
    "search_cases": lambda w: {},
    "count_cases": lambda w: dict.fromkeys([*CASE_FILTERS, "project_id", "as_of", "preset"]),
    "case_facets": lambda w: dict.fromkeys([*CASE_FILTERS, "project_id", "as_of", "preset"]),
    "save_search": lambda w: {"kind": "cases", "name": w.name("s"), "tags": ["a"],
                              "in_list": "fuzz list"},
    "searches": lambda w: {"kind": None},
    "delete_search": lambda w: {"kind": "cases", "name": w.saved_search()},
    "create_list": lambda w: {"kind": "cases", "name": w.name("l"), "items": [w.case.case_id],
                              "editors": ["readers"]},
    "lists": lambda w: {"kind": None},
    "get_list": lambda w: {"name": "fuzz list", "kind": "cases"},
    "delete_list": lambda w: {"name": w.new_list()},
    "export_cases": lambda w: {"case_ids": w.case.case_id,
                               "path": w.folder / f"{w.name('e')}.zip", "format": "mhd",
                               "labels": "isolated", "archive": "zip", "revision": None,
                               "progress": False},
    "dataset": lambda w: {"project_id": w.project_id, "tags": None, "status": None,
                          "as_of": None, "entry": 0, "in_list": None, "progress": False},
    "as_user": lambda w: {"email": "bob@example.org"},
}
CASE_CALLS: dict[str, Callable[[World], dict[str, Any]]] = {
    "revision": lambda w: {"index": 0},
    "diff": lambda w: {"a": 0, "b": 0},
    "compare_labels": lambda w: {"a": 0, "b": -1, "entry": 0},
    "volume": lambda w: {"i": 0, "revision": None},
    "save": lambda w: {"description": "x", "attributes": None, "status": None,
                       "series": None, "base": None},
    "revert": lambda w: {"to": 0, "description": None},
    "set_tags": lambda w: {"tags": ["t"]},
    "add_tags": lambda w: {"tags": ["t"]},
    "remove_tags": lambda w: {"tags": ["t"]},
    "to_seg": lambda w: {"path": w.folder / f"{w.name('s')}.dcm", "entry": 0, "revision": None},
}
SERIES_CALLS: dict[str, Callable[[World], dict[str, Any]]] = {
    "partial_volume": lambda w: {"spec": "auto"},
    "volume_shape": lambda w: {"pv": "auto"},
    "volume": lambda w: {"pv": "auto"},
    "dicom_window": lambda w: {"pv": "auto"},
    "thumbnail": lambda w: {"instance_number": 1, "size": 16},
    "draw_thumbnails": lambda w: {"pv": "auto", "count": 2, "size": 16, "ax": None},
}
LIST_CALLS: dict[str, Callable[[World], dict[str, Any]]] = {
    "add": lambda w: {"ids": [w.case.case_id]},
    "remove": lambda w: {"ids": ["not-in-it"]},
    "share": lambda w: {"groups": ["readers"]},
}
CALLS = {cnb.Store: STORE_CALLS, cnb.Case: CASE_CALLS, cnb.Series: SERIES_CALLS,
         cnb.ItemList: LIST_CALLS}
# Public methods without arguments, and those tried in their own tests below.
NO_ARGUMENTS = {"close", "users", "groups", "preferences", "may_view_patient_info", "history",
                "instances", "resolve_auto"}


def _arguments(owner: type, name: str, valid: dict[str, Any]) -> list[str]:
    """The arguments to spoil: the signature's, or for ``**filters`` the valid ones."""
    parameters = inspect.signature(getattr(owner, name)).parameters.values()
    named = [p.name for p in parameters if p.name != "self"
             and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
    return list(dict.fromkeys([*named, *valid]))


def _call(world: World, owner: type, name: str, kwargs: dict[str, Any]) -> Any:
    target = {cnb.Store: world.store, cnb.Case: world.case,
              cnb.Series: world.store.series(world.uid), cnb.ItemList: world.list}[owner]
    if name == "draw_thumbnails":
        import matplotlib.pyplot as plt

        try:
            return target.draw_thumbnails(**kwargs)
        finally:
            plt.close("all")
    if name == "as_user":
        with target.as_user(**kwargs):
            return None
    return getattr(target, name)(**kwargs)


@pytest.fixture(scope="module")
def world(tmp_path_factory, samples):
    folder = tmp_path_factory.mktemp("fuzz")
    sample = next(p for p in sorted(samples[0].rglob("*.dcm")))
    with pytest.MonkeyPatch.context() as patch, cnb.Store.create(folder / "store") as store:
        patch.chdir(folder)  # a path argument "abc" lands here, not in the repository
        yield World(store, sample, folder)


def test_every_public_method_is_tried():
    tried = set(STORE_CALLS) | set(CASE_CALLS) | NO_ARGUMENTS
    tried |= set(SERIES_CALLS) | set(LIST_CALLS)
    public = {name for owner in CALLS for name, value in vars(owner).items()
              if not name.startswith("_") and inspect.isfunction(value)}
    public |= {name for name, value in vars(cnb.api.case_methods.CaseMethods).items()
               if not name.startswith("_") and inspect.isfunction(value)}
    assert public - tried == set()


@pytest.mark.filterwarnings("ignore:The export")  # a path "abc" is a fine, odd, archive name
@pytest.mark.parametrize(("owner", "name"), [(owner, n) for owner, calls in CALLS.items()
                                              for n in calls])
@pytest.mark.parametrize("bad", BAD, ids=BAD_IDS)
def test_wrong_arguments_raise_circus_errors_and_write_nothing(world, owner, name, bad):
    calls = CALLS[owner]
    problems = []
    for argument in _arguments(owner, name, calls[name](world)):
        kwargs = {**calls[name](world), argument: bad}
        before = snapshot(world.store)
        try:
            _call(world, owner, name, kwargs)
        except cnb.CircusError:
            if snapshot(world.store) != before:
                problems.append(f"{argument}: refused, but something was written")
            continue
        except Exception as e:  # the point of the test: nothing but CircusError
            problems.append(f"{argument}: {type(e).__name__}: {str(e)[:200]}")
            continue
        if any(bad is never for never in NEVER):
            problems.append(f"{argument}: accepted")
    assert problems == [], f"{owner.__name__}.{name} with {BAD_IDS[BAD.index(bad)]}"


@pytest.mark.parametrize("bad", BAD, ids=BAD_IDS)
def test_create_and_open_refuse_wrong_arguments(tmp_path, monkeypatch, bad):
    monkeypatch.chdir(tmp_path)
    with cnb.Store.create(tmp_path / "store"):
        pass
    calls = [lambda: cnb.Store.create(bad),
             lambda: cnb.Store.create(tmp_path / "new", admin=bad),
             lambda: cnb.Store.open(bad, user="admin@example.org"),
             lambda: cnb.Store.open(tmp_path / "store", user=bad),
             lambda: cnb.Store.open(tmp_path / "store", user="admin@example.org",
                                    read_only=bad)]
    for call in calls:
        try:
            call().close()  # a valid value ("abc" as a folder, None as a temporary store)
        except cnb.CircusError:
            continue
        assert not any(bad is never for never in NEVER)


# Bad values inside the items a method takes: a series list, a range, a label list.
NESTED = {
    "create_case item": lambda w, bad: w.store.create_case(w.project_id, [bad]),
    "create_case spec": lambda w, bad: w.store.create_case(w.project_id, [(w.uid, bad)]),
    "create_case range": lambda w, bad: w.store.create_case(w.project_id,
                                                            [(w.uid, (1, bad, 1))]),
    "save spec": lambda w, bad: w.case.save("x", series=[(w.uid, bad)]),
    "save range": lambda w, bad: w.case.save("x", series=[(w.uid, (bad, 1, 1))]),
    "save labels": lambda w, bad: w.case.save("x", series=[
        cnb.SeriesEntry(w.uid, w.case.latest.series[0].partial_volume, (bad,))]),
    "volume range": lambda w, bad: w.store.series(w.uid).volume((1, 1, bad)),
    "bulk_tags item": lambda w, bad: w.store.bulk_tags([w.case.case_id, bad], "add", ["t"]),
}


@pytest.mark.parametrize("where", NESTED)
@pytest.mark.parametrize("bad", [*BAD, 2**31, -(2**70), (1, 2**70, 1)],
                         ids=[*BAD_IDS, "2**31", "-2**70", "huge-range"])
def test_bad_values_inside_items_are_circus_errors(world, where, bad):
    before = snapshot(world.store)
    try:
        NESTED[where](world, bad)
    except cnb.CircusError:
        assert snapshot(world.store) == before
    else:
        assert not any(bad is never for never in NEVER), f"{where}: accepted"


def test_numpy_integers_are_integers(world):
    import numpy as np

    one, zero = np.int64(1), np.int64(0)
    assert len(world.store.search_series(limit=one, offset=zero)) == 1
    assert len(world.store.search_cases(limit=one, offset=zero)) == 1
    assert world.case.revision(zero).index == 0
    assert world.case.volume(i=zero, revision=zero).shape == world.case.volume().shape
    assert world.store.series(world.uid).thumbnail(one, size=np.int64(8)).shape[0] <= 8
