"""SeriesBrowser driven through its traits and methods: search, paging, select, sort,
New Case.

The Python methods (``search``, ``select``, ``sort``, ``new_case``) show an error in the
message line and raise it; the buttons and the table's clicks only show it.
"""

import datetime

import pytest

import circus_nb as cnb
from circus_nb.widgets.new_case import NewCaseForm
from circus_nb.widgets.series_browser import (
    COLUMNS,
    MASKED,
    NO_SELECTION,
    SEARCH_FILTERS,
    SORT_KEYS,
    SeriesBrowser,
    row_texts,
)
from tests.conftest import as_user

PNG = b"\x89PNG\r\n\x1a\n"


def _row(browser, uid):
    """The texts of the table's row of series ``uid``, by column."""
    table = browser.table
    return dict(zip(table.columns, table.rows[table.row_keys.index(uid)], strict=True))


def test_opens_with_every_series_and_the_section_7_columns(imported, samples):
    browser = SeriesBrowser(imported)
    assert browser.page_size == 50
    assert len(browser.results) == len(samples[1])
    assert set(browser.results["series_uid"]) == {s.series_uid for s in samples[1].values()}
    assert browser.table.columns == list(COLUMNS)
    localizer = samples[1]["chest_ct_localizer"].series_uid
    row = _row(browser, localizer)
    assert row["Images"] == "61 (1-62)" and row["Modality"] == "CT"
    assert row["Series Description"] == "Chest CT 5 mm with localizer"
    assert browser.table.selected == [] and browser.selected is None
    assert not hasattr(browser, "row_picker")  # one table: no second list of the rows


def test_the_table_rows_are_the_results(imported):
    browser = SeriesBrowser(imported, page_size=4)
    masked = not imported.may_view_patient_info()
    assert browser.table.row_keys == list(browser.results["series_uid"])
    assert browser.table.rows == [row_texts(r, masked) for r in browser.results.itertuples()]
    browser.next_page()
    assert browser.table.row_keys == list(browser.results["series_uid"])
    assert browser.table.caption == "Series 5\u20136 of 6"


def test_search_filters_results_and_fields(imported, samples):
    browser = SeriesBrowser(imported)
    frame = browser.search(modality="mr")
    assert frame is browser.results
    assert list(frame["series_uid"]) == [samples[1]["mr_interleaved"].series_uid]
    assert list(frame.columns) == list(imported.search_series(modality="mr").columns)
    assert browser.modality.value == "mr" and browser.filters == {"modality": "mr"}
    assert browser.table.rows[0][COLUMNS.index("Images")] == "48"
    assert browser.table.rows[0][COLUMNS.index("Series Description")] == "Axial PD/T2 dual echo"
    browser.clear()
    browser.description.value = "LUNG"
    browser.search_button.click()
    assert list(browser.results["series_uid"]) == [samples[1]["chest_ct_lung"].series_uid]
    assert browser.message.kind == "ok"
    browser.description.value = ""
    browser.date_from.value = datetime.date(2100, 1, 1)
    browser.search_button.click()
    assert browser.results.empty and "No series match" in browser.message.text
    assert browser.table.rows == [] and browser.table.empty_text == "No series."
    assert browser.table.caption == ""


def test_html_in_descriptions_is_text_for_the_table(imported):
    imported._db().execute("UPDATE series SET series_description = '<b>x</b> & y'"
                           " WHERE modality = 'MR'")
    browser = SeriesBrowser(imported)
    uid = browser.search(modality="MR")["series_uid"][0]
    # the view sets each cell's textContent: markup shows as typed, never as HTML
    assert _row(browser, uid)["Series Description"] == "<b>x</b> & y"
    assert "textContent" in browser.table._esm and "innerHTML" not in browser.table._esm


def test_bad_values_and_unknown_filters_are_shown(imported):
    browser = SeriesBrowser(imported)
    browser.min_age.value = "ten"
    browser.search_button.click()  # no exception from a button
    assert browser.message.kind == "error" and "whole years" in browser.message.text
    with pytest.raises(cnb.ValidationError, match="Unknown search filter"):
        browser.search(limit=10)
    assert "Unknown search filter" in browser.message.text


def test_patient_column_is_masked_without_privilege(cases):
    with as_user(cases, "reader"):
        browser = SeriesBrowser(cases)
        assert {row[COLUMNS.index("Patient")] for row in browser.table.rows} == {MASKED}
        assert browser.table.sort_keys[COLUMNS.index("Patient")] == ""  # does not sort
        assert browser.patient_name.disabled and browser.sex.disabled
        assert "personalInfoView" in browser.patient_note.value
        assert not browser.date_from.disabled


