"""DICOM SEG in and out: masks come back identical, on the volume's grid or not at all."""

from __future__ import annotations

import dataclasses

import highdicom as hd
import numpy as np
import pydicom
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import circus_nb as cnb
from circus_nb.formats.seg import read_seg, volume_of_headers, write_seg
from tests.formats.geometry import moved, placed, sample_headers


@pytest.fixture(scope="module")
def headers(tmp_path_factory):
    return sample_headers(tmp_path_factory.mktemp("ct"))


@pytest.fixture(scope="module")
def turned(headers):
    """A turned stack of 12 x 20 images of 0.7 x 0.9 mm, 2 mm apart."""
    return placed(headers)


def _masks(shape):
    """Several labels: overlapping, touching every edge, one slice left empty, one empty."""
    a = np.zeros(shape, bool)
    a[0, 0, :] = a[-1, -1, :] = a[:, :, 0] = True  # first and last slice, every edge
    a[2] = False  # an empty slice
    b = np.zeros(shape, bool)
    b[1:4, 2:6, 3:9] = True
    b[1:3, 0, -1] = True  # a corner pixel
    c = np.zeros(shape, bool)
    c[3, 4:9, 5] = True
    return {"liver": a, "lesion 1": b, "duct": c, "nothing": np.zeros(shape, bool)}


@pytest.mark.parametrize("which", ["axial", "turned"])
def test_masks_come_back_identical(tmp_path, headers, turned, which):
    sources = headers if which == "axial" else turned
    volume = volume_of_headers(sources)
    masks = _masks(volume.shape)
    path = write_seg(tmp_path / "seg.dcm", masks, sources, volume)
    back = read_seg(path, volume)
    assert list(back) == list(masks)
    for name, mask in masks.items():
        assert back[name].dtype == bool and (back[name] == mask).all(), name


def test_masks_that_are_all_empty_still_make_a_seg(tmp_path, headers):
    volume = volume_of_headers(headers)
    path = write_seg(tmp_path / "seg.dcm", {"none": np.zeros(volume.shape, bool)}, headers,
                     volume)
    assert not read_seg(path, volume)["none"].any()


def test_the_seg_says_what_it_holds(tmp_path, headers):
    volume = volume_of_headers(headers)
    masks = _masks(volume.shape)
    path = write_seg(tmp_path / "seg.dcm", masks, headers, volume, colors={"liver": "#00ff00"})
    seg = hd.seg.segread(path)
    assert seg.SegmentationType == "BINARY"
    assert [s.SegmentLabel for s in seg.SegmentSequence] == list(masks)
    assert {s.SegmentAlgorithmType for s in seg.SegmentSequence} == {"MANUAL"}
    assert seg.SegmentSequence[0].SegmentedPropertyTypeCodeSequence[0].CodeMeaning == "Tissue"
    assert hd.color.CIELabColor.from_dicom_value(
        seg.SegmentSequence[0].RecommendedDisplayCIELabValue).to_rgb() == (0, 255, 0)
    assert seg.StudyInstanceUID == headers[0].StudyInstanceUID
    assert seg.FrameOfReferenceUID == headers[0].FrameOfReferenceUID
    referenced = {item.ReferencedSOPInstanceUID for series in seg.ReferencedSeriesSequence
                  for item in series.ReferencedInstanceSequence}
    assert referenced <= {h.SOPInstanceUID for h in headers}
    # each frame refers to the image it lies on
    by_uid = {h.SOPInstanceUID: h for h in headers}
    for frame in seg.PerFrameFunctionalGroupsSequence:
        source = frame.DerivationImageSequence[0].SourceImageSequence[0]
        assert (by_uid[source.ReferencedSOPInstanceUID].ImagePositionPatient
                == frame.PlanePositionSequence[0].ImagePositionPatient)


def test_a_volume_in_the_other_order_reads_the_same(tmp_path, headers):
    """A feet-first range: the sources in the volume's order, and the masks follow."""
    backwards = headers[::-1]
    volume = volume_of_headers(backwards)
    masks = _masks(volume.shape)
    path = write_seg(tmp_path / "seg.dcm", masks, backwards, volume)
    assert all((read_seg(path, volume)[n] == m).all() for n, m in masks.items())
    # read on the head-first volume, every slice is where it lies
    forwards = read_seg(path, volume_of_headers(headers))
    assert all((forwards[n] == m[::-1]).all() for n, m in masks.items())


