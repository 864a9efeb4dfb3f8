"""Open the files of a run folder without ever following a link out of it.

A run folder may come from someone else (a copied or unpacked store), and its reports are
published (``valleys report --all --out DIR``). Every file a report reads or copies from a
run folder is therefore opened through :func:`open_run_file`: the path must be relative,
stay inside the folder, and no part of it may be a symbolic link; the file must be a
regular file (not a FIFO or a device). valleys itself never writes links into a run folder.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from .errors import DamagedRunError


class UnsafeRunFileError(DamagedRunError):
    """A file named by a run folder is a symbolic link, not a regular file, or outside it."""


def run_file(folder: str | os.PathLike, rel: str | os.PathLike) -> Path:
    """The checked path of the regular file ``rel`` inside the run folder ``folder``.

    Args:
        folder: the run folder.
        rel: the file's path relative to ``folder`` (``/``-separated, as the store writes it).

    Returns:
        ``folder / rel``.

    Raises:
        UnsafeRunFileError: ``rel`` is absolute or climbs out (``..``), a part of it is a
            symbolic link, or it is not a regular file.
        DamagedRunError: the file is missing.
    """
    folder = Path(folder)
    parts = _parts(rel)
    path = folder
    for i, part in enumerate(parts):
        path = path / part
        shown = "/".join(parts[: i + 1])  # messages name paths inside the run folder only
        try:
            info = os.lstat(path)
        except FileNotFoundError as exc:
            raise DamagedRunError(f"{shown} is missing from the run folder.") from exc
        except (OSError, ValueError) as exc:
            raise DamagedRunError(f"Cannot read {shown} of the run folder: {exc}.") from exc
        if stat.S_ISLNK(info.st_mode):
            raise UnsafeRunFileError(f"{shown} is a symbolic link; reports never follow links "
                                     "out of a run folder.")
        last = i == len(parts) - 1
        if last and not stat.S_ISREG(info.st_mode):
            raise UnsafeRunFileError(f"{shown} is not a regular file.")
        if not last and not stat.S_ISDIR(info.st_mode):
            raise DamagedRunError(f"{shown} in the run folder is not a folder.")
    if folder.resolve() not in path.resolve().parents:  # no link above, so this only guards odd cases
        raise UnsafeRunFileError(f"{'/'.join(parts)} leaves the run folder.")
    return path


def open_run_file(folder: str | os.PathLike, rel: str | os.PathLike) -> BinaryIO:
    """Open the regular file ``rel`` of a run folder for reading (binary), checked as in
    :func:`run_file`; the final open refuses a link (``O_NOFOLLOW``) and must find the
    file that was checked, so a file swapped for a link in between is refused too.

    Args:
        folder: the run folder.
        rel: the file's path relative to it.

    Returns:
        A binary file object open for reading.

    Raises:
        UnsafeRunFileError: see :func:`run_file`; also when the file cannot be opened without
            following a link, or changed while it was opened.
        DamagedRunError: the file is missing or cannot be opened.
    """
    path = run_file(folder, rel)
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        checked = os.lstat(path)
        fd = os.open(path, flags)
    except OSError as exc:
        raise UnsafeRunFileError(f"Cannot open {rel} without following a link: {exc}.") from exc
    opened = os.fstat(fd)
    if not stat.S_ISREG(opened.st_mode) or (opened.st_dev, opened.st_ino) != (checked.st_dev, checked.st_ino):
        os.close(fd)
        raise UnsafeRunFileError(f"{rel} changed while it was opened; it is not read.")
    return os.fdopen(fd, "rb")


def read_run_bytes(folder: str | os.PathLike, rel: str | os.PathLike) -> bytes:
    """The contents of the regular file ``rel`` of a run folder (see :func:`open_run_file`).

    Args:
        folder: the run folder.
        rel: the file's path relative to it.

    Returns:
        The file's bytes.
    """
    with open_run_file(folder, rel) as handle:
        return handle.read()


def _parts(rel: str | os.PathLike) -> tuple[str, ...]:
    text = os.fspath(rel)
    if not isinstance(text, str) or not text or "\\" in text or "\x00" in text:
        raise UnsafeRunFileError(f"{text!r} is not a file name of a run folder.")
    path = PurePosixPath(text)
    if path.is_absolute() or any(part in ("..", ".") for part in path.parts):
        raise UnsafeRunFileError(f"{text!r} leaves the run folder.")
    return path.parts
