"""Readers of user data files: ``.npz`` (arrays X and y) and ``.csv`` (header + label column).

Each reader returns raw NumPy arrays plus a function naming the place of row ``i`` in
the file, so later checks can point at the offending line. Content checks (dtype,
shape, NaN, labels) live in ``_checks.py``.
"""

from __future__ import annotations

import csv
import math
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataError

MAX_BYTES_ENV = "VALLEYS_MAX_DATA_BYTES"
"""Environment variable overriding the default size cap of load_file."""

NPZ_HINT = "Save it with numpy.savez(path, X=X, y=y), X of shape (N, d) and y of shape (N,)."
CSV_HINT = "Write a header row of column names, then one row of numbers per sample."


@dataclass(frozen=True)
class RawData:
    """Arrays read from a file, before any content check."""

    X: np.ndarray
    y: np.ndarray
    locate: Callable[[int], str]
    meta: dict = field(default_factory=dict)


_READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError,
                RuntimeError)  # RuntimeError covers an unsupported compression method
"""What a damaged archive can raise while it is read (each becomes a DataError)."""


def read_npz(path: Path, label: str, max_bytes: int) -> RawData:
    """Read arrays ``X`` and ``label`` from an ``.npz`` archive without pickle.

    Each member's ``.npy`` header is read first: an array whose claimed size exceeds
    ``max_bytes`` (together with the other array) or the member's stored size, or whose
    dtype holds Python objects, is refused before anything is allocated.
    """
    try:
        archive = zipfile.ZipFile(path)
    except _READ_ERRORS as exc:
        if isinstance(exc, PermissionError):
            raise DataError(f"Data file '{path}' cannot be read: permission denied.") from exc
        kind = "a single .npy array" if _is_npy(path) else "not a valid .npz archive"
        msg = (f"Data file '{path}' is {kind} ({exc}); valleys needs an .npz archive with "
               f"arrays 'X' and '{label}'. {NPZ_HINT}")
        raise DataError(msg) from exc
    with archive:
        members = {n[:-4] if n.endswith(".npy") else n: n for n in archive.namelist()}
        names = list(members)
        for key in ("X", label):
            _check_member(archive, members, key, path, names)
        headers = {key: _npy_header(archive, members[key], key, path) for key in ("X", label)}
        total = sum(_nbytes(h) for h in headers.values())
        if total > max_bytes:
            shapes = ", ".join(f"{k} {h[0]} {h[2]}" for k, h in headers.items())
            msg = (f"Data file '{path}' declares arrays of {total:,} bytes ({shapes}), above the "
                   f"size cap of {max_bytes:,} bytes. Pass max_bytes=<larger> to load_file (or set "
                   f"{MAX_BYTES_ENV}) if the data really is that large.")
            raise DataError(msg)
        X = _read_member(archive, members["X"], "X", path)
        y = _read_member(archive, members[label], label, path)
    return RawData(X, y, lambda i: f"row {i}", {"arrays": names})