def test_a_dataset_reads_as_its_file(tmp_path, headers):
    volume = volume_of_headers(headers)
    masks = _masks(volume.shape)
    path = write_seg(tmp_path / "seg.dcm", masks, headers, volume)
    dataset = pydicom.dcmread(path)
    back = read_seg(dataset, volume)
    assert all((back[n] == m).all() for n, m in masks.items())
    assert type(dataset) is pydicom.FileDataset  # left as it was, not turned into a SEG


def test_label_from_seg(tmp_path, turned):
    volume = volume_of_headers(turned)
    masks = _masks(volume.shape)
    path = write_seg(tmp_path / "seg.dcm", masks, turned, volume)
    labels = cnb.Label.from_seg(path, volume, color="#0000ff")
    assert [label.name for label in labels] == list(masks)
    assert all(label.type == "voxel" and label.data["color"] == "#0000ff" for label in labels)
    assert all((label.mask() == masks[label.name]).all() for label in labels)


# -- refusals --------------------------------------------------------------------


@pytest.fixture(scope="module")
def written(tmp_path_factory, turned):
    volume = volume_of_headers(turned)
    path = write_seg(tmp_path_factory.mktemp("seg") / "seg.dcm", _masks(volume.shape), turned,
                     volume)
    return path, turned


@pytest.mark.parametrize(("other", "message"), [
    (lambda h: moved(h, (1.0, 0.0, 0.0)), r"lies at .* 1 mm from the nearest slice"),
    (lambda h: moved(h, (0.0, 0.0, 1.0)), r"from the nearest slice"),  # between slices
    (lambda h: placed(h, spacing=(0.7, 1.0)), r"has PixelSpacing 0.7, 0.9 mm, rows along"
                                              r" \(0.9397, 0.342, 0\) .* where slice 0 has"
                                              r" PixelSpacing 0.7, 1 mm"),
    (lambda h: placed(h, spacing=(0.9, 0.7)), r"slice 0 has PixelSpacing 0.9, 0.7 mm"),
    (lambda h: placed(h, pitch=2.5), r"frame 2 lies at"),
    (lambda h: placed(h, rows=14), r"is 12 x 20 pixels \(rows x columns\), the volume's slices"
                                   r" 14 x 20"),
    (lambda h: placed(h, turn=np.eye(3)), r"where slice 0 has PixelSpacing 0.7, 0.9 mm, rows"
                                          r" along \(1, 0, 0\) and columns along \(0, 1, 0\)"),
])
def test_a_seg_of_another_grid_is_refused(written, other, message):
    path, sources = written
    with pytest.raises(cnb.ValidationError, match=message) as raised:
        read_seg(path, volume_of_headers(other(sources)))
    assert "is not on the volume's grid" in str(raised.value)
    assert "nothing is resampled" in str(raised.value)


def test_a_frame_where_the_volume_has_two_slices_is_refused(written):
    path, sources = written
    twice = [sources[0], *sources]  # two slices at the first place
    volume = volume_of_headers(twice)
    with pytest.raises(cnb.ValidationError, match=r"has 2 slices \(0, 1; two echoes"):
        read_seg(path, volume)


def test_a_volume_without_positions_is_refused(written):
    path, sources = written
    volume = volume_of_headers(sources)
    blind = dataclasses.replace(volume, positions=(None,) * volume.shape[0])
    with pytest.raises(cnb.ValidationError, match="slices without one"):
        read_seg(path, blind)


def test_what_is_not_a_seg_is_refused(tmp_path, headers):
    volume = volume_of_headers(headers)
    image = tmp_path / "image.dcm"
    headers[0].save_as(image, enforce_file_format=True)
    with pytest.raises(cnb.ValidationError, match=r"is not a DICOM Segmentation: its SOP class"
                                                  r" is '1.2.840.10008.5.1.4.1.1.2'"):
        read_seg(image, volume)
    text = tmp_path / "notes.txt"
    text.write_text("not DICOM")
    with pytest.raises(cnb.CircusError, match=r"Cannot read .*notes.txt as DICOM"):
        read_seg(text, volume)
    with pytest.raises(cnb.CircusError, match=r"Cannot read .*missing.dcm as DICOM"):
        read_seg(tmp_path / "missing.dcm", volume)
    with pytest.raises(cnb.ValidationError, match="A SEG is a path or a pydicom Dataset, got 3"):
        read_seg(3, volume)


