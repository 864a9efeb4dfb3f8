"""Readers of user data files: ``.npz`` (arrays X and y) and ``.csv`` (header + label column).

Each reader returns raw NumPy arrays plus a function naming the place of row ``i`` in
the file, so later checks can point at the offending line. Content checks (dtype,
shape, NaN, labels) live in ``_checks.py``.
"""

from __future__ import annotations

import csv
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataError

NPZ_HINT = "Save it with numpy.savez(path, X=X, y=y), X of shape (N, d) and y of shape (N,)."
CSV_HINT = "Write a header row of column names, then one row of numbers per sample."


@dataclass(frozen=True)
class RawData:
    """Arrays read from a file, before any content check."""

    X: np.ndarray
    y: np.ndarray
    locate: Callable[[int], str]
    meta: dict = field(default_factory=dict)


def read_npz(path: Path, label: str) -> RawData:
    """Read arrays ``X`` and ``label`` from an ``.npz`` archive without pickle."""
    try:
        archive = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        msg = f"Data file '{path}' is not a valid .npz archive ({exc}). {NPZ_HINT}"
        raise DataError(msg) from exc
    if not isinstance(archive, np.lib.npyio.NpzFile):
        msg = (f"Data file '{path}' holds a single .npy array, not an .npz archive with "
               f"arrays 'X' and '{label}'. {NPZ_HINT}")
        raise DataError(msg)
    with archive:
        names = list(archive.files)
        X = _npz_array(archive, "X", path, names)
        y = _npz_array(archive, label, path, names)
    return RawData(X, y, lambda i: f"row {i}", {"arrays": names})


def _npz_array(archive, key: str, path: Path, names: list[str]) -> np.ndarray:
    if key not in names:
        held = ", ".join(repr(n) for n in names) or "no arrays"
        hint = "" if key == "X" else " Or pass label=<name of the label array>."
        msg = (f"Data file '{path}' has no array '{key}'; it holds {held}. "
               f"{NPZ_HINT}{hint}")
        raise DataError(msg)
    try:
        return archive[key]
    except ValueError as exc:  # object arrays refuse to load without pickle
        msg = (f"Array '{key}' in '{path}' holds Python objects (dtype=object), which valleys "
               f"does not unpickle for safety. Save a numeric array instead, e.g. "
               f"{key}.astype(float).")
        raise DataError(msg) from exc


def read_csv(path: Path, label: str) -> RawData:
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
