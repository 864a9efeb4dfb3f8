"""The data of an analysis: a built-in data set, a file, a Dataset or an (X, y) pair."""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from .._validation import check_choice, check_generator, check_int
from ..data import Dataset, get_dataset
from ..data.dataset import TASKS
from ..data.files import READERS
from ..errors import DataError, InvalidParameterError

#: Seed of the random data subset (``n=``) unless ``data_seed=`` / ``--data-seed`` says
#: otherwise; fixed, so that changing ``seed`` (probes, directions) keeps the same samples.
DEFAULT_DATA_SEED = 0


def resolve_data(data, *, n: int | None = None, data_seed: int = DEFAULT_DATA_SEED,
                 input_shape: tuple[int, ...] | None = None,
                 task: str | None = None, label: str = "y") -> tuple[torch.Tensor, torch.Tensor, dict]:
    """Inputs, targets and provenance of ``data``.

    Args:
        data: a data set name (``"digits"``, ``"mnist1d"``, ...), the path of a ``.npz`` /
            ``.csv`` file, a :class:`~valleys.data.Dataset`, or a pair ``(X, y)``.
        n: keep a random subset of ``n`` samples (seeded); None keeps all.
        data_seed: seed of the subset (independent of the analysis seed).
        input_shape: reshape each input to this shape (for example ``(1, 8, 8)`` for a CNN
            on digits); None keeps the stored shape.
        task: how a data file's targets are read: ``"classification"`` (integer labels, the
            default) or ``"regression"`` (real targets, one or several columns). A named
            data set or a Dataset has its own task; a different one is refused. Ignored for
            an ``(X, y)`` pair, whose targets are taken as they are.
        label: the name of a data file's target array (``.npz``) or column (``.csv``).

    Returns:
        ``(X, y, info)`` with ``info`` holding the name, task, sizes and a SHA-256 of the bytes.

    Raises:
        DataError / InvalidParameterError: unknown name, unreadable file, bad subset size,
            a task that differs from a data set's own, or an input shape that does not
            hold the features.
    """
    if task is not None:
        task = check_choice(task, "task", "analyze", TASKS)
    if isinstance(data, str):
        dataset = _named_or_file(data, task, label)
        X, y, name = dataset.X, dataset.y, dataset.name
    elif isinstance(data, Dataset):
        _check_task(data, task)
        X, y, name = data.X, data.y, data.name
    elif isinstance(data, tuple | list) and len(data) == 2:
        X, y = (torch.as_tensor(np.asarray(a)) if not isinstance(a, torch.Tensor) else a for a in data)
        name = "arrays"
    else:
        msg = ("data must be a data set name, a .npz/.csv path, a valleys Dataset or a pair (X, y). "
               f"Got {type(data).__name__}.")
        raise InvalidParameterError(msg)
    if len(X) != len(y):
        msg = f"X and y must have the same number of samples. Got {len(X)} and {len(y)}."
        raise DataError(msg)
    if n is not None:
        n = check_int(n, "n", "analyze", min_val=1, max_val=len(X))
        idx = torch.randperm(len(X), generator=check_generator(data_seed))[:n]
        X, y = X[idx], y[idx]
    if input_shape is not None:
        X = _reshaped(X, tuple(input_shape))
    info = {"data": name if isinstance(data, str) else name, "n_samples": int(len(X)),
            "input_shape": list(X.shape[1:]), "target_shape": list(y.shape[1:]),
            "data_sha256": _tensor_hash(X, y), "subset_n": n, "subset_seed": data_seed if n else None}
    if task is not None:
        info["task"] = task
    return X, y, info


def _named_or_file(data: str, task: str | None, label: str) -> Dataset:
    """A built-in data set, or a data file read as ``task`` (classification by default)."""
    if not any(data.lower().endswith(ext) for ext in READERS):
        dataset = get_dataset(data)
        _check_task(dataset, task)
        return dataset
    try:
        return get_dataset(data, task=task or "classification", label=label)
    except DataError as exc:  # the file loader's hint names its own parameter: add ours
        text = str(exc).replace("Pass label=<name of the label column>",
                                "Pass label=<name of the label column> (--label NAME)")
        hint = "task='regression' (--task regression)"
        if "task='regression'" in text:
            text = text.replace("task='regression'", hint)
        elif task is None:
            text += f" The targets were read as class labels; for real-valued targets use {hint}."
        raise DataError(text) from None


def _check_task(dataset: Dataset, task: str | None) -> None:
    if task is not None and dataset.task != task:
        msg = (f"Data set {dataset.name!r} is a {dataset.task} data set; task={task!r} applies to "
               f"data files only. Drop it (--task), or give a .npz/.csv file.")
        raise InvalidParameterError(msg)


def parse_input_shape(text: str) -> tuple[int, ...] | None:
    """``"C,H,W"`` as a tuple of positive ints; ``""`` gives None (keep the stored shape).

    Args:
        text: comma-separated positive integers, or empty.

    Returns:
        The shape tuple, or None.

    Raises:
        InvalidParameterError: anything but comma-separated positive integers.
    """
    if not text:
        return None
    try:
        shape = tuple(int(s) for s in str(text).split(","))
    except ValueError:
        shape = ()
    if not shape or any(s < 1 for s in shape):
        msg = (f"--input-shape is comma-separated positive integers, one per input dimension, "
               f"for example 1,8,8. Got {text!r}.")
        raise InvalidParameterError(msg)
    return shape


def _reshaped(X: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    per_sample = int(np.prod(X.shape[1:]))
    if any(s < 1 for s in shape) or int(np.prod(shape)) != per_sample:
        msg = (f"--input-shape {','.join(map(str, shape))} holds {int(np.prod(shape))} values but each "
               f"input has {per_sample} ({tuple(X.shape[1:])}).")
        raise DataError(msg)
    return X.reshape(len(X), *shape)


def _tensor_hash(X: torch.Tensor, y: torch.Tensor) -> str:
    digest = hashlib.sha256()
    for t in (X, y):
        digest.update(str(tuple(t.shape)).encode())
        digest.update(np.ascontiguousarray(t.detach().cpu().numpy()).tobytes())
    return digest.hexdigest()


def batched(X: torch.Tensor, y: torch.Tensor, batch_size: int | None):
    """``(X, y)``, or a list of ``(X_b, y_b)`` batches of at most ``batch_size`` rows.

    Args:
        X: the inputs (first dimension: samples).
        y: the targets.
        batch_size: rows per batch, or None for one batch.

    Returns:
        ``(X, y)`` when ``batch_size`` is None, else the list of consecutive batches.

    Raises:
        InvalidParameterError: if ``batch_size`` is not an int >= 1.
    """
    if batch_size is None:
        return X, y
    batch_size = check_int(batch_size, "batch_size", "analyze", min_val=1)
    return [(X[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(X), batch_size)]
