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

However a label was built (a constructor, ``Label(...)``, ``from_json``,
``dataclasses.replace``), :func:`check_label` applies every rule before it is saved:

>>> import dataclasses
>>> check_label(dataclasses.replace(label, blob=pack_mask(mask[:2])))
Traceback (most recent call last):
...
circus_nb.errors.ValidationError: Voxel label 'nodule': its mask bytes do not match its blob ...
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import numbers
import os
import re
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import CircusError, ValidationError
from .values import check_color, check_json, shown, text_problem

if TYPE_CHECKING:
    from .series import Volume

__all__ = ["LABEL_TYPES", "Label", "check_label", "check_label_name", "pack_mask",
           "unpack_mask"]

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
_VOXEL_KEYS = ("shape", "origin", "size", "blob", "color", "alpha")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
MAX_VOXELS_A_SIDE = 2**31 - 1  # instance numbers and DICOM sizes fit in 32 bits


def _numbers(value: Any, length: int, what: str) -> list[float] | float:
    if length == 1:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
                value):
            raise ValidationError(f"{what} must be a number, got {shown(value)}.", field=what,
                                  value=value)
        return float(value)
    try:
        numbers = [float(v) for v in value]
    except (TypeError, ValueError):
        raise ValidationError(f"{what} must be {length} numbers, got {shown(value)}.", field=what,
                              value=value) from None
    if len(numbers) != length or not all(map(math.isfinite, numbers)):
        raise ValidationError(f"{what} must be {length} finite numbers, got {shown(value)}.",
                              field=what, value=value)
    return numbers


def _check_style(color: Any, alpha: Any) -> tuple[str, float]:
    check_color(color, "label color")
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 <= alpha <= 1:
        raise ValidationError(f"label alpha must be a number from 0 to 1, got {shown(alpha)}.",
                              field="alpha", value=alpha)
    return color, float(alpha)


def pack_mask(mask: np.ndarray) -> bytes:
    """zlib-compressed packed bits of a boolean array (its shape is kept elsewhere)."""
    return zlib.compress(np.packbits(mask, axis=None).tobytes(), 6)


def _unpacked_bits(blob: Any, count: int) -> bytes | str:
    """The packed bits of ``count`` voxels from ``blob``, or why they cannot be had."""
    if not isinstance(blob, bytes):
        return f"the mask is a {type(blob).__name__}, not bytes"
    need = (count + 7) // 8
    inflater = zlib.decompressobj()
    try:  # never inflate more than the mask can hold: a bad blob may be a zip bomb
        bits = inflater.decompress(blob, need + 1)
    except zlib.error as e:
        return f"the mask bytes are not zlib data ({e})"
    if len(bits) != need or inflater.unconsumed_tail or not inflater.eof:
        return f"the mask does not hold exactly {count} voxels"
    if inflater.unused_data:
        return "the mask bytes go on after their zlib data"
    return bits


def unpack_mask(blob: bytes, shape: Sequence[int]) -> np.ndarray:
    """The boolean array of ``shape`` packed in ``blob`` (see :func:`pack_mask`).

    Raises
    ------
    CircusError
        If ``blob`` is damaged or holds another number of voxels.
    """
    count = math.prod(shape)
    bits = _unpacked_bits(blob, count)
    if isinstance(bits, str):
        raise CircusError(f"A stored voxel mask of shape {tuple(shape)} cannot be read: {bits}."
                          " The catalog is damaged there; restore it from a backup, or save"
                          " the case again without that label.", field="blob", value=len(blob))
    mask = np.unpackbits(np.frombuffer(bits, np.uint8), count=count)
    return mask.astype(bool).reshape(tuple(shape))


def _voxel_numbers(data: Mapping[str, Any], key: str, least: int) -> list[int]:
    value = data.get(key)
    if (not isinstance(value, list | tuple) or len(value) != 3 or not all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool)
            and least <= v <= MAX_VOXELS_A_SIDE for v in value)):
        raise ValidationError(f"A voxel label's {key} must be 3 integers >= {least} (z, y, x),"
                              f" got {shown(value)}.", field=key, value=value)
    return [int(v) for v in value]