def _is_npy(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(6) == b"\x93NUMPY"
    except OSError:
        return False


def _check_member(archive, members: dict, key: str, path: Path, names: list[str]) -> None:
    if key not in members:
        held = ", ".join(repr(n) for n in names) or "no arrays"
        hint = "" if key == "X" else " Or pass label=<name of the label array>."
        msg = (f"Data file '{path}' has no array '{key}'; it holds {held}. "
               f"{NPZ_HINT}{hint}")
        raise DataError(msg)


def _npy_header(archive, member: str, key: str, path: Path) -> tuple:
    """(shape, fortran_order, dtype, stored bytes) of a member, from its header only."""
    info = archive.getinfo(member)
    try:
        with archive.open(member) as fh:
            version = np.lib.format.read_magic(fh)
            reader = {(1, 0): np.lib.format.read_array_header_1_0,
                      (2, 0): np.lib.format.read_array_header_2_0}.get(version)
            if reader is None:
                raise ValueError(f"unsupported .npy format version {version}")
            shape, fortran, dtype = reader(fh, max_header_size=10_000)
            offset = fh.tell()
    except _READ_ERRORS as exc:
        msg = (f"Array '{key}' in '{path}' is damaged: its .npy header cannot be read ({exc}). "
               f"Write the file again. {NPZ_HINT}")
        raise DataError(msg) from exc
    if dtype.hasobject:
        msg = (f"Array '{key}' in '{path}' holds Python objects (dtype=object), which valleys "
               f"does not unpickle for safety. Save a numeric array instead, e.g. "
               f"{key}.astype(float).")
        raise DataError(msg)
    need = _nbytes((shape, fortran, dtype))
    if need > info.file_size - offset:
        msg = (f"Array '{key}' in '{path}' is truncated or corrupt: its header claims shape "
               f"{shape} of {dtype} ({need:,} bytes) but the archive member holds only "
               f"{max(info.file_size - offset, 0):,} bytes of data. Write the file again.")
        raise DataError(msg)
    return shape, fortran, dtype


def _nbytes(header: tuple) -> int:
    shape, _, dtype = header[:3]
    return math.prod(int(n) for n in shape) * dtype.itemsize


def _read_member(archive, member: str, key: str, path: Path) -> np.ndarray:
    try:
        with archive.open(member) as fh:
            return np.lib.format.read_array(fh, allow_pickle=False)
    except _READ_ERRORS as exc:
        msg = (f"Array '{key}' in '{path}' is damaged and cannot be read "
               f"({type(exc).__name__}: {exc}). Write the file again. {NPZ_HINT}")
        raise DataError(msg) from exc


def read_csv(path: Path, label: str, max_bytes: int) -> RawData:
    """Read a ``.csv`` file with a header row and a numeric label column ``label``."""
    header, rows, lines = _csv_rows(path)
    _check_header(header, label, path)
    if not rows:
        msg = f"Data file '{path}' has a header but no data rows (0 samples). {CSV_HINT}"
        raise DataError(msg)
    for row, line in zip(rows, lines, strict=True):
        if len(row) != len(header):
            msg = (f"Line {line} of '{path}' has {len(row)} fields but the header has "
                   f"{len(header)} ({', '.join(header)}). Give every row one value per "
                   f"column; look for missing or extra commas.")
            raise DataError(msg)
    table = np.char.strip(np.array(rows, dtype=str))
    values = _parse_numbers(table, header, lines, path)
    j = header.index(label)
    X = np.delete(values, j, axis=1)
    features = [h for h in header if h != label]
    return RawData(X, values[:, j], lambda i: f"line {lines[i]}", {"columns": features})


def _csv_rows(path: Path) -> tuple[list[str], list[list[str]], list[int]]:
    rows, lines = [], []
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            for row in reader:
                if any(f.strip() for f in row):
                    rows.append(row)
                    lines.append(reader.line_num)
    except UnicodeDecodeError as exc:
        msg = f"Data file '{path}' is not UTF-8 text ({exc}). Save the .csv as UTF-8."
        raise DataError(msg) from exc
    except PermissionError as exc:
        raise DataError(f"Data file '{path}' cannot be read: permission denied.") from exc
    except OSError as exc:
        raise DataError(f"Data file '{path}' cannot be read ({exc}).") from exc
    except csv.Error as exc:
        msg = f"Data file '{path}' is not a valid .csv file ({exc}). {CSV_HINT}"
        raise DataError(msg) from exc
    if not rows:
        msg = f"Data file '{path}' holds only blank lines (no header, no samples). {CSV_HINT}"
        raise DataError(msg)
    return [h.strip() for h in rows[0]], rows[1:], lines[1:]


def _check_header(header: list[str], label: str, path: Path) -> None:
    seen = set()
    dupes = sorted({h for h in header if h in seen or seen.add(h)})
    if dupes:
        msg = (f"The header of '{path}' repeats column name(s) {', '.join(map(repr, dupes))}. "
               f"Give every column a distinct name.")
        raise DataError(msg)
    if label not in header:
        cols = ", ".join(repr(h) for h in header)
        msg = (f"Data file '{path}' has no label column '{label}'; its columns are {cols}. "
               f"Pass label=<name of the label column> or rename that column to '{label}'.")
        raise DataError(msg)
    if len(header) < 2:
        msg = (f"Data file '{path}' has only the label column '{label}' and no feature "
               f"columns. {CSV_HINT}")
        raise DataError(msg)


def _parse_numbers(table: np.ndarray, header: list[str], lines: list[int],
                   path: Path) -> np.ndarray:
    try:
        return table.astype(np.float64)
    except ValueError:
        pass
    for i, j in np.ndindex(table.shape):  # error path only: find the first bad cell
        cell = str(table[i, j])
        try:
            float(cell)
        except ValueError:
            what = "is empty" if cell == "" else f"holds {cell!r}, not a number,"
            msg = (f"Column '{header[j]}' of '{path}' {what} at line {lines[i]}. valleys reads "
                   f"numbers only: fill or drop missing values and encode text (categories, "
                   f"class names) as numbers.")
            raise DataError(msg) from None
    msg = f"Data file '{path}' holds values that are not numbers. {CSV_HINT}"
    raise DataError(msg)
