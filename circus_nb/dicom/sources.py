"""Turning what the user names (files, folders, zip and tar archives) into files to read.

Every file and every archive entry becomes one :class:`Source`, so the import
report has a row for each; a folder that cannot be read gets a row too. Archive
entries are extracted into a staging folder first; entries that would escape it
(absolute paths, ``..`` parts, links) are refused and never extracted, and an
entry that cannot be extracted (corrupt, encrypted, an unsupported compression)
is refused alone. Only regular files are ever opened: a FIFO would block the
import forever.

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
import sys
import tarfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, BinaryIO

from .._system import DISK_FULL
from ..errors import NotFoundError

__all__ = ["NotARegularFile", "Source", "expand", "open_regular", "printable_path",
           "require_paths"]

_TAR_SUFFIXES = (".tar.gz", ".tgz", ".tar")
_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"))


class NotARegularFile(OSError):
    """The path names a folder, a FIFO, a socket, a device or a link to nothing."""


def open_regular(path: str) -> BinaryIO:
    """Open a regular file (or a link to one) for reading, or raise :class:`OSError`.

    The file is opened without blocking and checked before anything is read, so
    a FIFO without a writer (or a device) never hangs the caller.

    Raises
    ------
    NotARegularFile
        If ``path`` is not a regular file, or is a link to a missing file.
    OSError
        If the file cannot be opened.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:  # a socket cannot be opened at all, a dangling link is missing
        problem = _not_regular(path)
        if problem is None:
            raise
        raise problem from error
    try:
        problem = _not_regular(path, os.fstat(fd).st_mode)
        if problem is not None:
            raise problem
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _not_regular(path: str, mode: int | None = None) -> NotARegularFile | None:
    """What ``path`` is, if it is something else than a regular file."""
    if mode is None:
        try:
            mode = os.stat(path).st_mode
        except FileNotFoundError:
            if not os.path.islink(path):
                return None
            return NotARegularFile(f"it is a link to a missing file ({os.readlink(path)!r})")
        except OSError:
            return None
    if stat.S_ISREG(mode):
        return None
    kind = next((name for test, name in _KINDS if test(mode)), "not a file")
    return NotARegularFile(f"it is {kind}, not a regular file")


def printable_path(path: str) -> str:
    """``path`` as text that can be shown and stored: bytes of a file name that are
    not UTF-8 (kept by Python as lone surrogates) become backslash escapes.

    >>> printable_path(os.fsdecode(b"scan-\\xff.dcm"))
    'scan-\\\\xff.dcm'
    """
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        raw = path.encode(sys.getfilesystemencoding(), "surrogateescape")
        return raw.decode("utf-8", "backslashreplace")


@dataclass(frozen=True)
class Source:
    """One input file: ``display`` is what the report shows; ``path`` is its
    absolute path on disk (``None`` when ``refused`` says why it is not imported)."""

    display: str
    path: str | None
    from_archive: bool = False
    refused: str | None = None


def _archive_kind(path: str, named: bool) -> str | None:
    """``"zip"``, ``"tar"`` or ``None`` (a file to read as DICOM).

    Files in a folder are opened here only when named like an archive; a file
    named by the user is always looked at. Its bytes decide: a DICOM file named
    ``*.zip`` is DICOM, a zip named ``upload.bin`` is a zip.
    """
    name = os.path.basename(path).lower()
    by_name = "zip" if name.endswith(".zip") else "tar" if name.endswith(_TAR_SUFFIXES) \
        else None
    if by_name is None and not named:
        return None
    with open_regular(path) as f:
        head = f.read(264)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):  # a zip, or an empty one
        return "zip"
    if head[128:132] == b"DICM":
        return None
    if head.startswith(b"\x1f\x8b") or head[257:262] == b"ustar":
        return "tar" if tarfile.is_tarfile(path) else by_name
    return by_name


def expand(paths: str | os.PathLike | Iterable[str | os.PathLike], staging: Path
           ) -> Iterator[Source]:
    """Yield a :class:`Source` per file under ``paths`` (folders recurse, sorted).

    Raises
    ------
    NotFoundError
        If a path names nothing at all (a dangling link is a refused source).
    OSError
        With errno ``ENOSPC`` or ``EDQUOT``, if the disk fills while extracting an
        archive into ``staging`` (every other failure is a refused source).
    """
    folders = (staging / f"{n}" for n in itertools.count())  # one per archive
    for path in require_paths(paths):
        if os.path.isdir(path):
            yield from _walk(path, folders)
        else:  # a file, or something that is not (its row says so)
            yield from _file(path, folders, named=True)


