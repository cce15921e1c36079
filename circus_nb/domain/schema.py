"""Attribute schemas: the small JSON-Schema subset CIRCUS projects use.

A schema is an object whose properties have type ``number``, ``integer``,
``string`` or ``boolean``, with optional ``minimum``/``maximum``/
``exclusiveMinimum``/``exclusiveMaximum`` (numbers), ``minLength``/``maxLength``
and ``enum`` (strings), ``title``/``description``/``default``, and a
``required`` list. Anything else is refused rather than silently ignored.

>>> schema = check_schema({"type": "object", "required": ["grade"],
...     "properties": {"grade": {"type": "integer", "minimum": 1, "maximum": 5}}})
>>> validate_attributes(schema, {"grade": 3})
{'grade': 3}
>>> validate_attributes(schema, {"grade": 7})
Traceback (most recent call last):
...
circus_nb.errors.ValidationError: attributes.grade must be <= 5 (maximum), got 7.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any

from ..errors import ValidationError
from .values import check_json, shown

__all__ = ["check_schema", "validate_attributes"]

TYPES = ("number", "integer", "string", "boolean")
_TOP_KEYS = {"type", "properties", "required", "title", "description", "additionalProperties"}
_COMMON_KEYS = {"type", "title", "description", "default"}
_KEYS_BY_TYPE = {
    "number": _COMMON_KEYS | {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"},
    "integer": _COMMON_KEYS | {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"},
    "string": _COMMON_KEYS | {"minLength", "maxLength", "enum"},
    "boolean": _COMMON_KEYS,
}
_SUBSET = (
    "Schemas are an object whose properties have type number, integer, string or boolean,"
    " with minimum/maximum/exclusiveMinimum/exclusiveMaximum, minLength/maxLength, enum"
    " (strings), title, description, default, and a required list."
)


def _schema_error(path: str, problem: str, value: Any) -> ValidationError:
    return ValidationError(f"Schema {path}: {problem} {_SUBSET}", field=path, value=value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_property(name: str, spec: Any) -> None:
    path = f"properties.{name}"
    if not isinstance(spec, Mapping):
        raise _schema_error(path, f"must be an object, got {shown(spec)}.", spec)
    kind = spec.get("type")
    if kind not in TYPES:
        raise _schema_error(f"{path}.type",
                            f"must be one of {', '.join(TYPES)}, got {shown(kind)}.", kind)
    for key in spec:
        if key not in _KEYS_BY_TYPE[kind]:
            raise _schema_error(f"{path}.{key}", f"is not allowed for type {kind}.", key)
    for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        if key in spec and not _is_number(spec[key]):
            raise _schema_error(f"{path}.{key}", f"must be a number, got {shown(spec[key])}.",
                                spec[key])
    for key in ("minLength", "maxLength"):
        if key in spec and not _is_count(spec[key]):
            raise _schema_error(f"{path}.{key}",
                                f"must be an integer >= 0, got {shown(spec[key])}.", spec[key])
    if "enum" in spec:
        enum = spec["enum"]
        if (not isinstance(enum, list) or not enum or len(set(map(str, enum))) != len(enum)
                or not all(isinstance(v, str) for v in enum)):
            raise _schema_error(f"{path}.enum", f"must be a non-empty list of distinct"
                                f" strings, got {shown(enum)}.", enum)
    for key in ("title", "description"):
        if key in spec and not isinstance(spec[key], str):
            raise _schema_error(f"{path}.{key}", f"must be text, got {shown(spec[key])}.",
                                spec[key])
    if "default" in spec:
        _check_value(f"{path}.default", spec, spec["default"])


def check_schema(schema: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Validate a schema document and return a deep copy of it (``None`` stays ``None``).

    Raises
    ------
    ValidationError
        Naming the first keyword or value outside the subset.

    >>> check_schema({"type": "object", "properties": {"x": {"type": "array"}}})
    Traceback (most recent call last):
    ...
    circus_nb.errors.ValidationError: Schema properties.x.type: must be one of number, ...
    """
    if schema is None:
        return None
    if not isinstance(schema, Mapping):
        raise _schema_error("(root)", f"must be an object, got {shown(schema)}.", schema)
    check_json(schema, "schema")
    for key in schema:
        if key not in _TOP_KEYS:
            raise _schema_error(key, "is not a supported keyword.", key)
    if schema.get("type", "object") != "object":
        raise _schema_error("type", f"must be 'object', got {shown(schema['type'])}.",
                            schema["type"])
    if schema.get("additionalProperties", False) is not False:
        raise _schema_error("additionalProperties", "may only be false: attributes the schema"
                            " does not define are always refused.", schema["additionalProperties"])
    properties = schema.get("properties", {})
    if not isinstance(properties, Mapping):
        raise _schema_error("properties", f"must be an object, got {shown(properties)}.",
                            properties)
    for name, spec in properties.items():
        _check_property(name, spec)
    required = schema.get("required", [])
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        raise _schema_error("required", f"must be a list of property names, got {shown(required)}.",
                            required)
    for name in required:
        if name not in properties:
            raise _schema_error("required", f"names {shown(name)}, which is not a property.", name)
    return copy.deepcopy(dict(schema))


