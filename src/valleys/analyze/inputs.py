"""The data of an analysis: a built-in data set, a file, a Dataset or an (X, y) pair."""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from .._validation import check_generator, check_int
from ..data import Dataset, get_dataset
from ..errors import DataError, InvalidParameterError


def resolve_data(data, *, n: int | None = None, seed: int = 0,
                 input_shape: tuple[int, ...] | None = None) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """Inputs, targets and provenance of ``data``.

    Args:
        data: a data set name (``"digits"``, ``"mnist1d"``, ...), the path of a ``.npz`` /
            ``.csv`` file, a :class:`~valleys.data.Dataset`, or a pair ``(X, y)``.
        n: keep a random subset of ``n`` samples (seeded); None keeps all.
        seed: seed of the subset.
        input_shape: reshape each input to this shape (for example ``(1, 8, 8)`` for a CNN
            on digits); None keeps the stored shape.

    Returns:
        ``(X, y, info)`` with ``info`` holding the name, sizes and a SHA-256 of the bytes.

    Raises:
        DataError / InvalidParameterError: unknown name, unreadable file, bad subset size,
            or an input shape that does not hold the features.
    """
    if isinstance(data, str):
        dataset = get_dataset(data)
        X, y, name = dataset.X, dataset.y, dataset.name
    elif isinstance(data, Dataset):
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
        idx = torch.randperm(len(X), generator=check_generator(seed))[:n]
        X, y = X[idx], y[idx]
    if input_shape is not None:
        X = _reshaped(X, tuple(input_shape))
    info = {"data": name if isinstance(data, str) else name, "n_samples": int(len(X)),
            "input_shape": list(X.shape[1:]), "target_shape": list(y.shape[1:]),
            "data_sha256": _tensor_hash(X, y), "subset_n": n, "subset_seed": seed if n else None}
    return X, y, info


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
    """``(X, y)``, or a list of ``(X_b, y_b)`` batches of at most ``batch_size`` rows."""
    if batch_size is None:
        return X, y
    batch_size = check_int(batch_size, "batch_size", "analyze", min_val=1)
    return [(X[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(X), batch_size)]
