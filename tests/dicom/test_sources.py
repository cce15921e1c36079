"""Expanding files, folders and archives into sources, refusing unsafe entries."""

import io
import tarfile
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
