import pytest

from circus_nb import ValidationError
from circus_nb.domain import check_schema, validate_attributes

SCHEMA = {
    "type": "object",
    "required": ["grade"],
    "properties": {
        "grade": {"type": "integer", "minimum": 1, "maximum": 5, "title": "Grade"},
        "size": {"type": "number", "exclusiveMinimum": 0},
        "finding": {"type": "string", "enum": ["nodule", "mass"]},
        "note": {"type": "string", "maxLength": 5, "minLength": 1},
        "confirmed": {"type": "boolean", "default": False},
    },
}


def test_a_schema_in_the_subset_is_accepted_and_copied():
    checked = check_schema(SCHEMA)
    assert checked == SCHEMA and checked is not SCHEMA
    assert check_schema(None) is None
    assert check_schema({}) == {}


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ([], "Schema (root): must be an object"),
        ({"type": "array"}, "Schema type: must be 'object', got 'array'"),
        ({"oneOf": []}, "Schema oneOf: is not a supported keyword"),
        ({"properties": {"x": {"type": "array"}}}, "properties.x.type: must be one of number"),
        ({"properties": {"x": {"type": "string", "minimum": 1}}},
         "properties.x.minimum: is not allowed for type string"),
        ({"properties": {"x": {"type": "integer", "pattern": "a"}}},
         "properties.x.pattern: is not allowed for type integer"),
        ({"properties": {"x": {"type": "number", "maximum": "5"}}},
         "properties.x.maximum: must be a number, got '5'"),
        ({"properties": {"x": {"type": "string", "maxLength": -1}}},
         "properties.x.maxLength: must be an integer >= 0"),
        ({"properties": {"x": {"type": "string", "enum": []}}}, "properties.x.enum: must be a"),
        ({"properties": {"x": {"type": "string", "enum": ["a", "a"]}}}, "distinct strings"),
        ({"properties": {"x": {"type": "string", "enum": [1]}}}, "distinct strings"),
        ({"properties": {"x": {"type": "integer", "default": "a"}}},
         "properties.x.default must be an integer, got 'a'"),
        ({"properties": {}, "required": ["y"]}, "Schema required: names 'y', which is not"),
        ({"additionalProperties": True}, "additionalProperties: may only be false"),
        ({"properties": {"x": "string"}}, "properties.x: must be an object"),
    ],
)
def test_schemas_outside_the_subset_are_refused_by_name(schema, message):
    with pytest.raises(ValidationError) as info:
        check_schema(schema)
    assert message in str(info.value)
    assert "Schemas are an object whose properties" in str(info.value) or "default" in message


def test_valid_attributes_pass_and_are_copied():
    values = {"grade": 3, "size": 1.5, "finding": "mass", "note": "ok", "confirmed": True}
    result = validate_attributes(SCHEMA, values)
    assert result == values and result is not values
    assert validate_attributes(SCHEMA, {"grade": 3.0}) == {"grade": 3.0}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"grade": 7}, "attributes.grade must be <= 5 (maximum), got 7."),
        ({"grade": 0}, "attributes.grade must be >= 1 (minimum), got 0."),
        ({"grade": 2.5}, "attributes.grade must be an integer, got 2.5."),
        ({"grade": True}, "attributes.grade must be an integer, got True."),
        ({"grade": "3"}, "attributes.grade must be an integer, got '3'."),
        ({"grade": 1, "size": 0}, "attributes.size must be > 0 (exclusiveMinimum), got 0."),
        ({"grade": 1, "size": float("nan")}, "attributes.size is nan, not a finite number"),
        ({"grade": 1, "finding": "cyst"}, "must be one of 'nodule', 'mass', got 'cyst'."),
        ({"grade": 1, "note": "toolong"}, "attributes.note must have at most 5 characters, got 7."),
        ({"grade": 1, "note": ""}, "attributes.note must have at least 1 characters"),
        ({"grade": 1, "confirmed": 1}, "attributes.confirmed must be a boolean, got 1."),
        ({"grade": 1, "colour": "red"}, "attributes.colour is not defined by the project's schema"),
        ({}, "Required attribute(s) missing: grade."),
        ({"grade": None}, "attributes.grade must be an integer, got None."),
    ],
)
def test_bad_attributes_name_the_key_and_value(values, message):
    with pytest.raises(ValidationError) as info:
        validate_attributes(SCHEMA, values)
    assert message in str(info.value)
    assert info.value.field.startswith("attributes.")


def test_without_a_schema_any_json_object_is_accepted():
    assert validate_attributes(None, {"a": [1, {"b": None}]}) == {"a": [1, {"b": None}]}
    with pytest.raises(ValidationError, match="plain JSON"):
        validate_attributes(None, {"a": object()})
    with pytest.raises(ValidationError, match="must be a dict"):
        validate_attributes(None, [1])