def _type_problem(kind: str, value: Any) -> str | None:
    checks = {
        "number": _is_number,
        "integer": lambda v: _is_number(v) and float(v).is_integer(),
        "string": lambda v: isinstance(v, str),
        "boolean": lambda v: isinstance(v, bool),
    }
    if checks[kind](value):
        return None
    article = "an" if kind == "integer" else "a"
    return f"must be {article} {kind}, got {shown(value)}."


def _bound_problem(spec: Mapping[str, Any], value: Any) -> str | None:
    bounds = [
        ("minimum", lambda b: value >= b, ">="),
        ("maximum", lambda b: value <= b, "<="),
        ("exclusiveMinimum", lambda b: value > b, ">"),
        ("exclusiveMaximum", lambda b: value < b, "<"),
    ]
    for key, ok, op in bounds:
        if key in spec and not ok(spec[key]):
            return f"must be {op} {spec[key]} ({key}), got {shown(value)}."
    return None


def _length_problem(spec: Mapping[str, Any], value: str) -> str | None:
    if "minLength" in spec and len(value) < spec["minLength"]:
        return f"must have at least {spec['minLength']} characters, got {shown(value)}."
    if "maxLength" in spec and len(value) > spec["maxLength"]:
        return f"must have at most {spec['maxLength']} characters, got {len(value)}."
    if "enum" in spec and value not in spec["enum"]:
        return f"must be one of {', '.join(map(repr, spec['enum']))}, got {shown(value)}."
    return None


def _check_value(path: str, spec: Mapping[str, Any], value: Any) -> None:
    kind = spec["type"]
    problem = _type_problem(kind, value)
    if problem is None and kind in ("number", "integer"):
        problem = _bound_problem(spec, value)
    if problem is None and kind == "string":
        problem = _length_problem(spec, value)
    if problem is not None:
        raise ValidationError(f"{path} {problem}", field=path, value=value)


def validate_attributes(schema: Mapping[str, Any] | None, attributes: Any) -> dict[str, Any]:
    """Check ``attributes`` against a schema and return a copy.

    With no schema, any JSON object is accepted (keys are text, at most 32 levels
    deep). With one, every key must be a property, every required property
    present, and every value of its type, within its bounds and among its ``enum``.

    >>> validate_attributes(None, {1: "a", "1": "b"})
    Traceback (most recent call last):
    ...
    circus_nb.errors.ValidationError: attributes must be plain JSON, but attributes has the key ...

    Raises
    ------
    ValidationError
        Naming the first attribute that breaks a rule.
    """
    if not isinstance(attributes, Mapping):
        raise ValidationError(f"Attributes must be a dict, got {shown(attributes)}.",
                              field="attributes", value=attributes)
    check_json(attributes, "attributes")  # first: deepcopy would crash on a deep value
    attributes = copy.deepcopy(dict(attributes))
    if schema is None:
        return attributes
    properties = schema.get("properties", {})
    for key, value in attributes.items():
        if key not in properties:
            known = ", ".join(properties) or "none"
            raise ValidationError(
                f"attributes.{key} is not defined by the project's schema (defined: {known}).",
                field=f"attributes.{key}", value=value,
            )
        _check_value(f"attributes.{key}", properties[key], value)
    missing = [name for name in schema.get("required", []) if name not in attributes]
    if missing:
        raise ValidationError(
            f"Required attribute(s) missing: {', '.join(missing)}. Give a value for each.",
            field=f"attributes.{missing[0]}", value=None,
        )
    return attributes
