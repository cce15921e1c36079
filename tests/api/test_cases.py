"""Cases: creation checks in CIRCUS's order, saves, conflicts, labels, tags, delete, reprs.

Every refusal is tried for each role and shown to write nothing.
"""

import dataclasses
import threading

import numpy as np
import pytest

import circus_nb as cnb
from circus_nb.store import cases as cases_sql
from tests.conftest import ROLE_USERS, as_user, snapshot


@pytest.fixture
def case(cases):
    with as_user(cases, "writer"):
        return cases.create_case(cases.project_id, [cases.uids["chest_ct_lung"]], tags=["a"])


# -- creation ----------------------------------------------------------------------------


def test_a_new_case_has_its_first_revision(cases):
    with as_user(cases, "writer"):
        case = cases.create_case(cases.project_id, [cases.uids["chest_ct_feet_first"],
                                                    (cases.uids["chest_ct_localizer"], (3, 62, 1))],
                                 tags=["a", "b", "a"])
        first = case.latest
    assert len(case.case_id) == 26 and case.case_id.islower()
    assert first.index == 0 and first.description == "Created new case."
    assert first.status == "draft" and first.attributes == {}
    assert first.creator == "writer@example.org" and first.date.tzinfo is not None
    # auto is stored resolved: the feet-first series reads from 40 down to 1
    assert [e.partial_volume for e in first.series] == [cnb.PartialVolume(40, 1, -1),
                                                        cnb.PartialVolume(3, 62, 1)]
    assert all(e.labels == () for e in first.series)
    assert case.tags == ["a", "b"] and case.domains == ["default"]


REFUSALS = [
    # (series, tags, error, message) in the order CIRCUS checks them
    ([], (), cnb.ValidationError, "A case needs a non-empty list of series"),
    (["9.9.9"], (), cnb.NotFoundError, "Nonexistent series."),
    (["followup_ct"], (), cnb.PermissionDenied, "needs the domain 'hospital-b'"),
    ([("chest_ct_localizer", (1, 10, 1))], (), cnb.ValidationError,
     r"Specified range is invalid\. .* asks for image\(s\) 2"),
    ([("chest_ct_lung", (1, 6, 2))], (), cnb.ValidationError, "Delta 2 does not reach end 6"),
    ([("chest_ct_lung", "all")], (), cnb.ValidationError, "A range is 'auto'"),
    (["chest_ct_lung"], ["x" * 33], cnb.ValidationError, "tag must have 1 to 32 characters"),
    (["chest_ct_lung"], [f"t{i}" for i in range(10_000)], cnb.ValidationError,
     "tags: at most 10 tags at a time, got 10000"),
    (["chest_ct_lung"], ["a\x00b"], cnb.ValidationError,
     r"tag must be one line of printable text, but it holds the control character '\\x00'"),
    (["chest_ct_lung"], ["two\nlines"], cnb.ValidationError, "control character '\\\\n'"),
    (["chest_ct_lung"], None, cnb.ValidationError, "tags must be a list of names"),
]


@pytest.mark.parametrize(("series", "tags", "error", "message"), REFUSALS)
def test_refused_creations_write_nothing(cases, series, tags, error, message):
    items = [(cases.uids.get(s[0], s[0]), s[1]) if isinstance(s, tuple) else cases.uids.get(s, s)
             for s in series]
    before = snapshot(cases)
    with as_user(cases, "writer"), pytest.raises(error, match=message):
        cases.create_case(cases.project_id, items, tags=tags)
    assert snapshot(cases) == before


def test_all_series_of_a_case_share_one_domain(cases):
    with pytest.raises(cnb.ValidationError, match="All series must belong to the same domain."
                                                  " These come from default, hospital-b"):
        cases.create_case(cases.project_id, [cases.uids["abdomen_ct"], cases.uids["followup_ct"]])


def test_an_unknown_project(cases):
    with pytest.raises(cnb.NotFoundError, match="No project 'nope'"):
        cases.create_case("nope", [cases.uids["abdomen_ct"]])


