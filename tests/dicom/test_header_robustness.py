"""Header reading never raises for a bad file: every failure is that file's status.

Truncated files (anywhere: in the file meta, in a long header, in a 4 GB element),
sequences nested too deep for the parser, damaged deflated data, instance numbers
the catalog cannot hold, FIFOs and dangling links; and valid files whose PixelData
bytes also appear where no top-level PixelData is.
"""

import os
import socket
import struct
import threading
from pathlib import Path

import pydicom
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from circus_nb.dicom.header import MAX_INSTANCE_NUMBER, read_header
from tests.dicom.bad_files import (
    ITEM_END,
    PIXEL_TAG,
    SEQUENCE_END,
    UNDEFINED,
    before_pixels,
    changed_copy,
    corrupt_deflated,
    good_file,
    nested_sequences,
    pixel_offset,
    private_ob,
)

NIBABEL_DATA = Path(__import__("nibabel").__file__).parent / "nicom" / "tests" / "data"


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    return good_file(tmp_path_factory.mktemp("good"))


def _cut(source: Path, target: Path, size: int) -> Path:
    target.write_bytes(source.read_bytes()[:size])
    return target


@pytest.mark.parametrize(("size", "reason"), [
    (132, "nothing follows its 'DICM' marker"),
    (150, "it ends at byte 150, inside the header of an element"),
    (200, "needs .* bytes from byte .*, the file ends at byte 200"),
    (600, "needs .* bytes from byte .*, the file ends at byte 600"),
])
def test_a_file_cut_in_its_header_is_unreadable(good, tmp_path, size, reason):
    result = read_header(_cut(good, tmp_path / f"cut-{size}.dcm", size))
    assert result.status == "unreadable"
    assert result.reason.startswith("the file is truncated: ")
    assert __import__("re").search(reason, result.reason), result.reason


def test_a_long_header_cut_at_20_kib_is_unreadable(good, tmp_path):
    long = before_pixels(good, tmp_path / "long.dcm", private_ob(b"\x01" * 24 * 1024))
    assert read_header(long).status == "ok"  # whole, it is fine (and longer than the head)
    result = read_header(_cut(long, tmp_path / "long-cut.dcm", 20 * 1024))
    assert result.status == "unreadable"
    assert "element (0029,1010) needs 24576 bytes" in result.reason
    assert "the file ends at byte 20480" in result.reason


def test_a_file_ending_inside_a_4_gb_element_is_unreadable(good, tmp_path):
    huge = 0xFFFFFFF0
    data = good.read_bytes()
    at = pixel_offset(data)
    (tmp_path / "huge.dcm").write_bytes(data[:at] + private_ob(b"\x00" * 300, declared=huge))
    result = read_header(tmp_path / "huge.dcm")
    assert result.status == "unreadable"
    assert f"element (0029,1010) needs {huge} bytes" in result.reason


def test_a_file_ending_inside_its_pixel_data_is_unreadable(good, tmp_path):
    size = good.stat().st_size
    result = read_header(_cut(good, tmp_path / "short.dcm", size - 10))
    assert result.status == "unreadable"
    assert "its pixel data needs 512 bytes, 502 are present" in result.reason


def _element_ends(data: bytes) -> set[int]:
    """Where each element before the pixel data ends, in a file with no sequence."""
    at, ends = 132, {132}
    while at < pixel_offset(data):
        if data[at + 4:at + 6] in (b"OB", b"OW", b"UN", b"UT", b"SQ"):
            at += 12 + struct.unpack("<I", data[at + 8:at + 12])[0]
        else:
            at += 8 + struct.unpack("<H", data[at + 6:at + 8])[0]
        ends.add(at)
    assert at == pixel_offset(data)  # the walk above went element by element
    return ends


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_file_cut_anywhere_is_unreadable_unless_cut_between_elements(good, tmp_path_factory,
                                                                       data):
    whole = good.read_bytes()
    size = data.draw(st.integers(128, len(whole) - 1), label="size")
    cut = tmp_path_factory.mktemp("cut") / "cut.dcm"
    cut.write_bytes(whole[:size])
    result = read_header(cut)
    if size not in _element_ends(whole):
        assert result.status in ("unreadable", "not_dicom"), (size, result)
        assert result.status == "not_dicom" or "truncated" in result.reason


def test_sequences_nested_3000_deep_are_unreadable(good, tmp_path):
    deep = before_pixels(good, tmp_path / "deep.dcm", nested_sequences(3000))
    result = read_header(deep)
    assert result.status == "unreadable"
    assert "nested too deeply" in result.reason


def test_a_few_nested_sequences_of_undefined_length_are_fine(good, tmp_path):
    nested = before_pixels(good, tmp_path / "nested.dcm", nested_sequences(20))
    assert read_header(nested).instance == {**read_header(good).instance,
                                            "size": nested.stat().st_size,
                                            "mtime": nested.stat().st_mtime}


