import contextlib
import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from circus_nb import Label, ValidationError
from circus_nb.domain.labels import LABEL_TYPES, check_label


@given(arrays(bool, st.tuples(st.integers(1, 6), st.integers(1, 9), st.integers(1, 9))))
def test_voxel_masks_round_trip(mask):
    label = Label.voxel(mask)
    np.testing.assert_array_equal(label.mask(), mask)
    assert label.data["shape"] == list(mask.shape)
    if mask.any():
        box = tuple(slice(o, o + s) for o, s in zip(label.data["origin"], label.data["size"],
                                                    strict=True))
        assert mask[box].sum() == mask.sum()  # the box holds every voxel


def test_identical_masks_have_one_blob_hash():
    mask = np.zeros((3, 4, 5), bool)
    mask[1, 1:3, 2] = True
    shifted = np.roll(mask, 1, axis=2)
    assert Label.voxel(mask).data["blob"] == Label.voxel(mask, name="other").data["blob"]
    assert Label.voxel(mask).data["blob"] == Label.voxel(shifted).data["blob"]  # cropped alike
    assert Label.voxel(mask).data["origin"] != Label.voxel(shifted).data["origin"]


@pytest.mark.parametrize(
    ("make", "message"),
    [(lambda: Label.voxel(np.zeros((2, 2)), name="x"), "3-D boolean array"),
     (lambda: Label.voxel(np.zeros((2, 2, 2), np.uint8)), "3-D boolean array"),
     (lambda: Label.point([0, 0]), "point location must be 3 finite numbers"),
     (lambda: Label.point([0, 0, float("nan")]), "3 finite numbers"),
     (lambda: Label.cuboid([0, 0, 0], [1, 1, 1], color="red"), "lowercase '#rrggbb'"),
     (lambda: Label.point([0, 0, 0], alpha=1.5), "alpha must be a number from 0 to 1"),
     (lambda: Label.of("blob", {}), "Unknown label type 'blob'"),
     (lambda: Label.of("voxel", {}), "Use Label.voxel"),
     (lambda: Label.of("rectangle", {"min": [0, 0], "max": [1, 1]}), "needs 'z'"),
     (lambda: Label.of("point", {"location": [0, 0, 0], "size": 3}), "has no 'size'"),
     (lambda: Label.point([0, 0, 0], name=5), "A label name is one line of text")],
)
def test_bad_labels(make, message):
    with pytest.raises(ValidationError, match=message):
        make()


def test_every_type_from_plain_data():
    data = {"cuboid": {"min": [0, 0, 0], "max": [1, 1, 1]},
            "ellipsoid": {"min": [0, 0, 0], "max": [1, 1, 1]},
            "rectangle": {"min": [0, 0], "max": [1, 1], "z": 4},
            "ellipse": {"min": [0, 0], "max": [1, 1], "z": 4},
            "polyline": {"points": [[0, 0], [1, 1]], "z": 2},
            "point": {"location": [1, 2, 3]},
            "ruler": {"section": {"origin": [0, 0, 0]}, "start": [0, 0, 0], "end": [1, 1, 1]}}
    assert set(data) | {"voxel"} == set(LABEL_TYPES)
    for kind, values in data.items():
        label = Label.of(kind, {**values, "color": "#00ff00", "alpha": 0.5}, name=kind)
        assert label.data["color"] == "#00ff00" and label.data["alpha"] == 0.5
        assert Label.from_json(label.to_json()) == label
    with pytest.raises(ValidationError, match="Only voxel labels have a mask"):
        Label.point([0, 0, 0]).mask()


# -- check_label: every rule, however the label was built --------------------------------


@given(arrays(bool, st.tuples(st.integers(1, 5), st.integers(1, 8), st.integers(1, 8))))
def test_a_voxel_label_from_a_mask_passes_its_check_unchanged(mask):
    label = Label.voxel(mask, name="m", color="#00ff00", alpha=0.5)
    checked = check_label(label)
    assert checked == label and checked.packed() == label.packed()
    np.testing.assert_array_equal(checked.mask(), mask)


@given(arrays(bool, (3, 4, 5)), st.binary(max_size=40))
def test_other_bytes_under_a_voxel_label_are_refused(mask, other):
    label = Label.voxel(mask)
    forged = dataclasses.replace(label, blob=other)
    if other == label.packed():
        return
    with pytest.raises(ValidationError, match="its mask bytes do not match its blob hash"):
        check_label(forged)


def test_a_label_built_directly_is_checked_like_one_from_of():
    for label in (Label("point", {"location": [0, 0, "z"]}),
                  Label.from_json({"type": "cuboid", "data": {"min": [0, 0, 0]}}),
                  dataclasses.replace(Label.point([0, 0, 0]), data={"location": [0, 0, 0],
                                                                    "color": "red"}),
                  Label(["point"], {})):
        with pytest.raises(ValidationError):
            check_label(label)
    assert check_label(Label("point", {"location": [1, 2, 3]})).data == Label.point(
        [1, 2, 3]).data


@pytest.mark.parametrize("bad", [5, "point", None, {"type": "point"}])
def test_only_labels_are_labels(bad):
    with pytest.raises(ValidationError, match="Labels are cnb.Label values"):
        check_label(bad)


@pytest.mark.parametrize(
    "make",
    [lambda v: Label.point(v), lambda v: Label.cuboid(v, [1, 1, 1]), lambda v: Label.voxel(v),
     lambda v: Label.of(v, {}), lambda v: Label.of("point", v),
     lambda v: Label.point([0, 0, 0], name=v), lambda v: Label.point([0, 0, 0], color=v),
     lambda v: Label.point([0, 0, 0], alpha=v), lambda v: Label.point([0, 0, 0], attributes=v)])
@pytest.mark.parametrize("value", [None, 123, "abc", 2**70, ["a"], "\ud800", [[[[]]]]])
def test_constructors_refuse_wrong_types_with_a_validation_error(make, value):
    with contextlib.suppress(ValidationError):  # and no other error
        make(value)
