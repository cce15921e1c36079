"""ResultsTable driven through its traits, its methods and the messages its view sends."""

import pytest

import circus_nb as cnb
from circus_nb.widgets._table import ResultsTable, toggled_sort


def _table(multiple=False):
    table = ResultsTable(columns=["Case", "Project", "Created"],
                         sort_keys=["case_id", "", "created_at"], multiple=multiple)
    table.set_rows([["c1", "Lung", "2024-05-01"], ["c2", "Lung", "2024-05-02"],
                    ["c3", "Liver", "2024-05-03"]], keys=["c1", "c2", "c3"])
    return table


def _click(table, key, toggle=False):
    """What the browser sends for a click on a row."""
    table._on_message(table, {"type": "click", "key": key, "toggle": toggle}, [])


def test_the_traits_hold_what_the_view_draws():
    table = _table()
    assert table.columns == ["Case", "Project", "Created"]
    assert table.sort_keys == ["case_id", "", "created_at"]
    assert table.rows[2] == ["c3", "Liver", "2024-05-03"] and table.row_keys == ["c1", "c2", "c3"]
    assert table.selected == [] and table.sort == [] and not table.multiple
    state = table.get_state()
    for name in ("columns", "sort_keys", "rows", "row_keys", "selected", "multiple", "sort",
                 "caption", "empty_text"):
        assert name in state, name
    assert repr(table) == "<ResultsTable 3 rows, 0 selected>"


def test_select_and_clear_call_the_handlers():
    table, seen = _table(), []
    table.on_select(seen.append)
    table.select(["c2"])
    assert table.selected == ["c2"]
    table.clear_selection()
    assert table.selected == [] and seen == [["c2"], []]


def test_unknown_and_repeated_keys_are_refused_by_name():
    table = _table()
    with pytest.raises(cnb.ValidationError, match=r"No row has the key\(s\) c9, c8"):
        table.select(["c9", "c8"])
    with pytest.raises(cnb.ValidationError, match="No row has the key"):
        table.selected = ["nope"]
    assert table.selected == []
    with pytest.raises(cnb.ValidationError, match="Row keys must differ; repeated: a"):
        table.set_rows([["a", "", ""], ["a", "", ""]], keys=["a", "a"])
    with pytest.raises(cnb.ValidationError, match="2 rows but 1 keys"):
        table.set_rows([["a", "", ""], ["b", "", ""]], keys=["a"])
    with pytest.raises(cnb.ValidationError, match="Row 0 has 1 cells, not one for each of the 3"):
        table.set_rows([["a"]], keys=["a"])
    assert table.row_keys == ["c1", "c2", "c3"]  # nothing changed


def test_one_row_at_a_time_unless_multiple():
    table = _table()
    _click(table, "c1")
    _click(table, "c3", toggle=True)  # Ctrl + click: still one row
    assert table.selected == ["c3"]
    with pytest.raises(cnb.ValidationError, match="one row at a time, got 2"):
        table.select(["c1", "c2"])
    assert table.selected == ["c3"]


def test_multiple_toggles_with_a_modifier_and_selects_one_without():
    table = _table(multiple=True)
    _click(table, "c3")
    _click(table, "c1", toggle=True)
    assert table.selected == ["c1", "c3"]  # in the order of the rows
    _click(table, "c3", toggle=True)
    assert table.selected == ["c1"]
    table.select(["c2", "c3"])
    _click(table, "c1")  # a plain click selects that row alone
    assert table.selected == ["c1"]
    table.select(["c1", "c2"])
    table.multiple = False  # one row stays
    assert table.selected == ["c1"]


def test_new_rows_keep_the_selected_keys_still_shown():
    table, seen = _table(multiple=True), []
    table.select(["c1", "c3"])
    table.on_select(seen.append)
    table.set_rows([["c3", "", ""], ["c4", "", ""]], keys=["c3", "c4"])
    assert table.selected == ["c3"] and seen == [["c3"]]
    table.set_rows([["c4", "", ""]], keys=["c4"], selected=["c4"])
    assert table.selected == ["c4"]


def test_a_header_sorts_ascending_then_descending():
    table, seen = _table(), []
    table.on_sort(seen.append)
    table._on_message(table, {"type": "header", "column": 2}, [])
    assert table.sort == ["created_at"]
    table.click_header("Created")
    assert table.sort == ["-created_at"]
    table.click_header("Created")
    table.click_header("Case")
    assert seen == [["created_at"], ["-created_at"], ["created_at"], ["case_id"]]
    table._on_message(table, {"type": "header", "column": 1}, [])  # Project does not sort
    assert table.sort == ["case_id"]
    with pytest.raises(cnb.ValidationError, match="The column Project does not sort"):
        table.click_header("Project")
    with pytest.raises(cnb.ValidationError, match="No column 'Size'; the columns are Case"):
        table.click_header("Size")


def test_toggled_sort_looks_at_the_first_key_only():
    assert toggled_sort([], "a") == ["a"]
    assert toggled_sort(["a", "b"], "a") == ["-a"]
    assert toggled_sort(["-a"], "a") == ["a"]
    assert toggled_sort(["b", "a"], "a") == ["a"]


def test_a_click_on_a_row_replaced_meanwhile_is_ignored_and_odd_messages_are_reported():
    table, errors = _table(), []
    _click(table, "gone")
    assert table.selected == []
    table.on_error = errors.append
    table._on_message(table, {"type": "drag"}, [])
    table._on_message(table, "x", [])
    assert [type(e) for e in errors] == [cnb.ValidationError] * 2
    assert "does not know" in str(errors[0])


def test_the_view_ships_with_the_package_and_loads_nothing_from_the_network():
    table = _table()
    assert "export default { render }" in table._esm
    assert ".cnb-table" in table._css and "var(--jp-layout-color2" in table._css
    assert "http" not in table._esm and "import " not in table._esm