def test_patient_column_shows_names_with_privilege_and_preference(imported, samples):
    imported.set_preference("personal_info_view", True)
    browser = SeriesBrowser(imported)
    jane = samples[1]["chest_ct_lung"].series_uid
    assert _row(browser, jane)["Patient"] == "Doe^Jane (CNB-0001)"
    assert not any(MASKED in row for row in browser.table.rows)
    assert browser.table.sort_keys[COLUMNS.index("Patient")] == "patient_name"
    assert not browser.patient_name.disabled and browser.patient_note.value == ""


def test_patient_search_is_refused_in_the_message_for_a_user_without_privilege(cases):
    with as_user(cases, "reader"):
        browser = SeriesBrowser(cases)
        before = list(browser.results["series_uid"])
        browser.patient_name.value = "doe"
        browser.search_button.click()  # the button shows the refusal, never raises
        assert browser.message.kind == "error"
        assert "You cannot search using patient information" in browser.message.text
        assert list(browser.results["series_uid"]) == before
        with pytest.raises(cnb.PermissionDenied):  # the Python method raises it too
            browser.search(sex="F")
        assert "personalInfoView" in browser.message.text


def test_patient_search_works_with_privilege(imported):
    browser = SeriesBrowser(imported)
    assert len(browser.search(patient_name="müller")) == 2  # abdomen and its follow-up
    browser.clear()
    browser.sex.value, browser.min_age.value = "F", "50"
    browser.search_button.click()
    assert browser.filters == {"sex": "F", "min_age": 50}
    assert len(browser.results) == 4


def test_paging_uses_limit_and_offset(imported, samples):
    browser = SeriesBrowser(imported, page_size=4)
    first = list(browser.results["series_uid"])
    assert len(first) == 4 and browser.page == 0
    assert browser.previous_button.disabled and not browser.next_button.disabled
    assert "series 1-4" in browser.page_label.value
    browser.next_button.click()
    second = list(browser.results["series_uid"])
    assert len(second) == 2 and browser.page == 1
    assert browser.next_button.disabled and not browser.previous_button.disabled
    assert "series 5-6" in browser.page_label.value
    assert set(first + second) == {s.series_uid for s in samples[1].values()}
    assert browser.table.caption == "Series 5\u20136 of 6"
    browser.next_page()  # nothing after the last page
    assert list(browser.results["series_uid"]) == second
    browser.previous_page()
    assert list(browser.results["series_uid"]) == first
    browser.search(modality="CT")  # a new search starts at page 1
    assert browser.page == 0 and len(browser.results) == 4
    with pytest.raises(cnb.ValidationError):
        SeriesBrowser(imported, page_size=500)


def test_select_shows_the_middle_thumbnail_and_a_description(imported, samples):
    browser = SeriesBrowser(imported)
    uid = samples[1]["chest_ct_lung"].series_uid
    series = browser.select(uid)
    assert series.series_uid == uid and browser.selected == uid
    assert bytes(browser.thumbnail.value).startswith(PNG)
    assert "#31" in browser.thumbnail_caption.value  # the middle of 1-60
    assert "Chest CT lung 2.5 mm" in browser.details.value and uid in browser.details.value
    assert "1-60 (60 images)" in browser.details.value
    assert browser.table.selected == [uid] and not browser.new_case_button.disabled
    other = samples[1]["mr_interleaved"].series_uid
    browser.table.selected = [other]  # a click on its row
    assert browser.selected == other and "Axial PD/T2 dual echo" in browser.details.value
    browser.table._on_message(browser.table, {"type": "click", "key": uid}, [])
    assert browser.selected == uid and browser.table.selected == [uid]
    browser.table.clear_selection()
    assert browser.selected is None and browser.new_case_button.disabled
    with pytest.raises(cnb.NotFoundError, match="not among the results"):
        browser.select("1.2.3.4")
    assert browser.message.kind == "error"
    browser.select(other)
    browser.search(modality="CT")  # the selected MR series leaves the results
    assert browser.selected is None and browser.new_case_button.disabled


def test_new_case_opens_a_form_with_the_selected_series(cases):
    uid = cases.uids["chest_ct_localizer"]
    with as_user(cases, "writer"):
        browser = SeriesBrowser(cases)
        assert browser.new_case_button.disabled
        with pytest.raises(cnb.ValidationError, match="Select a series first"):
            browser.new_case()
        browser.select(uid)
        form = browser.new_case()
        assert isinstance(form, NewCaseForm) and browser.form is form
        assert form.entries == [(uid, "auto")]
        assert form in browser.new_case_box.children
        assert form.create_button.description == "Create Case for Lung"
        browser.select(cases.uids["abdomen_ct"])
        browser.new_case_button.click()
        assert browser.form is not form
        assert browser.form.entries == [(cases.uids["abdomen_ct"], "auto")]
        browser.close_new_case()
        assert browser.new_case_box.children == ()


