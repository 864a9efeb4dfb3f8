"""The Safran–Shamir basin partition of a two-layer bias-free ReLU net (SS Def 2, SS-A2).

For data rows ``x_1..x_m`` and a net ``N(W, v)(x) = sum_i v_i [<w_i, x>]_+`` with
``W`` of shape ``(n, d)``, the basin of ``(W, v)`` is named by its sign pattern
``A = sign(W X^T)`` in ``{±1}^{n×m}`` and ``b = sign(v)`` in ``{±1}^n`` (CLAIMS.md notes
that the seed's ``n×d`` is a typo: one sign per neuron and sample).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linprog

from ..curvature import numerical_rank
from ..errors import DataError, InvalidParameterError, NonFiniteError, ShapeError


class PatternError(ShapeError):
    """A basin pattern has the wrong shape or entries other than ±1."""


@dataclass(frozen=True, eq=False)
class BasinPattern:
    """A cell ``B^{A,b}_S`` of the basin partition.

    Attributes:
        A: int8 array ``(n, m)`` of ±1, the sign of ``<w_i, x_t>``.
        b: int8 array ``(n,)`` of ±1, the sign of ``v_i``.
    """

    A: np.ndarray
    b: np.ndarray

    @property
    def width(self) -> int:
        """Number of hidden neurons n."""
        return int(self.A.shape[0])

    @property
    def n_samples(self) -> int:
        """Number of samples m."""
        return int(self.A.shape[1])

    def subset(self, neurons) -> BasinPattern:
        """The pattern of the width-k net made of the given neurons (SS-L2).

        Args:
            neurons: Indices of the neurons kept.

        Returns:
            A :class:`BasinPattern` with their rows of A and b.
        """
        idx = np.asarray(neurons, dtype=np.int64)
        return BasinPattern(self.A[idx].copy(), self.b[idx].copy())

    def to_dict(self) -> dict:
        """A JSON-ready form.

        Returns:
            ``{"A": [[...]], "b": [...]}``.
        """
        return {"A": self.A.tolist(), "b": self.b.tolist()}

    def __repr__(self) -> str:
        return f"BasinPattern(n={self.width}, m={self.n_samples}, positive_v={int((self.b > 0).sum())})"


def as_data(X, where: str) -> np.ndarray:
    """``X`` as a float64 ``(m, d)`` array with finite, nonzero rows.

    Args:
        X: Array or tensor ``(m, d)``.
        where: The caller's name, for messages.

    Returns:
        The float64 array.

    Raises:
        ShapeError: If X is not a nonempty 2-D array.
        DataError: If X is not numeric or has an all-zero row.
        NonFiniteError: If X holds NaN or Inf.
    """
    arr = X.detach().cpu().numpy() if isinstance(X, torch.Tensor) else np.asarray(X)
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        msg = f"X of {where} must be a nonempty 2-D array (samples x features). Got shape {arr.shape}."
        raise ShapeError(msg)
    if not np.issubdtype(arr.dtype, np.number):
        msg = f"X of {where} must be numeric. Got dtype {arr.dtype}."
        raise DataError(msg)
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        msg = f"X of {where} holds NaN or Inf; clean the data first."
        raise NonFiniteError(msg)
    zero = np.flatnonzero(~arr.any(axis=1))
    if len(zero):
        msg = (f"X of {where} has all-zero rows ({zero[:5].tolist()}); sign(<w, 0>) is 0, so no "
               f"basin of the partition contains them: remove those rows.")
        raise DataError(msg)
    return arr


def as_targets(y, m: int, where: str) -> np.ndarray:
    """``y`` as a float64 ``(m,)`` array (one scalar target per row of X).

    Args:
        y: Array or tensor ``(m,)`` or ``(m, 1)``.
        m: Number of rows of X.
        where: The caller's name, for messages.

    Returns:
        The float64 array ``(m,)``.

    Raises:
        ShapeError: If y does not hold one scalar per row of X.
        NonFiniteError: If y holds NaN or Inf.
    """
    arr = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1 or len(arr) != m:
        msg = f"y of {where} must hold one scalar target per row of X ({m}). Got shape {arr.shape}."
        raise ShapeError(msg)
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        msg = f"y of {where} holds NaN or Inf; clean the targets first."
        raise NonFiniteError(msg)
    return arr


def basin_of(W, v, X) -> BasinPattern:
    """The basin ``(A, b) = (sign(W X^T), sign(v))`` of a two-layer net (SS-A2).

    Args:
        W: First-layer weights, shape ``(n, d)``.
        v: Output weights, shape ``(n,)``.
        X: Data, shape ``(m, d)``.

    Returns:
        The :class:`BasinPattern`.

    Raises:
        ShapeError: If the shapes do not match.
        DataError: If ``(W, v)`` lies on a boundary of the partition (a zero ``<w_i, x_t>``
            or ``v_i``), where the basin is not unique.
    """
    Xa = as_data(X, "basin_of")
    Wa = W.detach().cpu().numpy() if isinstance(W, torch.Tensor) else np.asarray(W, dtype=np.float64)
    va = v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v, dtype=np.float64)
    if Wa.ndim != 2 or Wa.shape[1] != Xa.shape[1]:
        msg = f"W of basin_of must have shape (n, {Xa.shape[1]}) to match X. Got {Wa.shape}."
        raise ShapeError(msg)
    if va.shape != (Wa.shape[0],):
        msg = f"v of basin_of must have shape ({Wa.shape[0]},), one output weight per row of W. Got {va.shape}."
        raise ShapeError(msg)
    pre = Wa @ Xa.T
    if (pre == 0).any() or (va == 0).any():
        msg = ("(W, v) lies on a boundary of the basin partition (some <w_i, x_t> or v_i is 0), "
               "so its basin is not unique; perturb it to an interior point.")
        raise DataError(msg)
    return BasinPattern(np.sign(pre).astype(np.int8), np.sign(va).astype(np.int8))


def check_pattern(pattern, n_samples: int, where: str) -> BasinPattern:
    """Validate a pattern (a :class:`BasinPattern` or a pair ``(A, b)``) against m samples.

    Args:
        pattern: A :class:`BasinPattern` or a pair ``(A, b)`` (arrays or tensors).
        n_samples: Number of samples m.
        where: The caller's name, for messages.

    Returns:
        The pattern as a :class:`BasinPattern` of int8 arrays.

    Raises:
        PatternError: If it is neither, has the wrong shapes or holds entries other than ±1.
    """
    if isinstance(pattern, BasinPattern):
        A, b = pattern.A, pattern.b
    elif isinstance(pattern, tuple | list) and len(pattern) == 2:
        A, b = (np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x) for x in pattern)
    else:
        msg = f"The pattern of {where} must be a BasinPattern or a pair (A, b). Got {type(pattern).__name__}."
        raise PatternError(msg)
    if A.ndim != 2 or A.shape[1] != n_samples or A.shape[0] < 1:
        msg = (f"The pattern A of {where} must have shape (n, m) = (width, {n_samples}), one sign "
               f"per neuron and sample. Got {A.shape}.")
        raise PatternError(msg)
    if b.shape != (A.shape[0],):
        msg = f"The pattern b of {where} must have shape ({A.shape[0]},), one sign per neuron. Got {b.shape}."
        raise PatternError(msg)
    for name, arr in (("A", A), ("b", b)):
        if not np.isin(arr, (-1, 1)).all():
            msg = f"The pattern {name} of {where} must hold only -1 and +1. Got values {np.unique(arr)[:6].tolist()}."
            raise PatternError(msg)
    return BasinPattern(A.astype(np.int8), b.astype(np.int8))


def interior_margin(a: np.ndarray, X: np.ndarray) -> tuple[float, np.ndarray]:
    """The largest ``s`` with ``a_t <w, x_t> >= s`` for some ``||w||_inf <= 1`` (an LP).

    The open cone ``{w : a_t <w, x_t> > 0 for all t}`` is nonempty iff ``s > 0``.

    Args:
        a: Signs ``(m,)`` (float).
        X: Data ``(m, d)``.

    Returns:
        ``(s, w)`` with ``w`` the maximiser (an interior point when ``s > 0``).
    """
    m, d = X.shape
    scale = np.abs(X).max()
    M = a[:, None] * X / scale
    c = np.zeros(d + 1)
    c[-1] = -1.0
    A_ub = np.hstack([-M, np.ones((m, 1))])
    res = linprog(c, A_ub=A_ub, b_ub=np.zeros(m), bounds=[(-1, 1)] * d + [(None, 1)], method="highs")
    return float(-res.fun) * scale, res.x[:d]


def empty_neurons(pattern: BasinPattern, X: np.ndarray, tol: float) -> list[int]:
    """Neurons whose sign row ``a_i`` has no interior point: the cell is then empty.

    Args:
        pattern: The basin pattern.
        X: Data ``(m, d)``.
        tol: A row with :func:`interior_margin` ``<= tol`` has no interior point.

    Returns:
        Indices of those neurons (one LP per distinct sign row).
    """
    rows, inverse = np.unique(pattern.A, axis=0, return_inverse=True)
    bad_rows = {r for r, a in enumerate(rows) if interior_margin(a.astype(np.float64), X)[0] <= tol}
    return [i for i, r in enumerate(np.ravel(inverse)) if r in bad_rows]


def row_space(X: np.ndarray, rtol: float) -> np.ndarray:
    """Orthonormal basis of the row space of X.

    Args:
        X: Data ``(m, d)``.
        rtol: Singular values above ``rtol * sigma_max`` count (the ``"relative"`` rank of
            :func:`~valleys.curvature.numerical_rank`).

    Returns:
        ``(d, r)`` with orthonormal columns, ``r`` the numerical rank.
    """
    _, s, Vt = np.linalg.svd(X, full_matrices=False)
    r = numerical_rank(s, tau=rtol, shape=X.shape, warn=False).count
    return Vt[:r].T


def check_widths(widths, where: str) -> tuple[int, ...]:
    """Widths as a nonempty tuple of ints >= 1.

    Args:
        widths: An int or a sequence of ints.
        where: The caller's name, for messages.

    Returns:
        The widths as a tuple of ints.

    Raises:
        InvalidParameterError: If it is empty or holds anything but ints >= 1.
    """
    if isinstance(widths, int | np.integer):
        widths = (int(widths),)
    try:
        out = tuple(widths)
    except TypeError:
        out = None
    if not out or any(isinstance(w, bool) or not isinstance(w, int | np.integer) or w < 1 for w in out):
        msg = f"The 'widths' parameter of {where} must be a nonempty sequence of ints >= 1. Got {widths!r} instead."
        raise InvalidParameterError(msg)
    return tuple(int(w) for w in out)