@pytest.mark.parametrize("name", list(ROLE_USERS))
def test_creating_needs_write(cases, name):
    before = snapshot(cases)
    with as_user(cases, name):
        if "write" in ROLE_USERS[name]:
            cases.create_case(cases.project_id, [cases.uids["abdomen_ct"]])
            return
        with pytest.raises(cnb.PermissionDenied,
                           match="You do not have write privilege for this project."):
            cases.create_case(cases.project_id, [cases.uids["abdomen_ct"]])
    assert snapshot(cases) == before


@pytest.mark.parametrize("name", list(ROLE_USERS))
def test_opening_a_case_needs_read(cases, case, name):
    with as_user(cases, name):
        if "read" in ROLE_USERS[name]:
            assert cases.case(case.case_id).history()["index"].tolist() == [0]
        else:
            with pytest.raises(cnb.PermissionDenied, match="read privilege"):
                cases.case(case.case_id)
            with pytest.raises(cnb.PermissionDenied, match="read privilege"):
                case.latest  # noqa: B018 - objects act as the current user at each call


def test_an_unknown_case(cases):
    with pytest.raises(cnb.NotFoundError, match="No case 'x'"):
        cases.case("x")


# -- saving --------------------------------------------------------------------------------


def test_save_keeps_what_is_not_given(cases, case):
    with as_user(cases, "writer"):
        one = case.save("Graded.", attributes={"finding": "nodule", "grade": 2}, status="read")
        two = case.save("Re-read.", base=1)
    assert (one.index, two.index) == (1, 2)
    assert two.attributes == {"finding": "nodule", "grade": 2} and two.status == "read"
    assert two.series == one.series
    assert case.latest == two
    assert case.revision(-1) == two and case.revision(0).description == "Created new case."
    history = case.history()
    assert history.columns.tolist() == ["index", "date", "creator", "description", "status"]
    assert history["index"].tolist() == [0, 1, 2]
    assert str(history["date"].dtype).endswith("UTC]")


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [({"attributes": {"finding": "cyst"}}, cnb.ValidationError, "must be one of 'normal'"),
     ({"attributes": {"grade": 2}}, cnb.ValidationError, "Required attribute"),
     ({"attributes": {"finding": "normal", "size": 3}}, cnb.ValidationError,
      "attributes.size is not defined"),
     ({"status": ""}, cnb.ValidationError, "status must have 1 to 64"),
     ({"base": 5}, cnb.RevisionConflict, "Revision 5 is not the latest: revision 0"),
     ({"series": []}, cnb.ValidationError, "non-empty list of series")],
)
def test_refused_saves_write_nothing(cases, case, kwargs, error, message):
    before = snapshot(cases)
    with as_user(cases, "writer"), pytest.raises(error, match=message):
        case.save("x", **kwargs)
    assert snapshot(cases) == before


@pytest.mark.parametrize("name", list(ROLE_USERS))
def test_saving_and_tagging_need_write(cases, case, name):
    before = snapshot(cases)
    with as_user(cases, name):
        if "write" in ROLE_USERS[name]:
            case.save("ok", attributes={"finding": "normal"})
            case.add_tags(["t"])
            return
        for action in (lambda: case.save("no"), lambda: case.add_tags(["t"]),
                       lambda: case.revert(0)):
            with pytest.raises(cnb.PermissionDenied):
                action()
    assert snapshot(cases) == before


def test_a_conflict_names_both_revisions_and_keeps_both_saves(cases, case):
    with as_user(cases, "writer"):
        first, second = cases.case(case.case_id), cases.case(case.case_id)
        first.save("mine", base=0)
        with pytest.raises(cnb.RevisionConflict) as info:
            second.save("theirs", base=0)
    assert (info.value.base, info.value.latest) == (0, 1)
    assert "save with base=1" in str(info.value)
    assert case.history()["description"].tolist() == ["Created new case.", "mine"]


def test_two_threads_saving_on_the_same_base_give_exactly_one_conflict(cases, case):
    outcomes, start = [], threading.Barrier(2)

    def save(n):
        start.wait()
        try:
            case.save(f"thread {n}", base=0)
            outcomes.append("saved")
        except cnb.RevisionConflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=save, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict", "saved"]
    assert case.history()["index"].tolist() == [0, 1]