def test_a_grey_placeholder_and_no_empty_image_show_before_a_series_is_selected(imported,
                                                                                samples):
    browser = SeriesBrowser(imported)
    assert browser.thumbnail.layout.display == "none"  # an empty Image is a broken icon
    assert browser.thumbnail_caption.value == NO_SELECTION
    placeholder = browser.thumbnail_placeholder
    assert placeholder.layout.display is None
    assert "cnb-placeholder" in placeholder.value and "No series selected" in placeholder.value
    browser.select(samples[1]["chest_ct_lung"].series_uid)
    assert browser.thumbnail.layout.display is None
    assert bytes(browser.thumbnail.value).startswith(PNG)
    assert placeholder.layout.display == "none"
    browser.search(modality="MR")  # the selected series leaves the results
    assert browser.thumbnail.layout.display == "none"
    assert browser.thumbnail_caption.value == NO_SELECTION
    assert placeholder.layout.display is None and "No series selected" in placeholder.value


def test_a_series_without_a_picture_shows_the_placeholder(imported, samples, monkeypatch):
    browser = SeriesBrowser(imported)
    monkeypatch.setattr(cnb.Series, "thumbnail", lambda *a, **k: 1 / 0)
    browser.select(samples[1]["chest_ct_lung"].series_uid)
    assert browser.thumbnail.layout.display == "none"
    assert "No image" in browser.thumbnail_placeholder.value
    assert "No thumbnail: division by zero" in browser.thumbnail_caption.value
    assert not browser.new_case_button.disabled  # the series can still start a case


def test_a_click_on_a_header_sorts_and_a_second_click_reverses(imported):
    browser = SeriesBrowser(imported)
    table = browser.table
    assert table.sort == ["-imported_at"]  # the store's order when none is asked for
    patient = COLUMNS.index("Patient")  # masked (the preference is off): nothing to sort
    assert table.sort_keys == [k if i != patient else "" for i, k in enumerate(SORT_KEYS)]
    column = COLUMNS.index("Series Description")
    table._on_message(table, {"type": "header", "column": column}, [])
    descriptions = [row[column] for row in table.rows]
    assert descriptions == sorted(descriptions) and len(set(descriptions)) > 2
    assert browser.filters == {"sort": ["series_description"]} and browser.page == 0
    table.click_header("Series Description")
    assert [row[column] for row in table.rows] == descriptions[::-1]
    assert table.sort == ["-series_description"]
    frame = browser.sort(["image_count"])  # the Python twin of a click on Images
    assert list(frame["image_count"]) == sorted(frame["image_count"])
    assert table.sort == ["image_count"]


def test_sorting_keeps_the_filters_and_the_fields(imported):
    browser = SeriesBrowser(imported)
    browser.search(modality="CT")
    browser.description.value = "typed, not searched"
    browser.sort(["series_date"])
    assert browser.filters == {"modality": "CT", "sort": ["series_date"]}
    assert set(browser.results["modality"]) == {"CT"}
    assert browser.description.value == "typed, not searched"
    browser.sort([])
    assert browser.filters == {"modality": "CT"} and browser.table.sort == ["-imported_at"]
    assert browser.search(sort=["-series_uid"]) is browser.results  # search sorts too
    assert browser.table.sort == ["-series_uid"]


def test_a_refused_sort_is_shown_and_leaves_the_results(cases):
    with as_user(cases, "reader"):
        browser = SeriesBrowser(cases)
        before = list(browser.results["series_uid"])
        with pytest.raises(cnb.PermissionDenied):
            browser.sort(["patient_name"])
        assert browser.filters == {} and browser.message.kind == "error"
        browser.table.sort = ["patient_name"]  # what a click would do, were it sortable
        assert browser.message.kind == "error"  # shown, not raised
        assert browser.table.sort == ["-imported_at"]  # the arrow shows the results' order
        assert list(browser.results["series_uid"]) == before


def test_every_field_label_has_room_for_its_text(imported):
    browser = SeriesBrowser(imported)
    # sort, a list and a saved search have no field (the table and the tools set them)
    for name in [n for n in SEARCH_FILTERS if n not in ("sort", "in_list", "preset")]:
        field = getattr(browser, name)
        assert field.style.description_width == "120px", name


