"""Any sequence of saves and reverts: dense indexes, earlier revisions untouched."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import circus_nb as cnb

STATUSES = st.sampled_from(["draft", "read", "done"])
# Any text a store can hold: no NUL, no lone surrogate (those are refused, see test_values)
TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
               min_size=1, max_size=20)
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("save"), TEXT, STATUSES,
                  st.one_of(st.none(), st.integers(1, 5)), st.integers(1, 20)),
        st.tuples(st.just("revert"), st.integers(0, 50)),
    ),
    min_size=1, max_size=8,
)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from circus_nb.dicom.sample import write_ct_series

    folder = tmp_path_factory.mktemp("series")
    sample = write_ct_series(folder, n=20, size=16, description="Property")
    with cnb.Store.create(tmp_path_factory.mktemp("s") / "store") as store:
        store.import_dicom(folder, progress=False)
        store.project_id = store.create_project(
            "P", case_attributes_schema={"properties": {"grade": {"type": "integer"}}}).project_id
        store.uid = sample.series_uid
        yield store


def _rows(store, case_id):
    con = store._db()
    return [con.execute(f"SELECT * FROM {table} WHERE case_id = ? ORDER BY ALL",
                        [case_id]).fetchall() for table in ("revisions", "revision_series")]


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
def test_saves_and_reverts_only_append(store, steps):
    case = store.create_case(store.project_id, [store.uid])
    for step in steps:
        before = _rows(store, case.case_id)
        latest = case.latest.index
        if step[0] == "save":
            _, description, status, grade, end = step
            attributes = {} if grade is None else {"grade": grade}
            saved = case.save(description, status=status, attributes=attributes,
                              series=[(store.uid, (1, end, 1))], base=latest)
        else:
            saved = case.revert(step[1] % (latest + 1))
        after = _rows(store, case.case_id)
        # every earlier row is still there, byte for byte
        assert all(set(old) <= set(new) for old, new in zip(before, after, strict=True))
        assert saved.index == latest + 1
    history = case.history()
    assert history["index"].tolist() == list(range(len(steps) + 1))
    assert case.latest == case.revision(len(steps))
    for i in range(len(steps) + 1):
        assert case.diff(i, i).empty
