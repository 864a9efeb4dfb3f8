"""Load a user's data file (``.npz`` or ``.csv``) into a checked :class:`Dataset`."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from .._validation import check_choice, check_int
from ..errors import DataError, InvalidParameterError
from ._checks import check_finite, check_labels, check_numeric, check_shapes
from ._readers import MAX_BYTES_ENV, RawData, read_csv, read_npz
from .dataset import TASKS, Dataset

READERS = {".npz": read_npz, ".csv": read_csv}
"""File extensions load_file understands, with their readers."""

DEFAULT_MAX_BYTES = 2 * 1024 ** 3
"""Default size cap of load_file: 2 GiB of decoded arrays (``.npz``) or of file (``.csv``).
Override per call with ``max_bytes=`` or for a session with $VALLEYS_MAX_DATA_BYTES."""

MAX_CLASSES = 1_000_000
"""Largest number of classes load_file accepts (a class index of 1e12 is a mistake, and
would ask for a 1e12-wide output layer)."""


def load_file(path: str | os.PathLike, *, task: str = "classification", label: str = "y",
              n_classes: int | None = None, max_bytes: int | None = None) -> Dataset:
    """Load ``X`` and targets from a ``.npz`` or ``.csv`` file and check them.

    - ``.npz``: arrays ``X`` (N x d, or images N x C x H x W) and ``label`` (N,), read
      with ``allow_pickle=False`` (no code runs from the file). Each array's header is
      checked before anything is allocated: its claimed size must fit the size cap and
      the bytes the archive really holds.
    - ``.csv``: a header row of column names, then one row of numbers per sample; the
      column named ``label`` holds the targets and every other column is a feature.

    Args:
        path: The file.
        task: ``"classification"`` (integer labels in ``[0, n_classes)``) or
            ``"regression"`` (real targets).
        label: Name of the label array (``.npz``) or column (``.csv``).
        n_classes: Number of classes (classification only); None infers max label + 1.
            At most :data:`MAX_CLASSES`.
        max_bytes: Size cap in bytes (None: $VALLEYS_MAX_DATA_BYTES, else
            :data:`DEFAULT_MAX_BYTES` = 2 GiB).

    Returns:
        A :class:`Dataset` named after the file stem, with ``meta`` holding ``path``,
        ``format``, ``label``, the feature column names (``.csv``) or array names
        (``.npz``), and ``n_classes`` for classification.

    Raises:
        DataError: If the file is missing, empty, of an unsupported type, malformed
            (ragged rows, missing arrays or columns, text in numeric data), or its
            content is inconsistent (X not 2-D or 4-D, X/y length mismatch, NaN or Inf,
            labels not integers in ``[0, n_classes)`` or beyond MAX_CLASSES), unreadable,
            damaged or truncated, or larger than the size cap. Every failure of reading the
            file is a DataError. The message says how to fix it.
        InvalidParameterError: If ``task``, ``label`` or ``n_classes`` is invalid.
    """
    where = "load_file"
    check_choice(task, "task", where, TASKS)
    if not isinstance(label, str) or not label:
        msg = f"The 'label' parameter of {where} must be a non-empty str. Got {label!r} instead."
        raise InvalidParameterError(msg)
    if n_classes is not None:
        n_classes = check_int(n_classes, "n_classes", where, min_val=1)
        if task != "classification":
            msg = (f"The 'n_classes' parameter of {where} applies to task='classification' "
                   f"only; leave it None for regression. Got {n_classes!r} instead.")
            raise InvalidParameterError(msg)
        if n_classes > MAX_CLASSES:
            msg = (f"The 'n_classes' parameter of {where} must be at most {MAX_CLASSES:,}. "
                   f"Got {n_classes!r} instead.")
            raise InvalidParameterError(msg)
    max_bytes = _max_bytes(max_bytes)
    path = _check_path(path)
    if path.suffix.lower() == ".csv" and path.stat().st_size > max_bytes:
        msg = (f"Data file '{path}' has {path.stat().st_size:,} bytes, above the size cap of "
               f"{max_bytes:,}. Pass max_bytes=<larger> to load_file (or set {MAX_BYTES_ENV}).")
        raise DataError(msg)
    raw = READERS[path.suffix.lower()](path, label, max_bytes)
    return _to_dataset(raw, path, task, label, n_classes)


def _max_bytes(max_bytes: int | None) -> int:
    if max_bytes is None:
        env = os.environ.get(MAX_BYTES_ENV)
        if env is None:
            return DEFAULT_MAX_BYTES
        try:
            value = int(env)
        except ValueError:
            value = 0
        if value < 1:
            msg = f"${MAX_BYTES_ENV} must be a positive number of bytes. Got {env!r}."
            raise InvalidParameterError(msg)
        return value
    return check_int(max_bytes, "max_bytes", "load_file", min_val=1)


def _check_path(path) -> Path:
    if not isinstance(path, str | os.PathLike):
        msg = f"The 'path' parameter of load_file must be a str or path. Got {path!r} instead."
        raise InvalidParameterError(msg)
    path = Path(path)
    if not path.exists():
        msg = f"Data file '{path}' does not exist. Check the path (relative to {Path.cwd()})."
        raise DataError(msg)
    if not path.is_file():
        msg = f"Data path '{path}' is not a file. Give the path of a .npz or .csv file."
        raise DataError(msg)
    if path.suffix.lower() not in READERS:
        msg = (f"Data file '{path}' has unsupported extension '{path.suffix}'. Use .npz "
               f"(arrays X and y) or .csv (header row, label column).")
        raise DataError(msg)
    if path.stat().st_size == 0:
        msg = f"Data file '{path}' is empty (0 bytes). Write the data to it first."
        raise DataError(msg)
    try:
        with open(path, "rb"):
            pass
    except PermissionError as exc:
        msg = f"Data file '{path}' cannot be read: permission denied. Check its permissions."
        raise DataError(msg) from exc
    except OSError as exc:
        raise DataError(f"Data file '{path}' cannot be read ({exc}).") from exc
    return path


def _to_dataset(raw: RawData, path: Path, task: str, label: str,
                n_classes: int | None) -> Dataset:
    check_numeric(raw.X, "X", str(path))
    check_numeric(raw.y, f"Label '{label}'", str(path))
    y = check_shapes(raw.X, raw.y, task, str(path))
    check_finite(raw.X, "X", str(path), raw.locate)
    check_finite(y, f"Label '{label}'", str(path), raw.locate)
    meta = {"path": str(path), "format": path.suffix.lower()[1:], "label": label, **raw.meta}
    X = torch.from_numpy(np.ascontiguousarray(raw.X, dtype=np.float64))
    if task == "classification":
        too_big = np.abs(y.astype(np.float64)) >= MAX_CLASSES
        if too_big.any():
            i = int(np.argmax(too_big))
            msg = (f"Class labels in '{path}' must be class indices 0..K-1 with K <= "
                   f"{MAX_CLASSES:,}. Got {y[i]!r} at {raw.locate(i)}. Relabel the classes, or use "
                   f"task='regression' for real-valued targets.")
            raise DataError(msg)
        labels, k = check_labels(y, n_classes, str(path), raw.locate)
        meta["n_classes"] = k
        return Dataset(X, torch.from_numpy(labels), path.stem, task, meta)
    y = torch.from_numpy(np.ascontiguousarray(y, dtype=np.float64))
    return Dataset(X, y, path.stem, task, meta)