def test_adding_a_series_needs_add_series(cases, case):
    cases.grant("writers", cases.project_id, ["read", "write"])
    lung, abdomen = cases.uids["chest_ct_lung"], cases.uids["abdomen_ct"]
    before = snapshot(cases)
    with as_user(cases, "writer"), pytest.raises(
            cnb.PermissionDenied, match='You do not have "addSeries" privilege'):
        case.save("add", series=[lung, abdomen])
    assert snapshot(cases) == before
    cases.grant("writers", cases.project_id, ["read", "write", "addSeries"])
    with as_user(cases, "writer"):
        saved = case.save("add", series=[lung, (abdomen, (1, 10, 1))])
        assert [e.series_uid for e in saved.series] == [lung, abdomen]
        case.save("remove again", series=[lung])  # removing an unlabelled series is fine


def test_volume_applies_the_stored_range(cases):
    uid = cases.uids["chest_ct_localizer"]
    case = cases.create_case(cases.project_id, [(uid, (62, 4, -2))])
    volume = case.volume()
    assert volume.instance_numbers == tuple(range(62, 3, -2))
    case.save("wider", series=[(uid, (3, 62, 1))])
    assert case.volume().array.shape[0] == 60
    assert case.volume(revision=0).array.shape[0] == 30
    with pytest.raises(cnb.NotFoundError, match="series entries 0 to 0, not 1"):
        case.volume(1)


# -- labels --------------------------------------------------------------------------------


def _mask(case, box=(slice(2, 5), slice(10, 20), slice(30, 40))):
    mask = np.zeros(case.volume().array.shape, bool)
    mask[box] = True
    return mask


def _labelled(case, *labels):
    first, *others = case.latest.series
    return case.save("labels", series=[dataclasses.replace(first, labels=labels), *others])


def test_voxel_labels_round_trip_and_identical_masks_are_stored_once(cases, case):
    mask = _mask(case)
    _labelled(case, cnb.Label.voxel(mask, name="a", attributes={"malignant": True}),
              cnb.Label.voxel(mask, name="same mask", color="#00ff00"),
              cnb.Label.point([1, 2, 3], name="p"), cnb.Label.cuboid([0, 0, 0], [5, 5, 5]))
    blobs = cases._db().execute("SELECT count(*) FROM blobs").fetchone()[0]
    assert blobs == 1
    cases.close()
    with cnb.Store.open(cases.path, user="reader@example.org") as reader:
        labels = reader.case(case.case_id).latest.series[0].labels
        assert [lb.type for lb in labels] == ["voxel", "voxel", "point", "cuboid"]
        np.testing.assert_array_equal(labels[0].mask(), mask)
        assert labels[0].attributes == {"malignant": True}
        assert labels[2].data["location"] == [1.0, 2.0, 3.0]


def test_label_checks(cases, case):
    wrong = np.zeros((2, 64, 64), bool)
    before = snapshot(cases)
    with pytest.raises(cnb.ValidationError, match=r"shaped \(2, 64, 64\), but the volume .* is"
                                                  r" \(60, 64, 64\)"):
        _labelled(case, cnb.Label.voxel(wrong))
    with pytest.raises(cnb.ValidationError, match="attributes.malignant must be a boolean"):
        _labelled(case, cnb.Label.point([0, 0, 0], attributes={"malignant": "yes"}))
    assert snapshot(cases) == before


def test_a_labelled_series_cannot_be_removed_or_re_ranged(cases, case):
    uid, abdomen = cases.uids["chest_ct_lung"], cases.uids["abdomen_ct"]
    _labelled(case, cnb.Label.voxel(_mask(case), name="n"))
    before = snapshot(cases)
    with pytest.raises(cnb.ValidationError, match="has 1 label\\(s\\), so its range cannot"):
        case.save("shrink", series=[(uid, (1, 30, 1))])
    with pytest.raises(cnb.ValidationError, match="so it cannot be removed"):
        case.save("swap", series=[abdomen])
    assert snapshot(cases) == before
    kept = case.save("same range as a tuple", series=[(uid, (1, 60, 1)), abdomen])
    assert kept.series[0].labels == case.revision(1).series[0].labels
    cleared = case.save("clear", series=[dataclasses.replace(kept.series[0], labels=())])
    assert cleared.series[0].labels == ()


