"""A symmetric curvature matrix known only through batched products, in torch and SciPy form.

The torch side works on *rows*: ``rows(V)`` maps a batch ``V`` of shape ``(k, n)`` to the
batch ``(A V^T)^T`` of shape ``(k, n)``; this is what ``torch.func.vmap`` vectorises.
The SciPy side (:meth:`CurvatureOperator.to_scipy`) follows SciPy's column convention.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from scipy.sparse.linalg import LinearOperator

from ..errors import NonFiniteError, ShapeError


class CurvatureOperator:
    """A symmetric ``n x n`` matrix given by a vectorised product, counting its products.

    Args:
        rows: maps ``V`` of shape ``(k, n)`` to ``V A`` (= ``(A V^T)^T`` for symmetric A).
        dim: the size n.
        dtype: the torch dtype of inputs and outputs.
        name: a short name used in error messages (``"Hessian"``, ``"GGN"``).
        blocks: the parameter blocks the operator acts on (empty if not from a landscape).
        device: the device of inputs and outputs (the landscape's; None: the CPU); the
            solvers keep their Krylov bases and probes there.

    Attributes:
        num_matvecs: number of matrix-vector products done so far (a batch of k rows
            counts k).

    Example:
        >>> import torch
        >>> A = torch.diag(torch.tensor([1.0, 2.0], dtype=torch.float64))
        >>> op = CurvatureOperator(lambda V: V @ A, 2, torch.float64, "diag")
        >>> op.matvec(torch.ones(2, dtype=torch.float64)).tolist(), op.num_matvecs
        ([1.0, 2.0], 1)
    """

    def __init__(self, rows: Callable[[torch.Tensor], torch.Tensor], dim: int,
                 dtype: torch.dtype, name: str, blocks: tuple[str, ...] = (), *,
                 device: torch.device | str | None = None):
        self._rows = rows
        self.device = torch.device("cpu" if device is None else device)
        self.dim = int(dim)
        self.dtype = dtype
        self.name = name
        self.blocks = tuple(blocks)
        self.num_matvecs = 0

    @property
    def shape(self) -> tuple[int, int]:
        """``(n, n)``."""
        return (self.dim, self.dim)

    def matrows(self, V: torch.Tensor) -> torch.Tensor:
        """Products with each row of ``V`` (k, n); returns (k, n).

        Raises:
            ShapeError: if ``V`` is not ``(k, n)``.
            NonFiniteError: if a product holds NaN or Inf.
        """
        if V.ndim != 2 or V.shape[1] != self.dim:
            msg = f"{self.name} operator needs rows of length {self.dim}. Got shape {tuple(V.shape)}."
            raise ShapeError(msg)
        if V.shape[0] == 0:
            return V.to(self.dtype).clone()
        out = self._rows(V.to(device=self.device, dtype=self.dtype)).detach()
        self.num_matvecs += int(V.shape[0])
        if not torch.isfinite(out.sum()) and not torch.isfinite(out).all():  # one cheap pass first
            msg = (f"A {self.name}-vector product is not finite at theta: the second derivative "
                   f"of the loss does not exist there or overflows. Move theta or rescale it.")
            raise NonFiniteError(msg)
        return out

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        """The product ``A v`` of one vector of length n."""
        return self.matrows(v.reshape(1, -1))[0]

    def dense(self) -> torch.Tensor:
        """The full ``n x n`` matrix (n products), symmetrised."""
        A = self.matrows(torch.eye(self.dim, dtype=self.dtype, device=self.device))
        return 0.5 * (A + A.T)

    def to_scipy(self) -> LinearOperator:
        """A SciPy ``LinearOperator`` (float64 NumPy in and out) sharing this product counter."""
        return _ScipyOperator(self)


class _ScipyOperator(LinearOperator):
    """SciPy view of a :class:`CurvatureOperator`; ``matmat`` is one vectorised call."""

    def __init__(self, op: CurvatureOperator):
        self.op = op
        super().__init__(dtype=np.float64, shape=op.shape)

    def _to_torch(self, a) -> torch.Tensor:
        return torch.as_tensor(np.ascontiguousarray(a, dtype=np.float64), dtype=self.op.dtype,
                               device=self.op.device)

    def _matvec(self, x):
        v = self._to_torch(np.asarray(x).reshape(-1))
        out = self.op.matvec(v).to(torch.float64).cpu().numpy()
        return out.reshape(np.shape(x)) if np.ndim(x) == 2 else out

    def _matmat(self, X):
        V = self._to_torch(np.asarray(X).T)
        return self.op.matrows(V).to(torch.float64).cpu().numpy().T

    def _rmatvec(self, x):
        return self._matvec(x)

    def _rmatmat(self, X):
        return self._matmat(X)

    def _adjoint(self):
        return self

    @property
    def num_matvecs(self) -> int:
        """Products done so far through this operator or its torch twin."""
        return self.op.num_matvecs
