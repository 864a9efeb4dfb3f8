"""The generalized Gauss–Newton matrix J^T H_loss J of a landscape as a matrix-free operator."""

from __future__ import annotations

import torch
from scipy.sparse.linalg import LinearOperator
from torch.func import hessian, jvp, vjp, vmap

from ..core import Landscape
from ..core.losses import Loss
from ..core.products import chunk_rows
from ..errors import InvalidParameterError
from ._inputs import ParamFilter, block_index, checked_point, selected_blocks
from ._operator import CurvatureOperator
from .hessian import restrict


def output_hessians(loss_fn: Loss, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    r"""Per-sample Hessians of the loss in the outputs, :math:`\nabla^2_f \ell(f_i, y_i)`.

    Args:
        loss_fn: a per-sample loss ``(outputs (N, m), targets) -> (N,)``.
        outputs: network outputs, shape (N, m).
        targets: the matching targets (N, ...) .

    Returns:
        A tensor (N, m, m); for the squared error ``||f - y||^2`` every slice is ``2 I``,
        for softmax cross-entropy ``diag(p) - p p^T``.
    """
    def one(o, y):
        return loss_fn(o[None], y[None])[0]

    return vmap(hessian(one))(outputs.detach(), targets)


def ggn_torch_operator(land: Landscape, theta: torch.Tensor, /, param_filter: ParamFilter = None, *,
                       where: str = "ggn_operator") -> CurvatureOperator:
    """The GGN at theta as a torch :class:`CurvatureOperator`; see :func:`ggn_operator`.

    Raises:
        InvalidParameterError: if the landscape was built from a plain function (it has
            no outputs) or for a bad ``param_filter``.
        ShapeError: if theta does not have length d.
        NonFiniteError: if the loss or gradient at theta is not finite.

    Args:
        land: the landscape (built from a model and data).
        theta: the point.
        param_filter: the parameter blocks (None: all).
        where: the caller's name, for messages.

    Returns:
        The GGN operator.
    """
    if land.loss_fn is None:
        msg = (f"{where} needs a landscape with a model, data and loss (the GGN is J^T H_loss J). "
               f"Got a landscape built from a plain function; use hessian_operator instead.")
        raise InvalidParameterError(msg)
    theta = checked_point(land, theta, where)
    blocks = selected_blocks(land, param_filter, where)
    index = block_index(land, blocks)
    outputs, pullback = vjp(land.outputs, theta)
    scale = 1.0 / land.n_samples if land.reduction == "mean" else 1.0
    H_out = output_hessians(land.loss_fn, outputs, land.targets()) * scale

    def push(v):
        return jvp(land.outputs, (theta,), (v,))[1]

    def rows_chunk(V):
        JV = vmap(push)(V)
        U = torch.einsum("nab,knb->kna", H_out, JV)
        return vmap(pullback)(U)[0]

    def rows_full(V):
        return torch.cat([rows_chunk(C) for C in V.split(chunk_rows(land))])

    rows = restrict(rows_full, index, land.dim, land.dtype)
    n = land.dim if index is None else int(index.numel())
    name = "GGN" if index is None else f"GGN[{', '.join(blocks)}]"
    return CurvatureOperator(rows, n, land.dtype, name, blocks, device=land.device)


def ggn_operator(land: Landscape, theta: torch.Tensor, /,
                 param_filter: ParamFilter = None) -> LinearOperator:
    r"""The generalized Gauss–Newton matrix as a SciPy ``LinearOperator``.

    .. math::
        G(\theta) = c \sum_{i=1}^N J_i^\top\, \nabla^2_f \ell(f_\theta(x_i), y_i)\, J_i,
        \qquad J_i = \partial f_\theta(x_i) / \partial\theta,

    with :math:`c = 1/N` for ``reduction="mean"`` and :math:`c = 1` for ``"sum"`` (the same
    reduction as the landscape). Products use a forward-mode Jacobian-vector product
    through the outputs, the per-sample output Hessians (``torch.func.hessian`` of the
    per-sample loss, computed once) and a reverse-mode vector-Jacobian product; ``matmat``
    is vectorised over columns (in chunks of
    :func:`~valleys.curvature.hessian.chunk_rows`). For a loss convex in the outputs, G is
    positive semi-definite; for the squared error it equals ``(2c) J^T J``.

    Args:
        land: a landscape with a model, data and loss.
        theta: the point, a flat tensor of length d.
        param_filter: block names (or a predicate on names) selecting a principal
            sub-block, as in :func:`hessian_operator`; None for the full matrix.

    Returns:
        A float64 ``LinearOperator`` of shape ``(n, n)`` with a ``num_matvecs`` counter.

    Raises:
        InvalidParameterError: for a landscape built from a plain function, or a bad
            ``param_filter``.
        ShapeError: if theta does not have length d.
        NonFiniteError: if theta, the loss or the gradient is not finite.
    """
    return ggn_torch_operator(land, theta, param_filter).to_scipy()
