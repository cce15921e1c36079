"""Saved searches, lists and facets, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import circus_nb as cnb
from tests.conftest import as_user, snapshot


def _ids(frame):
    return sorted(frame["case_id"])


# -- saved searches -------------------------------------------------------------------

def test_a_saved_search_runs_as_the_search_it_names(cases, three):
    lung, abdomen, _ = three
    kept = cases.save_search("cases", "lung a", project_id=cases.project_id, tags=["a"],
                             sort=["created_at"])
    assert kept == {"project_id": cases.project_id, "sort": ["created_at"], "tags": ["a"]}
    assert list(cases.search_cases(preset="lung a")["case_id"]) == [lung.case_id,
                                                                    abdomen.case_id]
    # arguments given override the preset's; the rest comes from it
    assert list(cases.search_cases(preset="lung a", tags=["b"])["case_id"]) == [lung.case_id]
    assert cases.count_cases(preset="lung a") == 2
    assert cases.count_cases(preset="lung a", tags=["a", "b"]) == 1


def test_relative_dates_stay_relative(cases, three):
    cases.save_search("cases", "this week", updated_from="-7d")
    assert cases.searches("cases").loc[0, "filters"] == {"updated_from": "-7d"}
    assert cases.count_cases(preset="this week") == 3
    assert cases.count_cases(updated_from="7 days ago") == 3
    assert cases.count_cases(updated_to="yesterday") == 0
    assert cases.count_cases(created_from="today") == 3
    assert cases.count_cases(created_from="-0h") == 0  # now: nothing is newer


def test_saved_searches_are_per_user_and_kind(cases, three):
    cases.save_search("cases", "mine", tags=["a"])
    cases.save_search("series", "mine", modality="MR")
    assert len(cases.search_series(preset="mine")) == len(cases.search_series(modality="MR"))
    with as_user(cases, "reader"):
        assert cases.searches().empty
        with pytest.raises(cnb.NotFoundError, match="No saved cases search 'mine'"):
            cases.search_cases(preset="mine")
    cases.save_search("cases", "mine", tags=["b"])  # saving again replaces
    assert list(cases.searches("cases")["filters"]) == [{"tags": ["b"]}]
    assert sorted(cases.searches()["kind"]) == ["cases", "series"]
    cases.delete_search("cases", "mine")
    with pytest.raises(cnb.NotFoundError, match="Did you mean"):
        cases.delete_search("series", "mien")


@pytest.mark.parametrize(("kind", "filters", "error", "message"), [
    ("case", {}, cnb.ValidationError, "kind must be 'cases' or 'series'"),
    ("cases", {"tag": ["a"]}, cnb.ValidationError, "Did you mean 'tags'"),
    ("cases", {"limit": 5}, cnb.ValidationError, "not 'limit'"),
    ("cases", {"updated_from": "last week"}, cnb.ValidationError, "relative to now"),
    ("cases", {"updated_from": "-5y"}, cnb.ValidationError, "hours, days or weeks"),
    ("cases", {"updated_from": "-99999999w"}, cnb.ValidationError, "a century"),
    ("series", {"patient_id": "P1"}, cnb.PermissionDenied, "patient information"),
    ("cases", {"project_id": "nope"}, cnb.NotFoundError, "nope"),
])
def test_a_search_that_would_fail_is_not_saved(cases, kind, filters, error, message):
    before = snapshot(cases)
    with as_user(cases, "reader"), pytest.raises(error, match=message):
        cases.save_search(kind, "bad", **filters)
    assert snapshot(cases) == before


# -- lists ------------------------------------------------------------------------------

def test_a_list_filters_searches_and_feeds_exports_and_datasets(cases, three, tmp_path):
    lung, abdomen, _ = three
    review = cases.create_list("cases", "to review", items=[abdomen.case_id])
    review.add([lung.case_id, abdomen.case_id])  # an item is in a list once
    assert review.items == [abdomen.case_id, lung.case_id]
    assert len(review) == 2 and lung.case_id in review
    assert _ids(cases.search_cases(in_list="to review")) == sorted([lung.case_id,
                                                                   abdomen.case_id])
    assert cases.count_cases(in_list=review, tags=["b"]) == 1
    assert cases.count_cases(in_list=review.list_id, as_of=datetime.now(UTC)) == 2
    review.remove([lung.case_id, "not-in-it"])
    assert list(review) == [abdomen.case_id]
    archive = cases.export_cases(review, tmp_path / "review.zip")
    assert archive.exists()
    ds = cases.dataset(cases.project_id, in_list="to review", progress=False)
    assert list(ds.cases["case_id"]) == [abdomen.case_id]


def test_a_deleted_case_leaves_its_lists(cases, three):
    lung, abdomen, _ = three
    review = cases.create_list("cases", "to review", items=[lung.case_id, abdomen.case_id])
    cases.delete_case(lung.case_id)
    assert review.items == [abdomen.case_id]


def test_series_lists(cases):
    uid = cases.uids["chest_ct_lung"]
    picked = cases.create_list("series", "to label", items=[uid])
    assert list(cases.search_series(in_list=picked)["series_uid"]) == [uid]
    assert cases.count_series(in_list="to label") == 1
    with pytest.raises(cnb.ValidationError, match="holds series; a cases search"):
        cases.search_cases(in_list="to label")
    with pytest.raises(cnb.NotFoundError, match="No series 'x'"):
        picked.add(["x"])


def test_lists_are_per_user_unless_shared(cases, three):
    lung, abdomen, hidden = three
    with as_user(cases, "writer"):
        mine = cases.create_list("cases", "writer's", items=[lung.case_id])
    with as_user(cases, "reader"):
        assert cases.lists().empty
        with pytest.raises(cnb.NotFoundError, match="No list"):
            cases.get_list("writer's")
    with as_user(cases, "writer"):
        mine.share(["readers"])
        assert cases.lists().loc[0, "editors"] == ["readers"]
    with as_user(cases, "reader"):
        shared = cases.get_list("writer's")
        assert shared.owner == "writer@example.org"
        shared.add([abdomen.case_id])  # editors edit the items
        with pytest.raises(cnb.PermissionDenied, match="Only the owner"):
            shared.share([])
        with pytest.raises(cnb.PermissionDenied, match="Only the owner"):
            cases.delete_list("writer's")
        with pytest.raises(cnb.PermissionDenied, match="projects you cannot read"):
            shared.add([hidden.case_id])
        # a list of one's own with the same name comes first
        own = cases.create_list("cases", "writer's")
        assert cases.get_list("writer's").list_id == own.list_id
        assert cases.get_list(shared.list_id).owner == "writer@example.org"
    assert sorted(mine.items) == sorted([lung.case_id, abdomen.case_id])
    with as_user(cases, "writer"):
        cases.delete_list("writer's")
    with as_user(cases, "reader"), pytest.raises(cnb.NotFoundError):
        shared.add([lung.case_id])  # the list is gone


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda s: s.create_list("lists", "x"), cnb.ValidationError, "kind must be"),
    (lambda s: s.create_list("cases", ""), cnb.ValidationError, "name must have 1 to 128"),
    (lambda s: s.create_list("cases", "x", items="nope"), cnb.NotFoundError, "No case 'nope'"),
    (lambda s: s.create_list("cases", "x", items=[3]), cnb.ValidationError, "case id"),
    (lambda s: s.create_list("cases", "x", editors=["ghosts"]), cnb.NotFoundError, "group"),
    (lambda s: s.create_list("cases", "x", items=[f"c{i}" for i in range(1001)]),
     cnb.ValidationError, "at most 1000"),
    (lambda s: s.search_cases(in_list="nope"), cnb.NotFoundError, "No list 'nope'"),
    (lambda s: s.get_list(None), cnb.ValidationError, "name must be text"),
])
def test_bad_lists_are_refused_and_nothing_is_written(cases, call, error, message):
    before = snapshot(cases)
    with pytest.raises(error, match=message):
        call(cases)
    assert snapshot(cases) == before


def test_a_name_is_unique_per_owner_and_kind(cases):
    cases.create_list("cases", "mine")
    cases.create_list("series", "mine")
    with pytest.raises(cnb.ValidationError, match="already have a cases list named 'mine'"):
        cases.create_list("cases", "mine")


def test_list_repr(cases):
    review = cases.create_list("cases", "to review", editors=["readers"])
    assert repr(review) == "<ItemList 'to review' (cases, 0 items) of admin@example.org>"
    assert "readers" in review._repr_html_() and "readers" in str(review)


# -- facets -------------------------------------------------------------------------------

def _facets(frame):
    return {(f, label): n for f, label, n in frame[["facet", "label", "count"]].values}


def test_facets_count_the_current_filter(cases, three):
    lung = three[0]
    cases.case(lung.case_id).save("reviewed", status="done")
    facets = _facets(cases.case_facets())
    assert facets == {("project", "Lung"): 2, ("project", "Other"): 1, ("status", "draft"): 2,
                      ("status", "done"): 1, ("modality", "CT"): 2, ("modality", "MR"): 1,
                      ("tag", "a"): 2, ("tag", "b"): 1}
    assert _facets(cases.case_facets(tags=["b"])) == {
        ("project", "Lung"): 1, ("status", "done"): 1, ("modality", "CT"): 1, ("tag", "a"): 1,
        ("tag", "b"): 1}
    # as_of counts each case at the revision it had then
    before = cases.case(lung.case_id).revision(0).date + timedelta(microseconds=1)
    assert _facets(cases.case_facets(as_of=datetime.now(UTC)))[("status", "done")] == 1
    assert ("status", "done") not in _facets(cases.case_facets(as_of=before))
    with as_user(cases, "reader"):
        assert ("project", "Other") not in _facets(cases.case_facets())
    first = cases.case_facets()
    assert list(first["facet"].drop_duplicates()) == ["project", "status", "modality", "tag"]
    cases.save_search("cases", "b", tags=["b"])
    assert _facets(cases.case_facets(preset="b")) == _facets(cases.case_facets(tags=["b"]))


def test_facets_at_a_time_count_what_the_search_finds(cases, three):
    """A case saved again since counts with the status and first series it had then;
    one made since does not count."""
    lung, abdomen, _hidden = three
    cases.case(abdomen.case_id).save("graded", status="done")
    when = datetime.now(UTC)
    cases.case(lung.case_id).save("re-read", status="re-read",
                                  series=[cases.uids["mr_interleaved"]])
    cases.create_case(cases.project_id, [cases.uids["abdomen_ct"]], tags=["b"])
    for as_of in (lung.revision(0).date, when, datetime.now(UTC), "2000-01-01"):
        for filters in ({}, {"status": "done"}, {"tags": ["b"]},
                        {"project_id": cases.project_id}, {"sex": "F"}):
            found = cases.search_cases(**filters, as_of=as_of)
            facets = _facets(cases.case_facets(**filters, as_of=as_of))
            assert {v: n for (f, v), n in facets.items() if f == "status"} == dict(
                found["status"].value_counts())
            assert sum(n for (f, _), n in facets.items() if f == "modality") == len(found)
    then = _facets(cases.case_facets(as_of=when))
    assert (then[("modality", "CT")], then[("modality", "MR")], then[("status", "done")]) == (
        2, 1, 1)
    assert ("status", "re-read") not in then


def test_search_by_status_latest_and_as_of(cases, three):
    lung = three[0]
    then = datetime.now(UTC)
    cases.case(lung.case_id).save("reviewed", status="done")
    assert list(cases.search_cases(status="done")["case_id"]) == [lung.case_id]
    assert cases.count_cases(status="done", as_of=then) == 0
    assert cases.count_cases(status="draft", as_of=then) == 3
    with pytest.raises(cnb.ValidationError, match="status must be one line"):
        cases.search_cases(status="a\nb")
