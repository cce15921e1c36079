"""Expanding files, folders and archives into sources, refusing unsafe entries."""

import io
import os
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest

from circus_nb import NotFoundError
from circus_nb.dicom.sources import expand


def _tar(path, members):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_folders_recurse_files_first_then_sub_folders_sorted(tmp_path):
    for name in ("b/2.dcm", "a/1.dcm", "c.dcm"):
        (tmp_path / "in" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "in" / name).write_bytes(b"x")
    sources = list(expand(tmp_path / "in", tmp_path / "staging"))
    assert [s.display.split("in/")[1] for s in sources] == ["c.dcm", "a/1.dcm", "b/2.dcm"]
    assert not any(s.from_archive for s in sources)


def test_tar_entries_that_would_escape_are_refused(tmp_path):
    archive = _tar(tmp_path / "a.tgz", {"ok/1.dcm": b"one", "../up.dcm": b"x",
                                         "/etc/abs.dcm": b"x", "ok/../../up2.dcm": b"x"})
    sources = list(expand(archive, tmp_path / "staging"))
    assert [s.refused is None for s in sources] == [True, False, False, False]
    assert Path(sources[0].path).read_bytes() == b"one"
    assert Path(sources[0].path).is_relative_to(tmp_path / "staging")
    assert not (tmp_path / "up.dcm").exists() and not (tmp_path / "up2.dcm").exists()
    assert "absolute path" in sources[2].refused and "'..' part" in sources[3].refused


