"""Pick the curvature matrix (Hessian or GGN) the spectral functions act on."""

from __future__ import annotations

import torch

from .._progress import bar
from .._validation import check_choice
from ..core import Landscape
from ._inputs import ParamFilter
from ._operator import CurvatureOperator
from .ggn import ggn_torch_operator
from .hessian import hessian_torch_operator

#: The curvature matrices the spectral functions accept.
CURVATURES = ("hessian", "ggn")


def curvature_operator(land: Landscape, theta: torch.Tensor, curvature: str,
                       param_filter: ParamFilter, where: str) -> CurvatureOperator:
    """The torch operator of ``curvature`` ("hessian" or "ggn") at theta.

    Raises:
        InvalidParameterError: for an unknown ``curvature`` or a bad ``param_filter``.
        ShapeError: if theta does not have length d.
        NonFiniteError: if the loss or gradient at theta is not finite.
    """
    curvature = check_choice(curvature, "curvature", where, CURVATURES)
    build = hessian_torch_operator if curvature == "hessian" else ggn_torch_operator
    return build(land, theta, param_filter, where=where)


def dense_matrix(op: CurvatureOperator, progress: bool | None, desc: str) -> torch.Tensor:
    """The dense n x n matrix of ``op`` (not symmetrised), built in about 20 chunks of rows
    so that a progress bar can follow it."""
    n = op.dim
    chunk = max(64, -(-n // 20))
    rows = []
    with bar(n, desc, progress, unit="hvp") as pbar:
        for lo in range(0, n, chunk):
            hi = min(lo + chunk, n)
            E = torch.zeros(hi - lo, n, dtype=op.dtype, device=op.device)
            E[:, lo:hi] = torch.eye(hi - lo, dtype=op.dtype, device=op.device)
            rows.append(op.matrows(E))
            pbar.update(hi - lo)
    return torch.cat(rows)
