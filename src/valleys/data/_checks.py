"""Content checks of user data: dtype, shape, finiteness and class labels."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..errors import DataError

NUMERIC_KINDS = "biuf"
"""NumPy dtype kinds accepted as data: bool, signed/unsigned int, float."""


def check_numeric(a: np.ndarray, what: str, source: str) -> None:
    """Refuse arrays of text, objects or complex numbers."""
    if a.dtype.kind not in NUMERIC_KINDS:
        msg = (f"{what} in '{source}' must hold real numbers. Got dtype {a.dtype}. Convert "
               f"text or categorical values to numbers (e.g. class names to 0..K-1) first.")
        raise DataError(msg)


def check_shapes(X: np.ndarray, y: np.ndarray, task: str, source: str) -> np.ndarray:
    """Check ``X`` is ``(N, d)`` (or images ``(N, C, H, W)``) with every size >= 1 and ``y``
    matches; return ``y`` reshaped."""
    if X.ndim not in (2, 4):
        msg = (f"X in '{source}' must be a 2-D array (samples x features) or a 4-D image batch "
               f"(N, C, H, W). Got shape {X.shape}. Reshape it, e.g. X.reshape(len(X), -1).")
        raise DataError(msg)
    if X.shape[0] == 0:
        msg = f"'{source}' holds no samples (X has 0 rows). Give at least one sample."
        raise DataError(msg)
    if min(X.shape[1:]) == 0:
        msg = f"X in '{source}' has no feature columns (shape {X.shape}). Give at least one."
        raise DataError(msg)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim == 0 or y.ndim > (1 if task == "classification" else 2):
        shapes = "(N,)" if task == "classification" else "(N,) or (N, m)"
        msg = f"y in '{source}' must have shape {shapes} for {task}. Got shape {y.shape}."
        raise DataError(msg)
    if len(y) != len(X):
        msg = (f"X and y in '{source}' must have the same number of samples. Got {len(X)} "
               f"rows in X and {len(y)} in y. Save one target per row of X.")
        raise DataError(msg)
    return y


def check_finite(a: np.ndarray, what: str, source: str, locate: Callable[[int], str]) -> None:
    """Refuse NaN and Inf, naming how many and where the first one is."""
    bad = ~np.isfinite(a.astype(np.float64))
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        msg = (f"{what} in '{source}' holds {int(bad.sum())} NaN or Inf value(s), the first "
               f"at {locate(row)}. Remove or impute those samples first.")
        raise DataError(msg)


def check_labels(y: np.ndarray, n_classes: int | None, source: str,
                 locate: Callable[[int], str]) -> tuple[np.ndarray, int]:
    """Check class labels are integers in ``[0, n_classes)``; return int64 labels and K."""
    y = y.astype(np.float64) if y.dtype.kind == "b" else y
    if y.dtype.kind == "f":
        frac = y != np.round(y)
        if frac.any():
            i = int(np.argmax(frac))
            msg = (f"Class labels in '{source}' must be integers. Got {float(y[i])!r} at "
                   f"{locate(i)}. Use task='regression' for real-valued targets.")
            raise DataError(msg)
    y = y.astype(np.int64)
    if (y < 0).any():
        i = int(np.argmax(y < 0))
        msg = (f"Class labels in '{source}' must be >= 0 (classes 0..K-1). Got {int(y[i])} at "
               f"{locate(i)}. Relabel the classes as 0..K-1.")
        raise DataError(msg)
    k = int(y.max()) + 1 if n_classes is None else n_classes
    if (y >= k).any():
        i = int(np.argmax(y >= k))
        msg = (f"Class labels in '{source}' must lie in [0, n_classes) = [0, {k}). Got "
               f"{int(y[i])} at {locate(i)}. Pass a larger n_classes or relabel the classes.")
        raise DataError(msg)
    return y, k