def require_paths(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> list[str]:
    """``paths`` as absolute paths, each naming something (a dangling link counts).

    Called before an import starts anything (a progress bar, a staging folder), so a
    mistyped path is the only thing the user sees.

    Raises
    ------
    NotFoundError
        Naming the first path that names nothing, and the folder relative paths start from.
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    found = [os.path.abspath(given) for given in paths]
    for given, path in zip(paths, found, strict=True):
        if not os.path.lexists(path):
            raise NotFoundError(
                f"No file or folder {printable_path(os.fspath(given))!r} to import. Check the path"
                f" (relative paths start from the current folder, {printable_path(os.getcwd())}).",
                field="paths", value=printable_path(path))
    return found


def _walk(folder: str, archives: Iterator[Path]) -> Iterator[Source]:
    """Files below ``folder``, sorted, without a stat call per file; a sub-folder that
    cannot be read is a refused source of its own (``os.walk`` would skip it)."""
    errors: list[OSError] = []
    for parent, folders, files in os.walk(folder, onerror=errors.append):
        yield from _unreadable_folders(errors)
        folders.sort()
        for name in sorted(files):
            yield from _file(os.path.join(parent, name), archives, named=False)
    yield from _unreadable_folders(errors)


def _unreadable_folders(errors: list[OSError]) -> Iterator[Source]:
    for error in errors:
        where = printable_path(os.fspath(error.filename)) if error.filename else "a folder"
        yield Source(where, None, refused=f"cannot read the folder: {error.strerror or error};"
                     " its files were not imported. Give read access to it and import again")
    errors.clear()


def _file(path: str, folders: Iterator[Path], named: bool) -> Iterator[Source]:
    display = printable_path(path)
    try:
        kind = _archive_kind(path, named)
    except OSError as e:
        if e.errno in DISK_FULL:
            raise
        yield Source(display, None, refused=f"cannot read the file: {e.strerror or e}")
        return
    if kind is None:
        yield Source(display, path)
        return
    extract = _zip_entries if kind == "zip" else _tar_entries
    last = None
    try:
        for last in extract(path, display, next(folders)):
            yield last
    except OSError as e:
        if e.errno in DISK_FULL:
            raise
        yield _broken_archive(display, last, e)
    except Exception as e:  # zipfile, tarfile, zlib... a bad archive must not stop the import
        yield _broken_archive(display, last, e)


def _broken_archive(display: str, last: Source | None, error: Exception) -> Source:
    if last is None:
        return Source(display, None, refused=f"cannot read the archive: {error}")
    return Source(display, None, refused=f"cannot read the rest of the archive after"
                  f" {last.display}: {error}")


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


def _zip_entries(archive: str, display: str, folder: Path) -> Iterator[Source]:
    with open_regular(archive) as f, zipfile.ZipFile(f) as z:
        yield from _extract(display, _zip_members(z), folder)


def _tar_entries(archive: str, display: str, folder: Path) -> Iterator[Source]:
    with open_regular(archive) as f, tarfile.open(fileobj=f) as tar:
        yield from _extract(display, _tar_members(tar), folder)


def _extract(archive: str, entries: Iterable[_Entry], folder: Path) -> Iterator[Source]:
    for index, entry in enumerate(entries):
        name = printable_path(entry.name)
        display = f"{archive}!/{name.lstrip('/')}"
        refused = _unsafe(name)
        if refused is None and entry.kind == "link":
            refused = f"archive entry {name!r} is a link; links are not followed"
        elif refused is None and entry.kind != "file":
            refused = f"archive entry {name!r} is not a regular file"
        if refused:
            yield Source(display, None, True, refused)
            continue
        target = _target(folder, index)
        try:
            with entry.open() as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        except Exception as e:  # corrupt, encrypted, deflate64...: this entry only
            target.unlink(missing_ok=True)
            if isinstance(e, OSError) and e.errno in DISK_FULL:
                raise
            yield Source(display, None, True, f"archive entry {name!r} cannot be extracted:"
                         f" {e}")
            continue
        yield Source(display, str(target), True)


def _target(folder: Path, index: int) -> Path:
    # Entries are written under a number, never under their own name: nothing an
    # archive says can choose where a file lands.
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{index:08d}.dcm"
