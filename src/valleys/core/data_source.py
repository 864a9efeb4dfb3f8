"""Turn what a user passes as data into a list of float64 (X, Y) batches."""

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


def prepare_batch(X, Y, target: str, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Convert one (X, Y) pair to tensors, check it and shape Y for the loss."""
    X = _as_tensor(X, dtype)
    if target == "class":
        Y = _as_tensor(Y, None)
        if Y.is_floating_point():
            if not torch.all(Y == Y.round()):
                msg = "Class labels must be integers for a classification loss. Got non-integer values."
                raise DataError(msg)
        Y = Y.to(torch.long).reshape(-1)
    else:
        Y = _as_tensor(Y, dtype)
        if target in ("real", "any") and Y.ndim == 1:
            Y = Y[:, None]
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
    return X, Y


def prepare_data(data, target: str, dtype: torch.dtype) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Return a list of batches from ``(X, Y)`` or an iterable of ``(X, Y)`` batches."""
    if isinstance(data, tuple | list) and len(data) == 2 and not _is_pair(data[0]):
        return [prepare_batch(data[0], data[1], target, dtype)]
    if isinstance(data, Iterable):
        batches = [prepare_batch(*_unpack(b), target, dtype) for b in data]
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
