"""Saved searches and lists used the wrong way, on both backends: every refusal is a
CircusError that names the argument, and leaves the store as it was."""

from __future__ import annotations

import pytest

import circus_nb as cnb
from tests.conftest import as_user, snapshot


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda s: s.search_cases(preset="a\x00b"), cnb.ValidationError, "preset must be one line"),
    (lambda s: s.search_cases(preset=3), cnb.ValidationError, "preset must be text, got 3"),
    (lambda s: s.search_series(preset="x" * 10_000), cnb.ValidationError,
     "preset must have 1 to 128"),
    (lambda s: s.save_search("cases", "a\x07b"), cnb.ValidationError, "control character"),
    (lambda s: s.save_search("cases", "x" * 10_000), cnb.ValidationError, "1 to 128"),
    (lambda s: s.save_search("cases", "   ", tags=["a"]), cnb.ValidationError, "blank"),
    (lambda s: s.save_search("cases", " mine", tags=["a"]), cnb.ValidationError,
     "Use 'mine'"),
    (lambda s: s.save_search("cases", "set", tags={"a"}), cnb.ValidationError,
     "keeps text, numbers"),
    (lambda s: s.save_search("cases", "p", preset="q"), cnb.ValidationError, "not 'preset'"),
    (lambda s: s.delete_search("cases", 5), cnb.ValidationError, "name must be text"),
    (lambda s: s.search_cases(in_list=5), cnb.ValidationError, "in_list must be text"),
    (lambda s: s.count_cases(in_list=["a", "b"]), cnb.ValidationError, "in_list must be text"),
    (lambda s: s.case_facets(in_list="a\nb"), cnb.ValidationError, "in_list must be one line"),
    (lambda s: s.search_series(in_list=True), cnb.ValidationError, "in_list must be text"),
    (lambda s: s.create_list("cases", "  "), cnb.ValidationError, "blank"),
    (lambda s: s.create_list("cases", "x" * 10_000), cnb.ValidationError, "1 to 128"),
    (lambda s: s.create_list("cases", "x", items=s.search_series()), cnb.ValidationError,
     "needs a 'case_id' column"),
    (lambda s: s.create_list("cases", "x", items=None), cnb.ValidationError, "ids must be"),
    (lambda s: s.create_list("cases", "x", editors=[f"g{i}" for i in range(33)]),
     cnb.ValidationError, "at most 32 groups"),
    (lambda s: s.count_cases(updated_from="-36601d"), cnb.ValidationError, "a century"),
    (lambda s: s.count_cases(updated_from="+7d"), cnb.ValidationError, "relative to now"),
    (lambda s: s.count_cases(status=["draft"]), cnb.ValidationError, "status must be text"),
    (lambda s: s.count_cases(status="x" * 10_000), cnb.ValidationError, "1 to 64"),
    (lambda s: s.export_cases(["x"], "x.zip", progress="yes"), cnb.ValidationError,
     "progress must be True or False"),
])
def test_wrong_arguments_are_refused_by_name(cases, three, call, error, message):
    before = snapshot(cases)
    with pytest.raises(error, match=message):
        call(cases)
    assert snapshot(cases) == before


@pytest.mark.parametrize(("text", "same_as"), [
    ("-0d", "now"), ("0 days ago", "now"), ("  today ", "today"), ("TODAY", "today"),
    ("-36600d", "1926-01-01"), ("-7 D", "-7d"),
])
def test_relative_dates_at_their_edges(cases, three, text, same_as):
    assert cases.count_cases(created_from=text) == cases.count_cases(created_from=same_as)


def test_a_thousand_ids_with_repeats_make_one_item_each(cases, three):
    lung, abdomen, _ = three
    made = cases.create_list("cases", "big", items=[lung.case_id, abdomen.case_id] * 500)
    assert made.items == [lung.case_id, abdomen.case_id]
    made.add([abdomen.case_id] * 1000)
    assert len(made) == 2 and cases.lists().loc[0, "items"] == 2


def test_a_search_table_makes_a_list_of_its_ids(cases, three):
    found = cases.search_cases(project_id=cases.project_id)
    made = cases.create_list("cases", "from a search", items=found)
    assert sorted(made.items) == sorted(found["case_id"])


def test_a_saved_search_whose_list_was_deleted_says_so(cases, three):
    review = cases.create_list("cases", "to review", items=[three[0].case_id])
    cases.save_search("cases", "review", in_list=review, tags=["a"])
    cases.delete_list("to review")
    before = snapshot(cases)
    for call in (lambda: cases.search_cases(preset="review"),
                 lambda: cases.count_cases(preset="review"),
                 lambda: cases.case_facets(preset="review")):
        with pytest.raises(cnb.NotFoundError, match="saved search 'review' keeps the list"):
            call()
    assert snapshot(cases) == before
    other = cases.create_list("cases", "other", items=[three[1].case_id])
    assert cases.count_cases(preset="review", in_list=other) == 1  # a list given wins


def test_a_saved_search_of_a_project_made_unreadable(cases, three):
    with as_user(cases, "reader"):
        cases.save_search("cases", "lung", project_id=cases.project_id)
        assert cases.count_cases(preset="lung") == 2
    cases.set_user_groups("reader@example.org", ["nobodys"])
    with as_user(cases, "reader"):
        before = snapshot(cases)
        with pytest.raises(cnb.PermissionDenied, match="Lung"):
            cases.search_cases(preset="lung")
        assert snapshot(cases) == before
        cases.delete_search("cases", "lung")  # the way out works
        assert cases.searches().empty


def test_leaving_the_group_a_list_is_shared_with(cases, three):
    lung, abdomen, _ = three
    with as_user(cases, "writer"):
        cases.create_list("cases", "shared", items=[lung.case_id], editors=["readers"])
    with as_user(cases, "reader"):
        held = cases.get_list("shared")
    cases.set_user_groups("reader@example.org", ["writers"])
    with as_user(cases, "reader"):
        before = snapshot(cases)
        with pytest.raises(cnb.NotFoundError, match="No list 'shared'"):
            cases.get_list("shared")
        with pytest.raises(cnb.NotFoundError, match="no longer shared with you"):
            held.add([abdomen.case_id])
        with pytest.raises(cnb.NotFoundError, match="no longer shared with you"):
            held.remove([lung.case_id])
        assert snapshot(cases) == before and cases.lists().empty


def test_a_second_store_deletes_a_list_the_first_still_holds(cases, three):
    lung, abdomen, _ = three
    held = cases.create_list("cases", "held", items=[lung.case_id])
    with cnb.Store.open(cases.path, user="admin@example.org") as other:
        other.get_list("held").add([abdomen.case_id])  # the other notebook adds
        assert sorted(held.items) == sorted([lung.case_id, abdomen.case_id])
        other.delete_list("held")
    before = snapshot(cases)
    for call in (lambda: held.add([abdomen.case_id]), lambda: held.remove([lung.case_id]),
                 lambda: held.share(["readers"])):  # share left rows of a gone list
        with pytest.raises(cnb.NotFoundError, match="is gone"):
            call()
    assert snapshot(cases) == before
    assert len(held) == 0 and cases.lists().empty