def test_a_damaged_deflated_dataset_is_unreadable(tmp_path):
    result = read_header(corrupt_deflated(tmp_path / "deflated.dcm"))
    assert result.status == "unreadable"
    assert "zlib.error" in result.reason and "decompressing" in result.reason


@pytest.mark.filterwarnings("ignore:The value length")  # IS holds 12 characters at most
@pytest.mark.parametrize("number", [2**31, 2**40, -(2**31) - 1])
def test_an_instance_number_the_catalog_cannot_hold(good, tmp_path, number):
    bad = changed_copy(good, tmp_path / f"n{number}.dcm", InstanceNumber=str(number))
    result = read_header(bad)
    assert result.status == "no_instance_number"
    assert f"InstanceNumber is '{number}'" in result.reason
    assert f"from 1 to {MAX_INSTANCE_NUMBER}" in result.reason


def test_the_largest_instance_number_is_read(good, tmp_path):
    big = changed_copy(good, tmp_path / "max.dcm", InstanceNumber=str(MAX_INSTANCE_NUMBER))
    assert read_header(big).instance["instance_number"] == MAX_INSTANCE_NUMBER


def test_icon_image_sequence_with_its_own_pixel_data():
    # nibabel's file: an IconImageSequence of undefined length holds a PixelData of
    # its own, before the top-level one
    path = NIBABEL_DATA / "slicethickness_empty_string.dcm"
    result = read_header(path)
    assert result.status == "ok", result.reason
    ds = pydicom.dcmread(path)  # what a full read says
    assert ds.IconImageSequence[0].Rows == 64 and "PixelData" in ds.IconImageSequence[0]
    assert result.instance["rows"] == ds.Rows == 384
    assert result.instance["instance_number"] == ds.InstanceNumber == 17
    assert result.instance["series_uid"] == ds.SeriesInstanceUID


def test_pixel_data_bytes_inside_a_private_value(good, tmp_path):
    fake = PIXEL_TAG + b"OB\x00\x00" + UNDEFINED + b"\x00" * 8  # looks like a PixelData
    tricky = before_pixels(good, tmp_path / "tricky.dcm", private_ob(fake))
    result = read_header(tricky)
    assert result.status == "ok", result.reason
    assert result.instance["rows"] == 16


def test_an_icon_sequence_cut_before_its_end_is_unreadable(good, tmp_path):
    data = good.read_bytes()
    at = pixel_offset(data)
    sequence = nested_sequences(2)
    unclosed = sequence[:-len(ITEM_END + b"\0" * 4 + SEQUENCE_END + b"\0" * 4)]
    (tmp_path / "open.dcm").write_bytes(data[:at] + unclosed)
    result = read_header(tmp_path / "open.dcm")
    assert result.status == "unreadable"
    assert "inside a sequence that has no end delimiter" in result.reason


def test_a_fifo_is_never_opened_for_a_blocking_read(tmp_path):
    fifo = tmp_path / "pipe.dcm"
    os.mkfifo(fifo)
    results = []
    reader = threading.Thread(target=lambda: results.append(read_header(fifo)), daemon=True)
    reader.start()
    reader.join(timeout=30)
    if reader.is_alive():  # let the blocked reader go before failing
        os.close(os.open(fifo, os.O_WRONLY))
        pytest.fail("read_header blocked on a FIFO")
    assert results[0].status == "unreadable"
    assert "it is a named pipe (FIFO), not a regular file" in results[0].reason


def test_a_socket_a_device_a_folder_and_a_dangling_link(tmp_path):
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / "socket.dcm"))
    (tmp_path / "dangling.dcm").symlink_to(tmp_path / "gone.dcm")
    (tmp_path / "device.dcm").symlink_to(os.devnull)
    try:
        assert "it is a socket, not a regular file" in read_header(tmp_path / "socket.dcm").reason
    finally:
        server.close()
    assert "it is a device, not a regular file" in read_header(tmp_path / "device.dcm").reason
    assert "it is a folder, not a regular file" in read_header(tmp_path).reason
    dangling = read_header(tmp_path / "dangling.dcm")
    assert dangling.status == "unreadable"
    assert "a link to a missing file" in dangling.reason and "gone.dcm" in dangling.reason


def test_a_link_to_a_good_file_is_read(good, tmp_path):
    (tmp_path / "link.dcm").symlink_to(good)
    assert read_header(tmp_path / "link.dcm").status == "ok"


def test_any_failure_while_parsing_becomes_the_files_reason(good, monkeypatch):
    from circus_nb.dicom import header

    def broken(*args, **kwargs):
        raise struct.error("something pydicom did not expect")

    monkeypatch.setattr(header, "_header_from", broken)
    result = read_header(good)
    assert result.status == "unreadable"
    assert result.reason == ("cannot parse the DICOM header: struct.error: something pydicom"
                             " did not expect")
