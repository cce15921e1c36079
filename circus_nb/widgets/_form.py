"""``AttributesForm``: a form generated from a project's attribute schema.

One control per property (a checkbox, a choice for an ``enum``, a text field for
strings and numbers), or a JSON text box when the project has no schema. The case
editor uses it for case attributes, the case viewer for label attributes.

>>> form = AttributesForm({"type": "object", "properties": {
...     "grade": {"type": "integer"}, "solid": {"type": "boolean"}}, "required": ["grade"]})
>>> form.fields["grade"].value = "3"
>>> form.value
{'grade': 3}
>>> form.value = {"grade": 2, "solid": False}
>>> form.value  # a boolean set to False stays in the attributes
{'grade': 2, 'solid': False}
>>> AttributesForm(None).value = {"free": [1, 2]}
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from ..errors import ValidationError
from ._common import Guard

__all__ = ["AttributesForm"]

_WIDE = {"description_width": "160px"}
UNSET = "(not set)"


def _number_text(value: Any) -> str:
    return "" if value is None else str(value)


def _parse_number(text: str, kind: str) -> Any:
    """The number typed, ``None`` when empty; unparsable text is returned as is, so that
    validation reports it (``must be an integer, got 'abc'``)."""
    text = text.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if kind == "integer" and number.is_integer() else number


def _field_control(key: str, spec: dict[str, Any], required: bool, width: str
                   ) -> widgets.Widget:
    """One control for one schema property; its description is the label."""
    label = (spec.get("title") or key) + (" *" if required else "")
    common = {"description": label, "style": _WIDE, "tooltip": spec.get("description", ""),
              "layout": widgets.Layout(width=width)}
    kind = spec["type"]
    if kind == "boolean":
        return widgets.Checkbox(value=False, indent=True, **common)
    if kind == "string" and "enum" in spec:
        return widgets.Dropdown(options=[(UNSET, None), *((v, v) for v in spec["enum"])],
                                value=None, **common)
    placeholder = {"number": "a number", "integer": "a whole number"}.get(kind, "")
    if "default" in spec:
        placeholder = f"default: {spec['default']}"
    return widgets.Text(value="", placeholder=placeholder, continuous_update=True, **common)


class AttributesForm(widgets.VBox):
    """Controls for the attributes of ``schema`` (``None``: free JSON); ``value`` is the
    dict they show, ``state()`` what was typed (to tell whether the user changed it)."""

    def __init__(self, schema: dict[str, Any] | None, title: str = "Attributes",
                 width: str = "460px"):
        self.schema = schema
        self.fields: dict[str, widgets.Widget] = {}
        self._kinds: dict[str, str] = {}
        self._bool_present: set[str] = set()
        self._quiet = Guard()
        self._handlers: list[Callable[[], Any]] = []
        self.json_input: widgets.Textarea | None = None
        if schema is None:
            self.json_input = widgets.Textarea(
                description=f"{title} (JSON)", style=_WIDE, value="{}",
                layout=widgets.Layout(width=width, height="120px"))
            controls: list[widgets.Widget] = [self.json_input]
        else:
            required = set(schema.get("required", []))
            for key, spec in schema.get("properties", {}).items():
                self.fields[key] = _field_control(key, spec, key in required, width)
                self._kinds[key] = spec["type"]
            controls = list(self.fields.values())
        for control in controls:
            control.observe(lambda _: self._changed(), "value")
        super().__init__([widgets.HTML(f"<b>{title}</b>"), *controls])

    def on_change(self, handler: Callable[[], Any]) -> None:
        """Call ``handler()`` when the user edits a field (not when ``value`` is set)."""
        self._handlers.append(handler)

    def _changed(self) -> None:
        if not self._quiet:
            for handler in self._handlers:
                handler()

    @property
    def value(self) -> dict[str, Any]:
        """The attributes the form shows (unset optional fields are left out).

        Raises ``ValidationError`` only when the JSON text (no schema) does not parse.
        """
        if self.json_input is not None:
            try:
                return json.loads(self.json_input.value or "{}")
            except json.JSONDecodeError as e:
                raise ValidationError(f"Attributes are not valid JSON ({e}). Write an object"
                                      ' such as {"grade": 2}.', field="attributes",
                                      value=self.json_input.value) from None
        required = set(self.schema.get("required", []))
        result: dict[str, Any] = {}
        for key, control in self.fields.items():
            kind = self._kinds[key]
            if kind == "boolean":
                if control.value or key in required or key in self._bool_present:
                    result[key] = bool(control.value)
                continue
            value = (_parse_number(control.value, kind) if kind in ("number", "integer")
                     else control.value)
            if value is not None and value != "":
                result[key] = value
        return result

    @value.setter
    def value(self, values: dict[str, Any]) -> None:
        """Show ``values``; a key the schema does not define is refused."""
        if self.schema is not None:
            unknown = sorted(set(values) - set(self.fields))
            if unknown:
                raise ValidationError(
                    f"attributes.{unknown[0]} is not defined by the project's schema"
                    f" (defined: {', '.join(self.fields) or 'none'}).",
                    field=f"attributes.{unknown[0]}", value=values[unknown[0]])
        self.show(values)

    def show(self, values: dict[str, Any]) -> None:
        """Show ``values`` as stored, even keys today's schema lacks (they are not shown)."""
        with self._quiet():
            if self.json_input is not None:
                self.json_input.value = json.dumps(values, indent=2, ensure_ascii=False)
                return
            self._bool_present = {k for k in values if self._kinds.get(k) == "boolean"}
            for key, control in self.fields.items():
                value, kind = values.get(key), self._kinds[key]
                if kind == "boolean":
                    control.value = value is True
                elif isinstance(control, widgets.Dropdown):
                    if value is not None and value not in [v for _, v in control.options]:
                        control.options = [*control.options, (str(value), value)]
                    control.value = value
                elif kind in ("number", "integer"):
                    control.value = _number_text(value)
                else:
                    control.value = "" if value is None else str(value)

    def state(self) -> tuple:
        """What the controls hold, to compare with a later state."""
        if self.json_input is not None:
            return self.json_input.value, ()
        return (tuple((k, c.value) for k, c in self.fields.items()),
                tuple(sorted(self._bool_present)))
