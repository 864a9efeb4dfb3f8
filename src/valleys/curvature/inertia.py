r"""Inertia of a symmetric matrix, certified by LDL^T factorisation (Sylvester's law).

The inertia (numbers of negative, zero and positive eigenvalues) of a dense symmetric
matrix can be read off a Bunch–Kaufman factorisation :math:`P (H - s I) P^T = L D L^T`
without computing an eigenvalue of :math:`H`: by Sylvester's law of inertia,
:math:`H - sI` and the block-diagonal :math:`D` (1×1 and 2×2 blocks) have the same
inertia. With a band :math:`\delta \ge 0`:

.. math::
    n_- = \#\{\lambda < -\delta\} = \#\mathrm{neg}(H + \delta I),\quad
    n_+ = \#\{\lambda > \delta\} = \#\mathrm{pos}(H - \delta I),\quad
    n_0 = d - n_- - n_+ .

This is an independent check of an eigen-decomposition; :func:`eigen_inertia` counts
the same three numbers from eigenvalues.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
import torch

from .._validation import check_float
from ..errors import InvalidParameterError, NonFiniteError, ShapeError
from ..results import Record

#: Default relative asymmetry ||H - H^T||_max / ||H||_max accepted by :func:`ldl_inertia`.
DEFAULT_SYMMETRY_TOL = 1e-10


@dataclass(frozen=True, repr=False)
class Inertia(Record):
    """Numbers of eigenvalues below ``-delta``, within ``[-delta, delta]`` and above ``delta``.

    Attributes:
        negative: the number of eigenvalues \\(\\lambda < -\\delta\\) (the Morse index).
        zero: the number of eigenvalues with \\(|\\lambda| \\le \\delta\\).
        positive: the number of eigenvalues \\(\\lambda > \\delta\\).
        delta: the band half-width.
    """

    negative: int
    zero: int
    positive: int
    delta: float

    @property
    def index(self) -> int:
        """The Morse index (alias of :attr:`negative`)."""
        return self.negative

    @property
    def size(self) -> int:
        """The matrix size d."""
        return self.negative + self.zero + self.positive


def ldl_inertia(H, delta: float, *, symmetry_tol: float = DEFAULT_SYMMETRY_TOL) -> Inertia:
    """Inertia of a symmetric matrix from two LDL^T factorisations (no eigenvalues).

    Args:
        H: a dense symmetric (d, d) array or tensor.
        delta: half-width of the band counted as zero (>= 0, absolute).
        symmetry_tol: largest accepted max|H - H^T| / max|H|; ``H`` is symmetrised.

    Returns:
        An :class:`Inertia`.

    Raises:
        ShapeError: if ``H`` is not square.
        InvalidParameterError: if ``H`` is not symmetric within ``symmetry_tol``.
        NonFiniteError: if ``H`` holds NaN or Inf.

    Example:
        >>> ldl_inertia(np.diag([-2.0, 0.0, 1e-12, 3.0]), 1e-8)
        Inertia(negative=1, zero=2, positive=1, delta=1e-08)
    """
    delta = check_float(delta, "delta", "ldl_inertia", min_val=0.0)
    A = _symmetric(H, symmetry_tol)
    eye = np.eye(A.shape[0])
    negative = _block_counts(A + delta * eye)[0]
    positive = _block_counts(A - delta * eye)[1]
    return Inertia(negative=negative, zero=A.shape[0] - negative - positive, positive=positive, delta=delta)


def eigen_inertia(eigenvalues, delta: float) -> Inertia:
    """The same counts as :func:`ldl_inertia`, from eigenvalues.

    Args:
        eigenvalues: 1-D array or tensor of eigenvalues.
        delta: half-width of the band counted as zero (>= 0, absolute).

    Returns:
        An :class:`Inertia`.

    Example:
        >>> eigen_inertia([-2.0, 0.0, 3.0], 1e-8).negative
        1
    """
    delta = check_float(delta, "delta", "eigen_inertia", min_val=0.0)
    lam = _numpy(eigenvalues).reshape(-1)
    negative = int(np.count_nonzero(lam < -delta))
    positive = int(np.count_nonzero(lam > delta))
    return Inertia(negative=negative, zero=lam.size - negative - positive, positive=positive, delta=delta)


# ------------------------------------------------------------------------- helpers
def _numpy(A) -> np.ndarray:
    if isinstance(A, torch.Tensor):
        A = A.detach().cpu().numpy()
    return np.asarray(A, dtype=np.float64)


def _symmetric(H, symmetry_tol: float) -> np.ndarray:
    A = _numpy(H)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        msg = f"ldl_inertia needs a square matrix. Got shape {A.shape}."
        raise ShapeError(msg)
    if not np.all(np.isfinite(A)):
        msg = "ldl_inertia needs a finite matrix. Got NaN or Inf entries."
        raise NonFiniteError(msg)
    scale = float(np.abs(A).max()) if A.size else 0.0
    asym = float(np.abs(A - A.T).max()) if A.size else 0.0
    if asym > symmetry_tol * max(scale, np.finfo(np.float64).tiny):
        msg = (f"ldl_inertia needs a symmetric matrix: max|H - H^T| / max|H| must be <= "
               f"{symmetry_tol:g}. Got {asym / scale:.3g}.")
        raise InvalidParameterError(msg)
    return 0.5 * (A + A.T)


def _block_counts(A: np.ndarray) -> tuple[int, int]:
    """(#negative, #positive) eigenvalues of A from the block-diagonal D of A = L D L^T."""
    if A.shape[0] == 0:
        return 0, 0
    _, D, _ = scipy.linalg.ldl(A, lower=True, hermitian=True)
    negative = positive = 0
    i, d = 0, A.shape[0]
    while i < d:
        if i + 1 < d and D[i + 1, i] != 0.0:
            neg, pos = _two_by_two(D[i, i], D[i + 1, i], D[i + 1, i + 1])
            i += 2
        else:
            neg, pos = int(D[i, i] < 0.0), int(D[i, i] > 0.0)
            i += 1
        negative += neg
        positive += pos
    return negative, positive


def _two_by_two(a: float, b: float, c: float) -> tuple[int, int]:
    """Signs of the eigenvalues of [[a, b], [b, c]] from determinant and trace."""
    det = a * c - b * b
    if det < 0.0:
        return 1, 1
    trace = a + c
    if det > 0.0:
        return (2, 0) if trace < 0.0 else (0, 2)
    return int(trace < 0.0), int(trace > 0.0)


def counts_around(H, shift: float) -> tuple[int, int]:
    """(#{lambda < shift}, #{lambda > shift}) of a symmetric matrix from one LDL^T of
    ``H - shift I`` (Sylvester's law of inertia; no eigenvalue is computed).

    Args:
        H: a dense symmetric (d, d) array or tensor (symmetrised; see :func:`ldl_inertia`).
        shift: the point sigma the eigenvalues are compared with.

    Returns:
        The numbers of eigenvalues below and above ``shift``.

    Example:
        >>> counts_around(np.diag([-2.0, 0.5, 3.0]), 1.0)
        (2, 1)
    """
    A = _symmetric(H, DEFAULT_SYMMETRY_TOL)
    return _block_counts(A - float(shift) * np.eye(A.shape[0]))