def _voxel_box(data: Mapping[str, Any]) -> tuple[list[int], list[int], list[int]]:
    """``shape``, ``origin`` and ``size`` of a voxel label, checked to fit together."""
    shape, origin = _voxel_numbers(data, "shape", 1), _voxel_numbers(data, "origin", 0)
    size = _voxel_numbers(data, "size", 0)
    if any(size) and not all(size):
        raise ValidationError(f"A voxel label's size is all 0 (an empty mask) or all > 0, got"
                              f" {size}.", field="size", value=size)
    if any(o + n > s for o, n, s in zip(origin, size, shape, strict=True)):
        raise ValidationError(f"A voxel label's box (origin {origin}, size {size}) reaches"
                              f" outside its shape {shape}.", field="origin", value=origin)
    return shape, origin, size


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
        if not isinstance(type, str) or type not in _SHAPES:
            known = ", ".join(LABEL_TYPES)
            hint = " Use Label.voxel(mask) for masks." if type == "voxel" else ""
            raise ValidationError(f"Unknown label type {shown(type)}; types are {known}.{hint}",
                                  field="type", value=type)
        return cls(type, _shape_data(type, data), check_label_name(name), _attributes(attributes))

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
        origin, end = _bounding_box(mask)
        cropped = mask[tuple(slice(a, b) for a, b in zip(origin, end, strict=True))]
        blob = pack_mask(cropped)
        data = {"shape": list(mask.shape), "origin": origin,
                "size": [b - a for a, b in zip(origin, end, strict=True)],
                "blob": hashlib.sha256(blob).hexdigest(), "color": color, "alpha": alpha}
        return cls("voxel", data, check_label_name(name), _attributes(attributes), blob)

    @classmethod
    def from_seg(cls, path: str | os.PathLike | Any, volume: Volume, color: str = "#ff0000"
                 ) -> list[Label]:
        """One voxel label per segment of a DICOM SEG on ``volume``, named by its SegmentLabel.

        The frames are placed on the volume's slices by their geometry and must be
        on its grid (:func:`circus_nb.formats.seg.read_seg`: nothing is resampled;
        segments sharing a label make one label). ``path`` may also be a pydicom
        Dataset. Save the labels as a revision of the case whose entry ``volume`` is:

        >>> import dataclasses, shutil, tempfile, numpy as np
        >>> from pathlib import Path
        >>> import circus_nb as cnb
        >>> tmp = Path(tempfile.mkdtemp())
        >>> sample = cnb.sample.write_ct_series(tmp / "ct", n=8, size=32)
        >>> store = cnb.Store.create(None)  # as its admin
        >>> _ = store.import_dicom(tmp / "ct", progress=False)
        >>> case = store.create_case(store.create_project("Lung").project_id,
        ...                          [sample.series_uid])
        >>> mask = np.zeros(case.volume().shape, bool); mask[2:5, 10:14, 0:9] = True
        >>> entry = dataclasses.replace(case.latest.series[0],
        ...                             labels=[cnb.Label.voxel(mask, name="nodule")])
        >>> _ = case.save("A nodule.", series=[entry])
        >>> path = case.to_seg(tmp / "labels.dcm")  # a DICOM SEG
        >>> labels = cnb.Label.from_seg(path, case.volume())
        >>> labels, bool((labels[0].mask() == mask).all())
        ([<Label voxel 'nodule' #ff0000>], True)
        >>> entry = dataclasses.replace(case.latest.series[0], labels=labels)
        >>> case.save("Labels read back from the SEG.", series=[entry]).index
        2
        >>> store.close(); shutil.rmtree(tmp)

        Raises
        ------
        ValidationError
            If the file is not a SEG, or not on the volume's grid.
        CircusError
            If it cannot be read, or highdicom is missing.
        """
        from ..formats.seg import read_seg  # lazily: the domain itself needs no pydicom

        return [cls.voxel(mask, name=name, color=color)
                for name, mask in read_seg(path, volume).items()]

    @classmethod
    def from_nifti(cls, path: str | os.PathLike, volume: Volume,
                   names: Mapping[int, str] | None = None, color: str = "#ff0000"
                   ) -> list[Label]:
        """One voxel label per non-zero value of a NIfTI mask or label map, in value order.

        The file must be on the volume's grid, whatever the order or direction of
        its axes (:func:`circus_nb.formats.nifti.read_mask`: nothing is resampled).
        ``names`` maps values to names (``{1: "liver", 2: "spleen"}``); a value
        without one is ``label<value>``, but a plain mask (only the value 1) without
        ``names`` is named after its file (``liver.nii.gz`` -> ``liver``).

        >>> import tempfile, numpy as np
        >>> from pathlib import Path
        >>> from circus_nb import Volume
        >>> from circus_nb.formats.nifti import write_nifti
        >>> volume = Volume(np.zeros((2, 4, 4), np.float32), (1, 2), (2.0, 1.0, 1.0),
        ...     ((0.0, 0.0, 2.0), (0.0, 0.0, 0.0)), orientation=(1, 0, 0, 0, 1, 0))
        >>> values = np.zeros(volume.shape, np.uint8); values[0, 1:3, 1:3] = 1; values[1, 0] = 2
        >>> path = write_nifti(Path(tempfile.mkdtemp()) / "organs.nii.gz", values,
        ...                    volume.affine)
        >>> Label.from_nifti(path, volume, names={2: "spleen"})
        [<Label voxel 'label1' #ff0000>, <Label voxel 'spleen' #ff0000>]

        Raises
        ------
        ValidationError
            If ``names`` is not a dict of values >= 1 to names, the file holds other
            than whole numbers >= 0, is not 3-D, or is not on the volume's grid.
        CircusError
            If it cannot be read as NIfTI, or nibabel is missing.
        """
        from ..formats.nifti import read_label_map  # lazily, as in from_seg

        return [cls.voxel(mask, name=name, color=color)
                for name, mask in read_label_map(path, volume.shape, volume.affine, names)]

    def packed(self) -> bytes:
        """The compressed cropped mask of a voxel label."""
        if self.type != "voxel" or self.blob is None:
            raise ValidationError(f"Only voxel labels have a mask; this is a {self.type}.",
                                  field="type", value=self.type)
        return self.blob() if callable(self.blob) else self.blob

    def mask(self) -> np.ndarray:
        """The full boolean mask of a voxel label (shape of its series entry's volume).

        Raises
        ------
        ValidationError
            For a label that is not a voxel label, or whose box does not fit its shape.
        CircusError
            If the mask bytes are damaged, or the store they live in was closed.
        """
        packed = self.packed()  # refuses other types
        shape, origin, size = _voxel_box(self.data)
        full = np.zeros(shape, bool)
        if all(size):
            box = tuple(slice(o, o + n) for o, n in zip(origin, size, strict=True))
            full[box] = unpack_mask(packed, size)
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
        name = f" {shown(self.name)}" if self.name else ""
        return f"<Label {self.type}{name} {self.data.get('color')}>"