def _counting(store, calls):
    count = store.count_series

    def count_series(**filters):
        calls.append(filters)
        return count(**filters)
    return count_series


def test_the_total_comes_from_count_series(imported, samples, monkeypatch):
    calls = []
    monkeypatch.setattr(imported, "count_series", _counting(imported, calls))
    browser = SeriesBrowser(imported, page_size=4)
    assert browser.total == len(samples[1]) == 6
    assert browser.message.text == "Showing series 1-4 of 6."
    assert "Page 1 of 2 (series 1-4 of 6)" in browser.page_label.value
    browser.next_page()
    assert browser.message.text == "Showing series 5-6 of 6."
    assert "Page 2 of 2" in browser.page_label.value and browser.next_button.disabled
    assert len(calls) == 1  # paging reuses the count of its search
    assert browser.table.caption == "Series 5\u20136 of 6"
    browser.search(modality="CT", sort=["series_description"])
    assert calls[-1] == {"modality": "CT"}  # the filters, without the sort
    assert browser.message.text == "Showing series 1-4 of 5."
    assert browser.table.caption == "Series 1\u20134 of 5"


def test_one_page_needs_no_count(imported, monkeypatch):
    calls = []
    monkeypatch.setattr(imported, "count_series", _counting(imported, calls))
    small = SeriesBrowser(imported, page_size=50)  # one page holds them all
    assert small.message.text == "Showing series 1-6 of 6." and calls == []

def test_reversed_dates_are_said_to_be_reversed(imported):
    browser = SeriesBrowser(imported)
    before = list(browser.results["series_uid"])
    browser.date_from.value = datetime.date(2024, 5, 2)
    browser.date_to.value = datetime.date(2024, 5, 1)
    browser.search_button.click()
    assert browser.message.kind == "error"
    assert browser.message.text == ("Series from (2024-05-02) is after Series to (2024-05-01):"
                                    " the dates are reversed, so no series could match."
                                    " Swap them.")
    assert list(browser.results["series_uid"]) == before
    with pytest.raises(cnb.ValidationError, match=r"Imported from \(2024-01-31\) is after"
                                                  r" Imported to \(2024-01-30\)"):
        browser.search(imported_from="2024-01-31", imported_to=datetime.date(2024, 1, 30))
    same_day = browser.search(date_from="2024-03-01", date_to="2024-03-01")
    assert len(same_day) == 3  # one day is a valid range: the chest CT study of 2024-03-01


def test_saved_searches_and_lists_in_the_series_browser(imported):
    browser = SeriesBrowser(imported)
    browser.modality.value = "MR"
    browser.search_from_form()
    mr = browser.results["series_uid"][0]
    browser.save_search("MR")
    browser.clear()
    browser.search()
    assert browser.total > 1
    browser.tools.preset.value = "MR"  # picking it runs it and fills the fields
    assert list(browser.results["series_uid"]) == [mr] and browser.modality.value == "MR"
    browser.select(mr)
    made = browser.new_list("to label")
    assert made.items == [mr] and made.kind == "series"
    browser.search()
    browser.tools.show_list_button.click()
    assert list(browser.results["series_uid"]) == [mr]
    browser.select(mr)
    browser.remove_from_list("to label")
    assert imported.get_list("to label").items == []
    browser.add_to_list("to label")
    assert imported.count_series(in_list="to label") == 1
    browser.table.clear_selection()
    assert browser.selected is None
    browser.tools.add_button.click()  # nothing selected: said, not raised
    assert "Select some series first" in browser.message.value


def test_search_from_the_form_keeps_what_the_fields_cannot_show(imported):
    browser = SeriesBrowser(imported)
    imported.create_list("series", "picked", items=imported.search_series()["series_uid"][:3])
    imported.save_search("series", "recent CT", modality="CT", imported_from="-7d",
                         in_list="picked", sort=["series_uid"])
    browser.apply_preset("recent CT")
    expected = list(browser.results["series_uid"])
    assert browser.modality.value == "CT" and browser.imported_from.value is None
    browser.description.value = ""  # a field edited, then Search
    assert list(browser.search_from_form()["series_uid"]) == expected
    assert browser.filters["imported_from"] == "-7d" and browser.filters["sort"] == ["series_uid"]
    browser.sort(["-series_uid"])
    assert browser.search_from_form()["series_uid"].tolist() == expected[::-1]
    browser.clear()  # Clear forgets them too
    assert browser.search_from_form().shape[0] == imported.count_series()
