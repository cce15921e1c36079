"""The argument checkers every public entry point uses: rules as properties."""

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from circus_nb import ValidationError
from circus_nb.domain.values import (
    MAX_JSON_DEPTH,
    check_int,
    check_json,
    check_names,
    check_text,
    shown,
)

SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
CONTROLS = st.characters(categories=["Cc"])
anything = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.binary(),
                     st.lists(st.integers(), max_size=3), st.dictionaries(st.text(), st.text()))


def _storable(text: str, line: bool) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    bad = {chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)]} if line else {"\x00"}
    return not set(text) & bad


@given(st.text(max_size=12), st.booleans())
def test_text_is_accepted_exactly_when_it_can_be_stored(text, line):
    try:
        assert check_text(text, "f", 10, line=line) is text
    except ValidationError as e:
        assert e.field == "f"
        assert not (1 <= len(text) <= 10 and _storable(text, line))
    else:
        assert 1 <= len(text) <= 10 and _storable(text, line)
        text.encode("utf-8")  # what the database needs


@given(st.text(max_size=5), SURROGATES, st.text(max_size=5))
def test_a_lone_surrogate_anywhere_is_refused(before, surrogate, after):
    with pytest.raises(ValidationError, match="lone surrogate .* not valid UTF-8"):
        check_text(before + surrogate + after, "description", 100)


@given(CONTROLS)
def test_one_line_text_refuses_every_control_character(control):
    with pytest.raises(ValidationError, match="must be one line of printable text"):
        check_text(f"a{control}b", "tag", 32, line=True)


@given(anything.filter(lambda v: not isinstance(v, str)))
def test_only_str_is_text(value):
    with pytest.raises(ValidationError, match="description must be text, got"):
        check_text(value, "description", 100)


@given(st.one_of(st.integers(), st.booleans(), st.floats(), st.text(max_size=3), st.none()),
       st.integers(-10, 10), st.integers(0, 20))
def test_integers_in_a_range(value, low, span):
    high = low + span
    ok = isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
    if ok:
        assert check_int(value, "i", low, high) == value
    else:
        with pytest.raises(ValidationError, match=f"i must be an integer from {low} to {high}"):
            check_int(value, "i", low, high)


def test_numpy_integers_are_integers():
    np = pytest.importorskip("numpy")
    assert check_int(np.int64(3), "i", 0, 5) == 3 and type(check_int(np.int64(3), "i", 0, 5)) is int


@given(st.lists(st.text(min_size=1, max_size=8), max_size=6))
def test_names_are_a_list_of_one_line_texts(names):
    good = all(_storable(n, line=True) for n in names)
    try:
        assert check_names(names, "groups", 8) == names
    except ValidationError as e:
        assert not good and e.field == "groups"
    else:
        assert good


@pytest.mark.parametrize("values", [None, 5, b"ab", {"a": 1}, 2**70])
def test_names_refuse_what_is_not_a_collection(values):
    with pytest.raises(ValidationError, match="groups must be a list of names"):
        check_names(values, "groups", 8)


def test_a_lone_name_is_one_name_and_the_count_is_bounded():
    assert check_names("nodule", "tags", 32) == ["nodule"]
    with pytest.raises(ValidationError, match="tags: at most 2 tags at a time, got 3"):
        check_names(["a", "b", "c"], "tags", 32, item="tag", max_items=2)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text().filter(lambda t: _storable(t, line=False)),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(
        st.text(max_size=5).filter(lambda t: _storable(t, line=True)), children, max_size=3),
    max_leaves=12)


@given(json_values)
def test_plain_json_is_accepted_and_round_trips(value):
    assert check_json(value, "attributes") is value
    assert json.loads(json.dumps(value)) == value


@given(st.integers(1, 3))
def test_keys_that_json_would_turn_into_text_are_refused(key):
    with pytest.raises(ValidationError, match=f"has the key {key}, but keys must be text"):
        check_json({key: "a", str(key): "b"}, "attributes")


@pytest.mark.parametrize("bad", [float("nan"), math.inf, b"bytes", {1, 2}, object()])
def test_values_json_cannot_hold_are_refused(bad):
    with pytest.raises(ValidationError, match="attributes must be plain JSON, but"):
        check_json({"x": [bad]}, "attributes")


def _deep(levels):
    value = {}
    for _ in range(levels):
        value = {"a": value}
    return value


def test_nesting_is_bounded_without_recursion():
    check_json(_deep(MAX_JSON_DEPTH - 1), "attributes")
    for levels in (MAX_JSON_DEPTH + 1, 100_000):
        with pytest.raises(ValidationError, match="is nested deeper than 32 levels"):
            check_json(_deep(levels), "attributes")
    looped = {}
    looped["self"] = looped
    with pytest.raises(ValidationError, match="nested deeper"):
        check_json(looped, "attributes")


@given(st.integers(0, 20_000))
def test_shown_is_short_whatever_the_value(levels):
    assert len(shown(_deep(levels))) < 200
    assert len(shown("x" * levels)) <= 80
