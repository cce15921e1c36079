"""``Database.frame`` is ``execute(...).df()``, however a backend fetches it."""

from datetime import UTC, datetime

import pandas as pd
import pytest

import circus_nb as cnb
from circus_nb.api.store import Store

ROWS = """SELECT * FROM (VALUES
    (1::INTEGER, 10::BIGINT, 'a', NULL::VARCHAR, 1.5::DOUBLE, ['x', 'y'], TRUE, ?::TIMESTAMPTZ),
    (2, NULL, 'b', 'z', NULL, [], FALSE, NULL)) t(i, big, s, maybe, f, l, b, ts) WHERE i <= ?"""


@pytest.fixture
def db(tmp_path):
    with Store.create(tmp_path / "store") as store:
        yield store._db()


@pytest.mark.parametrize("rows", [2, 1, 0])
def test_frame_is_the_frame_of_the_rows(db, rows):
    params = [datetime(2024, 5, 1, 12, tzinfo=UTC), rows]
    pd.testing.assert_frame_equal(db.frame(ROWS, params), db.execute(ROWS, params).df())


def test_a_case_history_is_the_same_frame():
    with cnb.demo_store() as store:
        uid = store.search_series(modality="MR")["series_uid"][0]
        case = store.create_case(store.projects()["project_id"][0], [uid])
        case.save("Read.", attributes={"finding": "normal"}, status="done")
        sql = ("SELECT idx AS index, date, creator, description, status FROM revisions"
               " WHERE case_id = ? ORDER BY idx")
        expected = store._db().execute(sql, [case.case_id]).df()
        pd.testing.assert_frame_equal(case.history(), expected)
        assert case.history()["status"].tolist() == ["draft", "done"]
