"""Labels inside a revision's series entry: voxel masks, points, cuboids and friends.

A voxel label keeps its mask cropped to the bounding box; the store saves the
packed bits once per distinct mask (content-addressed) and the label refers to
them by hash.

>>> import numpy as np
>>> mask = np.zeros((4, 8, 8), bool); mask[1:3, 2:5, 2:4] = True
>>> label = Label.voxel(mask, name="nodule", color="#00ff00")
>>> label.data["origin"], label.data["size"], bool((label.mask() == mask).all())
([1, 2, 2], [2, 3, 2], True)
>>> Label.point([10.0, -5.5, 120.0], name="apex").data["location"]
[10.0, -5.5, 120.0]
"""

from __future__ import annotations

import hashlib
import math
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ValidationError
from .values import check_color

__all__ = ["LABEL_TYPES", "Label", "pack_mask", "unpack_mask"]

# type -> the keys its data holds besides color and alpha, each (name, length)
_SHAPES: dict[str, tuple[tuple[str, int], ...]] = {
    "cuboid": (("min", 3), ("max", 3)),
    "ellipsoid": (("min", 3), ("max", 3)),
    "rectangle": (("min", 2), ("max", 2), ("z", 1)),
    "ellipse": (("min", 2), ("max", 2), ("z", 1)),
    "point": (("location", 3),),
    "ruler": (("section", 0), ("start", 3), ("end", 3)),
    "polyline": (("points", 0), ("z", 1)),
}
LABEL_TYPES = ("voxel", *_SHAPES)


def _numbers(value: Any, length: int, what: str) -> list[float] | float:
    if length == 1:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
                value):
            raise ValidationError(f"{what} must be a number, got {value!r}.", field=what,
                                  value=value)
        return float(value)
    try:
        numbers = [float(v) for v in value]
    except (TypeError, ValueError):
        raise ValidationError(f"{what} must be {length} numbers, got {value!r}.", field=what,
                              value=value) from None
    if len(numbers) != length or not all(map(math.isfinite, numbers)):
        raise ValidationError(f"{what} must be {length} finite numbers, got {value!r}.",
                              field=what, value=value)
    return numbers


def _check_style(color: Any, alpha: Any) -> tuple[str, float]:
    check_color(color, "label color")
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 <= alpha <= 1:
        raise ValidationError(f"label alpha must be a number from 0 to 1, got {alpha!r}.",
                              field="alpha", value=alpha)
    return color, float(alpha)


def pack_mask(mask: np.ndarray) -> bytes:
    """zlib-compressed packed bits of a boolean array (its shape is kept elsewhere)."""
    return zlib.compress(np.packbits(mask, axis=None).tobytes(), 6)


def unpack_mask(blob: bytes, shape: Sequence[int]) -> np.ndarray:
    count = int(np.prod(shape))
    bits = np.unpackbits(np.frombuffer(zlib.decompress(blob), np.uint8), count=count)
    return bits.astype(bool).reshape(tuple(shape))