def test_a_labelmap_seg_made_elsewhere_reads_as_masks(tmp_path, turned):
    from pydicom.sr.codedict import codes

    volume = volume_of_headers(turned)
    values = np.zeros(volume.shape, np.uint8)
    values[0, 0, :] = 1
    values[2:4, 3:7, 5:12] = 2
    descriptions = [hd.seg.SegmentDescription(
        segment_number=n, segment_label=name, segmented_property_category=codes.SCT.Tissue,
        segmented_property_type=codes.SCT.Tissue, algorithm_type="MANUAL")
        for n, name in ((1, "skin"), (2, "bone"))]
    seg = hd.seg.Segmentation(turned, values, "LABELMAP", descriptions, hd.UID(), 1, hd.UID(),
                              1, "elsewhere", "elsewhere", "1", "0")
    back = read_seg(seg, volume)
    assert list(back) == ["skin", "bone"]
    assert (back["skin"] == (values == 1)).all() and (back["bone"] == (values == 2)).all()


def test_a_fractional_seg_is_refused(tmp_path, headers):
    volume = volume_of_headers(headers)
    path = write_seg(tmp_path / "seg.dcm", _masks(volume.shape), headers, volume)
    dataset = pydicom.dcmread(path)
    dataset.SegmentationType = "FRACTIONAL"
    with pytest.raises(cnb.ValidationError, match="is a 'FRACTIONAL' SEG; masks are read from"
                                                  " BINARY or LABELMAP SEGs only"):
        read_seg(dataset, volume)


def test_a_seg_of_another_series_warns(tmp_path, headers):
    volume = volume_of_headers(headers)
    path = write_seg(tmp_path / "seg.dcm", _masks(volume.shape), headers, volume)
    other = dataclasses.replace(volume, series_uid="1.2.3")
    with pytest.warns(cnb.CircusWarning, match="was drawn on series .*, not on this volume's"
                                               " 1.2.3"):
        read_seg(path, other)


def test_bad_masks_are_refused(tmp_path, headers):
    volume = volume_of_headers(headers)
    good = np.zeros(volume.shape, bool)
    cases = [
        ({}, "masks is empty"),
        ([good], "masks maps segment names to boolean arrays"),
        ({"a": good.astype(np.uint8)}, r"got 3-D uint8 \(6, 16, 16\)\. Use mask.astype\(bool\)"),
        ({"a": good[:3]}, r"of the volume's shape \(6, 16, 16\) \(z, y, x\), got 3-D bool"
                          r" \(3, 16, 16\)"),
        ({"a": good[0]}, "got 2-D bool"),
        ({"a": "mask"}, "got 'mask'"),
        ({"": good}, "text of 1 to 64 characters"),
        ({"x" * 65: good}, "text of 1 to 64 characters"),
        ({3: good}, "got 3"),
        ({"a\\b": good}, "without a backslash"),
    ]
    for masks, message in cases:
        with pytest.raises(cnb.ValidationError, match=message):
            write_seg(tmp_path / "seg.dcm", masks, headers, volume)
    assert not (tmp_path / "seg.dcm").exists()


def test_bad_sources_are_refused(tmp_path, headers):
    volume = volume_of_headers(headers)
    masks = {"a": np.ones(volume.shape, bool)}
    target = tmp_path / "seg.dcm"
    with pytest.raises(cnb.ValidationError, match=r"source_datasets\[0\] lies at \[-168.75,"
                                                  r" -168.75, 137.5\], but slice 0 of the"
                                                  r" volume at \[-168.75, -168.75, 150.0\]"):
        write_seg(target, masks, headers[::-1], volume)
    with pytest.raises(cnb.ValidationError, match=r"one image per slice of the volume \(6\),"
                                                  r" got 5"):
        write_seg(target, masks, headers[1:], volume)
    with pytest.raises(cnb.ValidationError, match="source_datasets is a list"):
        write_seg(target, masks, headers[0], volume)
    with pytest.raises(cnb.CircusError, match="Cannot read .*nowhere.dcm as DICOM"):
        write_seg(target, masks, [tmp_path / "nowhere.dcm"] * 6, volume)
    with pytest.raises(cnb.ValidationError, match="algorithm_type is one of MANUAL,"
                                                  " SEMIAUTOMATIC, AUTOMATIC, got 'manual'"):
        write_seg(target, masks, headers, volume, algorithm_type="manual")
    assert not target.exists()


def test_an_existing_file_is_not_written_over(tmp_path, headers):
    volume = volume_of_headers(headers)
    target = tmp_path / "seg.dcm"
    target.write_bytes(b"mine")
    with pytest.raises(cnb.ValidationError, match="exists; a SEG is never written over a file"):
        write_seg(target, {"a": np.ones(volume.shape, bool)}, headers, volume)
    assert target.read_bytes() == b"mine"