def test_a_named_archive_is_recognised_by_its_bytes(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("x/1.dcm", b"1")
    (tmp_path / "upload.bin").write_bytes(buffer.getvalue())
    sources = list(expand([tmp_path / "upload.bin"], tmp_path / "staging"))
    assert [s.display for s in sources] == [f"{tmp_path / 'upload.bin'}!/x/1.dcm"]


def test_a_missing_path_is_not_found(tmp_path):
    with pytest.raises(NotFoundError, match="No file or folder .*missing"):
        list(expand(tmp_path / "missing", tmp_path / "staging"))


# -- entries and folders that cannot be read: a row each, the others go on ------------------


def _zip_with_bad_entries(path: Path) -> Path:
    """A zip whose entries are: fine, corrupt (bad CRC), encrypted, deflate64, fine."""
    names = ["a/ok1.dcm", "a/corrupt.dcm", "a/encrypted.dcm", "a/deflate64.dcm", "a/ok2.dcm"]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for name in names:
            z.writestr(name, f"content of {name}".encode() * 10)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        infos = {info.filename: info for info in z.infolist()}
    corrupt = infos["a/corrupt.dcm"]
    data[corrupt.header_offset + 30 + len(corrupt.filename) + 3] ^= 0xFF  # its bytes
    _set_local_and_central(data, infos["a/encrypted.dcm"], flag=0x1)
    _set_local_and_central(data, infos["a/deflate64.dcm"], method=9)
    path.write_bytes(bytes(data))
    return path


def _set_local_and_central(data: bytearray, info: zipfile.ZipInfo, flag: int = 0,
                           method: int | None = None) -> None:
    central = data.index(b"PK\x01\x02")  # the first record of the central directory
    while True:
        name_length = int.from_bytes(data[central + 28:central + 30], "little")
        extra = int.from_bytes(data[central + 30:central + 32], "little")
        comment = int.from_bytes(data[central + 32:central + 34], "little")
        if data[central + 46:central + 46 + name_length] == info.filename.encode():
            break
        central += 46 + name_length + extra + comment
    for at, flag_at in ((info.header_offset, 6), (central, 8)):
        data[at + flag_at] |= flag
        if method is not None:
            data[at + flag_at + 2:at + flag_at + 4] = method.to_bytes(2, "little")


def test_a_bad_zip_entry_is_refused_alone(tmp_path):
    archive = _zip_with_bad_entries(tmp_path / "bad.zip")
    sources = list(expand(archive, tmp_path / "staging"))
    by_name = {s.display.split("!/")[1]: s for s in sources}
    assert list(by_name) == ["a/ok1.dcm", "a/corrupt.dcm", "a/encrypted.dcm",
                             "a/deflate64.dcm", "a/ok2.dcm"]
    assert Path(by_name["a/ok1.dcm"].path).read_bytes().startswith(b"content of a/ok1")
    assert Path(by_name["a/ok2.dcm"].path).read_bytes().startswith(b"content of a/ok2")
    assert "archive entry 'a/corrupt.dcm' cannot be extracted: Bad CRC-32" in \
        by_name["a/corrupt.dcm"].refused
    assert "is encrypted, password required" in by_name["a/encrypted.dcm"].refused
    assert "compression method is not supported" in by_name["a/deflate64.dcm"].refused
    assert all(by_name[n].path is None for n in ("a/corrupt.dcm", "a/encrypted.dcm"))


def test_a_tar_that_breaks_midway_keeps_its_first_entries(tmp_path):
    archive = _tar(tmp_path / "a.tar.gz", {f"s/{k}.dcm": bytes([k]) * 50_000 for k in range(4)})
    data = archive.read_bytes()
    (tmp_path / "cut.tar.gz").write_bytes(data[:len(data) // 2])
    sources = list(expand(tmp_path / "cut.tar.gz", tmp_path / "staging"))
    assert sources[0].refused is None and Path(sources[0].path).read_bytes() == b"\0" * 50_000
    last = sources[-1]
    assert last.display == str(tmp_path / "cut.tar.gz") and last.path is None
    assert "cannot read the rest of the archive after" in last.refused


def test_an_unreadable_sub_folder_gets_a_row(tmp_path, monkeypatch):
    for name in ("a/1.dcm", "locked/2.dcm", "z/3.dcm"):
        (tmp_path / "in" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "in" / name).write_bytes(b"x")
    locked = str(tmp_path / "in" / "locked")
    real_scandir = os.scandir

    def scandir(path="."):  # tests run as root, whom chmod does not stop
        if os.fspath(path) == locked:
            raise PermissionError(13, "Permission denied", locked)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    sources = list(expand(tmp_path / "in", tmp_path / "staging"))
    assert [s.display.split("in/")[1] for s in sources] == ["a/1.dcm", "locked", "z/3.dcm"]
    assert sources[1].path is None
    assert sources[1].refused.startswith("cannot read the folder: Permission denied; its files"
                                         " were not imported")


def test_a_dicom_file_named_like_a_zip_is_a_dicom_file(tmp_path):
    dicom = b"\0" * 128 + b"DICM" + b"rest"
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "scan.zip").write_bytes(dicom)
    (tmp_path / "named.zip").write_bytes(dicom)
    found = list(expand([tmp_path / "in", tmp_path / "named.zip"], tmp_path / "staging"))
    assert [(s.display, s.path, s.refused) for s in found] == [
        (str(tmp_path / "in" / "scan.zip"), str(tmp_path / "in" / "scan.zip"), None),
        (str(tmp_path / "named.zip"), str(tmp_path / "named.zip"), None)]


def test_a_file_named_zip_that_is_neither_is_a_bad_archive(tmp_path):
    (tmp_path / "junk.zip").write_bytes(b"just text")
    [source] = expand(tmp_path / "junk.zip", tmp_path / "staging")
    assert source.refused == "cannot read the archive: File is not a zip file"


def test_fifos_and_dangling_links_are_rows_never_opened(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    os.mkfifo(folder / "pipe.zip")  # named like an archive: expand would open it
    (folder / "gone.dcm").symlink_to(tmp_path / "nowhere.dcm")
    os.mkfifo(tmp_path / "named-pipe")
    found = []
    walker = threading.Thread(target=lambda: found.extend(expand(
        [folder, tmp_path / "named-pipe", folder / "gone.dcm"], tmp_path / "staging")),
        daemon=True)
    walker.start()
    walker.join(timeout=30)
    if walker.is_alive():  # free the blocked reader before failing
        for pipe in (folder / "pipe.zip", tmp_path / "named-pipe"):
            os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("expand blocked on a FIFO")
    refused = {Path(s.display).name: s.refused for s in found}
    assert refused["pipe.zip"] == ("cannot read the file: it is a named pipe (FIFO), not a"
                                   " regular file")
    assert refused["named-pipe"] == refused["pipe.zip"]
    # a dangling link in a folder is read (and refused) like any file; named, it is a row
    assert [Path(s.display).name for s in found].count("gone.dcm") == 2


def test_names_that_are_not_utf8_are_shown_with_escapes(tmp_path):
    raw = os.fsencode(tmp_path) + b"/in/scan-\xff.dcm"
    os.makedirs(os.path.dirname(raw))
    with open(raw, "wb") as f:
        f.write(b"x")
    [source] = expand(tmp_path / "in", tmp_path / "staging")
    assert source.display == f"{tmp_path}/in/scan-\\xff.dcm"
    assert os.fsencode(source.path) == raw  # the real name, to open the file with