@dataclass(frozen=True, eq=False)
class Label:
    """A label: ``type``, ``data`` (geometry, ``color``, ``alpha``), ``name``, ``attributes``.

    Use the constructors :meth:`voxel`, :meth:`point`, :meth:`cuboid` or
    :meth:`of` (any type, from plain data).
    """

    type: str
    data: dict[str, Any]
    name: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    # the packed cropped mask of a voxel label, or a function that loads it
    blob: bytes | Callable[[], bytes] | None = field(default=None, repr=False)

    @classmethod
    def of(cls, type: str, data: Mapping[str, Any], name: str | None = None,
           attributes: Mapping[str, Any] | None = None) -> Label:
        """A label of any non-voxel type from plain data, checked."""
        if type not in _SHAPES:
            known = ", ".join(LABEL_TYPES)
            hint = " Use Label.voxel(mask) for masks." if type == "voxel" else ""
            raise ValidationError(f"Unknown label type {type!r}; types are {known}.{hint}",
                                  field="type", value=type)
        data = dict(data)
        checked: dict[str, Any] = {}
        for key, length in _SHAPES[type]:
            if key not in data:
                raise ValidationError(f"A {type} label needs {key!r} in its data.", field=key,
                                      value=None)
            value = data.pop(key)
            checked[key] = value if length == 0 else _numbers(value, length, f"{type} {key}")
        color, alpha = _check_style(data.pop("color", "#ff0000"), data.pop("alpha", 1.0))
        if data:
            raise ValidationError(f"A {type} label has no {sorted(data)[0]!r} in its data.",
                                  field=sorted(data)[0], value=data)
        return cls(type, {**checked, "color": color, "alpha": alpha}, _name(name),
                   dict(attributes or {}))

    @classmethod
    def point(cls, location: Sequence[float], name: str | None = None, color: str = "#ff0000",
              alpha: float = 1.0, attributes: Mapping[str, Any] | None = None) -> Label:
        """A point at ``location`` (x, y, z) in patient coordinates (mm)."""
        return cls.of("point", {"location": location, "color": color, "alpha": alpha}, name,
                      attributes)

    @classmethod
    def cuboid(cls, min: Sequence[float], max: Sequence[float], name: str | None = None,
               color: str = "#ff0000", alpha: float = 1.0,
               attributes: Mapping[str, Any] | None = None) -> Label:
        """A box from corner ``min`` to ``max`` (x, y, z, mm)."""
        return cls.of("cuboid", {"min": min, "max": max, "color": color, "alpha": alpha}, name,
                      attributes)

    @classmethod
    def voxel(cls, mask: np.ndarray, name: str | None = None, color: str = "#ff0000",
              alpha: float = 1.0, attributes: Mapping[str, Any] | None = None) -> Label:
        """A mask shaped like the series entry's volume (z, y, x), cropped to its box."""
        mask = np.asarray(mask)
        if mask.ndim != 3 or mask.dtype != bool:
            raise ValidationError(f"A voxel mask is a 3-D boolean array (z, y, x), got"
                                  f" {mask.ndim}-D {mask.dtype}.", field="mask",
                                  value=mask.shape)
        color, alpha = _check_style(color, alpha)
        present = np.nonzero(mask)
        if present[0].size:
            origin = [int(axis.min()) for axis in present]
            end = [int(axis.max()) + 1 for axis in present]
        else:
            origin, end = [0, 0, 0], [0, 0, 0]
        cropped = mask[tuple(slice(a, b) for a, b in zip(origin, end, strict=True))]
        blob = pack_mask(cropped)
        data = {"shape": list(mask.shape), "origin": origin,
                "size": [b - a for a, b in zip(origin, end, strict=True)],
                "blob": hashlib.sha256(blob).hexdigest(), "color": color, "alpha": alpha}
        return cls("voxel", data, _name(name), dict(attributes or {}), blob)

    def packed(self) -> bytes:
        """The compressed cropped mask of a voxel label."""
        if self.type != "voxel" or self.blob is None:
            raise ValidationError(f"Only voxel labels have a mask; this is a {self.type}.",
                                  field="type", value=self.type)
        return self.blob() if callable(self.blob) else self.blob

    def mask(self) -> np.ndarray:
        """The full boolean mask of a voxel label (shape of its series entry's volume)."""
        packed = self.packed()  # refuses other types
        full = np.zeros(self.data["shape"], bool)
        if all(self.data["size"]):
            box = tuple(slice(o, o + s) for o, s in zip(self.data["origin"], self.data["size"],
                                                        strict=True))
            full[box] = unpack_mask(packed, self.data["size"])
        return full

    def to_json(self) -> dict[str, Any]:
        """The label as stored: plain JSON (a voxel mask by its blob hash)."""
        return {"type": self.type, "name": self.name, "data": self.data,
                "attributes": self.attributes}

    @classmethod
    def from_json(cls, value: Mapping[str, Any],
                  blob: bytes | Callable[[], bytes] | None = None) -> Label:
        return cls(value["type"], dict(value["data"]), value.get("name"),
                   dict(value.get("attributes") or {}), blob)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Label) and self.to_json() == other.to_json()

    def __hash__(self) -> int:
        return hash((self.type, self.name, repr(sorted(self.data.items()))))

    def __repr__(self) -> str:
        name = f" {self.name!r}" if self.name else ""
        return f"<Label {self.type}{name} {self.data.get('color')}>"


def _name(name: Any) -> str | None:
    if name is not None and (not isinstance(name, str) or len(name) > 128):
        raise ValidationError(f"A label name is text of at most 128 characters, got {name!r}.",
                              field="name", value=name)
    return name