# -- revert, diff ----------------------------------------------------------------------------


def test_revert_appends_a_copy(cases, case):
    case.save("graded", attributes={"finding": "nodule"}, status="done")
    case.save("regraded", attributes={"finding": "normal"}, status="checked",
              series=[(cases.uids["chest_ct_lung"], (1, 59, 2))])
    reverted = case.revert(1)
    assert reverted.index == 3 and reverted.description == "Reverted to revision 1."
    assert (reverted.status, reverted.attributes, reverted.series) == (
        "done", {"finding": "nodule"}, case.revision(1).series)
    assert case.revert(2, "back to normal").attributes == {"finding": "normal"}


def test_diff_lists_every_difference(cases, case):
    uid, abdomen = cases.uids["chest_ct_lung"], cases.uids["abdomen_ct"]
    case.save("graded", attributes={"finding": "nodule", "grade": 3}, status="done",
              series=[(uid, (1, 59, 2)), abdomen])
    _labelled(case, cnb.Label.point([0, 0, 0], name="p"))
    diff = case.diff(0, 2)
    assert diff["field"].tolist() == ["description", "status", "attributes.finding",
                                      "attributes.grade", "series[0].range",
                                      "series[0].labels[0]", "series[1]"]
    assert diff.set_index("field").loc["attributes.grade"].tolist() == [None, 3]
    assert diff.set_index("field").loc["series[1]"].tolist() == [None, abdomen]
    assert case.diff(1, 1).empty


# -- tags and delete ---------------------------------------------------------------------------


def test_tags(cases, case):
    assert case.add_tags(["b", "a"]) == ["a", "b"]
    assert case.remove_tags("a") == ["b"]
    assert case.set_tags(["z", "y"]) == ["z", "y"] and case.tags == ["z", "y"]
    assert case.history()["index"].tolist() == [0]  # tags are not versioned
    with pytest.raises(cnb.ValidationError, match="tag must have 1 to 32"):
        case.add_tags([""])


@pytest.mark.parametrize("tag", ["a\x00", "a\nb", "\t", "a\x1b[31m", "\ud800"])
def test_tags_with_control_characters_are_refused_everywhere(cases, case, tag):
    before = snapshot(cases)
    for call in (lambda: case.add_tags([tag]), lambda: case.set_tags(tag),
                 lambda: cases.bulk_tags([case.case_id], "set", [tag]),
                 lambda: cases.create_case(cases.project_id, [cases.uids["abdomen_ct"]],
                                           tags=[tag])):
        with pytest.raises(cnb.ValidationError, match="tag must be"):
            call()
    assert snapshot(cases) == before


def test_attribute_keys_must_be_text_so_they_cannot_collide(cases):
    plain = cases.create_project("No schema")
    case = cases.create_case(plain.project_id, [cases.uids["abdomen_ct"]])
    before = snapshot(cases)
    for attributes in ({1: "a", "1": "b"}, {"x": {2: True}}):
        with pytest.raises(cnb.ValidationError, match="but keys must be text"):
            case.save("keys", attributes=attributes)
    assert snapshot(cases) == before
    assert case.save("ok", attributes={"1": "b", "x": {"2": True}}).attributes == {
        "1": "b", "x": {"2": True}}


def test_bulk_tags_limits_and_all_or_nothing(cases, case):
    other = cases.create_case(cases.project_id, [cases.uids["abdomen_ct"]])
    assert cases.bulk_tags([case.case_id, other.case_id], "add", ["x"]) == {
        case.case_id: ["a", "x"], other.case_id: ["x"]}
    before = snapshot(cases)
    with pytest.raises(cnb.NotFoundError, match="No case 'missing'.*Nothing was changed"):
        cases.bulk_tags([case.case_id, "missing"], "set", ["y"])
    with pytest.raises(cnb.ValidationError, match="tags: at most 10 tags at a time, got 11"):
        cases.bulk_tags([], "add", [str(i) for i in range(11)])
    with pytest.raises(cnb.ValidationError, match="1 to 1000 cases .*, got 0 cases"):
        cases.bulk_tags([], "add", ["t"])
    with pytest.raises(cnb.ValidationError, match="1 to 1000 cases"):
        cases.bulk_tags([f"c{i}" for i in range(1001)], "add", ["t"])
    with pytest.raises(cnb.ValidationError, match="operation must be 'add', 'remove' or 'set'"):
        cases.bulk_tags([case.case_id], "append", ["t"])
    with as_user(cases, "reader"), pytest.raises(cnb.PermissionDenied, match="write privilege"):
        cases.bulk_tags([case.case_id], "add", ["t"])
    assert snapshot(cases) == before