def test_patient_info_can_be_left_out(tmp_path, headers):
    volume = volume_of_headers(headers)
    masks = {"a": np.ones(volume.shape, bool)}
    seg = hd.seg.segread(write_seg(tmp_path / "seg.dcm", masks, headers, volume,
                                   patient_info=False))
    assert all(seg.get(keyword) in ("", None) for keyword in
               ("PatientName", "PatientID", "PatientBirthDate", "PatientSex"))
    assert seg.StudyInstanceUID == headers[0].StudyInstanceUID
    assert headers[0].PatientID == "BENCH-1"  # the sources are left as they were
    assert (read_seg(seg, volume)["a"]).all()


def test_an_automatic_seg_names_its_algorithm(tmp_path, headers):
    volume = volume_of_headers(headers)
    path = write_seg(tmp_path / "seg.dcm", {"a": np.ones(volume.shape, bool)}, headers, volume,
                     algorithm_type="AUTOMATIC")
    segment = hd.seg.segread(path).SegmentSequence[0]
    assert segment.SegmentAlgorithmType == "AUTOMATIC"
    assert segment.SegmentAlgorithmName == "circus_nb"


# -- geometry: one patient point, the same voxel everywhere ---------------------------


def test_a_patient_point_lands_on_the_same_voxel_in_the_array_the_nifti_and_the_seg(
        tmp_path, turned):
    nibabel = pytest.importorskip("nibabel")
    from circus_nb.formats.nifti import write_nifti

    volume = volume_of_headers(turned)
    voxel = (3, 7, 12)  # (z, y, x), off every axis of symmetry
    point = (volume.affine @ (*voxel, 1))[:3]  # a patient point (LPS mm) at a voxel centre
    point = point + np.array([0.2, -0.1, 0.15])  # not quite the centre: rounding must agree

    # our array
    ours = tuple(int(v) for v in np.rint(np.linalg.inv(volume.affine) @ (*point, 1))[:3])
    assert ours == voxel

    # the NIfTI, through nibabel alone: RAS is LPS with x and y negated
    mask = np.zeros(volume.shape, bool)
    mask[voxel] = True
    image = nibabel.load(write_nifti(tmp_path / "mask.nii.gz", mask.astype(np.uint8),
                                     volume.affine))
    ras = np.array([-point[0], -point[1], point[2], 1.0])
    ijk = tuple(int(v) for v in np.rint(np.linalg.inv(image.affine) @ ras)[:3])
    assert ijk == voxel[::-1]
    assert np.asanyarray(image.dataobj)[ijk] == 1
    canonical = nibabel.as_closest_canonical(image)
    ijk = tuple(int(v) for v in np.rint(np.linalg.inv(canonical.affine) @ ras)[:3])
    assert np.asanyarray(canonical.dataobj)[ijk] == 1

    # the SEG, through highdicom's own reading of its frames
    seg = hd.seg.segread(write_seg(tmp_path / "seg.dcm", {"spot": mask}, turned, volume))
    (frame,) = seg.PerFrameFunctionalGroupsSequence  # empty frames are left out
    shared = seg.SharedFunctionalGroupsSequence[0]
    origin = np.array(frame.PlanePositionSequence[0].ImagePositionPatient, float)
    cosines = np.array(shared.PlaneOrientationSequence[0].ImageOrientationPatient, float)
    row_spacing, column_spacing = (float(v) for v in shared.PixelMeasuresSequence[0].PixelSpacing)
    row, column = cosines[:3], cosines[3:]
    normal = np.cross(row, column)
    assert abs(float((point - origin) @ normal)) < volume.spacing[0] / 2  # the frame at the point
    r = int(np.rint((point - origin) @ column / row_spacing))
    c = int(np.rint((point - origin) @ row / column_spacing))
    assert (r, c) == voxel[1:]
    assert seg.get_stored_frame(1)[r, c] == 1
    source = frame.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
    assert source == turned[voxel[0]].SOPInstanceUID


# -- property --------------------------------------------------------------------


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(arrays(bool, (6, 12, 20)), min_size=1, max_size=3))
def test_any_masks_come_back_identical(tmp_path_factory, turned, masks):
    volume = volume_of_headers(turned)
    named = {f"label {i}": mask for i, mask in enumerate(masks)}
    path = write_seg(tmp_path_factory.mktemp("prop") / "seg.dcm", named, turned, volume)
    back = read_seg(path, volume)
    assert list(back) == list(named)
    assert all((back[name] == mask).all() for name, mask in named.items())
