"""NIfTI masks and label maps in as labels: identical voxels, whatever the file's axis order."""

from __future__ import annotations

import re

import numpy as np
import pytest

import circus_nb as cnb
from circus_nb.formats.nifti import ras_affine, read_label_map, write_nifti
from circus_nb.formats.seg import volume_of_headers
from tests.formats.geometry import moved, placed, sample_headers

nibabel = pytest.importorskip("nibabel")


@pytest.fixture(scope="module")
def headers(tmp_path_factory):
    return sample_headers(tmp_path_factory.mktemp("ct"))


@pytest.fixture(scope="module", params=["axial", "turned"])
def volume(request, headers):
    return volume_of_headers(headers if request.param == "axial" else placed(headers))


def _label_map(shape):
    values = np.zeros(shape, np.uint8)
    values[0, 0, :] = 1  # touching the first slice and an edge
    values[1:4, 2:6, 3:9] = 4
    values[-1, -1, -1] = 2  # the far corner
    values[2] = 0  # an empty slice
    return values


def test_a_mask_comes_back_identical(tmp_path, volume):
    mask = _label_map(volume.shape) > 0
    path = write_nifti(tmp_path / "liver.nii.gz", mask.astype(np.uint8), volume.affine)
    (label,) = cnb.Label.from_nifti(path, volume)
    assert label.name == "liver"  # a plain mask is named after its file
    assert label.type == "voxel" and (label.mask() == mask).all()


def test_a_label_map_gives_a_label_per_value_in_value_order(tmp_path, volume):
    values = _label_map(volume.shape)
    path = write_nifti(tmp_path / "organs.nii", values, volume.affine)
    labels = cnb.Label.from_nifti(path, volume, names={4: "kidney", 9: "absent"},
                                  color="#00ff00")
    assert [label.name for label in labels] == ["label1", "label2", "kidney"]
    assert all(label.data["color"] == "#00ff00" for label in labels)
    for label, value in zip(labels, (1, 2, 4), strict=True):
        assert (label.mask() == (values == value)).all()
    assert [name for name, _ in read_label_map(path, volume.shape, volume.affine)] == [
        "label1", "label2", "label4"]


@pytest.mark.parametrize("how", ["canonical", "flipped", "transposed"])
def test_a_file_with_other_axes_reads_the_same(tmp_path, volume, how):
    values = _label_map(volume.shape)
    image = nibabel.load(write_nifti(tmp_path / "map.nii.gz", values, volume.affine))
    if how == "canonical":
        other = nibabel.as_closest_canonical(image)
    else:
        turn = (np.array([[0, -1], [1, 1], [2, 1]]) if how == "flipped"
                else np.array([[2, 1], [0, 1], [1, -1]]))
        other = image.as_reoriented(turn)
    assert not np.array_equal(other.affine, image.affine)  # the axes did change
    nibabel.save(other, tmp_path / "other.nii.gz")
    labels = cnb.Label.from_nifti(tmp_path / "other.nii.gz", volume)
    for label, value in zip(labels, (1, 2, 4), strict=True):
        assert (label.mask() == (values == value)).all(), (how, value)


def test_float_and_bool_like_files_read_as_values(tmp_path, volume):
    values = _label_map(volume.shape)
    path = write_nifti(tmp_path / "float.nii.gz", values.astype(np.float32), volume.affine)
    assert [(n, int(m.sum())) for n, m in read_label_map(path, volume.shape, volume.affine)] == [
        (f"label{v}", int((values == v).sum())) for v in (1, 2, 4)]
    halves = values.astype(np.float32) / 2
    write_nifti(tmp_path / "halves.nii.gz", halves, volume.affine)
    with pytest.raises(cnb.ValidationError, match="values that are not whole numbers .such as"
                                                  " 0.5.; .* Round or threshold it first"):
        cnb.Label.from_nifti(tmp_path / "halves.nii.gz", volume)
    write_nifti(tmp_path / "negative.nii.gz", -values.astype(np.int16), volume.affine)
    with pytest.raises(cnb.ValidationError, match="holds the negative value -4"):
        cnb.Label.from_nifti(tmp_path / "negative.nii.gz", volume)


def test_an_empty_file_gives_no_labels(tmp_path, volume):
    path = write_nifti(tmp_path / "empty.nii.gz", np.zeros(volume.shape, np.uint8),
                       volume.affine)
    assert cnb.Label.from_nifti(path, volume) == []


@pytest.mark.parametrize(("other", "message"), [
    (lambda h: moved(placed(h), (1.0, 0.0, 0.0)), r"from \(-10, 20, 30\) mm in the file, .*"
                                                  r" from \(-9, 20, 30\) mm in the volume"),
    (lambda h: placed(h, spacing=(0.7, 1.0)), r"of 2, 0.7, 1 mm from .* in the volume"),
    (lambda h: placed(h, pitch=2.5), r"of 2.5, 0.7, 0.9 mm from .* in the volume"),
    (lambda h: placed(h, rows=14), r"6 x 14 x 20 voxels .z, y, x. of 2, 0.7, 0.9 mm from .* in"
                                   r" the volume"),
    (lambda h: placed(h)[:5], r"5 x 12 x 20 voxels"),
])
def test_a_file_of_another_grid_is_refused(tmp_path, headers, other, message):
    ours = volume_of_headers(placed(headers))
    path = write_nifti(tmp_path / "mask.nii.gz", np.ones(ours.shape, np.uint8), ours.affine)
    with pytest.raises(cnb.ValidationError, match="is not on the volume's grid") as raised:
        cnb.Label.from_nifti(path, volume_of_headers(other(headers)))
    assert re.search(message, str(raised.value)), str(raised.value)
    assert "nothing is resampled" in str(raised.value)


def test_a_4d_file_is_refused(tmp_path, volume):
    path = tmp_path / "series.nii.gz"
    nibabel.save(nibabel.Nifti1Image(np.zeros((*volume.shape[::-1], 2), np.uint8),
                                     ras_affine(volume.affine)), path)
    with pytest.raises(cnb.ValidationError, match=r"holds a 4-D image .* a mask of a volume is"
                                                  r" 3-D"):
        cnb.Label.from_nifti(path, volume)


def test_what_is_not_nifti_is_refused(tmp_path, volume):
    path = tmp_path / "mask.nii.gz"
    path.write_text("not NIfTI")
    with pytest.raises(cnb.CircusError, match="Cannot read .*mask.nii.gz as NIfTI"):
        cnb.Label.from_nifti(path, volume)


@pytest.mark.parametrize(("names", "message"), [
    (["liver"], r"names maps label values to names, such as \{1: 'liver'\}, got \['liver'\]"),
    ("liver", "names maps label values to names, such as"),
    ({"1": "liver"}, "Label values of a label map are integers >= 1, got '1'"),
    ({0: "background"}, "Label values of a label map are integers >= 1, got 0"),
    ({True: "liver"}, "integers >= 1, got True"),
    ({1: 7}, "names maps label values to names .text., got 7 for 1"),
    ({1: ""}, "got '' for 1"),
    ({1: "a\nb"}, "A label name is one line of text"),
])
def test_names_of_the_wrong_type_are_refused(tmp_path, volume, names, message):
    path = write_nifti(tmp_path / "map.nii.gz", _label_map(volume.shape), volume.affine)
    with pytest.raises(cnb.ValidationError, match=message):
        cnb.Label.from_nifti(path, volume, names=names)
