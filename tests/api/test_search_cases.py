"""store.search_cases: scope, filters, patient rules, snapshots in time."""

import time
from datetime import UTC, datetime

import pandas as pd
import pytest

import circus_nb as cnb
from circus_nb.store import search as search_sql
from tests.conftest import as_user


def test_only_readable_projects_newest_first(cases, three):
    lung, abdomen, hidden = three
    assert cases.search_cases()["case_id"].tolist() == [hidden.case_id, abdomen.case_id,
                                                        lung.case_id]
    with as_user(cases, "reader"):
        frame = cases.search_cases()
        assert frame["case_id"].tolist() == [abdomen.case_id, lung.case_id]
        with pytest.raises(cnb.PermissionDenied, match="read privilege"):
            cases.search_cases(project_id=cases.other_project)
    with as_user(cases, "nobody"):
        assert cases.search_cases().empty
    for column in ("case_id", "project_id", "tags", "created_at", "updated_at", "revision",
                   "status", "description", "patient_id", "patient_name"):
        assert column in frame.columns


def test_a_case_id_part_is_matched_as_typed(cases, three):
    """PostgreSQL matches it with LIKE (for its trigram index): its wildcards are text."""
    lung = three[0]
    middle = lung.case_id[5:17]
    assert cases.search_cases(case_id=middle)["case_id"].tolist() == [lung.case_id]
    assert cases.count_cases(case_id=middle) == 1
    for typed in ("%", "_", "\\", lung.case_id[:3] + "%", "_" + lung.case_id[1:]):
        assert cases.search_cases(case_id=typed).empty, typed
        assert cases.count_cases(case_id=typed) == 0


def test_filters(cases, three):
    lung, abdomen, _hidden = three
    assert cases.search_cases(tags=["a", "b"])["case_id"].tolist() == [lung.case_id]
    assert len(cases.search_cases(tags="a")) == 2
    assert cases.search_cases(case_id=lung.case_id[-8:])["case_id"].tolist() == [lung.case_id]
    assert cases.search_cases(project_id=[cases.project_id], sort=["created_at"])[
        "case_id"].tolist() == [lung.case_id, abdomen.case_id]
    assert len(cases.search_cases(created_from=lung.latest.date)) == 3
    assert cases.search_cases(created_to="2000-01-01").empty
    lung.save("later", attributes={"finding": "normal"})
    assert cases.search_cases(updated_from=lung.latest.date)["case_id"].tolist() == [
        lung.case_id]
    assert cases.search_cases(patient_name="müller")["case_id"].tolist() == [abdomen.case_id]
    assert len(cases.search_cases(sex="F", min_age=50)) == 2  # lung and the MR: Jane Doe


def test_patient_columns_need_privilege_preference_and_project_role(cases, three):
    _lung, abdomen, _ = three
    assert cases.search_cases()["patient_name"].isna().all()  # no preference yet
    cases.set_preference("personal_info_view", True)
    frame = cases.search_cases().set_index("case_id")
    assert frame.loc[abdomen.case_id, "patient_name"] == "Müller^Jürgen"
    cases.add_group("viewers-too", ["personalInfoView"])
    cases.set_user_groups("viewer@example.org", ["viewers", "viewers-too"])
    cases.set_user_groups("reader@example.org", ["readers", "viewers-too"])
    for name, shown in (("viewer", True), ("reader", False)):
        with as_user(cases, name):
            cases.set_preference("personal_info_view", True)
            names = cases.search_cases()["patient_name"]
            assert names.notna().all() if shown else names.isna().all()
    with as_user(cases, "writer"), pytest.raises(
            cnb.PermissionDenied, match="You cannot search using patient information."):
        cases.search_cases(patient_id="CNB")