def _bounding_box(mask: np.ndarray) -> tuple[list[int], list[int]]:
    """``origin`` and ``end`` (exclusive) of the voxels set in a 3-D mask; zeros if none.

    Projections instead of ``np.nonzero``: a full-size mask of a large series is
    scanned a few times as bits, never turned into a list of coordinates.
    """
    zs = np.flatnonzero(mask.any(axis=(1, 2)))
    if not zs.size:
        return [0, 0, 0], [0, 0, 0]
    slab = mask[zs[0]:zs[-1] + 1]
    ys, xs = np.flatnonzero(slab.any(axis=(0, 2))), np.flatnonzero(slab.any(axis=(0, 1)))
    return [int(zs[0]), int(ys[0]), int(xs[0])], [int(zs[-1]) + 1, int(ys[-1]) + 1,
                                                   int(xs[-1]) + 1]


def check_label_name(name: Any) -> str | None:
    """``name`` if it is a label name (``None`` or one line of at most 128 characters)."""
    if name is not None and (not isinstance(name, str) or len(name) > 128
                             or text_problem(name, line=True)):
        raise ValidationError(f"A label name is one line of text of at most 128 characters,"
                              f" got {shown(name)}.", field="name", value=name)
    return name


def _attributes(attributes: Any) -> dict[str, Any]:
    if attributes is None:
        return {}
    if not isinstance(attributes, Mapping):
        raise ValidationError(f"Label attributes must be a dict, got {shown(attributes)}.",
                              field="attributes", value=attributes)
    return dict(check_json(attributes, "label attributes"))


def _polyline_points(value: Any) -> list[list[float]]:
    if not isinstance(value, list | tuple) or len(value) < 2:
        raise ValidationError(f"polyline points must be a list of at least 2 [x, y] points,"
                              f" got {shown(value)}.", field="points", value=value)
    return [_numbers(point, 2, "polyline point") for point in value]


