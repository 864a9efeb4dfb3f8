"""Atomic file writes: write to a temporary name in the same folder, fsync, then rename.

The one copy of atomic writing, on the support floor: the run store, the reports and the
``save_npz`` methods of path reports and surfaces all write through :func:`atomic_path`.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np

PART_SUFFIX = ".part"


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success move it onto ``path``.

    The caller writes the temporary file however it likes (``DataFrame.to_parquet``,
    ``Figure.savefig``, ...). On success it is flushed to disk and renamed onto ``path``
    with ``os.replace``, so a reader sees either the old file or the complete new one.
    On failure the temporary file is removed and the exception propagates.

    Args:
        path: the final file name.

    Yields:
        The temporary file name to write.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}{PART_SUFFIX}")
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def save_npz_atomic(path: str | os.PathLike, arrays: dict) -> None:
    """Write ``arrays`` to ``path`` (.npz, no suffix added) atomically."""
    with atomic_path(Path(path)) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **arrays)


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (renames into it) to disk where the OS allows it."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _fsync(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())