def test_as_of_shows_each_case_as_it_was(cases, three):
    lung, _abdomen, _ = three
    before = datetime.now(UTC)
    time.sleep(0.01)
    lung.save("graded", attributes={"finding": "nodule"}, status="done")
    now = cases.search_cases(project_id=cases.project_id).set_index("case_id")
    then = cases.search_cases(project_id=cases.project_id, as_of=before).set_index("case_id")
    assert (now.loc[lung.case_id, "revision"], now.loc[lung.case_id, "status"]) == (1, "done")
    assert (then.loc[lung.case_id, "revision"], then.loc[lung.case_id, "status"]) == (0, "draft")
    assert cases.search_cases(as_of="2000-01-01").empty  # no case existed then


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"limit": 500}, "limit must be 1 to 200"), ({"sort": ["tags"]}, "Cannot sort by 'tags'"),
     ({"sort": ["-status"] * 6}, "At most 5 sort keys"),
     ({"as_of": "soon"}, "as_of must be a date"), ({"tags": ["x" * 40]}, "tag must have")],
)
def test_bad_arguments(cases, kwargs, message):
    with pytest.raises(cnb.ValidationError, match=message):
        cases.search_cases(**kwargs)


def test_as_of_gives_the_same_rows_whichever_way_the_query_is_planned(cases, three):
    lung, abdomen, _ = three
    lung.save("graded", attributes={"finding": "nodule"}, status="done")
    abdomen.save("graded", attributes={"finding": "normal"}, status="done")
    when = datetime.now(UTC)
    lung.save("again", attributes={"finding": "normal"}, status="re-read")
    # sorting by case columns only picks the page before joining; by status, after
    paged_first = cases.search_cases(as_of=when, sort=["-created_at"])
    joined_first = cases.search_cases(as_of=when, sort=["-created_at", "status"])
    assert paged_first.equals(joined_first)
    assert paged_first["revision"].tolist() == [0, 1, 1]
    page = cases.search_cases(as_of=when, sort=["created_at"], limit=1, offset=1)
    assert page["case_id"].tolist() == [abdomen.case_id]


@pytest.mark.parametrize("sort", [["patient_name"], ["-age"], ["status", "sex"],
                                  ["patient_id"]])
def test_sorting_by_a_patient_field_needs_personal_info_view(cases, three, sort):
    with as_user(cases, "writer"), pytest.raises(
            cnb.PermissionDenied, match="You cannot search using patient information."):
        cases.search_cases(sort=sort)
    # The privilege suffices, as for filters: the preference only decides what is shown
    # (the user may switch it on at any time), so the order tells nothing new.
    frame = cases.search_cases(sort=sort)
    assert frame["patient_name"].isna().all()
    cases.set_preference("personal_info_view", True)
    assert cases.search_cases(sort=sort)["case_id"].tolist() == frame["case_id"].tolist()


def test_a_doubled_minus_is_not_a_sort_key(cases):
    with pytest.raises(cnb.ValidationError, match="Cannot sort by '--created_at'"):
        cases.search_cases(sort=["--created_at"])


COUNTED = [{}, {"tags": ["a"]}, {"tags": ["a", "b"]}, {"case_id": "0"},
           {"created_to": "2000-01-01"}, {"sex": "F", "min_age": 50},
           {"patient_name": "müller"}, {"updated_from": "2000-01-01", "tags": "a"}]


@pytest.mark.parametrize("filters", COUNTED)
def test_count_cases_counts_what_the_search_finds(cases, three, filters):
    lung, *_ = three
    lung.save("later", attributes={"finding": "normal"})
    assert cases.count_cases(**filters) == len(cases.search_cases(**filters))
    scoped = {**filters, "project_id": cases.project_id}
    assert cases.count_cases(**scoped) == len(cases.search_cases(**scoped))
    when = lung.revision(0).date
    for as_of in (when, datetime.now(UTC), "2000-01-01"):
        assert cases.count_cases(**filters, as_of=as_of) == len(
            cases.search_cases(**filters, as_of=as_of))
    with as_user(cases, "reader"):
        plain = {k: v for k, v in filters.items() if k not in PATIENT}
        assert cases.count_cases(**plain) == len(cases.search_cases(**plain))


PATIENT = {"patient_id", "patient_name", "sex", "min_age", "max_age"}


def test_count_cases_checks_as_the_search_does(cases, three):
    assert cases.count_cases() == 3 and cases.count_cases(tags=["a"]) == 2
    with as_user(cases, "reader"):
        assert cases.count_cases() == 2
        with pytest.raises(cnb.PermissionDenied, match="read privilege"):
            cases.count_cases(project_id=cases.other_project)
        with pytest.raises(cnb.PermissionDenied, match="You cannot search using patient"):
            cases.count_cases(sex="F")
    with pytest.raises(cnb.ValidationError, match="count_cases has no filter 'limit'"):
        cases.count_cases(limit=5)
    with pytest.raises(cnb.ValidationError, match="tags: at most 10 tags at a time"):
        cases.count_cases(tags=[str(i) for i in range(11)])