def _shape_data(type: str, data: Any) -> dict[str, Any]:
    """The checked data of a non-voxel label: its geometry, ``color`` and ``alpha``."""
    if not isinstance(data, Mapping):
        raise ValidationError(f"A label's data must be a dict, got {shown(data)}.", field="data",
                              value=data)
    data = dict(data)
    checked: dict[str, Any] = {}
    for key, length in _SHAPES[type]:
        if key not in data:
            raise ValidationError(f"A {type} label needs {shown(key)} in its data.", field=key,
                                  value=None)
        value = data.pop(key)
        if key == "points":
            checked[key] = _polyline_points(value)
        elif key == "section":
            checked[key] = check_json(value, "ruler section")
        else:
            checked[key] = _numbers(value, length, f"{type} {key}")
    color, alpha = _check_style(data.pop("color", "#ff0000"), data.pop("alpha", 1.0))
    if data:
        raise ValidationError(f"A {type} label has no {shown(sorted(data)[0])} in its data.",
                              field=sorted(data)[0], value=data)
    return {**checked, "color": color, "alpha": alpha}


def _check_voxel(label: Label) -> tuple[dict[str, Any], bytes]:
    """The data and mask bytes of a voxel label, once its box, style and bytes agree."""
    data = label.data
    if not isinstance(data, Mapping) or set(data) != set(_VOXEL_KEYS):
        keys = sorted(data) if isinstance(data, Mapping) else data
        raise ValidationError(f"A voxel label's data has exactly {', '.join(_VOXEL_KEYS)}, got"
                              f" {shown(keys)}. Build voxel labels with Label.voxel(mask).",
                              field="data", value=keys)
    shape, origin, size = _voxel_box(data)
    color, alpha = _check_style(data["color"], data["alpha"])
    digest = data["blob"]
    if not isinstance(digest, str) or not _SHA256.match(digest):
        raise ValidationError(f"A voxel label's blob is the sha256 of its mask bytes (64 hex"
                              f" digits), got {shown(digest)}.", field="blob", value=digest)
    if label.blob is None:
        raise ValidationError("This voxel label carries no mask bytes. Build voxel labels with"
                              " Label.voxel(mask).", field="blob", value=None)
    packed = label.packed()
    what = f"Voxel label {shown(label.name or '')}"
    if not isinstance(packed, bytes) or hashlib.sha256(packed).hexdigest() != digest:
        raise ValidationError(f"{what}: its mask bytes do not match its blob hash {digest[:12]}"
                              "... Nothing was saved; build the label with Label.voxel(mask).",
                              field="blob", value=digest)
    problem = _unpacked_bits(packed, math.prod(size))
    if isinstance(problem, str):
        raise ValidationError(f"{what}: {problem} (its size is {size}). Nothing was saved;"
                              " build the label with Label.voxel(mask).", field="blob",
                              value=digest)
    data = {"shape": shape, "origin": origin, "size": size, "blob": digest, "color": color,
            "alpha": alpha}
    return data, packed


def check_label(label: Any) -> Label:
    """``label`` checked against every rule of its type, its data normalised.

    Labels can be built many ways (the constructors, ``Label(...)``, ``from_json``,
    ``dataclasses.replace``); this is the one check they all pass before a save.
    For a voxel label it also reads the mask bytes: their sha256 must be the
    ``blob`` hash and they must inflate to exactly the voxels of its box.

    Raises
    ------
    ValidationError
        Naming the first rule the label breaks.
    CircusError
        If the mask bytes of a stored label cannot be read.
    """
    if not isinstance(label, Label):
        raise ValidationError(f"Labels are cnb.Label values, got {shown(label)}.", field="labels",
                              value=label)
    if not isinstance(label.type, str) or label.type not in LABEL_TYPES:
        raise ValidationError(f"Unknown label type {shown(label.type)}; types are"
                              f" {', '.join(LABEL_TYPES)}.", field="type", value=label.type)
    name, attributes = check_label_name(label.name), _attributes(label.attributes)
    if label.type == "voxel":
        data, packed = _check_voxel(label)
        # keep the bytes just checked: the save stores exactly those
        return dataclasses.replace(label, data=data, name=name, attributes=attributes,
                                   blob=packed)
    return Label(label.type, _shape_data(label.type, label.data), name, attributes)
