"""The pixel readers on real files: frames of enhanced objects, colour for thumbnails."""

import gzip
import os
import shutil
from pathlib import Path

import nibabel
import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut
from pydicom.sequence import Sequence

import circus_nb as cnb
from circus_nb.dicom.pixels import read_display, read_frames, read_image

NIBABEL_DATA = Path(nibabel.__file__).parent / "nicom" / "tests" / "data"


def real(name: str) -> Path:
    path = get_testdata_file(name, download=False)  # never the network
    if path is None:
        pytest.fail(f"{name} is not installed; pip install pydicom-data")
    return Path(path)


def philips_mprage(folder: Path) -> Path:
    """nibabel's enhanced MR (176 sagittal frames with per-frame groups), unzipped."""
    path = folder / "philips_mprage.dcm"
    with gzip.open(NIBABEL_DATA / "philips_mprage.dcm.gz") as f, open(path, "wb") as out:
        shutil.copyfileobj(f, out)
    return path


def test_frames_of_an_enhanced_mr_without_functional_groups():
    frames = read_frames(real("emri_small.dcm"))
    expected = pydicom.dcmread(real("emri_small.dcm")).pixel_array
    assert frames.array.shape == (10, 64, 64) and frames.array.dtype == np.float32
    np.testing.assert_array_equal(frames.array, expected)
    assert frames.positions == (None,) * 10  # the file places no frame
    assert float(frames.spacing_between_slices) == 1.2


def test_frames_of_an_enhanced_ct_take_shared_and_per_frame_groups():
    frames = read_frames(real("eCT_Supplemental.dcm"))
    ds = pydicom.dcmread(real("eCT_Supplemental.dcm"))
    np.testing.assert_array_equal(frames.array, ds.pixel_array - 1024.0)  # shared intercept
    assert frames.positions == ((99.5, -301.5, -159.0), (99.5, -301.5, -149.0))
    assert [float(v) for v in frames.orientation] == [-1, 0, 0, 0, 1, 0]
    assert [float(v) for v in frames.pixel_spacing] == [0.388672, 0.388672]
    assert float(frames.slice_thickness) == 10.0


def test_per_frame_rescaling_wins_over_the_shared_one(tmp_path):
    ds = pydicom.dcmread(real("eCT_Supplemental.dcm"))
    transform = Dataset()
    transform.RescaleSlope, transform.RescaleIntercept, transform.RescaleType = 2, 5, "US"
    ds.PerFrameFunctionalGroupsSequence[1].PixelValueTransformationSequence = Sequence(
        [transform])
    ds.save_as(tmp_path / "rescaled.dcm")
    frames = read_frames(tmp_path / "rescaled.dcm")
    np.testing.assert_array_equal(frames.array[0], ds.pixel_array[0] - 1024.0)
    np.testing.assert_array_equal(frames.array[1], ds.pixel_array[1] * 2.0 + 5.0)


def test_frames_of_a_real_philips_enhanced_mr(tmp_path):
    frames = read_frames(philips_mprage(tmp_path))
    assert frames.array.shape == (176, 256, 256)
    assert frames.positions[0] == pytest.approx((92.7090416119899, -125.12766968458,
                                                 136.495256863534))
    assert all(p is not None for p in frames.positions)
    assert [float(v) for v in frames.pixel_spacing] == [1.0, 1.0]


def test_a_legacy_multi_frame_places_no_frame_by_its_top_level_position():
    frames = read_frames(real("rtdose.dcm"))  # one ImagePositionPatient for 15 frames
    assert frames.array.shape == (15, 10, 10) and frames.positions == (None,) * 15


def test_one_frame_files_give_one_frame_with_their_position():
    frames = read_frames(real("CT_small.dcm"))
    ds = pydicom.dcmread(real("CT_small.dcm"))
    assert frames.array.shape == (1, 128, 128)
    assert frames.positions == (tuple(float(v) for v in ds.ImagePositionPatient),)
    np.testing.assert_array_equal(frames.array[0], read_image(real("CT_small.dcm")))


