"""Load a user's data file (``.npz`` or ``.csv``) into a checked :class:`Dataset`."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from .._validation import check_choice, check_int
from ..errors import DataError, InvalidParameterError
from ._checks import check_finite, check_labels, check_numeric, check_shapes
from ._readers import RawData, read_csv, read_npz
from .dataset import TASKS, Dataset

READERS = {".npz": read_npz, ".csv": read_csv}
"""File extensions load_file understands, with their readers."""


def load_file(path: str | os.PathLike, *, task: str = "classification", label: str = "y",
              n_classes: int | None = None) -> Dataset:
    """Load ``X`` and targets from a ``.npz`` or ``.csv`` file and check them.

    - ``.npz``: arrays ``X`` (N x d) and ``label`` (N,), loaded with
      ``allow_pickle=False`` (no code runs from the file).
    - ``.csv``: a header row of column names, then one row of numbers per sample; the
      column named ``label`` holds the targets and every other column is a feature.

    Args:
        path: The file.
        task: ``"classification"`` (integer labels in ``[0, n_classes)``) or
            ``"regression"`` (real targets).
        label: Name of the label array (``.npz``) or column (``.csv``).
        n_classes: Number of classes (classification only); None infers max label + 1.

    Returns:
        A :class:`Dataset` named after the file stem, with ``meta`` holding ``path``,
        ``format``, ``label``, the feature column names (``.csv``) or array names
        (``.npz``), and ``n_classes`` for classification.

    Raises:
        DataError: If the file is missing, empty, of an unsupported type, malformed
            (ragged rows, missing arrays or columns, text in numeric data), or its
            content is inconsistent (X not 2-D, X/y length mismatch, NaN or Inf, labels
            not integers in ``[0, n_classes)``). The message says how to fix it.
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
    path = _check_path(path)
    raw = READERS[path.suffix.lower()](path, label)
    return _to_dataset(raw, path, task, label, n_classes)


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
        labels, k = check_labels(y, n_classes, str(path), raw.locate)
        meta["n_classes"] = k
        return Dataset(X, torch.from_numpy(labels), path.stem, task, meta)
    y = torch.from_numpy(np.ascontiguousarray(y, dtype=np.float64))
    return Dataset(X, y, path.stem, task, meta)
