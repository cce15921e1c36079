"""Series.volume() fills Volume.orientation, and Volume.affine places voxels where the
files say they are: checked against the files themselves, read with pydicom."""

import numpy as np
import pydicom
import pytest

import circus_nb as cnb
from tests.api.test_series import _import_one, _real, _small_ct, _with_frame_positions


def _file_geometry(path):
    """(position, row direction, column direction, (y, x) spacing) as the file states them."""
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    cosines = np.array([float(v) for v in ds.ImageOrientationPatient])
    return (np.array([float(v) for v in ds.ImagePositionPatient]), cosines[:3], cosines[3:],
            tuple(float(v) for v in ds.PixelSpacing))


def _files_by_number(series, store):
    return {row.instance_number: (store.data_dir.parent / row.path if row.managed else row.path)
            for row in series.instances().itertuples()}


def _assert_voxels_land_where_the_files_say(volume, files):
    """Voxel (k, j, i) = ImagePositionPatient of slice k + i x-spacing row + j y-spacing col."""
    _, height, width = volume.shape
    for k, number in enumerate(volume.instance_numbers):
        position, row, column, (spacing_y, spacing_x) = _file_geometry(files[number])
        for j, i in [(0, 0), (0, width - 1), (height - 1, 0), (height // 2, width // 3)]:
            expected = position + i * spacing_x * row + j * spacing_y * column
            got = volume.affine @ np.array([k, j, i, 1.0])
            np.testing.assert_allclose(got[:3], expected, atol=1e-3)
            assert got[3] == 1.0


@pytest.mark.parametrize("key", ["chest_ct_lung", "chest_ct_feet_first", "abdomen_ct"])
def test_the_axial_samples_in_their_auto_order(imported, samples, key):
    series = imported.series(samples[1][key].series_uid)
    volume = series.volume()
    assert volume.orientation == (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    _assert_voxels_land_where_the_files_say(volume, _files_by_number(series, imported))
    assert volume.affine[2, 0] < 0  # auto runs head to feet: z falls slice by slice


def test_a_range_backwards_and_every_other_image(imported, samples):
    series = imported.series(samples[1]["chest_ct_lung"].series_uid)
    files = _files_by_number(series, imported)
    for pv in [(60, 1, -1), (2, 40, 2), (59, 3, -4)]:
        _assert_voxels_land_where_the_files_say(series.volume(pv), files)


def _oblique(folder, n=5):
    """A small CT series tilted and flipped: rows run to the patient's right and up a
    little, columns back and down; slices 3 mm apart along the normal; PixelSpacing
    different along rows and columns, so no axis can stand in for another."""
    uid, files = _small_ct(folder, n=n)
    a, b = np.radians(30.0), np.radians(20.0)
    tilt = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    turn = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rotation = turn @ tilt
    row, column = -rotation[:, 0], rotation[:, 1]  # the row direction flipped
    normal = np.cross(row, column)
    origin = np.array([120.0, -40.0, 75.0])
    for file in files:
        ds = pydicom.dcmread(file)
        k = int(ds.InstanceNumber) - 1
        ds.ImageOrientationPatient = [round(float(v), 8) for v in (*row, *column)]
        ds.ImagePositionPatient = [round(float(v), 4) for v in origin + 3.0 * k * normal]
        ds.PixelSpacing = [0.6, 0.9]  # between rows (y), between columns (x)
        ds.save_as(file)
    return uid, files


def test_an_oblique_flipped_series_in_both_orders(store, tmp_path):
    uid, _ = _oblique(tmp_path / "oblique")
    store.import_dicom(tmp_path / "oblique", progress=False)
    series = store.series(uid)
    files = _files_by_number(series, store)
    for pv in ["auto", (1, 5, 1), (5, 1, -1), (1, 5, 2)]:
        volume = series.volume(pv)
        assert volume.orientation == pytest.approx(
            [float(v) for v in pydicom.dcmread(files[1]).ImageOrientationPatient])
        assert volume.spacing == pytest.approx((3.0 * abs(volume.instance_numbers[1]
                                                          - volume.instance_numbers[0]),
                                                0.6, 0.9), abs=1e-3)
        _assert_voxels_land_where_the_files_say(volume, files)


def test_a_series_without_orientation_is_placed_as_axial(store, tmp_path):
    uid, files = _small_ct(tmp_path / "no-iop", ImageOrientationPatient=None)
    store.import_dicom(tmp_path / "no-iop", progress=False)
    volume = store.series(uid).volume()
    assert volume.orientation is None and volume.notes == ()
    first = pydicom.dcmread(files[0]).ImagePositionPatient
    np.testing.assert_allclose(volume.affine[:3, 3], [float(v) for v in first])
    np.testing.assert_allclose(volume.affine[:3, :3], [[0, 0, 22.5], [0, 22.5, 0],
                                                       [-2.5, 0, 0]])


def test_images_in_different_planes_have_no_orientation_and_warn(imported, samples):
    series = imported.series(samples[1]["chest_ct_localizer"].series_uid)
    with pytest.warns(cnb.CircusWarning, match=r"orientation unknown: images 1 and 3 differ in"
                                               r" ImageOrientationPatient"):
        volume = series.volume((1, 3, 2))  # the coronal localizer, then an axial slice
    assert volume.orientation is None
    assert any("do not lie in parallel planes" in note for note in volume.notes)
    assert series.volume((1, 1, 1)).orientation == (1.0, 0.0, 0.0, 0.0, 0.0, -1.0)


def test_the_frames_of_an_enhanced_ct(store):
    path = _real("eCT_Supplemental.dcm")
    series = _import_one(store, path)
    volume = series.volume()
    shared = pydicom.dcmread(path).SharedFunctionalGroupsSequence[0]
    stated = shared.PlaneOrientationSequence[0].ImageOrientationPatient
    assert volume.orientation == pytest.approx([float(v) for v in stated])
    for k, position in enumerate(volume.positions):  # frames 2, 1: head first
        np.testing.assert_allclose((volume.affine @ [k, 0, 0, 1])[:3], position, atol=1e-6)


def test_frames_reordered_head_first_keep_their_places(store):
    series = _import_one(store, _real("emri_small.dcm"),
                         edit=_with_frame_positions([0.0, 8.0, -4.0, 4.0, -8.0]))
    volume = series.volume()
    assert volume.orientation == (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    np.testing.assert_allclose(volume.affine[:3, :3], [[0, 0, 0.5], [0, 0.5, 0], [-4, 0, 0]])
    for k, position in enumerate(volume.positions):
        np.testing.assert_allclose((volume.affine @ [k, 0, 0, 1])[:3], position)


def test_a_single_image_takes_the_normal_for_its_slice_column(imported, samples):
    series = imported.series(samples[1]["chest_ct_lung"].series_uid)
    volume = series.volume((7, 7, 1))
    position = _file_geometry(_files_by_number(series, imported)[7])[0]
    np.testing.assert_allclose(volume.affine[:3, 3], position)
    np.testing.assert_allclose(volume.affine[:3, 0], (0, 0, 2.5))  # normal x SliceThickness


def test_case_volumes_carry_the_orientation(cases):
    case = cases.create_case(cases.project_id, [cases.uids["chest_ct_feet_first"]])
    volume = case.volume()
    assert volume.orientation == (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    np.testing.assert_allclose((volume.affine @ [0, 0, 0, 1])[:3], volume.positions[0])