@pytest.mark.parametrize("reader", [read_frames, read_image])
def test_volumes_refuse_colour_naming_the_file(reader):
    with pytest.raises(cnb.CircusError, match=r"SC_rgb\.dcm .*: it is a colour image \(RGB\); a"
                                              r" volume takes grayscale images"):
        reader(real("SC_rgb.dcm"))


@pytest.mark.parametrize("name", ["SC_rgb.dcm", "US1_UNCR.dcm", "SC_ybr_full_uncompressed.dcm",
                                  "SC_rgb_jpeg_dcmtk.dcm"])
def test_colour_shows_as_rgb_uint8(name):
    shown = read_display(real(name))
    expected = pydicom.dcmread(real(name)).pixel_array  # pydicom converts YBR to RGB
    assert shown.dtype == np.uint8 and shown.shape == expected.shape
    np.testing.assert_array_equal(shown, expected)


def test_sixteen_bit_colour_is_scaled_to_eight_bits():
    shown = read_display(real("SC_rgb_16bit.dcm"))
    stored = pydicom.dcmread(real("SC_rgb_16bit.dcm")).pixel_array
    assert shown.dtype == np.uint8
    np.testing.assert_allclose(shown, stored / 257.0, atol=0.5)


@pytest.mark.parametrize("name", ["OBXXXX1A.dcm", "gdcm-US-ALOKA-16.dcm"])
def test_palette_colour_shows_through_its_palette(name):
    ds = pydicom.dcmread(real(name))
    shown = read_display(real(name))
    assert shown.shape == (*ds.pixel_array.shape, 3) and shown.dtype == np.uint8
    through_palette = apply_color_lut(ds.pixel_array, ds)  # 16-bit palette entries
    np.testing.assert_allclose(shown, through_palette / 257.0, atol=0.5)
    assert len(np.unique(shown.reshape(-1, 3), axis=0)) > 2  # colours, not a grey ramp


def test_a_colour_cine_shows_its_middle_frame():
    shown = read_display(real("examples_ybr_color.dcm"))  # 30 frames, YBR_FULL_422
    expected = pydicom.dcmread(real("examples_ybr_color.dcm")).pixel_array[15]
    assert shown.shape == (240, 320, 3)
    np.testing.assert_allclose(shown.astype(int), expected.astype(int), atol=1)


def test_a_grayscale_multi_frame_shows_its_middle_frame_rescaled():
    shown = read_display(real("eCT_Supplemental.dcm"))
    ds = pydicom.dcmread(real("eCT_Supplemental.dcm"))
    assert shown.dtype == np.float32
    np.testing.assert_array_equal(shown, ds.pixel_array[1] - 1024.0)


@pytest.mark.parametrize("name", ["JPEG-lossy.dcm", "JPEG2000-embedded-sequence-delimiter.dcm"])
def test_undecodable_files_are_errors_naming_the_file(name):
    with pytest.raises(cnb.CircusError, match=r"the pixel data cannot be decoded") as info:
        read_display(real(name))
    assert os.fspath(real(name)) in str(info.value) and info.value.field == "path"


def test_a_missing_file_is_an_error_naming_it(tmp_path):
    with pytest.raises(cnb.CircusError,
                       match=r"gone\.dcm: the file cannot be read \(FileNotFoundError"):
        read_display(tmp_path / "gone.dcm")


def test_frames_beyond_number_of_frames_are_dropped(tmp_path):
    ds = pydicom.dcmread(real("emri_small.dcm"))
    expected = ds.pixel_array[:4]
    ds.NumberOfFrames = 4  # the pixel data holds 10
    ds.save_as(tmp_path / "short.dcm")
    frames = read_frames(tmp_path / "short.dcm")
    np.testing.assert_array_equal(frames.array, expected)
