"""Series search: patient sort keys, "did you mean" hints, sort keys, and counts."""

import pytest

import circus_nb as cnb


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo store opened as the admin; tests act as alice or bob with as_user."""
    path = tmp_path_factory.mktemp("demo") / "store"
    cnb.demo_store(path).close()
    with cnb.Store.open(path, user="admin@example.org") as store:
        yield store


ALICE = "alice@example.org"
PATIENT_SORTS = [["patient_name"], ["-age"], ["modality", "sex"], ["-patient_id"]]


@pytest.mark.parametrize("sort", PATIENT_SORTS)
def test_sorting_by_a_patient_field_needs_personal_info_view(demo, sort):
    with demo.as_user(ALICE), pytest.raises(
            cnb.PermissionDenied, match="You cannot search using patient information."):
        demo.search_series(sort=sort)


@pytest.mark.parametrize("sort", PATIENT_SORTS)
def test_with_the_privilege_a_patient_sort_works_while_the_columns_are_masked(demo, sort):
    # The privilege is what filtering by patient fields needs too; the preference only
    # decides what is shown, and the user may switch it on at any time.
    masked = demo.search_series(sort=sort)
    assert masked["patient_name"].isna().all()
    demo.set_preference("personal_info_view", True)
    try:
        shown = demo.search_series(sort=sort)
    finally:
        demo.set_preference("personal_info_view", False)
    assert masked["series_uid"].tolist() == shown["series_uid"].tolist()


def _typo(uid):
    return uid[:-1] + ("1" if uid[-1] != "1" else "2")


def test_a_missing_series_hints_only_at_series_the_user_may_open(demo):
    frame = demo.search_series()
    hidden = frame.loc[frame["domain"] == "hospital-b", "series_uid"].iloc[0]
    visible = frame.loc[frame["domain"] == "default", "series_uid"].iloc[0]
    with pytest.raises(cnb.NotFoundError, match=f"Did you mean '{hidden}'"):
        demo.series(_typo(hidden))  # the admin may open it
    with demo.as_user(ALICE):
        with pytest.raises(cnb.NotFoundError) as info:
            demo.series(_typo(hidden))
        assert hidden not in str(info.value)
        with pytest.raises(cnb.NotFoundError, match=f"Did you mean '{visible}'"):
            demo.series(_typo(visible))


@pytest.mark.parametrize("sort", [["--modality"], ["-"], ["modality-"]])
def test_a_sort_key_is_a_column_with_at_most_one_minus(demo, sort):
    with pytest.raises(cnb.ValidationError, match=f"Cannot sort by '{sort[0]}'"):
        demo.search_series(sort=sort)


COUNTED = [{}, {"modality": "CT"}, {"modality": "mr"}, {"description": "lung"},
           {"study_uid": "1."}, {"imported_from": "2000-01-01"}, {"date_to": "2024-03-01"},
           {"sex": "F"}, {"min_age": 50, "max_age": 53}, {"patient_name": "müller"}]


@pytest.mark.parametrize("filters", COUNTED)
def test_count_series_counts_what_the_unpaged_search_finds(demo, filters):
    assert demo.count_series(**filters) == len(demo.search_series(**filters))
    if not filters.keys() & {"sex", "min_age", "max_age", "patient_name"}:
        with demo.as_user(ALICE):  # her domains only
            assert demo.count_series(**filters) == len(demo.search_series(**filters))
    if demo.count_series(**filters) > 1:
        assert len(demo.search_series(**filters, limit=1)) == 1


def test_count_series_checks_as_the_search_does(demo):
    assert demo.count_series() == 6
    with demo.as_user(ALICE):
        assert demo.count_series() == 5
        with pytest.raises(cnb.PermissionDenied, match="You cannot search using patient"):
            demo.count_series(patient_id="CNB")
    with pytest.raises(cnb.ValidationError, match="count_series has no filter 'sort'"):
        demo.count_series(sort=["modality"])
    with pytest.raises(cnb.ValidationError, match="Did you mean 'description'"):
        demo.count_series(descripton="lung")
    with pytest.raises(cnb.ValidationError, match="min_age must be an integer from 0 to 999"):
        demo.count_series(min_age="50")


def test_an_empty_text_filter_is_a_filter_every_series_passes(demo):
    # an empty search box: refusing it would break code that passes the box's value
    assert demo.search_series(description="").equals(demo.search_series())
    assert demo.count_series(description="", series_uid="") == demo.count_series()
