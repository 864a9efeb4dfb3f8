"""Lanczos tridiagonalisation with full reorthogonalisation, many start vectors at once.

Stochastic Lanczos quadrature (:func:`valleys.curvature.density`) runs one Lanczos process
per probe vector; here all probes advance together, so each step is one vectorised
product with a batch of vectors instead of a Python loop over probes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from .._validation import check_generator, check_int
from ..errors import ShapeError
from ..results import Record

#: A new Lanczos vector whose norm is below this fraction of ||A q_j|| is treated as a
#: breakdown (the Krylov space is invariant); the process continues from a random vector.
BREAKDOWN_TOL = 1e-10


@dataclass(frozen=True, repr=False, kw_only=True)
class Tridiagonal(Record):
    r"""Lanczos tridiagonal matrices :math:`T_p = Q_p^\top A Q_p` of several start vectors.

    Attributes:
        alpha: diagonals, shape (P, m).
        beta: off-diagonals, shape (P, m - 1); a zero marks a breakdown (invariant
            Krylov space), after which the basis continued with a random vector.
        basis: the orthonormal Lanczos vectors, shape (P, m, n), or None if not kept.
    """

    alpha: torch.Tensor
    beta: torch.Tensor
    basis: torch.Tensor | None

    @property
    def num_steps(self) -> int:
        """The number m of Lanczos steps (products per start vector)."""
        return int(self.alpha.shape[1])

    def matrices(self) -> torch.Tensor:
        """The tridiagonal matrices as dense tensors.

        Returns:
            The matrices :math:`T_p`, shape (P, m, m).
        """
        T = torch.diag_embed(self.alpha)
        return T + torch.diag_embed(self.beta, 1) + torch.diag_embed(self.beta, -1)

    def ritz(self) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Gauss quadrature nodes and weights of each :math:`T_p`.

        Returns:
            ``(nodes, weights)``: the eigenvalues of each :math:`T_p` (P, m) and the squared
            first components of its eigenvectors (P, m), which sum to 1 per row.
        """
        nodes, S = torch.linalg.eigh(self.matrices())
        return nodes, S[:, 0, :] ** 2


def _orthogonalise(w: torch.Tensor, Q: torch.Tensor) -> torch.Tensor:
    """Remove from each w_p (P, n) its components along the rows of Q_p (P, j, n), twice."""
    for _ in range(2):
        w = w - torch.einsum("pj,pjn->pn", torch.einsum("pjn,pn->pj", Q, w), Q)
    return w


def lanczos_tridiag(rows: Callable[[torch.Tensor], torch.Tensor], V0: torch.Tensor,
                    num_steps: int, *, seed: int | torch.Generator | None = 0,
                    keep_basis: bool = False, on_step=None) -> Tridiagonal:
    r"""Run ``num_steps`` Lanczos steps from each row of ``V0`` with full reorthogonalisation.

    For a symmetric A of size n and a start vector :math:`q_1 = v / \|v\|`, builds an
    orthonormal :math:`Q = [q_1, \dots, q_m]` and the tridiagonal
    :math:`T = Q^\top A Q` (Golub & Van Loan, Algorithm 10.1.1, with every new vector
    orthogonalised twice against all previous ones).

    Args:
        rows: the batched product ``V (P, n) -> V A (P, n)``.
        V0: start vectors, shape (P, n), nonzero rows.
        num_steps: m, the number of products per start vector; 1 <= m <= n.
        seed: seed of the random vectors used after a breakdown.
        keep_basis: also return the Lanczos vectors (P, m, n).
        on_step: called with the step index after each batched product (progress bars).

    Returns:
        A :class:`Tridiagonal` with alpha (P, m) and beta (P, m - 1).

    Raises:
        ShapeError: if ``V0`` is not 2-D or has a zero row.
        InvalidParameterError: if ``num_steps`` is not in [1, n].
    """
    if V0.ndim != 2:
        msg = f"Start vectors must be a 2-D tensor (P, n). Got shape {tuple(V0.shape)}."
        raise ShapeError(msg)
    P, n = V0.shape
    m = check_int(num_steps, "num_steps", "lanczos_tridiag", min_val=1, max_val=n)
    norms = torch.linalg.vector_norm(V0, dim=1)
    if not torch.all(norms > 0):
        msg = "Every start vector of lanczos_tridiag must be nonzero. Got a zero row."
        raise ShapeError(msg)
    gen = check_generator(seed)
    Q = torch.zeros(P, m, n, dtype=V0.dtype, device=V0.device)
    Q[:, 0] = V0 / norms[:, None]
    alpha = torch.zeros(P, m, dtype=V0.dtype, device=V0.device)
    beta = torch.zeros(P, max(m - 1, 0), dtype=V0.dtype, device=V0.device)
    for j in range(m):
        w = rows(Q[:, j])
        if on_step is not None:
            on_step(j)
        scale = torch.linalg.vector_norm(w, dim=1)
        alpha[:, j] = torch.einsum("pn,pn->p", w, Q[:, j])
        if j == m - 1:
            break
        w = _orthogonalise(w, Q[:, : j + 1])
        b = torch.linalg.vector_norm(w, dim=1)
        broken = b <= BREAKDOWN_TOL * scale
        if broken.any():
            fresh = torch.randn(int(broken.sum()), n, generator=gen, dtype=V0.dtype,
                                device=gen.device).to(V0.device)
            fresh = _orthogonalise(fresh, Q[broken, : j + 1])
            w[broken] = fresh
            b = torch.where(broken, torch.zeros_like(b), b)
        beta[:, j] = b
        Q[:, j + 1] = w / torch.linalg.vector_norm(w, dim=1)[:, None]
    return Tridiagonal(alpha=alpha, beta=beta, basis=Q if keep_basis else None)
