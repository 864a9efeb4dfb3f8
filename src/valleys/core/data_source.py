"""Turn what a user passes as data into a list of (X, Y) batches of the landscape's dtype and device."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

from ..errors import DataError, NonFiniteError, ShapeError


def _as_tensor(a, dtype: torch.dtype | None) -> torch.Tensor:
    t = a if isinstance(a, torch.Tensor) else torch.as_tensor(np.asarray(a))
    t = t.detach()
    if dtype is not None:
        t = t.to(dtype)
    return t


def prepare_batch(X, Y, target: str, dtype: torch.dtype,
                  device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Convert one (X, Y) pair to tensors on ``device`` and check it.

    Targets keep their shape here; :func:`valleys.core.checks.conform_targets` matches them
    to the model's outputs. Integer targets of a torch loss module stay integers (class
    indices); every other real target takes ``dtype``.

    Args:
        X: inputs (tensor or array), N rows.
        Y: targets, N rows.
        target: the loss's target kind (``"class"``, ``"torch"``, ...).
        dtype: the landscape's floating dtype.
        device: where the tensors go (None: where they are).

    Returns:
        The pair ``(X, Y)`` as tensors.

    Raises:
        DataError: non-integer class labels, or an empty batch.
        ShapeError: X and Y with different numbers of rows.
        NonFiniteError: NaN or Inf in X or Y.
    """
    X = _as_tensor(X, dtype)
    if target == "class":
        Y = _as_tensor(Y, None)
        if Y.is_floating_point():
            if not torch.all(Y == Y.round()):
                msg = "Class labels must be integers for a classification loss. Got non-integer values."
                raise DataError(msg)
        Y = Y.to(torch.long).reshape(-1)
    elif target == "torch":
        Y = _as_tensor(Y, None)
        Y = Y.to(torch.long) if not Y.is_floating_point() else Y.to(dtype)
    else:
        Y = _as_tensor(Y, dtype)
    if X.shape[0] != Y.shape[0]:
        msg = f"X and Y must have the same number of samples. Got {X.shape[0]} and {Y.shape[0]}."
        raise ShapeError(msg)
    if X.shape[0] == 0:
        msg = "The data set is empty: give at least one sample."
        raise DataError(msg)
    if X.is_floating_point() and not torch.isfinite(X).all():
        msg = "X holds NaN or Inf: remove or impute those samples first."
        raise NonFiniteError(msg)
    if Y.is_floating_point() and not torch.isfinite(Y).all():
        msg = "Y holds NaN or Inf: remove or impute those samples first."
        raise NonFiniteError(msg)
    if device is not None:
        X, Y = X.to(device), Y.to(device)
    return X, Y


def prepare_data(data, target: str, dtype: torch.dtype,
                 device: torch.device | str | None = None) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Return a list of batches (moved to ``device`` once) from ``(X, Y)`` or an iterable of batches.

    Args:
        data: a pair ``(X, Y)`` or an iterable of ``(X, Y)`` batches (a DataLoader).
        target: the loss's target kind.
        dtype: the landscape's floating dtype.
        device: where the tensors go.

    Returns:
        The list of prepared batches (see :func:`prepare_batch`).

    Raises:
        DataError: an empty iterable, a batch that is not a pair, or data of another type.
    """
    if isinstance(data, tuple | list) and len(data) == 2 and not _is_pair(data[0]):
        return [prepare_batch(data[0], data[1], target, dtype, device)]
    if isinstance(data, Iterable):
        batches = [prepare_batch(*_unpack(b), target, dtype, device) for b in data]
        if not batches:
            msg = "The iterable of batches is empty: give at least one (X, Y) batch."
            raise DataError(msg)
        return batches
    msg = f"data must be a pair (X, Y) or an iterable of (X, Y) batches. Got {type(data).__name__}."
    raise DataError(msg)


def _is_pair(obj) -> bool:
    return isinstance(obj, tuple | list) and len(obj) == 2


def _unpack(batch):
    if not _is_pair(batch):
        msg = f"Each batch must be a pair (X, Y). Got {type(batch).__name__}."
        raise DataError(msg)
    return batch
