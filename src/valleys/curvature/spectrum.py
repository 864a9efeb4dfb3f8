"""The full spectrum of the Hessian (or GGN) from a dense matrix, for moderate d."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from .._validation import check_int
from ..core import MAX_DENSE_DIM, Landscape
from ..errors import DenseTooLargeError
from ..results import Record
from ._build import curvature_operator, dense_matrix
from ._inputs import ParamFilter
from .rank import RankResult, numerical_rank


@dataclass(frozen=True, repr=False, kw_only=True)
class Spectrum(Record):
    """All eigenvalues (and optionally eigenvectors) of a dense curvature matrix.

    Attributes:
        eigenvalues: shape (n,), ascending.
        eigenvectors: shape (n, n) with eigenvectors as columns, or None.
        asymmetry: ``max |H - H^T| / max |H|`` of the matrix before symmetrisation (a
            check of the products; about machine precision for a smooth loss).
        blocks: the parameter blocks the matrix acts on.
        curvature: "hessian" or "ggn".
        wall_time: seconds spent building and diagonalising the matrix.
        dtype: the landscape's dtype (the precision of the eigenvalues, which are stored
            as float64).
    """

    eigenvalues: np.ndarray
    eigenvectors: np.ndarray | None
    asymmetry: float
    blocks: tuple[str, ...]
    curvature: str
    wall_time: float
    dtype: str = "float64"

    _repr_skip = ("eigenvectors",)

    @property
    def dim(self) -> int:
        """The matrix size n."""
        return int(self.eigenvalues.shape[0])

    def rank(self, **kwargs) -> RankResult:
        """:func:`~valleys.curvature.numerical_rank` of the eigenvalues, with the dtype of
        the landscape (so the noise floor is the landscape's); keyword arguments as there
        (``warn`` defaults to False).

        Args:
            **kwargs: as :func:`~valleys.curvature.numerical_rank`.

        Returns:
            The :class:`~valleys.curvature.RankResult`.
        """
        kwargs.setdefault("warn", False)
        kwargs.setdefault("dtype", self.dtype)
        return numerical_rank(self.eigenvalues, **kwargs)

    @property
    def nullity(self) -> int:
        """The number of zero eigenvalues under the default policy (see :meth:`rank`)."""
        return self.rank().nullity

    def _extra(self) -> dict:
        r = self.rank()
        return {"nullity": r.nullity, "gap_ratio": r.gap_ratio, "nullity_ambiguous": r.ambiguous}

    def to_frame(self) -> pd.DataFrame:
        """One row per eigenvalue (ascending), with its index and the curvature.

        Returns:
            A pandas DataFrame, one row per eigenvalue.
        """
        return pd.DataFrame({"index": np.arange(self.dim), "eigenvalue": self.eigenvalues,
                             "curvature": self.curvature, "dtype": self.dtype})


def spectrum(land: Landscape, theta: torch.Tensor, /, *, eigenvectors: bool = False,
             max_dim: int = MAX_DENSE_DIM, param_filter: ParamFilter = None,
             curvature: str = "hessian", progress: bool | None = None) -> Spectrum:
    """Every eigenvalue of the Hessian at theta, from the dense matrix.

    The matrix is built from n vectorised Hessian-vector products (columns of the
    identity, in chunks), symmetrised, and diagonalised with ``numpy.linalg.eigvalsh`` /
    ``eigh`` (LAPACK ``syevd``; measured faster than ``torch.linalg.eigh`` on CPU) in the
    landscape's dtype.

    Args:
        land: the landscape.
        theta: the point, a flat tensor of length d.
        eigenvectors: also return the eigenvectors (slower).
        max_dim: the largest n diagonalised densely (default
            :data:`valleys.core.MAX_DENSE_DIM`).
        param_filter: block names (or a predicate) selecting a principal sub-block.
        curvature: "hessian" or "ggn".
        progress: a progress bar of the products on stderr (None: only on a terminal).

    Returns:
        A :class:`Spectrum` with eigenvalues ascending; ``.nullity`` / ``.rank()`` count
        its zero eigenvalues with the landscape's dtype.

    Raises:
        DenseTooLargeError: if n > ``max_dim``; the message names the matrix-free
            :func:`valleys.curvature.eigs` and :func:`valleys.curvature.density`.
        ShapeError: if theta does not have length d.
        NonFiniteError: if the loss or gradient at theta is not finite.

    Example:
        >>> import torch
        >>> from valleys import Landscape
        >>> land = Landscape.from_function(lambda t: (t[0] * t[1] - 1) ** 2, 2)
        >>> spectrum(land, torch.zeros(2, dtype=torch.float64)).eigenvalues.tolist()
        [-2.0, 2.0]
    """
    start = time.perf_counter()
    max_dim = check_int(max_dim, "max_dim", "spectrum", min_val=1)
    op = curvature_operator(land, theta, curvature, param_filter, "spectrum")
    if op.dim > max_dim:
        msg = (f"spectrum needs a dense {op.dim} x {op.dim} matrix ({op.dim ** 2 * 8 / 2**30:.1f} GiB), "
               f"above max_dim = {max_dim}. Use the matrix-free valleys.curvature.eigs (a few "
               f"extreme eigenvalues) or valleys.curvature.density (the spectral density), "
               f"or raise max_dim.")
        raise DenseTooLargeError(msg)
    H = dense_matrix(op, progress, "spectrum")
    peak = float(H.abs().max())
    asym = float((H - H.T).abs().max()) / peak if peak > 0 else 0.0
    H = (0.5 * (H + H.T)).numpy()
    if eigenvectors:
        values, vectors = np.linalg.eigh(H)
        vectors = vectors.astype(np.float64)
    else:
        values, vectors = np.linalg.eigvalsh(H), None
    return Spectrum(eigenvalues=values.astype(np.float64), eigenvectors=vectors, asymmetry=asym, blocks=op.blocks,
                    curvature=curvature, wall_time=time.perf_counter() - start,
                    dtype=str(op.dtype).replace("torch.", ""))