def _at(histories: dict, when: datetime) -> dict:
    """By definition: each case's revision current at ``when`` is the last one saved at
    or before it; ``case_id -> (revision, status, updated_at)``."""
    current = {}
    for case_id, history in histories.items():
        saved = history[history["date"] <= when]
        if not saved.empty:
            row = saved.iloc[-1]
            current[case_id] = (int(row["index"]), row["status"], row["date"])
    return current


def test_as_of_agrees_with_the_definition_at_every_moment(cases, three, monkeypatch):
    """Saves interleaved over three cases, tag changes (which move updated_at, not the
    revision) and a new first series: at, just before and just after every revision's
    date, the search, its count and a dataset see each case at its revision then."""
    lung, abdomen, hidden = three
    cases.set_preference("personal_info_view", True)
    steps = [(lung, "done"), (abdomen, "read"), (lung, "again"), (hidden, "x"), (lung, "z")]
    for case, status in steps:
        time.sleep(0.002)
        case.save(f"to {status}", status=status, attributes=None if case is hidden else {
            "finding": "normal"})
        abdomen.add_tags([status])
    abdomen.save("other first series", series=[cases.uids["chest_ct_lung"]])
    time.sleep(0.002)
    abdomen.add_tags(["after its last revision"])
    histories = {c.case_id: c.history() for c in three}
    dates = sorted({d for h in histories.values() for d in h["date"]})
    tick = pd.Timedelta(microseconds=1)
    for when in [t + shift for t in dates for shift in (-tick, 0 * tick, tick)]:
        expected = _at(histories, when)
        # PostgreSQL reads these two ways; DuckDB the second, in a large store, by the
        # page's case rows (search.py: _cases_then_revisions), as if this one were
        for sort, large in ((["-revision"], False), (["-created_at"], False),
                            (["-created_at"], True)):
            monkeypatch.setattr(search_sql, "WINDOWED_FROM", 0 if large else 10**9)
            found = cases.search_cases(as_of=when, sort=sort).set_index("case_id")
            assert {c: (r.revision, r.status, r.updated_at)
                    for c, r in found.iterrows()} == expected
            if abdomen.case_id in expected:  # the patient of its first series then
                assert found.loc[abdomen.case_id, "patient_id"] == _patient_at(
                    cases, abdomen, expected[abdomen.case_id][0])
            tagged = cases.search_cases(as_of=when, tags=["a"], limit=1, offset=1)
            newest_first = [c.case_id for c in (abdomen, lung) if c.case_id in expected]
            assert tagged["case_id"].tolist() == newest_first[1:2]  # hidden has no "a"
        assert cases.count_cases(as_of=when) == len(expected)
        by_status = cases.search_cases(as_of=when, status="done")["case_id"].tolist()
        assert by_status == [c for c, (_, s, _) in expected.items() if s == "done"]
        if abdomen.case_id in expected:
            shown = cases.search_cases(as_of=when, case_id=abdomen.case_id,
                                       sort=["patient_name"])
            assert shown["patient_id"].tolist() == [
                _patient_at(cases, abdomen, expected[abdomen.case_id][0])]


def _patient_at(store, case, revision: int) -> str:
    return store.series(case.revision(revision).series[0].series_uid).patient["patient_id"]


def test_a_revision_is_never_dated_before_the_one_it_follows(cases, three, monkeypatch):
    """A clock set back (or another machine's) would break "the revision current at a
    time": the new revision takes the date of the one it follows."""
    lung = three[0]
    before = lung.latest.date
    past = datetime(2001, 1, 1, tzinfo=UTC)
    monkeypatch.setattr(cnb.api.cases, "datetime", type("Clock", (), {
        "now": staticmethod(lambda tz=None: past)}))
    saved = lung.save("clock set back", attributes={"finding": "normal"})
    assert saved.date == before == lung.history()["date"].iloc[-1]
    assert cases.search_cases(as_of=before, case_id=lung.case_id)["revision"].tolist() == [1]