@pytest.mark.parametrize("name", list(ROLE_USERS))
def test_deleting_needs_moderate(cases, case, name):
    before = snapshot(cases)
    with as_user(cases, name):
        if "moderate" in ROLE_USERS[name]:
            cases.delete_case(case.case_id)
            with pytest.raises(cnb.NotFoundError):
                cases.case(case.case_id)
            return
        with pytest.raises(cnb.PermissionDenied, match='"moderate" privilege of this project'):
            cases.delete_case(case.case_id)
    assert snapshot(cases) == before


def test_delete_removes_every_row_of_the_case(cases, case):
    case.save("more")
    cases.delete_case(case.case_id)
    con = cases._db()
    for table in ("cases", "revisions", "revision_series"):
        assert con.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)


def test_a_case_deleted_since_it_was_got_reads_as_not_found(cases, case):
    cases.delete_case(case.case_id)  # as another notebook on the store may
    for read in (lambda: case.latest, lambda: case.revision(0), lambda: case.revision(-1)):
        with pytest.raises(cnb.NotFoundError, match=case.case_id):
            read()


def test_revision_indices_count_from_either_end(cases, case):
    case.save("second")
    assert [case.revision(i).description for i in (0, 1, -1, -2)] == [
        "Created new case.", "second", "second", "Created new case."]
    for missing in (2, -3, 2**31, -(2**40)):
        with pytest.raises(cnb.NotFoundError, match=r"it has 0 to 1"):
            case.revision(missing)


def _read_all(case):
    return [(r.index, r.creator, r.date, r.content()) for r in map(case.revision, range(4))]


def test_revisions_read_the_same_through_the_case_indexes_and_by_a_scan(cases, case,
                                                                         monkeypatch):
    """DuckDB reads a case of few revisions through revisions_case (migration 8) and a
    long one by a scan: both give every revision, with all its series entries."""
    ct, mr = cases.uids["chest_ct_lung"], cases.uids["abdomen_ct"]
    _labelled(case, cnb.Label.voxel(_mask(case), name="m"), cnb.Label.point([1, 2, 3]))
    case.save("two series", series=[case.latest.series[0], mr])
    case.save("three", status="completed")
    reads = {}
    for indexed_up_to in (1000, 4, 2, 0):  # all, all, some, none of them by the indexes
        monkeypatch.setattr(cases_sql, "INDEXED_REVISIONS", indexed_up_to)
        reads[indexed_up_to] = [*_read_all(case), case.latest.content()]
    first = reads[1000]
    assert [r[3][0] for r in first[:4]] == ["Created new case.", "labels", "two series",
                                            "three"]
    assert [[e[0] for e in r[3][3]] for r in first[:4]] == [[ct], [ct], [ct, mr], [ct, mr]]
    assert [lb["name"] for lb in first[1][3][3][0][2]] == ["m", None]
    assert first[-1] == first[3][3]
    assert all(read == first for read in reads.values())


# -- reprs -------------------------------------------------------------------------------------


def test_case_and_revision_reprs(cases, case):
    assert repr(case) == f"<Case {case.case_id} revisions=1 tags=['a']>"
    html = case._repr_html_()
    for text in ("case_id", "revisions", "Created new case.", "1, 2, ..., 60"):
        assert text in html
    rev = case.latest
    assert repr(rev) == "<Revision 0 'draft' 'Created new case.' by writer@example.org, 1 series>"
    assert "series[0]" in str(rev) and "1, 2, ..., 60" in rev._repr_html_()
