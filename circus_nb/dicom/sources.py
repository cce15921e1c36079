"""Turning what the user names (files, folders, zip and tar archives) into files to read.

Every file and every archive entry becomes one :class:`Source`, so the import
report has a row for each. Archive entries are extracted into a staging folder
first; entries that would escape it (absolute paths, ``..`` parts, links) are
refused and never extracted.

>>> import tempfile, zipfile, pathlib
>>> with tempfile.TemporaryDirectory() as tmp:
...     archive = pathlib.Path(tmp, "a.zip")
...     with zipfile.ZipFile(archive, "w") as z:
...         z.writestr("ok/one.dcm", b"x")
...         z.writestr("../evil.dcm", b"x")
...     [(s.display.split("!")[-1], s.refused) for s in expand([archive], pathlib.Path(tmp, "s"))]
[('/ok/one.dcm', None), ('/../evil.dcm', "archive entry '../evil.dcm' has a '..' part ...")]
"""

from __future__ import annotations

import itertools
import os
import shutil
import stat
import tarfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from ..errors import NotFoundError

__all__ = ["Source", "expand"]

_TAR_SUFFIXES = (".tar.gz", ".tgz", ".tar")


@dataclass(frozen=True)
class Source:
    """One input file: ``display`` is what the report shows; ``path`` is its
    absolute path on disk (``None`` when ``refused`` says why it is not imported)."""

    display: str
    path: str | None
    from_archive: bool = False
    refused: str | None = None


def _archive_kind(path: str, sniff: bool) -> str | None:
    name = os.path.basename(path).lower()
    if name.endswith(".zip"):
        return "zip"
    if name.endswith(_TAR_SUFFIXES):
        return "tar"
    if sniff:  # a file named by the user: look at its first bytes too
        with open(path, "rb") as f:
            magic = f.read(4)
        if magic.startswith(b"PK\x03\x04"):
            return "zip"
        if magic.startswith(b"\x1f\x8b"):
            return "tar" if tarfile.is_tarfile(path) else None
    return None


def expand(paths: str | os.PathLike | Iterable[str | os.PathLike], staging: Path
           ) -> Iterator[Source]:
    """Yield a :class:`Source` per file under ``paths`` (folders recurse, sorted)."""
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    folders = (staging / f"{n}" for n in itertools.count())  # one per archive
    for given in paths:
        path = os.path.abspath(given)
        if os.path.isdir(path):
            for file in _walk(path):
                yield from _file(file, folders, sniff=False)
        elif os.path.isfile(path):
            yield from _file(path, folders, sniff=True)
        else:
            raise NotFoundError(f"No file or folder {str(path)!r} to import. Check the path"
                                " (relative paths start from the notebook's folder).",
                                field="paths", value=str(path))


def _walk(folder: str) -> Iterator[str]:
    """Files below ``folder``, sorted, without a stat call per file."""
    for parent, folders, files in os.walk(folder):
        folders.sort()
        for name in sorted(files):
            yield os.path.join(parent, name)


def _file(path: str, folders: Iterator[Path], sniff: bool) -> Iterator[Source]:
    try:
        kind = _archive_kind(path, sniff)
    except OSError as e:
        yield Source(path, None, refused=f"cannot read the file: {e.strerror or e}")
        return
    if kind is None:
        yield Source(path, path)
        return
    extract = _zip_entries if kind == "zip" else _tar_entries
    try:
        yield from extract(path, next(folders))
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as e:
        yield Source(path, None, refused=f"cannot read the archive: {e}")


def _unsafe(name: str) -> str | None:
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or (len(name) > 1 and name[1] == ":"):
        return f"archive entry {name!r} has an absolute path; it is never extracted"
    if ".." in pure.parts:
        return f"archive entry {name!r} has a '..' part that would leave the archive's folder"
    return None


@dataclass(frozen=True)
class _Entry:
    """One archive member, described the same way for zip and tar."""

    name: str
    kind: str  # "file", "link" or "other"
    open: Callable[[], IO[bytes]]


def _zip_members(z: zipfile.ZipFile) -> Iterator[_Entry]:
    for info in z.infolist():
        if not info.is_dir():
            kind = "link" if stat.S_ISLNK(info.external_attr >> 16) else "file"
            yield _Entry(info.filename, kind, lambda info=info: z.open(info))


def _tar_members(tar: tarfile.TarFile) -> Iterator[_Entry]:
    for member in tar:
        if not member.isdir():
            kind = ("link" if member.issym() or member.islnk()
                    else "file" if member.isfile() else "other")
            yield _Entry(member.name, kind, lambda member=member: tar.extractfile(member))


def _zip_entries(archive: str, folder: Path) -> Iterator[Source]:
    with zipfile.ZipFile(archive) as z:
        yield from _extract(archive, _zip_members(z), folder)


def _tar_entries(archive: str, folder: Path) -> Iterator[Source]:
    with tarfile.open(archive) as tar:
        yield from _extract(archive, _tar_members(tar), folder)


def _extract(archive: str, entries: Iterable[_Entry], folder: Path) -> Iterator[Source]:
    for index, entry in enumerate(entries):
        display = f"{archive}!/{entry.name.lstrip('/')}"
        refused = _unsafe(entry.name)
        if refused is None and entry.kind == "link":
            refused = f"archive entry {entry.name!r} is a link; links are not followed"
        elif refused is None and entry.kind != "file":
            refused = f"archive entry {entry.name!r} is not a regular file"
        if refused:
            yield Source(display, None, True, refused)
            continue
        target = _target(folder, index)
        with entry.open() as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        yield Source(display, str(target), True)


def _target(folder: Path, index: int) -> Path:
    # Entries are written under a number, never under their own name: nothing an
    # archive says can choose where a file lands.
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{index:08d}.dcm"
