"""case.revert(to) appends a copy of an old revision through the checks of a save: it is
never a way around a privilege or the rules on labelled series. Attributes the schema of
today refuses are restored as they were, with a warning."""

import dataclasses

import numpy as np
import pytest

import circus_nb as cnb
from tests.conftest import SCHEMA, as_user, snapshot


@pytest.fixture
def uids(cases):
    return cases.uids["chest_ct_lung"], cases.uids["abdomen_ct"]


@pytest.fixture
def case(cases, uids):
    """Revision 1 has both series, revision 2 only the first (saved by the admin)."""
    lung, abdomen = uids
    case = cases.create_case(cases.project_id, [lung])
    case.save("both", attributes={"finding": "nodule", "grade": 4}, series=[lung, abdomen])
    case.save("lung only", series=[lung])
    return case


def test_reverting_cannot_add_a_series_back_without_add_series(cases, case):
    before = snapshot(cases)
    with as_user(cases, "writer"):
        with pytest.raises(cnb.PermissionDenied, match='Cannot revert to revision 1: You do not'
                                                       ' have "addSeries" privilege'):
            case.revert(1)
        with pytest.raises(cnb.PermissionDenied, match='"addSeries" privilege'):
            case.save("the same change", series=case.revision(1).series)
    assert snapshot(cases) == before
    cases.grant("writers", cases.project_id, ["read", "write", "addSeries"])
    with as_user(cases, "writer"):
        reverted = case.revert(1)
    assert [e.series_uid for e in reverted.series] == [e.series_uid
                                                       for e in case.revision(1).series]
    assert reverted.creator == "writer@example.org"


def test_reverting_restores_attributes_the_schema_of_today_refuses_and_says_so(cases, case):
    schema = {**SCHEMA, "properties": {**SCHEMA["properties"],
                                       "grade": {"type": "integer", "maximum": 3}}}
    cases.update_project(cases.project_id, case_attributes_schema=schema)
    with pytest.warns(cnb.CircusWarning, match=(
            r"Revision 1 is restored with its attributes as they were, which the project's"
            r" schema no longer accepts: attributes.grade must be <= 3 \(maximum\), got 4\."
            r" The project's schema changed since revision 1 was saved\.")):
        restored = case.revert(1)
    assert restored.attributes == {"finding": "nodule", "grade": 4}
    with pytest.warns(cnb.CircusWarning, match="Revision 0 holds no attributes"):
        assert case.revert(0).attributes == {}  # how every case starts
    with pytest.raises(cnb.ValidationError, match="must be <= 3"):  # a save still checks
        case.save("graded again", attributes={"finding": "nodule", "grade": 4})


def test_a_revert_within_the_schema_gives_no_warning(cases, case, recwarn):
    case.revert(1)
    assert [w for w in recwarn if issubclass(w.category, cnb.CircusWarning)] == []


def test_reverting_cannot_re_range_a_labelled_series(cases, uids):
    lung, _ = uids
    plain = cases.create_project("No schema").project_id
    case = cases.create_case(plain, [lung])
    case.save("odd images", series=[(lung, (1, 59, 2))])
    entry = case.latest.series[0]
    mask = np.zeros((30, 64, 64), bool)
    mask[3:6, 10:20, 10:20] = True
    case.save("drawn", series=[dataclasses.replace(entry, labels=(cnb.Label.voxel(mask),))])
    before = snapshot(cases)
    with pytest.raises(cnb.ValidationError, match="Cannot revert to revision 0: Series .* has 1"
                                                  r" label\(s\), so its range cannot change"):
        case.revert(0)
    assert snapshot(cases) == before
    unlabelled = case.revert(1)  # the same range without the labels: a save allows it
    assert unlabelled.series[0].labels == ()
    restored = case.revert(2)
    np.testing.assert_array_equal(restored.series[0].labels[0].mask(), mask)
    assert case.latest.series[0].labels == case.revision(2).series[0].labels


def test_reverting_needs_write_and_a_known_revision(cases, case):
    before = snapshot(cases)
    with as_user(cases, "reader"), pytest.raises(cnb.PermissionDenied, match="write privilege"):
        case.revert(1)
    with pytest.raises(cnb.NotFoundError, match="has no revision 9; it has 0 to 2"):
        case.revert(9)
    with pytest.raises(cnb.ValidationError, match="description must be text, got 5"):
        case.revert(1, description=5)
    assert snapshot(cases) == before
